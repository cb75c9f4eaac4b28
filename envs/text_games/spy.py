r"""Who-is-the-Spy (Vision-Zero's social deduction game) with words, and its scripted players.

The text game lives here; the image game (:mod:`selfplay_gym.envs.text_games.spy_images`)
subclasses it and changes only what the players are given (a scene instead of a word).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from importlib import resources
from typing import Any, ClassVar

from selfplay_gym.core.bots import Bot
from selfplay_gym.core.invalid import InvalidMovePolicy
from selfplay_gym.core.parsers import last_boxed, last_tag
from selfplay_gym.core.pipeline import PipelineEnv
from selfplay_gym.envs.text_games._invalid_replies import InvalidReplies

__all__ = [
    "WhoIsTheSpyEnv",
    "SpyRewards",
    "word_pairs",
    "normalize_clue",
    "TruthfulSpyPlayer",
    "VagueSpyPlayer",
    "LeastMatchVoter",
    "StrongSpyPlayer",
]

NA = "N/A"
_VOTE_RE = re.compile(r"^\s*(?:player[\s_]*)?([0-9]{1,3})\s*$", re.IGNORECASE | re.ASCII)
_NA_RE = re.compile(r"^\s*(?:n\s*/?\s*a|none|abstain)\s*\.?\s*$", re.IGNORECASE)
_WORD_RE = re.compile(r"[a-z0-9]+")
_SPACE_RE = re.compile(r"\s+")
_STOP = frozenset(
    "a an the it is are of and or in on at to with its it's has have you your i my for by be "
    "this that there some one yes too".split()
)
DEFAULT_INVALID_MOVE = InvalidMovePolicy(mode="retry", retry_budget=2, exhausted="forfeit")


def normalize_clue(text: str) -> str:
    """Lower-case words only: two clues are the same clue when their normal forms are equal.

    Example:
        >>> normalize_clue("  It's RED -- and round! ")
        'it s red and round'
    """
    return " ".join(_WORD_RE.findall(text.lower()))


def content_words(text: str) -> set[str]:
    """The words of ``text`` that carry meaning (stop words dropped)."""
    return {w for w in _WORD_RE.findall(text.lower()) if w not in _STOP}


@lru_cache(maxsize=1)
def word_pairs() -> tuple[dict[str, Any], ...]:
    """The word pairs of the text game (package data ``data/spy_words.json``)."""
    text = resources.files(__package__).joinpath("data/spy_words.json").read_text("utf-8")
    return tuple(json.loads(text)["pairs"])


def read_answer(text: str) -> str | None:
    r"""The content of the last ``\boxed{}``, else of the last ``<answer>`` tag, else ``None``."""
    found = last_boxed(text)
    if found is None:
        found = last_tag(text, "answer")
    return found


@dataclass(frozen=True)
class SpyRewards:
    """The reward constants of the game (defaults: Vision-Zero's run script)."""

    civilian_correct: float = 1.0
    """Decision: a civilian who votes for the spy."""
    civilian_abstain: float = -0.5
    """Decision: a civilian who votes N/A."""
    civilian_wrong: float = -1.0
    """Decision: a civilian who votes for anyone but the spy (itself included)."""
    spy_self: float = -1.0
    """Decision: the spy voting for itself."""
    spy_abstain: float = 0.2
    """Decision: the spy voting N/A."""
    spy_other: float = 0.5
    """Decision: the spy voting for another player."""
    invalid_vote: float = -1.0
    """Decision: a vote that cannot be read (with ``score_invalid_votes``)."""
    clue: str = "votes"
    """Clue reward: ``"votes"`` (the run script's ``-vote_penalty * votes_received / (N - 1)``)
    or ``"zero_sum"`` (the paper's suspicion potential, below)."""
    vote_penalty: float = 0.6
    """``"votes"``: the factor of the share of votes a player received."""
    beta: float = 0.1
    """``"zero_sum"``: weight of the suspicion potential ``Psi = v_spy - mean(v_civilians)``."""
    lam: float = 0.1
    """``"zero_sum"``: weight of a civilian's own suspicion relative to the civilians' mean."""
    clue_format: float = 0.0
    """Paid for every readable clue when given (a stand-in for the script's content term; 0: off)."""

    def __post_init__(self) -> None:
        if self.clue not in ("votes", "zero_sum"):
            raise ValueError(f"expected clue in ('votes', 'zero_sum'), got {self.clue!r}")
        for f in fields(self):
            if f.name != "clue":
                value = getattr(self, f.name)
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
                    raise ValueError(f"expected {f.name} to be a finite number, got {value!r}")

    @classmethod
    def coerce(cls, value: SpyRewards | Mapping[str, Any] | None) -> SpyRewards:
        """Build from ``None`` (defaults), a :class:`SpyRewards` or a mapping of its fields."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            known = {f.name for f in fields(cls)}
            unknown = sorted(set(value) - known)
            if unknown:
                raise ValueError(f"unknown reward fields {unknown}; expected {sorted(known)}")
            return cls(**value)
        raise TypeError(f"expected SpyRewards, a mapping or None, got {type(value).__name__}")

    def vote_reward(self, is_spy: bool, vote: int | str | None, voter: int, spy: int) -> float:
        """The decision reward of one vote (``None``: unreadable, ``"N/A"``, or a seat)."""
        if vote is None:
            return self.invalid_vote
        if vote == NA:
            return self.spy_abstain if is_spy else self.civilian_abstain
        if is_spy:
            return self.spy_self if vote == voter else self.spy_other
        return self.civilian_correct if vote == spy else self.civilian_wrong

    def clue_rewards(self, received: list[int], spy: int) -> list[float]:
        """Each seat's clue reward from the votes each seat received."""
        n = len(received)
        if self.clue == "votes":
            return [-self.vote_penalty * v / (n - 1) for v in received]
        civilians = [v for i, v in enumerate(received) if i != spy]
        mean = sum(civilians) / len(civilians)
        psi = received[spy] - mean
        return [
            -self.beta * psi
            if i == spy
            else self.beta * psi / (n - 1) - self.lam * (received[i] - mean)
            for i in range(n)
        ]


class WhoIsTheSpyEnv(InvalidReplies, PipelineEnv):
    r"""Who-is-the-Spy with words: describe your word, find the one player whose word differs.

    ## Description

    The social deduction game Vision-Zero (Wang et al., 2025) trains on, here with words instead
    of images (the image game is ``selfplay/WhoIsTheSpyImages-v0``). Four players
    ``player_0 .. player_3``; one of them, drawn per episode, is the **spy**. The civilians are
    given one word of a pair (``coffee``), the spy the other (``tea``); which word of the pair
    goes to the spy is drawn too. The spy is told that it is the spy (as in Vision-Zero); the
    civilians are not told who it is.

    * **Clue phase**: ``num_rounds`` (2) rounds in seat order. Each player gives one short clue
      about its word in ``\boxed{...}``; a clue must differ from every earlier clue (same
      lower-case words = same clue), must not contain the player's own word, and is at most
      ``max_clue_chars`` characters. Every player sees every clue, marked with its author.
    * **Decision phase**: each player, in seat order, votes for the seat it believes is the spy,
      ``\boxed{2}`` (or ``\boxed{player_2}``), or abstains with ``\boxed{N/A}``. Votes are
      secret until all are in.

    Then the votes, the spy and both words are announced and the episode ends.

    What is Vision-Zero's (``wangqinsi1/Vision-Zero``): four players, one spy told its role,
    two clue rounds in order, clues in ``\boxed{}`` that must differ from earlier ones, votes
    ``\boxed{k}`` or ``N/A`` (else read from ``<answer>``), the vote reward table and the clue
    rewards below. What is this env's: the words (20 pairs written for this project, package
    data ``data/spy_words.json``), seats numbered from 0 as in the agent names (Vision-Zero
    numbers players from 1), the own-word and length rules, and that one episode holds both
    phases (Vision-Zero alternates clue and decision training; a trainer can mask either by
    ``info["phase"]`` of the step).

    | Agents | ``player_0 .. player_3`` (``num_players``) |
    |---|---|
    | API | AEC; free text (no finite move set) |
    | Actions | text; the clue or vote is the last ``\boxed{}`` (else the last ``<answer>``) |
    | Observations | text prompt: rules, your word, your role if you are the spy, every clue so far |
    | Info extras | ``game_role`` (``"spy"`` or ``"civilian"``, the own seat's only), ``clue_round`` |

    ## Action Space

    Any string (``UnicodeText``); only its last ``max_action_chars`` characters are read. The
    answer is the content of the last ``\boxed{...}``, else of the last ``<answer>...</answer>``.
    Clue phase: the clue itself (newlines become spaces). Decision phase: a seat number
    ``0 .. N-1`` (optionally ``player_k``) or ``N/A`` (also ``NA``, ``none``, ``abstain``).

    ## Observation Space

    ``UnicodeText``: the system part (rules, the player's word, the spy's role notice) and the
    game so far (every clue as ``player_k: "..."``), ending with what to do now. A civilian's
    prompt never names the spy or holds the spy's word (unless a clue says it); votes are shown
    only after the last one.

    ## Rewards

    All at the end of the episode except ``clue_format``. Decision (component ``"vote"``, the
    run script's ``clevr_decision_accuracy``): a civilian gets +1 for the spy, -0.5 for
    N/A, -1 for anyone else; the spy gets -1 for voting itself, +0.2 for N/A, +0.5 for another
    player; an unreadable vote gets -1 (with ``score_invalid_votes=True``, the default, it is
    not retried). Clue (component ``"clue"``): with ``clue="votes"`` (default, the script's
    penalty) ``-0.6 * votes_received / (N - 1)`` for every player; with ``clue="zero_sum"``
    (the paper's form) the suspicion potential ``Psi = v_spy - mean(v_civilians)`` of the votes
    received gives the spy ``-beta * Psi`` and civilian ``j``
    ``beta * Psi / (N - 1) - lam * (v_j - mean(v_civilians))`` (``beta = lam = 0.1``; the
    rewards sum to zero). ``clue_format`` (default 0) is paid for each readable clue when it is
    given. Vision-Zero's role-advantage baselines (EMA of the spy's and civilians' rewards) are
    trainer-side and not applied: ``info["game_role"]`` is there for them.

    Unreadable or illegal clues follow the invalid-move policy (default ``retry``: two more
    attempts with feedback, each costing ``retry_penalty`` = 0, then a forfeit: the offender
    -1.5, every other player +0.5, the game over). Under ``penalize`` the clue is skipped.

    ## Starting State

    The spy seat and the word pair (and which word is the spy's) drawn with the env's
    generator; ``player_0`` gives the first clue.

    ## Episode End

    Terminates after the last vote or on a forfeit. ``num_players * (num_rounds + 1)`` steps
    without invalid replies (12 by default).

    ## Arguments

    ``num_players`` (4, at least 3), ``num_rounds`` (2), ``rewards`` (a :class:`SpyRewards` or a
    mapping of its fields), ``score_invalid_votes`` (True: an unreadable vote scores
    ``invalid_vote``; False: the invalid-move policy applies to votes too), ``spy_knows_role``
    (True: the spy's prompt says it is the spy; False: nobody is told a role),
    ``max_clue_chars`` (200), ``pairs`` (the word pairs, default the package's),
    ``invalid_move`` (an ``InvalidMovePolicy``, a mode name or a mapping),
    ``max_action_chars`` (8192), ``max_observation_chars`` (65536), ``render_mode``
    (``"ansi"``).

    ## Version History

    * v0: initial version.
    """

    metadata: ClassVar[dict[str, Any]] = {**PipelineEnv.metadata, "name": "who_is_the_spy_v0"}
    has_chance: ClassVar[bool] = True
    subject: ClassVar[str] = "word"
    """What the players describe (``"word"`` or ``"image"``), for the rules text."""

    def __init__(
        self,
        *,
        num_players: int = 4,
        num_rounds: int = 2,
        rewards: SpyRewards | Mapping[str, Any] | None = None,
        score_invalid_votes: bool = True,
        spy_knows_role: bool = True,
        max_clue_chars: int = 200,
        pairs: Any = None,
        invalid_move: InvalidMovePolicy | str | Mapping[str, Any] | None = None,
        max_action_chars: int = 8192,
        max_observation_chars: int = 65536,
        render_mode: str | None = None,
    ):
        for name, value, low in (
            ("num_players", num_players, 3),
            ("num_rounds", num_rounds, 1),
            ("max_clue_chars", max_clue_chars, 10),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"expected {name} to be an int >= {low}, got {value!r}")
        if num_players > 20:
            raise ValueError(f"expected num_players <= 20, got {num_players}")
        super().__init__(
            [f"player_{i}" for i in range(num_players)],
            max_action_chars=max_action_chars,
            max_observation_chars=max_observation_chars,
            render_mode=render_mode,
        )
        self.num_players = num_players
        self.num_rounds = num_rounds
        self.reward_table = SpyRewards.coerce(rewards)
        self.score_invalid_votes = bool(score_invalid_votes)
        self.spy_knows_role = bool(spy_knows_role)
        self.max_clue_chars = max_clue_chars
        self.invalid_move = (
            DEFAULT_INVALID_MOVE if invalid_move is None else InvalidMovePolicy.coerce(invalid_move)
        )
        self.pairs = tuple(pairs) if pairs is not None else None
        if self.pairs is not None and not self.pairs:
            raise ValueError("expected at least one word pair, got none")
        self._spy = 0
        self._history: dict[str, list[str]] = {}
        self._clues: list[tuple[int, str, str]] = []
        self._seen_clues: set[str] = set()
        self._votes: dict[str, int | str | None] = {}
        self._fresh: set[str] = set()
        self._attempts_left = 0
        self._feedback: dict[str, str] = {}

    # ---- what a variant changes ----------------------------------------------------------------
    def _deal(self) -> None:
        """Draw the secrets: the word pair and which word the spy gets."""
        pairs = self.pairs or word_pairs()
        pair = pairs[int(self.np_random.integers(len(pairs)))]
        words = list(pair["words"])
        spy_index = int(self.np_random.integers(2))
        self._pair = pair
        self._civilian_item = words[1 - spy_index]
        self._spy_item = words[spy_index]

    def _item(self, agent: str) -> dict[str, Any]:
        return self._spy_item if self._seat(agent) == self._spy else self._civilian_item

    def _secret_text(self, agent: str) -> str:
        """What ``agent`` is given, as told in its prompt."""
        return f'Your word is "{self._item(agent)["word"]}".'

    def _secret_summary(self) -> str:
        """The secrets, as announced at the end (and in the transcript)."""
        return (
            f'The civilians\' word was "{self._civilian_item["word"]}", '
            f'the spy\'s word was "{self._spy_item["word"]}".'
        )

    def _clue_problem(self, agent: str, clue: str) -> str | None:
        """Why ``clue`` is not allowed for ``agent`` (``None`` when it is)."""
        word = normalize_clue(self._item(agent)["word"])
        if word and f" {word} " in f" {normalize_clue(clue)} ":
            return "the clue must not contain your own word."
        return None

    def _view_secret(self, agent: str) -> dict[str, Any]:
        """The secret part of :meth:`agent_view` (what ``agent`` was given)."""
        item = self._item(agent)
        return {
            "word": item["word"],
            "specific": list(item.get("specific", ())),
            "general": list(self._pair.get("general", ())),
        }

    # ---- episode -----------------------------------------------------------------------------
    def _seat(self, agent: str) -> int:
        return int(agent.rpartition("_")[2])

    def _begin(self, options: dict[str, Any]) -> None:
        self._spy = int(self.np_random.integers(self.num_players))
        self._deal()
        self._history = {a: [] for a in self.possible_agents}
        self._clues = []
        self._seen_clues = set()
        self._votes = {}
        self._fresh = set()
        self._feedback = {}
        self._attempts_left = self.invalid_move.retry_budget
        self.phase = "clue"
        self._note(f"(hidden) The spy is player_{self._spy}. {self._secret_summary()}")
        self._tell(f"Clue round 1 of {self.num_rounds} begins.")
        self._schedule(*self.possible_agents)

    def _tell(self, line: str, to: str | None = None) -> None:
        if to is None:
            for history in self._history.values():
                history.append(line)
            self._note(line)
        else:
            self._history[to].append(line)
            self._note(f"({to} only) {line}")

    def _clue_round(self) -> int:
        return len(self._clues) // self.num_players + 1

    def _handle(self, agent: str, text: str) -> None:
        self._fresh.discard(agent)
        if self.phase == "clue":
            self._handle_clue(agent, text)
        else:
            self._handle_vote(agent, text)

    def step(self, action: Any) -> None:
        """Play the selected agent's reply (its tail is read); ``None`` for a finished agent."""
        if isinstance(action, str) and len(action) > self.max_action_chars:
            action = action[-self.max_action_chars :]
        super().step(action)

    def _handle_clue(self, agent: str, text: str) -> None:
        answer = read_answer(text)
        if answer is None:
            self._invalid(agent, r"no clue found: put your clue in \boxed{...}.", text)
            return
        # One line, no double quotes: a clue cannot pose as another line or another player's clue.
        clue = _SPACE_RE.sub(" ", answer).replace('"', "'").strip()
        key = normalize_clue(clue)
        if not key:
            self._invalid(agent, "the clue is empty.", text, clue)
            return
        if len(clue) > self.max_clue_chars:
            self._invalid(
                agent, f"the clue is longer than {self.max_clue_chars} characters.", text, clue
            )
            return
        if key in self._seen_clues:
            self._invalid(agent, "that clue was already given: give a different one.", text, clue)
            return
        problem = self._clue_problem(agent, clue)
        if problem:
            self._invalid(agent, problem, text, clue)
            return
        self._seats[agent].parse = {"ok": True, "extracted": clue, "error": None}
        self._attempts_left = self.invalid_move.retry_budget
        self._seen_clues.add(key)
        self._record_clue(agent, clue)
        if self.reward_table.clue_format:
            self._reward(agent, "clue_format", self.reward_table.clue_format)
        self._after_clue()

    def _record_clue(self, agent: str, clue: str | None) -> None:
        round_ = self._clue_round()
        self._clues.append((round_, agent, clue or ""))
        if clue is None:
            self._tell(f"{agent} gave no clue.")
        else:
            self._tell(f'{agent} (clue, round {round_}): "{clue}"')

    def _after_clue(self) -> None:
        if len(self._clues) % self.num_players:
            return
        if len(self._clues) < self.num_players * self.num_rounds:
            self._tell(f"Clue round {self._clue_round()} of {self.num_rounds} begins.")
            self._schedule(*self.possible_agents)
            return
        self.phase = "decision"
        self._tell("All clues are in. Decision phase: every player votes in secret.")
        self._schedule(*self.possible_agents)

    def _read_vote(self, answer: str | None) -> int | str | None:
        if answer is None:
            return None
        if _NA_RE.match(answer):
            return NA
        m = _VOTE_RE.match(answer)
        if m and int(m.group(1)) < self.num_players:
            return int(m.group(1))
        return None

    def _handle_vote(self, agent: str, text: str) -> None:
        answer = read_answer(text)
        vote = self._read_vote(answer)
        extracted = None if answer is None else answer.strip()[:50]
        if vote is None:
            error = (
                rf"no vote found: answer \boxed{{k}} with a seat 0..{self.num_players - 1} "
                r"or \boxed{N/A}."
            )
            if not self.score_invalid_votes:
                self._invalid(agent, error, text, extracted)
                return
            self._mark_invalid(agent, error, extracted)
            self._note(f"{agent}'s vote cannot be read: it counts as an invalid vote.")
        else:
            self._seats[agent].parse = {"ok": True, "extracted": str(vote), "error": None}
            self._note(f"(hidden) {agent} votes {vote if vote == NA else f'player_{vote}'}.")
        self._attempts_left = self.invalid_move.retry_budget
        self._votes[agent] = vote
        if len(self._votes) == self.num_players:
            self._score()

    def _score(self) -> None:
        received = [0] * self.num_players
        lines = []
        for agent in self.possible_agents:
            vote = self._votes.get(agent)
            if isinstance(vote, int):
                received[vote] += 1
            shown = "an invalid vote" if vote is None else (NA if vote == NA else f"player_{vote}")
            lines.append(f"{agent} voted {shown}")
        self._tell("Votes: " + "; ".join(lines) + ".")
        table = self.reward_table
        clue = table.clue_rewards(received, self._spy)
        for agent in self.possible_agents:
            seat = self._seat(agent)
            vote = self._votes.get(agent)
            self._reward(agent, "vote", table.vote_reward(seat == self._spy, vote, seat, self._spy))
            self._reward(agent, "clue", clue[seat])
        self._tell(f"Game over: the spy was player_{self._spy}. {self._secret_summary()}")
        self._end()

    # ---- invalid replies ---------------------------------------------------------------------
    def _mark_invalid(self, agent: str, error: str, extracted: str | None = None) -> None:
        seat = self._seats[agent]
        seat.parse = {"ok": False, "extracted": extracted, "error": error}
        seat.invalid = True

    def _before_forfeit_end(self) -> None:
        self._tell(f"Game over: the spy was player_{self._spy}. {self._secret_summary()}")

    def _invalid(self, agent: str, error: str, text: str, extracted: str | None = None) -> None:
        """Apply the invalid-move policy to ``agent``'s unusable reply."""
        self._mark_invalid(agent, error, extracted)
        if self._retry_or_forfeit(agent, error, text):
            return
        if self.phase == "clue":
            self._note(f"{agent} made an invalid move ({error.rstrip('.')}); its clue is skipped.")
            self._record_clue(agent, None)
            self._after_clue()
        else:
            self._note(f"{agent} made an invalid move ({error.rstrip('.')}); its vote is invalid.")
            self._votes[agent] = None
            if len(self._votes) == self.num_players:
                self._score()

    # ---- prompts -----------------------------------------------------------------------------
    def _rules(self, agent: str) -> str:
        n, seats = self.num_players, ", ".join(self.possible_agents)
        policy = self.invalid_move
        if policy.mode == "forfeit":
            invalid = "An unusable clue loses the game on the spot."
        elif policy.mode == "penalize":
            invalid = "An unusable clue is penalized and skipped."
        else:
            then = "loses the game" if policy.exhausted == "forfeit" else "is penalized and skipped"
            invalid = (
                f"An unusable clue must be given again; after {policy.retry_budget} failed "
                f"retries in one turn it {then}."
            )
        vote_rule = (
            "An unreadable vote scores as an invalid vote (-1)."
            if self.score_invalid_votes
            else "An unreadable vote is an invalid move, like an unusable clue."
        )
        t = self.reward_table
        return (
            f"Who is the spy? A game for {n} players ({seats}). Every player is given "
            f"{'an' if self.subject == 'image' else 'a'} {self.subject}; the civilians all get the same one, the one spy gets a slightly "
            f"different one. There are {self.num_rounds} clue round(s): in seat order, each player "
            f"describes its {self.subject} in one short clue (at most {self.max_clue_chars} "
            "characters) that differs from every clue given before"
            + (" and does not contain your word" if self.subject == "word" else "")
            + ". Then every player votes in secret for the seat it believes is the spy, or "
            "N/A. Rewards: a civilian gets "
            f"{t.civilian_correct:+g} for voting the spy, {t.civilian_abstain:+g} for N/A, "
            f"{t.civilian_wrong:+g} for a wrong vote; the spy gets {t.spy_other:+g} for voting "
            f"another player, {t.spy_abstain:+g} for N/A, {t.spy_self:+g} for voting itself. "
            "N/A costs less than a wrong guess. Every player also loses reward for the votes "
            "it receives, so give clues that show you are not the spy.\n"
            r"Think as much as you like, then give your clue as \boxed{your clue} and your "
            r"vote as \boxed{k} (the seat number, 0 to "
            f"{n - 1}) or \\boxed{{N/A}}. {invalid} {vote_rule}\n"
            f"You are {agent}."
        )

    def _role_text(self, agent: str) -> str:
        if not self.spy_knows_role:
            return "You might be the spy: you are not told."
        if self._seat(agent) == self._spy:
            return (
                "You are the SPY: your "
                f"{self.subject} differs from the civilians'. Blend in and avoid being voted."
            )
        return "You are a civilian. One other player is the spy; find it."

    def _now_text(self, agent: str) -> str:
        if self.phase == "done":
            return "The game is over."
        if self.phase == "clue":
            return (
                f"Clue round {self._clue_round()}: your turn to give a clue about your "
                rf"{self.subject}, as \boxed{{...}}."
            )
        return (
            r"Decision: vote for the spy as \boxed{k} with k in 0.."
            f"{self.num_players - 1}, or \\boxed{{N/A}}."
        )

    def _build_prompt(self, agent: str) -> None:
        system = f"{self._rules(agent)}\n{self._secret_text(agent)} {self._role_text(agent)}"
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
        user = "\n".join(reversed(kept)) + f"\n\n{now}"
        self._prompt(agent, system, user)

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

    def _end(self) -> None:
        super()._end()
        for agent in self.possible_agents:  # everyone's last prompt shows how the game ended
            self._build_prompt(agent)

    def _extra_info(self, agent: str) -> dict[str, Any]:
        info: dict[str, Any] = {"clue_round": min(self._clue_round(), self.num_rounds)}
        if self.spy_knows_role:
            info["game_role"] = "spy" if self._seat(agent) == self._spy else "civilian"
        return info

    def observe(self, agent: str) -> str:
        """The prompt of ``agent`` (its latest turn's; "" before its first turn)."""
        return super().observe(agent)

    def legal_actions(self, agent: str | None = None) -> list[str]:
        """Free text: no finite move list."""
        return []

    # ---- what bots read ----------------------------------------------------------------------
    def agent_view(self, agent: str) -> dict[str, Any]:
        """What ``agent`` knows, structured: its secret, its role if told, the clues, the phase."""
        seat = self._seat(agent)
        return {
            "seat": seat,
            "num_players": self.num_players,
            "phase": self.phase,
            "subject": self.subject,
            "is_spy": (seat == self._spy) if self.spy_knows_role else None,
            "clues": [(self._seat(a), c) for _, a, c in self._clues if c],
            "seen_clues": set(self._seen_clues),
            **self._view_secret(agent),
        }


# ---- scripted players ------------------------------------------------------------------------
class _SpyBot(Bot):
    """Shared logic: a clue from candidate phrases not yet used, and a vote from clue matches."""

    name = "spy_bot"

    def act(self, env: WhoIsTheSpyEnv, agent: str) -> str:
        """A clue or a vote for ``agent``, by the phase."""
        view = env.agent_view(agent)
        if view["phase"] == "clue":
            return "\\boxed{" + self._fresh_clue(view, self.clue_candidates(view)) + "}"
        return "\\boxed{" + str(self.vote(view)) + "}"

    # clues
    def clue_candidates(self, view: dict[str, Any]) -> list[str]:
        """Phrases to try in order (the first unused one is given)."""
        return self.truthful(view)

    @staticmethod
    def truthful(view: dict[str, Any]) -> list[str]:
        """Phrases that describe the player's own word or scene, most telling first."""
        if view["subject"] == "word":
            return [*view["specific"], *view["general"]]
        return [_object_phrase(o) for o in view["scene"]]

    @staticmethod
    def vague(view: dict[str, Any]) -> list[str]:
        """Phrases true of both secrets of the game (the shared category; positions and sizes)."""
        if view["subject"] == "word":
            return [*view["general"], *view["specific"]]
        return [f"there is a {o['size']} object at the {o['position']}" for o in view["scene"]]

    @staticmethod
    def _fresh_clue(view: dict[str, Any], candidates: list[str]) -> str:
        seen = view["seen_clues"]
        for phrase in candidates:
            if normalize_clue(phrase) not in seen:
                return phrase
        k = len(seen) + 1
        while normalize_clue(f"one more thing, number {k}") in seen:
            k += 1
        return f"one more thing, number {k}"

    # votes
    @staticmethod
    def match(view: dict[str, Any], clue: str) -> float:
        """How well ``clue`` fits what this player was given, in [0, 1]."""
        if view["subject"] == "word":
            key = normalize_clue(clue)
            if key in {normalize_clue(p) for p in view["specific"]}:
                return 1.0
            if key in {normalize_clue(p) for p in view["general"]}:
                return 0.5
            vocabulary = content_words(" ".join([view["word"], *view["specific"]]))
            words = content_words(clue)
            return len(words & vocabulary) / len(words) if words else 0.0
        return _scene_match(view["scene"], clue)

    def suspicion(self, view: dict[str, Any]) -> dict[int, float]:
        """Each other seat's mean clue match (lower: more suspect)."""
        scores: dict[int, list[float]] = {s: [] for s in range(view["num_players"])}
        for seat, clue in view["clues"]:
            scores[seat].append(self.match(view, clue))
        return {s: (sum(v) / len(v) if v else 0.0) for s, v in scores.items() if s != view["seat"]}

    def least_matching(self, view: dict[str, Any], random_ties: bool = False) -> int:
        """The other seat whose clues fit this player's secret least."""
        scores = self.suspicion(view)
        low = min(scores.values())
        tied = sorted(s for s, v in scores.items() if v == low)
        return self.rng.choice(tied) if random_ties else tied[0]

    def vote(self, view: dict[str, Any]) -> int | str:
        """The vote: the least-matching other seat."""
        return self.least_matching(view)


class TruthfulSpyPlayer(_SpyBot):
    """Describes its own word or scene truthfully (as spy too) and votes N/A."""

    name = "truthful"

    def vote(self, view: dict[str, Any]) -> int | str:
        """Always N/A (the cautious vote)."""
        return NA


class VagueSpyPlayer(_SpyBot):
    """As the spy, gives vague clues true of both secrets; as a civilian, truthful ones.

    Votes for the least-matching other seat.
    """

    name = "vague_spy"

    def clue_candidates(self, view: dict[str, Any]) -> list[str]:
        """Vague phrases when it is the spy, truthful ones otherwise."""
        return self.vague(view) if view["is_spy"] else self.truthful(view)


class LeastMatchVoter(_SpyBot):
    """Truthful clues; votes for the player whose clues matched its own secret least."""

    name = "least_match_voter"


class StrongSpyPlayer(_SpyBot):
    """The strongest scripted play.

    A civilian gives truthful clues and votes for the least-matching seat, ties broken at
    random, never N/A (with at most three suspects a random guess is worth at least
    ``(1 - 2 * 1) / 3 = -1/3 > -0.5``). The spy echoes the civilians. With words, its clue
    repeats the content of an earlier clue of another player in new words. With scenes, it
    restates objects that others described and that its own image shows the same way (so they
    were not replaced), then describes its objects at positions no other clue contradicted,
    then names only what both images share (positions and sizes). It votes for the civilian
    most suspected by its own reading, never itself and never N/A (+0.5 > +0.2).
    """

    name = "strong"

    def clue_candidates(self, view: dict[str, Any]) -> list[str]:
        """Echoes of others' clues as the spy (see the class docstring), else truthful ones."""
        if not view["is_spy"]:
            return self.truthful(view)
        others = [c for s, c in reversed(view["clues"]) if s != view["seat"]]
        if view["subject"] == "word":
            return [*[f"yes, {c}, too" for c in others], *self.vague(view)]
        scene = view["scene"]
        confirmed, doubtful = [], set()
        for clue in others:
            for obj in scene:
                if f" {obj['position']} " not in f" {normalize_clue(clue)} ":
                    continue
                if _scene_match([obj], clue) == 1.0:
                    confirmed.append(obj)
                else:
                    doubtful.add(obj["position"])
        echoes = [
            f"I also see the {o['size']} {o['color']} {o['shape']} at the {o['position']}"
            for o in confirmed
        ]
        unknown = [_object_phrase(o) for o in scene if o["position"] not in doubtful]
        return [*echoes, *unknown, *self.vague(view)]

    def vote(self, view: dict[str, Any]) -> int | str:
        """The least-matching seat (random among ties)."""
        return self.least_matching(view, random_ties=True)


# ---- scenes (used by the image game's bots; here so that one bot family serves both) ----------
def _object_phrase(obj: Mapping[str, Any]) -> str:
    return f"a {obj['size']} {obj['color']} {obj['shape']} at the {obj['position']}"


def _scene_match(scene: list[Mapping[str, Any]], clue: str) -> float:
    """1 if an object of ``scene`` has every colour, shape, size and position the clue names.

    0 if none has; 0.5 if the clue names no colour and no shape (nothing that tells the
    images apart).
    """
    text = f" {normalize_clue(clue)} "
    mentioned = {key: [v for v in words if f" {v} " in text] for key, words in _SCENE_VOCAB.items()}
    if not (mentioned["color"] or mentioned["shape"]):
        return 0.5  # positions, sizes and counts are the same in both images: no evidence
    for obj in scene:
        if all(not found or obj[key] in found for key, found in mentioned.items()):
            return 1.0
    return 0.0


_SCENE_VOCAB: dict[str, tuple[str, ...]] = {
    "color": ("gray", "red", "blue", "green", "brown", "purple", "cyan", "yellow"),
    "shape": ("cube", "sphere", "cylinder"),
    "size": ("small", "large"),
    "position": (
        "top left",
        "top center",
        "top right",
        "middle left",
        "middle center",
        "middle right",
        "bottom left",
        "bottom center",
        "bottom right",
    ),
}
