r"""The RAG check of a proposed question, and judges of a solver's answer.

SSP keeps a question only if a *reader* can recover the target answer from everything the
proposer retrieved, mixed with distractor materials, without searching. A reader here is any
object with ``__call__(question, answers, materials) -> RagVerdict``:

* :class:`EvidenceReader` -- a rule reader, no model: the sentence of the materials that best
  covers the question's content words must contain the answer (and cover enough of the
  question). It catches questions about facts the proposer never retrieved, and questions a
  distractor answers better. Deterministic; the default, and what the tests use.
* :class:`LLMReader` -- SSP's check: a language model (an :class:`~selfplay_gym.llm.LLMPolicy`
  or any ``str -> str`` callable) reads the materials and answers after ``Answer:``; exact match
  after normalization, else an optional judge.

A judge decides whether a prediction that is not an exact match is still right:
``judge(question, answers, prediction) -> bool``. :class:`LLMJudge` asks a model.

The env calls readers and judges inside ``try``: an exception, or a reply that cannot be read,
marks the question invalid (readers fail closed, unlike SSP's fail-open) or the answer wrong,
and the reason is recorded in ``info``.

Example:
    >>> reader = EvidenceReader()
    >>> materials = ["Doc 1 (Title: Orvane)\nOrvane is the capital of Talmeria."]
    >>> reader("Which city is the capital of the kingdom of Talmeria?", ["Orvane"], materials).valid
    True
    >>> reader("Which city hosts the yearly lantern fair of Talmeria?", ["Orvane"], materials).valid
    False
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from selfplay_gym.envs.search.protocol import READER_PROMPT, exact_match, normalize_answer

__all__ = ["RagVerdict", "EvidenceReader", "LLMReader", "LLMJudge", "JUDGE_PROMPT", "ask_model"]

_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD_RE = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    "a an the of in on at to for from by with and or but is are was were be been being this that "
    "these those it its as which who whom whose what when where why how do does did has have had "
    "not no into than then there their they he she his her him them we you i me my our your "
    "about after before over under between during one also only any each all some such can "
    "could would should will may might must shall if so up out doc title name missing fill "
    "blank passage sentence reads statement entry fills record called known mentioned "
    "encyclopedia article following given".split()
)


class RagVerdict(NamedTuple):
    """A reader's verdict on a question."""

    valid: bool
    predicted: str | None
    """What the reader answered (a model reader) or the sentence it matched (the rule reader)."""
    reason: str


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD_RE.findall(text.lower()) if w not in _STOPWORDS and len(w) > 1}


def _contains(haystack_normalized: str, needle: str) -> bool:
    """Whether the normalized ``needle`` occurs as whole words in the normalized haystack."""
    n = normalize_answer(needle)
    return bool(n) and f" {n} " in f" {haystack_normalized} "


_DOC_HEADER_RE = re.compile(r"Doc\s*\d+\s*\(Title:\s*([^\n]*?)\)[ \t]*\n?")


def _documents(material: str) -> list[tuple[str, str]]:
    """The ``(title, text)`` documents of an ``<information>`` block (one untitled if no headers)."""
    heads = list(_DOC_HEADER_RE.finditer(material))
    if not heads:
        return [("", material)]
    ends = [h.start() for h in heads[1:]] + [len(material)]
    return [(h.group(1), material[h.end() : end]) for h, end in zip(heads, ends, strict=True)]


def _sentences(text: str, keep: Sequence[str]) -> list[str]:
    """``text`` split into sentences, never inside one of the phrases ``keep`` ("St. Ives")."""
    guarded = [k for k in keep if _SENTENCE_RE.search(k)]
    for k in guarded:  # the breaks inside a kept phrase become marks the splitter cannot cut
        text = text.replace(k, _SENTENCE_RE.sub(lambda m: "\x00" * len(m.group(0)), k))
    parts = _SENTENCE_RE.split(text)
    return [p.replace("\x00", " ") for p in parts] if guarded else parts


