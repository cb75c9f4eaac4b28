"""``selfplay_gym.sandbox.Sandbox``: backend choice, the contract of ``run``, and ``Limits``.

The isolation properties themselves (network, host files, processes...) are attacked in
``test_sandbox_escapes.py``; this file checks the interface every caller relies on.
"""

from __future__ import annotations

import os
import warnings

import pytest

from selfplay_gym import sandbox as sb
from selfplay_gym.sandbox import (
    ExecResult,
    Limits,
    Sandbox,
    SandboxUnavailable,
    UnsafeSandboxWarning,
    available_backends,
)
from selfplay_gym.sandbox import bwrap as bwrap_mod
from selfplay_gym.sandbox import core as core_mod
from selfplay_gym.sandbox import unshare as unshare_mod
from selfplay_gym.sandbox import zygotes as zygotes_mod
from selfplay_gym.sandbox.cgroups import pids_hierarchy

ISOLATING = ["bwrap", "unshare"]
FAST = Limits(timeout_s=20.0)


def _require(backend: str) -> None:
    problem = sb.backend_problem(backend)
    if problem is not None:
        pytest.skip(f"{backend} is not usable here: {problem}")


@pytest.fixture(params=ISOLATING)
def box(request) -> Sandbox:
    """An isolating sandbox per usable backend (skipped where the backend cannot run)."""
    _require(request.param)
    return Sandbox(request.param, FAST)


@pytest.fixture
def workdir(tmp_path):
    path = tmp_path / "episode"
    path.mkdir()
    return path


# ---------------------------------------------------------------------------- choosing a backend
def test_available_backends_lists_usable_ones_in_preference_order():
    names = available_backends()
    assert names[-1] == "unsafe", "unsafe needs nothing, so it is always listed, and always last"
    assert names == [n for n in sb.BACKENDS if n in names], (
        "preference order bwrap, unshare, unsafe"
    )
    for name in names:
        assert sb.backend_problem(name) is None


def test_auto_picks_bwrap_when_it_works():
    _require("bwrap")
    box = Sandbox("auto")
    assert box.backend == "bwrap"
    assert box.describe()["backend"] == "bwrap"
    assert box.describe()["bwrap_version"]


def test_auto_never_falls_back_to_unsafe(monkeypatch):
    monkeypatch.setattr(core_mod, "backend_problem", lambda name: None if name == "unsafe" else "x")
    with pytest.raises(SandboxUnavailable, match="backend='unsafe' explicitly"):
        Sandbox("auto")


