"""The escape battery: each test is one attack from model-written code, and asserts how it is blocked.

Every attack runs under each isolating backend usable here (bwrap, unshare); a few also run
under ``unsafe`` where the guard is the same (limits, the pids cgroup, the kill on timeout).
Attacks that could harm the host if a guard failed are written so that the failure is harmless:
the kernel knobs are opened for writing but nothing is written.
"""

from __future__ import annotations

import os
import socket
import textwrap
import time
import uuid
import warnings

import pytest

from selfplay_gym import sandbox as sb
from selfplay_gym.sandbox import Limits, Sandbox, UnsafeSandboxWarning
from selfplay_gym.sandbox.layout import build_layout

ISOLATING = ["bwrap", "unshare"]


def _require(backend: str) -> None:
    problem = sb.backend_problem(backend)
    if problem is not None:
        pytest.skip(f"{backend} is not usable here: {problem}")


def _box(backend: str, **limits) -> Sandbox:
    _require(backend)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnsafeSandboxWarning)
        return Sandbox(backend, Limits(**{"timeout_s": 20.0, **limits}))


def _py(box: Sandbox, code: str, workdir, **kw):
    return box.run(["python", "-S", "-c", textwrap.dedent(code)], workdir=workdir, **kw)


def _processes_with(marker: str) -> list[int]:
    """Host pids whose command line contains ``marker`` (read from /proc, like ps)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                if marker.encode() in fh.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


@pytest.fixture(params=ISOLATING)
def backend(request) -> str:
    _require(request.param)
    return request.param


@pytest.fixture
def workdir(tmp_path):
    path = tmp_path / "episode"
    path.mkdir()
    return path


# ---------------------------------------------------------------------------- network
def test_network_connect_to_host_listener_is_refused_by_the_netns(backend, workdir):
    """Own network namespace: the host's 127.0.0.1 is a different loopback, nobody listens there."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    try:
        res = _py(
            _box(backend),
            f"""
            import socket
            print([name for _, name in socket.if_nameindex()])
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=3)
                print("CONNECTED")
            except OSError as e:
                print(type(e).__name__, e.errno)
            """,
            workdir,
        )
        lines = res.stdout.splitlines()
        assert lines[0] == "['lo']", "only a private loopback exists"
        assert lines[1] in {"ConnectionRefusedError 111", "OSError 101"}, lines
        with pytest.raises(socket.timeout):
            listener.accept()  # and the host listener saw nothing
    finally:
        listener.close()


def test_network_dns_lookup_fails(backend, workdir):
    """No resolver configuration and no route: name resolution fails fast."""
    res = _py(
        _box(backend),
        """
        import socket
        try:
            socket.getaddrinfo("pypi.org", 443)
            print("RESOLVED")
        except socket.gaierror as e:
            print("gaierror")
        """,
        workdir,
    )
    assert res.stdout.strip() == "gaierror"
    assert res.duration_s < 15


# ---------------------------------------------------------------------------- files
def test_write_outside_the_copy_fails_and_nothing_appears_on_the_host(backend, workdir, tmp_path):
    """Only /work, /tmp and /dev/shm are writable; a host dir that is not bound does not exist."""
    outside = tmp_path / "host_only"
    outside.mkdir()
    targets = {
        "host_dir": str(outside / "planted.txt"),
        "usr": "/usr/planted.txt",
        "root_fs": "/planted.txt",
        "etc": "/etc/planted.txt",
        "venv": os.path.join(build_layout().venv, "planted.txt"),
        "checkout": "/work/../planted.txt",
    }
    res = _py(
        _box(backend),
        f"""
        import errno
        for name, path in {targets!r}.items():
            try:
                open(path, "w").write("x")
                print(name, "WROTE")
            except OSError as e:
                print(name, errno.errorcode[e.errno])
        """,
        workdir,
    )
    seen = dict(line.split() for line in res.stdout.splitlines())
    assert seen.pop("host_dir") == "ENOENT", "the host's /tmp is replaced by a private tmpfs"
    assert set(seen.values()) == {"EROFS"}, seen
    assert not (outside / "planted.txt").exists()
    assert not os.path.exists("/usr/planted.txt")
    assert not os.path.exists("/planted.txt")


