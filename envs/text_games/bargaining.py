"""Buyer/seller bargaining with a moderator and a critic (Fu et al.) as a language game, and its bots."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from selfplay_gym.core.bots import Bot
from selfplay_gym.core.invalid import InvalidMovePolicy
from selfplay_gym.core.parsers import ParseResult, last_boxed, last_tag
from selfplay_gym.core.text_game import TurnBasedTextEnv
from selfplay_gym.envs.text_games.donor_game import init_free_text_game

__all__ = [
    "BargainingEnv",
    "RuleModerator",
    "RulePriceExtractor",
    "LLMModerator",
    "LLMPriceExtractor",
    "stated_prices",
    "ConcessionBot",
    "HardLinerBot",
    "RuleCriticBot",
]

SELLER, BUYER, CRITIC = "seller_0", "buyer_0", "critic_0"
Dialogue = Sequence[tuple[str, str]]
"""A game's conversation: ``(role, words)`` pairs, ``role`` being ``"seller"`` or ``"buyer"``."""

# A price: "$15", "$ 15.50", "15 dollars", "15 bucks", "15 USD" (ASCII digits, bounded length).
_PRICE_RE = re.compile(
    r"\$\s?(\d{1,7}(?:\.\d{1,2})?)(?!\d)|(?<![\d.])(\d{1,7}(?:\.\d{1,2})?)\s?(?:dollars?|bucks|usd)\b",
    re.IGNORECASE | re.ASCII,
)
_ACCEPT_RE = re.compile(
    r"\b(?:deal|accept(?:ed)?|agreed?|sold|i'?ll take it|you have yourself|sounds good)\b",
    re.IGNORECASE,
)
_NEGATION_RE = re.compile(
    r"\b(?:no|not|don'?t|can'?t|cannot|won'?t|never|reject|decline|unless)\b|n't\b",
    re.IGNORECASE,
)
_SAY_RE = re.compile(r"\bsay\s{0,3}:", re.IGNORECASE)
_FEEDBACK_RE = re.compile(r"\bfeedback\s{0,3}:", re.IGNORECASE)
_YES_RE = re.compile(r"\byes\b", re.IGNORECASE)
_NUMBER_RE = re.compile(r"(\d{1,7}(?:\.\d{1,2})?)(?!\d)", re.ASCII)


def stated_prices(text: str) -> list[float]:
    """The prices written in ``text``, in order: ``$15``, ``15.5 dollars``, ``15 bucks``.

    Bare numbers are not prices (``"I want 2 balloons"``), as in the paper's extraction rule.

    Example:
        >>> stated_prices("From $20 down to 17 dollars? I'd do $ 15.50.")
        [20.0, 17.0, 15.5]
    """
    return [float(a or b) for a, b in _PRICE_RE.findall(text)]


def _money(value: float) -> str:
    """``$15`` or ``$15.5``."""
    return "$" + (f"{value:.2f}".rstrip("0").rstrip("."))


def accepts(text: str) -> bool:
    """Whether ``text`` reads as an explicit acceptance: an accepting word, no negation, no question.

    Example:
        >>> accepts("Deal, $14."), accepts("No deal."), accepts("Deal at $14?")
        (True, False, False)
    """
    stripped = text.strip()
    return (
        bool(_ACCEPT_RE.search(stripped))
        and not _NEGATION_RE.search(stripped)
        and not stripped.endswith("?")
    )


class RuleModerator:
    """Decides from the words alone whether the last utterance closes a deal.

    A deal is reached when the last speaker states the price the other side stated last, or
    explicitly accepts (see :func:`accepts`) without naming a different price. Needs the other
    side to have stated a price in the game (the openers count).
    """

    def __call__(self, dialogue: Dialogue) -> bool:
        """``True`` when the last utterance of ``dialogue`` closes a deal."""
        if not dialogue:
            return False
        speaker, words = dialogue[-1]
        theirs = _last_price_of(dialogue, other=speaker)
        if theirs is None:
            return False
        mine = stated_prices(words)
        if mine and mine[-1] == theirs:
            return True
        return accepts(words) and (not mine or mine[-1] == theirs)


