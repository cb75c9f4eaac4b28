r"""SvS (self-play with variational problem synthesis) as a PettingZoo AEC env, and its scripted player."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from selfplay_gym.core.bots import Bot
from selfplay_gym.core.parsers import last_boxed
from selfplay_gym.core.pipeline import PipelineEnv, Scored, as_scored
from selfplay_gym.core.rewards import ProposerRule, proposer_rule

__all__ = [
    "VariationalSynthesisEnv",
    "ScriptedSvSPlayer",
    "parse_variant",
    "variant_validity",
    "numbers_key",
]

_THINK_END = "</think>"
_FENCE_OPEN = "```text"
_FENCE = "```"
# Numbers as written in problems: ASCII digits, an optional decimal part; bounded for linear scans.
_NUMBER_RE = re.compile(r"\d{1,30}(?:\.\d{1,30})?")
_SPACE_RE = re.compile(r"\s+")

_SOLVER_SYSTEM = (
    "You solve math problems. Reason step by step, then give the final answer alone inside "
    "\\boxed{}."
)
_SOLVER_USER = "Problem:\n{problem}\n\nEnd your reply with the final answer in \\boxed{{}}."
_SYNTH_SYSTEM = (
    "You write new math problems. You are shown a problem and a solution to it that is known to "
    "be right. Write one new problem that this same line of reasoning would answer: change the "
    "story, the wording or the setting, but the new problem must have exactly the same final "
    "answer as the original. Do not state the answer in the problem. Think first if you like, "
    "then give the new problem, and nothing else, inside a ```text fenced block."
)
_SYNTH_USER = (
    "Original problem:\n{problem}\n\nA correct solution:\n{solution}\n\n"
    "Write the new problem inside ```text ... ```."
)


def _after_think(text: str) -> str:
    """The part of a reply after its last ``</think>`` (the whole reply if there is none)."""
    cut = text.rfind(_THINK_END)
    return text if cut < 0 else text[cut + len(_THINK_END) :]


def _normalise(text: str) -> str:
    return _SPACE_RE.sub(" ", text).strip()


def parse_variant(text: str) -> str | None:
    r"""The problem inside the last fenced ``text`` block after the last ``</think>``.

    ``None`` if there is no such block or its closing fence is missing.

    Example:
        >>> parse_variant("<think>```text\nold```</think> Here:\n```text\nNew problem?\n```")
        'New problem?'
        >>> parse_variant("```text\nunclosed") is None
        True
    """
    body = _after_think(text)
    start = body.rfind(_FENCE_OPEN)
    if start < 0:
        return None
    end = body.find(_FENCE, start + len(_FENCE_OPEN))
    if end < 0:
        return None
    return body[start + len(_FENCE_OPEN) : end].strip()


def _boxed_contents(text: str, limit: int = 64) -> list[str]:
    r"""The contents of up to ``limit`` ``\boxed{...}`` in ``text`` (braces balanced)."""
    out: list[str] = []
    i = 0
    while len(out) < limit:
        start = text.find("\\boxed{", i)
        if start < 0:
            break
        depth, j = 1, start + 7
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        if depth:
            break
        out.append(text[start + 7 : j - 1])
        i = j
    return out


def _squash(answer: str) -> str:
    return re.sub(r"[\s$]", "", answer)


def variant_validity(variant: str, original: str, reference: str) -> dict[str, bool]:
    r"""SvS's checks of a variant problem, by name (all must hold).

    ``non_empty``; ``differs`` (not the original after whitespace normalisation);
    ``no_boxed_answer`` (no ``\boxed{}`` holding the reference answer).

    Example:
        >>> variant_validity("What is 2+2? \\boxed{4}", "Compute 2+2.", "4")
        {'non_empty': True, 'differs': True, 'no_boxed_answer': False}
    """
    ref = _squash(reference)
    return {
        "non_empty": bool(variant.strip()),
        "differs": _normalise(variant) != _normalise(original),
        "no_boxed_answer": all(_squash(b) != ref for b in _boxed_contents(variant)),
    }


def numbers_key(problem: str) -> tuple[str, ...]:
    """The sorted numbers written in ``problem``: what a rewording that keeps the numbers keeps.

    Example:
        >>> numbers_key("Ann has 12 apples and eats 3.5 of them; 12 are left?")
        ('12', '12', '3.5')
    """
    return tuple(sorted(_NUMBER_RE.findall(problem[:20000])))


class VariationalSynthesisEnv(PipelineEnv):
    r"""SvS: solvers attempt a problem; from a correct solution of a hard one, a synthesizer writes a variant with the same answer.

    ## Description

    *Self-play with Variational problem Synthesis* (SvS, Liang et al. 2025) in three phases.
    **Solve**: ``solver_0 .. solver_{G-1}`` (G = 8) each answer the same problem, drawn from a
    problem set, ending with ``\boxed{answer}``; each answer is checked against the problem's
    reference answer by the verifier (``MathAnswer``: math-verify equivalence). **Synthesize**:
    if the solvers' accuracy lies in ``synthesis_band`` (SvS's "under-performing" problems,
    ``[0.125, 0.5]``) and at least one solver was right, ``synthesizer_0`` is shown the problem
    and one correct solution (drawn by the env) and writes a *variant* problem -- one that the
    same reasoning answers, with the same final answer -- inside a fenced block tagged
    ``text`` (three backticks and ``text``, the problem, three backticks). **Solve the variant**: ``variantsolver_0 .. variantsolver_{G-1}`` answer it and
    are graded against the *original* reference answer; the synthesizer is paid by the band
    rule on their accuracy. In SvS one policy plays all three roles.

    A variant is valid when it is non-empty, differs from the original problem (after
    whitespace normalisation) and holds no ``\boxed{}`` with the reference answer in it.

    ## Agents

    ``solver_0 .. solver_{G-1}`` (original problem), ``synthesizer_0``,
    ``variantsolver_0 .. variantsolver_{G-1}`` (the variant; one word, as PettingZoo wants
    ``<descriptor>_<number>`` names). Solvers act first, in order; then the synthesizer (if
    synthesis happens); then the variant solvers.

    ## Action Space

    Free text. Solvers: the last ``\boxed{}`` is the answer (no box: unreadable). The
    synthesizer: the text after the last ``</think>`` is searched for its last fenced block
    tagged ``text`` (none, or no closing fence: unreadable). With ``retries`` an unreadable
    reply is sent back with the reason; otherwise it stands.

    ## Observation Space

    ``UnicodeText``: the agent's conversation (a system message with the rules, then its task);
    ``info["messages"]`` holds it as a chat. Solvers see the original problem; the synthesizer
    sees the problem and the chosen correct solution (at most ``max_solution_chars``);
    variant solvers see only the variant. No prompt holds the reference answer.

    ## Rewards

    * Solvers and variant solvers: ``correct`` = 1 if the verifier accepts the answer, else 0
      (an unreadable reply, or a verifier that raises or returns garbage: 0, recorded in
      ``info["verdict_ok"]``). Given to all of a group at once, when its last member answers;
      a reply left unreadable (no retries left) ends that solver's part at once with 0 (it
      counts as wrong in the accuracy, and its info has no ``accuracy``/``trainable``).
    * Synthesizer: ``band`` = ``synthesizer_reward`` of the variant accuracy ``s``: SvS's
      ``Band(0.125, 0.625)`` gives 1 if ``0.125 <= s <= 0.625``, else 0. An invalid or unreadable
      variant gives ``invalid_variant`` = ``invalid_reward`` (0) and ends the episode (variant
      solvers: ``invalid_variant`` 0). Synthesis skipped (accuracy out of the band, or nobody
      right): ``synthesis_skipped`` 0 for the synthesizer and the variant solvers.

    Every part is in ``info["reward_components"]``; nothing is normalised.

    ## Starting State

    ``reset(seed=...)`` draws the problem from the problem set with the env's generator;
    ``options={"problem": {"problem": ..., "answer": ...}}`` or ``{"index": i}`` fixes it. The
    solvers act first, ``solver_0`` to ``solver_{G-1}``.

    ## Episode End

    After the variant solvers have answered; or right after the original phase when synthesis
    is skipped; or when the variant is invalid.

    ## Info

    Beside the common keys: ``problem_id`` (everyone); solvers and variant solvers:
    ``prediction``, ``score``, ``verdict_ok``, ``verdict``; once the original phase is over:
    ``accuracy`` and ``trainable`` (``0 < accuracy < 1``, SvS's filter of original problems for
    RL) for solvers, ``original_accuracy`` for the synthesizer, ``synthesis_skipped`` (the
    reason, or ``None``) for everyone; the synthesizer: ``source_solver`` (whose solution it
    saw), ``variant``, ``validity`` (each rule), ``variant_valid``, ``invalid_reason``,
    ``variant_accuracy``; variant solvers: ``variant_accuracy`` at the end. ``reference``
    (the answer) for everyone when the episode is over.

    ## Arguments

    * ``problems`` -- ``"fixture"`` (default), a JSONL path, or a list of rows with
      ``problem`` and ``answer`` (see ``envs/reasoning/tasks.py``'s ``load_problems``).
    * ``num_solvers`` (8), ``num_variant_solvers`` (8) -- SvS's G.
    * ``synthesis_band`` (``(0.125, 0.5)``) -- original accuracies that trigger synthesis.
    * ``synthesizer_reward`` (``"band"``: ``Band(0.125, 0.625)``) -- a rule of
      :mod:`selfplay_gym.core.rewards` (name, object or ``f(s)``).
    * ``invalid_reward`` (0.0) -- the synthesizer's reward for an invalid or unreadable variant.
    * ``verifier`` -- ``verifier(reply, references) -> Verdict`` (default ``MathAnswer()``).
    * ``max_problem_chars`` (4000) -- a longer variant is invalid (``short_enough``);
      ``max_solution_chars`` (8000) -- the solution shown to the synthesizer is cut there.
    * ``prompts`` -- a mapping overriding ``solver_system``, ``solver_user``,
      ``synthesizer_system``, ``synthesizer_user``.
    * ``retries`` (0), ``max_action_chars`` (8192), ``max_observation_chars`` (65536),
      ``render_mode`` (``"ansi"``).

    ## Version History

    * v0: Initial version.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["ansi"],
        "render_fps": 1,
        "name": "variational_synthesis_v0",
        "is_parallelizable": False,
    }
    has_chance: ClassVar[bool] = True

    def __init__(
        self,
        *,
        problems: str | Sequence[Mapping[str, Any]] = "fixture",
        num_solvers: int = 8,
        num_variant_solvers: int = 8,
        synthesis_band: tuple[float, float] = (0.125, 0.5),
        synthesizer_reward: str | ProposerRule | Callable[[float], float] = "band",
        invalid_reward: float = 0.0,
        verifier: Callable[[str, list[str]], Any] | None = None,
        max_problem_chars: int = 4000,
        max_solution_chars: int = 8000,
        prompts: Mapping[str, str] | None = None,
        **kwargs: Any,
    ):
        for key, value in (
            ("num_solvers", num_solvers),
            ("num_variant_solvers", num_variant_solvers),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"expected {key} >= 1, got {value!r}")
        lo, hi = (float(x) for x in synthesis_band)
        if not 0.0 <= lo <= hi <= 1.0:
            raise ValueError(f"expected synthesis_band 0 <= lo <= hi <= 1, got {synthesis_band!r}")
        self.solvers = [f"solver_{i}" for i in range(num_solvers)]
        self.variant_solvers = [f"variantsolver_{i}" for i in range(num_variant_solvers)]
        super().__init__([*self.solvers, "synthesizer_0", *self.variant_solvers], **kwargs)
        from selfplay_gym.envs.reasoning.tasks import load_problems

        rows = [dict(r) for r in load_problems(problems)]
        rows = [r for r in rows if isinstance(r.get("problem"), str) and "answer" in r]
        if not rows:
            raise ValueError("expected at least one problem with 'problem' and 'answer'")
        self.problems = rows
        self.synthesis_band = (lo, hi)
        self.synthesizer_reward = proposer_rule(synthesizer_reward)
        self.invalid_reward = float(invalid_reward)
        self._verifier = verifier
        self.max_problem_chars = int(max_problem_chars)
        self.max_solution_chars = int(max_solution_chars)
        unknown = set(prompts or {}) - {
            "solver_system",
            "solver_user",
            "synthesizer_system",
            "synthesizer_user",
        }
        if unknown:
            raise ValueError(f"unknown prompt names {sorted(unknown)}")
        self.prompts = {
            "solver_system": _SOLVER_SYSTEM,
            "solver_user": _SOLVER_USER,
            "synthesizer_system": _SYNTH_SYSTEM,
            "synthesizer_user": _SYNTH_USER,
            **dict(prompts or {}),
        }
        self._problem: dict[str, Any] = {}
        self._variant: str | None = None
        self._replies: dict[str, str] = {}
        self._scores: dict[str, Scored] = {}
        self._skipped: str | None = None

    @property
    def verifier(self) -> Callable[[str, list[str]], Any]:
        """The answer checker (``MathAnswer()`` unless one was given; built on first use)."""
        if self._verifier is None:
            from selfplay_gym.core.verifiers import MathAnswer

            self._verifier = MathAnswer()
        return self._verifier

    # ---- phases ---------------------------------------------------------------------------------
    def _begin(self, options: dict[str, Any]) -> None:
        self._variant = None
        self._replies = {}
        self._scores = {}
        self._skipped = None
        problem = options.get("problem")
        if isinstance(problem, Mapping) and isinstance(problem.get("problem"), str):
            self._problem = {"id": "given", **dict(problem)}
            self._problem["answer"] = str(self._problem.get("answer", ""))
        else:
            index = options.get("index")
            if not isinstance(index, int) or not 0 <= index < len(self.problems):
                index = int(self.np_random.integers(len(self.problems)))
            self._problem = self.problems[index]
        self.phase = "solve"
        self._note(f"[env] problem {self._problem.get('id')}: {self._problem['problem'][:300]}")
        self._start_group(self.solvers, self._problem["problem"])

    def _start_group(self, agents: list[str], problem: str) -> None:
        system = self.prompts["solver_system"]
        user = self.prompts["solver_user"].format(problem=problem)
        for agent in agents:
            self._prompt(agent, system, user)
        self._schedule(*agents)

    def _handle(self, agent: str, text: str) -> None:
        role = self._seats[agent].role
        if role == "synthesizer":
            self._handle_synthesis(text)
        else:
            self._handle_answer(agent, text)

    def _on_unreadable(self, agent: str, error: str) -> None:
        if self._seats[agent].role == "synthesizer":
            self._invalid_variant(f"unreadable: {error}", {"parsed": False})
        else:  # a wrong answer; the solver leaves at once (its group's reward comes later)
            self._reward(agent, "correct", 0.0)
            self._finish(agent)
            self._record(agent, "", Scored(0.0, True, error))

    def _handle_answer(self, agent: str, text: str) -> None:
        extracted = last_boxed(text)
        if extracted is None:
            self._unreadable(agent, "no \\boxed{} answer found", text)
            return
        try:
            scored = as_scored(self.verifier(text, [self._problem["answer"]]), 0.0)
        except Exception as exc:  # a broken verifier is an outcome, never a crash
            scored = Scored(0.0, False, f"verifier error: {exc!r}"[:300])
        if not scored.ok:
            scored = Scored(0.0, False, scored.reason)
        self._say(agent, "assistant", text[:4000])
        self._seats[agent].parse = {"ok": True, "extracted": extracted[:500], "error": None}
        self._record(agent, text, scored)

    def _record(self, agent: str, text: str, scored: Scored) -> None:
        self._replies[agent] = text
        self._scores[agent] = scored
        self._note(f"[{agent}] {str(self._seats[agent].parse['extracted'])[:80]}: {scored.score:g}")
        seat = self._seats[agent]
        seat.extra.update(
            prediction=seat.parse["extracted"],
            score=scored.score,
            verdict_ok=scored.ok,
            verdict=scored.reason,
        )
        group = self.solvers if seat.role == "solver" else self.variant_solvers
        if all(a in self._scores for a in group):
            self._close_group(group)

    def _close_group(self, group: list[str]) -> None:
        scores = [self._scores[a].score for a in group]
        accuracy = sum(scores) / len(scores)
        for agent in group:
            if not self._seats[agent].finished:
                self._reward(agent, "correct", self._scores[agent].score)
                self._finish(agent)
        if group is self.solvers:
            self._after_original(accuracy)
        else:
            self._after_variant(accuracy)

    def _after_original(self, accuracy: float) -> None:
        for agent in self.solvers:
            self._seats[agent].extra.update(accuracy=accuracy, trainable=0.0 < accuracy < 1.0)
        self._seats["synthesizer_0"].extra["original_accuracy"] = accuracy
        self._note(f"[env] original accuracy {accuracy:.3f}")
        lo, hi = self.synthesis_band
        right = [a for a in self.solvers if self._scores[a].score >= 1.0]
        if not lo <= accuracy <= hi:
            self._skip(f"accuracy {accuracy:.3f} outside [{lo}, {hi}]")
            return
        if not right:
            self._skip("no correct solution to learn from")
            return
        source = right[int(self.np_random.integers(len(right)))]
        self._seats["synthesizer_0"].extra["source_solver"] = source
        solution = self._replies[source][: self.max_solution_chars]
        self.phase = "synthesize"
        user = self.prompts["synthesizer_user"].format(
            problem=self._problem["problem"], solution=solution
        )
        self._prompt("synthesizer_0", self.prompts["synthesizer_system"], user)
        self._schedule("synthesizer_0")

    def _skip(self, reason: str) -> None:
        self._skipped = reason
        self._note(f"[env] synthesis skipped: {reason}")
        for agent in ["synthesizer_0", *self.variant_solvers]:
            self._reward(agent, "synthesis_skipped", 0.0)
        self._end()

    def _handle_synthesis(self, text: str) -> None:
        variant = parse_variant(text)
        if variant is None:
            self._unreadable("synthesizer_0", "no ```text ... ``` block with the problem", text)
            return
        seat = self._seats["synthesizer_0"]
        self._say("synthesizer_0", "assistant", text[:4000])
        seat.parse = {"ok": True, "extracted": variant[:500], "error": None}
        seat.extra["variant"] = variant[: self.max_problem_chars]
        validity = {
            "parsed": True,
            **variant_validity(variant, self._problem["problem"], self._problem["answer"]),
            "short_enough": len(variant) <= self.max_problem_chars,
        }
        failed = [k for k, ok in validity.items() if not ok]
        if failed:
            self._invalid_variant("failed " + ", ".join(failed), validity)
            return
        seat.extra.update(validity=validity, variant_valid=True)
        self._variant = variant
        self._note(f"[synthesizer_0] {variant[:300]}")
        self.phase = "solve_variant"
        self._start_group(self.variant_solvers, variant)

    def _invalid_variant(self, reason: str, validity: dict[str, bool]) -> None:
        seat = self._seats["synthesizer_0"]
        seat.extra.update(validity=validity, variant_valid=False, invalid_reason=reason)
        self._note(f"[env] invalid variant ({reason})")
        self._reward("synthesizer_0", "invalid_variant", self.invalid_reward)
        for agent in self.variant_solvers:
            self._reward(agent, "invalid_variant", 0.0)
        self._end()

    def _after_variant(self, accuracy: float) -> None:
        self._seats["synthesizer_0"].extra["variant_accuracy"] = accuracy
        for agent in self.variant_solvers:
            self._seats[agent].extra["variant_accuracy"] = accuracy
        for name, value in self.synthesizer_reward(accuracy).items():
            self._reward("synthesizer_0", name, value)
        self._note(f"[env] variant accuracy {accuracy:.3f}")
        self._end()

    # ---- infos and views --------------------------------------------------------------------------
    def _extra_info(self, agent: str) -> dict[str, Any]:
        info: dict[str, Any] = {"problem_id": self._problem.get("id")}
        if self.phase not in ("start", "solve"):
            info["synthesis_skipped"] = self._skipped
        if self.phase == "done":
            info["reference"] = self._problem["answer"]
        return info

    def agent_view(self, agent: str) -> dict[str, Any]:
        """What ``agent`` knows, structured, for scripted players (never an answer or another's secret).

        Keys: ``role``, ``phase``, ``turn``, ``problem`` (the problem this agent works on: the
        original for solvers and the synthesizer, the variant for variant solvers; ``None``
        before it has one) and, for the synthesizer, ``solution`` (the correct solution it saw).
        """
        if not self._seats:
            raise RuntimeError("call reset() before agent_view()")
        seat = self._seats[agent]
        view: dict[str, Any] = {
            "role": seat.role,
            "phase": self.phase,
            "turn": seat.turn,
            "problem": None,
        }
        if seat.role == "solver":
            view["problem"] = self._problem["problem"]
        elif seat.role == "synthesizer" and seat.messages:
            view["problem"] = self._problem["problem"]
            source = seat.extra.get("source_solver")
            view["solution"] = self._replies.get(source, "")[: self.max_solution_chars]
        elif seat.role == "variantsolver" and self._variant is not None:
            view["problem"] = self._variant
        return view

    def _note(self, line: str) -> None:
        self._transcript.append(line)


