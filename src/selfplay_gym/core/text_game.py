r"""The base class of turn-based language games.

:class:`TurnBasedTextEnv` is a PettingZoo :class:`~pettingzoo.AECEnv` whose observations are prompts
and whose actions are a model's raw output. A game subclass supplies the rules and the state;
this class supplies everything else once, for every game:

* seeding from ``reset(seed=...)`` only (never the global RNGs);
* capping the action's length, extracting the answer span (last ``\boxed{}``, else the last
  ``<answer>`` tag, else the whole text) and handing it to the game's move parser;
* integer actions, read as indices into the game's canonical move list (the numeric path);
* the invalid-move policy (forfeit, penalize, retry with feedback in the next prompt);
* the per-agent history that prompts are built from, and the omniscient transcript that
  ``render()`` returns in ``ansi`` mode;
* the info schema of DESIGN.md section 3 on every agent after every step;
* turn-limit truncation.

A game implements the hooks in the "game hooks" section below; see ``envs/text_games`` for three
complete examples.
"""

from __future__ import annotations

import random
from typing import Any, ClassVar

import numpy as np
from gymnasium import logger
from gymnasium.spaces import Box
from gymnasium.utils import seeding
from pettingzoo import AECEnv

from selfplay_gym.core.invalid import InvalidMovePolicy
from selfplay_gym.core.parsers import DEFAULT_MAX_ACTION_CHARS, ParseResult, answer_span
from selfplay_gym.spaces import MoveText, UnicodeText

__all__ = ["TurnBasedTextEnv", "DEFAULT_MAX_OBSERVATION_CHARS"]

DEFAULT_MAX_OBSERVATION_CHARS = 65536
MIN_OBSERVATION_CHARS = 1024
"""Smallest prompt cap accepted: the rules may be shortened to fit, the position never is."""

_NO_GAME = "no game in progress: call reset() first (every agent has finished, or none started)"

LEGAL_CACHE_LIMIT = 4096
"""Legal tables an env keeps before it starts its cache afresh."""

LegalTable = tuple[tuple[int, ...], tuple[str, ...], np.ndarray, frozenset[int]]
"""Legal moves in every form: indices, names, read-only ``int8`` mask, set of indices."""


