r"""The OpenAI-compatible HTTP backend: any server speaking ``/v1/chat/completions``.

vLLM's and SGLang's servers, ``transformers serve``, llama.cpp's server and hosted APIs all speak
this protocol. Requests of a batch go out concurrently (at most ``max_concurrency`` at once),
each with a timeout; connection failures, timeouts, HTTP 408/429 and 5xx answers are retried
with exponential back-off and jitter. A request that still fails becomes a
:class:`~selfplay_gym.llm.base.Generation` with ``finish_reason="error"``: the rollout records
it and the env's invalid-move policy deals with the empty move. Nothing here raises out of
:meth:`OpenAIBackend.generate` for a server-side failure.

Servers differ; the backend evens out what it can. Stop strings stay in the text and nothing
after them does, whether the server drops them (OpenAI, vLLM) or returns whole tokens past them
(``transformers serve``). What it cannot invent it leaves unknown: ``token_ids`` are ``None``
(the protocol returns text), and ``logprobs`` are ``None`` when the server sends none. What
``transformers serve`` (transformers 5.x) lacks, as the tests found it:

* it ignores ``logprobs`` and ``echo``: no log-probs, and :meth:`OpenAIBackend.score` raises
  :class:`~selfplay_gym.llm.base.UnsupportedCapability`;
* it samples only if the model's ``generation_config.json`` sets ``do_sample``; otherwise any
  temperature decodes greedily;
* its stop strings also match text that began in the prompt, so a stop such as ``"\n\n"``
  after a chat template ending in ``"\n"`` ends the reply after one token;
* a prompt longer than the model's context is a 500 (an error record here), not a truncation;
* the chat endpoint wraps a plain-string prompt in a user message; use
  ``endpoint="completions"`` to send raw text.

Only the standard library is used (``urllib``), so this backend needs no extra.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from selfplay_gym.llm.base import (
    Backend,
    Generation,
    Prompt,
    SamplingParams,
    UnsupportedCapability,
    check_candidates,
    check_prompts,
    render_plain_chat,
    stop_end,
)

__all__ = ["OpenAIBackend", "RequestFailed"]

_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class RequestFailed(RuntimeError):
    """A request that failed for good (after its retries, or at once for a client error).

    Attributes:
        attempts: How many attempts were made (1 + the retries spent).
    """

    def __init__(self, message: str, attempts: int = 1):
        super().__init__(message)
        self.attempts = attempts


class OpenAIBackend(Backend):
    """A model behind an OpenAI-compatible server.

    Args:
        base_url: The server's API root, e.g. ``"http://127.0.0.1:8000/v1"`` (a URL without a
            path gets ``/v1`` appended).
        model: The model name the server knows.
        api_key: Sent as a bearer token when given.
        endpoint: ``"chat"`` (``/chat/completions``: chat prompts are sent as messages, plain
            prompts as one user message) or ``"completions"`` (``/completions``: chat prompts
            are flattened with :func:`~selfplay_gym.llm.base.render_plain_chat`).
        max_concurrency: Requests in flight at once, over every call of this backend (also when
            several threads call it).
        timeout: Seconds allowed per request attempt.
        max_retries: Extra attempts after a retryable failure.
        backoff: First back-off in seconds; doubled per retry, with up to 50 % jitter.
        extra_body: Extra JSON fields for every request (e.g. vLLM's ``{"top_k": 20}``).
        seed: Seed of the jitter and of per-request sampling seeds.
    """

    name = "openai"
    supports_logprobs = True  # when the server returns them; see Generation.logprobs

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        endpoint: str = "chat",
        max_concurrency: int = 8,
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        extra_body: dict[str, Any] | None = None,
        seed: int = 0,
    ):
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"expected an http:// or https:// base_url, got {base_url!r}")
        if endpoint not in ("chat", "completions"):
            raise ValueError(f"expected endpoint 'chat' or 'completions', got {endpoint!r}")
        if max_concurrency < 1:
            raise ValueError(f"expected max_concurrency >= 1, got {max_concurrency}")
        if not timeout > 0:
            raise ValueError(f"expected timeout > 0, got {timeout}")
        if max_retries < 0 or backoff < 0:
            raise ValueError("expected max_retries >= 0 and backoff >= 0")
        base = base_url.rstrip("/")
        if base.count("/") <= 2:  # scheme://host[:port] with no path
            base += "/v1"
        self.base_url = base
        self.model = model
        self.api_key = api_key
        self.endpoint = endpoint
        self.max_concurrency = max_concurrency
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.backoff = float(backoff)
        self.extra_body = dict(extra_body or {})
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._pool: ThreadPoolExecutor | None = None
        self._score_unsupported: str | None = None

    # The thread pool is created on first use; it and the locks are not pickled, so the backend
    # can be shipped to another process (a vector-env worker, a Ray actor).
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_pool"] = None
        state["_lock"] = None
        state["_slots"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.max_concurrency)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="openai")
        return self._pool

    def close(self) -> None:
        """Stop the request threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    # ---- transport ------------------------------------------------------------------------
    def _post(self, path: str, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """POST ``body`` to ``path``; return the JSON answer and the attempts it took.

        Raises:
            RequestFailed: When every attempt failed or the server refused the request.
        """
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        url = self.base_url + path
        last = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                with self._lock:
                    jitter = 1 + 0.5 * self._rng.random()
                time.sleep(self.backoff * 2 ** (attempt - 1) * jitter)
            request = urllib.request.Request(url, data=data, headers=headers, method="POST")
            try:
                with self._slots, urllib.request.urlopen(request, timeout=self.timeout) as response:
                    payload = response.read()
            except urllib.error.HTTPError as exc:
                try:
                    detail = exc.read()[:300].decode("utf-8", "replace")
                except (OSError, http.client.HTTPException):
                    detail = ""
                last = f"HTTP {exc.code} from {url}: {detail}"
                if exc.code not in _RETRY_STATUS:
                    raise RequestFailed(last, attempts=attempt + 1) from None
                continue
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                # OSError covers refused connections and timeouts; HTTPException a server that
                # answers with something that is not HTTP, or hangs up in the middle of a body.
                reason = getattr(exc, "reason", exc)
                last = f"{type(reason).__name__} talking to {url}: {reason}"
                continue
            try:
                answer = json.loads(payload)
            except ValueError:
                last = f"invalid JSON from {url}: {payload[:200]!r}"
                continue
            if not isinstance(answer, dict) or not answer.get("choices"):
                last = f"no choices in the answer from {url}: {str(answer)[:200]}"
                continue
            return answer, attempt + 1
        raise RequestFailed(
            f"{last} (after {self.max_retries + 1} attempts)", attempts=self.max_retries + 1
        )

    # ---- generation -----------------------------------------------------------------------
    def _body(self, prompt: Prompt, sampling: SamplingParams, seed: int) -> tuple[str, dict]:
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": sampling.max_new_tokens,
            "temperature": float(sampling.temperature),
            "top_p": float(sampling.top_p),
            "seed": seed,
        }
        if sampling.top_k:
            body["top_k"] = sampling.top_k
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        if self.endpoint == "chat":
            messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
            body["messages"] = [dict(m) for m in messages]
            if sampling.logprobs:
                body["logprobs"] = True
            path = "/chat/completions"
        else:
            body["prompt"] = prompt if isinstance(prompt, str) else render_plain_chat(prompt)
            if sampling.logprobs:
                body["logprobs"] = 1
            path = "/completions"
        body.update(self.extra_body)
        return path, body

    def _one(self, prompt: Prompt, sampling: SamplingParams, seed: int) -> Generation:
        path, body = self._body(prompt, sampling, seed)
        started = time.perf_counter()
        try:
            answer, attempts = self._post(path, body)
        except RequestFailed as exc:
            return Generation.failed(
                str(exc), latency=time.perf_counter() - started, attempts=exc.attempts
            )
        try:
            text, token_logprobs, finish = self._read_choice(answer["choices"][0], sampling)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            # A server that answers 200 with a body of the wrong shape is a failed request too.
            return Generation.failed(
                f"malformed answer from {self.base_url}{path} ({type(exc).__name__}: {exc}): "
                f"{str(answer)[:200]}",
                latency=time.perf_counter() - started,
                attempts=attempts,
            )
        usage = answer.get("usage")
        meta: dict[str, Any] = {
            "latency": time.perf_counter() - started,
            "attempts": attempts,
            "id": answer.get("id"),
            "usage": usage,
        }
        if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
            meta["completion_tokens"] = usage["completion_tokens"]
        return Generation(
            text=text,
            logprobs=token_logprobs,
            prompt_text=body.get("prompt"),
            finish_reason=finish,
            meta=meta,
        )

    def _read_choice(
        self, choice: dict[str, Any], sampling: SamplingParams
    ) -> tuple[str, list[float] | None, str]:
        """Text, per-token log-probs and finish reason of one choice of an answer."""
        if self.endpoint == "chat":
            text = (choice.get("message") or {}).get("content") or ""
            token_logprobs = _chat_logprobs(choice.get("logprobs"))
        else:
            text = choice.get("text") or ""
            token_logprobs = _completion_logprobs(choice.get("logprobs"))
        if not isinstance(text, str):
            raise TypeError(f"expected the completion text to be a str, got {type(text).__name__}")
        finish = "length" if choice.get("finish_reason") == "length" else "stop"
        # SamplingParams.stop keeps the stop string in the text and nothing after it. OpenAI-style
        # servers drop it; those that say which one matched (vLLM, SGLang: ``stop_reason``) get
        # it put back. transformers serve returns whole tokens, so text may run past it: cut.
        matched = choice.get("stop_reason")
        if isinstance(matched, str) and matched in sampling.stop and not text.endswith(matched):
            text += matched
        end = stop_end(text, sampling.stop) if sampling.stop else None
        if end is not None:
            text, finish = text[:end], "stop"
        return text, token_logprobs, finish

    def generate(
        self, prompts: Sequence[Prompt], sampling: SamplingParams | None = None
    ) -> list[Generation]:
        """Send every prompt (concurrently); failures come back as error records."""
        prompts = check_prompts(prompts)
        sampling = sampling or SamplingParams()
        with self._lock:
            base = sampling.seed if sampling.seed is not None else self._rng.randrange(2**31)
        seeds = [(base + i) % 2**31 for i in range(len(prompts))]
        if len(prompts) == 1:
            return [self._one(prompts[0], sampling, seeds[0])]
        jobs = zip(prompts, seeds, strict=True)
        return list(self._executor().map(lambda job: self._one(job[0], sampling, job[1]), jobs))

    # ---- scoring --------------------------------------------------------------------------
    def score(
        self, prompts: Sequence[Prompt], candidates: Sequence[Sequence[str]]
    ) -> list[list[float]]:
        """Candidate log-likelihoods from ``/completions`` with ``echo`` and ``logprobs``.

        Servers that return prompt log-probabilities (vLLM, SGLang, llama.cpp) support this;
        ``transformers serve`` does not, and then :class:`UnsupportedCapability` is raised (and
        raised again at once on later calls, without asking the server). The prompt and the
        candidate are sent as one text, so a chat prompt is flattened with
        :func:`~selfplay_gym.llm.base.render_plain_chat` (the completions endpoint applies no
        chat template).

        Raises:
            UnsupportedCapability: If the server answers without prompt log-probabilities.
            RequestFailed: If a request fails for good, or is answered with a body of the
                wrong shape (scoring has no per-item fallback).
        """
        prompts = check_prompts(prompts)
        candidates = check_candidates(prompts, candidates)
        if self._score_unsupported is not None:
            raise UnsupportedCapability(self._score_unsupported)
        jobs = []
        for i, (p, cands) in enumerate(zip(prompts, candidates, strict=True)):
            text = p if isinstance(p, str) else render_plain_chat(p)
            jobs += [(i, j, text, c) for j, c in enumerate(cands)]
        out = [[0.0] * len(c) for c in candidates]
        if not jobs:
            return out
        # The first request alone: a server that cannot score is found out by one request, not
        # by one per candidate.
        values = [self._score_one(jobs[0][2], jobs[0][3])]
        values += self._executor().map(lambda job: self._score_one(job[2], job[3]), jobs[1:])
        for (i, j, _, _), value in zip(jobs, values, strict=True):
            out[i][j] = value
        return out

    def _score_one(self, prompt: str, candidate: str) -> float:
        body = {
            "model": self.model,
            "prompt": prompt + candidate,
            "max_tokens": 1,
            "temperature": 0.0,
            "echo": True,
            "logprobs": 0,
            **self.extra_body,
        }
        answer, attempts = self._post("/completions", body)
        choice = answer["choices"][0]
        logprobs = (choice.get("logprobs") if isinstance(choice, dict) else None) or {}
        values = logprobs.get("token_logprobs") if isinstance(logprobs, dict) else None
        offsets = logprobs.get("text_offset") if isinstance(logprobs, dict) else None
        if not isinstance(choice, dict) or not isinstance(logprobs, dict):
            # A 200 answer of the wrong shape is a failed request, as in generate().
            raise RequestFailed(
                f"malformed answer from {self.base_url}/completions: {str(answer)[:200]}",
                attempts=attempts,
            )
        if not values or not offsets:
            self._score_unsupported = (
                f"the server at {self.base_url} returns no prompt log-probabilities "
                "(it ignores echo/logprobs on /completions), so it cannot score candidates; "
                "use a vLLM or SGLang server, or the transformers backend"
            )
            raise UnsupportedCapability(self._score_unsupported)
        total = 0.0
        try:
            for value, offset in zip(values, offsets, strict=False):
                if (
                    offset >= len(prompt)
                    and offset < len(prompt) + len(candidate)
                    and value is not None
                ):
                    total += float(value)
        except (TypeError, ValueError) as exc:
            raise RequestFailed(
                f"malformed log-probs from {self.base_url}/completions "
                f"({type(exc).__name__}: {exc}): {str(logprobs)[:200]}",
                attempts=attempts,
            ) from None
        return total


def _chat_logprobs(block: Any) -> list[float] | None:
    """Per-token log-probs from a chat answer's ``logprobs`` block, if the server sent them."""
    if not isinstance(block, dict) or not isinstance(block.get("content"), list):
        return None
    values = [item.get("logprob") for item in block["content"] if isinstance(item, dict)]
    return _as_logprobs(values)


def _completion_logprobs(block: Any) -> list[float] | None:
    """Per-token log-probs from a completions answer's ``logprobs`` block, if sent."""
    if not isinstance(block, dict):
        return None
    return _as_logprobs(block.get("token_logprobs"))


def _as_logprobs(values: Any) -> list[float] | None:
    """``values`` as floats; ``None`` when absent, empty or not all numbers (never garbage)."""
    if not isinstance(values, list) or not values:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return None
    return [float(v) for v in values]
