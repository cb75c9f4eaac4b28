r"""The text tools of ``selfplay/BugInjectRepair-v0``: one tool call per reply, run on the agent's own copy.

Both roles use the same tools (SSR gives both its agents bash and a search-replace editor). A reply
holds **one** tool call, written as a tag; text before it (reasoning) is ignored, and so is
anything inside ``<think> ... </think>``. The first tool tag found is the call.

======================================================  ===========================================
Call                                                    What it does
======================================================  ===========================================
``<bash>CMD</bash>``                                    Runs ``CMD`` with ``/bin/sh -c`` in the
                                                        sandbox, cwd ``/work`` = the agent's copy;
                                                        no network; a per-command timeout; the
                                                        output (stdout then stderr) is capped.
``<view path="P"/>`` or                                 Shows a file with line numbers (lines
``<view path="P" start="10" end="60"/>``                ``start``..``end``, 1-based, inclusive), or
                                                        lists a directory (``path="."``: the root).
``<edit path="P"><old>OLD</old><new>NEW</new></edit>``  Replaces the one occurrence of ``OLD`` in
                                                        ``P`` by ``NEW`` (``OLD`` must occur
                                                        exactly once).
``<create path="P">CONTENT</create>``                   Writes ``P`` (a new file, or overwrites
                                                        one), creating parent directories.
``<submit/>`` or ``<submit>BODY</submit>``              Ends the agent's work (see the env).
======================================================  ===========================================

Conventions: one newline right after an opening tag and (for ``<old>``/``<new>``) one right before
the closing tag are dropped, so blocks can sit on their own lines; a body runs to the *last*
closing tag of its kind in the reply, so file content may contain the tag's name. Attribute values
are double-quoted (``start``/``end`` may be bare numbers).

Paths are checked on the host before anything is read or written (:func:`resolve_path`): relative,
no ``..``, no NUL or newline, at most :data:`MAX_PATH_CHARS`, and no component of the path may be a
symlink (nothing is followed out of the copy, or inside it); files are opened with
``O_NOFOLLOW``. Reads and writes are size-capped. Only ``bash`` executes anything, and only inside
the sandbox.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = [
    "TOOL_NAMES",
    "ToolCall",
    "ToolError",
    "parse_tool_call",
    "resolve_path",
    "read_text",
    "write_text",
    "check_write",
    "view",
    "edit",
    "create",
    "cap_output",
    "TOOLS_HELP",
]

TOOL_NAMES = ("bash", "view", "edit", "create", "submit")
MAX_PATH_CHARS = 255
MAX_ATTR_CHARS = 600
MAX_VIEW_LINES = 400
MAX_LIST_ENTRIES = 200

TOOLS_HELP = """\
Tools: answer with exactly ONE tool call per reply (text before it is ignored).
- <bash>CMD</bash> -- run a shell command in your copy of the repository (cwd is the repository \
root, /work; no network; a {timeout:g} s limit; output capped at {cap} characters). Example: \
<bash>python -m pytest -q tests/test_rle.py</bash>
- <view path="src/pkg/mod.py" start="1" end="80"/> -- show a file with line numbers (start/end \
optional), or list a directory (path=".").
- <edit path="src/pkg/mod.py"><old>exact old text</old><new>replacement</new></edit> -- replace \
the single occurrence of the old text.
- <create path="src/pkg/new.py">full file content</create> -- write a whole file.
- {submit}
Paths are relative to the repository root. You have {turns} tool calls in all."""

_OPEN_RE = re.compile(r"<(bash|view|edit|create|submit)\b")
_ATTR_RE = re.compile(r"""([A-Za-z_]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([0-9]+))""")
_THINK_END = "</think>"


class ToolError(ValueError):
    """A tool call that cannot be carried out (the message goes back to the agent)."""


@dataclass(frozen=True)
class ToolCall:
    """One parsed tool call."""

    name: str
    """One of :data:`TOOL_NAMES`."""
    attrs: dict[str, str] = field(default_factory=dict)
    """The opening tag's attributes."""
    body: str = ""
    """The text between the opening and the closing tag (``""`` for a self-closing tag)."""
    old: str | None = None
    """``edit``: the text to replace."""
    new: str | None = None
    """``edit``: its replacement."""

    def describe(self) -> str:
        """A short description for info and transcripts."""
        path = self.attrs.get("path")
        head = self.body[:80].replace("\n", " ") if self.name == "bash" else ""
        return f"{self.name}" + (f" {path}" if path else "") + (f" {head}" if head else "")


