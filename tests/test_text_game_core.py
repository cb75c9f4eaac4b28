"""The base class's own guarantees, beyond what the conformance suite checks per id."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import selfplay_gym
from selfplay_gym.core.text_game import TurnBasedTextEnv


def test_envs_with_different_move_sets_do_not_share_legal_tables():
    # Two negotiation envs in one process, with different numeric move sets and the same inventory.
    big = selfplay_gym.make("selfplay/SimpleNegotiation-v0", start=(0, 0), max_quantity=20)
    small = selfplay_gym.make("selfplay/SimpleNegotiation-v0", start=(0, 0), max_quantity=3)
    for env, n in ((big, 803), (small, 21)):
        env.reset(seed=0)
        info = env.last()[4]
        assert info["action_mask"].shape == (n,)
        assert env.action_space("player_0").sample(info["action_mask"]) in info["legal_actions"]


def test_masks_are_read_only_and_stay_so_after_pickling():
    env = selfplay_gym.make("selfplay/TicTacToe-v0")
    env.reset(seed=0)
    env.step("[4]")
    for copy in (env, pickle.loads(pickle.dumps(env))):
        for info in copy.infos.values():
            with pytest.raises(ValueError, match="read-only"):
                info["action_mask"][0] = 1
        copy.step("[0]")
        mover = copy.agent_selection
        assert copy.last()[4]["action_mask"].tolist() == [0, 1, 1, 1, 0, 1, 1, 1, 1]
        assert mover == "player_0"


def test_infos_returned_on_different_steps_share_no_mutable_dicts():
    env = selfplay_gym.make("selfplay/KuhnPoker-v0")
    env.reset(seed=0)
    first = env.infos["player_1"]
    env.step("[check]")
    second = env.infos["player_1"]
    assert first["parse"] is not second["parse"]
    assert first["reward_components"] is not second["reward_components"]


def test_small_prompt_caps_keep_the_position_and_drop_the_oldest_history():
    with pytest.raises(ValueError, match="max_observation_chars >= 1024"):
        selfplay_gym.make("selfplay/TicTacToe-v0", max_observation_chars=300)
    env = selfplay_gym.make(
        "selfplay/KuhnPoker-v0", max_observation_chars=1024, num_hands=40, max_turns=500
    )
    env.reset(seed=0)
    for _ in range(60):
        env.step(env.last()[4]["legal_actions"][0])
    observation = env.observe(env.agent_selection)
    assert len(observation) <= 1024
    assert observation.rstrip().endswith("Legal moves: [check], [bet]")
    assert "earlier lines omitted" in observation
    assert "Hand 1 of 40" not in observation  # the oldest hands went first


def test_history_lines_keeps_the_newest_moves_or_only_the_position():
    def prompt(**kwargs):
        env = selfplay_gym.make("selfplay/TicTacToe-v0", **kwargs)
        env.reset(seed=0)
        for move in ("[4]", "[0]", "[8]"):
            env.step(move)
        return env.observe("player_1"), env.infos["player_1"]["messages"][-1]["content"]

    full, _ = prompt()
    assert all(f"takes cell {c}." in full for c in (4, 0, 8))
    two, _ = prompt(history_lines=2)
    assert "(1 earlier lines omitted)" in two and "takes cell 4." not in two
    assert "player_1 (O) takes cell 0." in two and "player_0 (X) takes cell 8." in two
    none, user = prompt(history_lines=0)
    assert "takes cell" not in none and "no moves yet" not in none
    # The position and the legal moves are all that is left of the user's part.
    assert user.startswith("Board:\n O | 1 | 2") and user.endswith(
        "Legal moves: [1], [2], [3], [5], [6], [7]"
    )
    assert full.endswith(user) and none.endswith(user)
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="history_lines"):
            selfplay_gym.make("selfplay/TicTacToe-v0", history_lines=bad)


def test_a_system_prompt_template_replaces_the_rules_per_player():
    template = "Tic-tac-toe. You are {agent}, {mark} against {opponent_mark}. Answer like {{[4]}}."
    env = selfplay_gym.make("selfplay/TicTacToe-v0", system_prompt=template)
    env.reset(seed=0)
    env.step("[4]")
    system = env.infos["player_1"]["messages"][0]["content"]
    assert system == "Tic-tac-toe. You are player_1, O against X. Answer like {[4]}."
    prompt = env.observe("player_1")
    assert prompt.startswith(system) and "Three of your marks" not in prompt
    assert prompt.endswith("Legal moves: [0], [1], [2], [3], [5], [6], [7], [8]")
    env.reset(seed=1)
    assert env.observe("player_0").startswith("Tic-tac-toe. You are player_0, X against O.")
    # Fields the game does not fill are refused when the env is made, not at the first prompt.
    for bad, match in (
        ("You hold {card}.", "field {card}"),
        ("{}", "field {}"),
        ("{mark", "template"),
        ("{mark:>{width}}", "field {width}"),  # a field nested in a format spec
    ):
        with pytest.raises(ValueError, match=match):
            selfplay_gym.make("selfplay/TicTacToe-v0", system_prompt=bad)
    with pytest.raises(ValueError, match="field {mark}"):
        selfplay_gym.make("selfplay/KuhnPoker-v0", system_prompt="You play {mark}.")


def test_the_invalid_move_policy_is_fixed_at_construction():
    env = selfplay_gym.make(
        "selfplay/TicTacToe-v0", invalid_move={"mode": "retry", "retry_budget": 1}
    )
    with pytest.raises(AttributeError):
        env.invalid_move = "forfeit"
    env.reset(seed=0)
    assert "after 1 failed" in env.observe("player_0")


def test_state_tensors_stay_in_their_space_for_other_constants():
    env = selfplay_gym.make("selfplay/KuhnPoker-v0", ante=3, num_hands=1)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    while env.agents:
        agent = env.agent_selection
        _, _, term, trunc, info = env.last()
        assert env.state_space.contains(env.state_tensor(agent))
        env.step(None if term or trunc else int(rng.choice(np.flatnonzero(info["action_mask"]))))


def test_the_legal_table_cache_is_bounded(monkeypatch):
    from selfplay_gym.core import text_game

    monkeypatch.setattr(text_game, "LEGAL_CACHE_LIMIT", 8)
    env = selfplay_gym.make("selfplay/SimpleNegotiation-v0", start=(50, 50), max_quantity=5)
    rng = np.random.default_rng(0)
    for seed in range(30):
        env.reset(seed=seed)
        while env.agents:
            _, _, term, trunc, info = env.last()
            env.step(
                None if term or trunc else int(rng.choice(np.flatnonzero(info["action_mask"])))
            )
            assert len(env._legal_table_cache) <= 8


def test_using_an_env_before_reset_or_after_the_game_gives_a_clear_error():
    env = selfplay_gym.make("selfplay/TicTacToe-v0")
    for call in (lambda: env.step("[4]"), env.last, lambda: env.observe("player_0")):
        with pytest.raises(RuntimeError, match=r"reset\(\)"):
            call()
    env.reset(seed=0)
    for move in ("[0]", "[3]", "[1]", "[4]", "[2]", None, None):
        env.step(move)
    assert env.agents == []
    with pytest.raises(RuntimeError, match=r"reset\(\)"):
        env.step(None)


TEXT_GAME_IDS = [
    s.id
    for s in selfplay_gym.ENV_SPECS
    if issubclass(selfplay_gym.registry.load_entry_point(s.entry_point), TurnBasedTextEnv)
]


@pytest.mark.parametrize("env_id", TEXT_GAME_IDS)
def test_at_the_smallest_cap_the_whole_position_stays_in_the_prompt(env_id):
    env = selfplay_gym.make(env_id, max_observation_chars=1024)
    env.reset(seed=0)
    agent = env.agent_selection
    observation = env.observe(agent)
    assert len(observation) <= 1024
    assert observation.endswith(env._state_text(agent))


class _Prompt(str):
    """A str subclass, as some tokenizer or templating libraries return."""


def test_str_subclasses_are_read_like_str():
    env = selfplay_gym.make("selfplay/TicTacToe-v0")
    env.reset(seed=0)
    env.step(_Prompt("\\boxed{[4]}"))
    assert env.infos["player_0"]["parse"] == {"ok": True, "extracted": "[4]", "error": None}
