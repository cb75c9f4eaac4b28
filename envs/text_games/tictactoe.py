"""Tic-Tac-Toe as a language game (SPIRAL's TicTacToe setting) and its perfect-play bot."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any, ClassVar

import numpy as np

from selfplay_gym.core.bots import Bot
from selfplay_gym.core.parsers import ParseResult
from selfplay_gym.core.text_game import TurnBasedTextEnv

__all__ = ["TicTacToeEnv", "PerfectTicTacToeBot", "TacticalTicTacToeBot", "tactical_cells"]

_LINES = ((0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6))
_BOARD = " {} | {} | {}\n---+---+---\n {} | {} | {}\n---+---+---\n {} | {} | {}"
_EMPTY_BOARD = _BOARD.format(*range(9))
_CELL_AT = tuple(_EMPTY_BOARD.index(str(i)) for i in range(9))  # where each cell's character sits
_MOVE_RE = re.compile(r"\[\s*([0-9]{1,4})\s*\]")
_MARKS = ("X", "O")
_MOVES = tuple(f"[{i}]" for i in range(9))
# Boards as 9-bit masks (bit i = cell i), so the rules are table look-ups.
_FULL = (1 << 9) - 1
_LINE_MASKS = tuple(sum(1 << c for c in line) for line in _LINES)
_WINNING = tuple(any(m & line == line for line in _LINE_MASKS) for m in range(1 << 9))
_FREE_CELLS = tuple(tuple(c for c in range(9) if not m >> c & 1) for m in range(1 << 9))
_CELL_FLAGS = tuple(tuple(float(m >> c & 1) for c in range(9)) for m in range(1 << 9))
_TAKE_LINES = tuple(
    tuple(f"player_{seat} ({_MARKS[seat]}) takes cell {c}." for c in range(9)) for seat in range(2)
)
_LEGAL_TEXT = {}  # legal-index tuple -> "Legal moves: [0], [4]" (at most 2**9 entries)


class TicTacToeEnv(TurnBasedTextEnv):
    r"""Tic-Tac-Toe for two language-model players.

    ## Description

    The classic 3x3 game, as SPIRAL trains on it: ``player_0`` plays X and moves first,
    ``player_1`` plays O. Cells are numbered 0-8, left to right, top to bottom. Three marks in a
    row, column or diagonal win; a full board without a line is a draw.

    | Agents | ``player_0``, ``player_1`` |
    |---|---|
    | API | AEC (turn-based) |
    | Actions | text; the move is the last ``[n]`` in the reply (inside ``\boxed{}`` if present) |
    | Numeric actions | ``Discrete(9)``: cell index |
    | Observations | text prompt (rules, moves so far, the board, legal moves) |
    | State tensor | 18 floats: own marks, opponent marks |

    ## Action Space

    Any string. The answer span is the content of the last ``\boxed{}`` (else the last
    ``<answer>`` tag, else the whole reply); in it the last bracketed number ``[n]`` is the move.
    ``\boxed{4}`` reads as ``[4]``. Only ASCII digits count. An integer action is read as a cell.

    ## Observation Space

    ``UnicodeText``: the rules (system part), the move history, the board and the legal moves.
    ``info["messages"]`` holds the same prompt as a system + user chat. The opponent's raw reply
    never reaches a prompt; only its parsed move does.

    ## Rewards

    +1 for a win, -1 for a loss, 0 for a draw, at the end. Invalid moves follow the
    invalid-move policy (default ``forfeit``: offender -1.5, opponent +0.5, as SPIRAL trains).

    ## Starting State

    An empty board; ``player_0`` (X) to move.

    ## Episode End

    Terminates on a line of three, a full board, or a forfeit; truncates after ``max_turns``
    steps (only reachable with retries or penalties).

    ## Arguments

    ``invalid_move``, ``max_turns`` (default 50), ``max_action_chars``, ``max_observation_chars``,
    ``history_lines`` (``0``: the prompt shows the board without the list of moves so far),
    ``system_prompt`` (a template replacing the rules; fields ``{agent}``, ``{mark}``,
    ``{opponent_mark}``),
    ``render_mode`` (``"ansi"``): see :class:`~selfplay_gym.core.text_game.TurnBasedTextEnv`.

    ## Bots

    ``"strong"``: perfect play (exhaustive search, ties broken at random); ``"tactical"``: wins
    when it can, else blocks an immediate loss, else plays a random free cell; ``"random"``.

    ## Version History

    * v0: initial version.
    """

    __slots__ = ("_bits", "_board_text")

    metadata: ClassVar[dict[str, Any]] = {**TurnBasedTextEnv.metadata, "name": "tictactoe_v0"}
    move_names: ClassVar[tuple[str, ...]] = _MOVES
    state_size: ClassVar[int] = 18
    prompt_fields: ClassVar[tuple[str, ...]] = ("mark", "opponent_mark")

    # ---- game hooks ------------------------------------------------------------------------
    def _new_game(self) -> str:
        self._bits = [0, 0]  # per seat, bit i set when the seat has a mark in cell i
        self._board_text = _EMPTY_BOARD
        return "player_0"

    def _rules(self, agent: str) -> str:
        seat = self._agent_index[agent]
        mine, theirs = _MARKS[seat], _MARKS[1 - seat]
        order = "You move first." if seat == 0 else "Your opponent moves first."
        return (
            f"You are {agent} in a game of Tic-Tac-Toe against one opponent. You play {mine}; "
            f"your opponent plays {theirs}. {order}\n"
            "The board has nine cells numbered 0 to 8, left to right and top to bottom. On your "
            "turn you put your mark in one empty cell. Three of your marks in a row, a column or "
            "a diagonal win the game; a full board without such a line is a draw.\n"
            "Think as much as you like, then give your move as a cell number in square brackets "
            r"inside \boxed{}, for example \boxed{[4]} for the centre. " + self._invalid_rule_text()
        )

    def _prompt_values(self, agent: str) -> dict[str, str]:
        seat = self._agent_index[agent]
        return {"mark": _MARKS[seat], "opponent_mark": _MARKS[1 - seat]}

    def _state_text(self, agent: str) -> str:
        board = self._board_text
        if not self._to_act(agent):
            return f"Board:\n{board}"
        legal = self._legal_indices(agent)
        legal_text = _LEGAL_TEXT.get(legal)
        if legal_text is None:
            legal_text = _LEGAL_TEXT[legal] = "Legal moves: " + ", ".join(_MOVES[i] for i in legal)
        return f"Board:\n{board}\nYou are {_MARKS[self._agent_index[agent]]}. {legal_text}"

    def _legal_indices(self, agent: str) -> tuple[int, ...]:
        return _FREE_CELLS[self._bits[0] | self._bits[1]]

    def _parse_move(self, agent: str, span: str) -> ParseResult:
        found = _MOVE_RE.findall(span)
        if not found:
            return ParseResult(
                False, None, None, "no move found: expected a cell number in brackets, such as [4]."
            )
        digits = found[-1]
        extracted = f"[{digits}]"
        cell = int(digits)
        if cell > 8:
            return ParseResult(
                False, None, extracted, f"cell {cell} does not exist: expected 0 to 8."
            )
        if (self._bits[0] | self._bits[1]) >> cell & 1:
            return ParseResult(False, None, extracted, f"cell {cell} is already taken.")
        return ParseResult(True, cell, extracted)

    def _move_from_index(self, index: int) -> int:
        return index

    def _apply(self, agent: str, cell: int) -> str | None:
        seat = self._agent_index[agent]
        bits = self._bits[seat] = self._bits[seat] | 1 << cell
        at = _CELL_AT[cell]
        self._board_text = f"{self._board_text[:at]}{_MARKS[seat]}{self._board_text[at + 1 :]}"
        self._tell(_TAKE_LINES[seat][cell])
        if _WINNING[bits]:
            other = self._other(agent)
            self._finish({agent: 1.0, other: -1.0}, f"{agent} has three in a row and wins.")
        elif self._bits[0] | self._bits[1] == _FULL:
            self._finish({a: 0.0 for a in self.agents}, "the board is full: a draw.")
        else:
            return self._other(agent)
        self._note("Final board:\n" + self._board_text)
        return None

    def state_tensor(self, agent: str) -> np.ndarray:
        """18 floats: 1 where ``agent`` has a mark (cells 0-8), then 1 where the opponent has one."""
        seat = self._agent_index[agent]
        return np.array(
            _CELL_FLAGS[self._bits[seat]] + _CELL_FLAGS[self._bits[1 - seat]], dtype=np.float32
        )

    def agent_view(self, agent: str) -> dict[str, Any]:
        """``board`` (cell -> ``"X"``, ``"O"`` or ``None``), own ``mark`` and ``legal`` cells."""
        x, o = self._bits
        return {
            "board": [
                _MARKS[0] if x >> i & 1 else _MARKS[1] if o >> i & 1 else None for i in range(9)
            ],
            "mark": _MARKS[self._agent_index[agent]],
            "legal": list(self._legal_indices(agent)) if self._to_act(agent) else [],
        }


def _coded_position(env: TurnBasedTextEnv, agent: str) -> tuple[list[int], int]:
    """``agent``'s board (0 empty, 1 X, 2 O) and its own mark's code, for the bots."""
    view = env.agent_view(agent)
    code = {None: 0, "X": 1, "O": 2}
    return [code[v] for v in view["board"]], code[view["mark"]]


@cache
def _solve(board: tuple[int, ...], mover: int) -> int:
    """Game value for ``mover`` (1 or 2) to move on ``board``: +1 win, 0 draw, -1 loss."""
    other = 3 - mover
    for a, b, c in _LINES:
        if board[a] == board[b] == board[c] == other:
            return -1
    if all(board):
        return 0
    best = -2
    for cell in range(9):
        if not board[cell]:
            child = board[:cell] + (mover,) + board[cell + 1 :]
            best = max(best, -_solve(child, other))
            if best == 1:
                break
    return best


def optimal_cells(board: Sequence[int], mover: int) -> list[int]:
    """Every cell whose game value for ``mover`` is the best available (perfect play)."""
    board = tuple(board)
    values = {}
    for cell in range(9):
        if not board[cell]:
            child = board[:cell] + (mover,) + board[cell + 1 :]
            values[cell] = -_solve(child, 3 - mover)
    best = max(values.values())
    return [cell for cell, value in values.items() if value == best]


class PerfectTicTacToeBot(Bot):
    """Perfect play by exhaustive search (never loses); ties between best moves broken at random."""

    name = "strong"

    def act(self, env: TurnBasedTextEnv, agent: str) -> str:
        """The text of an optimal move for ``agent``."""
        return f"[{self.rng.choice(optimal_cells(*_coded_position(env, agent)))}]"


def tactical_cells(board: Sequence[int], mover: int) -> list[int]:
    """The cells a one-move-deep player considers.

    Its winning cells if it has any, else the cells that block the other player's immediate
    wins, else every free cell.
    """
    free = [c for c in range(9) if not board[c]]
    for mark in (mover, 3 - mover):
        cells = [
            c
            for c in free
            if any(c in line and sum(board[x] == mark for x in line) == 2 for line in _LINES)
        ]
        if cells:
            return cells
    return free


class TacticalTicTacToeBot(Bot):
    """Wins when it can, blocks when it must, otherwise plays at random.

    Between the random bot and perfect play: it never misses a win or an immediate block, so a
    learner's counter-threat in place of a block loses to it, yet it walks into forks. As a
    league entry it punishes exactly the blunders that only the random bot forgives.
    """

    name = "tactical"

    def act(self, env: TurnBasedTextEnv, agent: str) -> str:
        """The text of a winning, blocking or random move for ``agent``."""
        return f"[{self.rng.choice(tactical_cells(*_coded_position(env, agent)))}]"
