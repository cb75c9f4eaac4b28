"""The HTTP backend against a scripted server: failures become records, never exceptions.

The issue's contract: "a failed request becomes a recorded outcome ... never an exception out of
a rollout". Each test scripts a local server (``fake_server`` in conftest.py) to refuse, fail,
stall or talk nonsense, and checks the Generation that comes back, the retries spent, the
requests sent and the concurrency used.
"""

from __future__ import annotations

import pickle
import time

import pytest
from fake_openai_server import Reply, chat_answer

from selfplay_gym.llm import OpenAIBackend, SamplingParams, UnsupportedCapability
from selfplay_gym.llm.http_backend import RequestFailed

GREEDY = SamplingParams(max_new_tokens=4, temperature=0)


def backend_for(url: str, **kwargs) -> OpenAIBackend:
    options = {"timeout": 5.0, "max_retries": 3, "backoff": 0.01, "max_concurrency": 4}
    return OpenAIBackend(url, model="tiny", **{**options, **kwargs})


def assert_error_record(g, *, attempts: int, mentions: str) -> None:
    assert not g.ok and g.finish_reason == "error"
    assert g.text == "" and g.token_ids is None and g.logprobs is None
    assert mentions in g.error, g.error
    assert g.meta["attempts"] == attempts


def test_dead_port_gives_error_records_after_the_retries(dead_url):
    backend = backend_for(dead_url, max_retries=2)
    gens = backend.generate(["a", [{"role": "user", "content": "b"}]], GREEDY)
    assert len(gens) == 2
    for g in gens:
        assert_error_record(g, attempts=3, mentions="after 3 attempts")
        assert "ConnectionRefusedError" in g.error or "refused" in g.error.lower()


def test_503_is_retried_until_the_server_answers(fake_server):
    fake_server.replies = [Reply(status=503, body={"error": "busy"})] * 2
    backend = backend_for(fake_server.url, max_retries=3)
    (g,) = backend.generate(["hi"], GREEDY)
    assert g.ok and g.text == "[4]"
    assert g.meta["attempts"] == 3 and len(fake_server.requests) == 3


def test_503_beyond_the_retries_is_an_error_record(fake_server):
    fake_server.default = lambda body: Reply(status=503, body={"error": "busy"})
    backend = backend_for(fake_server.url, max_retries=2)
    (g,) = backend.generate(["hi"], GREEDY)
    assert_error_record(g, attempts=3, mentions="HTTP 503")
    assert len(fake_server.requests) == 3


def test_400_is_not_retried(fake_server):
    fake_server.default = lambda body: Reply(status=400, body={"error": "bad field top_k"})
    backend = backend_for(fake_server.url, max_retries=3)
    (g,) = backend.generate(["hi"], GREEDY)
    assert_error_record(g, attempts=1, mentions="HTTP 400")
    assert "bad field top_k" in g.error  # the server's own words are kept
    assert len(fake_server.requests) == 1


def test_timeout_is_an_error_record(fake_server):
    fake_server.default = lambda body: Reply(delay=3.0)
    backend = backend_for(fake_server.url, timeout=0.3, max_retries=1)
    started = time.monotonic()
    (g,) = backend.generate(["hi"], GREEDY)
    assert time.monotonic() - started < 2.5
    assert_error_record(g, attempts=2, mentions="timed out")


@pytest.mark.parametrize(
    ("reply", "mentions"),
    [
        (Reply(body=b"this is not json"), "invalid JSON"),
        (Reply(body={"object": "chat.completion"}), "no choices"),
        (Reply(body={"choices": [42]}), "malformed answer"),
        (Reply(body={"choices": [{"message": {"content": 7}}]}), "malformed answer"),
        (Reply(raw=b"garbage that is not HTTP\r\n\r\n"), "talking to"),
        (Reply(raw=b""), "talking to"),  # the server hangs up without a word
    ],
    ids=[
        "invalid-json",
        "no-choices",
        "choice-not-a-dict",
        "content-not-str",
        "not-http",
        "hangup",
    ],
)
def test_nonsense_from_the_server_is_an_error_record(fake_server, reply, mentions):
    fake_server.default = lambda body: reply
    backend = backend_for(fake_server.url, max_retries=1)
    gens = backend.generate(["a", "b"], GREEDY)
    for g in gens:
        assert not g.ok and g.text == "" and mentions in g.error, g.error


def test_one_failed_item_leaves_the_rest_of_the_batch(fake_server):
    def reply(body):
        content = body["messages"][-1]["content"]
        return Reply(status=400) if content == "bad" else Reply(body=chat_answer(content.upper()))

    fake_server.default = reply
    backend = backend_for(fake_server.url)
    gens = backend.generate(["a", "bad", "c"], GREEDY)
    assert [g.text for g in gens] == ["A", "", "C"]
    assert [g.ok for g in gens] == [True, False, True]


