"""Language-model policies: one batched interface over transformers, vLLM and HTTP servers.

* :class:`LLMPolicy` -- observations in, raw moves out (``act``), or completions with token ids
  and log-probs (``generate``), or the legal move the model finds most likely (``mode="score"``).
* Backends -- :class:`~selfplay_gym.llm.transformers_backend.TransformersBackend` (a local
  model, CPU or GPU), :class:`~selfplay_gym.llm.vllm_backend.VLLMBackend` (the offline vLLM
  engine) and :class:`~selfplay_gym.llm.http_backend.OpenAIBackend` (any OpenAI-compatible
  server); :func:`load_policy` builds one from ``"hf:PATH"``, ``"vllm:PATH"`` or
  ``"openai:URL#MODEL"``.
* :func:`~selfplay_gym.llm.tiny.build_tiny_model` -- a tiny GPT-2 and tokenizer made locally.

Importing this package loads neither torch nor transformers; the backends import them when
constructed.
"""

from selfplay_gym.llm.base import (
    Backend,
    Generation,
    Prompt,
    SamplingParams,
    UnsupportedCapability,
    render_plain_chat,
)
from selfplay_gym.llm.http_backend import OpenAIBackend, RequestFailed
from selfplay_gym.llm.policy import LLMPolicy, load_backend, load_policy

__all__ = [
    "Backend",
    "Generation",
    "LLMPolicy",
    "OpenAIBackend",
    "Prompt",
    "RequestFailed",
    "SamplingParams",
    "UnsupportedCapability",
    "load_backend",
    "load_policy",
    "render_plain_chat",
]
