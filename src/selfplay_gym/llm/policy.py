"""A language model as a policy of the envs: prompts in, moves out, batched.

:class:`LLMPolicy` turns env observations (and their infos) into prompts, asks its backend for
a batch of completions and returns them as the raw actions the envs parse. With
``mode="score"`` it instead ranks the legal moves by the model's log-likelihood of each
(``info["legal_actions"]``) and returns the chosen one, so even an untrained or small model
plays only legal moves.

A policy is also a plain opponent: ``policy(observation, info) -> action`` is the callable
opponent protocol of the views, the arena and the league.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

from selfplay_gym.llm.base import Backend, Generation, Prompt, SamplingParams
from selfplay_gym.llm.http_backend import RequestFailed

__all__ = ["LLMPolicy", "build_prompt", "load_policy", "load_backend"]

_MODES = ("generate", "score")


class LLMPolicy:
    """A batched language-model policy over one backend.

    Args:
        backend: Any :class:`~selfplay_gym.llm.base.Backend`.
        system_prompt: Text put before the env's own system message (the rules), e.g. a
            persona or an answer-format instruction. ``None`` adds nothing.
        sampling: Sampling settings of :meth:`generate`; default :class:`SamplingParams()`.
        chat: Send chats (``info["messages"]``, templated by the backend) when ``True``; the
            observation string as plain text when ``False``.
        mode: ``"generate"`` (the completion is the action) or ``"score"`` (the action is the
            legal move with the highest log-likelihood, or one sampled from their softmax at
            ``sampling.temperature``).
        name: A label for records and rating tables; default from the backend.
        seed: Seed of the move sampling in ``"score"`` mode.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        system_prompt: str | None = None,
        sampling: SamplingParams | None = None,
        chat: bool = True,
        mode: str = "generate",
        name: str | None = None,
        seed: int = 0,
    ):
        if not isinstance(backend, Backend):
            raise TypeError(f"expected a Backend, got {type(backend).__name__}")
        if mode not in _MODES:
            raise ValueError(f"expected mode in {_MODES}, got {mode!r}")
        if system_prompt is not None and not isinstance(system_prompt, str):
            raise TypeError("expected system_prompt to be a str or None")
        self.backend = backend
        self.system_prompt = system_prompt
        self.sampling = sampling or SamplingParams()
        self.chat = bool(chat)
        self.mode = mode
        self.name = (
            name
            or f"{backend.name}:{getattr(backend, 'model_name', getattr(backend, 'model', ''))}"
        )
        self._rng = random.Random(seed)
        self.last_error: str | None = None
        """Why the latest batch of moves could not be chosen (``None`` when it could)."""

    def reset(self, seed: int | None = None) -> None:
        """Re-seed the move sampling of ``"score"`` mode."""
        self._rng = random.Random(seed)

    # ---- prompts --------------------------------------------------------------------------
    def prompt(self, observation: str, info: Mapping[str, Any] | None = None) -> Prompt:
        """The prompt for one observation: a chat built from ``info["messages"]`` or plain text."""
        return build_prompt(observation, info, self.system_prompt, chat=self.chat)

    def prompts(
        self, observations: Sequence[str], infos: Sequence[Mapping[str, Any] | None] | None = None
    ) -> list[Prompt]:
        """:meth:`prompt` for every observation."""
        if isinstance(observations, str):
            raise TypeError("expected a list of observations, got one str")
        infos = list(infos) if infos is not None else [None] * len(observations)
        if len(infos) != len(observations):
            raise ValueError(f"expected {len(observations)} infos, got {len(infos)}")
        return [self.prompt(o, i) for o, i in zip(observations, infos, strict=True)]

    # ---- acting ---------------------------------------------------------------------------
    def generate(
        self,
        observations: Sequence[str],
        infos: Sequence[Mapping[str, Any] | None] | None = None,
        sampling: SamplingParams | None = None,
    ) -> list[Generation]:
        """One completion per observation, with token ids and log-probs where the backend has them."""
        return self.backend.generate(self.prompts(observations, infos), sampling or self.sampling)

    def score(
        self, prompts: Sequence[Prompt], candidates: Sequence[Sequence[str]]
    ) -> list[list[float]]:
        """Log-likelihood of each candidate continuation (see :meth:`Backend.score`)."""
        return self.backend.score(prompts, candidates)

    def choose(self, observations: Sequence[str], infos: Sequence[Mapping[str, Any]]) -> list[str]:
        """The legal move picked for each observation by the model's likelihood of each move.

        Greedy (the most likely move) at ``temperature == 0``, else sampled from the softmax of
        the log-likelihoods divided by the temperature. An observation without legal moves in
        its info gets ``""`` (the env's invalid-move policy then applies), and so does every
        observation of a batch whose scoring request failed (a server down: the failure is
        kept in :attr:`last_error`, and the game goes on).
        """
        infos = list(infos)
        prompts = self.prompts(observations, infos)
        legal = [list(info.get("legal_actions") or []) for info in infos]
        try:
            scores = self.backend.score(prompts, legal)
        except RequestFailed as exc:
            self.last_error = str(exc)
            return [""] * len(prompts)
        self.last_error = None
        t = self.sampling.temperature
        moves = []
        for names, values in zip(legal, scores, strict=True):
            if not names:
                moves.append("")
            elif t == 0:
                moves.append(names[max(range(len(values)), key=values.__getitem__)])
            else:
                top = max(values)
                if not math.isfinite(top):
                    # No move has a finite likelihood (or one is +inf/NaN): no ranking to use.
                    moves.append(self._rng.choice(names))
                    continue
                weights = [math.exp((v - top) / t) if math.isfinite(v) else 0.0 for v in values]
                moves.append(self._rng.choices(names, weights=weights)[0])
        return moves

    def act(
        self,
        observations: Sequence[str],
        infos: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> list[str]:
        """One raw action per observation (failed generations give ``""``)."""
        if self.mode == "score":
            infos = list(infos) if infos is not None else [{}] * len(observations)
            return self.choose(observations, [i or {} for i in infos])
        generations = self.generate(observations, infos)
        errors = [g.error for g in generations if not g.ok]
        self.last_error = errors[0] if errors else None
        return [g.text for g in generations]

    def __call__(self, observation: str, info: Mapping[str, Any] | None = None) -> str:
        """The opponent protocol: one action for one observation."""
        return self.act([observation], [info])[0]

    def close(self) -> None:
        """Close the backend."""
        self.backend.close()

    def __repr__(self) -> str:
        return f"LLMPolicy({self.name!r}, mode={self.mode!r})"


def load_backend(spec: str, **kwargs: Any) -> Backend:
    """A backend from a short spec string.

    * ``hf:PATH`` -- :class:`~selfplay_gym.llm.transformers_backend.TransformersBackend`;
    * ``vllm:PATH`` -- :class:`~selfplay_gym.llm.vllm_backend.VLLMBackend`;
    * ``openai:URL#MODEL`` -- :class:`~selfplay_gym.llm.http_backend.OpenAIBackend`
      (``MODEL`` defaults to ``"default"``).

    ``kwargs`` go to the backend's constructor.
    """
    if not isinstance(spec, str) or ":" not in spec:
        raise ValueError(f"expected a backend spec such as 'hf:PATH', got {spec!r}")
    kind, _, rest = spec.partition(":")
    if not rest:
        raise ValueError(f"backend spec {spec!r} names no model")
    if kind == "hf":
        from selfplay_gym.llm.transformers_backend import TransformersBackend

        return TransformersBackend(rest, **kwargs)
    if kind == "vllm":
        from selfplay_gym.llm.vllm_backend import VLLMBackend

        return VLLMBackend(rest, **kwargs)
    if kind == "openai":
        from selfplay_gym.llm.http_backend import OpenAIBackend

        url, _, model = rest.partition("#")
        return OpenAIBackend(url, model or "default", **kwargs)
    raise ValueError(f"unknown backend {kind!r} in {spec!r}; expected hf:, vllm: or openai:")


def load_policy(
    spec: str, *, policy_kwargs: Mapping[str, Any] | None = None, **backend_kwargs: Any
) -> LLMPolicy:
    """An :class:`LLMPolicy` over :func:`load_backend` ``(spec)``, named ``spec``.

    Example::

        policy = load_policy("hf:/models/tiny", policy_kwargs={"mode": "score"})
        policy = load_policy("openai:http://127.0.0.1:8000/v1#Qwen/Qwen3-4B")
    """
    kwargs = {"name": spec, **dict(policy_kwargs or {})}
    return LLMPolicy(load_backend(spec, **backend_kwargs), **kwargs)


def build_prompt(
    observation: str,
    info: Mapping[str, Any] | None = None,
    system_prompt: str | None = None,
    *,
    chat: bool = True,
) -> Prompt:
    """The prompt a policy sends for one observation (:meth:`LLMPolicy.prompt`).

    A chat is ``info["messages"]`` (or the observation as one user message) with
    ``system_prompt`` put before the env's system message; ``chat=False`` gives the plain text.
    Token views of the envs build their prompts here too, so a model trained on them reads
    exactly what it reads as an ``LLMPolicy``.
    """
    if not isinstance(observation, str):
        raise TypeError(f"expected a str observation, got {type(observation).__name__}")
    messages = list((info or {}).get("messages") or [])
    if not chat:
        return f"{system_prompt}\n\n{observation}" if system_prompt else observation
    if not messages:
        messages = [{"role": "user", "content": observation}]
    if system_prompt:
        if messages[0].get("role") == "system":
            merged = f"{system_prompt}\n\n{messages[0]['content']}"
            messages = [{"role": "system", "content": merged}, *messages[1:]]
        else:
            messages = [{"role": "system", "content": system_prompt}, *messages]
    return [dict(m) for m in messages]
