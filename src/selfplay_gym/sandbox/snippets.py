"""``SnippetRunner``: many short Python snippets in milliseconds each, never on the host.

One long-lived sandboxed Python (the fork server in :mod:`selfplay_gym.sandbox._snippet_server`)
runs inside a :class:`~selfplay_gym.sandbox.Sandbox` of the chosen backend (bwrap by default). Each
snippet is one JSON request over a pipe; the server forks, the child applies the rlimits, starts a
new session, runs ``exec(code)`` in a fresh namespace and ``repr(eval(expr))`` in it, and the
result comes back as JSON. At the timeout the server SIGKILLs the child's group and then every
other process in its pid namespace, so a snippet cannot leave anything behind for the next one.
The host never evaluates snippet text: it only parses the JSON reply.

The server restarts every ``restart_every`` snippets, after it dies, or when it stops answering
(host-side deadline: the snippet's timeout plus a margin).

Hash randomisation: the server starts with ``python -I`` (so ``PYTHONHASHSEED`` is ignored and
string hashing is randomised per server start). Forked children share their server's hash secret,
so two runs of one snippet on the same server iterate sets of strings in the same order. To check
determinism across *separate* interpreters, run once, call :meth:`SnippetRunner.restart`, and run
again (or use two runners).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from .core import Sandbox, _Process
from .limits import Limits

_SERVER_SOURCE_PATH = Path(__file__).with_name("_snippet_server.py")
_REPLY_MARGIN_S = 5.0
"""Extra seconds the host waits for a reply beyond the snippet's own timeout."""
_START_TIMEOUT_S = 30.0
_MAX_CODE_CHARS = 1 << 20
DEFAULT_SNIPPET_LIMITS = Limits(timeout_s=5.0, memory_bytes=512 << 20)
"""The limits a :class:`SnippetRunner` gets when none are given."""


@dataclass(frozen=True)
class SnippetResult:
    """What one snippet produced."""

    ok: bool
    """The code (and ``expr``) ran to completion without an exception."""
    value: str | None
    """``repr()`` of ``expr``'s value when given and the run was ok."""
    stdout: str
    """What the snippet printed (stdout and stderr together), capped at ``Limits.output_bytes``."""
    error: str | None
    """``"Timeout"``, or the exception's last traceback line (``"ZeroDivisionError: division by
    zero"``), or ``"Killed: SIGKILL ..."`` / ``"SandboxError: ..."`` when no result came back."""
    duration_s: float
    """Round-trip wall-clock seconds seen by the host."""


