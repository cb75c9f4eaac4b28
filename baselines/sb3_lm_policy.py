"""A causal language model as a Stable-Baselines3 actor-critic policy over a game's legal moves.

:class:`LMActorCriticPolicy` plugs a Hugging Face causal LM into SB3's PPO (or A2C) unchanged:

* the action distribution is the softmax, over the legal moves, of the model's log-likelihood of
  each move's tokens after the prompt (``log p(move | prompt) / temperature``; illegal moves
  masked out), which is exactly the distribution of
  ``LLMPolicy(TransformersBackend(model), mode="score")`` -- so the trained model is an ordinary
  ``hf:`` policy afterwards, for the arena, the league and any generate-mode use;
* the value is a linear head on the LM's last hidden state at the prompt's final position;
* SB3's PPO loss trains both, end to end: the LM's weights are updated.

Observations come from :class:`~selfplay_gym.wrappers.TokenView` (left-padded prompt ids, an
attention mask and the action mask); its ``candidate_ids`` are the moves' tokens. The prompt
runs once per observation and its KV cache is shared by all the moves' continuations.

Example (see ``selfplay_gym.baselines.sb3_lm`` for the whole recipe)::

    env = TokenView(gymnasium.make("selfplay/TicTacToe-v0"), model_path)
    model = PPO(
        LMActorCriticPolicy, env,
        policy_kwargs={"model_path": model_path, "candidate_ids": env.candidate_ids},
    )
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.distributions import CategoricalDistribution
from stable_baselines3.common.policies import ActorCriticPolicy
from torch import nn

from selfplay_gym.core.bots import Bot
from selfplay_gym.llm.transformers_backend import cache_kwargs, output_cache

__all__ = ["LMActorCriticPolicy", "LMBatchPolicy", "LMScorer", "LMSnapshotBot"]

MASKED = -1e9
"""Logit of an illegal move: its probability is 0 and its entropy term stays finite (not -inf)."""


class LMScorer(nn.Module):
    """A causal LM that scores a fixed set of candidate moves after batches of prompts.

    Args:
        model: A ``transformers`` causal LM (``AutoModelForCausalLM``), or a path to load one.
        candidate_ids: Token ids of each move (every move non-empty).
    """

    group_key: int = 32
    """Rows whose first ``group_key`` tokens agree share a prefix (their longest common one)."""
    min_prefix: int = 16
    """A common prefix shorter than this is not worth a separate pass."""

    def __init__(self, model: Any, candidate_ids: Sequence[Sequence[int]]):
        super().__init__()
        if isinstance(model, (str, os.PathLike)):
            from transformers import AutoModelForCausalLM

            model = AutoModelForCausalLM.from_pretrained(model)
        if not candidate_ids or not all(candidate_ids):
            raise ValueError("expected at least one move, each with at least one token")
        # Dropout off: PPO's ratio compares the same computation at rollout and update time.
        for module in model.modules():
            if isinstance(module, nn.Dropout):
                module.p = 0.0
        self.lm = model
        # The moves as a trie of their proper prefixes: node ``i`` is one input token, seen by
        # the nodes below it. A move of tokens t_0..t_m is scored by reading t_0 off the
        # prompt's last position and t_j off the node of t_0..t_{j-1}; its last token is never
        # an input. Moves that open alike (``[0]`` .. ``[8]`` all open with ``[``) share nodes.
        nodes: dict[tuple[int, ...], int] = {}
        tokens, parents, depths = [], [], []
        reads = []  # per move: (node its token is read at, -1 for the prompt; the token)
        for ids in candidate_ids:
            ids = [int(t) for t in ids]
            at, steps = -1, []
            for j, token in enumerate(ids):
                steps.append((at, token))
                if j == len(ids) - 1:
                    break
                prefix = tuple(ids[: j + 1])
                if prefix not in nodes:
                    nodes[prefix] = len(tokens)
                    tokens.append(token)
                    parents.append(at)
                    depths.append(j)
                at = nodes[prefix]
            reads.append(steps)
        width = max(len(r) for r in reads)
        read_at = torch.zeros((len(reads), width), dtype=torch.long)
        read_token = torch.zeros((len(reads), width), dtype=torch.long)
        read_mask = torch.zeros((len(reads), width))
        for row, steps in enumerate(reads):
            for j, (at, token) in enumerate(steps):
                read_at[row, j] = at + 1  # 0: the prompt's last position; i + 1: node i
                read_token[row, j] = token
                read_mask[row, j] = 1.0
        # sees[i, j]: node j is node i or one of its ancestors.
        sees = torch.eye(len(tokens), dtype=torch.bool)
        for i, parent in enumerate(parents):
            if parent >= 0:
                sees[i] |= sees[parent]
        self.num_moves = len(reads)
        self.register_buffer("node_ids", torch.tensor(tokens, dtype=torch.long), persistent=False)
        self.register_buffer("node_depth", torch.tensor(depths, dtype=torch.long), persistent=False)
        self.register_buffer("node_sees", sees, persistent=False)
        self.register_buffer("read_at", read_at, persistent=False)
        self.register_buffer("read_token", read_token, persistent=False)
        self.register_buffer("read_mask", read_mask, persistent=False)
        self._filler = int(candidate_ids[0][0])

    @property
    def hidden_size(self) -> int:
        """Width of the LM's hidden states (the value head's input)."""
        config = self.lm.config
        return int(getattr(config, "hidden_size", None) or config.n_embd)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        """``(scores, hidden)``: the summed log-prob of every move ``[B, K]`` and the last hidden state ``[B, H]``.

        ``input_ids`` and ``attention_mask`` are left-padded ``[B, L]``.

        Two savings keep this one cheap forward pass per batch:

        * **shared prefixes**: rows are grouped by their opening tokens, and the tokens a group
          has in common (a game's rules, the chat template: most of a prompt) run once, as a
          batch of one whose KV cache every row of the group reads;
        * **packed moves**: after its own tokens, each row holds the moves as a trie of their
          proper prefixes (a move's last token is only read, never fed; moves opening alike
          share their opening nodes), and a block attention mask lets each node see the prompt
          and its own ancestors only, with positions continuing from the prompt's end; so the
          nine TicTacToe moves ``[0]`` .. ``[8]`` cost 10 extra tokens per row (``[`` and
          ``[0`` .. ``[8``) instead of nine copies of the prompt.

        Gradients flow through both (a shared prefix gets the sum of its rows' gradients).
        """
        input_ids = input_ids.long()
        attention_mask = attention_mask.long()
        lengths = attention_mask.sum(-1).clamp(min=1)
        rows = [input_ids[r, input_ids.shape[1] - int(n) :] for r, n in enumerate(lengths)]
        groups: dict[tuple[int, ...], list[int]] = {}
        for r, ids in enumerate(rows):
            groups.setdefault(tuple(ids[: self.group_key].tolist()), []).append(r)
        batch = len(rows)
        scores = input_ids.new_zeros((batch, self.num_moves), dtype=torch.float32)
        hidden = None
        for members in groups.values():
            group_scores, group_hidden = self._score_group([rows[r] for r in members])
            index = torch.as_tensor(members, device=input_ids.device)
            scores = scores.index_copy(0, index, group_scores)
            if hidden is None:
                hidden = group_hidden.new_zeros((batch, group_hidden.shape[-1]))
            hidden = hidden.index_copy(0, index, group_hidden)
        return scores, hidden

    def _score_group(self, rows: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        device = rows[0].device
        n = len(rows)
        # The longest prefix all rows share, leaving each row at least one token of its own.
        shortest = min(len(r) for r in rows)
        head = torch.stack([r[:shortest] for r in rows])
        same = (head == head[:1]).all(0).long().cumprod(0)
        prefix_len = min(int(same.sum()), shortest - 1)
        if prefix_len < self.min_prefix:
            prefix_len = 0

        cache = None
        if prefix_len:
            prefix = rows[0][:prefix_len][None]
            cache = output_cache(self.lm(input_ids=prefix, use_cache=True))
            cache.batch_repeat_interleave(n)
        # Each row's own tokens, left-padded so that every row's last token is in one column.
        tails = [r[prefix_len:] for r in rows]
        length = max(len(t) for t in tails)
        own = torch.full((n, length), self._filler, dtype=torch.long, device=device)
        own_mask = torch.zeros((n, length), dtype=torch.long, device=device)
        for i, t in enumerate(tails):
            own[i, length - len(t) :] = t
            own_mask[i, length - len(t) :] = 1

        nodes = len(self.node_ids)
        ids = torch.cat([own, self.node_ids[None].expand(n, -1)], dim=1)
        positions = prefix_len + (own_mask.cumsum(-1) - 1).clamp(min=0)
        node_pos = positions[:, -1:] + 1 + self.node_depth[None]
        mask = self._block_mask(own_mask, prefix_len)
        # Logits only where they are read: the prompt's last position, and every node.
        keep = torch.arange(length - 1, length + nodes, device=device)
        out = self.lm(
            input_ids=ids,
            attention_mask=mask,
            position_ids=torch.cat([positions, node_pos], dim=1),
            **cache_kwargs(self.lm, cache),
            output_hidden_states=True,
            use_cache=cache is not None,
            logits_to_keep=keep,
        )
        hidden = out.hidden_states[-1][:, length - 1]
        logp = torch.log_softmax(out.logits.float(), dim=-1)  # [n, 1 + nodes, V]
        picked = logp[:, self.read_at, self.read_token]  # [n, K, W]
        return (picked * self.read_mask).sum(-1), hidden

    def _block_mask(self, own_mask: torch.Tensor, prefix_len: int) -> torch.Tensor:
        """The additive ``[n, 1, T, prefix_len + T]`` mask of a row's own tokens followed by the move trie.

        Every query sees the whole shared prefix; a row's own tokens see themselves causally
        (padding excluded); a trie node sees the row's tokens, its ancestors and itself.
        """
        n, length = own_mask.shape
        device = own_mask.device
        nodes = len(self.node_ids)
        total = length + nodes
        allowed = torch.zeros((total, total), dtype=torch.bool, device=device)
        allowed[:length, :length] = torch.ones(
            (length, length), dtype=torch.bool, device=device
        ).tril()
        allowed[length:, :length] = True
        allowed[length:, length:] = self.node_sees
        real = torch.cat([own_mask.bool(), own_mask.new_ones((n, nodes), dtype=torch.bool)], dim=1)
        allowed = allowed[None] & real[:, None, :]
        # A padding position sees itself, so that no row of the softmax is empty.
        allowed = allowed | torch.eye(total, dtype=torch.bool, device=device)[None]
        if prefix_len:
            seen = torch.ones((n, total, prefix_len), dtype=torch.bool, device=device)
            allowed = torch.cat([seen, allowed], dim=-1)
        dtype = self.lm.dtype
        zero = torch.zeros((), dtype=dtype, device=device)
        return torch.where(allowed, zero, torch.finfo(dtype).min)[:, None]


class LMActorCriticPolicy(ActorCriticPolicy):
    """SB3 actor-critic policy: a causal LM's move likelihoods are the actor, a head on its state the critic.

    Args:
        observation_space: The :class:`~selfplay_gym.wrappers.TokenView` ``Dict`` space.
        action_space: ``Discrete(len(move_names))``.
        lr_schedule: Given by SB3.
        model_path: A Hugging Face causal LM directory (or a loaded model).
        candidate_ids: ``TokenView.candidate_ids``.
        temperature: Divides the log-likelihoods before the softmax (1: the model's own odds).
        detach_value: Train the value head on the LM's hidden state without sending the value
            loss's gradient into the LM (only the policy loss then shapes the LM).
        optimizer_class, optimizer_kwargs: As in SB3 (default Adam with ``eps=1e-5``).
    """

    def __init__(
        self,
        observation_space: spaces.Dict,
        action_space: spaces.Discrete,
        lr_schedule: Any,
        *,
        model_path: Any,
        candidate_ids: Sequence[Sequence[int]],
        temperature: float = 1.0,
        detach_value: bool = False,
        **kwargs: Any,
    ):
        if not isinstance(action_space, spaces.Discrete) or action_space.n != len(candidate_ids):
            raise ValueError(f"expected Discrete({len(candidate_ids)}) actions, got {action_space}")
        if temperature <= 0:
            raise ValueError(f"expected temperature > 0, got {temperature}")
        self.model_path = model_path
        self.candidate_ids = [list(c) for c in candidate_ids]
        self.temperature = temperature
        self.detach_value = detach_value
        kwargs.setdefault("ortho_init", False)  # the LM keeps its own weights
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _build(self, lr_schedule: Any) -> None:
        self.scorer = LMScorer(self.model_path, self.candidate_ids)
        self.value_net = nn.Linear(self.scorer.hidden_size, 1)
        nn.init.zeros_(self.value_net.bias)
        nn.init.normal_(self.value_net.weight, std=0.01)
        self.action_dist = CategoricalDistribution(int(self.action_space.n))
        self.optimizer = self.optimizer_class(
            self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs
        )

    @property
    def lm(self) -> Any:
        """The language model being trained (save it with ``save_pretrained``)."""
        return self.scorer.lm

    def _logits_values(self, obs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        scores, hidden = self.scorer(obs["input_ids"], obs["attention_mask"])
        legal = obs["action_mask"].bool()
        logits = torch.where(legal, scores / self.temperature, torch.full_like(scores, MASKED))
        return logits, self.value_net((hidden.detach() if self.detach_value else hidden).float())

    def forward(self, obs: dict[str, torch.Tensor], deterministic: bool = False):
        """Actions, values and log-probs for a batch of observations (SB3's rollout call)."""
        logits, values = self._logits_values(obs)
        dist = self.action_dist.proba_distribution(action_logits=logits)
        actions = dist.get_actions(deterministic=deterministic)
        return actions, values, dist.log_prob(actions)

    def evaluate_actions(self, obs: dict[str, torch.Tensor], actions: torch.Tensor):
        """Values, log-probs and entropy of ``actions`` (SB3's training call)."""
        logits, values = self._logits_values(obs)
        dist = self.action_dist.proba_distribution(action_logits=logits)
        return values, dist.log_prob(actions), dist.entropy()

    def get_distribution(self, obs: dict[str, torch.Tensor]) -> CategoricalDistribution:
        """The masked move distribution."""
        logits, _ = self._logits_values(obs)
        return self.action_dist.proba_distribution(action_logits=logits)

    def predict_values(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """The critic's values."""
        return self._logits_values(obs)[1]

    def _predict(self, observation: dict[str, torch.Tensor], deterministic: bool = False):
        return self.get_distribution(observation).get_actions(deterministic=deterministic)

    def save_lm(self, path: str | os.PathLike[str], tokenizer: Any = None) -> str:
        """Save the LM (and ``tokenizer``) as a Hugging Face directory; ``"hf:" + path`` loads it back."""
        self.lm.save_pretrained(path)
        if tokenizer is not None:
            tokenizer.save_pretrained(path)
        return os.fspath(path)


def _move_logits(
    scorer: LMScorer,
    view: Any,
    temperature: float,
    observations: Sequence[str],
    infos: Sequence[Mapping[str, Any]],
) -> np.ndarray:
    """``[n, K]`` logits of every move for each prompt (one batched pass), illegal moves ``-inf``.

    The prompts are rendered by ``view`` (a :class:`~selfplay_gym.wrappers.TokenView`), keep
    their newest ``view.max_prompt_tokens`` tokens, and are left-padded into one batch.
    """
    width = view.max_prompt_tokens
    prompts = [view.prompt_ids(o, i)[-width:] for o, i in zip(observations, infos, strict=True)]
    length = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), length), view.pad_id, dtype=torch.long)
    attention = torch.zeros((len(prompts), length), dtype=torch.long)
    for row, p in enumerate(prompts):
        ids[row, length - len(p) :] = torch.as_tensor(p)
        attention[row, length - len(p) :] = 1
    with torch.inference_mode():
        scores, _ = scorer(ids, attention)
    logits = scores.double().numpy() / temperature
    for row, info in enumerate(infos):
        legal = np.asarray(info.get("action_mask", np.zeros(logits.shape[1])), dtype=bool)
        logits[row, ~legal] = -np.inf
    return logits


def _frozen(scorer: LMScorer) -> LMScorer:
    return copy.deepcopy(scorer).eval().requires_grad_(False)


class LMSnapshotBot(Bot):
    """A frozen copy of an :class:`LMActorCriticPolicy`'s LM playing a seat (a league snapshot).

    It reads what a model reads (the seat's prompt, rendered by the token view's rules), samples
    its move from the same masked softmax with its own seeded generator, and never trains.

    Args:
        policy: The policy to copy (its LM is deep-copied and frozen).
        view: The :class:`~selfplay_gym.wrappers.TokenView` whose tokenizer and prompt rules to use.
        greedy: Play the most likely move instead of sampling.
    """

    name = "lm_snapshot"

    def __init__(self, policy: LMActorCriticPolicy, view: Any, greedy: bool = False):
        super().__init__()
        self.scorer = _frozen(policy.scorer)
        self.temperature = policy.temperature
        self.view = view
        self.greedy = greedy

    def act(self, env: Any, agent: str) -> int:
        """Sample the move of ``agent`` from the frozen LM's distribution over its legal moves."""
        info = env.infos[agent]
        logits = _move_logits(
            self.scorer, self.view, self.temperature, [env.observe(agent)], [info]
        )[0]
        if self.greedy:
            return int(np.argmax(logits))
        legal = np.flatnonzero(np.isfinite(logits))
        weights = np.exp(logits[legal] - logits[legal].max())
        return int(self.rng.choices(legal.tolist(), weights=weights.tolist())[0])


class LMBatchPolicy:
    """A frozen causal LM as a batched policy (``act``) over a game's moves.

    For :class:`~selfplay_gym.rollout.RolloutEngine`: one call scores the legal moves of every
    pending game in one forward pass, so evaluating many games at once costs a few batched
    passes per move instead of one pass per game and move. Same distribution as
    :class:`LMSnapshotBot` (and as the ``hf:`` policy in score mode). Build it from a training
    policy (:meth:`from_policy`) or from a saved model (:meth:`from_pretrained`).

    Args:
        scorer: The :class:`LMScorer` to play (used as given: frozen, never trained).
        view: The :class:`~selfplay_gym.wrappers.TokenView` whose tokenizer and prompt rules to use.
        temperature: Divides the log-likelihoods before the softmax.
        greedy: Play the most likely move instead of sampling.
        seed: Seed of the sampling generator.
    """

    def __init__(
        self,
        scorer: LMScorer,
        view: Any,
        *,
        temperature: float = 1.0,
        greedy: bool = False,
        seed: int = 0,
    ):
        if temperature <= 0:
            raise ValueError(f"expected temperature > 0, got {temperature}")
        self.scorer = scorer.eval().requires_grad_(False)
        self.temperature = temperature
        self.view = view
        self.greedy = greedy
        self.rng = np.random.default_rng(seed)

    @classmethod
    def from_policy(
        cls, policy: LMActorCriticPolicy, view: Any, *, greedy: bool = False, seed: int = 0
    ) -> LMBatchPolicy:
        """A frozen copy of ``policy``'s LM, at the policy's temperature."""
        return cls(
            _frozen(policy.scorer), view, temperature=policy.temperature, greedy=greedy, seed=seed
        )

    @classmethod
    def from_pretrained(
        cls, path: str | os.PathLike[str], view: Any, **kwargs: Any
    ) -> LMBatchPolicy:
        """The causal LM saved at ``path`` (e.g. by :meth:`LMActorCriticPolicy.save_lm`)."""
        return cls(LMScorer(os.fspath(path), view.candidate_ids), view, **kwargs)

    def act(self, observations: Sequence[str], infos: Sequence[Mapping[str, Any]]) -> list[str]:
        """The move name chosen for each observation (``""`` where no move is legal)."""
        logits = _move_logits(self.scorer, self.view, self.temperature, observations, infos)
        moves = []
        for row in logits:
            legal = np.flatnonzero(np.isfinite(row))
            if not len(legal):
                moves.append("")
                continue
            if self.greedy:
                pick = legal[int(np.argmax(row[legal]))]
            else:
                weights = np.exp(row[legal] - row[legal].max())
                pick = self.rng.choice(legal, p=weights / weights.sum())
            moves.append(self.view.move_names[int(pick)])
        return moves
