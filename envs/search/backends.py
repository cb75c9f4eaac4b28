"""Search backends: tantivy (the default), SQLite FTS5, dense, hybrid, an HTTP client, an LRU cache.

Every backend implements :class:`~selfplay_gym.envs.search.base.SearchBackend`:
``search(queries, k)`` answers a batch of queries with ``k`` ranked hits each.

* :class:`TantivyBackend` -- BM25 over ``title`` and ``body`` (English stemming, title boost),
  an on-disk index built once per corpus under :func:`cache_root` and reopened in milliseconds.
  Needs the ``search`` extra (``pip install 'selfplay-gym[search]'``).
* :class:`SQLiteFTS5Backend` -- the same idea with the standard library's SQLite FTS5; no
  dependency, slower on large corpora (common query terms scan long posting lists).
* :class:`DenseBackend` -- exact inner-product search over L2-normalized embeddings from any
  ``embed(texts) -> array`` callable, or a local sentence-transformers model.
* :class:`HybridBackend` -- reciprocal-rank fusion of several backends.
* :class:`SearchR1HttpBackend` -- a client of any Search-R1-compatible retrieval server
  (Search-R1, verl, SSP, or :func:`selfplay_gym.envs.search.server.serve`).
* :class:`CachedBackend` -- an LRU cache in front of any backend (rollouts repeat queries).

User text is never parsed as query syntax: the lexical backends split a query into words
themselves, so any string is a safe query (``title:(AND`` is the words ``title`` and ``and``),
and a query with no word at all (empty, blank, punctuation) has no hits. Heavy libraries
(tantivy, numpy, sentence-transformers) are imported inside the backends that use them.

Example:
    >>> from selfplay_gym.envs.search.base import Corpus, Passage
    >>> corpus = Corpus.from_passages(
    ...     "toy",
    ...     [
    ...         Passage("0", "Orvane", "Orvane is the capital of Talmeria."),
    ...         Passage("1", "Brisk River", "The Brisk River flows into the Salt Sea."),
    ...     ],
    ... )
    >>> backend = SQLiteFTS5Backend(corpus)
    >>> [hit.title for hit in backend.search(["capital city of Talmeria?"], k=1)[0]]
    ['Orvane']
    >>> backend.search(["", "?!", "title:(AND"], k=3)
    [[], [], []]
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import sqlite3
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from selfplay_gym.cache import cache_root
from selfplay_gym.envs.search.base import Corpus, Hit, Passage, SearchBackend, SearchError

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "cache_root",
    "query_terms",
    "STOP_WORDS",
    "MAX_QUERY_CHARS",
    "MAX_QUERY_TERMS",
    "TantivyBackend",
    "SQLiteFTS5Backend",
    "DenseBackend",
    "HybridBackend",
    "SearchR1HttpBackend",
    "CachedBackend",
    "make_backend",
    "BACKEND_NAMES",
]

logger = logging.getLogger(__name__)

MAX_QUERY_CHARS = 2000
"""Characters of a query that are searched; the rest is ignored."""
MAX_QUERY_TERMS = 64
"""Words of a query that are searched; the rest is ignored."""

STOP_WORDS = frozenset(
    """a about am an and are as at be been being but by can could did do does for from had has have
    he her his how i if in into is it its me my no not of on or our s she should so such t than that
    the their them then there these they this to was we were what when where which who whom whose
    why will with would you your""".split()
)
"""English function words dropped from queries when a content word remains.

Dropping them keeps a query off the longest posting lists (``the`` or ``of`` match most documents,
ten times the cost of a content-word query on a million passages) without changing which passages
rank first.
"""

BACKEND_NAMES = ("tantivy", "sqlite", "fts5")
"""The backend names :func:`make_backend` accepts (besides URLs and backend objects)."""

_WORD = re.compile(r"[^\W_]+")
_TANTIVY_SCHEMA_VERSION = 1
_MARKER = "COMPLETE.json"
_STALE_TEMP_SECONDS = 3600.0


def _clean_text(text: str) -> str:
    """``text`` as valid UTF-8 (lone surrogates become ``?``), which tantivy and SQLite require."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _clip_query(query: Any) -> str:
    """The searchable part of a query: a string, valid UTF-8, at most :data:`MAX_QUERY_CHARS`."""
    if not isinstance(query, str):
        query = "" if query is None else str(query)
    return _clean_text(query[:MAX_QUERY_CHARS])


def query_terms(query: str) -> list[str]:
    """The words of ``query`` that the lexical backends search, lowercased, in order, unique.

    At most :data:`MAX_QUERY_TERMS` words are kept, and :data:`STOP_WORDS` are dropped unless
    nothing else is left. Query syntax has no meaning here: ``title:"x"`` is the words ``title``
    and ``x``.

    Example:
        >>> query_terms('Who is the (capital) of "Talmeria" AND OR?')
        ['capital', 'talmeria']
        >>> query_terms("the of and")
        ['the', 'of', 'and']
        >>> query_terms("((( ]]")
        []
    """
    words = [w.lower() for w in _WORD.findall(_clip_query(query))][:MAX_QUERY_TERMS]
    content = [w for w in words if w not in STOP_WORDS]
    return list(dict.fromkeys(content or words))


