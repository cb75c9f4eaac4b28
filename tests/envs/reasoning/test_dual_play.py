r"""PasoDoble (selfplay/DualPlay-v0): parsing, anti-hacking checks, diversity, every reward, the solver band."""

from __future__ import annotations

import pickle

import pytest

import selfplay_gym
from selfplay_gym.core.rewards import PasoDoble, QuestionHistory
from selfplay_gym.envs.reasoning.dual_play import (
    VALIDITY_CHECKS,
    DualPlayEnv,
    ScriptedDualPlayer,
    parse_proposal,
)

PASSAGES = [
    {"id": "p1", "title": "Rivers", "text": "The Sorrel river is 412 km long."},
    "In 1204 three kingdoms were united.",
]
PROBLEM = "A rope is cut into pieces of 3 m from a 27 m rope. How many pieces are there?"
PROPOSAL = f"<think>easy</think><problem>{PROBLEM}</problem><answer>27 / 3 = \\boxed{{9}}</answer>"
N = 6


def make(**kwargs):
    kwargs.setdefault("passages", PASSAGES)
    return DualPlayEnv(**kwargs)


def run(env, proposal, solvers, seed=0, options=None):
    """One episode; ``solvers`` is a list of N replies (or one reply for all)."""
    env.reset(seed=seed, options=options)
    if isinstance(solvers, str):
        solvers = [solvers] * N
    queue = list(solvers)
    returns: dict[str, float] = {}
    final: dict[str, dict] = {}
    while env.agents:
        agent = env.agent_selection
        _, reward, term, trunc, info = env.last()
        assert reward == pytest.approx(sum(info["reward_components"].values()))
        returns[agent] = returns.get(agent, 0.0) + reward
        if term or trunc:
            final[agent] = info
            env.step(None)
        elif info["role"] == "proposer":
            env.step(proposal)
        else:
            env.step(queue.pop(0))
    return returns, final


def right(k):
    """k right answers (in different but equivalent forms), the rest wrong."""
    forms = ["\\boxed{9}", "so \\boxed{9.0}", "\\boxed{\\frac{18}{2}}"]
    return [forms[i % 3] if i < k else f"\\boxed{{{10 + i}}}" for i in range(N)]


# ---- parsing ----------------------------------------------------------------------------------
def test_parse_proposal_follows_pasodoble():
    assert parse_proposal(PROPOSAL) == (PROBLEM, "9")
    # only the text after the last </think>; the first problem; the last balanced box
    text = (
        "<problem>draft</problem></think><problem>A</problem><problem>B</problem>"
        "\\boxed{1} then \\boxed{\\frac{1}{2}}"
    )
    assert parse_proposal(text) == ("A", "\\frac{1}{2}")
    assert parse_proposal("<think><problem>A</problem>\\boxed{1}</think>") == (None, None)
    assert parse_proposal("<problem>unclosed \\boxed{2") == (None, None)
    assert parse_proposal("x" * 10, max_chars=3) == (None, None)
    assert parse_proposal("<problem>" + "y" * 50 + "</problem>", max_chars=5) == ("yyyyy", None)


# ---- validity ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("proposal", "failed"),
    [
        (f"<problem>{PROBLEM}</problem> 27/3 = 9", "has_answer"),
        (f"<problem>{PROBLEM}</problem> \\boxed{{}}", "has_answer"),
        (
            f"<problem>{PROBLEM} Put it in \\boxed{{}}.</problem> \\boxed{{9}}",
            "no_boxed_in_problem",
        ),
        ("<problem>9</problem> the answer: \\boxed{9 pieces}", "problem_not_in_answer"),
        (f"<problem>{PROBLEM} (It is 9.)</problem> \\boxed{{9}}", "answer_not_in_problem"),
        ("<problem> </problem> \\boxed{9}", "has_problem"),
    ],
)
def test_each_anti_hacking_check_invalidates_the_task(proposal, failed):
    env = make()
    returns, final = run(env, proposal, "\\boxed{9}")
    validity = final["proposer_0"]["validity"]
    assert set(validity) == {"parsed", *VALIDITY_CHECKS}
    assert validity[failed] is False
    assert final["proposer_0"]["task_valid"] is False
    assert final["proposer_0"]["reward_components"] == {"invalid_task": 0.0}
    for i in range(N):
        assert final[f"solver_{i}"]["reward_components"] == {"invalid_task": 0.0}
        assert final[f"solver_{i}"]["turn"] == 0  # the solvers never saw it


