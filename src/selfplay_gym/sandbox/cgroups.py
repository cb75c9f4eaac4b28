"""Per-run pids cgroups: the process-count limit that also binds root.

``RLIMIT_NPROC`` is not enforced for uid 0, and a user namespace created by root maps the sandbox's
"root" back to kuid 0, so as root the only reliable fork-bomb guard is a pids cgroup (the other
option, dropping to a real unprivileged uid inside bwrap, needs the episode copy chowned to that uid
and the interpreter reachable by it; see :mod:`selfplay_gym.sandbox.bwrap`).

Each concurrent run gets its own leaf cgroup with ``pids.max = Limits.processes`` (+1 for the
zygote, see :mod:`selfplay_gym.sandbox.zygotes`, which forks the launcher inside the leaf so that
no per-run migration is paid; without a zygote the launcher joins the leaf in its
``preexec_fn``). Every descendant, including ones that ``setsid`` or double-fork, stays inside;
that also gives the harness a complete list of the run's processes to kill on timeout. Leaves are
named ``run-<harness pid>-<n>``; empty leaves of dead harnesses are removed at the first probe.

Both hierarchies are handled:

* cgroup v1: a writable ``pids`` controller (``/sys/fs/cgroup/pids`` here). Leaves live under
  ``<mount>/selfplay-sandbox/``.
* cgroup v2: a writable unified hierarchy whose root lists ``pids`` in ``cgroup.controllers``. The
  parent ``selfplay-sandbox/`` holds no processes (v2's no-internal-process rule), has ``+pids`` in
  its ``cgroup.subtree_control``, and the leaves are its children. Delegated non-root v2 setups
  (systemd user slices) are not probed; such hosts fall back to ``RLIMIT_NPROC`` as a normal user.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import threading
import time
from dataclasses import dataclass

_PARENT = "selfplay-sandbox"
_counter = itertools.count()
_lock = threading.Lock()
_cached: PidsHierarchy | None | bool = False  # False: not probed yet


@dataclass(frozen=True)
class PidsHierarchy:
    """A writable place to make per-run pids cgroups."""

    version: int
    """1 or 2."""
    parent: str
    """Directory under which the per-run leaves are created."""


def _mounts() -> list[tuple[str, str, str]]:
    try:
        with open("/proc/self/mounts", encoding="utf-8") as fh:
            rows = [line.split() for line in fh]
    except OSError:
        return []
    return [(r[1], r[2], r[3]) for r in rows if len(r) >= 4]


def _probe_v1(mountpoint: str) -> PidsHierarchy | None:
    parent = os.path.join(mountpoint, _PARENT)
    try:
        os.makedirs(parent, exist_ok=True)
        test = os.path.join(parent, f"probe-{os.getpid()}")
        os.mkdir(test)
        try:
            with open(os.path.join(test, "pids.max"), "w") as fh:
                fh.write("8")
        finally:
            os.rmdir(test)
    except OSError:
        return None
    return PidsHierarchy(1, parent)


def _probe_v2(mountpoint: str) -> PidsHierarchy | None:
    try:
        with open(os.path.join(mountpoint, "cgroup.controllers")) as fh:
            if "pids" not in fh.read().split():
                return None
        with open(os.path.join(mountpoint, "cgroup.subtree_control")) as fh:
            enabled = fh.read().split()
        if "pids" not in enabled:
            with open(os.path.join(mountpoint, "cgroup.subtree_control"), "w") as fh:
                fh.write("+pids")
        parent = os.path.join(mountpoint, _PARENT)
        os.makedirs(parent, exist_ok=True)
        with open(os.path.join(parent, "cgroup.subtree_control"), "w") as fh:
            fh.write("+pids")
        test = os.path.join(parent, f"probe-{os.getpid()}")
        os.mkdir(test)
        try:
            with open(os.path.join(test, "pids.max"), "w") as fh:
                fh.write("8")
        finally:
            os.rmdir(test)
    except OSError:
        return None
    return PidsHierarchy(2, parent)


def pids_hierarchy() -> PidsHierarchy | None:
    """The writable pids hierarchy on this host (probed once per process), or ``None``."""
    global _cached
    with _lock:
        if _cached is not False:
            return _cached  # type: ignore[return-value]
        found: PidsHierarchy | None = None
        mounts = _mounts()
        for mountpoint, fstype, options in mounts:
            if fstype == "cgroup" and "pids" in options.split(","):
                found = _probe_v1(mountpoint)
                if found:
                    break
        if found is None:
            for mountpoint, fstype, _ in mounts:
                if fstype == "cgroup2":
                    found = _probe_v2(mountpoint)
                    if found:
                        break
        if found is not None:
            _remove_stale_leaves(found)
        _cached = found
        return found


def _remove_stale_leaves(hierarchy: PidsHierarchy) -> None:
    """Delete empty leaves left by harness processes that died without cleaning up."""
    try:
        names = os.listdir(hierarchy.parent)
    except OSError:
        return
    for name in names:
        parts = name.split("-")
        if len(parts) != 3 or parts[0] != "run" or not parts[1].isdigit():
            continue
        if os.path.exists(f"/proc/{parts[1]}"):
            continue  # its harness is alive (or the pid was reused: leave it)
        with contextlib.suppress(OSError):
            os.rmdir(os.path.join(hierarchy.parent, name))  # fails while it has members


class PidsCgroup:
    """One run's leaf cgroup: create, join (from ``preexec_fn``), kill everything, remove."""

    def __init__(self, hierarchy: PidsHierarchy, max_pids: int) -> None:
        self.hierarchy = hierarchy
        self.path = os.path.join(hierarchy.parent, f"run-{os.getpid()}-{next(_counter)}")
        os.mkdir(self.path)
        try:
            with open(os.path.join(self.path, "pids.max"), "w") as fh:
                fh.write(str(max_pids))
        except OSError:
            os.rmdir(self.path)
            raise
        self.procs_file = os.path.join(self.path, "cgroup.procs")

    def pids(self) -> list[int]:
        """Processes currently in the cgroup (host pid numbers)."""
        try:
            with open(self.procs_file) as fh:
                return [int(x) for x in fh.read().split()]
        except (OSError, ValueError):
            return []

    def kill_all(self, *, wait_s: float = 5.0) -> bool:
        """SIGKILL every member until the cgroup is empty; ``True`` when it emptied in time."""
        kill_file = os.path.join(self.path, "cgroup.kill")
        deadline = time.monotonic() + wait_s
        while True:
            members = self.pids()
            if not members:
                return True
            if self.hierarchy.version == 2 and os.path.exists(kill_file):
                with contextlib.suppress(OSError), open(kill_file, "w") as fh:
                    fh.write("1")
            else:
                for pid in members:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)
            if time.monotonic() > deadline:
                return False
            time.sleep(0.002)

    def remove(self) -> None:
        """Kill what is left and delete the leaf (retrying while zombies drain)."""
        self.kill_all()
        for _ in range(200):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.005)
