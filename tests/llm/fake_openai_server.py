"""A scripted OpenAI-compatible server for the HTTP backend's failure tests.

Tests set :attr:`FakeServer.replies` (the next replies, in order) or :attr:`FakeServer.default`
(a function of the request body) and read back the requests it saw and how many were in flight
at once (:attr:`FakeServer.peak`).
"""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


def chat_answer(text: str = "[4]", finish_reason: str = "stop", **choice: Any) -> dict[str, Any]:
    """A minimal valid ``/chat/completions`` answer."""
    return {
        "id": "fake-1",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason,
                **choice,
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    }


@dataclass
class Reply:
    """What the fake server does with one request."""

    status: int = 200
    body: Any = None
    """A dict (sent as JSON), bytes (sent as is), or ``None`` for :func:`chat_answer`."""
    delay: float = 0.0
    """Seconds to wait before answering."""
    raw: bytes | None = None
    """Bytes written to the socket instead of an HTTP response."""


@dataclass
class FakeServer:
    """A local server whose replies a test scripts; it records requests and peak concurrency."""

    url: str
    replies: list[Reply] = field(default_factory=list)
    """Replies for the next requests, in order; when empty, ``default`` answers."""
    default: Callable[[dict[str, Any]], Reply] = lambda body: Reply()
    requests: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    active: int = 0
    peak: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_reply(self, path: str, body: dict[str, Any]) -> Reply:
        with self.lock:
            self.requests.append(body)
            self.paths.append(path)
            self.active += 1
            self.peak = max(self.peak, self.active)
            return self.replies.pop(0) if self.replies else self.default(body)

    def done(self) -> None:
        with self.lock:
            self.active -= 1

    @classmethod
    @contextlib.contextmanager
    def running(cls) -> Iterator[FakeServer]:
        """A server on a free port of 127.0.0.1, serving from a thread until the block ends."""
        fake = cls(url="")
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
        httpd.daemon_threads = True
        fake.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
        thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield fake
        finally:
            httpd.shutdown()
            httpd.server_close()


def _handler(server: FakeServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # the name http.server dispatches to
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                body = {}
            reply = server.next_reply(self.path, body)
            counted = True
            try:
                if reply.delay:
                    time.sleep(reply.delay)
                # The request stops counting as in flight before its reply is written: the
                # client may send its next request the moment it reads this one, before this
                # thread gets to run again (a false overlap of 3 under a limit of 2).
                server.done()
                counted = False
                if reply.raw is not None:
                    self.wfile.write(reply.raw)
                    self.close_connection = True
                    return
                payload = reply.body if reply.body is not None else chat_answer()
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)
            finally:
                if counted:
                    server.done()

        def log_message(self, *args: Any) -> None:
            pass

    return Handler
