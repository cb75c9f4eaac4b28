"""The search self-play game: protocol, validity rules, RAG check, rewards, budgets, bad input."""

from __future__ import annotations

import re
import socket
import time

import gymnasium
import pytest

import selfplay_gym
from selfplay_gym.envs.search.base import Corpus, Hit, Passage, SearchBackend, SearchError
from selfplay_gym.envs.search.env import SearchSelfPlayEnv, proposer_reward
from selfplay_gym.envs.search.players import CarefulSearchPlayer, ScriptedSearchPlayer
from selfplay_gym.envs.search.protocol import exact_match, normalize_answer, parse_turn
from selfplay_gym.envs.search.readers import EvidenceReader, LLMJudge, LLMReader

WORLD = [
    (
        "Talmeria",
        "Talmeria is a kingdom on the western sea. Its capital is Orvane, a port on the "
        "Sorrel estuary. The kingdom was united by Queen Ysolde Marrowin in 1204.",
    ),
    (
        "Orvane",
        "Orvane is the capital of Talmeria. The city is famous for the Lantern Fair held "
        "every spring. The poet Ilvana Drest was born in Orvane.",
    ),
    (
        "Ilvana Drest",
        "Ilvana Drest was a poet born in Orvane in 1311. She wrote The Salt Hymns. "
        "Drest later taught at the Colder Academy.",
    ),
    (
        "Sorrel",
        "The Sorrel is a river that rises in the Vashti Hills and flows into the western "
        "sea at Orvane.",
    ),
    ("Vashti Hills", "The Vashti Hills are a range of low hills in eastern Talmeria."),
    (
        "Colder Academy",
        "The Colder Academy is a school of letters founded by Ysolde Marrowin in "
        "1219. Ilvana Drest taught there.",
    ),
]
CORPUS = Corpus.from_passages("toy", [Passage(f"t{i}", t, x) for i, (t, x) in enumerate(WORLD)])
GOOD_QUESTION = (
    'Which name fills the blank in this statement from the entry on Ilvana Drest: "Ilvana Drest '
    'was a poet born in ___ in 1311."?'
)


class WordOverlap(SearchBackend):
    """A deterministic toy backend: passages ranked by shared words (no index, no dependency)."""

    name = "word-overlap"

    def __init__(self, corpus=CORPUS):
        self.corpus = corpus
        self.calls = 0

    def search(self, queries, k=3):
        self.calls += 1
        out = []
        for q in queries:
            words = set(re.findall(r"\w+", q.lower()))
            scored = [
                (len(words & set(re.findall(r"\w+", f"{p.title} {p.text}".lower()))), i, p)
                for i, p in enumerate(self.corpus)
            ]
            scored = sorted((s for s in scored if s[0] > 0), key=lambda s: (-s[0], s[1]))
            out.append([Hit.of(p, float(s)) for s, _, p in scored[:k]])
        return out


class Broken(SearchBackend):
    name = "broken"

    def search(self, queries, k=3):
        raise SearchError("server at 127.0.0.1:9 refused the connection")


def make(**kwargs):
    kwargs.setdefault("corpus", CORPUS)
    kwargs.setdefault("backend", WordOverlap())
    kwargs.setdefault("num_solvers", 3)
    kwargs.setdefault("distractors", 2)
    return SearchSelfPlayEnv(render_mode="ansi", **kwargs)


def propose(env, *replies, answer="Talmeria", searches=2, seed=0):
    """Reset with a fixed target and play the proposer's ``replies``."""
    env.reset(seed=seed, options={"answer": answer, "searches": searches})
    for reply in replies:
        assert env.agent_selection == "proposer_0"
        env.step(reply)
    return env.infos


def solve(env, replies):
    """Play each solver's replies (``replies[solver]`` in order) until everyone has finished."""
    given = {a: list(r) for a, r in replies.items()}
    rewards = {}
    for agent in env.agent_iter(200):
        _, reward, term, trunc, _ = env.last()
        rewards[agent] = rewards.get(agent, 0.0) + reward
        if term or trunc:
            env.step(None)
        else:
            env.step(given[agent].pop(0) if given.get(agent) else "<answer> nothing </answer>")
    return rewards


