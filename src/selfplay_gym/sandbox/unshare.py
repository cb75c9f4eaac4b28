"""The ``unshare`` backend: the fallback when bubblewrap is missing (util-linux is always there).

Per run::

    unshare --net --pid --fork --kill-child --mount --ipc --uts --mount-proc [--map-root-user]
        /bin/sh -c <wrapper> sh <setpriv ...> <env -i ...> <cmd>

The wrapper runs as pid 1 of the new pid namespace, inside the private mount namespace. Rather
than remounting the host's ``/`` read-only in place (which would still let the command *read*
``/root``, ``/home``, the host ``/tmp`` and the checkout), it builds a minimal root in a tmpfs with
the same view as the bwrap backend (see :mod:`selfplay_gym.sandbox.layout`): ``/usr`` and the
interpreter and venv bound read-only, the work dir read-write at ``/work``, a sized tmpfs ``/tmp``,
a handful of device nodes, a sized tmpfs ``/dev/shm``, a fresh ``/proc`` with ``/proc/sys``,
``/proc/sysrq-trigger``, ``/proc/irq``, ``/proc/bus`` and ``/proc/fs`` read-only; it then remounts
that root read-only and runs the command under ``chroot`` + ``setpriv`` with every capability
removed from the bounding set and no-new-privs. The wrapper waits for the command (so the command
is never pid 1) and exits with its status.

What this backend does **not** isolate, compared with bwrap:

* the command still runs as uid 0 (without capabilities): files it can reach that are owned by
  root and writable are writable, which is why only ``/work`` and ``/tmp`` are mounted writable;
  host files owned by root elsewhere are simply not in the root it sees;
* ``/proc`` beyond the read-only knobs is the normal one for a capability-less root: process
  information is limited to its own pid namespace, but host-wide read-only files (``/proc/meminfo``,
  ``/proc/timer_list``...) are readable, and ``/proc/self/...`` write knobs remain (bwrap: same);
* no user namespace when run as root, so a kernel bug reachable by uid 0 without capabilities is
  reachable here; no seccomp;
* setup costs several ``mount`` executions per run (it is slower than bwrap).
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess

from .bwrap import PROC_READ_ONLY
from .layout import WORK, Layout

_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")


@functools.lru_cache(maxsize=1)
def unshare_problem() -> str | None:
    """Why the unshare backend cannot work here (``None`` when a trial run succeeds)."""
    for tool in ("unshare", "mount", "chroot", "setpriv"):
        if shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin") is None:
            return f"{tool} is not installed (util-linux / coreutils)"
    argv = [
        "unshare",
        *_namespace_flags(),
        "/bin/sh",
        "-c",
        "mount -t tmpfs t /mnt 2>/dev/null || mount -t tmpfs t /tmp",
    ]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unshare trial run failed: {exc}"
    if out.returncode != 0:
        return f"unshare trial run failed (exit {out.returncode}): {out.stderr.strip()[:300]}"
    return None


def _namespace_flags() -> list[str]:
    flags = [
        "--net",
        "--pid",
        "--fork",
        "--kill-child",
        "--mount",
        "--ipc",
        "--uts",
        "--mount-proc",
    ]
    if os.geteuid() != 0:
        flags.append("--map-root-user")
    return flags


def _root_base(sources: list[str]) -> str:
    """An existing host directory to mount the new root's tmpfs on (only inside the namespace)."""
    for cand in ("/mnt", "/run", "/media", "/srv", "/opt"):
        if os.path.isdir(cand) and not any(s == cand or s.startswith(cand + "/") for s in sources):
            return cand
    raise RuntimeError("no directory among /mnt, /run, /media, /srv, /opt to build the root on")


def unshare_argv(
    layout: Layout,
    *,
    workdir: str,
    tmp_bytes: int,
    env: dict[str, str],
    ro_binds: list[str],
    network: bool,
    command: list[str],
) -> list[str]:
    """The full command line for one run under the unshare backend."""
    q = shlex.quote
    sources = [workdir, *layout.system, *(b.src for b in layout.files), *ro_binds]
    root = _root_base(sources)
    lines = ["set -e", f"R={q(root)}", 'mount -t tmpfs -o mode=755,size=4m selfplay-root "$R"']

    def bind(src: str, dest: str, *, ro: bool = True) -> None:
        target = '"$R"' + q(dest)
        if os.path.isdir(src):
            lines.append(f"mkdir -p {target}")
        else:
            lines.append(f'mkdir -p "$(dirname {target})" && : > {target}')
        opts = "-o ro " if ro else ""
        lines.append(f"mount --bind {opts}{q(src)} {target}")

    for top in layout.system:
        bind(top, top)
    for target, link in layout.symlinks:
        lines.append(f'ln -s {q(target)} "$R"{q(link)}')
    for b in layout.files:
        bind(b.src, b.dest)
    bind(workdir, WORK, ro=False)
    lines.append('mkdir -p "$R/tmp" "$R/proc" "$R/dev"')
    lines.append(f'mount -t tmpfs -o mode=1777,size={int(tmp_bytes)} selfplay-tmp "$R/tmp"')
    for path in ro_binds:
        bind(path, path)
    lines.append('mount -t tmpfs -o mode=755,size=64k selfplay-dev "$R/dev"')
    for dev in _DEVICES:
        if os.path.exists(f"/dev/{dev}"):
            lines.append(f': > "$R/dev/{dev}" && mount --bind /dev/{dev} "$R/dev/{dev}"')
    lines.append('ln -s /proc/self/fd "$R/dev/fd"')
    for i, name in enumerate(("stdin", "stdout", "stderr")):
        lines.append(f'ln -s /proc/self/fd/{i} "$R/dev/{name}"')
    lines.append('mkdir -p "$R/dev/shm"')
    lines.append('mount -o remount,ro,bind "$R/dev"')
    lines.append(f'mount -t tmpfs -o mode=1777,size={int(tmp_bytes)} selfplay-shm "$R/dev/shm"')
    lines.append('mount -t proc -o nosuid,nodev,noexec proc "$R/proc"')
    for knob in PROC_READ_ONLY:
        lines.append(f'if [ -e "$R{knob}" ]; then mount --bind -o ro "$R{knob}" "$R{knob}"; fi')
    lines.append('mount -o remount,ro,bind "$R"')
    lines.append("set +e")
    lines.append('chroot "$R" "$@"')
    lines.append("exit $?")
    script = "\n".join(lines)

    inner = [
        "/usr/bin/setpriv",
        "--bounding-set=-all",
        "--inh-caps=-all",
        "--no-new-privs",
        "--",
        "/usr/bin/env",
        "-i",
        *(f"{k}={v}" for k, v in env.items()),
        "/bin/sh",
        "-c",
        f'cd {WORK} || exit 125; exec "$@"',
        "sh",
        *command,
    ]
    flags = _namespace_flags()
    if network:
        flags.remove("--net")
    return ["unshare", *flags, "/bin/sh", "-c", script, "sh", *inner]
