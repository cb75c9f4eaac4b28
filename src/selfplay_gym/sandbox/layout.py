"""What the inside of a sandbox looks like: mounts of the interpreter and virtualenv, PATH, env.

Shared by the ``bwrap`` and ``unshare`` backends so both present the same view:

* ``/usr`` (and the ``/bin``, ``/lib*``, ``/sbin`` symlinks of a merged-/usr system), read-only;
* ``/etc/ld.so.cache``, ``/etc/alternatives`` and a synthetic ``/etc/passwd`` / ``/etc/group``
  naming only root and nobody (never the host's ``/etc/shadow``); with ``network=True`` also the
  resolver and CA-certificate files;
* the interpreter's prefix (``sys.base_prefix``) at its own path, read-only;
* the project's virtualenv (``sys.prefix``) read-only, at its own path unless that path lies under
  ``/work`` or ``/tmp`` (as ``/work/main/.venv`` does), in which case it appears at
  :data:`RELOCATED_VENV`: binding it in place would create mount points inside the episode copy.
  ``python`` on ``PATH`` is the venv's, so ``python -m pytest`` works either way (console-script
  shebangs of a relocated venv point at the old path; use ``python -m``);
* the work directory read-write at ``/work`` (the cwd) and a sized tmpfs at ``/tmp``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

WORK = "/work"
"""Where the work directory appears inside the sandbox."""
RELOCATED_VENV = "/opt/selfplay-venv"
"""Where the virtualenv appears when its host path would collide with ``/work`` or ``/tmp``."""
FIXED_ENV = {
    "HOME": "/tmp",
    "PYTHONHASHSEED": "0",
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    "TZ": "UTC",
    "LANG": "C.UTF-8",
}
"""Variables every sandboxed command gets (``env`` passed to ``run`` may override them)."""
NETWORK_ETC = (
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/ssl",
    "/etc/ca-certificates",
)
_PASSWD = (
    "root:x:0:0:root:/tmp:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
)
_GROUP = "root:x:0:\nnogroup:x:65534:\n"

_etc_dir: str | None = None
_etc_lock = threading.Lock()


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def synthetic_etc() -> str:
    """A private directory holding the fake ``passwd`` and ``group`` (made once per process)."""
    global _etc_dir
    with _etc_lock:
        if _etc_dir is None or not os.path.isdir(_etc_dir):
            path = tempfile.mkdtemp(prefix="selfplay-sandbox-etc-")
            for name, text in (("passwd", _PASSWD), ("group", _GROUP)):
                with open(os.path.join(path, name), "w", encoding="utf-8") as fh:
                    fh.write(text)
                os.chmod(os.path.join(path, name), 0o644)
            os.chmod(path, 0o755)
            atexit.register(shutil.rmtree, path, True)
            _etc_dir = path
        return _etc_dir


@dataclass(frozen=True)
class Bind:
    """One read-only bind: host ``src`` appears at ``dest`` inside."""

    src: str
    dest: str


@dataclass(frozen=True)
class Layout:
    """The read-only binds and PATH of a sandbox for this interpreter."""

    system: tuple[str, ...]
    """Top-level system dirs bound at the same path (``/usr``; ``/bin`` etc. when not symlinks)."""
    symlinks: tuple[tuple[str, str], ...]
    """``(target, link)`` pairs recreating the merged-/usr symlinks (``usr/bin`` -> ``/bin``)."""
    files: tuple[Bind, ...]
    """Read-only binds of /etc pieces, the interpreter prefix and the virtualenv."""
    path: str
    """``PATH`` inside the sandbox."""
    venv: str
    """Where the virtualenv (``sys.prefix``) appears inside."""


def build_layout(*, network: bool = False) -> Layout:
    """Compute the mounts for the running interpreter (see the module docstring)."""
    system: list[str] = ["/usr"]
    symlinks: list[tuple[str, str]] = []
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            symlinks.append((os.readlink(top), top))
        elif os.path.isdir(top):
            system.append(top)
    files: list[Bind] = []
    etc = synthetic_etc()
    files.append(Bind(os.path.join(etc, "passwd"), "/etc/passwd"))
    files.append(Bind(os.path.join(etc, "group"), "/etc/group"))
    wanted = ["/etc/ld.so.cache", "/etc/alternatives"]
    if network:
        wanted.extend(NETWORK_ETC)
    files.extend(Bind(p, p) for p in wanted if os.path.exists(p))

    base = os.path.realpath(sys.base_prefix)
    if any(_under(base, s) for s in system):
        pass  # already visible through /usr
    elif _under(base, WORK) or _under(base, "/tmp"):
        raise RuntimeError(
            f"the interpreter prefix {base} lies under {WORK} or /tmp, which the sandbox replaces"
        )
    else:
        files.append(Bind(base, base))
    bin_dirs = [os.path.join(base, "bin")]
    venv_host = os.path.abspath(sys.prefix)
    venv = venv_host
    if os.path.realpath(venv_host) != base:
        if _under(venv_host, WORK) or _under(venv_host, "/tmp"):
            venv = RELOCATED_VENV
        files.append(Bind(venv_host, venv))
        bin_dirs.insert(0, os.path.join(venv, "bin"))
    path = ":".join([*bin_dirs, "/usr/local/bin", "/usr/bin", "/bin"])
    return Layout(tuple(system), tuple(symlinks), tuple(files), path, venv)


def sandbox_env(layout: Layout, extra: Mapping[str, str] | None) -> dict[str, str]:
    """The complete environment inside: PATH, :data:`FIXED_ENV`, then ``extra``."""
    env = {"PATH": layout.path, **FIXED_ENV}
    for key, value in (extra or {}).items():
        if not isinstance(key, str) or not key or "=" in key or "\0" in key:
            raise ValueError(f"env: expected variable names without '=' or NUL, got {key!r}")
        if not isinstance(value, str) or "\0" in value:
            raise ValueError(f"env[{key!r}]: expected a str without NUL, got {value!r}")
        env[key] = value
    return env


def check_ro_binds(ro_binds: Sequence[str | os.PathLike]) -> list[str]:
    """Absolute, existing paths that do not collide with ``/work`` (else ``ValueError``)."""
    out = []
    for item in ro_binds:
        path = os.path.abspath(os.fspath(item))
        if not os.path.exists(path):
            raise ValueError(f"ro_binds: expected an existing path, got {path!r}")
        if _under(path, WORK) or path == "/" or path == "/tmp":
            raise ValueError(
                f"ro_binds: expected a path outside {WORK} (the work directory's mount point) "
                f"and not / or /tmp, got {path!r}"
            )
        out.append(path)
    return out
