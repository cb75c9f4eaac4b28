"""The behaviour every language-model backend shares, run against each of them.

Every test takes the ``backend`` fixture (tests/llm/conftest.py): the transformers backend, the
HTTP backend talking to a real ``transformers serve`` (chat and completions endpoints) and the
vLLM backend (skipped without vLLM and a CUDA GPU), all on the same tiny local model. What a
backend cannot do is written down once, in :data:`CAPABILITIES`, and the tests check that it
then says so cleanly (``None`` log-probs, :class:`UnsupportedCapability`, an error record)
rather than returning something wrong.

The tiny model is untrained: its greedy completion mostly repeats the prompt's last token
(``"hi"`` -> ``"iiii"``), so distinct prompts give distinct completions and a batch whose
results came back in the wrong order shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from selfplay_gym.llm import SamplingParams, UnsupportedCapability
from selfplay_gym.llm.base import Backend, render_plain_chat


@dataclass(frozen=True)
class Capabilities:
    """What a backend (and the server behind it) does; the suite checks the rest fails cleanly."""

    token_ids: bool
    """``Generation.token_ids`` and ``prompt_token_ids`` are filled (the backend tokenizes)."""
    logprobs: bool
    """``Generation.logprobs`` holds one log-prob per generated token."""
    score: bool
    """``score()`` works (else it raises UnsupportedCapability)."""
    truncates: bool
    """A prompt longer than the context is cut and flagged (else: an error record)."""
    samples: bool
    """``temperature > 0`` samples (different seeds give different completions)."""
    raw_plain_prompts: bool
    """A plain-string prompt reaches the model as is (the chat endpoint wraps it in a chat)."""
    stop_in_generated_text_only: bool
    """Stop strings are matched in the completion only, never across the end of the prompt."""


LOCAL = Capabilities(
    token_ids=True,
    logprobs=True,
    score=True,
    truncates=True,
    samples=True,
    raw_plain_prompts=True,
    stop_in_generated_text_only=True,
)

# `transformers serve` (transformers 5.x) ignores `logprobs` and `echo` (it logs "Ignoring
# unsupported fields"), so it returns no log-probs and cannot score; it answers 500 to a prompt
# longer than the model's context; it samples only if the model's generation_config sets
# do_sample (the tiny model's does not), so temperature > 0 is greedy there; and its stop
# strings go through StopStringCriteria, which also matches text that began in the prompt.
TRANSFORMERS_SERVE = Capabilities(
    token_ids=False,
    logprobs=False,
    score=False,
    truncates=False,
    samples=False,
    raw_plain_prompts=True,
    stop_in_generated_text_only=False,
)

CAPABILITIES = {
    ("transformers", None): LOCAL,
    ("vllm", None): LOCAL,
    ("openai", "completions"): TRANSFORMERS_SERVE,
    ("openai", "chat"): Capabilities(**{**vars(TRANSFORMERS_SERVE), "raw_plain_prompts": False}),
}


def caps(backend: Backend) -> Capabilities:
    return CAPABILITIES[(backend.name, getattr(backend, "endpoint", None))]


GREEDY = SamplingParams(max_new_tokens=6, temperature=0)
KUHN = "Kuhn poker: a deck of Jack, Queen and King; each player antes 1 chip"
CHAT = [
    {"role": "system", "content": "You are playing a game"},
    {"role": "user", "content": "Your available moves are: [check], [bet]"},
]
PROMPTS = [
    "hi",
    "Tic-tac-toe on a 3x3 board. Mark cells",
    CHAT,
    KUHN,
    [{"role": "user", "content": "move"}],
    "[Offer: 3 Wood",
    "Put your final answer within \\boxed{",
]
"""Distinct prompts of different lengths (so a batch is left-padded), chats among them."""


def assert_same_generation(a, b, *, exact_logprobs: bool = False) -> None:
    assert a.text == b.text
    assert a.finish_reason == b.finish_reason
    assert a.token_ids == b.token_ids
    if a.logprobs is None or b.logprobs is None:
        assert a.logprobs is b.logprobs is None
    else:
        tolerance = 0 if exact_logprobs else 1e-4
        assert a.logprobs == pytest.approx(b.logprobs, abs=tolerance)


# ---- generation -------------------------------------------------------------------------------


def test_one_generation_per_prompt_in_order(backend):
    batch = backend.generate(PROMPTS, GREEDY)
    assert len(batch) == len(PROMPTS)
    assert all(g.ok and isinstance(g.text, str) for g in batch), [g.error for g in batch]
    # Each batched result equals that prompt's result alone: left padding and batching change
    # nothing, and no result landed in another prompt's place.
    for prompt, g in zip(PROMPTS, batch, strict=True):
        assert_same_generation(g, backend.generate([prompt], GREEDY)[0])
    reverse = backend.generate(PROMPTS[::-1], GREEDY)
    assert [g.text for g in reverse] == [g.text for g in batch][::-1]
    if caps(backend).raw_plain_prompts:
        plain = [g.text for p, g in zip(PROMPTS, batch, strict=True) if isinstance(p, str)]
        assert len(set(plain)) == len(plain), plain  # or a mix-up could go unseen


def test_empty_batch_gives_empty_list(backend):
    assert backend.generate([], GREEDY) == []


def test_greedy_is_deterministic(backend):
    first = backend.generate(PROMPTS[:4], GREEDY)
    second = backend.generate(PROMPTS[:4], GREEDY)
    for a, b in zip(first, second, strict=True):
        assert_same_generation(a, b)


def test_seeded_sampling_replays(backend):
    sampling = SamplingParams(max_new_tokens=8, temperature=1.0, seed=1234)
    first = backend.generate(PROMPTS[:3], sampling)
    second = backend.generate(PROMPTS[:3], sampling)
    for a, b in zip(first, second, strict=True):
        assert a.ok
        assert_same_generation(a, b)
    if caps(backend).samples:
        other = backend.generate(PROMPTS[:3], sampling.with_(seed=99))
        assert [g.text for g in other] != [g.text for g in first]
        # A group of one prompt repeated (GRPO) gets different samples, not one copied.
        group = backend.generate(["hi"] * 4, sampling)
        assert len({g.text for g in group}) == 4


def test_max_new_tokens_is_respected(backend):
    short = backend.generate([KUHN, CHAT], GREEDY.with_(max_new_tokens=3))
    long = backend.generate([KUHN, CHAT], GREEDY.with_(max_new_tokens=8))
    for s, g in zip(short, long, strict=True):
        # The untrained model never ends these prompts' completions by itself within 8 tokens.
        assert s.finish_reason == g.finish_reason == "length"
        assert g.text.startswith(s.text) and len(g.text) > len(s.text)
        if caps(backend).token_ids:
            assert (s.num_tokens, g.num_tokens) == (3, 8)
        if "completion_tokens" in s.meta:
            assert (s.meta["completion_tokens"], g.meta["completion_tokens"]) == (3, 8)


def test_chat_and_plain_prompts_both_work(backend):
    chat, plain = backend.generate([CHAT, KUHN], GREEDY)
    assert chat.ok and plain.ok and chat.text and plain.text
    if caps(backend).token_ids:
        assert "<|im_start|>assistant\n" in chat.prompt_text  # the model's own chat template
        assert chat.prompt_text.endswith("<|im_start|>assistant\n")
        assert plain.prompt_text == KUHN
        assert chat.prompt_token_ids and plain.prompt_token_ids
    elif backend.endpoint == "completions":
        assert chat.prompt_text == render_plain_chat(CHAT)
        assert plain.prompt_text == KUHN


def test_empty_prompt_is_completed(backend):
    (g,) = backend.generate([""], GREEDY)
    if caps(backend).token_ids:
        assert g.ok and g.num_tokens == GREEDY.max_new_tokens
    else:  # a server may refuse an empty prompt; then it is an error record, not a crash
        assert g.ok or (g.text == "" and g.error)


def test_stop_strings_cut_the_text(backend):
    full = backend.generate([KUHN], GREEDY.with_(max_new_tokens=8))[0].text
    assert len(full) > 4
    # Single characters: they cannot straddle the end of the prompt (see the next test).
    stop = full[3]
    (g,) = backend.generate([KUHN], GREEDY.with_(max_new_tokens=8, stop=(stop,)))
    assert g.text == full[: full.index(stop) + 1]  # cut just after the stop string
    assert g.finish_reason == "stop"
    if caps(backend).token_ids:
        tokenizer = backend.tokenizer
        assert stop in tokenizer.decode(g.token_ids, skip_special_tokens=True)
        assert stop not in tokenizer.decode(g.token_ids[:-1], skip_special_tokens=True)
        if g.logprobs is not None:
            assert len(g.logprobs) == len(g.token_ids)
    # Of several stop strings, the one the generation meets first ends it.
    later, earlier = full[4], full[1]
    (g,) = backend.generate([KUHN], GREEDY.with_(max_new_tokens=8, stop=(later, earlier)))
    first_end = min(full.index(s) + 1 for s in (later, earlier))
    assert g.text == full[:first_end]


def test_stop_strings_match_the_completion_only(backend):
    """A stop string that would straddle the prompt's end does not end the completion."""
    if not caps(backend).stop_in_generated_text_only:
        pytest.skip(
            "transformers serve matches stop strings over prompt + completion "
            "(StopStringCriteria), so a stop straddling the prompt's end stops at once"
        )
    # KUHN ends in "chip" and the model continues " chip chip ...": "chip chip" appears across
    # the boundary after one token, and inside the completion only after two.
    full = backend.generate([KUHN], GREEDY.with_(max_new_tokens=8))[0].text
    assert full.startswith(" chip chip"), f"premise: the tiny model repeats 'chip', got {full!r}"
    (g,) = backend.generate([KUHN], GREEDY.with_(max_new_tokens=8, stop=("chip chip",)))
    assert g.text == " chip chip"
    assert g.finish_reason == "stop"
    # A chat template ends in "\n" and the model continues "\n\n...": the same straddle.
    (g,) = backend.generate([CHAT], GREEDY.with_(max_new_tokens=8, stop=("\n\n",)))
    assert g.text == "\n\n" and g.finish_reason == "stop"


