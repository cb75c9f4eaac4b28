r"""Expose any search backend as a Search-R1-compatible retrieval server (standard library only).

Search-R1, verl's search tool, SSP and their derivatives talk to a retriever over one endpoint,
``POST /retrieve``; :func:`serve` puts any
:class:`~selfplay_gym.envs.search.base.SearchBackend` behind it, so an external trainer can
search this package's corpora and indexes. The API:

* ``POST /retrieve`` with ``{"queries": ["q1", ...], "topk": 3, "return_scores": true}``
  (``topk`` null, 0 or missing means the server's default) answers
  ``{"result": [[{"document": {"id", "contents", "title", "text"}, "score": 1.7}, ...], ...]}``,
  one list per query; with ``return_scores`` false (Search-R1's default) the list holds the bare
  documents. ``contents`` is ``'"Title"\ntext'``, as in Search-R1's corpus rows.
* ``GET /health`` answers ``{"status": "ok", ...}`` with the backend's ``describe()``.

A malformed request gets HTTP 400 and ``{"error": "..."}``; a backend that cannot answer
(:class:`~selfplay_gym.envs.search.base.SearchError`) gets 502. The server never sends a
traceback and keeps serving.

Example:
    >>> from selfplay_gym.envs.search.backends import SearchR1HttpBackend, SQLiteFTS5Backend
    >>> from selfplay_gym.envs.search.base import Corpus, Passage
    >>> corpus = Corpus.from_passages("toy", [Passage("0", "Orvane", "Capital of Talmeria.")])
    >>> with serve(SQLiteFTS5Backend(corpus)) as server:
    ...     client = SearchR1HttpBackend(server.url)
    ...     [hit.title for hit in client.search(["Talmeria"], k=1)[0]]
    ['Orvane']
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from selfplay_gym.envs.search.base import SearchBackend, SearchError

__all__ = ["serve", "RetrievalServer", "MAX_TOPK"]

logger = logging.getLogger(__name__)

MAX_TOPK = 100
"""The largest ``topk`` a request may ask for."""


class _BadRequest(Exception):
    """A request the server refuses, with the HTTP status to send."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: RetrievalServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Client disconnects and the like: the server goes on, quietly unless verbose.
        if self.owner.verbose:
            super().handle_error(request, client_address)


class _HTTPServer6(_HTTPServer):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = "selfplay-gym-retrieval/1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        if self.server.owner.verbose:
            super().log_message(format, *args)

    def _send_json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _path(self) -> str:
        return self.path.split("?", 1)[0].rstrip("/") or "/"

    def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
        """``GET /health``: the status and the backend's description."""
        owner = self.server.owner
        if self._path() != "/health":
            self._send_json(
                404, {"error": f"expected GET /health or POST /retrieve, got GET {self.path}"}
            )
            return
        try:
            described = owner.backend.describe()
        except Exception as exc:  # a broken describe() must not break the health check
            described = {"describe_error": f"{type(exc).__name__}: {exc}"}
        self._send_json(200, {"status": "ok", **described})

    def do_POST(self) -> None:  # noqa: N802 - the http.server hook name
        """``POST /retrieve``: search the backend and answer in Search-R1's shape."""
        owner = self.server.owner
        if self._path() != "/retrieve":
            self._send_json(
                404, {"error": f"expected POST /retrieve or GET /health, got POST {self.path}"}
            )
            return
        try:
            queries, topk, return_scores = owner._parse_request(self._read_body())
        except _BadRequest as exc:
            self._send_json(exc.status, {"error": str(exc)})
            return
        try:
            results = owner.backend.search(queries, topk) if queries else []
        except SearchError as exc:
            self._send_json(502, {"error": f"search failed: {exc}"})
            return
        except Exception as exc:
            logger.exception("search backend %s raised", owner.backend.name)
            self._send_json(500, {"error": f"internal error: {type(exc).__name__}"})
            return
        result = []
        for hits in results:
            docs = []
            for hit in hits:
                document = {
                    "id": hit.doc_id,
                    "contents": hit.contents,
                    "title": hit.title,
                    "text": hit.text,
                }
                docs.append(
                    {"document": document, "score": hit.score} if return_scores else document
                )
            result.append(docs)
        self._send_json(200, {"result": result})

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None:
            raise _BadRequest("expected a Content-Length header", 411)
        try:
            size = int(length)
        except ValueError:
            raise _BadRequest(f"expected an integer Content-Length, got {length!r}") from None
        limit = self.server.owner.max_body_bytes
        if size < 0 or size > limit:
            raise _BadRequest(f"expected a body of at most {limit} bytes, got {size}", 413)
        return self.rfile.read(size)