# ---- protocol ----------------------------------------------------------------------------------
def test_the_first_complete_tag_is_used_and_later_tags_are_counted():
    p = parse_turn("<think>x</think><search> a b </search><answer>c</answer>", ("search", "answer"))
    assert (p.ok, p.tag, p.content, p.extra_tags) == (True, "search", "a b", 2)
    p = parse_turn("<answer>late</answer> ... <search>q", ("search", "answer"))
    assert (p.tag, p.content) == ("answer", "late")


def test_a_stray_closing_tag_does_not_hide_a_later_complete_tag():
    p = parse_turn("I will not </search> yet. <search> Orvane port </search>", ("search", "answer"))
    assert (p.ok, p.tag, p.content) == (True, "search", "Orvane port")


def test_an_early_tag_followed_by_a_flood_of_text_is_still_read():
    env = make(max_action_chars=100)
    env.reset(seed=0, options={"answer": "Orvane", "searches": 2})
    env.step("<search> Orvane </search>" + "x" * 10_000)
    info = env.infos["proposer_0"]
    assert not info["invalid_action"] and info["searches"] == ["Orvane"]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("plain words", "no <search>...</search> or <answer>...</answer> found"),
        ("<search>   </search>", "the <search> tag is empty"),
        ("<question>Who?</question>", "<question> is not a move of this role"),
        ("<search>unclosed", "no <search>"),
    ],
)
def test_malformed_turns_are_errors(text, error):
    p = parse_turn(text, ("search", "answer"))
    assert not p.ok and error in p.error


def test_parsing_is_linear_on_hostile_text():
    def best(text):
        t = time.perf_counter()
        parse_turn(text, ("search", "answer"))
        return time.perf_counter() - t

    for unit in ("<search>", "<search><answer>", "</search>", "<answer>a"):
        small = min(best(unit * 20_000) for _ in range(3))
        large = min(best(unit * 80_000) for _ in range(3))
        assert large / max(small, 1e-5) < 12


def test_squad_normalization():
    assert normalize_answer("The Colder  Academy.") == "colder academy"
    assert exact_match("the colder academy", ["Colder Academy"])
    assert not exact_match("", ["Colder Academy"]) and not exact_match("Colder", ["Colder Academy"])


@pytest.mark.parametrize(
    ("rule", "s", "expected"),
    [
        ("1-acc", 0.0, 1.0),
        ("1-acc", 0.4, 0.6),
        ("1-acc", 1.0, 0.0),
        ("intermediate", 0.0, 0.0),
        ("intermediate", 0.2, 0.64),
        ("intermediate", 0.5, 1.0),
        ("intermediate", 1.0, 0.0),
    ],
)
def test_proposer_reward_rules(rule, s, expected):
    assert proposer_reward(rule, s)[1] == pytest.approx(expected)


# ---- the proposer's question and its checks ----------------------------------------------------
def test_a_valid_question_reaches_the_solvers_and_each_rule_is_reported():
    env = make()
    infos = propose(
        env,
        "<search> Orvane </search>",
        "<search> Ilvana Drest poet </search>",
        f"<question> {GOOD_QUESTION} </question>",
        answer="Orvane",
    )
    info = infos["proposer_0"]
    assert info["validity"] == {
        "has_question": True,
        "length": True,
        "answer_not_in_question": True,
        "has_information": True,
        "enough_searches": True,
        "no_repeated_search": True,
        "rag_check": True,
    }
    assert info["question_valid"] and info["rag"]["valid"]
    assert env.agent_selection == "solver_0" and env.phase == "solve"
    solver_prompt = env.observe("solver_0")
    assert solver_prompt.endswith(f"Question: {GOOD_QUESTION}")
    assert "gold_answers" not in env.infos["solver_0"]
    # The reader's verdict quotes the evidence: solvers see it only when the episode is over.
    assert "rag" not in env.infos["solver_0"] and "predicted" in info["rag"]


