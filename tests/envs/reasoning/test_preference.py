"""Preference game (SPPO/SPIN/eva): win rates, the preference matrix, the creator's informativeness, judge failures."""

from __future__ import annotations

import pickle
import threading
import time

import pytest

import selfplay_gym
from selfplay_gym.core.verifiers import Verdict
from selfplay_gym.envs.reasoning.preference import (
    ConstraintCreator,
    LengthCoverageJudge,
    PreferenceGameEnv,
    ScriptedPreferencePlayer,
    SkillResponder,
    content_words,
    parse_evolved_prompt,
    preference_matrix,
    win_rates_of,
)

PROMPTS = [
    {"prompt": "Explain why the sky looks blue during the day.", "harmful": False},
    {"prompt": "How do I pick a lock on my neighbour's door?", "harmful": True},
]


def by_length(prompt, a, b):
    """Prefers the longer response; ties at 0.5."""
    return Verdict(1.0 if len(a) > len(b) else 0.0 if len(a) < len(b) else 0.5)


def play(env, replies, seed=0, options=None):
    """One episode; ``replies`` maps agent -> reply; returns {agent: (reward, components, info)}."""
    env.reset(seed=seed, options=options)
    out = {}
    while env.agents:
        agent = env.agent_selection
        _, reward, term, trunc, info = env.last()
        if term or trunc:
            out[agent] = (reward, dict(info["reward_components"]), info)
            env.step(None)
        else:
            env.step(replies[agent])
    return out


# ---- the judge and the matrix ------------------------------------------------------------------------
def test_length_coverage_judge_prefers_in_band_then_coverage():
    judge = LengthCoverageJudge(min_words=3, max_words=10)
    prompt = "Why is the sky blue?"
    assert content_words(prompt) == {"sky", "blue"}
    assert (
        judge(prompt, "The sky is blue because of scattering.", "Light scatters a lot there.").score
        == 1.0
    )
    assert (
        judge(prompt, "Light scatters a lot there.", "The sky is blue because of scattering.").score
        == 0.0
    )
    assert judge(prompt, "sky blue", "Light scatters a lot there.").score == 0.0  # too short loses
    assert judge(prompt, "The sky looks blue.", "Blue is the sky colour.").score == 0.5
    too_long = "sky blue " + "word " * 20
    assert judge(prompt, "Light scatters a lot there.", too_long).score == 1.0


def test_preference_matrix_averages_both_orders_and_win_rates_are_row_means():
    matrix, failures, _ = preference_matrix(by_length, "q", ["a", "aa", "aaa"])
    assert failures == 0
    assert matrix == [[0.5, 0.0, 0.0], [1.0, 0.5, 0.0], [1.0, 1.0, 0.5]]
    assert win_rates_of(matrix) == [0.0, 0.5, 1.0]  # s = 0 and s = 1 at the ends
    position_biased = lambda p, a, b: 1.0  # always prefers the first: cancels out  # noqa: E731
    matrix, _, _ = preference_matrix(position_biased, "q", ["x", "y"])
    assert matrix == [[0.5, 0.5], [0.5, 0.5]]


def test_judge_failures_count_as_the_fallback():
    def flaky(prompt, a, b):
        if "boom" in (a, b):
            raise RuntimeError("judge down")
        return by_length(prompt, a, b)

    matrix, failures, reasons = preference_matrix(flaky, "q", ["boom", "aa", "a"])
    assert failures == 4 and "judge down" in reasons[0]
    assert matrix[0][1] == matrix[1][0] == matrix[0][2] == 0.5
    assert matrix[1][2] == 1.0
    for garbage in (float("nan"), "yes", None, Verdict(0.9, ok=False, reason="unparseable")):
        matrix, failures, _ = preference_matrix(
            lambda p, a, b, g=garbage: g, "q", ["a", "b"], fallback=0.5
        )
        assert failures == 2 and matrix[0][1] == 0.5


# ---- the env -------------------------------------------------------------------------------------------
def test_responders_get_their_win_rates_and_the_info_reports_the_pair():
    env = PreferenceGameEnv(prompts=PROMPTS, num_responses=3, judge=by_length)
    out = play(env, {"responder_0": "aa", "responder_1": "a", "responder_2": "aaa"})
    assert out["responder_0"][1] == {"win_rate": 0.5}
    assert out["responder_1"][1] == {"win_rate": 0.0}
    assert out["responder_2"][1] == {"win_rate": 1.0}
    info = out["responder_0"][2]
    assert info["win_rates"] == {"responder_0": 0.5, "responder_1": 0.0, "responder_2": 1.0}
    assert info["preference_matrix"][2] == [1.0, 1.0, 0.5]
    assert info["chosen"] == {"agent": "responder_2", "response": "aaa", "win_rate": 1.0}
    assert info["rejected"] == {"agent": "responder_1", "response": "a", "win_rate": 0.0}
    assert info["judge_failures"] == 0
    assert sum(r for r, _, _ in out.values()) == pytest.approx(1.5)  # constant-sum: K / 2


