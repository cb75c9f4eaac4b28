"""Resource limits, results and errors shared by every sandbox backend.

:class:`Limits` is plain data; :func:`rlimit_setter` turns it into the ``preexec_fn`` that each
backend runs in the forked child just before ``exec`` (so the limits bind the launcher and
everything it starts, and are inherited across the namespace boundary).
"""

from __future__ import annotations

import math
import os
import resource
from collections.abc import Callable
from dataclasses import asdict, dataclass


class SandboxUnavailable(RuntimeError):
    """The requested isolation backend cannot run on this machine (the message says why)."""


@dataclass(frozen=True)
class Limits:
    """What one sandboxed execution may consume.

    Every field is checked on construction: a non-positive size or count raises ``ValueError``.
    """

    timeout_s: float = 60.0
    """Wall-clock limit in seconds; after it the whole process tree is killed."""
    memory_bytes: int = 1 << 30
    """Address-space limit (``RLIMIT_AS``) of every process in the sandbox."""
    cpu_s: int | None = None
    """CPU-seconds limit (``RLIMIT_CPU``) per process; ``None`` means ``ceil(timeout_s) + 1``."""
    file_bytes: int = 64 << 20
    """Largest file a process may write (``RLIMIT_FSIZE``)."""
    processes: int = 256
    """Most tasks (processes and threads) alive at once in one sandbox; enforced even for root
    through a pids cgroup (see :mod:`selfplay_gym.sandbox.cgroups`)."""
    tmp_bytes: int = 64 << 20
    """Size of the tmpfs mounted at ``/tmp`` inside the sandbox."""
    output_bytes: int = 1 << 20
    """Bytes of stdout and of stderr kept (each); the rest is read and dropped."""
    open_files: int = 256
    """Most open file descriptors per process (``RLIMIT_NOFILE``)."""

    def __post_init__(self) -> None:
        if not (isinstance(self.timeout_s, (int, float)) and math.isfinite(self.timeout_s)):
            raise ValueError(
                f"timeout_s: expected a finite number of seconds, got {self.timeout_s!r}"
            )
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s: expected > 0, got {self.timeout_s!r}")
        minimums = {
            "memory_bytes": 16 << 20,
            "file_bytes": 1,
            "processes": 1,
            "tmp_bytes": 4096,
            "output_bytes": 1,
            "open_files": 8,
        }
        for name, least in minimums.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name}: expected an int, got {value!r}")
            if value < least:
                raise ValueError(f"{name}: expected an int >= {least}, got {value}")
        if self.cpu_s is not None and (
            isinstance(self.cpu_s, bool) or not isinstance(self.cpu_s, int) or self.cpu_s < 1
        ):
            raise ValueError(f"cpu_s: expected None or an int >= 1, got {self.cpu_s!r}")

    @property
    def effective_cpu_s(self) -> int:
        """``cpu_s``, or ``ceil(timeout_s) + 1`` when it is ``None``."""
        return self.cpu_s if self.cpu_s is not None else math.ceil(self.timeout_s) + 1

    def as_dict(self) -> dict:
        """The fields as a plain dict (for ``info`` and ``describe()``)."""
        return asdict(self)


@dataclass(frozen=True)
class ExecResult:
    """What one :meth:`Sandbox.run` produced."""

    returncode: int | None
    """The command's exit status; ``None`` after a timeout. A command killed by signal N shows
    as ``128 + N`` under bwrap and unshare (their launcher reports it so) and as ``-N`` under
    unsafe."""
    stdout: str
    """Captured standard output, decoded as UTF-8 (invalid bytes replaced), at most
    ``Limits.output_bytes`` bytes before decoding."""
    stderr: str
    """Captured standard error, capped the same way."""
    timed_out: bool
    """Whether the wall-clock limit ended the run (the whole tree was then killed)."""
    duration_s: float
    """Wall-clock seconds from launch until the tree was gone."""
    backend: str
    """``"bwrap"``, ``"unshare"`` or ``"unsafe"``."""
    truncated: bool = False
    """Whether stdout or stderr exceeded ``Limits.output_bytes`` and was cut."""

    @property
    def ok(self) -> bool:
        """The command exited with status 0 within the time limit."""
        return self.returncode == 0 and not self.timed_out


def rlimit_pairs(limits: Limits, *, cpu_s: int | None = None) -> list[tuple[int, int]]:
    """The ``(resource, value)`` pairs to apply (soft = hard = value; cores are disabled)."""
    cpu = cpu_s if cpu_s is not None else limits.effective_cpu_s
    return [
        (resource.RLIMIT_AS, limits.memory_bytes),
        (resource.RLIMIT_CPU, cpu),
        (resource.RLIMIT_FSIZE, limits.file_bytes),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_CORE, 0),
    ]


def rlimit_setter(
    limits: Limits, *, cpu_s: int | None = None, cgroup_procs: str | None = None
) -> Callable[[], None]:
    """A ``preexec_fn``: join the run's pids cgroup (if any), then apply the rlimits.

    It uses only ``os``-level calls between fork and exec. Joining the cgroup comes first so that
    every process the launcher starts is counted from its first fork.
    """
    pairs = rlimit_pairs(limits, cpu_s=cpu_s)

    def apply() -> None:
        if cgroup_procs is not None:
            fd = os.open(cgroup_procs, os.O_WRONLY)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)
        for which, value in pairs:
            resource.setrlimit(which, (value, value))

    return apply
