"""MARS's game suite (thu-nics/MARS, arXiv 2510.15414) on the OpenSpiel bridge.

Training games: TicTacToe, single-hand Kuhn Poker and MiniHanabi (cooperative). Held-out
games: Connect Four, Leduc Hold'em, Simple Hanabi and Full Hanabi. Each class binds the
OpenSpiel game with MARS's parameters and adds readable rules; the registry ids
``selfplay/Mars<Game>-v0`` of the training games turn on MARS's reward shaping
(``reward_shaping="mars"``); the held-out ids pay the plain outcome, as MARS evaluates them.
"""

from __future__ import annotations

from selfplay_gym.envs.openspiel.env import OpenSpielEnv

__all__ = [
    "MarsTicTacToeEnv",
    "MarsKuhnPokerEnv",
    "MarsMiniHanabiEnv",
    "MarsConnectFourEnv",
    "MarsLeducHoldemEnv",
    "MarsSimpleHanabiEnv",
    "MarsFullHanabiEnv",
    "MINI_HANABI",
    "SIMPLE_HANABI",
    "FULL_HANABI",
]

MINI_HANABI = {
    "players": 2,
    "colors": 2,
    "ranks": 2,
    "hand_size": 3,
    "max_information_tokens": 3,
    "max_life_tokens": 3,
}
"""MARS's training Hanabi: 2 colours x 2 ranks, hands of 3, 3 information and 3 life tokens."""
SIMPLE_HANABI = {**MINI_HANABI, "colors": 3, "hand_size": 5, "max_information_tokens": 8}
"""MARS's held-out SimpleHanabi: 3 colours x 2 ranks, hands of 5, 8 information tokens."""
FULL_HANABI = {**MINI_HANABI, "colors": 3, "ranks": 3, "hand_size": 5}
"""MARS's held-out FullHanabi: 3 colours x 3 ranks, hands of 5 (its config's 3 and 3 tokens)."""

_POKER_RANKS = ("J", "Q", "K")


_OBSERVATION = """``UnicodeText``: the rules in words (system part), the public moves so far, the seat's
view of the position and, on its turn, the legal moves. ``info["messages"]`` holds the same
prompt as a system + user chat. Only parsed moves reach the other seat, never raw replies.
{view}"""

_ACTIONS = """Any string. In the answer span (last ``<answer>`` tag as MARS asks, or the last
``\\boxed{{}}``, else the whole reply) the last bracketed token, else the span itself, is looked
up among the move names, ignoring case, spacing and one layer of ``<...>``: {moves}
An integer action is an OpenSpiel action id (the numeric view's ``Discrete`` action)."""

_REWARDS = """{outcome} With ``reward_shaping="mars"`` (the default of MARS's training ids:
TicTacToe, KuhnPoker, MiniHanabi; the held-out ids pay the plain outcome, as MARS evaluates
them) every accepted move also earns +0.05 (component ``"format"``){draw}. MARS's length penalty needs token counts, so it is left to
the trainer. Invalid replies follow the invalid-move policy: the project's default
``forfeit`` (-1.5 / +0.5); pass ``invalid_move=MARS_FORFEIT, forfeit_stake=True`` for MARS's
-10 minus the offender's stake ({stake}; component ``"stake"``) and 0 for the other seat."""

_EPISODE_END = """Terminates at OpenSpiel's terminal state or on a forfeit; truncates after ``max_turns``
steps (50, MARS's ``max_actions_per_traj``), with no outcome reward."""

_ARGUMENTS = """``reward_shaping`` (``"mars"`` or ``"none"``: see Rewards),
``draw_bonus``, ``forfeit_stake``, ``public_actions``, plus the base arguments
(``invalid_move``, ``max_turns``, ``max_action_chars``, ``max_observation_chars``,
``render_mode``) of :class:`~selfplay_gym.core.text_game.TurnBasedTextEnv`. The game and its
parameters are fixed by the class; :class:`~selfplay_gym.envs.openspiel.env.OpenSpielEnv`
plays any other OpenSpiel game."""


