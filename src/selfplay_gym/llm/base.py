"""The backend interface every language-model adapter implements, and the records it returns.

A backend turns a batch of prompts into a batch of :class:`Generation` records and scores
candidate continuations. A prompt is either a chat (a list of ``{"role", "content"}`` messages,
templated by the backend with the model's own chat template) or a plain string (sent as is).

Backends never raise for one bad item of a batch that the caller could not have prevented (a
server that times out, a connection refused): that item comes back with
``finish_reason="error"`` and the reason in ``error``, and the rollout records it. They do raise
for programming errors (a malformed prompt, an unknown argument) and for a capability they lack
(:class:`UnsupportedCapability`).
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "Backend",
    "Generation",
    "Message",
    "Prompt",
    "SamplingParams",
    "UnsupportedCapability",
    "check_prompts",
    "encode_with_tokenizer",
    "render_plain_chat",
    "render_with_tokenizer",
    "stop_end",
]

Message = Mapping[str, str]
"""One chat message: ``{"role": "system" | "user" | "assistant", "content": str}``."""

Prompt = str | Sequence[Message]
"""A plain-text prompt, or a chat to be templated by the backend."""


class UnsupportedCapability(RuntimeError):
    """The backend (or the server behind it) cannot do what was asked, e.g. return log-probs."""


@dataclass(frozen=True)
class SamplingParams:
    """How completions are sampled. The defaults suit short game moves.

    ``temperature=0`` is greedy decoding. Log-probabilities are always those of the model's own
    distribution (temperature 1, no top-k/top-p), which is what a policy-gradient loss needs.
    """

    max_new_tokens: int = 64
    """Most tokens generated per completion."""
    temperature: float = 1.0
    """Softmax temperature; 0 selects the most likely token every step."""
    top_p: float = 1.0
    """Nucleus sampling mass (1 disables it)."""
    top_k: int = 0
    """Sample from the k most likely tokens only (0 disables it)."""
    stop: tuple[str, ...] = ()
    """Strings that end a completion; the completion text is cut just after the first one."""
    seed: int | None = None
    """Seed of this call's sampling; ``None`` draws from the backend's own seeded stream."""
    logprobs: bool = True
    """Ask for the log-probability of every generated token."""

    def __post_init__(self) -> None:
        if isinstance(self.max_new_tokens, bool) or not isinstance(self.max_new_tokens, int):
            raise TypeError(f"expected max_new_tokens to be an int, got {self.max_new_tokens!r}")
        if self.max_new_tokens < 1:
            raise ValueError(f"expected max_new_tokens >= 1, got {self.max_new_tokens}")
        if not (isinstance(self.temperature, (int, float)) and math.isfinite(self.temperature)):
            raise ValueError(f"expected a finite temperature, got {self.temperature!r}")
        if self.temperature < 0:
            raise ValueError(f"expected temperature >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"expected 0 < top_p <= 1, got {self.top_p}")
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or self.top_k < 0:
            raise ValueError(f"expected top_k to be an int >= 0, got {self.top_k!r}")
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int)
        ):
            raise TypeError(f"expected seed to be an int or None, got {self.seed!r}")
        if isinstance(self.stop, str):
            object.__setattr__(self, "stop", (self.stop,))
        else:
            object.__setattr__(self, "stop", tuple(self.stop))
        if not all(isinstance(s, str) and s for s in self.stop):
            raise ValueError(f"expected stop to hold non-empty strings, got {self.stop!r}")

    @property
    def greedy(self) -> bool:
        """Whether decoding is greedy (``temperature == 0``)."""
        return self.temperature == 0

    def with_(self, **changes: Any) -> SamplingParams:
        """A copy with some fields changed."""
        return replace(self, **changes)


@dataclass
class Generation:
    """One completion, with what a trainer needs to learn from it."""

    text: str
    """The completion as text (special tokens removed, cut at a stop string)."""
    token_ids: list[int] | None = None
    """The generated token ids (an end-of-sequence token included); ``None`` if unknown."""
    logprobs: list[float] | None = None
    """Log-probability of each generated token under the model; ``None`` if unknown."""
    prompt_token_ids: list[int] | None = None
    """The token ids the model was conditioned on; ``None`` if unknown."""
    prompt_text: str | None = None
    """The prompt after chat templating, as the model read it; ``None`` if unknown."""
    finish_reason: str = "stop"
    """``"stop"`` (end of sequence or stop string), ``"length"`` (token budget) or ``"error"``."""
    error: str | None = None
    """What went wrong when ``finish_reason == "error"``; the text is then empty."""
    prompt_truncated: bool = False
    """The prompt was longer than the model's context and its oldest tokens were dropped."""
    meta: dict[str, Any] = field(default_factory=dict)
    """Backend-specific extras (latency, retries, the server's response id)."""

    @property
    def ok(self) -> bool:
        """Whether a completion was produced."""
        return self.finish_reason != "error"

    @property
    def num_tokens(self) -> int:
        """Generated tokens (0 when unknown)."""
        return len(self.token_ids) if self.token_ids is not None else 0

    @classmethod
    def failed(cls, error: str, **meta: Any) -> Generation:
        """A record of a completion that could not be produced."""
        return cls(text="", finish_reason="error", error=error, meta=dict(meta))


