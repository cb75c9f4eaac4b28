"""The Search-R1 HTTP API: our server, our client, and the client against foreign servers."""

from __future__ import annotations

import json
import pickle
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from selfplay_gym.envs.search.backends import SearchR1HttpBackend, TantivyBackend
from selfplay_gym.envs.search.base import Corpus, Hit, Passage, SearchBackend, SearchError
from selfplay_gym.envs.search.server import RetrievalServer, serve

PASSAGES = [
    Passage("0", "Orvane", "Orvane is the capital of the kingdom of Talmeria."),
    Passage("1", "Brisk River", "The Brisk River flows past the town of Quillmoor."),
    Passage("2", "Hesper Dunn", "Hesper Dunn invented the copper telescope in 1712."),
    Passage("3", "Glass Owl", "The Glass Owl nests only on Mount Vey."),
    Passage("4", "Mount Vey", "Mount Vey is the tallest volcano of the Ashen Range."),
    Passage("5", "Talmerian lira", "The lira is the currency of Talmeria."),
    Passage("6", 'The "Quoted" Title', "A title with quotes and a newline\nin the text."),
]
CORPUS = Corpus.from_passages("http-facts", PASSAGES)
QUERIES = ["capital of Talmeria", "Glass Owl nests", "currency", "", "Mount Vey volcano"]
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SELFPLAY_GYM_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def backend(tmp_path_factory) -> TantivyBackend:
    return TantivyBackend(CORPUS, index_dir=tmp_path_factory.mktemp("index") / "tantivy")


@pytest.fixture
def server(backend) -> Iterator[RetrievalServer]:
    srv = serve(backend, max_queries=8).start()
    try:
        yield srv
    finally:
        srv.shutdown()


