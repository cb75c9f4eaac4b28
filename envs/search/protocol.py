r"""The text protocol of search self-play: tags, parsing, answer normalization, prompts.

A turn's output is read for the first complete tag among the ones its role may use:

* ``<search> query </search>`` -- a search; the results come back as
  ``<information> ... </information>`` (both roles);
* ``<question> ... </question>`` -- the proposer's final question;
* ``<answer> ... </answer>`` -- the solver's final answer.

Text after the first closing tag is ignored (trainers should stop generation at
:data:`STOP_STRINGS`, as Search-R1 and SSP do). ``<think>`` blocks are allowed and ignored.

Example:
    >>> parse_turn("<think>hm</think><search> capital of Talmeria </search>", ("search", "answer"))
    TurnParse(ok=True, tag='search', content='capital of Talmeria', error=None, extra_tags=0)
    >>> parse_turn("I think it is Orvane.", ("search", "answer")).error
    'no <search>...</search> or <answer>...</answer> found'
    >>> normalize_answer("The  Orvane-Bridge!")
    'orvanebridge'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from selfplay_gym.core.verifiers import normalize_answer
from selfplay_gym.envs.search.base import Hit

__all__ = [
    "STOP_STRINGS",
    "TurnParse",
    "parse_turn",
    "count_answer_tags",
    "normalize_answer",
    "exact_match",
    "format_hits",
    "DOC_FORMATS",
    "PROPOSER_SYSTEM",
    "PROPOSER_USER",
    "SOLVER_SYSTEM",
    "SOLVER_USER",
    "INVALID_FEEDBACK",
    "READER_PROMPT",
]

STOP_STRINGS = ("</search>", "</answer>", "</question>")
"""Where a generation should stop: the end of a tool call or of a final answer."""

_OPEN_OR_CLOSE_RE = re.compile(r"</?(?:search|question|answer)>")
_ANSWER_TAG_RE = re.compile(r"</?answer>")


class TurnParse(NamedTuple):
    """What one turn's output asked for."""

    ok: bool
    tag: str | None = None
    """``"search"``, ``"question"`` or ``"answer"`` (``None`` when nothing usable was found)."""
    content: str | None = None
    """The stripped text inside the tag."""
    error: str | None = None
    extra_tags: int = 0
    """Opening or closing tags after the one used (ignored, counted for monitoring)."""


def _names(allowed: Sequence[str]) -> str:
    return " or ".join(f"<{t}>...</{t}>" for t in allowed)


def parse_turn(text: str, allowed: Sequence[str]) -> TurnParse:
    """The first complete tag of ``text`` among ``allowed``, its content and any error.

    The scan is linear in the length of ``text`` (which the env caps before calling).
    """
    # Each tag's first closing, then the nearest opening before it: two linear scans per tag
    # (a regular expression would rescan the rest of the text from every unclosed opening).
    first: tuple[int, str, int] | None = None
    # A closing tag with no opening before it (stray text) is skipped.
    for tag in ("search", "question", "answer"):
        earliest = text.find(f"<{tag}>")
        if earliest < 0:
            continue
        close = text.find(f"</{tag}>", earliest)
        if close < 0:
            continue
        opening = text.rfind(f"<{tag}>", earliest, close)
        if first is None or close < first[0]:
            first = (close, tag, opening + len(tag) + 2)
    if first is None:
        return TurnParse(False, error=f"no {_names(allowed)} found")
    close, tag, start = first
    end = close + len(tag) + 3
    extra = len(_OPEN_OR_CLOSE_RE.findall(text, end))
    content = text[start:close].strip()
    if tag not in allowed:
        return TurnParse(
            False, tag, content, f"<{tag}> is not a move of this role; use {_names(allowed)}", extra
        )
    if not content:
        return TurnParse(False, tag, content, f"the <{tag}> tag is empty", extra)
    return TurnParse(True, tag, content, None, extra)


def count_answer_tags(text: str) -> int:
    """Opening and closing ``answer`` tags in ``text`` (SSP reduces the reward above 10)."""
    return len(_ANSWER_TAG_RE.findall(text))


def exact_match(prediction: str, answers: Sequence[str]) -> bool:
    """Whether ``prediction`` equals one of ``answers`` after :func:`normalize_answer`."""
    predicted = normalize_answer(prediction)
    return bool(predicted) and any(predicted == normalize_answer(a) for a in answers)


def _doc_verl(i: int, hit: Hit, max_chars: int) -> str:
    return f"Doc {i} (Title: {hit.title})\n{hit.text[:max_chars]}"


def _doc_searchr1(i: int, hit: Hit, max_chars: int) -> str:
    return f"Doc {i}(Title: {hit.title}) {hit.text[:max_chars]}"


DOC_FORMATS = {"verl": ("\n\n", _doc_verl), "searchr1": ("\n", _doc_searchr1)}
"""How hits are written inside ``<information>``: ``verl`` (SSP's) or ``searchr1``."""


def format_hits(hits: Sequence[Hit], style: str = "verl", max_chars: int = 1000) -> str:
    """The documents of one search as text, numbered from 1, each text cut to ``max_chars``."""
    sep, doc = DOC_FORMATS[style]
    if not hits:
        return "No documents matched the query."
    return sep.join(doc(i, h, max_chars) for i, h in enumerate(hits, 1))


# ---- prompts (the project's own wording; pass other text via the env's prompt arguments) -----
PROPOSER_SYSTEM = (
    "You design hard, fact-based questions for a search game. You have a search engine over a "
    "document collection; another player will later try to answer your question with the same "
    "search engine."
)
PROPOSER_USER = (
    "The answer is: {answer}\n\n"
    "Write a question whose one correct answer is this, and which needs about {searches} "
    "searches to solve. Work backwards from the answer: look it up, find a related fact or "
    "entity in what comes back, look that up too, and build the question from the chain.\n\n"
    "How to act, one step per reply:\n"
    "- Reason inside <think> and </think> if you like.\n"
    "- To search, write a query between <search> and </search>. The top results come back "
    "between <information> and </information>.\n"
    "- When the question is ready, write it between <question> and </question> and stop.\n\n"
    "Rules: search at least twice and never repeat a query; the question must not contain the "
    "answer; it must have at least 10 words and at most 1000 characters; it must be answerable "
    "from the documents your searches returned, with a single correct answer."
)
SOLVER_SYSTEM = "You answer questions with the help of a search engine over a document collection."
SOLVER_USER = (
    "Answer the question below. One step per reply:\n"
    "- Reason inside <think> and </think> whenever you receive new information.\n"
    "- To look something up, write a query between <search> and </search>. The top results "
    "come back between <information> and </information>. You may search as often as you need.\n"
    "- When you know the answer, write only the answer (a name, number or short phrase) "
    "between <answer> and </answer>, for example <answer> Lake Ormund </answer>.\n\n"
    "Question: {question}"
)
INVALID_FEEDBACK = (
    "Your previous reply did not do anything: {error}. To search, put a query between "
    "<search> and </search>; to finish, {final_hint}."
)
READER_PROMPT = (
    "Read the materials and answer the question from them alone. Reason briefly (at most 50 "
    "words), then write 'Answer:' followed by the answer only.\n\n"
    "Materials:\n{materials}\n\nQuestion: {question}\n"
)
"""The RAG check's reader prompt (:class:`~selfplay_gym.envs.search.readers.LLMReader`)."""