def _check_k(k: Any) -> int:
    """``k`` as a non-negative int, or a ValueError saying what arrived."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"expected k to be a non-negative int, got {k!r}")
    return k


def _index_dir() -> Path:
    return cache_root() / "index"


def _remove_stale_temps(parent: Path, prefix: str) -> None:
    """Delete temporary build dirs/files under ``parent`` left by builds that died long ago."""
    try:
        entries = list(parent.glob(f"{prefix}*"))
    except OSError:
        return
    now = time.time()
    for entry in entries:
        try:
            if now - entry.stat().st_mtime < _STALE_TEMP_SECONDS:
                continue
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        except OSError:
            pass


# --------------------------------------------------------------------------------------------
# tantivy


def _import_tantivy() -> Any:
    try:
        import tantivy
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the 'tantivy' search backend needs the tantivy package: "
            "pip install 'selfplay-gym[search]', or use the dependency-free backend 'sqlite'"
        ) from exc
    return tantivy


class TantivyBackend(SearchBackend):
    """BM25 search with tantivy over the passages' titles and texts; the default backend.

    The index is built on first use into ``cache_root()/index/tantivy-<corpus fingerprint>`` and
    reopened (in milliseconds) by every later backend on the same corpus, in any process. A build
    writes into a temporary directory next to the final one and renames it into place when
    complete, so a crash or two processes building at once never leave a half-written index: a
    directory without its completion marker is rebuilt.

    Queries are split into words (see :func:`query_terms`), stemmed as the index is (tantivy's
    ``en_stem``: lowercase, English Snowball stemmer), and OR-ed over ``title`` (boosted) and
    ``body``. Hits come back with the BM25 score.

    The backend pickles without its index handles (they reopen lazily), so environments holding
    one can be sent to worker processes; workers reopen the cached index instead of rebuilding.

    Args:
        corpus: The passages to search.
        index_dir: Where the index lives; default ``cache_root()/index/tantivy-<fingerprint>``.
        in_memory: Build the index in RAM each time instead of caching it on disk.
        title_boost: Weight of a match in the title relative to one in the text.

    Attributes:
        build_seconds: Wall time of the index build this backend did, ``None`` if it reopened an
            existing index (or has not opened one yet).
    """

    name = "tantivy"

    def __init__(
        self,
        corpus: Corpus,
        *,
        index_dir: str | os.PathLike[str] | None = None,
        in_memory: bool = False,
        title_boost: float = 2.0,
    ) -> None:
        _import_tantivy()
        if not title_boost > 0:
            raise ValueError(f"expected title_boost > 0, got {title_boost!r}")
        self.corpus = corpus
        self.in_memory = in_memory
        self.title_boost = float(title_boost)
        self.index_dir: Path | None = (
            None
            if in_memory
            else Path(index_dir)
            if index_dir is not None
            else _index_dir() / f"tantivy-{corpus.fingerprint}"
        )
        self.build_seconds: float | None = None
        self._init_handles()

    def _init_handles(self) -> None:
        self._lock = threading.Lock()
        self._index: Any = None
        self._searcher: Any = None
        self._schema: Any = None
        self._analyzers: Any = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for key in ("_lock", "_index", "_searcher", "_schema", "_analyzers"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_handles()

    # -- building and opening

    @staticmethod
    def _build_schema(tantivy: Any) -> Any:
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("id", stored=True, tokenizer_name="raw")
        builder.add_text_field("title", tokenizer_name="en_stem")
        builder.add_text_field("body", tokenizer_name="en_stem")
        return builder.build()

    def _marker_payload(self, tantivy: Any) -> dict[str, Any]:
        return {
            "schema_version": _TANTIVY_SCHEMA_VERSION,
            "fingerprint": self.corpus.fingerprint,
            "num_passages": len(self.corpus),
            "tantivy": getattr(tantivy, "__version__", "?"),
        }

    def _write_index(self, tantivy: Any, index: Any, progress: bool) -> None:
        """Add every passage to ``index`` and commit."""
        writer = index.writer(heap_size=128_000_000, num_threads=min(2, os.cpu_count() or 1))
        passages: Any = self.corpus.passages
        if progress:
            from tqdm.auto import tqdm

            passages = tqdm(passages, desc=f"indexing {self.corpus.name}", unit="passage")
        for p in passages:
            writer.add_document(
                tantivy.Document(id=p.id, title=_clean_text(p.title), body=_clean_text(p.text))
            )
        writer.commit()
        writer.wait_merging_threads()

    def _complete(self, path: Path, tantivy: Any) -> bool:
        """Whether ``path`` holds a finished index of this corpus in the current schema."""
        try:
            marker = json.loads((path / _MARKER).read_text())
        except (OSError, ValueError):
            return False
        expected = self._marker_payload(tantivy)
        return all(marker.get(key) == expected[key] for key in ("schema_version", "fingerprint"))

    def _build_on_disk(self, tantivy: Any, final: Path, progress: bool) -> None:
        """Build into a temporary sibling of ``final`` and rename it into place."""
        parent = final.parent
        parent.mkdir(parents=True, exist_ok=True)
        prefix = f".{final.name}.tmp-"
        _remove_stale_temps(parent, prefix)
        tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        try:
            index = tantivy.Index(self._build_schema(tantivy), path=str(tmp), reuse=False)
            self._write_index(tantivy, index, progress)
            del index
            (tmp / _MARKER).write_text(json.dumps(self._marker_payload(tantivy)))
            for _ in range(3):
                try:
                    os.rename(tmp, final)
                    return
                except OSError:
                    if self._complete(final, tantivy):
                        return  # another process finished first; use its index
                    if final.exists():  # a leftover of an interrupted or outdated build
                        stale = parent / f".{final.name}.stale-{uuid.uuid4().hex}"
                        try:
                            os.rename(final, stale)
                        except OSError:
                            pass
                        shutil.rmtree(stale, ignore_errors=True)
            raise OSError(f"could not move the tantivy index into {final}")
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def ensure_index(self, progress: bool = False) -> TantivyBackend:
        """Open the index, building it first if no complete one exists.

        Args:
            progress: Show a progress bar over the passages while building.

        Returns:
            This backend, ready to search.
        """
        with self._lock:
            if self._searcher is None:
                self._open(progress)
        return self

    def _open(self, progress: bool) -> None:
        tantivy = _import_tantivy()
        if self.index_dir is None:
            start = time.perf_counter()
            index = tantivy.Index(self._build_schema(tantivy))
            self._write_index(tantivy, index, progress)
            self.build_seconds = time.perf_counter() - start
        else:
            final = self.index_dir
            index = None
            if self._complete(final, tantivy):
                try:
                    index = tantivy.Index.open(str(final))
                except (OSError, ValueError) as exc:  # e.g. written by an incompatible tantivy
                    logger.warning("rebuilding the unreadable tantivy index %s: %s", final, exc)
            if index is None:
                start = time.perf_counter()
                self._build_on_disk(tantivy, final, progress)
                index = tantivy.Index.open(str(final))
                self.build_seconds = time.perf_counter() - start
        index.reload()
        self._schema = index.schema
        self._index = index
        # The analysis of the `en_stem` fields, applied to the words `query_terms` kept.
        filters = tantivy.Filter
        self._analyzers = (
            tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
            .filter(filters.remove_long(40))
            .filter(filters.lowercase())
            .filter(filters.stemmer("english"))
            .build()
        )
        self._searcher = index.searcher()

    def _stems(self, query: str) -> list[str]:
        terms = query_terms(query)
        return list(dict.fromkeys(self._analyzers.analyze(" ".join(terms)))) if terms else []

    def search(self, queries: Sequence[str], k: int = 3) -> list[list[Hit]]:
        """The top ``k`` passages of each query by BM25 (title boosted), best first.

        Raises:
            SearchError: The index cannot be opened or searched.
        """
        k = _check_k(k)
        try:
            if self._searcher is None:
                self.ensure_index()
            tantivy = _import_tantivy()
            query_cls, should = tantivy.Query, tantivy.Occur.Should
            schema, searcher = self._schema, self._searcher
            results: list[list[Hit]] = []
            for query in queries:
                stems = self._stems(query) if k else []
                if not stems:
                    results.append([])
                    continue
                clauses = []
                for stem in stems:
                    title = query_cls.term_query(schema, "title", stem, index_option="freq")
                    clauses.append((should, query_cls.boost_query(title, self.title_boost)))
                    clauses.append(
                        (should, query_cls.term_query(schema, "body", stem, index_option="freq"))
                    )
                # tantivy sizes its top-k heap by the limit: never more than the corpus.
                limit = min(k, len(self.corpus))
                found = searcher.search(query_cls.boolean_query(clauses), limit, count=False)
                hits = []
                for score, address in found.hits:
                    passage = self.corpus.get(searcher.doc(address)["id"][0])
                    if passage is not None:
                        hits.append(Hit.of(passage, score))
                results.append(hits)
            return results
        except SearchError:
            raise
        except (OSError, ValueError, RuntimeError) as exc:
            raise SearchError(f"tantivy search failed: {exc}") from exc

    def describe(self) -> dict[str, Any]:
        """Backend name, corpus name, fingerprint and size, and where the index lives."""
        return {
            "backend": self.name,
            "corpus": self.corpus.name,
            "fingerprint": self.corpus.fingerprint,
            "num_passages": len(self.corpus),
            "index_dir": str(self.index_dir) if self.index_dir else None,
        }

    def close(self) -> None:
        """Drop the index handles; the next search reopens the index."""
        with self._lock:
            self._index = self._searcher = self._schema = self._analyzers = None


# --------------------------------------------------------------------------------------------
# SQLite FTS5


class SQLiteFTS5Backend(SearchBackend):
    """BM25 search with the standard library's SQLite FTS5; the fallback that needs nothing.

    Each query word (see :func:`query_terms`) is quoted, so FTS5 query syntax in user text has no
    effect, and the words are OR-ed and ranked by ``bm25(docs, title_weight, 1.0)`` with the
    porter tokenizer. Fine for small corpora and tests; on large corpora a query containing common
    words is slow (hundreds of ms at a million passages).

    One connection is shared by all threads behind a lock, so the backend can sit behind the
    threaded HTTP server. It pickles without the connection; an in-memory index is rebuilt on
    first use after unpickling, an on-disk one is reopened.

    Args:
        corpus: The passages to search.
        path: ``None`` (default) builds the index in memory; ``"cache"`` caches it at
            ``cache_root()/index/fts5-<fingerprint>.sqlite``; any other path is used as the file.
        title_weight: The bm25 weight of the title column (the text has weight 1).

    Attributes:
        build_seconds: Wall time of the build this backend did, ``None`` if it reopened a file.
    """

    name = "sqlite"

    def __init__(
        self,
        corpus: Corpus,
        *,
        path: str | os.PathLike[str] | None = None,
        title_weight: float = 2.0,
    ) -> None:
        self.corpus = corpus
        self.title_weight = float(title_weight)
        if path is None:
            self.path: Path | None = None
        elif str(path) == "cache":
            self.path = _index_dir() / f"fts5-{corpus.fingerprint}.sqlite"
        else:
            self.path = Path(path)
        self.build_seconds: float | None = None
        self._init_handles()

    def _init_handles(self) -> None:
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_lock", None)
        state.pop("_conn", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_handles()

    def _fill(self, conn: sqlite3.Connection) -> None:
        conn.execute(
            "CREATE VIRTUAL TABLE docs USING fts5(title, body, tokenize='porter unicode61')"
        )
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        conn.executemany(
            "INSERT INTO docs (rowid, title, body) VALUES (?, ?, ?)",
            (
                (i, _clean_text(p.title), _clean_text(p.text))
                for i, p in enumerate(self.corpus.passages)
            ),
        )
        conn.execute("INSERT INTO meta VALUES ('fingerprint', ?)", (self.corpus.fingerprint,))
        conn.commit()

    def _connect(self) -> sqlite3.Connection:
        if self.path is None:
            start = time.perf_counter()
            conn = sqlite3.connect(":memory:", check_same_thread=False)
            self._fill(conn)
            self.build_seconds = time.perf_counter() - start
            return conn
        if self.path.exists():
            conn = sqlite3.connect(str(self.path), check_same_thread=False)
            try:
                row = conn.execute("SELECT value FROM meta WHERE key = 'fingerprint'").fetchone()
            except sqlite3.DatabaseError:
                row = None
            if row is not None and row[0] == self.corpus.fingerprint:
                return conn
            conn.close()
        # Build into a temporary file and rename it, so a crash never leaves a half index.
        start = time.perf_counter()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        prefix = f".{self.path.name}.tmp-"
        _remove_stale_temps(self.path.parent, prefix)
        fd, tmp_name = tempfile.mkstemp(prefix=prefix, dir=self.path.parent)
        os.close(fd)
        try:
            tmp = sqlite3.connect(tmp_name)
            try:
                self._fill(tmp)
            finally:
                tmp.close()
            os.replace(tmp_name, self.path)
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
        self.build_seconds = time.perf_counter() - start
        return sqlite3.connect(str(self.path), check_same_thread=False)

    def ensure_index(self, progress: bool = False) -> SQLiteFTS5Backend:
        """Open (building if needed) the index; returns this backend.

        Args:
            progress: Accepted for symmetry with :meth:`TantivyBackend.ensure_index`; SQLite
                builds in one statement, so there is no progress to show.
        """
        with self._lock:
            if self._conn is None:
                self._conn = self._connect()
        return self

    def search(self, queries: Sequence[str], k: int = 3) -> list[list[Hit]]:
        """The top ``k`` passages of each query by FTS5 bm25, best first.

        Raises:
            SearchError: The database cannot be opened or queried.
        """
        k = _check_k(k)
        try:
            self.ensure_index()
            results: list[list[Hit]] = []
            sql = (
                "SELECT rowid, bm25(docs, ?, 1.0) AS rank FROM docs WHERE docs MATCH ? "
                "ORDER BY rank LIMIT ?"
            )
            with self._lock:
                assert self._conn is not None
                for query in queries:
                    terms = query_terms(query) if k else []
                    if not terms:
                        results.append([])
                        continue
                    match = " OR ".join(f'"{term}"' for term in terms)
                    limit = min(k, len(self.corpus))
                    rows = self._conn.execute(sql, (self.title_weight, match, limit)).fetchall()
                    results.append([Hit.of(self.corpus.passages[i], -rank) for i, rank in rows])
            return results
        except (sqlite3.Error, OSError) as exc:
            raise SearchError(f"sqlite search failed: {exc}") from exc

    def describe(self) -> dict[str, Any]:
        """Backend name, corpus name, fingerprint and size, and the database file if any."""
        return {
            "backend": self.name,
            "corpus": self.corpus.name,
            "fingerprint": self.corpus.fingerprint,
            "num_passages": len(self.corpus),
            "path": str(self.path) if self.path else None,
        }

    def close(self) -> None:
        """Close the connection; the next search reopens (or, in memory, rebuilds) the index."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