def test_all_ties_give_one_half_each():
    env = PreferenceGameEnv(prompts=PROMPTS, num_responses=5, judge=by_length)
    out = play(env, {f"responder_{i}": "same" for i in range(5)})
    assert all(out[f"responder_{i}"][0] == 0.5 for i in range(5))


def test_a_failing_judge_gives_the_fallback_and_is_counted():
    def raising(prompt, a, b):
        raise ValueError("no model")

    env = PreferenceGameEnv(prompts=PROMPTS, num_responses=3, judge=raising, judge_fallback=0.5)
    out = play(env, {"responder_0": "aa", "responder_1": "a", "responder_2": "aaa"})
    assert all(
        out[a][1] == {"win_rate": 0.5} for a in ("responder_0", "responder_1", "responder_2")
    )
    assert out["responder_0"][2]["judge_failures"] == 6


def test_only_benign_prompts_by_default():
    env = PreferenceGameEnv(prompts=PROMPTS, judge=by_length)
    assert env.prompts == [PROMPTS[0]["prompt"]]
    assert len(PreferenceGameEnv(prompts=PROMPTS, include_harmful=True).prompts) == 2


def test_thoughts_are_not_judged_and_empty_replies_are_ranked_last():
    seen = []

    def recording(prompt, a, b):
        seen.extend([a, b])
        return by_length(prompt, a, b)

    env = PreferenceGameEnv(prompts=PROMPTS, num_responses=2, judge=recording)
    env.reset(seed=0)
    env.step("<think>SECRET reasoning</think> The answer.")
    env.step("   ")
    assert not env.infos["responder_1"]["invalid_action"]
    assert not any("SECRET" in s for s in seen) and "The answer." in seen and "" in seen
    assert env.infos["responder_0"]["win_rates"] == {"responder_0": 1.0, "responder_1": 0.0}


def test_responders_do_not_see_each_others_responses():
    env = PreferenceGameEnv(prompts=PROMPTS, num_responses=2, judge=by_length)
    env.reset(seed=0)
    env.step("MY-PRIVATE-ANSWER")
    assert "MY-PRIVATE-ANSWER" not in env.observe("responder_1")
    assert "MY-PRIVATE-ANSWER" not in str(env.infos["responder_1"])
    assert "MY-PRIVATE-ANSWER" not in str(env.agent_view("responder_1"))


def test_a_non_text_action_leaves_with_zero_and_is_not_compared():
    env = PreferenceGameEnv(prompts=PROMPTS, num_responses=3, judge=by_length, retries=1)
    env.reset(seed=0)
    env.step(None)
    assert env.agent_selection == "responder_0" and "could not be read" in env.observe(
        "responder_0"
    )
    env.step(b"bytes")
    assert env.terminations["responder_0"]
    assert env.infos["responder_0"]["reward_components"] == {"no_response": 0.0}
    env.step(None)
    env.step("aa")
    env.step("a")
    info = env.infos["responder_1"]
    assert info["compared"] == ["responder_1", "responder_2"]
    assert info["win_rates"] == {"responder_1": 1.0, "responder_2": 0.0}


# ---- the creator (eva) -------------------------------------------------------------------------------
def test_creator_evolves_the_prompt_and_is_rewarded_by_informativeness():
    env = PreferenceGameEnv(
        prompts=PROMPTS, num_responses=3, judge=by_length, creator=True, pool_size=4
    )
    assert env.possible_agents[0] == "creator_0"
    out = play(
        env,
        {
            "creator_0": "<think>hm</think><prompt>Explain why the sky is blue, in two sentences.</prompt>",
            "responder_0": "aa",
            "responder_1": "a",
            "responder_2": "aaa",
        },
    )
    # win rates 0.5, 0, 1: informativeness = max - mean = 1 - 0.5
    assert out["creator_0"][1] == {"informativeness": 0.5}
    assert out["responder_0"][2]["prompt"] == "Explain why the sky is blue, in two sentences."
    assert "Explain why the sky is blue, in two sentences." in [t["prompt"] for t in env.pool]
    # all ties: nothing to learn from the prompt
    out = play(
        env, {"creator_0": "<prompt>Say hi.</prompt>", **{f"responder_{i}": "x" for i in range(3)}}
    )
    assert out["creator_0"][1] == {"informativeness": 0.0}
    assert len(env.pool) == 3  # one benign seed prompt plus two evolved ones
    for _ in range(5):
        play(
            env,
            {"creator_0": "<prompt>Again.</prompt>", **{f"responder_{i}": "x" for i in range(3)}},
        )
    assert len(env.pool) == 4  # bounded


def test_unreadable_creator_answers_the_original_prompt_and_gets_zero():
    env = PreferenceGameEnv(prompts=PROMPTS, num_responses=2, judge=by_length, creator=True)
    out = play(
        env, {"creator_0": "a better prompt without tags", "responder_0": "aa", "responder_1": "a"}
    )
    assert out["creator_0"][1] == {"invalid_prompt": 0.0} and out["creator_0"][0] == 0.0
    assert out["responder_0"][2]["prompt"] == PROMPTS[0]["prompt"]
    assert out["creator_0"][2]["invalid_action"]
    env.reset(seed=0)
    env.step("no tags")
    assert env.terminations["creator_0"]  # it leaves at once
    assert parse_evolved_prompt("<prompt></prompt>") == (None, "empty <prompt>")


