"""Fixtures of the language-model tests: one tiny model, one real HTTP server, every backend.

* ``tiny_model_path`` -- :func:`selfplay_gym.llm.tiny.build_tiny_model`, built once per session.
* ``tiny_text_policy`` -- a factory of :class:`~selfplay_gym.llm.LLMPolicy` on that model (plain
  text, no chat template), for the rollout-engine smoke tests (see rollout_checks.py).
* ``tiny_server`` -- ``transformers serve`` on that model: a real OpenAI-compatible server on a
  free local port, in its own process group, killed (group and all) at the end of the session.
* ``backend`` -- the shared behaviour suite's parameter: the transformers backend, the HTTP
  backend against ``tiny_server`` (chat and completions endpoints) and the vLLM backend, which
  is skipped, with the reason, where vLLM or a CUDA GPU is missing.
* ``fake_server`` -- a scripted local HTTP server for the HTTP backend's failure handling.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_openai_server import FakeServer

os.environ.setdefault("OMP_NUM_THREADS", "1")

SERVER_START_TIMEOUT = 90.0
"""Seconds ``transformers serve`` gets to answer ``GET /health``."""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    torch.set_num_threads(1)
    from selfplay_gym.llm.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("llm") / "tiny")


@pytest.fixture
def tiny_text_policy(tiny_model_path: Path) -> Iterator[Callable[..., Any]]:
    """``make(max_new_tokens=12, stop=(), name="tiny")``: a plain-text policy on the tiny model.

    Each call loads its own :class:`TransformersBackend`, closed when the test ends.
    """
    from selfplay_gym.llm import LLMPolicy, SamplingParams
    from selfplay_gym.llm.transformers_backend import TransformersBackend

    backends: list[TransformersBackend] = []

    def make(max_new_tokens: int = 12, stop: tuple[str, ...] = (), name: str = "tiny"):
        backend = TransformersBackend(str(tiny_model_path))
        backends.append(backend)
        sampling = SamplingParams(max_new_tokens=max_new_tokens, stop=tuple(stop), seed=None)
        return LLMPolicy(backend, sampling=sampling, chat=False, name=name)

    yield make
    for backend in backends:
        backend.close()


def _serve_command(model: Path, port: int) -> list[str]:
    script = Path(sys.executable).parent / "transformers"
    args = ["serve", str(model), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
    if script.exists():
        return [str(script), *args]
    found = shutil.which("transformers")
    if found:
        return [found, *args]
    return [sys.executable, "-m", "transformers.cli.transformers", *args]


class ServedModel:
    """A running ``transformers serve`` process and its base URL."""

    def __init__(self, model: Path, home: Path):
        missing = [m for m in ("fastapi", "uvicorn") if _missing(m)]
        if missing:
            pytest.skip(
                f"transformers serve needs {', '.join(missing)}: pip install 'selfplay-gym[serve]'"
            )
        port = free_port()
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "HF_HOME": str(home / "hf"),
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
        self.log_path = home / "serve.log"
        self._log = open(self.log_path, "wb")  # closed by stop(), after the server
        self.process = subprocess.Popen(
            _serve_command(model, port),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=home,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(self.url, self.process, self.log_path)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Kill the server's whole process group (idempotent)."""
        _kill_group(self.process)
        self._log.close()


@pytest.fixture(scope="session")
def tiny_server(tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of ``transformers serve`` serving the tiny model (one per session)."""
    served = ServedModel(tiny_model_path, tmp_path_factory.mktemp("serve"))
    try:
        yield served.url
    finally:
        served.stop()


@pytest.fixture
def killable_server(tiny_model_path: Path, tmp_path: Path) -> Iterator[ServedModel]:
    """A server of this test's own, which the test may kill (stopped at teardown regardless)."""
    served = ServedModel(tiny_model_path, tmp_path)
    try:
        yield served
    finally:
        served.stop()


def _missing(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is None


def _wait_healthy(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    code = process.poll()
    status = f"exited with code {code}" if code is not None else "did not get ready"
    log = log_path.read_text(errors="replace")[-4000:]
    raise RuntimeError(
        f"transformers serve {status}: no healthy answer at {url}/health within "
        f"{SERVER_START_TIMEOUT:.0f} s. Its log:\n{log}"
    )


def _kill_group(process: subprocess.Popen) -> None:
    """Stop the server and every process it started (it leads its own process group)."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


# ---- the backends of the shared suite --------------------------------------------------------


def vllm_skip_reason() -> str | None:
    """Why the vLLM backend cannot run here, or ``None`` if it can."""
    try:
        import vllm  # noqa: F401
    except Exception as exc:  # ImportError, or a broken install raising anything
        return f"vLLM backend skipped: vllm does not import ({type(exc).__name__}: {exc})"
    import torch

    if not torch.cuda.is_available():
        return "vLLM backend skipped: no CUDA GPU (torch.cuda.is_available() is False)"
    return None


BACKENDS = ("transformers", "http", "http-completions", "vllm")


@pytest.fixture(scope="session")
def transformers_backend(tiny_model_path: Path):
    from selfplay_gym.llm.transformers_backend import TransformersBackend

    backend = TransformersBackend(tiny_model_path, device="cpu", threads=1, seed=0)
    yield backend
    backend.close()


def make_http_backend(url: str, model: Path, endpoint: str = "chat", **kwargs: Any):
    from selfplay_gym.llm.http_backend import OpenAIBackend

    options = {"timeout": 60.0, "max_retries": 1, "backoff": 0.05, "max_concurrency": 4}
    return OpenAIBackend(url, model=str(model), endpoint=endpoint, **{**options, **kwargs})


@pytest.fixture(scope="session")
def http_backend(tiny_server: str, tiny_model_path: Path):
    backend = make_http_backend(tiny_server, tiny_model_path)
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def http_completions_backend(tiny_server: str, tiny_model_path: Path):
    backend = make_http_backend(tiny_server, tiny_model_path, endpoint="completions")
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def vllm_backend(tiny_model_path: Path):
    reason = vllm_skip_reason()
    if reason:
        pytest.skip(reason)
    from selfplay_gym.llm.vllm_backend import VLLMBackend

    backend = VLLMBackend(str(tiny_model_path), gpu_memory_utilization=0.3, enforce_eager=True)
    yield backend
    backend.close()


_FIXTURE_OF = {
    "transformers": "transformers_backend",
    "http": "http_backend",
    "http-completions": "http_completions_backend",
    "vllm": "vllm_backend",
}


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest):
    """Each backend in turn, all serving the same tiny model."""
    return request.getfixturevalue(_FIXTURE_OF[request.param])


# ---- a scripted HTTP server -------------------------------------------------------------------


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    """A scripted OpenAI-style server on a free local port (see fake_openai_server.py)."""
    with FakeServer.running() as fake:
        yield fake


@pytest.fixture
def dead_url() -> str:
    """A URL where nothing listens: a port bound, then released."""
    return f"http://127.0.0.1:{free_port()}/v1"
