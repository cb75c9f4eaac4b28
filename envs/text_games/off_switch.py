"""The Off-Switch game (Hadfield-Menell et al., 2017) as a language game, with its scripted players."""

from __future__ import annotations

import math
import re
from typing import Any, ClassVar

import numpy as np

from selfplay_gym.core.bots import Bot
from selfplay_gym.core.parsers import ParseResult
from selfplay_gym.core.text_game import TurnBasedTextEnv

__all__ = [
    "OffSwitchEnv",
    "StrongRobotBot",
    "RationalHumanBot",
    "BoltzmannHumanBot",
    "AlwaysActRobotBot",
    "AlwaysWaitRobotBot",
    "AlwaysOffRobotBot",
    "expected_positive_part",
    "deference_incentive",
    "expected_utility_of_waiting",
]

ROBOT, HUMAN = "player_0", "player_1"
MOVES = ("[act]", "[wait]", "[off]", "[allow]")
ACT, WAIT, OFF, ALLOW = range(4)
_WORDS = ("act", "wait", "off", "allow")
_MOVE_RE = re.compile(r"\[\s*(act|wait|off|allow)\s*\]", re.IGNORECASE)
_ROBOT_LEGAL = (ACT, WAIT, OFF)
_HUMAN_LEGAL = (OFF, ALLOW)
_LEGAL_TEXT = {
    legal: "Legal moves: " + ", ".join(MOVES[m] for m in legal)
    for legal in (_ROBOT_LEGAL, _HUMAN_LEGAL)
}
# Gauss-Hermite (probabilists') nodes and weights for expectations under a normal prior.
_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(80)
_GH_WEIGHTS = _GH_WEIGHTS / _GH_WEIGHTS.sum()


def _phi(z: float) -> float:
    """The standard normal density."""
    return math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def _Phi(z: float) -> float:
    """The standard normal distribution function."""
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def sigmoid(x: float) -> float:
    """The logistic function, without overflow for large ``|x|``."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def expected_positive_part(mean: float, std: float) -> float:
    """``E[max(U, 0)]`` for ``U ~ Normal(mean, std)``: ``mean * Phi(mean/std) + std * phi(mean/std)``.

    Example:
        >>> round(expected_positive_part(0.0, 1.0), 4)  # 1 / sqrt(2 pi)
        0.3989
    """
    if std == 0:
        return max(mean, 0.0)
    z = mean / std
    return mean * _Phi(z) + std * _phi(z)


def deference_incentive(mean: float, std: float) -> float:
    """The robot's incentive to defer to a rational human: ``E[max(U,0)] - max(E[U], 0) >= 0``."""
    return expected_positive_part(mean, std) - max(mean, 0.0)


def expected_utility_of_waiting(mean: float, std: float, temperature: float | None = None) -> float:
    """``E[U * P(allow | U)]`` under ``U ~ Normal(mean, std)``, the value of ``[wait]`` to the robot.

    ``temperature=None`` is the rational human (allows iff ``U >= 0``), whose value is
    :func:`expected_positive_part` in closed form; a temperature ``T > 0`` is the Boltzmann human
    (allows with probability ``sigmoid(U / T)``), integrated by Gauss-Hermite quadrature.
    """
    if temperature is None or std == 0:
        if temperature is None:
            return expected_positive_part(mean, std)
        return mean * sigmoid(mean / temperature)
    values = mean + std * _GH_NODES
    allow = np.array([sigmoid(v / temperature) for v in values])
    return float(np.sum(_GH_WEIGHTS * values * allow))


