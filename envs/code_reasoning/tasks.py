r"""The pieces of AZR's code tasks that need no env: reading replies, checking programs, running them.

A task is a triplet (program ``f``, input, output). Everything a model writes is untrusted, and
this module keeps it that way:

* **reading** -- :func:`answer_body` (the text after the last ``<answer>``) and
  :func:`fenced_blocks` (fenced code blocks by tag) scan their input once, so any reply costs
  time linear in its (capped) length;
* **static checks** -- :func:`static_checks` parses a program with :mod:`ast` (never runs it)
  and applies AZR's rules: one top-level function ``f``, imports at the top, none of AZR's
  banned modules, plus a check AZR lacks -- no dynamic imports (``__import__``, ``importlib``,
  ``eval``/``exec``/``compile``, ``__builtins__``). The import rules are a determinism filter and
  a first line of defence, not the security boundary: the sandbox is;
* **running** -- :func:`run_calls` evaluates ``f(<input>)`` for several inputs in one snippet of
  a :class:`~selfplay_gym.sandbox.SnippetRunner` (a forked child inside the sandbox) and returns
  the ``repr`` of each result; :func:`shared_runner` gives the one runner per process and
  backend that every env shares (an env pickles without it);
* **comparing** -- :func:`literal_equal` compares two reprs as Python literals with
  :func:`ast.literal_eval` (which evaluates no code), falling back to a normalised string match.
  Nothing a model writes is ever ``eval``-ed on the host.
"""

from __future__ import annotations

import ast
import atexit
import re
import threading
from collections.abc import Sequence
from typing import Any

__all__ = [
    "BANNED_MODULES",
    "DYNAMIC_NAMES",
    "IDENTITY_PROGRAM",
    "IDENTITY_INPUT",
    "answer_body",
    "fenced_blocks",
    "first_block",
    "static_checks",
    "call_ok",
    "literal_value",
    "literal_equal",
    "run_calls",
    "shared_runner",
    "resolve_runner",
]

BANNED_MODULES = (
    "logging",
    "random",
    "multiprocessing",
    "pebble",
    "subprocess",
    "threading",
    "datetime",
    "time",
    "hashlib",
    "hmac",
    "bcrypt",
    "os.sys",
    "os.path",
    "sys.exit",
    "os.environ",
    "calendar",
)
"""AZR's banned imports (``azr.data_selection_strategy.banned_words``). A dotted entry matches
an import of that name or anything under it (``from os import environ``), and also an attribute
chain ``os.environ[...]`` -- AZR compares single name parts only, so its dotted entries never
match anything."""

DYNAMIC_NAMES = frozenset(
    {"__import__", "importlib", "__builtins__", "builtins", "eval", "exec", "compile"}
)
"""Names whose use counts as a dynamic import (not in AZR: its list let
``__import__('subprocess')`` through)."""

IDENTITY_PROGRAM = "def f(a):\n    return a"
"""AZR's seed program: the identity function."""
IDENTITY_INPUT = '"Hello world"'
"""AZR's seed input."""

_FENCE = "```"
_RUNNER_NAME = "__selfplay_run_all"
_TOO_LARGE = "output too large"


# ---- reading replies -------------------------------------------------------------------------
def answer_body(text: str) -> str:
    """The text after the last ``<answer>`` up to the next ``</answer>``, or all of ``text``.

    Example:
        >>> answer_body("<think>x</think><answer> 42 </answer> trailing")
        ' 42 '
        >>> answer_body("no tags")
        'no tags'
    """
    start = text.rfind("<answer>")
    if start < 0:
        return text
    body = text[start + len("<answer>") :]
    end = body.find("</answer>")
    return body if end < 0 else body[:end]