class TurnBasedTextEnv(AECEnv):
    """A turn-based game played in text by ``num_players`` agents ``player_0 .. player_{n-1}``.

    Args:
        invalid_move: The invalid-move policy: an :class:`InvalidMovePolicy`, a mode name
            (``"forfeit"``, ``"penalize"``, ``"retry"``) or a mapping of its fields.
            ``None`` takes the game's default.
        max_turns: Steps (moves and failed attempts) after which the episode is truncated,
            with no outcome reward (SPIRAL counts this as a draw).
        max_action_chars: Only the last this-many characters of an action are read.
        max_observation_chars: Length cap of a prompt (oldest history lines are dropped first).
        history_lines: Keep only the newest this-many lines of the move history in prompts
            (``None``: all of them; ``0``: none, the prompt is the rules and the current
            position). Only for games whose position text holds everything a player may know
            (TicTacToe's board does); a game that tells a player something once, in its
            history, would forget it.
        system_prompt: Replace the game's rules text (the system message) with this template;
            ``{agent}`` and the game's :attr:`prompt_fields` are filled in per player (e.g.
            TicTacToe's ``"Tic-tac-toe. You play {mark}."``). ``None``: the game's own rules.
            The position and the legal moves still follow in the user message.
        render_mode: ``None`` or ``"ansi"`` (``render()`` returns the transcript).
    """

    # Per-step state lives in slots: the instance dict of an env holds more names than CPython's
    # shared-key dicts allow, and attribute access on the hot path is much cheaper this way.
    __slots__ = (
        "agents",
        "rewards",
        "_cumulative_rewards",
        "_components",
        "terminations",
        "truncations",
        "_history",
        "_transcript",
        "_feedback",
        "_last_parse",
        "_last_invalid",
        "_outcome",
        "_turn",
        "_rewarded",
        "_attempts_left",
        "agent_selection",
        "_infos",
        "_infos_complete",
        "_obs_cache",
        "_live",
        "_legal_entry",
        "_system_prompts",
        "_canonical_index",
        "_retry_budget",
        "_next_seat",
        "_agent_index",
        "_roles",
        "max_action_chars",
        "max_observation_chars",
        "history_lines",
        "system_prompt",
        "max_turns",
        "_zero_mask",
        "_seed",
        "_rng",
        "_np_random",
        "_np_random_seed",
        "_invalid_move",
        "_legal_table_cache",
        "possible_agents",
    )

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["ansi"],
        "render_fps": 1,
        "name": "turn_based_text_v0",
        "is_parallelizable": False,
    }

    # ---- what a game declares --------------------------------------------------------------
    num_players: ClassVar[int] = 2
    move_names: ClassVar[tuple[str, ...]] = ()
    """Canonical moves, in numeric-action order; ``info["action_mask"]`` indexes this tuple."""
    state_size: ClassVar[int] = 0
    """Length of :meth:`state_tensor`."""
    fallback_description: ClassVar[str] = "you lose the turn"
    """What :meth:`_fallback_move` does, for the rules text of the ``penalize`` policy."""
    has_chance: ClassVar[bool] = False
    """Whether the game draws random events (deals); declared so generic tests can check seeding."""
    default_invalid_move: ClassVar[InvalidMovePolicy] = InvalidMovePolicy()
    prompt_fields: ClassVar[tuple[str, ...]] = ()
    """Fields a ``system_prompt`` template may use besides ``{agent}`` (see :meth:`_prompt_values`)."""

    def __init__(
        self,
        *,
        invalid_move: InvalidMovePolicy | str | dict[str, Any] | None = None,
        max_turns: int = 50,
        max_action_chars: int = DEFAULT_MAX_ACTION_CHARS,
        max_observation_chars: int = DEFAULT_MAX_OBSERVATION_CHARS,
        history_lines: int | None = None,
        system_prompt: str | None = None,
        render_mode: str | None = None,
    ):
        super().__init__()
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"expected render_mode in {self.metadata['render_modes']} or None, got {render_mode!r}"
            )
        for name, value in (
            ("max_turns", max_turns),
            ("max_action_chars", max_action_chars),
            ("max_observation_chars", max_observation_chars),
        ):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"expected {name} to be a positive int, got {value!r}")
        if history_lines is not None and (
            not isinstance(history_lines, int)
            or isinstance(history_lines, bool)
            or history_lines < 0
        ):
            raise ValueError(
                f"expected history_lines to be None or an int >= 0, got {history_lines!r}"
            )
        if max_observation_chars < MIN_OBSERVATION_CHARS:
            raise ValueError(
                f"expected max_observation_chars >= {MIN_OBSERVATION_CHARS}, got {max_observation_chars}"
            )
        self.render_mode = render_mode
        self._invalid_move = (
            self.default_invalid_move
            if invalid_move is None
            else InvalidMovePolicy.coerce(invalid_move)
        )
        self.max_turns = max_turns
        self.max_action_chars = max_action_chars
        self.max_observation_chars = max_observation_chars
        self.history_lines = history_lines
        self.system_prompt = self._checked_template(system_prompt)
        self.possible_agents = [f"player_{i}" for i in range(self.num_players)]
        self._agent_index = {a: i for i, a in enumerate(self.possible_agents)}
        # "player_1" -> role "player", seat 1 (agents are named <role>_<index>)
        self._roles = {a: a.rpartition("_")[0] for a in self.possible_agents}
        self._next_seat = {
            a: self.possible_agents[(i + 1) % self.num_players]
            for i, a in enumerate(self.possible_agents)
        }
        n_moves = len(self.move_names)
        self._observation_spaces = {
            a: UnicodeText(max_observation_chars) for a in self.possible_agents
        }
        self._action_spaces = {
            # Any string is a valid action (only its tail is read), whatever its length.
            a: MoveText(None, self.move_names)
            for a in self.possible_agents
        }
        self._state_space = Box(-1.0, 1.0, shape=(self.state_size,), dtype=np.float32)
        # Masks handed out in infos are read-only and shared: nobody can alter another step's mask.
        self._zero_mask = np.zeros(n_moves, dtype=np.int8)
        self._zero_mask.flags.writeable = False
        self._canonical_index = {name: i for i, name in enumerate(self.move_names)}
        self._retry_budget = self._invalid_move.retry_budget
        # Legal-index tuple -> LegalTable; per env, since move sets may differ between envs.
        self._legal_table_cache: dict[tuple[int, ...], tuple] = {}
        self._np_random: np.random.Generator | None = None
        self._np_random_seed: int | None = None
        self._seed: int | None = None
        self._rng: random.Random | None = None
        self._system_prompts: dict[str, str] | None = None
        self._legal_entry: LegalTable | None = None
        self._history: dict[str, list[str]] = {}
        self._transcript: list[str] = []
        self._obs_cache: dict[str, str] = {}
        self.agents = []

    # ---- spaces ----------------------------------------------------------------------------
    def observation_space(self, agent: str) -> UnicodeText:
        """The prompt space of ``agent`` (the same object on every call)."""
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> MoveText:
        """The action space of ``agent``: any text, with the canonical moves for masked sampling."""
        return self._action_spaces[agent]

    @property
    def invalid_move(self) -> InvalidMovePolicy:
        """The invalid-move policy, fixed at construction (prompts and budgets are built from it)."""
        return self._invalid_move

    @property
    def state_space(self) -> Box:
        """The space of :meth:`state_tensor`."""
        return self._state_space

    @property
    def np_random(self) -> np.random.Generator:
        """The env's generator, created on first use when ``reset`` was never given a seed."""
        if self._np_random is None:
            self._np_random, self._np_random_seed = seeding.np_random(self._seed)
        return self._np_random

    # ---- game hooks (override in a game) ---------------------------------------------------
    def _new_game(self) -> str:
        """Set up a new game (drawing chance from :attr:`rng`); tell the players; return the first mover."""
        raise NotImplementedError

    def _rules(self, agent: str) -> str:
        """The fixed part of ``agent``'s prompt: rules and answer format.

        Computed once per env, at the first reset, so it may depend on constructor arguments
        but not on one game's random draws (tell those with :meth:`_tell`).
        """
        raise NotImplementedError

    def _prompt_values(self, agent: str) -> dict[str, str]:
        """Values of :attr:`prompt_fields` for ``agent`` (a ``system_prompt`` template's fields)."""
        return {}

    def _checked_template(self, template: str | None) -> str | None:
        """``template`` if it formats with ``{agent}`` and :attr:`prompt_fields` alone.

        Checked by a trial format at construction, so a bad template fails here, not at the
        first reset.
        """
        if template is None:
            return None
        if not isinstance(template, str):
            raise ValueError(f"expected system_prompt to be a str or None, got {template!r:.80}")
        allowed = ("agent", *self.prompt_fields)
        try:
            template.format(**dict.fromkeys(allowed, ""))
        except (KeyError, IndexError) as exc:
            field = exc.args[0] if isinstance(exc, KeyError) else ""
            raise ValueError(
                f"system_prompt names the field {{{field}}}; expected only {allowed} "
                "(double a brace to write it literally: {{ }})"
            ) from None
        except ValueError as exc:
            raise ValueError(f"system_prompt is not a valid template: {exc}") from None
        return template

    def _state_text(self, agent: str) -> str:
        """The current position as ``agent`` sees it, ending with its legal moves when it acts."""
        raise NotImplementedError

    def _legal_indices(self, agent: str) -> tuple[int, ...]:
        """Indices into :attr:`move_names` of the moves legal for ``agent`` now, as a (hashable) tuple."""
        raise NotImplementedError

    def _parse_move(self, agent: str, span: str) -> ParseResult:
        """Read a move from the answer span of ``agent``'s output; check that it is legal now."""
        raise NotImplementedError

    def _apply(self, agent: str, move: Any) -> str | None:
        """Play a legal ``move``; return the next agent to act, or ``None`` when :meth:`_finish` was called."""
        raise NotImplementedError

    def _move_from_index(self, index: int) -> Any:
        """The move that numeric action ``index`` stands for (its canonical name by default)."""
        return self.move_names[index]

    def _fallback_move(self, agent: str) -> Any | None:
        """The move played for ``agent`` under the ``penalize`` policy; ``None`` passes the turn."""
        return None

    def state_tensor(self, agent: str) -> np.ndarray:
        """A numeric encoding of what ``agent`` knows (``float32`` in [-1, 1], length :attr:`state_size`)."""
        raise NotImplementedError

    def agent_view(self, agent: str) -> dict[str, Any]:
        """A structured copy of what ``agent`` knows; what scripted bots read."""
        raise NotImplementedError

    # ---- helpers a game calls --------------------------------------------------------------
    def _tell(self, line: str, to: str | None = None) -> None:
        """Add ``line`` to the history of ``to`` (every player when ``None``) and to the transcript."""
        if to is None:
            for history in self._history.values():
                history.append(line)
            self._transcript.append(line)
        else:
            self._history[to].append(line)
            self._transcript.append(f"({to} only) {line}")

    def _note(self, line: str) -> None:
        """Add ``line`` to the transcript only (hidden information, for ``render``)."""
        self._transcript.append(line)

    def _finish(self, scores: dict[str, float], reason: str) -> None:
        """End the game: ``scores`` are the outcome rewards (+1 win, -1 loss, 0 draw)."""
        self._outcome = scores
        self._tell(f"Game over: {reason}")

    def _to_act(self, agent: str) -> bool:
        """Whether ``agent`` is the one to move in a game that is still going (after a step)."""
        return self._live and agent == self.agent_selection

    def _invalid_rule_text(self) -> str:
        """One sentence, for the rules, on what an unusable reply costs under the current policy."""
        policy = self.invalid_move
        if policy.mode == "forfeit":
            return "A reply without a legal move loses the game on the spot."
        if policy.mode == "penalize":
            return f"A reply without a legal move is penalized and {self.fallback_description}."
        then = "loses the game" if policy.exhausted == "forfeit" else "is penalized"
        if policy.retry_budget == 0:
            return f"A reply without a legal move {then}."
        return (
            f"A reply without a legal move must be resubmitted; after {policy.retry_budget} failed "
            f"retries in one turn it {then}."
        )

    def _other(self, agent: str) -> str:
        """The next agent after ``agent`` in seat order."""
        return self._next_seat[agent]

    # ---- PettingZoo API --------------------------------------------------------------------
    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        """Start a new game; ``seed`` fixes every random choice of this and later resets."""
        if seed is not None:
            self._seed = seed
            self._rng = None  # built on first use: games without chance never pay for it
            self._np_random = None
        self.agents = self.possible_agents[:]
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self._components: dict[str, dict[str, float]] = {a: {} for a in self.agents}
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self._history: dict[str, list[str]] = {a: [] for a in self.agents}
        self._transcript: list[str] = []
        self._feedback: dict[str, str] = {}
        self._last_parse = {a: {"ok": True, "extracted": None, "error": None} for a in self.agents}
        self._last_invalid = dict.fromkeys(self.agents, False)
        self._outcome: dict[str, float] | None = None
        self._turn = 0
        self._rewarded = False
        self._attempts_left = self._retry_budget
        if self._system_prompts is None:
            self._system_prompts = {
                a: self._rules(a)
                if self.system_prompt is None
                else self.system_prompt.format(agent=a, **self._prompt_values(a))
                for a in self.agents
            }
        self.agent_selection = self._new_game()
        self._refresh_infos()

    @property
    def rng(self) -> random.Random:
        """The game's generator: seeded by ``reset(seed=...)``, continued by later unseeded resets."""
        if self._rng is None:
            self._rng = random.Random(self._seed)
        return self._rng

    def observe(self, agent: str) -> str:
        """``agent``'s prompt for the current position (rules, history, state, legal moves)."""
        if agent not in self._history:
            raise RuntimeError(f"{agent!r} is not in a game: call reset() first")
        cached = self._obs_cache.get(agent)
        if cached is None:
            cached = self._obs_cache[agent] = self._render_prompt(agent, self._user_text(agent))
        return cached

    def step(self, action: Any) -> None:
        """Play ``action`` (text, or an int index into :attr:`move_names`) for the current agent."""
        if not self.agents:
            raise RuntimeError(_NO_GAME)
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        self._cumulative_rewards[agent] = 0.0
        if self._components[agent]:
            self._components[agent] = {}
        if self._rewarded:  # rewards of the previous step: this step starts from zeros again
            self._rewarded = False
            self.rewards = dict.fromkeys(self.agents, 0.0)

        move = None
        if isinstance(action, str):
            # Fast path: the reply is exactly a canonical move (what bots, numeric agents and
            # well-behaved models send); otherwise cap, extract the answer span and parse.
            index = self._canonical_index.get(action)
            span = action
            if index is None:
                if len(action) > self.max_action_chars:
                    action = action[-self.max_action_chars :]
                span = answer_span(action)
                index = self._canonical_index.get(span.strip())
            legal = self._legal_entry or self._legal_table(agent)
            if index is not None and index in legal[3]:
                move = self._move_from_index(index)
                self._last_parse[agent] = {
                    "ok": True,
                    "extracted": self.move_names[index],
                    "error": None,
                }
            else:
                result = self._parse_move(agent, span)
        else:
            result = self._read_other_action(agent, action)
        if move is None and result.ok:
            move = result.move
            self._last_parse[agent] = {"ok": True, "extracted": result.extracted, "error": None}
        if move is not None:
            self._last_invalid[agent] = False
            if self._feedback:
                self._feedback.pop(agent, None)
            self._attempts_left = self._retry_budget
            next_agent = self._apply(agent, move)
        else:
            self._last_parse[agent] = {
                "ok": False,
                "extracted": result.extracted,
                "error": result.error,
            }
            self._last_invalid[agent] = True
            next_agent = self._handle_invalid(agent, result)
        self._turn += 1

        if self._outcome is not None:
            for a, value in self._outcome.items():
                self._reward(a, "outcome", value)
            self.terminations = dict.fromkeys(self.agents, True)
        elif self._turn >= self.max_turns:
            self._tell(f"The game stops: the limit of {self.max_turns} turns is reached.")
            self.truncations = dict.fromkeys(self.agents, True)
        self.agent_selection = next_agent if next_agent is not None else self._other(agent)
        if self._rewarded:
            for a, reward in self.rewards.items():
                self._cumulative_rewards[a] += reward
        self._refresh_infos()

    def _was_dead_step(self, action: Any) -> None:
        """Remove the selected finished agent and select the next finished one.

        PettingZoo's rule, simplified for games whose agents all finish together, which is what
        this base class produces.
        """
        if action is not None:
            raise ValueError("when an agent is dead, the only valid action is None")
        agent = self.agent_selection
        del self.terminations[agent], self.truncations[agent]
        del self.rewards[agent], self._cumulative_rewards[agent]
        self._infos.pop(agent, None)
        self.agents.remove(agent)
        for other in self.agents:
            if self.terminations[other] or self.truncations[other]:
                self.agent_selection = other
                break
        self.rewards = dict.fromkeys(self.agents, 0.0)

    def render(self) -> str | None:
        """The transcript so far (``ansi``); a warning and ``None`` without a render mode."""
        if self.render_mode is None:
            logger.warn("You are calling render() without a render_mode; pass render_mode='ansi'.")
            return None
        return "\n".join(self._transcript)

    def close(self) -> None:
        """Nothing to release: the game holds no external resources."""

    def legal_actions(self, agent: str | None = None) -> list[str]:
        """The canonical legal moves of ``agent`` (the current agent by default) as text."""
        agent = agent or self.agent_selection
        if (
            agent != self.agent_selection
            or self.terminations.get(agent, True)
            or self.truncations.get(agent, True)
        ):
            return []
        return list(self._legal_table(agent)[1])

    @property
    def transcript(self) -> list[str]:
        """Every line of the game so far, hidden information included."""
        return list(self._transcript)

    # ---- internals -------------------------------------------------------------------------
    def _read_other_action(self, agent: str, action: Any) -> ParseResult:
        """Actions that are not text: an int is a canonical move index; anything else is invalid."""
        if isinstance(action, (int, np.integer)) and not isinstance(action, bool):
            index = int(action)
            legal = self._legal_table(agent)
            if index in legal[3]:
                return ParseResult(True, self._move_from_index(index), self.move_names[index])
            return ParseResult(
                False, None, None, f"expected a legal move index in {list(legal[0])}, got {index}."
            )
        return ParseResult(
            False,
            None,
            None,
            f"expected a str (or an int move index), got {type(action).__name__}.",
        )

    def _handle_invalid(self, agent: str, result: ParseResult) -> str | None:
        policy = self.invalid_move
        mode = policy.mode
        reason = (result.error or "invalid").rstrip(".")
        if mode == "retry":
            if self._attempts_left > 0:
                self._attempts_left -= 1
                self._reward(agent, "invalid_move", policy.retry_penalty)
                self._feedback[agent] = (
                    f"Your last reply could not be used: {result.error} "
                    f"Answer again ({self._attempts_left} more attempt(s) this turn)."
                )
                self._note(f"{agent} made an invalid move ({reason}); it may try again.")
                return agent
            mode = policy.exhausted
            self._feedback.pop(agent, None)
        self._attempts_left = self._retry_budget
        if mode == "forfeit":
            self._tell(f"{agent} made an invalid move and forfeits the game ({reason}).")
            self._outcome = {}
            for a in self.agents:
                self._reward(
                    a, "forfeit", policy.offender_reward if a == agent else policy.opponent_reward
                )
            return None
        # penalize: the game goes on with the game's fallback move, or the turn passes.
        self._reward(agent, "invalid_move", policy.penalty)
        fallback = self._fallback_move(agent)
        if fallback is None:
            self._tell(f"{agent} made an invalid move ({reason}) and loses the turn.")
            return self._other(agent)
        self._tell(f"{agent} made an invalid move ({reason}); the default move is played.")
        return self._apply(agent, fallback)

    def _reward(self, agent: str, component: str, value: float) -> None:
        # Components are reset when their agent acts and summed in between, exactly like
        # PettingZoo's cumulative rewards, so last()'s reward equals their sum.
        self._rewarded = True
        self.rewards[agent] = self.rewards[agent] + value
        components = self._components[agent]
        components[component] = components.get(component, 0.0) + value

    def _user_text(self, agent: str) -> str:
        parts = self._history[agent]
        state = self._state_text(agent)
        feedback = self._feedback.get(agent, "")
        if self.history_lines == 0:  # the position alone
            return f"{state}\n{feedback}" if feedback else state
        if self.history_lines is not None and len(parts) > self.history_lines:
            kept = parts[len(parts) - self.history_lines :]
            parts = [f"({len(parts) - len(kept)} earlier lines omitted)", *kept]
        body = "\n".join(parts) if parts else "(no moves yet)"
        text = f"{body}\n\n{state}\n{feedback}" if feedback else f"{body}\n\n{state}"
        if len(text) + len(self._system_prompts[agent]) + 2 > self.max_observation_chars:
            text = self._fit_user_text(agent, parts, state, feedback)
        return text

    def _fit_user_text(self, agent: str, parts: list[str], state: str, feedback: str) -> str:
        """Drop the oldest whole history lines until the prompt fits its space."""
        tail = f"{state}\n{feedback}" if feedback else state
        budget = self.max_observation_chars - len(self._system_prompts[agent]) - len(tail) - 40
        kept: list[str] = []
        for line in reversed(parts):
            budget -= len(line) + 1
            if budget < 0:
                break
            kept.append(line)
        dropped = len(parts) - len(kept)
        # If the rules and the position alone are still too long, _render_prompt shortens the rules.
        return "\n".join([f"({dropped} earlier lines omitted)", *reversed(kept)]) + f"\n\n{tail}"

    def _render_prompt(self, agent: str, user: str) -> str:
        system = self._system_prompts[agent]
        text = f"{system}\n\n{user}"
        if len(text) <= self.max_observation_chars:
            return text
        # The user part was already fitted (oldest history dropped); if the rules still do not
        # fit, shorten the rules: the current position and legal moves always stay.
        room = self.max_observation_chars - len(user) - 6
        return f"{system[: max(room, 0)]}...\n\n{user}"[-self.max_observation_chars :]

    def _refresh_infos(self) -> None:
        # Infos are built lazily, one agent at a time: last() needs only the acting agent's, and
        # the full dict is completed on the first access to ``infos``. What an info holds depends
        # only on the state after this step, so building it later gives the same content.
        self._infos = {}
        self._infos_complete = False
        self._obs_cache = {}
        self._legal_entry = None
        current = self.agent_selection
        self._live = not (self.terminations[current] or self.truncations[current])

    @property
    def infos(self) -> dict[str, dict[str, Any]]:  # type: ignore[override]
        """Every live agent's info (DESIGN.md section 3 schema)."""
        if not self._infos_complete:
            infos = self._infos
            for agent in self.agents:
                if agent not in infos:
                    infos[agent] = self._build_info(agent)
            self._infos_complete = True
        return self._infos

    @infos.setter
    def infos(self, value: dict[str, dict[str, Any]]) -> None:
        self._infos = value
        self._infos_complete = True

    def last(self, observe: bool = True) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Observation, cumulative reward, termination, truncation and info of the agent to act."""
        if not self.agents:
            raise RuntimeError(_NO_GAME)
        agent = self.agent_selection
        info = self._infos.get(agent)
        if info is None:
            info = self._infos[agent] = self._build_info(agent)
        return (
            self.observe(agent) if observe else None,
            self._cumulative_rewards[agent],
            self.terminations[agent],
            self.truncations[agent],
            info,
        )

    def _build_info(self, agent: str) -> dict[str, Any]:
        components = self._components[agent]
        if self._live and agent == self.agent_selection:
            entry = self._legal_entry = self._legal_table(agent)
            names, mask = entry[1], entry[2]
            user = self._user_text(agent)
            system = self._system_prompts[agent]
            if agent not in self._obs_cache:
                self._obs_cache[agent] = self._render_prompt(agent, user)
            return {
                "role": self._roles[agent],
                "seat": self._agent_index[agent],
                "turn": self._turn,
                "phase": "play",
                "legal_actions": list(names),
                "action_mask": mask,
                "parse": self._last_parse[agent].copy(),
                "invalid_action": self._last_invalid[agent],
                "reward_components": components.copy() if components else {},
                "messages": [
                    {"role": "system", "content": system},
                    {"role": "user", "content": user},
                ],
            }
        return {
            "role": self._roles[agent],
            "seat": self._agent_index[agent],
            "turn": self._turn,
            "phase": "play" if self._live else "over",
            "legal_actions": [],
            "action_mask": self._zero_mask,
            "parse": self._last_parse[agent].copy(),
            "invalid_action": self._last_invalid[agent],
            "reward_components": components.copy() if components else {},
            "messages": [],
        }

    def _legal_table(self, agent: str) -> LegalTable:
        """Indices, names, read-only mask and set of ``agent``'s legal moves now.

        Cached per env by the legal-index tuple (games have few distinct legal sets). A game with
        many legal moves may override this to key its cache by something cheaper to hash.
        """
        indices = self._legal_indices(agent)
        entry = self._legal_table_cache.get(indices)
        if entry is None:
            entry = self._legal_table_cache[indices] = self._make_legal_table(indices)
        return entry

    def _make_legal_table(self, indices: tuple[int, ...]) -> LegalTable:
        if len(self._legal_table_cache) >= LEGAL_CACHE_LIMIT:
            self._legal_table_cache.clear()  # a bound on memory for games with many positions
        names = self.move_names
        mask = np.zeros(len(names), dtype=np.int8)
        mask[list(indices)] = 1
        mask.flags.writeable = False
        return indices, tuple(names[i] for i in indices), mask, frozenset(indices)

    def __setstate__(self, state: Any) -> None:
        # The default restore of an object with __slots__ and __dict__, plus one repair: numpy
        # does not keep the read-only flag through pickling, and the shared masks must keep it.
        instance_dict, slot_values = state if isinstance(state, tuple) else (state, None)
        if instance_dict:
            self.__dict__.update(instance_dict)
        for name, value in (slot_values or {}).items():
            object.__setattr__(self, name, value)
        self._zero_mask.flags.writeable = False
        for entry in self._legal_table_cache.values():
            entry[2].flags.writeable = False

    def __str__(self) -> str:
        return type(self).__name__
