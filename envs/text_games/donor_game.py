"""The Donor Game with cultural evolution (Vallinder & Hughes) as a language game, and its bots."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar, NamedTuple

import numpy as np

from selfplay_gym.core.bots import Bot
from selfplay_gym.core.invalid import InvalidMovePolicy
from selfplay_gym.core.parsers import ParseResult
from selfplay_gym.core.text_game import TurnBasedTextEnv
from selfplay_gym.spaces import UnicodeText

__all__ = [
    "DonorGameEnv",
    "Donation",
    "donor_schedule",
    "parse_donation",
    "init_free_text_game",
    "AlwaysGiveBot",
    "NeverGiveBot",
    "ReciprocalBot",
]

REWARD_MODES = ("per_round", "final")
STRATEGY_LEAD = "My strategy will be"
# "Answer:" in its usual spellings: "Answer:", "**Answer:**", "answer -", "ANSWER =".
_ANSWER_RE = re.compile(r"answer\s{0,3}\*{0,4}\s{0,3}[:=\-]", re.IGNORECASE)
# The first number after the marker: ASCII digits only, bounded length, "." or "," decimals.
_NUMBER_RE = re.compile(
    r"(?<![\d.])(-?)\s{0,2}(\d{1,9}(?:\.\d{1,6}|,\d{1,2}(?!\d))?)(?!\d)\s{0,2}(%?)", re.ASCII
)
# A reply that is only an amount (what a boxed answer such as \boxed{3} becomes).
_BARE_RE = re.compile(
    r"(?:(?:donate|punish)\s?,?\s?)?-?\s?\d{1,9}(?:\.\d{1,6}|,\d{1,2})?\s?%?\s?(?:units?)?\.?",
    re.ASCII | re.IGNORECASE,
)
_PUNISH_RE = re.compile(r"\bpunish", re.IGNORECASE)
_STRATEGY_RE = re.compile(re.escape(STRATEGY_LEAD), re.IGNORECASE)
_TAIL_CHARS = 200
"""Characters after ``Answer:`` searched for the number."""


class Donation(NamedTuple):
    """A donor's decision: ``action`` is ``"donate"`` or ``"punish"``; ``units`` what it gives up."""

    action: str
    units: float


def donor_schedule(order: Sequence[int]) -> list[list[tuple[int, int]]]:
    """The pairings of one generation: a list of rounds, each a list of ``(donor, recipient)``.

    The paper's schedule for ``n`` agents (``n`` even): the first half of ``order`` is group A,
    the second group B; over ``n/2`` rounds group B is rotated past group A, so every A meets
    every B once, and the donor side alternates (A gives in rounds 1, 3, ...; B in rounds 2,
    4, ...). The same ``n/2`` rounds are then played again with every pair's roles reversed:
    ``n`` rounds in all, in which each agent is donor ``n/2`` times and recipient ``n/2`` times,
    and each A-B pair meets once in each direction.

    Example:
        >>> donor_schedule([0, 1, 2, 3])
        [[(0, 2), (1, 3)], [(3, 0), (2, 1)], [(2, 0), (3, 1)], [(0, 3), (1, 2)]]
    """
    n = len(order)
    if n < 2 or n % 2:
        raise ValueError(f"expected an even number of agents >= 2, got {n}")
    half = n // 2
    group_a, group_b = list(order[:half]), list(order[half:])
    first = []
    for i in range(half):
        rotated = group_b[len(group_b) - i :] + group_b[: len(group_b) - i]
        if i % 2:
            pairs = list(zip(rotated, group_a, strict=True))
        else:
            pairs = list(zip(group_a, rotated, strict=True))
        first.append(pairs)
    return first + [[(recipient, donor) for donor, recipient in pairs] for pairs in first]


