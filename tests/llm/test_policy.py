"""LLMPolicy: a language model as a player of the registered games, and load_policy specs."""

from __future__ import annotations

import pickle
from collections.abc import Sequence

import pytest

from selfplay_gym.core.arena import play_match
from selfplay_gym.llm import (
    Backend,
    Generation,
    LLMPolicy,
    OpenAIBackend,
    SamplingParams,
    load_backend,
    load_policy,
)
from selfplay_gym.registry import make

GAMES = ("selfplay/TicTacToe-v0", "selfplay/KuhnPoker-v0", "selfplay/SimpleNegotiation-v0")
SHORT = SamplingParams(max_new_tokens=8, temperature=0)


class RecordingBackend(Backend):
    """Answers every prompt with ``answer`` and scores candidates from ``values``."""

    name = "recording"

    def __init__(self, answer: str = "[4]", values: dict[str, float] | None = None):
        self.answer = answer
        self.values = values or {}
        self.prompts: list = []
        self.samplings: list = []

    def generate(self, prompts: Sequence, sampling: SamplingParams | None = None):
        self.prompts += list(prompts)
        self.samplings.append(sampling)
        return [Generation(text=self.answer) for _ in prompts]

    def score(self, prompts, candidates):
        self.prompts += list(prompts)
        return [[self.values.get(c, -10.0) for c in cands] for cands in candidates]


def first_turn(env_id: str) -> tuple[str, dict]:
    env = make(env_id)
    env.reset(seed=0)
    agent = env.agent_selection
    return env.observe(agent), env.infos[agent]


# ---- playing -----------------------------------------------------------------------------------


def test_policy_plays_full_games_as_an_opponent(transformers_backend):
    policy = LLMPolicy(transformers_backend, sampling=SHORT, name="tiny")
    result = play_match("selfplay/TicTacToe-v0", [policy, "random"], games=4)
    assert result.num_games == 4
    assert [p.games for p in result.players] == [4, 4]
    lm = result.players[0]
    assert lm.wins + lm.draws + lm.losses == 4
    # An untrained model writes noise; every such move is the env's business (an invalid move),
    # never an exception.
    assert 0 <= lm.invalid_moves <= 4


@pytest.mark.parametrize("env_id", GAMES)
def test_score_mode_plays_only_legal_moves(transformers_backend, env_id):
    policy = LLMPolicy(transformers_backend, mode="score", sampling=SamplingParams(temperature=0))
    games = 2 if "Negotiation" in env_id else 3  # 401 legal offers a turn: the slow one
    result = play_match(env_id, [policy, "random"], games=games)
    assert result.num_games == games
    assert result.players[0].invalid_moves == 0
    assert sum(r.steps for r in result.records) > 2


def test_score_mode_samples_by_temperature_reproducibly(transformers_backend):
    observation, info = first_turn("selfplay/TicTacToe-v0")
    hot = SamplingParams(temperature=5.0)
    picks = []
    for _ in range(2):
        policy = LLMPolicy(transformers_backend, mode="score", sampling=hot, seed=3)
        picks.append([policy(observation, info) for _ in range(12)])
    assert picks[0] == picks[1]  # same seed, same moves
    assert set(picks[0]) <= set(info["legal_actions"])
    assert len(set(picks[0])) > 1  # a hot softmax over nine near-equal moves varies


def test_score_mode_picks_the_most_likely_move_at_temperature_zero():
    backend = RecordingBackend(values={"[3]": -1.0, "[4]": -0.5, "[5]": -2.0})
    policy = LLMPolicy(backend, mode="score", sampling=SamplingParams(temperature=0))
    info = {"legal_actions": ["[3]", "[4]", "[5]"], "messages": []}
    assert policy.act(["obs", "obs"], [info, {"legal_actions": []}]) == ["[4]", ""]
    assert policy("obs", None) == ""  # no legal moves known: an empty move


def test_act_batches_observations_in_one_call(transformers_backend):
    observations, infos = zip(*(first_turn(g) for g in GAMES), strict=True)
    policy = LLMPolicy(transformers_backend, sampling=SHORT)
    gens = policy.generate(list(observations), list(infos))
    assert len(gens) == 3 and all(g.ok and g.token_ids and g.logprobs for g in gens)
    assert policy.act(list(observations), list(infos)) == [g.text for g in gens]


def test_policy_over_http_plays_a_game(http_backend):
    policy = LLMPolicy(http_backend, sampling=SHORT)
    result = play_match("selfplay/KuhnPoker-v0", [policy, "random"], games=2)
    assert result.num_games == 2


# ---- prompts -----------------------------------------------------------------------------------


def test_system_prompt_is_merged_into_the_env_system_message():
    observation, info = first_turn("selfplay/TicTacToe-v0")
    rules = info["messages"][0]["content"]
    assert info["messages"][0]["role"] == "system"
    backend = RecordingBackend()
    policy = LLMPolicy(backend, system_prompt="Answer with one move in brackets.")
    assert policy(observation, info) == "[4]"
    (sent,) = backend.prompts
    assert [m["role"] for m in sent] == [m["role"] for m in info["messages"]]
    assert sent[0]["content"] == f"Answer with one move in brackets.\n\n{rules}"
    assert sent[1:] == info["messages"][1:]
    assert info["messages"][0]["content"] == rules  # the env's info is left untouched


