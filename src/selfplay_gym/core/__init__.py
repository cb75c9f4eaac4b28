"""Base classes and shared machinery; knows no particular environment."""

from selfplay_gym.core.bots import Bot, RandomBot, ask
from selfplay_gym.core.invalid import InvalidMovePolicy
from selfplay_gym.core.parsers import ParseResult
from selfplay_gym.core.text_game import TurnBasedTextEnv

__all__ = ["Bot", "RandomBot", "ask", "InvalidMovePolicy", "ParseResult", "TurnBasedTextEnv"]
