"""Harness-side diffs: round trips, the git dialect, and every refusal (paths, links, modes,
binary, oversize, context mismatch, ``allowed``) -- without host git or the sandbox."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from selfplay_gym.envs.code_repair.diffs import (
    MAX_FILE_BYTES,
    PatchError,
    apply_diff,
    diff_paths,
    make_diff,
    read_file,
    reverse_diff,
    write_file,
)


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _snapshot(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


BEFORE = {
    "src/pkg/a.py": "".join(f"line {i}\n" for i in range(40)),
    "src/pkg/gone.py": "x = 1\ny = 2\n",
    "src/pkg/nonl.py": "first\nlast without newline",
    "README.md": "hello\n",
}
AFTER = {
    "src/pkg/a.py": "".join(
        ("CHANGED 3\n" if i == 3 else f"line {i}\n") for i in range(40) if i != 30
    )
    + "appended\n",
    "src/pkg/new.py": "def f():\n    return 1\n",
    "src/pkg/nonl.py": "first\nlast now ends\n",
    "README.md": "hello\n",
}


def test_make_apply_reverse_round_trip(tmp_path):
    before = _tree(tmp_path / "before", BEFORE)
    after = _tree(tmp_path / "after", AFTER)
    diff = make_diff(before, after)
    assert diff_paths(diff) == [
        "src/pkg/a.py",
        "src/pkg/gone.py",
        "src/pkg/new.py",
        "src/pkg/nonl.py",
    ]
    assert "--- /dev/null\n+++ b/src/pkg/new.py" in diff
    assert "--- a/src/pkg/gone.py\n+++ /dev/null" in diff
    assert "\\ No newline at end of file" in diff
    work = tmp_path / "work"
    shutil.copytree(before, work)
    touched = apply_diff(work, diff)
    assert touched == diff_paths(diff)
    assert _snapshot(work) == _snapshot(after)
    apply_diff(work, diff, reverse=True)
    assert _snapshot(work) == _snapshot(before)
    apply_diff(work, reverse_diff(reverse_diff(diff)))
    assert _snapshot(work) == _snapshot(after)
    assert make_diff(before, before) == ""
    # paths= limits the diff to those files
    assert diff_paths(make_diff(before, after, ["README.md", "src/pkg/gone.py"])) == [
        "src/pkg/gone.py"
    ]


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_apply_accepts_our_diffs_and_we_accept_gits(tmp_path):
    """The dialect is git's: git applies what we make, we apply what git makes (our own trees)."""
    before = _tree(tmp_path / "before", BEFORE)
    after = _tree(tmp_path / "after", AFTER)
    diff = make_diff(before, after)
    work = tmp_path / "work"
    shutil.copytree(before, work)
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"}
    subprocess.run(["git", "apply", "-"], input=diff.encode(), cwd=work, check=True, env=env)
    assert _snapshot(work) == _snapshot(after)
    git = subprocess.run(
        ["git", "diff", "--no-index", "--no-ext-diff", "before", "after"],
        cwd=tmp_path,
        capture_output=True,
        env=env,
    ).stdout.decode()
    git = git.replace("a/before/", "a/").replace("b/after/", "b/")
    work2 = tmp_path / "work2"
    shutil.copytree(before, work2)
    apply_diff(work2, git)
    assert _snapshot(work2) == _snapshot(after)


def test_random_edits_round_trip(tmp_path):
    rng = random.Random(7)
    for trial in range(30):
        lines = [f"{rng.choice('abc')} {rng.randint(0, 5)}\n" for _ in range(rng.randint(0, 30))]
        edited = list(lines)
        for _ in range(rng.randint(1, 6)):
            op = rng.random()
            pos = rng.randint(0, len(edited))
            if op < 0.4 and edited and pos < len(edited):
                del edited[pos]
            elif op < 0.7:
                edited.insert(pos, f"new {rng.randint(0, 9)}\n")
            elif edited and pos < len(edited):
                edited[pos] = "changed\n"
        if rng.random() < 0.3 and edited:
            edited[-1] = edited[-1].rstrip("\n")
        a = _tree(tmp_path / f"a{trial}", {"f.txt": "".join(lines)})
        b = _tree(tmp_path / f"b{trial}", {"f.txt": "".join(edited)})
        diff = make_diff(a, b)
        apply_diff(a, diff)
        assert (a / "f.txt").read_text() == "".join(edited)
        apply_diff(a, diff, reverse=True)
        assert (a / "f.txt").read_text() == "".join(lines)


