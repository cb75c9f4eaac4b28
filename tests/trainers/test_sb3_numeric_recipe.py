"""The SB3 numeric self-play recipe: a tiny run end to end, and its snapshot bot."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import gymnasium
import numpy as np
import pytest

pytest.importorskip("sb3_contrib")
torch = pytest.importorskip("torch")

import selfplay_gym  # noqa: E402
from selfplay_gym.core.arena import play_match  # noqa: E402
from selfplay_gym.envs.text_games.kuhn_poker import NashKuhnBot  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


TINY = [
    "--total-timesteps", "3072",
    "--n-envs", "2",
    "--n-steps", "256",
    "--batch-size", "256",
    "--n-epochs", "1",
    "--snapshot-every", "2",
    "--eval-games", "6",
    "--snapshot-games", "4",
    "--net-arch", "16",
]  # fmt: skip


@pytest.mark.parametrize("game", ["kuhn", "tictactoe"])
def test_a_tiny_run_writes_its_summary(game, tmp_path):
    out = tmp_path / "summary.json"
    proc = subprocess.run(
        [sys.executable, "-m", "selfplay_gym.baselines.sb3_numeric", "--env", game, *TINY]
        + ["--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads(out.read_text())
    assert summary["timesteps"] >= 3072
    assert summary["cpu_seconds"] > 0 and summary["wall_seconds"] > 0

    rows = {(r["opponent"], r["seat"]): r for r in summary["evaluation"]}
    assert set(rows) == {(o, s) for o in ("random", "strong") for s in ("player_0", "player_1")}
    for row in rows.values():
        assert row["games"] == row["wins"] + row["draws"] + row["losses"] == 6
        # Every lost game is kept once per distinct line, with how often it was played.
        assert sum(row["lost_games"].values()) == row["losses"]
        if game == "tictactoe":
            assert all("takes cell" in line and "wins" in line for line in row["lost_games"])

    # 6 updates of 512 steps, a snapshot every 2: after updates 2 and 4 (the 6th ends training).
    league = {e["name"]: e for e in summary["league"]}
    snapshots = [e for e in league.values() if e["kind"] == "snapshot"]
    assert league["random"]["kind"] == "bot"
    assert [e["name"] for e in snapshots] == ["snapshot@1024", "snapshot@2048"]
    assert sum(e["games"] for e in league.values()) > 0
    assert sum(e["games"] for e in snapshots) > 0  # snapshots were drawn and played
    assert "snapshot@2048" in proc.stdout
    assert len(summary["snapshot_history"]) == 2  # each snapshot measured

    if game == "kuhn":
        # Plain self-play against the newest snapshot; every snapshot kept for the average.
        assert "League (latest)" in proc.stdout
        assert summary["env_kwargs"] == {"num_hands": 1, "payoff": "chips", "ante": 1}
        for key in ("exploitability", "average_exploitability", "average_all_exploitability"):
            assert math.isfinite(summary[key]) and summary[key] >= 0
        # The second half of training: the snapshot at 2048 and the final policy.
        assert summary["averaged_snapshots"] == [2048, summary["timesteps"]]
        assert "exploitability of the average strategy" in proc.stdout
    else:
        assert "League (uniform)" in proc.stdout
        for bot in ("strong", "tactical"):
            assert league[bot]["kind"] == "bot" and league[bot]["games"] > 0
        assert summary["exploitability"] is None
        assert rows["strong", "player_0"]["wins"] == 0  # minimax never loses


@pytest.fixture
def model():
    from sb3_contrib import MaskablePPO

    env = gymnasium.make("selfplay/TicTacToe-v0", numeric=True, learner="any")
    return MaskablePPO("MlpPolicy", env, n_steps=64, batch_size=64, seed=0, device="cpu")


def test_a_snapshot_plays_only_legal_moves_and_replays_under_a_seed(model):
    from selfplay_gym.baselines.sb3_numeric import PolicyBot

    snapshot = PolicyBot(model.policy).snapshot()

    def match(seed):
        torch.manual_seed(seed + 1000)  # the bot must not draw from torch's global generator
        return play_match("selfplay/TicTacToe-v0", [snapshot, "random"], games=40, seed=seed)

    first = match(0)
    assert first.players[0].invalid_moves == 0
    assert first.players[0].games_as_first == 20  # both seats
    again = match(0)
    assert again.records == first.records
    assert match(1).records != first.records  # the seed matters: the bot samples


def test_a_snapshot_is_frozen_and_gives_a_distribution_on_the_legal_moves(model):
    from selfplay_gym.baselines.sb3_numeric import PolicyBot

    live = PolicyBot(model.policy)
    snapshot = live.snapshot()
    env = selfplay_gym_env()
    env.step(4)
    before = snapshot.probabilities(env, "player_1")
    assert (
        before[4] == 0 and abs(before.sum() - 1) < 1e-12 and (before[np.arange(9) != 4] > 0).all()
    )
    assert np.allclose(live.probabilities(env, "player_1"), before)

    model.learn(256)  # training moves the live actor, not the snapshot
    assert np.array_equal(snapshot.probabilities(env, "player_1"), before)
    assert not np.allclose(live.probabilities(env, "player_1"), before)

    # Deterministic: the most likely legal move.
    greedy = PolicyBot(model.policy, deterministic=True)
    assert greedy.act(env, "player_1") == int(np.argmax(live.probabilities(env, "player_1")))


def selfplay_gym_env():
    import selfplay_gym

    env = selfplay_gym.make("selfplay/TicTacToe-v0")
    env.reset(seed=0)
    return env


class _Always:
    """A one-hand Kuhn Poker policy that puts all its mass on the first legal move of ``order``."""

    def __init__(self, *order):
        self.order = order

    def probabilities(self, env, agent):
        legal = env.infos[agent]["action_mask"]
        p = np.zeros(4)
        p[next(m for m in self.order if legal[m])] = 1.0
        return p


def test_the_average_strategy_weights_each_policy_by_its_own_reach():
    from selfplay_gym.baselines.sb3_numeric import GAMES, AverageKuhnPolicy
    from selfplay_gym.envs.text_games.kuhn_poker import KuhnPokerEnv, exploitability

    check, bet, call, fold = range(4)
    aggressive, passive = _Always(bet, call), _Always(check, fold)
    average = AverageKuhnPolicy([aggressive, passive], GAMES["kuhn"].env_kwargs)
    env = KuhnPokerEnv(num_hands=1, payoff="chips")
    env.reset(seed=0)
    opener = env.agent_selection
    assert np.allclose(average(env, opener), [0.5, 0.5, 0, 0])  # both reach the first move
    env.step(check)
    env.step(bet)
    # Only the passive policy checks first, so only it reaches "check, bet": it folds.
    assert np.allclose(average(env, opener), [0, 0, 0, 1])

    # One policy averages to itself; mixing Nash strategies (alpha 0 and 1/3) stays a Nash one.
    kwargs = GAMES["kuhn"].env_kwargs
    assert exploitability(AverageKuhnPolicy([aggressive], kwargs)) == exploitability(
        lambda env, agent: aggressive.probabilities(env, agent)
    )
    mixed = AverageKuhnPolicy([_Nash(0.0), _Nash(1 / 3)], kwargs)
    assert exploitability(mixed) < 1e-9


class _Nash:
    """NashKuhnBot's strategy as a ``probabilities(env, agent)`` policy."""

    def __init__(self, alpha):
        self.bot = NashKuhnBot(alpha=alpha)

    def probabilities(self, env, agent):
        view = env.agent_view(agent)
        probs = self.bot.probabilities(view["card"], tuple(view["bets"]))
        return np.array([probs.get(word, 0.0) for word in ("check", "bet", "call", "fold")])


