"""``selfplay-gym search``: index, query, and serve -- the served API answers the HTTP client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from selfplay_gym.cli import main
from selfplay_gym.envs.search.backends import SearchR1HttpBackend, TantivyBackend
from selfplay_gym.envs.search.corpora import load_corpus


def test_index_builds_once_then_reopens(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SELFPLAY_GYM_CACHE", str(tmp_path))
    assert main(["search", "index", "fixture"]) == 0
    first = capsys.readouterr().out
    assert "fixture: 306 passages" in first and str(tmp_path) in first
    assert main(["search", "index", "fixture"]) == 0
    assert TantivyBackend(load_corpus("fixture")).ensure_index().build_seconds is None


def test_query_prints_ranked_hits_as_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SELFPLAY_GYM_CACHE", str(tmp_path))
    corpus = load_corpus("fixture")
    country = corpus.passages[0]
    capital = country.text.split("capital and largest city is ")[-1].split(".")[0]
    assert (
        main(["search", "query", "fixture", f"capital of {country.title}", "-k", "2", "--json"])
        == 0
    )
    (hits,) = json.loads(capsys.readouterr().out)
    assert len(hits) == 2 and hits[0]["title"] in (country.title, capital)


def test_bad_arguments_exit_2(capsys):
    assert main(["search", "index", "no-such-corpus"]) == 2
    assert "no-such-corpus" in capsys.readouterr().err


@pytest.fixture
def served(tmp_path):
    """``selfplay-gym search serve`` in a subprocess on a free port; yields its base URL."""
    env = {**os.environ, "SELFPLAY_GYM_CACHE": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "selfplay_gym",
            "search",
            "serve",
            "--corpus",
            "fixture",
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        line = ""
        while time.monotonic() < deadline and "/retrieve" not in line:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                raise AssertionError(f"server exited: {proc.stderr.read()}")
        url = line.split(" at ")[-1].split()[0]
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_http_client_gets_what_the_local_backend_gets_from_search_serve(
    served, tmp_path, monkeypatch
):
    monkeypatch.setenv("SELFPLAY_GYM_CACHE", str(tmp_path))
    corpus = load_corpus("fixture")
    queries = [p.title for p in corpus.passages[:5]] + ["the river that rises in the hills"]
    remote = SearchR1HttpBackend(served, timeout=10).search(queries, 3)
    local = TantivyBackend(corpus).search(queries, 3)
    assert [[(h.doc_id, h.title, h.text) for h in hits] for hits in remote] == [
        [(h.doc_id, h.title, h.text) for h in hits] for hits in local
    ]
    assert all(hits[0].title == q for q, hits in zip(queries[:5], remote, strict=False))


def test_a_search_selfplay_episode_runs_against_search_serve(served):
    import selfplay_gym
    from selfplay_gym.envs.search.players import CarefulSearchPlayer

    env = selfplay_gym.make("selfplay/SearchSelfPlay-v0", backend=served, num_solvers=2)
    env.reset(seed=4)
    bot = CarefulSearchPlayer(seed=0)
    for agent in env.agent_iter(200):
        _, _, term, trunc, info = env.last()
        env.step(None if term or trunc else bot.act(env, agent))
        assert info["search_error"] is None
    assert info["retrieval"]["backend"] == "search-r1-http"