def post(url: str, payload: object, raw: bytes | None = None) -> tuple[int, dict]:
    body = raw if raw is not None else json.dumps(payload).encode()
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with NO_PROXY.open(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def get(url: str) -> tuple[int, dict]:
    try:
        with NO_PROXY.open(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


# -- our server


def test_client_round_trips_the_backends_hits(server, backend):
    client = SearchR1HttpBackend(server.url, timeout=5)
    for k in (1, 3, 7):
        direct = backend.search(QUERIES, k=k)
        remote = client.search(QUERIES, k=k)
        assert [[(h.doc_id, h.title, h.text) for h in hits] for hits in remote] == [
            [(h.doc_id, h.title, h.text) for h in hits] for hits in direct
        ]
        for r_hits, d_hits in zip(remote, direct, strict=True):
            assert [h.score for h in r_hits] == pytest.approx([h.score for h in d_hits])
    assert client.search([], k=3) == []
    many = [f"capital {i}" for i in range(20)]  # more than the server's max_queries=8
    assert SearchR1HttpBackend(server.url, max_batch=8).search(many, k=1) == client.search(
        many[:8], k=1
    ) + client.search(many[8:16], k=1) + client.search(many[16:], k=1)
    assert client.search(["capital"], k=None)[0][0].doc_id == "0"  # default_k
    assert pickle.loads(pickle.dumps(client)).search(["Talmeria lira"], k=1) == client.search(
        ["Talmeria lira"], k=1
    )


def test_response_shape_is_search_r1s(server, backend):
    status, reply = post(
        server.url + "/retrieve",
        {"queries": ["capital of Talmeria", ""], "topk": 2, "return_scores": True},
    )
    assert status == 200
    assert set(reply) == {"result"} and len(reply["result"]) == 2
    first = reply["result"][0][0]
    assert set(first) == {"document", "score"}
    assert first["document"] == {
        "id": "0",
        "contents": '"Orvane"\nOrvane is the capital of the kingdom of Talmeria.',
        "title": "Orvane",
        "text": "Orvane is the capital of the kingdom of Talmeria.",
    }
    assert first["score"] == pytest.approx(backend.search(["capital of Talmeria"], k=1)[0][0].score)
    assert len(reply["result"][0]) == 2 and reply["result"][1] == []

    status, bare = post(
        server.url + "/retrieve",
        {"queries": ["capital of Talmeria"], "topk": 1, "return_scores": False},
    )
    assert status == 200 and bare == {"result": [[first["document"]]]}
    # Search-R1's defaults: no return_scores means bare documents, topk null/0/missing the default
    for extra in ({}, {"topk": None}, {"topk": 0}):
        status, reply = post(server.url + "/retrieve", {"queries": ["the"], **extra})
        assert (
            status == 200
            and len(reply["result"][0]) == 3
            and "document" not in reply["result"][0][0]
        )
    status, reply = post(
        server.url + "/retrieve/", {"queries": ["quoted title newline"], "topk": 1}
    )
    assert (
        reply["result"][0][0]["contents"]
        == '"The "Quoted" Title"\nA title with quotes and a newline\nin the text.'
    )


def test_health(server):
    status, reply = get(server.url + "/health")
    assert status == 200
    assert reply["status"] == "ok" and reply["backend"] == "tantivy"
    assert reply["corpus"] == "http-facts" and reply["num_passages"] == len(CORPUS)


@pytest.mark.parametrize(
    ("payload", "raw", "message"),
    [
        (None, b"not json", "JSON body"),
        (None, b"\xff\xfe", "JSON body"),
        (["q"], None, "JSON object"),
        ({"topk": 3}, None, "list of strings"),
        ({"queries": "capital"}, None, "list of strings"),
        ({"queries": ["ok", 3]}, None, "list of strings"),
        ({"queries": ["q"] * 9}, None, "at most 8 queries, got 9"),
        ({"queries": ["q"], "topk": -1}, None, "integer in [1, 100], got -1"),
        ({"queries": ["q"], "topk": 101}, None, "got 101"),
        ({"queries": ["q"], "topk": "3"}, None, "got '3'"),
        ({"queries": ["q"], "topk": 2.5}, None, "got 2.5"),
        ({"queries": ["q"], "topk": True}, None, "got True"),
        ({"queries": ["q"], "return_scores": "yes"}, None, "boolean"),
    ],
)
def test_bad_requests_get_400_and_the_server_goes_on(server, payload, raw, message):
    status, reply = post(server.url + "/retrieve", payload, raw)
    assert status == 400
    assert set(reply) == {"error"} and message in reply["error"]
    assert "Traceback" not in reply["error"]
    status, reply = post(server.url + "/retrieve", {"queries": ["Glass Owl"], "topk": 1})
    assert status == 200 and reply["result"][0][0]["id"] == "3"


def test_unknown_paths_and_hostile_queries(server):
    assert get(server.url + "/nope")[0] == 404
    assert post(server.url + "/search", {"queries": ["x"]})[0] == 404
    hostile = ["", "AND OR NOT", 'title:"x', "a" * 100_000, "(((((", "\x00\ud800", "東京 🦉"]
    status, reply = post(server.url + "/retrieve", {"queries": hostile, "topk": 3})
    assert status == 200 and len(reply["result"]) == len(hostile)
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(b"POST /retrieve HTTP/1.0\r\nContent-Length: 999999999\r\n\r\n")
        assert b" 413 " in sock.recv(4096).split(b"\r\n")[0]
    assert (
        post(server.url + "/retrieve", {"queries": ["lira"], "topk": 1})[1]["result"][0][0]["id"]
        == "5"
    )


def test_backend_failures_are_502_and_500_without_traceback():
    class Broken(SearchBackend):
        name = "broken"

        def search(self, queries, k=3):
            if queries[0] == "bug":
                raise KeyError("secret internals")
            raise SearchError("index closed")

    with serve(Broken()) as srv:
        status, reply = post(srv.url + "/retrieve", {"queries": ["q"]})
        assert status == 502 and reply == {"error": "search failed: index closed"}
        status, reply = post(srv.url + "/retrieve", {"queries": ["bug"]})
        assert (
            status == 500 and "secret" not in reply["error"] and "Traceback" not in reply["error"]
        )
        with pytest.raises(SearchError, match="HTTP 502.*index closed"):
            SearchR1HttpBackend(srv.url, retries=0).search(["q"])
        assert get(srv.url + "/health") == (200, {"status": "ok", "backend": "broken"})


def test_ipv6_loopback(backend):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        srv = serve(backend, host="::1").start()
    except OSError:
        pytest.skip("no IPv6 loopback")
    try:
        assert srv.url.startswith("http://[::1]:")
        assert SearchR1HttpBackend(srv.url).search(["lira"], k=1)[0][0].doc_id == "5"
    finally:
        srv.shutdown()


def test_serve_forever_and_shutdown(backend):
    srv = serve(backend)
    thread = threading.Thread(target=srv.serve_forever)
    thread.start()
    try:
        assert SearchR1HttpBackend(srv.url).search(["lira"], k=1)[0][0].doc_id == "5"
    finally:
        srv.shutdown()
        thread.join(5)
    assert not thread.is_alive()


# -- the client against other servers


class ScriptedServer:
    """A tiny foreign retrieval server: ``respond(n, request) -> (status, body bytes)``."""

    def __init__(self, respond: Callable[[int, dict | None], tuple[int, bytes]]) -> None:
        self.requests: list[dict | None] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    request = json.loads(body)
                except ValueError:
                    request = None
                outer.requests.append(request)
                status, payload = respond(len(outer.requests), request)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def scripted() -> Iterator[Callable[..., ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(respond):
        servers.append(ScriptedServer(respond))
        return servers[-1]

    try:
        yield start
    finally:
        for srv in servers:
            srv.close()


def search_r1_reply(request: dict, *, scores: bool) -> bytes:
    """What Search-R1's dense server sends: corpus rows ``{"id", "contents"}``, int ids here."""
    result = []
    for query in request["queries"]:
        words = set(query.lower().split())
        ranked = [p for p in PASSAGES if words & set(p.text.lower().replace(".", "").split())]
        docs = [{"id": int(p.id), "contents": p.contents} for p in ranked[: request["topk"]]]
        result.append(
            [{"document": d, "score": 1.0 / (i + 1)} for i, d in enumerate(docs)]
            if scores
            else docs
        )
    return json.dumps({"result": result}).encode()


@pytest.mark.parametrize("scores", [True, False])
def test_client_reads_search_r1_shaped_servers(scripted, scores):
    srv = scripted(lambda n, request: (200, search_r1_reply(request, scores=scores)))
    client = SearchR1HttpBackend(srv.url + "/retrieve", timeout=5)
    hits = client.search(["capital", "volcano", "zzz"], k=2)
    assert hits[0] == [Hit("0", "Orvane", PASSAGES[0].text, 1.0 if scores else 0.0)]
    assert hits[1][0].doc_id == "4" and hits[1][0].title == "Mount Vey" and hits[2] == []
    assert srv.requests[0] == {
        "queries": ["capital", "volcano", "zzz"],
        "topk": 2,
        "return_scores": True,
    }


def test_client_reads_title_text_documents_and_truncates_to_k(scripted):
    docs = [{"title": f"T{i}", "text": f"text {i}", "contents": "ignored"} for i in range(5)]
    srv = scripted(lambda n, r: (200, json.dumps({"result": [docs]}).encode()))
    hits = SearchR1HttpBackend(srv.url).search(["q"], k=2)
    assert hits == [[Hit("", "T0", "text 0"), Hit("", "T1", "text 1")]]


def test_client_retries_5xx_then_succeeds(scripted):
    def respond(n, request):
        if n <= 2:
            return 503, b'{"error": "warming up"}'
        return 200, search_r1_reply(request, scores=True)

    srv = scripted(respond)
    hits = SearchR1HttpBackend(srv.url, retries=3, backoff=0.01).search(["lira"], k=1)
    assert hits[0][0].doc_id == "5" and len(srv.requests) == 3


def test_client_gives_up_after_retries(scripted):
    srv = scripted(lambda n, r: (500, b"oops"))
    client = SearchR1HttpBackend(srv.url, retries=2, backoff=0.01)
    with pytest.raises(SearchError, match="failed 3 times, last: HTTP 500: oops"):
        client.search(["q"])
    assert len(srv.requests) == 3


def test_client_does_not_retry_4xx(scripted):
    srv = scripted(lambda n, r: (422, b'{"error": "topk must be positive"}'))
    with pytest.raises(SearchError, match="HTTP 422: topk must be positive"):
        SearchR1HttpBackend(srv.url, retries=3, backoff=0.01).search(["q"])
    assert len(srv.requests) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>not json</html>", "invalid JSON"),
        (b'{"results": []}', '"result" list'),
        (b"[[]]", '"result" list'),
        (b'{"result": [[], []]}', "expected 1 result lists"),
        (b'{"result": [{"document": {}}]}', "result 0 to be a list"),
        (b'{"result": [["just a string"]]}', "result 0 item 0"),
        (b'{"result": [[{"document": {"id": 1}}]]}', "result 0 item 0"),
        (b'{"result": [[{"document": {"id": 1, "contents": 5}}]]}', "result 0 item 0"),
        (b'{"result": [[{"document": {"id": 1, "contents": "x"}, "score": "high"}]]}', "item 0"),
    ],
)
def test_client_rejects_malformed_replies_at_once(scripted, body, message):
    srv = scripted(lambda n, r: (200, body))
    with pytest.raises(SearchError, match=message):
        SearchR1HttpBackend(srv.url, retries=3, backoff=0.01).search(["q"])
    assert len(srv.requests) == 1


def test_client_on_a_dead_port_fails_fast():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = SearchR1HttpBackend(f"http://127.0.0.1:{port}", timeout=0.5, retries=2, backoff=0.01)
    start = time.perf_counter()
    with pytest.raises(SearchError, match="failed 3 times"):
        client.search(["q"])
    assert time.perf_counter() - start < 3.0


def test_client_times_out(scripted):
    def slow(n, request):
        time.sleep(0.5)
        return 200, search_r1_reply(request, scores=True)

    srv = scripted(slow)
    with pytest.raises(SearchError, match="failed 2 times"):
        SearchR1HttpBackend(srv.url, timeout=0.1, retries=1, backoff=0.01).search(["q"])


def test_client_url_forms():
    for url in ("http://h:1", "http://h:1/", "http://h:1/retrieve", "http://h:1/retrieve/"):
        assert SearchR1HttpBackend(url).url == "http://h:1/retrieve"
    assert SearchR1HttpBackend("https://h/api").url == "https://h/api/retrieve"
    with pytest.raises(ValueError, match="http"):
        SearchR1HttpBackend("ftp://h")
