r"""SPIRAL-style self-play policy gradient for a causal language model, in one file.

One language model plays every seat of a turn-based game. Each training step:

1. **Rollout.** :class:`~selfplay_gym.rollout.RolloutEngine` plays ``episodes_per_step`` games
   with the batched transformers backend, which wraps *the model being trained* (no copy). With
   ``--rollout-backend vllm`` a vLLM engine generates instead and receives the new weights after
   every update (see :func:`make_vllm_rollout`; untested here, as this machine has no GPU).
2. **Advantages.** SPIRAL's role-conditioned advantage estimation: one exponential moving
   average of the return per (env id, role, seat), decay 0.95, read *before* it is updated
   (:class:`~selfplay_gym.rollout.RoleBaseline`); samples whose advantage is exactly zero are
   dropped. Rewards are the env's own, which by default are SPIRAL's training values: win +1,
   loss -1, draw 0, and an invalid move ends the game with -1.5 for the offender and +0.5 for
   the other player. Every turn of a player gets that player's episode return (gamma = 1).
3. **Update.** A few PPO epochs over the turns (prompt -> completion) of the batch: the clipped
   surrogate on the completion tokens only, normalised Dr.GRPO-style (masked token sum divided
   by ``max_new_tokens``), an optional k3 KL penalty to a frozen copy of the initial model
   (``kl_beta`` is 0 by default, as in SPIRAL), gradient clipping and AdamW.

Log-probabilities and temperature. The ratio of PPO compares the training model with the
policy that sampled the data. The transformers backend reports log-probs of the model's *raw*
distribution (temperature 1), computed from the same weights the trainer holds, so at
``temperature == 1`` they are the old log-probs and nothing is recomputed. At any other
temperature the sampling policy is ``softmax(logits / T)``: the trainer then scores the
completions itself at temperature ``T`` before the first update and uses those as the old
log-probs (and trains ``softmax(logits / T)``, as oat and verl do). ``--old-logprobs`` forces
either choice. The vLLM path always recomputes: vLLM's kernels (and, in older versions, its
logprob processing) do not give the training model's numbers.

Dropout stays off during the update (the model is kept in ``eval()`` mode, gradients still
flow): the generation that produced the data ran without it, and PPO's ratio must be 1 on the
first minibatch.

Outputs, in ``--output-dir``: ``metrics.jsonl`` (one line per step), ``checkpoints/step_N/``
(Hugging Face directories: model, tokenizer and ``trainer_state.json``) that
``League.add_checkpoint(path)`` loads as opponents, and optionally ``trajectories.jsonl``.
With ``--league`` the learner plays one seat per game and the other seats are drawn from the
run's own checkpoints (the initial model first); self-play of the latest model is the default.

Example::

    python -m selfplay_gym.baselines.lm_selfplay_pg --model /tmp/tiny \
        --env selfplay/TicTacToe-v0 --time-budget 300 --learning-rate 1e-4
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "Args",
    "Sample",
    "collate",
    "completion_logprobs",
    "make_vllm_rollout",
    "main",
    "parse_args",
    "ppo_loss",
    "samples_from_records",
    "sync_weights_to_vllm",
    "train",
    "uses_rollout_logprobs",
]

LEARNER = "learner"
"""The policy name of the model being trained, in the rollout records."""


@dataclass
class Args:
    """Arguments of the recipe; every field is a command-line option (``--total-steps``)."""

    model: str = ""
    """A local Hugging Face model directory (or a name already in the local cache)."""
    env: str = "selfplay/TicTacToe-v0"
    """A registered turn-based (AEC) id."""
    output_dir: str = "runs/lm_selfplay_pg"
    """Where metrics.jsonl, checkpoints/ and trajectories.jsonl go."""
    seed: int = 0
    """Seed of the envs, the sampling stream, the minibatch order and the league draws."""
    total_steps: int = 100
    """Training steps (one rollout batch and its PPO epochs each)."""
    time_budget: float | None = None
    """Stop after the step during which this many wall-clock seconds have passed."""
    episodes_per_step: int = 32
    """Games played per step (SPIRAL: 128 turns per rollout batch)."""
    num_envs: int = 32
    """Games in flight at once; the largest generation batch."""
    max_new_tokens: int = 64
    """Token budget of one turn's completion (SPIRAL: 4096), also the Dr.GRPO divisor."""
    temperature: float = 1.0
    """Sampling temperature of the rollout (SPIRAL: 1.0); see the module docstring."""
    system_prompt: str | None = None
    """Text put before the env's rules in every prompt."""
    invalid_move: str | None = None
    """The env's invalid-move policy (forfeit, penalize, retry); default: the id's (forfeit,
    -1.5 for the offender and +0.5 for the opponent, SPIRAL's training rewards)."""
    learning_rate: float = 1e-6
    """AdamW learning rate (SPIRAL: 1e-6 for 4B models; a tiny model needs ~1e-4)."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    ppo_epochs: int = 2
    """Passes over each rollout batch (SPIRAL: 2)."""
    minibatch_size: int = 32
    """Turns per optimizer step."""
    micro_batch_size: int = 16
    """Turns per forward pass; gradients accumulate over a minibatch."""
    clip_eps: float = 0.2
    """PPO clip range: the ratio is clipped to [1 - clip_eps, 1 + clip_eps]."""
    loss_norm: str = "max_new_tokens"
    """How the token losses are averaged: max_new_tokens (Dr.GRPO: masked sum / max_new_tokens
    / sequences), token (mean over all completion tokens) or sequence (mean of each
    sequence's token mean, original GRPO)."""
    kl_beta: float = 0.0
    """Weight of the k3 KL penalty to a frozen copy of the initial model (SPIRAL: 0)."""
    max_grad_norm: float = 1.0
    """Gradients are clipped to this global norm."""
    rae_decay: float = 0.95
    """Decay of the per-role return baseline (SPIRAL: 0.95)."""
    reward_scale: float = 1.0
    """Multiplier of the returns before the baseline."""
    drop_zero_advantage: bool = True
    """Drop turns whose advantage is exactly zero (SPIRAL's filter_zero_adv)."""
    old_logprobs: str = "auto"
    """auto (the rollout's log-probs when they are the sampling policy's, else recompute),
    rollout, or recompute (score the completions with the model before the first update)."""
    save_every: int = 50
    """Save a checkpoint every this many steps (0: only the final one)."""
    league: bool = False
    """Play one seat per game against the run's own checkpoints instead of pure self-play."""
    league_rule: str = "uniform"
    """How the league draws a checkpoint: latest, uniform or prioritized."""
    league_size: int = 5
    """Checkpoints kept in the league (the oldest leave first)."""
    rollout_backend: str = "transformers"
    """transformers (shares the training model) or vllm (GPU; weights synced after updates)."""
    vllm_gpu_memory_utilization: float = 0.4
    """vLLM's share of the GPU memory (the training model needs the rest)."""
    device: str = "auto"
    """cpu, cuda, cuda:1 or auto (CUDA when available)."""
    dtype: str = "float32"
    """Dtype of the training model's weights (float32, bfloat16)."""
    threads: int = 1
    """torch CPU threads; one is fastest on a small shared machine."""
    save_trajectories: bool = False
    """Also append every episode to output_dir/trajectories.jsonl."""
    quiet: bool = False
    """Print nothing per step."""


# ---- the batch -------------------------------------------------------------------------------


@dataclass
class Sample:
    """One turn to learn from: what the model read, what it wrote, and how good that was."""

    prompt_ids: list[int]
    """Token ids the model was conditioned on."""
    completion_ids: list[int]
    """Token ids it generated."""
    advantage: float
    """Role-conditioned advantage of the turn (the same for all of its tokens)."""
    old_logprobs: list[float] | None = None
    """Log-probs of ``completion_ids`` under the policy that sampled them: the backend's
    (temperature 1), or the trainer's own, recomputed before the update."""


def samples_from_records(records: Sequence[dict[str, Any]]) -> list[Sample]:
    """The learner's turns of step records that carry an ``advantage``.

    Turns without tokens (a failed generation, a bot's move, an opponent from the league) are
    not the learner's samples and are skipped.
    """
    out = []
    for r in records:
        if r.get("policy") != LEARNER or not r.get("token_ids") or not r.get("prompt_token_ids"):
            continue
        out.append(
            Sample(
                prompt_ids=list(r["prompt_token_ids"]),
                completion_ids=list(r["token_ids"]),
                advantage=float(r["advantage"]),
                old_logprobs=list(r["logprobs"]) if r.get("logprobs") else None,
            )
        )
    return out


def collate(samples: Sequence[Sample], pad_id: int, device: Any = "cpu") -> dict[str, Any]:
    """Tensors of a batch of samples.

    Prompts are left-padded to a common width ``P`` and completions right-padded to ``C``, so
    every completion starts at column ``P`` and one forward pass with ``logits_to_keep=C + 1``
    gives the log-prob of each completion token (the layout generation itself used, with
    position ids counted from each row's first real token).

    Returns:
        ``input_ids``, ``attention_mask``, ``position_ids`` of shape ``(B, P + C)``;
        ``completion_ids``, ``completion_mask`` (1 on generated tokens, 0 on padding) and
        ``old_logprobs`` (0 where unknown) of shape ``(B, C)``; ``advantages`` ``(B,)``.
    """
    import torch

    if not samples:
        raise ValueError("expected at least one sample")
    width_p = max(len(s.prompt_ids) for s in samples)
    width_c = max(len(s.completion_ids) for s in samples)
    n = len(samples)
    input_ids = torch.full((n, width_p + width_c), pad_id, dtype=torch.long)
    attention = torch.zeros((n, width_p + width_c), dtype=torch.long)
    completion_mask = torch.zeros((n, width_c))
    old_logprobs = torch.zeros((n, width_c))
    for i, s in enumerate(samples):
        p, c = len(s.prompt_ids), len(s.completion_ids)
        input_ids[i, width_p - p : width_p] = torch.tensor(s.prompt_ids)
        input_ids[i, width_p : width_p + c] = torch.tensor(s.completion_ids)
        attention[i, width_p - p : width_p + c] = 1
        completion_mask[i, :c] = 1
        if s.old_logprobs is not None:
            if len(s.old_logprobs) != c:
                raise ValueError(
                    f"sample {i}: expected {c} old log-probs, got {len(s.old_logprobs)}"
                )
            old_logprobs[i, :c] = torch.tensor(s.old_logprobs)
    position_ids = (attention.cumsum(-1) - 1).clamp(min=0)
    batch = {
        "input_ids": input_ids,
        "attention_mask": attention,
        "position_ids": position_ids,
        "completion_ids": input_ids[:, width_p:].clone(),
        "completion_mask": completion_mask,
        "old_logprobs": old_logprobs,
        "advantages": torch.tensor([s.advantage for s in samples], dtype=torch.float32),
    }
    return {k: v.to(device) for k, v in batch.items()}


def completion_logprobs(
    model: Any, batch: dict[str, Any], temperature: float = 1.0, with_entropy: bool = False
) -> Any:
    """Log-prob of every completion token under ``softmax(logits / temperature)``, ``(B, C)``.

    Positions beyond a row's completion hold the log-prob of a pad token; mask them with
    ``batch["completion_mask"]``. With ``with_entropy``, also the (detached) entropy per token.
    """
    import torch

    width_c = batch["completion_ids"].shape[1]
    out = model(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        position_ids=batch["position_ids"],
        logits_to_keep=width_c + 1,
        use_cache=False,
    )
    # The logit at column P - 1 + j predicts completion token j; the very last one predicts
    # nothing we have.
    logits = out.logits[:, :-1].float()
    if temperature != 1.0:
        logits = logits / temperature
    logp = torch.log_softmax(logits, dim=-1)
    chosen = logp.gather(-1, batch["completion_ids"].unsqueeze(-1)).squeeze(-1)
    if not with_entropy:
        return chosen
    with torch.no_grad():
        entropy = -(logp.exp() * logp).sum(-1)
    return chosen, entropy


LOSS_NORMS = ("max_new_tokens", "token", "sequence")


def ppo_loss(
    new_logprobs: Any,
    old_logprobs: Any,
    advantages: Any,
    mask: Any,
    *,
    clip_eps: float = 0.2,
    loss_norm: str = "max_new_tokens",
    max_new_tokens: int | None = None,
    ref_logprobs: Any = None,
    kl_beta: float = 0.0,
    num_sequences: int | None = None,
    num_tokens: float | None = None,
) -> tuple[Any, dict[str, float]]:
    """The clipped policy-gradient loss on completion tokens, and its statistics.

    Per token ``t`` of a sequence with advantage ``A``:
    ``-min(r_t A, clip(r_t, 1 - eps, 1 + eps) A)`` with ``r_t = exp(new_t - old_t)``, plus
    ``kl_beta * k3_t``, ``k3_t = exp(ref_t - new_t) - (ref_t - new_t) - 1`` when reference
    log-probs are given. Only tokens where ``mask`` is 1 count; values under a 0 of the mask
    (padding, anything) never reach the loss or its gradient.

    Args:
        new_logprobs: ``(B, C)`` log-probs of the model being trained (with gradient).
        old_logprobs: ``(B, C)`` log-probs of the policy that sampled the tokens.
        advantages: ``(B,)`` one advantage per sequence.
        mask: ``(B, C)`` 1 on completion tokens.
        clip_eps: The clip range.
        loss_norm: ``max_new_tokens`` (Dr.GRPO: token sum / (max_new_tokens * sequences)),
            ``token`` (token sum / tokens) or ``sequence`` (mean over sequences of each one's
            token mean).
        max_new_tokens: The divisor of ``max_new_tokens`` normalisation.
        ref_logprobs: ``(B, C)`` log-probs of the frozen reference, or ``None``.
        kl_beta: Weight of the KL term.
        num_sequences: Sequences of the whole minibatch when this call sees one micro-batch
            of it (default: ``B``), so that accumulated micro-batch losses add up to the
            minibatch's loss.
        num_tokens: Completion tokens of the whole minibatch, for ``token`` normalisation.

    Returns:
        ``(loss, stats)``; stats (floats) are ``pg_loss``, ``kl`` (mean k3 to the reference,
        0 without one), ``clip_frac`` (share of tokens whose gradient the clip removed),
        ``approx_kl_old`` (mean k3 estimate of KL(old || new)) and ``ratio_mean``.
    """
    import torch

    if loss_norm not in LOSS_NORMS:
        raise ValueError(f"expected loss_norm in {LOSS_NORMS}, got {loss_norm!r}")
    mask = mask.to(new_logprobs.dtype)
    on = mask > 0
    zero = torch.zeros_like(new_logprobs)
    # Zero the log-ratio under the mask before exp(): garbage there must not become inf * 0.
    log_ratio = torch.where(on, new_logprobs - old_logprobs, zero)
    ratio = torch.exp(log_ratio)
    adv = advantages.to(new_logprobs.dtype).unsqueeze(-1)
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * adv
    pg_per_token = -torch.minimum(unclipped, clipped)
    per_token = pg_per_token
    kl_per_token = zero
    if ref_logprobs is not None and kl_beta:
        diff = torch.where(on, ref_logprobs - new_logprobs, zero)
        kl_per_token = torch.exp(diff) - diff - 1.0
        per_token = per_token + kl_beta * kl_per_token

    rows = new_logprobs.shape[0]
    num_sequences = num_sequences or rows
    if loss_norm == "max_new_tokens":
        if not max_new_tokens:
            raise ValueError("loss_norm='max_new_tokens' needs max_new_tokens")
        loss = (per_token * mask).sum() / (max_new_tokens * num_sequences)
    elif loss_norm == "token":
        loss = (per_token * mask).sum() / max(float(num_tokens or mask.sum()), 1.0)
    else:
        per_sequence = (per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)
        loss = per_sequence.sum() / num_sequences

    with torch.no_grad():
        tokens = mask.sum().clamp(min=1.0)
        clipped_away = ((ratio > 1 + clip_eps) & (adv > 0)) | ((ratio < 1 - clip_eps) & (adv < 0))
        stats = {
            "pg_loss": float((pg_per_token * mask).sum() / tokens),
            "kl": float((kl_per_token * mask).sum() / tokens),
            "clip_frac": float((clipped_away.float() * mask).sum() / tokens),
            "approx_kl_old": float(((ratio - 1 - log_ratio) * mask).sum() / tokens),
            "ratio_mean": float((ratio * mask).sum() / tokens),
        }
    return loss, stats


# ---- the update ------------------------------------------------------------------------------


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _score(model: Any, samples: Sequence[Sample], args: Args, pad_id: int, device: Any) -> list:
    """Log-probs of each sample's completion under ``model`` at the rollout temperature."""
    import torch

    out: list[list[float]] = []
    with torch.no_grad():
        for chunk in _chunks(samples, args.micro_batch_size):
            batch = collate(chunk, pad_id, device)
            logp = completion_logprobs(model, batch, args.temperature)
            for row, s in zip(logp.tolist(), chunk, strict=True):
                out.append(row[: len(s.completion_ids)])
    return out


def _padded(rows: Sequence[Sequence[float]], width: int, device: Any) -> Any:
    """Rows of floats as a ``(len(rows), width)`` tensor, zero-padded on the right."""
    import torch

    out = torch.zeros((len(rows), width))
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(list(row), dtype=torch.float32)
    return out.to(device)


def update(
    model: Any,
    optimizer: Any,
    samples: list[Sample],
    args: Args,
    *,
    pad_id: int,
    device: Any,
    use_rollout_logprobs: bool,
    ref_model: Any = None,
    generator: Any = None,
) -> dict[str, float]:
    """PPO epochs over one batch of samples; returns the mean statistics of the update."""
    import torch

    if not use_rollout_logprobs:
        # The policy that sampled is softmax(logits / T) of the weights as they are now,
        # before any step on this batch: score it once and keep it fixed for all epochs.
        old = _score(model, samples, args, pad_id, device)
        samples = [
            dataclasses.replace(s, old_logprobs=lp) for s, lp in zip(samples, old, strict=True)
        ]
    elif any(s.old_logprobs is None for s in samples):
        raise ValueError("old_logprobs='rollout' but the backend returned no log-probs")
    ref = None
    if ref_model is not None and args.kl_beta:
        ref = _score(ref_model, samples, args, pad_id, device)

    params = [p for p in model.parameters() if p.requires_grad]
    totals: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)

    def add(name: str, value: float) -> None:
        totals[name] += value
        counts[name] += 1

    first_gap: float | None = None
    for _epoch in range(args.ppo_epochs):
        order = torch.randperm(len(samples), generator=generator).tolist()
        for minibatch in _chunks(order, args.minibatch_size):
            optimizer.zero_grad(set_to_none=True)
            tokens = sum(len(samples[i].completion_ids) for i in minibatch)
            minibatch_loss = 0.0
            for micro in _chunks(minibatch, args.micro_batch_size):
                batch = collate([samples[i] for i in micro], pad_id, device)
                mask = batch["completion_mask"]
                new, entropy = completion_logprobs(
                    model, batch, args.temperature, with_entropy=True
                )
                ref_logprobs = None
                if ref is not None:
                    ref_logprobs = _padded([ref[i] for i in micro], mask.shape[1], device)
                loss, stats = ppo_loss(
                    new,
                    batch["old_logprobs"],
                    batch["advantages"],
                    mask,
                    clip_eps=args.clip_eps,
                    loss_norm=args.loss_norm,
                    max_new_tokens=args.max_new_tokens,
                    ref_logprobs=ref_logprobs,
                    kl_beta=args.kl_beta,
                    num_sequences=len(minibatch),
                    num_tokens=tokens,
                )
                # Each micro-batch's loss is already scaled to its share of the minibatch.
                loss.backward()
                minibatch_loss += float(loss.detach())
                if first_gap is None and use_rollout_logprobs:
                    # Before the first optimizer step the trainer's log-probs must equal the
                    # rollout's (same weights, same tokens): a large gap means a mismatch.
                    gap = ((new.detach() - batch["old_logprobs"]).abs() * mask).max()
                    first_gap = float(gap)
                for name, value in stats.items():
                    add(name, value)
                add("entropy", float((entropy * mask).sum() / mask.sum().clamp(min=1)))
            add("loss", minibatch_loss)
            add("grad_norm", float(torch.nn.utils.clip_grad_norm_(params, args.max_grad_norm)))
            optimizer.step()
    result = {k: totals[k] / counts[k] for k in totals}
    if first_gap is not None:
        result["rollout_logprob_gap"] = first_gap
    return result


