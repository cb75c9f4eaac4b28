import hashlib
import json
import random
from collections import Counter

import pytest

from selfplay_gym.core.arena import play_match
from selfplay_gym.llm import Backend, Generation, LLMPolicy
from selfplay_gym.rollout import SCHEMA_VERSION, RolloutEngine, read_records, step_records

IDS = ["selfplay/TicTacToe-v0", "selfplay/KuhnPoker-v0", "selfplay/SimpleNegotiation-v0"]


def digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:10]


class NoBackend(Backend):
    name = "none"

    def generate(self, prompts, sampling=None):
        raise AssertionError("the fake policy answers itself")


class EchoPolicy(LLMPolicy):
    """A batched policy that plays a seeded legal move and tags it with its prompt's digest.

    It logs every batched call: the turn and agent of each prompt in it.
    """

    def __init__(self, seed=0, fail_on_call=None, garbage_rate=0.0):
        super().__init__(NoBackend(), name="echo")
        self.calls = []
        self.rng = random.Random(seed)
        self.fail_on_call = fail_on_call
        self.garbage_rate = garbage_rate

    def generate(self, observations, infos=None, sampling=None):
        self.calls.append([(info["turn"], info["seat"]) for info in infos])
        if self.fail_on_call is not None and len(self.calls) == self.fail_on_call:
            raise OSError("the accelerator fell over")
        out = []
        for obs, info in zip(observations, infos, strict=True):
            move = self.rng.choice(info["legal_actions"])
            if self.rng.random() < self.garbage_rate:
                move = "[Offer: lots] [9] [raise]"  # no game's move: the forfeit rule ends the game
            out.append(
                Generation(
                    text=f"{move} #{digest(obs)}",
                    token_ids=[1, 2, 3],
                    logprobs=[-0.5, -0.25, -0.125],
                    prompt_text=obs,
                )
            )
        return out


@pytest.mark.parametrize("env_id", IDS)
def test_one_batched_call_per_tick_across_mixed_turns(env_id):
    # Some answers are not moves, so games end at different times (Negotiation's are otherwise
    # all ten turns long) and the envs of a batch drift apart.
    policy = EchoPolicy(garbage_rate=0.05)
    engine = RolloutEngine(env_id, policy, num_envs=6, seed=3)
    stats = engine.run(30)
    steps = [r for r in engine.records if r["type"] == "step"]

    # Every prompt got its own completion back: the tag is the digest of the record's prompt.
    assert len(steps) == stats.model_steps == sum(len(c) for c in policy.calls)
    for r in steps:
        assert r["completion"].endswith("#" + digest(r["prompt"]))
        assert r["invalid_action"] == r["completion"].startswith("[Offer: lots]")
    # One generate call per tick, never more prompts than envs in flight.
    assert stats.policy_calls == {"echo": len(policy.calls)}
    assert all(1 <= len(call) <= 6 for call in policy.calls)
    # The point of the engine: a batch mixes envs at different turns (and seats).
    assert any(len({turn for turn, _ in call}) > 1 for call in policy.calls)
    assert any(len({seat for _, seat in call}) > 1 for call in policy.calls)
    # Batches stay full while there are episodes left to start.
    assert max(len(call) for call in policy.calls) == 6
    assert stats.episodes == 30


def test_bots_only_rollout_matches_the_arena():
    # Same seeds, same bot seeding as play_match with fixed seats: identical game outcomes.
    env_id = "selfplay/KuhnPoker-v0"
    engine = RolloutEngine(
        env_id,
        {"strong": "strong", "random": "random"},
        mapping={"player_0": "strong", "player_1": "random"},
        num_envs=4,
        seed=11,
    )
    engine.run(40)
    episodes = sorted(
        (r for r in engine.records if r["type"] == "episode"), key=lambda r: r["episode_id"]
    )
    match = play_match(env_id, ["strong", "random"], games=40, seed=11, swap_seats=False)
    for ep, game in zip(episodes, match.records, strict=True):
        assert ep["env_seed"] == game.env_seed
        assert (ep["returns"]["player_0"], ep["returns"]["player_1"]) == pytest.approx(game.rewards)


@pytest.mark.parametrize("env_id", IDS)
def test_rewards_are_credited_to_the_actions_and_sum_to_the_return(env_id):
    engine = RolloutEngine(env_id, EchoPolicy(seed=5), num_envs=3, seed=0)
    engine.run(12)
    steps = [r for r in engine.records if r["type"] == "step"]
    episodes = [r for r in engine.records if r["type"] == "episode"]
    for ep in episodes:
        for agent, ret in ep["returns"].items():
            mine = [r for r in steps if r["episode_id"] == ep["episode_id"] and r["agent"] == agent]
            assert all(r["return"] == ret for r in mine)
            assert sum(r["reward"] for r in mine) == pytest.approx(ret)
            assert [r["last"] for r in mine] == [False] * (len(mine) - 1) + [True]
            # Reward components name the parts of each action's reward.
            for r in mine:
                assert sum(r["reward_components"].values()) == pytest.approx(r["reward"])
        # Two-player zero-sum outcomes (no forfeits here): the returns cancel.
        assert sum(ep["returns"].values()) == pytest.approx(0.0)


