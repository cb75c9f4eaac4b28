r"""The types every part of the search family shares: passages, hits, corpora and the backend interface.

A *passage* is one retrievable unit of a corpus (Search-R1's corpus row). A *backend* answers a
batch of queries with ranked *hits*. Every backend — tantivy, SQLite FTS5, dense, an HTTP client of
a Search-R1 server — implements :class:`SearchBackend`, so the environment, the server and the
benchmark treat them alike.

Example:
    >>> p = Passage("7", "Orvane", "Orvane is the capital of Talmeria.")
    >>> p.contents
    '"Orvane"\nOrvane is the capital of Talmeria.'
    >>> Passage.from_record({"id": "7", "contents": p.contents}) == p
    True
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Passage", "Hit", "Corpus", "SearchBackend", "SearchError"]


class SearchError(RuntimeError):
    """A search that could not be answered (server down, malformed reply, closed index).

    The environment turns it into an observation and ``info["search_error"]``; it never ends a
    rollout.
    """


@dataclass(frozen=True)
class Passage:
    """One passage of a corpus."""

    id: str
    title: str
    text: str

    @property
    def contents(self) -> str:
        """Search-R1's form of the passage: the title in double quotes, a newline, the text."""
        return f'"{self.title}"\n{self.text}'

    @classmethod
    def from_record(cls, record: Mapping[str, Any], default_id: str = "") -> Passage:
        """A passage from a corpus row: ``{"id", "title", "text"}`` or Search-R1's ``{"id", "contents"}``.

        Raises:
            ValueError: The row has neither shape.
        """
        if not isinstance(record, Mapping):
            raise ValueError(f"expected a JSON object per passage, got {type(record).__name__}")
        pid = str(record.get("id", default_id))
        if "text" in record or "title" in record:
            title, text = record.get("title", ""), record.get("text", "")
        elif "contents" in record:
            title, text = _split_contents(record["contents"])
        else:
            raise ValueError(
                f"expected a passage with 'title'/'text' or 'contents', got keys {sorted(record)}"
            )
        if not isinstance(title, str) or not isinstance(text, str):
            raise ValueError(f"passage {pid!r}: title and text must be strings")
        return cls(pid, title, text)

    def as_record(self) -> dict[str, str]:
        """The passage as a Search-R1 corpus row (``contents`` plus ``title`` and ``text``)."""
        return {"id": self.id, "contents": self.contents, "title": self.title, "text": self.text}


def _split_contents(contents: Any) -> tuple[str, str]:
    r"""``'"Title"\ntext'`` -> (title, text); contents without a quoted first line have no title."""
    if not isinstance(contents, str):
        raise ValueError(f"expected 'contents' to be a string, got {type(contents).__name__}")
    first, sep, rest = contents.partition("\n")
    if sep and len(first) >= 2 and first.startswith('"') and first.endswith('"'):
        return first[1:-1], rest
    return "", contents


@dataclass(frozen=True)
class Hit:
    """One ranked result of a search."""

    doc_id: str
    title: str
    text: str
    score: float = 0.0

    @property
    def contents(self) -> str:
        """Search-R1's form: the title in double quotes, a newline, the text."""
        return f'"{self.title}"\n{self.text}'

    @classmethod
    def of(cls, passage: Passage, score: float = 0.0) -> Hit:
        """The hit for ``passage``."""
        return cls(passage.id, passage.title, passage.text, float(score))


@dataclass(frozen=True)
class Corpus:
    """A named, ordered collection of passages.

    ``fingerprint`` identifies the content (a digest of every passage), so indexes cached on
    disk are reused exactly when the corpus is the same.
    """

    name: str
    passages: tuple[Passage, ...]
    license: str = ""
    """Where the text comes from and under which licence, shown in docs and ``info``."""
    answers: tuple[str, ...] = ()
    """Candidate target answers for the proposer (entity names); empty means passage titles."""
    _by_id: dict[str, Passage] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self._by_id:
            self._by_id.update((p.id, p) for p in self.passages)

    @classmethod
    def from_passages(
        cls, name: str, passages: Iterable[Passage], license: str = "", answers: Sequence[str] = ()
    ) -> Corpus:
        """A corpus of ``passages``; ids must be unique."""
        passages = tuple(passages)
        ids = [p.id for p in passages]
        if len(set(ids)) != len(ids):
            seen: set[str] = set()
            dup = next(i for i in ids if i in seen or seen.add(i))  # type: ignore[func-returns-value]
            raise ValueError(f"corpus {name!r}: passage id {dup!r} repeats")
        return cls(name, passages, license, tuple(answers))

    def __len__(self) -> int:
        return len(self.passages)

    def __iter__(self) -> Iterator[Passage]:
        return iter(self.passages)

    def get(self, doc_id: str) -> Passage | None:
        """The passage with id ``doc_id``, or ``None``."""
        return self._by_id.get(doc_id)

    @property
    def fingerprint(self) -> str:
        """A hex digest of every passage's id, title and text, in order (16 characters)."""
        cached = self.__dict__.get("_fingerprint")
        if cached is None:
            h = hashlib.sha256()
            for p in self.passages:
                for part in (p.id, p.title, p.text):
                    h.update(part.encode("utf-8", "surrogatepass"))
                    h.update(b"\x00")
            cached = h.hexdigest()[:16]
            object.__setattr__(self, "_fingerprint", cached)
        return cached

    def answer_candidates(self) -> tuple[str, ...]:
        """The proposer's candidate answers: :attr:`answers`, else the distinct non-empty titles."""
        if self.answers:
            return self.answers
        return tuple(dict.fromkeys(p.title for p in self.passages if p.title))


class SearchBackend:
    """Answers batches of queries with ranked passages.

    Subclasses implement :meth:`search`. Backends are picklable (clients and index handles are
    opened lazily), so environments holding one can go to vector-env and Ray workers.
    """

    name: str = "backend"

    def search(self, queries: Sequence[str], k: int = 3) -> list[list[Hit]]:
        """The top ``k`` hits of each query, best first (one list per query, in order).

        Raises:
            SearchError: The backend cannot answer (the caller records it, it never crashes a
                rollout).
        """
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """What ``info`` records about this backend: its kind and, where known, the corpus."""
        return {"backend": self.name}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release files and connections (the backend reopens them if used again)."""
