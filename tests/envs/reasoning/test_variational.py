"""SvS (VariationalSynthesis-v0): phases, the synthesis band, variant validity, rewards, fallbacks."""

from __future__ import annotations

import random

import pytest

import selfplay_gym
from selfplay_gym.core.verifiers import Verdict
from selfplay_gym.envs.reasoning.variational import (
    ScriptedSvSPlayer,
    VariationalSynthesisEnv,
    numbers_key,
    parse_variant,
    variant_validity,
)

PROBLEM = {
    "id": "sum",
    "topic": "arithmetic",
    "problem": "Mia has 7900 stamps. Her aunt gives her 19 more. How many stamps does she have?",
    "answer": "7919",
    "steps": ["She has 7900 + 19 = 7919 stamps."],
}
RIGHT = "7900 + 19 = 7919, so \\boxed{7919}."
WRONG = "I get \\boxed{7920}."
VARIANT = "A library holds 7900 books and buys 19 more. How many books does it hold now?"


def make(**kwargs) -> VariationalSynthesisEnv:
    kwargs.setdefault("problems", [PROBLEM])
    return VariationalSynthesisEnv(**kwargs)


def play(env, replies: dict[str, str] | list[str]) -> dict[str, dict]:
    """Step the env with ``replies`` (by agent, or in order); the last info and return of each agent."""
    queue = list(replies) if isinstance(replies, list) else None
    final: dict[str, dict] = {}
    returns: dict[str, float] = {}
    while env.agents:
        agent = env.agent_selection
        _, reward, term, trunc, info = env.last()
        returns[agent] = returns.get(agent, 0.0) + reward
        if term or trunc:
            final[agent] = {**info, "return": returns[agent]}
            env.step(None)
        else:
            env.step(queue.pop(0) if queue is not None else replies[agent])
    return final


def solvers_replies(n_right: int, group: str = "solver", n: int = 8) -> list[str]:
    return [RIGHT if i < n_right else WRONG for i in range(n)]


# ---- parsing and validity ------------------------------------------------------------------------
def test_parse_variant_takes_the_last_text_block_after_the_last_think():
    text = "```text\nfirst```\n<think>```text\nhidden```</think>\n```text\n  second  \n```"
    assert parse_variant(text) == "second"
    assert parse_variant("<think>```text\ninside```</think> nothing after") is None
    assert parse_variant("```python\nx = 1\n```") is None
    assert parse_variant("```text\nno closing fence") is None
    assert parse_variant("x" * 100_000) is None


def test_variant_validity_rules():
    original = "What is  1 + 1?"
    assert variant_validity("What is 1 +\n1?", original, "2")["differs"] is False
    assert variant_validity("   ", original, "2")["non_empty"] is False
    leak = variant_validity("What is one plus one? \\boxed{ 2 }", original, "2")
    assert leak == {"non_empty": True, "differs": True, "no_boxed_answer": False}
    assert variant_validity("What is 3 - 1? \\boxed{3}", original, "2")["no_boxed_answer"]


def test_numbers_key_ignores_wording_and_order():
    assert numbers_key("Bo has 3 cats and 12 dogs.") == numbers_key("12 dogs; 3 cats: Al's.")


# ---- the original phase and the band -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("n_right", "synthesis"),
    [(0, False), (1, True), (2, True), (4, True), (5, False), (8, False)],
)
def test_synthesis_happens_only_inside_the_band(n_right, synthesis):
    env = make()
    env.reset(seed=0)
    for reply in solvers_replies(n_right):
        env.step(reply)
    accuracy = n_right / 8
    while env.agent_selection.startswith("solver"):  # the solvers' None steps
        info = env.infos[env.agent_selection]
        assert info["accuracy"] == accuracy
        assert info["trainable"] == (0 < accuracy < 1)
        assert env.last()[1] == (1.0 if info["score"] == 1.0 else 0.0)
        env.step(None)
    if synthesis:
        assert env.agent_selection == "synthesizer_0" and env.phase == "synthesize"
        assert env.infos["synthesizer_0"]["synthesis_skipped"] is None
    else:
        assert env.phase == "done"
        final = play(env, [])
        assert final["synthesizer_0"]["reward_components"] == {"synthesis_skipped": 0.0}
        assert final["synthesizer_0"]["synthesis_skipped"].startswith("accuracy")
        assert final["variantsolver_3"]["reward_components"] == {"synthesis_skipped": 0.0}
        assert final["synthesizer_0"]["reference"] == "7919"


