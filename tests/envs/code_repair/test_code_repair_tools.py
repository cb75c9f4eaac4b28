"""The tool-call format of selfplay/BugInjectRepair-v0: parsing, path checks, file tools (host-side only)."""

from __future__ import annotations

import os
import time
from types import SimpleNamespace

import pytest

from selfplay_gym.envs.code_repair.tools import (
    ToolError,
    bash_output,
    cap_output,
    create,
    edit,
    parse_tool_call,
    resolve_path,
    view,
)


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "repo"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "mod.py").write_text(
        "def f(x):\n    return x + 1\n\n\ndef g():\n    return 2\n"
    )
    (root / "README.md").write_text("hello\n")
    return root


# ---- parsing ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, name, body",
    [
        ("<bash>ls -la</bash>", "bash", "ls -la"),
        ("I will list files.\n<bash>\nls\n</bash>\ntrailing", "bash", "ls"),
        ("<think>maybe <bash>rm</bash></think> <bash>pwd</bash>", "bash", "pwd"),
        ("<submit/>", "submit", ""),
        ("<submit>", "submit", ""),
        ('<submit>{"a": 1}</submit>', "submit", '{"a": 1}'),
    ],
)
def test_parse_reads_the_first_call(text, name, body):
    call, error = parse_tool_call(text)
    assert error is None and call.name == name and call.body == body


def test_parse_view_attributes_and_bare_numbers():
    call, _ = parse_tool_call('<view path="src/pkg/mod.py" start=2 end="4"/>')
    assert call.attrs == {"path": "src/pkg/mod.py", "start": "2", "end": "4"}
    call, _ = parse_tool_call("<view path='a.py'>")
    assert call.attrs == {"path": "a.py"}


def test_parse_edit_and_create_bodies():
    call, _ = parse_tool_call(
        '<edit path="m.py">\n<old>\n    return x + 1\n</old>\n<new>\n    return x - 1\n</new>\n</edit>'
    )
    assert (call.old, call.new) == ("    return x + 1", "    return x - 1")
    call, _ = parse_tool_call('<create path="n.py">\nprint("</create> inside")\n</create>')
    assert call.body == 'print("</create> inside")\n', "the body runs to the last closing tag"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "no tool call"),
        ("just talk", "no tool call"),
        ("<bash></bash>", "needs a command"),
        ("<bash>ls", "no closing"),
        ("<view/>", "needs a path"),
        ('<view path="a" start="x"/>', "line number"),
        ('<edit path="a"><new>x</new></edit>', "<old>"),
        ('<edit path="a"><old></old><new>x</new></edit>', "empty"),
        ('<create path="a">x', "no closing"),
        ("<bash junk=>ls</bash>", "attributes"),
        ("<view " + "a" * 5000, "not closed"),
    ],
)
def test_parse_errors_say_what_is_wrong(text, fragment):
    call, error = parse_tool_call(text)
    assert call is None and fragment in error


def test_parse_is_linear_in_the_reply_length():
    def cost(n):
        text = "<bash x" * n
        t = time.perf_counter()
        parse_tool_call(text)
        parse_tool_call("<edit path='a'>" + "<old>" * n)
        return time.perf_counter() - t

    cost(1000)
    assert cost(200_000) < 100 * max(cost(20_000), 1e-4)


# ---- paths --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "rel",
    ["/etc/passwd", "../../etc/passwd", "src/../../x", "~/.ssh/id_rsa", "", "a\0b", "x" * 300],
)
def test_paths_outside_the_copy_are_refused(tree, rel):
    with pytest.raises(ToolError):
        resolve_path(tree, rel)


def test_symlinks_are_never_followed(tree):
    os.symlink("/etc/passwd", tree / "passwd")
    os.symlink("/etc", tree / "etcdir")
    for rel in ("passwd", "etcdir/passwd", "etcdir/hostname"):
        with pytest.raises(ToolError, match="symlink"):
            resolve_path(tree, rel)
    call, _ = parse_tool_call('<view path="passwd"/>')
    with pytest.raises(ToolError):
        view(tree, call, max_bytes=1 << 16, max_chars=4000)
    call, _ = parse_tool_call('<create path="etcdir/evil">x</create>')
    with pytest.raises(ToolError):
        create(tree, call, max_bytes=1 << 16)
    assert not os.path.exists("/etc/evil")


# ---- file tools ---------------------------------------------------------------------------------
def test_view_numbers_lines_and_lists_directories(tree):
    out = view(
        tree,
        parse_tool_call('<view path="src/pkg/mod.py" start="2" end="3"/>')[0],
        max_bytes=1 << 16,
        max_chars=4000,
    )
    assert out.splitlines()[0] == "2      return x + 1"
    listing = view(tree, parse_tool_call('<view path="."/>')[0], max_bytes=1 << 16, max_chars=4000)
    assert listing.splitlines() == ["README.md", "src/"]


def test_a_listed_name_that_is_not_utf8_is_shown_encodable(tree):
    os.mkdir(os.path.join(os.fsencode(tree), b"bad\xffname"))
    listing = view(tree, parse_tool_call('<view path="."/>')[0], max_bytes=1 << 16, max_chars=4000)
    assert "bad\ufffdname/" in listing.splitlines()
    listing.encode("utf-8")  # a tokenizer's first step: no lone surrogates


def test_edit_replaces_exactly_one_occurrence(tree):
    call, _ = parse_tool_call('<edit path="src/pkg/mod.py"><old>x + 1</old><new>x - 1</new></edit>')
    assert "Edited" in edit(tree, call, max_bytes=1 << 16)
    assert "x - 1" in (tree / "src/pkg/mod.py").read_text()
    call, _ = parse_tool_call(
        '<edit path="src/pkg/mod.py"><old>return</old><new>yield</new></edit>'
    )
    with pytest.raises(ToolError, match="2 times"):
        edit(tree, call, max_bytes=1 << 16)
    call, _ = parse_tool_call('<edit path="src/pkg/mod.py"><old>absent</old><new>x</new></edit>')
    with pytest.raises(ToolError, match="not found"):
        edit(tree, call, max_bytes=1 << 16)


def test_create_writes_parents_and_caps_size(tree):
    call, _ = parse_tool_call('<create path="new/dir/f.py">x = 1\n</create>')
    assert "Created" in create(tree, call, max_bytes=100)
    assert (tree / "new/dir/f.py").read_text() == "x = 1\n"
    call, _ = parse_tool_call('<create path="big.py">' + "x" * 500 + "</create>")
    with pytest.raises(ToolError, match="limit"):
        create(tree, call, max_bytes=100)


def test_outputs_are_capped_with_a_note():
    text = cap_output("a" * 10_000 + "END", 300)
    assert len(text) < 400 and text.endswith("END") and "characters cut" in text
    result = SimpleNamespace(stdout="x" * 50_000, stderr="", timed_out=True, returncode=None)
    out = bash_output(result, 1000, 5.0)
    assert len(out) < 1200 and "killed" in out and "5 s" in out
