r"""Harness-side patches: make, check, apply and reverse unified diffs in pure Python.

The harness never runs host ``git`` (or host Python) over a tree a model wrote: a planted
``.git/config`` or hook would run attacker code outside the sandbox. Instead this module makes
git-style unified diffs with :mod:`difflib` and applies them itself.

Every filesystem access goes through a descriptor walk from the root, one path component at a
time with ``O_NOFOLLOW``: a symlink anywhere on a path (a planted ``src -> /etc`` or a link file)
is refused, never followed, so nothing outside the root is read or written. Only regular files
are read, each at most :data:`MAX_FILE_BYTES`; devices, fifos and sockets are refused.

The diff dialect is the text subset of ``git diff``::

    diff --git a/src/pkg/mod.py b/src/pkg/mod.py
    --- a/src/pkg/mod.py            (or --- /dev/null for an added file)
    +++ b/src/pkg/mod.py            (or +++ /dev/null for a removed file)
    @@ -12,7 +12,7 @@ optional section text
     context
    -old
    +new
    \\ No newline at end of file

``new file mode 100644`` / ``deleted file mode 100644`` / ``index ...`` lines are accepted;
symlink modes (``120000``), mode changes, renames, copies and binary patches are refused with
:class:`PatchError`, as are absolute paths, ``..``, VCS directories (``.git/`` ...), quoted
names, a file patched twice, a diff over :data:`MAX_DIFF_BYTES`, and hunks whose context does not
match. :func:`apply_diff` checks every file before writing any, so a refused patch leaves the tree
as it was (a write that fails midway -- a full disk -- can still leave it partly applied).
"""

from __future__ import annotations

import difflib
import errno
import os
import re
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

__all__ = [
    "MAX_DIFF_BYTES",
    "MAX_FILE_BYTES",
    "FilePatch",
    "Hunk",
    "PatchError",
    "apply_diff",
    "check_relative_path",
    "diff_paths",
    "make_diff",
    "parse_diff",
    "read_file",
    "remove_file",
    "reverse_diff",
    "walk_files",
    "write_file",
]

