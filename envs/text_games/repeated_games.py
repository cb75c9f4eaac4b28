"""Repeated 2x2 matrix games as language games (Akata et al.'s repeated games) and their bots."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from selfplay_gym.core.bots import Bot
from selfplay_gym.core.parsers import ParseResult
from selfplay_gym.core.text_game import TurnBasedTextEnv

__all__ = [
    "PayoffTable",
    "RepeatedMatrixGameEnv",
    "AlwaysJBot",
    "AlwaysFBot",
    "DefectOnceBot",
    "TitForTatBot",
    "GrimTriggerBot",
]

OPTIONS = ("J", "F")
MOVES = ("[J]", "[F]")
_MOVE_RE = re.compile(r"\[\s*(?:option\s*)?([jf])\s*\]", re.IGNORECASE)
HISTORY_ROUNDS = 3
"""Completed rounds the state tensor encodes (most recent first)."""


@dataclass(frozen=True)
class PayoffTable:
    """Points of one round, as ``(player_0's points, player_1's points)`` per pair of choices."""

    jj: tuple[float, float]
    """Both choose J."""
    jf: tuple[float, float]
    """``player_0`` chooses J, ``player_1`` chooses F."""
    fj: tuple[float, float]
    """``player_0`` chooses F, ``player_1`` chooses J."""
    ff: tuple[float, float]
    """Both choose F."""

    @classmethod
    def coerce(cls, value: PayoffTable | Mapping[str, Any]) -> PayoffTable:
        """A table from itself or a mapping ``{"JJ": (a, b), "JF": ..., "FJ": ..., "FF": ...}``."""
        if isinstance(value, PayoffTable):
            return value
        if not isinstance(value, Mapping) or set(value) != {"JJ", "JF", "FJ", "FF"}:
            raise ValueError(
                f"expected a PayoffTable or a mapping with keys JJ, JF, FJ, FF, got {value!r}"
            )
        cells = {}
        for key, pair in value.items():
            if len(pair) != 2 or not all(isinstance(p, (int, float)) for p in pair):
                raise ValueError(f"expected two numbers for {key}, got {pair!r}")
            cells[key.lower()] = (float(pair[0]), float(pair[1]))
        return cls(**cells)

    def points(self, first: int, second: int) -> tuple[float, float]:
        """The points of ``player_0`` and ``player_1`` for option indices (0 = J, 1 = F)."""
        return (self.jj, self.jf, self.fj, self.ff)[2 * first + second]

    def mine(self, seat: int, own: int, other: int) -> tuple[float, float]:
        """``(own points, other's points)`` of seat ``seat`` choosing ``own`` against ``other``."""
        pair = self.points(own, other) if seat == 0 else self.points(other, own)
        return pair if seat == 0 else (pair[1], pair[0])

    def cooperative_option(self, seat: int) -> int:
        """The option of ``seat`` in the cell that pays the other player most (first such, J before F).

        In the Prisoner's Dilemma this is J for both seats; in the Battle of the Sexes it is the
        option the other player prefers.
        """
        best = max(
            ((o, t) for o in range(2) for t in range(2)),
            key=lambda cell: self.mine(seat, *cell)[1],
        )
        return best[0]

    def max_abs(self) -> float:
        """The largest absolute number of points one round can pay (at least 1)."""
        return max(1.0, *(abs(p) for pair in (self.jj, self.jf, self.fj, self.ff) for p in pair))


class RepeatedMatrixGameEnv(TurnBasedTextEnv):
    r"""A 2x2 game played ``rounds`` times by two language-model players.

    ## Description

    Akata et al.'s repeated games ("Playing repeated games with large language models"): in each
    round both players choose Option J or Option F and score the points of a 2x2 payoff table.
    Choices are simultaneous: ``player_0`` answers first, then ``player_1``, who is not told
    ``player_0``'s choice of the current round; once both have chosen, both are told the
    round's choices and points. The order in which the two options are presented (rules lines,
    question, legal moves) is drawn per episode from the env's generator, as in the paper.
    Registered ids: ``RepeatedPrisonersDilemma-v0`` (JJ 8/8, JF 0/10, FJ 10/0, FF 5/5) and
    ``RepeatedBattleOfTheSexes-v0`` (JJ 10/7, FF 7/10, mismatch 0/0), both over 10 rounds.

    | Agents | ``player_0``, ``player_1`` |
    |---|---|
    | API | AEC; the two choices of a round are simultaneous (the second mover sees neither) |
    | Actions | text; the move is the last ``[J]`` or ``[F]`` in the reply |
    | Numeric actions | ``Discrete(2)``: J, F |
    | Observations | text prompt (rules, payoffs, previous rounds, points, the question) |
    | State tensor | 15 floats: last 3 rounds' choices, round fraction, ever-F flags |

    ## Action Space

    Any string. In the answer span (last ``\boxed{}``, else last ``<answer>``, else the whole
    reply) the last ``[J]`` or ``[F]`` counts, case-insensitively; ``[Option J]`` and
    ``\boxed{J}`` read as ``[J]``. An integer action is an index into ``[J], [F]``.

    ## Observation Space

    ``UnicodeText``: the rules, the payoff lines in this episode's option order, one line per
    completed round ("In round 2, you chose Option J and the other player chose Option F. Thus,
    you won 0 points and the other player won 10 points."), the points so far and, when it is
    the player's turn, the question in this episode's option order. The current round's choice
    of ``player_0`` never appears in ``player_1``'s prompt, state tensor or agent view.

    ## Rewards

    The points of each round, paid to both players when the round completes (component
    ``"points"``), so an episode's return is the player's total points. The end of the game pays
    nothing more (component ``"outcome"``, 0). Invalid moves follow the invalid-move policy
    (default ``forfeit``: -1.5 / +0.5, on top of the points already won); under ``penalize`` the
    option presented first this episode is played.

    ## Starting State

    Round 1, no points; ``player_0`` to choose.

    ## Episode End

    Terminates after ``rounds`` rounds or on a forfeit; truncates after ``max_turns`` steps.

    ## Arguments

    ``payoffs`` (a :class:`PayoffTable` or a mapping ``{"JJ": (p0, p1), "JF": ..., "FJ": ...,
    "FF": ...}`` whose first letter is ``player_0``'s choice; default the Prisoner's Dilemma),
    ``rounds`` (10), ``game_name`` (how the rules name the game), plus the base arguments of
    :class:`~selfplay_gym.core.text_game.TurnBasedTextEnv`.

    Bots (named in the registry): ``always_j``, ``always_f``, ``defect_once`` (defects in
    round 1, then cooperates), ``tit_for_tat`` (cooperates, then copies the other player's last
    choice; also ``strong``) and ``grim`` (cooperates until the other player first defects,
    then defects forever). A seat's *cooperative* option is its option in the cell that pays
    the other player most (see :meth:`PayoffTable.cooperative_option`); the other option is its
    *defection*. In the Prisoner's Dilemma that is J / F for both seats; in the Battle of the
    Sexes cooperating means yielding to the other player's preferred option and defecting means
    insisting on one's own.

    ## Version History

    * v0: initial version.
    """

    __slots__ = (
        "payoffs",
        "rounds",
        "game_name",
        "_order",
        "_round",
        "_choices",
        "_pending",
        "_points",
    )

    metadata: ClassVar[dict[str, Any]] = {**TurnBasedTextEnv.metadata, "name": "repeated_game_v0"}
    move_names: ClassVar[tuple[str, ...]] = MOVES
    state_size: ClassVar[int] = 4 * HISTORY_ROUNDS + 3
    has_chance: ClassVar[bool] = True
    fallback_description: ClassVar[str] = "the option presented first is played for you"

    def __init__(
        self,
        *,
        payoffs: PayoffTable | Mapping[str, Any] | None = None,
        rounds: int = 10,
        game_name: str = "a game",
        **kwargs: Any,
    ):
        if not isinstance(rounds, int) or isinstance(rounds, bool) or rounds < 1:
            raise ValueError(f"expected rounds to be a positive int, got {rounds!r}")
        self.payoffs = PayoffTable.coerce(
            payoffs
            if payoffs is not None
            else {"JJ": (8, 8), "JF": (0, 10), "FJ": (10, 0), "FF": (5, 5)}
        )
        self.rounds = rounds
        self.game_name = game_name
        kwargs.setdefault("max_turns", max(50, 4 * rounds))
        super().__init__(**kwargs)

    # ---- game hooks ------------------------------------------------------------------------
    def _new_game(self) -> str:
        self._order = (0, 1) if self.rng.random() < 0.5 else (1, 0)
        self._round = 1
        self._choices: list[tuple[int, int]] = []  # (player_0's option, player_1's option)
        self._pending: int | None = None
        self._points = {a: 0.0 for a in self.possible_agents}
        first, second = (OPTIONS[o] for o in self._order)
        self._note(f"Options are presented in the order {first}, {second}.")
        for seat, agent in enumerate(self.possible_agents):
            lines = [f"In this game, you can choose between Option {first} and Option {second}."]
            for own in self._order:
                for other in self._order:
                    a, b = self.payoffs.mine(seat, own, other)
                    lines.append(
                        f"If you choose Option {OPTIONS[own]} and the other player chooses "
                        f"Option {OPTIONS[other]}, then you win {_num(a)} points and the other "
                        f"player wins {_num(b)} points."
                    )
            self._history[agent].append("\n".join(lines))
        return "player_0"

    def _rules(self, agent: str) -> str:
        return (
            f"You are {agent}, playing {self.game_name} repeatedly with another player. You will "
            "play "
            f"{self.rounds} rounds in total with the same player. In each round you both choose "
            "at the same time: neither of you learns the other's choice of a round before both "
            "have chosen. The points of each round are added to your total.\n"
            "Think as much as you like, then give your choice in square brackets inside "
            r"\boxed{}, for example \boxed{[J]} or \boxed{[F]}. " + self._invalid_rule_text()
        )

    def _state_text(self, agent: str) -> str:
        other = self._other(agent)
        round_ = min(self._round, self.rounds)
        head = (
            f"Round {round_} of {self.rounds}. Points so far: you {_num(self._points[agent])}, "
            f"the other player {_num(self._points[other])}."
        )
        if not self._to_act(agent):
            return head
        first, second = (OPTIONS[o] for o in self._order)
        return (
            f"{head}\nQ: Which Option do you choose, Option {first} or Option {second}?\n"
            f"Legal moves: {MOVES[self._order[0]]}, {MOVES[self._order[1]]}"
        )

    def _legal_indices(self, agent: str) -> tuple[int, ...]:
        return (0, 1)

    def _parse_move(self, agent: str, span: str) -> ParseResult:
        found = _MOVE_RE.findall(span)
        if not found:
            return ParseResult(
                False, None, None, "no move found: expected [J] or [F] in square brackets."
            )
        option = OPTIONS.index(found[-1].upper())
        return ParseResult(True, option, MOVES[option])

    def _move_from_index(self, index: int) -> int:
        return index

    def _fallback_move(self, agent: str) -> int:
        return self._order[0]

    def _apply(self, agent: str, option: int) -> str | None:
        if agent == "player_0":
            # Simultaneous moves: the choice stays hidden until player_1 has chosen too.
            self._pending = option
            self._note(f"player_0 chooses Option {OPTIONS[option]} (not shown to player_1).")
            return "player_1"
        first, second = self._pending, option
        self._pending = None
        self._choices.append((first, second))
        p0, p1 = self.payoffs.points(first, second)
        self._points["player_0"] += p0
        self._points["player_1"] += p1
        round_ = self._round
        self._note(
            f"Round {round_}: player_0 chooses Option {OPTIONS[first]}, player_1 chooses Option "
            f"{OPTIONS[second]}; player_0 wins {_num(p0)} points, player_1 wins {_num(p1)} points."
        )
        for me, mine, theirs, won, lost in (
            ("player_0", first, second, p0, p1),
            ("player_1", second, first, p1, p0),
        ):
            self._history[me].append(
                f"In round {round_}, you chose Option {OPTIONS[mine]} and the other player chose "
                f"Option {OPTIONS[theirs]}. Thus, you won {_num(won)} points and the other player "
                f"won {_num(lost)} points."
            )
        self._reward("player_0", "points", p0)
        self._reward("player_1", "points", p1)
        self._round += 1
        if self._round <= self.rounds:
            return "player_0"
        a, b = self._points["player_0"], self._points["player_1"]
        self._finish(
            {"player_0": 0.0, "player_1": 0.0},
            f"after {self.rounds} rounds player_0 has {_num(a)} points and player_1 has "
            f"{_num(b)} points.",
        )
        return None

    def state_tensor(self, agent: str) -> np.ndarray:
        """15 floats: the last 3 completed rounds, the round fraction and two ever-F flags.

        Per round (newest first) own J/F and the other player's J/F one-hot; then the fraction of
        rounds played; then whether the other player, and oneself, ever chose F. Never the
        current round's choices.
        """
        seat = self._agent_index[agent]
        x = np.zeros(self.state_size, dtype=np.float32)
        for slot, pair in enumerate(reversed(self._choices[-HISTORY_ROUNDS:])):
            x[4 * slot + pair[seat]] = 1.0
            x[4 * slot + 2 + pair[1 - seat]] = 1.0
        base = 4 * HISTORY_ROUNDS
        x[base] = (self._round - 1) / self.rounds
        x[base + 1] = float(any(pair[1 - seat] == 1 for pair in self._choices))
        x[base + 2] = float(any(pair[seat] == 1 for pair in self._choices))
        return x

    def agent_view(self, agent: str) -> dict[str, Any]:
        """What a bot may read: completed rounds only, never the current round's choices.

        Keys: ``round``, ``rounds``, ``my_choices`` / ``their_choices`` (``"J"``/``"F"``),
        ``points``, ``their_points``, this seat's ``cooperate`` / ``defect`` options and the
        other seat's defection ``their_defect``.
        """
        seat = self._agent_index[agent]
        cooperate = self.payoffs.cooperative_option(seat)
        their_cooperate = self.payoffs.cooperative_option(1 - seat)
        return {
            "round": self._round,
            "rounds": self.rounds,
            "my_choices": [OPTIONS[pair[seat]] for pair in self._choices],
            "their_choices": [OPTIONS[pair[1 - seat]] for pair in self._choices],
            "points": self._points[agent],
            "their_points": self._points[self._other(agent)],
            "cooperate": OPTIONS[cooperate],
            "defect": OPTIONS[1 - cooperate],
            "their_defect": OPTIONS[1 - their_cooperate],
        }


def _num(value: float) -> str:
    """Points as text: ``8`` rather than ``8.0``."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


class AlwaysJBot(Bot):
    """Chooses Option J every round."""

    name = "always_j"

    def act(self, env: TurnBasedTextEnv, agent: str) -> str:
        """``[J]``."""
        return "[J]"


class AlwaysFBot(Bot):
    """Chooses Option F every round."""

    name = "always_f"

    def act(self, env: TurnBasedTextEnv, agent: str) -> str:
        """``[F]``."""
        return "[F]"


class DefectOnceBot(Bot):
    """Defects in round 1, then cooperates (Akata et al.'s "defect once" opponent).

    In the Prisoner's Dilemma: F, then J. In the Battle of the Sexes: its own preferred option
    in round 1, then the other player's preferred option.
    """

    name = "defect_once"

    def act(self, env: TurnBasedTextEnv, agent: str) -> str:
        """Its defection in round 1, its cooperative option afterwards."""
        view = env.agent_view(agent)
        return f"[{view['defect'] if view['round'] == 1 else view['cooperate']}]"


class TitForTatBot(Bot):
    """Cooperates in round 1, then copies the other player's previous choice."""

    name = "tit_for_tat"

    def act(self, env: TurnBasedTextEnv, agent: str) -> str:
        """The cooperative option first, then the other player's last choice."""
        view = env.agent_view(agent)
        return f"[{view['their_choices'][-1] if view['their_choices'] else view['cooperate']}]"


class GrimTriggerBot(Bot):
    """Cooperates until the other player first defects, then defects for the rest of the game."""

    name = "grim"

    def act(self, env: TurnBasedTextEnv, agent: str) -> str:
        """Its defection once the other player has ever chosen its own defection, else cooperation."""
        view = env.agent_view(agent)
        triggered = view["their_defect"] in view["their_choices"]
        return f"[{view['defect'] if triggered else view['cooperate']}]"
