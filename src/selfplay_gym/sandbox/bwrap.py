"""The bubblewrap backend: the primary one.

Per run (see the reference notes, section 4.4)::

    bwrap --ro-bind /usr /usr --symlink usr/bin /bin ... (the merged-/usr links)
          --ro-bind <passwd/group/ld.so.cache...> --ro-bind <python prefix> --ro-bind <venv>
          --bind <workdir> /work --chdir /work --dev /dev --proc /proc
          --perms 1777 --size <tmp_bytes> --tmpfs /tmp  [--ro-bind <ro_binds>...]
          --unshare-all [--share-net] --die-with-parent --new-session --cap-drop ALL
          --clearenv --setenv PATH ... --setenv HOME /tmp ...  -- <cmd>

plus the rlimits, applied to the launcher just before ``exec``, and (when a pids cgroup is
writable) the run's own pids cgroup, which bounds the process count even for root and lists every
process of the run for the kill on timeout. The launcher is normally forked by a zygote that
already lives in that cgroup (:mod:`selfplay_gym.sandbox.zygotes`).

What it isolates: network (own netns with only ``lo``), filesystem (nothing writable but ``/work``,
``/tmp`` and ``/dev/shm``, the last two sized tmpfs; ``/root``, ``/home``, the host ``/tmp`` and the checkout are absent), processes (own
pid namespace; the host's processes are invisible and cannot be signalled), capabilities (all
dropped, no-new-privs; ``/proc/sys`` and the other kernel knobs in ``/proc`` read-only, because
the sandbox's root maps to the host's uid 0), IPC and UTS. Not done: seccomp (the kernel's syscall surface is the
normal one for an unprivileged process) and a memory cgroup (``RLIMIT_AS`` bounds memory).

When no pids cgroup is writable and we are root, each run drops to a real unprivileged uid
(``60000 + slot``) inside the sandbox with ``setpriv`` so that ``RLIMIT_NPROC`` binds; the work
directory is then chowned to that uid (see :func:`setpriv_prefix`).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

from .layout import WORK, Layout


@functools.lru_cache(maxsize=1)
def bwrap_path() -> str | None:
    """The ``bwrap`` executable on PATH, or ``None``."""
    return shutil.which("bwrap")


@functools.lru_cache(maxsize=1)
def bwrap_version() -> str | None:
    """``bwrap --version`` (e.g. ``"0.8.0"``), or ``None`` when absent."""
    exe = bwrap_path()
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip().split()[-1] if out.stdout.strip() else None


@functools.lru_cache(maxsize=1)
def bwrap_problem() -> str | None:
    """Why bwrap cannot sandbox here (``None`` when a trial run of ``true`` succeeds)."""
    exe = bwrap_path()
    if exe is None:
        return "bwrap is not installed (apt-get install -y bubblewrap)"
    trial = [
        exe,
        "--ro-bind",
        "/",
        "/",
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--",
        "/bin/true",
    ]
    try:
        out = subprocess.run(trial, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bwrap trial run failed: {exc}"
    if out.returncode != 0:
        return f"bwrap trial run failed (exit {out.returncode}): {out.stderr.strip()[:300]}"
    return None


PROC_READ_ONLY = ("/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs")
"""Parts of ``/proc`` mounted read-only inside (as container runtimes do)."""


def bwrap_argv(
    layout: Layout,
    *,
    workdir: str,
    tmp_bytes: int,
    env: dict[str, str],
    ro_binds: list[str],
    network: bool,
    command: list[str],
    keep_setuid: bool = False,
) -> list[str]:
    """The full bwrap command line for one run (``command`` runs as given, after ``--``).

    ``keep_setuid`` keeps ``CAP_SETUID``/``CAP_SETGID`` in the bounding set (without a user
    namespace) so that a ``setpriv`` prefix in ``command`` can drop to a real unprivileged uid.
    """
    exe = bwrap_path()
    if exe is None:
        raise RuntimeError("bwrap is not installed")
    argv = [exe]
    for top in layout.system:
        argv += ["--ro-bind", top, top]
    for target, link in layout.symlinks:
        argv += ["--symlink", target, link]
    # bwrap creates missing parents of a mount point with mode 0700; make them 0755 first so a
    # non-root uid (the "uid" process-limit mode) can reach the interpreter under e.g. /root.
    parents: dict[str, None] = {}
    for bind in layout.files:
        parent = os.path.dirname(bind.dest)
        chain = []
        while parent not in ("/", "") and not any(
            parent == top or parent.startswith(top + "/") for top in layout.system
        ):
            chain.append(parent)
            parent = os.path.dirname(parent)
        parents.update(dict.fromkeys(reversed(chain)))
    for parent in parents:
        argv += ["--perms", "0755", "--dir", parent]
    for bind in layout.files:
        argv += ["--ro-bind", bind.src, bind.dest]
    argv += ["--bind", workdir, WORK, "--chdir", WORK]
    argv += ["--dev", "/dev", "--proc", "/proc"]
    # The sandbox's "root" is kuid 0 (a user namespace made by root maps 0 -> 0): without these
    # read-only binds it could write host sysctls such as kernel.core_pattern through /proc/sys.
    for knob in PROC_READ_ONLY:
        argv += ["--ro-bind-try", knob, knob]
    argv += ["--perms", "1777", "--size", str(tmp_bytes), "--tmpfs", "/dev/shm"]
    argv += ["--remount-ro", "/dev"]
    argv += ["--perms", "1777", "--size", str(tmp_bytes), "--tmpfs", "/tmp"]
    for path in ro_binds:
        argv += ["--ro-bind", path, path]
    argv += ["--remount-ro", "/"]  # bwrap's root is a tmpfs: no unbounded writes to it either
    if keep_setuid:
        # No user namespace: bwrap (running as real root) keeps only what setpriv needs; the
        # command drops to an unprivileged uid and clears every capability before exec.
        argv += ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
        if not network:
            argv += ["--unshare-net"]
        argv += ["--cap-drop", "ALL"]
        for cap in ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP"):
            argv += ["--cap-add", cap]
    else:
        argv += ["--unshare-all"]
        if network:
            argv += ["--share-net"]
        argv += ["--cap-drop", "ALL"]
    argv += ["--die-with-parent", "--new-session", "--clearenv"]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    argv += ["--", *command]
    return argv


def setpriv_prefix(uid: int) -> list[str]:
    """``setpriv`` arguments that become ``uid`` with no groups and no capabilities at all."""
    return [
        "/usr/bin/setpriv",
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
    ]