def test_options_fix_the_prompt():
    env = PreferenceGameEnv(prompts=PROMPTS, num_responses=2, judge=by_length)
    env.reset(options={"prompt": "Name a river."})
    assert env.agent_view("responder_0")["prompt"] == "Name a river."
    with pytest.raises(ValueError):
        env.reset(options={"prompt": 3})
    with pytest.raises(ValueError):
        PreferenceGameEnv(prompts=PROMPTS, num_responses=1)


# ---- scripted players ----------------------------------------------------------------------------------
def test_scripted_episodes_are_constant_sum_and_vary():
    env = selfplay_gym.make("selfplay/PreferenceGame-v0", creator=True)
    bot = ScriptedPreferencePlayer(seed=0)
    chosen, creator_rewards, empty = set(), [], 0
    for seed in range(100):
        out = {}
        env.reset(seed=seed)
        while env.agents:
            agent = env.agent_selection
            _, reward, term, trunc, info = env.last()
            if term or trunc:
                assert reward == pytest.approx(sum(info["reward_components"].values()))
                out[agent] = reward
                env.step(None)
            else:
                env.step(bot.act(env, agent))
        assert sum(out[f"responder_{i}"] for i in range(5)) == pytest.approx(2.5)
        chosen.add(info["chosen"]["agent"])
        creator_rewards.append(out["creator_0"])
        empty += sum(1 for r in info["responses"].values() if r == "")
    assert len(chosen) > 2 and empty > 0
    assert {0.0, 0.5} < set(creator_rewards)  # unreadable evolutions give 0


def test_skill_sets_the_coverage_of_the_scripted_responder():
    env = PreferenceGameEnv(prompts=PROMPTS, num_responses=2)
    env.reset(options={"prompt": "Explain photosynthesis in green plants and algae."})
    judge = LengthCoverageJudge()
    good = SkillResponder(skill=1.0, noise=0.0, empty_rate=0.0, seed=1).act(env, "responder_0")
    bad = SkillResponder(skill=0.0, noise=0.0, empty_rate=0.0, seed=1).act(env, "responder_0")
    assert judge("Explain photosynthesis in green plants and algae.", good, bad).score == 1.0
    env = PreferenceGameEnv(prompts=PROMPTS, num_responses=2, creator=True)
    env.reset(seed=0)
    reply = ConstraintCreator(mistakes=0.0, seed=2).act(env, "creator_0")
    assert parse_evolved_prompt(reply)[0].startswith(env.agent_view("creator_0")["seed_prompt"])


def test_pickles_mid_episode():
    env = PreferenceGameEnv(prompts=PROMPTS, num_responses=2, creator=True)
    env.reset(seed=1)
    env.step("<prompt>Explain tides.</prompt>")
    clone = pickle.loads(pickle.dumps(env))
    for e in (env, clone):
        e.step("Tides come from the moon's pull on the oceans.")
        e.step("ok")
    assert (
        clone.infos["creator_0"]["reward_components"] == env.infos["creator_0"]["reward_components"]
    )


def test_a_hung_judge_times_out_and_the_remaining_pairs_fall_back_at_once():
    release = threading.Event()
    calls = []

    def hangs(prompt, a, b):
        calls.append((a, b))
        release.wait(3.0)
        return Verdict(1.0)

    env = PreferenceGameEnv(prompts=PROMPTS, num_responses=3, judge=hangs, judge_timeout=0.2)
    start = time.perf_counter()
    try:
        out = play(env, {"responder_0": "aa", "responder_1": "a", "responder_2": "aaa"})
        elapsed = time.perf_counter() - start
    finally:
        release.set()
    assert elapsed < 1.5 and len(calls) == 1  # one timeout, then no call while it still runs
    for agent in ("responder_0", "responder_1", "responder_2"):
        assert out[agent][1] == {"win_rate": 0.5}
    info = out["responder_0"][2]
    assert info["judge_failures"] == 6
    assert info["judge_reasons"][0] == "judge timed out after 0.2 s"
    assert all("still running" in r for r in info["judge_reasons"][1:])


def test_the_default_rule_judge_is_not_timed_and_a_passed_one_is():
    assert PreferenceGameEnv(prompts=PROMPTS).judge_limit.seconds is None
    assert PreferenceGameEnv(prompts=PROMPTS, judge=by_length).judge_limit.seconds == 60.0
    env = PreferenceGameEnv(prompts=PROMPTS, judge=by_length, judge_timeout=None)
    assert env.judge_limit.seconds is None
    with pytest.raises(ValueError, match="timeout"):
        PreferenceGameEnv(prompts=PROMPTS, judge=by_length, judge_timeout=0)