def test_batch_with_a_stopped_row_keeps_tokens_and_text_aligned(backend):
    """A row that stops early while others go on is padded by generate(); none of it leaks."""
    if not caps(backend).token_ids:
        pytest.skip("this backend returns no token ids")
    full = backend.generate(["hi", KUHN], GREEDY.with_(max_new_tokens=8))
    assert "ch" not in full[0].text, f"premise: 'hi' does not meet the stop, got {full[0].text!r}"
    assert backend.tokenizer.decode(full[1].token_ids[:1]) == " chip", "premise: ' chip' first"
    stop = ("ch",)
    batch = backend.generate(["hi", KUHN], GREEDY.with_(max_new_tokens=8, stop=stop))
    assert batch[1].text == " ch" and batch[1].finish_reason == "stop"
    assert backend.tokenizer.decode(batch[1].token_ids) == " chip"
    assert len(batch[1].logprobs) == len(batch[1].token_ids) == 1
    assert batch[0].num_tokens == 8 and batch[0].finish_reason == "length"


def test_logprobs_one_per_token(backend):
    gens = backend.generate(PROMPTS, GREEDY)
    if caps(backend).logprobs:
        for g in gens:
            assert len(g.logprobs) == len(g.token_ids) == g.num_tokens > 0
            assert all(math.isfinite(x) and x <= 0 for x in g.logprobs)
    else:
        # transformers serve ignores `logprobs`: the backend must say "unknown", not invent.
        assert all(g.logprobs is None for g in gens)
    without = backend.generate(PROMPTS[:2], GREEDY.with_(logprobs=False))
    assert all(g.logprobs is None for g in without)
    assert [g.text for g in without] == [g.text for g in gens[:2]]