def _page(
    lead: str,
    description: str,
    *,
    moves: str,
    view: str,
    outcome: str,
    draw: bool,
    stake: str,
    start: str,
) -> str:
    """The docstring (documentation page) of one MARS game, from its parts and the shared text."""
    sections = {
        "Description": description,
        "Action Space": _ACTIONS.format(moves=moves),
        "Observation Space": _OBSERVATION.format(view=view),
        "Rewards": _REWARDS.format(
            outcome=outcome,
            draw=' and a zero final return earns MARS\'s +0.1 (``"draw_bonus"``)' if draw else "",
            stake=stake,
        ),
        "Starting State": start,
        "Episode End": _EPISODE_END,
        "Arguments": _ARGUMENTS,
        "Version History": "* v0: initial version.",
    }
    return lead + "\n\n" + "\n\n".join(f"## {k}\n\n{v}" for k, v in sections.items()) + "\n"


class MarsTicTacToeEnv(OpenSpielEnv, game="tic_tac_toe"):
    """Tic-Tac-Toe (OpenSpiel ``tic_tac_toe``), MARS's first training game."""

    __doc__ = _page(
        __doc__,
        "Two players mark a 3x3 grid in turn, ``player_0`` with X first, ``player_1`` with O; "
        "three in a line wins, a full grid without one is a draw. OpenSpiel plays the rules; "
        "the view is OpenSpiel's board string (``x``, ``o``, ``.``).",
        moves="``[(0,0)]`` .. ``[(2,2)]`` (row, column); MARS's ``<X(1,1)>`` is accepted for "
        "X and ``<O(1,1)>`` for O.",
        view="The view is the board, top row first.",
        outcome='+1 for a win, -1 for a loss, 0 for a draw, at the end (``"outcome"``).',
        draw=True,
        stake="1 in TicTacToe",
        start="An empty grid; ``player_0`` (X) to move.",
    )

    title = "Tic-Tac-Toe"
    mars_draw_bonus = True
    rules_text = (
        "Two players take turns marking empty cells of a 3x3 grid: player_0 plays X and moves "
        "first, player_1 plays O. Cells are named (row,column), from (0,0) at the top left to "
        "(2,2) at the bottom right. Three of your marks in a row, column or diagonal win (+1, the "
        "other player -1); a full grid without such a line is a draw (0). In the board view 'x' "
        "and 'o' are marks and '.' is an empty cell."
    )


class MarsConnectFourEnv(OpenSpielEnv, game="connect_four"):
    """Connect Four (OpenSpiel ``connect_four``), a held-out game of MARS."""

    __doc__ = _page(
        __doc__,
        "Two players drop discs into the 7 columns of a 6-row grid, ``player_0`` (x) first; "
        "four in a line (across, up or diagonal) wins, a full grid is a draw. MARS evaluates "
        "against MCTS with 100 and 1000 simulations, moving first or second (bots ``mcts100``, "
        "``mcts1000``).",
        moves="the columns ``[0]`` .. ``[6]``, left to right; OpenSpiel's ``x3`` / ``o3`` are "
        "accepted for the seat that plays that mark.",
        view="The view is the grid, top row first.",
        outcome='+1 for a win, -1 for a loss, 0 for a draw, at the end (``"outcome"``).',
        draw=False,
        stake="1",
        start="An empty grid; ``player_0`` (x) to move.",
    )

    title = "Connect Four"
    rules_text = (
        "Two players take turns dropping a disc into one of the 7 columns (0 to 6, left to right) "
        "of a grid 6 rows high; the disc falls to the lowest empty cell. player_0 plays 'x' and "
        "moves first, player_1 plays 'o'. Four of your discs in a line (across, up or diagonal) "
        "win (+1, the other player -1); a full grid without one is a draw (0). In the board view "
        "the top line is the top row and '.' is an empty cell."
    )


