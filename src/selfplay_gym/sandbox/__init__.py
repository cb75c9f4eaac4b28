"""Isolated execution of model-written code (used by the code families).

``Sandbox(backend).run(cmd, workdir=...)`` runs a command over a directory with no network, a
read-only host, the directory writable at ``/work``, its own pid namespace, no capabilities, and
CPU / memory / file-size / process-count / wall-clock limits; on timeout the whole tree dies.
``SnippetRunner`` keeps one sandboxed Python alive as a fork server for many short snippets.

Backends, in preference order: ``"bwrap"`` (bubblewrap), ``"unshare"`` (util-linux namespaces and
a minimal chroot), and ``"unsafe"`` (rlimits only; never picked by ``"auto"``, warns).
:func:`available_backends` lists what works on this host.
"""

from __future__ import annotations

from .core import BACKENDS, Sandbox, UnsafeSandboxWarning, available_backends, backend_problem
from .limits import ExecResult, Limits, SandboxUnavailable
from .snippets import SnippetResult, SnippetRunner

__all__ = [
    "BACKENDS",
    "ExecResult",
    "Limits",
    "Sandbox",
    "SandboxUnavailable",
    "SnippetResult",
    "SnippetRunner",
    "UnsafeSandboxWarning",
    "available_backends",
    "backend_problem",
]