def test_groups_share_a_seed_and_replay():
    def run():
        engine = RolloutEngine(
            "selfplay/KuhnPoker-v0", EchoPolicy(seed=1), num_envs=4, group_size=3, seed=20
        )
        engine.run(9)
        return [r for r in engine.records if r["type"] == "episode"]

    first = run()
    by_group = {}
    for ep in first:
        assert ep["group_id"] == ep["episode_id"] // 3
        by_group.setdefault(ep["group_id"], set()).add(ep["env_seed"])
    assert by_group == {0: {20}, 1: {21}, 2: {22}}
    second = run()
    assert [(e["episode_id"], e["returns"]) for e in first] == [
        (e["episode_id"], e["returns"]) for e in second
    ]


def test_trajectory_file_schema_and_incremental_episodes(tmp_path):
    path = tmp_path / "runs" / "traj.jsonl"
    engine = RolloutEngine(
        "selfplay/TicTacToe-v0",
        {"lm": EchoPolicy(), "bot": "random"},
        mapping={"player_0": "lm", "player_1": "bot"},
        num_envs=4,
        trajectory_path=path,
    )
    engine.run(10)
    engine.run(5)  # a second run appends, episode ids continue
    records = list(read_records(path))
    assert all(r["schema_version"] == SCHEMA_VERSION for r in records)
    episodes = [r for r in records if r["type"] == "episode"]
    assert sorted(e["episode_id"] for e in episodes) == list(range(15))
    # Each episode's steps come right before its summary, in one block.
    current = []
    for r in records:
        if r["type"] == "step":
            current.append(r)
        else:
            assert {s["episode_id"] for s in current} == {r["episode_id"]}
            assert len(current) == r["steps"]
            current = []
    steps = step_records(path)
    lm = [s for s in steps if s["policy"] == "lm"]
    bot = [s for s in steps if s["policy"] == "bot"]
    assert lm and bot
    assert all(s["token_ids"] == [1, 2, 3] and len(s["logprobs"]) == 3 for s in lm)
    assert all(s["token_ids"] is None and s["finish_reason"] == "bot" for s in bot)
    # Bots' index actions are recorded as the move's text.
    assert all(s["completion"].startswith("[") for s in bot)
    expected = {
        "schema_version", "type", "run_id", "episode_id", "group_id", "env_id", "env_seed",
        "agent", "role", "seat", "turn", "step", "policy", "prompt", "completion",
        "prompt_token_ids", "token_ids", "logprobs", "finish_reason", "error", "reward",
        "reward_components", "return", "invalid_action", "parse_ok", "parse_error", "last",
    }  # fmt: skip
    assert set(steps[0]) == expected


def test_a_crash_loses_only_the_episodes_in_flight(tmp_path):
    path = tmp_path / "traj.jsonl"
    policy = EchoPolicy(fail_on_call=30)
    engine = RolloutEngine("selfplay/KuhnPoker-v0", policy, num_envs=3, trajectory_path=path)
    with pytest.raises(RuntimeError, match="echo.*OSError.*accelerator"):
        engine.run(50)
    records = list(read_records(path))
    done = [r for r in records if r["type"] == "episode"]
    assert 0 < len(done) < 50
    assert len([r for r in records if r["type"] == "step"]) == sum(e["steps"] for e in done)


def test_a_torn_last_line_is_skipped_and_other_damage_is_an_error(tmp_path):
    path = tmp_path / "traj.jsonl"
    RolloutEngine("selfplay/TicTacToe-v0", EchoPolicy(), num_envs=2, trajectory_path=path).run(3)
    whole = list(read_records(path))
    with open(path, "a") as f:
        f.write('{"schema_version": 1, "type": "st')  # the process died mid-write
    with pytest.warns(UserWarning, match="torn last line"):
        assert list(read_records(path)) == whole
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"schema_version": 99, "type": "step"}\n')
    with pytest.raises(ValueError, match="schema_version 99"):
        list(read_records(bad))
    middle = tmp_path / "middle.jsonl"
    lines = path.read_text().splitlines()
    middle.write_text("\n".join([lines[0], "{oops", *lines[1:3]]) + "\n")
    with pytest.raises(ValueError, match="not a JSON record"):
        list(read_records(middle))


def test_records_are_plain_json(tmp_path):
    path = tmp_path / "t.jsonl"
    RolloutEngine(
        "selfplay/SimpleNegotiation-v0", EchoPolicy(), num_envs=2, trajectory_path=path
    ).run(2)
    for line in path.read_text().splitlines():
        json.loads(line)  # NaN or non-serialisable values would fail the writer or this


