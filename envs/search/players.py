r"""Scripted players of search self-play, for tests, baselines and the single-agent views.

:class:`ScriptedSearchPlayer` plays either role from what the agent knows
(``env.agent_view(agent)``: its task, its queries and the hits they returned):

* as **proposer** it writes a *cloze* question: it searches the target answer, finds another
  passage that mentions the answer, searches that passage's title (and more, up to the
  required number of searches), then quotes the sentence with the answer blanked out. With
  probability ``mistakes`` it breaks one rule on purpose -- it leaks the answer, writes too short
  a question, searches only once, repeats a query, or asks about a statement it never retrieved
  -- so that episodes produce invalid questions too;
* as **solver** it searches the quoted statement and fills the blank from the passage that
  matches it; for other questions it searches the question and guesses the most frequent name
  in the results. With probability ``1 - skill`` it answers a wrong name on purpose.

Example:
    >>> import selfplay_gym
    >>> env = selfplay_gym.make("selfplay/SearchSelfPlay-v0", num_solvers=2)
    >>> env.reset(seed=3)
    >>> bot = CarefulSearchPlayer(seed=0)
    >>> "<search>" in bot.act(env, "proposer_0")
    True
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from selfplay_gym.core.bots import Bot
from selfplay_gym.envs.search.base import Hit

__all__ = ["ScriptedSearchPlayer", "CarefulSearchPlayer", "cloze_question", "MISTAKES"]

MISTAKES = ("leak", "short", "one_search", "repeat", "hallucinate")
"""The rule breaks a sloppy scripted proposer makes on purpose."""

_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+")
_NAME_RE = re.compile(r"\b[A-Z][a-z]+(?:[ -][A-Z][a-z]+)*\b")
_QUOTED_RE = re.compile(r'"([^"]*___[^"]*)"')
_ENTRY_RE = re.compile(r"the entry on (.+?): \"")
_BLANK = "___"


def _find_word(text: str, phrase: str) -> int:
    """Index of ``phrase`` in ``text`` as whole words, case-insensitive, or -1."""
    match = re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text, re.IGNORECASE)
    return match.start() if match else -1


def cloze_question(title: str | None, sentence: str, answer: str, max_chars: int = 600) -> str:
    """A question quoting ``sentence`` (from the passage ``title``) with ``answer`` blanked out.

    A ``title`` that contains the answer (the answer's own entry) is not named.

    Example:
        >>> cloze_question("Talmeria", "Its capital is Orvane, on the coast.", "Orvane")
        'Which name fills the blank in this statement from the entry on Talmeria: "Its capital is ___, on the coast."?'
    """
    blanked = re.sub(rf"(?<!\w){re.escape(answer)}(?!\w)", _BLANK, sentence, flags=re.IGNORECASE)
    if len(blanked) > max_chars:
        at = blanked.find(_BLANK)
        start = max(0, at - max_chars // 2)
        blanked = blanked[start : start + max_chars]
    blanked = blanked.replace('"', "'")
    if title is None or _find_word(title, answer) >= 0:
        return f'Which name fills the blank in this statement from an encyclopedia: "{blanked}"?'
    return f'Which name fills the blank in this statement from the entry on {title}: "{blanked}"?'


class ScriptedSearchPlayer(Bot):
    """Plays the proposer or a solver of search self-play by rules (see the module docstring).

    Args:
        skill: Solver: probability of answering with what it found (else a wrong name).
        mistakes: Proposer: probability of breaking one rule of :data:`MISTAKES` on purpose.
        seed: Seed of its generator (re-seeded by the views and the arena every episode).
    """

    name = "scripted"

    def __init__(self, skill: float = 0.8, mistakes: float = 0.2, seed: int | None = None):
        super().__init__(seed)
        if not (0 <= skill <= 1 and 0 <= mistakes <= 1):
            raise ValueError(f"expected skill and mistakes in [0, 1], got {skill}, {mistakes}")
        self.skill = float(skill)
        self.mistakes = float(mistakes)
        self._plan: dict[tuple[int, str], str] = {}

    def act(self, env: Any, agent: str) -> str:
        """The reply of ``agent`` this turn."""
        view = env.agent_view(agent)
        if view["role"] == "proposer":
            return self._propose(view, id(env))
        return self._solve(view)

    # ---- proposer ----------------------------------------------------------------------------
    def _mistake(self, view: dict[str, Any], env_key: int) -> str:
        # One decision per episode: drawn at the proposer's first turn, kept for its later turns.
        key = (env_key, "proposer")
        if view["turn"] == 0 or key not in self._plan:
            broken = self.rng.random() < self.mistakes
            self._plan[key] = self.rng.choice(MISTAKES) if broken else ""
        return self._plan[key]

    def _propose(self, view: dict[str, Any], env_key: int) -> str:
        mistake = self._mistake(view, env_key)
        answer: str = view["answer"]
        queries: list[str] = view["queries"]
        wanted = max(view["required_searches"], view["min_searches"])
        if mistake == "one_search":
            wanted = 1
        last_turn = view["turn"] + 1 >= view["max_turns"]
        if not queries:
            return f"<think>Look up the answer first.</think><search> {answer} </search>"
        link = _linked_sentence(view["hits"], answer)
        if len(queries) < wanted and not last_turn:
            return f"<search> {self._next_query(answer, queries, link, mistake)} </search>"
        if mistake == "short":
            return "<question> Who is it? </question>"
        if mistake == "hallucinate" or link is None:
            made_up = (
                f"In the year {1000 + self.rng.randrange(900)} the {_BLANK} sailed past "
                f"{self.rng.choice(['Qerrith', 'Vandoless', 'Hobrinmar'])} with a cargo of "
                f"{self.rng.choice(['violet salt', 'glass bells', 'copper reeds'])}."
            )
            question = f'Which name fills the blank in this statement: "{made_up}"?'
        else:
            question = cloze_question(link[0].title, link[1], answer)
        if mistake == "leak":
            question += f" (It is {answer}.)"
        return f"<think>The question is ready.</think><question> {question} </question>"

    def _next_query(
        self, answer: str, queries: list[str], link: tuple[Hit, str] | None, mistake: str
    ) -> str:
        if mistake == "repeat":
            return queries[-1]
        asked = {q.strip().lower() for q in queries}
        candidates = []
        if link is not None:
            candidates.append(link[0].title)
            words = [w for w in re.findall(r"[A-Za-z]+", link[1]) if len(w) > 3]
            candidates.append(" ".join(words[:6]))
            candidates += _NAME_RE.findall(link[1])
        candidates += [f"{answer} history", f"{answer} origin", f"facts about {answer}"]
        for c in candidates:
            c = c.strip()
            if c and c.lower() not in asked:
                return c
        return f"{answer} {len(queries)}"

    # ---- solver ------------------------------------------------------------------------------
    def _solve(self, view: dict[str, Any]) -> str:
        question: str = view.get("question") or ""
        if not question.strip():
            raise RuntimeError("a solver was asked to act before the question was posed")
        queries: list[str] = view["queries"]
        hits: list[Hit] = view["hits"]
        last_turn = view["turn"] + 1 >= view["max_turns"]
        quoted = _QUOTED_RE.search(question)
        asked = {q.lower() for q in queries}
        if quoted:
            statement = quoted.group(1)
            entry = _ENTRY_RE.search(question)
            title = entry.group(1) if entry else None
            # The entry the question names is the passage to read; any passage if it names none.
            found = _fill_blank(statement, [h for h in hits if h.title == title] or hits)
            if found is None and not last_turn:
                for query in (title, _plain(statement)):
                    if query and query.lower() not in asked:
                        return f"<search> {query} </search>"
        else:
            found = None
            if not queries and not last_turn:
                return f"<search> {_plain(question)} </search>"
        if found is not None and self.rng.random() < self.skill:
            return f"<think>The passage fills the blank.</think><answer> {found} </answer>"
        return f"<answer> {self._guess(question, hits, found)} </answer>"

    def _guess(self, question: str, hits: list[Hit], avoid: str | None) -> str:
        # Entity names: the titles of the hits and names in their texts that are titles too.
        titles = {h.title for h in hits if h.title}
        names = Counter(
            n
            for h in hits
            for n in [h.title, *_NAME_RE.findall(h.text)]
            if n in titles and _find_word(question, n) < 0 and n != avoid
        )
        if not names:
            return "unknown"
        top = names.most_common(3)
        return top[self.rng.randrange(len(top))][0]


class CarefulSearchPlayer(ScriptedSearchPlayer):
    """A scripted player that never errs on purpose (``skill=1``, ``mistakes=0``)."""

    name = "careful"

    def __init__(self, seed: int | None = None):
        super().__init__(skill=1.0, mistakes=0.0, seed=seed)


def _plain(text: str, words: int = 30) -> str:
    """``text`` without the blank and quotes, cut to ``words`` words: a search query."""
    return " ".join(text.replace(_BLANK, " ").replace('"', " ").split()[:words])


def _linked_sentence(hits: list[Hit], answer: str) -> tuple[Hit, str] | None:
    """A hit that mentions ``answer`` and the sentence that does, the most telling one first.

    Another entity's passage beats the answer's own; among those, a sentence that names its
    own entry (rather than "it") and has more words of its own is the better clue.
    """
    best, best_score = None, None
    for hit in hits:
        for sentence in _SENTENCE_RE.split(hit.text):
            if _find_word(sentence, answer) < 0:
                continue
            rest = sentence.replace(answer, " ")
            words = len([w for w in re.findall(r"[A-Za-z]+", rest) if len(w) > 3])
            score = (
                _find_word(hit.title, answer) < 0,
                _find_word(sentence, hit.title) >= 0,
                min(words, 6),
            )
            if best_score is None or score > best_score:
                best, best_score = (hit, sentence), score
    return best


def _fill_blank(statement: str, hits: list[Hit]) -> str | None:
    """The text that fills ``___`` in ``statement``, read from a hit that matches it, or ``None``."""
    before, _, after = statement.partition(_BLANK)
    before, after = before[-40:], after[:30]
    pattern = re.escape(before) + r"(.{1,80}?)" + (re.escape(after) if after else r"(?:[.,;]|$)")
    for hit in hits:
        match = re.search(pattern, hit.text.replace('"', "'"), re.IGNORECASE)
        if match:
            return match.group(1).strip()
    return None