_NAMES = ("Alex", "Bea", "Chen", "Dara", "Eli", "Femi", "Gus", "Hana", "Ivo", "Juno")
_LEADS = (
    "Consider the following.",
    "Here is a related situation.",
    "A new setting for an old question.",
    "Think about this case.",
)
_SENTENCE_RE = re.compile(r"(?<=[.!;])\s+")


class ScriptedSvSPlayer(Bot):
    r"""A scripted player of every SvS role, with deliberate mistakes.

    * Solver (and variant solver): it knows the answers of a lookup table of problems --
      by default the ``fixture`` set the env uses -- found by the problem's text or, failing
      that, by the sorted numbers written in it (:func:`numbers_key`), so a reworded variant
      with the same numbers is recognised (of two problems with the same numbers, the first).
      That table is the scripted player's "skill", not something the env shows: it reads only the
      problem text from ``env.agent_view``. With probability ``solver_skill`` it boxes the right
      answer, otherwise a wrong one; with ``format_error`` it forgets the box. An unknown problem
      gets a guess (the sum of its numbers).
    * Synthesizer: rewrites the problem -- a lead-in sentence, names swapped, the sentences before
      the question shuffled -- keeping every number; with ``copy_rate`` it returns the problem
      unchanged (an invalid variant), with ``unfenced_rate`` it forgets the fence (unreadable).

    Args:
        solver_skill: Chance of the right answer on a known problem.
        format_error: Chance of a solver reply without ``\boxed{}``.
        copy_rate: Chance the synthesizer copies the problem.
        unfenced_rate: Chance the synthesizer writes no fenced ``text`` block.
        problems: The lookup table's problem set (a ``load_problems`` spec).
        seed: The player's own generator seed.
    """

    name = "scripted"

    def __init__(
        self,
        solver_skill: float = 0.4,
        format_error: float = 0.03,
        copy_rate: float = 0.1,
        unfenced_rate: float = 0.05,
        problems: Any = "fixture",
        seed: int | None = None,
    ):
        super().__init__(seed)
        self.solver_skill = solver_skill
        self.format_error = format_error
        self.copy_rate = copy_rate
        self.unfenced_rate = unfenced_rate
        self._problems_spec = problems
        self._table: dict[tuple[str, ...], str] | None = None

    @property
    def table(self) -> dict[Any, str]:
        """Answers by problem text and by :func:`numbers_key` of the problem (built on first use).

        Two problems with the same numbers share a key; the first one's answer is kept there
        (the exact text still finds each original).
        """
        if self._table is None:
            from selfplay_gym.envs.reasoning.tasks import load_problems

            table: dict[Any, str] = {}
            for row in load_problems(self._problems_spec):
                table.setdefault(_normalise(row["problem"]), str(row["answer"]))
                table.setdefault(numbers_key(row["problem"]), str(row["answer"]))
            self._table = table
        return self._table

    def known_answer(self, problem: str) -> str | None:
        """The table's answer of ``problem`` (by its text, else by its numbers), or ``None``."""
        answer = self.table.get(_normalise(problem))
        return answer if answer is not None else self.table.get(numbers_key(problem))

    def act(self, env: Any, agent: str) -> str:
        """The reply of ``agent`` in its current phase."""
        view = env.agent_view(agent)
        problem = view.get("problem") or ""
        if view["role"] == "synthesizer":
            return self._synthesize(problem)
        return self._solve(problem)

    def _solve(self, problem: str) -> str:
        known = self.known_answer(problem)
        if self.rng.random() < self.format_error:
            return "I think the answer is probably around ten."
        if known is None:
            numbers = [float(n) for n in _NUMBER_RE.findall(problem[:4000])][:50]
            guess = sum(numbers)
            answer = str(int(guess)) if guess == int(guess) else f"{guess:g}"
        elif self.rng.random() < self.solver_skill:
            answer = known
        else:
            answer = _wrong(known, self.rng.randint(1, 9))
        return f"Working through the numbers step by step.\nSo the answer is \\boxed{{{answer}}}."

    def _synthesize(self, problem: str) -> str:
        roll = self.rng.random()
        if roll < self.copy_rate:
            return f"```text\n{problem}\n```"
        sentences = [s for s in _SENTENCE_RE.split(problem.strip()) if s]
        head, last = sentences[:-1], sentences[-1:]
        self.rng.shuffle(head)
        text = " ".join([self.rng.choice(_LEADS), *head, *last])
        for name in _NAMES:
            if name in text:
                text = text.replace(name, self.rng.choice(_NAMES))
        if roll < self.copy_rate + self.unfenced_rate:
            return f"New problem: {text}"
        return f"<think>Keep every number, change the story.</think>\n```text\n{text}\n```"


def _wrong(answer: str, delta: int) -> str:
    """A different answer: a number moved by ``delta``, or the answer with a digit appended."""
    try:
        value = float(answer)
    except ValueError:
        return f"{answer}{delta}"
    moved = value + delta
    return str(int(moved)) if moved == int(moved) else f"{moved:g}"