def check_prompts(prompts: Any) -> list[Prompt]:
    """Validate a batch of prompts and return it as a list.

    Raises:
        TypeError: If ``prompts`` is a single string, or an item is neither a string nor a
            list of messages with string ``role`` and ``content``.
    """
    if isinstance(prompts, (str, bytes)) or not isinstance(prompts, Sequence):
        raise TypeError(
            f"expected a list of prompts (str or list of chat messages), got {type(prompts).__name__}"
        )
    out = list(prompts)
    for i, p in enumerate(out):
        if isinstance(p, str):
            continue
        if isinstance(p, (bytes, Mapping)) or not isinstance(p, Sequence) or not p:
            raise TypeError(
                f"prompt {i}: expected a str or a non-empty list of messages, got {p!r:.80}"
            )
        for m in p:
            if not (
                isinstance(m, Mapping)
                and isinstance(m.get("role"), str)
                and isinstance(m.get("content"), str)
            ):
                raise TypeError(
                    f"prompt {i}: expected messages {{'role': str, 'content': str}}, got {m!r:.80}"
                )
    return out


def stop_end(text: str, stop: Sequence[str]) -> int | None:
    """Where ``text`` is cut for the ``stop`` strings: just after the earliest complete one.

    "Earliest" is the one generation met first, i.e. whose last character comes first.
    ``None`` when no stop string occurs.

    Example:
        >>> stop_end(" chip chip", ("chip", "hi"))
        4
    """
    ends = [text.find(s) + len(s) for s in stop if s in text]
    return min(ends) if ends else None


def render_plain_chat(messages: Sequence[Message]) -> str:
    """A chat as plain text, for models without a chat template: ``Role: content`` blocks."""
    blocks = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
    return "\n\n".join([*blocks, "Assistant:"])


def render_with_tokenizer(tokenizer: Any, prompt: Prompt) -> str:
    """The text a local model reads for ``prompt``.

    A chat goes through the tokenizer's chat template (generation prompt added), or
    :func:`render_plain_chat` when it has none.
    """
    if isinstance(prompt, str):
        return prompt
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            [dict(m) for m in prompt], tokenize=False, add_generation_prompt=True
        )
    return render_plain_chat(prompt)


def encode_with_tokenizer(tokenizer: Any, prompt: Prompt, text: str | None = None) -> list[int]:
    """Token ids of ``prompt``, the same for every local backend.

    A chat template writes its own special tokens; a plain prompt gets the model's usual ones.
    An empty prompt becomes the start-of-text token (GPT-2's convention for unconditional
    generation), since the model needs one position to predict from. ``text`` is the prompt
    already rendered by :func:`render_with_tokenizer`, if the caller has it.
    """
    if text is None:
        text = render_with_tokenizer(tokenizer, prompt)
    ids = list(tokenizer(text, add_special_tokens=isinstance(prompt, str))["input_ids"])
    if not ids:
        for start in (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id, 0):
            if start is not None:
                ids = [start]
                break
    return ids


class Backend(abc.ABC):
    """A language model that completes and scores batches of prompts.

    Subclasses set :attr:`name` and the two capability flags, and implement :meth:`generate`
    and (if they can) :meth:`score`.
    """

    name: str = "backend"
    """Short name used in records and error messages, e.g. ``"transformers"``."""
    supports_logprobs: bool = True
    """Whether :meth:`generate` fills ``token_ids`` and ``logprobs``."""
    supports_score: bool = True
    """Whether :meth:`score` is available."""

    @abc.abstractmethod
    def generate(
        self, prompts: Sequence[Prompt], sampling: SamplingParams | None = None
    ) -> list[Generation]:
        """One :class:`Generation` per prompt, in order."""

    def score(
        self, prompts: Sequence[Prompt], candidates: Sequence[Sequence[str]]
    ) -> list[list[float]]:
        """The log-likelihood of each candidate continuation of each prompt.

        ``candidates[i]`` are continuations of ``prompts[i]``; the result has the same shape.
        A chat prompt is templated with the generation prompt added, so a candidate is scored
        as the assistant's reply.
        """
        raise UnsupportedCapability(f"the {self.name} backend cannot score continuations")

    def close(self) -> None:  # noqa: B027 - a no-op by default: most backends hold nothing
        """Release what the backend holds (threads, connections, a GPU engine)."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_candidates(prompts: Sequence[Prompt], candidates: Any) -> list[list[str]]:
    """Validate ``candidates`` against ``prompts`` (same length, lists of strings)."""
    if isinstance(candidates, (str, bytes)) or not isinstance(candidates, Sequence):
        raise TypeError("expected candidates to be a list (one list of strings per prompt)")
    if len(candidates) != len(prompts):
        raise ValueError(f"expected {len(prompts)} candidate lists, got {len(candidates)}")
    out = []
    for i, cands in enumerate(candidates):
        if isinstance(cands, (str, bytes)) or not isinstance(cands, Sequence):
            raise TypeError(f"candidates[{i}]: expected a list of strings, got {cands!r:.80}")
        if not all(isinstance(c, str) for c in cands):
            raise TypeError(f"candidates[{i}]: expected strings only")
        out.append(list(cands))
    return out
