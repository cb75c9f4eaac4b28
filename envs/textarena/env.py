r"""The TextArena bridge: any TextArena game as a PettingZoo AEC env.

TextArena (``pip install selfplay-gym[textarena]``) is imported only here, when a bridged env is
first reset. The bridge drives TextArena's *raw* game (no TextArena wrappers) and builds the
prompts itself, which is how it removes what makes TextArena awkward to train on:

* **per-env randomness** -- TextArena seeds and draws from the process-global ``random`` module
  (and a few games from ``numpy.random``). The bridge keeps each env's own generator state and
  swaps it in around every call into TextArena, restoring the caller's state afterwards, so two
  bridged envs in one process are independent and the global generators are never disturbed;
* **history across resets** -- the prompt history is the bridge's, and it starts empty at every
  reset (TextArena's ``LLMObservationWrapper`` keeps it across resets, so prompts grow);
* **unbounded opponent text** -- each message is capped (``max_message_chars``) before it enters
  a prompt, an opponent's words are marked as that player's, and in board games (TextArena's ids
  without ``ClipCharactersActionWrapper``) other players see only the bracketed moves of a reply;
* **crashes on odd actions** -- actions are capped (``max_action_chars``), the answer span is
  extracted (``\boxed{}``, ``<answer>``), and an exception inside TextArena becomes a recorded
  outcome (the episode ends, ``info["textarena_error"]`` says why), never an exception out of
  ``step()``;
* **rewards only at close** -- TextArena's outcome reaches every agent at the step the game ends,
  through ``rewards`` / ``_cumulative_rewards`` and ``reward_components["outcome"]``.
"""

from __future__ import annotations

import random
import re
from typing import Any, ClassVar

import numpy as np
from gymnasium import logger
from pettingzoo import AECEnv

from selfplay_gym.core.parsers import DEFAULT_MAX_ACTION_CHARS, answer_span
from selfplay_gym.envs.textarena.catalog import BY_TEXTARENA_ID, TextArenaGame
from selfplay_gym.spaces import UnicodeText

__all__ = ["TextArenaEnv", "TextArenaCrash", "DEFAULT_MAX_MESSAGE_CHARS"]

DEFAULT_MAX_MESSAGE_CHARS = 1000
"""Default cap on one player's message as other players see it."""
DEFAULT_MAX_GAME_MESSAGE_CHARS = 6000
"""Cap on one message of the game itself (boards, rules reminders, results)."""
DEFAULT_MAX_OBSERVATION_CHARS = 32768
_EMPTY_MASK = np.zeros(0, dtype=np.int8)
_EMPTY_MASK.flags.writeable = False
_BRACKETED = re.compile(r"\[[^\[\]\n]{0,80}\]")
_LISTING_LINE = re.compile(
    r"(available|valid|legal|possible)[^\n]{0,40}(moves?|actions?|options?)", re.IGNORECASE
)
_NO_GAME = "no game in progress: call reset() first (every agent has finished, or none started)"
_TEXT_MODES = ("auto", "moves", "full")
CONVERSATIONAL_GAMES = frozenset(
    {
        "CharacterConclave",
        "Codenames",
        "Debate",
        "DontSayIt",
        "GuessWho",
        "NewRecruit",
        "ScenarioPlanning",
        "ScorableGames",
        "SecretMafia",
        "SettlersOfCatan",
        "SimpleNegotiation",
        "Taboo",
        "TruthAndDeception",
        "TwentyQuestions",
        "TwoDollar",
        "UsedCar",
        "UsedCarNegotiation",
    }
)
"""TextArena game folders where talk is part of play: other players see the (capped) words."""


class TextArenaCrash(RuntimeError):
    """TextArena raised while the bridge was calling it (kept as the episode's recorded outcome)."""


def _normalize(entry: Any, kinds: Any) -> tuple[int, str, Any]:
    """``(from_id, message, kind)`` of a TextArena message, whatever order a game passed them in.

    A few games call ``add_observation`` positionally in the wrong order, so the sender, the
    text and the type arrive shuffled; each is recognised by its type instead.
    """
    if (
        type(entry) is tuple
        and len(entry) == 3
        and type(entry[0]) is int
        and type(entry[1]) is str
        and type(entry[2]) is kinds
    ):
        return entry  # the usual order: (from_id, message, kind)
    if type(entry) is tuple and len(entry) == 2 and type(entry[0]) is int and type(entry[1]) is str:
        return entry[0], entry[1], None  # a log line: (from_id, message)
    parts = list(entry) if isinstance(entry, tuple | list) else [entry]
    kind = next((p for p in parts if isinstance(p, kinds)), kinds.GAME_MESSAGE)
    ints = [p for p in parts if isinstance(p, int) and not isinstance(p, bool)]
    texts = [p for p in parts if isinstance(p, str)]
    from_id = ints[0] if ints else -1
    message = texts[0] if texts else " ".join(str(p) for p in parts if p is not kind)
    return from_id, message, kind