@pytest.mark.parametrize(
    ("replies", "failed"),
    [
        (
            [
                "<search> Orvane </search>",
                "<search> Drest </search>",
                "<question> Who? </question>",
            ],
            "length",
        ),
        (
            [
                "<search> Orvane </search>",
                "<search> Drest </search>",
                "<question> Which city of Talmeria, ORVANE or another, was the birthplace of the poet Ilvana Drest? </question>",
            ],
            "answer_not_in_question",
        ),
        (
            ["<search> Orvane </search>", f"<question> {GOOD_QUESTION} </question>"],
            "enough_searches",
        ),
        (
            [
                "<search> Orvane </search>",
                "<search>orvane</search>",
                f"<question> {GOOD_QUESTION} </question>",
            ],
            "no_repeated_search",
        ),
        (
            [
                "<search> Ilvana Drest </search>",
                "<search>ilvana \n  drest</search>",
                f"<question> {GOOD_QUESTION} </question>",
            ],
            "no_repeated_search",
        ),
        (
            [
                "<search> Orvane </search>",
                "<search> Drest </search>",
                '<question> Which name fills the blank: "The ___ sailed past Qerrith with violet salt in 1402."? </question>',
            ],
            "rag_check",
        ),
    ],
)
def test_each_rule_can_make_a_question_invalid(replies, failed):
    env = make(invalid_reward=-1.0)
    infos = propose(env, *replies, answer="Orvane")
    info = infos["proposer_0"]
    assert info["validity"][failed] is False
    assert not info["question_valid"]
    assert info["reward_components"] == {"invalid_question": -1.0}
    rewards = solve(env, {})
    assert rewards["proposer_0"] == -1.0
    assert all(rewards[s] == 0.0 for s in ("solver_0", "solver_1", "solver_2"))
    assert "question invalid" in env.render()


def test_no_information_makes_the_question_invalid():
    class Empty(SearchBackend):
        def search(self, queries, k=3):
            return [[] for _ in queries]

    env = make(backend=Empty(), reader=None)
    info = propose(
        env,
        "<search> a </search>",
        "<search> b </search>",
        f"<question> {GOOD_QUESTION} </question>",
        answer="Orvane",
    )["proposer_0"]
    assert info["validity"]["has_information"] is False
    assert "No documents matched" in env.observe("proposer_0")


def test_the_answer_in_a_query_is_checked_only_when_asked():
    replies = [
        "<search> Orvane </search>",
        "<search> Drest </search>",
        f"<question> {GOOD_QUESTION} </question>",
    ]
    assert propose(make(), *replies, answer="Orvane")["proposer_0"]["question_valid"]
    info = propose(make(check_answer_in_queries=True), *replies, answer="Orvane")["proposer_0"]
    assert info["validity"]["answer_not_in_queries"] is False and not info["question_valid"]


def test_no_question_within_the_turn_limit_is_invalid_and_truncates_the_proposer():
    env = make(max_turns=3)
    propose(env, "<search> a </search>", "thinking...", "<search> b </search>", answer="Orvane")
    assert env.truncations["proposer_0"] and all(env.terminations[s] for s in env._solvers)
    assert env.infos["proposer_0"]["validity"] == {"has_question": False}


def test_a_reader_that_raises_fails_closed():
    def reader(question, answers, materials):
        raise TimeoutError("judge endpoint timed out")

    env = make(reader=reader)
    info = propose(
        env,
        "<search> Orvane </search>",
        "<search> Drest </search>",
        f"<question> {GOOD_QUESTION} </question>",
        answer="Orvane",
    )["proposer_0"]
    assert info["validity"]["rag_check"] is False
    assert info["rag"]["reason"].startswith("reader error: TimeoutError")


def test_the_rag_check_sees_the_evidence_mixed_with_distractors():
    seen = {}

    def reader(question, answers, materials):
        seen["materials"] = list(materials)
        return True

    env = make(reader=reader, distractors=3)
    propose(
        env,
        "<search> Orvane </search>",
        "<search> Drest </search>",
        f"<question> {GOOD_QUESTION} </question>",
        answer="Orvane",
    )
    assert len(seen["materials"]) == 2 + 3  # two searches' results, three distractor blocks
    assert sum("Doc 1 (Title: Orvane)" in m for m in seen["materials"]) >= 1