# ---- the vLLM rollout (GPU only; untested in this repository's CI) -------------------------


def make_vllm_rollout(args: Args, model: Any) -> tuple[Any, Callable[[], None]]:
    """A vLLM backend for the rollouts and the function that pushes the trainer's weights to it.

    UNTESTED: this machine has no GPU. It follows the usual colocated pattern (TRL's "colocate"
    mode): an in-process ``vllm.LLM`` on the same GPU as the training model, loaded from the
    same directory, its weights overwritten in place after every update. vLLM must run its
    engine in this process for the weights to be reachable: with vLLM's V1 engine set
    ``VLLM_ENABLE_V1_MULTIPROCESSING=0``.

    Returns:
        ``(backend, sync)``: call ``sync()`` after each optimizer update, before the next
        rollout.
    """
    from selfplay_gym.llm.vllm_backend import VLLMBackend

    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    backend = VLLMBackend(
        args.model,
        seed=args.seed,
        gpu_memory_utilization=args.vllm_gpu_memory_utilization,
        enable_prefix_caching=True,
    )

    def sync() -> None:
        sync_weights_to_vllm(model, backend.llm)

    return backend, sync


def sync_weights_to_vllm(model: Any, llm: Any) -> None:
    """Copy ``model``'s weights into the in-process ``vllm.LLM`` ``llm`` (UNTESTED, GPU only).

    vLLM's model classes take Hugging Face parameter names in ``load_weights`` (they fuse
    q/k/v and gate/up projections themselves). The prefix cache holds KV blocks computed with
    the old weights, so it is reset afterwards; keeping it would silently mix policies.
    """
    weights = [(name, tensor.detach()) for name, tensor in model.state_dict().items()]
    runner_paths = (
        "llm_engine.model_executor.driver_worker.model_runner.model",  # vLLM V0
        "llm_engine.model_executor.driver_worker.worker.model_runner.model",  # V1, in-process
    )
    target = None
    for path in runner_paths:
        obj = llm
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if obj is not None and callable(getattr(obj, "load_weights", None)):
            target = obj
            break
    if target is not None:
        target.load_weights(weights)
    elif callable(getattr(llm, "apply_model", None)):
        llm.apply_model(lambda vllm_model: vllm_model.load_weights(weights))
    else:
        raise RuntimeError(
            "cannot reach the vLLM model's weights from this process: run vLLM in-process "
            "(VLLM_ENABLE_V1_MULTIPROCESSING=0) or use --rollout-backend transformers"
        )
    reset = getattr(llm, "reset_prefix_cache", None)
    if callable(reset):
        reset()


