"""The token view of a finite text game: fixed-size token arrays that numeric RL libraries batch."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium.spaces import Box, Dict, Discrete

__all__ = ["TokenView"]


class TokenView(gymnasium.ObservationWrapper):
    """Turns a :class:`~selfplay_gym.wrappers.SelfPlayView` of a finite game into token arrays.

    The learner's prompt -- the chat of ``info["messages"]``, rendered by the tokenizer's chat
    template exactly as :class:`~selfplay_gym.llm.LLMPolicy` and the local backends render it
    -- becomes a left-padded array of token ids, so that a library that only batches fixed-size
    arrays (Stable-Baselines3, RLlib) can feed it to a language model. The moves are the game's
    canonical moves (``Discrete(len(move_names))``); their token ids, tokenized as the backends
    tokenize scoring candidates, are :attr:`candidate_ids`, the same on every step.

    Observation (a ``Dict``):

    * ``input_ids``: ``int64[max_prompt_tokens]``, the prompt's ids right-aligned, ``pad_id``
      before them;
    * ``attention_mask``: ``int64[max_prompt_tokens]``, 1 on the prompt's positions;
    * ``action_mask``: ``int64[len(move_names)]``, 1 on the legal moves.

    A prompt longer than ``max_prompt_tokens`` keeps its newest tokens (the backends' rule) and
    the step's info gets ``prompt_truncated=True``; count them before trusting a run.

    Args:
        env: A single-agent view of a game with a finite move set (``numeric=False``).
        tokenizer: A Hugging Face tokenizer, or a path or name to load one from.
        max_prompt_tokens: Width of the token arrays.
        system_prompt: Text put before the env's system message, as ``LLMPolicy`` does.

    Example:
        >>> import gymnasium, selfplay_gym
        >>> from selfplay_gym.llm.tiny import build_tiny_model
        >>> from selfplay_gym.wrappers import TokenView
        >>> path = build_tiny_model()  # doctest: +SKIP
        >>> env = TokenView(gymnasium.make("selfplay/TicTacToe-v0"), path)  # doctest: +SKIP
        >>> obs, info = env.reset(seed=0)  # doctest: +SKIP
        >>> obs["action_mask"].tolist()  # doctest: +SKIP
        [1, 1, 1, 1, 1, 1, 1, 1, 1]
    """

    def __init__(
        self,
        env: gymnasium.Env,
        tokenizer: Any,
        *,
        max_prompt_tokens: int = 512,
        system_prompt: str | None = None,
    ):
        super().__init__(env)
        game = env.unwrapped.aec_env.unwrapped
        if not game.move_names:
            raise TypeError(f"{type(game).__name__} has no finite move set")
        if max_prompt_tokens < 1:
            raise ValueError(f"expected max_prompt_tokens >= 1, got {max_prompt_tokens}")
        if isinstance(tokenizer, (str, bytes)) or hasattr(tokenizer, "__fspath__"):
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(tokenizer)
        self.tokenizer = tokenizer
        self.max_prompt_tokens = max_prompt_tokens
        self.system_prompt = system_prompt
        self.move_names: tuple[str, ...] = tuple(game.move_names)
        self.candidate_ids: list[list[int]] = [
            list(tokenizer(m, add_special_tokens=False)["input_ids"]) for m in self.move_names
        ]
        """Token ids of each canonical move, as the backends tokenize scoring candidates."""
        if not all(self.candidate_ids):
            raise ValueError("a move tokenizes to no tokens")
        pad = tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else (tokenizer.eos_token_id or 0))
        vocab = len(tokenizer)
        n = len(self.move_names)
        self.observation_space = Dict(
            {
                "input_ids": Box(0, vocab - 1, (max_prompt_tokens,), np.int64),
                "attention_mask": Box(0, 1, (max_prompt_tokens,), np.int64),
                "action_mask": Box(0, 1, (n,), np.int64),
            }
        )
        self.action_space = Discrete(n)
        self._truncated = False

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset the view and return the learner's first prompt as tokens."""
        obs, info = self.env.reset(seed=seed, options=options)
        self._info = info
        out = self.observation(obs)
        info["prompt_truncated"] = self._truncated
        return out, info

    def step(self, action: Any):
        """Play canonical move ``action`` for the learner."""
        obs, reward, terminated, truncated, info = self.env.step(int(action))
        self._info = info
        out = self.observation(obs)
        info["prompt_truncated"] = self._truncated
        return out, reward, terminated, truncated, info

    def prompt_ids(self, observation: str, info: dict[str, Any]) -> list[int]:
        """The token ids of the prompt for ``observation`` and ``info`` (not truncated)."""
        from selfplay_gym.llm.base import encode_with_tokenizer
        from selfplay_gym.llm.policy import build_prompt

        return encode_with_tokenizer(
            self.tokenizer, build_prompt(observation, info, self.system_prompt)
        )

    def observation(self, observation: Any) -> dict[str, np.ndarray]:
        """Token arrays of the current prompt (all padding and no legal move once the game is over)."""
        width = self.max_prompt_tokens
        ids = np.full(width, self.pad_id, dtype=np.int64)
        attention = np.zeros(width, dtype=np.int64)
        info = self._info
        mask = np.asarray(info.get("action_mask", np.zeros(len(self.move_names))), dtype=np.int64)
        self._truncated = False
        if mask.any():
            prompt = self.prompt_ids(observation, info)
            if len(prompt) > width:
                self._truncated = True
                prompt = prompt[-width:]
            ids[width - len(prompt) :] = prompt
            attention[width - len(prompt) :] = 1
        return {"input_ids": ids, "attention_mask": attention, "action_mask": mask}

    def action_masks(self) -> np.ndarray:
        """Boolean mask of the learner's legal moves (for maskable algorithms)."""
        return self.env.unwrapped.action_masks()