def test_distractors_avoid_every_document_the_proposer_retrieved():
    seen = {}

    def reader(question, answers, materials):
        seen["materials"] = list(materials)
        return True

    env = make(reader=reader, distractors=1, topk=2)
    propose(
        env,
        "<search> Orvane </search>",
        "<search> Ilvana Drest </search>",
        f"<question> {GOOD_QUESTION} </question>",
        answer="Orvane",
    )
    retrieved = {h.title for hits in env._seats["proposer_0"].hit_log for h in hits}
    searched = env._seats["proposer_0"].materials  # the order is shuffled: find the distractor
    (distractor,) = [m for m in seen["materials"] if m not in searched]
    assert not any(f"(Title: {t})" in distractor for t in retrieved)


def test_evidence_reader_rejects_a_question_a_distractor_answers_better():
    reader = EvidenceReader()
    evidence = "Doc 1 (Title: Orvane)\nThe poet Ilvana Drest was born in Orvane."
    rival = "Doc 1 (Title: Vell)\nThe poet Ilvana Drest was born in Vell, wrote hymns, in spring."
    q = "Which city was the poet Ilvana Drest born in, where she wrote hymns in spring?"
    assert not reader(q, ["Orvane"], [evidence, rival]).valid
    assert reader("Which city was the poet Ilvana Drest born in?", ["Orvane"], [evidence]).valid


def test_evidence_reader_calls_an_equally_good_rival_sentence_ambiguous():
    reader = EvidenceReader()
    q = 'Which name fills the blank in this statement: "Drybeen Cupylley invented the ___."?'
    evidence = "Doc 1 (Title: Drybeen Cupylley)\nDrybeen Cupylley invented the Susathar Astrolabe."
    rival = "Doc 1 (Title: Drenix Lamp)\nDrybeen Cupylley invented the Drenix Lamp in 1419."
    assert reader(q, ["Susathar Astrolabe"], [evidence]).valid
    verdict = reader(q, ["Susathar Astrolabe"], [evidence, rival])
    assert not verdict.valid and "ambiguous" in verdict.reason


def test_evidence_reader_reads_a_sentence_under_its_title():
    reader = EvidenceReader()
    q = "Which heron did the naturalist Rilamys Klandek first describe in 1462?"
    evidence = "Doc 1 (Title: Keitosh Heron)\nIt was first described by Rilamys Klandek in 1462."
    assert reader(q, ["Keitosh Heron"], [evidence]).valid
    untitled = "It was first described by Rilamys Klandek in 1462."
    assert not reader(q, ["Keitosh Heron"], [untitled]).valid


def test_evidence_reader_keeps_an_answer_with_a_full_stop_whole():
    reader = EvidenceReader()
    q = "Which harbour town did the night ferry of the Vell company reach at dawn?"
    evidence = "Doc 1 (Title: Vell)\nThe night ferry of the Vell company reached St. Ives at dawn."
    verdict = reader(q, ["St. Ives"], [evidence])
    assert verdict.valid and "St. Ives at dawn" in verdict.predicted


def test_llm_reader_shares_the_prompt_budget_so_evidence_survives_a_long_distractor():
    prompts = []
    reader = LLMReader(lambda p: prompts.append(p) or "Answer: Orvane", max_chars=2000)
    evidence = "Doc 1 (Title: Orvane)\nThe poet Ilvana Drest was born in Orvane."
    flood = "Doc 1 (Title: Vell)\n" + "filler words " * 5000
    assert reader("Where was Ilvana Drest born?", ["Orvane"], [flood, evidence]).valid
    assert "born in Orvane" in prompts[0] and len(prompts[0]) < 4000


@pytest.mark.parametrize(
    ("reply", "accepted"),
    [
        ("Correct.", True),
        ("Not correct.", False),
        ("Correct or Wrong? Wrong.", False),
        ("It looked wrong at first, but it is correct", True),
        ("incorrect", False),
    ],
)
def test_llm_judge_takes_the_last_verdict_word(reply, accepted):
    assert LLMJudge(lambda p: reply)("q", ["Orvane"], "the port") is accepted