# ---- checkpoints and the league ----------------------------------------------------------------


def save_checkpoint(
    path: Path, model: Any, tokenizer: Any, args: Args, step: int, baseline: Any
) -> Path:
    """Save a Hugging Face directory (model + tokenizer) and the trainer's state next to them."""
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    state = {"step": step, "args": dataclasses.asdict(args), "role_baseline": baseline.state_dict()}
    (path / "trainer_state.json").write_text(json.dumps(state, indent=1))
    return path


def _checkpoint_loader(args: Args) -> Callable[[Any], Any]:
    """How the league loads a checkpoint: a generating policy sampled like the learner."""

    def load(path: Any) -> Any:
        from selfplay_gym.llm import LLMPolicy, SamplingParams
        from selfplay_gym.llm.transformers_backend import TransformersBackend

        backend = TransformersBackend(
            os.fspath(path), device=args.device, threads=None, max_batch_size=args.num_envs
        )
        sampling = SamplingParams(max_new_tokens=args.max_new_tokens, temperature=args.temperature)
        return LLMPolicy(backend, sampling=sampling, system_prompt=args.system_prompt)

    return load


def _league_mapping(agents: Sequence[str]) -> Callable[[str, str, int], str]:
    """The learner takes seat ``episode_id % seats``; the league plays every other seat."""

    def mapping(agent: str, role: str, episode_id: int) -> str:
        return LEARNER if agents.index(agent) == episode_id % len(agents) else "league"

    return mapping


