r"""Multi-Agent Evolve (MAE): a proposer, N solvers and a judge drawn from one model, as one AEC env.

The proposer writes a question, the solvers answer it, and the judge -- an agent of the env,
trained too, or a callable such as a rubric judge around a fixed model -- scores the question
and every answer on a 1-10 scale. The judge's scores are the only verifier: MAE needs no ground
truth, which is what lets it run on general questions rather than on checkable math alone.

:class:`ProposerSolverJudgeEnv` is the env (``selfplay/ProposerSolverJudge-v0``);
:class:`ScriptedMAEPlayer` plays every role by simple rules (arithmetic questions, answers
computed with a skill rate, a rule-based judge), with deliberate mistakes so that episodes
produce every outcome. :func:`read_score` is MAE's reading of a judge's reply and
:func:`arithmetic_value` the scripted players' calculator.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

from selfplay_gym.core.bots import Bot
from selfplay_gym.core.parsers import last_tag
from selfplay_gym.core.pipeline import ProposeSolveEnv, Scored
from selfplay_gym.core.rewards import MAEBlend, ProposerRule
from selfplay_gym.core.verifiers import (
    ANSWER_RUBRIC,
    DEFAULT_JUDGE_TIMEOUT,
    MAX_JUDGE_REPLY_CHARS,
    QUESTION_RUBRIC,
    RubricJudge,
    parse_score,
)

__all__ = ["ProposerSolverJudgeEnv", "ScriptedMAEPlayer", "read_score", "arithmetic_value"]

# ---- prompts (the project's own wording of MAE's templates) -------------------------------------
PROPOSER_SYSTEM = (
    "You are the proposer in a self-play game with solvers and a judge. Write one question that "
    "is challenging yet clear, self-contained and solvable, with a single well-defined answer. "
    "Think first if you like, then put the question inside <question> ... </question>. You may "
    "add your own answer inside <answer> ... </answer> after it. A judge scores your question "
    "for clarity and solvability; a question the judge rates well earns more the fewer solvers "
    "answer it well."
)
PROPOSER_NEW = (
    "Write a new, original and challenging task. It must be answerable from the question alone."
)
PROPOSER_REFERENCE = (
    "Here is a reference task:\n\n{reference}\n\nWrite a harder variant of this task: change "
    "it so that it needs more reasoning, but keep it clear and solvable."
)
SOLVER_SYSTEM = (
    "You are a solver. Read the question, reason step by step, then give your final answer "
    "inside <answer> ... </answer>. Only the text inside the last answer tag is judged."
)
SOLVER_USER = "Question: {question}"
JUDGE_SYSTEM = (
    "You are a strict judge. Reason about the text you are given first, then give your verdict "
    "as an integer from {low} to {high} inside <score> ... </score>, once, at the end."
)


# ---- reading a judge's reply ---------------------------------------------------------------------
def read_score(text: str, low: float = 1, high: float = 10) -> tuple[float | None, int]:
    """MAE's reading of a judge reply: the score in [0, 1] (or ``None``) and the ``<score>`` tag count.

    The score is :func:`~selfplay_gym.core.verifiers.parse_score`'s (the last ``<score>`` tag
    read as a fraction, a float or an int; without a tag, the last number of the reply),
    normalised as ``(x - low) / (high - low)``. Tags are counted in the tail that is read.

    Example:
        >>> read_score("<think>clear</think><score>10</score>")
        (1.0, 1)
        >>> read_score("fine, I give it 4")[0] == 3 / 9, read_score("no idea")
        (True, (None, 0))
    """
    raw = parse_score(text, low, high)
    tags = text[-MAX_JUDGE_REPLY_CHARS:].count("<score>")
    if raw is None:
        return None, tags
    return min(1.0, max(0.0, (raw - low) / (high - low))), tags


# ---- arithmetic for the scripted players ---------------------------------------------------------
_EXPR_RE = re.compile(r"-?\d{1,7}(?:\s{0,3}[-+*x×]\s{0,3}-?\d{1,7}){1,6}")
_TOKEN_RE = re.compile(r"-?\d+|[-+*x×]")


def arithmetic_value(text: str) -> int | None:
    """The value of the first ``a op b op ...`` expression in ``text`` (``+ - *``), or ``None``.

    Example:
        >>> arithmetic_value("What is 12 * 7 + 30?")
        114
        >>> arithmetic_value("Tell me a story.") is None
        True
    """
    match = _EXPR_RE.search(text[:4000])
    if match is None:
        return None
    expr = re.sub(r"\s+", "", match.group(0))
    # Tokens: a number, then (operator, number) pairs; a '-' right after an operator is a sign.
    tokens: list[str] = []
    i = 0
    while i < len(expr):
        c = expr[i]
        if c.isdigit() or (c == "-" and (not tokens or tokens[-1] in "+-*x×")):
            j = i + 1
            while j < len(expr) and expr[j].isdigit():
                j += 1
            tokens.append(expr[i:j])
            i = j
        else:
            tokens.append(c)
            i += 1
    total, term = 0, int(tokens[0])
    for op, num in zip(tokens[1::2], tokens[2::2], strict=False):
        if op in "*x×":
            term *= int(num)
        else:
            total += term
            term = int(num) if op == "+" else -int(num)
    return total + term


class ProposerSolverJudgeEnv(ProposeSolveEnv):
    r"""Multi-Agent Evolve: a proposer poses a question, solvers answer it, a judge scores both.

    ## Description

    The game of *Multi-Agent Evolve* (MAE), where one language model plays
    three roles. The proposer ``proposer_0`` writes a question in ``<question> ... </question>``
    (optionally followed by its own ``<answer> ... </answer>``). In a share
    ``include_references`` of the episodes (0.5, MAE's "half reference") it is shown a reference
    task from the task buffer and asked for a harder variant; otherwise it is asked for a new
    challenging task. The buffer starts with the project's math problems
    (``load_problems("fixture")``) and grows with every question the judge rates at least
    ``gate``.

    The judge scores the question against a question rubric (unsolvable, contradictory or
    open-ended: 1-3; ambiguous: 4-7; clear and solvable: 8-10). Every question with a
    ``<question>`` tag then goes to the ``num_solvers`` solvers ``solver_0 .. solver_{N-1}``
    (5), who each answer once in ``<answer> ... </answer>``, and the judge scores each answer
    against an answer rubric (any error: 1-3; incomplete: 4-7; flawless: 8-10). There is no
    ground truth: the judge's scores are the verifier.

    The judge is ``judge_0``, an agent of the env trained like the others (``judge="agent"``,
    the default), or a callable ``judge(question, answer_or_None) -> Verdict`` (e.g. one that
    calls ``RubricJudge(model, QUESTION_RUBRIC)`` on the question and ``RubricJudge(model,
    ANSWER_RUBRIC)`` on an answer), in which case there is no ``judge_0``.

    ## Agents

    ``proposer_0``, ``solver_0`` .. ``solver_4`` and, with ``judge="agent"``, ``judge_0``. The
    proposer acts first, then the judge (the question), the solvers in order, then the judge
    once per answer found.

    ## Action Space

    ``UnicodeText``: the raw reply; only the first ``max_action_chars`` characters are read.
    Proposer: the last ``<question> ... </question>`` is the question (capped at
    ``max_question_chars``), the last ``<answer>`` its optional reference answer; no (or an
    empty) question tag is an unreadable proposal. Solver: the last ``<answer> ... </answer>``;
    none is an unreadable answer. Judge: MAE's parse -- the last ``<score> ... </score>`` read as
    a fraction, a float or an int, or without a tag the last number in the reply; a reply with
    no number at all is unreadable. With ``retries > 0`` an unreadable reply is sent back with
    feedback; otherwise its outcome applies (below). Non-string actions are unreadable.

    ## Observation Space

    ``UnicodeText``: the agent's conversation (system rules, then the task), joined by blank
    lines; ``info["messages"]`` is the same as a chat. The proposer sees the reference task when
    there is one; solvers see the question only (never the proposer's answer); the judge sees
    the rubric, the question and, for an answer, that answer. Each judgement is a new
    conversation.

    ## Rewards

    A judge score ``x`` in 1-10 is normalised to ``(x - 1) / 9`` in [0, 1]; an unreadable
    judgement, or a callable judge that raises or returns garbage, counts as ``judge_fallback``
    (0.5, MAE's fallback) and is flagged in ``info``.

    * **Solver**: ``0.5 * judge(answer) + 0.5 * fmt``, where ``fmt`` is 1 when an ``<answer>``
      tag was found; components ``judge`` and ``format``. A reply without an answer tag is not
      judged and earns 0.
    * **Proposer** (``MAEBlend(gate=0.7)``): with ``q`` the judge's score of the question and
      ``s`` the mean score of the N solvers' answers (an unanswered one counts 0),
      ``(q + (1 - s) + fmt) / 3`` if ``q >= gate``, else ``(q + fmt) / 3``; ``fmt`` = 1 because
      the proposal had a question. Components ``quality`` (q/3), ``difficulty`` ((1 - s)/3,
      only at or above the gate) and ``format`` (1/3). A proposal without a question is an
      invalid task: ``invalid_task`` = ``invalid_reward`` (0), and the solvers get
      ``invalid_task`` 0.
    * **Judge**: format only, component ``format``: ``1 / k`` for each judgement whose reply
      holds exactly one ``<score>`` tag with a readable score, where ``k`` = 1 + N is the number
      of judgements of a full episode; 0 for the others.

    ## Starting State

    ``reset(seed=...)`` draws whether the proposer gets a reference (probability
    ``include_references``) and which one, from the buffer, with the env's generator.
    ``options={"reference": "..."}`` fixes the reference (``None``: no reference);
    ``options={"task": {"question": ...}}`` skips the proposer (the solvers answer that question
    and the judge scores them; nobody rewards the proposer).

    ## Episode End

    After the proposer's invalid proposal, or when the last answer has been judged. Each solver
    ends when its answer is scored; the proposer and the judge end with the episode. Every agent
    is terminated (never truncated).

    ## Info

    Beside the common keys: ``task`` (the question; solvers and judge once it is posed),
    ``validity`` and ``reference_task`` (proposer), ``quality`` and ``quality_ok`` (the judge's
    question score and whether it was read, proposer), ``task_valid``, ``solve_rate`` (the mean
    judged answer score ``s``), ``solver_scores`` and ``pooled`` (whether the question entered
    the buffer) for the proposer at the end; ``prediction``, ``score``, ``verdict_ok``,
    ``verdict`` and ``answer_format`` for solvers; ``judging`` (``"question"`` or the solver
    being judged) and ``score_tags`` for the judge; ``reference`` (the proposer's own answer, if
    any) for everyone at the end.

    ## Arguments

    * ``num_solvers`` -- N (5).
    * ``judge`` -- ``"agent"`` (default) or a callable ``judge(question, answer_or_None)``
      returning a Verdict-like score in [0, 1].
    * ``judge_timeout`` -- seconds a callable judge may take per call (60): a hung call is
      abandoned (its daemon thread cannot be killed) and the judgement is ``judge_fallback``
      with the reason "judge timed out after X s" (``quality_error`` or the solver's
      ``verdict``); while it still runs, later judgements fall back at once. ``None``: no limit.
    * ``include_references`` -- probability of a reference task in the proposer's prompt (0.5).
    * ``gate`` -- the judge score a question needs for the difficulty term and for the buffer
      (0.7); ``proposer_reward`` -- another rule (default ``MAEBlend(gate)``).
    * ``seed_tasks`` -- the buffer's first tasks: a spec of ``load_problems`` (``"fixture"``, a
      path), a list of questions or ``{"question"|"problem", "answer"}`` rows, or ``None``.
    * ``buffer_size`` (1024), ``invalid_reward`` (0), ``judge_fallback`` (0.5), ``score_range``
      (``(1, 10)``), ``solver_weights`` (``(0.5, 0.5)``: judge, format).
    * ``max_question_chars`` (2000), ``max_answer_chars`` (2000), ``retries`` (0),
      ``max_action_chars`` (8192), ``max_observation_chars`` (65536), ``render_mode``
      (``"ansi"`` or ``None``).

    ## Version History

    * v0: Initial version.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["ansi"],
        "render_fps": 1,
        "name": "proposer_solver_judge_v0",
        "is_parallelizable": False,
    }
    has_chance: ClassVar[bool] = True
    stop_strings: ClassVar[tuple[str, ...]] = ("</answer>", "</score>")

    def __init__(
        self,
        *,
        num_solvers: int = 5,
        judge: Any = "agent",
        include_references: float = 0.5,
        gate: float = 0.7,
        proposer_reward: str | ProposerRule | Callable[[float], float] | None = None,
        seed_tasks: str | Sequence[Any] | None = "fixture",
        buffer_size: int = 1024,
        invalid_reward: float = 0.0,
        judge_fallback: float = 0.5,
        judge_timeout: float | None = DEFAULT_JUDGE_TIMEOUT,
        score_range: tuple[float, float] = (1, 10),
        solver_weights: tuple[float, float] = (0.5, 0.5),
        max_question_chars: int = 2000,
        max_answer_chars: int = 2000,
        **kwargs: Any,
    ):
        if judge is None:
            raise ValueError("MAE needs a judge: expected 'agent' or a callable, got None")
        if not 0.0 <= float(include_references) <= 1.0:
            raise ValueError(f"expected include_references in [0, 1], got {include_references}")
        if not 0.0 <= float(gate) <= 1.0:
            raise ValueError(f"expected gate in [0, 1], got {gate}")
        low, high = score_range
        if not float(low) < float(high):
            raise ValueError(f"expected score_range (low, high) with low < high, got {score_range}")
        if len(solver_weights) != 2:
            raise ValueError(f"expected solver_weights (judge, format), got {solver_weights!r}")
        for name, value in (
            ("max_question_chars", max_question_chars),
            ("max_answer_chars", max_answer_chars),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"expected {name} to be a positive int, got {value!r}")
        self._seed_spec = seed_tasks  # read by _seed_tasks() inside the base's __init__
        self.gate = float(gate)
        super().__init__(
            num_solvers=num_solvers,
            proposer_reward=MAEBlend(gate=self.gate)
            if proposer_reward is None
            else proposer_reward,
            invalid_reward=invalid_reward,
            judge=judge,
            judge_answers=True,
            judge_fallback=judge_fallback,
            judge_timeout=judge_timeout,
            min_quality=None,  # MAE solves every question; the gate only drops the difficulty term
            buffer_size=buffer_size,
            **kwargs,
        )
        self.include_references = float(include_references)
        self.score_range = (float(low), float(high))
        self.solver_weights = (float(solver_weights[0]), float(solver_weights[1]))
        self.max_question_chars = max_question_chars
        self.max_answer_chars = max_answer_chars
        self._reference: str | None = None

    # ---- the task buffer -------------------------------------------------------------------------
    def _seed_tasks(self) -> Iterable[Mapping[str, Any]]:
        spec = self._seed_spec
        if spec is None:
            return []
        if isinstance(spec, str):
            from selfplay_gym.envs.reasoning.tasks import load_problems

            rows: Iterable[Any] = load_problems(spec)
        else:
            rows = spec
        tasks = []
        for row in rows:
            if isinstance(row, str):
                tasks.append({"question": row})
            elif isinstance(row, Mapping):
                question = row.get("question", row.get("problem"))
                if not isinstance(question, str):
                    raise ValueError(f"expected a 'question' or 'problem' string in {row!r}")
                task = {"question": question}
                if row.get("answer") is not None:
                    task["answer"] = str(row["answer"])
                tasks.append(task)
            else:
                raise TypeError(f"expected a question string or a mapping, got {row!r}")
        return tasks

    def _accepted(self, task: dict[str, Any], solve_rate: float) -> None:
        quality = self._quality.score if self._quality is not None else 0.0
        pooled = quality >= self.gate
        self._seats["proposer_0"].extra["pooled"] = pooled
        if pooled:
            self.buffer.add({**task, "solve_rate": solve_rate})

    # ---- prompts and parsing ---------------------------------------------------------------------
    def _proposer_prompt(self, options: dict[str, Any]) -> tuple[str, str]:
        if "reference" in options:
            ref = options["reference"]
            if isinstance(ref, Mapping):
                ref = ref.get("question")
            self._reference = ref if isinstance(ref, str) and ref.strip() else None
        else:
            self._reference = None
            if self.np_random.random() < self.include_references:
                picked = self.buffer.sample(self.np_random, 1)
                if picked:
                    self._reference = str(picked[0]["question"])
        seat = self._seats["proposer_0"]
        seat.extra["reference_task"] = self._reference
        if self._reference is None:
            return PROPOSER_SYSTEM, PROPOSER_NEW
        ref = self._reference[: self.max_question_chars]
        return PROPOSER_SYSTEM, PROPOSER_REFERENCE.format(reference=ref)

    def _parse_proposal(self, text: str) -> tuple[dict[str, Any] | None, str | None]:
        question = last_tag(text, "question")
        if question is None:
            return None, "no <question> ... </question> found"
        question = question.strip()[: self.max_question_chars]
        if not question:
            return None, "the <question> tag is empty"
        task: dict[str, Any] = {"question": question}
        answer = last_tag(text, "answer")
        if answer is not None and answer.strip():
            task["answer"] = answer.strip()[: self.max_answer_chars]
        return task, None

    def _solver_prompt(self, task: dict[str, Any]) -> tuple[str, str]:
        return SOLVER_SYSTEM, SOLVER_USER.format(question=task["question"])

    def _verify(self, task: dict[str, Any], reply: str) -> tuple[str | None, Any]:
        answer = last_tag(reply, "answer")
        if answer is None or not answer.strip():
            return None, Scored(0.0, True, "no <answer> ... </answer> found")
        return answer.strip()[: self.max_answer_chars], 0.0  # scored by the judge

    def _judge_prompt(self, task: dict[str, Any], response: str | None) -> tuple[str, str]:
        self._seats["judge_0"].extra["judging"] = "question" if response is None else self._judging
        low, high = (f"{v:g}" for v in self.score_range)
        system = JUDGE_SYSTEM.format(low=low, high=high)
        rubric = QUESTION_RUBRIC if response is None else ANSWER_RUBRIC
        judge = RubricJudge(None, rubric, low=self.score_range[0], high=self.score_range[1])
        return system, judge.prompt_for(task["question"], response)

    def _read_judgement(self, text: str) -> Any:
        score, _ = read_score(text, *self.score_range)
        return None if score is None else Scored(score, True, "")

    def _handle_judgement(self, text: str) -> None:
        seat = self._seats["judge_0"]
        score, tags = read_score(text, *self.score_range)
        seat.extra["score_tags"] = tags
        if score is None:
            self._unreadable("judge_0", "no score found (expected <score>X</score>)", text)
            return
        self._say("judge_0", "assistant", text[:4000])
        seat.parse = {"ok": True, "extracted": f"{score:.4g}", "error": None}
        # MAE rewards the judge for its format alone: one well-formed score tag per judgement.
        tail = text[-MAX_JUDGE_REPLY_CHARS:]
        fmt = 1.0 if tags == 1 and last_tag(tail, "score") is not None else 0.0
        self._reward("judge_0", "format", fmt / self._judgements_per_episode())
        self._record_judgement(Scored(score, True, ""), self._judging)

    def _record_judgement(self, scored: Scored, about: str | None = "?") -> None:
        target = self._judging if about == "?" else about
        if target is None and self._task is not None:
            self._seats["proposer_0"].extra["quality_ok"] = scored.ok
            if not scored.ok:
                self._seats["proposer_0"].extra["quality_error"] = scored.reason
        super()._record_judgement(scored, about)

    def _solver_components(self, agent: str, scored: Scored) -> dict[str, float]:
        fmt = 1.0 if self._answers.get(agent) is not None else 0.0
        self._seats[agent].extra["answer_format"] = bool(fmt)
        judged = scored.score if fmt else 0.0
        w_judge, w_fmt = self.solver_weights
        return {"judge": w_judge * judged, "format": w_fmt * fmt}

    # ---- views -----------------------------------------------------------------------------------
    def agent_view(self, agent: str) -> dict[str, Any]:
        """What ``agent`` knows, structured, for scripted players (never another agent's secrets).

        Keys: ``role``, ``turn``, ``phase``; the proposer's ``reference`` (or ``None``); a
        solver's ``question`` once posed; the judge's ``question``, ``judging`` (``"question"``
        or ``"answer"``) and ``answer`` (the answer being judged, or ``None``).
        """
        if not self._seats:
            raise RuntimeError("call reset() before agent_view()")
        if agent not in self._seats:
            raise KeyError(f"expected one of {self.possible_agents}, got {agent!r}")
        seat = self._seats[agent]
        view: dict[str, Any] = {"role": seat.role, "turn": seat.turn, "phase": self.phase}
        question = self._task["question"] if self._task is not None else None
        if seat.role == "proposer":
            view["reference"] = self._reference
        elif seat.role == "solver":
            view["question"] = question if self.phase != "propose" else None
        else:
            judging_answer = self._judging is not None and self.phase == "judge"
            view["question"] = question
            view["judging"] = "answer" if judging_answer else "question"
            view["answer"] = self._answers.get(self._judging) if judging_answer else None
        return view


class ScriptedMAEPlayer(Bot):
    """Plays every role of MAE by rules, with deliberate mistakes.

    * **proposer**: an arithmetic question ``What is a op b op c?`` with its answer; given a
      reference, its variant keeps the reference's first numbers and adds one more operation.
      With probability ``mistakes`` a malformed reply (no question tag) or a vague question
      (``Tell me something interesting about the number n.``).
    * **solver**: computes the question's expression; with probability ``1 - skill`` answers a
      wrong number, or (half of those) forgets the answer tag; a question it cannot compute gets
      an "I don't know" answer.
    * **judge**: a question with numbers and a question mark scores 9, else 3; an answer that is
      a number equal to its own computation scores 9, another number 2, anything else 5. With
      probability ``slips`` it replies without any score.

    Args:
        skill: Solver: probability of a correct computation.
        mistakes: Proposer: probability of a malformed or vague question.
        slips: Judge: probability of a reply without a score.
        seed: Seed of its generator.
    """

    name = "scripted"

    def __init__(
        self,
        skill: float = 0.7,
        mistakes: float = 0.2,
        slips: float = 0.1,
        seed: int | None = None,
    ):
        super().__init__(seed)
        for name, value in (("skill", skill), ("mistakes", mistakes), ("slips", slips)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"expected {name} in [0, 1], got {value}")
        self.skill, self.mistakes, self.slips = float(skill), float(mistakes), float(slips)

    def act(self, env: Any, agent: str) -> str:
        """The reply of ``agent`` this turn."""
        view = env.agent_view(agent)
        if view["role"] == "proposer":
            return self._propose(view)
        if view["role"] == "solver":
            return self._solve(view)
        return self._judge(view)

    def _propose(self, view: dict[str, Any]) -> str:
        rng = self.rng
        reference = view.get("reference") or ""
        # A harder variant keeps the reference's numbers and adds one more operation.
        numbers = [n.lstrip("0") or "0" for n in re.findall(r"\d{1,4}", reference[:2000])][:3]
        if rng.random() < self.mistakes:
            if rng.random() < 0.5:
                return "Here is my task: think of a big number and double it."
            topic = numbers[0] if numbers else str(rng.randint(2, 99))
            return f"<question>Tell me something interesting about the number {topic}.</question>"
        if numbers:
            first, operands = numbers[0], [*numbers[1:], str(rng.randint(2, 99))]
        else:
            first, operands = str(rng.randint(2, 99)), [str(rng.randint(2, 99)) for _ in range(2)]
        parts = [first]
        for n in operands:
            parts += [rng.choice("+-*"), n]
        expr = " ".join(parts)
        value = arithmetic_value(expr)
        return (
            f"<think>An arithmetic task.</think><question>What is {expr}?</question>"
            f"<answer>{value}</answer>"
        )

    def _solve(self, view: dict[str, Any]) -> str:
        value = arithmetic_value(view.get("question") or "")
        if value is None:
            return "<answer>I don't know.</answer>"
        if self.rng.random() < self.skill:
            return f"Computing step by step.<answer>{value}</answer>"
        if self.rng.random() < 0.5:
            return f"I think it is {value + self.rng.randint(1, 9)}."
        return f"<answer>{value + self.rng.randint(1, 9)}</answer>"

    def _judge(self, view: dict[str, Any]) -> str:
        if self.rng.random() < self.slips:
            return "I cannot grade this one."
        question = view.get("question") or ""
        if view["judging"] == "question":
            good = any(c.isdigit() for c in question) and "?" in question
            score = 9 if good else 3
        else:
            value = arithmetic_value(question)
            answer = (view.get("answer") or "").strip()
            if re.fullmatch(r"-?\d{1,20}", answer):
                score = 9 if value is not None and int(answer) == value else 2
            else:
                score = 5
        return f"<think>Checked by the rules.</think><score>{score}</score>"