def _cap(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]} [... {len(text) - limit} more characters cut]"


class TextArenaEnv(AECEnv):
    r"""A TextArena game played by ``num_players`` agents ``player_0 .. player_{n-1}``.

    ## Description

    Any id of TextArena's registry (``game_id``, e.g. ``"TicTacToe-v0"``,
    ``"KuhnPoker-v0-short"``), played through TextArena's own rules. Agent ``player_i`` is
    TextArena's player ``i``. Every TextArena id is registered as
    ``selfplay/TextArena<Name><Variant>-v<N>`` (see ``selfplay_gym.envs.textarena.catalog``).

    | Agents | ``player_0`` .. ``player_{n-1}`` (``n`` = ``num_players``) |
    |---|---|
    | API | AEC (TextArena's games are turn-based) |
    | Actions | text; the answer span is handed to TextArena |
    | Observations | text prompt: TextArena's rules, the game so far, the current board |

    ## Action Space

    ``UnicodeText`` (any string). Only the last ``max_action_chars`` characters are read; the
    answer span (last ``\boxed{}``, else last ``<answer>``, else the whole text), at most its last
    ``max_move_chars`` characters, goes to the game, bracketed if it has no brackets and
    TextArena's default id does so (``ActionFormattingWrapper``), clipped where TextArena's id
    clips. Anything that is not a ``str`` is an invalid move.

    ## Observation Space

    ``UnicodeText(max_observation_chars)``: the player's TextArena prompt (rules), then every
    message of this game the player received (player messages capped at ``max_message_chars``
    and marked with their sender), then the latest board. Oldest messages are dropped first
    when the prompt would be too long.

    ## Rewards

    TextArena's outcome (usually +1 win, -1 loss, 0 draw) at the step the game ends, as the
    component ``"outcome"``. Invalid moves follow TextArena's rule for the game (by default one
    resubmission with feedback, then the game is lost, or in many-player games the player is
    eliminated); ``error_allowance`` changes the number of resubmissions.

    ## Starting State

    TextArena's ``reset`` with a seed drawn from this env's generator.

    ## Episode End

    Terminates when TextArena says the game is done, or when TextArena raises (recorded in
    ``info["textarena_error"]``, no reward); truncates after ``max_turns`` steps.

    ## Arguments

    ``game_id`` (a TextArena id), ``num_players`` (default: the smallest count of two or more the
    game accepts), ``error_allowance`` (``None``: TextArena's 1), ``max_turns`` (500),
    ``max_action_chars``, ``max_message_chars`` (1000), ``max_observation_chars`` (32768),
    ``max_move_chars`` (the last this-many characters of the answer span reach TextArena; ``None``:
    1000 when other players see the words, 300 in board games, whose moves are short and whose
    move regexes can be slow on long text),
    ``opponent_text`` (``"auto"``: ``"full"`` for conversational games -- TextArena's ids that clip
    actions and :data:`CONVERSATIONAL_GAMES` --, else
    ``"moves"``: only the bracketed moves of another player's reply are shown), ``render_mode``
    (``None`` or ``"ansi"``).

    ## Version History

    * v0: initial version (the version of a bridged id is TextArena's).
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["ansi"],
        "render_fps": 1,
        "name": "textarena_v0",
        "is_parallelizable": False,
    }
    move_names: ClassVar[tuple[str, ...]] = ()
    """Free text: TextArena does not expose a finite move list, so there is no action mask."""
    state_size: ClassVar[int] = 0
    has_chance: ClassVar[bool] = False
    """Declared by the curated subclasses; the generic class does not know."""
    default_game_id: ClassVar[str | None] = None

    def __init__(
        self,
        game_id: str | None = None,
        *,
        num_players: int | None = None,
        error_allowance: int | None = None,
        max_turns: int = 500,
        max_action_chars: int = DEFAULT_MAX_ACTION_CHARS,
        max_message_chars: int = DEFAULT_MAX_MESSAGE_CHARS,
        max_observation_chars: int = DEFAULT_MAX_OBSERVATION_CHARS,
        max_move_chars: int | None = None,
        opponent_text: str = "auto",
        render_mode: str | None = None,
    ):
        super().__init__()
        game_id = game_id or self.default_game_id
        if game_id not in BY_TEXTARENA_ID:
            import difflib

            close = difflib.get_close_matches(str(game_id), list(BY_TEXTARENA_ID), n=3)
            raise ValueError(
                f"expected a TextArena id from its registry (e.g. 'TicTacToe-v0'), got {game_id!r}"
                + (f"; did you mean {close}?" if close else "")
            )
        game: TextArenaGame = BY_TEXTARENA_ID[game_id]
        if num_players is None:
            num_players = game.default_players
        if not isinstance(num_players, int) or num_players < 1:
            raise ValueError(f"expected num_players to be a positive int, got {num_players!r}")
        if game.players and num_players not in game.players:
            raise ValueError(
                f"expected num_players in {list(game.players)} for {game_id}, got {num_players}"
            )
        for name, value in (
            ("max_turns", max_turns),
            ("max_action_chars", max_action_chars),
            ("max_message_chars", max_message_chars),
            ("max_observation_chars", max_observation_chars),
        ):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"expected {name} to be a positive int, got {value!r}")
        if max_move_chars is not None and (
            not isinstance(max_move_chars, int) or max_move_chars < 1
        ):
            raise ValueError(
                f"expected max_move_chars to be a positive int or None, got {max_move_chars!r}"
            )
        if error_allowance is not None and (
            not isinstance(error_allowance, int) or error_allowance < 0
        ):
            raise ValueError(f"expected error_allowance >= 0 or None, got {error_allowance!r}")
        if opponent_text not in _TEXT_MODES:
            raise ValueError(f"expected opponent_text in {_TEXT_MODES}, got {opponent_text!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"expected render_mode in {self.metadata['render_modes']} or None, got {render_mode!r}"
            )
        self.game = game
        self.game_id = game_id
        self.num_players = num_players
        self.error_allowance = error_allowance
        self.max_turns = max_turns
        self.max_action_chars = max_action_chars
        self.max_message_chars = max_message_chars
        self.max_game_message_chars = max(DEFAULT_MAX_GAME_MESSAGE_CHARS, max_message_chars)
        self.max_observation_chars = max_observation_chars
        if opponent_text == "auto":
            folder = game.entry_point.split(":")[0].split(".")[-2]
            talk = bool(game.clip_chars) or folder in CONVERSATIONAL_GAMES
            opponent_text = "full" if talk else "moves"
        self.opponent_text = opponent_text
        if max_move_chars is None:
            max_move_chars = 1000 if opponent_text == "full" else 300
        self.max_move_chars = max_move_chars
        self.render_mode = render_mode
        self.possible_agents = [f"player_{i}" for i in range(num_players)]
        self._observation_spaces = {
            a: UnicodeText(max_observation_chars) for a in self.possible_agents
        }
        self._action_spaces = {a: UnicodeText(None) for a in self.possible_agents}
        self._seed_rng: random.Random | None = None
        self._ta_env: Any = None
        self._py_state: Any = None
        self._np_state: Any = None
        self._episode_seed: int | None = None
        self._calls: list[str | tuple[str, str]] = []
        self.agents: list[str] = []

    # ---- spaces ----------------------------------------------------------------------------
    def observation_space(self, agent: str) -> UnicodeText:
        """The prompt space of ``agent`` (the same object on every call)."""
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> UnicodeText:
        """Any text."""
        return self._action_spaces[agent]

    # ---- calls into TextArena, each with this env's own generator state ----------------------
    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` with this env's random state as the global one; restore the caller's after."""
        outer = random.getstate()
        random.setstate(self._py_state)
        numpy_too = self.game.numpy_random
        if numpy_too:
            outer_np = np.random.get_state()
            np.random.set_state(self._np_state)
        try:
            return fn(*args, **kwargs)
        finally:
            self._py_state = random.getstate()
            random.setstate(outer)
            if numpy_too:
                self._np_state = np.random.get_state()
                np.random.set_state(outer_np)

    def _start_game(self, episode_seed: int) -> None:
        """Build a fresh TextArena game object and reset it with ``episode_seed``."""
        from selfplay_gym.envs.textarena.catalog import construct_raw

        # A fresh game object every episode, built after the generator state is set from the
        # episode's seed: TextArena games keep state across their own resets (Kuhn Poker
        # shuffles the previous episode's deck in place, SpiteAndMalice cannot reset a used
        # object), so reusing one would make an episode depend on the episodes before it.
        self._py_state = random.Random(episode_seed).getstate()
        if self.game.numpy_random:
            self._np_state = np.random.RandomState(episode_seed % 2**32).get_state()
        self._ta_env = None
        self._ta_env = self._call(construct_raw, self.game_id)
        self._call(self._ta_env.reset, num_players=self.num_players, seed=episode_seed)
        if self.error_allowance is not None:
            self._ta_env.state.error_allowance = self.error_allowance

    # ---- PettingZoo API --------------------------------------------------------------------
    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        """Start a new game; ``seed`` fixes every random choice of this and later resets."""
        if seed is not None:
            self._seed_rng = random.Random(seed)
        elif self._seed_rng is None:
            self._seed_rng = random.Random()
        self._episode_seed = self._seed_rng.randrange(2**31)
        self._calls = []
        self.agents = self.possible_agents[:]
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self._components: dict[str, dict[str, float]] = {a: {} for a in self.agents}
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self._system: dict[str, list[str]] = {a: [] for a in self.agents}
        self._history: dict[str, list[str]] = {a: [] for a in self.agents}
        self._board: dict[str, str] = dict.fromkeys(self.agents, "")
        self._transcript: list[str] = []
        self._last_parse = {a: {"ok": True, "extracted": None, "error": None} for a in self.agents}
        self._last_invalid = dict.fromkeys(self.agents, False)
        self._turn = 0
        self._error: str | None = None
        self._reason: str | None = None
        self._obs_cache: dict[str, str] = {}
        self._logged = 0
        try:
            self._start_game(self._episode_seed)
        except Exception as exc:  # noqa: BLE001 - a game that cannot start is reported, not hidden
            raise TextArenaCrash(
                f"TextArena game {self.game_id} could not start: {type(exc).__name__}: {exc}"
            ) from exc
        self._drain()
        self.agent_selection = self.possible_agents[self._ta_env.state.current_player_id]
        self._refresh_infos()

    def observe(self, agent: str) -> str:
        """``agent``'s prompt now: TextArena's rules, the game so far, the latest board."""
        if agent not in self._history:
            raise RuntimeError(f"{agent!r} is not in a game: call reset() first")
        cached = self._obs_cache.get(agent)
        if cached is None:
            system, user = self._prompt_parts(agent)
            cached = self._obs_cache[agent] = f"{system}\n\n{user}"
        return cached

    def step(self, action: Any) -> None:
        """Hand ``action`` (text) to TextArena as the current agent's move."""
        if not self.agents:
            raise RuntimeError(_NO_GAME)
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        self._cumulative_rewards[agent] = 0.0
        self._components[agent] = {}
        self.rewards = dict.fromkeys(self.agents, 0.0)
        errors_before = self._error_count()
        if isinstance(action, str):
            text = self._prepare(action)
            call: str | tuple[str, str] = text
            extracted: str | None = text
        else:
            call = ("invalid", f"expected a str, got {type(action).__name__}.")
            extracted = None
        self._calls.append(call)
        crashed = self._play(call)
        self._turn += 1
        if not crashed:
            try:
                invalid, error, outcome, reason, next_agent = self._read_result(
                    agent, call, errors_before
                )
            except Exception as exc:  # noqa: BLE001 - a state the bridge cannot read is a crash
                first = (f"{type(exc).__name__}: {exc}".splitlines() or ["error"])[0]
                self._error = f"TextArena left a state the bridge cannot read: {_cap(first, 300)}"
                crashed = True
        if crashed:
            invalid, error, outcome, reason, next_agent = True, self._error, {}, self._error, None
        self._last_parse[agent] = {
            "ok": not invalid,
            "extracted": extracted,
            "error": error if invalid else None,
        }
        self._last_invalid[agent] = invalid
        self._drain()
        if outcome is not None:
            for a, value in outcome.items():
                self.rewards[a] = value
                self._components[a]["outcome"] = value
            self._reason = reason
            self._transcript.append(f"[bridge] Game over: {reason}")
            self.terminations = dict.fromkeys(self.agents, True)
            self.agent_selection = agent
        else:
            if self._turn >= self.max_turns:
                self._transcript.append(f"[bridge] The limit of {self.max_turns} turns is reached.")
                self.truncations = dict.fromkeys(self.agents, True)
            self.agent_selection = next_agent
        for a, reward in self.rewards.items():
            self._cumulative_rewards[a] += reward
        self._refresh_infos()

    def _was_dead_step(self, action: Any) -> None:
        """Remove the selected finished agent and select the next finished one."""
        if action is not None:
            raise ValueError("when an agent is dead, the only valid action is None")
        agent = self.agent_selection
        del self.terminations[agent], self.truncations[agent]
        del self.rewards[agent], self._cumulative_rewards[agent]
        self.infos.pop(agent, None)
        self.agents.remove(agent)
        for other in self.agents:
            if self.terminations[other] or self.truncations[other]:
                self.agent_selection = other
                break
        self.rewards = dict.fromkeys(self.agents, 0.0)

    def render(self) -> str | None:
        """The omniscient transcript so far (``ansi``); a warning and ``None`` without a mode."""
        if self.render_mode is None:
            logger.warn("You are calling render() without a render_mode; pass render_mode='ansi'.")
            return None
        return "\n".join(self._transcript)

    def close(self) -> None:
        """Drop TextArena's game object (every reset builds a new one)."""
        self._ta_env = None

    def legal_actions(self, agent: str | None = None) -> list[str]:
        """Always empty: TextArena games are free text here (see :meth:`listed_moves`)."""
        return []

    def listed_moves(self, agent: str | None = None) -> list[str]:
        """The bracketed moves the game lists in ``agent``'s latest messages ("Available moves: ...").

        TextArena has no legal-move API; many games print the moves available to the player
        to act, and this reads them back. Empty when the game lists none (or it is not
        ``agent``'s turn).
        """
        agent = agent or self.agent_selection
        if agent != self.agent_selection or not self._live(agent):
            return []
        texts = [self._board.get(agent, ""), *self._history[agent][-3:]]
        found: list[str] = []
        for text in texts:
            for line in text.splitlines():
                if _LISTING_LINE.search(line):
                    for token in _BRACKETED.findall(line):
                        if token not in found:
                            found.append(token)
        return found

    def rules_moves(self, agent: str) -> list[str]:
        """Bracketed examples in ``agent``'s rules (a fallback for bots when nothing is listed)."""
        found: list[str] = []
        for token in _BRACKETED.findall("\n".join(self._system.get(agent, []))):
            if token not in found:
                found.append(token)
        return found

    @property
    def transcript(self) -> list[str]:
        """Every message of the game so far (kept only with ``render_mode="ansi"``)."""
        return list(self._transcript)

    # ---- internals -------------------------------------------------------------------------
    def _index(self, agent: str) -> int:
        return int(agent.rpartition("_")[2])

    def _live(self, agent: str) -> bool:
        return not (self.terminations.get(agent, True) or self.truncations.get(agent, True))

    def _prepare(self, action: str) -> str:
        """The text TextArena receives: capped, answer span, formatted and clipped like its id."""
        if len(action) > self.max_action_chars:
            action = action[-self.max_action_chars :]
        text = answer_span(action)
        if len(text) > self.max_move_chars:
            # TextArena's move regexes are not all linear (ConnectFour's takes seconds on 8,000
            # characters of brackets): only the end of the answer, where the move is, goes in.
            text = text[-self.max_move_chars :]
        if self.game.format_actions and "[" not in text and "]" not in text:
            text = f"[{text}]"
        if self.game.clip_chars and len(text) > self.game.clip_chars:
            text = text[-self.game.clip_chars :]
        return text

    def _play(self, call: str | tuple[str, str]) -> bool:
        """Send one call to TextArena; return True (and keep the reason) if TextArena raised."""
        try:
            if isinstance(call, str):
                self._call(self._ta_env.step, call)
            else:
                self._call(self._invalid_step, call[1])
        except Exception as exc:  # noqa: BLE001 - a crash inside TextArena is an outcome
            first = (f"{type(exc).__name__}: {exc}".splitlines() or ["error"])[0]
            self._error = f"TextArena raised {_cap(first, 300)}"
            return True
        return False

    def _error_count(self) -> int:
        try:
            return int(getattr(self._ta_env.state, "error_count", 0) or 0)
        except Exception:  # noqa: BLE001 - a game without the usual counter
            return 0

    def _read_result(
        self, agent: str, call: str | tuple[str, str], errors_before: int
    ) -> tuple[bool, str | None, dict[str, float] | None, str | None, str | None]:
        """Invalid?, its reason, the outcome (``None`` while the game goes on), why it ended, who is next."""
        state = self._ta_env.state
        game_info = getattr(state, "game_info", None)
        game_info = game_info if isinstance(game_info, dict) else {}
        mine = game_info.get(self._index(agent))
        mine = mine if isinstance(mine, dict) else {}
        invalid = (
            not isinstance(call, str)
            or self._error_count() > errors_before
            or bool(mine.get("invalid_move"))
        )
        error = self._invalid_reason(agent, call) if invalid else None
        if state.done:
            raw = state.rewards or {}
            outcome = {a: float(raw.get(self._index(a), 0.0)) for a in self.agents}
            reasons = {
                str(i.get("reason"))
                for i in game_info.values()
                if isinstance(i, dict) and i.get("reason")
            }
            return invalid, error, outcome, "; ".join(sorted(reasons)) or "game over", None
        eliminated = set(getattr(state, "elimination_order", None) or ())
        alive = [a for a in self.agents if self._index(a) not in eliminated]
        if eliminated and len(alive) <= 1 and self.num_players > 1:
            # Some many-player games never end when invalid moves leave one player, and TextArena's
            # state then loops forever looking for the next live player once the last one goes
            # (PublicGoodsGame-v0): the bridge ends the game here, the last player winning.
            outcome = {a: (1.0 if a in alive else -1.0) for a in self.agents}
            reason = f"only {alive[0] if alive else 'nobody'} is left after invalid moves"
            return invalid, error, outcome, reason + " (ended by the bridge)", None
        return invalid, error, None, None, self.possible_agents[int(state.current_player_id)]

    def _invalid_step(self, reason: str) -> None:
        """A non-text action: TextArena's own invalid-move rule, as if the game had rejected it."""
        state = self._ta_env.state
        outcome = state.set_invalid_move(reason=reason)
        if outcome is True and hasattr(state, "elimination_order"):
            # Many-player states only record the elimination; end the game if one player is left.
            alive = [p for p in range(self.num_players) if p not in state.elimination_order]
            if len(alive) <= 1:
                state.set_winners(player_ids=alive, reason=f"Player eliminated: {reason}")
        state.step()

    def _invalid_reason(self, agent: str, call: str | tuple[str, str]) -> str:
        if not isinstance(call, str):
            return call[1]
        pid = self._index(agent)
        state = self._ta_env.state
        import textarena as ta

        for entry in reversed(state.observations.get(pid, [])):
            from_id, message, _kind = _normalize(entry, ta.ObservationType)
            if from_id == -1 and "invalid" in message.lower():
                return _cap(message, 500)
        reason = (getattr(state, "game_info", {}) or {}).get(pid, {}).get("reason")
        return _cap(str(reason), 500) if reason else "TextArena rejected the move."

    def _drain(self) -> None:
        """Move every player's pending TextArena messages into the bridge's own history."""
        import textarena as ta

        kinds = ta.ObservationType
        state = self._ta_env.state
        # id of a message's text -> who received it (TextArena's broadcasts share one str object)
        recipients: dict[int, list[int]] = {}
        keep_transcript = self.render_mode is not None
        for pid, queue in list(state.observations.items()):
            if not queue:
                continue
            state.observations[pid] = []
            agent = f"player_{pid}"
            if agent not in self._history:
                continue
            for entry in queue:
                from_id, message, kind = _normalize(entry, kinds)
                if keep_transcript:
                    recipients.setdefault(id(message), []).append(pid)
                if kind == kinds.PROMPT:
                    self._system[agent].append(_cap(message, self.max_game_message_chars))
                elif kind == kinds.GAME_BOARD:
                    self._board[agent] = _cap(message, self.max_game_message_chars)
                elif from_id == pid and kind == kinds.PLAYER_ACTION:
                    self._history[agent].append(f"[You] {_cap(message, self.max_message_chars)}")
                elif from_id >= 0:
                    self._history[agent].append(self._words_of(from_id, message))
                else:
                    self._history[agent].append(
                        f"[GAME] {_cap(message, self.max_game_message_chars)}"
                    )
        if keep_transcript:  # the omniscient transcript is for render(); skipped without a mode
            self._log_transcript(state, recipients)

    def _log_transcript(self, state: Any, recipients: dict[int, list[int]]) -> None:
        """Append TextArena's new log lines to the transcript, private ones marked with their reader."""
        import textarena as ta

        logs = getattr(state, "logs", None) or ()
        for entry in logs[self._logged :]:
            from_id, message, _ = _normalize(entry, ta.ObservationType)
            who = "GAME" if from_id == -1 else f"player_{from_id}"
            readers = sorted(set(recipients.get(id(message), ())))
            to = (
                f" (to {', '.join(f'player_{p}' for p in readers)})"
                if 0 < len(readers) < self.num_players
                else ""
            )
            text = _cap(message, self.max_game_message_chars)
            self._transcript.append(f"[{who}]{to} {text}")
        self._logged = len(logs)

    def _words_of(self, from_id: int, message: str) -> str:
        """Another player's reply as ``agent`` sees it: its moves only, or its capped words."""
        who = f"player_{from_id}"
        if self.opponent_text == "moves":
            moves = " ".join(_BRACKETED.findall(message[-self.max_action_chars :]))
            if not moves:
                return f"[{who}] (a reply without a bracketed move)"
            return f"[{who}] played {_cap(moves, self.max_message_chars)}"
        return f"[{who} says] {_cap(message, self.max_message_chars)}"

    def _prompt_parts(self, agent: str) -> tuple[str, str]:
        """The system part (TextArena's rules) and the user part (history + board) of the prompt."""
        system = "\n\n".join(self._system[agent]) or f"You are {agent} in {self.game_id}."
        lines = self._history[agent]
        board = self._board[agent]
        tail = f"\n\n{board}" if board else ""
        body = "\n".join(lines) if lines else "(no messages yet)"
        user = f"{body}{tail}"
        limit = self.max_observation_chars
        if len(system) + len(user) + 2 > limit:
            budget = limit - len(system) - len(tail) - 50
            kept: list[str] = []
            for line in reversed(lines):
                budget -= len(line) + 1
                if budget < 0:
                    break
                kept.append(line)
            user = "\n".join(
                [f"({len(lines) - len(kept)} earlier messages omitted)", *reversed(kept)]
            )
            user += tail
            if len(system) + len(user) + 2 > limit:
                room = max(limit - len(user) - 6, 0)
                system = system[:room] + "..."
                user = user[-(limit - len(system) - 2) :]
        return system, user

    def _refresh_infos(self) -> None:
        self._obs_cache = {}
        self.infos = {a: self._build_info(a) for a in self.agents}

    def _build_info(self, agent: str) -> dict[str, Any]:
        acting = agent == self.agent_selection and self._live(agent)
        components = self._components[agent]
        info: dict[str, Any] = {
            "role": "player",
            "seat": self._index(agent),
            "turn": self._turn,
            "phase": "play" if self._live(agent) else "over",
            "legal_actions": [],
            "action_mask": _EMPTY_MASK,
            "parse": dict(self._last_parse[agent]),
            "invalid_action": self._last_invalid[agent],
            "reward_components": dict(components),
            "messages": [],
            "textarena_id": self.game_id,
        }
        if acting:
            system, user = self._prompt_parts(agent)
            self._obs_cache[agent] = f"{system}\n\n{user}"
            info["messages"] = [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ]
        if self.terminations.get(agent) and self._reason is not None:
            info["game_over_reason"] = self._reason
            if self._error is not None:
                info["textarena_error"] = self._error
        return info

    # ---- pickling: TextArena's game object is rebuilt by replaying the episode -------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_ta_env"] = None
        state["_needs_replay"] = self._ta_env is not None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        replay = state.pop("_needs_replay", False)
        py_state, np_state = state.get("_py_state"), state.get("_np_state")
        self.__dict__.update(state)
        if replay and self._episode_seed is not None:
            self._start_game(self._episode_seed)
            for call in self._calls:
                self._play(call)
            for pid in list(self._ta_env.state.observations):
                self._ta_env.state.observations[pid] = []
            self._py_state, self._np_state = py_state, np_state

    def __str__(self) -> str:
        return f"TextArenaEnv<{self.game_id}>"