MAX_FILE_BYTES = 1 << 20
"""Largest file read, written or patched (1 MiB)."""
MAX_DIFF_BYTES = 1 << 20
"""Largest diff text accepted (1 MiB)."""
MAX_WALK_FILES = 50_000
"""A tree with more files than this is refused by :func:`walk_files`."""
VCS_DIRS = frozenset({".git", ".hg", ".svn", ".bzr", "CVS", "_darcs", ".pijul", ".jj"})
"""Directory names a patch may never touch."""
SKIPPED_DIRS = frozenset(
    {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", ".tox", ".nox"}
)
"""Cache directories :func:`make_diff` ignores when it walks a tree (never diffed)."""
SKIPPED_SUFFIXES = (".pyc", ".pyo")
_HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")
_NO_NEWLINE = "\\ No newline at end of file"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class PatchError(ValueError):
    """A diff that is malformed, unsafe or does not apply (the message says which and where)."""


# ---------------------------------------------------------------- paths and safe file access


def check_relative_path(path: str, what: str = "path") -> str:
    """Validate a repo-relative posix path; return it normalised (``./`` and ``//`` dropped).

    Raises:
        PatchError: empty, absolute, containing ``..``, NUL, a newline, a backslash, or a VCS
            directory component.
    """
    if not isinstance(path, str) or not path:
        raise PatchError(f"{what}: expected a relative path, got {path!r}")
    if any(ch in path for ch in "\0\n\r\\"):
        raise PatchError(f"{what}: expected a plain path, got {path!r}")
    if path.startswith("/"):
        raise PatchError(f"{what}: absolute paths are refused, got {path!r}")
    parts = [p for p in PurePosixPath(path).parts if p not in ("", ".")]
    if not parts:
        raise PatchError(f"{what}: expected a file path, got {path!r}")
    if ".." in parts:
        raise PatchError(f"{what}: '..' is refused, got {path!r}")
    if any(p in VCS_DIRS for p in parts):
        raise PatchError(f"{what}: paths in version-control dirs are refused, got {path!r}")
    return "/".join(parts)


def _open_parent(root: Path, rel: str, *, create: bool = False) -> tuple[int, str]:
    """A descriptor of ``rel``'s parent dir, reached from ``root`` without following links.

    Returns ``(dir_fd, basename)``; the caller closes ``dir_fd``. With ``create`` missing
    directories are made (0755). Raises :class:`PatchError` on a symlink or non-directory on
    the way, :class:`FileNotFoundError` when a directory is missing and ``create`` is False.
    """
    parts = rel.split("/")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    try:
        for index, part in enumerate(parts[:-1]):
            try:
                next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                os.mkdir(part, 0o755, dir_fd=fd)
                next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                where = "/".join(parts[: index + 1])
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise PatchError(f"{rel}: {where} is a symlink or not a directory") from exc
                raise PatchError(f"{rel}: cannot open {where}: {exc.strerror}") from exc
            os.close(fd)
            fd = next_fd
    except BaseException:
        os.close(fd)
        raise
    return fd, parts[-1]


def read_file(
    root: str | os.PathLike, rel: str, *, max_bytes: int = MAX_FILE_BYTES
) -> bytes | None:
    """The bytes of ``root/rel``, or ``None`` when it does not exist.

    Never follows a symlink (on the path or the file itself) and reads only regular files of at
    most ``max_bytes``.

    Raises:
        PatchError: a symlink, directory, device, fifo or socket; an oversize file; a bad path.
    """
    rel = check_relative_path(rel)
    try:
        dir_fd, name = _open_parent(Path(root), rel)
    except FileNotFoundError:
        return None
    try:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise PatchError(f"{rel}: is a symlink (refused)") from exc
            raise PatchError(f"{rel}: cannot open: {exc.strerror}") from exc
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise PatchError(f"{rel}: not a regular file (refused)")
            if info.st_size > max_bytes:
                raise PatchError(f"{rel}: {info.st_size} bytes is over the {max_bytes}-byte limit")
            chunks, remaining = [], max_bytes + 1
            while remaining > 0:
                chunk = os.read(fd, min(remaining, 1 << 16))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
            data = b"".join(chunks)
            if len(data) > max_bytes:
                raise PatchError(f"{rel}: grew over the {max_bytes}-byte limit while read")
            return data
        finally:
            os.close(fd)
    finally:
        os.close(dir_fd)


def write_file(root: str | os.PathLike, rel: str, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``root/rel`` (parents created), never through a symlink.

    An existing symlink or non-regular file at ``rel`` is refused, not replaced.

    Raises:
        PatchError: a symlink or non-directory on the path, a symlink or special file at ``rel``.
    """
    rel = check_relative_path(rel)
    dir_fd, name = _open_parent(Path(root), rel, create=True)
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open(name, flags, mode, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise PatchError(f"{rel}: is a symlink (refused)") from exc
            raise PatchError(f"{rel}: cannot write: {exc.strerror}") from exc
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise PatchError(f"{rel}: not a regular file (refused)")
            os.ftruncate(fd, 0)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
    finally:
        os.close(dir_fd)


def remove_file(root: str | os.PathLike, rel: str) -> bool:
    """Unlink ``root/rel`` (a file or a symlink itself, never its target); False if absent.

    Raises:
        PatchError: ``rel`` is a directory, or a symlink sits on the path to it.
    """
    rel = check_relative_path(rel)
    try:
        dir_fd, name = _open_parent(Path(root), rel)
    except FileNotFoundError:
        return False
    try:
        os.unlink(name, dir_fd=dir_fd)
        return True
    except FileNotFoundError:
        return False
    except IsADirectoryError as exc:
        raise PatchError(f"{rel}: is a directory") from exc
    except OSError as exc:
        if exc.errno in (errno.EISDIR, errno.EPERM):
            raise PatchError(f"{rel}: is a directory") from exc
        raise PatchError(f"{rel}: cannot remove: {exc.strerror}") from exc
    finally:
        os.close(dir_fd)


@dataclass(frozen=True)
class WalkEntry:
    """One non-directory entry found by :func:`walk_files`."""

    path: str
    kind: str  # "file" | "symlink" | "special"


def walk_files(root: str | os.PathLike, *, skip_caches: bool = True) -> Iterator[WalkEntry]:
    """Every non-directory entry under ``root``, sorted by path; symlinked dirs are not entered.

    VCS dirs are skipped (never diffed), and cache dirs and bytecode too when ``skip_caches``.
    A symlink (to a file or a directory) is reported as ``"symlink"``, a device, fifo or socket as
    ``"special"``; callers decide. At most :data:`MAX_WALK_FILES` entries (PatchError beyond).
    """
    base = Path(root)
    found: list[WalkEntry] = []
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        with os.scandir(base / rel_dir if rel_dir else base) as entries:
            for entry in entries:
                rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                if entry.is_symlink():
                    found.append(WalkEntry(rel, "symlink"))
                elif entry.is_dir(follow_symlinks=False):
                    if entry.name in VCS_DIRS or (skip_caches and entry.name in SKIPPED_DIRS):
                        continue
                    stack.append(rel)
                    continue
                elif entry.is_file(follow_symlinks=False):
                    if skip_caches and entry.name.endswith(SKIPPED_SUFFIXES):
                        continue
                    found.append(WalkEntry(rel, "file"))
                else:
                    found.append(WalkEntry(rel, "special"))
                if len(found) > MAX_WALK_FILES:
                    raise PatchError(f"{root}: more than {MAX_WALK_FILES} files")
    yield from sorted(found, key=lambda e: e.path)


# ---------------------------------------------------------------- the diff model


@dataclass
class Hunk:
    r"""One ``@@`` hunk: 1-based starts, and ``(tag, text)`` lines with tag in ``" -+"``.

    ``text`` keeps its ``"\\n"`` unless the line was marked "No newline at end of file".
    """

    old_start: int
    old_count: int
    new_start: int
    new_count: int
    lines: list[tuple[str, str]] = field(default_factory=list)
    section: str = ""

    def old_lines(self) -> list[str]:
        """The lines this hunk expects (context and removals)."""
        return [text for tag, text in self.lines if tag != "+"]

    def new_lines(self) -> list[str]:
        """The lines this hunk leaves (context and additions)."""
        return [text for tag, text in self.lines if tag != "-"]


@dataclass
class FilePatch:
    """The changes to one file.

    ``path`` is repo-relative; ``is_new``/``is_deleted`` mark ``/dev/null`` on the old/new side.
    """

    path: str
    is_new: bool = False
    is_deleted: bool = False
    hunks: list[Hunk] = field(default_factory=list)


def _header_path(value: str, side: str, lineno: int) -> str | None:
    """The path in a ``---``/``+++`` header (``None`` for /dev/null), a/ or b/ stripped."""
    value = value.split("\t", 1)[0].rstrip("\r")
    if value == "/dev/null":
        return None
    if value.startswith('"'):
        raise PatchError(f"line {lineno}: quoted file names are refused, got {value!r}")
    prefix = "a/" if side == "old" else "b/"
    if value.startswith(prefix):
        value = value[2:]
    return check_relative_path(value, f"line {lineno}")


_REFUSED_HEADERS = {
    "old mode": "mode changes are refused",
    "new mode": "mode changes are refused",
    "rename from": "renames are refused",
    "rename to": "renames are refused",
    "copy from": "copies are refused",
    "copy to": "copies are refused",
    "similarity index": "renames and copies are refused",
    "dissimilarity index": "renames and copies are refused",
    "GIT binary patch": "binary patches are refused",
    "Binary files": "binary patches are refused",
}


def parse_diff(diff: str) -> list[FilePatch]:
    """Parse a unified diff (see the module docstring for the dialect) into :class:`FilePatch`es.

    Raises:
        PatchError: malformed, unsafe (paths, modes, binary, renames) or oversize input.
    """
    if not isinstance(diff, str):
        raise PatchError(f"expected the diff as str, got {type(diff).__name__}")
    if len(diff.encode("utf-8", "surrogatepass")) > MAX_DIFF_BYTES:
        raise PatchError(f"the diff is over the {MAX_DIFF_BYTES}-byte limit")
    if "\0" in diff:
        raise PatchError("the diff contains NUL bytes (binary content is refused)")
    lines = diff.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    patches: list[FilePatch] = []
    seen: set[str] = set()
    i = 0
    pending_new = pending_deleted = False
    while i < len(lines):
        line = lines[i].rstrip("\r")
        lineno = i + 1
        for prefix, reason in _REFUSED_HEADERS.items():
            if line.startswith(prefix):
                raise PatchError(f"line {lineno}: {reason} ({line[:60]!r})")
        if line.startswith(("new file mode", "deleted file mode")):
            mode = line.rsplit(" ", 1)[-1]
            if mode not in ("100644", "100755"):
                raise PatchError(f"line {lineno}: file mode {mode} is refused (symlink or other)")
            if line.startswith("new"):
                pending_new = True
            else:
                pending_deleted = True
            i += 1
            continue
        if line.startswith("diff --git "):
            pending_new = pending_deleted = False
            i += 1
            continue
        if not line.startswith("--- "):
            if line.startswith(("@@", "+++ ")):
                raise PatchError(f"line {lineno}: {line[:3]!r} without a '--- ' file header")
            i += 1  # preamble, 'index' lines, commit text: ignored
            continue
        if i + 1 >= len(lines) or not lines[i + 1].startswith("+++ "):
            raise PatchError(f"line {lineno}: '--- ' not followed by a '+++ ' header")
        old = _header_path(line[4:], "old", lineno)
        new = _header_path(lines[i + 1].rstrip("\r")[4:], "new", lineno + 1)
        if old is None and new is None:
            raise PatchError(f"line {lineno}: both sides are /dev/null")
        if old is not None and new is not None and old != new:
            raise PatchError(f"line {lineno}: renames are refused ({old!r} -> {new!r})")
        path = new if new is not None else old
        assert path is not None
        if path in seen:
            raise PatchError(f"line {lineno}: {path!r} is patched twice")
        seen.add(path)
        patch = FilePatch(path, is_new=old is None, is_deleted=new is None)
        if (pending_new and not patch.is_new) or (pending_deleted and not patch.is_deleted):
            raise PatchError(f"line {lineno}: new/deleted file header disagrees with /dev/null")
        pending_new = pending_deleted = False
        i += 2
        while i < len(lines) and lines[i].startswith("@@"):
            i = _parse_hunk(lines, i, patch)
        if not patch.hunks and not (patch.is_new or patch.is_deleted):
            raise PatchError(f"line {lineno}: {path!r} has no hunks")
        patches.append(patch)
    if pending_new or pending_deleted:
        raise PatchError("a new/deleted file header without '---'/'+++' lines")
    return patches


def _parse_hunk(lines: list[str], i: int, patch: FilePatch) -> int:
    header = lines[i].rstrip("\r")
    match = _HUNK_RE.match(header)
    if not match:
        raise PatchError(f"line {i + 1}: malformed hunk header {header[:60]!r}")
    old_start, new_start = int(match.group(1)), int(match.group(3))
    old_count = int(match.group(2)) if match.group(2) is not None else 1
    new_count = int(match.group(4)) if match.group(4) is not None else 1
    hunk = Hunk(old_start, old_count, new_start, new_count, section=match.group(5))
    if patch.is_new and (old_count or old_start):
        raise PatchError(f"line {i + 1}: a new file's hunk must start at -0,0")
    if patch.is_deleted and (new_count or new_start):
        raise PatchError(f"line {i + 1}: a deleted file's hunk must end at +0,0")
    i += 1
    seen_old = seen_new = 0
    while seen_old < old_count or seen_new < new_count:
        if i >= len(lines):
            raise PatchError(f"hunk at line {i}: the diff ends inside the hunk")
        raw = lines[i]
        tag, text = (raw[:1], raw[1:]) if raw else (" ", "")  # a blank line is empty context
        if tag not in " -+":
            raise PatchError(f"line {i + 1}: expected ' ', '-' or '+' in a hunk, got {raw[:60]!r}")
        if tag != "+":
            seen_old += 1
        if tag != "-":
            seen_new += 1
        if seen_old > old_count or seen_new > new_count:
            raise PatchError(f"line {i + 1}: the hunk has more lines than its header says")
        hunk.lines.append((tag, text + "\n"))
        i += 1
        if i < len(lines) and lines[i].startswith("\\"):
            tag_, text_ = hunk.lines[-1]
            hunk.lines[-1] = (tag_, text_[:-1])
            i += 1
    if i < len(lines) and lines[i].startswith("\\"):
        raise PatchError(f"line {i + 1}: a stray 'No newline' marker")
    if patch.hunks and hunk.old_start < patch.hunks[-1].old_start:
        raise PatchError(f"line {i}: hunks out of order")
    patch.hunks.append(hunk)
    return i


def _render(patches: Sequence[FilePatch]) -> str:
    out: list[str] = []
    for patch in patches:
        out.append(f"diff --git a/{patch.path} b/{patch.path}\n")
        if patch.is_new:
            out.append("new file mode 100644\n")
        if patch.is_deleted:
            out.append("deleted file mode 100644\n")
        out.append("--- /dev/null\n" if patch.is_new else f"--- a/{patch.path}\n")
        out.append("+++ /dev/null\n" if patch.is_deleted else f"+++ b/{patch.path}\n")
        for hunk in patch.hunks:
            out.append(
                f"@@ -{_range(hunk.old_start, hunk.old_count)} "
                f"+{_range(hunk.new_start, hunk.new_count)} @@{hunk.section}\n"
            )
            for tag, text in hunk.lines:
                if text.endswith("\n"):
                    out.append(tag + text)
                else:
                    out.append(tag + text + "\n" + _NO_NEWLINE + "\n")
    return "".join(out)


def _range(start: int, count: int) -> str:
    return str(start) if count == 1 else f"{start},{count}"


# ---------------------------------------------------------------- public operations


def _decode(data: bytes, rel: str) -> str:
    if b"\0" in data:
        raise PatchError(f"{rel}: binary file (refused)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PatchError(f"{rel}: not UTF-8 text (refused)") from exc


def _split(text: str) -> list[str]:
    """Lines with their newline (only a newline separates lines, unlike ``str.splitlines``)."""
    lines = text.split("\n")
    last = lines.pop()
    out = [line + "\n" for line in lines]
    if last:
        out.append(last)
    return out


def _tree_entries(root: Path) -> dict[str, str]:
    return {entry.path: entry.kind for entry in walk_files(root)}


def make_diff(
    before_root: str | os.PathLike,
    after_root: str | os.PathLike,
    paths: Sequence[str] | None = None,
) -> str:
    """The git-style unified diff (3 lines of context) turning ``before_root`` into ``after_root``.

    ``paths`` (relative) limits the diff to those files; without it both trees are walked (VCS
    and cache dirs and bytecode skipped). Files are sorted by path; a file present on one side
    only is an addition or removal against ``/dev/null``. Returns ``""`` when nothing differs.

    Raises:
        PatchError: a differing symlink, special file, binary/non-UTF-8 or oversize file, or a
            bad path in ``paths``.
    """
    before, after = Path(before_root), Path(after_root)
    if paths is None:
        left, right = _tree_entries(before), _tree_entries(after)
        candidates = sorted(set(left) | set(right))
        for rel in candidates:
            kinds = {left.get(rel), right.get(rel)} - {None, "file"}
            if kinds:
                if left.get(rel) == right.get(rel) == "symlink" and os.readlink(
                    before / rel
                ) == os.readlink(after / rel):
                    continue  # an unchanged link of the project itself
                raise PatchError(f"{rel}: a {kinds.pop()} differs between the trees (refused)")
    else:
        candidates = sorted({check_relative_path(p, "paths") for p in paths})
    patches = []
    for rel in candidates:
        old_bytes, new_bytes = read_file(before, rel), read_file(after, rel)
        if old_bytes == new_bytes:
            continue
        old = _split(_decode(old_bytes, rel)) if old_bytes is not None else None
        new = _split(_decode(new_bytes, rel)) if new_bytes is not None else None
        patches.append(_file_patch(rel, old, new))
    text = _render(patches)
    if len(text.encode("utf-8")) > MAX_DIFF_BYTES:
        raise PatchError(f"the diff would be over the {MAX_DIFF_BYTES}-byte limit")
    return text


def _file_patch(rel: str, old: list[str] | None, new: list[str] | None) -> FilePatch:
    patch = FilePatch(rel, is_new=old is None, is_deleted=new is None)
    a, b = old or [], new or []
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(3):
        i1, i2 = group[0][1], group[-1][2]
        j1, j2 = group[0][3], group[-1][4]
        hunk = Hunk(
            i1 + 1 if i2 > i1 else i1,
            i2 - i1,
            j1 + 1 if j2 > j1 else j1,
            j2 - j1,
        )
        for tag, x1, x2, y1, y2 in group:
            if tag == "equal":
                hunk.lines.extend((" ", line) for line in a[x1:x2])
                continue
            hunk.lines.extend(("-", line) for line in a[x1:x2])
            hunk.lines.extend(("+", line) for line in b[y1:y2])
        patch.hunks.append(hunk)
    return patch


def _locate(content: list[str], want: list[str], expected: int, floor: int) -> int | None:
    """Index at or after ``floor`` where ``want`` matches ``content``, nearest ``expected``."""
    size = len(want)
    last = len(content) - size
    if last < floor:
        return None
    expected = min(max(expected, floor), last)
    for distance in range(0, max(expected - floor, last - expected) + 1):
        for pos in (expected - distance, expected + distance):
            if floor <= pos <= last and content[pos : pos + size] == want:
                return pos
    return None


def _apply_file(patch: FilePatch, content: list[str]) -> list[str]:
    result: list[str] = []
    cursor = 0
    offset = 0
    for number, hunk in enumerate(patch.hunks, 1):
        want = hunk.old_lines()
        expected = (hunk.old_start - 1 if hunk.old_count else hunk.old_start) + offset
        pos = _locate(content, want, expected, cursor)
        if pos is None:
            raise PatchError(
                f"{patch.path}: hunk {number} (@@ -{hunk.old_start},{hunk.old_count}) does not "
                "match the file (context mismatch)"
            )
        result.extend(content[cursor:pos])
        result.extend(hunk.new_lines())
        cursor = pos + len(want)
        offset = pos - (hunk.old_start - 1 if hunk.old_count else hunk.old_start)
    result.extend(content[cursor:])
    return result


def _reversed(patches: Sequence[FilePatch]) -> list[FilePatch]:
    flipped = []
    for patch in patches:
        swap = {" ": " ", "-": "+", "+": "-"}
        hunks = []
        for hunk in patch.hunks:
            lines = [(swap[tag], text) for tag, text in hunk.lines]
            # keep removals before additions inside each changed run, as diff tools print them
            ordered: list[tuple[str, str]] = []
            run: list[tuple[str, str]] = []
            for item in lines + [(" ", "")]:
                if item[0] == " ":
                    ordered.extend(sorted(run, key=lambda it: it[0] != "-"))
                    run = []
                    ordered.append(item)
                else:
                    run.append(item)
            ordered.pop()
            hunks.append(
                Hunk(
                    hunk.new_start,
                    hunk.new_count,
                    hunk.old_start,
                    hunk.old_count,
                    ordered,
                    hunk.section,
                )  # fmt: skip
            )
        flipped.append(FilePatch(patch.path, patch.is_deleted, patch.is_new, hunks))
    return flipped


def apply_diff(
    root: str | os.PathLike,
    diff: str,
    *,
    reverse: bool = False,
    allowed: Callable[[str], bool] | None = None,
) -> list[str]:
    """Apply ``diff`` (or its reverse) to the tree at ``root`` in place.

    Hunks may sit at shifted line numbers (the nearest exact match of their context is used) but
    their context must match exactly. Every file is patched in memory and checked before any is
    written. Returns the touched relative paths in diff order.

    Raises:
        PatchError: a malformed or unsafe diff (see the module docstring), a path ``allowed``
            refuses, a file to add that exists, a file to patch or remove that is missing or
            whose content differs, a symlink on a path, or an oversize result.
    """
    patches = parse_diff(diff)
    if reverse:
        patches = _reversed(patches)
    base = Path(root)
    staged: list[tuple[str, bytes | None]] = []
    for patch in patches:
        if allowed is not None and not allowed(patch.path):
            raise PatchError(f"{patch.path}: this diff may not touch this file")
        current = read_file(base, patch.path)
        if patch.is_new:
            if current is not None:
                raise PatchError(f"{patch.path}: the diff adds it but it exists")
            content: list[str] = []
        else:
            if current is None:
                raise PatchError(f"{patch.path}: the diff patches it but it does not exist")
            content = _split(_decode(current, patch.path))
        updated = _apply_file(patch, content)
        if patch.is_deleted:
            if updated:
                raise PatchError(f"{patch.path}: the diff deletes it but does not remove all lines")
            staged.append((patch.path, None))
            continue
        data = "".join(updated).encode("utf-8")
        if len(data) > MAX_FILE_BYTES:
            raise PatchError(f"{patch.path}: the patched file is over {MAX_FILE_BYTES} bytes")
        staged.append((patch.path, data))
    for rel, data in staged:
        if data is None:
            remove_file(base, rel)
        else:
            write_file(base, rel, data)
    return [rel for rel, _ in staged]


def diff_paths(diff: str) -> list[str]:
    """The relative paths of the files ``diff`` touches, in diff order.

    Validated as by :func:`apply_diff`; raises :class:`PatchError` otherwise.
    """
    return [patch.path for patch in parse_diff(diff)]


def reverse_diff(diff: str) -> str:
    """The diff that undoes ``diff`` (re-rendered in the canonical form :func:`make_diff` uses)."""
    return _render(_reversed(parse_diff(diff)))