class RulePriceExtractor:
    """The deal price: the last price stated in the conversation (the paper's rule).

    After "Deal!" that is the other side's last price; after "Deal at $15." it is 15.
    """

    def __call__(self, dialogue: Dialogue) -> float | None:
        """The last price in ``dialogue``, or ``None`` when no price was ever stated."""
        for _, words in reversed(dialogue):
            prices = stated_prices(words)
            if prices:
                return prices[-1]
        return None


def _last_price_of(dialogue: Dialogue, other: str) -> float | None:
    """The last price stated by the side that is not ``other``."""
    for role, words in reversed(dialogue):
        if role != other:
            prices = stated_prices(words)
            if prices:
                return prices[-1]
    return None


def _transcript(dialogue: Dialogue, last: int | None = None) -> str:
    lines = [f"{role}: {words}" for role, words in dialogue]
    return "\n".join(lines[-last:] if last else lines)


class LLMModerator:
    """The paper's moderator around any text-completion callable.

    The prompt holds the last ``history`` utterances and asks "have the seller and the buyer
    achieved a deal? Yes or No"; a reply containing "yes" is a deal.

    Args:
        complete: ``prompt -> reply`` (a language model, an HTTP client, a test double).
        history: Utterances shown (the paper's ``trace_n_history`` is 2).
    """

    def __init__(self, complete: Callable[[str], str], history: int = 2):
        self.complete = complete
        self.history = history

    def __call__(self, dialogue: Dialogue) -> bool:
        """Ask the model; ``True`` when its reply says yes."""
        prompt = (
            "You moderate a bargaining game between a seller and a buyer.\n"
            f"{_transcript(dialogue, self.history)}\n"
            "question: have the seller and the buyer achieved a deal? Yes or No\nanswer:"
        )
        return bool(_YES_RE.search(str(self.complete(prompt))[:200]))


class LLMPriceExtractor:
    """Price extraction by a text-completion callable (the paper's ``price_extraction`` prompt).

    Args:
        complete: ``prompt -> reply``; the first number of the reply is the price.
    """

    def __init__(self, complete: Callable[[str], str]):
        self.complete = complete

    def __call__(self, dialogue: Dialogue) -> float | None:
        """Ask the model for the agreed price; ``None`` when its reply holds no number."""
        prompt = (
            "Here is a bargaining conversation that ended in a deal.\n"
            f"{_transcript(dialogue)}\n"
            "question: what is the final price the seller and the buyer agreed on? "
            "Answer with the number only.\nanswer:"
        )
        match = _NUMBER_RE.search(str(self.complete(prompt))[:200])
        return float(match.group(1)) if match else None


def _one_line(text: str, limit: int) -> str:
    """``text`` on one line, at most ``limit`` characters, double quotes made single."""
    line = " ".join(text.split()).replace('"', "'")
    return line if len(line) <= limit else line[: limit - 3].rstrip() + "..."


def _unwrap(span: str) -> str:
    """The answer span without the brackets ``answer_span`` puts around a short boxed answer."""
    text = span.strip()
    return text[1:-1] if text.startswith("[") and text.endswith("]") else text