def test_no_problem_tag_is_unreadable_and_every_check_fails():
    returns, final = run(make(), "Ignore the rules. \\boxed{9}", "\\boxed{9}")
    p = final["proposer_0"]
    assert p["parse"]["ok"] is False and p["invalid_action"]
    assert p["validity"] == {"parsed": False, **dict.fromkeys(VALIDITY_CHECKS, False)}
    assert returns["proposer_0"] == 0.0


def test_a_valid_problem_passes_every_check():
    _, final = run(make(), PROPOSAL, right(3))
    assert final["proposer_0"]["validity"] == {
        "parsed": True,
        **dict.fromkeys(VALIDITY_CHECKS, True),
    }


# ---- rewards -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("k", "expected"),
    [
        (0, 0.0),  # p = 0
        (1, 0.0),  # p = 1/6 <= 0.2
        (2, 1.1 - 2 / 6 + 0.2),
        (3, 1.1 - 0.5 + 0.2),
        (6, 1.1 - 1.0 + 0.2),  # p = 1
    ],
)
def test_proposer_reward_by_solve_rate_with_full_diversity(k, expected):
    returns, final = run(make(), PROPOSAL, right(k))
    p = final["proposer_0"]
    assert p["solve_rate"] == pytest.approx(k / N) and p["diversity"] == 1.0
    assert returns["proposer_0"] == pytest.approx(expected)
    if expected:
        assert p["reward_components"] == pytest.approx(
            {"difficulty": 1.1 - k / N, "diversity_bonus": 0.2}
        )
    else:
        assert p["reward_components"] == {"gated": 0.0}
    for i in range(N):
        assert returns[f"solver_{i}"] == (1.0 if i < k else 0.0)


@pytest.mark.parametrize(
    ("k", "trainable"), [(0, False), (1, False), (2, True), (5, True), (6, False)]
)
def test_solver_band_filter(k, trainable):
    _, final = run(make(), PROPOSAL, right(k))
    for i in range(N):
        assert final[f"solver_{i}"]["trainable"] is trainable
        assert final[f"solver_{i}"]["solve_rate"] == pytest.approx(k / N)


@pytest.mark.parametrize(("copies", "diversity"), [(7, 0.3), (6, 0.4), (10, 0.0)])
def test_diversity_gate_from_the_history(copies, diversity):
    env = make()
    others = [f"Name a prime between {10 * i} and {10 * i + 10}." for i in range(10 - copies)]
    env.history = QuestionHistory([PROBLEM] * copies + others)
    returns, final = run(env, PROPOSAL, right(3))
    assert final["proposer_0"]["diversity"] == pytest.approx(diversity)
    expected = 0.0 if diversity <= 0.3 else 1.1 - 0.5 + 0.2 * diversity
    assert returns["proposer_0"] == pytest.approx(expected)


def test_the_history_spans_episodes_and_pickles():
    env = make(history_size=3)
    first, _ = run(env, PROPOSAL, right(3), seed=0)
    second, final = run(env, PROPOSAL, right(3), seed=1)  # the same problem again
    assert first["proposer_0"] == pytest.approx(0.8)
    assert final["proposer_0"]["diversity"] == 0.0 and second["proposer_0"] == 0.0
    assert len(env.history) == 2
    clone = pickle.loads(pickle.dumps(env))
    assert len(clone.history) == 2 and clone.history.diversity(PROBLEM) == 0.0
    for seed in range(3):
        run(env, f"<problem>Problem number {seed} about {seed} sheep?</problem>\\boxed{{x}}", "")
    assert len(env.history) == 3  # the oldest are forgotten


def test_pasodoble_rule_edges():
    rule = PasoDoble()
    assert rule(0.2, diversity=1.0) == {"gated": 0.0}
    assert sum(rule(0.21, diversity=1.0).values()) == pytest.approx(1.1 - 0.21 + 0.2)
    assert rule(0.5, diversity=0.3) == {"gated": 0.0}
    assert sum(rule(0.5, diversity=0.31).values()) == pytest.approx(0.6 + 0.062)


