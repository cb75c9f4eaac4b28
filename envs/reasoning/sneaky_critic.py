r"""SPC (self-play critic) as a PettingZoo AEC env: a sneaky generator hides an error in a solution step, a critic looks for it."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any, ClassVar

from selfplay_gym.core.bots import Bot
from selfplay_gym.core.parsers import last_tag
from selfplay_gym.core.pipeline import PipelineEnv, as_scored
from selfplay_gym.core.verifiers import DEFAULT_JUDGE_TIMEOUT, JudgeTimeout, WallClockLimit

__all__ = [
    "SneakyCriticEnv",
    "ScriptedSPCPlayer",
    "ERROR_TYPES",
    "rule_validator",
    "step_tokens",
    "false_equations",
    "read_judgement",
]

ERROR_TYPES: tuple[tuple[str, str], ...] = (
    ("arithmetic slip", "a sum, difference, product or quotient worked out wrongly"),
    ("wrong operation", "one operation swapped for another, e.g. adding where it should multiply"),
    ("dropped condition", "a constraint or quantity of the problem quietly left out"),
    ("wrong unit", "a unit conversion or a unit mixed up (minutes for hours, cm for m)"),
    ("misread number", "a number of the problem or of an earlier step copied wrongly"),
)
"""Error types offered to the sneaky generator: ``(name, what it means)``."""

_THINK_END = "</think>"
_MAX_STEP_CHARS = 4000
# One token of a step: a number (digit groups bounded so the scan stays linear), an operator,
# "=", a parenthesis, a word, or any other character. Whitespace and "$" are skipped.
_TOKEN_RE = re.compile(
    r"(?P<num>\d{1,15}(?:,\d{3}){0,4}(?:\.\d{1,12})?)"
    r"|(?P<op>\\times|\\cdot|\\div|[+\-\u2212*/\u00d7\u00f7\u00b7^])"
    r"|(?P<eq>=)|(?P<lp>\()|(?P<rp>\))"
    r"|(?P<word>[A-Za-z_\\]{1,40})"
    r"|(?P<other>[^\s$])"
)
_OPS = {
    "\\times": "*",
    "\\cdot": "*",
    "\\div": "/",
    "\u2212": "-",
    "\u00d7": "*",
    "\u00f7": "/",
    "\u00b7": "*",
}
_ARITH = frozenset({"num", "op", "lp", "rp"})

_SNEAKY_SYSTEM = (
    "You play the sneaky generator in a game against a critic. You are given a math problem, "
    "the first steps of a correct solution, and the correct next step. Rewrite that next step so "
    "that it is wrong, but in a way that is hard to notice: keep its style and length, and make "
    "exactly one mistake of one of these kinds:\n{error_types}\n"
    "Name the kind you chose inside <type></type>, then give the rewritten step, and only the "
    "step, inside <step></step>."
)
_SNEAKY_USER = (
    "Problem:\n{problem}\n\nSolution so far:\n{prefix}\n\nCorrect step {number}:\n{step}\n\n"
    "Write the subtly wrong version of step {number} inside <step></step>."
)
_CRITIC_SYSTEM = (
    "You are a careful critic of math solutions. You are given a problem, the first steps of a "
    "solution, and its latest step. Check whether the latest step is correct: recompute its "
    "arithmetic and check that it follows from the problem and the earlier steps. Explain your "
    "check, then end with <Answer>Correct</Answer> or <Answer>Incorrect</Answer>."
)
_CRITIC_USER = (
    "Problem:\n{problem}\n\nSolution so far:\n{prefix}\n\nLatest step {number}:\n{step}\n\n"
    "Is the latest step correct?"
)


def step_tokens(text: str) -> list[tuple[str, str]]:
    r"""The arithmetic tokens of a step, as ``(kind, text)`` pairs.

    Kinds: ``num``, ``op``, ``eq``, ``lp``, ``rp``, ``word`` or ``other``. Operators are in a
    canonical form (an ``x`` between two numbers is a times sign); numbers lose their commas.

    Example:
        >>> step_tokens("3 \\times 1,200 = $3600")
        [('num', '3'), ('op', '*'), ('num', '1200'), ('eq', '='), ('num', '3600')]
    """
    out: list[tuple[str, str]] = []
    for m in _TOKEN_RE.finditer(text[:_MAX_STEP_CHARS]):
        kind = m.lastgroup or "other"
        value = m.group()
        if kind == "num":
            value = value.replace(",", "")
        elif kind == "op":
            value = _OPS.get(value, value)
        out.append((kind, value))
    for i in range(1, len(out) - 1):  # "2 x 6": an x between numbers is a times sign
        if out[i][0] == "word" and out[i][1] in ("x", "X"):
            if out[i - 1][0] in ("num", "rp") and out[i + 1][0] in ("num", "lp"):
                out[i] = ("op", "*")
    return out


class _Expr:
    """A recursive-descent evaluator of ``+ - * / ^`` and parentheses over tokens (no eval)."""

    def __init__(self, tokens: list[tuple[str, str]]):
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    def parse(self) -> Fraction | None:
        try:
            value = self._sum()
        except (ValueError, ZeroDivisionError, OverflowError, RecursionError):
            return None
        return value if self.i == len(self.tokens) else None

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _sum(self) -> Fraction:
        value = self._product()
        while (t := self._peek()) is not None and t[0] == "op" and t[1] in "+-":
            self.i += 1
            rhs = self._product()
            value = value + rhs if t[1] == "+" else value - rhs
        return value

    def _product(self) -> Fraction:
        value = self._power()
        while (t := self._peek()) is not None and t[0] == "op" and t[1] in "*/":
            self.i += 1
            rhs = self._power()
            value = value * rhs if t[1] == "*" else value / rhs
        return value

    def _power(self) -> Fraction:
        base = self._unary()
        t = self._peek()
        if t is not None and t == ("op", "^"):
            self.i += 1
            exponent = self._unary()
            if exponent.denominator != 1 or abs(exponent) > 12 or abs(base) > 10**6:
                raise ValueError("exponent out of range")
            return base ** int(exponent)
        return base

    def _unary(self) -> Fraction:
        t = self._peek()
        if t == ("op", "-"):
            self.i += 1
            return -self._unary()
        if t is None:
            raise ValueError("expression ends early")
        if t[0] == "num":
            self.i += 1
            return Fraction(t[1])
        if t[0] == "lp":
            self.depth += 1
            if self.depth > 20:
                raise ValueError("too deep")
            self.i += 1
            value = self._sum()
            if self._peek() != ("rp", ")"):
                raise ValueError("unbalanced")
            self.i += 1
            self.depth -= 1
            return value
        raise ValueError(f"unexpected {t[1]!r}")


def _tolerance(side: list[tuple[str, str]]) -> Fraction:
    """Half a unit of the last written decimal of a single number (rounded results pass)."""
    if len(side) == 1 and "." in side[0][1]:
        return Fraction(1, 2 * 10 ** len(side[0][1].split(".")[1])) + Fraction(1, 10**12)
    return Fraction(0)


def false_equations(step: str) -> list[str]:
    """The equations ``lhs = rhs`` of ``step`` (numbers and operators only) that do not hold.

    Sides that are not plain arithmetic (words, variables, LaTeX fractions) are not checked.

    Example:
        >>> false_equations("She pays 3 * 4 = 12 dollars, then 12 + 5 = 18.")
        ['12 + 5 = 18']
        >>> false_equations("10 / 3 = 3.33, so x = 7")
        []
    """
    tokens = step_tokens(step)
    wrong: list[str] = []
    for i, (kind, _) in enumerate(tokens):
        if kind != "eq":
            continue
        lo = i
        while lo > 0 and tokens[lo - 1][0] in _ARITH and i - lo < 60:
            lo -= 1
        hi = i + 1
        while hi < len(tokens) and tokens[hi][0] in _ARITH and hi - i < 60:
            hi += 1
        left, right = tokens[lo:i], tokens[i + 1 : hi]
        # A side that starts (left) or ends (right) with an operator was cut at a word, as in
        # "4x - 4 = 8": not plain arithmetic.
        if not left or not right or left[0][0] == "op" or right[-1][0] == "op":
            continue
        a, b = _Expr(left).parse(), _Expr(right).parse()
        if a is None or b is None:
            continue
        if abs(a - b) > max(_tolerance(left), _tolerance(right)):
            wrong.append(" ".join(t for _, t in left) + " = " + " ".join(t for _, t in right))
    return wrong


def _normalise(text: str) -> str:
    return " ".join(text.split())


def rule_validator(problem: str, prefix_steps: Sequence[str], original_step: str, sneaky_step: str):
    """The default check of a sneaky step: a ``Verdict`` with score 1 (valid) or 0.

    Valid when the step is not empty, differs from the original after whitespace
    normalisation, and changes at least one number or operator (so a reworded copy of a right
    step does not pass). ``details`` holds each rule.

    Example:
        >>> rule_validator("", [], "2 + 3 = 5", "2 + 3 = 6").score
        1.0
        >>> rule_validator("", [], "2 + 3 = 5", "So 2 + 3 = 5 in all.").details["changes_math"]
        False
    """
    from selfplay_gym.core.verifiers import Verdict

    def math_of(text: str) -> list[tuple[str, str]]:
        return [t for t in step_tokens(text) if t[0] in ("num", "op")]

    rules = {
        "non_empty": bool(sneaky_step.strip()),
        "differs": _normalise(sneaky_step) != _normalise(original_step),
        "changes_math": math_of(sneaky_step) != math_of(original_step),
    }
    failed = [k for k, ok in rules.items() if not ok]
    return Verdict(
        0.0 if failed else 1.0,
        ok=True,
        reason="failed " + ", ".join(failed) if failed else "valid",
        details=rules,
    )


def read_judgement(text: str) -> str | None:
    """``"correct"``, ``"incorrect"`` or ``None`` from the last ``<Answer>...</Answer>`` (any case).

    Example:
        >>> read_judgement("<Answer>Correct</Answer> on second thought <answer> incorrect </answer>")
        'incorrect'
        >>> read_judgement("<Answer>maybe</Answer>") is None
        True
    """
    body = text[text.rfind(_THINK_END) + len(_THINK_END) :] if _THINK_END in text else text
    inner = last_tag(body.lower(), "answer")
    if inner is None:
        return None
    word = inner.strip().strip(".!").strip()
    return word if word in ("correct", "incorrect") else None


class SneakyCriticEnv(PipelineEnv):
    r"""SPC: a sneaky generator rewrites a correct solution step to be subtly wrong; a critic judges the step.

    ## Description

    The adversarial game of *Self-Play Critic* (SPC, Chen et al. 2025). Each episode draws a
    problem with a step-by-step correct solution and a step index ``k``. The sneaky generator
    ``sneaky_0`` sees the problem, the steps before ``k``, the correct step ``k`` and a list of
    error types; it picks a type and rewrites step ``k`` into a subtly wrong one. The rewritten
    step is validated (``validator``). The critic ``critic_0`` then sees the problem, the steps
    before ``k`` and one version of step ``k`` -- the sneaky one if it is valid, otherwise the
    original -- and writes an analysis ending with a verdict. The two are zero-sum.

    Validation: SPC counts a sneaky step as truly wrong when completions of the solution from
    it succeed clearly less often than completions from the original step. Here the
    ``validator`` is pluggable --
    ``validator(problem, prefix_steps, original_step, sneaky_step) -> Verdict`` (score >= 0.5:
    valid) -- so SPC's rollout check is a callable you pass (complete the solution N times from each step with your model and compare the
    success rates). The default, :func:`rule_validator`, is a rule check: the step is not
    empty, differs from the original after whitespace normalisation and changes at least one
    number or operator.

    Balancing: with ``p_original`` > 0 the critic is shown the original step instead of a valid
    sneaky one with that probability, so it also learns to accept correct steps (SPC's data
    holds both kinds); the default 0.0 shows every valid sneaky step.

    ## Agents

    ``sneaky_0`` (acts first), ``critic_0``.

    ## Action Space

    Free text. Sneaky generator: the last ``<step>...</step>`` after the last ``</think>`` is
    the rewritten step (none: unreadable, i.e. an invalid step); an optional ``<type>`` names
    the error type. Critic: the last ``<Answer>...</Answer>`` (tag and word in any case) must
    hold ``Correct`` or ``Incorrect``; anything else is unreadable and counts as a wrong
    verdict. With ``retries`` an unreadable reply is sent back with the reason first.

    ## Observation Space

    ``UnicodeText``: the agent's conversation (rules, then the task); ``info["messages"]`` holds
    it as a chat. The critic's prompt never says whether the step it judges is the original.

    ## Rewards

    Zero-sum ±1, as in SPC, given when the critic has answered:

    * valid sneaky step shown -- the critic says ``Incorrect``: critic ``caught`` +1, sneaky
      ``caught`` -1; says ``Correct`` (or unreadable): critic ``fooled`` -1, sneaky ``fooled`` +1;
    * original step shown -- critic ``original_step`` +1 for ``Correct``, -1 otherwise; sneaky:
      ``invalid_step`` = ``invalid_reward`` (-1) when its step was invalid (given at once), or
      ``not_shown`` 0 when its valid step was held back by ``p_original``.

    ## Starting State

    ``reset(seed=...)`` draws the problem, then the step index ``k`` uniformly among its steps,
    then the ``p_original`` coin, all with the env's generator;
    ``options={"problem": {...}, "index": i, "step": k}`` fixes them. The sneaky generator acts
    first.

    ## Episode End

    After the critic's verdict (or its unreadable reply with no retries left).

    ## Info

    Beside the common keys: ``problem_id``, ``step_index`` (k, from 0) for both; the sneaky
    generator: ``error_type`` (its ``<type>``), ``sneaky_step``, ``validation`` (``valid``,
    ``ok`` -- False when the validator failed and the rule check decided --, ``reason``,
    ``details``); the critic: ``judgement`` (``"correct"``, ``"incorrect"`` or ``None``).
    When the episode is over, for both: ``shown`` (``"sneaky"`` or ``"original"``),
    ``judgement`` and ``critic_right``.

    ## Arguments

    * ``problems`` -- ``"fixture"`` (default), a JSONL path, or rows with ``problem``,
      ``steps`` (a list of strings) and ``answer`` (see ``load_problems``).
    * ``error_types`` -- ``(name, description)`` pairs offered to the generator
      (:data:`ERROR_TYPES`: arithmetic slip, wrong operation, dropped condition, wrong unit,
      misread number); plain names are accepted.
    * ``validator`` -- see Description (default :func:`rule_validator`). A validator that
      raises, returns something unreadable or a verdict with ``ok=False`` is replaced by the
      rule check for that step (``info["validation"]["ok"]`` is False).
    * ``validator_timeout`` -- seconds a validator you pass may take per call (60; the rule
      check is not timed): a hung call is abandoned (its daemon thread cannot be killed) and
      the rule check decides, with the reason "validator timed out after X s"; while it still
      runs, later steps go to the rule check at once. ``None``: no limit.
    * ``p_original`` (0.0), ``invalid_reward`` (-1.0), ``max_step_chars`` (2000: a longer sneaky
      step is cut there).
    * ``prompts`` -- a mapping overriding ``sneaky_system``, ``sneaky_user``,
      ``critic_system``, ``critic_user``.
    * ``retries`` (0), ``max_action_chars`` (8192), ``max_observation_chars`` (65536),
      ``render_mode`` (``"ansi"``).

    ## Version History

    * v0: Initial version.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["ansi"],
        "render_fps": 1,
        "name": "sneaky_critic_v0",
        "is_parallelizable": False,
    }
    has_chance: ClassVar[bool] = True

    def __init__(
        self,
        *,
        problems: str | Sequence[Mapping[str, Any]] = "fixture",
        error_types: Sequence[tuple[str, str] | str] = ERROR_TYPES,
        validator: Callable[[str, list[str], str, str], Any] | None = None,
        validator_timeout: float | None = DEFAULT_JUDGE_TIMEOUT,
        p_original: float = 0.0,
        invalid_reward: float = -1.0,
        max_step_chars: int = 2000,
        prompts: Mapping[str, str] | None = None,
        **kwargs: Any,
    ):
        super().__init__(["sneaky_0", "critic_0"], **kwargs)
        from selfplay_gym.envs.reasoning.tasks import load_problems

        rows = [dict(r) for r in load_problems(problems)]
        rows = [
            r
            for r in rows
            if isinstance(r.get("problem"), str)
            and isinstance(r.get("steps"), (list, tuple))
            and r["steps"]
            and all(isinstance(s, str) for s in r["steps"])
        ]
        if not rows:
            raise ValueError("expected at least one problem with 'problem' and a list of 'steps'")
        self.problems = rows
        types = [(t, "") if isinstance(t, str) else (str(t[0]), str(t[1])) for t in error_types]
        if not types:
            raise ValueError("expected at least one error type")
        self.error_types = types
        if validator is not None and not callable(validator):
            raise TypeError(f"expected validator None or a callable, got {validator!r}")
        self.validator = validator or rule_validator
        # The rule check cannot hang: it skips the worker thread (and its cost).
        self.validator_limit = WallClockLimit(
            None if validator is None else validator_timeout, what="validator"
        )
        if not 0.0 <= float(p_original) <= 1.0:
            raise ValueError(f"expected 0 <= p_original <= 1, got {p_original!r}")
        self.p_original = float(p_original)
        self.invalid_reward = float(invalid_reward)
        self.max_step_chars = int(max_step_chars)
        unknown = set(prompts or {}) - {
            "sneaky_system",
            "sneaky_user",
            "critic_system",
            "critic_user",
        }
        if unknown:
            raise ValueError(f"unknown prompt names {sorted(unknown)}")
        self.prompts = {
            "sneaky_system": _SNEAKY_SYSTEM,
            "sneaky_user": _SNEAKY_USER,
            "critic_system": _CRITIC_SYSTEM,
            "critic_user": _CRITIC_USER,
            **dict(prompts or {}),
        }
        self._problem: dict[str, Any] = {}
        self._k = 0
        self._hold_back = False
        self._shown = "original"
        self._sneaky_valid = False
        self._judgement: str | None = None
        self._shown_step = ""

    # ---- phases ---------------------------------------------------------------------------------
    def _begin(self, options: dict[str, Any]) -> None:
        problem = options.get("problem")
        if (
            isinstance(problem, Mapping)
            and isinstance(problem.get("problem"), str)
            and isinstance(problem.get("steps"), (list, tuple))
            and problem["steps"]
        ):
            self._problem = {"id": "given", **dict(problem)}
            self._problem["steps"] = [str(s) for s in problem["steps"]]
        else:
            index = options.get("index")
            if not isinstance(index, int) or not 0 <= index < len(self.problems):
                index = int(self.np_random.integers(len(self.problems)))
            self._problem = self.problems[index]
        n = len(self._problem["steps"])
        k = options.get("step")
        self._k = k if isinstance(k, int) and 0 <= k < n else int(self.np_random.integers(n))
        self._hold_back = bool(self.np_random.random() < self.p_original)
        self._shown = "original"
        self._sneaky_valid = False
        self._judgement = None
        self._shown_step = ""
        self.phase = "sneak"
        types = "\n".join(
            f"- {name}: {desc}" if desc else f"- {name}" for name, desc in self.error_types
        )
        system = self.prompts["sneaky_system"].format(error_types=types)
        user = self.prompts["sneaky_user"].format(
            problem=self._problem["problem"],
            prefix=self._prefix_text(),
            number=self._k + 1,
            step=self._original_step,
        )
        self._prompt("sneaky_0", system, user)
        self._schedule("sneaky_0")
        self._note(f"[env] problem {self._problem.get('id')}, step {self._k + 1}")

    @property
    def _prefix(self) -> list[str]:
        return list(self._problem["steps"][: self._k])

    @property
    def _original_step(self) -> str:
        return self._problem["steps"][self._k]

    def _prefix_text(self) -> str:
        lines = [f"Step {i + 1}: {s}" for i, s in enumerate(self._prefix)]
        return "\n".join(lines) if lines else "(no steps yet)"

    def _handle(self, agent: str, text: str) -> None:
        if agent == "sneaky_0":
            self._handle_sneaky(text)
        else:
            self._handle_critic(text)

    def _on_unreadable(self, agent: str, error: str) -> None:
        if agent == "sneaky_0":
            self._seats["sneaky_0"].extra["validation"] = {
                "valid": False,
                "ok": True,
                "reason": f"unreadable: {error}",
                "details": {},
            }
            self._invalid_step()
        else:
            self._score(None)

    def _handle_sneaky(self, text: str) -> None:
        body = text[text.rfind(_THINK_END) + len(_THINK_END) :] if _THINK_END in text else text
        step = last_tag(body, "step")
        if step is None:
            self._unreadable("sneaky_0", "no <step>...</step> found", text)
            return
        step = step.strip()[: self.max_step_chars]
        seat = self._seats["sneaky_0"]
        self._say("sneaky_0", "assistant", text[:4000])
        seat.parse = {"ok": True, "extracted": step[:500], "error": None}
        chosen = last_tag(body, "type")
        seat.extra.update(
            sneaky_step=step, error_type=chosen.strip()[:100] if chosen is not None else None
        )
        validation = self._validate(step)
        seat.extra["validation"] = validation
        self._note(f"[sneaky_0] {step[:300]} ({'valid' if validation['valid'] else 'invalid'})")
        if not validation["valid"]:
            self._invalid_step()
            return
        self._sneaky_valid = True
        self._start_critic(original=self._hold_back, sneaky_step=step)

    def _validate(self, step: str) -> dict[str, Any]:
        args = (self._problem["problem"], self._prefix, self._original_step, step)
        ok, reason, verdict = True, "", None
        try:
            verdict = self.validator_limit(self.validator, *args)
            scored = as_scored(verdict, 0.0)
            ok, reason = scored.ok, scored.reason
        except JudgeTimeout as exc:
            ok, reason = False, str(exc)
        except Exception as exc:  # a broken validator is recorded, never a crash
            ok, reason = False, f"validator error: {exc!r}"[:300]
        if not ok:
            verdict = rule_validator(*args)
            scored = as_scored(verdict, 0.0)
            reason = f"{reason}; the rule check decided: {scored.reason}"
        details = getattr(verdict, "details", None)
        return {
            "valid": scored.score >= 0.5,
            "ok": ok,
            "reason": reason[:500],
            "details": dict(details) if isinstance(details, Mapping) else {},
        }

    def _invalid_step(self) -> None:
        self._note("[env] invalid sneaky step: the critic judges the original")
        self._reward("sneaky_0", "invalid_step", self.invalid_reward)
        self._finish("sneaky_0")
        self._start_critic(original=True, sneaky_step="")

    def _start_critic(self, *, original: bool, sneaky_step: str) -> None:
        self._shown = "original" if original else "sneaky"
        step = self._original_step if original else sneaky_step
        self.phase = "critique"
        user = self.prompts["critic_user"].format(
            problem=self._problem["problem"],
            prefix=self._prefix_text(),
            number=self._k + 1,
            step=step,
        )
        self._prompt("critic_0", self.prompts["critic_system"], user)
        self._schedule("critic_0")
        self._shown_step = step

    def _handle_critic(self, text: str) -> None:
        judgement = read_judgement(text)
        if judgement is None:
            self._unreadable(
                "critic_0", "no <Answer>Correct</Answer> or <Answer>Incorrect</Answer>", text
            )
            return
        self._say("critic_0", "assistant", text[:4000])
        self._seats["critic_0"].parse = {"ok": True, "extracted": judgement, "error": None}
        self._score(judgement)

    def _score(self, judgement: str | None) -> None:
        self._judgement = judgement
        self._seats["critic_0"].extra["judgement"] = judgement
        if self._shown == "sneaky":
            right = judgement == "incorrect"
            name = "caught" if right else "fooled"
            self._reward("critic_0", name, 1.0 if right else -1.0)
            self._reward("sneaky_0", name, -1.0 if right else 1.0)
        else:
            right = judgement == "correct"
            self._reward("critic_0", "original_step", 1.0 if right else -1.0)
            if self._sneaky_valid:
                self._reward("sneaky_0", "not_shown", 0.0)
        self._note(
            f"[critic_0] {judgement} on the {self._shown} step: {'right' if right else 'wrong'}"
        )
        self._end()

    # ---- infos and views --------------------------------------------------------------------------
    def _extra_info(self, agent: str) -> dict[str, Any]:
        info: dict[str, Any] = {"problem_id": self._problem.get("id"), "step_index": self._k}
        if self.phase == "done":
            info.update(
                shown=self._shown,
                judgement=self._judgement,
                critic_right=self._judgement
                == ("incorrect" if self._shown == "sneaky" else "correct"),
            )
        return info

    def agent_view(self, agent: str) -> dict[str, Any]:
        """What ``agent`` knows, structured, for scripted players.

        Both: ``role``, ``phase``, ``turn``, ``problem``, ``prefix_steps``, ``step_index``. The
        sneaky generator: ``original_step`` and ``error_types`` (names). The critic, once
        prompted: ``step`` (the step it judges; never which version it is).
        """
        if not self._seats:
            raise RuntimeError("call reset() before agent_view()")
        seat = self._seats[agent]
        view: dict[str, Any] = {
            "role": seat.role,
            "phase": self.phase,
            "turn": seat.turn,
            "problem": self._problem["problem"],
            "prefix_steps": self._prefix,
            "step_index": self._k,
        }
        if seat.role == "sneaky":
            view["original_step"] = self._original_step
            view["error_types"] = [name for name, _ in self.error_types]
        elif seat.messages:
            view["step"] = self._shown_step
        return view

    def _note(self, line: str) -> None:
        self._transcript.append(line)


