"""A language model as an SB3 policy: the token view, the move scorer, PPO, snapshots, the recipe."""

from __future__ import annotations

import json
import subprocess
import sys

import gymnasium
import numpy as np
import pytest

import selfplay_gym
from selfplay_gym.wrappers import TokenView

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
sb3 = pytest.importorskip("stable_baselines3")

from selfplay_gym.baselines.sb3_lm_policy import (  # noqa: E402
    LMActorCriticPolicy,
    LMScorer,
    LMSnapshotBot,
)

TTT = "selfplay/TicTacToe-v0"


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tokenizer(tiny_model_path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_path)


def token_env(tokenizer, width=384, **kwargs):
    return TokenView(
        gymnasium.make(TTT, learner="any", **kwargs), tokenizer, max_prompt_tokens=width
    )


def some_positions(env, n=6):
    """Observations and (text prompt, info) pairs from a few games at different depths."""
    obs, prompts = [], []
    for game in range(n):
        o, info = env.reset(seed=game)
        for _ in range(game % 4):
            legal = np.flatnonzero(o["action_mask"])
            o, _, terminated, _, info = env.step(int(legal[-1]))
            if terminated:
                o, info = env.reset(seed=100 + game)
        view = env.env.unwrapped
        obs.append(o)
        prompts.append((view.aec_env.observe(view.learner), info))
    return obs, prompts


def batch(obs):
    return {k: torch.as_tensor(np.stack([o[k] for o in obs])) for k in obs[0]}


def test_token_view_holds_the_policy_prompt_right_aligned(tokenizer):
    from selfplay_gym.llm.base import encode_with_tokenizer
    from selfplay_gym.llm.policy import build_prompt

    env = token_env(tokenizer)
    obs, prompts = some_positions(env, 3)
    for o, (text, info) in zip(obs, prompts, strict=True):
        expected = encode_with_tokenizer(tokenizer, build_prompt(text, info))
        n = int(o["attention_mask"].sum())
        assert n == len(expected)
        assert o["input_ids"][-n:].tolist() == expected
        assert (o["input_ids"][:-n] == env.pad_id).all() and not o["attention_mask"][:-n].any()
        assert o["action_mask"].tolist() == info["action_mask"].astype(int).tolist()
        assert env.observation_space.contains(o)
    assert env.candidate_ids == [
        tokenizer(m, add_special_tokens=False)["input_ids"] for m in env.move_names
    ]


def test_token_view_keeps_the_newest_tokens_of_a_long_prompt_and_says_so(tokenizer):
    env = token_env(tokenizer, width=40)
    full = token_env(tokenizer, width=2000)
    o, info = env.reset(seed=3)
    f, finfo = full.reset(seed=3)
    n = int(f["attention_mask"].sum())
    assert n > 40 and info["prompt_truncated"] and not finfo["prompt_truncated"]
    assert o["input_ids"].tolist() == f["input_ids"][-40:].tolist()
    assert o["attention_mask"].all()


def test_scorer_gives_the_backends_scores_for_every_move(tiny_model_path, tokenizer):
    """The SB3 policy's distribution is exactly LLMPolicy's score mode: same prompts, same numbers."""
    from selfplay_gym.llm.policy import build_prompt
    from selfplay_gym.llm.transformers_backend import TransformersBackend

    env = token_env(tokenizer)
    obs, prompts = some_positions(env)
    backend = TransformersBackend(tiny_model_path)
    scorer = LMScorer(backend.model, env.candidate_ids)
    b = batch(obs)
    with torch.no_grad():
        scores, hidden = scorer(b["input_ids"], b["attention_mask"])
    expected = backend.score(
        [build_prompt(t, i) for t, i in prompts], [list(env.move_names)] * len(prompts)
    )
    np.testing.assert_allclose(scores.numpy(), np.array(expected), atol=1e-4)
    assert hidden.shape == (len(obs), scorer.hidden_size)


def test_scorer_rows_do_not_depend_on_the_rest_of_the_batch(tiny_model_path, tokenizer):
    env = token_env(tokenizer)
    obs, _ = some_positions(env)
    scorer = LMScorer(str(tiny_model_path), env.candidate_ids)
    with torch.no_grad():
        together, _ = scorer(batch(obs)["input_ids"], batch(obs)["attention_mask"])
        alone = [scorer(batch([o])["input_ids"], batch([o])["attention_mask"])[0][0] for o in obs]
    np.testing.assert_allclose(together.numpy(), torch.stack(alone).numpy(), atol=1e-4)


