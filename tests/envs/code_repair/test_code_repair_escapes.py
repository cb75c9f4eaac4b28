"""Escape and reward-hacking attempts by a solver of selfplay/BugInjectRepair-v0, through the env.

Each test plays one solver's tool calls on a rule-injected bug of the embedded repository and
says how the attempt is blocked. Every hack is tried *without* repairing the bug, so "blocked"
means the repair is still scored as unsolved (or the tool refuses) and nothing changed on the
host. Skips when no isolating sandbox backend is usable.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from pathlib import Path

import pytest


def _problem() -> str | None:
    try:
        from selfplay_gym.envs.code_repair import artifact, injector  # noqa: F401
        from selfplay_gym.sandbox import available_backends
    except ImportError as exc:
        return f"the SSR engine is not importable: {exc}"
    if not [b for b in available_backends() if b != "unsafe"]:
        return "no isolating sandbox backend (bwrap, unshare) is usable here"
    return None


_PROBLEM = _problem()
pytestmark = pytest.mark.skipif(_PROBLEM is not None, reason=_PROBLEM or "")


@pytest.fixture(scope="module")
def artifact():
    from selfplay_gym.envs.code_repair.artifact import SSRConfig
    from selfplay_gym.envs.code_repair.env import load_repo_cached
    from selfplay_gym.envs.code_repair.players import rule_artifact

    art, report = rule_artifact(load_repo_cached("embedded"), "auto", "mutate", 0, SSRConfig())
    assert report.valid
    return art


class Solver:
    """One solver's episode on the artifact (repair-only), driven by tool calls."""

    def __init__(self, artifact, **kwargs):
        from selfplay_gym.envs.code_repair.env import BugInjectRepairEnv

        kwargs.setdefault("max_turns", 30)
        self.env = BugInjectRepairEnv(num_solvers=1, order2_prob=0.0, **kwargs)
        self.env.reset(seed=0, options={"artifact": artifact})
        self.env.step(None)  # the skipped injector leaves

    def call(self, action: str) -> str:
        """The tool's output (the last message of the solver's conversation)."""
        self.env.step(action)
        return self.env.infos["solver_0"]["messages"][-1]["content"]

    def submit(self) -> dict:
        self.env.step("<submit/>")
        info = self.env.infos["solver_0"]
        assert self.env.terminations["solver_0"]
        return info

    def repair(self) -> None:
        for path, text in self.env.oracle_files("solver_0").items():
            self.call(f'<create path="{path}">\n{text}</create>')


def marker() -> Path:
    return Path("/tmp") / f"selfplay-pwned-{uuid.uuid4().hex}"


def test_planted_git_hooks_and_fsmonitor_never_run_on_the_host(artifact):
    """Blocked: the harness never runs host git over a tree (diffs and scoring are pure Python,
    the copy has no .git); git the solver runs itself runs inside the sandbox, where the host's
    /tmp is not visible -- so the marker never appears on the host, even for a correct repair."""
    mark = marker()
    solver = Solver(artifact)
    solver.repair()
    hook = f"#!/bin/sh\ntouch {mark}\n"
    solver.call(f'<create path=".git/hooks/pre-commit">{hook}</create>')
    solver.call(f'<create path=".git/hooks/post-checkout">{hook}</create>')
    solver.call(
        '<create path=".git/config">[core]\n\tfsmonitor = touch ' + str(mark) + "\n"
        "\thooksPath = .git/hooks\n[diff]\n\texternal = touch " + str(mark) + "\n</create>"
    )
    out = solver.call("<bash>chmod +x .git/hooks/*; git status >/dev/null 2>&1; echo done</bash>")
    assert "done" in out
    info = solver.submit()
    assert info["solved"] is True, "the planted .git does not disturb scoring"
    assert not mark.exists()


