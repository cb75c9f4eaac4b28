r"""PasoDoble (Dual-Play): a proposer grounded in a passage writes a math problem and its answer; solvers solve it.

The proposer reads a passage of external knowledge (a pre-training corpus in the paper), writes
a problem in ``<problem> ... </problem>`` and its own solution ending in ``\boxed{answer}``.
The solvers answer with ``\boxed{}`` and are right when their answer is mathematically
equivalent to the proposer's. The proposer earns most for problems that few -- but more than a
fifth -- of the solvers solve, and that are not near-copies of its recent problems; checks
against leaking the answer guard the reward from the obvious hacks.

:class:`DualPlayEnv` is the env (``selfplay/DualPlay-v0``); :class:`ScriptedDualPlayer` plays
both roles by rules, with deliberate mistakes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from selfplay_gym.core.bots import Bot
from selfplay_gym.core.parsers import last_boxed
from selfplay_gym.core.pipeline import ProposeSolveEnv, Scored
from selfplay_gym.core.rewards import PasoDoble, ProposerRule, QuestionHistory
from selfplay_gym.envs.reasoning.mae import arithmetic_value

__all__ = ["DualPlayEnv", "ScriptedDualPlayer", "parse_proposal", "VALIDITY_CHECKS"]

PROPOSER_SYSTEM = (
    "You are the proposer in a game against a solver. Write one challenging, well-structured, "
    "unambiguous math problem with a single final answer, and make it different from problems "
    "you wrote before. Think first inside <think> ... </think>. Then give the problem inside "
    "<problem> ... </problem> -- without its answer -- and after it your full solution inside "
    "<answer> ... </answer>, ending with the final answer in \\boxed{}. You are rewarded when "
    "some but not all solvers get your answer."
)
PROPOSER_WITH_PASSAGE = (
    "External knowledge:\n{passage}\n\nBase your problem on a fact, a quantity or an idea from "
    "this passage."
)
PROPOSER_WITHOUT_PASSAGE = "Write a new problem on a topic of your choice."
SOLVER_SYSTEM = (
    "You are a solver. Solve the math problem step by step and put your final answer in "
    "\\boxed{} at the end. Only the last \\boxed{} of your reply is checked."
)
SOLVER_USER = "Problem: {problem}"

VALIDITY_CHECKS = (
    "has_problem",
    "has_answer",
    "no_boxed_in_problem",
    "problem_not_in_answer",
    "answer_not_in_problem",
)
"""PasoDoble's anti-hacking checks, as named in ``info["validity"]``."""


def parse_proposal(text: str, max_chars: int = 4000) -> tuple[str | None, str | None]:
    r"""PasoDoble's parse of a proposer reply: ``(problem, answer)``, each ``None`` if absent.

    The text after the last ``</think>`` is read; the problem is the first
    ``<problem> ... </problem>`` there, the answer the last ``\boxed{}`` there (braces
    balanced). Both are stripped and capped at ``max_chars``.

    Example:
        >>> parse_proposal("<think>hm</think><problem>What is 6*7?</problem> 6*7 = \\boxed{42}")
        ('What is 6*7?', '42')
        >>> parse_proposal("no tags")
        (None, None)
    """
    cut = text.rfind("</think>")
    body = text[cut + len("</think>") :] if cut >= 0 else text
    problem = None
    start = body.find("<problem>")
    if start >= 0:
        end = body.find("</problem>", start)
        if end >= 0:
            problem = body[start + len("<problem>") : end].strip()[:max_chars]
    answer = last_boxed(body)
    if answer is not None:
        answer = answer.strip()[:max_chars]
    return problem, answer


def _default_verifier() -> Callable[[str, Sequence[str]], Any]:
    from selfplay_gym.core.verifiers import MathAnswer

    return MathAnswer()