def test_zero_accuracy_inside_a_band_from_zero_is_skipped_for_want_of_a_solution():
    env = make(synthesis_band=(0.0, 0.5))
    env.reset(seed=0)
    final = play(env, solvers_replies(0))
    assert final["synthesizer_0"]["synthesis_skipped"] == "no correct solution to learn from"


# ---- the synthesizer's reward: Band(0.125, 0.625) of the variant accuracy ------------------------
@pytest.mark.parametrize(
    ("n_right", "band"),
    [(0, 0.0), (1, 1.0), (3, 1.0), (5, 1.0), (6, 0.0), (8, 0.0)],
)
def test_synthesizer_is_paid_by_the_band_of_the_variant_accuracy(n_right, band):
    env = make()
    env.reset(seed=1)
    replies = [*solvers_replies(2), f"```text\n{VARIANT}\n```", *solvers_replies(n_right)]
    final = play(env, replies)
    synth = final["synthesizer_0"]
    assert synth["reward_components"] == {"band": band} and synth["return"] == band
    assert synth["variant_accuracy"] == n_right / 8 and synth["variant"] == VARIANT
    assert synth["variant_valid"] is True and synth["original_accuracy"] == 0.25
    for i in range(8):
        v = final[f"variantsolver_{i}"]
        assert v["reward_components"] == {"correct": 1.0 if i < n_right else 0.0}
        assert v["variant_accuracy"] == n_right / 8
    assert [final[f"solver_{i}"]["return"] for i in range(8)] == [1, 1, 0, 0, 0, 0, 0, 0]


def test_variants_are_graded_against_the_original_reference():
    env = make()
    env.reset(seed=1)
    play_until = [*solvers_replies(1), f"```text\n{VARIANT}\n```"]
    for reply in play_until:
        while env.terminations.get(env.agent_selection):
            env.step(None)
        env.step(reply)
    while env.terminations.get(env.agent_selection):
        env.step(None)
    assert env.phase == "solve_variant"
    # A variant solver who answers what the variant "should" be (not the original answer) is wrong.
    final = play(env, ["\\boxed{7919.0}"] + ["\\boxed{8000}"] * 7)
    assert final["variantsolver_0"]["score"] == 1.0 and final["variantsolver_1"]["score"] == 0.0


def test_the_synthesizer_sees_one_correct_solution_drawn_with_the_env_rng():
    seen = set()
    for seed in range(12):
        env = make()
        env.reset(seed=seed)
        replies = [
            f"Solver {i}: 7900 + 19 = 7919, \\boxed{{7919}}" if i % 2 else WRONG for i in range(8)
        ]
        for reply in replies:
            env.step(reply)
        while env.agent_selection != "synthesizer_0":
            env.step(None)
        source = env.infos["synthesizer_0"]["source_solver"]
        index = int(source.rpartition("_")[2])
        assert index % 2 == 1, "only a correct solution is shown"
        prompt = env.observe("synthesizer_0")
        assert f"Solver {index}:" in prompt and PROBLEM["problem"] in prompt
        assert sum(f"Solver {i}:" in prompt for i in range(8)) == 1
        assert env.agent_view("synthesizer_0")["solution"].startswith(f"Solver {index}:")
        seen.add(index)
    assert len(seen) > 1