def test_the_magnet_kl_term_is_zero_at_the_magnet_and_enters_the_loss_with_its_weight():
    import copy

    from selfplay_gym.baselines.sb3_numeric import MagnetPPO, kl_to_magnet

    env = gymnasium.make("selfplay/TicTacToe-v0", numeric=True, learner="any")
    ppo = MagnetPPO("MlpPolicy", env, n_steps=64, ent_coef=0.1, seed=0, device="cpu")
    ppo.magnet_kl = 0.5
    obs = torch.rand(5, *env.observation_space.shape)
    masks = torch.ones(5, 9, dtype=torch.bool)
    masks[:, 4] = False  # an illegal move adds nothing
    actions = torch.zeros(5, dtype=torch.long)

    ppo.magnet = copy.deepcopy(ppo.policy)
    assert torch.allclose(kl_to_magnet(ppo.policy, ppo.magnet, obs, masks), torch.zeros(5))
    _, _, entropy = ppo.policy.evaluate_actions(obs, actions, action_masks=masks)
    plain = ppo.policy.get_distribution(obs, masks).entropy()
    assert torch.allclose(entropy, plain)  # policy == magnet: the entropy term as it was

    with torch.no_grad():
        ppo.magnet.action_net.weight.add_(torch.randn_like(ppo.magnet.action_net.weight))
    kl = kl_to_magnet(ppo.policy, ppo.magnet, obs, masks)
    assert (kl > 0).all() and kl.requires_grad
    _, _, entropy = ppo.policy.evaluate_actions(obs, actions, action_masks=masks)
    # -ent_coef * entropy is what the PPO loss adds: it gains exactly magnet_kl * KL.
    assert torch.allclose(-0.1 * entropy, -0.1 * plain + 0.5 * kl, atol=1e-6)


@pytest.mark.parametrize("greedy", [False, True])
def test_league_snapshots_sample_or_play_their_likeliest_move(model, greedy):
    from selfplay_gym.baselines.sb3_numeric import LeagueSnapshots
    from selfplay_gym.league import League

    league = League(env_id="selfplay/TicTacToe-v0", seed=0)
    callback = LeagueSnapshots(league, every=1, greedy=greedy)
    callback.init_callback(model)
    callback.updates = 1  # as after the first update
    callback.on_rollout_start()
    (entry,) = [e for e in league if e.kind == "snapshot"]
    bot = entry.source
    assert bot.deterministic is greedy
    # On the opening position a greedy snapshot always plays its likeliest move, whatever its
    # seed; a sampling one spreads over the moves (the untrained policy is nearly uniform).
    game = selfplay_gym.make("selfplay/TicTacToe-v0").unwrapped  # the AEC game
    game.reset(seed=0)
    moves = set()
    for seed in range(12):
        bot.reset(seed)
        moves.add(bot.act(game, "player_0"))
    if greedy:
        assert moves == {int(np.argmax(bot.probabilities(game, "player_0")))}
    else:
        assert len(moves) > 3


def test_an_unknown_snapshot_move_rule_is_a_clear_error():
    from selfplay_gym.baselines.sb3_numeric import Args, train

    with pytest.raises(ValueError, match="snapshot-moves"):
        train(Args(env="tictactoe", total_timesteps=64, snapshot_moves="argmax"))
