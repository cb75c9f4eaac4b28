"""``PythonOutput`` in the code family's sandbox: isolation, timeouts, the same check semantics.

The sandbox tests skip (saying why) where neither bwrap nor unshare works, as tests/sandbox/ do.
"""

from __future__ import annotations

import socket
import time
import warnings

import pytest

from selfplay_gym import sandbox as sb
from selfplay_gym.core import verifiers
from selfplay_gym.core.verifiers import PythonOutput, RunResult
from selfplay_gym.sandbox import SandboxUnavailable, UnsafeSandboxWarning

ISOLATING = ("bwrap", "unshare")


def _sandbox_problem() -> str | None:
    problems = {name: sb.backend_problem(name) for name in ISOLATING}
    if any(problem is None for problem in problems.values()):
        return None
    return "; ".join(f"{name}: {problem}" for name, problem in problems.items())


@pytest.fixture(scope="module")
def sandboxed():
    problem = _sandbox_problem()
    if problem is not None:
        pytest.skip(f"no sandbox backend is usable here: {problem}")
    return PythonOutput(backend="sandbox", timeout=5.0, fallback=0.25)


@pytest.fixture(scope="module")
def plain():
    return PythonOutput(backend="rlimits", timeout=5.0, fallback=0.25)


@pytest.fixture(params=["rlimits", "sandbox"])
def either(request, plain):
    return plain if request.param == "rlimits" else request.getfixturevalue("sandboxed")


def test_the_default_is_the_sandbox_when_one_works(sandboxed):
    default = PythonOutput()
    assert default.backend == "auto"
    assert default.active_backend == sb.available_backends()[0]
    assert default.run("print('hi')").backend == default.active_backend


@pytest.mark.parametrize(
    ("program", "call", "prediction", "score", "ok"),
    [
        ("def f(xs):\n    return sorted(set(xs))[:2]\n", "f([3, 1, 3, 2])", "[1, 2]", 1.0, True),
        ("def f(xs):\n    return sorted(set(xs))[:2]\n", "f([3, 1, 3, 2])", "[1, 3]", 0.0, True),
        ("print('noise')\ndef f():\n    print('x')\n    return 'ok'\n", "f()", "'ok'", 1.0, True),
        ("def f():\n    return {1: (2, 3)}\n", "f()", "```python\n{1: (2, 3)}\n```", 1.0, True),
        ("def f():\n    return 1\n", "f()", "one, I think", 0.0, True),
        ("def f():\n    raise ValueError('boom')\n", "f()", "None", 0.25, False),
        ("import sys\nsys.exit(3)\n", "1", "1", 0.25, False),
    ],
)
def test_check_gives_the_same_verdict_on_every_backend(
    either, program, call, prediction, score, ok
):
    verdict = either.check(program, call, prediction)
    assert (verdict.score, verdict.ok) == (score, ok)
    assert verdict.details["backend"] == either.active_backend
    if "ValueError" in program:
        assert "ValueError: boom" in verdict.details["stderr"]


def test_a_snippet_in_the_sandbox_cannot_reach_a_host_port(sandboxed, plain):
    program = (
        "import socket\n"
        "def probe(port):\n"
        "    s = socket.socket()\n"
        "    s.settimeout(2)\n"
        "    try:\n"
        "        s.connect(('127.0.0.1', port))\n"
        "        return 'connected'\n"
        "    except OSError as exc:\n"
        "        return type(exc).__name__\n"
        "    finally:\n"
        "        s.close()\n"
    )
    with socket.socket() as listener:  # the kernel queues connections: no server thread needed
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        on_host = plain.check(program, f"probe({port})", "'connected'")
        inside = sandboxed.check(program, f"probe({port})", "'connected'")
    assert on_host.score == 1.0  # the probe itself works: unisolated it gets through
    assert inside.ok and inside.score == 0.0
    assert inside.details["actual"] == "'ConnectionRefusedError'"  # its own loopback, no listener
    interfaces = sandboxed.check("import socket", "[n for _, n in socket.if_nameindex()]", "['lo']")
    assert interfaces.score == 1.0, interfaces.details