# ---- invalid and unreadable variants ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("reply", "failed"),
    [
        (f"```text\n{PROBLEM['problem']}\n```", "differs"),
        (
            "```text\n   Mia  has 7900 stamps. Her aunt gives her 19 more.\nHow many stamps does she have?```",
            "differs",
        ),
        ("```text\nHow many? Hint: \\boxed{7919}\n```", "no_boxed_answer"),
        ("```text\n\n```", "non_empty"),
        ("Here is a variant: a library holds 7900 books...", "parsed"),
    ],
)
def test_an_invalid_variant_gets_the_invalid_reward_and_ends_the_episode(reply, failed):
    env = make(invalid_reward=-0.5)
    env.reset(seed=0)
    final = play(env, [*solvers_replies(3), reply])
    synth = final["synthesizer_0"]
    assert synth["reward_components"] == {"invalid_variant": -0.5}
    assert synth["variant_valid"] is False and synth["validity"][failed] is False
    assert synth["invalid_action"] == (failed == "parsed")
    assert all(
        final[f"variantsolver_{i}"]["reward_components"] == {"invalid_variant": 0.0}
        for i in range(8)
    )
    assert not env.agents


def test_retries_ask_the_synthesizer_again_with_the_reason():
    env = make(retries=1)
    env.reset(seed=0)
    for reply in solvers_replies(2):
        env.step(reply)
    while env.agent_selection != "synthesizer_0":
        env.step(None)
    env.step("no fence here")
    assert env.agent_selection == "synthesizer_0" and env.infos["synthesizer_0"]["invalid_action"]
    assert "could not be read" in env.observe("synthesizer_0")
    env.step(f"```text\n{VARIANT}\n```")
    assert env.phase == "solve_variant"


# ---- solvers: unreadable replies and verifier failures -------------------------------------------
def test_an_unreadable_solver_reply_scores_zero_and_that_solver_leaves_at_once():
    env = make()
    env.reset(seed=0)
    env.step("no box at all")
    assert env.terminations["solver_0"] and env.infos["solver_0"]["invalid_action"]
    assert env.last()[1] == 0.0 and env.infos["solver_0"]["reward_components"] == {"correct": 0.0}
    env.step(None)
    final = play(env, solvers_replies(2, n=7) + ["```text\n" + VARIANT + "```"] + [RIGHT] * 8)
    assert final["synthesizer_0"]["original_accuracy"] == 2 / 8


def test_solver_retries_keep_the_turn():
    env = make(retries=2)
    env.reset(seed=0)
    env.step("nothing boxed")
    assert env.agent_selection == "solver_0" and env.infos["solver_0"]["turn"] == 1
    env.step(RIGHT)
    assert env.agent_selection == "solver_1"


class Raising:
    def __call__(self, prediction, references):
        raise RuntimeError("checker down")


@pytest.mark.parametrize(
    "verifier",
    [Raising(), lambda p, r: "yes", lambda p, r: Verdict(0.7, ok=False, reason="timeout")],
)
def test_a_failing_verifier_scores_zero_and_is_recorded(verifier):
    env = make(verifier=verifier)
    env.reset(seed=0)
    final = play(env, solvers_replies(8))
    info = final["solver_0"]
    assert info["reward_components"] == {"correct": 0.0} and info["verdict_ok"] is False
    assert info["verdict"]


def test_a_custom_verifier_and_reward_rule_are_used():
    env = make(verifier=lambda p, r: Verdict(1.0 if "7919" in p else 0.0), synthesizer_reward="1-s")
    env.reset(seed=0)
    final = play(env, [*solvers_replies(1), f"```text\n{VARIANT}\n```", *solvers_replies(2)])
    assert sum(final["synthesizer_0"]["reward_components"].values()) == pytest.approx(0.75)