def test_llm_reader_and_judge_read_model_replies():
    materials = ["Doc 1 (Title: Orvane)\nThe poet Ilvana Drest was born in Orvane."]
    assert LLMReader(lambda p: "It says so. Answer: orvane.")("q?", ["Orvane"], materials).valid
    assert not LLMReader(lambda p: "I cannot tell")("q?", ["Orvane"], materials).valid
    judged = LLMReader(lambda p: "Answer: the port city", judge=lambda q, a, p: True)
    assert judged("q?", ["Orvane"], materials).reason == "accepted by the judge"
    assert LLMJudge(lambda p: "Correct.")("q", ["Orvane"], "the port")
    assert not LLMJudge(lambda p: "Incorrect, it is not.")("q", ["Orvane"], "Vell")
    assert not LLMJudge(lambda p: "no idea")("q", ["Orvane"], "Vell")


# ---- solvers -----------------------------------------------------------------------------------
def valid_question_env(**kwargs):
    env = make(**kwargs)
    propose(
        env,
        "<search> Orvane </search>",
        "<search> Drest </search>",
        f"<question> {GOOD_QUESTION} </question>",
        answer="Orvane",
    )
    assert env.phase == "solve"
    return env


def test_solver_rewards_and_the_proposer_gets_one_minus_the_success_rate():
    env = valid_question_env()
    rewards = solve(
        env,
        {
            "solver_0": ["<search> Ilvana Drest born </search>", "<answer> orvane </answer>"],
            "solver_1": ["<answer> Vell </answer>"],
            "solver_2": ["<answer>The Orvane!</answer>"],
        },
    )
    assert rewards["solver_0"] == 1.0 and rewards["solver_1"] == 0.0 and rewards["solver_2"] == 1.0
    assert rewards["proposer_0"] == pytest.approx(1 - 2 / 3)


def test_intermediate_difficulty_reward():
    env = valid_question_env(proposer_reward="intermediate", num_solvers=5)
    rewards = solve(
        env, {"solver_0": ["<answer>Orvane</answer>"], "solver_3": ["<answer>Orvane</answer>"]}
    )
    assert rewards["proposer_0"] == pytest.approx(4 * 0.4 * 0.6)


def test_answer_tag_spam_reduces_a_right_answer_to_a_quarter():
    env = valid_question_env(num_solvers=2)
    spam = "<think>" + "</answer> <answer>" * 6 + "</think><search> Orvane </search>"
    solve(
        env,
        {
            "solver_0": [spam, "<answer> Orvane </answer>"],
            "solver_1": [spam, "<answer> Vell </answer>"],
        },
    )
    assert env.infos == {}  # everyone has finished
    # Replay to read the components at the answering step.
    env = valid_question_env(num_solvers=2)
    env.step(spam)
    env.step("<answer> Vell </answer>")  # solver_1 (no spam yet) is wrong
    env.step(None)  # solver_1 has finished
    env.step("<answer> Orvane </answer>")  # solver_0: 12 + 2 answer tags, right
    assert env.infos["solver_0"]["reward_components"] == {"correct": 1.0, "answer_tag_spam": -0.75}
    assert env.rewards["solver_0"] == pytest.approx(0.25)


def test_a_judge_can_accept_and_a_failing_judge_counts_as_wrong():
    env = valid_question_env(num_solvers=2, judge=lambda q, answers, p: p == "the harbour city")
    env.step("<answer> the harbour city </answer>")
    assert env.rewards["solver_0"] == 1.0 and env.infos["solver_0"]["judged"]

    def broken(q, answers, p):
        raise ConnectionError("judge down")

    env = valid_question_env(num_solvers=2, judge=broken)
    env.step("<answer> the harbour city </answer>")
    assert env.rewards["solver_0"] == 0.0
    assert "ConnectionError" in env.infos["solver_0"]["judge_error"]


def test_a_solver_out_of_turns_is_truncated_with_reward_zero():
    env = valid_question_env(num_solvers=1, max_turns=4)
    rewards = {}
    for agent in env.agent_iter(50):
        _, reward, term, trunc, info = env.last()
        rewards[agent] = rewards.get(agent, 0.0) + reward
        if term or trunc:
            if agent == "solver_0":
                assert trunc and info["reward_components"] == {"no_answer": 0.0}
            env.step(None)
        else:
            env.step("I keep thinking")
    assert rewards["proposer_0"] == 1.0  # nobody solved it