def _strip_nl(text: str, *, trailing: bool = False) -> str:
    if text.startswith("\r\n"):
        text = text[2:]
    elif text.startswith("\n"):
        text = text[1:]
    if trailing and text.endswith("\n"):
        text = text[:-1]
    return text


def parse_tool_call(text: str) -> tuple[ToolCall | None, str | None]:
    """The first tool call of a reply: ``(call, None)``, or ``(None, error)`` saying what is wrong.

    Linear in the reply's length. Text inside a leading ``<think> ... </think>`` is skipped.

    Example:
        >>> parse_tool_call("I will look. <bash>ls</bash>")[0].body
        'ls'
        >>> parse_tool_call('<view path="a.py" start="3"/>')[0].attrs
        {'path': 'a.py', 'start': '3'}
        >>> parse_tool_call("no call here")[1][:22]
        'no tool call was found'
    """
    if not isinstance(text, str):
        return None, f"expected a str reply, got {type(text).__name__}"
    start = 0
    think_at = text.find(_THINK_END)
    if think_at >= 0 and "<think>" in text[:think_at]:
        start = think_at + len(_THINK_END)
    match = _OPEN_RE.search(text, start)
    if match is None:
        return None, (
            "no tool call was found; reply with exactly one of <bash>...</bash>, "
            '<view path="..."/>, <edit path="...">...</edit>, <create path="...">...</create>, '
            "<submit/>"
        )
    name = match.group(1)
    close_at = text.find(">", match.end(), match.end() + MAX_ATTR_CHARS)
    if close_at < 0:
        return None, f"the <{name}> tag is not closed with '>' (or its attributes are too long)"
    raw_attrs = text[match.end() : close_at]
    self_closing = raw_attrs.rstrip().endswith("/")
    if self_closing:
        raw_attrs = raw_attrs.rstrip()[:-1]
    attrs: dict[str, str] = {}
    for m in _ATTR_RE.finditer(raw_attrs):
        value = next(v for v in m.groups()[1:] if v is not None)
        attrs[m.group(1).lower()] = value
    leftover = _ATTR_RE.sub("", raw_attrs).strip()
    if leftover:
        return None, f"could not read the attributes of <{name}>: {leftover[:80]!r}"
    body = ""
    if not self_closing:
        closing = f"</{name}>"
        end_at = text.rfind(closing, close_at + 1)
        if end_at < 0:
            if name in ("view", "submit"):
                end_at = len(text)  # <view path="x"> and <submit> may stand alone
                body = ""
            else:
                return None, f"<{name}> has no closing {closing}"
        else:
            body = text[close_at + 1 : end_at]
    if name == "bash":
        command = body.strip()
        if not command:
            return None, "<bash> needs a command between <bash> and </bash>"
        return ToolCall(name, attrs, command), None
    if name in ("view", "edit", "create") and "path" not in attrs:
        return None, f'<{name}> needs a path attribute, e.g. <{name} path="src/pkg/mod.py">'
    if name == "view":
        for key in ("start", "end"):
            if key in attrs and not attrs[key].strip().isdigit():
                return None, f"<view> {key} must be a line number, got {attrs[key][:20]!r}"
        return ToolCall(name, attrs, ""), None
    if name == "create":
        return ToolCall(name, attrs, _strip_nl(body)), None
    if name == "edit":
        o_start, o_end = body.find("<old>"), body.find("</old>")
        n_start, n_end = body.find("<new>"), body.rfind("</new>")
        if min(o_start, o_end, n_start, n_end) < 0 or not o_start < o_end <= n_start < n_end:
            return None, "<edit> needs <old>...</old> followed by <new>...</new> inside it"
        old = _strip_nl(body[o_start + 5 : o_end], trailing=True)
        new = _strip_nl(body[n_start + 5 : n_end], trailing=True)
        if not old:
            return None, "<old> is empty; quote the exact text to replace"
        return ToolCall(name, attrs, "", old, new), None
    return ToolCall(name, attrs, body.strip()), None


