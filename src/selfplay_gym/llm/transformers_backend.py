"""The Hugging Face ``transformers`` backend: a local causal LM, batched, on CPU or GPU.

Prompts of a batch are left-padded and generated together with the KV cache; the model's raw
logits give every generated token's log-probability. Chat prompts go through the tokenizer's own
chat template (or :func:`~selfplay_gym.llm.base.render_plain_chat` when it has none). Prompts
longer than the context keep their newest tokens and are flagged ``prompt_truncated``. Stop
strings are looked for in the completion only, and a completion that meets one ends with it:
its text, ``token_ids`` and ``logprobs`` stop at the token that completes the stop string.

Needs the ``llm`` extra (``pip install selfplay-gym[llm]``).
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Sequence
from typing import Any

from selfplay_gym.llm.base import (
    Backend,
    Generation,
    Prompt,
    SamplingParams,
    check_candidates,
    check_prompts,
    encode_with_tokenizer,
    render_with_tokenizer,
    stop_end,
)

__all__ = ["TransformersBackend"]


def _import_torch_transformers() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "the transformers backend needs torch and transformers: pip install selfplay-gym[llm]"
        ) from exc
    return torch, transformers


class TransformersBackend(Backend):
    """A causal LM loaded with ``AutoModelForCausalLM``.

    Args:
        model: A local directory or a model name already in the Hugging Face cache (nothing is
            downloaded when ``HF_HUB_OFFLINE=1``), or an already loaded model object.
        tokenizer: A tokenizer object or path; default: the one saved with the model.
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda:0"``, ...
        dtype: ``"auto"`` (the checkpoint's), or a torch dtype name such as ``"bfloat16"``.
        threads: torch CPU threads (process-wide). 1 by default: on a small shared machine more
            threads are slower, not faster. ``None`` leaves torch's setting alone.
        max_batch_size: Prompts generated together at most; larger batches are split.
        max_context: Context length in tokens; default: the model config's.
        seed: Seed of the backend's sampling stream (each call draws its seed from it).
        trust_remote_code: Passed to ``from_pretrained``.
    """

    name = "transformers"

    def __init__(
        self,
        model: Any,
        *,
        tokenizer: Any = None,
        device: str = "auto",
        dtype: str = "auto",
        threads: int | None = 1,
        max_batch_size: int = 32,
        max_context: int | None = None,
        seed: int = 0,
        trust_remote_code: bool = False,
    ):
        torch, transformers = _import_torch_transformers()
        if threads is not None:
            if threads < 1:
                raise ValueError(f"expected threads >= 1 or None, got {threads}")
            torch.set_num_threads(threads)
        if max_batch_size < 1:
            raise ValueError(f"expected max_batch_size >= 1, got {max_batch_size}")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self._torch = torch
        self._transformers = transformers

        if isinstance(model, (str, os.PathLike)):
            self.model_name = str(model)
            kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
            if dtype != "auto":
                kwargs["dtype"] = getattr(torch, dtype)
            else:
                kwargs["dtype"] = "auto"
            model = transformers.AutoModelForCausalLM.from_pretrained(self.model_name, **kwargs)
            if tokenizer is None:
                tokenizer = self.model_name
        else:
            self.model_name = getattr(getattr(model, "config", None), "_name_or_path", "model")
            if tokenizer is None:
                raise ValueError("pass tokenizer= when model is an already loaded object")
        if isinstance(tokenizer, (str, os.PathLike)):
            tokenizer = transformers.AutoTokenizer.from_pretrained(
                str(tokenizer), trust_remote_code=trust_remote_code
            )
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.tokenizer = tokenizer
        self.model = model.to(self.device).eval()
        self.max_batch_size = max_batch_size
        config = self.model.config
        self.max_context = (
            max_context
            or getattr(config, "max_position_embeddings", None)
            or (getattr(config, "n_positions", None) or 4096)
        )
        self._rng = torch.Generator().manual_seed(seed)
        eos = self.model.generation_config.eos_token_id
        if eos is None:
            eos = tokenizer.eos_token_id
        self._eos_ids = set(eos if isinstance(eos, list) else [eos])

    # ---- prompts --------------------------------------------------------------------------
    def render(self, prompt: Prompt) -> str:
        """The text the model reads for ``prompt`` (a chat goes through the chat template)."""
        return render_with_tokenizer(self.tokenizer, prompt)

    def _encode(self, prompt: Prompt) -> list[int]:
        return encode_with_tokenizer(self.tokenizer, prompt)

    def _pad_left(self, rows: Sequence[Sequence[int]]) -> tuple[Any, Any]:
        torch = self._torch
        width = max(len(r) for r in rows)
        pad = self.tokenizer.pad_token_id
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            if r:
                ids[i, width - len(r) :] = torch.tensor(r, dtype=torch.long)
                mask[i, width - len(r) :] = 1
        return ids.to(self.device), mask.to(self.device)

    # ---- generation -----------------------------------------------------------------------
    def generate(
        self, prompts: Sequence[Prompt], sampling: SamplingParams | None = None
    ) -> list[Generation]:
        """Complete every prompt; batches of at most ``max_batch_size`` run together."""
        prompts = check_prompts(prompts)
        sampling = sampling or SamplingParams()
        room = self.max_context - sampling.max_new_tokens
        if room < 1:
            raise ValueError(
                f"max_new_tokens={sampling.max_new_tokens} leaves no room for a prompt in a "
                f"context of {self.max_context} tokens"
            )
        encoded = []
        for p in prompts:
            text = self.render(p)
            ids = encode_with_tokenizer(self.tokenizer, p, text)
            # The rendered text is the prompt as read, unless its oldest tokens had to go.
            encoded.append((ids[-room:], len(ids) > room, text))
        out: list[Generation] = []
        for number, start in enumerate(range(0, len(prompts), self.max_batch_size)):
            chunk = encoded[start : start + self.max_batch_size]
            if sampling.seed is None:
                seed = int(self._torch.randint(2**62, (1,), generator=self._rng))
            else:
                # Each chunk its own seed: with one seed for all, a group of identical prompts
                # larger than max_batch_size would repeat the same samples chunk after chunk.
                seed = sampling.seed + number
            out.extend(self._generate_batch(chunk, sampling, seed))
        return out

    def _generate_batch(
        self, chunk: list[tuple[list[int], bool, str]], sampling: SamplingParams, seed: int
    ) -> list[Generation]:
        torch = self._torch
        ids, mask = self._pad_left([c[0] for c in chunk])
        kwargs: dict[str, Any] = {
            "max_new_tokens": sampling.max_new_tokens,
            "pad_token_id": self.tokenizer.pad_token_id,
            "eos_token_id": sorted(self._eos_ids),
            "return_dict_in_generate": True,
            "output_logits": sampling.logprobs,
        }
        if sampling.greedy:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(
                do_sample=True,
                temperature=float(sampling.temperature),
                top_p=float(sampling.top_p),
                top_k=int(sampling.top_k) or None,
            )
        if sampling.stop:
            # Not generate(stop_strings=...): transformers' StopStringCriteria looks at the whole
            # sequence, so a stop string that straddles the end of the prompt (a chat template
            # ending in "\n" and the stop "\n\n") ends the completion after one token.
            kwargs["stopping_criteria"] = _generated_text_stop(
                torch, self._transformers, self.tokenizer, sampling.stop, ids.shape[1]
            )
        # Sampling draws from torch's global generators: fork them so that a call leaves the
        # caller's random state (CPU and, on a GPU, the device's) as it found it.
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            torch.manual_seed(seed)
            result = self.model.generate(input_ids=ids, attention_mask=mask, **kwargs)
        new = result.sequences[:, ids.shape[1] :]
        if sampling.logprobs and result.logits:
            logits = torch.stack(result.logits, dim=1).float()  # (batch, steps, vocab)
            chosen = torch.log_softmax(logits, dim=-1).gather(-1, new.unsqueeze(-1)).squeeze(-1)
            token_logprobs = chosen.tolist()
        else:
            token_logprobs = None
        rows = new.tolist()
        gens = []
        for i, (prompt_ids, truncated, prompt_text) in enumerate(chunk):
            tokens = rows[i]
            finish = "length"
            for j, t in enumerate(tokens):
                if t in self._eos_ids:
                    tokens = tokens[: j + 1]
                    finish = "stop"
                    break
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            if sampling.stop:
                end = stop_end(text, sampling.stop)
                if end is not None:
                    # A row that met its stop string while others of the batch went on was
                    # padded after it: keep the tokens up to the one that completes the stop
                    # string, so that token_ids and logprobs describe the text and nothing more.
                    tokens = self._tokens_through(tokens, sampling.stop)
                    text = text[:end]
                    finish = "stop"
            gens.append(
                Generation(
                    text=text,
                    token_ids=tokens,
                    logprobs=token_logprobs[i][: len(tokens)] if token_logprobs else None,
                    prompt_token_ids=prompt_ids,
                    prompt_text=self.tokenizer.decode(prompt_ids) if truncated else prompt_text,
                    finish_reason=finish,
                    prompt_truncated=truncated,
                )
            )
        return gens

    def _tokens_through(self, tokens: list[int], stop: Sequence[str]) -> list[int]:
        """The shortest prefix of ``tokens`` whose text contains one of the ``stop`` strings."""

        def has_stop(j: int) -> bool:
            text = self.tokenizer.decode(tokens[:j], skip_special_tokens=True)
            return stop_end(text, stop) is not None

        # A longer prefix decodes to a longer text, so "contains a stop string" is monotone in
        # the prefix length: bisect for the first prefix that does.
        low, high = 1, len(tokens)
        while low < high:
            mid = (low + high) // 2
            if has_stop(mid):
                high = mid
            else:
                low = mid + 1
        return tokens[:low]

    # ---- scoring --------------------------------------------------------------------------
    def score(
        self, prompts: Sequence[Prompt], candidates: Sequence[Sequence[str]]
    ) -> list[list[float]]:
        """Summed log-probability of each candidate's tokens after its prompt.

        The prompt is run once and its KV cache is shared by all of its candidates, so scoring
        the hundreds of legal moves of a negotiation costs one prompt plus the moves' tokens.
        """
        torch = self._torch
        prompts = check_prompts(prompts)
        candidates = check_candidates(prompts, candidates)
        out: list[list[float]] = []
        with torch.inference_mode():
            for prompt, cands in zip(prompts, candidates, strict=True):
                if not cands:
                    out.append([])
                    continue
                cand_ids = [self.tokenizer(c, add_special_tokens=False)["input_ids"] for c in cands]
                longest = max(len(c) for c in cand_ids)
                prompt_ids = self._encode(prompt)[-max(self.max_context - longest, 1) :]
                out.append(self._score_one(prompt_ids, cand_ids))
        return out

    def _score_one(self, prompt_ids: list[int], cand_ids: list[list[int]]) -> list[float]:
        torch = self._torch
        prefix = torch.tensor([prompt_ids], dtype=torch.long, device=self.device)
        first = self.model(input_ids=prefix, attention_mask=torch.ones_like(prefix), use_cache=True)
        # Log-probs of every candidate's first token come from the prompt's last position.
        first_logp = torch.log_softmax(first.logits[0, -1].float(), dim=-1)
        scores = [float(first_logp[c[0]]) if c else 0.0 for c in cand_ids]
        rest = [(i, c) for i, c in enumerate(cand_ids) if len(c) > 1]
        for start in range(0, len(rest), self.max_batch_size):
            part = rest[start : start + self.max_batch_size]
            width = max(len(c) for _, c in part)
            n = len(part)
            ids = torch.full((n, width), self.tokenizer.pad_token_id, dtype=torch.long)
            for row, (_, c) in enumerate(part):
                ids[row, : len(c)] = torch.tensor(c, dtype=torch.long)
            ids = ids.to(self.device)
            cache = _repeat_cache(output_cache(first), n)
            mask = torch.ones((n, len(prompt_ids) + width), dtype=torch.long, device=self.device)
            logits = self.model(
                input_ids=ids,
                attention_mask=mask,
                use_cache=True,
                **cache_kwargs(self.model, cache),
            ).logits.float()
            logp = torch.log_softmax(logits[:, :-1], dim=-1)
            for row, (i, c) in enumerate(part):
                target = torch.tensor(c[1:], dtype=torch.long, device=self.device)
                scores[i] += float(logp[row, : len(c) - 1].gather(-1, target[:, None]).sum())
        return scores


def _generated_text_stop(
    torch: Any, transformers: Any, tokenizer: Any, stop: Sequence[str], prompt_width: int
) -> Any:
    """A stopping criterion that ends a row once its generated text holds a stop string."""
    # A stop string completed by the newest token lies within its last few tokens: one token
    # per UTF-8 byte at worst, plus one for a token that starts before the string.
    window = max(len(s.encode()) for s in stop) + 1

    class GeneratedTextStop(transformers.StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            start = max(prompt_width, input_ids.shape[1] - window)
            tails = tokenizer.batch_decode(input_ids[:, start:], skip_special_tokens=True)
            done = [stop_end(text, stop) is not None for text in tails]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return transformers.StoppingCriteriaList([GeneratedTextStop()])


def cache_kwargs(model: Any, cache: Any) -> dict[str, Any]:
    """``{name: cache}`` for ``model``'s forward, under the name its transformers version takes.

    Recent transformers 5.x name it ``cache`` and deprecate ``past_key_values`` (to be removed
    in 5.40); older versions only know ``past_key_values``.
    """
    return {_cache_arg(type(model)): cache}


@functools.cache
def _cache_arg(model_class: type) -> str:
    """The forward's name for the KV cache (looked up once per model class, not per call)."""
    params = inspect.signature(model_class.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def output_cache(output: Any) -> Any:
    """The KV cache of a forward's output, under either name (see :func:`cache_kwargs`)."""
    cache = getattr(output, "cache", None) if "cache" in output else None
    return cache if cache is not None else output.past_key_values


def _repeat_cache(cache: Any, n: int) -> Any:
    """A copy of a batch-1 KV cache repeated ``n`` times along the batch axis."""
    import copy

    repeated = copy.deepcopy(cache)
    repeated.batch_repeat_interleave(n)
    return repeated