def test_conftest_plugins_and_pytest_config_are_reset_before_scoring(artifact):
    """Blocked: score_repair restores/removes every conftest.py, pytest.ini, tox.ini, setup.cfg,
    pyproject.toml, sitecustomize.py and *.pth; pytest runs with the harness's -c ini and
    PYTEST_DISABLE_PLUGIN_AUTOLOAD, so a hook forcing every report to "passed" never loads."""
    force = (
        "import pytest\n\n\n@pytest.hookimpl(hookwrapper=True)\n"
        "def pytest_runtest_makereport(item, call):\n    outcome = yield\n"
        "    outcome.get_result().outcome = 'passed'\n"
    )
    solver = Solver(artifact)
    solver.call(f'<create path="conftest.py">pytest_plugins = ["evilplugin"]\n{force}</create>')
    solver.call(f'<create path="tests/conftest.py">{force}</create>')
    solver.call(f'<create path="evilplugin.py">{force}</create>')
    solver.call(f'<create path="src/evilplugin.py">{force}</create>')
    solver.call('<create path="pytest.ini">[pytest]\naddopts = -p evilplugin\n</create>')
    solver.call(
        '<create path="src/sitecustomize.py">import builtins\nbuiltins.__dict__["__debug__"]\n</create>'
    )
    solver.call('<create path="src/evil.pth">import evilplugin\n</create>')
    out = solver.call("<bash>python -m pytest -q -p evilplugin tests 2>&1 | tail -1</bash>")
    assert "passed" in out, "in the solver's own run the hack works ..."
    info = solver.submit()
    assert info["solved"] is False and info["failed_tests"] + info["missing_tests"] >= 1


def test_fake_reports_and_exit_zero_count_as_failures(artifact):
    """Blocked: the harness reads only its own JUnit report at a random path it chose; a fake
    report elsewhere, printed PASSED lines and os._exit(0) at import (no report, or missing
    ids) all leave expected ids missing, and a missing id counts as failed."""
    solver = Solver(artifact)
    fake = (
        '<?xml version="1.0"?><testsuites><testsuite name="pytest" tests="1">'
        '<testcase classname="tests.test_rle" name="test_x"/></testsuite></testsuites>'
    )
    for name in ("report.xml", "junit.xml", ".selfplay-report-0000000000000000.xml"):
        solver.call(f'<create path="{name}">{fake}</create>')
    init = "src/tallykit/__init__.py"
    solver.call(
        f'<create path="{init}">import os, sys\n'
        'print("tests/test_rle.py::test_all PASSED")\nsys.stdout.flush()\nos._exit(0)\n</create>'
    )
    out = solver.call(f'<view path="{init}" start="1" end="4"/>')
    assert "os._exit(0)" in out
    info = solver.submit()
    assert info["solved"] is False and info["missing_tests"] >= 1


def test_editing_the_oracle_tests_gains_nothing(artifact):
    """Blocked: every file of artifact.test_files is restored from the pristine snapshot before
    the harness runs them."""
    solver = Solver(artifact)
    for path in artifact.test_files:
        solver.call(f'<create path="{path}">def test_nothing():\n    pass\n</create>')
    assert solver.submit()["solved"] is False


def test_symlinks_out_of_the_copy_are_never_followed(artifact):
    """Blocked: tool paths are walked component by component with lstat and files opened with
    O_NOFOLLOW; a symlink the solver plants with bash is refused by view/edit/create, and the
    host file is neither shown nor changed."""
    before = hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest()
    solver = Solver(artifact)
    solver.call(
        "<bash>ln -s /etc/passwd leak; ln -s /etc etcdir; ln -s /etc/passwd src/x.py</bash>"
    )
    for action in (
        '<view path="leak"/>',
        '<view path="etcdir/passwd"/>',
        '<edit path="leak"><old>root</old><new>evil</new></edit>',
        '<create path="etcdir/passwd">evil</create>',
        '<create path="leak">evil</create>',
        '<view path="src/x.py"/>',
    ):
        out = solver.call(action)
        assert out.startswith("Error:") and "symlink" in out and "root:x:0:0" not in out
    assert hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest() == before
    info = solver.submit()
    assert info["solved"] is False