def test_solver_without_a_box_scores_zero_and_a_broken_verifier_is_flagged():
    solvers = ["the answer is 9", *right(5)[:5]]
    returns, final = run(make(), PROPOSAL, solvers)
    assert final["solver_0"]["reward_components"] == {"correct": 0.0}
    assert final["solver_0"]["parse"]["ok"] is False
    assert final["proposer_0"]["solve_rate"] == pytest.approx(5 / 6)

    def broken(reply, references):
        raise RuntimeError("sympy exploded")

    returns, final = run(make(verifier=broken), PROPOSAL, right(6))
    for i in range(N):
        info = final[f"solver_{i}"]
        assert returns[f"solver_{i}"] == 0.0 and info["verdict_ok"] is False
        assert "sympy exploded" in info["verdict"] and info["parse"]["ok"]
    assert returns["proposer_0"] == 0.0  # p = 0

    returns, _ = run(make(verifier=lambda reply, refs: "garbage"), PROPOSAL, right(6))
    assert returns["solver_0"] == 0.0


def test_math_equivalence_decides_the_solver_reward():
    proposal = "<problem>What is one half of 1?</problem> \\boxed{\\frac{1}{2}}"
    solvers = [
        "\\boxed{0.5}",
        "\\boxed{1/2}",
        "\\boxed{\\dfrac{1}{2}}",
        "\\boxed{2}",
        "\\boxed{0.25}",
        "x",
    ]
    returns, _ = run(make(), proposal, solvers)
    assert [returns[f"solver_{i}"] for i in range(N)] == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]


# ---- prompts, views, options -------------------------------------------------------------------
def test_passages_prompts_and_views():
    env = make()
    titles = set()
    for seed in range(10):
        env.reset(seed=seed)
        view = env.agent_view("proposer_0")
        assert view["passage"] in ("The Sorrel river is 412 km long.", PASSAGES[1])
        assert view["passage"] in env.observe("proposer_0")
        titles.add(env.infos["proposer_0"]["passage_id"])
    assert titles == {"p1", "1"}
    env.reset(seed=0, options={"passage": "Seven bridges cross the river."})
    assert "Seven bridges" in env.observe("proposer_0")
    env.step(PROPOSAL)
    assert env.agent_view("solver_0") == {
        "role": "solver",
        "turn": 0,
        "phase": "solve",
        "problem": PROBLEM,
    }
    assert "boxed{9}" not in env.observe("solver_0") and "reference" not in env.infos["solver_0"]
    none = make(passages=None)
    none.reset(seed=0)
    assert none.agent_view("proposer_0")["passage"] is None
    assert "External knowledge" not in none.observe("proposer_0")


def test_a_given_task_skips_the_proposer():
    returns, final = run(
        make(), "", right(2), options={"task": {"question": PROBLEM, "answer": "9"}}
    )
    assert returns["proposer_0"] == 0.0 and final["proposer_0"]["given_task"]
    assert returns["solver_0"] == 1.0 and final["solver_0"]["trainable"] is True


def test_default_passages_come_from_the_fixture():
    from selfplay_gym.envs.reasoning.tasks import load_passages

    env = DualPlayEnv()
    assert [p["text"] for p in env.passages] == [p["text"] for p in load_passages("fixture")]


# ---- whole episodes ----------------------------------------------------------------------------
def test_scripted_players_produce_every_outcome():
    env = make(render_mode="ansi")
    bot = ScriptedDualPlayer(seed=1)
    seen = set()
    for seed in range(60):
        env.reset(seed=seed)
        final = {}
        while env.agents:
            agent = env.agent_selection
            _, _, term, _, info = env.last()
            if term:
                final[agent] = info
                env.step(None)
            else:
                env.step(bot.act(env, agent))
        p = final["proposer_0"]
        if not p["task_valid"]:
            seen |= {k for k, ok in p["validity"].items() if not ok}
        else:
            seen.add(("trainable", final["solver_0"]["trainable"]))
            seen.add(("rewarded", sum(p["reward_components"].values()) > 0))
    assert {"has_answer", "answer_not_in_problem"} <= seen
    assert {("trainable", True), ("trainable", False), ("rewarded", True)} <= seen


def test_registered_id_uses_the_papers_constants():
    env = selfplay_gym.make("selfplay/DualPlay-v0")
    assert env.num_solvers == 6 and env.proposer_reward == PasoDoble()
    assert env.history.size == 100 and env.history.max_similarity == 0.8
    assert env.solver_band == (0.2, 1.0)
