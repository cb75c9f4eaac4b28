"""Code self-play (AZR): propose Python programs with inputs; deduce outputs, abduce inputs, induce programs.

:class:`~selfplay_gym.envs.code_reasoning.env.CodeReasoningEnv` is ``selfplay/CodeReasoning-v0``;
:class:`~selfplay_gym.envs.code_reasoning.players.ScriptedCodePlayer` plays it by rules. Program
checks, block parsing, safe comparison and sandboxed execution are in
:mod:`selfplay_gym.envs.code_reasoning.tasks`.
"""

from selfplay_gym.envs.code_reasoning.env import (
    TASK_TYPES,
    AZRComposite,
    CodeReasoningEnv,
    CodeRewards,
)
from selfplay_gym.envs.code_reasoning.players import ScriptedCodePlayer

__all__ = ["CodeReasoningEnv", "CodeRewards", "AZRComposite", "ScriptedCodePlayer", "TASK_TYPES"]