def fenced_blocks(text: str, max_blocks: int = 64) -> list[tuple[str, str]]:
    r"""The fenced blocks of ``text`` as ``(tag, body)``, in order (one linear scan).

    A block opens with three backticks and an optional tag on the same line and closes at the
    next three backticks; an unclosed block is dropped. Tags are lower-cased.

    Example:
        >>> fenced_blocks("a ```python\ndef f(a): return a\n``` b ```input\n1\n```")
        [('python', 'def f(a): return a\n'), ('input', '1\n')]
    """
    out: list[tuple[str, str]] = []
    pos = 0
    while len(out) < max_blocks:
        start = text.find(_FENCE, pos)
        if start < 0:
            break
        end = text.find(_FENCE, start + 3)
        if end < 0:
            break
        inner = text[start + 3 : end]
        newline = inner.find("\n")
        if newline < 0:  # one line: ```1, 2``` has no tag
            tag, body = "", inner
        else:
            tag, body = inner[:newline].strip().lower(), inner[newline + 1 :]
        out.append((tag, body))
        pos = end + 3
    return out


def first_block(blocks: Sequence[tuple[str, str]], *tags: str) -> str | None:
    """The body of the first block whose tag is one of ``tags``."""
    for tag, body in blocks:
        if tag in tags:
            return body
    return None


