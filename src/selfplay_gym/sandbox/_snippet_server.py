"""The fork server that :class:`~selfplay_gym.sandbox.snippets.SnippetRunner` runs in a sandbox.

This file is not imported by the harness: its source is passed to ``python -I -c`` inside the
sandbox, with one JSON argument (the per-snippet limits and whether to sweep the namespace). It
uses only the standard library.

Protocol: one JSON object per line on stdin, ``{"code", "expr", "timeout"}``; one JSON object per
line on stdout, ``{"ok", "value", "stdout", "error"}``. For each request the server forks; the
child starts a new session, applies the rlimits, sends its stdout/stderr into a pipe, runs
``exec(code)`` in a fresh namespace and ``repr(eval(expr))`` in it, and writes its result as JSON
to a second pipe. The server SIGKILLs the child's process group at the timeout and, when it runs
as the only real process of its own pid namespace (``sweep``), then SIGKILLs every other process in
the namespace (``kill(-1)``), so nothing a snippet started (``setsid``, double fork) outlives it.
"""

import builtins
import gc
import json
import os
import resource
import select
import signal
import sys
import time
import traceback


def _last_line(exc):
    lines = traceback.format_exception_only(type(exc), exc)
    text = lines[-1].strip() if lines else type(exc).__name__
    return text[:2000]


def _child(code, expr, cfg, w_res, w_out):
    os.setsid()
    os.dup2(w_out, 1)
    os.dup2(w_out, 2)
    os.closerange(3, w_res)
    os.closerange(w_res + 1, 1 << 16)
    cpu = max(1, int(cfg["timeout"]) + 1)
    for which, value in (
        (resource.RLIMIT_AS, cfg["memory_bytes"]),
        (resource.RLIMIT_CPU, cpu),
        (resource.RLIMIT_FSIZE, cfg["file_bytes"]),
        (resource.RLIMIT_NOFILE, cfg["open_files"]),
        (resource.RLIMIT_CORE, 0),
    ):
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            pass
    sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.stderr = sys.stdout
    result = {"ok": False, "value": None, "error": None}
    try:
        namespace = {"__name__": "__main__", "__builtins__": builtins}
        exec(compile(code, "<snippet>", "exec"), namespace)
        if expr is not None:
            value = repr(eval(compile(expr, "<expr>", "eval"), namespace))
            result["value"] = value[: cfg["value_chars"]]
        result["ok"] = True
    except BaseException as exc:  # SystemExit and KeyboardInterrupt are snippet errors too
        try:
            result["error"] = _last_line(exc)
        except BaseException:
            result["error"] = type(exc).__name__
    try:
        sys.stdout.flush()
    except BaseException:
        pass
    try:
        data = json.dumps(result).encode()
    except BaseException:
        data = json.dumps({"ok": False, "value": None, "error": "SerializationError"}).encode()
    view = memoryview(data)
    while view:
        view = view[os.write(w_res, view) :]
    os._exit(0)


def _run_one(request, cfg):
    timeout = float(request.get("timeout") or cfg["timeout"])
    per = dict(cfg, timeout=timeout)
    r_res, w_res = os.pipe()
    r_out, w_out = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r_res)
            os.close(r_out)
            _child(request["code"], request.get("expr"), per, w_res, w_out)
        finally:
            os._exit(70)
    os.close(w_res)
    os.close(w_out)
    deadline = time.monotonic() + timeout
    result_bytes = []
    out_bytes = []
    kept = 0
    open_fds = [r_res, r_out]
    timed_out = False
    while r_res in open_fds:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        ready, _, _ = select.select(open_fds, [], [], left)
        for fd in ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.remove(fd)
            elif fd == r_res:
                result_bytes.append(chunk)
            elif kept < cfg["output_bytes"]:
                chunk = chunk[: cfg["output_bytes"] - kept]
                out_bytes.append(chunk)
                kept += len(chunk)
    if timed_out:
        for target in (-pid, pid):
            try:
                os.kill(target, signal.SIGKILL)
            except OSError:
                pass
    _, status = os.waitpid(pid, 0)
    # Whatever the child wrote before exiting and is still in the pipe.
    if r_out in open_fds:
        os.set_blocking(r_out, False)
        while kept < cfg["output_bytes"]:
            try:
                chunk = os.read(r_out, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunk = chunk[: cfg["output_bytes"] - kept]
            out_bytes.append(chunk)
            kept += len(chunk)
    if cfg["sweep"]:
        try:
            os.kill(-1, signal.SIGKILL)  # everything else in this pid namespace
        except OSError:
            pass
    os.close(r_res)
    os.close(r_out)
    stdout = b"".join(out_bytes).decode("utf-8", "replace")
    if timed_out:
        return {"ok": False, "value": None, "stdout": stdout, "error": "Timeout"}
    try:
        result = json.loads(b"".join(result_bytes).decode())
    except ValueError:
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            try:
                name = signal.Signals(sig).name
            except ValueError:
                name = str(sig)
            error = "Killed: " + name
            if sig == signal.SIGXCPU or sig == signal.SIGKILL:
                error += " (CPU or memory limit)"
        else:
            error = f"Exited: status {os.WEXITSTATUS(status)} without a result"
        result = {"ok": False, "value": None, "error": error}
    result["stdout"] = stdout
    return result


def _not_dumpable():
    # A snippet runs as the server's uid: without this it could open /proc/<server>/mem for
    # writing (or ptrace the server) and forge the results of every later snippet.
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except (OSError, AttributeError, ImportError):
        pass


def main():
    _not_dumpable()
    cfg = json.loads(sys.argv[1])
    cfg["sweep"] = bool(cfg.get("sweep")) and os.getppid() == 1
    in_fd = os.dup(0)
    out_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    reader = os.fdopen(in_fd, "rb")
    gc.freeze()  # keep the collector from touching (and so copying) the server's pages in children
    os.write(out_fd, b'{"ready": true}\n')
    for line in reader:
        try:
            request = json.loads(line)
            response = _run_one(request, cfg)
        except Exception as exc:  # a server bug must not kill the server silently
            response = {
                "ok": False,
                "value": None,
                "stdout": "",
                "error": "ServerError: " + _last_line(exc),
            }
        data = (json.dumps(response) + "\n").encode()
        view = memoryview(data)
        while view:
            view = view[os.write(out_fd, view) :]
        # The next snippet is a fork of this process: it must not find this one's request or
        # result (say, a task's reference outputs) in the frame of main().
        line = request = response = data = view = None


if __name__ == "__main__":
    main()