def test_generated_logprobs_equal_score_of_the_same_tokens(backend):
    if not (caps(backend).score and caps(backend).logprobs):
        pytest.skip("this backend cannot score or returns no log-probs")
    checked = 0
    for prompt, g in zip(PROMPTS, backend.generate(PROMPTS, GREEDY), strict=True):
        # score() re-tokenizes the text: compare only where that gives back the same tokens.
        if backend.tokenizer(g.text, add_special_tokens=False)["input_ids"] != g.token_ids:
            continue
        (value,) = backend.score([prompt], [[g.text]])[0]
        assert value == pytest.approx(sum(g.logprobs), abs=1e-3)
        checked += 1
    assert checked >= 4


def test_long_prompt_is_truncated_or_recorded_not_raised(backend):
    long = "[4] " * 3000  # 9000 tokens; the tiny model's context is 2048
    gens = backend.generate([long, "hi"], GREEDY.with_(max_new_tokens=4))
    assert len(gens) == 2
    assert (
        gens[1].ok
        and gens[1].text == backend.generate(["hi"], GREEDY.with_(max_new_tokens=4))[0].text
    )
    if caps(backend).truncates:
        assert gens[0].ok and gens[0].prompt_truncated and not gens[1].prompt_truncated
        assert len(gens[0].prompt_token_ids) == backend.max_context - 4
        assert gens[0].num_tokens == 4
    else:  # transformers serve answers 500: one error record, the batch's other item is fine
        assert not gens[0].ok and gens[0].text == "" and gens[0].error
    if caps(backend).score:
        (values,) = backend.score([long], [["[4]", "[5]"]])
        assert all(math.isfinite(v) and v < 0 for v in values)


