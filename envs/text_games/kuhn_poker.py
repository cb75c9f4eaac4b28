"""Kuhn Poker over several hands as a language game (SPIRAL's KuhnPoker setting) and a Nash bot."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from itertools import permutations
from typing import Any, ClassVar

import numpy as np

from selfplay_gym.core.bots import Bot
from selfplay_gym.core.parsers import ParseResult
from selfplay_gym.core.text_game import TurnBasedTextEnv

__all__ = ["KuhnPokerEnv", "NashKuhnBot", "exploitability"]

CARDS = ("J", "Q", "K")
MOVES = ("[check]", "[bet]", "[call]", "[fold]")
CHECK, BET, CALL, FOLD = range(4)
_WORDS = ("check", "bet", "call", "fold")
_VERBS = ("checks", "bets", "calls", "folds")
_MOVE_RE = re.compile(r"\[\s*(check|bet|call|fold)\s*\]", re.IGNORECASE)
# Legal moves after a betting sequence within one hand (sequences are tuples of move indices).
_LEGAL = {
    (): (CHECK, BET),
    (CHECK,): (CHECK, BET),
    (BET,): (CALL, FOLD),
    (CHECK, BET): (CALL, FOLD),
}
_LEGAL_TEXT = {
    seq: "Legal moves: " + ", ".join(MOVES[m] for m in moves) for seq, moves in _LEGAL.items()
}
_ACTION_LINES = {(f"player_{i}", m): f"player_{i} {_VERBS[m]}." for i in range(2) for m in range(4)}
# "Chips: you -1, opponent +1." lines, built once; bounded by the range of chip counts.
_CHIPS_TEXT: dict[tuple[int, int], str] = {}
_SHOWDOWN = frozenset({(CHECK, CHECK), (BET, CALL), (CHECK, BET, CALL)})
_DEALS = tuple(permutations(range(3), 2))  # (card of player_0, card of player_1), equally likely


class KuhnPokerEnv(TurnBasedTextEnv):
    r"""Kuhn Poker for two language-model players over ``num_hands`` hands.

    ## Description

    A three-card deck (J < Q < K). Each hand both players ante ``ante`` chip(s) and are dealt
    one private card; one betting round follows: the opener may check or bet one chip; facing a
    check the other may check (showdown) or bet; facing a bet a player may call (showdown) or
    fold (the bettor takes the pot). At a showdown the higher card takes the pot. The opener
    alternates from hand to hand. After ``num_hands`` hands the player with more chips wins;
    equal chips is a draw. SPIRAL's constants: 5 hands, ante 1.

    | Agents | ``player_0``, ``player_1`` |
    |---|---|
    | API | AEC (turn-based) |
    | Actions | text; the move is the last ``[check]``, ``[bet]``, ``[call]`` or ``[fold]`` |
    | Numeric actions | ``Discrete(4)``: check, bet, call, fold |
    | Observations | text prompt (rules, every hand so far, own card, pot, chips, legal moves) |
    | State tensor | 19 floats (own card, betting so far, hand index, chip balance, pot, opener) |

    ## Action Space

    Any string. In the answer span (last ``\boxed{}``, else last ``<answer>``, else the whole
    reply) the last bracketed move counts, case-insensitively (``\boxed{bet}`` reads as
    ``[bet]``). An integer action is an index into ``[check], [bet], [call], [fold]``.

    ## Observation Space

    ``UnicodeText``: rules, the history of all hands as this player saw them (the opponent's
    card only when shown down), the current hand, the chips, and the legal moves.

    ## Rewards

    +1 to the player with more chips after the last hand, -1 to the other, 0 each on a tie
    (``payoff="match"``, SPIRAL's). With ``payoff="chips"`` each hand pays its net chips when it
    ends instead (component ``"chips"``: the pot winner gets the loser's stake, the loser loses
    it), so an episode's return is the chip balance -- the payoff of classic Kuhn Poker, in
    which equilibrium play and exploitability are stated. Invalid moves follow the invalid-move policy (default ``forfeit``: -1.5 / +0.5); under
    ``penalize`` the fallback move is *check if possible, else fold*.

    ## Starting State

    Hand 1: both players ante, cards dealt from a shuffled deck; ``player_{first_opener}`` opens.

    ## Episode End

    Terminates after the last hand or on a forfeit; truncates after ``max_turns`` steps.

    ## Arguments

    ``num_hands`` (5), ``ante`` (1), ``first_opener`` (1: ``player_1`` opens hands 1, 3 and 5, as in
    the TextArena env SPIRAL builds on; 0 lets ``player_0`` open), ``payoff`` (``"match"`` or
    ``"chips"``), plus the base arguments of
    :class:`~selfplay_gym.core.text_game.TurnBasedTextEnv`.

    ## Version History

    * v0: initial version (the ``payoff`` argument was added later; its default keeps v0's
      behaviour).
    """

    __slots__ = (
        "num_hands",
        "ante",
        "payoff",
        "first_opener",
        "_chips",
        "_hand",
        "_cards",
        "_bets",
        "_pot",
        "_opener",
        "_hand_text",
    )

    metadata: ClassVar[dict[str, Any]] = {**TurnBasedTextEnv.metadata, "name": "kuhn_poker_v0"}
    move_names: ClassVar[tuple[str, ...]] = MOVES
    state_size: ClassVar[int] = 19
    has_chance: ClassVar[bool] = True
    fallback_description: ClassVar[str] = "you check if you can, else fold"

    def __init__(
        self,
        *,
        num_hands: int = 5,
        ante: int = 1,
        first_opener: int = 1,
        payoff: str = "match",
        **kwargs: Any,
    ):
        if not isinstance(num_hands, int) or num_hands < 1:
            raise ValueError(f"expected num_hands to be a positive int, got {num_hands!r}")
        if not isinstance(ante, int) or ante < 1:
            raise ValueError(f"expected ante to be a positive int, got {ante!r}")
        if first_opener not in (0, 1):
            raise ValueError(f"expected first_opener to be 0 or 1, got {first_opener!r}")
        if payoff not in ("match", "chips"):
            raise ValueError(f"expected payoff 'match' or 'chips', got {payoff!r}")
        self.num_hands = num_hands
        self.ante = ante
        self.payoff = payoff
        self.first_opener = first_opener
        self._deal_texts: dict[tuple[int, int, int], tuple] = {}
        super().__init__(**kwargs)

    # ---- game hooks ------------------------------------------------------------------------
    def _new_game(self) -> str:
        self._chips = {a: 0 for a in self.possible_agents}
        self._hand = 0
        return self._deal()

    def _deal(self) -> str:
        """Start the next hand; return its opener."""
        hand = self._hand = self._hand + 1
        first, second = _DEALS[int(self.rng.random() * 6)]
        self._cards = {"player_0": first, "player_1": second}
        self._bets: tuple[int, ...] = ()  # move indices of this hand, in order
        self._pot = 2 * self.ante
        chips = self._chips
        chips["player_0"] -= self.ante
        chips["player_1"] -= self.ante
        key = (hand, first, second)
        texts = self._deal_texts.get(key)
        if texts is None:
            texts = self._deal_texts[key] = self._describe_deal(*key)
        self._opener, note, self._hand_text, lines = texts
        self._note(note)
        for agent, line in lines:
            self._history[agent].append(line)
        return self._opener

    def _describe_deal(self, hand: int, first: int, second: int) -> tuple:
        """Opener and texts of a deal (cached per env: there are 6 deals per hand number)."""
        cards = {"player_0": first, "player_1": second}
        opener = self.possible_agents[(self.first_opener + hand - 1) % 2]
        note = f"Hand {hand}: player_0 holds {CARDS[first]}, player_1 holds {CARDS[second]}."
        hand_text = {
            a: f"Hand {hand} of {self.num_hands}. Your card: {CARDS[cards[a]]}." for a in cards
        }
        lines = tuple(
            (
                a,
                f"Hand {hand} of {self.num_hands}: you hold {CARDS[cards[a]]}; "
                f"each player antes {self.ante}; {opener} acts first.",
            )
            for a in cards
        )
        return opener, note, hand_text, lines

    def _rules(self, agent: str) -> str:
        return (
            f"You are {agent} in a {self.num_hands}-hand match of Kuhn Poker against one opponent.\n"
            "The deck has three cards: J, Q and K (K is highest). Each hand, both players put "
            f"{self.ante} chip(s) into the pot and each receives one card the other cannot see. "
            "Then one betting round: the first player may [check] or [bet] one chip. After a "
            "check the other player may [check], which goes to a showdown, or [bet]. Facing a bet "
            "a player may [call] (match it; showdown) or [fold] (give up the pot to the bettor). "
            "At a showdown the higher card wins the pot. The first player alternates between "
            + (
                f"hands. After {_count(self.num_hands, 'hand')}, whoever has more chips wins the match; equal "
                "chips is a draw.\n"
                if self.payoff == "match"
                else f"hands. The match has {_count(self.num_hands, 'hand')}; you score the chips you win or lose.\n"
            )
            + "Think as much as you like, then give your move in square brackets inside "
            r"\boxed{}, for example \boxed{[check]}. " + self._invalid_rule_text()
        )

    def _state_text(self, agent: str) -> str:
        chips = self._chips
        key = (chips[agent], chips[self._next_seat[agent]])
        head = _CHIPS_TEXT.get(key)
        if head is None:
            head = _CHIPS_TEXT[key] = f"Chips: you {key[0]:+d}, opponent {key[1]:+d}."
        if not self._to_act(agent):
            return head
        return f"{head}\n{self._hand_text[agent]} Pot: {self._pot}.\n{_LEGAL_TEXT[self._bets]}"

    def _legal_indices(self, agent: str) -> tuple[int, ...]:
        return _LEGAL[self._bets]

    def _parse_move(self, agent: str, span: str) -> ParseResult:
        found = _MOVE_RE.findall(span)
        if not found:
            return ParseResult(
                False, None, None, "no move found: expected one of [check], [bet], [call], [fold]."
            )
        move = _WORDS.index(found[-1].lower())
        extracted = MOVES[move]
        legal = _LEGAL[self._bets]
        if move not in legal:
            allowed = ", ".join(MOVES[m] for m in legal)
            return ParseResult(
                False, None, extracted, f"{extracted} is not legal now: choose {allowed}."
            )
        return ParseResult(True, move, extracted)

    def _move_from_index(self, index: int) -> int:
        return index

    def _fallback_move(self, agent: str) -> int:
        return CHECK if CHECK in _LEGAL[self._bets] else FOLD

    def _apply(self, agent: str, move: int) -> str | None:
        other = self._other(agent)
        bets = self._bets = self._bets + (move,)
        self._tell(_ACTION_LINES[agent, move])
        if move in (BET, CALL):
            self._pot += 1
            self._chips[agent] -= 1
        if move == FOLD:
            winner = other
            self._tell(f"{other} wins the pot of {self._pot}.")
        elif bets in _SHOWDOWN:
            cards = self._cards
            winner, loser = (agent, other) if cards[agent] > cards[other] else (other, agent)
            self._tell(
                f"Showdown: {winner} shows {CARDS[self._cards[winner]]}, {loser} shows "
                f"{CARDS[self._cards[loser]]}; {winner} wins the pot of {self._pot}."
            )
        else:
            return other
        if self.payoff == "chips":
            # The winner's own stake comes back; the loser's stake is the hand's payoff.
            won = self._pot - self._stake(winner)
            loser = self._other(winner)
            self._reward(winner, "chips", float(won))
            self._reward(loser, "chips", -float(won))
        self._chips[winner] += self._pot
        self._tell(
            f"Chips after hand {self._hand}: player_0 {self._chips['player_0']:+d}, "
            f"player_1 {self._chips['player_1']:+d}."
        )
        if self._hand < self.num_hands:
            return self._deal()
        a, b = self._chips["player_0"], self._chips["player_1"]
        if self.payoff == "chips":
            # The hands have paid already; the match result is told, not paid again.
            winner_text = (
                "equal chips: a draw."
                if a == b
                else f"{'player_0' if a > b else 'player_1'} has more chips and wins."
            )
            self._finish({"player_0": 0.0, "player_1": 0.0}, winner_text)
        elif a == b:
            self._finish({"player_0": 0.0, "player_1": 0.0}, "equal chips: a draw.")
        else:
            top = "player_0" if a > b else "player_1"
            self._finish({top: 1.0, self._other(top): -1.0}, f"{top} has more chips and wins.")
        return None

    def _stake(self, agent: str) -> int:
        """The chips ``agent`` has put into this hand's pot (ante, bet or call)."""
        first = agent == self._opener
        raised = sum(
            1 for i, m in enumerate(self._bets) if m in (BET, CALL) and (i % 2 == 0) == first
        )
        return self.ante + raised

    def state_tensor(self, agent: str) -> np.ndarray:
        """Own card (3), this hand's moves (3 slots x 4 moves), hand/num_hands, chip balance, pot, opener."""
        x = np.zeros(self.state_size, dtype=np.float32)
        x[self._cards[agent]] = 1.0
        for slot, move in enumerate(self._bets[:3]):
            x[3 + 4 * slot + move] = 1.0
        x[15] = self._hand / self.num_hands
        # A hand moves at most ante + 1 chips each way, so these stay within [-1, 1].
        swing = 2.0 * (self.ante + 1)
        x[16] = (self._chips[agent] - self._chips[self._other(agent)]) / (swing * self.num_hands)
        x[17] = self._pot / swing
        x[18] = float(self._opener == agent)
        return x

    def agent_view(self, agent: str) -> dict[str, Any]:
        """``card``, ``opener`` (bool), ``bets`` (this hand's moves as words), ``hand``, ``chips``."""
        return {
            "card": CARDS[self._cards[agent]],
            "opener": self._opener == agent,
            "bets": [_WORDS[m] for m in self._bets],
            "hand": self._hand,
            "chips": self._chips[agent],
            "opponent_chips": self._chips[self._other(agent)],
        }


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


class NashKuhnBot(Bot):
    """A Nash-equilibrium strategy of one Kuhn Poker hand (Kuhn, 1950), played every hand.

    The first player's family is parameterised by ``alpha`` in [0, 1/3]: bet a J with probability
    alpha, never open-bet a Q, bet a K with probability 3*alpha; after check-bet, call with a Q
    with probability alpha + 1/3. The second player bets a K, bluffs a J with probability 1/3
    after a check, and calls a bet with a Q with probability 1/3. Against any opponent its
    expected chips per hand are at least the game value (-1/18 as first player).

    These rates are the equilibrium of the standard game (ante 1, bet 1); with another ante the
    indifference conditions change and the bot is no longer an equilibrium strategy.
    """

    name = "strong"

    def __init__(self, alpha: float = 1 / 6, seed: int | None = None):
        if not 0.0 <= alpha <= 1 / 3:
            raise ValueError(f"expected alpha in [0, 1/3], got {alpha!r}")
        super().__init__(seed)
        self.alpha = alpha

    def probabilities(self, card: str, bets: tuple[str, ...]) -> dict[str, float]:
        """The strategy: probability of each legal move given own card and this hand's moves."""
        a = self.alpha
        if bets == ():
            bet = {"J": a, "Q": 0.0, "K": 3 * a}[card]
            return {"check": 1 - bet, "bet": bet}
        if bets == ("check",):
            bet = {"J": 1 / 3, "Q": 0.0, "K": 1.0}[card]
            return {"check": 1 - bet, "bet": bet}
        if bets == ("bet",):
            call = {"J": 0.0, "Q": 1 / 3, "K": 1.0}[card]
        elif bets == ("check", "bet"):
            call = {"J": 0.0, "Q": a + 1 / 3, "K": 1.0}[card]
        else:
            raise ValueError(f"no decision after {bets!r}")
        return {"call": call, "fold": 1 - call}

    def act(self, env: TurnBasedTextEnv, agent: str) -> str:
        """Sample a move from :meth:`probabilities`."""
        view = env.agent_view(agent)
        probs = self.probabilities(view["card"], tuple(view["bets"]))
        r = self.rng.random()
        for move, p in probs.items():
            if r < p:
                return f"[{move}]"
            r -= p
        return f"[{move}]"


# Betting sequences that end a hand (the decision points are the keys of _LEGAL).
_TERMINAL = (
    (CHECK, CHECK),
    (BET, CALL),
    (BET, FOLD),
    (CHECK, BET, CALL),
    (CHECK, BET, FOLD),
)


def exploitability(
    policy: Callable[[KuhnPokerEnv, str], Sequence[float]],
    *,
    ante: int = 1,
    first_opener: int = 1,
) -> float:
    """Exact exploitability of ``policy`` in one hand of Kuhn Poker, in chips per hand.

    The policy is asked once per information set (own card and the hand's moves so far) of each
    seat, with a one-hand env (``num_hands=1, payoff="chips"``) stepped to a position of that
    information set: ``policy(env, agent)`` returns the probability of every move of
    ``env.move_names`` (``[check], [bet], [call], [fold]``), zero on illegal moves. It may read
    whatever an agent may read: ``env.state_tensor(agent)`` (numeric policies),
    ``env.agent_view(agent)`` (bots) or ``env.observe(agent)`` (language models).

    A best response is then computed exactly against the policy in each seat, and::

        exploitability = (best-response value against the policy as player_0
                          + best-response value against the policy as player_1) / 2

    in net chips per hand (payoffs are read from the env's ``"chips"`` rewards). Because the
    game is zero-sum, the two game values cancel: the exploitability is 0 for a Nash
    equilibrium (:class:`NashKuhnBot`, ante 1) and positive otherwise; it is half of
    OpenSpiel's ``NashConv``.

    Args:
        policy: ``policy(env, agent) -> probabilities over env.move_names``.
        ante: Chips each player antes (the bet is always one chip).
        first_opener: Which seat opens the hand (1, the id's default, or 0); the policy sees
            positions exactly as in a one-hand env built with the same arguments.

    Returns:
        Chips per hand a best-responding opponent wins beyond the game value, averaged over seats.

    Raises:
        ValueError: If a returned vector has the wrong length, a negative or non-finite entry,
            mass on an illegal move, or does not sum to 1.

    Example:
        >>> def always_check_or_fold(env, agent):
        ...     legal = env.infos[agent]["action_mask"]
        ...     return [1.0, 0.0, 0.0, 0.0] if legal[CHECK] else [0.0, 0.0, 0.0, 1.0]
        >>> exploitability(always_check_or_fold)  # the best response bets every hand
        1.0
    """
    env = KuhnPokerEnv(num_hands=1, ante=ante, payoff="chips", first_opener=first_opener)
    seed_of_deal = _deal_seeds(env)

    def replay(deal: tuple[int, int], bets: tuple[int, ...]) -> KuhnPokerEnv:
        env.reset(seed=seed_of_deal[deal])
        for move in bets:
            env.step(move)
        return env

    opener = replay(_DEALS[0], ()).agent_selection
    seats = env.possible_agents
    # strategy[seat][(card, bets)]: the policy's move probabilities at that information set.
    strategy: dict[str, dict[tuple[int, tuple[int, ...]], np.ndarray]] = {a: {} for a in seats}
    payoff: dict[tuple[tuple[int, int], tuple[int, ...]], dict[str, float]] = {}
    for deal in _DEALS:
        for bets in _LEGAL:
            agent = replay(deal, bets).agent_selection
            key = (env._cards[agent], bets)
            if key not in strategy[agent]:
                strategy[agent][key] = _checked_probabilities(policy(env, agent), bets)
        for bets in _TERMINAL:
            replay(deal, bets)
            payoff[deal, bets] = dict(env.rewards)

    def best_response_value(responder: str) -> float:
        """Expected chips of a best response in seat ``responder`` against the policy."""
        index = seats.index(responder)
        played = strategy[seats[1 - index]]

        def value(card: int, bets: tuple[int, ...], reach: dict[int, float]) -> float:
            # reach[o]: probability of the opponent's card o and its moves so far, given ``card``.
            if bets in _TERMINAL:
                total = 0.0
                for other, weight in reach.items():
                    deal = (card, other) if index == 0 else (other, card)
                    total += weight * payoff[deal, bets][responder]
                return total
            mover_is_opener = len(bets) % 2 == 0
            if (responder == opener) == mover_is_opener:
                # One information set (card, bets): the best move over the opponent's cards.
                return max(value(card, bets + (m,), reach) for m in _LEGAL[bets])
            return sum(
                value(card, bets + (m,), {o: w * played[o, bets][m] for o, w in reach.items()})
                for m in _LEGAL[bets]
            )

        return sum(
            value(card, (), {other: 0.5 for other in range(3) if other != card}) / 3
            for card in range(3)
        )

    return float(best_response_value(seats[1]) + best_response_value(seats[0])) / 2


def _deal_seeds(env: KuhnPokerEnv) -> dict[tuple[int, int], int]:
    """A reset seed for each of the six deals of a one-hand env."""
    seeds: dict[tuple[int, int], int] = {}
    seed = 0
    while len(seeds) < len(_DEALS):
        env.reset(seed=seed)
        seeds.setdefault((env._cards["player_0"], env._cards["player_1"]), seed)
        seed += 1
    return seeds


def _checked_probabilities(probabilities: Sequence[float], bets: tuple[int, ...]) -> np.ndarray:
    """``probabilities`` as an array over the four moves, checked to be a distribution on the legal ones."""
    p = np.asarray(probabilities, dtype=float)
    if p.shape != (len(MOVES),):
        raise ValueError(
            f"expected {len(MOVES)} probabilities (one per move of {MOVES}), got shape {p.shape}"
        )
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError(f"expected finite non-negative probabilities, got {p.tolist()}")
    illegal = [m for m in range(len(MOVES)) if m not in _LEGAL[bets]]
    if p[illegal].sum() > 1e-6:
        legal = [MOVES[m] for m in _LEGAL[bets]]
        raise ValueError(f"expected probability only on the legal moves {legal}, got {p.tolist()}")
    total = p.sum()
    if abs(total - 1.0) > 1e-4:
        raise ValueError(f"expected probabilities summing to 1, got {total}")
    p[illegal] = 0.0
    return p / p.sum()