# ---- static checks ---------------------------------------------------------------------------
def _dotted(node: ast.AST) -> str | None:
    """``a.b.c`` of an attribute chain rooted at a name, else ``None``."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _prefixes(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _banned(name: str, banned: frozenset[str]) -> bool:
    return any(p in banned for p in _prefixes(name))


def static_checks(
    program: str, banned: Sequence[str] = BANNED_MODULES, max_chars: int = 8000
) -> dict[str, bool]:
    r"""AZR's program rules that need no execution, by name; stops after the first failed stage.

    * ``parses`` -- the program is at most ``max_chars`` long and :func:`ast.parse` accepts it;
    * ``one_function_f`` -- exactly one top-level function definition, named ``f`` (not async);
      other top-level statements may be imports, assignments, classes and bare strings;
    * ``imports_at_top`` -- no top-level import after another kind of statement;
    * ``no_banned_imports`` -- no import of a module in ``banned`` (or under it) and no
      attribute chain such as ``os.environ`` naming a dotted entry of it;
    * ``no_dynamic_imports`` -- no use of :data:`DYNAMIC_NAMES` and no relative import.

    Example:
        >>> static_checks("import random\ndef f(a):\n    return random.random()")["no_banned_imports"]
        False
        >>> all(static_checks("def f(a):\n    return a").values())
        True
    """
    if not isinstance(program, str) or len(program) > max_chars or not program.strip():
        return {"parses": False}
    try:
        tree = ast.parse(program)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return {"parses": False}
    allowed = (ast.Import, ast.ImportFrom, ast.Assign, ast.AnnAssign, ast.ClassDef, ast.FunctionDef)
    functions = [s for s in tree.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))]
    docstring = [  # bare strings (docstrings, comments-as-strings) are harmless anywhere
        s for s in tree.body if isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)
    ]
    others = [s for s in tree.body if not isinstance(s, allowed) and s not in docstring]
    one_f = (
        len(functions) == 1
        and isinstance(functions[0], ast.FunctionDef)
        and functions[0].name == "f"
        and not others
    )
    seen_other = False
    at_top = True
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            at_top = at_top and not seen_other
        elif stmt not in docstring:
            seen_other = True
    banned_set = frozenset(banned)
    dotted_banned = frozenset(b for b in banned_set if "." in b)
    no_banned, no_dynamic = True, True
    try:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    no_banned &= not _banned(alias.name, banned_set)
                    no_dynamic &= not _banned(alias.name, DYNAMIC_NAMES)
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # a relative import has nothing to import here
                    no_dynamic = False
                module = node.module or ""
                for alias in node.names:
                    full = f"{module}.{alias.name}" if module else alias.name
                    no_banned &= not _banned(full, banned_set)
                    no_dynamic &= not _banned(full, DYNAMIC_NAMES) and alias.name not in (
                        DYNAMIC_NAMES
                    )
            elif isinstance(node, ast.Attribute):
                if node.attr in DYNAMIC_NAMES:
                    no_dynamic = False
                chain = _dotted(node)
                if chain is not None and dotted_banned:
                    no_banned &= not any(p in dotted_banned for p in _prefixes(chain))
            elif isinstance(node, ast.Name) and node.id in DYNAMIC_NAMES:
                no_dynamic = False
    except RecursionError:
        return {"parses": False}
    return {
        "parses": True,
        "one_function_f": one_f,
        "imports_at_top": at_top,
        "no_banned_imports": bool(no_banned),
        "no_dynamic_imports": bool(no_dynamic),
    }


def call_ok(argument_text: str, max_chars: int = 2000) -> bool:
    """Whether ``f(<argument_text>)`` parses as exactly one call of ``f`` (read, never run).

    Rejects text that would break out of the call (``1) or (2``), and ``yield``, ``await``,
    ``:=`` and ``lambda`` inside it.

    Example:
        >>> call_ok("[1, 2], 'x'"), call_ok("1) or (2"), call_ok("")
        (True, False, False)
    """
    if not isinstance(argument_text, str) or len(argument_text) > max_chars:
        return False
    if not argument_text.strip():
        return False
    try:
        tree = ast.parse(_call_text(argument_text), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    call = tree.body
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "f"):
        return False
    forbidden = (ast.Yield, ast.YieldFrom, ast.Await, ast.NamedExpr, ast.Lambda)
    try:
        return not any(isinstance(n, forbidden) for n in ast.walk(call))
    except RecursionError:
        return False


# ---- comparing -------------------------------------------------------------------------------
_SPACE_RE = re.compile(r"\s+")


def literal_value(text: str, max_chars: int = 4000) -> tuple[bool, Any]:
    """``(True, value)`` if ``text`` is a Python literal (``set()`` included), else ``(False, None)``.

    Uses :func:`ast.literal_eval`: no code runs. Text over ``max_chars`` is not read.
    """
    if not isinstance(text, str) or len(text) > max_chars:
        return False, None
    stripped = text.strip()
    if stripped == "set()":
        return True, set()
    try:
        return True, ast.literal_eval(stripped)
    except Exception:  # SyntaxError, ValueError (4301 digits), MemoryError, RecursionError
        return False, None


def _normalised(text: str) -> str:
    return _SPACE_RE.sub(" ", text.strip())


def literal_equal(a: str, b: str, max_chars: int = 4000) -> bool:
    """Whether two reprs denote equal Python literals; else whether they match as normalised text.

    Example:
        >>> literal_equal("[1, 2]", "[1,2]"), literal_equal("{'a': 1}", '{"a": 1}')
        (True, True)
        >>> literal_equal("__import__('os').getcwd()", "'/'")
        False
    """
    ok_a, value_a = literal_value(a, max_chars)
    ok_b, value_b = literal_value(b, max_chars)
    if ok_a and ok_b:
        try:
            return bool(value_a == value_b)
        except Exception:  # RecursionError on pathological nesting
            return False
    if not isinstance(a, str) or not isinstance(b, str):
        return False
    return len(a) <= max_chars and len(b) <= max_chars and _normalised(a) == _normalised(b)


# ---- running ---------------------------------------------------------------------------------
def _call_text(argument_text: str) -> str:
    # On lines of their own, so that a trailing comment in the input cannot swallow the ")".
    return f"f(\n{argument_text}\n)"


def _batch_code(program: str, inputs: Sequence[str], max_output_chars: int) -> str:
    # The helper reads repr, len, ... from the builtins module, not from the module globals,
    # so a program that rebinds ``repr = ...`` at top level cannot forge its own outputs
    # (rebinding ``builtins`` itself needs a name the static rules reject).
    calls = "".join(f"\n        lambda: {_call_text(inp)}," for inp in inputs)
    return (
        f"{program}\n\n\n"
        f"def {_RUNNER_NAME}():\n"
        "    import builtins as _b\n"
        "    results = []\n"
        f"    for call in ({calls}\n    ):\n"
        "        try:\n"
        "            text = _b.repr(call())\n"
        "        except _b.BaseException as exc:\n"
        "            name = _b.type(exc).__name__\n"
        "            results.append((False, (name + ': ' + _b.str(exc))[:200]))\n"
        "            continue\n"
        f"        if _b.len(text) > {int(max_output_chars)}:\n"
        f"            results.append((False, {_TOO_LARGE!r}))\n"
        "        else:\n"
        "            results.append((True, text))\n"
        "    return results\n"
    )


def run_calls(
    runner: Any,
    program: str,
    inputs: Sequence[str],
    *,
    timeout_s: float | None = None,
    max_output_chars: int = 1000,
) -> tuple[list[tuple[bool, str]] | None, str | None]:
    """Run ``f(<input>)`` for each input in one sandboxed snippet.

    Returns ``(results, None)`` with one ``(ok, repr_or_error)`` per input, or ``(None, error)``
    when the snippet as a whole failed (a syntax error, a timeout, a crash, a forged result).
    An ``repr`` longer than ``max_output_chars`` is an error ``"output too large"``. The inputs
    must have passed :func:`call_ok`. The results come back as a repr that is read with
    :func:`ast.literal_eval` on the host.
    """
    code = _batch_code(program, inputs, max_output_chars)
    result = runner.run(code, f"{_RUNNER_NAME}()", timeout_s=timeout_s)
    if not result.ok:
        return None, (result.error or "the snippet failed")[:300]
    cap = len(inputs) * (max_output_chars + 300) + 100
    ok, value = literal_value(result.value or "", cap)
    if not ok or not isinstance(value, list) or len(value) != len(inputs):
        return None, "the snippet returned no readable results"
    out: list[tuple[bool, str]] = []
    for item in value:
        if not (
            isinstance(item, tuple)
            and len(item) == 2
            and isinstance(item[0], bool)
            and isinstance(item[1], str)
        ):
            return None, "the snippet returned no readable results"
        out.append((item[0], item[1]))
    return out, None


_RUNNERS: dict[tuple[str, int, int], Any] = {}
_RUNNERS_LOCK = threading.Lock()


def shared_runner(backend: str = "auto", memory_bytes: int = 512 << 20, slot: int = 0) -> Any:
    """The process's :class:`~selfplay_gym.sandbox.SnippetRunner` for ``backend`` (made on first use).

    ``slot`` 1 is a second runner -- a separate fork server with its own hash secret -- which
    the determinism check uses for its second run, so that output depending on the iteration
    order of a set of strings shows up as nondeterminism. Raises
    :class:`~selfplay_gym.sandbox.SandboxUnavailable` when no backend of that name is usable
    here (``"auto"`` never falls back to ``"unsafe"``).
    """
    key = (str(backend), int(memory_bytes), int(slot))
    with _RUNNERS_LOCK:
        runner = _RUNNERS.get(key)
        if runner is None:
            from selfplay_gym.sandbox import Limits, SnippetRunner

            runner = SnippetRunner(backend, Limits(timeout_s=5.0, memory_bytes=int(memory_bytes)))
            _RUNNERS[key] = runner
        return runner


def resolve_runner(sandbox: Any, memory_bytes: int = 512 << 20, slot: int = 0) -> Any:
    """A runner object as given (whatever the slot), or the shared runner of a backend name."""
    if isinstance(sandbox, str):
        return shared_runner(sandbox, memory_bytes, slot)
    return sandbox


@atexit.register
def _close_runners() -> None:
    with _RUNNERS_LOCK:
        for runner in _RUNNERS.values():
            try:
                runner.close()
            except Exception:
                pass
        _RUNNERS.clear()
