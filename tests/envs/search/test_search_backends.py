"""Local search backends: ranking, query safety, index caching, pickling, dense, hybrid, LRU."""

from __future__ import annotations

import json
import pickle
import threading
import zlib

import numpy as np
import pytest

from selfplay_gym.envs.search.backends import (
    CachedBackend,
    DenseBackend,
    HybridBackend,
    SearchR1HttpBackend,
    SQLiteFTS5Backend,
    TantivyBackend,
    cache_root,
    make_backend,
    query_terms,
)
from selfplay_gym.envs.search.base import Corpus, Hit, Passage, SearchBackend, SearchError

FACTS = [
    ("Orvane", "Orvane is the capital of the kingdom of Talmeria, built on seven hills."),
    ("Brisk River", "The Brisk River flows past the town of Quillmoor into the Salt Sea."),
    ("Hesper Dunn", "Hesper Dunn invented the copper telescope in the year 1712."),
    ("Glass Owl", "The Glass Owl is a nocturnal bird that nests only on Mount Vey."),
    ("Mount Vey", "Mount Vey is the tallest volcano of the Ashen Range, 4,210 metres high."),
    ("Talmerian lira", "The lira is the currency of Talmeria, minted from silver since 1801."),
    ("Quillmoor", "Quillmoor is a fishing town famous for its lantern festival in autumn."),
    ("Copper telescope", "A copper telescope magnifies distant stars with polished lenses."),
    ("Salt Sea", "The Salt Sea is an inland lake so salty that swimmers float easily."),
    ("Ashen Range", "The Ashen Range separates Talmeria from the desert of Kharum."),
]
FILLER_WORDS = (
    "amber basin cedar dawn ember fable garnet harbor ivory juniper kestrel lumen meadow "
    "nectar orchard pebble quarry rowan sable thistle umber velvet willow yarrow zephyr"
).split()


def make_corpus(name: str = "facts", extra: str = "") -> Corpus:
    passages = [Passage(str(i), title, text + extra) for i, (title, text) in enumerate(FACTS)]
    for j in range(20):  # distractors, so rankings are not trivial
        words = [FILLER_WORDS[(j * 7 + m * 3) % len(FILLER_WORDS)] for m in range(12)]
        title = f"{FILLER_WORDS[j].title()} Hollow"
        passages.append(Passage(f"f{j}", title, "The " + " ".join(words) + " of the valley."))
    return Corpus.from_passages(name, passages, license="made up for tests")


CORPUS = make_corpus()
HOSTILE = [
    "",
    "   ",
    "AND OR NOT",
    'title:"x',
    "a" * 100_000,
    "(((((",
    "\x00\ud800",
    "the of and",
    "^~*+-!:{}[]\\/",
    "Talmeria^10 OR capital~2 AND title:Orvane*",
    "東京 Ünïcödé émoji 🦉",
    "SELECT * FROM docs; --",
    '"unbalanced',
    "NEAR(capital lira)",
]
KNOWN = [
    ("What city is the capital of Talmeria?", "0"),
    ("which river flows past Quillmoor", "1"),
    ("who invented a telescope in 1712", "2"),
    ("currency of Talmeria minted in silver", "5"),
    ("lantern festivals", "6"),
]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SELFPLAY_GYM_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


LEXICAL = {
    "tantivy": lambda corpus: TantivyBackend(corpus),
    "tantivy-ram": lambda corpus: TantivyBackend(corpus, in_memory=True),
    "sqlite": lambda corpus: SQLiteFTS5Backend(corpus),
}


@pytest.fixture(params=sorted(LEXICAL))
def lexical(request) -> SearchBackend:
    return LEXICAL[request.param](CORPUS)