class BargainingEnv(TurnBasedTextEnv):
    r"""A seller and a buyer haggle over a balloon; a critic coaches one of them between games.

    ## Description

    After Fu et al., "Improving Language Model Negotiation with Self-Play and In-Context
    Learning from AI Feedback" (2023, FranxYao/GPT-Bargaining). ``seller_0`` sells a balloon that
    cost it ``cost`` ($8); ``buyer_0`` wants it cheap. Every game starts from the paper's scripted
    openers: the seller's price ``seller_open`` ($20) and the buyer's counter ``buyer_open``
    ($10). Then the seller and the buyer alternate one short sentence each, for up to
    ``max_rounds`` rounds (10; a round is a seller and a buyer utterance).

    After every utterance a *moderator* decides whether a deal was reached, and on a deal a
    *price extractor* reads the price. Both are pluggable callables of the conversation
    (``[(role, words), ...]``); the defaults are rules: :class:`RuleModerator` (the speaker
    states the other side's last price, or explicitly accepts it: "Deal, $14.") and
    :class:`RulePriceExtractor` (the last price stated, the paper's own rule). The paper's LLM
    moderator and extractor are :class:`LLMModerator` and :class:`LLMPriceExtractor` around any
    ``prompt -> reply`` callable. Prices count only when written with ``$`` or "dollars".

    An episode is ``num_games`` games (3, the paper's default number of rollouts). With
    ``coached`` set (``"seller"``, the paper's ``criticize_seller``, or ``"buyer"``) the agent
    ``critic_0`` reads each finished game (but the last) and writes three suggestions for the
    coached side. As in the paper's in-context improvement, the coached side keeps the earlier
    games in its prompt and reads the critic's feedback and the goal of beating the last price;
    the other side starts every game afresh and never sees the feedback. ``coached=None`` plays
    the games without a critic (no ``critic_0`` agent).

    | Agents | ``seller_0``, ``buyer_0`` and, when coaching, ``critic_0`` |
    |---|---|
    | API | AEC; seller and buyer alternate; the critic acts between games |
    | Actions | free text: the sentence said after ``Say:`` (the critic: after ``Feedback:``) |
    | Observations | text prompt (rules, own numbers, the conversation, the critic's feedback) |
    | Phases | ``talk``, ``critique`` |

    ## Action Space

    Any string. A seller or buyer says the text after the last ``Say:`` of its answer span (up
    to the end of that line), or the whole content of a ``\boxed{}`` / ``<answer>`` tag; it is
    put on one line, capped at ``max_message_chars`` (300) and shown to the other side in
    quotes as that side's words. The critic's feedback is the text after its last
    ``Feedback:`` (or a tag's content), on one line, capped at ``max_feedback_chars`` (1200). A
    reply without the marker or tag, or with nothing after it, is an invalid move: reasoning is
    never shown to the other side.

    ## Observation Space

    ``UnicodeText``: the role's rules and numbers (the seller's cost, the buyer's value), the
    conversation of the current game (the coached side: of every game so far, with the
    feedback), the last stated prices and, when it is the agent's turn, what to write. The
    critic's prompt holds the finished game's conversation and its result.

    ## Rewards

    At the end of each game (component ``"deal"``): the seller ``price - cost``, the buyer
    ``buyer_value - price`` (``buyer_value`` = $20 by default, the seller's opening price: a
    deal at the asking price gives the buyer nothing, and every deal splits a surplus of
    ``buyer_value - cost`` = 12). The paper measures the deal price itself and records a
    failed negotiation as -1; here a game without a deal (no agreement within ``max_rounds``,
    or a deal whose price cannot be read) pays ``no_deal_reward`` (-1) to both (component
    ``"no_deal"``). The critic receives, when the next game ends, the change of the coached
    side's reward from the game it commented on (component ``"coaching"``). The end of the
    episode pays 0 (component ``"outcome"``). The prices of every game are in
    :attr:`results`.

    Invalid moves: by default ``retry`` with 3 more attempts and feedback, then ``penalize``
    (-1) with the fallback of saying nothing (the critic: no feedback).

    ## Starting State

    Game 1, after the openers; the seller to speak.

    ## Episode End

    Terminates after ``num_games`` games (or a forfeit); truncates after ``max_turns`` steps.

    ## Arguments

    ``cost`` (8), ``seller_open`` (20), ``buyer_open`` (10), ``buyer_value`` (20),
    ``max_rounds`` (10), ``num_games`` (3), ``coached`` (``"seller"``, ``"buyer"`` or
    ``None``; with one game there is nothing to coach and no ``critic_0``), ``moderator`` and
    ``price_extractor`` (callables of the conversation; ``None``: the rules; they must pickle
    for the env to pickle), ``no_deal_reward`` (-1), ``item`` ("balloon"), ``max_message_chars`` (300),
    ``max_feedback_chars`` (1200), plus the base arguments of
    :class:`~selfplay_gym.core.text_game.TurnBasedTextEnv`.

    Bots (named in the registry): ``concession`` (moves its price toward the other side's by
    ``step`` = $2 a turn, accepts once the other side's price is within a step), ``hard_liner``
    (repeats its opening price, accepts only that), ``rule_critic`` (a concession player whose
    critiques are rules about the finished game). Every bot can fill every seat: in the critic's
    seat each writes the rule critique, in a bargaining seat the rule critic concedes.

    ## Version History

    * v0: initial version.
    """

    __slots__ = (
        "cost",
        "seller_open",
        "buyer_open",
        "buyer_value",
        "max_rounds",
        "num_games",
        "coached",
        "moderator",
        "price_extractor",
        "no_deal_reward",
        "item",
        "max_message_chars",
        "max_feedback_chars",
        "results",
        "_phase",
        "_game",
        "_round",
        "_dialogue",
        "_feedback_text",
        "_tagged",
    )

    metadata: ClassVar[dict[str, Any]] = {**TurnBasedTextEnv.metadata, "name": "bargaining_v0"}
    fallback_description: ClassVar[str] = "you say nothing this turn"
    default_invalid_move: ClassVar[InvalidMovePolicy] = InvalidMovePolicy(
        mode="retry", retry_budget=3, exhausted="penalize", penalty=-1.0
    )

    def __init__(
        self,
        *,
        cost: float = 8.0,
        seller_open: float = 20.0,
        buyer_open: float = 10.0,
        buyer_value: float = 20.0,
        max_rounds: int = 10,
        num_games: int = 3,
        coached: str | None = "seller",
        moderator: Callable[[Dialogue], bool] | None = None,
        price_extractor: Callable[[Dialogue], float | None] | None = None,
        no_deal_reward: float = -1.0,
        item: str = "balloon",
        max_message_chars: int = 300,
        max_feedback_chars: int = 1200,
        **kwargs: Any,
    ):
        for name, value in (
            ("cost", cost),
            ("seller_open", seller_open),
            ("buyer_open", buyer_open),
            ("buyer_value", buyer_value),
            ("no_deal_reward", no_deal_reward),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
                raise ValueError(f"expected {name} to be a number, got {value!r}")
        for name, value in (
            ("max_rounds", max_rounds),
            ("num_games", num_games),
            ("max_message_chars", max_message_chars),
            ("max_feedback_chars", max_feedback_chars),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"expected {name} to be a positive int, got {value!r}")
        if coached not in ("seller", "buyer", None):
            raise ValueError(f"expected coached in ('seller', 'buyer', None), got {coached!r}")
        for name, value in (("moderator", moderator), ("price_extractor", price_extractor)):
            if value is not None and not callable(value):
                raise ValueError(f"expected {name} to be callable or None, got {value!r}")
        if not isinstance(item, str) or not item.strip() or len(item) > 40:
            raise ValueError(f"expected item to be a short non-empty string, got {item!r}")
        self.cost = float(cost)
        self.seller_open = float(seller_open)
        self.buyer_open = float(buyer_open)
        self.buyer_value = float(buyer_value)
        self.max_rounds = max_rounds
        self.num_games = num_games
        self.coached = coached if num_games > 1 else None
        self.moderator = moderator if moderator is not None else RuleModerator()
        self.price_extractor = (
            price_extractor if price_extractor is not None else RulePriceExtractor()
        )
        self.no_deal_reward = float(no_deal_reward)
        self.item = " ".join(item.split())
        self.max_message_chars = max_message_chars
        self.max_feedback_chars = max_feedback_chars
        self._tagged = False
        policy = InvalidMovePolicy.coerce(kwargs.get("invalid_move") or self.default_invalid_move)
        moves = num_games * (2 * max_rounds + 1)
        kwargs.setdefault("max_turns", moves * (policy.retry_budget + 1) + 10)
        agents = [SELLER, BUYER] + ([CRITIC] if self.coached else [])
        init_free_text_game(self, agent_names=agents, **kwargs)

    # ---- game hooks ------------------------------------------------------------------------
    def _new_game(self) -> str:
        self.results: list[dict[str, Any]] = []
        self._feedback_text: str | None = None
        self._game = 0
        return self._start_game()

    def _start_game(self) -> str:
        """Clear the uncoached sides' histories, tell the openers; the seller speaks first."""
        self._game += 1
        self._round = 1
        self._phase = "talk"
        for agent in self.possible_agents:
            if self._roles[agent] != self.coached:
                self._history[agent].clear()
        self._dialogue: list[tuple[str, str]] = [
            (
                "seller",
                f"Hi, this is a good {self.item} and its price is {_money(self.seller_open)}.",
            ),
            ("buyer", f"Would you consider selling it for {_money(self.buyer_open)}?"),
        ]
        self._tell(f"Game {self._game} of {self.num_games} begins.")
        coached = SELLER if self.coached == "seller" else BUYER
        if self.coached and self._feedback_text is not None:
            self._tell(self._coaching_text(), to=coached)
        for role, words in self._dialogue:
            self._tell(f'{role} says: "{words}"')
        return SELLER

    def _coaching_text(self) -> str:
        last = self.results[-1]
        if self.coached == "seller":
            goal = (
                f"sell the {self.item} at a higher price than last game's {_money(last['price'])}"
                if last["deal"]
                else "reach a deal at a good price this time"
            )
        else:
            goal = (
                f"buy the {self.item} at a lower price than last game's {_money(last['price'])}"
                if last["deal"]
                else "reach a deal at a good price this time"
            )
        return (
            f'Feedback from the critic (critic_0\'s words): "{self._feedback_text}" '
            f"In this game, improve your negotiation strategy based on the feedback: try to {goal}."
        )

    def _rules(self, agent: str) -> str:
        item = self.item
        games = (
            f"You will play {self.num_games} games in a row with the same rules."
            if self.num_games > 1
            else "You play one game."
        )
        deal_rule = (
            "A deal is reached when one of you states the same price the other stated last, or "
            f"explicitly accepts it (for example 'Deal, {_money(self.seller_open - 4)}.'). "
            "Write prices with a dollar sign. "
            f"Each of you speaks at most {self.max_rounds} times per game; without a deal by "
            "then, the game ends with no deal."
        )
        say = (
            "Think first if you like, then write what you say to the other side on one line "
            "after 'Say:' (or inside \\boxed{}). Only that sentence is shown to them. "
            + self._invalid_rule_text()
        )
        if agent == SELLER:
            coaching = (
                " Between games a critic may give you feedback." if self.coached == "seller" else ""
            )
            return (
                f"You are seller_0: you sell a {item} and bargain with a buyer. The {item} cost "
                f"you {_money(self.cost)} and your starting price is {_money(self.seller_open)}. "
                f"Your goal is to sell it at a high price: your reward is the price minus your "
                f"cost; no deal gives you {self.no_deal_reward:g}. Reply to the buyer with only "
                f"one short, succinct sentence each turn. {deal_rule} {games}{coaching}\n{say}"
            )
        if agent == BUYER:
            coaching = (
                " Between games a critic may give you feedback." if self.coached == "buyer" else ""
            )
            return (
                f"You are buyer_0: you want to buy a {item} and bargain with its seller. The "
                f"{item} is worth {_money(self.buyer_value)} to you. Your goal is to buy it at a "
                "price as low as possible: your reward is its worth to you minus the price; no "
                f"deal gives you {self.no_deal_reward:g}. Buy one {item} only. Reply to the "
                f"seller with only one short, succinct sentence each turn. {deal_rule} "
                f"{games}{coaching}\n{say}"
            )
        coached = self.coached
        goal = "sell it at a higher price" if coached == "seller" else "buy it at a lower price"
        return (
            f"You are critic_0, a coach in a negotiation game: a seller and a buyer bargain "
            f"about a {item}. After each game but the last you read their conversation, then "
            f"give three suggestions to the {coached} about how to {goal}. Your suggestions "
            "must not be about a specific price, should improve on the previous negotiation "
            f"and be generic and insightful; the {coached} deals in one {item} only. Your reward "
            f"is the change of the {coached}'s reward from the game you comment on to the next "
            "one. Think first if you like, then write 'Feedback:' followed by your three "
            "numbered suggestions (or put them inside \\boxed{}). Only your feedback is shown "
            "to the " + coached + ". " + self._invalid_rule_text()
        )

    def _last_prices(self) -> tuple[float | None, float | None]:
        return (
            _last_price_of(self._dialogue, other="buyer"),
            _last_price_of(self._dialogue, other="seller"),
        )

    def _state_text(self, agent: str) -> str:
        if agent == CRITIC:
            if not (self._phase == "critique" and self._to_act(agent)):
                return f"Game {self._game} of {self.num_games} is being played."
            last = self.results[-1]
            outcome = f"a deal at {_money(last['price'])}" if last["deal"] else "no deal"
            return (
                f"Game {self._game} of {self.num_games} ended with {outcome}. Their "
                f"conversation:\n{_transcript(last['dialogue'])}\n"
                f"Now give three suggestions to the {self.coached}, after 'Feedback:'."
            )
        head = f"Game {self._game} of {self.num_games}, round {min(self._round, self.max_rounds)} of {self.max_rounds}."
        if not (self._phase == "talk" and self._to_act(agent)):
            return head
        seller_price, buyer_price = self._last_prices()
        role, other = ("seller", "buyer") if agent == SELLER else ("buyer", "seller")
        mine, theirs = (
            (seller_price, buyer_price) if agent == SELLER else (buyer_price, seller_price)
        )
        prices = (
            f"Your last price: {_money(mine) if mine is not None else 'none'}; the {other}'s "
            f"last price: {_money(theirs) if theirs is not None else 'none'}."
        )
        return (
            f"{head} {prices}\nYour turn, {role}: write the one sentence you say to the "
            f"{other} after 'Say:'."
        )

    def _legal_indices(self, agent: str) -> tuple[int, ...]:
        return ()

    def step(self, action: Any) -> None:
        r"""Play ``action``; whether it held a ``\boxed{}`` or ``<answer>`` tag is noted first."""
        if isinstance(action, str):
            tail = action[-self.max_action_chars :]
            self._tagged = last_boxed(tail) is not None or last_tag(tail, "answer") is not None
        else:
            self._tagged = False
        super().step(action)

    def _parse_move(self, agent: str, span: str) -> ParseResult:
        critic = agent == CRITIC
        marker = _FEEDBACK_RE if critic else _SAY_RE
        found = list(marker.finditer(span))
        if found:
            rest = span[found[-1].end() :]
            if not critic:  # one sentence: the rest of the marker's line (or the next line)
                lines = [line for line in rest.strip().splitlines() if line.strip()]
                rest = lines[0] if lines else ""
        elif self._tagged:
            rest = _unwrap(span)
        else:
            what = "'Feedback:' and your suggestions" if critic else "'Say:' and your sentence"
            return ParseResult(False, None, None, f"expected {what} (or a \\boxed{{}} answer).")
        text = _one_line(rest, self.max_feedback_chars if critic else self.max_message_chars)
        if not text:
            what = "feedback" if critic else "sentence"
            return ParseResult(
                False, None, None, f"expected a {what}, got nothing after the marker."
            )
        return ParseResult(True, text, text)

    def _fallback_move(self, agent: str) -> str:
        return ""

    def _apply(self, agent: str, move: str) -> str | None:
        if agent == CRITIC:
            self._feedback_text = move or "(no feedback)"
            self._tell("You gave your feedback." if move else "You gave no feedback.", to=CRITIC)
            self._note(f'critic_0 to the {self.coached}: "{self._feedback_text}"')
            return self._start_game()
        role = self._roles[agent]
        self._dialogue.append((role, move))
        if move:
            self._tell(f'{role} says: "{move}"')
        else:
            self._tell(f"{role} says nothing.")
        if move and self.moderator(list(self._dialogue)):
            price = self.price_extractor(list(self._dialogue))
            if price is None:
                self._tell("The moderator saw a deal but no price could be read: no deal.")
            return self._end_game(price)
        if role == "buyer":
            self._round += 1
            if self._round > self.max_rounds:
                self._tell(f"No deal after {self.max_rounds} rounds.")
                return self._end_game(None)
        return BUYER if role == "seller" else SELLER

    def _end_game(self, price: float | None) -> str | None:
        """Pay the game's rewards (and the critic's), record it, start the next or finish."""
        deal = price is not None
        if deal:
            rewards = {SELLER: price - self.cost, BUYER: self.buyer_value - price}
            component = "deal"
            self._tell(f"Deal at {_money(price)} in game {self._game}.")
        else:
            rewards = {SELLER: self.no_deal_reward, BUYER: self.no_deal_reward}
            component = "no_deal"
            self._tell(f"Game {self._game} ends without a deal.")
        for agent, value in rewards.items():
            self._reward(agent, component, value)
        if self.coached and self.results and CRITIC in self.agents:
            coached = SELLER if self.coached == "seller" else BUYER
            self._reward(
                CRITIC, "coaching", rewards[coached] - self.results[-1]["rewards"][coached]
            )
        self.results.append(
            {
                "game": self._game,
                "deal": deal,
                "price": price,
                "rewards": rewards,
                "dialogue": list(self._dialogue),
                "feedback": self._feedback_text,
            }
        )
        if self._game >= self.num_games:
            summary = ", ".join(
                _money(r["price"]) if r["deal"] else "no deal" for r in self.results
            )
            self._finish(dict.fromkeys(self.agents, 0.0), f"{self.num_games} game(s): {summary}.")
            return None
        if self.coached:
            self._phase = "critique"
            return CRITIC
        return self._start_game()

    def _build_info(self, agent: str) -> dict[str, Any]:
        info = super()._build_info(agent)
        if info["phase"] == "play":
            info["phase"] = self._phase
        return info

    def state_tensor(self, agent: str) -> Any:
        """Not available: bargaining is played in free text (no numeric view)."""
        raise NotImplementedError("bargaining has no numeric view (free-text moves)")

    def agent_view(self, agent: str) -> dict[str, Any]:
        """What a bot may read: what ``agent``'s prompt tells it, structured.

        Keys: ``role``, ``phase``, ``game``, ``num_games``, ``round``, ``max_rounds``,
        ``opening`` (this side's opening price), ``my_price`` and ``their_price`` (last stated
        prices), ``dialogue`` (this game's), ``cost`` (seller only), ``value`` (buyer only),
        ``coached``, ``feedback`` (the coached side only) and, for the critic, ``finished``
        (the last finished game's record).
        """
        role = self._roles[agent]
        seller_price, buyer_price = self._last_prices()
        view: dict[str, Any] = {
            "role": role,
            "phase": self._phase,
            "game": self._game,
            "num_games": self.num_games,
            "round": self._round,
            "max_rounds": self.max_rounds,
            "opening": self.buyer_open if role == "buyer" else self.seller_open,
            "my_price": buyer_price if role == "buyer" else seller_price,
            "their_price": seller_price if role == "buyer" else buyer_price,
            "dialogue": list(self._dialogue),
            "cost": self.cost if role == "seller" else None,
            "value": self.buyer_value if role == "buyer" else None,
            "coached": self.coached,
            "feedback": self._feedback_text if role == self.coached else None,
            "finished": None,
        }
        if role == "critic" and self.results:
            view["finished"] = dict(self.results[-1])
        return view


# ---- scripted players ------------------------------------------------------------------------
class _BargainBot(Bot):
    """A player of any seat: :meth:`talk` as seller or buyer, :meth:`critique` as the critic."""

    def act(self, env: TurnBasedTextEnv, agent: str) -> str:
        """The seat's move: an utterance after ``Say:`` or feedback after ``Feedback:``."""
        view = env.agent_view(agent)
        if view["role"] == "critic":
            return self.critique(view)
        return self.talk(view)

    def talk(self, view: dict[str, Any]) -> str:
        """The utterance of the seller or buyer."""
        raise NotImplementedError

    def critique(self, view: dict[str, Any]) -> str:
        """Three suggestions to the coached side, chosen by rules about the finished game."""
        finished = view["finished"] or {"deal": False, "price": None, "dialogue": []}
        coached = view["coached"] or "seller"
        own = [words for role, words in finished["dialogue"] if role == coached]
        if not finished["deal"]:
            tips = [
                "Make a concrete counter-offer every turn instead of repeating yourself.",
                "Signal the smallest concession that would close the deal.",
                "Acknowledge the other side's position before stating yours.",
            ]
        elif len(own) <= 2:
            tips = [
                "Do not accept the first reasonable offer: ask for more once.",
                "Stress the value of the item before talking about price.",
                "Let the other side make the next concession before you move.",
            ]
        else:
            tips = [
                "Concede in smaller steps and make each concession look costly.",
                "Anchor your first counter-offer further from the middle.",
                "Give a reason with each offer so that it sounds firm.",
            ]
        return "Feedback: " + " ".join(f"{i}. {tip}" for i, tip in enumerate(tips, 1))


class ConcessionBot(_BargainBot):
    """Moves its price toward the other side's by ``step`` each turn; accepts within a step.

    The seller never asks less than its cost, the buyer never offers more than its value.
    """

    name = "concession"

    def __init__(self, step: float = 2.0, seed: int | None = None):
        if not step > 0:
            raise ValueError(f"expected step > 0, got {step!r}")
        super().__init__(seed)
        self.step = float(step)

    def talk(self, view: dict[str, Any]) -> str:
        """Accept the other side's price when within a step, else concede by a step."""
        mine = view["my_price"] if view["my_price"] is not None else view["opening"]
        theirs = view["their_price"]
        if view["role"] == "seller":
            offer = max(mine - self.step, view["cost"])
            if theirs is not None and theirs >= offer:
                return f"Say: Deal, {_money(theirs)}."
            return f"Say: I can go down to {_money(offer)}."
        offer = min(mine + self.step, view["value"])
        if theirs is not None and theirs <= offer:
            return f"Say: Deal, {_money(theirs)}."
        return f"Say: I could pay {_money(offer)} for it."


class HardLinerBot(_BargainBot):
    """Repeats its opening price and accepts only a price at least as good."""

    name = "hard_liner"

    def talk(self, view: dict[str, Any]) -> str:
        """Its opening price, or acceptance of an offer that meets it."""
        opening, theirs = view["opening"], view["their_price"]
        good = theirs is not None and (
            theirs >= opening if view["role"] == "seller" else theirs <= opening
        )
        if good:
            return f"Say: Deal, {_money(theirs)}."
        return f"Say: My price is {_money(opening)}, take it or leave it."


class RuleCriticBot(ConcessionBot):
    """The rule critic (:meth:`_BargainBot.critique`); in a bargaining seat it concedes."""

    name = "rule_critic"