def test_results_come_back_in_prompt_order_under_concurrency(fake_server):
    # Earlier prompts answer later, so completion order is the reverse of prompt order.
    def reply(body):
        index = int(body["messages"][-1]["content"])
        return Reply(delay=0.02 * (8 - index), body=chat_answer(f"answer {index}"))

    fake_server.default = reply
    backend = backend_for(fake_server.url, max_concurrency=8)
    gens = backend.generate([str(i) for i in range(8)], GREEDY)
    assert [g.text for g in gens] == [f"answer {i}" for i in range(8)]


def test_max_concurrency_is_honoured(fake_server):
    fake_server.default = lambda body: Reply(delay=0.15)
    backend = backend_for(fake_server.url, max_concurrency=2)
    gens = backend.generate([f"p{i}" for i in range(8)], GREEDY)
    assert all(g.ok for g in gens)
    assert fake_server.peak == 2  # never more than 2 in flight, and concurrency is used


def test_max_concurrency_holds_across_threads(fake_server):
    """Two threads calling one backend share its limit (single prompts included)."""
    from concurrent.futures import ThreadPoolExecutor

    fake_server.default = lambda body: Reply(delay=0.1)
    backend = backend_for(fake_server.url, max_concurrency=2)
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda i: backend.generate([f"p{i}"], GREEDY), range(6)))
    assert all(r[0].ok for r in results)
    assert fake_server.peak == 2


def test_request_body(fake_server):
    backend = backend_for(fake_server.url, extra_body={"top_k": 20})
    chat = [{"role": "system", "content": "rules"}, {"role": "user", "content": "move"}]
    sampling = SamplingParams(max_new_tokens=5, temperature=0.7, top_p=0.9, seed=11, stop=("]",))
    backend.generate([chat, "plain"], sampling)
    backend.generate([chat, "plain"], sampling)
    seeds = {"move": [], "plain": []}
    for body in fake_server.requests:
        seeds[body["messages"][-1]["content"]].append(body["seed"])
    # One seed per prompt, derived from the call's; the same again on the next call.
    assert seeds == {"move": [11, 11], "plain": [12, 12]}
    assert fake_server.paths == ["/v1/chat/completions"] * 4
    assert chat in [b["messages"] for b in fake_server.requests]
    for body in fake_server.requests:
        assert body["model"] == "tiny" and body["max_tokens"] == 5
        assert body["temperature"] == 0.7 and body["top_p"] == 0.9
        assert body["stop"] == ["]"] and body["logprobs"] is True and body["top_k"] == 20
    plain = [b for b in fake_server.requests if b["messages"][-1]["content"] == "plain"]
    assert plain[0]["messages"] == [{"role": "user", "content": "plain"}]


def test_completions_endpoint_body_and_logprobs(fake_server):
    def reply(body):
        answer = {"choices": [{"text": " ok", "finish_reason": "length"}]}
        answer["choices"][0]["logprobs"] = {"tokens": [" o", "k"], "token_logprobs": [-0.5, -1]}
        return Reply(body=answer)

    fake_server.default = reply
    backend = backend_for(fake_server.url, endpoint="completions")
    chat = [{"role": "user", "content": "move"}]
    plain, templated = backend.generate(["hello", chat], GREEDY)
    assert fake_server.paths == ["/v1/completions"] * 2
    prompts = sorted(b["prompt"] for b in fake_server.requests)
    assert prompts == sorted(["hello", "User: move\n\nAssistant:"])
    assert all(b["logprobs"] == 1 for b in fake_server.requests)
    assert plain.text == " ok" and plain.finish_reason == "length"
    assert plain.logprobs == [-0.5, -1.0]
    assert templated.prompt_text == "User: move\n\nAssistant:"


def test_chat_logprobs_are_read_when_the_server_sends_them(fake_server):
    content = [{"token": "[", "logprob": -0.25}, {"token": "4]", "logprob": -1.5}]
    fake_server.default = lambda body: Reply(body=chat_answer(logprobs={"content": content}))
    (g,) = backend_for(fake_server.url).generate(["hi"], GREEDY)
    assert g.logprobs == [-0.25, -1.5]
    assert g.meta["completion_tokens"] == 2


def test_garbage_logprobs_become_none(fake_server):
    garbage = {"content": [{"token": "[", "logprob": "high"}, "x"]}
    fake_server.default = lambda body: Reply(body=chat_answer(logprobs=garbage))
    (g,) = backend_for(fake_server.url).generate(["hi"], GREEDY)
    assert g.ok and g.logprobs is None