# ---- scoring -----------------------------------------------------------------------------------


def test_score_shape_and_values(backend):
    candidates = [["[0]", "[4]", "[8]"], ["[check]", "[bet]"], ["x"]]
    prompts = [CHAT, KUHN, "hi"]
    if not caps(backend).score:
        with pytest.raises(UnsupportedCapability, match="prompt log-probabilities"):
            backend.score(prompts, candidates)
        # Found out once: the next call says so again without asking the server.
        with pytest.raises(UnsupportedCapability, match="cannot score"):
            backend.score(prompts, candidates)
        return
    scores = backend.score(prompts, candidates)
    assert [len(s) for s in scores] == [len(c) for c in candidates]
    assert all(isinstance(v, float) and math.isfinite(v) and v <= 0 for s in scores for v in s)
    assert backend.score(prompts, candidates) == scores  # deterministic
    assert backend.score([], []) == []
    assert backend.score(["hi", KUHN], [[], ["x"]])[0] == []
    assert backend.score(["hi"], [[""]]) == [[0.0]]  # nothing to predict, probability 1


def test_score_ranks_the_greedy_token_first(backend):
    if not caps(backend).score:
        pytest.skip("this backend cannot score")
    tokenizer = backend.tokenizer
    single = []  # texts that are exactly one token, whichever way they are encoded
    for token in range(3, len(tokenizer)):
        text = tokenizer.decode([token])
        if tokenizer(text, add_special_tokens=False)["input_ids"] == [token]:
            single.append((token, text))
    compared = 0
    for prompt in PROMPTS:
        (g,) = backend.generate([prompt], GREEDY.with_(max_new_tokens=1))
        first = g.token_ids[0]
        if (first, tokenizer.decode([first])) not in single:
            continue
        others = [text for token, text in single if token != first][:40]
        (values,) = backend.score([prompt], [[tokenizer.decode([first]), *others]])
        assert values[0] > max(values[1:])
        compared += 1
    assert compared >= 3


def test_score_rejects_malformed_candidates(backend):
    with pytest.raises(TypeError):
        backend.score(["hi"], ["[4]"])  # a list of strings, not one list per prompt
    with pytest.raises(ValueError, match="expected 2 candidate lists"):
        backend.score(["hi", KUHN], [["x"]])
    with pytest.raises(TypeError):
        backend.score(["hi"], [[4]])


# ---- malformed input ---------------------------------------------------------------------------

MALFORMED = {
    "bare str": "hello",
    "bare message": {"role": "user", "content": "hi"},
    "message without content": [[{"role": "user"}]],
    "content not a str": [[{"role": "user", "content": 4}]],
    "empty chat": [[]],
    "int prompt": [42],
    "bytes prompt": [b"hi"],
}