def test_scorer_trie_scores_moves_of_any_shape_like_separate_passes(tiny_model_path, tokenizer):
    """Moves of 1-4 tokens, some sharing openings, one a prefix of another: the packed trie
    gives each move the summed log-prob of a plain forward pass over prompt + move."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_path).eval()
    moves = [[5], [5, 9], [5, 9, 11, 3], [5, 12], [7, 9, 11], [7], [30, 30]]
    env = token_env(tokenizer)
    obs, _ = some_positions(env)
    scorer = LMScorer(model, moves)
    assert len(scorer.node_ids) == 6  # 5, 5 9, 5 9 11, 7, 7 9, 30
    b = batch(obs)
    with torch.no_grad():
        scores, _ = scorer(b["input_ids"], b["attention_mask"])
        for row, o in enumerate(obs):
            prompt = [int(t) for t, m in zip(o["input_ids"], o["attention_mask"], strict=True) if m]
            for k, move in enumerate(moves):
                ids = torch.tensor([prompt + move])
                logp = torch.log_softmax(model(input_ids=ids).logits.float(), -1)[0]
                expected = sum(float(logp[len(prompt) - 1 + j, t]) for j, t in enumerate(move))
                assert abs(float(scores[row, k]) - expected) < 1e-4, (row, move)


def make_policy(env, tiny_model_path, lr=1e-3):
    return LMActorCriticPolicy(
        env.observation_space,
        env.action_space,
        lambda _: lr,
        model_path=str(tiny_model_path),
        candidate_ids=env.candidate_ids,
    )


def test_policy_never_picks_an_illegal_move_and_its_numbers_agree(tiny_model_path, tokenizer):
    env = token_env(tokenizer)
    obs, _ = some_positions(env)
    policy = make_policy(env, tiny_model_path)
    b = batch(obs)
    with torch.no_grad():
        for _ in range(20):
            actions, values, log_prob = policy(b)
            assert b["action_mask"][torch.arange(len(obs)), actions].all()
        _, log_prob2, entropy = policy.evaluate_actions(b, actions)
        dist = policy.get_distribution(b)
        probs = dist.distribution.probs
    np.testing.assert_allclose(log_prob.numpy(), log_prob2.numpy(), atol=1e-5)
    assert torch.isfinite(entropy).all() and (entropy >= 0).all()
    assert (probs[~b["action_mask"].bool()] == 0).all()
    np.testing.assert_allclose(probs.sum(-1).numpy(), 1.0, atol=1e-5)
    greedy = policy._predict(b, deterministic=True)
    assert torch.equal(greedy, probs.argmax(-1))
    assert values.shape == (len(obs), 1)


class PayForCentre(gymnasium.Wrapper):
    """One move per episode; the centre pays 1, any other move 0."""

    def step(self, action):
        obs, _, _, truncated, info = self.env.step(action)
        return obs, float(int(action) == 4), True, truncated, info


def test_ppo_updates_the_lm_towards_the_rewarded_move(tiny_model_path, tokenizer):
    from stable_baselines3 import PPO

    view = token_env(tokenizer, width=64, opponent="random")  # the newest 64 tokens: fast
    env = PayForCentre(view)
    model = PPO(
        LMActorCriticPolicy,
        env,
        n_steps=64,
        batch_size=32,
        n_epochs=4,
        learning_rate=3e-3,
        seed=0,
        device="cpu",
        policy_kwargs={
            "model_path": str(tiny_model_path),
            "candidate_ids": view.candidate_ids,
        },
    )
    probe, _ = env.reset(seed=123)
    b = batch([probe])
    weights = [p.detach().clone() for p in model.policy.lm.parameters()]

    def p_centre():
        with torch.no_grad():
            return float(model.policy.get_distribution(b).distribution.probs[0, 4])

    before = p_centre()
    model.learn(total_timesteps=192)
    after = p_centre()
    assert after > before + 0.1, (before, after)
    changed = [
        not torch.equal(w, p) for w, p in zip(weights, model.policy.lm.parameters(), strict=True)
    ]
    assert any(changed), "the LM's own weights must be trained, not only the value head"


def test_snapshot_bot_is_frozen_legal_and_replays_its_seed(tiny_model_path, tokenizer):
    env = token_env(tokenizer)
    policy = make_policy(env, tiny_model_path)
    bot = LMSnapshotBot(policy, env)
    with torch.no_grad():
        for p in policy.lm.parameters():
            p.add_(1.0)  # the learner moves on; the snapshot must not
    assert not any(p.requires_grad for p in bot.scorer.parameters())
    assert all(
        not torch.equal(a, b)
        for a, b in zip(bot.scorer.lm.parameters(), policy.lm.parameters(), strict=True)
    )

    def moves(seed):
        game = selfplay_gym.make(TTT)
        game.reset(seed=0)
        bot.reset(seed)
        out = []
        for agent in game.agent_iter():
            _, _, terminated, truncated, info = game.last()
            if terminated or truncated:
                game.step(None)
                continue
            move = bot.act(game.unwrapped, agent)
            assert info["action_mask"][move], "the snapshot chose an illegal move"
            out.append(move)
            game.step(move)
        return out

    assert moves(5) == moves(5)
    assert len({tuple(moves(s)) for s in range(6)}) > 1


def test_batch_policy_plays_the_snapshot_bots_greedy_moves_in_one_call(
    tiny_model_path, tokenizer, tmp_path
):
    from selfplay_gym.baselines.sb3_lm import evaluate
    from selfplay_gym.baselines.sb3_lm_policy import LMBatchPolicy

    env = token_env(tokenizer)
    policy = make_policy(env, tiny_model_path)
    # Positions at several depths, scored together: the same move as the one-at-a-time bot.
    observations, infos, expected = [], [], []
    bot = LMSnapshotBot(policy, env, greedy=True)
    for seed in range(6):
        game = selfplay_gym.make(TTT)
        game.reset(seed=seed)
        for _step in range(seed % 5):
            agent = game.agent_selection
            game.step(int(np.flatnonzero(game.infos[agent]["action_mask"])[seed % 2]))
        agent = game.agent_selection
        observations.append(game.observe(agent))
        infos.append(game.infos[agent])
        expected.append(env.move_names[bot.act(game.unwrapped, agent)])
    batch_policy = LMBatchPolicy.from_policy(policy, env, greedy=True)
    assert batch_policy.act(observations, infos) == expected
    # Sampled moves are always legal, and a position without legal moves gets "".
    sampler = LMBatchPolicy.from_policy(policy, env, greedy=False, seed=3)
    for _ in range(5):
        for info, move in zip(infos, sampler.act(observations, infos), strict=True):
            assert move in info["legal_actions"]
    assert sampler.act([observations[0]], [{"action_mask": np.zeros(9)}]) == [""]
    # Saved and loaded back from its Hugging Face directory: the same moves.
    saved = policy.save_lm(tmp_path / "model", tokenizer)
    loaded = LMBatchPolicy.from_pretrained(saved, env, temperature=policy.temperature, greedy=True)
    assert loaded.act(observations, infos) == expected
    # A batched match tallies every game once, per seat; minimax never loses a game.
    for opponent in ("random", "strong"):
        result = evaluate(TTT, batch_policy, opponent, 6, seed=7, num_envs=4)
        assert result["games"] == 12 and set(result["seats"]) == {"player_0", "player_1"}
        for tally in result["seats"].values():
            assert tally["wins"] + tally["draws"] + tally["losses"] == 6
        assert result["wins"] == sum(t["wins"] for t in result["seats"].values())
        assert result["win_rate"] == result["wins"] / 12 and result["invalid_moves"] == 0
    assert result["wins"] == 0  # against strong


def test_recipe_trains_and_writes_its_outputs(tiny_model_path, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run(
        [
            sys.executable, "-m", "selfplay_gym.baselines.sb3_lm",
            "--model", str(tiny_model_path), "--out", str(out),
            "--total-timesteps", "64", "--n-envs", "2", "--n-steps", "32",
            "--batch-size", "32", "--n-epochs", "1", "--eval-games", "2",
            "--curve-games", "4", "--eval-every", "1", "--snapshot-every", "1",
            "--max-prompt-tokens", "320", "--no-progress",
        ],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["timesteps"] == 64
    tables = [summary[when][mode] for when in ("before", "after") for mode in ("sampled", "greedy")]
    for table in tables:
        assert [row["opponent"] for row in table] == ["random", "strong"]
        for row in table:
            assert row["games"] == 4 and row["wins"] + row["draws"] + row["losses"] == 4
            assert set(row["seats"]) == {"player_0", "player_1"}
            assert row["invalid_moves"] == 0
    assert [p["timesteps"] for p in summary["curve"]] == [0, 64]
    assert all(0 <= p[mode] <= 1 for p in summary["curve"] for mode in ("sampled", "greedy"))
    assert any(e["kind"] == "snapshot" for e in summary["league"])
    assert (out / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The trained model is an ordinary hf: policy.
    from selfplay_gym.core.arena import play_match
    from selfplay_gym.llm import load_policy

    player = load_policy(f"hf:{out / 'model'}", policy_kwargs={"mode": "score"})
    result = play_match(TTT, [player, "random"], 2, seed=0)
    assert result.players[0].invalid_moves == 0
