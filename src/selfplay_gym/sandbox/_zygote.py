"""A tiny resident launcher that lives inside one pids cgroup and forks sandbox launchers there.

Not imported by the harness: :mod:`selfplay_gym.sandbox.zygotes` passes this source to
``python -I -S -c``. Why it exists: moving a process into a cgroup v1 (writing ``cgroup.procs``)
waits for an RCU grace period, 5-20 ms on this host, on every run; a process *forked* inside the
cgroup is born there for free. So each concurrent run slot keeps one zygote in its own leaf cgroup
(migrated once), and every run of that slot is forked by it.

Protocol on the descriptor named by ``argv[2]`` (a ``SOCK_SEQPACKET`` socket): the harness sends one JSON message
``{"argv", "env", "cwd", "rlimits": [[resource, value], ...]}`` with three file descriptors
(stdin, stdout, stderr) attached; the zygote forks, the child starts a new session, takes the
descriptors as 0/1/2, applies the rlimits and ``execve``s; the zygote answers ``{"pid": n}`` and,
when the child ends, ``{"status": returncode}`` (negative: killed by that signal). An ``exec``
failure exits 127 with the reason on stderr. The zygote asks for SIGKILL when the harness dies.
"""

import ctypes
import json
import os
import resource
import socket
import sys


def _die_with_parent(expected_parent):
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL
    except (OSError, AttributeError):
        pass
    if os.getppid() != expected_parent:
        os._exit(0)


def _child(request, fds):
    os.setsid()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    os.closerange(3, 1 << 16)  # also the zygote's socket
    for which, value in request["rlimits"]:
        resource.setrlimit(which, (value, value))
    try:
        os.chdir(request["cwd"])
        os.execvpe(request["argv"][0], request["argv"], request["env"])
    except OSError as exc:
        os.write(2, f"sandbox launcher: cannot run {request['argv'][0]!r}: {exc}\n".encode())
    os._exit(127)


def main():
    _die_with_parent(int(sys.argv[1]))
    sock = socket.socket(fileno=int(sys.argv[2]))
    sock.sendall(b'{"ready": true}')
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(sock, 1 << 20, 3)
        except OSError:
            return
        if not data:
            return
        request = json.loads(data)
        pid = os.fork()
        if pid == 0:
            try:
                _child(request, fds)
            finally:
                os._exit(127)
        for fd in fds:
            os.close(fd)
        sock.sendall(json.dumps({"pid": pid}).encode())
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        try:
            sock.sendall(json.dumps({"status": code}).encode())
        except OSError:
            return


if __name__ == "__main__":
    main()
