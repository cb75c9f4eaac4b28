"""``SnippetRunner``: the fork server in one sandbox, its results, limits, restarts and safety."""

from __future__ import annotations

import ast
import os
import pickle
import threading
import time
import uuid
import warnings

import pytest

from selfplay_gym import sandbox as sb
from selfplay_gym.sandbox import Limits, SnippetResult, SnippetRunner, UnsafeSandboxWarning

ISOLATING = ["bwrap", "unshare"]


def _require(backend: str) -> None:
    problem = sb.backend_problem(backend)
    if problem is not None:
        pytest.skip(f"{backend} is not usable here: {problem}")


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    if marker.encode() in fh.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


@pytest.fixture(scope="module", params=ISOLATING)
def runner(request):
    """One runner per isolating backend, shared by the module (as an env would share it)."""
    _require(request.param)
    with SnippetRunner(request.param, Limits(timeout_s=5.0, memory_bytes=256 << 20)) as r:
        yield r


def test_value_of_expr_is_its_repr(runner):
    res = runner.run("def f(x):\n    return [x, str(x)]", "f(21)")
    assert isinstance(res, SnippetResult)
    assert (res.ok, res.value, res.error) == (True, "[21, '21']", None)
    assert res.duration_s > 0


def test_stdout_and_stderr_are_captured(runner):
    res = runner.run("import sys\nprint('out')\nprint('err', file=sys.stderr)")
    assert res.ok and res.value is None
    assert sorted(res.stdout.split()) == ["err", "out"]


@pytest.mark.parametrize(
    "code, expr, error",
    [
        ("1 / 0", None, "ZeroDivisionError: division by zero"),
        ("x = 1", "y", "NameError: name 'y' is not defined"),
        ("def f(:", None, "SyntaxError: invalid syntax"),
        ("import sys\nsys.exit(3)", None, "SystemExit: 3"),
        ("raise ValueError('a\\nb')", None, "ValueError: a"),
    ],
)
def test_errors_report_the_last_traceback_line(runner, code, expr, error):
    res = runner.run(code, expr)
    assert not res.ok and res.value is None
    assert res.error.startswith(error)


def test_each_snippet_gets_a_fresh_namespace(runner):
    assert runner.run("leaked = 42").ok
    res = runner.run("", "leaked")
    assert res.error == "NameError: name 'leaked' is not defined"
    assert runner.run("import builtins\nbuiltins.len = None").ok
    assert runner.run("", "len('abc')").value == "3", "a forked child cannot change the server"


def test_infinite_loop_times_out(runner):
    res = runner.run("while True:\n    pass", timeout_s=0.5)
    assert (res.ok, res.error) == (False, "Timeout")
    assert 0.5 <= res.duration_s < 3
    assert runner.run("", "1 + 1").value == "2", "the server keeps serving after a timeout"


def test_memory_bomb_is_a_memory_error(runner):
    res = runner.run("b = bytearray(2 * 10**9)")
    assert not res.ok and res.error.startswith("MemoryError")


def test_network_is_unreachable(runner):
    res = runner.run("import socket\nsocket.create_connection(('127.0.0.1', 9), timeout=2)")
    assert not res.ok
    assert res.error.startswith(("ConnectionRefusedError", "OSError: [Errno 101]"))


def test_host_files_are_out_of_reach(runner, tmp_path):
    target = tmp_path / "from_snippet.txt"
    res = runner.run(f"open({str(target)!r}, 'w').write('x')")
    assert not res.ok and res.error.startswith("FileNotFoundError")
    assert not target.exists()


def test_expr_is_evaluated_inside_the_sandbox_not_on_the_host(runner):
    res = runner.run("import os", "(os.getpid(), os.getcwd(), sorted(os.environ))")
    pid, cwd, env_names = ast.literal_eval(res.value)
    assert pid < 1000 and pid != os.getpid(), "a pid of the sandbox's own pid namespace"
    assert cwd == "/work"
    assert "SELFPLAY" not in " ".join(env_names)


