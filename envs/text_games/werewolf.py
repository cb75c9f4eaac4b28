r"""Werewolf (social deduction with hidden roles, night actions, discussion and votes) and its bots."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from selfplay_gym.core.bots import Bot
from selfplay_gym.core.invalid import InvalidMovePolicy
from selfplay_gym.core.pipeline import PipelineEnv
from selfplay_gym.envs.text_games._invalid_replies import InvalidReplies
from selfplay_gym.envs.text_games.spy import read_answer

__all__ = [
    "WerewolfEnv",
    "ROLES",
    "DEFAULT_ROLES",
    "ScriptedWerewolfBot",
    "StrongWerewolfBot",
]

WEREWOLF, SEER, DOCTOR, VILLAGER = "werewolf", "seer", "doctor", "villager"
ROLES = (WEREWOLF, SEER, DOCTOR, VILLAGER)
DEFAULT_ROLES = (WEREWOLF, WEREWOLF, SEER, DOCTOR, VILLAGER, VILLAGER, VILLAGER)
VILLAGE, WOLVES = "village", "werewolves"
NA = "N/A"
_TARGET_RE = re.compile(r"^\s*(?:player[\s_]*)?([0-9]{1,3})\s*\.?\s*$", re.IGNORECASE | re.ASCII)
_NA_RE = re.compile(r"^\s*(?:n\s*/?\s*a|none|abstain|no one|nobody)\s*\.?\s*$", re.IGNORECASE)
_SPACE_RE = re.compile(r"\s+")
DEFAULT_INVALID_MOVE = InvalidMovePolicy(mode="retry", retry_budget=2, exhausted="forfeit")
_ACTION_TEXT = {
    WEREWOLF: "choose tonight's victim",
    SEER: "choose a player to inspect",
    DOCTOR: "choose a player to protect tonight",
}


def faction(role: str) -> str:
    """``"werewolves"`` for a werewolf, ``"village"`` for every other role."""
    return WOLVES if role == WEREWOLF else VILLAGE


class WerewolfEnv(InvalidReplies, PipelineEnv):
    r"""Werewolf: a village with hidden werewolves, a seer and a doctor; night, discussion, vote.

    ## Description

    A standard small variant of the social deduction game (Werewolf / Mafia), as the
    reference notes of this project describe it for the WereBench / WereAlign setting: hidden
    roles, night actions, day discussion, a vote, elimination. Seven players by default,
    ``player_0 .. player_6``, with roles dealt at random: **2 werewolves, 1 seer, 1 doctor,
    3 villagers** (``roles`` changes the set). The werewolves know each other; nobody else
    knows any role but its own.

    * **Night** (phase ``"night"``): every living werewolf, in seat order, names a victim (a
      living non-werewolf); each sees its pack's earlier picks of the night. The victim is the
      most-named player; a tie goes to the player named first. Then the seer inspects a living
      player and is told privately whether it is a werewolf; then the doctor protects a living
      player (itself too, with ``doctor_self_protect``). A protected victim survives.
    * **Dawn**: the death (or that nobody died) is announced, with the dead player's role when
      ``reveal_role_on_death``.
    * **Day** (phase ``"day"``): every living player speaks once, in seat order, in
      ``\boxed{...}`` (at most ``max_speech_chars`` characters; longer speeches are cut).
    * **Vote** (phase ``"vote"``): every living player votes in secret for a living player
      other than itself, or ``N/A``; the votes are then shown. The most-voted player is
      eliminated; on a tie nobody is (``tie_rule="none"``) or one of the tied players is drawn
      with the env's generator (``tie_rule="random"``).

    **Win conditions**, checked after every death: all werewolves dead -- the village wins;
    living werewolves at least as many as the other living players -- the werewolves win. After
    ``max_days`` days without a winner the episode is truncated (a draw). Dead players stay in
    the episode without acting and receive the outcome at its end.

    | Agents | ``player_0 .. player_{N-1}`` (N = ``len(roles)``, 7) |
    |---|---|
    | API | AEC; free text (no finite move set) |
    | Actions | text; the target, vote or speech is the last ``\boxed{}`` (else ``<answer>``) |
    | Observations | text prompt: rules, own role (and pack), what this player has seen |
    | Info extras | ``game_role``, ``faction`` (own seat only), ``alive``, ``day`` |

    ## Action Space

    Any string (``UnicodeText``); its last ``max_action_chars`` characters are read. Night
    actions and votes: a seat number ``k`` or ``player_k`` in ``\boxed{}`` (votes may be
    ``\boxed{N/A}``). Speeches: free text in ``\boxed{}`` (newlines become spaces).

    ## Observation Space

    ``UnicodeText``: the rules, the player's role (a werewolf also reads its pack), and the game
    as this player saw it: public announcements and speeches (marked with the speaker), its own
    night actions and results (the seer's inspections; the werewolves' picks for the pack), the
    votes once all are in. Nothing private to another player ever appears.

    ## Rewards

    At the end (component ``"outcome"``): ``win_reward`` (+1) for every player of the winning
    faction, ``loss_reward`` (-1) for the others, dead or alive; 0 for all on truncation.
    Invalid replies follow the invalid-move policy (default ``retry``: two more attempts with
    feedback, then a forfeit: the offender -1.5, every other player +0.5, the game over). Under
    ``penalize`` the offender's night action is skipped, its speech is silence, its vote N/A.

    ## Starting State

    Roles dealt with the env's generator; night 1, the first living werewolf to act.

    ## Episode End

    Terminates when a faction wins or on a forfeit; truncates after ``max_days`` days.

    ## Arguments

    ``roles`` (the multiset of roles, dealt at random; at least one werewolf, fewer werewolves
    than other players), ``max_days`` (6), ``tie_rule`` (``"none"`` or ``"random"``),
    ``reveal_role_on_death`` (True), ``doctor_self_protect`` (True), ``max_speech_chars`` (300),
    ``win_reward`` (1.0), ``loss_reward`` (-1.0), ``invalid_move`` (an ``InvalidMovePolicy``, a
    mode name or a mapping), ``max_action_chars`` (8192), ``max_observation_chars`` (65536),
    ``render_mode`` (``"ansi"``).

    ## Version History

    * v0: initial version.
    """

    metadata: ClassVar[dict[str, Any]] = {**PipelineEnv.metadata, "name": "werewolf_v0"}
    has_chance: ClassVar[bool] = True

    def __init__(
        self,
        *,
        roles: Sequence[str] = DEFAULT_ROLES,
        max_days: int = 6,
        tie_rule: str = "none",
        reveal_role_on_death: bool = True,
        doctor_self_protect: bool = True,
        max_speech_chars: int = 300,
        win_reward: float = 1.0,
        loss_reward: float = -1.0,
        invalid_move: InvalidMovePolicy | str | Mapping[str, Any] | None = None,
        max_action_chars: int = 8192,
        max_observation_chars: int = 65536,
        render_mode: str | None = None,
    ):
        roles = tuple(roles)
        unknown = sorted(set(roles) - set(ROLES))
        if unknown:
            raise ValueError(f"expected roles among {ROLES}, got {unknown}")
        wolves = roles.count(WEREWOLF)
        if not 1 <= wolves < len(roles) - wolves:
            raise ValueError(
                f"expected at least one werewolf and fewer werewolves than others, got {roles}"
            )
        if len(roles) > 20:
            raise ValueError(f"expected at most 20 players, got {len(roles)}")
        if roles.count(SEER) > 1 or roles.count(DOCTOR) > 1:
            raise ValueError(f"expected at most one seer and one doctor, got {roles}")
        if tie_rule not in ("none", "random"):
            raise ValueError(f"expected tie_rule 'none' or 'random', got {tie_rule!r}")
        for name, value, low in (
            ("max_days", max_days, 1),
            ("max_speech_chars", max_speech_chars, 20),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"expected {name} to be an int >= {low}, got {value!r}")
        for name, value in (("win_reward", win_reward), ("loss_reward", loss_reward)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
                raise ValueError(f"expected {name} to be a number, got {value!r}")
        super().__init__(
            [f"player_{i}" for i in range(len(roles))],
            max_action_chars=max_action_chars,
            max_observation_chars=max_observation_chars,
            render_mode=render_mode,
        )
        self.roles = roles
        self.num_players = len(roles)
        self.max_days = max_days
        self.tie_rule = tie_rule
        self.reveal_role_on_death = bool(reveal_role_on_death)
        self.doctor_self_protect = bool(doctor_self_protect)
        self.max_speech_chars = max_speech_chars
        self.win_reward = float(win_reward)
        self.loss_reward = float(loss_reward)
        self.invalid_move = (
            DEFAULT_INVALID_MOVE if invalid_move is None else InvalidMovePolicy.coerce(invalid_move)
        )
        self._role: dict[str, str] = {}
        self._alive: list[str] = []
        self._history: dict[str, list[str]] = {}
        self._fresh: set[str] = set()
        self._feedback_pending = False
        self._attempts_left = 0
        self.day = 0
        self._picks: list[tuple[str, str]] = []
        self._protected: str | None = None
        self._votes: dict[str, str | None] = {}
        self._inspections: dict[str, bool] = {}
        self._speeches: list[tuple[int, str, str]] = []
        self._deaths: list[tuple[str, str, int]] = []
        self.winner: str | None = None

    # ---- helpers -------------------------------------------------------------------------------
    @staticmethod
    def _seat(agent: str) -> int:
        return int(agent.rpartition("_")[2])

    def _living(self, role: str) -> list[str]:
        return [a for a in self._alive if self._role[a] == role]

    def _tell(self, line: str, to: str | Sequence[str] | None = None) -> None:
        if to is None:
            for history in self._history.values():
                history.append(line)
            self._note(line)
            return
        targets = [to] if isinstance(to, str) else list(to)
        for agent in targets:
            self._history[agent].append(line)
        self._note(f"({', '.join(targets)} only) {line}")

    def role_of(self, agent: str) -> str:
        """The role of ``agent`` in this episode (hidden information: not for players)."""
        return self._role[agent]

    # ---- episode -------------------------------------------------------------------------------
    def _begin(self, options: dict[str, Any]) -> None:
        order = self.np_random.permutation(self.num_players)
        self._role = {f"player_{i}": self.roles[int(j)] for i, j in enumerate(order)}
        self._alive = list(self.possible_agents)
        self._history = {a: [] for a in self.possible_agents}
        self._fresh = set()
        self._attempts_left = self.invalid_move.retry_budget
        self.day = 0
        self._inspections = {}
        self._speeches = []
        self._deaths = []
        self.winner = None
        self._note(
            "(hidden) Roles: " + ", ".join(f"{a} {self._role[a]}" for a in self.possible_agents)
        )
        self._start_night()

    def _start_night(self) -> None:
        self.day += 1
        self.phase = "night"
        self._picks = []
        self._protected = None
        self._tell(f"Night {self.day} falls.")
        order = [*self._living(WEREWOLF), *self._living(SEER), *self._living(DOCTOR)]
        self._schedule(*order)

    def _handle(self, agent: str, text: str) -> None:
        self._fresh.discard(agent)
        answer = read_answer(text)
        if self.phase == "day":
            self._handle_speech(agent, text, answer)
            return
        target = self._read_target(answer)
        problem = self._target_problem(agent, target, answer)
        if problem:
            self._invalid(agent, problem, text, None if answer is None else answer.strip()[:50])
            return
        self._seats[agent].parse = {"ok": True, "extracted": target or NA, "error": None}
        self._attempts_left = self.invalid_move.retry_budget
        self._act(agent, target)

    def _read_target(self, answer: str | None) -> str | None:
        """``"player_k"``, ``"N/A"``, or ``None`` (unreadable or no such seat)."""
        if answer is None:
            return None
        if _NA_RE.match(answer):
            return NA
        m = _TARGET_RE.match(answer)
        if m and int(m.group(1)) < self.num_players:
            return f"player_{int(m.group(1))}"
        return None

    def _target_problem(self, agent: str, target: str | None, answer: str | None) -> str | None:
        role = self._role[agent]
        if target is None:
            kind = "vote" if self.phase == "vote" else "target"
            return (
                rf"no {kind} found: answer \boxed{{k}} with the seat number of a living player"
                + (r" or \boxed{N/A}." if self.phase == "vote" else ".")
            )
        if target == NA:
            return None if self.phase == "vote" else "a night action needs a target."
        if target not in self._alive:
            return f"{target} is not alive."
        if self.phase == "vote":
            return "you cannot vote for yourself." if target == agent else None
        if role == WEREWOLF and self._role[target] == WEREWOLF:
            return "werewolves cannot choose a werewolf as victim."
        if role == SEER and target == agent:
            return "the seer cannot inspect itself."
        if role == DOCTOR and target == agent and not self.doctor_self_protect:
            return "the doctor cannot protect itself in this game."
        return None

    def _act(self, agent: str, target: str | None) -> None:
        if self.phase == "vote":
            self._record_vote(agent, target)
            return
        role = self._role[agent]
        if role == WEREWOLF:
            self._picks.append((agent, target or ""))
            if target:
                self._tell(
                    f"Night {self.day}: {agent} picks {target} as victim.",
                    to=self._living(WEREWOLF),
                )
        elif role == SEER and target:
            wolf = self._role[target] == WEREWOLF
            self._inspections[target] = wolf
            self._tell(
                f"Night {self.day}: you inspect {target}: "
                + ("a WEREWOLF." if wolf else "not a werewolf."),
                to=agent,
            )
        elif role == DOCTOR and target:
            self._protected = target
            self._tell(f"Night {self.day}: you protect {target}.", to=agent)
        if not self._queue:
            self._end_night()

    def _end_night(self) -> None:
        named = [t for _, t in self._picks if t]
        victim = None
        if named:
            counts = Counter(named)
            top = max(counts.values())
            victim = next(t for t in named if counts[t] == top)
        self._note(f"(hidden) Night {self.day}: victim {victim}, protected {self._protected}.")
        if victim is not None and victim == self._protected:
            self._tell(f"Day {self.day} dawns. Nobody died tonight.")
        elif victim is None:
            self._tell(f"Day {self.day} dawns. Nobody died tonight.")
        else:
            self._tell(
                f"Day {self.day} dawns. {victim} was killed in the night{self._role_note(victim)}."
            )
            self._kill(victim, "night")
        if self._check_win():
            return
        self.phase = "day"
        self._tell(f"Day {self.day} discussion: each living player speaks once, in seat order.")
        self._schedule(*self._alive)

    def _role_note(self, agent: str) -> str:
        return f"; they were a {self._role[agent]}" if self.reveal_role_on_death else ""

    def _kill(self, agent: str, cause: str) -> None:
        self._alive.remove(agent)
        self._deaths.append((agent, cause, self.day))

    def _handle_speech(self, agent: str, text: str, answer: str | None) -> None:
        # One line, no double quotes: a speech cannot pose as another line or another speaker.
        speech = None if answer is None else _SPACE_RE.sub(" ", answer).replace('"', "'").strip()
        if not speech:
            self._invalid(agent, r"no speech found: say something in \boxed{...}.", text)
            return
        if len(speech) > self.max_speech_chars:
            speech = speech[: self.max_speech_chars] + " [cut]"
        self._seats[agent].parse = {"ok": True, "extracted": speech, "error": None}
        self._attempts_left = self.invalid_move.retry_budget
        self._speak(agent, speech)

    def _speak(self, agent: str, speech: str | None) -> None:
        if speech is None:
            self._tell(f"{agent} stays silent.")
        else:
            self._speeches.append((self.day, agent, speech))
            self._tell(f'{agent} says: "{speech}"')
        if not self._queue:
            self.phase = "vote"
            self._votes = {}
            self._tell(f"Day {self.day} vote: each living player votes in secret.")
            self._schedule(*self._alive)

    def _record_vote(self, agent: str, target: str | None) -> None:
        self._votes[agent] = None if target == NA else target
        self._note(f"(hidden) {agent} votes {target or NA}.")
        if self._queue:
            return
        shown = "; ".join(f"{a} -> {self._votes[a] or NA}" for a in self._alive)
        self._tell(f"Votes of day {self.day}: {shown}.")
        counts = Counter(t for t in self._votes.values() if t)
        out = None
        if counts:
            top = max(counts.values())
            tied = sorted((t for t in counts if counts[t] == top), key=self._seat)
            if len(tied) == 1:
                out = tied[0]
            elif self.tie_rule == "random":
                out = tied[int(self.np_random.integers(len(tied)))]
                self._tell(f"A tie between {', '.join(tied)}: {out} is drawn.")
            else:
                self._tell(f"A tie between {', '.join(tied)}: nobody is eliminated.")
        else:
            self._tell("No votes: nobody is eliminated.")
        if out is not None:
            self._tell(f"{out} is eliminated by the village{self._role_note(out)}.")
            self._kill(out, "vote")
            if self._check_win():
                return
        if self.day >= self.max_days:
            self._tell(f"The game stops: the limit of {self.max_days} day(s) is reached. A draw.")
            self.phase = "done"
            self._queue.clear()
            for a in self.agents:
                self._finish(a, truncated=True)
            self._final_prompts()
            return
        self._start_night()

    def _check_win(self) -> bool:
        wolves = len(self._living(WEREWOLF))
        others = len(self._alive) - wolves
        if wolves and wolves < others:
            return False
        self.winner = VILLAGE if not wolves else WOLVES
        reason = "every werewolf is dead" if not wolves else "the werewolves equal the others"
        roles = ", ".join(f"{a} {self._role[a]}" for a in self.possible_agents)
        self._tell(f"Game over: the {self.winner} win ({reason}). Roles: {roles}.")
        for a in self.possible_agents:
            won = faction(self._role[a]) == self.winner
            self._reward(a, "outcome", self.win_reward if won else self.loss_reward)
        self._end()
        return True

    def _end(self) -> None:
        super()._end()
        self._final_prompts()

    def _final_prompts(self) -> None:
        for agent in self.possible_agents:
            self._build_prompt(agent)

    # ---- invalid replies -----------------------------------------------------------------------
    def _invalid(self, agent: str, error: str, text: str, extracted: str | None = None) -> None:
        """Apply the invalid-move policy to ``agent``'s unusable reply."""
        seat = self._seats[agent]
        seat.parse = {"ok": False, "extracted": extracted, "error": error}
        seat.invalid = True
        if self._retry_or_forfeit(agent, error, text):
            return
        reason = error.rstrip(".")
        self._note(f"{agent} made an invalid move ({reason}); it is skipped.")
        if self.phase == "day":
            self._speak(agent, None)
        elif self.phase == "vote":
            self._record_vote(agent, NA)
        else:
            if self._role[agent] == WEREWOLF:
                self._picks.append((agent, ""))
            if not self._queue:
                self._end_night()

    # ---- prompts -------------------------------------------------------------------------------
    def _rules(self) -> str:
        counts = Counter(self.roles)
        plural = {WEREWOLF: "werewolves", SEER: "seers", DOCTOR: "doctors", VILLAGER: "villagers"}
        cast = ", ".join(
            f"{counts[r]} {plural[r] if counts[r] > 1 else r}" for r in ROLES if counts[r]
        )
        policy = self.invalid_move
        if policy.mode == "forfeit":
            invalid = "An unusable reply loses the game on the spot."
        elif policy.mode == "penalize":
            invalid = "An unusable reply is penalized and your action is skipped."
        else:
            then = "loses the game" if policy.exhausted == "forfeit" else "is penalized and skipped"
            invalid = (
                f"An unusable reply must be given again; after {policy.retry_budget} failed "
                f"retries in one turn it {then}."
            )
        return (
            f"Werewolf, for {self.num_players} players (player_0 .. player_{self.num_players - 1}): "
            f"{cast}. The werewolves know each other; nobody else knows any role but their own. "
            "Each night the werewolves choose a victim, the seer learns whether one player is a "
            "werewolf, the doctor protects one player (a protected victim survives). Each day "
            "every living player speaks once, then everyone votes in secret; the most-voted "
            "player is eliminated"
            + (
                " (a tie eliminates nobody)"
                if self.tie_rule == "none"
                else " (ties drawn at random)"
            )
            + (". Dead players' roles are revealed." if self.reveal_role_on_death else ".")
            + " The village wins when every werewolf is dead; the werewolves win when they are "
            "at least as many as the other living players. Every player of the winning side gets "
            f"{self.win_reward:+g}, the others {self.loss_reward:+g}; after {self.max_days} day(s) "
            "the game is a draw (0).\n"
            r"Think as much as you like, then answer in \boxed{}: a seat number for a night "
            r"action or a vote (\boxed{3}; a vote may also be \boxed{N/A}), your words for a "
            rf"speech (\boxed{{I think player_2 is lying.}}, at most {self.max_speech_chars} "
            f"characters). {invalid}"
        )

    def _role_text(self, agent: str) -> str:
        role = self._role[agent]
        text = f"You are {agent}. Your role: {role.upper()} (faction: {faction(role)})."
        if role == WEREWOLF:
            pack = [a for a in self.possible_agents if self._role[a] == WEREWOLF and a != agent]
            text += " Your fellow werewolves: " + (", ".join(pack) or "none") + "."
        return text

    def _now_text(self, agent: str) -> str:
        if self.phase == "done":
            return "The game is over."
        alive = ", ".join(self._alive)
        if agent not in self._alive:
            return f"You are dead; you watch the game. Living players: {alive}."
        head = f"Living players: {alive}."
        if self.phase == "night":
            return f"{head}\nNight {self.day}: {_ACTION_TEXT[self._role[agent]]}, as \\boxed{{k}}."
        if self.phase == "day":
            return f"{head}\nDay {self.day}: your turn to speak, as \\boxed{{...}}."
        return f"{head}\nDay {self.day} vote: name a living player other than you, or N/A, as \\boxed{{k}}."

    def _build_prompt(self, agent: str) -> None:
        system = f"{self._rules()}\n{self._role_text(agent)}"
        now = self._now_text(agent)
        lines = self._history[agent]
        budget = self.max_observation_chars - len(system) - len(now) - 200
        kept: list[str] = []
        for line in reversed(lines):
            budget -= len(line) + 1
            if budget < 0:
                kept.append(f"({len(lines) - len(kept)} earlier lines omitted)")
                break
            kept.append(line)
        self._prompt(agent, system, "\n".join(reversed(kept)) + f"\n\n{now}")

    def _select_next(self) -> None:
        super()._select_next()
        agent = getattr(self, "agent_selection", None)
        if (
            self.phase not in ("done", "start")
            and agent in self.terminations
            and not (self.terminations[agent] or self.truncations[agent])
            and agent not in self._fresh
        ):
            self._build_prompt(agent)
            self._fresh.add(agent)

    def _extra_info(self, agent: str) -> dict[str, Any]:
        role = self._role.get(agent, VILLAGER)
        return {
            "game_role": role,
            "faction": faction(role),
            "alive": agent in self._alive,
            "day": self.day,
        }

    def legal_actions(self, agent: str | None = None) -> list[str]:
        """Free text: no finite move list."""
        return []

    # ---- what bots read ------------------------------------------------------------------------
    def agent_view(self, agent: str) -> dict[str, Any]:
        """What ``agent`` knows, structured: its role, its pack, its inspections, the public record."""
        role = self._role[agent]
        return {
            "seat": self._seat(agent),
            "agent": agent,
            "role": role,
            "phase": self.phase,
            "day": self.day,
            "alive": list(self._alive),
            "pack": [a for a in self.possible_agents if self._role[a] == WEREWOLF]
            if role == WEREWOLF
            else [],
            "inspections": dict(self._inspections) if role == SEER else {},
            "speeches": list(self._speeches),
            "deaths": [
                (a, cause, day, self._role[a] if self.reveal_role_on_death else None)
                for a, cause, day in self._deaths
            ],
            "doctor_self_protect": self.doctor_self_protect,
        }