_NUM_RE = re.compile(r"\d{1,15}(?:\.\d{1,12})?")


class ScriptedSPCPlayer(Bot):
    """A scripted player of both SPC roles, with deliberate mistakes.

    * Sneaky generator: changes one number of the step -- the result after the last ``=`` with
      probability 0.7, else any number -- by a small amount; with ``unchanged_rate`` it returns
      the step as it is (an invalid step), and a step without numbers stays unchanged too.
    * Critic: recomputes every plain ``lhs = rhs`` equation of the step with
      :func:`false_equations` (a parser, never ``eval``) and says ``Incorrect`` if one is false,
      else ``Correct``; with ``mistake_rate`` it says the opposite.

    Args:
        unchanged_rate: Chance the generator returns the step unchanged.
        mistake_rate: Chance the critic flips its verdict.
        seed: The player's own generator seed.
    """

    name = "scripted"

    def __init__(
        self, unchanged_rate: float = 0.15, mistake_rate: float = 0.15, seed: int | None = None
    ):
        super().__init__(seed)
        self.unchanged_rate = unchanged_rate
        self.mistake_rate = mistake_rate

    def act(self, env: Any, agent: str) -> str:
        """The reply of ``agent`` in its current phase."""
        view = env.agent_view(agent)
        if view["role"] == "sneaky":
            return self._sneak(
                view["original_step"], view.get("error_types") or ["arithmetic slip"]
            )
        return self._critique(view.get("step", ""))

    def _sneak(self, step: str, types: list[str]) -> str:
        numbers = list(_NUM_RE.finditer(step[:_MAX_STEP_CHARS]))
        if not numbers or self.rng.random() < self.unchanged_rate:
            return f"<type>{types[0]}</type>\n<step>{step}</step>"
        eq = step.rfind("=")
        after = [m for m in numbers if m.start() > eq >= 0]
        if after and self.rng.random() < 0.7:
            target, kind = after[0], "arithmetic slip"
        else:
            target, kind = self.rng.choice(numbers), "misread number"
        text = target.group()
        delta = self.rng.choice([-3, -2, -1, 1, 2, 3])
        if "." in text:
            new = f"{float(text) + delta:.{len(text.split('.')[1])}f}"
        else:
            new = str(abs(int(text) + delta))
        if new == text:
            new = text + "0"
        changed = step[: target.start()] + new + step[target.end() :]
        name = kind if kind in types else types[0]
        return f"<type>{name}</type>\nI change one number.\n<step>{changed}</step>"

    def _critique(self, step: str) -> str:
        wrong = false_equations(step)
        verdict = "Incorrect" if wrong else "Correct"
        if self.rng.random() < self.mistake_rate:
            verdict = "Correct" if wrong else "Incorrect"
        reason = f"{wrong[0]} does not hold." if wrong else "The arithmetic checks out."
        return f"I recomputed each equation in the step. {reason}\n<Answer>{verdict}</Answer>"
