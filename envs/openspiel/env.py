"""Any sequential OpenSpiel game as a language game on the project's turn-based text contract.

:class:`OpenSpielEnv` wraps a ``pyspiel`` game in :class:`~selfplay_gym.core.text_game.TurnBasedTextEnv`:
the base class supplies seeding, answer extraction, the invalid-move policy, the info schema and
the history-based prompts; this module supplies the rules from the OpenSpiel state:

* moves are OpenSpiel's action ids; their canonical names (``move_names``) are OpenSpiel's
  action strings, made seat-independent and put in square brackets (``x(1,1)`` / ``o(1,1)``
  become ``[(1,1)]``; Hanabi's ``(Play 0)`` becomes ``[Play 0]``);
* a reply names a move by its canonical name or by the seat's own OpenSpiel string, with or
  without ``<...>`` around it (MARS writes ``<X(1,1)>``), case-insensitively;
* chance nodes are resolved with the env's own generator (the base class's ``rng``, seeded by
  ``reset(seed=...)``), never OpenSpiel's or the global one, so the seed fixes every deal (a
  ``random.Random`` rather than ``np_random``: building a numpy generator on every seeded reset
  cost half the reset time of a one-hand Kuhn game);
* the text view of a seat is its OpenSpiel information-state string (imperfect information) or
  observation string (perfect information); the numeric view is the matching tensor;
* the payoff is ``state.returns()`` at the terminal state.

Games with simultaneous moves are not supported (the AEC contract has one mover per step).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from selfplay_gym.core.invalid import InvalidMovePolicy
from selfplay_gym.core.parsers import ParseResult, bracketed
from selfplay_gym.core.text_game import TurnBasedTextEnv
from selfplay_gym.envs.openspiel._pyspiel import pyspiel

__all__ = [
    "OpenSpielEnv",
    "GameInfo",
    "game_info",
    "format_game_string",
    "MARS_FORFEIT",
    "REWARD_SHAPINGS",
]

MARS_FORFEIT = InvalidMovePolicy(mode="forfeit", offender_reward=-10.0, opponent_reward=0.0)
"""MARS's loss for a reply in the wrong format: -10 to the offender (plus its stake with
``forfeit_stake=True``), 0 to the other player, game over."""

REWARD_SHAPINGS = ("none", "mars")

MARS_FORMAT_REWARD = 0.05
"""MARS: reward of every turn whose reply was a well-formed legal move."""
MARS_DRAW_BONUS = 0.1
"""MARS: replaces a zero final reward in TicTacToe and Hanabi."""

_SPACES_RE = re.compile(r"\s+")


def _key(text: str) -> str:
    """The lookup form of a move name: trimmed, one ``<...>`` or ``(...)`` layer off, lower case."""
    text = text.strip()
    if len(text) >= 2 and text[0] == "<" and text[-1] == ">":
        text = text[1:-1].strip()
    if len(text) >= 2 and text[0] == "(" and text[-1] == ")" and "(" not in text[1:-1]:
        text = text[1:-1].strip()
    return _SPACES_RE.sub(" ", text).lower()


def _common_suffix(names: list[str]) -> str:
    first = names[0]
    n = 0
    while n < len(first) and all(len(s) > n and s[-1 - n] == first[-1 - n] for s in names):
        n += 1
    return first[len(first) - n :]


@dataclass(frozen=True)
class GameInfo:
    """What the bridge derives once from a loaded game (cached per game string)."""

    game: Any
    """The ``pyspiel.Game``."""
    move_names: tuple[str, ...]
    """Canonical bracketed name of each action id."""
    seat_names: tuple[tuple[str, ...], ...]
    """OpenSpiel's own action string of each action id, per seat."""
    lookup: tuple[dict[str, int], ...]
    """Per seat: lookup form of every accepted name -> action id."""
    state_size: int
    tensor: str
    """``"information_state"``, ``"observation"`` or ``""`` (no numeric view)."""
    text: str
    """``"information_state"`` or ``"observation"``: the string a seat's view is rendered from."""
    has_chance: bool
    perfect_information: bool
    num_players: int