# --------------------------------------------------------------------------------------------
# dense


class DenseBackend(SearchBackend):
    r"""Exact inner-product search over L2-normalized embeddings of the passages.

    ``embed`` maps a list of texts to an array of shape ``(len(texts), d)``; passages are embedded
    as their Search-R1 ``contents`` (``'"Title"\ntext'``), queries as they are. Passage embeddings
    are computed once and cached as ``.npy`` at
    ``cache_root()/index/dense-<fingerprint>-<model_name>.npy``: ``model_name`` names the
    embedding function in that file name, so give each function its own name. Under the default
    name ``"custom"``, which says nothing about the function, nothing is cached on disk.

    The backend pickles only if ``embed`` does (a lambda or a loaded model may not); with an
    on-disk cache the matrix is not pickled but reloaded.

    Args:
        corpus: The passages to search.
        embed: ``list[str] -> array (n, d)``.
        model_name: Names the embedding function in the cache file.
        cache: Cache the passage embeddings on disk (when ``model_name`` is not ``"custom"``).
        batch_size: Passages per call of ``embed`` while embedding the corpus.
    """

    name = "dense"

    def __init__(
        self,
        corpus: Corpus,
        embed: Callable[[list[str]], Any],
        *,
        model_name: str = "custom",
        cache: bool = True,
        batch_size: int = 256,
    ) -> None:
        self.corpus = corpus
        self.embed = embed
        self.model_name = model_name
        self.batch_size = int(batch_size)
        safe_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", model_name)
        self.cache_path: Path | None = (
            _index_dir() / f"dense-{corpus.fingerprint}-{safe_name}.npy"
            if cache and model_name != "custom"
            else None
        )
        self.build_seconds: float | None = None
        self._lock = threading.Lock()
        self._matrix: np.ndarray | None = None

    @classmethod
    def from_sentence_transformer(
        cls,
        corpus: Corpus,
        path: str | os.PathLike[str],
        *,
        model_name: str | None = None,
        cache: bool = True,
        batch_size: int = 32,
        num_threads: int = 1,
    ) -> DenseBackend:
        """A dense backend embedding with the sentence-transformers model stored at ``path``.

        The model is loaded from local files only (nothing is downloaded) on the CPU, and torch is
        limited to ``num_threads`` threads: on small shared machines more threads oversubscribe
        and make single queries ten times slower.

        Args:
            corpus: The passages to search.
            path: A local sentence-transformers model directory.
            model_name: Names the model in the cache file; default the directory's name.
            cache: Cache the passage embeddings on disk.
            batch_size: Encoding batch size.
            num_threads: ``torch.set_num_threads`` value.
        """
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(num_threads)
        model = SentenceTransformer(str(path), device="cpu", local_files_only=True)

        def embed(texts: list[str]) -> Any:
            return model.encode(
                texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True
            )

        return cls(
            corpus,
            embed,
            model_name=model_name or Path(path).name,
            cache=cache,
            batch_size=max(batch_size, 256),
        )

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_lock", None)
        if self.cache_path is not None and self.cache_path.exists():
            state["_matrix"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _normalized(self, vectors: Any, rows: int) -> np.ndarray:
        import numpy as np

        array = np.asarray(vectors, dtype=np.float32)
        if array.ndim != 2 or array.shape[0] != rows:
            raise ValueError(f"expected embed to return shape ({rows}, d), got {array.shape}")
        norms = np.linalg.norm(array, axis=1, keepdims=True)
        return array / np.maximum(norms, 1e-12)

    def ensure_index(self, progress: bool = False) -> DenseBackend:
        """Load or compute the passage embeddings; returns this backend.

        Args:
            progress: Show a progress bar over the batches while embedding.
        """
        import numpy as np

        with self._lock:
            if self._matrix is not None:
                return self
            n = len(self.corpus)
            if self.cache_path is not None and self.cache_path.exists():
                try:
                    matrix = np.load(self.cache_path)
                    if matrix.ndim == 2 and matrix.shape[0] == n:
                        self._matrix = matrix
                        return self
                except (OSError, ValueError):
                    pass
            start = time.perf_counter()
            texts = [_clean_text(p.contents) for p in self.corpus.passages]
            starts: Any = range(0, n, self.batch_size)
            if progress:
                from tqdm.auto import tqdm

                starts = tqdm(starts, desc=f"embedding {self.corpus.name}", unit="batch")
            parts = []
            for i in starts:
                chunk = texts[i : i + self.batch_size]
                parts.append(self._normalized(self.embed(chunk), len(chunk)))
            matrix = np.concatenate(parts) if parts else np.zeros((0, 1), np.float32)
            self.build_seconds = time.perf_counter() - start
            if self.cache_path is not None:
                self.cache_path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(
                    prefix=f".{self.cache_path.name}.tmp-",
                    suffix=".npy",
                    dir=self.cache_path.parent,
                )
                with os.fdopen(fd, "wb") as f:
                    np.save(f, matrix)
                os.replace(tmp, self.cache_path)
            self._matrix = matrix
        return self

    def search(self, queries: Sequence[str], k: int = 3) -> list[list[Hit]]:
        """The top ``k`` passages of each query by cosine similarity, best first.

        Empty (whitespace-only) queries have no hits.

        Raises:
            SearchError: ``embed`` returned vectors of the wrong shape.
        """
        import numpy as np

        k = _check_k(k)
        self.ensure_index()
        matrix = self._matrix
        assert matrix is not None
        results: list[list[Hit]] = [[] for _ in queries]
        texts = [_clip_query(q) for q in queries]
        live = [i for i, text in enumerate(texts) if text.strip()]
        k = min(k, len(self.corpus))
        if not live or k == 0:
            return results
        try:
            vectors = self._normalized(self.embed([texts[i] for i in live]), len(live))
            if vectors.shape[1] != matrix.shape[1]:
                raise ValueError(
                    f"expected embed to return shape ({len(live)}, {matrix.shape[1]}) like the "
                    f"passage embeddings, got {vectors.shape}"
                )
            scores = vectors @ matrix.T
        except ValueError as exc:
            raise SearchError(f"dense search failed: {exc}") from exc
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        for row, i in enumerate(live):
            best = top[row][np.argsort(-scores[row, top[row]], kind="stable")]
            results[i] = [Hit.of(self.corpus.passages[j], scores[row, j]) for j in best]
        return results

    def describe(self) -> dict[str, Any]:
        """Backend name, model name, corpus name, fingerprint and size."""
        return {
            "backend": self.name,
            "model": self.model_name,
            "corpus": self.corpus.name,
            "fingerprint": self.corpus.fingerprint,
            "num_passages": len(self.corpus),
        }


# --------------------------------------------------------------------------------------------
# hybrid


class HybridBackend(SearchBackend):
    """Reciprocal-rank fusion of several backends (e.g. BM25 and dense).

    Each backend is asked for ``fetch_factor * k`` hits; a passage scores
    ``sum(weight / (k_rrf + rank))`` over the lists it appears in (rank from 1), and the ``k``
    best are returned with that score. Passages are identified by ``doc_id``.

    Args:
        backends: The backends to fuse.
        k_rrf: The rank offset of RRF (60 in the original paper); larger flattens the ranks.
        weights: One weight per backend; default all 1.
        fetch_factor: How many hits per requested hit to fetch from each backend.
    """

    name = "hybrid"

    def __init__(
        self,
        backends: Sequence[SearchBackend],
        *,
        k_rrf: float = 60,
        weights: Sequence[float] | None = None,
        fetch_factor: int = 4,
    ) -> None:
        if not backends:
            raise ValueError("expected at least one backend to fuse, got none")
        if weights is not None and len(weights) != len(backends):
            raise ValueError(f"expected {len(backends)} weights, got {len(weights)}")
        self.backends = list(backends)
        self.k_rrf = float(k_rrf)
        self.weights = [1.0] * len(backends) if weights is None else [float(w) for w in weights]
        self.fetch_factor = int(fetch_factor)

    def search(self, queries: Sequence[str], k: int = 3) -> list[list[Hit]]:
        """The top ``k`` passages of each query by fused reciprocal rank.

        Raises:
            SearchError: One of the backends failed.
        """
        k = _check_k(k)
        if k == 0:
            return [[] for _ in queries]
        runs = [backend.search(queries, self.fetch_factor * k) for backend in self.backends]
        fused: list[list[Hit]] = []
        for qi in range(len(queries)):
            scores: dict[str, float] = {}
            first: dict[str, Hit] = {}
            for weight, run in zip(self.weights, runs, strict=True):
                for rank, hit in enumerate(run[qi], start=1):
                    scores[hit.doc_id] = scores.get(hit.doc_id, 0.0) + weight / (self.k_rrf + rank)
                    first.setdefault(hit.doc_id, hit)
            best = sorted(scores, key=lambda d: -scores[d])[:k]
            fused.append(
                [Hit(d, first[d].title, first[d].text, scores[d]) for d in best]  # fused score
            )
        return fused

    def describe(self) -> dict[str, Any]:
        """The fused backends' descriptions and the fusion settings."""
        return {
            "backend": self.name,
            "k_rrf": self.k_rrf,
            "parts": [backend.describe() for backend in self.backends],
        }

    def close(self) -> None:
        """Close every fused backend."""
        for backend in self.backends:
            backend.close()


# --------------------------------------------------------------------------------------------
# HTTP client of a Search-R1 retrieval server


class _RetryableError(Exception):
    """A failure worth another attempt (connection, timeout, 5xx)."""


_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


class SearchR1HttpBackend(SearchBackend):
    """A client of a Search-R1-compatible retrieval server (``POST /retrieve``).

    Sends ``{"queries": [...], "topk": k, "return_scores": true}`` and reads
    ``{"result": [[{"document": {...}, "score": s}, ...], ...]}`` or lists of bare documents;
    a document is ``{"id", "contents"}`` (Search-R1's corpus row) or has ``title``/``text``.
    Works with Search-R1's own server, verl's and SSP's copies, and
    :func:`selfplay_gym.envs.search.server.serve`.

    Connection errors, timeouts and 5xx replies are retried with exponential back-off
    (``backoff * 2**attempt`` seconds); a 4xx reply or a malformed one fails at once. Every
    failure is a :class:`~selfplay_gym.envs.search.base.SearchError`, which the environment turns
    into an observation. Uses only the standard library and pickles (no open connection is kept).
    Loopback URLs bypass any ``http_proxy`` setting.

    Args:
        url: The server, with or without the ``/retrieve`` path (``http://127.0.0.1:8000``).
        timeout: Seconds per attempt.
        retries: Extra attempts after the first.
        backoff: Seconds before the first retry, doubled for each next one.
        default_k: ``k`` when :meth:`search` is called with ``k=None``.
        max_batch: Queries per request; larger batches are sent as several requests (servers cap
            the batch: 256 for :func:`~selfplay_gym.envs.search.server.serve`).
    """

    name = "search-r1-http"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        default_k: int = 3,
        max_batch: int = 256,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"expected max_batch >= 1, got {max_batch}")
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"expected an http:// or https:// URL, got {url!r}")
        path = parts.path.rstrip("/")
        if not path.endswith("/retrieve"):
            path += "/retrieve"
        self.url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.default_k = int(default_k)
        self.max_batch = int(max_batch)
        self._loopback = (parts.hostname or "") in _LOOPBACK

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_opener"}

    def _post(self, body: bytes) -> bytes:
        request = urllib.request.Request(
            self.url,
            data=body,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            method="POST",
        )
        opener = self.__dict__.get("_opener")
        if opener is None:  # built once (about a millisecond each); rebuilt after unpickling
            opener = self.__dict__["_opener"] = (
                urllib.request.build_opener(urllib.request.ProxyHandler({}))
                if self._loopback
                else urllib.request.build_opener()
            )
        try:
            with opener.open(request, timeout=self.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            detail = _error_detail(exc)
            if exc.code >= 500:
                raise _RetryableError(f"HTTP {exc.code}{detail}") from exc
            raise SearchError(
                f"retrieval server {self.url} rejected the request: HTTP {exc.code}{detail}"
            ) from exc
        except (urllib.error.URLError, OSError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise _RetryableError(f"{type(reason).__name__}: {reason}") from exc
        except Exception as exc:  # http.client oddities (bad status line, truncated body)
            raise _RetryableError(f"{type(exc).__name__}: {exc}") from exc

    def search(self, queries: Sequence[str], k: int | None = 3) -> list[list[Hit]]:
        """The top ``k`` hits of each query from the server, best first.

        Raises:
            SearchError: The server is unreachable after all retries, rejects the request, or
                replies with something that is not a Search-R1 result.
        """
        try:
            k = self.default_k if k is None else _check_k(k)
            queries = [_clip_query(q) for q in queries]
            if not queries or k == 0:
                return [[] for _ in queries]
            results: list[list[Hit]] = []
            for start in range(0, len(queries), self.max_batch):
                results.extend(self._search_batch(queries[start : start + self.max_batch], k))
            return results
        except SearchError:
            raise
        except Exception as exc:  # never anything but SearchError from search()
            raise SearchError(f"search via {self.url} failed: {type(exc).__name__}: {exc}") from exc

    def _search_batch(self, queries: list[str], k: int) -> list[list[Hit]]:
        """One request, retried on connection errors, timeouts and 5xx."""
        body = json.dumps({"queries": queries, "topk": k, "return_scores": True}).encode()
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                raw = self._post(body)
            except _RetryableError as exc:
                last = str(exc)
                continue
            return self._parse(raw, len(queries), k)
        raise SearchError(
            f"retrieval server {self.url} failed {self.retries + 1} times, last: {last}"
        )

    def _parse(self, raw: bytes, n: int, k: int) -> list[list[Hit]]:
        where = f"retrieval server {self.url}"
        try:
            reply = json.loads(raw)
        except ValueError as exc:
            raise SearchError(f"{where} replied with invalid JSON: {raw[:200]!r}") from exc
        if not isinstance(reply, dict) or not isinstance(reply.get("result"), list):
            shape = sorted(reply) if isinstance(reply, dict) else type(reply).__name__
            raise SearchError(f'{where}: expected a JSON object with a "result" list, got {shape}')
        result = reply["result"]
        if len(result) != n:
            raise SearchError(
                f"{where}: expected {n} result lists (one per query), got {len(result)}"
            )
        hits: list[list[Hit]] = []
        for qi, items in enumerate(result):
            if not isinstance(items, list):
                raise SearchError(
                    f"{where}: expected result {qi} to be a list, got {type(items).__name__}"
                )
            row = []
            for rank, item in enumerate(items[:k]):
                if isinstance(item, dict) and isinstance(item.get("document"), dict):
                    document, score = item["document"], item.get("score", 0.0)
                else:
                    document, score = item, 0.0
                try:
                    passage = Passage.from_record(document, default_id="")
                    score = float(score) if score is not None else 0.0
                except (ValueError, TypeError) as exc:
                    raise SearchError(f"{where}: result {qi} item {rank}: {exc}") from exc
                if math.isnan(score):
                    score = 0.0
                row.append(Hit.of(passage, score))
            hits.append(row)
        return hits

    def describe(self) -> dict[str, Any]:
        """Backend name and server URL."""
        return {"backend": self.name, "url": self.url}


def _error_detail(exc: urllib.error.HTTPError) -> str:
    """The ``error`` field (or the start) of an HTTP error body, for messages."""
    try:
        body = exc.read()[:500]
    except Exception:
        return ""
    try:
        message = json.loads(body).get("error")
    except Exception:
        message = None
    text = message if isinstance(message, str) else body.decode("utf-8", "replace").strip()
    return f": {text}" if text else ""


# --------------------------------------------------------------------------------------------
# LRU cache


class CachedBackend(SearchBackend):
    """An LRU cache of ``(query, k) -> hits`` in front of another backend; thread-safe.

    Misses of one batch are sent to the inner backend as one batch. Failures are not cached.

    Args:
        inner: The backend answering misses.
        maxsize: Entries kept.

    Attributes:
        hits: Queries answered from the cache.
        misses: Queries passed to ``inner``.
    """

    def __init__(self, inner: SearchBackend, maxsize: int = 4096) -> None:
        if maxsize < 1:
            raise ValueError(f"expected maxsize >= 1, got {maxsize}")
        self.inner = inner
        self.maxsize = int(maxsize)
        self.name = f"cached-{inner.name}"
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, int], tuple[Hit, ...]] = OrderedDict()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_lock", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def search(self, queries: Sequence[str], k: int = 3) -> list[list[Hit]]:
        """The inner backend's hits, from the cache where possible.

        Raises:
            SearchError: The inner backend failed on a miss.
        """
        found: dict[int, tuple[Hit, ...]] = {}
        missing: dict[str, list[int]] = {}
        with self._lock:
            for i, query in enumerate(queries):
                cached = self._cache.get((query, k))
                if cached is None:
                    missing.setdefault(query, []).append(i)
                else:
                    self._cache.move_to_end((query, k))
                    found[i] = cached
                    self.hits += 1
        if missing:
            todo = list(missing)
            answers = self.inner.search(todo, k)
            if len(answers) != len(todo):
                raise SearchError(
                    f"{self.inner.name}: expected {len(todo)} result lists, got {len(answers)}"
                )
            with self._lock:
                for query, hits in zip(todo, answers, strict=True):
                    frozen = tuple(hits)
                    self._cache[(query, k)] = frozen
                    self._cache.move_to_end((query, k))
                    for i in missing[query]:
                        found[i] = frozen
                    self.misses += len(missing[query])
                while len(self._cache) > self.maxsize:
                    self._cache.popitem(last=False)
        return [list(found[i]) for i in range(len(queries))]

    def clear(self) -> None:
        """Forget every cached entry (the counters are kept)."""
        with self._lock:
            self._cache.clear()

    def describe(self) -> dict[str, Any]:
        """The inner backend's description plus the cache's counters."""
        return {
            **self.inner.describe(),
            "cache": {"hits": self.hits, "misses": self.misses, "size": len(self._cache)},
        }

    def close(self) -> None:
        """Close the inner backend."""
        self.inner.close()