# ---- the loop --------------------------------------------------------------------------------


def uses_rollout_logprobs(args: Args) -> bool:
    """Whether the rollout's log-probs serve as PPO's old log-probs, or the trainer recomputes.

    The transformers backend reports the log-probs of the temperature-1 distribution of the
    very weights being trained, so they are the sampling policy's exactly when the rollout
    sampled at temperature 1. vLLM's are never used: its kernels do not reproduce the
    training model's numbers (and older versions report processed log-probs).
    """
    if args.rollout_backend == "vllm" or args.old_logprobs == "recompute":
        return False
    return args.old_logprobs == "rollout" or args.temperature == 1.0


def _check(args: Args) -> None:
    if not args.model:
        raise ValueError("expected --model PATH (a Hugging Face model directory)")
    if args.loss_norm not in LOSS_NORMS:
        raise ValueError(f"expected --loss-norm in {LOSS_NORMS}, got {args.loss_norm!r}")
    if args.old_logprobs not in ("auto", "rollout", "recompute"):
        raise ValueError(
            f"expected --old-logprobs auto, rollout or recompute, got {args.old_logprobs!r}"
        )
    if args.rollout_backend not in ("transformers", "vllm"):
        raise ValueError(
            f"expected --rollout-backend transformers or vllm, got {args.rollout_backend!r}"
        )
    if args.old_logprobs == "rollout" and args.rollout_backend == "vllm":
        raise ValueError("--old-logprobs rollout is for the transformers backend; vLLM recomputes")
    if args.old_logprobs == "rollout" and args.temperature != 1.0:
        raise ValueError(
            "--old-logprobs rollout needs --temperature 1: the backend's log-probs are those "
            f"of the temperature-1 distribution, but sampling ran at {args.temperature}"
        )
    if args.temperature <= 0:
        raise ValueError(
            f"expected --temperature > 0 (greedy decoding has no policy gradient), got {args.temperature}"
        )
    if args.league_rule not in ("latest", "uniform", "prioritized"):
        raise ValueError(
            f"expected --league-rule latest, uniform or prioritized, got {args.league_rule!r}"
        )
    counts = ("total_steps", "episodes_per_step", "num_envs", "max_new_tokens", "ppo_epochs")
    for name in (*counts, "minibatch_size", "micro_batch_size", "threads"):
        if getattr(args, name) < 1:
            raise ValueError(f"expected --{name.replace('_', '-')} >= 1, got {getattr(args, name)}")


