"""Launch sandbox runs from resident zygotes already inside their pids cgroup (fast path).

Writing a pid into a cgroup v1 ``cgroup.procs`` waits for an RCU grace period: measured here at
5 ms on a quiet host and 15-20 ms under load, on every run. A process forked by a member of the
cgroup is born inside it at no cost. So, per concurrent run slot, this module keeps one leaf
cgroup holding one tiny resident Python (:mod:`selfplay_gym.sandbox._zygote`, ~10 MB) that forks
each run's launcher (``bwrap ...``). As a bonus the harness, which may be a large process, no
longer forks itself for every run (a ``preexec_fn`` forbids ``vfork``).

A slot's cgroup is reused from run to run: after a run the harness kills every member except the
zygote, and ``pids.max`` is rewritten per run as ``Limits.processes + 1`` (the zygote is one of
them). Zygotes die with the harness (``PR_SET_PDEATHSIG``); the launcher's ``--die-with-parent``
then tears the sandbox down. If a zygote cannot start, callers fall back to a direct launch.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from .cgroups import PidsCgroup, PidsHierarchy

_SOURCE_PATH = Path(__file__).with_name("_zygote.py")
_START_TIMEOUT_S = 20.0


class ZygoteError(RuntimeError):
    """The zygote could not start or stopped answering."""


class Zygote:
    """One resident launcher in its own leaf cgroup."""

    def __init__(self, hierarchy: PidsHierarchy) -> None:
        self.cgroup = PidsCgroup(hierarchy, 64)
        parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        procs = self.cgroup.procs_file

        def join() -> None:
            fd = os.open(procs, os.O_WRONLY)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)

        try:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-I",
                    "-S",
                    "-c",
                    _SOURCE_PATH.read_text(),
                    str(os.getpid()),
                    str(child_sock.fileno()),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=join,
                pass_fds=(child_sock.fileno(),),
                start_new_session=True,
                env={},
            )
        except BaseException:
            parent_sock.close()
            self.cgroup.remove()
            raise
        finally:
            child_sock.close()
        self.sock = parent_sock
        reply = self._receive(time.monotonic() + _START_TIMEOUT_S)
        if reply is None or reply.get("ready") is not True:
            self.close()
            raise ZygoteError("the sandbox zygote did not start")

    def _receive(self, deadline: float) -> dict | None:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.sock], [], [], left)
            if ready:
                try:
                    data = self.sock.recv(1 << 16)
                except OSError:
                    return None
                return json.loads(data) if data else None

    def alive(self) -> bool:
        """The zygote process is still running."""
        return self.proc.poll() is None

    def spawn(
        self,
        argv: Sequence[str],
        env: dict[str, str],
        cwd: str,
        rlimits: Sequence[tuple[int, int]],
        processes: int,
        *,
        stdin: bool,
    ) -> ZygoteChild:
        """Fork ``argv`` from the zygote with fresh pipes; returns a Popen-like handle."""
        with open(os.path.join(self.cgroup.path, "pids.max"), "w") as fh:
            fh.write(str(processes + 1))
        in_r, in_w = os.pipe() if stdin else (os.open(os.devnull, os.O_RDONLY), -1)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        request = json.dumps(
            {"argv": list(argv), "env": env, "cwd": cwd, "rlimits": [list(p) for p in rlimits]}
        ).encode()
        try:
            socket.send_fds(self.sock, [request], [in_r, out_w, err_w])
        except OSError as exc:
            for fd in (in_r, in_w, out_r, out_w, err_r, err_w):
                if fd >= 0:
                    os.close(fd)
            raise ZygoteError(f"the sandbox zygote is gone: {exc}") from exc
        for fd in (in_r, out_w, err_w):
            os.close(fd)
        reply = self._receive(time.monotonic() + _START_TIMEOUT_S)
        if reply is None or "pid" not in reply:
            for fd in (in_w, out_r, err_r):
                if fd >= 0:
                    os.close(fd)
            raise ZygoteError("the sandbox zygote did not fork")
        return ZygoteChild(self, reply["pid"], in_w, out_r, err_r)

    def reset(self) -> bool:
        """Kill every cgroup member but the zygote; ``True`` when only the zygote is left."""
        me = self.proc.pid
        deadline = time.monotonic() + 5.0
        while True:
            others = [p for p in self.cgroup.pids() if p != me]
            if not others:
                return self.alive()
            for pid in others:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            if time.monotonic() > deadline:
                return False
            time.sleep(0.002)

    def close(self) -> None:
        """Kill the zygote and everything in its cgroup, and remove the cgroup."""
        with contextlib.suppress(OSError):
            self.sock.close()
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self.cgroup.remove()


class ZygoteChild:
    """The part of ``subprocess.Popen`` that the run loop uses, for a zygote's child."""

    def __init__(self, zygote: Zygote, pid: int, in_w: int, out_r: int, err_r: int) -> None:
        self.zygote = zygote
        self.pid = pid
        self.returncode: int | None = None
        self.stdin = os.fdopen(in_w, "wb", buffering=0) if in_w >= 0 else None
        self.stdout = os.fdopen(out_r, "rb", buffering=0)
        self.stderr = os.fdopen(err_r, "rb", buffering=0)
        self._lost = False

    def _collect(self, timeout: float) -> None:
        if self.returncode is not None:
            return
        sock = self.zygote.sock
        try:
            ready, _, _ = select.select([sock], [], [], max(0.0, timeout))
        except (OSError, ValueError):
            ready = []
            self._lost = True
        if not ready:
            if self._lost or not self.zygote.alive():
                self.returncode = -int(signal.SIGKILL)
            return
        try:
            data = sock.recv(1 << 16)
        except OSError:
            data = b""
        if not data:  # the zygote died, and the launcher with it (--die-with-parent)
            self._lost = True
            self.returncode = -int(signal.SIGKILL)
            return
        reply = json.loads(data)
        if "status" in reply:
            self.returncode = int(reply["status"])

    def poll(self) -> int | None:
        """The exit status if the child has ended, else ``None`` (never blocks)."""
        self._collect(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the exit status (``subprocess.TimeoutExpired`` after ``timeout``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            left = 1.0 if deadline is None else deadline - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            self._collect(min(left, 1.0))
        return self.returncode

    def kill(self) -> None:
        """SIGKILL the child (the launcher)."""
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)


class ZygotePool:
    """Idle zygotes per hierarchy, shared by every :class:`Sandbox` of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[Zygote] = []
        self._all: list[Zygote] = []
        self._owner = os.getpid()
        self.broken = False
        atexit.register(self.close_all)

    def acquire(self, hierarchy: PidsHierarchy) -> Zygote | None:
        """An idle zygote (started if needed), or ``None`` when zygotes do not work here."""
        with self._lock:
            if os.getpid() != self._owner:  # a forked copy of the harness: start afresh
                self._idle, self._all, self._owner = [], [], os.getpid()
            if self.broken:
                return None
            while self._idle:
                zygote = self._idle.pop()
                if zygote.alive() and zygote.cgroup.hierarchy == hierarchy:
                    return zygote
                self._all.remove(zygote)
                zygote.close()
        try:
            zygote = Zygote(hierarchy)
        except (OSError, ZygoteError):
            self.broken = True
            return None
        with self._lock:
            self._all.append(zygote)
        return zygote

    def release(self, zygote: Zygote) -> None:
        """Return a zygote after its run: reused if clean, else closed."""
        clean = zygote.reset()
        with self._lock:
            if clean and os.getpid() == self._owner:
                self._idle.append(zygote)
                return
            if zygote in self._all:
                self._all.remove(zygote)
        zygote.close()

    def close_all(self) -> None:
        """Stop every zygote of this process (registered with ``atexit``)."""
        with self._lock:
            zygotes, self._idle, self._all = list(self._all), [], []
            mine = os.getpid() == self._owner
        if mine:
            for zygote in zygotes:
                zygote.close()


pool = ZygotePool()
"""The process-wide zygote pool."""