# ---- paths and files --------------------------------------------------------------------------
def resolve_path(root: str | os.PathLike, rel: str, *, allow_root: bool = False) -> Path:
    """``root/rel`` after the checks of the module docstring; raises :class:`ToolError`.

    The target itself may not exist yet (for ``create``); every existing component on the way,
    the target included, must not be a symlink.
    """
    if not isinstance(rel, str):
        raise ToolError("the path must be text")
    rel = rel.strip()
    if rel in (".", "./", "") and allow_root:
        return Path(root)
    if not rel or len(rel) > MAX_PATH_CHARS or "\0" in rel or "\n" in rel or "\r" in rel:
        raise ToolError(f"invalid path {rel[:80]!r}")
    pure = PurePosixPath(rel)
    if pure.is_absolute() or rel.startswith("~"):
        raise ToolError(f"the path must be relative to the repository root, got {rel[:80]!r}")
    parts = [p for p in pure.parts if p not in (".",)]
    if not parts or ".." in parts:
        raise ToolError(f"the path must stay inside the repository, got {rel[:80]!r}")
    current = Path(root)
    for part in parts:
        current = current / part
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            break
        except OSError as exc:
            raise ToolError(f"cannot access {rel[:80]!r}: {exc.strerror}") from exc
        if stat.S_ISLNK(info.st_mode):
            raise ToolError(f"{rel[:80]!r} goes through a symlink; symlinks are not followed")
    return Path(root).joinpath(*parts)


def read_text(path: Path, max_bytes: int) -> str:
    """A regular file's text, opened without following symlinks; at most ``max_bytes``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError as exc:
        raise ToolError("no such file") from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ToolError("the path is a symlink; symlinks are not followed") from exc
        raise ToolError(f"cannot open the file: {exc.strerror}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ToolError("not a regular file")
        if info.st_size > max_bytes:
            raise ToolError(f"the file has {info.st_size} bytes, over the {max_bytes}-byte limit")
        data = os.read(fd, max_bytes + 1)
    finally:
        os.close(fd)
    if b"\0" in data:
        raise ToolError("a binary file cannot be shown or edited")
    return data.decode("utf-8", errors="replace")


def check_write(
    root: Path, path: Path, content: str, max_bytes: int, virtual: frozenset[str] = frozenset()
) -> bytes:
    """Every check :func:`write_text` makes, without writing; returns the bytes to write.

    ``virtual``: files (relative) that count as written although they are not on disk (a copy
    not yet materialised); a path through one of them, or onto a directory they imply, fails as
    it would on disk.
    """
    data = content.encode("utf-8", errors="replace")
    if len(data) > max_bytes:
        raise ToolError(f"{len(data)} bytes is over the {max_bytes}-byte file limit")
    rel_parts = path.relative_to(root).parts
    current = root
    for i, part in enumerate(rel_parts[:-1]):
        current = current / part
        if "/".join(rel_parts[: i + 1]) in virtual:
            raise ToolError(f"{'/'.join(rel_parts[: i + 1])} is not a directory")
        if current.is_symlink():
            raise ToolError("the path goes through a symlink; symlinks are not followed")
        if current.exists() and not current.is_dir():
            raise ToolError(f"{current.relative_to(root)} is not a directory")
    rel = "/".join(rel_parts)
    implied_dir = any(v.startswith(rel + "/") for v in virtual)
    if implied_dir or (os.path.lexists(path) and (path.is_symlink() or not path.is_file())):
        raise ToolError("the target exists and is not a regular file")
    return data


def write_text(root: Path, path: Path, content: str, max_bytes: int) -> None:
    """Write ``content`` to ``path`` (inside ``root``), parents created, no symlink followed.

    The file is written beside the target and renamed over it, so a hard link is never
    written through and a symlink planted meanwhile is replaced, not followed.
    """
    data = check_write(root, path, content, max_bytes)
    current = root
    for part in path.relative_to(root).parts[:-1]:
        current = current / part
        if not current.exists():
            current.mkdir()
    tmp = path.with_name(f".{path.name}.selfplay-tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_EXCL
    if os.path.lexists(tmp):
        os.unlink(tmp)
    fd = os.open(tmp, flags, 0o644)
    try:
        view_ = memoryview(data)
        while view_:
            view_ = view_[os.write(fd, view_) :]
    finally:
        os.close(fd)
    os.replace(tmp, path)


def view(root: Path, call: ToolCall, *, max_bytes: int, max_chars: int) -> str:
    """The ``view`` tool's output (a numbered excerpt, or a directory listing)."""
    path = resolve_path(root, call.attrs.get("path", ""), allow_root=True)
    try:
        info = os.lstat(path)
    except FileNotFoundError as exc:
        raise ToolError(f"no such file or directory: {call.attrs.get('path', '')[:80]!r}") from exc
    if stat.S_ISDIR(info.st_mode):
        names = sorted(os.listdir(path))
        shown = []
        for name in names[:MAX_LIST_ENTRIES]:
            mode = os.lstat(path / name).st_mode
            suffix = "/" if stat.S_ISDIR(mode) else "@" if stat.S_ISLNK(mode) else ""
            # A name that is not UTF-8 reaches Python with surrogates, which no tokenizer can
            # encode: show its bad bytes as U+FFFD instead.
            shown.append(
                name.encode("utf-8", "surrogateescape").decode("utf-8", "replace") + suffix
            )
        more = len(names) - len(shown)
        return "\n".join(shown) + (f"\n... ({more} more)" if more > 0 else "") or "(empty)"
    lines = read_text(path, max_bytes).splitlines()
    first = max(1, int(call.attrs.get("start", "1") or 1))
    last = int(call.attrs.get("end", str(first + MAX_VIEW_LINES - 1)) or first)
    last = min(len(lines), last, first + MAX_VIEW_LINES - 1)
    if not lines:
        return "(empty file)"
    if first > len(lines):
        raise ToolError(f"the file has {len(lines)} lines; start={first} is past the end")
    width = len(str(last))
    out = "\n".join(f"{i:>{width}}  {lines[i - 1]}" for i in range(first, last + 1))
    if last < len(lines):
        out += f"\n... ({len(lines) - last} more lines; use start/end to see them)"
    return cap_output(out, max_chars)