def test_missing_bwrap_raises_sandbox_unavailable_saying_why(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    for cached in (bwrap_mod.bwrap_path, bwrap_mod.bwrap_problem, bwrap_mod.bwrap_version):
        cached.cache_clear()
    try:
        with pytest.raises(SandboxUnavailable, match="bwrap is not installed"):
            Sandbox("bwrap")
        assert "bwrap" not in available_backends()
    finally:
        monkeypatch.undo()
        for cached in (bwrap_mod.bwrap_path, bwrap_mod.bwrap_problem, bwrap_mod.bwrap_version):
            cached.cache_clear()
        unshare_mod.unshare_problem.cache_clear()


def test_unknown_backend_name_is_a_value_error():
    with pytest.raises(ValueError, match="expected one of"):
        Sandbox("docker")


def test_unsafe_only_by_name_and_with_a_warning(workdir):
    with pytest.warns(UnsafeSandboxWarning, match="only rlimits"):
        box = Sandbox("unsafe", FAST)
    res = box.run(["python", "-S", "-c", "import os; print(os.getcwd())"], workdir=workdir)
    assert res.backend == "unsafe"
    assert res.stdout.strip() == str(workdir), "unsafe runs in the host directory itself"


# ---------------------------------------------------------------------------- the run contract
def test_exit_code_stdout_stderr_and_stdin(box, workdir):
    res = box.run(
        [
            "python",
            "-S",
            "-c",
            "import sys; d = sys.stdin.read(); print(d.upper());"
            " print('err', file=sys.stderr); sys.exit(7)",
        ],
        workdir=workdir,
        stdin="hello sandbox",
    )
    assert isinstance(res, ExecResult)
    assert (res.returncode, res.stdout, res.stderr) == (7, "HELLO SANDBOX\n", "err\n")
    assert not res.ok and not res.timed_out and not res.truncated
    assert res.backend == box.backend
    assert 0 < res.duration_s < 20


def test_string_command_runs_under_sh_in_work(box, workdir):
    res = box.run("pwd; echo made > out.txt && cat out.txt", workdir=workdir)
    assert res.ok, res.stderr
    assert res.stdout == "/work\nmade\n"
    assert (workdir / "out.txt").read_text() == "made\n", "the work dir is mounted read-write"


def test_environment_is_cleared_fixed_and_extended(box, workdir, monkeypatch):
    monkeypatch.setenv("SELFPLAY_HOST_ONLY", "leak")
    res = box.run(["/usr/bin/env"], workdir=workdir, env={"EXTRA": "yes", "TZ": "Europe/Paris"})
    env = dict(line.split("=", 1) for line in res.stdout.splitlines())
    assert "SELFPLAY_HOST_ONLY" not in env
    assert env["EXTRA"] == "yes" and env["TZ"] == "Europe/Paris", "env adds and overrides"
    assert env["HOME"] == "/tmp"
    assert env["PYTHONHASHSEED"] == "0"
    assert env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] == "1"
    assert env["PATH"].split(":")[0].endswith("/bin")
    extra = set(env) - {"EXTRA", "TZ", "HOME", "PYTHONHASHSEED", "PYTEST_DISABLE_PLUGIN_AUTOLOAD"}
    assert extra <= {"PATH", "LANG", "PWD", "SHLVL", "_", "OLDPWD"}, extra


def test_bad_env_names_are_rejected(box, workdir):
    with pytest.raises(ValueError, match="without '='"):
        box.run("true", workdir=workdir, env={"A=B": "x"})


def test_python_and_pytest_from_the_venv_work_inside(box, workdir):
    res = box.run(["python", "-m", "pytest", "--version"], workdir=workdir)
    assert res.ok, res.stderr
    assert "pytest" in res.stdout + res.stderr
    res = box.run(["python", "-c", "import sys; print(sys.prefix)"], workdir=workdir)
    assert res.stdout.strip() == box.describe()["venv"]


def test_pytest_runs_a_real_test_file(box, workdir):
    (workdir / "test_mini.py").write_text("def test_one():\n    assert 1 + 1 == 2\n")
    res = box.run(["python", "-m", "pytest", "-q", "-p", "no:cacheprovider"], workdir=workdir)
    assert res.ok, res.stdout + res.stderr
    assert "1 passed" in res.stdout


def test_ro_binds_are_visible_read_only_at_the_same_path(box, workdir, tmp_path):
    shared = tmp_path / "harness"
    shared.mkdir()
    (shared / "pytest.ini").write_text("[pytest]\n")
    script = (
        "import sys\n"
        f"print(open({str(shared / 'pytest.ini')!r}).read().strip())\n"
        f"try:\n    open({str(shared / 'new.txt')!r}, 'w')\n"
        "except OSError as e:\n    print(e.errno, e.strerror)\n"
    )
    res = box.run(["python", "-S", "-c", script], workdir=workdir, ro_binds=[shared])
    assert res.ok, res.stderr
    assert res.stdout.splitlines() == ["[pytest]", "30 Read-only file system"]
    assert not (shared / "new.txt").exists()


def test_ro_binds_under_work_or_missing_are_value_errors(box, workdir, tmp_path):
    with pytest.raises(ValueError, match="outside /work"):
        box.run("true", workdir=workdir, ro_binds=["/work"])
    with pytest.raises(ValueError, match="existing path"):
        box.run("true", workdir=workdir, ro_binds=[tmp_path / "nope"])