def _rollout_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean return per seat of the learner, outcome shares and invalid-move rate."""
    returns: dict[str, list[float]] = defaultdict(list)
    episodes = [r for r in records if r["type"] == "episode"]
    for ep in episodes:
        for agent, value in ep["returns"].items():
            if ep["policies"].get(agent) == LEARNER:
                returns[agent].append(float(value))
    steps = [r for r in records if r["type"] == "step" and r["policy"] == LEARNER]
    invalid = sum(bool(r["invalid_action"]) for r in steps)
    lengths = [len(r["token_ids"]) for r in steps if r.get("token_ids")]
    summary: dict[str, Any] = {
        "episodes": len(episodes),
        "turns": len(steps),
        "invalid_rate": invalid / len(steps) if steps else 0.0,
        "completion_tokens_mean": sum(lengths) / len(lengths) if lengths else 0.0,
        "truncated_share": (
            sum(r.get("finish_reason") == "length" for r in steps) / len(steps) if steps else 0.0
        ),
        "return_mean": {a: sum(v) / len(v) for a, v in sorted(returns.items())},
    }
    # Per seat, since a seat's returns differ (a forfeit on move one hands the other +0.5).
    summary["win_rate"] = {a: sum(v > 0 for v in vs) / len(vs) for a, vs in sorted(returns.items())}
    return summary


def _progress_line(m: dict[str, Any]) -> str:
    returns = " ".join(f"{a} {v:+.2f}" for a, v in m["return_mean"].items())
    loss = "-" if m.get("loss") is None else f"{m['loss']:+.4f}"
    kl = m.get("kl") if m.get("kl_ref") else m.get("approx_kl_old")
    kl_text = "-" if kl is None else f"{kl:.2e}"
    return (
        f"step {m['step']:4d} | ep {m['episodes']:3d} | return {returns} | "
        f"invalid {m['invalid_rate']:6.1%} | train {m['samples_trained']:3d} | loss {loss} | "
        f"kl{'_ref' if m.get('kl_ref') else '_old'} {kl_text} | "
        f"{m['tokens_per_second']:6.0f} tok/s | {m['step_seconds']:5.1f} s "
        f"(cpu {m['step_cpu_seconds']:5.1f} s)"
    )


def train(args: Args) -> dict[str, Any]:
    """Run the recipe; returns a summary (steps, times, last metrics, checkpoint paths)."""
    _check(args)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from selfplay_gym.llm import LLMPolicy, SamplingParams
    from selfplay_gym.rollout import RoleBaseline, RolloutEngine, drop_zero_advantage

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)

    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=getattr(torch, args.dtype))
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model.to(device)
    ref_model = None
    if args.kl_beta:
        import copy

        ref_model = copy.deepcopy(model).eval().requires_grad_(False)

    sync: Callable[[], None] | None = None  # the shared model of the transformers path needs none
    if args.rollout_backend == "vllm":
        backend, sync = make_vllm_rollout(args, model)
    else:
        from selfplay_gym.llm.transformers_backend import TransformersBackend

        # The backend wraps the very model object the optimizer updates: no copy, no sync.
        backend = TransformersBackend(
            model,
            tokenizer=tokenizer,
            device=device,
            threads=args.threads,
            max_batch_size=args.num_envs,
            seed=args.seed,
        )
    rollout_logprobs_are_old = uses_rollout_logprobs(args)
    # Generation runs without dropout, so the update does too (PPO ratios start at 1).
    model.eval()
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    sampling = SamplingParams(max_new_tokens=args.max_new_tokens, temperature=args.temperature)
    policy = LLMPolicy(backend, sampling=sampling, system_prompt=args.system_prompt, name=LEARNER)
    env_kwargs = {"invalid_move": args.invalid_move} if args.invalid_move else {}
    checkpoints: list[str] = []
    baseline = RoleBaseline(decay=args.rae_decay, scale=args.reward_scale)

    league = None
    policies: dict[str, Any] = {LEARNER: policy}
    mapping = None
    if args.league:
        import selfplay_gym
        from selfplay_gym.league import League

        mapping = _league_mapping(list(selfplay_gym.make(args.env).possible_agents))
        league = League(
            rule=args.league_rule,
            max_snapshots=args.league_size,
            env_id=args.env,
            learner=LEARNER,
            seed=args.seed,
        )
        first = save_checkpoint(
            output / "checkpoints" / "step_000000", model, tokenizer, args, 0, baseline
        )
        checkpoints.append(str(first))
        league.add_checkpoint(first, name="step_000000", loader=_checkpoint_loader(args))
        policies["league"] = league
    engine = RolloutEngine(
        args.env,
        policies,
        num_envs=min(args.num_envs, args.episodes_per_step),
        mapping=mapping,
        seed=args.seed,
        env_kwargs=env_kwargs,
        trajectory_path=output / "trajectories.jsonl" if args.save_trajectories else None,
    )

    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=args.learning_rate,
        weight_decay=args.weight_decay,
    )
    generator = torch.Generator().manual_seed(args.seed)
    metrics_path = output / "metrics.jsonl"
    metrics_file = open(metrics_path, "w", encoding="utf-8")
    started, cpu_started = time.perf_counter(), time.process_time()
    last: dict[str, Any] = {}
    step = 0
    try:
        for step in range(1, args.total_steps + 1):
            t0, c0 = time.perf_counter(), time.process_time()
            stats = engine.run(args.episodes_per_step)
            rollout_seconds = time.perf_counter() - t0
            records = engine.records
            learner_steps = [r for r in records if r["type"] == "step" and r["policy"] == LEARNER]
            with_advantage = baseline(learner_steps)
            kept = (
                drop_zero_advantage(with_advantage) if args.drop_zero_advantage else with_advantage
            )
            samples = samples_from_records(kept)
            t1 = time.perf_counter()
            update_stats: dict[str, float] = {}
            if samples:
                update_stats = update(
                    model,
                    optimizer,
                    samples,
                    args,
                    pad_id=pad_id,
                    device=device,
                    use_rollout_logprobs=rollout_logprobs_are_old,
                    ref_model=ref_model,
                    generator=generator,
                )
                if sync is not None:
                    sync()
            train_seconds = time.perf_counter() - t1
            step_seconds = time.perf_counter() - t0
            m: dict[str, Any] = {
                "step": step,
                **_rollout_summary(records),
                "samples": len(learner_steps),
                "samples_trained": len(samples),
                "advantage_mean": (
                    sum(s.advantage for s in samples) / len(samples) if samples else None
                ),
                "baselines": {"/".join(map(str, k)): v for k, v in baseline.baselines.items()},
                "loss": update_stats.get("loss"),
                "kl_ref": bool(ref_model is not None),
                **{k: v for k, v in update_stats.items() if k != "loss"},
                "generated_tokens": stats.tokens,
                "tokens_per_second": stats.tokens / step_seconds if step_seconds else 0.0,
                "rollout_tokens_per_second": stats.tokens_per_second,
                "rollout_seconds": rollout_seconds,
                "train_seconds": train_seconds,
                "step_seconds": step_seconds,
                "step_cpu_seconds": time.process_time() - c0,
                "elapsed_seconds": time.perf_counter() - started,
                "cpu_seconds": time.process_time() - cpu_started,
            }
            if league is not None:
                m["league_win_rates"] = {e.name: e.win_rate for e in league.entries}
            metrics_file.write(json.dumps(m) + "\n")
            metrics_file.flush()
            last = m
            if not args.quiet:
                print(_progress_line(m), flush=True)
            if args.save_every and step % args.save_every == 0:
                path = save_checkpoint(
                    output / "checkpoints" / f"step_{step:06d}",
                    model,
                    tokenizer,
                    args,
                    step,
                    baseline,
                )
                checkpoints.append(str(path))
                if league is not None:
                    league.add_checkpoint(path, name=path.name, loader=_checkpoint_loader(args))
            if args.time_budget is not None and time.perf_counter() - started >= args.time_budget:
                break
    finally:
        metrics_file.close()
        engine.close()
    final = output / "checkpoints" / f"step_{step:06d}"
    if str(final) not in checkpoints:
        checkpoints.append(str(save_checkpoint(final, model, tokenizer, args, step, baseline)))
    summary = {
        "steps": step,
        "wall_seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu_started,
        "checkpoints": checkpoints,
        "metrics": str(metrics_path),
        "last": last,
    }
    (output / "summary.json").write_text(json.dumps(summary, indent=1))
    if not args.quiet:
        print(
            f"done: {step} steps in {summary['wall_seconds']:.1f} s; checkpoints {checkpoints[-1]}"
        )
    return summary


# ---- command line -----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> Args:
    """:class:`Args` from the command line (``--field-name value``; booleans ``--x/--no-x``)."""
    from selfplay_gym.baselines._cli import parse_dataclass

    return parse_dataclass(
        Args,
        argv,
        prog="python -m selfplay_gym.baselines.lm_selfplay_pg",
        description=__doc__.split("\n\n")[0],
        required=("model",),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments and train."""
    train(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
