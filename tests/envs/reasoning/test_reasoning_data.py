"""Package data of the reasoning family (problems, passages, prompts) and its loaders."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from selfplay_gym.core.verifiers import MathAnswer
from selfplay_gym.envs.reasoning import tasks
from selfplay_gym.envs.reasoning.tasks import load_passages, load_problems, load_prompts

DATA = Path(tasks.__file__).resolve().parent / "data"


def _build_script():
    spec = importlib.util.spec_from_file_location("build_reasoning_data", DATA / "build_data.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def math_answer():
    return MathAnswer()


# ---- the shipped files --------------------------------------------------------------------------
def test_shipped_files_equal_the_build_script_output():
    script = _build_script()
    for name, rows in script.build().items():
        assert (DATA / name).read_text(encoding="utf-8") == script.dump_jsonl(rows), name


def test_problems_fixture_shape():
    problems = load_problems("fixture")
    assert 100 <= len(problems) <= 150
    ids = [p["id"] for p in problems]
    assert len(set(ids)) == len(ids) and all(re.fullmatch(r"m\d{4}", i) for i in ids)
    assert len({p["problem"] for p in problems}) == len(problems)
    assert len({p["topic"] for p in problems}) >= 8
    for p in problems:
        assert 3 <= len(p["steps"]) <= 6, p["id"]
        assert all(re.search(r"\d", step) for step in p["steps"]), p["id"]


def test_every_last_step_states_the_answer(math_answer):
    for p in load_problems("fixture"):
        verdict = math_answer(p["steps"][-1], p["answer"])
        assert verdict.ok and verdict.score == 1.0, (p["id"], p["steps"][-1], p["answer"])


def test_a_wrong_answer_does_not_match_the_last_step(math_answer):
    for p in load_problems("fixture")[:40]:
        if re.fullmatch(r"-?\d+", p["answer"]):
            wrong = str(int(p["answer"]) + 1)
            assert math_answer(p["steps"][-1], wrong).score == 0.0, p["id"]


def test_integer_answers_recomputed_from_the_steps():
    # Arithmetic stated in a step ("12 + 21 = 33") is correct wherever it is plain integers.
    pattern = re.compile(r"(-?\d+) ([+x-]) \(?(-?\d+)\)? = (-?\d+)(?![\d./])")
    ops = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "x": lambda a, b: a * b}
    checked = 0
    for p in load_problems("fixture"):
        for step in p["steps"]:
            for a, op, b, result in pattern.findall(step):
                assert ops[op](Fraction(a), Fraction(b)) == Fraction(result), (p["id"], step)
                checked += 1
    assert checked > 50


def test_passages_fixture_shape():
    passages = load_passages("fixture")
    assert 35 <= len(passages) <= 50
    ids = [p["id"] for p in passages]
    assert len(set(ids)) == len(ids) and all(re.fullmatch(r"p\d{3}", i) for i in ids)
    assert len({p["title"] for p in passages}) == len(passages)
    for p in passages:
        assert 60 <= len(p["text"].split()) <= 150, p["id"]


def test_prompts_fixture_shape():
    prompts = load_prompts("fixture")
    assert 35 <= len(prompts) <= 50
    ids = [p["id"] for p in prompts]
    assert len(set(ids)) == len(ids) and all(re.fullmatch(r"q\d{3}", i) for i in ids)
    harmful = [p for p in prompts if p["harmful"]]
    assert 8 <= len(harmful) <= 12
    assert all(isinstance(p["harmful"], bool) for p in prompts)


def test_fixture_loads_are_cached_but_return_copies():
    first = load_problems("fixture")
    first[0]["steps"].append("tampered")
    first[0]["answer"] = "tampered"
    second = load_problems("fixture")
    assert second[0]["answer"] != "tampered" and "tampered" not in second[0]["steps"]
    assert tasks._fixture.cache_info().hits >= 1


# ---- user sources -------------------------------------------------------------------------------
def test_user_jsonl_json_and_list_sources(tmp_path):
    jsonl = tmp_path / "mine.jsonl"
    jsonl.write_text(
        json.dumps({"problem": "What is 6 x 7?", "answer": 42})
        + "\n\n"
        + json.dumps(
            {"id": "b", "problem": "Half of 1?", "answer": "\\frac{1}{2}", "steps": ["1/2"]}
        )
        + "\n",
        encoding="utf-8",
    )
    rows = load_problems(jsonl)
    assert rows[0] == {
        "id": "1",
        "topic": "",
        "problem": "What is 6 x 7?",
        "answer": "42",
        "steps": [],
    }
    assert rows[1]["id"] == "b" and rows[1]["steps"] == ["1/2"]

    as_json = tmp_path / "mine.json"
    as_json.write_text(json.dumps([{"prompt": "Write a haiku.", "harmful": False}]))
    assert load_prompts(str(as_json)) == [{"id": "1", "prompt": "Write a haiku.", "harmful": False}]
    assert load_passages([{"title": "T", "text": "Some text."}, "Bare text."])[1] == {
        "id": "2",
        "title": "",
        "text": "Bare text.",
    }


def test_text_files(tmp_path):
    passages = tmp_path / "notes.txt"
    passages.write_text("First passage\nover two lines.\n\n\nSecond passage.\n", encoding="utf-8")
    assert [p["text"] for p in load_passages(passages)] == [
        "First passage over two lines.",
        "Second passage.",
    ]
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("Plan a picnic.\n\nWrite a poem.\n", encoding="utf-8")
    assert [p["prompt"] for p in load_prompts(prompts)] == ["Plan a picnic.", "Write a poem."]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"problem": "Q?"}'], r"line 1: expected 'answer'"),
        (
            ['{"problem": "Q?", "answer": "1"}', '{"answer": "2"}'],
            r"line 2: expected a non-empty string 'problem'",
        ),
        (
            ['{"problem": "Q?", "answer": "1", "steps": "one"}'],
            r"line 1: expected 'steps' as a list",
        ),
        (['{"problem": "Q?", "answer": true}'], r"line 1: expected 'answer'"),
        (["", "not json"], r"line 2: expected a JSON object"),
        (['["a list"]'], r"line 1: expected an object"),
        (["", "  "], r"expected at least one row"),
    ],
)
def test_bad_problem_rows_are_named(tmp_path, lines, message):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message) as info:
        load_problems(path)
    assert str(path) in str(info.value)


def test_bad_rows_in_lists_and_other_loaders(tmp_path):
    with pytest.raises(ValueError, match=r"problems row 1: expected 'answer'"):
        load_problems([{"problem": "Q", "answer": "1"}, {"problem": "Q2"}])
    with pytest.raises(ValueError, match="expected at least one row"):
        load_problems([])
    with pytest.raises(ValueError, match=r"passages row 0: expected a non-empty string 'text'"):
        load_passages([{"title": "only a title"}])
    with pytest.raises(ValueError, match=r"prompts row 0: expected 'harmful' to be true or false"):
        load_prompts([{"prompt": "Hi", "harmful": "no"}])
    with pytest.raises(ValueError, match=r"item 0: expected a non-empty string 'prompt'"):
        load_prompts(_write_json(tmp_path / "prompts.json", [{"prompt": ""}]))
    with pytest.raises(FileNotFoundError, match="expected a problems file"):
        load_problems("/nonexistent/problems.jsonl")
    with pytest.raises(TypeError, match="expected 'fixture', a path or a list"):
        load_prompts(42)


def _write_json(path, rows):
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path