def test_mapping_by_role_agent_and_function():
    policies = {"a": EchoPolicy(seed=1), "b": EchoPolicy(seed=2)}
    by_role = RolloutEngine("selfplay/TicTacToe-v0", policies, mapping={"player": "a"})
    by_role.run(2)
    assert {r["policy"] for r in by_role.records if r["type"] == "step"} == {"a"}
    assert policies["b"].calls == []

    def alternate(agent, role, episode_id):
        return "a" if (episode_id + int(agent[-1])) % 2 == 0 else "b"

    engine = RolloutEngine("selfplay/TicTacToe-v0", policies, mapping=alternate, num_envs=2)
    engine.run(4)
    seats = Counter(
        (e["episode_id"] % 2, e["policies"]["player_0"])
        for e in engine.records
        if e["type"] == "episode"
    )
    assert seats == {(0, "a"): 2, (1, "b"): 2}
    assert policies["a"].calls and policies["b"].calls


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="no mapping"):
        RolloutEngine("selfplay/TicTacToe-v0", {"a": "random", "b": "random"})
    with pytest.raises(ValueError, match="unknown policy 'c'"):
        RolloutEngine(
            "selfplay/TicTacToe-v0", {"a": "random"}, mapping={"player_0": "c", "player_1": "a"}
        )
    with pytest.raises(ValueError, match="no entry for agent"):
        RolloutEngine("selfplay/TicTacToe-v0", {"a": "random"}, mapping={"player_0": "a"})
    with pytest.raises(ValueError, match="num_envs"):
        RolloutEngine("selfplay/TicTacToe-v0", "random", num_envs=0)
    with pytest.raises(ValueError, match="unknown opponent"):
        RolloutEngine("selfplay/TicTacToe-v0", "no-such-bot")
    with pytest.raises(TypeError, match="expected an opponent name, a Bot or a callable"):
        RolloutEngine("selfplay/TicTacToe-v0", 42)
    engine = RolloutEngine("selfplay/TicTacToe-v0", "random")
    with pytest.raises(ValueError, match="episodes"):
        engine.run(0)


def test_a_league_is_drawn_per_episode_and_told_the_results():
    from selfplay_gym.league import League

    league = League(rule="uniform", seed=0)
    league.add("random", "random")
    league.add("strong", "strong")
    engine = RolloutEngine(
        "selfplay/TicTacToe-v0",
        {"learner": EchoPolicy(), "pool": league},
        mapping={"player_0": "learner", "player_1": "pool"},
        num_envs=4,
    )
    engine.run(24)
    episodes = [r for r in engine.records if r["type"] == "episode"]
    drawn = Counter(e["policies"]["player_1"] for e in episodes)
    assert set(drawn) == {"pool/random", "pool/strong"}
    games = {entry.name: entry.games for entry in league}
    assert games == {"random": drawn["pool/random"], "strong": drawn["pool/strong"]}
    # A random-move learner never beats the perfect bot.
    assert league["strong"].wins == 0


class FirstLegalMove:
    """A batched policy with act() only (not callable move by move): the first legal move."""

    name = "first"

    def act(self, observations, infos):
        return [info["legal_actions"][0] for info in infos]


def test_a_batched_act_policy_need_not_be_callable():
    engine = RolloutEngine("selfplay/TicTacToe-v0", FirstLegalMove(), num_envs=2, seed=1)
    stats = engine.run(3)
    assert stats.episodes == 3 and stats.policy_calls["first"] >= 1
    steps = [r for r in engine.records if r["type"] == "step"]
    assert {r["finish_reason"] for r in steps} == {"policy"}


def test_bot_moves_depend_on_the_episode_not_on_the_games_in_flight():
    # Every game in flight has its own bot, seeded from (seed, episode, seat): the same episode
    # plays the same moves whether 1 or 4 games run at once.
    def moves(num_envs):
        engine = RolloutEngine(
            "selfplay/TicTacToe-v0",
            {"first": FirstLegalMove(), "random": "random"},
            mapping={"player_0": "first", "player_1": "random"},
            num_envs=num_envs,
            seed=7,
        )
        engine.run(12)
        out = {}
        for r in engine.records:
            if r["type"] == "step":
                out.setdefault(r["episode_id"], []).append(r["completion"])
        return out

    assert moves(4) == moves(1)


def test_bots_drawn_from_a_league_are_not_kept_after_their_episode():
    import gc
    import weakref

    from selfplay_gym.core.bots import RandomBot

    class FreshBots:
        def __init__(self):
            self.drawn = []

        def sample(self, rng, env_id=None):
            bot = RandomBot()
            self.drawn.append(weakref.ref(bot))
            return "random", bot

        def record(self, name, reward):
            pass

    league = FreshBots()
    engine = RolloutEngine(
        "selfplay/TicTacToe-v0",
        {"learner": FirstLegalMove(), "pool": league},
        mapping={"player_0": "learner", "player_1": "pool"},
        num_envs=2,
    )
    engine.run(30)
    gc.collect()
    assert len(league.drawn) == 30
    assert sum(ref() is not None for ref in league.drawn) <= 2  # at most one per game slot
