"""Rules of Who-is-the-Spy (Vision-Zero): vote table, clue penalty, N/A, hidden spy, images."""

from __future__ import annotations

import numpy as np
import pytest

import selfplay_gym
from selfplay_gym.envs.text_games.spy import SpyRewards, normalize_clue
from selfplay_gym.envs.text_games.spy_images import draw_scene, random_scene
from selfplay_gym.registry import resolve_opponent

WORDS = "selfplay/WhoIsTheSpy-v0"
IMAGES = "selfplay/WhoIsTheSpyImages-v0"
SEATS = [f"player_{i}" for i in range(4)]


def new_game(env_id=WORDS, seed=0, **kwargs):
    env = selfplay_gym.make(env_id, render_mode="ansi", **kwargs)
    env.reset(seed=seed)
    return env


def give_clues(env, rounds=2):
    """Every seat gives distinct clues, in seat order, for ``rounds`` rounds."""
    for r in range(rounds):
        for seat in SEATS:
            assert env.agent_selection == seat and env.phase == "clue"
            env.step(f"Thinking... \\boxed{{clue {r} from {seat} zz}}")


def vote_and_total(env, votes):
    """Cast ``votes`` (one reply per seat); return each seat's summed reward and last components."""
    totals = dict.fromkeys(SEATS, 0.0)
    for seat, reply in zip(SEATS, votes, strict=True):
        assert env.agent_selection == seat and env.phase == "decision"
        env.step(reply)
        for a, r in env.rewards.items():
            totals[a] += r
    assert all(env.terminations.values())
    return totals, {a: env.infos[a]["reward_components"] for a in SEATS}


def test_one_episode_is_two_clue_rounds_in_seat_order_then_four_votes():
    env = new_game()
    give_clues(env)
    assert env.phase == "decision"
    vote_and_total(env, ["\\boxed{N/A}"] * 4)
    assert env.phase == "done"


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 5])
def test_vote_table_and_clue_penalty_are_vision_zeros(seed):
    env = new_game(seed=seed)
    spy = env._spy
    civilians = [s for s in range(4) if s != spy]
    give_clues(env)
    # Every civilian votes the spy except the last, who votes another civilian; the spy votes
    # the first civilian. Votes received: spy 2, civilians[0] 1 (from the spy) + maybe 1.
    wrong_target = civilians[0] if civilians[-1] != civilians[0] else civilians[1]
    votes = {}
    for s in civilians[:-1]:
        votes[s] = spy
    votes[civilians[-1]] = wrong_target
    votes[spy] = civilians[0]
    totals, components = vote_and_total(env, [f"\\boxed{{{votes[s]}}}" for s in range(4)])
    received = [list(votes.values()).count(s) for s in range(4)]
    for s in range(4):
        expected_vote = 0.5 if s == spy else (1.0 if votes[s] == spy else -1.0)
        assert components[f"player_{s}"]["vote"] == pytest.approx(expected_vote)
        assert components[f"player_{s}"]["clue"] == pytest.approx(-0.6 * received[s] / 3)
        assert totals[f"player_{s}"] == pytest.approx(expected_vote - 0.6 * received[s] / 3)


def test_na_and_self_votes_and_unreadable_votes():
    env = new_game(seed=4)
    spy = env._spy
    give_clues(env)
    replies = []
    for s in range(4):
        if s == spy:
            replies.append(f"I am caught anyway <answer>player_{s}</answer>")  # self vote: -1
        elif s == (spy + 1) % 4:
            replies.append("\\boxed{N/A}")  # civilian N/A: -0.5
        elif s == (spy + 2) % 4:
            replies.append("\\boxed{7}")  # no such seat: invalid vote, -1, no retry
        else:
            replies.append("\\boxed{n/a}")
    totals, components = vote_and_total(env, replies)
    assert components[f"player_{spy}"]["vote"] == -1.0
    assert components[f"player_{(spy + 1) % 4}"]["vote"] == -0.5
    assert components[f"player_{(spy + 2) % 4}"]["vote"] == -1.0
    assert env.infos[f"player_{(spy + 2) % 4}"]["invalid_action"] is True
    # Only the spy's self-vote counts as a vote received.
    assert components[f"player_{spy}"]["clue"] == pytest.approx(-0.2)


