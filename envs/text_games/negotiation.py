"""Two-resource negotiation as a language game (SPIRAL's SimpleNegotiation) and a value-aware bot."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar, NamedTuple

import numpy as np

from selfplay_gym.core.bots import Bot
from selfplay_gym.core.parsers import ParseResult
from selfplay_gym.core.text_game import LegalTable, TurnBasedTextEnv

__all__ = ["SimpleNegotiationEnv", "ValueAwareNegotiator", "Offer"]

RESOURCES = ("Wood", "Gold")
_OFFER_RE = re.compile(r"\[\s*offer\s*:?([^\[\]]{0,300})\]", re.IGNORECASE)
_ACCEPT_RE = re.compile(r"\[\s*accept\s*\]", re.IGNORECASE)
_DENY_RE = re.compile(r"\[\s*deny\s*\]", re.IGNORECASE)
_ITEM_RE = re.compile(r"^\s*(?:and\s+)?([0-9]{1,6})\s+(wood|gold)s?\s*$", re.IGNORECASE | re.ASCII)
_OFFER_PREFIX_RE = re.compile(r"^i\s+(?:give|offer)\s+", re.IGNORECASE)
_SPLIT_RE = re.compile(r",|\band\b|\+|&", re.IGNORECASE)
NO_OFFER_TEXT = "I make no offer this turn."


@dataclass(frozen=True)
class Offer:
    """A trade proposal: the proposer gives ``give`` and receives ``get`` (quantities by resource)."""

    give: tuple[int, int]
    get: tuple[int, int]

    def text(self) -> str:
        """Canonical text, e.g. ``[Offer: 3 Wood -> 2 Gold]``."""

        def side(q: tuple[int, int]) -> str:
            return ", ".join(f"{n} {r}" for n, r in zip(q, RESOURCES, strict=True) if n)

        return f"[Offer: {side(self.give)} -> {side(self.get)}]"


class _Move(NamedTuple):
    """One turn: the tokens found and the message (a named tuple: one is built per step)."""

    accept: bool = False
    deny: bool = False
    offer: Offer | None = None
    message: str = ""


@lru_cache(maxsize=8)
def _canonical_moves(max_quantity: int) -> tuple[tuple[str, ...], tuple[_Move, ...]]:
    # Each canonical move's message is its own text, as if a model had sent exactly that.
    names, moves = (
        [NO_OFFER_TEXT, "[Accept]", "[Deny]"],
        [
            _Move(message=NO_OFFER_TEXT),
            _Move(True, message="[Accept]"),
            _Move(deny=True, message="[Deny]"),
        ],
    )
    for give_r, get_r in ((0, 1), (1, 0)):
        for g in range(1, max_quantity + 1):
            for r in range(1, max_quantity + 1):
                give = (g, 0) if give_r == 0 else (0, g)
                get = (r, 0) if get_r == 0 else (0, r)
                offer = Offer(give, get)
                names.append(offer.text())
                moves.append(_Move(offer=offer, message=names[-1]))
    return tuple(names), tuple(moves)


class SimpleNegotiationEnv(TurnBasedTextEnv):
    r"""Bilateral trading of Wood and Gold for two language-model players.

    ## Description

    SPIRAL's SimpleNegotiation. Both players start with ``start`` Wood and Gold (10 each) and
    value them differently: ``player_0`` values Wood 5 and Gold 15, ``player_1`` Wood 15 and
    Gold 5 (each knows only its own values). Over ``max_rounds`` turns in total (10; players
    alternate, ``player_0`` first) each turn is a free-text message that may contain a trade
    offer ``[Offer: 3 Wood -> 2 Gold]`` (give 3 Wood, receive 2 Gold; a resource may not be on
    both sides, and repeated items add up), ``[Accept]`` or ``[Deny]`` for the offer
    the other player made on the previous turn. An offer stands until the other player's next
    turn: anything but ``[Accept]`` there (a deny, a counter-offer, or plain talk) rejects it.
    A trade executes when accepted. After the last turn the player whose inventory value (by its
    own values) rose more wins; equal gains is a draw.

    | Agents | ``player_0``, ``player_1`` |
    |---|---|
    | API | AEC (turn-based) |
    | Actions | free text with optional ``[Offer: ...]``, ``[Accept]``, ``[Deny]`` |
    | Numeric actions | ``Discrete(3 + 2*q*q)`` (q = 20): no offer, accept, deny, one-for-one-resource offers |
    | Observations | text prompt (rules and own values, the conversation, inventories, pending offer) |
    | State tensor | 15 floats |

    ## Action Space

    Any string. The message is the answer span (the last ``\boxed{}``, else the last
    ``<answer>``, else the whole reply); it is shown to the other player (first 300 characters,
    quoted, on one line) and searched for tokens: the last ``[Offer: ...]``, and ``[Accept]``
    or ``[Deny]``. Every well-formed offer of resources the proposer holds is legal; an offer
    of resources it lacks, a malformed offer, or accepting an offer whose price one cannot pay
    is an invalid move. ``[Deny]`` or ``[Accept]`` with no offer pending are ignored.
    The numeric view's canonical moves are: no offer, ``[Accept]``, ``[Deny]``, and every
    ``[Offer: g Wood -> r Gold]`` / ``[Offer: g Gold -> r Wood]`` with ``g, r`` in ``1..q``.

    ## Observation Space

    ``UnicodeText``: rules with own values, the conversation so far (the other player's words
    marked as such), both inventories, own inventory value and gain, the offer on the table.

    ## Rewards

    +1 for the larger gain in inventory value, -1 for the smaller, 0 each when equal. Invalid
    moves follow the invalid-move policy (default ``forfeit``: -1.5 / +0.5); under ``penalize``
    the fallback is a turn with no offer.

    ## Starting State

    Both inventories at ``start``; no offer pending; ``player_0`` to speak.

    ## Episode End

    Terminates after ``max_rounds`` turns or a forfeit; truncates after ``max_turns`` steps.

    ## Arguments

    ``max_rounds`` (10), ``start`` (``(10, 10)``: Wood, Gold each), ``values``
    (``((5, 15), (15, 5))``: per player, Wood and Gold), ``max_quantity`` (20: largest quantity in
    the numeric moves), ``max_message_chars`` (300), plus the base arguments of
    :class:`~selfplay_gym.core.text_game.TurnBasedTextEnv`.

    ## Version History

    * v0: initial version.
    """

    __slots__ = (
        "max_rounds",
        "start",
        "values",
        "max_message_chars",
        "max_quantity",
        "state_scale",
        "_inventory",
        "_initial_value",
        "_pending",
        "_round",
    )

    metadata: ClassVar[dict[str, Any]] = {
        **TurnBasedTextEnv.metadata,
        "name": "simple_negotiation_v0",
    }
    state_size: ClassVar[int] = 15
    fallback_description: ClassVar[str] = "your turn passes without an offer"
    move_names, _moves = _canonical_moves(20)  # replaced per instance when max_quantity differs

    def __init__(
        self,
        *,
        max_rounds: int = 10,
        start: tuple[int, int] = (10, 10),
        values: tuple[tuple[int, int], tuple[int, int]] = ((5, 15), (15, 5)),
        max_quantity: int = 20,
        max_message_chars: int = 300,
        **kwargs: Any,
    ):
        if not isinstance(max_rounds, int) or max_rounds < 1:
            raise ValueError(f"expected max_rounds to be a positive int, got {max_rounds!r}")
        if not isinstance(max_quantity, int) or not 1 <= max_quantity <= 100:
            raise ValueError(f"expected max_quantity to be an int in 1..100, got {max_quantity!r}")
        if len(start) != 2 or any(not isinstance(q, int) or not 0 <= q <= 1000 for q in start):
            raise ValueError(f"expected start to be two ints in 0..1000, got {start!r}")
        if (
            len(values) != 2
            or any(len(v) != 2 for v in values)
            or any(
                not isinstance(x, int) or isinstance(x, bool) or x < 0 for v in values for x in v
            )
        ):
            raise ValueError(
                f"expected values as ((wood, gold), (wood, gold)) of ints >= 0, got {values!r}"
            )
        if not isinstance(max_message_chars, int) or max_message_chars < 1:
            raise ValueError(
                f"expected max_message_chars to be a positive int, got {max_message_chars!r}"
            )
        self.max_rounds = max_rounds
        self.start = tuple(start)
        self.values = tuple(tuple(v) for v in values)
        self.max_message_chars = max_message_chars
        self.max_quantity = max_quantity
        self.move_names, self._moves = _canonical_moves(max_quantity)
        self.state_scale = float(max(max_quantity, sum(start)))
        kwargs.setdefault("max_turns", max(50, 2 * max_rounds))
        super().__init__(**kwargs)

    # ---- game hooks ------------------------------------------------------------------------
    def _new_game(self) -> str:
        self._inventory = {a: list(self.start) for a in self.possible_agents}
        self._initial_value = {a: self._value(a) for a in self.possible_agents}
        self._pending: tuple[str, Offer] | None = None  # (proposer, offer)
        self._round = 0
        return "player_0"

    def _value(self, agent: str) -> int:
        v = self.values[self._agent_index[agent]]
        inv = self._inventory[agent]
        return inv[0] * v[0] + inv[1] * v[1]

    def _rules(self, agent: str) -> str:
        wood, gold = self.values[self._agent_index[agent]]
        order = "You speak first." if agent == "player_0" else "The other player speaks first."
        return (
            f"You are {agent} in a trading game with one other player. Each of you starts with "
            f"{self.start[0]} Wood and {self.start[1]} Gold. To you, one Wood is worth {wood} and "
            f"one Gold is worth {gold}; the other player has values of its own, which you are not "
            f"told. The game lasts {self.max_rounds} turns in total and you take turns speaking. "
            f"{order}\n"
            "On your turn, write a short message to the other player. It may contain these tokens:\n"
            "  [Offer: 3 Wood -> 2 Gold]  propose to give 3 Wood and receive 2 Gold (you must hold "
            "what you give);\n"
            "  [Accept]  accept the offer the other player made on its last turn;\n"
            "  [Deny]  reject it (any reply without [Accept] also rejects it).\n"
            "When the game ends, the player whose inventory value grew more wins.\n"
            "Think as much as you like, then put your message inside \\boxed{}, for example "
            "\\boxed{Gold is what I need. [Offer: 3 Wood -> 2 Gold]}. " + self._invalid_rule_text()
        )

    def _state_text(self, agent: str) -> str:
        other = self._other(agent)
        inv, oinv = self._inventory[agent], self._inventory[other]
        value = self._value(agent)
        lines = (
            f"Turn {min(self._round + 1, self.max_rounds)} of {self.max_rounds}. "
            f"You hold {inv[0]} Wood and {inv[1]} Gold (worth {value} to you, "
            f"{value - self._initial_value[agent]:+d} since the start); the other player holds "
            f"{oinv[0]} Wood and {oinv[1]} Gold."
        )
        if not self._to_act(agent):
            return lines
        if self._pending is not None and self._pending[0] == other:
            offer = self._pending[1]
            lines += (
                f"\nOn the table: {other} offers to give you {_items(offer.give)} "
                f"for {_items(offer.get)} of yours. Answer it with [Accept] or [Deny]."
            )
        else:
            lines += "\nNo offer is waiting for your answer."
        return lines + "\nYour turn: write your message."

    def _legal_indices(self, agent: str) -> tuple[int, ...]:
        return self._legal_table(agent)[0]

    def _legal_table(self, agent: str) -> LegalTable:
        # Hundreds of offers are legal at once, so the cache is keyed by what decides them (own
        # inventory, and whether a pending offer can be accepted) instead of the index tuple.
        inv = self._inventory[agent]
        pending = None
        if self._pending is not None and self._pending[0] != agent:
            get = self._pending[1].get  # what the proposer asks of this agent
            pending = inv[0] >= get[0] and inv[1] >= get[1]
        key = (inv[0], inv[1], pending)
        entry = self._legal_table_cache.get(key)
        if entry is None:
            indices = tuple(i for i, m in enumerate(self._moves) if self._allowed(m, inv, pending))
            entry = self._legal_table_cache[key] = self._make_legal_table(indices)
        return entry

    @staticmethod
    def _allowed(move: _Move, inv: list[int], pending: bool | None) -> bool:
        if move.accept:
            return bool(pending)
        if move.deny:
            return pending is not None
        if move.offer is not None:
            return move.offer.give[0] <= inv[0] and move.offer.give[1] <= inv[1]
        return True

    def _parse_move(self, agent: str, span: str) -> ParseResult:
        # What the other player will read: one line, capped, with double quotes replaced so the
        # words cannot close their own quotation.
        message = " ".join(span.split())[: self.max_message_chars].replace('"', "'")
        offer = None
        offers = _OFFER_RE.findall(span)
        if offers:
            parsed = self._parse_offer(offers[-1])
            if isinstance(parsed, str):
                return ParseResult(False, None, f"[Offer:{offers[-1]}]", parsed)
            offer = parsed
            inv = self._inventory[agent]
            if offer.give[0] > inv[0] or offer.give[1] > inv[1]:
                return ParseResult(
                    False,
                    None,
                    offer.text(),
                    f"you cannot offer what you do not hold (you hold {inv[0]} Wood, {inv[1]} Gold).",
                )
        accept = _ACCEPT_RE.search(span) is not None
        deny = _DENY_RE.search(span) is not None
        pending = self._pending is not None and self._pending[0] != agent
        if accept and deny and pending:
            return ParseResult(
                False,
                None,
                "[Accept] [Deny]",
                "both [Accept] and [Deny]: answer the offer one way.",
            )
        if accept and pending:
            get = self._pending[1].get
            inv = self._inventory[agent]
            if inv[0] < get[0] or inv[1] < get[1]:
                return ParseResult(
                    False,
                    None,
                    "[Accept]",
                    f"you cannot accept: the offer asks for {get[0]} Wood and {get[1]} Gold and you "
                    f"hold {inv[0]} Wood, {inv[1]} Gold.",
                )
        tokens = [
            t for t, on in (("[Accept]", accept and pending), ("[Deny]", deny and pending)) if on
        ]
        if offer is not None:
            tokens.append(offer.text())
        move = _Move(accept=accept and pending, deny=deny and pending, offer=offer, message=message)
        return ParseResult(True, move, " ".join(tokens) if tokens else None)

    @staticmethod
    def _parse_offer(body: str) -> Offer | str:
        # Accept what TextArena accepts too: "I give ..." / "I offer ..." and trailing punctuation.
        body = _OFFER_PREFIX_RE.sub("", body.strip()).rstrip(" .,!?;")
        sides = body.replace("\u2192", "->").split("->")
        if len(sides) != 2:
            return "a malformed offer: expected '[Offer: <what you give> -> <what you get>]' with one '->'."
        quantities = []
        for side in sides:
            total = [0, 0]
            parts = [p for p in _SPLIT_RE.split(side) if p.strip()]
            if not parts:
                return "a malformed offer: each side needs items such as '3 Wood'."
            for part in parts:
                m = _ITEM_RE.match(part)
                if m is None:
                    return f"a malformed offer: cannot read {part.strip()[:40]!r}; items look like '3 Wood' or '2 Gold'."
                n = int(m.group(1))
                if n <= 0:
                    return "a malformed offer: quantities must be positive."
                total[0 if m.group(2).lower() == "wood" else 1] += n
            quantities.append(tuple(total))
        give, get = quantities
        if (give[0] and get[0]) or (give[1] and get[1]):
            return "a malformed offer: the same resource cannot be on both sides."
        return Offer(give, get)

    def _move_from_index(self, index: int) -> _Move:
        return self._moves[index]

    def _fallback_move(self, agent: str) -> _Move:
        return _Move(message="")

    def _apply(self, agent: str, move: _Move) -> str | None:
        other = self._other(agent)
        self._round += 1
        said = move.message  # already one line, capped and quote-safe (see _parse_move)
        if said:
            self._tell(f'{agent} says: "{said}"')
        if not said and move.offer is None:
            self._tell(f"{agent} makes no offer.")
        if self._pending is not None and self._pending[0] == other:
            offer = self._pending[1]
            if move.accept:
                self._trade(other, agent, offer)
                self._tell(
                    f"{agent} accepts: {other} gives {_items(offer.give)} and receives {_items(offer.get)}."
                )
            else:
                self._tell(f"{agent} rejects the offer of {other}.")
        self._pending = None
        if move.offer is not None:
            self._pending = (agent, move.offer)
            self._tell(
                f"{agent} offers to give {_items(move.offer.give)} for {_items(move.offer.get)}."
            )
        if self._round < self.max_rounds:
            return other
        gains = {a: self._value(a) - self._initial_value[a] for a in self.possible_agents}
        summary = ", ".join(f"{a} {g:+d}" for a, g in gains.items())
        if gains["player_0"] == gains["player_1"]:
            self._finish(
                {a: 0.0 for a in self.possible_agents}, f"equal gains ({summary}): a draw."
            )
        else:
            top = max(gains, key=gains.get)
            self._finish({top: 1.0, self._other(top): -1.0}, f"gains {summary}; {top} wins.")
        return None

    def _trade(self, proposer: str, acceptor: str, offer: Offer) -> None:
        p, a = self._inventory[proposer], self._inventory[acceptor]
        for i in range(2):
            p[i] += offer.get[i] - offer.give[i]
            a[i] += offer.give[i] - offer.get[i]

    def state_tensor(self, agent: str) -> np.ndarray:
        """Inventories (4), own values (2), pending offer to me (5), own offer pending, turns left, gain, seat."""
        q = self.state_scale
        other = self._other(agent)
        inv, oinv = self._inventory[agent], self._inventory[other]
        values = self.values[self._agent_index[agent]]
        x = [inv[0] / q, inv[1] / q, oinv[0] / q, oinv[1] / q, values[0] / q, values[1] / q]
        if self._pending is not None and self._pending[0] == other:
            o = self._pending[1]
            x += [1.0, o.give[0] / q, o.give[1] / q, o.get[0] / q, o.get[1] / q]
        else:
            x += [0.0] * 5
        x.append(float(self._pending is not None and self._pending[0] == agent))
        x.append((self.max_rounds - self._round) / self.max_rounds)
        x.append((self._value(agent) - self._initial_value[agent]) / 100.0)
        x.append(float(self._agent_index[agent]))
        return np.clip(np.array(x, dtype=np.float32), -1.0, 1.0)

    def agent_view(self, agent: str) -> dict[str, Any]:
        """Inventories, own ``values``, the ``offer_to_me`` (an :class:`Offer` or ``None``), turns left."""
        other = self._other(agent)
        pending = (
            self._pending[1] if self._pending is not None and self._pending[0] == other else None
        )
        return {
            "inventory": tuple(self._inventory[agent]),
            "opponent_inventory": tuple(self._inventory[other]),
            "values": self.values[self._agent_index[agent]],
            "offer_to_me": pending,
            "turns_left": self.max_rounds - self._round,
        }


@lru_cache(maxsize=4096)
def _items(q: tuple[int, int]) -> str:
    return " and ".join(f"{n} {r}" for n, r in zip(q, RESOURCES, strict=True) if n) or "nothing"


class ValueAwareNegotiator(Bot):
    """A trader that goes by its own values.

    It accepts offers that raise its inventory value, and proposes to swap its cheaper resource
    for its dearer one at a rate that gains it value.
    """

    name = "strong"

    def act(self, env: TurnBasedTextEnv, agent: str) -> str:
        """Accept a profitable offer, else make a profitable counter-offer."""
        view = env.agent_view(agent)
        values, inv = view["values"], view["inventory"]
        offer = view["offer_to_me"]
        if offer is not None:
            gain = sum((offer.give[i] - offer.get[i]) * values[i] for i in range(2))
            if gain > 0 and all(inv[i] >= offer.get[i] for i in range(2)):
                return "That works for me. [Accept]"
        cheap = 0 if values[0] < values[1] else 1
        dear = 1 - cheap
        if values[cheap] == values[dear] or inv[cheap] == 0:
            return "I will pass this turn. [Deny]" if offer is not None else NO_OFFER_TEXT
        options = [
            (g, r)
            for g in range(1, min(inv[cheap], 4) + 1)
            for r in range(1, 5)
            if r * values[dear] > g * values[cheap]
        ]
        g, r = self.rng.choice(options)
        give, get = [0, 0], [0, 0]
        give[cheap], get[dear] = g, r
        return f"Here is my proposal. {Offer(tuple(give), tuple(get)).text()}"