def test_cache_root_order(monkeypatch, tmp_path):
    monkeypatch.setenv("SELFPLAY_GYM_CACHE", str(tmp_path / "a"))
    assert cache_root() == tmp_path / "a"
    monkeypatch.delenv("SELFPLAY_GYM_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "selfplay-gym"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "selfplay-gym"


def test_query_terms_ignore_syntax_and_stop_words():
    assert query_terms('Who is the (capital) of "Talmeria" AND OR?') == ["capital", "talmeria"]
    assert query_terms("title:x^2 capital~ -lira*") == ["title", "x", "2", "capital", "lira"]
    assert query_terms("the of and") == ["the", "of", "and"]  # nothing else left: kept
    assert query_terms("((( ]] ... ") == []
    assert len(query_terms(" ".join(f"w{i}" for i in range(500)))) == 64


@pytest.mark.parametrize(("query", "doc_id"), KNOWN)
def test_known_fact_ranks_first(lexical, query, doc_id):
    hits = lexical.search([query], k=3)[0]
    assert hits and hits[0].doc_id == doc_id
    passage = CORPUS.get(doc_id)
    assert (hits[0].title, hits[0].text) == (passage.title, passage.text)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_batch_keeps_order_and_matches_single_queries(lexical):
    queries = [q for q, _ in KNOWN] + ["", "Salt Sea swimmers"]
    batched = lexical.search(queries, k=2)
    assert len(batched) == len(queries)
    assert batched == [lexical.search([q], k=2)[0] for q in queries]
    assert [hits[0].doc_id for hits in batched[: len(KNOWN)]] == [d for _, d in KNOWN]
    assert batched[len(KNOWN)] == []
    assert lexical.search([], k=3) == []


def test_k_is_respected(lexical):
    query = "the Talmeria valley of the kingdom"
    for k in (1, 2, 5, 40):
        hits = lexical.search([query], k=k)[0]
        assert 1 <= len(hits) <= k
        assert len({h.doc_id for h in hits}) == len(hits)
    matching = {
        p.id for p in CORPUS if {"talmeria", "valley", "kingdom"} & set(query_terms(p.text))
    }
    assert len(matching) == 23  # "valley" is in every distractor
    assert {h.doc_id for h in lexical.search([query], k=40)[0]} == matching
    assert len(lexical.search([query], k=10**12)[0]) == 23
    assert lexical.search([query, "lira"], k=0) == [[], []]
    with pytest.raises(ValueError, match="non-negative int"):
        lexical.search([query], k=-1)


def test_hostile_queries_never_raise(lexical):
    results = lexical.search(HOSTILE, k=3)
    assert len(results) == len(HOSTILE)
    assert all(isinstance(hits, list) and all(isinstance(h, Hit) for h in hits) for hits in results)
    by_query = dict(zip(HOSTILE, results, strict=True))
    for blank in ("", "   ", "(((((", "^~*+-!:{}[]\\/", "\x00\ud800"):
        assert by_query[blank] == []
    # Syntax is not interpreted: the words still count as words.
    assert by_query["Talmeria^10 OR capital~2 AND title:Orvane*"][0].doc_id == "0"
    assert by_query["NEAR(capital lira)"][0].doc_id in {"0", "5"}


def test_passages_with_odd_text_are_indexed(private_cache):
    corpus = Corpus.from_passages(
        "odd",
        [
            Passage("a", "Null\x00Byte", "broken \ud800 surrogate zanzibar"),
            Passage("b", "", "no title here, quokka"),
            Passage("c", "Empty", ""),
        ],
    )
    for backend in (TantivyBackend(corpus), SQLiteFTS5Backend(corpus)):
        assert [h.doc_id for h in backend.search(["zanzibar"], k=3)[0]] == ["a"]
        assert backend.search(["quokka"], k=3)[0][0].title == ""


def test_tantivy_index_is_cached_and_reopened(private_cache):
    first = TantivyBackend(CORPUS)
    expected = first.search([q for q, _ in KNOWN], k=3)
    assert isinstance(first.build_seconds, float)
    index_dir = private_cache / "index" / f"tantivy-{CORPUS.fingerprint}"
    assert first.index_dir == index_dir
    marker = json.loads((index_dir / "COMPLETE.json").read_text())
    assert marker["fingerprint"] == CORPUS.fingerprint
    assert marker["num_passages"] == len(CORPUS)

    again = TantivyBackend(CORPUS)
    assert again.search([q for q, _ in KNOWN], k=3) == expected
    assert again.build_seconds is None  # reopened, not rebuilt

    other = TantivyBackend(make_corpus("facts2", extra=" Extra words."))
    other.ensure_index()
    assert other.index_dir != index_dir and other.build_seconds is not None
    assert sorted(p.name for p in (private_cache / "index").iterdir()) == sorted(
        [index_dir.name, other.index_dir.name]
    )
    assert describe_keys(first) >= {"backend", "corpus", "fingerprint", "num_passages"}
    assert first.describe()["num_passages"] == 30


def describe_keys(backend: SearchBackend) -> set[str]:
    return set(backend.describe())


def test_tantivy_interrupted_build_is_rebuilt(private_cache):
    index_root = private_cache / "index"
    final = index_root / f"tantivy-{CORPUS.fingerprint}"
    final.mkdir(parents=True)
    (final / "meta.json").write_text("{half written")  # no completion marker
    leftover = index_root / f".{final.name}.tmp-dead"
    leftover.mkdir()

    backend = TantivyBackend(CORPUS)
    assert backend.search(["capital of Talmeria"], k=1)[0][0].doc_id == "0"
    assert backend.build_seconds is not None
    assert (final / "COMPLETE.json").exists()
    assert not any(p.name.startswith(f".{final.name}.stale") for p in index_root.iterdir())


def test_tantivy_explicit_index_dir(tmp_path):
    backend = TantivyBackend(CORPUS, index_dir=tmp_path / "my-index")
    assert backend.search(["Glass Owl"], k=1)[0][0].doc_id == "3"
    assert (tmp_path / "my-index" / "COMPLETE.json").exists()


def test_pickle_round_trip_of_used_backends(lexical):
    queries = [q for q, _ in KNOWN] + HOSTILE[:4]
    expected = lexical.search(queries, k=3)
    clone = pickle.loads(pickle.dumps(lexical))
    assert clone.search(queries, k=3) == expected
    lexical.close()
    assert lexical.search(queries, k=3) == expected  # reopens after close


def test_sqlite_cached_on_disk(private_cache):
    first = SQLiteFTS5Backend(CORPUS, path="cache")
    expected = first.search(["lira"], k=3)
    assert first.build_seconds is not None
    path = private_cache / "index" / f"fts5-{CORPUS.fingerprint}.sqlite"
    assert path.exists()
    again = SQLiteFTS5Backend(CORPUS, path="cache")
    assert again.search(["lira"], k=3) == expected and again.build_seconds is None


def test_backends_are_thread_safe(lexical):
    queries = [q for q, _ in KNOWN]
    expected = lexical.search(queries, k=3)
    failures: list[object] = []

    def worker() -> None:
        for _ in range(20):
            if lexical.search(queries, k=3) != expected:
                failures.append("mismatch")

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


# -- dense and hybrid


def hashed_bag_of_words(texts: list[str]) -> np.ndarray:
    """A deterministic toy embedding: words (crudely stemmed) hashed into 512 buckets."""
    out = np.zeros((len(texts), 512), dtype=np.float32)
    for i, text in enumerate(texts):
        for word in query_terms(text):
            out[i, zlib.crc32(word.rstrip("s").encode()) % 512] += 1.0
    return out


class CountingEmbed:
    def __init__(self) -> None:
        self.texts = 0

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.texts += len(texts)
        return hashed_bag_of_words(texts)


def test_dense_finds_the_passage_and_caches_embeddings(private_cache):
    embed = CountingEmbed()
    dense = DenseBackend(CORPUS, embed, model_name="toy-bow", batch_size=7)
    results = dense.search([q for q, _ in KNOWN] + ["", "zzzz unknown"], k=3)
    assert [hits[0].doc_id for hits in results[: len(KNOWN)]] == [d for _, d in KNOWN]
    assert results[len(KNOWN)] == []
    assert all(len(hits) == 3 for hits in results[: len(KNOWN)])
    top = results[0]
    assert top[0].score == pytest.approx(max(h.score for h in top)) and top[0].score <= 1.0 + 1e-6
    assert embed.texts == len(CORPUS) + len(KNOWN) + 1  # the blank query is not embedded
    cache_file = private_cache / "index" / f"dense-{CORPUS.fingerprint}-toy-bow.npy"
    assert np.load(cache_file).shape == (len(CORPUS), 512)

    embed2 = CountingEmbed()
    again = DenseBackend(CORPUS, embed2, model_name="toy-bow")
    assert again.search([KNOWN[0][0]], k=3)[0] == results[0]
    assert embed2.texts == 1  # passages came from the cache
    clone = pickle.loads(pickle.dumps(again))
    assert clone.search([KNOWN[0][0]], k=3)[0] == results[0]


def test_dense_default_name_is_not_cached_on_disk(private_cache):
    dense = DenseBackend(CORPUS, hashed_bag_of_words)
    assert dense.search(["Glass Owl"], k=1)[0][0].doc_id == "3"
    assert not (private_cache / "index").exists()


def test_dense_wrong_shape_is_a_search_error():
    dense = DenseBackend(CORPUS, hashed_bag_of_words)
    dense.ensure_index()
    dense.embed = lambda texts: np.zeros((len(texts), 7))
    with pytest.raises(SearchError, match="shape"):
        dense.search(["lira"], k=1)


def test_hybrid_fuses_rankings():
    lexical = SQLiteFTS5Backend(CORPUS)
    dense = DenseBackend(CORPUS, hashed_bag_of_words)
    hybrid = HybridBackend([lexical, dense], k_rrf=60)
    results = hybrid.search([q for q, _ in KNOWN], k=3)
    assert [hits[0].doc_id for hits in results] == [d for _, d in KNOWN]
    for hits in results:
        assert len(hits) == 3
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        assert hits[0].score == pytest.approx(2 / 61)  # first in both lists

    class Fixed(SearchBackend):
        def __init__(self, ids: list[str]) -> None:
            self.ids = ids

        def search(self, queries, k=3):
            return [[Hit.of(CORPUS.get(i), 1.0) for i in self.ids[:k]] for _ in queries]

    fused = HybridBackend([Fixed(["1", "2", "3"]), Fixed(["3", "4", "1"])], k_rrf=1)
    # scores: 1 -> 1/2 + 1/4, 3 -> 1/4 + 1/2, 2 -> 1/3, 4 -> 1/3
    ids = [h.doc_id for h in fused.search(["q"], k=4)[0]]
    assert set(ids[:2]) == {"1", "3"} and set(ids[2:]) == {"2", "4"}
    assert fused.describe()["backend"] == "hybrid"
    with pytest.raises(ValueError, match="at least one backend"):
        HybridBackend([])


# -- LRU cache and make_backend


class Recording(SearchBackend):
    name = "recording"

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def search(self, queries, k=3):
        self.batches.append(list(queries))
        return [[Hit(f"{q}-{k}", q, "", 1.0)] for q in queries]


def test_cached_backend_counts_and_batches_misses():
    inner = Recording()
    cached = CachedBackend(inner, maxsize=3)
    assert cached.search(["a", "b", "a"], k=2) == [
        [Hit("a-2", "a", "", 1.0)],
        [Hit("b-2", "b", "", 1.0)],
        [Hit("a-2", "a", "", 1.0)],
    ]
    assert inner.batches == [["a", "b"]]
    assert (cached.hits, cached.misses) == (0, 3)
    cached.search(["a", "b"], k=2)
    assert (cached.hits, cached.misses) == (2, 3) and len(inner.batches) == 1
    cached.search(["a"], k=3)  # another k is another key
    assert inner.batches[-1] == ["a"]
    cached.search(["c", "d"], k=2)  # evicts the least recently used ("b", 2) and ("a", 2)
    cached.search(["a"], k=3)
    assert inner.batches[-1] == ["c", "d"]
    cached.search(["b"], k=2)
    assert inner.batches[-1] == ["b"]
    result = cached.search(["a"], k=3)
    result[0].append(Hit("x", "x", "x"))  # callers may mutate what they get
    assert cached.search(["a"], k=3) == [[Hit("a-3", "a", "", 1.0)]]
    assert cached.describe()["cache"]["size"] <= 3
    assert pickle.loads(pickle.dumps(cached)).search(["z"], k=1)[0][0].doc_id == "z-1"


def test_cached_backend_does_not_cache_failures():
    class Flaky(SearchBackend):
        calls = 0

        def search(self, queries, k=3):
            Flaky.calls += 1
            if Flaky.calls == 1:
                raise SearchError("down")
            return [[] for _ in queries]

    cached = CachedBackend(Flaky())
    with pytest.raises(SearchError):
        cached.search(["q"])
    assert cached.search(["q"]) == [[]]


def test_make_backend():
    assert isinstance(make_backend("tantivy", CORPUS), TantivyBackend)
    assert isinstance(make_backend("sqlite", CORPUS), SQLiteFTS5Backend)
    assert isinstance(make_backend("FTS5", CORPUS, path=None), SQLiteFTS5Backend)
    backend = SQLiteFTS5Backend(CORPUS)
    assert make_backend(backend) is backend
    client = make_backend("http://127.0.0.1:8000/", timeout=1.0)
    assert isinstance(client, SearchR1HttpBackend)
    assert client.url == "http://127.0.0.1:8000/retrieve" and client.timeout == 1.0
    with pytest.raises(ValueError, match=r"\['tantivy', 'sqlite', 'fts5'\].*got 'bm42'"):
        make_backend("bm42", CORPUS)
    with pytest.raises(ValueError, match="corpus"):
        make_backend("tantivy")