# ---- scripted players --------------------------------------------------------------------------
_CLAIM_RE = re.compile(r"player_(\d+) is (a WEREWOLF|not a werewolf)")


def seer_claims(view: Mapping[str, Any]) -> tuple[set[str], set[str], set[str]]:
    """From the public speeches: who claimed the seer, whom they called wolves, whom cleared."""
    claimants, accused, cleared = set(), set(), set()
    for _, speaker, text in view["speeches"]:
        if "I am the seer" not in text:
            continue
        claimants.add(speaker)
        for seat, verdict in _CLAIM_RE.findall(text):
            (accused if verdict.startswith("a ") else cleared).add(f"player_{seat}")
    return claimants, accused, cleared


class ScriptedWerewolfBot(Bot):
    """Plays every role simply: a seer who reveals, random-vote villagers, a loyal pack.

    * werewolf: kills a random living non-werewolf; votes for a random living non-werewolf
      (never a packmate); says it is a villager.
    * seer: inspects a random living player not yet inspected; reveals every result in its
      speech (``I am the seer. Night 1: player_3 is a WEREWOLF.``); votes for a known living
      werewolf, else at random among players not cleared.
    * doctor: protects itself (a random living player when it may not); votes at random.
    * villager: says it has no information; votes for a random living player.
    """

    name = "scripted"

    def act(self, env: WerewolfEnv, agent: str) -> str:
        """The night action, speech or vote of ``agent``."""
        view = env.agent_view(agent)
        if view["phase"] == "night":
            return "\\boxed{" + self.night(view) + "}"
        if view["phase"] == "day":
            return "\\boxed{" + self.speech(view) + "}"
        return "\\boxed{" + self.vote(view) + "}"

    def _pick(self, options: Sequence[str]) -> str:
        return self.rng.choice(sorted(options, key=lambda a: int(a.rpartition("_")[2])))

    def _others(self, view: Mapping[str, Any]) -> list[str]:
        return [a for a in view["alive"] if a != view["agent"]]

    def night(self, view: Mapping[str, Any]) -> str:
        """A night target."""
        role, others = view["role"], self._others(view)
        if role == WEREWOLF:
            return self.wolf_target(view)
        if role == SEER:
            fresh = [a for a in others if a not in view["inspections"]]
            return self._pick(fresh or others)
        return self.doctor_target(view)

    def wolf_target(self, view: Mapping[str, Any]) -> str:
        """A random living non-werewolf."""
        return self._pick([a for a in view["alive"] if a not in view["pack"]])

    def doctor_target(self, view: Mapping[str, Any]) -> str:
        """Itself when allowed."""
        if view["doctor_self_protect"]:
            return view["agent"]
        return self._pick(self._others(view))

    def speech(self, view: Mapping[str, Any]) -> str:
        """Reveal as the seer; otherwise a plain statement."""
        if view["role"] == SEER:
            found = " ".join(
                f"{a} is {'a WEREWOLF' if wolf else 'not a werewolf'}."
                for a, wolf in view["inspections"].items()
            )
            return f"I am the seer. {found or 'I have no result yet.'}"
        return "I am a villager. I have no information yet."

    def vote(self, view: Mapping[str, Any]) -> str:
        """A vote (see the class docstring)."""
        role, others = view["role"], self._others(view)
        if role == WEREWOLF:
            return self._pick([a for a in others if a not in view["pack"]])
        if role == SEER:
            known = [a for a in others if view["inspections"].get(a)]
            if known:
                return self._pick(known)
            unknown = [a for a in others if a not in view["inspections"]]
            return self._pick(unknown or others)
        return self._pick(others)