def test_hunks_apply_at_shifted_lines_but_context_must_match(tmp_path):
    before = _tree(tmp_path / "b", {"m.py": "a\nb\nc\nd\ne\n"})
    after = _tree(tmp_path / "a", {"m.py": "a\nb\nC\nd\ne\n"})
    diff = make_diff(before, after)
    shifted = _tree(tmp_path / "s", {"m.py": "zero\nzero\na\nb\nc\nd\ne\n"})
    apply_diff(shifted, diff)
    assert (shifted / "m.py").read_text() == "zero\nzero\na\nb\nC\nd\ne\n"
    other = _tree(tmp_path / "o", {"m.py": "a\nb\nX\nd\ne\n"})
    with pytest.raises(PatchError, match="context mismatch"):
        apply_diff(other, diff)
    assert (other / "m.py").read_text() == "a\nb\nX\nd\ne\n"


def _one_file_diff(path: str, old: str = "a/{p}", new: str = "b/{p}") -> str:
    return (
        f"diff --git a/{path} b/{path}\n--- {old.format(p=path)}\n+++ {new.format(p=path)}\n"
        "@@ -1 +1 @@\n-x\n+y\n"
    )


@pytest.mark.parametrize(
    ("diff", "reason"),
    [
        (_one_file_diff("/etc/passwd", "/etc/passwd", "/etc/passwd"), "absolute"),
        (_one_file_diff("../outside.py"), r"'\.\.'"),
        (_one_file_diff("src/../../x.py"), r"'\.\.'"),
        (_one_file_diff(".git/hooks/pre-commit"), "version-control"),
        (_one_file_diff("pkg/.hg/hgrc"), "version-control"),
        ("--- /dev/null\n+++ b/link\nnew file mode 120000\n", "mode 120000"),
        (
            "diff --git a/l b/l\nnew file mode 120000\n--- /dev/null\n+++ b/l\n@@ -0,0 +1 @@\n+/etc\n",
            "mode 120000",
        ),
        ("diff --git a/x b/x\nold mode 100644\nnew mode 100755\n", "mode changes"),
        ("diff --git a/x b/y\nsimilarity index 90%\nrename from x\nrename to y\n", "renames"),
        ("--- a/x\n+++ b/y\n@@ -1 +1 @@\n-x\n+y\n", "renames"),
        ("diff --git a/x b/x\nBinary files a/x and b/x differ\n", "binary"),
        ("diff --git a/x b/x\nGIT binary patch\nliteral 1\n", "binary"),
        ('--- "a/x y"\n+++ "b/x y"\n@@ -1 +1 @@\n-x\n+y\n', "quoted"),
        ("--- a/x\n+++ b/x\n@@ -1,3 +1 @@\n-x\n+y\n", "ends inside the hunk"),
        ("--- a/x\n+++ b/x\n@@ junk @@\n-x\n+y\n", "malformed hunk header"),
        ("--- a/x\n+++ b/x\n@@ -1 +1 @@\n?x\n", "expected ' ', '-' or '\\+'"),
        ("@@ -1 +1 @@\n-x\n+y\n", "without a '--- ' file header"),
        (_one_file_diff("x") + _one_file_diff("x"), "patched twice"),
        ("--- a/x\n+++ b/x\n", "no hunks"),
        ("--- a/x\0\n+++ b/x\n", "NUL"),
        ("--- a/x\n+++ b/x\n@@ -1 +1 @@\n" + "-" + "x" * (1 << 20) + "\n+y\n", "byte limit"),
    ],
)
def test_malformed_or_unsafe_diffs_are_refused_with_the_reason(tmp_path, diff, reason):
    (tmp_path / "x").write_text("x\n")
    with pytest.raises(PatchError, match=reason):
        apply_diff(tmp_path, diff)
    with pytest.raises(PatchError, match=reason):
        diff_paths(diff)
    assert (tmp_path / "x").read_text() == "x\n"