class DualPlayEnv(ProposeSolveEnv):
    r"""PasoDoble: a passage-grounded proposer writes a problem with its answer; N solvers solve it.

    ## Description

    The game of *PasoDoble* (also called Dual-Play). Each episode the proposer
    ``proposer_0`` reads a passage of external knowledge -- drawn from ``passages`` (the
    project's fixture by default; ``passages=None`` is the paper's no-knowledge variant) -- and
    writes a math problem in ``<problem> ... </problem>`` followed by its own solution ending in
    ``\boxed{answer}``. PasoDoble's anti-hacking checks then decide whether the problem is
    valid: a problem and an answer are present, the problem contains no ``\boxed``, the problem
    is not a substring of the answer and the answer is not a substring of the problem. A valid
    problem goes to the ``num_solvers`` solvers ``solver_0 .. solver_{N-1}`` (6), who each answer
    once with ``\boxed{}``; a solver is right when its last boxed answer is mathematically
    equivalent to the proposer's (``MathAnswer``, math-verify).

    The proposer earns most for a problem that more than ``threshold`` (0.2) of the solvers
    solve but not all, and that is not a near-copy of its recent problems: the env keeps a
    :class:`~selfplay_gym.core.rewards.QuestionHistory` of the last ``history_size`` (100)
    problems across episodes (it is part of the env's state, so it pickles with it). In the
    paper proposer and solver are two models trained online together; here they are simply
    different agents, and a trainer decides which weights play which.

    ## Agents

    ``proposer_0`` then ``solver_0`` .. ``solver_5``, each once.

    ## Action Space

    ``UnicodeText``: the raw reply; only the first ``max_action_chars`` characters are read.
    Proposer: after the last ``</think>``, the first ``<problem> ... </problem>`` is the problem
    and the last ``\boxed{}`` the answer (:func:`parse_proposal`); a reply with no problem tag is
    unreadable (an invalid task). Solver: the last ``\boxed{}`` of the reply (PasoDoble reads
    the boxed answer even though its prompt mentions an answer tag); none is unreadable and
    scores 0. With ``retries > 0`` an unreadable reply is sent back with feedback first.

    ## Observation Space

    ``UnicodeText``: the agent's conversation (system rules, then the task), joined by blank
    lines; ``info["messages"]`` is the same as a chat. The proposer sees the passage (capped at
    ``max_passage_chars``); solvers see the problem only, never the proposer's answer.

    ## Rewards

    * **Solver**: ``correct`` 1 when its answer is equivalent to the proposer's, else 0 (also 0
      when the verifier fails; ``info["verdict_ok"]`` is then ``False``). Given when every
      solver has answered, so that its info carries the solve rate.
    * **Proposer**: with ``p`` the share of solvers that were right and ``div`` the share of the
      remembered problems whose word-set Jaccard similarity to this one is at most
      ``max_similarity`` (0.8; 1.0 with no history), ``PasoDoble()`` gives 0 (component
      ``gated``) if ``p <= 0.2`` or ``div <= 0.3``, else ``1.1 - p`` (``difficulty``) plus
      ``0.2 * div`` (``diversity_bonus``). An invalid problem earns ``invalid_task`` =
      ``invalid_reward`` (0: PasoDoble sets ``p`` to 0, which the rule gates to 0) and the
      solvers get ``invalid_task`` 0.

    PasoDoble trains its solver only on problems with ``0.2 < p < 1.0``; solvers'
    ``info["trainable"]`` says whether this episode is one (``solver_band``).

    ## Starting State

    ``reset(seed=...)`` draws the passage with the env's generator.
    ``options={"passage": "..."}`` fixes it (``None``: no passage); ``options={"task":
    {"question": ..., "answer": ...}}`` skips the proposer (the solvers answer that problem).
    The problem history is not reset: it spans episodes.

    ## Episode End

    After an invalid problem, or when the last solver has answered. Every agent is terminated.

    ## Info

    Beside the common keys: ``task`` (the problem; solvers once it is posed), ``passage_id``
    and ``passage_title`` (proposer), ``validity`` (each check of :data:`VALIDITY_CHECKS`, plus
    ``parsed``), ``diversity`` (proposer, once the problem is read), ``task_valid``,
    ``solve_rate`` (``p``) and ``solver_scores`` (proposer, at the end); ``prediction``,
    ``score``, ``verdict_ok``, ``verdict``, ``solve_rate`` and ``trainable`` (solvers, at the
    end); ``reference`` (the proposer's answer) for everyone at the end.

    ## Arguments

    * ``num_solvers`` -- N (6).
    * ``passages`` -- ``"fixture"`` (default), a path or a list for ``load_passages``
      (rows ``{"id", "title", "text"}`` or plain strings), or ``None`` (no knowledge).
    * ``threshold`` (0.2), ``diversity_threshold`` (0.3), ``base`` (1.1), ``bonus`` (0.2) --
      the ``PasoDoble`` rule's constants; ``proposer_reward`` -- another rule.
    * ``history_size`` (100), ``max_similarity`` (0.8) -- the diversity history.
    * ``solver_band`` -- ``(0.2, 1.0)``: the open band of ``p`` in which solvers train.
    * ``verifier`` -- ``verifier(reply, [answer]) -> Verdict`` (default ``MathAnswer()``).
    * ``invalid_reward`` (0), ``max_problem_chars`` (4000), ``max_passage_chars`` (4000),
      ``retries`` (0), ``max_action_chars`` (8192), ``max_observation_chars`` (65536),
      ``render_mode`` (``"ansi"`` or ``None``).

    ## Version History

    * v0: Initial version.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["ansi"],
        "render_fps": 1,
        "name": "dual_play_v0",
        "is_parallelizable": False,
    }
    has_chance: ClassVar[bool] = True
    stop_strings: ClassVar[tuple[str, ...]] = ("</answer>",)

    def __init__(
        self,
        *,
        num_solvers: int = 6,
        passages: str | Sequence[Any] | None = "fixture",
        threshold: float = 0.2,
        diversity_threshold: float = 0.3,
        base: float = 1.1,
        bonus: float = 0.2,
        proposer_reward: str | ProposerRule | Callable[[float], float] | None = None,
        history_size: int = 100,
        max_similarity: float = 0.8,
        solver_band: tuple[float, float] = (0.2, 1.0),
        verifier: Callable[[str, Sequence[str]], Any] | None = None,
        invalid_reward: float = 0.0,
        max_problem_chars: int = 4000,
        max_passage_chars: int = 4000,
        **kwargs: Any,
    ):
        if len(solver_band) != 2 or not float(solver_band[0]) <= float(solver_band[1]):
            raise ValueError(f"expected solver_band (lo, hi) with lo <= hi, got {solver_band!r}")
        if verifier is not None and not callable(verifier):
            raise TypeError(f"expected the verifier to be callable, got {type(verifier).__name__}")
        for name, value in (
            ("max_problem_chars", max_problem_chars),
            ("max_passage_chars", max_passage_chars),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"expected {name} to be a positive int, got {value!r}")
        rule = proposer_reward
        if rule is None:
            rule = PasoDoble(
                threshold=threshold,
                diversity_threshold=diversity_threshold,
                base=base,
                bonus=bonus,
            )
        super().__init__(
            num_solvers=num_solvers,
            proposer_reward=rule,
            invalid_reward=invalid_reward,
            judge=None,
            **kwargs,
        )
        self.passages = self._load_passages(passages)
        self.history = QuestionHistory(size=history_size, max_similarity=max_similarity)
        self.solver_band = (float(solver_band[0]), float(solver_band[1]))
        self.verifier = verifier
        self.max_problem_chars = max_problem_chars
        self.max_passage_chars = max_passage_chars
        self._passage: dict[str, Any] | None = None

    @staticmethod
    def _load_passages(spec: str | Sequence[Any] | None) -> list[dict[str, Any]] | None:
        if spec is None:
            return None
        if isinstance(spec, str):
            from selfplay_gym.envs.reasoning.tasks import load_passages

            rows: Sequence[Any] = list(load_passages(spec))
        else:
            rows = list(spec)
        out = []
        for i, row in enumerate(rows):
            if isinstance(row, str):
                out.append({"id": str(i), "title": "", "text": row})
            elif isinstance(row, Mapping) and isinstance(row.get("text"), str):
                out.append(
                    {
                        "id": str(row.get("id", i)),
                        "title": str(row.get("title", "")),
                        "text": row["text"],
                    }
                )
            else:
                raise ValueError(f"expected a passage string or a row with 'text', got {row!r}")
        if not out:
            raise ValueError("expected at least one passage (or passages=None for none)")
        return out

    # ---- prompts, parsing, validity --------------------------------------------------------------
    def _proposer_prompt(self, options: dict[str, Any]) -> tuple[str, str]:
        if "passage" in options:
            given = options["passage"]
            if isinstance(given, Mapping):
                given = given.get("text")
            self._passage = (
                {"id": "given", "title": "", "text": given} if isinstance(given, str) else None
            )
        elif self.passages is None:
            self._passage = None
        else:
            self._passage = self.passages[int(self.np_random.integers(len(self.passages)))]
        seat = self._seats["proposer_0"]
        if self._passage is None:
            seat.extra.update(passage_id=None, passage_title=None)
            return PROPOSER_SYSTEM, PROPOSER_WITHOUT_PASSAGE
        seat.extra.update(passage_id=self._passage["id"], passage_title=self._passage["title"])
        text = self._passage["text"][: self.max_passage_chars]
        return PROPOSER_SYSTEM, PROPOSER_WITH_PASSAGE.format(passage=text)

    def _parse_proposal(self, text: str) -> tuple[dict[str, Any] | None, str | None]:
        problem, answer = parse_proposal(text, self.max_problem_chars)
        if problem is None:
            return None, "no <problem> ... </problem> found (after the last </think>)"
        task: dict[str, Any] = {"question": problem}
        if answer is not None:
            task["answer"] = answer
        return task, None

    def _validate(self, task: dict[str, Any]) -> dict[str, bool]:
        problem, answer = task["question"], task.get("answer") or ""
        both = bool(problem) and bool(answer)
        checks = {
            "has_problem": bool(problem),
            "has_answer": bool(answer),
            "no_boxed_in_problem": "\\boxed" not in problem,
            "problem_not_in_answer": not (both and problem in answer),
            "answer_not_in_problem": not (both and answer in problem),
        }
        if problem:  # diversity against the history before this problem joins it
            diversity = self.history.diversity(problem)
            task["diversity"] = diversity
            self._seats["proposer_0"].extra["diversity"] = diversity
            self.history.add(problem)
        return checks

    def _on_unreadable(self, agent: str, error: str) -> None:
        if agent == "proposer_0":
            self._validity = {"parsed": False, **dict.fromkeys(VALIDITY_CHECKS, False)}
            self._invalid_task(f"unreadable proposal: {error}")
            return
        super()._on_unreadable(agent, error)

    def _rule_context(self, task: dict[str, Any]) -> dict[str, Any]:
        context = super()._rule_context(task)
        context["diversity"] = float(task.get("diversity", 1.0))
        return context

    def _solver_prompt(self, task: dict[str, Any]) -> tuple[str, str]:
        return SOLVER_SYSTEM, SOLVER_USER.format(problem=task["question"])

    def _verify(self, task: dict[str, Any], reply: str) -> tuple[str | None, Any]:
        prediction = last_boxed(reply)
        if prediction is None:
            return None, Scored(0.0, True, "no \\boxed{} answer found")
        prediction = prediction.strip()[: self.max_problem_chars]
        reference = task.get("answer")
        if not isinstance(reference, str) or not reference:
            return prediction, Scored(0.0, False, "the task has no reference answer")
        if self.verifier is None:
            self.verifier = _default_verifier()
        # Only the boxed answer is passed on: the verifier then reads exactly what was parsed.
        try:
            verdict = self.verifier(f"\\boxed{{{prediction}}}", [reference])
        except Exception as exc:  # a broken verifier scores 0, flagged; the answer stays read
            return prediction, Scored(0.0, False, f"verifier error: {exc!r}"[:300])
        return prediction, _as_binary(verdict)

    # ---- scoring: solvers are rewarded once p is known (their info carries it) -------------------
    def _score_solver(self, agent: str, scored: Scored) -> None:
        self._scores[agent] = scored
        seat = self._seats[agent]
        seat.extra.update(score=scored.score, verdict_ok=scored.ok, verdict=scored.reason)

    def _score_task(self) -> None:
        p = sum(self._scores[s].score for s in self.solvers) / len(self.solvers)
        lo, hi = self.solver_band
        for agent in self.solvers:
            self._seats[agent].extra.update(solve_rate=p, trainable=lo < p < hi)
            for name, value in self._solver_components(agent, self._scores[agent]).items():
                self._reward(agent, name, value)
            self._finish(agent)
        super()._score_task()

    # ---- views -----------------------------------------------------------------------------------
    def agent_view(self, agent: str) -> dict[str, Any]:
        """What ``agent`` knows, structured, for scripted players (never another agent's secrets).

        Keys: ``role``, ``turn``, ``phase``; the proposer's ``passage`` (text or ``None``); a
        solver's ``problem`` once posed (never the proposer's answer).
        """
        if not self._seats:
            raise RuntimeError("call reset() before agent_view()")
        if agent not in self._seats:
            raise KeyError(f"expected one of {self.possible_agents}, got {agent!r}")
        seat = self._seats[agent]
        view: dict[str, Any] = {"role": seat.role, "turn": seat.turn, "phase": self.phase}
        if seat.role == "proposer":
            view["passage"] = None if self._passage is None else self._passage["text"]
        else:
            posed = self._task is not None and self.phase != "propose"
            view["problem"] = self._task["question"] if posed else None
        return view


def _as_binary(verdict: Any) -> Scored:
    """A verifier's verdict as a 1/0 score (PasoDoble's solver reward is binary)."""
    from selfplay_gym.core.pipeline import as_scored

    scored = as_scored(verdict)
    return Scored(1.0 if scored.ok and scored.score >= 0.5 else 0.0, scored.ok, scored.reason)


_PASSAGE_NUMBER_RE = re.compile(r"\d{1,6}")


class ScriptedDualPlayer(Bot):
    r"""Plays both roles of PasoDoble by rules, with deliberate mistakes.

    * **proposer**: takes a number ``n`` from the passage (or a random one without a passage)
      and asks ``What is n * a + b?``, with the solution boxed; with probability ``mistakes`` it
      leaks the answer into the problem or forgets the box.
    * **solver**: computes the problem's expression; with probability ``1 - skill`` it is off by
      a little, and a problem it cannot compute gets a boxed guess.

    Args:
        skill: Solver: probability of a correct answer.
        mistakes: Proposer: probability of a leaked answer or a missing box.
        seed: Seed of its generator.
    """

    name = "scripted"

    def __init__(self, skill: float = 0.7, mistakes: float = 0.2, seed: int | None = None):
        super().__init__(seed)
        for name, value in (("skill", skill), ("mistakes", mistakes)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"expected {name} in [0, 1], got {value}")
        self.skill, self.mistakes = float(skill), float(mistakes)

    def act(self, env: Any, agent: str) -> str:
        """The reply of ``agent`` this turn."""
        view = env.agent_view(agent)
        if view["role"] == "proposer":
            return self._propose(view)
        return self._solve(view)

    def _propose(self, view: dict[str, Any]) -> str:
        rng = self.rng
        numbers = _PASSAGE_NUMBER_RE.findall((view.get("passage") or "")[:20_000])
        n = int(rng.choice(numbers)) if numbers else rng.randint(2, 999)
        problem, value = "", 0
        for _ in range(20):  # an answer that the problem's text happens to contain is invalid
            a, b = rng.randint(2, 19), rng.randint(1, 99)
            value = n * a + b
            lead = f"A passage mentions the number {n}." if numbers else f"Take the number {n}."
            problem = f"{lead} What is {n} * {a} + {b}?"
            if str(value) not in problem:
                break
        mistake = rng.random() < self.mistakes
        if mistake and rng.random() < 0.5:
            problem += f" (Hint: it is {value}.)"
        solution = f"{n} * {a} + {b} = \\boxed{{{value}}}"
        if mistake and not problem.endswith(".)"):
            solution = f"{n} * {a} + {b} = {value}"
        return f"<think>An arithmetic problem.</think><problem>{problem}</problem><answer>{solution}</answer>"

    def _solve(self, view: dict[str, Any]) -> str:
        value = arithmetic_value(view.get("problem") or "")
        if value is None:
            return f"I am not sure. \\boxed{{{self.rng.randint(0, 9)}}}"
        if self.rng.random() >= self.skill:
            value += self.rng.choice([-2, -1, 1, 2])
        return f"Step by step, the result is \\boxed{{{value}}}"