class EvidenceReader:
    """The rule reader: the answer must sit in the sentence that best matches the question.

    Every material is split into documents (``Doc i (Title: ...)`` headers) and sentences; each
    sentence is read under its document's title and scored by the share of the question's
    content words it and the title contain (the answer's own words excluded). A sentence holds
    the answer when it or its title does. The question is valid when the best sentence holding
    the answer reaches ``min_overlap`` and every sentence without the answer scores lower (a tie
    is ambiguous: a distractor, or another fact, fits the question as well).

    Args:
        min_overlap: Share of the question's content words the best sentence must contain.
        min_words: Content words the question needs for the check to be meaningful.
    """

    def __init__(self, min_overlap: float = 0.5, min_words: int = 2):
        if not 0 < min_overlap <= 1:
            raise ValueError(f"expected 0 < min_overlap <= 1, got {min_overlap}")
        self.min_overlap = float(min_overlap)
        self.min_words = int(min_words)

    def __call__(
        self, question: str, answers: Sequence[str], materials: Sequence[str]
    ) -> RagVerdict:
        """Check ``question`` against ``materials`` (the proposer's evidence and distractors)."""
        answer_words: set[str] = set()
        for a in answers:
            answer_words |= _content_words(a)
        wanted = _content_words(question) - answer_words
        if len(wanted) < self.min_words:
            return RagVerdict(
                False, None, f"the question has fewer than {self.min_words} content words"
            )
        best_with, best_without, matched = 0.0, 0.0, None
        for material in materials:
            for title, body in _documents(material):
                title_words = _content_words(title)
                title_has_answer = any(_contains(normalize_answer(title), a) for a in answers)
                for sentence in _sentences(body, answers):
                    words = _content_words(sentence)
                    if not words:
                        continue
                    # A sentence is read in its document: "It was first described in 1462."
                    # under the title "Keitosh Heron" is about the Keitosh Heron.
                    score = len(wanted & (words | title_words)) / len(wanted)
                    if title_has_answer or any(
                        _contains(normalize_answer(sentence), a) for a in answers
                    ):
                        if score > best_with:
                            best_with, matched = score, sentence
                    else:
                        best_without = max(best_without, score)
        if best_with < self.min_overlap:
            return RagVerdict(
                False,
                matched,
                f"no sentence with the answer covers {self.min_overlap:.0%} of the question "
                f"(best {best_with:.0%})",
            )
        if best_without >= best_with:
            return RagVerdict(
                False,
                matched,
                "a sentence without the answer matches the question as well (ambiguous)",
            )
        return RagVerdict(
            True, matched, f"the answer is in the best-matching sentence ({best_with:.0%})"
        )


def ask_model(model: Any, prompt: str) -> str:
    """One completion of ``prompt`` from an :class:`~selfplay_gym.llm.LLMPolicy` or a callable.

    A policy is asked as a plain-text observation (``policy.act([prompt])``); a failed generation
    raises, so the caller records it.
    """
    if hasattr(model, "act"):
        out = model.act([prompt], [{"messages": [{"role": "user", "content": prompt}]}])[0]
        error = getattr(model, "last_error", None)
        if error:
            raise RuntimeError(f"model call failed: {error}")
    else:
        out = model(prompt)
    if not isinstance(out, str):
        raise TypeError(f"expected the model to return a str, got {type(out).__name__}")
    return out


_ANSWER_RE = re.compile(r"answer\s*:", re.IGNORECASE)


class LLMReader:
    """SSP's RAG check with a language model as the reader.

    Args:
        model: An :class:`~selfplay_gym.llm.LLMPolicy` or a callable ``prompt -> completion``.
        judge: Called when the reader's answer is not an exact match:
            ``judge(question, answers, prediction) -> bool`` (e.g. :class:`LLMJudge`).
        prompt: The reader prompt, with ``{materials}`` and ``{question}`` fields.
        max_chars: Cap on the materials' text in the prompt, shared evenly by the materials (so
            a long distractor cannot push the evidence out).
    """

    def __init__(
        self,
        model: Any,
        *,
        judge: Callable[[str, Sequence[str], str], bool] | None = None,
        prompt: str = READER_PROMPT,
        max_chars: int = 16_000,
    ):
        self.model = model
        self.judge = judge
        self.prompt = prompt
        self.max_chars = int(max_chars)

    def __call__(
        self, question: str, answers: Sequence[str], materials: Sequence[str]
    ) -> RagVerdict:
        """Ask the model; valid iff its answer matches (or the judge accepts it)."""
        share = self.max_chars // max(1, len(materials))
        text = "\n\n".join(m[:share] for m in materials)
        reply = ask_model(self.model, self.prompt.format(materials=text, question=question))
        marks = list(_ANSWER_RE.finditer(reply))
        if not marks:
            return RagVerdict(False, None, "the reader's reply has no 'Answer:'")
        tail = reply[marks[-1].end() :].strip()
        predicted = tail.splitlines()[0].strip() if tail else ""
        if exact_match(predicted, answers):
            return RagVerdict(True, predicted, "exact match")
        if self.judge is not None and self.judge(question, answers, predicted):
            return RagVerdict(True, predicted, "accepted by the judge")
        return RagVerdict(False, predicted, "the reader's answer does not match")


JUDGE_PROMPT = (
    "Decide whether a predicted answer means the same as the reference answer to a question. "
    "Reply with one word: Correct or Wrong.\n\n"
    "Question: {question}\nReference answer: {reference}\nPredicted answer: {prediction}\n"
)


_VERDICT_RE = re.compile(r"\b(not\s+correct|incorrect|correct|wrong)\b", re.IGNORECASE)


class LLMJudge:
    """A judge that asks a model whether a prediction matches the reference (``Correct``/``Wrong``).

    The last verdict word of the reply counts ("Correct or Wrong? Wrong." is wrong); "not
    correct" and "incorrect" are wrong, and a reply with no verdict word counts as wrong.
    """

    def __init__(self, model: Any, prompt: str = JUDGE_PROMPT):
        self.model = model
        self.prompt = prompt

    def __call__(self, question: str, answers: Sequence[str], prediction: str) -> bool:
        """Whether the model calls ``prediction`` correct."""
        reply = ask_model(
            self.model,
            self.prompt.format(
                question=question, reference=" / ".join(answers), prediction=prediction
            ),
        )
        verdicts = _VERDICT_RE.findall(reply)
        return bool(verdicts) and verdicts[-1].lower() == "correct"