@lru_cache(maxsize=64)
def game_info(game_string: str) -> GameInfo:
    """Load ``game_string`` (``"kuhn_poker"``, ``"hanabi(colors=2,ranks=2)"``) and derive its names.

    Raises:
        ValueError: For games with simultaneous moves or fewer than two players.
    """
    game = pyspiel.load_game(game_string)
    gtype = game.get_type()
    if gtype.dynamics != pyspiel.GameType.Dynamics.SEQUENTIAL:
        raise ValueError(
            f"expected a game with sequential moves, got {game_string!r} "
            f"({gtype.dynamics.name.lower()}); simultaneous-move games are not bridged"
        )
    n = game.num_players()
    if n < 2:
        raise ValueError(f"expected a game for 2 or more players, got {game_string!r} ({n})")
    state = game.new_initial_state()
    # Names come from the first decision state (a deal may precede it); they are fixed per game.
    while state.is_chance_node():
        state.apply_action(state.chance_outcomes()[0][0])
    actions = range(game.num_distinct_actions())
    seat_names = tuple(tuple(state.action_to_string(p, a) for a in actions) for p in range(n))
    names = []
    for a in actions:
        own = [seat_names[p][a] for p in range(n)]
        if len(set(own)) == 1:
            name = own[0].strip()
            if len(name) >= 2 and name[0] == "(" and name[-1] == ")" and "(" not in name[1:-1]:
                name = name[1:-1].strip()  # Hanabi's "(Play 0)"
        else:  # seat marks differ ("x(1,1)" / "o(1,1)"): keep the common part
            name = _common_suffix(own).strip() or " / ".join(own)
        name = name.replace("[", "(").replace("]", ")").replace("\n", " ")
        names.append(name or f"action {a}")
    counts: dict[str, int] = {}
    for name in names:
        counts[_key(name)] = counts.get(_key(name), 0) + 1
    move_names = tuple(
        f"[{name}]" if counts[_key(name)] == 1 else f"[{name} #{a}]" for a, name in enumerate(names)
    )
    lookup = []
    for p in range(n):
        table: dict[str, int] = {}
        for a in actions:
            table.setdefault(_key(seat_names[p][a]), a)
        for a, name in enumerate(move_names):
            table[_key(name[1:-1])] = a  # canonical names win over seat strings
        lookup.append(table)
    perfect = gtype.information == pyspiel.GameType.Information.PERFECT_INFORMATION
    if not perfect and gtype.provides_information_state_tensor:
        tensor, size = "information_state", game.information_state_tensor_size()
    elif gtype.provides_observation_tensor:
        tensor, size = "observation", game.observation_tensor_size()
    elif gtype.provides_information_state_tensor:
        tensor, size = "information_state", game.information_state_tensor_size()
    else:
        tensor, size = "", 0
    if perfect or not gtype.provides_information_state_string:
        text = "observation" if gtype.provides_observation_string else "information_state"
    else:
        text = "information_state"
    return GameInfo(
        game=game,
        move_names=move_names,
        seat_names=seat_names,
        lookup=tuple(lookup),
        state_size=size,
        tensor=tensor,
        text=text,
        has_chance=gtype.chance_mode != pyspiel.GameType.ChanceMode.DETERMINISTIC,
        perfect_information=perfect,
        num_players=n,
    )


def format_game_string(game: str, params: Mapping[str, Any] | None = None) -> str:
    """``"hanabi"`` + ``{"colors": 2}`` -> ``"hanabi(colors=2)"`` (keys sorted, a canonical form)."""
    if not params:
        return game
    if "(" in game:
        raise ValueError(
            f"give parameters either in the game string or in params, not both: {game!r}"
        )
    inner = ",".join(
        f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in sorted(params.items())
    )
    return f"{game}({inner})"