def test_kernel_knobs_in_proc_are_read_only(backend, workdir):
    """The sandbox's root is kuid 0, so /proc/sys must be mounted read-only (EROFS on open)."""
    res = _py(
        _box(backend),
        """
        import errno, os
        for path in ("/proc/sys/kernel/core_pattern", "/proc/sys/vm/drop_caches"):
            try:
                fd = os.open(path, os.O_WRONLY)  # opened only: nothing is ever written
                os.close(fd)
                print(path, "OPENED")
            except OSError as e:
                print(path, errno.errorcode[e.errno])
        """,
        workdir,
    )
    assert [line.split()[1] for line in res.stdout.splitlines()] == ["EROFS", "EROFS"], res.stdout


def test_host_secrets_env_and_files_are_unreadable(backend, workdir, tmp_path, monkeypatch):
    """--clearenv drops the harness's variables; /root, /home and the host /tmp are not bound."""
    token = uuid.uuid4().hex
    monkeypatch.setenv("SELFPLAY_TEST_API_KEY", token)
    secret_tmp = tmp_path / "secret.txt"
    secret_tmp.write_text(token)
    secret_root = None
    if os.geteuid() == 0 and os.access("/root", os.W_OK):
        secret_root = f"/root/.selfplay-sandbox-secret-{token[:8]}"
        with open(secret_root, "w") as fh:
            fh.write(token)
    try:
        paths = [str(secret_tmp), secret_root or "/root/.bashrc", "/etc/shadow", "/home"]
        res = _py(
            _box(backend),
            f"""
            import errno, os
            print("env", os.environ.get("SELFPLAY_TEST_API_KEY"))
            for path in {paths!r}:
                try:
                    print(path, open(path).read() if os.path.isfile(path) else os.listdir(path))
                except OSError as e:
                    print(path, errno.errorcode[e.errno])
            """,
            workdir,
        )
    finally:
        if secret_root:
            os.remove(secret_root)
    assert token not in res.stdout + res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "env None"
    assert all(line.endswith("ENOENT") for line in lines[1:]), lines


# ---------------------------------------------------------------------------- processes
@pytest.mark.parametrize("name", [*ISOLATING, "unsafe"])
def test_fork_bomb_is_bounded_by_the_process_limit(name, workdir):
    """The pids cgroup (or the per-slot uid) stops forks at Limits.processes, even as root."""
    box = _box(name, processes=24, timeout_s=10)
    if box.describe()["process_limit"] == "none":
        pytest.skip("no way to bound processes on this host")
    res = _py(
        box,
        """
        import os, time
        made = 0
        for _ in range(300):
            try:
                pid = os.fork()
            except OSError as e:
                print("stopped", made, e.errno)
                break
            if pid == 0:
                time.sleep(3)
                os._exit(0)
            made += 1
        else:
            print("unbounded", made)
        """,
        workdir,
    )
    word, made, errno_ = res.stdout.split()
    assert word == "stopped" and errno_ == "11", res.stdout  # EAGAIN
    assert int(made) < 24
    assert os.getpid() and time.time()  # the host is still here


def test_shell_fork_bomb_ends_at_the_timeout_and_leaves_nothing(backend, workdir):
    """The classic :(){ :|:& };: is capped by pids and killed whole at the timeout."""
    marker = f"bomb{uuid.uuid4().hex[:8]}"
    res = _box(backend, processes=64, timeout_s=2).run(
        f"b() {{ b | b & }}; b; sleep 30 # {marker}", workdir=workdir
    )
    assert res.duration_s < 8
    time.sleep(0.2)
    assert _processes_with(marker) == []


def test_memory_bomb_raises_memory_error(backend, workdir):
    """RLIMIT_AS stops a 2 GB allocation under a 256 MiB limit."""
    res = _py(_box(backend, memory_bytes=256 << 20), "b = bytearray(2 * 10**9)", workdir)
    assert res.returncode == 1
    assert "MemoryError" in res.stderr


@pytest.mark.parametrize("name", [*ISOLATING, "unsafe"])
def test_sleeping_past_the_limit_is_killed_with_its_whole_tree(name, workdir):
    """Timeout: returncode None, duration about the limit, and no process with the marker left."""
    marker = f"sleeper{uuid.uuid4().hex[:8]}"
    res = _py(
        _box(name, timeout_s=1.0),
        f"""
        import os, subprocess, time
        subprocess.Popen(["python", "-S", "-c", "import time; time.sleep(60)", "{marker}"])
        time.sleep(60)
        """,
        workdir,
    )
    assert res.timed_out and res.returncode is None and not res.ok
    assert 1.0 <= res.duration_s < 3.0
    time.sleep(0.1)
    assert _processes_with(marker) == []