def test_workdir_must_exist(box, tmp_path):
    with pytest.raises(ValueError, match="existing directory"):
        box.run("true", workdir=tmp_path / "missing")


def test_run_timeout_overrides_the_limit(box, workdir):
    res = box.run(["sleep", "5"], workdir=workdir, timeout_s=0.5)
    assert res.timed_out and res.returncode is None and not res.ok
    assert 0.5 <= res.duration_s < 3


def test_describe_reports_backend_limits_and_process_limit_mode(box):
    info = box.describe()
    assert info["backend"] == box.backend
    assert info["limits"] == FAST.as_dict()
    assert info["network"] is False
    assert info["process_limit"] in {"cgroup-v1", "cgroup-v2", "uid", "nproc", "none"}
    if os.geteuid() == 0:
        assert info["process_limit"] != "nproc"


def test_network_true_shares_the_host_network(workdir):
    _require("bwrap")
    res = Sandbox("bwrap", FAST, network=True).run(
        ["python", "-S", "-c", "import socket; print(len(socket.if_nameindex()))"], workdir=workdir
    )
    no_net = Sandbox("bwrap", FAST).run(
        ["python", "-S", "-c", "import socket; print(len(socket.if_nameindex()))"], workdir=workdir
    )
    assert no_net.stdout.strip() == "1", "without network only lo exists"
    assert int(res.stdout.strip()) >= int(no_net.stdout.strip())


def test_uid_mode_bounds_processes_when_no_cgroup_is_writable(monkeypatch, workdir):
    """As root without a pids cgroup, bwrap drops to a per-slot uid so RLIMIT_NPROC binds."""
    _require("bwrap")
    if os.geteuid() != 0:
        pytest.skip("the per-slot uid mode is for root")
    monkeypatch.setattr(core_mod, "pids_hierarchy", lambda: None)
    box = Sandbox("bwrap", Limits(timeout_s=20, processes=20))
    assert box.describe()["process_limit"] == "uid"
    bomb = (
        "import os, time\nmade = 0\nfor _ in range(100):\n    try:\n        pid = os.fork()\n"
        "    except OSError:\n        break\n    if pid == 0:\n        time.sleep(2); os._exit(0)\n"
        "    made += 1\nprint(os.getuid(), made)\n"
    )
    res = box.run(["python", "-S", "-c", bomb], workdir=workdir)
    uid, made = map(int, res.stdout.split())
    assert uid >= 60000, "a real unprivileged uid, not root"
    assert made < 20, f"{made} forks succeeded with processes=20"
    assert (workdir).stat().st_uid == uid, "the episode copy was chowned to the sandbox uid"


def _fork_count(box: Sandbox, workdir) -> int:
    bomb = (
        "import os, time\nmade = 0\nfor _ in range(100):\n    try:\n        pid = os.fork()\n"
        "    except OSError:\n        break\n    if pid == 0:\n        time.sleep(2); os._exit(0)\n"
        "    made += 1\nprint(made)\n"
    )
    return int(box.run(["python", "-S", "-c", bomb], workdir=workdir).stdout)


def test_runs_are_forked_by_a_zygote_inside_the_run_cgroup(workdir):
    """With a pids cgroup, the launcher is born inside it (no per-run migration)."""
    _require("bwrap")
    hierarchy = pids_hierarchy()
    if hierarchy is None:
        pytest.skip("no writable pids cgroup here")
    box = Sandbox("bwrap", Limits(timeout_s=20, processes=20))
    seen = []
    real_spawn = zygotes_mod.Zygote.spawn

    def spy(self, *args, **kwargs):
        child = real_spawn(self, *args, **kwargs)
        seen.append((self.cgroup.path, child.pid in self.cgroup.pids()))
        return child

    zygotes_mod.Zygote.spawn = spy
    try:
        assert _fork_count(box, workdir) < 20
    finally:
        zygotes_mod.Zygote.spawn = real_spawn
    assert len(seen) == 1 and seen[0][1], "the launcher was a member of the zygote's cgroup"