def test_tool_paths_leaving_the_copy_are_refused(artifact):
    """Blocked: paths must be relative without '..' (checked before any filesystem access)."""
    solver = Solver(artifact)
    for action in (
        '<view path="../../etc/passwd"/>',
        '<view path="/etc/passwd"/>',
        '<create path="../../tmp/selfplay-escape">x</create>',
        '<edit path="src/../../../etc/hosts"><old>a</old><new>b</new></edit>',
    ):
        out = solver.call(action)
        assert out.startswith("Error:") and "root:x:0:0" not in out
    assert not Path("/tmp/selfplay-escape").exists()


def test_bash_sees_no_host_secrets_and_no_network(artifact, tmp_path, monkeypatch):
    """Blocked: the sandbox clears the environment, binds only system dirs read-only (no /root,
    /home, host /tmp), and has its own empty network namespace."""
    token = uuid.uuid4().hex
    monkeypatch.setenv("SELFPLAY_TEST_SECRET", token)
    secret = tmp_path / "secret.txt"
    secret.write_text(token)
    solver = Solver(artifact)
    out = solver.call(f"<bash>env; cat {secret}; ls -a /root /home 2>&1; cat ~/.ssh/id_rsa</bash>")
    assert token not in out
    out = solver.call(
        "<bash>python -c \"import socket; socket.create_connection(('1.1.1.1', 53), timeout=3); "
        "print('CONNECTED')\"</bash>"
    )
    assert "CONNECTED" not in out and "exit code 0" not in out


def test_a_command_past_the_timeout_is_killed_and_the_episode_goes_on(artifact):
    """Blocked: each command has a wall-clock limit after which its whole process tree dies; the
    solver just gets the note and its next call runs."""
    solver = Solver(artifact, command_timeout_s=2.0)
    started = time.perf_counter()
    out = solver.call("<bash>(sleep 60 &) ; sleep 60</bash>")
    assert time.perf_counter() - started < 20
    assert "killed" in out and "2 s" in out
    assert "alive" in solver.call("<bash>echo alive</bash>")
    assert solver.env.agent_selection == "solver_0" and not solver.env.terminations["solver_0"]


def test_an_output_flood_is_capped(artifact):
    """Blocked: the sandbox caps what it captures, and the tool's observation is cut to
    max_output_chars (head and tail)."""
    solver = Solver(artifact, max_output_chars=2000)
    out = solver.call("<bash>yes 0123456789 | head -c 20000000; echo END</bash>")
    assert len(out) < 2300 and "characters cut" in out
    assert len(solver.env.observe("solver_0")) < 20_000


def test_nothing_leaks_into_the_host_tree_after_close(artifact):
    """The episode copies live in the env's own temp dir and are removed by close()."""
    solver = Solver(artifact)
    solver.call("<bash>echo x > planted.txt</bash>")
    path = solver.env._workspaces["solver_0"]
    assert (path / "planted.txt").exists()
    solver.env.close()
    assert not path.exists() and not os.path.exists(path.parent)


def test_directories_nested_past_the_recursion_limit_neither_crash_nor_leak(artifact):
    """Blocked: a tree too deep for os.walk/shutil.rmtree (recursive in 3.11) is unscored and not
    pooled, and the episode dir is still removed (it made step() and close() raise)."""
    solver = Solver(artifact, max_order=2)
    out = solver.call(
        "<bash>python -c \"import os\nfor i in range(1500):\n    os.mkdir('d')\n    "
        "os.chdir('d')\nprint('deep')\"</bash>"
    )
    assert "deep" in out
    root = solver.env._workspaces["solver_0"]
    info = solver.submit()
    assert info["solved"] is False
    solver.env.close()
    assert not root.exists()