def test_system_prompt_is_added_when_there_is_no_system_message():
    policy = LLMPolicy(RecordingBackend(), system_prompt="Be brief.")
    messages = [{"role": "user", "content": "your move"}]
    assert policy.prompt("your move", {"messages": messages}) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "your move"},
    ]
    # No messages in the info: the observation becomes the user message.
    assert policy.prompt("board", None) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "board"},
    ]


def test_chat_false_sends_the_observation_string():
    observation, info = first_turn("selfplay/KuhnPoker-v0")
    backend = RecordingBackend()
    LLMPolicy(backend, chat=False)(observation, info)
    LLMPolicy(backend, chat=False, system_prompt="Be brief.")(observation, info)
    assert backend.prompts == [observation, f"Be brief.\n\n{observation}"]


def test_policy_passes_its_sampling_settings():
    backend = RecordingBackend()
    sampling = SamplingParams(max_new_tokens=3, temperature=0.5, seed=4)
    policy = LLMPolicy(backend, sampling=sampling)
    policy.act(["a"])
    policy.generate(["b"], sampling=SHORT)
    assert backend.samplings == [sampling, SHORT]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"mode": "best"}, ValueError),
        ({"system_prompt": 3}, TypeError),
    ],
)
def test_policy_argument_validation(kwargs, error):
    with pytest.raises(error):
        LLMPolicy(RecordingBackend(), **kwargs)


def test_policy_needs_a_backend():
    with pytest.raises(TypeError, match="expected a Backend"):
        LLMPolicy("hf:/models/tiny")


def test_policy_rejects_malformed_observations():
    policy = LLMPolicy(RecordingBackend())
    with pytest.raises(TypeError):
        policy.act("one str, not a list")
    with pytest.raises(TypeError):
        policy(42, {})
    with pytest.raises(ValueError, match="expected 2 infos"):
        policy.act(["a", "b"], [{}])


# ---- failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["generate", "score"])
def test_failed_backend_becomes_an_invalid_move_not_an_exception(dead_url, mode):
    backend = OpenAIBackend(dead_url, "tiny", max_retries=0, timeout=2)
    policy = LLMPolicy(backend, mode=mode)
    observation, info = first_turn("selfplay/TicTacToe-v0")
    assert policy(observation, info) == ""
    assert "talking to" in policy.last_error
    result = play_match("selfplay/TicTacToe-v0", [policy, "random"], games=2)
    # Forfeit (TicTacToe's default) ends each game at the policy's first empty move.
    assert result.players[0].invalid_moves == 2
    assert result.players[0].losses == 2


def test_policy_over_http_pickles(dead_url):
    policy = LLMPolicy(OpenAIBackend(dead_url, "tiny", max_retries=0), mode="score", seed=1)
    copy = pickle.loads(pickle.dumps(policy))
    assert copy.name == policy.name and copy.backend.base_url == policy.backend.base_url


# ---- specs -------------------------------------------------------------------------------------


def test_load_policy_hf(tiny_model_path):
    from selfplay_gym.llm.transformers_backend import TransformersBackend

    spec = f"hf:{tiny_model_path}"
    policy = load_policy(spec, policy_kwargs={"mode": "score"}, max_batch_size=4)
    assert isinstance(policy.backend, TransformersBackend)
    assert policy.backend.model_name == str(tiny_model_path)
    assert policy.backend.max_batch_size == 4
    assert (policy.name, policy.mode) == (spec, "score")
    observation, info = first_turn("selfplay/TicTacToe-v0")
    assert policy(observation, info) in info["legal_actions"]


def test_load_policy_openai():
    policy = load_policy("openai:http://127.0.0.1:8000/v1#Qwen/Qwen3-4B", timeout=5.0)
    backend = policy.backend
    assert isinstance(backend, OpenAIBackend)
    assert (backend.base_url, backend.model, backend.timeout) == (
        "http://127.0.0.1:8000/v1",
        "Qwen/Qwen3-4B",
        5.0,
    )
    assert policy.name == "openai:http://127.0.0.1:8000/v1#Qwen/Qwen3-4B"
    default = load_backend("openai:http://10.0.0.2:30000")
    assert (default.base_url, default.model) == ("http://10.0.0.2:30000/v1", "default")


def test_load_backend_vllm_names_its_extra():
    pytest.importorskip("torch")
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"selfplay-gym\[vllm\]"):
            load_backend("vllm:/models/tiny")
    else:
        pytest.skip("vllm is installed: loading would start an engine")


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "tiny",
        "hf:",
        "vllm:",
        "openai:",
        "ollama:llama3",
        "openai:#model",
        "openai:ftp://x#m",
        7,
    ],
)
def test_bad_specs_raise_value_error(spec):
    with pytest.raises(ValueError):
        load_policy(spec)


def test_score_mode_sampling_survives_infinite_scores():
    from selfplay_gym.llm import Backend, LLMPolicy, SamplingParams

    class Hopeless(Backend):
        name = "hopeless"

        def generate(self, prompts, sampling=None):
            raise AssertionError("not used")

        def score(self, prompts, candidates):
            return [[float("-inf")] * len(c) for c in candidates]

    policy = LLMPolicy(Hopeless(), mode="score", sampling=SamplingParams(temperature=1.0))
    moves = policy.act(["obs"] * 20, [{"legal_actions": ["[a]", "[b]"]}] * 20)
    assert set(moves) <= {"[a]", "[b]"} and len(moves) == 20