class SnippetRunner:
    r"""A fork server in one long-lived sandbox; thread-safe; a context manager; picklable.

    Args:
        backend: the :class:`~selfplay_gym.sandbox.Sandbox` backend of the server (``"auto"``:
            bwrap, else unshare; ``"unsafe"`` only by name).
        limits: per-snippet limits (``timeout_s``, ``memory_bytes``, ``file_bytes``,
            ``open_files``, ``output_bytes``); ``processes`` and ``tmp_bytes`` bound the whole
            server sandbox.
        restart_every: start a fresh server after this many snippets.

    The server starts on the first :meth:`run`, not on construction, so environments holding a
    runner stay cheap to build and to pickle (a pickled runner arrives without a server).

    Example:
        >>> with SnippetRunner() as runner:                       # doctest: +SKIP
        ...     runner.run("def f(x):\n    return x * 2", "f(21)").value
        '42'
    """

    def __init__(
        self,
        backend: str = "auto",
        limits: Limits = DEFAULT_SNIPPET_LIMITS,
        *,
        restart_every: int = 1000,
    ) -> None:
        if not isinstance(limits, Limits):
            raise TypeError(f"limits: expected a Limits, got {type(limits).__name__}")
        if (
            isinstance(restart_every, bool)
            or not isinstance(restart_every, int)
            or restart_every < 1
        ):
            raise ValueError(f"restart_every: expected an int >= 1, got {restart_every!r}")
        # The server's own rlimits: long-lived, so no CPU cap tied to one snippet's timeout.
        server_limits = replace(limits, cpu_s=max(3600, limits.effective_cpu_s))
        self._sandbox = Sandbox(backend, server_limits)
        self.backend: str = self._sandbox.backend
        self.limits: Limits = limits
        self.restart_every = restart_every
        self._lock = threading.Lock()
        self._server: _Process | None = None
        self._workdir: str | None = None
        self._buffer = b""
        self._served = 0
        self.restarts = 0
        """How many servers this runner has started."""

    # ------------------------------------------------------------------ lifecycle
    def __getstate__(self) -> dict:
        return {
            "backend": self.backend,
            "limits": self.limits,
            "restart_every": self.restart_every,
        }

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["backend"], state["limits"], restart_every=state["restart_every"])

    def __enter__(self) -> SnippetRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self._stop()

    def close(self) -> None:
        """Stop the server (killing its sandbox) and delete its scratch directory."""
        with self._lock:
            self._stop()

    def restart(self) -> None:
        """Replace the server with a fresh one (a new interpreter, a new hash secret)."""
        with self._lock:
            self._stop()
            self._start()

    def _stop(self) -> None:
        if self._server is not None:
            self._server.kill()
            self._server = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        self._buffer = b""

    def _start(self) -> None:
        self._workdir = tempfile.mkdtemp(prefix="selfplay-snippets-")
        os.chmod(self._workdir, 0o755)
        limits = self.limits
        cfg = {
            "timeout": limits.timeout_s,
            "memory_bytes": limits.memory_bytes,
            "file_bytes": limits.file_bytes,
            "open_files": limits.open_files,
            "output_bytes": limits.output_bytes,
            "value_chars": limits.output_bytes,
            "sweep": self.backend in ("bwrap", "unshare"),
        }
        source = _SERVER_SOURCE_PATH.read_text(encoding="utf-8")
        self._server = self._sandbox._spawn(
            ["python", "-I", "-c", source, json.dumps(cfg)], workdir=self._workdir
        )
        self._served = 0
        self.restarts += 1
        line = self._read_line(time.monotonic() + _START_TIMEOUT_S)
        if line is None or json.loads(line).get("ready") is not True:
            self._stop()
            raise RuntimeError(f"the snippet server did not start under {self.backend}")

    # ------------------------------------------------------------------ I/O
    def _read_line(self, deadline: float) -> bytes | None:
        assert self._server is not None and self._server.proc.stdout is not None
        fd = self._server.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def run(
        self, code: str, expr: str | None = None, *, timeout_s: float | None = None
    ) -> SnippetResult:
        """Run ``code`` in a fresh namespace of a forked, sandboxed child; then ``repr(eval(expr))``.

        Args:
            code: Python source executed with ``exec``.
            expr: an expression evaluated in the namespace ``code`` left (inside the sandbox).
            timeout_s: wall-clock limit for this snippet (default ``limits.timeout_s``).

        Returns:
            A :class:`SnippetResult`; a snippet that raises, times out or is killed has
            ``ok=False`` and says why in ``error``.
        """
        if not isinstance(code, str):
            raise TypeError(f"code: expected a str, got {type(code).__name__}")
        if expr is not None and not isinstance(expr, str):
            raise TypeError(f"expr: expected a str or None, got {type(expr).__name__}")
        timeout = self.limits.timeout_s if timeout_s is None else float(timeout_s)
        if not timeout > 0:
            raise ValueError(f"timeout_s: expected > 0, got {timeout_s!r}")
        if len(code) + len(expr or "") > _MAX_CODE_CHARS:
            return SnippetResult(
                False, None, "", f"SnippetTooLong: over {_MAX_CODE_CHARS} chars", 0.0
            )
        request = (json.dumps({"code": code, "expr": expr, "timeout": timeout}) + "\n").encode()
        with self._lock:
            start = time.monotonic()
            if (
                self._server is None
                or self._server.proc.poll() is not None
                or (self._served >= self.restart_every)
            ):
                self._stop()
                self._start()
            assert self._server is not None and self._server.proc.stdin is not None
            self._served += 1
            try:
                self._server.proc.stdin.write(request)
                self._server.proc.stdin.flush()
                line = self._read_line(time.monotonic() + timeout + _REPLY_MARGIN_S)
            except OSError as exc:
                line = None
                problem = f"SandboxError: {exc}"
            else:
                problem = "SandboxError: the snippet server stopped answering"
            duration = time.monotonic() - start
            if line is None:
                self._stop()  # the next run starts a fresh server
                return SnippetResult(False, None, "", problem, duration)
        reply = json.loads(line)
        return SnippetResult(
            ok=bool(reply.get("ok")),
            value=reply.get("value"),
            stdout=reply.get("stdout") or "",
            error=reply.get("error"),
            duration_s=duration,
        )