def test_a_snippet_cannot_read_the_previous_snippets_result(runner):
    secret = f"gold{uuid.uuid4().hex}"
    assert runner.run(f"x = {secret!r}", "x").value == repr(secret)
    spy = (
        "import gc, sys\n"
        "def f():\n"
        "    seen, fr = [], sys._getframe()\n"
        "    while fr is not None:\n"
        "        seen += [repr(v) for v in fr.f_locals.values()]\n"
        "        fr = fr.f_back\n"
        "    seen += [repr(o) for o in gc.get_objects() if isinstance(o, (str, bytes, dict))]\n"
        f"    needle = {secret[::-1]!r}[::-1]\n"  # the spy's own text holds it reversed only
        "    return any(needle in s for s in seen)\n"
    )
    assert runner.run(spy, "f()").value == "False"


def test_a_snippet_cannot_write_the_servers_memory(runner):
    code = "import os\nfd = os.open(f'/proc/{os.getppid()}/mem', os.O_RDWR)"
    res = runner.run(code)
    assert not res.ok and res.error.startswith("PermissionError"), res


def test_daemons_started_by_a_snippet_are_swept(runner):
    marker = f"snipd{uuid.uuid4().hex[:8]}"
    code = (
        "import os\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        f"        os.execvp('python', ['python', '-S', '-c', 'import time; time.sleep(60)', '{marker}'])\n"
        "    os._exit(0)\n"
    )
    assert runner.run(code).ok
    time.sleep(0.2)
    assert _processes_with(marker) == [], "kill(-1) in the pid namespace after each snippet"


def test_output_is_capped():
    _require("bwrap")
    with SnippetRunner("bwrap", Limits(timeout_s=5, output_bytes=1000)) as r:
        res = r.run("print('z' * 100000)", "'v' * 5000")
    assert res.ok
    assert len(res.stdout) == 1000
    assert len(res.value) == 1000


def test_restart_every_n_snippets():
    _require("bwrap")
    with SnippetRunner("bwrap", restart_every=3) as r:
        for _ in range(7):
            assert r.run("", "1").ok
        assert r.restarts == 3, "servers started for snippets 1-3, 4-6 and 7"


def test_a_dead_server_is_replaced():
    _require("bwrap")
    with SnippetRunner("bwrap") as r:
        assert r.run("", "1").ok
        res = r.run(
            "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nimport time\ntime.sleep(1)"
        )
        assert not res.ok and res.error.startswith(("SandboxError", "Killed", "Exited"))
        after = r.run("", "2")
        assert after.ok and after.value == "2"
        assert r.restarts == 2


def test_hash_seed_is_random_per_server_and_shared_by_its_forks():
    _require("bwrap")
    probe = ("s = set('w%d' % i for i in range(40))", "list(s)")
    with SnippetRunner("bwrap") as r:
        first = r.run(*probe).value
        assert r.run(*probe).value == first, "forks of one server share its hash secret"
        orders = {first}
        for _ in range(3):
            r.restart()
            orders.add(r.run(*probe).value)
    assert len(orders) > 1, "a new server (restart) draws a new hash secret"


def test_thread_safe_under_concurrent_calls(runner):
    results: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def work(k: int) -> None:
        for j in range(5):
            res = runner.run(f"v = {k} * 100 + {j}", "v")
            with lock:
                results.append((k * 100 + j, res.value))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 30
    assert all(str(want) == got for want, got in results)


def test_close_kills_the_server_and_pickling_is_lazy():
    _require("bwrap")
    r = SnippetRunner("bwrap")
    assert r._server is None, "constructed lazily"
    assert r.run("", "'up'").value == "'up'"
    server = r._server.proc
    clone = pickle.loads(pickle.dumps(r))
    assert clone._server is None and clone.backend == "bwrap"
    r.close()
    assert server.poll() is not None
    assert clone.run("", "3").value == "3"
    clone.close()


def test_bad_arguments():
    _require("bwrap")
    with pytest.raises(ValueError, match="restart_every"):
        SnippetRunner("bwrap", restart_every=0)
    r = SnippetRunner("bwrap")
    with pytest.raises(TypeError, match="code"):
        r.run(b"1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout_s"):
        r.run("1", timeout_s=0)
    r.close()


def test_unsafe_runner_only_by_name_with_a_warning():
    with pytest.warns(UnsafeSandboxWarning):
        r = SnippetRunner("unsafe")
    with r, warnings.catch_warnings():
        assert r.run("", "6 * 7").value == "42"


def test_snippets_take_milliseconds(runner):
    runner.run("", "0")
    times = sorted(runner.run("def f(x):\n    return x * 2", "f(3)").duration_s for _ in range(40))
    assert times[20] < 0.05, f"median {times[20] * 1000:.1f} ms per snippet"