def test_spy_abstaining_gets_point_two():
    env = new_game(seed=6)
    spy = env._spy
    give_clues(env)
    _, components = vote_and_total(env, ["\\boxed{N/A}"] * 4)
    assert components[f"player_{spy}"] == {"vote": 0.2, "clue": 0.0}
    assert all(components[a]["vote"] == -0.5 for a in SEATS if a != f"player_{spy}")


def test_zero_sum_clue_reward_sums_to_zero_with_suspicion_potential():
    table = SpyRewards(clue="zero_sum")
    received = [3, 1, 0, 0]  # spy at seat 0
    rewards = table.clue_rewards(received, spy=0)
    psi = 3 - 1 / 3
    assert rewards[0] == pytest.approx(-0.1 * psi)
    assert rewards[1] == pytest.approx(0.1 * psi / 3 - 0.1 * (1 - 1 / 3))
    assert sum(rewards) == pytest.approx(0.0)
    env = new_game(seed=0, rewards={"clue": "zero_sum"})
    give_clues(env)
    spy = env._spy
    totals, components = vote_and_total(env, [f"\\boxed{{{spy}}}"] * 4)
    assert sum(c["clue"] for c in components.values()) == pytest.approx(0.0)


def test_repeated_clue_own_word_and_missing_box_are_invalid_and_retried():
    env = new_game(seed=0)
    env.step("\\boxed{It is Something  Nice!}")
    assert env.agent_selection == "player_1"
    env.step("\\boxed{it is something nice}")  # the same clue (case, spacing, punctuation)
    info = env.infos["player_1"]
    assert info["invalid_action"] and "already given" in info["parse"]["error"]
    assert env.agent_selection == "player_1"
    assert "could not be used" in env.observe("player_1")
    word = env._item("player_1")["word"]
    env.step(f"\\boxed{{my word is {word}}}")
    assert "own word" in env.infos["player_1"]["parse"]["error"]
    env.step("no box at all")  # the budget of 2 retries is spent: forfeit
    assert all(env.terminations.values())
    assert env.infos["player_1"]["reward_components"] == {"forfeit": -1.5}
    assert env.infos["player_0"]["reward_components"] == {"forfeit": 0.5}


def test_penalize_skips_the_clue_and_the_game_goes_on():
    env = new_game(seed=0, invalid_move="penalize")
    env.step("nothing")
    assert env.agent_selection == "player_1"
    assert env.infos["player_0"]["reward_components"] == {"invalid_move": -1.0}
    assert "player_0 gave no clue." in env.observe("player_1")


def test_spy_identity_and_word_are_hidden_from_civilians():
    for seed in range(6):
        env = new_game(seed=seed)
        spy = f"player_{env._spy}"
        spy_word, civ_word = env._spy_item["word"], env._civilian_item["word"]
        bots = {a: resolve_opponent(WORDS, "truthful") for a in SEATS}
        while env.phase != "done":
            agent = env.agent_selection
            prompt, info = env.observe(agent), env.infos[agent]
            if agent != spy:
                assert info["game_role"] == "civilian"
                assert (
                    "You are the SPY" not in prompt
                    and spy_word not in prompt.split("Your word")[1][:40]
                )
                assert f"spy is {spy}" not in prompt and f"spy was {spy}" not in prompt
                assert all(spy_word not in str(v) for k, v in info.items() if k != "messages")
            else:
                assert info["game_role"] == "spy" and "You are the SPY" in prompt
                assert (
                    f'Your word is "{spy_word}"' in prompt
                    and civ_word not in prompt.split("Your word")[1][:40]
                )
            env.step(bots[agent].act(env, agent))
        assert f"the spy was {spy}" in env.observe("player_0")