# ---- what agents see -------------------------------------------------------------------------------
def test_no_prompt_or_view_holds_the_reference_before_the_end():
    env = make()
    env.reset(seed=0)
    for agent in env.possible_agents:
        view = env.agent_view(agent)
        assert "7919" not in repr(view) and "answer" not in view
    assert "7919" not in env.observe("solver_0")
    assert "reference" not in env.infos["solver_0"]
    for reply in solvers_replies(2):
        env.step(reply)
    while env.agent_selection != "synthesizer_0":
        env.step(None)
    env.step(f"```text\n{VARIANT}\n```")
    assert env.observe("variantsolver_0").count(VARIANT) == 1
    assert PROBLEM["problem"] not in env.observe("variantsolver_0")
    assert env.agent_view("variantsolver_0")["problem"] == VARIANT


def test_options_fix_the_problem_and_bad_arguments_raise():
    env = make(problems=[PROBLEM, {**PROBLEM, "id": "b", "problem": "What is 2+2?", "answer": "4"}])
    env.reset(seed=0, options={"index": 1})
    assert env.infos["solver_0"]["problem_id"] == "b"
    env.reset(seed=0, options={"problem": {"problem": "What is 3+3?", "answer": "6"}})
    assert "3+3" in env.observe("solver_0")
    env.reset(seed=0, options={"index": "nonsense", "problem": 5})  # malformed: drawn as usual
    with pytest.raises(ValueError, match="num_solvers"):
        make(num_solvers=0)
    with pytest.raises(ValueError, match="synthesis_band"):
        make(synthesis_band=(0.6, 0.2))
    with pytest.raises(ValueError, match="problem"):
        make(problems=[{"id": "x"}])


def test_the_registered_id_has_the_papers_constants():
    env = selfplay_gym.make("selfplay/VariationalSynthesis-v0")
    assert len(env.solvers) == 8 and len(env.variant_solvers) == 8
    assert env.synthesis_band == (0.125, 0.5)
    assert (env.synthesizer_reward.lo, env.synthesizer_reward.hi) == (0.125, 0.625)
    assert env.possible_agents[8] == "synthesizer_0"


# ---- scripted play ---------------------------------------------------------------------------------
def test_scripted_players_produce_every_outcome_on_the_fixture():
    env = selfplay_gym.make("selfplay/VariationalSynthesis-v0")
    bot = ScriptedSvSPlayer(seed=0)
    outcomes = set()
    rng = random.Random(0)
    for _ in range(60):
        env.reset(seed=rng.randrange(10**6))
        returns: dict[str, float] = {}
        while env.agents:
            agent = env.agent_selection
            _, reward, term, trunc, info = env.last()
            assert reward == pytest.approx(sum(info["reward_components"].values()))
            if term or trunc:
                returns[agent] = reward
                if agent == "synthesizer_0":
                    outcomes.add(tuple(sorted(info["reward_components"].items())))
                env.step(None)
            else:
                env.step(bot.act(env, agent))
        assert set(returns) == set(env.possible_agents)
    assert (("band", 1.0),) in outcomes
    assert (("synthesis_skipped", 0.0),) in outcomes
    assert (("invalid_variant", 0.0),) in outcomes


def test_the_scripted_solver_knows_the_fixture_and_the_synthesizer_keeps_the_numbers():
    env = selfplay_gym.make("selfplay/VariationalSynthesis-v0")
    expert = ScriptedSvSPlayer(
        solver_skill=1.0, format_error=0.0, copy_rate=0.0, unfenced_rate=0.0, seed=1
    )
    for seed in range(5):
        env.reset(seed=seed)
        problem = env.agent_view("solver_0")["problem"]
        for _ in range(8):
            env.step(expert.act(env, env.agent_selection))
        assert env.infos["solver_0"]["accuracy"] == 1.0
        assert env.infos["solver_0"]["trainable"] is False
        variant = parse_variant(expert._synthesize(problem))
        assert variant and variant != problem and numbers_key(variant) == numbers_key(problem)