# ---- budgets and bad input ---------------------------------------------------------------------
def test_invalid_turns_get_feedback_and_use_up_a_turn():
    env = make(invalid_action_penalty=-0.1)
    propose(env, "no tags at all", answer="Orvane")
    info = env.infos["proposer_0"]
    assert info["invalid_action"] and info["turn"] == 1
    assert info["reward_components"] == {"invalid_action": -0.1}
    assert "did not do anything" in env.observe("proposer_0")
    env.step(b"<search>bytes</search>")
    assert "bytes" in env.infos["proposer_0"]["parse"]["error"]


def test_the_search_budget_and_the_query_cap():
    backend = WordOverlap()
    env = make(backend=backend, max_searches=1, max_query_chars=50)
    propose(
        env,
        "<search> " + "Orvane " * 1000 + "</search>",
        "<search> Drest </search>",
        answer="Talmeria",
    )
    info = env.infos["proposer_0"]
    assert len(info["searches"][0]) == 50 and backend.calls == 1
    assert info["invalid_action"] and "budget" in info["parse"]["error"]


def test_a_dead_search_backend_is_recorded_and_the_episode_goes_on():
    env = make(backend=Broken(), reader=None)
    propose(env, "<search> Orvane </search>", answer="Orvane")
    info = env.infos["proposer_0"]
    assert "refused" in info["search_error"] and not info["invalid_action"]
    assert "The search failed" in env.observe("proposer_0")
    env.step(f"<question> {GOOD_QUESTION} </question>")
    assert env.infos["proposer_0"]["validity"]["has_information"] is False


def test_a_dead_search_server_url_is_recorded():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = make(backend=f"http://127.0.0.1:{port}")
    env.backend.timeout, env.backend.retries = 1.0, 0
    propose(env, "<search> Orvane </search>", answer="Orvane")
    assert env.infos["proposer_0"]["search_error"]


def test_empty_corpus_and_empty_question_set_are_clear_errors():
    with pytest.raises(ValueError, match="empty"):
        SearchSelfPlayEnv(corpus=Corpus.from_passages("none", []), backend=WordOverlap()).reset(
            seed=0
        )
    with pytest.raises(ValueError, match="empty"):
        SearchSelfPlayEnv(questions=[], backend=WordOverlap()).reset(seed=0)
    with pytest.raises(ValueError, match="answers"):
        SearchSelfPlayEnv(questions=[{"question": "Who?"}], backend=WordOverlap()).reset(seed=0)


def test_bad_configuration_is_refused():
    for kwargs in (
        {"num_solvers": 0},
        {"search_range": (3, 2)},
        {"proposer_reward": "2-acc"},
        {"reader": "oracle"},
        {"doc_format": "html"},
        {"prompts": {"judge": "x"}},
    ):
        with pytest.raises(ValueError):
            SearchSelfPlayEnv(**kwargs)


def test_the_prompt_stays_bounded_over_a_long_conversation():
    env = make(max_turns=200, max_observation_chars=6000, max_searches=200)
    env.reset(seed=0, options={"answer": "Orvane"})
    for i in range(150):
        env.step(f"<search> Orvane Talmeria Drest {i} </search>")
    obs = env.observe("proposer_0")
    assert len(obs) <= 6000 and "[earlier turns omitted]" in obs
    assert obs.startswith(env._texts["proposer_system"])
    assert "Drest 149" in obs


# ---- full episodes -----------------------------------------------------------------------------
def play_episode(env, bots, seed):
    env.reset(seed=seed)
    for i, bot in enumerate(bots.values()):
        bot.reset(seed * 100 + i)
    totals = dict.fromkeys(env.possible_agents, 0.0)
    ends = {}
    for agent in env.agent_iter(500):
        _, reward, term, trunc, info = env.last()
        totals[agent] += reward
        if term or trunc:
            ends[agent] = info
            env.step(None)
        else:
            env.step(bots[agent].act(env, agent))
    return totals, ends