class StrongWerewolfBot(ScriptedWerewolfBot):
    """The scripted play plus the use of the seer's public claims.

    Villagers and the doctor vote for a werewolf named by a claimed seer (else at random among
    players not cleared, never a claimed seer); the doctor protects a living claimed seer; the
    werewolves kill a living claimed seer first and otherwise vote with the village against
    anyone accused who is not of the pack, or at random among non-werewolves.
    """

    name = "strong"

    def wolf_target(self, view: Mapping[str, Any]) -> str:
        """A living seer claimant first."""
        claimants, _, _ = seer_claims(view)
        live = [a for a in claimants if a in view["alive"] and a not in view["pack"]]
        return self._pick(live) if live else super().wolf_target(view)

    def doctor_target(self, view: Mapping[str, Any]) -> str:
        """A living seer claimant, else as the scripted doctor."""
        claimants, _, _ = seer_claims(view)
        live = [a for a in claimants if a in view["alive"]]
        if live and (view["doctor_self_protect"] or view["agent"] not in live):
            return self._pick(live)
        return super().doctor_target(view)

    def vote(self, view: Mapping[str, Any]) -> str:
        """Follow the seer's claims (see the class docstring)."""
        role, others = view["role"], self._others(view)
        if role == SEER:
            return super().vote(view)
        claimants, accused, cleared = seer_claims(view)
        if role == WEREWOLF:
            targets = [a for a in others if a in accused and a not in view["pack"]]
            return self._pick(targets or [a for a in others if a not in view["pack"]])
        targets = [a for a in others if a in accused]
        if targets:
            return self._pick(targets)
        rest = [a for a in others if a not in cleared and a not in claimants]
        return self._pick(rest or others)