@pytest.mark.parametrize("prompts", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_prompts_raise_type_error(backend, prompts):
    with pytest.raises(TypeError, match="expected"):
        backend.generate(prompts, GREEDY)
    with pytest.raises(TypeError, match="expected"):
        backend.score(prompts, [["x"]])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", -0.5),
        ("temperature", float("nan")),
        ("top_p", 0),
        ("top_p", 1.5),
        ("max_new_tokens", 0),
        ("max_new_tokens", -3),
        ("top_k", -1),
        ("stop", ("",)),
    ],
)
def test_sampling_params_validation(field, value):
    with pytest.raises(ValueError, match="expected"):
        SamplingParams(**{field: value})


def test_sampling_params_types():
    with pytest.raises(TypeError, match="max_new_tokens"):
        SamplingParams(max_new_tokens=2.5)
    with pytest.raises(TypeError, match="seed"):
        SamplingParams(seed="7")
    assert SamplingParams(stop="\n").stop == ("\n",)
    assert SamplingParams(temperature=0).greedy and not SamplingParams().greedy


# ---- backend-specific checks -------------------------------------------------------------------


def test_http_and_transformers_agree_on_greedy_text(
    transformers_backend, http_backend, http_completions_backend
):
    """One model behind two backends reads the same tokens: same template, same tokenizer."""
    plain = [p for p in PROMPTS if isinstance(p, str)]
    chats = [p for p in PROMPTS if not isinstance(p, str)]
    local = [g.text for g in transformers_backend.generate(plain + chats, GREEDY)]
    served = [g.text for g in http_completions_backend.generate(plain, GREEDY)]
    served += [g.text for g in http_backend.generate(chats, GREEDY)]
    assert served == local


def test_transformers_score_equals_a_plain_forward_pass(transformers_backend, monkeypatch):
    """The KV-cache-sharing scorer gives what scoring each full sequence from scratch gives."""
    import torch

    backend = transformers_backend
    monkeypatch.setattr(backend, "max_batch_size", 3)  # several candidate batches
    candidates = ["[0]", "[4]", "hello world", "", "x", "[Offer: 3 Wood -> 2 Gold]", " chip chip"]
    for prompt in (CHAT, KUHN):
        (values,) = backend.score([prompt], [candidates])
        prompt_ids = backend._encode(prompt)
        for candidate, value in zip(candidates, values, strict=True):
            ids = backend.tokenizer(candidate, add_special_tokens=False)["input_ids"]
            with torch.inference_mode():
                logits = backend.model(torch.tensor([prompt_ids + ids])).logits[0].float()
            logp = torch.log_softmax(logits, dim=-1)
            naive = sum(float(logp[len(prompt_ids) - 1 + k, t]) for k, t in enumerate(ids))
            assert value == pytest.approx(naive, abs=1e-4), candidate


def test_transformers_batches_split_by_max_batch_size(transformers_backend, monkeypatch):
    whole = transformers_backend.generate(PROMPTS, GREEDY)
    monkeypatch.setattr(transformers_backend, "max_batch_size", 2)
    split = transformers_backend.generate(PROMPTS, GREEDY)
    for a, b in zip(whole, split, strict=True):
        assert_same_generation(a, b)
    # Sampling a group larger than a batch: every chunk draws fresh samples.
    group = transformers_backend.generate(
        ["hi"] * 6, SamplingParams(max_new_tokens=8, temperature=1.0, seed=5)
    )
    assert len({g.text for g in group}) == 6


def test_transformers_sampling_leaves_the_global_rng_alone(transformers_backend):
    import torch

    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    transformers_backend.generate(["hi"], SamplingParams(max_new_tokens=4, temperature=1.0))
    assert torch.equal(torch.rand(3), expected)


def test_transformers_unseeded_calls_differ_but_replay_from_the_backend_seed(tiny_model_path):
    from selfplay_gym.llm.transformers_backend import TransformersBackend

    sampling = SamplingParams(max_new_tokens=8, temperature=1.0)
    runs = []
    for _ in range(2):
        backend = TransformersBackend(tiny_model_path, device="cpu", seed=7)
        runs.append([backend.generate(["hi"], sampling)[0].text for _ in range(2)])
    assert runs[0] == runs[1]  # same backend seed, same stream
    assert runs[0][0] != runs[0][1]  # successive calls draw fresh seeds