class MarsKuhnPokerEnv(OpenSpielEnv, game="kuhn_poker"):
    """Kuhn Poker, one hand (OpenSpiel ``kuhn_poker``), MARS's second training game."""

    __doc__ = _page(
        __doc__,
        "A three-card deck (J < Q < K), ante 1, one betting round with bets of 1: "
        "``player_0`` passes or bets; facing a bet a player calls (``[Bet]``) or folds "
        "(``[Pass]``). One hand per episode, as MARS plays it (the native "
        "``selfplay/KuhnPoker-v0`` plays SPIRAL's five-hand match). MARS evaluates against CFR "
        "(bot ``cfr``: the CFR+ average policy).",
        moves="``[Pass]`` (check or fold) and ``[Bet]`` (bet or call); MARS's ``<PASS>`` and "
        "``<BET>`` are accepted.",
        view="The view is written out in words: own card, the moves of the hand, the pot and "
        "the chips the seat has put in.",
        outcome='The chips won or lost (+-1 or +-2), at the end (component ``"chips"``; '
        '``"outcome"``, which means +1 win / -1 loss / 0 draw in this project, is 0).',
        draw=False,
        stake="the chips it has put in the pot",
        start="Both players ante 1 and are dealt a card by the env's generator; ``player_0`` "
        "acts first.",
    )

    title = "Kuhn Poker"
    payoff_component = "chips"
    public_moves = True
    rules_text = (
        "The deck has three cards, J < Q < K. Each player antes 1 chip and gets one card the "
        "other cannot see. player_0 acts first: [Pass] (check) or [Bet] (put 1 more chip in). "
        "After a check, player_1 may [Pass] (showdown) or [Bet]; facing a bet, a player may "
        "[Bet] (call: match it, showdown) or [Pass] (fold: the bettor takes the pot). At a "
        "showdown the higher card takes the pot. Your score is the chips you win or lose."
    )

    def view_text(self, agent: str) -> str:
        """Own card, the moves of this hand and the pot, in words."""
        player = self._agent_index[agent]
        history = self._state.history()
        card = _POKER_RANKS[history[player]]
        moves = history[2:]
        said = [f"player_{i % 2} {'bets' if m else 'passes'}" for i, m in enumerate(moves)]
        pot = 2 + sum(moves)
        return (
            f"Your card: {card}. Moves so far: {', '.join(said) if said else 'none'}. "
            f"Pot: {pot} chips; you have put in {self._stake(agent):g}."
        )

    def _stake(self, agent: str) -> float:
        player = self._agent_index[agent]
        moves = self._state.history()[2:]
        return 1.0 + sum(m for i, m in enumerate(moves) if i % 2 == player)


class MarsLeducHoldemEnv(OpenSpielEnv, game="leduc_poker"):
    """Leduc Hold'em (OpenSpiel ``leduc_poker``), a held-out game of MARS."""

    __doc__ = _page(
        __doc__,
        "Six cards (two each of J, Q, K), ante 1, one private card each, two betting rounds "
        "(raises of 2, then 4; at most two a round) with one public card between them; a pair "
        "with the public card wins, otherwise the higher card. MARS evaluates against an "
        "equilibrium policy; here that is bot ``cfr`` (CFR+, 200 iterations: NashConv about "
        "0.01).",
        moves="``[Fold]``, ``[Call]`` (check or call) and ``[Raise]`` (bet or raise).",
        view="The view is written out in words: round, own card, public card, the bets of each "
        "round, the pot and the chips the seat has put in.",
        outcome='The chips won or lost (at most 13), at the end (component ``"chips"``; '
        '``"outcome"`` is 0).',
        draw=False,
        stake="the chips it has put in the pot",
        start="Both players ante 1 and are dealt a card by the env's generator; ``player_0`` "
        "acts first.",
    )

    title = "Leduc Hold'em"
    payoff_component = "chips"
    public_moves = True
    rules_text = (
        "The deck has six cards: two Jacks, two Queens, two Kings. Each player antes 1 chip and "
        "gets one private card. There are two betting rounds; after the first, one public card "
        "is shown. In a round a player may [Call] (check, or match the other's bet), [Raise] "
        "(bet 2 chips in round 1, 4 in round 2; at most two raises a round) or [Fold] (give up "
        "the pot). At the showdown a private card that pairs the public card wins, otherwise "
        "the higher card wins; equal ranks split the pot. Your score is the chips you win or lose."
    )

    def view_text(self, agent: str) -> str:
        """Own card, public card, the bets of each round and the chips, in words."""
        player = self._agent_index[agent]
        state = self._state
        own = state.get_private_cards()[player]
        public = state.public_card()
        names = {0: "Fold", 1: "Call", 2: "Raise"}
        rounds = [" ".join(names[a] for a in r) or "-" for r in (state.round1(), state.round2())]
        return (
            f"Round {state.round()}. Your card: {_POKER_RANKS[own // 2]}. "
            f"Public card: {_POKER_RANKS[public // 2] if public >= 0 else 'not shown yet'}. "
            f"Bets in round 1: {rounds[0]}; round 2: {rounds[1]}. Pot: {state.pot()} chips; "
            f"you have put in {self._stake(agent):g}."
        )

    def _stake(self, agent: str) -> float:
        start = self._game.get_parameters().get("starting_money", 100)  # OpenSpiel's default
        return float(start - self._state.money()[self._agent_index[agent]])


