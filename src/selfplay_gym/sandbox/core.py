"""``Sandbox``: run a command over a directory in isolation, with limits and a hard timeout.

Three backends, chosen by name (``"auto"`` picks the first usable of bwrap, unshare):

* ``"bwrap"`` (:mod:`selfplay_gym.sandbox.bwrap`): the primary one;
* ``"unshare"`` (:mod:`selfplay_gym.sandbox.unshare`): namespaces + a minimal chroot, no caps;
* ``"unsafe"``: no isolation at all beyond rlimits, a new session, a scrubbed environment, the
  pids cgroup when one is writable, and a kill of the process group (and cgroup) on timeout. It
  is never chosen by ``"auto"``; asking for it by name emits :class:`UnsafeSandboxWarning`. The
  command runs with the host directory itself as cwd (not ``/work``) and sees the host
  filesystem and network.

Every backend applies ``Limits`` through ``setrlimit`` on the launcher just before ``exec`` and,
when the host has a writable pids hierarchy (v1 or v2), a per-run pids cgroup (the launcher is
forked there by a resident zygote, :mod:`selfplay_gym.sandbox.zygotes`, or joins it from a
``preexec_fn`` when zygotes are unavailable); otherwise, as root with bwrap, a per-slot
unprivileged uid and ``RLIMIT_NPROC``. On timeout the launcher's process group and every member of
the run's cgroup are SIGKILLed, and for bwrap/unshare the death of the launcher also tears down
the pid namespace (``--die-with-parent``, ``--kill-child``). Output pipes are read with a byte cap
while the command runs; ``stdin`` is written concurrently.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from . import bwrap as _bwrap
from . import unshare as _unshare
from .cgroups import PidsCgroup, pids_hierarchy
from .layout import FIXED_ENV, WORK, build_layout, check_ro_binds, sandbox_env
from .limits import ExecResult, Limits, SandboxUnavailable, rlimit_pairs, rlimit_setter
from .zygotes import Zygote, ZygoteChild, ZygoteError
from .zygotes import pool as _zygote_pool

BACKENDS = ("bwrap", "unshare", "unsafe")
"""Every backend name, in preference order."""
DEFAULT_LIMITS = Limits()
"""The limits a :class:`Sandbox` gets when none are given."""
_KILL_GRACE_S = 0.2
"""After the launcher exits, how long to wait for the output pipes to close before killing."""
_UID_BASE = 60000
"""First uid of the per-slot uids used when root has no pids cgroup (bwrap only)."""


class UnsafeSandboxWarning(UserWarning):
    """Emitted when the ``unsafe`` backend (no isolation) is constructed."""


def backend_problem(name: str) -> str | None:
    """Why backend ``name`` cannot run here, or ``None`` when it can."""
    if name == "bwrap":
        return _bwrap.bwrap_problem()
    if name == "unshare":
        return _unshare.unshare_problem()
    if name == "unsafe":
        return None
    raise ValueError(f"backend: expected one of {['auto', *BACKENDS]}, got {name!r}")


def available_backends() -> list[str]:
    """The backends usable on this host, in preference order (``"unsafe"`` always last)."""
    return [name for name in BACKENDS if backend_problem(name) is None]


class _UidSlots:
    """Per-run unprivileged uids (``60000 + slot``) for root hosts without a pids cgroup.

    ``RLIMIT_NPROC`` counts every process of a uid on the host, so two concurrent runs must not
    share one. A slot is held with an exclusive ``flock`` on a file in a root-only directory, so
    slots stay distinct across harness processes too (the lock dies with its holder).
    """

    def __init__(self, count: int = 1000) -> None:
        self._lock = threading.Lock()
        self._count = count
        self._held: dict[int, int] = {}
        self._dir: str | None = None

    def _directory(self) -> str:
        if self._dir is None:
            base = "/run/lock" if os.access("/run/lock", os.W_OK) else tempfile.gettempdir()
            path = os.path.join(base, "selfplay-sandbox-uids")
            os.makedirs(path, mode=0o700, exist_ok=True)
            self._dir = path
        return self._dir

    def take(self) -> int:
        with self._lock:
            directory = self._directory()
            for slot in range(self._count):
                if slot in self._held:
                    continue
                fd = os.open(os.path.join(directory, str(slot)), os.O_CREAT | os.O_RDWR, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    os.close(fd)
                    continue
                self._held[slot] = fd
                return _UID_BASE + slot
        raise SandboxUnavailable(f"all {self._count} sandbox uid slots are in use")

    def give(self, uid: int) -> None:
        with self._lock:
            fd = self._held.pop(uid - _UID_BASE, None)
            if fd is not None:
                os.close(fd)  # releases the flock


_uid_slots = _UidSlots()


@dataclass
class _Launch:
    argv: list[str]
    popen_env: dict[str, str]
    cwd: str
    preexec: Callable[[], None]
    cgroup: PidsCgroup | None
    cleanup: Callable[[], None]
    zygote: Zygote | None = None
    rlimits: list[tuple[int, int]] | None = None
    processes: int = 0


def _chown_tree(root: str, uid: int) -> None:
    os.lchown(root, uid, uid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            with contextlib.suppress(OSError):
                os.lchown(os.path.join(dirpath, name), uid, uid)


class Sandbox:
    r"""Runs commands over a directory in isolation (see the module docstring for the backends).

    Args:
        backend: ``"auto"`` (bwrap, else unshare; never unsafe), ``"bwrap"``, ``"unshare"`` or
            ``"unsafe"``. An unusable backend raises :class:`SandboxUnavailable` saying why.
        limits: resource limits of every run (``run``'s ``timeout_s`` overrides the wall clock).
        network: give the sandbox the host's network (default: none, only its own ``lo``).

    Example:
        >>> sb = Sandbox()                                     # doctest: +SKIP
        >>> sb.run("echo hi > out.txt && cat out.txt", workdir="/tmp/episode").stdout  # doctest: +SKIP
        'hi\n'
    """

    def __init__(
        self, backend: str = "auto", limits: Limits = DEFAULT_LIMITS, *, network: bool = False
    ) -> None:
        if not isinstance(limits, Limits):
            raise TypeError(f"limits: expected a Limits, got {type(limits).__name__}")
        if backend == "auto":
            problems = {}
            for name in ("bwrap", "unshare"):
                problems[name] = backend_problem(name)
                if problems[name] is None:
                    backend = name
                    break
            else:
                detail = "; ".join(f"{k}: {v}" for k, v in problems.items())
                raise SandboxUnavailable(
                    f"no isolating sandbox backend works here ({detail}); install bubblewrap, or "
                    "pass backend='unsafe' explicitly to run without isolation"
                )
        else:
            problem = backend_problem(backend)
            if problem is not None:
                raise SandboxUnavailable(
                    f"sandbox backend {backend!r} is unavailable: {problem}; "
                    f"usable here: {available_backends()}"
                )
        if backend == "unsafe":
            warnings.warn(
                "Sandbox(backend='unsafe') applies only rlimits, a new session and a scrubbed "
                "environment: the command can read the host filesystem, use the network and "
                "leave processes behind when no pids cgroup is writable",
                UnsafeSandboxWarning,
                stacklevel=2,
            )
        self.backend: str = backend
        self.limits: Limits = limits
        self.network: bool = bool(network)
        self._layout = build_layout(network=self.network) if backend != "unsafe" else None

    # ------------------------------------------------------------------ description
    def process_limit_mode(self) -> str:
        """How ``Limits.processes`` is enforced here.

        One of ``"cgroup-v1"``, ``"cgroup-v2"``, ``"uid"`` (per-slot unprivileged uid + ``RLIMIT_NPROC``; bwrap as root without cgroups), ``"nproc"``
        (``RLIMIT_NPROC`` of a non-root user), or ``"none"``.
        """
        hierarchy = pids_hierarchy()
        if hierarchy is not None:
            return f"cgroup-v{hierarchy.version}"
        if os.geteuid() != 0:
            return "nproc"
        if self.backend == "bwrap":
            return "uid"
        return "none"

    def describe(self) -> dict:
        """``{"backend", "limits", "network", "process_limit", "bwrap_version"?}``."""
        out = {
            "backend": self.backend,
            "limits": self.limits.as_dict(),
            "network": self.network,
            "process_limit": self.process_limit_mode(),
        }
        if self.backend == "bwrap":
            out["bwrap_version"] = _bwrap.bwrap_version()
        if self._layout is not None:
            out["venv"] = self._layout.venv
        return out

    def __repr__(self) -> str:
        return f"Sandbox(backend={self.backend!r}, network={self.network})"

    # ------------------------------------------------------------------ launching
    def _prepare(
        self,
        cmd: str | Sequence[str],
        *,
        workdir: str | os.PathLike,
        limits: Limits,
        env: Mapping[str, str] | None,
        ro_binds: Sequence[str | os.PathLike],
        use_zygote: bool = False,
    ) -> _Launch:
        if isinstance(cmd, str):
            command = ["/bin/sh", "-c", cmd]
        else:
            command = [os.fspath(c) for c in cmd]
            if not command:
                raise ValueError("cmd: expected a non-empty command, got []")
        host_dir = os.path.abspath(os.fspath(workdir))
        if not os.path.isdir(host_dir):
            raise ValueError(f"workdir: expected an existing directory, got {host_dir!r}")
        binds = check_ro_binds(ro_binds)
        mode = self.process_limit_mode()
        cgroup = None
        zygote = None
        hierarchy = pids_hierarchy()
        cleanups: list[Callable[[], None]] = []
        if hierarchy is not None and use_zygote:
            zygote = _zygote_pool.acquire(hierarchy)
            if zygote is not None:
                cleanups.append(lambda: _zygote_pool.release(zygote))
        if hierarchy is not None and zygote is None:
            cgroup = PidsCgroup(hierarchy, limits.processes)
            cleanups.append(cgroup.remove)

        def cleanup() -> None:
            for fn in reversed(cleanups):
                fn()

        try:
            preexec = rlimit_setter(
                limits, cgroup_procs=cgroup.procs_file if cgroup is not None else None
            )
            fast = {
                "zygote": zygote,
                "rlimits": rlimit_pairs(limits),
                "processes": limits.processes,
            }
            if self.backend == "unsafe":
                path = [os.path.join(sys.prefix, "bin"), os.path.join(sys.base_prefix, "bin")]
                path += ["/usr/local/bin", "/usr/bin", "/bin"]
                inner_env = {"PATH": ":".join(dict.fromkeys(path)), **FIXED_ENV}
                inner_env["HOME"] = host_dir
                inner_env.update(sandbox_env_extra(env))
                return _Launch(command, inner_env, host_dir, preexec, cgroup, cleanup, **fast)
            assert self._layout is not None
            inner_env = sandbox_env(self._layout, env)
            if self.backend == "bwrap":
                keep_setuid = mode == "uid"
                if keep_setuid:
                    uid = _uid_slots.take()
                    cleanups.append(lambda: _uid_slots.give(uid))
                    _chown_tree(host_dir, uid)
                    preexec = _with_nproc(preexec, limits.processes)
                    command = [*_bwrap.setpriv_prefix(uid), *command]
                elif mode == "nproc":
                    preexec = _with_nproc(preexec, limits.processes)
                argv = _bwrap.bwrap_argv(
                    self._layout,
                    workdir=host_dir,
                    tmp_bytes=limits.tmp_bytes,
                    env=inner_env,
                    ro_binds=binds,
                    network=self.network,
                    command=command,
                    keep_setuid=keep_setuid,
                )
                return _Launch(argv, {}, host_dir, preexec, cgroup, cleanup, **fast)
            argv = _unshare.unshare_argv(
                self._layout,
                workdir=host_dir,
                tmp_bytes=limits.tmp_bytes,
                env=inner_env,
                ro_binds=binds,
                network=self.network,
                command=command,
            )
            popen_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
            return _Launch(argv, popen_env, host_dir, preexec, cgroup, cleanup, **fast)
        except BaseException:
            cleanup()
            raise

    def _effective_limits(self, timeout_s: float | None) -> Limits:
        if timeout_s is None:
            return self.limits
        # Re-validates timeout_s; cpu_s follows the new timeout unless it was set explicitly.
        fields = self.limits.as_dict()
        fields["timeout_s"] = timeout_s
        return Limits(**fields)

    # ------------------------------------------------------------------ running
    def run(
        self,
        cmd: str | Sequence[str],
        *,
        workdir: str | os.PathLike,
        timeout_s: float | None = None,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
        ro_binds: Sequence[str | os.PathLike] = (),
    ) -> ExecResult:
        """Run ``cmd`` with ``workdir`` mounted read-write at ``/work`` (the cwd).

        A ``str`` runs under ``/bin/sh -c``; a sequence is executed as is (looked up on the
        sandbox's ``PATH``, whose first entry is the virtualenv's ``bin``). Inside: ``HOME=/tmp``,
        ``PYTHONHASHSEED=0``, ``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1``, ``TZ=UTC``, ``LANG=C.UTF-8``,
        ``PATH`` and whatever ``env`` adds; nothing else of the host's environment. ``ro_binds``
        are host paths made visible read-only at the same path (not under ``/work``).

        Returns:
            An :class:`ExecResult`; ``returncode`` is ``None`` when the timeout killed the run.
        """
        limits = self._effective_limits(timeout_s)
        launch = self._prepare(
            cmd, workdir=workdir, limits=limits, env=env, ro_binds=ro_binds, use_zygote=True
        )
        try:
            return _execute(launch, limits, stdin, self.backend)
        finally:
            launch.cleanup()

    def _spawn(
        self,
        cmd: Sequence[str],
        *,
        workdir: str | os.PathLike,
        env: Mapping[str, str] | None = None,
        limits: Limits | None = None,
    ) -> _Process:
        """Start a long-lived sandboxed process with pipes on stdin/stdout (no timeout).

        Used by :class:`~selfplay_gym.sandbox.snippets.SnippetRunner` for its fork server;
        ``limits.timeout_s`` only sets the default ``RLIMIT_CPU``, so pass ``cpu_s`` explicitly.
        """
        limits = limits or self.limits
        launch = self._prepare(cmd, workdir=workdir, limits=limits, env=env, ro_binds=())
        try:
            proc = subprocess.Popen(
                launch.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                cwd=launch.cwd,
                env=launch.popen_env,
                preexec_fn=launch.preexec,
                start_new_session=True,
                close_fds=True,
            )
        except BaseException:
            launch.cleanup()
            raise
        return _Process(proc, launch)


def sandbox_env_extra(env: Mapping[str, str] | None) -> dict[str, str]:
    """Validated copy of a caller's extra environment (names without ``=``, no NUL)."""
    out: dict[str, str] = {}
    for key, value in (env or {}).items():
        if not isinstance(key, str) or not key or "=" in key or "\0" in key:
            raise ValueError(f"env: expected variable names without '=' or NUL, got {key!r}")
        if not isinstance(value, str) or "\0" in value:
            raise ValueError(f"env[{key!r}]: expected a str without NUL, got {value!r}")
        out[key] = value
    return out


def _with_nproc(preexec: Callable[[], None], processes: int) -> Callable[[], None]:
    import resource

    def apply() -> None:
        preexec()
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))

    return apply


