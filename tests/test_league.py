"""The opponent league and Elo ratings: sampling rules, snapshots, checkpoints, results."""

from __future__ import annotations

import sys
import types
from collections import Counter

import numpy as np
import pytest

from selfplay_gym.core.bots import Bot, RandomBot
from selfplay_gym.league import Elo, League, score_from_reward

TTT = "selfplay/TicTacToe-v0"


def first_legal(observation, info):
    return info["legal_actions"][0]


def last_legal(observation, info):
    return info["legal_actions"][-1]


def frequencies(league: League, draws: int, seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    counts = Counter(league.draw(rng) for _ in range(draws))
    return {name: counts[name] / draws for name in league.names}


# ---- Elo -------------------------------------------------------------------------------------
def test_elo_equal_ratings_win_moves_k_over_two_each_way():
    elo = Elo()
    assert elo.expected("a", "b") == 0.5
    assert elo.update("a", "b", 1.0) == (1016.0, 984.0)
    assert elo.games == {"a": 1, "b": 1}


def test_elo_draw_between_equals_changes_nothing_and_k_scales_the_step():
    elo = Elo(k=10)
    assert elo.update("a", "b", 0.5) == (1000.0, 1000.0)
    assert elo.update("a", "b", 0.0) == (995.0, 1005.0)


def test_elo_expected_score_follows_the_logistic_formula():
    elo = Elo(ratings={"strong": 1400.0, "weak": 1000.0})
    assert elo.expected("strong", "weak") == pytest.approx(1 / (1 + 10**-1))
    assert elo.expected("weak", "strong") == pytest.approx(1 / (1 + 10))
    # The favourite gains little for a win, and loses a lot for a loss.
    favourite_win = Elo(ratings={"strong": 1400.0, "weak": 1000.0})
    favourite_win.update("strong", "weak", 1.0)
    assert favourite_win.rating("strong") - 1400 == pytest.approx(32 * (1 - 1 / 1.1))
    upset = Elo(ratings={"strong": 1400.0, "weak": 1000.0})
    upset.update("strong", "weak", 0.0)
    assert 1400 - upset.rating("strong") > 25


def test_elo_conserves_the_sum_of_ratings():
    elo = Elo()
    rng = np.random.default_rng(0)
    names = ["a", "b", "c", "d"]
    for _ in range(200):
        a, b = rng.choice(names, size=2, replace=False)
        elo.update(str(a), str(b), float(rng.choice([0.0, 0.5, 1.0])))
    assert sum(elo.ratings.values()) == pytest.approx(4000.0)
    assert sum(elo.games.values()) == 400


def test_elo_multiplayer_game_rates_every_pair_and_matches_two_player_update():
    two = Elo()
    two.update_game(["a", "b"], [1.0, -1.0])
    assert two.to_dict() == {"a": 1016.0, "b": 984.0}
    three = Elo()
    three.update_game(["a", "b", "c"], [2.0, 0.0, 0.0])
    # The winner beats two equals at K/2 each; the two others draw each other.
    assert three.ratings == {"a": 1016.0, "b": 992.0, "c": 992.0}
    assert sum(three.ratings.values()) == pytest.approx(3000.0)


def test_elo_table_and_dict_rank_by_rating():
    elo = Elo()
    elo.update("low", "high", 0.0)
    assert list(elo.to_dict()) == ["high", "low"]
    lines = elo.table().splitlines()
    assert lines[0] == "Elo ratings (initial 1000, K 32)"
    assert lines[3].split() == ["high", "1016.0", "1"]
    assert lines[4].split() == ["low", "984.0", "1"]


def test_elo_rejects_bad_scores_and_self_play_with_one_name():
    elo = Elo()
    for bad in (1.5, -0.1, float("nan")):
        with pytest.raises(ValueError, match=r"score in \[0, 1\]"):
            elo.update("a", "b", bad)
    with pytest.raises(ValueError, match="two different players"):
        elo.update("a", "a", 1.0)
    with pytest.raises(ValueError, match="k > 0"):
        Elo(k=0)
    assert elo.ratings == {}


def test_score_from_reward_maps_the_sign():
    assert [score_from_reward(r) for r in (1, 0.5, 0, -1, -1.5)] == [1.0, 1.0, 0.5, 0.0, 0.0]


# ---- sampling rules --------------------------------------------------------------------------
def test_latest_draws_the_newest_snapshot_else_the_newest_entry():
    league = League(rule="latest", env_id=TTT)
    league.add("random", "random")
    league.add("first", first_legal)
    assert {league.draw() for _ in range(20)} == {"first"}
    league.add_snapshot(last_legal)
    league.add_snapshot(first_legal)
    league.add("strong", "strong")  # a bot added later does not displace the newest snapshot
    assert {league.sample()[0] for _ in range(20)} == {"snapshot_1"}
    assert league.probabilities()["snapshot_1"] == 1.0


def test_uniform_draws_every_entry_equally_often():
    league = League(rule="uniform", env_id=TTT)
    for name in ("a", "b", "c"):
        league.add(name, "random")
    freq = frequencies(league, 6000)
    assert all(abs(f - 1 / 3) < 0.03 for f in freq.values()), freq


def test_prioritized_hard_draws_the_entry_the_learner_loses_to_most():
    league = League(rule="prioritized", env_id=TTT)
    league.add("beaten", "random")
    league.add("even", "random")
    league.add("nemesis", "strong")
    league.add("unplayed", "random")
    for _ in range(4):
        league.record("beaten", 1.0)
        league.record("nemesis", 0.0)
    league.record("even", 1.0)
    league.record("even", 0.0)
    # Weights (1 - p): beaten 0, even 0.5, nemesis 1, unplayed 0.5 (counted as p = 0.5).
    assert league.probabilities() == pytest.approx(
        {"beaten": 0.0, "even": 0.25, "nemesis": 0.5, "unplayed": 0.25}
    )
    freq = frequencies(league, 8000)
    assert freq["beaten"] == 0.0
    assert max(freq, key=freq.get) == "nemesis"
    assert freq["nemesis"] == pytest.approx(0.5, abs=0.03)
    assert freq["even"] == pytest.approx(0.25, abs=0.03)


def test_prioritized_power_sharpens_and_variance_prefers_even_matches():
    def league_with(**kwargs):
        league = League(rule="prioritized", env_id=TTT, **kwargs)
        league.add("mostly_won", "random")
        league.add("even", "random")
        for score in (1.0, 1.0, 1.0, 0.0):
            league.record("mostly_won", score)
        league.record("even", 1.0)
        league.record("even", 0.0)
        return league

    # hard, power 1: weights 0.25 and 0.5; power 2: 0.0625 and 0.25.
    assert league_with().probabilities()["even"] == pytest.approx(2 / 3)
    assert league_with(power=2).probabilities()["even"] == pytest.approx(0.8)
    # variance p(1 - p): 0.1875 and 0.25.
    assert league_with(weighting="variance").probabilities()["even"] == pytest.approx(0.25 / 0.4375)


def test_prioritized_falls_back_to_uniform_when_every_weight_is_zero():
    league = League(rule="prioritized", env_id=TTT)
    league.add("a", "random")
    league.add("b", "random")
    league.record("a", 1.0)
    league.record("b", 1.0)
    assert league.probabilities() == {"a": 0.5, "b": 0.5}


def test_window_keeps_only_recent_results_for_the_win_rate():
    league = League(rule="prioritized", window=2, env_id=TTT)
    entry = league.add("a", "random")
    for score in (0.0, 0.0, 1.0, 1.0):
        league.record("a", score)
    assert entry.win_rate == 1.0
    assert (entry.games, entry.wins, entry.losses) == (4, 2, 2)


def test_seeded_sampling_replays_and_a_given_rng_takes_precedence():
    def league(seed):
        lg = League(rule="uniform", seed=seed, env_id=TTT)
        for name in "abcde":
            lg.add(name, "random")
        return lg

    a, b, c = league(7), league(7), league(8)
    seq_a = [a.draw() for _ in range(30)]
    assert seq_a == [b.draw() for _ in range(30)]
    assert seq_a != [c.draw() for _ in range(30)]
    assert league(7).sample()[0] == seq_a[0]  # sample() draws exactly as draw() does
    from_rng = [a.draw(np.random.default_rng(1)) for _ in range(5)]
    assert from_rng == [c.draw(np.random.default_rng(1)) for _ in range(5)]


# ---- entries ---------------------------------------------------------------------------------
class Mutable:
    """A learner stand-in: a callable policy with a parameter that training changes."""

    def __init__(self):
        self.preferred = 0

    def __call__(self, observation, info):
        return info["legal_actions"][self.preferred]


def test_snapshots_are_frozen_copies_of_the_learner():
    league = League(env_id=TTT)
    learner = Mutable()
    entry = league.add_snapshot(learner)
    learner.preferred = 3
    _, snapshot = league.sample()
    assert snapshot is not learner and snapshot.preferred == 0
    assert (entry.name, entry.kind) == ("snapshot_0", "snapshot")
    assert snapshot(None, {"legal_actions": ["[0]", "[1]", "[2]", "[3]"]}) == "[0]"


def test_a_snapshot_method_is_used_instead_of_deepcopy():
    class Learner:
        def __init__(self):
            self.calls = 0

        def snapshot(self):
            self.calls += 1
            return first_legal

    learner = Learner()
    league = League()
    league.add_snapshot(learner, name="v1")
    assert learner.calls == 1
    assert league.opponent("v1") is first_legal
    with pytest.raises(TypeError, match="Bot or a callable"):
        league.add_snapshot(object())


def test_max_snapshots_drops_the_oldest_and_late_results_still_rate_it():
    league = League(max_snapshots=2, env_id=TTT)
    league.add("random", "random")
    for _ in range(3):
        league.add_snapshot(first_legal)
    assert league.names == ["random", "snapshot_1", "snapshot_2"]
    league.record("snapshot_0", 1.0)  # an episode drawn before the drop ends afterwards
    assert league.ratings.games["snapshot_0"] == 1
    with pytest.raises(ValueError, match="already has an entry"):
        league.add_snapshot(first_legal, name="snapshot_0")


def test_snapshots_enter_at_the_learners_rating():
    league = League(env_id=TTT)
    league.add("random", "random")
    for _ in range(5):
        league.record("random", 1.0)
    league.add_snapshot(first_legal)
    assert league.ratings.rating("snapshot_0") == league.ratings.rating("learner") > 1000


def test_checkpoints_load_lazily_and_once(tmp_path):
    loads = []

    def loader(path):
        loads.append(path)
        return first_legal

    league = League(rule="latest")
    entry = league.add_checkpoint(tmp_path / "step_100", name="step_100", loader=loader)
    assert loads == [] and not entry.is_loaded and entry.kind == "snapshot"
    for _ in range(3):
        name, opponent = league.sample()
        assert (name, opponent) == ("step_100", first_legal)
    assert loads == [tmp_path / "step_100"]


def test_default_checkpoint_loader_uses_llm_load_policy(tmp_path, monkeypatch):
    specs = []
    fake = types.ModuleType("selfplay_gym.llm")
    fake.load_policy = lambda spec: specs.append(spec) or last_legal
    monkeypatch.setitem(sys.modules, "selfplay_gym.llm", fake)
    league = League()
    league.add_checkpoint(tmp_path)
    league.add("lm", "hf:/models/tiny")
    assert specs == []
    assert league.opponent("snapshot_0") is last_legal
    assert league.opponent("lm") is last_legal
    league.opponent("lm")
    assert specs == [f"hf:{tmp_path}", "hf:/models/tiny"]
    with pytest.raises(ValueError, match="checkpoint directory"):
        league.add_checkpoint(tmp_path / "missing")


def test_a_loader_returning_no_policy_is_a_clear_error(tmp_path):
    league = League()
    league.add_checkpoint(tmp_path, loader=lambda path: 42)
    with pytest.raises(TypeError, match="returned int"):
        league.sample()


def test_bots_by_name_are_resolved_per_game_and_each_draw_gets_its_own_bot():
    league = League()
    league.add("strong", "strong")
    with pytest.raises(ValueError, match="env_id"):
        league.sample()
    one = league.opponent("strong", env_id=TTT)
    two = league.opponent("strong", env_id="selfplay/KuhnPoker-v0")
    assert (type(one).__name__, type(two).__name__) == ("PerfectTicTacToeBot", "NashKuhnBot")
    league.add("cls", RandomBot)
    league.add("instance", RandomBot(seed=1))
    for name in ("strong", "cls", "instance"):
        assert league[name].kind == "bot"
        first, second = league.opponent(name, TTT), league.opponent(name, TTT)
        assert isinstance(first, Bot) and first is not second
    league.add("fn", first_legal)
    assert league["fn"].kind == "policy" and league.opponent("fn") is first_legal


def test_record_updates_counts_win_rate_and_ratings():
    league = League(learner="me", env_id=TTT)
    entry = league.add("random", "random")
    league.record("random", 1.0)
    league.record("random", reward=0.0)
    league.record("random", reward=-1.5)
    league.record("random", reward=0.5)
    assert (entry.games, entry.wins, entry.draws, entry.losses) == (4, 2, 1, 1)
    assert entry.win_rate == pytest.approx(2.5 / 4)
    assert league.ratings.games == {"me": 4, "random": 4}
    assert league.ratings.rating("me") + league.ratings.rating("random") == pytest.approx(2000)
    table = league.table()
    assert "me rating" in table and "62.5%" in table


# ---- bad input -------------------------------------------------------------------------------
def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="expected rule in"):
        League(rule="best")
    with pytest.raises(ValueError, match="expected weighting in"):
        League(weighting="soft")
    with pytest.raises(ValueError, match="power > 0"):
        League(power=0)
    with pytest.raises(ValueError, match="max_snapshots"):
        League(max_snapshots=0)
    with pytest.raises(ValueError, match="empty league"):
        League().sample()
    league = League(env_id=TTT)
    league.add("a", "random")
    with pytest.raises(ValueError, match="already has an entry named 'a'"):
        league.add("a", "strong")
    with pytest.raises(ValueError, match="learner"):
        league.add("learner", "random")
    with pytest.raises(ValueError, match="unknown opponent 'nobody'"):
        league.add("b", "nobody")
    with pytest.raises(TypeError, match="got int"):
        league.add("b", 3)
    with pytest.raises(ValueError, match="no entry 'zzz'"):
        league.record("zzz", 1.0)
    with pytest.raises(ValueError, match="exactly one"):
        league.record("a")
    with pytest.raises(ValueError, match="exactly one"):
        league.record("a", 1.0, reward=1.0)
    with pytest.raises(ValueError, match=r"score in \[0, 1\]"):
        league.record("a", -1.0)
    assert league["a"].games == 0
    with pytest.raises(TypeError, match="Generator"):
        league.draw(rng=3)


def test_prior_games_keep_an_early_win_from_zeroing_an_entry():
    """Without a prior one win makes p = 1 and the entry is never drawn; with 2 even pseudo-games p = 2/3."""
    for prior, expected in ((0.0, 0.0), (2.0, (1 - 2 / 3) / ((1 - 2 / 3) + 0.5))):
        league = League(rule="prioritized", env_id=TTT, prior_games=prior)
        league.add("random", "random")
        league.add("strong", "strong")
        league.record("random", 1.0)
        assert league.probabilities()["random"] == pytest.approx(expected)
    with pytest.raises(ValueError, match="prior_games"):
        League(rule="prioritized", prior_games=-1)