def test_stop_string_is_kept_and_cut_whatever_the_server_does(fake_server):
    answers = [
        chat_answer("[4"),  # OpenAI: drops the stop string, says nothing about it
        chat_answer("[4", stop_reason="]"),  # vLLM: drops it, names it in stop_reason
        chat_answer("[4]] and more"),  # transformers serve: whole tokens, past the stop
    ]
    fake_server.replies = [Reply(body=a) for a in answers]
    backend = backend_for(fake_server.url, max_concurrency=1)
    texts = [backend.generate(["hi"], GREEDY.with_(stop=("]",)))[0].text for _ in answers]
    assert texts == ["[4", "[4]", "[4]"]


def test_score_through_echoed_prompt_logprobs(fake_server):
    """A server that echoes prompt log-probs (vLLM, SGLang) scores the candidate's characters."""

    def reply(body):
        text = body["prompt"]  # one "token" per character, each with log-prob -0.5
        logprobs = {
            "tokens": list(text),
            "text_offset": list(range(len(text))),
            "token_logprobs": [None] + [-0.5] * (len(text) - 1),
        }
        return Reply(body={"choices": [{"text": text, "logprobs": logprobs}]})

    fake_server.default = reply
    backend = backend_for(fake_server.url)
    scores = backend.score(["Move: ", [{"role": "user", "content": "go"}]], [["[4]", "[10]"], []])
    assert scores == [[-1.5, -2.0], []]
    assert all(b["echo"] is True and b["max_tokens"] == 1 for b in fake_server.requests)
    assert fake_server.paths == ["/v1/completions"] * 2


def test_score_unsupported_is_found_with_one_request(fake_server):
    fake_server.default = lambda body: Reply(body={"choices": [{"text": "x"}]})
    backend = backend_for(fake_server.url)
    with pytest.raises(UnsupportedCapability, match="no prompt log-probabilities"):
        backend.score(["p"], [["a", "b", "c", "d"]])
    with pytest.raises(UnsupportedCapability, match="no prompt log-probabilities"):
        backend.score(["p"], [["a"]])
    assert len(fake_server.requests) == 1


def test_score_on_a_dead_server_raises_request_failed(dead_url):
    backend = backend_for(dead_url, max_retries=0)
    with pytest.raises(RequestFailed) as failed:
        backend.score(["p"], [["a"]])
    assert failed.value.attempts == 1


def test_backend_pickles_before_and_after_use(fake_server):
    backend = backend_for(fake_server.url, max_concurrency=2)
    copy = pickle.loads(pickle.dumps(backend))
    assert [g.text for g in copy.generate(["a", "b"], GREEDY)] == ["[4]", "[4]"]
    backend.generate(["a", "b", "c"], GREEDY)  # its thread pool and locks now exist
    again = pickle.loads(pickle.dumps(backend))
    assert (again.base_url, again.model, again.max_concurrency) == (backend.base_url, "tiny", 2)
    assert [g.ok for g in again.generate(["a", "b", "c"], GREEDY)] == [True] * 3
    fake_server.peak = 0
    fake_server.default = lambda body: Reply(delay=0.1)
    again.generate([f"p{i}" for i in range(6)], GREEDY)
    assert fake_server.peak == 2  # the copy keeps the limit
    for b in (backend, copy, again):
        b.close()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"base_url": "127.0.0.1:8000"}, "http"),
        ({"base_url": ""}, "http"),
        ({"endpoint": "embeddings"}, "endpoint"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"timeout": 0}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
    ],
)
def test_constructor_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        OpenAIBackend(**{"base_url": "http://127.0.0.1:1", "model": "m", **kwargs})


def test_base_url_gets_v1_only_without_a_path():
    assert OpenAIBackend("http://127.0.0.1:8000", "m").base_url == "http://127.0.0.1:8000/v1"
    assert OpenAIBackend("http://h:1/api/v1/", "m").base_url == "http://h:1/api/v1"


@pytest.mark.parametrize(
    "choice",
    [
        42,
        {"text": "x", "logprobs": ["not", "a", "dict"]},
        {"text": "x", "logprobs": {"token_logprobs": [-1.0, "x"], "text_offset": [0, 1]}},
    ],
)
def test_score_on_a_malformed_answer_raises_request_failed(fake_server, choice):
    """A 200 answer of the wrong shape is a failed request, which a score-mode policy survives."""
    from selfplay_gym.llm import LLMPolicy

    fake_server.default = lambda body: Reply(body={"choices": [choice]})
    backend = backend_for(fake_server.url)
    with pytest.raises(RequestFailed, match="malformed"):
        backend.score(["p"], [["a"]])
    policy = LLMPolicy(backend, mode="score", chat=False)
    assert policy.act(["p"], [{"legal_actions": ["a", "b"]}]) == [""]
    assert "malformed" in policy.last_error