def edit(root: Path, call: ToolCall, *, max_bytes: int) -> str:
    """The ``edit`` tool: one exact search-replace; returns a confirmation."""
    rel = call.attrs.get("path", "")
    path = resolve_path(root, rel)
    text = read_text(path, max_bytes)
    assert call.old is not None and call.new is not None
    count = text.count(call.old)
    if count == 0:
        raise ToolError(
            f"the <old> text was not found in {rel[:80]}; view the file and copy it exactly"
        )
    if count > 1:
        raise ToolError(f"the <old> text occurs {count} times in {rel[:80]}; include more context")
    write_text(root, path, text.replace(call.old, call.new, 1), max_bytes)
    return f"Edited {rel[:200]}: replaced 1 occurrence ({call.old.count(chr(10)) + 1} lines)."


def create(root: Path, call: ToolCall, *, max_bytes: int) -> str:
    """The ``create`` tool: write a whole file; returns a confirmation."""
    rel = call.attrs.get("path", "")
    path = resolve_path(root, rel)
    existed = os.path.lexists(path)
    write_text(root, path, call.body, max_bytes)
    verb = "Overwrote" if existed else "Created"
    return f"{verb} {rel[:200]} ({len(call.body)} characters)."


def cap_output(text: str, max_chars: int) -> str:
    """``text`` cut to ``max_chars``: its head and tail with a note of what was left out."""
    if len(text) <= max_chars:
        return text
    head = max_chars * 2 // 3
    tail = max_chars - head
    cut = len(text) - head - tail
    return f"{text[:head]}\n... [{cut} characters cut] ...\n{text[len(text) - tail :]}"


def bash_output(result: Any, max_chars: int, timeout_s: float) -> str:
    """The ``bash`` tool's observation of an :class:`~selfplay_gym.sandbox.ExecResult`."""
    out = result.stdout or ""
    if result.stderr:
        out += ("\n" if out and not out.endswith("\n") else "") + result.stderr
    out = cap_output(out, max_chars) if out else "(no output)"
    if result.timed_out:
        status = f"[killed: the command ran past the {timeout_s:g} s limit]"
    else:
        status = f"[exit code {result.returncode}]"
    if getattr(result, "truncated", False):
        status += " [output truncated]"
    return f"{out}\n{status}"