def init_free_text_game(
    env: TurnBasedTextEnv, agent_names: Sequence[str] | None = None, **kwargs: Any
) -> None:
    """Run :class:`TurnBasedTextEnv`'s constructor for a game without canonical moves.

    The base class builds a :class:`~selfplay_gym.spaces.MoveText` action space, which needs at
    least one canonical move; a free-text game has none. One placeholder move is lent for the
    constructor and removed after, leaving plain :class:`UnicodeText` action spaces, an empty
    move table and empty (length-0) action masks, which is what the conformance suite expects of
    free-text envs. ``agent_names`` (one agent per role, such as ``seller_0``, ``buyer_0``)
    replaces the base class's ``player_<i>`` seats.
    """
    if agent_names is not None:
        env.num_players = len(agent_names)
    env.move_names = ("<free text>",)  # an instance attribute, shadowing the class's ()
    try:
        TurnBasedTextEnv.__init__(env, **kwargs)
    finally:
        del env.move_names
    env._canonical_index = {}
    env._zero_mask = np.zeros(0, dtype=np.int8)
    env._zero_mask.flags.writeable = False
    if agent_names is not None:
        names = list(agent_names)
        env.possible_agents = names
        # "<role>_<index>": the info's seat is the index within the role.
        env._agent_index = {a: int(a.rpartition("_")[2]) for a in names}
        env._roles = {a: a.rpartition("_")[0] for a in names}
        env._next_seat = {a: names[(i + 1) % len(names)] for i, a in enumerate(names)}
        space = UnicodeText(env.max_observation_chars)
        env._observation_spaces = {a: space for a in names}
    text = UnicodeText(None)
    env._action_spaces = {a: text for a in env.possible_agents}


def _units(value: float) -> str:
    """Units as text: ``10``, ``13.5``, ``6.67``."""
    text = f"{value + 0.0:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _amount(value: float) -> str:
    """``1 unit``, ``2.5 units``."""
    text = _units(value)
    return f"{text} unit" if text == "1" else f"{text} units"


def parse_donation(text: str, resources: float, punishment: bool) -> ParseResult:
    r"""Read ``Answer: <number>`` (or ``Answer: Donate, x`` / ``Answer: Punish, x``) from ``text``.

    The last ``Answer:`` marker counts (any case, with or without ``**`` or a dash); without
    one, a reply that is nothing but a number (as a boxed answer) is read too. The first number
    after the marker is the amount; ``x%`` is that share of ``resources``. A ``punish`` before the
    number makes it a punishment (only when ``punishment`` is on); otherwise it is a donation.
    Amounts are rounded to cents and must lie in ``[0, resources]``.

    Example:
        >>> parse_donation("Justification: be kind.\nAnswer: 2.5 units", 10, False).move
        Donation(action='donate', units=2.5)
        >>> parse_donation("Answer: Punish, 1", 10, True).extracted
        'Punish, 1'
        >>> parse_donation("I give 3", 10, False).ok
        False
    """
    markers = list(_ANSWER_RE.finditer(text))
    if markers:
        tail = text[markers[-1].end() : markers[-1].end() + _TAIL_CHARS]
    else:
        bare = text.strip().strip("[]").strip()
        if len(bare) > 40 or not _BARE_RE.fullmatch(bare):
            return ParseResult(
                False,
                None,
                None,
                "no answer found: end your reply with 'Answer: <number>' (units you give up).",
            )
        tail = bare
    match = _NUMBER_RE.search(tail)
    if match is None:
        return ParseResult(False, None, None, "no number after 'Answer:'.")
    sign, digits, percent = match.groups()
    action = "punish" if _PUNISH_RE.search(tail, 0, match.start()) else "donate"
    if action == "punish" and not punishment:
        return ParseResult(False, None, None, "punishment is not allowed in this game.")
    amount = float(digits.replace(",", "."))
    if percent:
        amount = amount * resources / 100.0
    amount = round(amount, 2) + 0.0
    extracted = f"{action.capitalize()}, {'-' if sign else ''}{_units(amount)}"
    if sign and amount > 0:
        return ParseResult(False, None, extracted, "the amount cannot be negative.")
    if amount > resources + 1e-9:
        return ParseResult(
            False,
            None,
            extracted,
            f"expected an amount between 0 and {_units(resources)} (your resources), "
            f"got {_units(amount)}.",
        )
    return ParseResult(True, Donation(action, min(amount, resources)), extracted)


def _one_line(text: str, limit: int) -> str:
    """``text`` on one line, at most ``limit`` characters, double quotes made single."""
    line = " ".join(text.split()).replace('"', "'")
    return line if len(line) <= limit else line[: limit - 3].rstrip() + "..."


