"""Search self-play (SSP) as a PettingZoo AEC env, and Search-R1's question answering as its solver-only form."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from gymnasium import logger
from gymnasium.utils import seeding
from pettingzoo import AECEnv

from selfplay_gym.envs.search import protocol
from selfplay_gym.envs.search.base import Corpus, Hit, SearchBackend
from selfplay_gym.envs.search.protocol import count_answer_tags, exact_match, parse_turn
from selfplay_gym.envs.search.readers import EvidenceReader, RagVerdict
from selfplay_gym.spaces import UnicodeText

__all__ = ["SearchSelfPlayEnv", "PROPOSER_REWARDS", "proposer_reward"]

_EMPTY_MASK = np.zeros(0, dtype=np.int8)
_EMPTY_MASK.flags.writeable = False


def _one_minus_success(s: float) -> float:
    return 1.0 - s


def _intermediate(s: float) -> float:
    return 4.0 * s * (1.0 - s) if 0.0 < s < 1.0 else 0.0


PROPOSER_REWARDS: dict[str, tuple[str, Callable[[float], float]]] = {
    "1-acc": ("one_minus_success", _one_minus_success),
    "intermediate": ("intermediate_difficulty", _intermediate),
}
"""Proposer reward rules of SSP by name: component name and ``f(success_rate)``."""


def proposer_reward(rule: str | Callable[[float], float], success_rate: float) -> tuple[str, float]:
    """The proposer's (component name, reward) for a valid question solved at ``success_rate``.

    Example:
        >>> proposer_reward("1-acc", 0.4)
        ('one_minus_success', 0.6)
        >>> proposer_reward("intermediate", 0.5), proposer_reward("intermediate", 1.0)
        (('intermediate_difficulty', 1.0), ('intermediate_difficulty', 0.0))
    """
    if callable(rule):
        return "custom", float(rule(success_rate))
    name, fn = PROPOSER_REWARDS[rule]
    return name, fn(success_rate)


_SHARED_BACKENDS: dict[tuple[str, str, str], SearchBackend] = {}


def shared_backend(spec: str, corpus: Corpus | None) -> SearchBackend:
    """One backend per (name or URL, corpus) in a process, shared by every env that names it.

    An index is opened once however many envs a vector env or a rollout runs.
    """
    from selfplay_gym.envs.search.backends import cache_root, make_backend

    key = (spec, corpus.fingerprint if corpus is not None else "", str(cache_root()))
    backend = _SHARED_BACKENDS.get(key)
    if backend is None:
        backend = _SHARED_BACKENDS[key] = make_backend(spec, corpus)
    return backend


class _Seat:
    """What one agent has done in the current episode."""

    __slots__ = (
        "role",
        "turn",
        "queries",
        "materials",
        "messages",
        "answer_tags",
        "parse",
        "invalid",
        "components",
        "final",
        "finished",
        "last_hits",
        "hit_log",
        "search_error",
        "extra",
    )

    def __init__(self, role: str, system: str | None = None, user: str | None = None):
        self.role = role
        self.turn = 0
        self.queries: list[str] = []
        self.materials: list[str] = []
        # A solver's task arrives with the question; until then it has no prompt.
        self.messages: list[dict[str, str]] = (
            [{"role": "system", "content": system}, {"role": "user", "content": user}]
            if system is not None and user is not None
            else []
        )
        self.answer_tags = 0
        self.parse = {"ok": True, "extracted": None, "error": None}
        self.invalid = False
        self.components: dict[str, float] = {}
        self.final: str | None = None
        self.finished = False
        self.last_hits: tuple[Hit, ...] = ()
        self.hit_log: list[tuple[Hit, ...]] = []
        self.search_error: str | None = None
        self.extra: dict[str, Any] = {}


class SearchSelfPlayEnv(AECEnv):
    r"""Search self-play: a proposer writes a question for a known answer by searching, solvers answer it by searching.

    ## Description

    The game of *Search Self-Play* (SSP, Lu et al. 2025). The proposer ``proposer_0`` is given a
    target answer drawn from the corpus and a number of searches the question should need. Over
    several turns it searches the corpus (``<search> query </search>``, results come back inside
    ``<information> ... </information>``) and ends with ``<question> ... </question>``. The
    question is then checked: SSP's rules (length, the answer not in the question, at least two
    distinct searches, evidence retrieved) and the RAG check -- a reader must recover the answer
    from everything the proposer retrieved, mixed with ``distractors`` blocks of unrelated
    passages, without searching. A valid question goes to ``num_solvers`` solvers
    ``solver_0 .. solver_{N-1}``, who take turns, each searching on its own and ending with
    ``<answer> ... </answer>``. A solver is right when its answer equals the target after SQuAD
    normalization (or when the optional judge accepts it).

    With ``questions`` given (a question set: ``"fixture"``, a JSONL path or a list of
    ``{"question", "answers"}``) there is no proposer: each episode draws a question and the
    solvers answer it. That is Search-R1's search-agent task (``selfplay/SearchQA-v0``).

    The search engine is any :class:`~selfplay_gym.envs.search.base.SearchBackend`: tantivy
    BM25 over the corpus by default (built once, cached on disk), SQLite FTS5, a dense or hybrid
    index, or a Search-R1 retrieval server by URL.

    ## Action Space

    ``UnicodeText``: the model's raw output for one turn. The first complete tag is used:
    ``<search>`` (both roles), ``<question>`` (proposer), ``<answer>`` (solver); ``<think>``
    is ignored, text after the first closing tag is ignored (stop generation at
    ``</search>``, ``</question>``, ``</answer>``). Anything else -- no tag, an empty tag, the
    other role's tag, a search beyond the budget, a non-string -- is an invalid action: the turn
    is used up and the next prompt says what was wrong (Search-R1's behaviour). Queries are cut
    to ``max_query_chars``.

    ## Observation Space

    ``UnicodeText``: the agent's whole conversation so far -- the rules and its task, then each
    of its replies followed by the search results or the feedback, joined by blank lines;
    ``info["messages"]`` holds the same as a chat (system, user, then assistant/user pairs).
    Solvers see the proposer's question after ``Question:``, capped at
    ``max_question_chars``. The oldest turns are dropped (and a note says so) if a
    conversation would exceed ``max_observation_chars``.

    ## Rewards

    Solver: ``correct`` 1 for a right answer, else 0; with more than ``answer_tag_limit``
    answer tags in its replies, a right answer earns ``answer_tag_factor`` (SSP: 0.25) and the
    difference is ``answer_tag_spam``. Given when the solver answers (or runs out of turns:
    ``no_answer`` 0). Proposer, when every solver has finished: ``s`` = the share of solvers
    that were right; ``"1-acc"`` gives ``1 - s`` (SSP's default), ``"intermediate"`` gives
    ``4 s (1 - s)``; an invalid question gives ``invalid_reward`` (0, as SSP's training script;
    SSP's config says -1) and the solvers 0. ``invalid_action_penalty`` (0) is added for each
    invalid turn. Every part is in ``info["reward_components"]``.

    ## Starting State

    ``reset(seed=...)`` draws the target answer from the corpus's answer candidates and the
    required number of searches from ``search_range``; ``options={"answer": ..., "searches":
    ...}`` fixes them (``{"question": ..., "answers": [...]}`` in question-set mode). The
    proposer acts first.

    ## Episode End

    The proposer's part ends with a question or after ``max_turns`` turns (an invalid
    question). Each solver's part ends with an answer (terminated) or after ``max_turns`` turns
    (truncated, reward 0). The episode ends when every solver has finished or the question is
    invalid; the proposer is rewarded then.

    ## Info

    Beside the common keys: ``searches`` (this agent's queries), ``search_error`` (why the last
    search failed, else ``None``), ``target_answer`` and ``required_searches`` (proposer),
    ``question`` (everyone once asked), ``validity`` (each rule: ``True``/``False``, ``None``
    if not run), ``rag`` (the reader's verdict; solvers see it only at the end), ``question_valid``, and at the end
    ``prediction``/``correct`` (solvers), ``solver_correct``/``success_rate`` (proposer) and
    ``gold_answers`` (everyone), ``retrieval`` (backend, corpus, top-k).

    ## Arguments

    * ``corpus`` -- ``"fixture"`` (default: a fictional world written for the project), another
      name known to :func:`~selfplay_gym.envs.search.corpora.load_corpus`, a JSONL path, or a
      :class:`~selfplay_gym.envs.search.base.Corpus`.
    * ``backend`` -- ``"tantivy"`` (default), ``"sqlite"``, a Search-R1 server URL, or a backend.
    * ``num_solvers`` (5), ``topk`` (3), ``max_turns`` per agent (10), ``max_searches`` per agent
      (``None``: as many as turns), ``search_range`` (``(2, 4)``).
    * ``questions`` -- a question set for solver-only play (see Description).
    * ``answers`` -- the proposer's candidate answers, a list or a file (one per line, or JSONL
      with ``answer``/``answers``); default: the corpus's.
    * ``reader`` -- ``"evidence"`` (the rule reader), ``None`` (no RAG check), or a reader such
      as :class:`~selfplay_gym.envs.search.readers.LLMReader`; ``distractors`` (4).
    * ``judge`` -- ``judge(question, answers, prediction) -> bool`` for answers that are not an
      exact match.
    * ``proposer_reward`` (``"1-acc"``, ``"intermediate"`` or ``f(s)``), ``invalid_reward`` (0),
      ``invalid_action_penalty`` (0), ``answer_tag_limit`` (10), ``answer_tag_factor`` (0.25).
    * Validity: ``min_searches`` (2), ``min_question_words`` (10), ``min_question_chars`` (10),
      ``max_question_chars`` (1000), ``check_answer_in_queries`` (``False``).
    * Text: ``doc_format`` (``"verl"`` or ``"searchr1"``), ``max_doc_chars`` (1000),
      ``max_query_chars`` (500), ``max_action_chars`` (8192), ``max_echo_chars`` (2000),
      ``max_observation_chars`` (65536), ``prompts`` (a mapping overriding
      ``proposer_system``, ``proposer_user``, ``solver_system``, ``solver_user``,
      ``invalid_feedback``), ``render_mode`` (``"ansi"``).

    ## Version History

    * v0: Initial version.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["ansi"],
        "render_fps": 1,
        "name": "search_selfplay_v0",
        "is_parallelizable": False,
    }
    move_names: ClassVar[tuple[str, ...]] = ()
    """No finite move set: actions are free text."""
    has_chance: ClassVar[bool] = True
    stop_strings: ClassVar[tuple[str, ...]] = protocol.STOP_STRINGS

    def __init__(
        self,
        *,
        corpus: str | Corpus | None = "fixture",
        backend: str | SearchBackend = "tantivy",
        num_solvers: int = 5,
        questions: str | Sequence[Mapping[str, Any]] | None = None,
        answers: Sequence[str] | str | None = None,
        search_range: tuple[int, int] = (2, 4),
        max_turns: int = 10,
        max_searches: int | None = None,
        topk: int = 3,
        reader: Any = "evidence",
        distractors: int = 4,
        judge: Callable[[str, Sequence[str], str], bool] | None = None,
        proposer_reward: str | Callable[[float], float] = "1-acc",
        invalid_reward: float = 0.0,
        invalid_action_penalty: float = 0.0,
        answer_tag_limit: int = 10,
        answer_tag_factor: float = 0.25,
        min_searches: int = 2,
        min_question_words: int = 10,
        min_question_chars: int = 10,
        max_question_chars: int = 1000,
        check_answer_in_queries: bool = False,
        doc_format: str = "verl",
        max_doc_chars: int = 1000,
        max_query_chars: int = 500,
        max_action_chars: int = 8192,
        max_echo_chars: int = 2000,
        max_observation_chars: int = 65536,
        prompts: Mapping[str, str] | None = None,
        render_mode: str | None = None,
    ):
        super().__init__()
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"expected render_mode in ['ansi'] or None, got {render_mode!r}")
        for name, value in (
            ("num_solvers", num_solvers),
            ("max_turns", max_turns),
            ("topk", topk),
            ("max_doc_chars", max_doc_chars),
            ("max_query_chars", max_query_chars),
            ("max_action_chars", max_action_chars),
            ("max_echo_chars", max_echo_chars),
            ("max_question_chars", max_question_chars),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"expected {name} to be a positive int, got {value!r}")
        if max_searches is not None and (not isinstance(max_searches, int) or max_searches < 0):
            raise ValueError(
                f"expected max_searches to be an int >= 0 or None, got {max_searches!r}"
            )
        if (
            not isinstance(search_range, Sequence)
            or len(search_range) != 2
            or not all(isinstance(v, int) and v >= 1 for v in search_range)
            or search_range[0] > search_range[1]
        ):
            raise ValueError(
                f"expected search_range = (low, high) with 1 <= low <= high, got {search_range!r}"
            )
        if isinstance(distractors, bool) or not isinstance(distractors, int) or distractors < 0:
            raise ValueError(f"expected distractors to be an int >= 0, got {distractors!r}")
        if doc_format not in protocol.DOC_FORMATS:
            raise ValueError(
                f"expected doc_format in {sorted(protocol.DOC_FORMATS)}, got {doc_format!r}"
            )
        if not callable(proposer_reward) and proposer_reward not in PROPOSER_REWARDS:
            raise ValueError(
                f"expected proposer_reward in {sorted(PROPOSER_REWARDS)} or a callable, got {proposer_reward!r}"
            )
        for name, value in (
            ("invalid_reward", invalid_reward),
            ("invalid_action_penalty", invalid_action_penalty),
            ("answer_tag_factor", answer_tag_factor),
        ):
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
            ):
                raise ValueError(f"expected {name} to be a finite number, got {value!r}")
        if max_observation_chars < 4096:
            raise ValueError(
                f"expected max_observation_chars >= 4096, got {max_observation_chars!r}"
            )
        if isinstance(reader, str) and reader != "evidence":
            raise ValueError(f"expected reader 'evidence', None or a reader object, got {reader!r}")
        if reader is not None and not isinstance(reader, str) and not callable(reader):
            raise TypeError(f"expected the reader to be callable, got {type(reader).__name__}")
        texts = {
            "proposer_system": protocol.PROPOSER_SYSTEM,
            "proposer_user": protocol.PROPOSER_USER,
            "solver_system": protocol.SOLVER_SYSTEM,
            "solver_user": protocol.SOLVER_USER,
            "invalid_feedback": protocol.INVALID_FEEDBACK,
        }
        unknown = sorted(set(prompts or {}) - set(texts))
        if unknown:
            raise ValueError(f"unknown prompt names {unknown}; expected some of {sorted(texts)}")
        texts.update(prompts or {})
        self._texts = texts

        self.render_mode = render_mode
        self._corpus_spec = corpus
        self._backend_spec = backend
        self._questions_spec = questions
        self.num_solvers = num_solvers
        self.topk = topk
        self.max_turns = max_turns
        self.max_searches = max_turns if max_searches is None else max_searches
        self.search_range = (int(search_range[0]), int(search_range[1]))
        self.reader = EvidenceReader() if reader == "evidence" else reader
        self.distractors = distractors
        self.judge = judge
        self.proposer_reward = proposer_reward
        self.invalid_reward = float(invalid_reward)
        self.invalid_action_penalty = float(invalid_action_penalty)
        self.answer_tag_limit = int(answer_tag_limit)
        self.answer_tag_factor = float(answer_tag_factor)
        self.min_searches = int(min_searches)
        self.min_question_words = int(min_question_words)
        self.min_question_chars = int(min_question_chars)
        self.max_question_chars = max_question_chars
        self.check_answer_in_queries = bool(check_answer_in_queries)
        self.doc_format = doc_format
        self.max_doc_chars = max_doc_chars
        self.max_query_chars = max_query_chars
        self.max_action_chars = max_action_chars
        self.max_echo_chars = max_echo_chars
        self.max_observation_chars = max_observation_chars
        if isinstance(answers, str):
            from selfplay_gym.envs.search.corpora import load_answers

            answers = load_answers(answers)
        self._answers_given = tuple(answers) if answers is not None else None
        if self._answers_given is not None and not all(
            isinstance(a, str) and a.strip() for a in self._answers_given
        ):
            raise ValueError("expected answers to be non-empty strings")

        self.has_proposer = questions is None
        solvers = [f"solver_{i}" for i in range(num_solvers)]
        self.possible_agents = (["proposer_0"] if self.has_proposer else []) + solvers
        self._solvers = solvers
        space = UnicodeText(max_observation_chars)
        self._observation_spaces = dict.fromkeys(self.possible_agents, space)
        self._action_spaces = dict.fromkeys(self.possible_agents, UnicodeText(None))

        self._corpus: Corpus | None = None
        self._backend: SearchBackend | None = None
        self._questions: list[dict[str, Any]] | None = None
        self._np_random: np.random.Generator | None = None
        self._np_random_seed: int | None = None
        self._seats: dict[str, _Seat] = {}
        self._transcript: list[str] = []
        self.agents: list[str] = []
        self.phase = "done"
        self._target: tuple[str, ...] = ()
        self._question: str | None = None
        self._required = 0
        self._validity: dict[str, bool | None] = {}
        self._rag: dict[str, Any] | None = None
        self._next_solver = 0
        self._infos: dict[str, dict[str, Any]] = {}
        self._retrieval: dict[str, Any] = {}

    # ---- resources (built lazily: the env pickles cheaply and constructs fast) ---------------
    @property
    def corpus(self) -> Corpus | None:
        """The corpus (loaded on first use); ``None`` if the env was given none."""
        if self._corpus is None and self._corpus_spec is not None:
            if isinstance(self._corpus_spec, Corpus):
                self._corpus = self._corpus_spec
            else:
                from selfplay_gym.envs.search.corpora import load_corpus

                self._corpus = load_corpus(self._corpus_spec)
            if self.has_proposer and len(self._corpus) == 0:
                raise ValueError(f"corpus {self._corpus.name!r} is empty")
        return self._corpus

    @property
    def backend(self) -> SearchBackend:
        """The search backend (opened on first use)."""
        if self._backend is None:
            if isinstance(self._backend_spec, SearchBackend):
                self._backend = self._backend_spec
            else:
                self._backend = shared_backend(self._backend_spec, self.corpus)
        return self._backend

    def _question_set(self) -> list[dict[str, Any]]:
        if self._questions is None:
            spec = self._questions_spec
            if isinstance(spec, str):
                from selfplay_gym.envs.search.corpora import load_questions

                rows = load_questions(spec)
            else:
                rows = list(spec or ())
            checked = []
            for i, row in enumerate(rows):
                if not isinstance(row, Mapping) or not isinstance(row.get("question"), str):
                    raise ValueError(f"question {i}: expected a mapping with a 'question' string")
                answers = row.get("answers", row.get("answer"))
                answers = [answers] if isinstance(answers, str) else list(answers or [])
                if not answers or not all(isinstance(a, str) and a.strip() for a in answers):
                    raise ValueError(f"question {i}: expected non-empty 'answers'")
                checked.append({"question": row["question"], "answers": tuple(answers)})
            if not checked:
                raise ValueError("the question set is empty")
            self._questions = checked
        return self._questions

    def _answer_candidates(self) -> tuple[str, ...]:
        if self._answers_given is not None:
            candidates = self._answers_given
        else:
            corpus = self.corpus
            candidates = corpus.answer_candidates() if corpus is not None else ()
        if not candidates:
            raise ValueError("no candidate answers: give answers=[...] or a corpus with titles")
        return candidates

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        # Rebuilt on first use in the copy: a corpus named by a string, a backend from a name.
        if not isinstance(self._corpus_spec, Corpus):
            state["_corpus"] = None
        if not isinstance(self._backend_spec, SearchBackend):
            state["_backend"] = None
        return state

    # ---- spaces ------------------------------------------------------------------------------
    def observation_space(self, agent: str) -> UnicodeText:
        """The prompt space of ``agent``."""
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> UnicodeText:
        """Any string."""
        return self._action_spaces[agent]

    @property
    def np_random(self) -> np.random.Generator:
        """The env's generator (seeded by ``reset``)."""
        if self._np_random is None:
            self._np_random, self._np_random_seed = seeding.np_random()
        return self._np_random

    # ---- episode -----------------------------------------------------------------------------
    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        """Draw a target answer (or a question) and start the episode."""
        if seed is not None or self._np_random is None:
            self._np_random, self._np_random_seed = seeding.np_random(seed)
        rng = self._np_random
        options = dict(options or {})
        self.agents = list(self.possible_agents)
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self._seats = {}
        self._transcript = []
        try:
            described = self.backend.describe()
        except Exception as exc:  # a description is informative only
            described = {"backend": getattr(self.backend, "name", "?"), "error": repr(exc)[:200]}
        self._retrieval = {**described, "topk": self.topk}
        self._validity = {}
        self._rag = None
        self._next_solver = 0
        self._question = None
        if self.has_proposer:
            answer = options.get("answer")
            if answer is None:
                candidates = self._answer_candidates()
                answer = candidates[int(rng.integers(len(candidates)))]
            answers = options.get("answers") or (answer,)
            answers = (answers,) if isinstance(answers, str) else tuple(answers)
            self._target = (str(answer), *[a for a in answers if a != answer])
            low, high = self.search_range
            self._required = int(options.get("searches") or rng.integers(low, high + 1))
            self._seats["proposer_0"] = _Seat(
                "proposer",
                self._texts["proposer_system"],
                self._texts["proposer_user"].format(
                    answer=self._target[0], searches=self._required
                ),
            )
            for solver in self._solvers:
                self._seats[solver] = _Seat("solver")
            self.phase = "propose"
            self.agent_selection = "proposer_0"
            self._note(
                f"[env] target answer {self._target[0]!r}, {self._required} searches expected"
            )
        else:
            if "question" in options:
                q = {"question": str(options["question"]), "answers": options.get("answers")}
                answers = q["answers"]
                answers = (answers,) if isinstance(answers, str) else tuple(answers or ())
                if not answers:
                    raise ValueError("options['question'] needs options['answers']")
                self._question, self._target = q["question"], answers
            else:
                rows = self._question_set()
                row = rows[int(rng.integers(len(rows)))]
                self._question, self._target = row["question"], row["answers"]
            self._required = 0
            for solver in self._solvers:
                self._seats[solver] = _Seat("solver")
            self._start_solving()
        self._refresh_infos()

    def _start_solving(self) -> None:
        self.phase = "solve"
        question = (self._question or "")[: self.max_question_chars]
        user = self._texts["solver_user"].format(question=question)
        for s in self._solvers:
            self._seats[s].messages = [
                {"role": "system", "content": self._texts["solver_system"]},
                {"role": "user", "content": user},
            ]
        self._next_solver = 0
        self.agent_selection = self._solvers[0]
        self._note(f"[env] question: {question}")

    # ---- stepping ----------------------------------------------------------------------------
    def step(self, action: Any) -> None:
        """Play ``action`` (the selected agent's reply); ``None`` for an agent that has finished."""
        if not self.agents:
            raise RuntimeError("no episode in progress: call reset() first")
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        seat = self._seats[agent]
        self._cumulative_rewards[agent] = 0.0
        self.rewards = dict.fromkeys(self.agents, 0.0)
        for other in self.agents:
            if other == agent:
                self._seats[other].components = {}
        seat.turn += 1
        seat.search_error = None
        self._play(agent, seat, action)
        if not seat.finished and seat.turn >= self.max_turns:
            self._out_of_turns(agent, seat)
        for a, r in self.rewards.items():
            self._cumulative_rewards[a] += r
        self._select_next(agent)
        self._refresh_infos()

    def _play(self, agent: str, seat: _Seat, action: Any) -> None:
        allowed = ("search", "question") if seat.role == "proposer" else ("search", "answer")
        if not isinstance(action, str):
            self._invalid(agent, seat, f"expected a str action, got {type(action).__name__}", "")
            return
        # The first complete tag is the move, so the head of an over-long action is what counts.
        text = action[: self.max_action_chars]
        if seat.role == "solver":
            seat.answer_tags += count_answer_tags(text)
        parsed = parse_turn(text, allowed)
        if not parsed.ok:
            self._invalid(agent, seat, parsed.error or "unreadable", text)
            return
        assert parsed.content is not None and parsed.tag is not None
        close = f"</{parsed.tag}>"
        echo = text[: text.find(close) + len(close)]
        seat.parse = {"ok": True, "extracted": parsed.content, "error": None}
        seat.invalid = False
        if parsed.tag == "search":
            if len(seat.queries) >= self.max_searches:
                self._invalid(
                    agent, seat, f"the search budget ({self.max_searches}) is spent", echo
                )
                return
            self._add_message(seat, "assistant", echo)
            self._search(agent, seat, parsed.content)
        elif parsed.tag == "question":
            self._add_message(seat, "assistant", echo)
            self._note(f"[{agent}] {self._echo(echo)}")
            self._submit_question(parsed.content[: self.max_question_chars + 1])
        else:
            self._add_message(seat, "assistant", echo)
            self._note(f"[{agent}] {self._echo(echo)}")
            self._score_solver(agent, seat, parsed.content)

    def _echo(self, text: str) -> str:
        return text if len(text) <= self.max_echo_chars else "..." + text[-self.max_echo_chars :]

    def _add_message(self, seat: _Seat, role: str, content: str) -> None:
        seat.messages.append(
            {"role": role, "content": self._echo(content) if role == "assistant" else content}
        )

    def _invalid(self, agent: str, seat: _Seat, error: str, text: str) -> None:
        seat.parse = {"ok": False, "extracted": None, "error": error}
        seat.invalid = True
        self._add_message(seat, "assistant", text)
        final_hint = (
            "put the question between <question> and </question>"
            if seat.role == "proposer"
            else "put the answer between <answer> and </answer>"
        )
        self._add_message(
            seat, "user", self._texts["invalid_feedback"].format(error=error, final_hint=final_hint)
        )
        self._note(f"[{agent}] invalid: {error}")
        if self.invalid_action_penalty:
            self._reward(agent, "invalid_action", self.invalid_action_penalty)

    def _search(self, agent: str, seat: _Seat, query: str) -> None:
        query = query[: self.max_query_chars]
        seat.queries.append(query)
        try:
            hits = self.backend.search([query], self.topk)[0]
            docs = protocol.format_hits(hits, self.doc_format, self.max_doc_chars)
        except Exception as exc:  # a dead server or a broken backend is an outcome, not a crash
            hits, seat.search_error = [], f"{type(exc).__name__}: {exc}"[:500]
            docs = f"The search failed ({seat.search_error}). No documents."
            logger.warn(f"search failed for {agent}: {seat.search_error}")
        seat.last_hits = tuple(hits)
        seat.hit_log.append(seat.last_hits)
        block = f"<information>\n{docs}\n</information>"
        if hits:  # the evidence of the RAG check: what the searches actually returned
            seat.materials.append(docs)
        self._add_message(seat, "user", block)
        self._note(f"[{agent}] <search> {query} </search> -> {len(hits)} documents")

    def _out_of_turns(self, agent: str, seat: _Seat) -> None:
        seat.finished = True
        self._note(f"[env] {agent} used its {self.max_turns} turns without finishing")
        if seat.role == "proposer":
            self._validity = {"has_question": False}
            self.truncations[agent] = True
            self._end_invalid("no <question> within max_turns")
        else:
            seat.extra.update(prediction=None, correct=False)
            self._reward(agent, "no_answer", 0.0)
            self.truncations[agent] = True
            self._maybe_finish()

    # ---- the question ------------------------------------------------------------------------
    def _submit_question(self, question: str) -> None:
        seat = self._seats["proposer_0"]
        seat.finished = True
        seat.final = question
        self._question = question
        answers = self._target
        lowered = question.lower()
        queries = seat.queries
        validity: dict[str, bool | None] = {
            "has_question": True,
            "length": self.min_question_chars <= len(question) <= self.max_question_chars
            and len(question.split()) >= self.min_question_words,
            "answer_not_in_question": not any(a.lower() in lowered for a in answers),
            "has_information": bool(seat.materials),
            "enough_searches": len(queries) >= self.min_searches,
            "no_repeated_search": len({" ".join(q.lower().split()) for q in queries})
            == len(queries),
        }
        if self.check_answer_in_queries:
            validity["answer_not_in_queries"] = not any(
                a.lower() in q.lower() for q in queries for a in answers
            )
        rules_ok = all(validity.values())
        # The reader runs only on a question that passed the cheap rules (as in SSP).
        validity["rag_check"] = (
            self._rag_check(question, answers, seat.materials)
            if rules_ok and self.reader is not None
            else None
        )
        self._validity = validity
        valid = rules_ok and (self.reader is None or validity["rag_check"] is True)
        self._note(f"[env] question {'valid' if valid else 'invalid'}: {validity}")
        if valid:
            self._start_solving()
        else:
            failed = [k for k, v in validity.items() if v is False]
            self._end_invalid("failed " + ", ".join(failed))

    def _rag_check(
        self, question: str, answers: tuple[str, ...], materials: list[str]
    ) -> bool | None:
        if self.reader is None:
            return None
        mixed = list(materials) + self._distractor_materials()
        order = self.np_random.permutation(len(mixed))
        mixed = [mixed[i] for i in order]
        try:
            verdict = self.reader(question, answers, mixed)
            if not isinstance(verdict, RagVerdict):
                verdict = RagVerdict(bool(verdict), None, "reader returned a bool")
        except Exception as exc:  # fail closed: an erroring check makes the question invalid
            verdict = RagVerdict(False, None, f"reader error: {type(exc).__name__}: {exc}"[:500])
        self._rag = {
            "valid": bool(verdict.valid),
            "predicted": verdict.predicted,
            "reason": verdict.reason,
        }
        return bool(verdict.valid)

    def _distractor_materials(self) -> list[str]:
        corpus = self.corpus
        if not self.distractors or corpus is None or len(corpus) == 0:
            return []
        rng = self.np_random
        seen = {h.doc_id for hits in self._seats["proposer_0"].hit_log for h in hits}
        out = []
        for _ in range(self.distractors):
            picks = rng.choice(len(corpus), size=min(self.topk, len(corpus)), replace=False)
            hits = [Hit.of(corpus.passages[int(i)]) for i in picks]
            hits = [h for h in hits if h.doc_id not in seen] or hits
            out.append(protocol.format_hits(hits, self.doc_format, self.max_doc_chars))
        return out

    def _end_invalid(self, reason: str) -> None:
        self._reward("proposer_0", "invalid_question", self.invalid_reward)
        self._note(f"[env] question invalid ({reason}); the episode ends")
        self._seats["proposer_0"].extra["invalid_reason"] = reason
        for s in self._solvers:
            if s in self.agents:
                self._reward(s, "invalid_question", 0.0)
                self.terminations[s] = True
        if not self.truncations.get("proposer_0"):
            self.terminations["proposer_0"] = True
        self.phase = "done"

    # ---- scoring -----------------------------------------------------------------------------
    def _score_solver(self, agent: str, seat: _Seat, prediction: str) -> None:
        seat.finished = True
        seat.final = prediction
        correct = exact_match(prediction, self._target)
        if not correct and self.judge is not None:
            try:
                correct = bool(self.judge(self._question or "", self._target, prediction))
                seat.extra["judged"] = True
            except Exception as exc:
                seat.extra["judge_error"] = f"{type(exc).__name__}: {exc}"[:500]
        seat.extra.update(prediction=prediction, correct=correct)
        self._reward(agent, "correct", 1.0 if correct else 0.0)
        if correct and seat.answer_tags > self.answer_tag_limit:
            self._reward(agent, "answer_tag_spam", self.answer_tag_factor - 1.0)
        self.terminations[agent] = True
        self._maybe_finish()

    def _maybe_finish(self) -> None:
        if not all(self._seats[s].finished for s in self._solvers):
            return
        results = [bool(self._seats[s].extra.get("correct")) for s in self._solvers]
        s = sum(results) / len(results)
        if self.has_proposer:
            name, value = proposer_reward(self.proposer_reward, s)
            prop = self._seats["proposer_0"]
            prop.extra.update(solver_correct=results, success_rate=s)
            self._reward("proposer_0", name, value)
            self.terminations["proposer_0"] = True
        self._note(f"[env] success rate {s:.2f} ({sum(results)}/{len(results)})")
        self.phase = "done"

    def _reward(self, agent: str, component: str, value: float) -> None:
        self.rewards[agent] = self.rewards.get(agent, 0.0) + value
        comps = self._seats[agent].components
        comps[component] = comps.get(component, 0.0) + value

    # ---- agent order -------------------------------------------------------------------------
    def _select_next(self, acted: str) -> None:
        for a in self.agents:
            if self.terminations[a] or self.truncations[a]:
                self.agent_selection = a
                return
        if self.phase == "propose":
            self.agent_selection = "proposer_0"
            return
        if self.phase == "solve":
            n = len(self._solvers)
            start = self._solvers.index(acted) + 1 if acted in self._solvers else 0
            for k in range(n):
                s = self._solvers[(start + k) % n]
                if not self._seats[s].finished:
                    self.agent_selection = s
                    return

    def _was_dead_step(self, action: Any) -> None:
        if action is not None:
            raise ValueError("when an agent is dead, the only valid action is None")
        agent = self.agent_selection
        self.agents.remove(agent)
        for table in (self.terminations, self.truncations, self.rewards, self._cumulative_rewards):
            del table[agent]
        self._infos.pop(agent, None)
        self.rewards = dict.fromkeys(self.agents, 0.0)
        if self.agents:
            self._select_next(agent)
        self._refresh_infos()

    # ---- observations and infos --------------------------------------------------------------
    def _fit(self, messages: list[dict[str, str]]) -> list[dict[str, str]]:
        """The messages, oldest turns dropped (after the task) so the prompt fits the cap."""
        total = sum(len(m["content"]) + 2 for m in messages)
        if total <= self.max_observation_chars:
            return messages
        head, rest = messages[:2], messages[2:]
        note = {"role": "user", "content": "[earlier turns omitted]"}
        budget = self.max_observation_chars - sum(len(m["content"]) + 2 for m in head) - 40
        kept: list[dict[str, str]] = []
        for m in reversed(rest):
            size = len(m["content"]) + 2
            if size > budget:
                break
            kept.append(m)
            budget -= size
        if kept and kept[-1]["role"] == "user":  # keep assistant/user alternation after the note
            kept.pop()
        return [*head, note, *reversed(kept)]

    def observe(self, agent: str) -> str:
        """The prompt of ``agent``: its conversation so far."""
        seat = self._seats.get(agent)
        if seat is None or not seat.messages:  # a solver before the question exists
            return ""
        text = "\n\n".join(m["content"] for m in self._fit(seat.messages))
        return text[: self.max_observation_chars]

    @property
    def infos(self) -> dict[str, dict[str, Any]]:  # type: ignore[override]
        """Each live agent's info (DESIGN.md section 3, plus the search keys of the docstring)."""
        return self._infos

    @infos.setter
    def infos(self, value: dict[str, dict[str, Any]]) -> None:
        self._infos = value

    def _refresh_infos(self) -> None:
        self._infos = {a: self._build_info(a) for a in self.agents}

    def _build_info(self, agent: str) -> dict[str, Any]:
        role, _, index = agent.rpartition("_")
        seat = self._seats.get(agent)
        info: dict[str, Any] = {
            "role": role,
            "seat": int(index),
            "turn": seat.turn if seat else 0,
            "phase": self.phase,
            "legal_actions": [],
            "action_mask": _EMPTY_MASK,
            "parse": dict(seat.parse) if seat else {"ok": True, "extracted": None, "error": None},
            "invalid_action": bool(seat.invalid) if seat else False,
            "reward_components": dict(seat.components) if seat else {},
            "messages": [dict(m) for m in self._fit(seat.messages)] if seat else [],
            "searches": list(seat.queries) if seat else [],
            "search_error": seat.search_error if seat else None,
            "stop": list(self.stop_strings),
        }
        if role == "proposer":
            info["target_answer"] = self._target[0] if self._target else None
            info["required_searches"] = self._required
        if self._question is not None and (role == "proposer" or self.phase != "propose"):
            info["question"] = self._question
        if self._validity:
            info["validity"] = dict(self._validity)
            # The reader's verdict quotes the evidence (and the answer): the proposer sees it at
            # once, solvers only when the episode is over.
            if role == "proposer" or self.phase == "done":
                info["rag"] = dict(self._rag) if self._rag else None
            info["question_valid"] = self.phase == "solve" or (
                self.phase == "done" and "invalid_reason" not in self._seats["proposer_0"].extra
            )
        elif not self.has_proposer:
            info["question_valid"] = True
        if seat is not None and seat.extra:
            info.update(seat.extra)
        if self.phase == "done":
            info["gold_answers"] = list(self._target)
        info["retrieval"] = self._retrieval
        return info

    def agent_view(self, agent: str) -> dict[str, Any]:
        """What ``agent`` knows, structured, for scripted players (never another agent's secrets)."""
        if not self._seats:
            raise RuntimeError("call reset() before agent_view()")
        seat = self._seats.get(agent)
        view: dict[str, Any] = {
            "role": agent.rpartition("_")[0],
            "turn": seat.turn if seat else 0,
            "max_turns": self.max_turns,
            "queries": list(seat.queries) if seat else [],
            "last_hits": list(seat.last_hits) if seat else [],
            "hits": [h for hits in seat.hit_log for h in hits] if seat else [],
            "materials": list(seat.materials) if seat else [],
            "min_searches": self.min_searches,
        }
        if view["role"] == "proposer":
            view["answer"] = self._target[0]
            view["required_searches"] = self._required
        elif self.phase != "propose":
            view["question"] = self._question
        return view

    def _note(self, line: str) -> None:
        self._transcript.append(line)

    def render(self) -> str | None:
        """The transcript of the episode (``ansi``)."""
        if self.render_mode is None:
            logger.warn("You are calling render() without a render_mode; pass render_mode='ansi'.")
            return None
        return "\n".join(self._transcript)

    def close(self) -> None:
        """Release the backend if this env opened it by name (shared backends stay open)."""

    def __str__(self) -> str:
        return "SearchSelfPlayEnv" if self.has_proposer else "SearchQAEnv"
