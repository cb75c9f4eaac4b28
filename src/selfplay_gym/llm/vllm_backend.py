"""The vLLM backend: the offline ``vllm.LLM`` engine, for rollouts on a GPU.

One ``generate`` call hands the whole batch to vLLM's scheduler (continuous batching, paged KV
cache). Prompts are templated and tokenized here, exactly as the transformers backend does them
(a chat's template writes its own special tokens, so none are added on top), and handed to vLLM
as token ids: both backends feed a model the same tokens, and a prompt longer than the context
keeps its newest tokens and is flagged ``prompt_truncated`` instead of failing. Stop strings stay
in the text, as :class:`~selfplay_gym.llm.base.SamplingParams` documents. Log-probabilities are
vLLM's sampled-token log-probs; candidate scores come from ``prompt_logprobs``.

Needs the ``vllm`` extra (``pip install selfplay-gym[vllm]``) and a GPU vLLM supports.
"""

from __future__ import annotations

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
)

__all__ = ["VLLMBackend", "import_vllm"]


def import_vllm() -> Any:
    """Import ``vllm`` or raise an ImportError that names the extra to install."""
    try:
        import vllm
    except ImportError as exc:
        raise ImportError(
            "the vLLM backend needs vllm and a GPU it supports: pip install selfplay-gym[vllm] "
            f"(import failed: {exc})"
        ) from exc
    return vllm


class VLLMBackend(Backend):
    """A model served by an in-process ``vllm.LLM`` engine.

    Args:
        model: A local model directory or a name in the local Hugging Face cache.
        seed: Engine seed; each call also draws per-request seeds from it.
        max_context: Context length (``max_model_len``); default: the model's.
        **engine_kwargs: Passed to ``vllm.LLM`` (``gpu_memory_utilization``, ``dtype``,
            ``tensor_parallel_size``, ``enable_prefix_caching``, ...).
    """

    name = "vllm"

    def __init__(
        self, model: str, *, seed: int = 0, max_context: int | None = None, **engine_kwargs: Any
    ):
        vllm = import_vllm()
        if max_context is not None:
            engine_kwargs.setdefault("max_model_len", max_context)
        self.model_name = str(model)
        self._vllm = vllm
        self.llm = vllm.LLM(model=self.model_name, seed=seed, **engine_kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self._next_seed = seed
        self.max_context = max_context or _engine_context(self.llm) or 4096

    def render(self, prompt: Prompt) -> str:
        """The text the model reads for ``prompt`` (a chat goes through the chat template)."""
        return render_with_tokenizer(self.tokenizer, prompt)

    def _encode(self, prompt: Prompt) -> list[int]:
        return encode_with_tokenizer(self.tokenizer, prompt)

    def _params(self, sampling: SamplingParams, seed: int) -> Any:
        return self._vllm.SamplingParams(
            n=1,
            max_tokens=sampling.max_new_tokens,
            temperature=float(sampling.temperature),
            top_p=float(sampling.top_p),
            top_k=sampling.top_k if sampling.top_k else -1,
            stop=list(sampling.stop) or None,
            include_stop_str_in_output=True,
            seed=seed,
            logprobs=0 if sampling.logprobs else None,
        )

    def generate(
        self, prompts: Sequence[Prompt], sampling: SamplingParams | None = None
    ) -> list[Generation]:
        """Complete every prompt in one engine call."""
        prompts = check_prompts(prompts)
        sampling = sampling or SamplingParams()
        if not prompts:
            return []
        room = self.max_context - sampling.max_new_tokens
        if room < 1:
            raise ValueError(
                f"max_new_tokens={sampling.max_new_tokens} leaves no room for a prompt in a "
                f"context of {self.max_context} tokens"
            )
        base = sampling.seed if sampling.seed is not None else self._next_seed
        if sampling.seed is None:
            self._next_seed = base + len(prompts)
        encoded = [self._encode(p) for p in prompts]
        requests = [{"prompt_token_ids": ids[-room:]} for ids in encoded]
        params = [self._params(sampling, base + i) for i in range(len(prompts))]
        outputs = self.llm.generate(requests, params, use_tqdm=False)
        gens = []
        for ids, request, out in zip(encoded, requests, outputs, strict=True):
            completion = out.outputs[0]
            token_ids = list(completion.token_ids)
            logprobs = None
            if completion.logprobs is not None:
                logprobs = [
                    float(step[t].logprob)
                    for step, t in zip(completion.logprobs, token_ids, strict=False)
                ]
            prompt_ids = request["prompt_token_ids"]
            gens.append(
                Generation(
                    text=completion.text,
                    token_ids=token_ids,
                    logprobs=logprobs,
                    prompt_token_ids=prompt_ids,
                    prompt_text=self.tokenizer.decode(prompt_ids),
                    finish_reason="length" if completion.finish_reason == "length" else "stop",
                    prompt_truncated=len(ids) > room,
                )
            )
        return gens

    def score(
        self, prompts: Sequence[Prompt], candidates: Sequence[Sequence[str]]
    ) -> list[list[float]]:
        """Summed log-probability of each candidate's tokens, from vLLM's prompt log-probs."""
        prompts = check_prompts(prompts)
        candidates = check_candidates(prompts, candidates)
        requests: list[dict[str, Any]] = []
        spans: list[tuple[int, int, int]] = []
        for i, (p, cands) in enumerate(zip(prompts, candidates, strict=True)):
            if not cands:
                continue
            cand_ids = [self.tokenizer(c, add_special_tokens=False)["input_ids"] for c in cands]
            longest = max(len(c) for c in cand_ids)
            # Keep the newest prompt tokens that leave room for the longest candidate.
            prefix = self._encode(p)[-max(self.max_context - longest - 1, 1) :]
            for j, c in enumerate(cand_ids):
                requests.append({"prompt_token_ids": prefix + list(c)})
                spans.append((i, j, len(prefix)))
        params = self._vllm.SamplingParams(max_tokens=1, prompt_logprobs=0, temperature=0.0)
        outputs = self.llm.generate(requests, params, use_tqdm=False) if requests else []
        out = [[0.0] * len(c) for c in candidates]
        for (i, j, start), result, request in zip(spans, outputs, requests, strict=True):
            ids = request["prompt_token_ids"]
            total = 0.0
            for position in range(start, len(ids)):
                entry = result.prompt_logprobs[position]
                total += float(entry[ids[position]].logprob)
            out[i][j] = total
        return out

    def close(self) -> None:
        """Drop the engine (frees the GPU memory once nothing else holds it)."""
        self.llm = None


def _engine_context(llm: Any) -> int | None:
    """The engine's context length (``max_model_len``), wherever this vLLM version keeps it."""
    for path in ("llm_engine.model_config", "llm_engine.vllm_config.model_config"):
        obj = llm
        for name in path.split("."):
            obj = getattr(obj, name, None)
        length = getattr(obj, "max_model_len", None)
        if isinstance(length, int) and length > 0:
            return length
    return None