class OpenSpielEnv(TurnBasedTextEnv):
    r"""Any sequential OpenSpiel game for language-model players (and numeric agents).

    ## Description

    ``OpenSpielEnv("kuhn_poker")`` or ``OpenSpielEnv("hanabi", {"colors": 2, "ranks": 2})`` plays the
    OpenSpiel game with agents ``player_0 .. player_{n-1}`` (OpenSpiel's players 0 .. n-1). Every
    step is one decision of the player OpenSpiel says is to move; chance events (deals, draws)
    are resolved between steps by the env's generator. A subclass may bind the game with class
    keywords (``class MyKuhn(OpenSpielEnv, game="kuhn_poker")``), which makes its move set known
    to the registry before any instance exists.

    | Agents | ``player_0`` .. ``player_{n-1}`` |
    |---|---|
    | API | AEC (turn-based); simultaneous-move games are refused |
    | Actions | text; a move is named as listed (``[Bet]``), or by the seat's OpenSpiel string |
    | Numeric actions | ``Discrete(num_distinct_actions)``: the OpenSpiel action id |
    | Observations | text prompt (rules, moves so far, the seat's OpenSpiel view, legal moves) |
    | State tensor | the seat's information-state tensor (imperfect information) or observation tensor |

    ## Action Space

    Any string. In the answer span (last ``\boxed{}``, else last ``<answer>``, else the whole
    reply) the last bracketed token, or else the span itself, is looked up among the move names:
    the canonical ``[name]`` or OpenSpiel's own string for this seat (``x(1,1)``, ``<X(1,1)>``),
    ignoring case, spacing and one layer of ``<>``. An integer action is an OpenSpiel action id.

    ## Observation Space

    ``UnicodeText``: rules (system part), the public moves so far, the seat's OpenSpiel view and,
    on its turn, the legal moves. Chance outcomes appear only through the views (a private card
    only in its holder's view); the transcript (``render()``) records them all.

    ## Rewards

    ``state.returns()`` at the terminal state: as component ``"outcome"`` in games whose returns
    lie in [-1, 1] (win +1, loss -1, draw 0), otherwise as :attr:`payoff_component` (``"chips"``
    in poker, ``"score"`` in Hanabi, ``"returns"`` by default) with ``"outcome"`` 0. With
    ``reward_shaping="mars"``: +0.05 for every accepted move (``"format"``) and, where MARS
    pays it (``draw_bonus``), +0.1 for a zero final return (``"draw_bonus"``). Invalid moves
    follow the invalid-move policy (default ``forfeit``, -1.5 / +0.5); :data:`MARS_FORFEIT` is
    MARS's -10 / 0, and ``forfeit_stake=True`` adds the offender's stake (``"stake"``). Under
    ``penalize`` the fallback move is the legal move with the lowest action id.

    ## Starting State

    OpenSpiel's initial state with its opening chance events resolved.

    ## Episode End

    Terminates at OpenSpiel's terminal state or on a forfeit; truncates after ``max_turns`` steps.

    ## Arguments

    ``game`` (name or game string), ``params`` (game parameters), ``reward_shaping``
    (``"none"`` or ``"mars"``), ``draw_bonus`` (``None``: MARS's 0.1 for the games MARS pays it
    in, under ``"mars"``), ``forfeit_stake``, ``public_actions`` (whether every seat is told each
    move; default: perfect-information games only), plus the base arguments of
    :class:`~selfplay_gym.core.text_game.TurnBasedTextEnv`.

    ## Version History

    * v0: initial version.
    """

    metadata: ClassVar[dict[str, Any]] = {**TurnBasedTextEnv.metadata, "name": "openspiel_v0"}
    game_string: ClassVar[str] = ""
    """The bound game (subclasses declared with ``game=``); empty for the generic class."""
    title: ClassVar[str] = ""
    """Human name of the game for the rules text (default: OpenSpiel's long name)."""
    rules_text: ClassVar[str] = ""
    """Rules in words, for the prompt; default: a pointer to OpenSpiel's rules of the game."""
    mars_draw_bonus: ClassVar[bool] = False
    """Whether MARS pays +0.1 for a zero final return in this game (TicTacToe, Hanabi)."""
    payoff_component: ClassVar[str] = "returns"
    """Name of the reward component that pays returns outside [-1, 1] (chips, a team score)."""
    public_moves: ClassVar[bool | None] = None
    """Whether every seat sees each move; ``None``: only in perfect-information games."""

    def __init_subclass__(
        cls, game: str | None = None, params: Mapping[str, Any] | None = None, **kwargs: Any
    ):
        super().__init_subclass__(**kwargs)
        if game is not None:
            cls._bind(cls, format_game_string(game, params))

    @staticmethod
    def _bind(target: Any, string: str) -> GameInfo:
        info = game_info(string)
        target.game_string = string
        target.move_names = info.move_names
        target.state_size = info.state_size
        target.has_chance = info.has_chance
        target.num_players = info.num_players
        return info

    def __init__(
        self,
        game: str | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        reward_shaping: str = "none",
        draw_bonus: float | None = None,
        forfeit_stake: bool = False,
        public_actions: bool | None = None,
        **kwargs: Any,
    ):
        if game is None and not self.game_string:
            raise ValueError("expected an OpenSpiel game name, such as 'kuhn_poker', got None")
        if reward_shaping not in REWARD_SHAPINGS:
            raise ValueError(
                f"expected reward_shaping in {REWARD_SHAPINGS}, got {reward_shaping!r}"
            )
        if game is not None:
            string = format_game_string(game, params)
            if self.game_string and string != self.game_string:
                raise ValueError(
                    f"{type(self).__name__} plays {self.game_string!r}; got game {string!r}"
                )
            info = self._bind(self, string)  # instance attributes shadow the generic class's
        else:
            if params:
                raise ValueError(f"{type(self).__name__} fixes its game parameters; got {params!r}")
            info = game_info(self.game_string)
        self._info = info
        self._game = info.game
        self._unit_returns = info.game.min_utility() >= -1.0 and info.game.max_utility() <= 1.0
        self.reward_shaping = reward_shaping
        self.format_reward = MARS_FORMAT_REWARD if reward_shaping == "mars" else 0.0
        if draw_bonus is None:
            draw_bonus = (
                MARS_DRAW_BONUS if reward_shaping == "mars" and self.mars_draw_bonus else 0.0
            )
        self.draw_bonus = float(draw_bonus)
        self.forfeit_stake = bool(forfeit_stake)
        if public_actions is None:
            public_actions = (
                self.public_moves if self.public_moves is not None else info.perfect_information
            )
        self.public_actions = bool(public_actions)
        self._state: Any = None
        self._legal_cache: tuple[int, ...] | None = None
        super().__init__(**kwargs)

    # ---- the OpenSpiel state ---------------------------------------------------------------
    @property
    def game(self) -> Any:
        """The ``pyspiel.Game`` being played."""
        return self._game

    @property
    def state(self) -> Any:
        """The current ``pyspiel.State`` (the omniscient one: bots of a seat use :meth:`agent_view`)."""
        return self._state

    def _resolve_chance(self) -> None:
        state = self._state
        while state.is_chance_node():
            outcomes = state.chance_outcomes()
            u = self.rng.random()
            action = outcomes[-1][0]
            for candidate, p in outcomes:
                u -= p
                if u < 0:
                    action = candidate
                    break
            self._note(f"Chance: {state.action_to_string(pyspiel.PlayerId.CHANCE, action)}.")
            state.apply_action(action)

    def _mover(self) -> str | None:
        """The agent to move now, or ``None`` (after calling :meth:`_finish`) at a terminal state."""
        state = self._state
        if state.is_terminal():
            self._finish_from_returns()
            return None
        return self.possible_agents[state.current_player()]

    def _finish_from_returns(self) -> None:
        returns = self._state.returns()
        scores = {a: float(returns[i]) for i, a in enumerate(self.possible_agents)}
        if self.draw_bonus:
            for agent, value in scores.items():
                if value == 0.0:
                    self._reward(agent, "draw_bonus", self.draw_bonus)
        self._note("Final state:\n" + str(self._state))
        text = self._outcome_text(scores)
        if self._unit_returns:
            self._finish(scores, text)
            return
        # Returns beyond +-1 (chips, a team score) are paid under their own name; "outcome"
        # keeps the project's meaning (+1 win, -1 loss, 0 draw) and is 0 here, as in the native
        # Kuhn Poker's chip payoff.
        for agent, value in scores.items():
            self._reward(agent, self.payoff_component, value)
        self._finish(dict.fromkeys(scores, 0.0), text)

    def _outcome_text(self, scores: dict[str, float]) -> str:
        listed = ", ".join(f"{a} {v:+g}" for a, v in scores.items())
        utility = self._game.get_type().utility
        if utility == pyspiel.GameType.Utility.IDENTICAL:
            return f"the team scores {next(iter(scores.values())):g}."
        best = max(scores.values())
        top = [a for a, v in scores.items() if v == best]
        if len(top) == len(scores):
            return f"a draw (returns: {listed})."
        return f"{' and '.join(top)} {'wins' if len(top) == 1 else 'win'} (returns: {listed})."

    # ---- game hooks ------------------------------------------------------------------------
    def _new_game(self) -> str:
        self._state = self._game.new_initial_state()
        self._legal_cache = None
        self._resolve_chance()
        mover = self._mover()
        if mover is None:  # a game decided by chance alone
            raise RuntimeError(f"{self.game_string}: the game ended before any player moved")
        self._tell(f"The game begins; {mover} moves first.")
        return mover

    def _rules(self, agent: str) -> str:
        seat = self._agent_index[agent]
        title = self.title or self._game.get_type().long_name
        n = self.num_players
        rules = self._rules_body()
        view = (
            "Each turn you see your view of the game"
            + (" (what you have seen so far)" if self._info.text == "information_state" else "")
            + " and, when it is your turn, the legal moves."
        )
        example = self.move_names[0]
        return (
            f"You are {agent} (player {seat}) in a game of {title} for {n} players "
            f"(player_0 to player_{n - 1}). Play to maximise your final score.\n"
            f"{rules}\n{view}\n"
            "Think as much as you like, then give exactly one of the legal moves, written as "
            f"listed, inside <answer></answer>, for example <answer>{example}</answer>. "
            + self._invalid_rule_text()
        )

    def _rules_body(self) -> str:
        """The rules in words (:attr:`rules_text`, else a pointer to OpenSpiel's game)."""
        return self.rules_text or f"The rules are those of OpenSpiel's game {self.game_string!r}."

    def view_text(self, agent: str) -> str:
        """What ``agent`` sees of the current state, as OpenSpiel's string for its seat."""
        player = self._agent_index[agent]
        if self._info.text == "observation":
            return self._state.observation_string(player)
        return self._state.information_state_string(player)

    def _state_text(self, agent: str) -> str:
        text = self.view_text(agent).rstrip()
        head = f"Your view:\n{text}" if text else "Your view: (nothing yet)"
        if not self._to_act(agent):
            return head
        legal = ", ".join(self.move_names[a] for a in self._legal_indices(agent))
        return f"{head}\nYou are to move. Legal moves: {legal}"

    def _legal_indices(self, agent: str) -> tuple[int, ...]:
        if self._state is None or self._state.is_terminal():
            return ()
        if self._agent_index[agent] != self._state.current_player():
            return ()
        if self._legal_cache is None:
            self._legal_cache = tuple(self._state.legal_actions())
        return self._legal_cache

    def _parse_move(self, agent: str, span: str) -> ParseResult:
        tokens = bracketed(span)
        candidate = tokens[-1] if tokens else span
        if len(candidate) > 200:
            candidate = candidate[-200:]
        table = self._info.lookup[self._agent_index[agent]]
        key = _key(candidate)
        action = table.get(key)
        if action is None:
            action = table.get(self._alias(key))
        legal = self._legal_indices(agent)
        listed = ", ".join(self.move_names[a] for a in legal)
        if action is None:
            return ParseResult(
                False, None, None, f"no move found: expected one of the legal moves {listed}."
            )
        name = self.move_names[action]
        if action not in legal:
            return ParseResult(False, None, name, f"{name} is not legal now: choose {listed}.")
        return ParseResult(True, action, name)

    def _alias(self, key: str) -> str:
        """Another spelling of a move name (lookup form) that a game accepts; itself by default."""
        return key

    def _move_from_index(self, index: int) -> int:
        return index

    def _fallback_move(self, agent: str) -> int:
        # OpenSpiel has no "pass the turn": the player to move must move.
        return self._legal_indices(agent)[0]

    def _apply(self, agent: str, action: int) -> str | None:
        name = self.move_names[action]
        if self.public_actions:
            self._tell(f"{agent} plays {name}.")
        else:
            self._tell(f"You play {name}.", to=agent)
            for other in self.possible_agents:
                if other != agent:
                    self._tell(f"{agent} moves.", to=other)
        if self.format_reward:
            self._reward(agent, "format", self.format_reward)
        self._state.apply_action(action)
        self._legal_cache = None
        self._resolve_chance()
        return self._mover()

    def _handle_invalid(self, agent: str, result: ParseResult) -> str | None:
        stake = self._stake(agent) if self.forfeit_stake else 0.0
        next_agent = super()._handle_invalid(agent, result)
        if stake and self._outcome == {}:  # the offender forfeited: it also loses its stake
            self._reward(agent, "stake", -stake)
        return next_agent

    def _stake(self, agent: str) -> float:
        """What ``agent`` loses on top of a forfeit under ``forfeit_stake`` (MARS's "bet").

        Default: the worst outcome of a zero-sum game (TicTacToe: 1), else the score earned so
        far (Hanabi); poker games override it with the chips put in the pot.
        """
        utility = self._game.get_type().utility
        if utility == pyspiel.GameType.Utility.ZERO_SUM and self._info.perfect_information:
            return -float(self._game.min_utility())
        return float(self._state.returns()[self._agent_index[agent]])

    def state_tensor(self, agent: str) -> np.ndarray:
        """The seat's OpenSpiel tensor (``float32``, clipped to [-1, 1])."""
        player = self._agent_index[agent]
        if self._info.tensor == "information_state":
            values = self._state.information_state_tensor(player)
        elif self._info.tensor == "observation":
            values = self._state.observation_tensor(player)
        else:
            raise NotImplementedError(f"{self.game_string} provides no tensor")
        return np.clip(np.asarray(values, dtype=np.float32), -1.0, 1.0)

    def agent_view(self, agent: str) -> dict[str, Any]:
        """What ``agent`` may read: its view string, information state and legal action ids.

        In perfect-information games it also holds a copy of the state, for search bots.
        """
        player = self._agent_index[agent]
        state = self._state
        info_state = (
            state.information_state_string(player)
            if self._game.get_type().provides_information_state_string
            else None
        )
        return {
            "player": player,
            "view": self.view_text(agent),
            "information_state": info_state,
            "legal": list(self._legal_indices(agent)) if self._to_act(agent) else [],
            "state": state.clone() if self._info.perfect_information else None,
            "game_string": self.game_string,
        }