class _MarsHanabi(OpenSpielEnv):
    """Shared rules text of MARS's three Hanabi sizes (cooperative: one team score)."""

    title = "Hanabi"
    payoff_component = "score"
    public_moves = True
    mars_draw_bonus = True

    def _rules_body(self) -> str:
        p = self._game.get_parameters()
        colors, ranks = p["colors"], p["ranks"]
        return (
            "Hanabi is cooperative: both players share one score. The deck has "
            f"{colors} colours ({'RYGWB'[:colors]}) with ranks 1 to {ranks}. Each player holds "
            f"{p['hand_size']} cards facing away: you see your partner's hand but not your own. "
            f"The team has {p['max_information_tokens']} information tokens and "
            f"{p['max_life_tokens']} life tokens. On your turn: [Play i] plays card i of your "
            "hand (0 is the first); if it is the next rank of its colour's stack it is added and "
            "scores a point, otherwise a life token is lost. [Discard i] discards card i and "
            "regains an information token. [Reveal player +1 color C] or [Reveal player +1 rank "
            "R] spends a token to show your partner all their cards of that colour or rank. You "
            "draw after playing or discarding. The game ends when every stack is complete, when "
            "the deck runs out (after one more round), or when the last life token is lost (the "
            "score then drops to 0). In the view, 'XX' is a card you cannot see and the letters "
            "and digits after '|' are what is still possible for it."
        )

    def _alias(self, key: str) -> str:
        # MARS writes "<Play card 0>" / "<Discard card 0>".
        return key.replace("play card ", "play ").replace("discard card ", "discard ")


def _hanabi_page(doc: str, sizes: str) -> str:
    """The docs page of a MARS Hanabi id; only the game's sizes differ between the three."""
    return _page(
        doc,
        f"Cooperative Hanabi for two players (OpenSpiel ``hanabi``, {sizes}). "
        "Both seats share one score: the number of cards played in order onto the colour "
        "stacks (0 if the last life token is lost). MARS trains by self-play; the only bot is "
        "``random`` (a partner, not an opponent).",
        moves="``[Play i]``, ``[Discard i]`` (card ``i`` of the own hand, 0 first), "
        "``[Reveal player +1 color C]`` and ``[Reveal player +1 rank R]``; MARS's ``<Play "
        "card 0>`` and ``<Discard card 0>`` are accepted.",
        view="The view is OpenSpiel's Hanabi string: tokens, fireworks, both hands (the own "
        "cards hidden as ``XX``, with what hints have revealed), deck size and discards.",
        outcome='The team score, the same for both seats, at the end (component ``"score"``; '
        '``"outcome"`` is 0).',
        draw=True,
        stake="the score earned so far",
        start="Both hands are dealt by the env's generator; ``player_0`` moves first.",
    )


class MarsMiniHanabiEnv(_MarsHanabi, game="hanabi", params=MINI_HANABI):
    """MiniHanabi: MARS's cooperative training game."""

    __doc__ = _hanabi_page(
        __doc__, "2 colours x 2 ranks, hands of 3, 3 information and 3 life tokens"
    )


class MarsSimpleHanabiEnv(_MarsHanabi, game="hanabi", params=SIMPLE_HANABI):
    """SimpleHanabi: a held-out cooperative game of MARS."""

    __doc__ = _hanabi_page(
        __doc__, "3 colours x 2 ranks, hands of 5, 8 information and 3 life tokens"
    )


class MarsFullHanabiEnv(_MarsHanabi, game="hanabi", params=FULL_HANABI):
    """FullHanabi: a held-out cooperative game of MARS."""

    __doc__ = _hanabi_page(
        __doc__,
        "3 colours x 3 ranks, hands of 5, 3 information and 3 life tokens (MARS's config defaults)",
    )