def test_a_dead_zygote_is_replaced(workdir):
    """Kill every idle zygote: the next run starts a new one and is still bounded."""
    _require("bwrap")
    if pids_hierarchy() is None:
        pytest.skip("no writable pids cgroup here")
    box = Sandbox("bwrap", Limits(timeout_s=20, processes=20))
    assert box.run("true", workdir=workdir).ok
    for zygote in list(zygotes_mod.pool._idle):
        zygote.proc.kill()
        zygote.proc.wait()
    assert box.run("echo again", workdir=workdir).stdout == "again\n"
    assert _fork_count(box, workdir) < 20


def test_a_zygote_failing_mid_launch_falls_back_to_a_direct_launch(monkeypatch, workdir):
    _require("bwrap")
    if pids_hierarchy() is None:
        pytest.skip("no writable pids cgroup here")

    def broken_spawn(self, *args, **kwargs):
        raise zygotes_mod.ZygoteError("simulated")

    monkeypatch.setattr(zygotes_mod.Zygote, "spawn", broken_spawn)
    box = Sandbox("bwrap", Limits(timeout_s=20, processes=20))
    assert box.run("echo direct", workdir=workdir).stdout == "direct\n"
    assert _fork_count(box, workdir) < 20


def test_without_zygotes_the_launcher_joins_a_fresh_cgroup(monkeypatch, workdir):
    _require("bwrap")
    if pids_hierarchy() is None:
        pytest.skip("no writable pids cgroup here")
    monkeypatch.setattr(zygotes_mod.pool, "broken", True)
    box = Sandbox("bwrap", Limits(timeout_s=20, processes=20))
    assert _fork_count(box, workdir) < 20


def test_concurrent_runs_from_threads(box, tmp_path):
    """One Sandbox used from several threads: each run gets its own launcher and work dir."""
    import threading

    outputs: dict[int, list[str]] = {}

    def work(k: int) -> None:
        wd = tmp_path / f"w{k}"
        wd.mkdir()
        outputs[k] = [box.run(f"echo {k}-{j}", workdir=wd).stdout for j in range(3)]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outputs == {k: [f"{k}-{j}\n" for j in range(3)] for k in range(4)}


# ---------------------------------------------------------------------------- limits
@pytest.mark.parametrize(
    "field, value",
    [
        ("timeout_s", 0),
        ("timeout_s", -1.0),
        ("timeout_s", float("inf")),
        ("timeout_s", "5"),
        ("memory_bytes", 1024),
        ("memory_bytes", 1.5e9),
        ("cpu_s", 0),
        ("file_bytes", 0),
        ("processes", 0),
        ("processes", True),
        ("tmp_bytes", 10),
        ("output_bytes", 0),
        ("open_files", 2),
    ],
)
def test_limits_reject_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        Limits(**{field: value})


def test_limits_defaults_and_cpu_follows_timeout():
    limits = Limits()
    assert limits.timeout_s == 60.0 and limits.processes == 256
    assert limits.effective_cpu_s == 61
    assert Limits(timeout_s=2.5).effective_cpu_s == 4
    assert Limits(timeout_s=2.5, cpu_s=9).effective_cpu_s == 9


def test_exec_result_ok():
    base = dict(stdout="", stderr="", duration_s=0.1, backend="bwrap")
    assert ExecResult(returncode=0, timed_out=False, **base).ok
    assert not ExecResult(returncode=1, timed_out=False, **base).ok
    assert not ExecResult(returncode=None, timed_out=True, **base).ok


def test_limits_is_validated_by_sandbox():
    with pytest.raises(TypeError, match="Limits"):
        Sandbox("bwrap", {"timeout_s": 5})  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnsafeSandboxWarning)
        box = Sandbox("unsafe", FAST)
    with pytest.raises(ValueError, match="timeout_s"):
        box.run("true", workdir="/", timeout_s=-1)