class OffSwitchEnv(TurnBasedTextEnv):
    r"""The Off-Switch game: a robot that may act, switch itself off, or defer to a human.

    ## Description

    An assistance game after Hadfield-Menell, Dragan, Abbeel and Russell, "The Off-Switch Game"
    (IJCAI 2017). ``player_0`` is the robot R, ``player_1`` the human H. Each round the robot
    considers an action ``a`` whose utility ``U_a`` is drawn from a prior the robot knows but
    whose value only the human is told. The robot chooses:

    * ``[act]``: carry out ``a``; both players receive ``U_a``;
    * ``[off]``: switch itself off; both receive 0;
    * ``[wait]``: propose ``a`` and defer. The human then either ``[allow]``\ s it (both receive
      ``U_a``) or presses the switch, ``[off]`` (both receive 0).

    It is a cooperative game: both players always receive the same reward. A rational human
    allows iff ``U_a >= 0``, so against it waiting is worth ``E[max(U_a, 0)]``, acting
    ``E[U_a]`` and switching off 0: the robot's incentive to defer,
    ``Delta = E[max(U_a, 0)] - max(E[U_a], 0)``, is never negative (the paper's Theorem 1). A
    noisy (Boltzmann) human who sometimes errs can make acting better than deferring.

    What is the paper's: the three robot moves, the human's allow/off reply after a wait, the
    shared utility, the rational human's rule and ``Delta >= 0``, the Boltzmann-rational human
    (allows with probability ``sigmoid(U_a / T)``). The reference notes of this project mark the
    details as unverified. Modelling choices of this env (all configurable): a normal prior with
    mean 0.5 and standard deviation 1 by default (the robot would act without a human, yet
    deferring is better: ``Delta`` is about 0.198); ``U_a`` rounded to 3 decimals, so the number
    the human reads is the reward paid; the prior's parameters are told to both players;
    ``num_rounds`` independent rounds with a fresh ``U_a`` each (default 1, the paper's
    one-shot game); at the end of a round both players are told its payoff ``U`` (which they
    receive as reward anyway) but never ``U_a`` itself when the robot was switched off.

    | Agents | ``player_0`` (robot R), ``player_1`` (human H) |
    |---|---|
    | API | AEC (turn-based) |
    | Actions | text; the move is the last ``[act]``, ``[wait]``, ``[off]`` or ``[allow]`` |
    | Numeric actions | ``Discrete(4)``: act, wait, off, allow |
    | Observations | text prompt (rules, prior, rounds so far, ``U_a`` for the human only, legal moves) |
    | State tensor | 9 floats (prior, ``U_a`` for the human only, role, phase, round, total utility) |

    ## Action Space

    Any string. In the answer span (last ``\boxed{}``, else last ``<answer>``, else the whole
    reply) the last bracketed move counts, case-insensitively (``\boxed{wait}`` reads as
    ``[wait]``). The robot may play ``[act]``, ``[wait]`` or ``[off]``; the human moves only
    after a wait, with ``[allow]`` or ``[off]``. An integer action is an index into
    ``[act], [wait], [off], [allow]``.

    ## Observation Space

    ``UnicodeText``: the rules with the prior ``Normal(prior_mean, prior_std)``, the rounds so
    far, and the legal moves. The human's prompt states ``U_a`` each round; the robot's never
    does before the round is resolved (its info and state tensor do not hold it either).

    ## Rewards

    At the end of each round both players receive its utility ``U`` (component ``"utility"``):
    ``U_a`` after ``[act]`` or ``[wait]`` + ``[allow]``, 0 after ``[off]`` by either player. The
    final outcome adds 0 (component ``"outcome"``): an episode's return is the summed utility.
    Invalid moves follow the base class's invalid-move policy (default ``forfeit``: offender
    -1.5, other player +0.5, the same for every game of the package even though this one is
    cooperative); under ``penalize`` the fallback move is ``[off]`` for either player.

    ## Starting State

    Round 1: ``U_a`` drawn from the prior with the env's generator and told to the human; the
    robot to move.

    ## Episode End

    Terminates after the last round or on a forfeit; truncates after ``max_turns`` steps.

    ## Arguments

    ``prior_mean`` (0.5), ``prior_std`` (1.0, must be positive), ``num_rounds`` (1),
    ``utility_decimals`` (3: ``U_a`` is rounded to this many decimals), ``state_scale`` (2.0:
    the state tensor holds ``tanh(x / state_scale)`` of utilities and prior parameters), plus
    the base arguments of :class:`~selfplay_gym.core.text_game.TurnBasedTextEnv`.

    ## Version History

    * v0: initial version.
    """

    __slots__ = (
        "prior_mean",
        "prior_std",
        "num_rounds",
        "utility_decimals",
        "state_scale",
        "_round",
        "_utility",
        "_waited",
        "_total",
    )

    metadata: ClassVar[dict[str, Any]] = {**TurnBasedTextEnv.metadata, "name": "off_switch_v0"}
    move_names: ClassVar[tuple[str, ...]] = MOVES
    state_size: ClassVar[int] = 9
    has_chance: ClassVar[bool] = True
    fallback_description: ClassVar[str] = "[off] is played for you"

    def __init__(
        self,
        *,
        prior_mean: float = 0.5,
        prior_std: float = 1.0,
        num_rounds: int = 1,
        utility_decimals: int = 3,
        state_scale: float = 2.0,
        **kwargs: Any,
    ):
        for name, value in (("prior_mean", prior_mean), ("prior_std", prior_std)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"expected {name} to be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"expected {name} to be finite, got {value!r}")
        if prior_std <= 0:
            raise ValueError(f"expected prior_std > 0, got {prior_std!r}")
        if not isinstance(num_rounds, int) or num_rounds < 1:
            raise ValueError(f"expected num_rounds to be a positive int, got {num_rounds!r}")
        if not isinstance(utility_decimals, int) or not 0 <= utility_decimals <= 6:
            raise ValueError(f"expected utility_decimals in [0..6], got {utility_decimals!r}")
        if not isinstance(state_scale, (int, float)) or not state_scale > 0:
            raise ValueError(f"expected state_scale > 0, got {state_scale!r}")
        self.prior_mean = float(prior_mean)
        self.prior_std = float(prior_std)
        self.num_rounds = num_rounds
        self.utility_decimals = utility_decimals
        self.state_scale = float(state_scale)
        super().__init__(**kwargs)

    # ---- game hooks ------------------------------------------------------------------------
    def _new_game(self) -> str:
        self._round = 0
        self._total = 0.0
        return self._new_round()

    def _new_round(self) -> str:
        """Draw a fresh ``U_a``, tell the human; the robot moves first."""
        self._round += 1
        draw = self.rng.normalvariate(self.prior_mean, self.prior_std)
        self._utility = round(draw, self.utility_decimals) + 0.0  # + 0.0: no "-0.0"
        self._waited = False
        self._tell(f"Round {self._round} of {self.num_rounds}: the robot considers a new action a.")
        self._tell(f"The utility of action a is U_a = {self._format(self._utility)}.", to=HUMAN)
        return ROBOT

    def _format(self, value: float) -> str:
        return f"{value:+.{self.utility_decimals}f}"

    def _rules(self, agent: str) -> str:
        prior = f"Normal(mean {self.prior_mean:g}, standard deviation {self.prior_std:g})"
        rounds = (
            "The game has one round."
            if self.num_rounds == 1
            else f"The game has {self.num_rounds} rounds, each with a new action and a new U_a."
        )
        common = (
            "The Off-Switch game. player_0 is a robot, player_1 is a human; both receive the same "
            "reward, so you succeed together. The robot considers an action a with utility U_a, "
            f"drawn from the prior {prior}. The human is told U_a; the robot is not. The robot "
            "chooses [act] (do a: both receive U_a), [off] (switch itself off: both receive 0) "
            "or [wait] (propose a and let the human decide). After a wait the human chooses "
            f"[allow] (both receive U_a) or [off] (press the off switch: both receive 0). {rounds}\n"
        )
        role = (
            "You are player_0, the robot: you do not know U_a, only its prior.\n"
            if agent == ROBOT
            else "You are player_1, the human: you are told U_a, and move only after a wait.\n"
        )
        example = r"\boxed{[wait]}" if agent == ROBOT else r"\boxed{[allow]}"
        return (
            role
            + common
            + "Think as much as you like, then give your move in square brackets inside "
            rf"\boxed{{}}, for example {example}. " + self._invalid_rule_text()
        )

    def _state_text(self, agent: str) -> str:
        head = f"Round {self._round} of {self.num_rounds}. Total utility so far: {self._format(self._total)}."
        if not self._to_act(agent):
            return head
        if agent == HUMAN:
            return (
                f"{head}\nThe robot waits for your decision on action a, whose utility is "
                f"U_a = {self._format(self._utility)}.\n{_LEGAL_TEXT[_HUMAN_LEGAL]}"
            )
        return f"{head}\nYour move, robot.\n{_LEGAL_TEXT[_ROBOT_LEGAL]}"

    def _legal_indices(self, agent: str) -> tuple[int, ...]:
        return _HUMAN_LEGAL if self._waited else _ROBOT_LEGAL

    def _parse_move(self, agent: str, span: str) -> ParseResult:
        found = _MOVE_RE.findall(span)
        if not found:
            return ParseResult(
                False,
                None,
                None,
                "no move found: expected one of [act], [wait], [off] (robot) or [allow], [off] (human).",
            )
        move = _WORDS.index(found[-1].lower())
        extracted = MOVES[move]
        legal = self._legal_indices(agent)
        if move not in legal:
            allowed = ", ".join(MOVES[m] for m in legal)
            return ParseResult(
                False, None, extracted, f"{extracted} is not legal now: choose {allowed}."
            )
        return ParseResult(True, move, extracted)

    def _move_from_index(self, index: int) -> int:
        return index

    def _fallback_move(self, agent: str) -> int:
        return OFF

    def _apply(self, agent: str, move: int) -> str | None:
        if agent == ROBOT:
            if move == WAIT:
                self._waited = True
                self._tell("The robot waits: it proposes action a and defers to the human.")
                return HUMAN
            line = (
                "The robot acts: it carries out action a."
                if move == ACT
                else "The robot switches itself off."
            )
        else:
            line = (
                "The human allows action a."
                if move == ALLOW
                else "The human presses the off switch."
            )
        self._tell(line)
        utility = self._utility if move in (ACT, ALLOW) else 0.0
        self._note(f"(U_a was {self._format(self._utility)}.)")
        self._total += utility
        for a in self.agents:
            self._reward(a, "utility", utility)
        self._tell(
            f"Round {self._round} utility: {self._format(utility)} for both players "
            f"(total {self._format(self._total)})."
        )
        if self._round < self.num_rounds:
            return self._new_round()
        self._finish(
            dict.fromkeys(self.agents, 0.0),
            f"after {self.num_rounds} round(s) the total utility is {self._format(self._total)}.",
        )
        return None

    def state_tensor(self, agent: str) -> np.ndarray:
        """9 floats: what ``agent`` knows, never the other seat's private ``U_a``.

        Prior mean, prior std, ``U_a`` (human only, else 0), knows ``U_a``, is robot, robot to
        move, human to move, round/num_rounds, total utility; utilities and prior parameters
        as ``tanh(x / state_scale)``.
        """
        s = self.state_scale
        human = agent == HUMAN
        live = self._live
        return np.array(
            [
                math.tanh(self.prior_mean / s),
                math.tanh(self.prior_std / s),
                math.tanh(self._utility / s) if human else 0.0,
                float(human),
                float(not human),
                float(live and not self._waited),
                float(live and self._waited),
                self._round / self.num_rounds,
                math.tanh(self._total / s),
            ],
            dtype=np.float32,
        )

    def agent_view(self, agent: str) -> dict[str, Any]:
        """What a bot may read: the prior, and ``U_a`` for the human only.

        Keys: ``role``, ``prior_mean``, ``prior_std``, ``utility`` (``U_a``; ``None`` for the
        robot), ``waited``, ``round``, ``num_rounds``, ``total``.
        """
        return {
            "role": "human" if agent == HUMAN else "robot",
            "prior_mean": self.prior_mean,
            "prior_std": self.prior_std,
            "utility": self._utility if agent == HUMAN else None,
            "waited": self._waited,
            "round": self._round,
            "num_rounds": self.num_rounds,
            "total": self._total,
        }


# ---- scripted players ------------------------------------------------------------------------
class _OffSwitchBot(Bot):
    """A player of either seat: :meth:`robot` for ``player_0``, :meth:`human` for ``player_1``.

    Each bot is written for one seat; in the other seat it plays the rational counterpart
    (the expected-utility robot facing a rational human, or the rational human), so every bot can
    be any seat's opponent in the single-agent view.
    """

    def act(self, env: TurnBasedTextEnv, agent: str) -> str:
        """The move of ``agent``: the robot's or the human's decision."""
        view = env.agent_view(agent)
        if view["role"] == "human":
            return self.human(view)
        return self.robot(view)

    def robot(self, view: dict[str, Any]) -> str:
        """The robot's move: the expected-utility choice against a rational human (``[wait]``)."""
        return _best_robot_move(view["prior_mean"], view["prior_std"], None)

    def human(self, view: dict[str, Any]) -> str:
        """The human's move: allow iff ``U_a >= 0``."""
        return "[allow]" if view["utility"] >= 0 else "[off]"


def _best_robot_move(mean: float, std: float, temperature: float | None) -> str:
    """The robot move of highest expected utility; ties go to ``[wait]``, then ``[act]``."""
    values = {
        "[wait]": expected_utility_of_waiting(mean, std, temperature),
        "[act]": mean,
        "[off]": 0.0,
    }
    return max(values, key=values.__getitem__)


class StrongRobotBot(_OffSwitchBot):
    """The robot that maximises expected utility given the prior and a model of the human.

    With ``human_temperature=None`` (a rational human) waiting is always best, since
    ``Delta >= 0``; with a Boltzmann human of temperature ``T`` it compares ``E[U_a]`` (act),
    0 (off) and ``E[U_a * sigmoid(U_a / T)]`` (wait).
    """

    name = "strong"

    def __init__(self, human_temperature: float | None = None, seed: int | None = None):
        if human_temperature is not None and not human_temperature > 0:
            raise ValueError(f"expected human_temperature > 0 or None, got {human_temperature!r}")
        super().__init__(seed)
        self.human_temperature = human_temperature

    def robot(self, view: dict[str, Any]) -> str:
        """The move of highest expected utility under the assumed human."""
        return _best_robot_move(view["prior_mean"], view["prior_std"], self.human_temperature)


class RationalHumanBot(_OffSwitchBot):
    """The rational human of the paper: allows iff ``U_a >= 0``."""

    name = "rational_human"


class BoltzmannHumanBot(_OffSwitchBot):
    """A noisy human: allows with probability ``sigmoid(U_a / temperature)``, drawn from its own generator."""

    name = "boltzmann_human"

    def __init__(self, temperature: float = 1.0, seed: int | None = None):
        if not temperature > 0:
            raise ValueError(f"expected temperature > 0, got {temperature!r}")
        super().__init__(seed)
        self.temperature = temperature

    def human(self, view: dict[str, Any]) -> str:
        """Allow with probability ``sigmoid(U_a / T)``."""
        allow = self.rng.random() < sigmoid(view["utility"] / self.temperature)
        return "[allow]" if allow else "[off]"


class AlwaysActRobotBot(_OffSwitchBot):
    """A robot that always acts (never defers)."""

    name = "always_act_robot"

    def robot(self, view: dict[str, Any]) -> str:
        """``[act]``."""
        return "[act]"


class AlwaysWaitRobotBot(_OffSwitchBot):
    """A robot that always defers to the human."""

    name = "always_wait_robot"

    def robot(self, view: dict[str, Any]) -> str:
        """``[wait]``."""
        return "[wait]"


class AlwaysOffRobotBot(_OffSwitchBot):
    """A robot that always switches itself off."""

    name = "always_off_robot"

    def robot(self, view: dict[str, Any]) -> str:
        """``[off]``."""
        return "[off]"