def test_a_symlink_on_the_path_is_refused_never_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("x\n")
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(outside, root / "src")  # a directory link out of the root
    with pytest.raises(PatchError, match="symlink"):
        apply_diff(root, _one_file_diff("src/secret.py"))
    assert (outside / "secret.py").read_text() == "x\n"
    with pytest.raises(PatchError, match="symlink"):
        read_file(root, "src/secret.py")
    new = "--- /dev/null\n+++ b/src/planted.py\n@@ -0,0 +1 @@\n+boom\n"
    with pytest.raises(PatchError, match="symlink"):
        apply_diff(root, new)
    assert not (outside / "planted.py").exists()
    os.symlink(outside / "secret.py", root / "link.py")  # a file link
    with pytest.raises(PatchError, match="symlink"):
        apply_diff(root, _one_file_diff("link.py"))
    with pytest.raises(PatchError, match="symlink"):
        write_file(root, "link.py", b"y\n")
    assert (outside / "secret.py").read_text() == "x\n"


def test_make_diff_refuses_links_devices_binary_and_oversize(tmp_path):
    a = _tree(tmp_path / "a", {"f.py": "x\n"})
    b = _tree(tmp_path / "b", {"f.py": "x\n"})
    os.symlink("/etc/passwd", b / "leak.py")
    with pytest.raises(PatchError, match="symlink"):
        make_diff(a, b)
    with pytest.raises(PatchError, match="symlink"):
        make_diff(a, b, ["leak.py"])
    os.unlink(b / "leak.py")
    os.mkfifo(b / "pipe")
    with pytest.raises(PatchError, match="special"):
        make_diff(a, b)
    with pytest.raises(PatchError, match="regular"):
        make_diff(a, b, ["pipe"])
    os.unlink(b / "pipe")
    (b / "blob.bin").write_bytes(b"\x00\x01")
    with pytest.raises(PatchError, match="binary"):
        make_diff(a, b)
    os.unlink(b / "blob.bin")
    (b / "big.py").write_bytes(b"x" * (MAX_FILE_BYTES + 1))
    with pytest.raises(PatchError, match="limit"):
        make_diff(a, b)
    os.unlink(b / "big.py")
    # caches, bytecode and VCS dirs are never diffed
    (b / "__pycache__").mkdir()
    (b / "__pycache__" / "f.cpython-311.pyc").write_bytes(b"\x00")
    (b / ".git").mkdir()
    (b / ".git" / "config").write_text("[core]\n\tfsmonitor = evil\n")
    assert make_diff(a, b) == ""


def test_allowed_refuses_paths_before_anything_is_written(tmp_path):
    before = _tree(tmp_path / "b", {"src/m.py": "x\n", "tests/test_m.py": "x\n"})
    after = _tree(tmp_path / "a", {"src/m.py": "y\n", "tests/test_m.py": "y\n"})
    diff = make_diff(before, after)
    work = tmp_path / "w"
    shutil.copytree(before, work)
    with pytest.raises(PatchError, match="tests/test_m.py: this diff may not touch"):
        apply_diff(work, diff, allowed=lambda p: not p.startswith("tests/"))
    assert _snapshot(work) == _snapshot(before)  # src/m.py untouched too


def test_add_existing_patch_missing_and_partial_delete_are_refused(tmp_path):
    root = _tree(tmp_path / "r", {"m.py": "x\ny\n"})
    with pytest.raises(PatchError, match="exists"):
        apply_diff(root, "--- /dev/null\n+++ b/m.py\n@@ -0,0 +1 @@\n+x\n")
    with pytest.raises(PatchError, match="does not exist"):
        apply_diff(root, _one_file_diff("missing.py"))
    with pytest.raises(PatchError, match="does not remove all"):
        apply_diff(root, "--- a/m.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n")
    # an empty new file (git prints no hunk for it) and its removal
    diff = "diff --git a/e.py b/e.py\nnew file mode 100644\n--- /dev/null\n+++ b/e.py\n"
    assert apply_diff(root, diff) == ["e.py"]
    assert (root / "e.py").read_bytes() == b""
    apply_diff(root, diff, reverse=True)
    assert not (root / "e.py").exists()


def test_only_newline_separates_lines(tmp_path):
    # str.splitlines would split at \x0c and \u2028; a diff must not.
    a = _tree(tmp_path / "a", {"m.py": "a\x0cb\u2028c\nd\n"})
    b = _tree(tmp_path / "b", {"m.py": "a\x0cb\u2028c\nD\n"})
    diff = make_diff(a, b)
    apply_diff(a, diff)
    assert (a / "m.py").read_text() == "a\x0cb\u2028c\nD\n"