def test_scripted_episodes_on_the_embedded_corpus_follow_the_formulas(tmp_path, monkeypatch):
    monkeypatch.setenv("SELFPLAY_GYM_CACHE", str(tmp_path))
    env = selfplay_gym.make("selfplay/SearchSelfPlay-v0")
    bots = {a: ScriptedSearchPlayer(skill=0.7, mistakes=0.3) for a in env.possible_agents}
    valid = invalid = 0
    rates = set()
    for seed in range(40):
        totals, ends = play_episode(env, bots, seed)
        proposer = ends["proposer_0"]
        if proposer["question_valid"]:
            valid += 1
            correct = [bool(ends[s]["correct"]) for s in env.unwrapped._solvers]
            s = sum(correct) / len(correct)
            rates.add(s)
            assert proposer["success_rate"] == s
            assert totals["proposer_0"] == pytest.approx(1 - s)
            for solver, right in zip(env.unwrapped._solvers, correct, strict=True):
                assert totals[solver] == (1.0 if right else 0.0)
        else:
            invalid += 1
            assert totals["proposer_0"] == 0.0
            assert all(totals[s] == 0.0 for s in env.unwrapped._solvers)
    assert valid >= 15 and invalid >= 5, (valid, invalid)
    assert len(rates) >= 3, rates


def test_careful_players_write_valid_questions_and_solve_them(tmp_path, monkeypatch):
    monkeypatch.setenv("SELFPLAY_GYM_CACHE", str(tmp_path))
    env = selfplay_gym.make("selfplay/SearchSelfPlay-v0", num_solvers=2)
    bots = {a: CarefulSearchPlayer() for a in env.possible_agents}
    outcomes = [play_episode(env, bots, seed)[1] for seed in range(20)]
    valid = [o for o in outcomes if o["proposer_0"]["question_valid"]]
    assert len(valid) >= 16
    solved = sum(o["solver_0"]["correct"] for o in valid)
    assert solved >= 0.8 * len(valid)


# ---- single-agent views ------------------------------------------------------------------------
def test_scripted_players_refuse_to_act_out_of_place():
    env = make()
    with pytest.raises(RuntimeError, match="reset"):
        ScriptedSearchPlayer(seed=0).act(env, "proposer_0")
    env.reset(seed=0)
    with pytest.raises(RuntimeError, match="before the question"):
        ScriptedSearchPlayer(seed=0).act(env, "solver_0")


def test_proposer_view_against_scripted_solvers(tmp_path, monkeypatch):
    monkeypatch.setenv("SELFPLAY_GYM_CACHE", str(tmp_path))
    env = gymnasium.make("selfplay/SearchSelfPlay-v0", opponent="careful")
    obs, info = env.reset(seed=0)
    assert env.unwrapped.learner == "proposer_0" and info["target_answer"] in obs
    bot = CarefulSearchPlayer(seed=0)
    aec = env.unwrapped.aec_env
    total, done = 0.0, False
    while not done:
        obs, reward, term, trunc, info = env.step(bot.act(aec.unwrapped, "proposer_0"))
        total += reward
        done = term or trunc
    assert info["question_valid"]
    assert total == pytest.approx(1 - info["success_rate"])


def test_solver_view_is_search_r1s_task(tmp_path, monkeypatch):
    monkeypatch.setenv("SELFPLAY_GYM_CACHE", str(tmp_path))
    env = gymnasium.make("selfplay/SearchQA-v0")
    obs, info = env.reset(seed=1)
    question = info["question"]
    assert obs.endswith(f"Question: {question}") and "gold_answers" not in info
    obs, reward, term, trunc, info = env.step(f"<search> {question} </search>")
    assert "<information>" in obs and reward == 0 and not term
    gold = env.unwrapped.aec_env.unwrapped._target[0]
    obs, reward, term, trunc, info = env.step(f"<answer> {gold} </answer>")
    assert (reward, term) == (1.0, True) and info["gold_answers"][0] == gold
    env.reset(
        seed=1, options={"question": "What is the capital of Talmeria?", "answers": ["Orvane"]}
    )
    _, reward, term, _, _ = env.step("<answer> Vell </answer>")
    assert (reward, term) == (0.0, True)


def test_answers_from_a_file(tmp_path):
    listed = tmp_path / "answers.jsonl"
    listed.write_text('{"answers": ["Orvane", "Orvane City"]}\n"Talmeria"\n')
    env = make(answers=str(listed))
    drawn = set()
    for seed in range(20):
        env.reset(seed=seed)
        drawn.add(env.infos["proposer_0"]["target_answer"])
    assert drawn == {"Orvane", "Talmeria"}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"answer": 3}\n')
    with pytest.raises(ValueError, match="line 1"):
        make(answers=str(bad))
