"""The LM self-play policy-gradient recipe: its loss on fixed batches, and a short real run."""

from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from selfplay_gym.baselines import lm_selfplay_pg as pg  # noqa: E402

ENV_ID = "selfplay/TicTacToe-v0"


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.fixture
def model_and_tokenizer(tiny_model_path: Path):
    """A fresh copy of the tiny model (tests that update it must not share it)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_path).eval()
    return model, AutoTokenizer.from_pretrained(tiny_model_path)


def _prompt_ids(tokenizer, seed: int = 0) -> list[int]:
    """The tokens of a real TicTacToe prompt, as the backends template it."""
    import selfplay_gym
    from selfplay_gym.llm.base import encode_with_tokenizer

    env = selfplay_gym.make(ENV_ID)
    env.reset(seed=seed)
    return encode_with_tokenizer(tokenizer, env.infos["player_0"]["messages"])


def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def _sequence_logprob(model, sample: pg.Sample) -> float:
    with torch.no_grad():
        logp = pg.completion_logprobs(model, pg.collate([sample], pad_id=0))
    return float(logp.sum())


# ---- the loss -----------------------------------------------------------------------------------


def test_positive_advantage_gains_probability_and_negative_loses_it(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    prompt = _prompt_ids(tokenizer)
    good = pg.Sample(prompt, _ids(tokenizer, r"\boxed{[4]}"), advantage=1.0)
    bad = pg.Sample(prompt, _ids(tokenizer, " the centre is mine"), advantage=-1.0)
    other = pg.Sample(_prompt_ids(tokenizer, seed=1)[:-3], _ids(tokenizer, "[0] [8]"), 0.5)
    samples = [good, bad, other]
    before = [_sequence_logprob(model, s) for s in samples]
    # The rollout's log-probs: the same model, before the update.
    samples = [
        pg.Sample(s.prompt_ids, s.completion_ids, s.advantage, old_logprobs=lp)
        for s, lp in zip(samples, pg._score(model, samples, pg.Args(), 0, "cpu"), strict=True)
    ]
    args = pg.Args(model="x", ppo_epochs=4, minibatch_size=3, micro_batch_size=2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    stats = pg.update(
        model,
        optimizer,
        samples,
        args,
        pad_id=0,
        device="cpu",
        use_rollout_logprobs=True,
        generator=torch.Generator().manual_seed(0),
    )
    after = [_sequence_logprob(model, s) for s in samples]
    assert after[0] > before[0] + 0.1, (before, after)
    assert after[1] < before[1] - 0.1, (before, after)
    assert after[2] > before[2], (before, after)
    # Same weights, same tokens: the trainer's first log-probs are the rollout's.
    assert stats["rollout_logprob_gap"] < 1e-4
    assert math.isfinite(stats["loss"]) and stats["grad_norm"] > 0


def test_old_logprobs_are_recomputed_at_another_temperature(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    assert pg.uses_rollout_logprobs(pg.Args(temperature=1.0))
    assert not pg.uses_rollout_logprobs(pg.Args(temperature=0.7))
    assert not pg.uses_rollout_logprobs(pg.Args(old_logprobs="recompute"))
    assert not pg.uses_rollout_logprobs(pg.Args(rollout_backend="vllm"))

    # The backend's log-probs are the temperature-1 ones, whatever the sampling temperature.
    from selfplay_gym.llm import SamplingParams
    from selfplay_gym.llm.transformers_backend import TransformersBackend

    backend = TransformersBackend(model, tokenizer=tokenizer, device="cpu", seed=0)
    prompt = [{"role": "user", "content": "Your move."}]
    [gen] = backend.generate([prompt], SamplingParams(max_new_tokens=6, temperature=0.7))
    sample = pg.Sample(gen.prompt_token_ids, gen.token_ids, advantage=1.0)
    batch = pg.collate([sample], pad_id=0)
    with torch.no_grad():
        at_one = pg.completion_logprobs(model, batch, temperature=1.0)[0]
        at_sampling = pg.completion_logprobs(model, batch, temperature=0.7)[0]
    torch.testing.assert_close(at_one, torch.tensor(gen.logprobs), atol=1e-4, rtol=1e-4)
    assert not torch.allclose(at_sampling, at_one, atol=1e-3)

    # Recomputed at the sampling temperature, the first minibatch's ratios are exactly 1.
    args = pg.Args(model="x", temperature=0.7, ppo_epochs=1, minibatch_size=1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.0)
    stats = pg.update(
        model, optimizer, [sample], args, pad_id=0, device="cpu", use_rollout_logprobs=False
    )
    assert stats["ratio_mean"] == pytest.approx(1.0, abs=1e-6)
    assert stats["clip_frac"] == 0.0


def test_clipped_tokens_get_no_gradient_in_the_direction_of_their_advantage():
    eps = 0.2
    ratios = torch.tensor(
        [
            [1.5, 0.5, 1.1],  # advantage +1: above 1 + eps is clipped; below 1 - eps is not
            [0.5, 1.5, 0.9],  # advantage -1: below 1 - eps is clipped; above 1 + eps is not
        ]
    )
    new = ratios.log().clone().requires_grad_(True)
    old = torch.zeros_like(new)
    loss, stats = pg.ppo_loss(
        new,
        old,
        torch.tensor([1.0, -1.0]),
        torch.ones_like(new),
        clip_eps=eps,
        max_new_tokens=3,
    )
    loss.backward()
    clipped = torch.tensor([[True, False, False], [True, False, False]])
    assert torch.all(new.grad[clipped] == 0), new.grad
    assert torch.all(new.grad[~clipped] != 0), new.grad
    # Unclipped tokens push along their advantage: d loss / d logp = -A * ratio / (C * B).
    expected = -torch.tensor([[0.0, 0.5, 1.1], [0.0, -1.5, -0.9]]) / (3 * 2)
    torch.testing.assert_close(new.grad, expected)
    assert stats["clip_frac"] == pytest.approx(2 / 6)


def test_kl_term_is_zero_when_the_model_is_its_reference(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    reference = copy.deepcopy(model).requires_grad_(False)
    prompt = _prompt_ids(tokenizer)
    samples = [
        pg.Sample(prompt, _ids(tokenizer, r"\boxed{[4]}"), advantage=1.0),
        pg.Sample(prompt[5:], _ids(tokenizer, "[2] now"), advantage=-0.5),
    ]
    batch = pg.collate(samples, pad_id=0)
    with torch.no_grad():
        ref = pg.completion_logprobs(reference, batch)
        old = pg.completion_logprobs(model, batch)

    def loss_and_grads(kl_beta: float):
        model.zero_grad()
        new = pg.completion_logprobs(model, batch)
        loss, stats = pg.ppo_loss(
            new,
            old,
            batch["advantages"],
            batch["completion_mask"],
            max_new_tokens=8,
            ref_logprobs=ref,
            kl_beta=kl_beta,
        )
        loss.backward()
        return loss.detach(), stats, [p.grad.clone() for p in model.parameters()]

    plain_loss, _, plain_grads = loss_and_grads(0.0)
    kl_loss, stats, kl_grads = loss_and_grads(0.5)
    assert stats["kl"] == 0.0
    assert kl_loss == plain_loss
    for a, b in zip(plain_grads, kl_grads, strict=True):
        torch.testing.assert_close(a, b)

    # And it is not zero once the model has moved away from the reference.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    _, moved, _ = loss_and_grads(0.5)
    assert moved["kl"] > 1e-4


def test_batch_masks_cover_exactly_the_completion_tokens(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    prompt = _prompt_ids(tokenizer)
    short = pg.Sample(prompt[-20:], _ids(tokenizer, "[4]"), advantage=1.0)
    long = pg.Sample(prompt, _ids(tokenizer, r"I take the centre \boxed{[4]}"), advantage=-1.0)
    batch = pg.collate([short, long], pad_id=0)
    mask = batch["completion_mask"].bool()
    assert mask.sum(-1).tolist() == [len(short.completion_ids), len(long.completion_ids)]
    for row, s in enumerate((short, long)):
        assert batch["completion_ids"][row][mask[row]].tolist() == s.completion_ids
        # Padding is never attended to: one real token per prompt and completion token.
        assert int(batch["attention_mask"][row].sum()) == len(s.prompt_ids) + len(s.completion_ids)

    # Padding changes no log-prob: each sample scores the same alone and in the padded batch.
    with torch.no_grad():
        together = pg.completion_logprobs(model, batch)
        for row, s in enumerate((short, long)):
            alone = pg.completion_logprobs(model, pg.collate([s], pad_id=0))[0]
            torch.testing.assert_close(together[row][mask[row]], alone, atol=1e-5, rtol=1e-5)


def test_masked_positions_never_reach_the_loss_or_its_gradient():
    mask = torch.tensor([[1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    base_new = torch.tensor([[-1.0, -2.0, 0.0, 0.0], [-0.5, 0.0, 0.0, 0.0]])
    base_old = torch.tensor([[-1.1, -1.9, 0.0, 0.0], [-0.6, 0.0, 0.0, 0.0]])
    garbage_new = base_new.clone()
    garbage_old = base_old.clone()
    garbage_new[mask == 0] = 50.0
    garbage_old[mask == 0] = -1e4  # exp(new - old) would overflow if it were not masked
    results = []
    for new, old in ((base_new, base_old), (garbage_new, garbage_old)):
        for norm in pg.LOSS_NORMS:
            leaf = new.clone().requires_grad_(True)
            loss, _ = pg.ppo_loss(
                leaf,
                old,
                torch.tensor([1.0, -2.0]),
                mask,
                loss_norm=norm,
                max_new_tokens=4,
                ref_logprobs=old,
                kl_beta=0.1,
            )
            loss.backward()
            assert torch.isfinite(loss)
            assert torch.all(leaf.grad[mask == 0] == 0)
            results.append((float(loss.detach()), leaf.grad[mask > 0].clone()))
    for (clean_loss, clean_grad), (dirty_loss, dirty_grad) in zip(
        results[:3], results[3:], strict=True
    ):
        assert clean_loss == dirty_loss
        torch.testing.assert_close(clean_grad, dirty_grad)


def test_dr_grpo_normalisation_divides_by_max_new_tokens_not_by_length():
    new = torch.zeros((2, 3), requires_grad=True)
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    loss, _ = pg.ppo_loss(new, torch.zeros(2, 3), torch.ones(2), mask, max_new_tokens=10)
    # Every token's ratio is 1 and its advantage 1: the loss is -(tokens) / (10 * sequences).
    assert float(loss.detach()) == pytest.approx(-4 / 20)
    loss.backward()
    # A token weighs the same in a long and in a short completion (no length bias).
    assert float(new.grad[0, 0]) == float(new.grad[1, 0])


def test_command_line_arguments():
    args = pg.parse_args(
        ["--model", "m", "--time-budget", "5", "--no-drop-zero-advantage", "--kl-beta", "0.1"]
    )
    assert args.model == "m" and args.time_budget == 5.0 and args.kl_beta == 0.1
    assert args.drop_zero_advantage is False and args.league is False
    assert pg.parse_args(["--model", "m", "--time-budget", "none"]).time_budget is None
    with pytest.raises(ValueError, match="old-logprobs rollout needs --temperature 1"):
        pg._check(pg.Args(model="m", old_logprobs="rollout", temperature=0.7))


# ---- a real run ---------------------------------------------------------------------------------


def _run_recipe(tiny_model_path: Path, output: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "selfplay_gym.baselines.lm_selfplay_pg",
        "--model",
        str(tiny_model_path),
        "--env",
        ENV_ID,
        "--output-dir",
        str(output),
        "--total-steps",
        "2",
        "--episodes-per-step",
        "6",
        "--max-new-tokens",
        "8",
        "--learning-rate",
        "1e-4",
        "--save-every",
        "1",
        *extra,
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def test_recipe_runs_and_its_checkpoint_plays_in_a_league(tiny_model_path, tmp_path):
    from selfplay_gym.core.arena import play_match
    from selfplay_gym.league import League

    proc = _run_recipe(tiny_model_path, tmp_path / "run")
    assert "step    2" in proc.stdout

    lines = [
        json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    ]
    assert [m["step"] for m in lines] == [1, 2]
    for m in lines:
        assert m["episodes"] == 6
        assert 0.0 <= m["invalid_rate"] <= 1.0
        assert set(m["return_mean"]) <= {"player_0", "player_1"} and m["return_mean"]
        assert m["tokens_per_second"] > 0 and m["step_cpu_seconds"] > 0
        if m["samples_trained"]:
            assert math.isfinite(m["loss"]) and m["grad_norm"] >= 0
            assert m["rollout_logprob_gap"] < 1e-3  # the backend shares the trained model
    # The RAE baseline of the first seat moved toward its returns, read before each update.
    assert any(key.endswith("/0") for key in lines[-1]["baselines"])

    checkpoint = tmp_path / "run" / "checkpoints" / "step_000002"
    for name in ("config.json", "model.safetensors", "tokenizer_config.json", "trainer_state.json"):
        assert (checkpoint / name).is_file(), name
    assert json.loads((checkpoint / "trainer_state.json").read_text())["step"] == 2

    league = League(env_id=ENV_ID, seed=0)
    league.add_checkpoint(checkpoint)
    name, opponent = league.sample()
    result = play_match(ENV_ID, [opponent, "random"], games=2, seed=0)
    assert result.num_games == 2
    assert result.players[0].name and sum(p.games for p in result.players) == 4
    # The trained weights are what the league plays, not the initial ones.
    from safetensors.torch import load_file

    trained = load_file(checkpoint / "model.safetensors")
    start = load_file(tiny_model_path / "model.safetensors")
    assert any(not torch.equal(trained[k], start[k]) for k in start if k in trained)


def test_league_mode_draws_the_opponent_from_checkpoints(tiny_model_path, tmp_path):
    _run_recipe(tiny_model_path, tmp_path / "league", "--league", "--league-rule", "latest")
    lines = [
        json.loads(line)
        for line in (tmp_path / "league" / "metrics.jsonl").read_text().splitlines()
    ]
    # The learner plays one seat per game; the other seat is a checkpoint of the league.
    assert "step_000000" in lines[0]["league_win_rates"]
    assert lines[1]["league_win_rates"]["step_000001"] is not None  # "latest" drew it
    assert (tmp_path / "league" / "checkpoints" / "step_000000" / "model.safetensors").is_file()