# --------------------------------------------------------------------------------------------


def make_backend(
    spec: SearchBackend | str, corpus: Corpus | None = None, **kwargs: Any
) -> SearchBackend:
    """A backend from a name, a URL, or a backend object.

    Args:
        spec: A :class:`SearchBackend` (returned as is), ``"tantivy"``, ``"sqlite"`` (or
            ``"fts5"``), or an ``http://``/``https://`` URL of a Search-R1 retrieval server.
        corpus: The passages, needed by the local backends.
        **kwargs: Passed to the backend's constructor.

    Raises:
        ValueError: Unknown name, or a local backend without a corpus.
        ImportError: ``"tantivy"`` without the tantivy package installed.

    Example:
        >>> make_backend("http://127.0.0.1:8000").url
        'http://127.0.0.1:8000/retrieve'
    """
    if isinstance(spec, SearchBackend):
        return spec
    if not isinstance(spec, str):
        raise ValueError(
            f"expected a SearchBackend, a name in {list(BACKEND_NAMES)} or a URL, "
            f"got {type(spec).__name__}"
        )
    if spec.startswith(("http://", "https://")):
        return SearchR1HttpBackend(spec, **kwargs)
    name = spec.lower()
    if name not in BACKEND_NAMES:
        raise ValueError(
            f"expected a backend name in {list(BACKEND_NAMES)} or an http(s):// URL, got {spec!r}"
        )
    if corpus is None:
        raise ValueError(f"backend {spec!r} searches a local corpus: pass corpus=")
    if name == "tantivy":
        return TantivyBackend(corpus, **kwargs)
    return SQLiteFTS5Backend(corpus, **kwargs)
