from __future__ import annotations

import subprocess
import sys

import gymnasium
import pettingzoo
import pytest
from gymnasium.error import NameNotFound, VersionNotFound

import selfplay_gym
from selfplay_gym.core.bots import Bot, RandomBot
from selfplay_gym.registry import SelfPlaySpec, resolve_opponent
from selfplay_gym.wrappers import NumericView, SelfPlayView
from selfplay_gym.wrappers.parallel_view import ParallelSelfPlayView

IDS = [s.id for s in selfplay_gym.ENV_SPECS]


@pytest.mark.parametrize("env_id", IDS)
def test_every_id_is_registered_with_gymnasium_and_pettingzoo(env_id):
    assert env_id in gymnasium.registry
    kind = selfplay_gym.spec(env_id).kind
    multi = pettingzoo.make(kind, env_id)
    assert type(multi) is type(selfplay_gym.make(env_id))
    view = gymnasium.make(env_id)
    assert isinstance(view.unwrapped, SelfPlayView if kind == "aec" else ParallelSelfPlayView)
    assert view.unwrapped.learner == multi.possible_agents[0]


def test_spec_defaults_are_the_papers_constants():
    kuhn = selfplay_gym.make("selfplay/KuhnPoker-v0")
    assert (kuhn.num_hands, kuhn.ante) == (5, 1)
    nego = selfplay_gym.make("selfplay/SimpleNegotiation-v0")
    assert nego.max_rounds == 10 and nego.values == ((5, 15), (15, 5)) and nego.start == (10, 10)
    for env_id in IDS:
        env = selfplay_gym.make(env_id)
        if not env.move_names:  # free-text envs have their own rules for invalid replies
            continue
        policy = env.invalid_move
        assert (policy.mode, policy.offender_reward, policy.opponent_reward) == (
            "forfeit",
            -1.5,
            0.5,
        )


def test_keywords_override_the_defaults_in_every_make():
    assert selfplay_gym.make("selfplay/KuhnPoker-v0", num_hands=3).num_hands == 3
    assert pettingzoo.make("aec", "selfplay/KuhnPoker-v0", num_hands=2).num_hands == 2
    env = gymnasium.make("selfplay/KuhnPoker-v0", num_hands=1, invalid_move="retry")
    assert env.unwrapped.aec_env.num_hands == 1
    assert env.unwrapped.aec_env.invalid_move.mode == "retry"


@pytest.mark.parametrize(
    ("wrong", "error", "suggestion"),
    [
        ("selfplay/TicTacToo-v0", NameNotFound, "selfplay/TicTacToe-v0"),
        ("selfplay/tictactoe-v0", NameNotFound, "selfplay/TicTacToe-v0"),
        ("selfplay/KuhnPoker-v1", VersionNotFound, "selfplay/KuhnPoker-v0"),
        ("selfplay/SimpleNegociation-v0", NameNotFound, "selfplay/SimpleNegotiation-v0"),
    ],
)
def test_unknown_ids_suggest_the_closest(wrong, error, suggestion):
    with pytest.raises(error, match=suggestion):
        selfplay_gym.make(wrong)


def test_gymnasium_suggests_our_ids_too():
    with pytest.raises(gymnasium.error.Error, match="TicTacToe"):
        gymnasium.make("selfplay/TicTacToo-v0")


def test_bad_spec_ids_are_rejected():
    with pytest.raises(ValueError, match="PascalCase"):
        SelfPlaySpec(id="selfplay/tic_tac_toe", entry_point="x:y")
    with pytest.raises(ValueError, match="kind"):
        SelfPlaySpec(id="selfplay/Game-v0", entry_point="x:y", kind="vector")


def test_opponents_resolve_by_name_bot_or_callable():
    assert isinstance(resolve_opponent("selfplay/TicTacToe-v0", None), RandomBot)
    strong = resolve_opponent("selfplay/TicTacToe-v0", "strong")
    assert isinstance(strong, Bot) and type(strong).__name__ == "PerfectTicTacToeBot"

    def policy(observation, info):
        return info["legal_actions"][0]

    assert resolve_opponent("selfplay/TicTacToe-v0", policy) is policy
    with pytest.raises(ValueError, match=r"expected one of \['random', 'strong', 'tactical'\]"):
        resolve_opponent("selfplay/TicTacToe-v0", "grandmaster")
    with pytest.raises(TypeError, match="got int"):
        resolve_opponent("selfplay/TicTacToe-v0", 3)


def test_numeric_keyword_gives_the_numeric_view():
    env = gymnasium.make("selfplay/TicTacToe-v0", numeric=True)
    inner = env
    while not isinstance(inner, NumericView):
        inner = inner.env
    assert env.action_space == gymnasium.spaces.Discrete(9)


def test_spec_says_which_ids_have_a_numeric_view():
    assert selfplay_gym.spec("selfplay/KuhnPoker-v0").numeric
    assert not selfplay_gym.spec("selfplay/SearchQA-v0").numeric
    with pytest.raises(TypeError, match="no finite move set"):
        gymnasium.make("selfplay/SearchQA-v0", numeric=True)


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_module_prefixed_id_works_without_importing_the_package():
    proc = _run(
        "import gymnasium; env = gymnasium.make('selfplay_gym:selfplay/KuhnPoker-v0', first_opener=0); "
        "print(env.reset(seed=0)[1]['legal_actions'])"
    )
    assert proc.returncode == 0, proc.stderr
    assert "['[check]', '[bet]']" in proc.stdout


def test_import_is_light():
    proc = _run(
        "import sys, selfplay_gym, selfplay_gym.envs.text_games, selfplay_gym.wrappers; "
        "heavy = [m for m in ('torch', 'mujoco', 'transformers', 'textarena', 'ray') if m in sys.modules]; "
        "print(heavy)"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_random_bot_draws_numeric_actions_from_its_own_seeded_generator():
    import gymnasium.spaces as spaces
    import numpy as np

    class Numeric:
        move_names = ()

        def __init__(self, space):
            self.space = space

        def action_space(self, agent):
            return self.space

    for space in (
        spaces.Box(-1, 1, (4,)),
        spaces.Discrete(3, start=2),
        spaces.MultiDiscrete([6, 3, 4]),
    ):
        env = Numeric(space)
        first = [RandomBot(seed=7).act(env, "a") for _ in range(2)]
        bot = RandomBot(seed=7)
        draws = [bot.act(env, "a") for _ in range(50)]
        assert all(space.contains(np.asarray(d, dtype=space.dtype)) for d in draws)
        assert np.array_equal(first[0], draws[0]) and np.array_equal(first[0], first[1])
        assert len({np.asarray(d).tobytes() for d in draws}) > 1
    with pytest.raises(ValueError, match="no finite move set"):
        RandomBot(seed=0).act(Numeric(spaces.Box(-np.inf, np.inf, (2,))), "a")
