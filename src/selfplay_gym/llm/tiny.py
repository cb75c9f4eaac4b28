"""A tiny GPT-2-style causal language model built locally, for tests, demos and benchmarks.

:func:`build_tiny_model` trains a byte-level BPE tokenizer on text written here and on the
prompts of a few random games of SPIRAL's three games, gives it a chat template, creates a
randomly initialised GPT-2 of about a million parameters and saves both as an ordinary
Hugging Face directory. Every backend loads it by path -- ``transformers``, ``vllm``, and
``transformers serve`` for the HTTP backend -- and nothing is downloaded.

The model is untrained: its moves are noise until a trainer teaches it. It exists so that the
adapters, the rollout engine and the trainers can be exercised end to end on a CPU in seconds.

Example::

    from selfplay_gym.llm.tiny import build_tiny_model
    path = build_tiny_model("/tmp/tiny-lm")           # a directory with config, weights, tokenizer
    from selfplay_gym.llm import load_policy
    policy = load_policy(f"hf:{path}")
"""

from __future__ import annotations

import json
import os
import string
from pathlib import Path

__all__ = ["build_tiny_model", "TINY_CHAT_TEMPLATE", "default_tiny_model_dir"]

# A ChatML-style template: every message is wrapped in <|im_start|>role ... <|im_end|>, and the
# generation prompt opens the assistant's turn. Jinja, as Hugging Face tokenizers expect.
TINY_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")

TOKENIZER_GAMES = (
    "selfplay/TicTacToe-v0",
    "selfplay/KuhnPoker-v0",
    "selfplay/SimpleNegotiation-v0",
)
"""The ids whose prompts the tokenizer learns from (SPIRAL's games)."""

_FORMAT_VERSION = 4
"""Bumped when the builder's output changes; a cached directory of another version is rebuilt."""


def _training_text() -> list[str]:
    """Text the tokenizer learns its merges from: game vocabulary, digits, punctuation, prose."""
    lines = [
        string.printable,
        "You are playing a two-player zero-sum game. Make valid moves to win.",
        "Put your final answer within \\boxed{}. Your available moves are: [check], [bet]",
        "[fold] [call] [check] [bet] [accept] [deny] [Accept] [Deny] [Offer: 3 Wood -> 2 Gold]",
        "Tic-tac-toe on a 3x3 board. Mark cells [0] to [8]. Three in a row wins. X O . | - +",
        "Kuhn poker: a deck of Jack, Queen and King; each player antes 1 chip; the higher card wins.",
        "Negotiation: trade Wood and Gold; the player whose inventory value rises more wins.",
        "player_0 player_1 Player 0 Player 1 round hand turn move invalid forfeit reward chips",
        "<think> </think> <answer> </answer> \\boxed{4} \\boxed{[call]} \\boxed{[Offer: 1 Wood -> 1 Gold]}",
    ]
    lines += [f"[{i}] {i} {i * 7} {i}{i}" for i in range(21)]
    return lines * 4 + _game_prompts()


def _game_prompts(games: int = 3) -> list[str]:
    """Prompts of a few random games of each of :data:`TOKENIZER_GAMES`.

    Merges learnt from the prompts the model will read make them several times shorter in
    tokens than plain byte-level text, and prefill is most of a small model's cost.
    """
    from selfplay_gym.core.bots import RandomBot
    from selfplay_gym.registry import ENV_SPECS, make

    prompts = []
    for env_spec in ENV_SPECS:
        # A fixed list: the tokenizer (and so every test that reads the tiny model's greedy
        # output) must not change when a new family lands in the registry.
        if env_spec.id not in TOKENIZER_GAMES:
            continue
        try:
            env = make(env_spec.id)
            bot = RandomBot(0)
            for seed in range(games):
                env.reset(seed=seed)
                for agent in env.agent_iter():
                    observation, _, terminated, truncated, _ = env.last()
                    if terminated or truncated:
                        env.step(None)
                        continue
                    prompts.append(observation)
                    env.step(bot.act(env.unwrapped, agent))
        except Exception:  # noqa: BLE001 - a family that cannot run here adds no text
            continue
    return prompts


def default_tiny_model_dir() -> Path:
    """Where :func:`build_tiny_model` caches its model by default.

    ``tiny-gpt2`` in :func:`selfplay_gym.cache.cache_root` (``$SELFPLAY_GYM_CACHE``, else
    ``~/.cache/selfplay-gym``).
    """
    from selfplay_gym.cache import cache_root

    return cache_root() / "tiny-gpt2"


def build_tiny_model(
    path: str | os.PathLike[str] | None = None,
    *,
    n_layer: int = 2,
    n_embd: int = 128,
    n_head: int = 4,
    n_positions: int = 2048,
    vocab_size: int = 2048,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Create (or reuse) a tiny GPT-2 and its tokenizer in ``path`` and return the path.

    The result is deterministic for the same arguments. An existing directory built by this
    function with the same arguments is reused unless ``overwrite`` is set.

    Args:
        path: Target directory; default :func:`default_tiny_model_dir`.
        n_layer: Transformer blocks.
        n_embd: Hidden size.
        n_head: Attention heads.
        n_positions: Context length in tokens.
        vocab_size: Tokenizer vocabulary (byte alphabet, merges and three special tokens).
        seed: Seed of the weight initialisation.
        overwrite: Rebuild even if a matching model is there.

    Returns:
        The directory, loadable with ``AutoModelForCausalLM.from_pretrained(path)``.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    target = Path(path) if path is not None else default_tiny_model_dir()
    recipe = {
        "format": _FORMAT_VERSION,
        "n_layer": n_layer,
        "n_embd": n_embd,
        "n_head": n_head,
        "n_positions": n_positions,
        "vocab_size": vocab_size,
        "seed": seed,
    }
    marker = target / "selfplay_gym_tiny.json"
    if not overwrite and marker.exists():
        try:
            if json.loads(marker.read_text()) == recipe:
                return target
        except (OSError, ValueError):
            pass  # an unreadable marker: rebuild

    raw = Tokenizer(models.BPE(unk_token=None))
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    raw.train_from_iterator(_training_text(), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        bos_token="<|endoftext|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
        padding_side="left",
        model_max_length=n_positions,
    )
    tokenizer.chat_template = TINY_CHAT_TEMPLATE

    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=n_positions,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        # GPT-2's tanh GELU as one fused op (gelu_new is the same function in Python ops, and
        # half the speed of a whole training step on a CPU); no dropout, as RL fine-tuning wants.
        activation_function="gelu_pytorch_tanh",
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        model = GPT2LMHeadModel(config)
    finally:
        torch.random.set_rng_state(generator_state)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id

    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    marker.write_text(json.dumps(recipe, indent=1))
    return target