class RetrievalServer:
    """A Search-R1-compatible HTTP server around a backend; made by :func:`serve`.

    The socket is bound on construction (so :attr:`port` is known even for port 0); requests are
    served by :meth:`serve_forever` (blocking) or :meth:`start` (a background thread). Used as a
    context manager it starts in the background and shuts down on exit.

    Attributes:
        backend: The backend answering the queries.
        host: The bound address.
        port: The bound port.
        url: ``http://host:port`` (without ``/retrieve``).
        default_topk: ``topk`` when a request gives none (null, 0 or missing).
        max_queries: The most queries one request may carry.
        max_query_chars: Queries are cut to this many characters.
        verbose: Log every request and connection error to stderr.
    """

    def __init__(
        self,
        backend: SearchBackend,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        default_topk: int = 3,
        max_queries: int = 256,
        max_query_chars: int = 2000,
        verbose: bool = False,
    ) -> None:
        if not 1 <= default_topk <= MAX_TOPK:
            raise ValueError(f"expected default_topk in [1, {MAX_TOPK}], got {default_topk}")
        self.backend = backend
        self.default_topk = default_topk
        self.max_queries = max_queries
        self.max_query_chars = max_query_chars
        self.verbose = verbose
        # JSON may spell a character as \uXXXX (6 bytes); allow that plus some slack.
        self.max_body_bytes = max_queries * (6 * max_query_chars + 16) + 65536
        server_class = _HTTPServer6 if ":" in host else _HTTPServer
        self._httpd = server_class((host, port), _Handler)
        self._httpd.owner = self
        self.host, self.port = self._httpd.server_address[:2]
        shown = f"[{self.host}]" if ":" in str(self.host) else self.host
        self.url = f"http://{shown}:{self.port}"
        self._thread: threading.Thread | None = None
        self._serving = threading.Event()

    def _parse_request(self, body: bytes) -> tuple[list[str], int, bool]:
        """Read a ``/retrieve`` body into ``(queries, topk, return_scores)``.

        Raises:
            _BadRequest: The body is not a valid Search-R1 request (the message says why).
        """
        try:
            request = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise _BadRequest("expected a JSON body") from None
        if not isinstance(request, dict):
            raise _BadRequest(f"expected a JSON object, got {type(request).__name__}")
        queries = request.get("queries")
        if not isinstance(queries, list) or not all(isinstance(q, str) for q in queries):
            raise _BadRequest('expected "queries" to be a list of strings')
        if len(queries) > self.max_queries:
            raise _BadRequest(f"expected at most {self.max_queries} queries, got {len(queries)}")
        topk = request.get("topk")
        if topk is None or topk == 0:
            topk = self.default_topk
        if isinstance(topk, bool) or not isinstance(topk, int) or not 1 <= topk <= MAX_TOPK:
            raise _BadRequest(f'expected "topk" to be an integer in [1, {MAX_TOPK}], got {topk!r}')
        return_scores = request.get("return_scores", False)
        if return_scores is None:
            return_scores = False
        if not isinstance(return_scores, bool):
            raise _BadRequest(f'expected "return_scores" to be a boolean, got {return_scores!r}')
        return [q[: self.max_query_chars] for q in queries], topk, return_scores

    def serve_forever(self, poll_interval: float = 0.05) -> None:
        """Serve requests until :meth:`shutdown` is called (from another thread) or Ctrl-C.

        Args:
            poll_interval: Seconds between checks for a shutdown request.
        """
        self._serving.set()
        try:
            self._httpd.serve_forever(poll_interval=poll_interval)
        except KeyboardInterrupt:
            pass
        finally:
            self._serving.clear()

    def start(self) -> RetrievalServer:
        """Serve requests in a daemon thread; returns this server."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self.serve_forever, name=f"retrieval-server-{self.port}", daemon=True
            )
            self._thread.start()
            self._serving.wait(5)
        return self

    def shutdown(self) -> None:
        """Stop serving (in whichever thread :meth:`serve_forever` runs) and close the socket.

        The backend stays open.
        """
        if self._serving.is_set():
            self._httpd.shutdown()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> RetrievalServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        return f"RetrievalServer({self.url}, backend={self.backend.name!r})"


def serve(
    backend: SearchBackend,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    default_topk: int = 3,
    max_queries: int = 256,
    max_query_chars: int = 2000,
    verbose: bool = False,
) -> RetrievalServer:
    """A Search-R1-compatible server for ``backend``, bound but not yet serving.

    Call :meth:`RetrievalServer.serve_forever` to serve in the foreground,
    :meth:`RetrievalServer.start` for a background thread, or use it as a context manager.

    Args:
        backend: Answers the queries.
        host: Address to bind; ``"0.0.0.0"`` to accept other machines (no authentication!).
        port: Port to bind; 0 picks a free one (see :attr:`RetrievalServer.port`).
        default_topk: Hits per query when a request gives no ``topk``.
        max_queries: The most queries one request may carry (more is a 400).
        max_query_chars: Longer queries are cut to this many characters.
        verbose: Log every request to stderr.

    Returns:
        The server; its :attr:`~RetrievalServer.url` is what clients need.
    """
    return RetrievalServer(
        backend,
        host,
        port,
        default_topk=default_topk,
        max_queries=max_queries,
        max_query_chars=max_query_chars,
        verbose=verbose,
    )