def test_a_snippet_in_the_sandbox_cannot_write_outside_its_scratch_directory(
    sandboxed, plain, tmp_path
):
    program = (
        "def write(path):\n"
        "    try:\n"
        "        with open(path, 'w') as handle:\n"
        "            handle.write('escaped')\n"
        "        return 'written'\n"
        "    except OSError as exc:\n"
        "        return type(exc).__name__\n"
        "def scratch():\n"
        "    with open('out.txt', 'w') as handle:\n"
        "        handle.write('mine')\n"
        "    return open('out.txt').read()\n"
    )
    target = tmp_path / "escaped.txt"
    inside = sandboxed.check(program, f"write({str(target)!r})", "'written'")
    assert inside.ok and inside.score == 0.0
    assert inside.details["actual"] in ("'FileNotFoundError'", "'PermissionError'", "'OSError'")
    assert not target.exists()
    assert sandboxed.check(program, "scratch()", "'mine'").score == 1.0  # its own copy is writable
    # The same program unisolated does write the host file: the test above is not vacuous.
    assert plain.check(program, f"write({str(target)!r})", "'written'").score == 1.0
    assert target.read_text() == "escaped"


def test_a_sandboxed_timeout_kills_the_snippet_and_gives_the_fallback(sandboxed):
    start = time.perf_counter()
    verdict = sandboxed.check("def f():\n    while True: pass\n", "f()", "1", timeout=0.5)
    assert time.perf_counter() - start < 5.0
    assert not verdict.ok and verdict.score == 0.25
    assert verdict.details["timed_out"] and verdict.reason == "program timed out"
    assert verdict.details["backend"] == sandboxed.active_backend
    assert sandboxed.check("x = 6 * 7", "x", "42").score == 1.0  # the next snippet runs normally


def test_a_sandboxed_checker_pickles_and_runs_after(sandboxed):
    import pickle

    clone = pickle.loads(pickle.dumps(sandboxed))
    assert clone.active_backend == sandboxed.active_backend
    assert clone.check("x = [1] * 3", "x", "[1, 1, 1]").score == 1.0


def _no_sandbox(monkeypatch):
    monkeypatch.setattr(sb.core, "backend_problem", lambda name: f"{name} disabled by the test")
    monkeypatch.setattr(verifiers, "_warned_unisolated", False)


def test_auto_without_a_sandbox_warns_once_and_runs_with_rlimits(monkeypatch):
    _no_sandbox(monkeypatch)
    with pytest.warns(UnsafeSandboxWarning, match="no usable sandbox backend") as caught:
        first = PythonOutput()
    assert len(caught) == 1 and "backend='sandbox'" in str(caught[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second checker does not warn again
        second = PythonOutput(timeout=5.0)
    assert first.active_backend == second.active_backend == "rlimits"
    verdict = second.check("x = 2 ** 10", "x", "1024")
    assert verdict.score == 1.0 and verdict.details["backend"] == "rlimits"


def test_asking_for_a_sandbox_that_cannot_run_is_an_error(monkeypatch):
    _no_sandbox(monkeypatch)
    with pytest.raises(SandboxUnavailable, match="no isolating sandbox backend works here"):
        PythonOutput(backend="sandbox")
    with pytest.raises(SandboxUnavailable, match="'bwrap' is unavailable"):
        PythonOutput(backend="bwrap")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the explicit opt-in is silent
        assert PythonOutput(backend="rlimits").active_backend == "rlimits"


def test_an_unknown_backend_is_refused():
    with pytest.raises(ValueError, match=r"expected one of \['auto', 'sandbox'.*got 'docker'"):
        PythonOutput(backend="docker")


def test_a_runner_replaces_the_backend_and_is_reported(monkeypatch):
    _no_sandbox(monkeypatch)

    def runner(code, *, timeout):
        return RunResult(True, "<<<selfplay-gym result>>>\n7\n", "", 0, False, "fake")

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is probed, so nothing warns
        checker = PythonOutput(runner=runner)
    assert checker.active_backend == "runner"
    verdict = checker.check("x = 7", "x", "7")
    assert verdict.score == 1.0 and verdict.details["backend"] == "fake"