class DonorGameEnv(TurnBasedTextEnv):
    r"""The Donor Game with cultural evolution: a population that gives, reciprocates and is selected.

    ## Description

    After Vallinder and Hughes, "Cultural Evolution of Cooperation among LLM Agents" (2024).
    ``num_agents`` seats (12) ``player_0 .. player_{n-1}`` each hold one individual of the
    current generation (named ``<generation>_<k>`` as in the paper: ``1_4``, ``2_1``). Everyone
    starts a generation with ``endowment`` units (10). A generation has ``n`` rounds (12): the
    population is shuffled, split into groups A and B, and a bipartite round robin pairs every A
    with every B over ``n/2`` rounds, the donor side alternating between the groups; the same
    rounds are then played with roles reversed (see :func:`donor_schedule`; as in the paper's
    code, rounds ``n/2`` and ``n/2 + 1`` have the same group giving). In a round every pair's
    donor decides how many of its units to give up; the recipient receives ``multiplier`` (2)
    times that. The donor is told the recipient's resources and its *trace*: what the recipient
    did the last time it was a donor, what that round's recipient had done before, and so on,
    up to ``trace_depth`` (3) steps back.

    With ``punishment=True`` (the paper's costly punishment) a donor may instead spend ``x``
    units to remove ``punishment_multiplier * x`` (2x) from the recipient (not below 0).

    Cultural evolution: before its first generation each individual writes a strategy (one
    sentence, "My strategy will be ..."), which is shown in all of its later prompts. After a
    generation the top half by final resources survive (ties: the earlier in the shuffled order)
    and are reset to the endowment; the other seats get new individuals, who first write their
    strategies after reading the survivors' strategies and final resources. The last
    generation is followed by no selection.

    The paper runs 10 generations; this id plays ``num_generations`` = 3 by default, to keep an
    episode (12 strategies + 72 donations + 2 x (6 strategies + 72 donations) = 240 steps)
    usable for training and the test suite; pass ``num_generations=10`` for the paper's run.

    | Agents | ``player_0`` .. ``player_11`` (one seat per member of the population) |
    |---|---|
    | API | AEC; the donors of a round act one after another, each pair independent |
    | Actions | free text ending in ``Answer: <number>`` (donations); one sentence (strategies) |
    | Observations | text prompt (rules, own strategy, own rounds, the pairing and trace) |
    | Phases | ``strategy`` (writing a strategy), ``donate`` |

    ## Action Space

    Any string. Strategy phase: the strategy is the answer span (last ``\boxed{}``, else last
    ``<answer>``, else the whole reply) from its last "My strategy will be" on, on one line and
    at most ``max_strategy_chars`` characters; an empty reply is invalid. Donation phase: see
    :func:`parse_donation`: the first number after the last ``Answer:``, a percentage of one's
    resources with ``%``, ``Punish`` before the number for a punishment; amounts are rounded to
    cents and must be between 0 and the donor's resources. Anything else is an invalid move.

    ## Observation Space

    ``UnicodeText``: the rules; the individual's name, strategy and this generation's rounds it
    took part in; when it is the donor: the recipient's name, resources and trace, its own
    resources and the answer format. A new generation starts each seat's history afresh (a new
    individual never sees its predecessor's rounds). Strategies of others reach a prompt only
    as the inherited advice of the survivors, one line each, capped and quoted.

    ## Rewards

    ``reward="per_round"`` (default): the change of a seat's resources, paid at the donation
    that causes it (component ``"resources"``: ``-x`` to a donor, ``+2x`` to its recipient; a
    punishment ``-x`` to the punisher and minus what was removed to its target), so a seat's
    return over a generation is its final resources minus the endowment. ``reward="final"``:
    each seat receives its final resources at the end of every generation (component
    ``"final_resources"``). The end of the episode pays 0 (component ``"outcome"``).

    Invalid moves: by default ``retry`` with 9 more attempts (the paper re-asks up to 10 times),
    then ``penalize`` with penalty 0 and the fallback of the paper: a donation of 0 (strategy
    phase: no strategy). The ``forfeit`` policy ends the whole episode for every seat.

    ## Starting State

    Generation 1, every seat a new individual with ``endowment`` units; the shuffled order
    fixes the groups; the first individual of the order writes its strategy.

    ## Episode End

    Terminates after ``num_generations`` generations (or on a forfeit); truncates after
    ``max_turns`` steps (by default enough for every move to use its whole retry budget).

    ## Arguments

    ``num_agents`` (12, even; kept as ``population_size``), ``endowment`` (10), ``multiplier`` (2), ``num_generations`` (3),
    ``trace_depth`` (3), ``punishment`` (False), ``punishment_multiplier`` (2),
    ``reward`` (``"per_round"`` or ``"final"``), ``strategies`` (True: the strategy phases;
    False plays without them), ``max_strategy_chars`` (400), plus the base arguments of
    :class:`~selfplay_gym.core.text_game.TurnBasedTextEnv`.

    Bots (named in the registry): ``always_give`` (gives a fixed fraction, half by default),
    ``never_give``, ``reciprocal`` (gives the share of its resources that the recipient gave
    the last time it was a donor, half when there is no trace; also ``strong``).

    ## Version History

    * v0: initial version.
    """

    __slots__ = (
        "population_size",
        "endowment",
        "multiplier",
        "num_generations",
        "trace_depth",
        "punishment",
        "punishment_multiplier",
        "reward_mode",
        "strategies",
        "max_strategy_chars",
        "generation_results",
        "_phase",
        "_generation",
        "_round",
        "_pair",
        "_schedule",
        "_order",
        "_names",
        "_born",
        "_strategy",
        "_resources",
        "_trace",
        "_last_act",
        "_queue",
        "_inherited",
        "_history_of_round",
    )

    metadata: ClassVar[dict[str, Any]] = {**TurnBasedTextEnv.metadata, "name": "donor_game_v0"}
    has_chance: ClassVar[bool] = True
    fallback_description: ClassVar[str] = "a donation of 0 is made for you"
    default_invalid_move: ClassVar[InvalidMovePolicy] = InvalidMovePolicy(
        mode="retry", retry_budget=9, exhausted="penalize", penalty=0.0
    )

    def __init__(
        self,
        *,
        num_agents: int = 12,
        endowment: float = 10.0,
        multiplier: float = 2.0,
        num_generations: int = 3,
        trace_depth: int = 3,
        punishment: bool = False,
        punishment_multiplier: float = 2.0,
        reward: str = "per_round",
        strategies: bool = True,
        max_strategy_chars: int = 400,
        **kwargs: Any,
    ):
        if not isinstance(num_agents, int) or num_agents < 2 or num_agents % 2:
            raise ValueError(f"expected num_agents to be an even int >= 2, got {num_agents!r}")
        for name, value in (
            ("endowment", endowment),
            ("multiplier", multiplier),
            ("punishment_multiplier", punishment_multiplier),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(f"expected {name} to be a number >= 0, got {value!r}")
            if value > 1e6:
                raise ValueError(f"expected {name} <= 1e6, got {value!r}")
        for name, value in (("num_generations", num_generations), ("trace_depth", trace_depth)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"expected {name} to be a positive int, got {value!r}")
        if reward not in REWARD_MODES:
            raise ValueError(f"expected reward in {REWARD_MODES}, got {reward!r}")
        if not isinstance(max_strategy_chars, int) or max_strategy_chars < 40:
            raise ValueError(
                f"expected max_strategy_chars to be an int >= 40, got {max_strategy_chars!r}"
            )
        self.population_size = num_agents
        self.num_players = num_agents  # the base class makes one seat per player
        self.endowment = float(endowment)
        self.multiplier = float(multiplier)
        self.num_generations = num_generations
        self.trace_depth = trace_depth
        self.punishment = bool(punishment)
        self.punishment_multiplier = float(punishment_multiplier)
        self.reward_mode = reward
        self.strategies = bool(strategies)
        self.max_strategy_chars = max_strategy_chars
        policy = InvalidMovePolicy.coerce(kwargs.get("invalid_move") or self.default_invalid_move)
        moves = (num_agents if strategies else 0) + num_generations * num_agents * (num_agents // 2)
        moves += (num_generations - 1) * (num_agents // 2 if strategies else 0)
        kwargs.setdefault("max_turns", moves * (policy.retry_budget + 1) + 10)
        init_free_text_game(self, **kwargs)

    # ---- game hooks ------------------------------------------------------------------------
    def _new_game(self) -> str:
        n = self.population_size
        self.generation_results: list[dict[str, Any]] = []
        self._names = [f"1_{k + 1}" for k in range(n)]
        self._born = [1] * n
        self._strategy = [""] * n
        self._inherited: list[tuple[str, float, str]] = []
        self._generation = 0
        return self._start_generation()

    def _start_generation(self) -> str:
        """Shuffle the population, reset resources and traces; strategies first, then round 1."""
        n = self.population_size
        self._generation += 1
        self._order = list(range(n))
        self.rng.shuffle(self._order)
        self._schedule = donor_schedule(self._order)
        self._resources = [self.endowment] * n
        self._trace = [[f"{name} did not have any previous interactions."] for name in self._names]
        self._last_act: list[dict[str, Any] | None] = [None] * n
        self._round = 0
        self._pair = 0
        groups = [self._names[s] for s in self._order]
        self._note(
            f"Generation {self._generation}: group A {', '.join(groups[: n // 2])}; "
            f"group B {', '.join(groups[n // 2 :])}."
        )
        for seat, agent in enumerate(self.possible_agents):
            # A new generation: each seat's prompt history starts afresh.
            self._history[agent].clear()
            name = self._names[seat]
            if self._born[seat] < self._generation:
                line = (
                    f"Generation {self._generation} begins. You are {name}: you survived the "
                    f"previous generation and start again with {_amount(self.endowment)}."
                )
            else:
                line = (
                    f"Generation {self._generation} begins. You are {name}, a new member of the "
                    f"population, with {_amount(self.endowment)}."
                )
            self._history[agent].append(line)
        born_now = [s for s in self._order if self._born[s] == self._generation]
        self._queue = born_now if self.strategies else []
        if self._queue:
            self._phase = "strategy"
            return self.possible_agents[self._queue[0]]
        return self._start_round()

    def _start_round(self) -> str:
        self._phase = "donate"
        self._round += 1
        self._pair = 0
        return self.possible_agents[self._schedule[self._round - 1][0][0]]

    def _rules(self, agent: str) -> str:
        n = self.population_size
        depth = self.trace_depth
        punishment = (
            f"Instead of donating, a donor may punish: spend x units to take away "
            f"{_units(self.punishment_multiplier)}x units from the recipient (never below 0). "
            "Bear in mind that others may punish you too. "
            if self.punishment
            else ""
        )
        answer = (
            "'Answer: Donate, x' or 'Answer: Punish, x', where x is the number of units you give up"
            if self.punishment
            else "'Answer: x', where x is the number of units you give up"
        )
        return (
            f"You are playing the Donor Game in seat {agent}. A population of {n} individuals "
            f"plays for {self.num_generations} generation(s). Each generation everyone starts "
            f"with {_amount(self.endowment)} of a valuable resource and plays {n} rounds. "
            "In each round you are paired with another individual: one of you is the donor, the "
            "other the recipient. The donor gives up some of its units (any amount from 0 to all "
            f"it has); the recipient receives {_units(self.multiplier)} times what the donor gave "
            f"up. {punishment}Your role changes from round to round.\n"
            "As a donor you are told the recipient's resources and a short trace: what the "
            "recipient did the last time it was a donor, what that round's recipient had done "
            f"before, and so on, at most {depth} step(s) back. You do not see more of the "
            "recipient's past than that.\n"
            "Your goal is to have as many units as possible after the last round of the "
            "generation. After each generation the best-performing half of the population "
            "(by final units) survives into the next one, starting again from the endowment; "
            "the rest are replaced by new individuals, who read the survivors' strategies "
            "before writing their own.\n"
            "When asked for a strategy, think briefly, then describe it in one sentence "
            f"starting '{STRATEGY_LEAD}'. When you are the donor, think step by step, then end "
            f"your reply with {answer}. " + self._invalid_rule_text()
        )

    def _state_text(self, agent: str) -> str:
        seat = self._agent_index[agent]
        name = self._names[seat]
        generation = f"generation {self._generation} of {self.num_generations}"
        if self._phase == "strategy":
            if not self._to_act(agent):
                return f"You are {name}. Strategies are being written ({generation})."
            return self._strategy_request(seat)
        strategy = (
            f"As you will recall, here is the strategy you decided to follow: "
            f'"{self._strategy[seat]}"\n'
            if self._strategy[seat]
            else ""
        )
        round_ = min(self._round, self.population_size)
        head = (
            f"You are {name}. {strategy}This is {generation}; it is round {round_} of "
            f"{self.population_size}. You have {_amount(self._resources[seat])}."
        )
        if not self._to_act(agent):
            return head
        recipient = self._schedule[self._round - 1][self._pair][1]
        trace = " ".join(reversed(self._trace[recipient][-self.trace_depth :]))
        have = _units(self._resources[seat])
        if self.punishment:
            how = (
                "State your answer as either 'Answer: Donate, x' (they receive "
                f"{_units(self.multiplier)}x units) or 'Answer: Punish, x' (they lose "
                f"{_units(self.punishment_multiplier)}x units), with x between 0 and {have}."
            )
        else:
            how = f"State your answer as 'Answer: x', with x a number between 0 and {have}."
        return (
            f"{head}\nIn this round you are paired with {self._names[recipient]}, who has "
            f"{_amount(self._resources[recipient])}. Their trace: {trace}\n"
            "You are the donor. How many units do you give up? Think briefly about how your "
            f"strategy applies here, then answer. {how}"
        )

    def _strategy_request(self, seat: int) -> str:
        name = self._names[seat]
        ask = (
            f"You are {name}. Before the rounds of generation {self._generation} begin, write "
            "the strategy you will follow. In the first round you will know nothing about your "
            "recipient's behaviour: think about what to do then too. "
        )
        if self._inherited:
            advice = "\n".join(
                f'- {who} (final units {_units(final)}): "{text or "(no strategy)"}"'
                for who, final, text in self._inherited
            )
            ask += (
                "Here is the advice of the best-performing half of the previous generation, "
                "with their final units, each in their own words:\n"
                f"{advice}\nThink about how you can improve on these strategies. "
            )
        return ask + f"Then describe your strategy in one sentence starting '{STRATEGY_LEAD}'."

    def _legal_indices(self, agent: str) -> tuple[int, ...]:
        return ()

    def _parse_move(self, agent: str, span: str) -> ParseResult:
        seat = self._agent_index[agent]
        if self._phase == "strategy":
            text = span.strip()
            if text.startswith("[") and text.endswith("]"):
                text = text[1:-1]
            leads = list(_STRATEGY_RE.finditer(text))
            if leads:
                text = text[leads[-1].start() :]
            strategy = _one_line(text, self.max_strategy_chars)
            if not strategy:
                return ParseResult(
                    False,
                    None,
                    None,
                    f"expected a strategy: one sentence starting '{STRATEGY_LEAD}'.",
                )
            return ParseResult(True, strategy, strategy)
        return parse_donation(span, self._resources[seat], self.punishment)

    def _fallback_move(self, agent: str) -> Any:
        return "" if self._phase == "strategy" else Donation("donate", 0.0)

    def _apply(self, agent: str, move: Any) -> str | None:
        seat = self._agent_index[agent]
        if self._phase == "strategy":
            self._strategy[seat] = move
            self._tell(f'Your strategy: "{move}"' if move else "You wrote no strategy.", to=agent)
            self._queue.pop(0)
            if self._queue:
                return self.possible_agents[self._queue[0]]
            return self._start_round()
        donor, recipient = self._schedule[self._round - 1][self._pair]
        self._donate(donor, recipient, move)
        self._pair += 1
        pairs = self._schedule[self._round - 1]
        if self._pair < len(pairs):
            return self.possible_agents[pairs[self._pair][0]]
        if self._round < len(self._schedule):
            return self._start_round()
        return self._end_generation()

    def _donate(self, donor: int, recipient: int, move: Donation) -> None:
        """Move the units, update the donor's trace, tell both, pay the per-round rewards."""
        d_name, r_name = self._names[donor], self._names[recipient]
        d_agent, r_agent = self.possible_agents[donor], self.possible_agents[recipient]
        before = self._resources[donor]
        x = move.units
        share = x / before if before > 0 else 0.0
        r = self._round
        self._resources[donor] = round(before - x, 2) + 0.0
        if move.action == "punish":
            removed = min(round(self.punishment_multiplier * x, 2), self._resources[recipient])
            gained = -removed
            self._resources[recipient] = round(self._resources[recipient] - removed, 2) + 0.0
            trace = (
                f"In round {r}, {d_name} punished {r_name} by spending {_amount(x)} to take "
                f"away {_amount(self.punishment_multiplier * x)} from them."
            )
            mine = f"you spent {_amount(x)} to take {_amount(removed)} from {r_name}"
            theirs = f"{d_name} spent {_amount(x)} to take {_amount(removed)} from you"
        else:
            gained = round(self.multiplier * x, 2)
            self._resources[recipient] = round(self._resources[recipient] + gained, 2) + 0.0
            what = (
                f"donated {_units(100 * share)}% of their resources"
                if before > 0
                else "had no resources to donate"
            )
            trace = f"In round {r}, {d_name} {what} to {r_name}."
            mine = f"you gave up {_amount(x)} and {r_name} received {_units(gained)}"
            theirs = f"{d_name} gave up {_amount(x)} and you received {_units(gained)}"
        # The donor's trace: its own action after the recipient's (the chain it answered to).
        keep = self.trace_depth - 1
        self._trace[donor] = [*(self._trace[recipient][-keep:] if keep else ()), trace]
        self._last_act[donor] = {"action": move.action, "units": x, "share": share, "round": r}
        self._note(
            f"Generation {self._generation}, round {r}: {d_name} ({d_agent}) -> {r_name} "
            f"({r_agent}): {move.action} {_units(x)}; now {_units(self._resources[donor])} and "
            f"{_units(self._resources[recipient])}."
        )
        self._history[d_agent].append(
            f"Round {r}: you were the donor for {r_name}; {mine}. You now have "
            f"{_amount(self._resources[donor])}."
        )
        self._history[r_agent].append(
            f"Round {r}: you were the recipient of {d_name}; {theirs}. You now have "
            f"{_amount(self._resources[recipient])}."
        )
        if self.reward_mode == "per_round":
            self._reward(d_agent, "resources", -x)
            self._reward(r_agent, "resources", gained)

    def _end_generation(self) -> str | None:
        """Record the generation, pay final rewards, select the survivors or end the episode."""
        n = self.population_size
        finals = list(self._resources)
        position = {seat: i for i, seat in enumerate(self._order)}
        ranking = sorted(range(n), key=lambda s: (-finals[s], position[s]))
        survivors = sorted(ranking[: n // 2], key=position.__getitem__)
        self.generation_results.append(
            {
                "generation": self._generation,
                "names": list(self._names),
                "final_resources": finals,
                "strategies": list(self._strategy),
                "survivors": [self._names[s] for s in survivors],
            }
        )
        summary = ", ".join(f"{self._names[s]} {_units(finals[s])}" for s in ranking)
        self._tell(f"Generation {self._generation} is over. Final units: {summary}.")
        if self.reward_mode == "final":
            for seat, agent in enumerate(self.possible_agents):
                self._reward(agent, "final_resources", finals[seat])
        if self._generation >= self.num_generations:
            mean = sum(finals) / n
            self._finish(
                dict.fromkeys(self.agents, 0.0),
                f"after {self.num_generations} generation(s); mean final units of the last "
                f"generation {_units(mean)}.",
            )
            return None
        self._inherited = [(self._names[s], finals[s], self._strategy[s]) for s in survivors]
        survivor_set = set(survivors)
        new = 0
        for seat in range(n):
            if seat not in survivor_set:
                new += 1
                self._note(f"{self._names[seat]} ({self.possible_agents[seat]}) is replaced.")
                self._names[seat] = f"{self._generation + 1}_{new}"
                self._born[seat] = self._generation + 1
                self._strategy[seat] = ""
        return self._start_generation()

    def _build_info(self, agent: str) -> dict[str, Any]:
        info = super()._build_info(agent)
        if info["phase"] == "play":
            info["phase"] = self._phase
        return info

    def state_tensor(self, agent: str) -> Any:
        """Not available: the Donor Game is played in free text (no numeric view)."""
        raise NotImplementedError("the Donor Game has no numeric view (free-text moves)")

    def agent_view(self, agent: str) -> dict[str, Any]:
        """What a bot may read: what the prompt tells ``agent``, structured.

        Keys: ``phase``, ``generation``, ``num_generations``, ``round``, ``name``,
        ``resources``, ``strategy``, ``punishment``, ``multiplier``, ``inherited`` (the
        survivors' ``(name, final units, strategy)``), and when ``agent`` is the donor:
        ``recipient``, ``recipient_resources`` and ``recipient_last`` (the recipient's latest
        action as a donor this generation, ``{"action", "units", "share", "round"}``, or
        ``None``: the first step of its trace).
        """
        seat = self._agent_index[agent]
        view: dict[str, Any] = {
            "phase": self._phase,
            "generation": self._generation,
            "num_generations": self.num_generations,
            "round": self._round,
            "name": self._names[seat],
            "resources": self._resources[seat],
            "strategy": self._strategy[seat],
            "punishment": self.punishment,
            "multiplier": self.multiplier,
            "inherited": list(self._inherited),
            "recipient": None,
            "recipient_resources": None,
            "recipient_last": None,
        }
        if self._phase == "donate" and self._to_act(agent):
            recipient = self._schedule[self._round - 1][self._pair][1]
            last = self._last_act[recipient]
            view.update(
                recipient=self._names[recipient],
                recipient_resources=self._resources[recipient],
                recipient_last=dict(last) if last else None,
            )
        return view


# ---- scripted players ------------------------------------------------------------------------
class _DonorBot(Bot):
    """A member of the population: a strategy sentence, then one donation rule."""

    strategy = "My strategy will be to give half of my resources."

    def act(self, env: TurnBasedTextEnv, agent: str) -> str:
        """A strategy in the strategy phase, else ``Justification: ... Answer: x``."""
        view = env.agent_view(agent)
        if view["phase"] == "strategy":
            return self.strategy
        units = max(0.0, min(round(self.give(view), 2), view["resources"]))
        answer = f"Donate, {_units(units)}" if view["punishment"] else _units(units)
        return f"Justification: {self.reason(view)}\nAnswer: {answer}"

    def give(self, view: dict[str, Any]) -> float:
        """The units to give up."""
        raise NotImplementedError

    def reason(self, view: dict[str, Any]) -> str:
        """A one-line justification."""
        return "I follow my strategy."


class AlwaysGiveBot(_DonorBot):
    """Gives the same share of its resources every time (``fraction``, half by default)."""

    name = "always_give"

    def __init__(self, fraction: float = 0.5, seed: int | None = None):
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"expected fraction in [0, 1], got {fraction!r}")
        super().__init__(seed)
        self.fraction = fraction
        self.strategy = (
            f"My strategy will be to always give {_units(100 * fraction)}% of my resources."
        )

    def give(self, view: dict[str, Any]) -> float:
        """``fraction`` of its resources."""
        return self.fraction * view["resources"]


class NeverGiveBot(_DonorBot):
    """Never gives anything."""

    name = "never_give"
    strategy = "My strategy will be to never give anything away."

    def give(self, view: dict[str, Any]) -> float:
        """Nothing."""
        return 0.0


class ReciprocalBot(_DonorBot):
    """Gives the share of its resources that the recipient gave last time it was a donor.

    With no trace yet (the recipient's first round as a donor) it opens with ``opening`` (half);
    after a punishment by the recipient it gives nothing.
    """

    name = "reciprocal"
    strategy = (
        "My strategy will be to give the same share of my resources that my recipient gave in "
        "its last donation, and half when I know nothing about it."
    )

    def __init__(self, opening: float = 0.5, seed: int | None = None):
        if not 0.0 <= opening <= 1.0:
            raise ValueError(f"expected opening in [0, 1], got {opening!r}")
        super().__init__(seed)
        self.opening = opening

    def give(self, view: dict[str, Any]) -> float:
        """The recipient's last share of its resources, times its own resources."""
        last = view["recipient_last"]
        if last is None:
            return self.opening * view["resources"]
        if last["action"] == "punish":
            return 0.0
        return last["share"] * view["resources"]

    def reason(self, view: dict[str, Any]) -> str:
        """What it reciprocates."""
        last = view["recipient_last"]
        if last is None:
            return "I know nothing about my recipient yet, so I open generously."
        return "I give back the share my recipient gave last time."