def test_votes_stay_secret_until_all_are_in():
    env = new_game(seed=2)
    give_clues(env)
    env.step("\\boxed{3}")
    prompt = env.observe("player_1")
    assert "player_0 voted" not in prompt and "Votes:" not in prompt
    for _ in range(3):
        env.step("\\boxed{0}")
    assert "player_0 voted player_3" in env.observe("player_1")


def test_normalize_clue():
    assert normalize_clue("  Red, round -- SWEET! ") == "red round sweet"


def test_images_differ_in_exactly_two_objects_at_the_same_positions():
    for seed in range(10):
        env = new_game(IMAGES, seed=seed)
        spy = f"player_{env._spy}"
        civilian = next(a for a in SEATS if a != spy)
        a, b = env.scene(civilian), env.scene(spy)
        assert [o["position"] for o in a] == [o["position"] for o in b]
        assert [o["size"] for o in a] == [o["size"] for o in b]
        differ = [i for i in range(len(a)) if a[i] != b[i]]
        assert len(differ) == 2
        img_c, img_s = env.image(civilian), env.image(spy)
        assert img_c.dtype == np.uint8 and img_c.shape == (180, 240, 3)
        changed = np.any(img_c != img_s, axis=2)
        # Every changed pixel lies in one of the two replaced objects' grid cells.
        ys, xs = np.nonzero(changed)
        cells = {(int(y // 60), int(x // 80)) for y, x in zip(ys, xs, strict=True)}
        from selfplay_gym.envs.text_games.spy_images import POSITIONS

        expected = {divmod(POSITIONS.index(a[i]["position"]), 3) for i in differ}
        assert cells == expected
        # Every civilian sees the same image, and only its own.
        for agent in SEATS:
            images = env.infos[agent]["images"]
            assert len(images) == 1
            assert np.array_equal(images[0], img_s if agent == spy else img_c)


def test_scene_drawing_is_deterministic_and_seeded():
    rng = np.random.default_rng(0)
    scene = random_scene(rng, 5)
    assert np.array_equal(draw_scene(scene), draw_scene(scene))
    assert not draw_scene(scene).flags.writeable
    env1, env2 = new_game(IMAGES, seed=3), new_game(IMAGES, seed=3)
    assert np.array_equal(env1.image("player_0"), env2.image("player_0"))
    assert env1.scene("player_0") != new_game(IMAGES, seed=4).scene("player_0")


def test_image_prompt_describes_the_task_and_is_text():
    env = new_game(IMAGES, seed=0)
    prompt = env.observe("player_0")
    assert "Your image is attached" in prompt and isinstance(prompt, str)
    described = new_game(IMAGES, seed=0, describe_scene=True).observe("player_0")
    first = env.scene("player_0")[0]
    assert f"{first['color']} {first['shape']}" in described


@pytest.mark.parametrize("env_id", [WORDS, IMAGES])
def test_bots_civilians_beat_a_truthful_spy_and_strong_beats_vague(env_id):
    """Over 60 games, least-match voters find a truthful spy more often than a strong one."""

    def catch_rate(spy_bot):
        caught = 0
        for seed in range(60):
            env = new_game(env_id, seed=seed)
            spy = f"player_{env._spy}"
            bots = {
                a: resolve_opponent(env_id, spy_bot if a == spy else "least_match_voter")
                for a in SEATS
            }
            for i, b in enumerate(bots.values()):
                b.reset(seed * 4 + i)
            while env.phase != "done":
                agent = env.agent_selection
                env.step(bots[agent].act(env, agent))
            votes = [v for a, v in env._votes.items() if a != spy]
            caught += votes.count(env._spy) >= 2
        return caught / 60

    truthful, strong = catch_rate("truthful"), catch_rate("strong")
    assert truthful > 0.6
    assert strong < truthful


def test_without_role_notice_nobody_is_told_and_no_role_is_in_infos():
    env = new_game(seed=0, spy_knows_role=False)
    for _ in range(4):
        agent = env.agent_selection
        prompt = env.observe(agent)
        assert "You might be the spy" in prompt and "You are the SPY" not in prompt
        assert "game_role" not in env.infos[agent]
        env.step(f"\\boxed{{a clue from {agent} zz}}")