class _Process:
    """A long-lived sandboxed process and the means to kill its whole tree."""

    def __init__(self, proc: subprocess.Popen, launch: _Launch) -> None:
        self.proc = proc
        self._launch = launch
        self._closed = False

    def kill(self) -> None:
        """Kill the tree (idempotent), reap the launcher and remove the cgroup."""
        if self._closed:
            return
        self._closed = True
        _kill_tree(self.proc, self._launch)
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self._launch.cleanup()


def _kill_tree(proc: subprocess.Popen | ZygoteChild, launch: _Launch) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    if launch.cgroup is not None:
        launch.cgroup.kill_all()
    if launch.zygote is not None:
        launch.zygote.reset()  # every member of its cgroup but the zygote itself


def _execute(launch: _Launch, limits: Limits, stdin: str | None, backend: str) -> ExecResult:
    start = time.monotonic()
    deadline = start + limits.timeout_s
    stdin_bytes = stdin.encode("utf-8") if stdin is not None else None
    proc: subprocess.Popen | ZygoteChild | None = None
    if launch.zygote is not None:
        try:
            proc = launch.zygote.spawn(
                launch.argv,
                launch.popen_env,
                launch.cwd,
                launch.rlimits or [],
                launch.processes,
                stdin=stdin_bytes is not None,
            )
        except ZygoteError:
            proc = None  # fall back to a direct launch in a fresh cgroup below
            hierarchy = launch.zygote.cgroup.hierarchy
            launch.cgroup = PidsCgroup(hierarchy, launch.processes)
            launch.preexec = rlimit_setter(limits, cgroup_procs=launch.cgroup.procs_file)
            previous_cleanup, cgroup = launch.cleanup, launch.cgroup
            launch.cleanup = lambda: (cgroup.remove(), previous_cleanup())
            launch.zygote = None
    if proc is None:
        proc = subprocess.Popen(
            launch.argv,
            stdin=subprocess.PIPE if stdin_bytes is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=launch.cwd,
            env=launch.popen_env,
            preexec_fn=launch.preexec,
            start_new_session=True,
            close_fds=True,
        )
    cap = limits.output_bytes
    assert proc.stdout is not None and proc.stderr is not None
    chunks: dict[int, list[bytes]] = {proc.stdout.fileno(): [], proc.stderr.fileno(): []}
    kept = dict.fromkeys(chunks, 0)
    state = {"truncated": False, "open": 2}
    sel = selectors.DefaultSelector()
    pending = memoryview(stdin_bytes) if stdin_bytes else None

    def pump(until: float, *, watch_exit: bool) -> str:
        """Move bytes until the outputs close, ``until`` passes, or the launcher is gone.

        Returns "eof", "deadline", or "held" (the launcher exited but something it left behind
        kept the pipes open past the grace period).
        """
        nonlocal pending
        exited_at: float | None = None
        while state["open"]:
            now = time.monotonic()
            if now >= until:
                return "deadline"
            if watch_exit:
                if exited_at is None and proc.poll() is not None:
                    exited_at = now
                if exited_at is not None and now - exited_at > _KILL_GRACE_S:
                    return "held"
            wait = min(until - now, 0.02 if exited_at is not None else 0.05)
            for key, _ in sel.select(wait):
                stream = key.fileobj
                if stream is proc.stdin:
                    try:
                        n = os.write(proc.stdin.fileno(), pending[:65536])
                        pending = pending[n:]
                    except OSError:
                        pending = None
                    if not pending:
                        sel.unregister(proc.stdin)
                        with contextlib.suppress(OSError):
                            proc.stdin.close()
                    continue
                fd = stream.fileno()
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(stream)
                    state["open"] -= 1
                    continue
                room = cap - kept[fd]
                if room > 0:
                    chunks[fd].append(data[:room])
                    kept[fd] += min(room, len(data))
                if len(data) > room:
                    state["truncated"] = True
        return "eof"

    timed_out = False
    try:
        sel.register(proc.stdout, selectors.EVENT_READ)
        sel.register(proc.stderr, selectors.EVENT_READ)
        if proc.stdin is not None:
            if pending:
                os.set_blocking(proc.stdin.fileno(), False)
                sel.register(proc.stdin, selectors.EVENT_WRITE)
            else:
                proc.stdin.close()
        outcome = pump(deadline, watch_exit=True)
        if outcome == "eof":
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                outcome = "deadline"
        timed_out = outcome == "deadline"
        _kill_tree(proc, launch)
        proc.wait()
        pump(time.monotonic() + 1.0, watch_exit=False)  # what the dead tree left in the pipes
    finally:
        sel.close()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        if proc.poll() is None:
            _kill_tree(proc, launch)
            proc.wait()
    truncated = state["truncated"]
    duration = time.monotonic() - start
    out_fd, err_fd = list(chunks)
    return ExecResult(
        returncode=None if timed_out else proc.returncode,
        stdout=b"".join(chunks[out_fd]).decode("utf-8", "replace"),
        stderr=b"".join(chunks[err_fd]).decode("utf-8", "replace"),
        timed_out=timed_out,
        duration_s=duration,
        backend=backend,
        truncated=truncated,
    )


__all__ = [
    "BACKENDS",
    "ExecResult",
    "Limits",
    "Sandbox",
    "SandboxUnavailable",
    "UnsafeSandboxWarning",
    "available_backends",
    "backend_problem",
    "WORK",
]