@pytest.mark.parametrize("exit_first", [False, True], ids=["at_timeout", "after_exit"])
@pytest.mark.parametrize("name", [*ISOLATING, "unsafe"])
def test_setsid_double_fork_escape_does_not_survive(name, exit_first, workdir):
    """A daemonised grandchild (setsid + double fork) dies with the run, timed out or not.

    bwrap/unshare: the pid namespace dies with its init; unsafe: killpg alone would miss it, the
    run's pids cgroup does not.
    """
    marker = f"daemon{uuid.uuid4().hex[:8]}"
    box = _box(name, timeout_s=1.5)
    if name == "unsafe" and box.describe()["process_limit"] not in {"cgroup-v1", "cgroup-v2"}:
        pytest.skip("without a pids cgroup the unsafe backend cannot catch a setsid daemon")
    res = _py(
        box,
        f"""
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execvp("python", ["python", "-S", "-c", "import time; time.sleep(60)", "{marker}"])
            os._exit(0)
        time.sleep({0.3 if exit_first else 60})
        """,
        workdir,
    )
    assert res.timed_out is (not exit_first)
    time.sleep(0.1)
    assert _processes_with(marker) == []


def test_killing_the_harness_is_impossible_from_inside(backend, workdir):
    """Own pid namespace: the harness's pid is not visible, so kill -9 finds no such process.

    The script probes with signal 0 first and sends SIGKILL only to a pid it cannot see, so a
    broken guard would print VISIBLE instead of killing the test run.
    """
    me = os.getpid()
    res = _py(
        _box(backend),
        f"""
        import errno, os, signal
        print(sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
        for target in ({me}, {os.getppid()}):
            try:
                os.kill(target, 0)
                print("VISIBLE")
                continue
            except OSError as e:
                pass
            try:
                os.kill(target, signal.SIGKILL)
                print("KILLED")
            except OSError as e:
                print(errno.errorcode[e.errno])
        """,
        workdir,
    )
    lines = res.stdout.splitlines()
    visible = [int(p) for p in lines[0].strip("[]").split(",")]
    assert max(visible) < 100, "only the sandbox's own few processes are visible"
    assert me not in visible
    assert lines[1:] == ["ESRCH", "ESRCH"], res.stdout
    assert os.getpid() == me  # still here


def test_disk_fill_of_tmp_hits_enospc_at_tmp_bytes(backend, workdir):
    """/tmp is a tmpfs of Limits.tmp_bytes: filling it fails with ENOSPC near that size."""
    res = _py(
        _box(backend, tmp_bytes=4 << 20),
        """
        import errno
        written = 0
        try:
            with open("/tmp/fill", "wb") as fh:
                for _ in range(64):
                    fh.write(b"x" * (1 << 20))
                    fh.flush()
                    written += 1 << 20
        except OSError as e:
            print(errno.errorcode[e.errno], written)
        """,
        workdir,
    )
    code, written = res.stdout.split()
    assert code == "ENOSPC"
    assert int(written) <= 4 << 20


def test_huge_file_in_work_is_cut_at_file_bytes(backend, workdir):
    """RLIMIT_FSIZE: a file in the (host-backed) work dir cannot grow past Limits.file_bytes."""
    res = _py(
        _box(backend, file_bytes=1 << 20),
        """
        import errno
        try:
            with open("big.bin", "wb") as fh:
                fh.write(b"x" * (8 << 20))
        except OSError as e:
            print(errno.errorcode[e.errno])
        """,
        workdir,
    )
    assert res.stdout.strip() == "EFBIG"
    assert (workdir / "big.bin").stat().st_size <= 1 << 20


@pytest.mark.parametrize("name", [*ISOLATING, "unsafe"])
def test_output_flood_is_truncated(name, workdir):
    """stdout beyond Limits.output_bytes is read and dropped; the run still finishes."""
    res = _py(
        _box(name, output_bytes=64 << 10),
        "import sys\nfor _ in range(200):\n    sys.stdout.write('y' * 65536)\n",
        workdir,
    )
    assert res.ok and res.truncated
    assert len(res.stdout) == 64 << 10
