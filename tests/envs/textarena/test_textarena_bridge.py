"""The TextArena bridge: what it fixes in TextArena, shown against TextArena itself where it can be."""

from __future__ import annotations

import pickle
import random

import gymnasium
import numpy as np
import pytest

pytest.importorskip("textarena")

import selfplay_gym  # noqa: E402
from selfplay_gym.envs.textarena import ListedMoveBot, TextArenaEnv  # noqa: E402
from selfplay_gym.envs.textarena.catalog import (  # noqa: E402
    BY_TEXTARENA_ID,
    GAMES,
    construct_raw,
    selfplay_id,
)
from selfplay_gym.registry import TEXTARENA_SPECS  # noqa: E402


def play(env, seed: int, bot_seed: int, steps: int = 200, between=None):
    """Bot moves from reset(seed); the (agent, prompt, reward) seen at every step."""
    bot = ListedMoveBot(seed=bot_seed)
    env.reset(seed=seed)
    seen = []
    for _ in range(steps):
        if between is not None:
            between()
        if not env.agents:
            break
        agent = env.agent_selection
        obs, reward, term, trunc, _ = env.last()
        seen.append((agent, obs, reward))
        env.step(None if term or trunc else bot.act(env, agent))
    return seen


# ---- ids -------------------------------------------------------------------------------------
def test_every_textarena_id_is_registered_under_the_mapped_name():
    ids = {s.id for s in TEXTARENA_SPECS}
    assert len(ids) == len(GAMES) > 200
    assert selfplay_id("TicTacToe-v0") == "selfplay/TextArenaTicTacToe-v0"
    assert selfplay_id("KuhnPoker-v0-short") == "selfplay/TextArenaKuhnPokerShort-v0"
    assert selfplay_id("Taboo-v0-city/country") == "selfplay/TextArenaTabooCityCountry-v0"
    assert selfplay_id("2048-v0-3x3") == "selfplay/TextArena20483x3-v0"
    assert {g.id for g in GAMES} == ids
    for s in TEXTARENA_SPECS:
        assert s.id in gymnasium.registry and selfplay_gym.spec(s.id) is s
        assert s.family == "textarena"
    # only the named games are in the main conformance suite's table
    in_suite = {s.id for s in selfplay_gym.ENV_SPECS if s.family == "textarena"}
    assert in_suite == {
        "selfplay/TextArenaTicTacToe-v0",
        "selfplay/TextArenaKuhnPoker-v0",
        "selfplay/TextArenaConnectFour-v0",
        "selfplay/TextArenaNim-v0",
        "selfplay/TextArenaSimpleNegotiation-v0",
    }


def test_the_catalog_knows_player_counts_without_importing_textarena():
    import subprocess
    import sys

    code = (
        "import sys, selfplay_gym; "
        "s = selfplay_gym.spec('selfplay/TextArenaLiarsDice-v0'); "
        "assert 'textarena' not in sys.modules; print(s.summary)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "(2-15 players)" in out.stdout
    assert BY_TEXTARENA_ID["TicTacToe-v0"].players == (2,)


def test_a_variant_id_makes_its_textarena_game():
    env = selfplay_gym.make("selfplay/TextArenaKuhnPokerShort-v0")
    env.reset(seed=0)
    assert env.game_id == "KuhnPoker-v0-short"
    assert "Kuhn Poker" in env.observe(env.agent_selection)


# ---- randomness ------------------------------------------------------------------------------
def test_textarena_itself_leaks_randomness_between_envs_and_into_the_global_state():
    """The bug the bridge fixes: TextArena seeds and draws from the global ``random``."""

    def deals(interleave: bool) -> list[str]:
        a, b = construct_raw("KuhnPoker-v0"), construct_raw("KuhnPoker-v0")
        a.reset(num_players=2, seed=1)
        out = []
        for i in range(6):
            if interleave:
                b.reset(num_players=2, seed=100 + i)
            a.reset(num_players=2, seed=None)  # later games draw from the global state
            out.append(repr(a.state.game_state["player_cards"]))
        return out

    random.seed(5)
    before = random.getstate()
    assert deals(False) != deals(True)
    assert random.getstate() != before


def test_two_interleaved_bridged_envs_are_independent_and_replay_byte_for_byte():
    random.seed(11)
    np.random.seed(11)
    py_state, np_state = random.getstate(), np.random.get_state()[1].copy()
    alone = play(TextArenaEnv("KuhnPoker-v0"), seed=3, bot_seed=4)
    other, other_bot = TextArenaEnv("KuhnPoker-v0"), ListedMoveBot(seed=9)
    other.reset(seed=77)

    def disturb():
        if not other.agents:
            other.reset()
            return
        agent = other.agent_selection
        done = other.terminations[agent] or other.truncations[agent]
        other.step(None if done else other_bot.act(other, agent))

    interleaved = play(TextArenaEnv("KuhnPoker-v0"), seed=3, bot_seed=4, between=disturb)
    assert interleaved == alone  # prompts compared byte for byte
    assert random.getstate() == py_state
    assert np.array_equal(np.random.get_state()[1], np_state)
    # and the seed matters: another seed deals other cards
    assert play(TextArenaEnv("KuhnPoker-v0"), seed=4, bot_seed=4) != alone


def test_unseeded_resets_continue_the_seeded_stream():
    a, b = TextArenaEnv("KuhnPoker-v0"), TextArenaEnv("KuhnPoker-v0")
    a.reset(seed=2)
    b.reset(seed=2)
    for _ in range(5):
        a.reset()
        b.reset()
        assert a.observe(a.agent_selection) == b.observe(b.agent_selection)


# ---- prompts ---------------------------------------------------------------------------------
def test_first_prompt_stays_flat_over_1000_episodes():
    env = TextArenaEnv("TicTacToe-v0")
    bot = ListedMoveBot(seed=0)
    lengths = []
    env.reset(seed=0)
    for _ in range(1000):
        lengths.append(len(env.observe(env.agent_selection)))
        while env.agents:
            agent = env.agent_selection
            done = env.terminations[agent] or env.truncations[agent]
            env.step(None if done else bot.act(env, agent))
        env.reset()
    assert len(set(lengths)) == 1, f"first prompt lengths {sorted(set(lengths))}"


def test_textarena_own_wrapper_grows_the_first_prompt_across_resets():
    """The bug the bridge fixes: LLMObservationWrapper keeps its history across resets."""
    import textarena as ta

    env = ta.make("TicTacToe-v0")
    sizes = []
    for seed in range(3):
        env.reset(num_players=2, seed=seed)
        sizes.append(len(env.get_observation()[1]))
    assert sizes[0] < sizes[1] < sizes[2]


@pytest.mark.parametrize(
    ("game_id", "mode"), [("SimpleNegotiation-v0", "full"), ("TicTacToe-v0", "moves")]
)
def test_a_megabyte_reply_reaches_the_opponent_capped_and_attributed(game_id, mode):
    env = TextArenaEnv(game_id, max_message_chars=500)
    assert env.opponent_text == mode
    env.reset(seed=0)
    actor = env.agent_selection
    other = next(a for a in env.agents if a != actor)
    env.step("y" * 1_000_000 + " I resign, trust me. [4]")
    seen = env.observe(other)
    assert len(seen) < 6_000
    if mode == "full":  # the game gets the last 1000 characters; 500 of them are shown, marked
        assert f"[{actor} says] " + "y" * 500 + " [... 500 more characters cut]" in seen
        assert "resign" not in seen
    else:  # board games: other players see only the moves of a reply
        assert "resign" not in seen and f"[{actor}] played [4]" in seen


def test_answer_span_and_formatting_reach_textarena():
    env = TextArenaEnv("TicTacToe-v0")
    env.reset(seed=0)
    # TextArena alone would take the first bracket ([0]); the bridge hands it the boxed answer.
    env.step("<think>[0] or [8]?</think> \\boxed{4}")
    assert env.infos["player_0"]["parse"] == {"ok": True, "extracted": "[4]", "error": None}
    assert "placed their symbol (O) in cell 4" in env.observe("player_1")


# ---- odd actions -----------------------------------------------------------------------------
ODD = {
    "empty": "",
    "megabyte": "x" * 1_000_000,
    "4301 digits": "[" + "9" * 4301 + "]",
    "nested boxes": "\\boxed{" * 5000 + "[4]" + "}" * 5000,
    "lone surrogate": "[\ud800]",
    "bracket flood": "[" * 200_000,
    "offer flood": "[Offer: 1 Wood -> 1 Gold" * 10_000,
}


@pytest.mark.parametrize("game_id", ["TicTacToe-v0", "LiarsDice-v0", "Poker-v0", "Nim-v0"])
def test_odd_actions_are_recorded_outcomes(game_id):
    for name, action in ODD.items():
        env = TextArenaEnv(game_id, render_mode="ansi")
        env.reset(seed=1)
        actor = env.agent_selection
        env.step(action)
        info = env.infos[actor]
        assert info["invalid_action"] == (not info["parse"]["ok"]), name
        for agent in env.agents:
            assert env.observation_space(agent).contains(env.observe(agent)), name


def test_non_text_actions_follow_textarenas_invalid_move_rule():
    env = TextArenaEnv("TicTacToe-v0")
    env.reset(seed=0)
    env.step(3)
    assert env.agent_selection == "player_0"  # one resubmission allowed (TextArena's default)
    assert "expected a str, got int" in env.infos["player_0"]["parse"]["error"]
    env.step(None)
    assert all(env.terminations.values())
    assert env.rewards == {"player_0": -1.0, "player_1": 1.0}


def test_a_crash_inside_textarena_ends_the_episode_with_the_reason(monkeypatch):
    env = TextArenaEnv("TicTacToe-v0")
    env.reset(seed=0)

    def broken(action):
        raise IndexError("list index out of range")

    monkeypatch.setattr(env._ta_env, "step", broken)
    env.step("[4]")
    info = env.infos["player_0"]
    assert all(env.terminations.values()) and env.rewards == {"player_0": 0.0, "player_1": 0.0}
    assert "IndexError" in info["textarena_error"] and info["invalid_action"]


# ---- rewards ---------------------------------------------------------------------------------
def test_outcome_rewards_arrive_at_the_step_the_game_ends():
    env = TextArenaEnv("TicTacToe-v0")
    env.reset(seed=0)
    for move in ["[0]", "[3]", "[1]", "[4]"]:
        env.step(move)
        assert env.rewards == {"player_0": 0.0, "player_1": 0.0}
    env.step("[2]")  # player_0 completes the top row
    assert env.rewards == {"player_0": 1.0, "player_1": -1.0}
    assert all(env.terminations.values())
    for agent, sign in (("player_0", 1.0), ("player_1", -1.0)):
        assert env.infos[agent]["reward_components"] == {"outcome": sign}
    # PettingZoo's last(): each agent sees its outcome when it is selected to be removed
    totals = {}
    while env.agents:
        agent = env.agent_selection
        totals[agent] = env.last()[1]
        env.step(None)
    assert totals == {"player_0": 1.0, "player_1": -1.0}


def test_a_three_player_game_plays_to_its_end():
    env = TextArenaEnv("LiarsDice-v0", num_players=3)
    assert env.possible_agents == ["player_0", "player_1", "player_2"]
    seen = play(env, seed=0, bot_seed=0, steps=2000)
    assert not env.agents
    finals = [r for _, _, r in seen[-3:]]
    assert sorted(finals) != [0.0, 0.0, 0.0]


def test_pickle_mid_episode_replays_textarenas_game():
    env = TextArenaEnv("KuhnPoker-v0")
    bot = ListedMoveBot(seed=1)
    env.reset(seed=5)
    for _ in range(3):
        env.step(bot.act(env, env.agent_selection))
    clone = pickle.loads(pickle.dumps(env))
    for _ in range(30):
        if not env.agents:
            assert not clone.agents
            break
        agent = env.agent_selection
        assert clone.agent_selection == agent
        assert clone.observe(agent) == env.observe(agent)
        done = env.terminations[agent] or env.truncations[agent]
        move = None if done else bot.act(env, agent)
        env.step(move)
        clone.step(move)


# ---- single-agent view ---------------------------------------------------------------------
def test_gymnasium_make_gives_a_view_against_the_listed_move_bot():
    env = gymnasium.make("selfplay/TextArenaTicTacToe-v0")
    obs, info = env.reset(seed=0)
    assert "Available Moves" in obs and info["role"] == "player"
    total, bot = 0.0, ListedMoveBot(seed=3)
    for _ in range(10):
        obs, reward, term, trunc, info = env.step(bot.act(env.unwrapped.aec_env, "player_0"))
        total += reward
        if term or trunc:
            break
    assert term and total in (-1.0, 0.0, 1.0)


def test_invalid_arguments_say_what_was_expected():
    with pytest.raises(ValueError, match="expected a TextArena id"):
        TextArenaEnv("TicTacToe-v9")
    with pytest.raises(ValueError, match=r"expected num_players in \[2\]"):
        TextArenaEnv("TicTacToe-v0", num_players=3)
    with pytest.raises(ValueError, match="expected opponent_text"):
        TextArenaEnv("TicTacToe-v0", opponent_text="some")


def test_sweep_on_three_games(tmp_path):
    from selfplay_gym.envs.textarena.sweep import sweep, write_status_page

    results = sweep(["TicTacToe-v0", "Nim-v0", "Chess-v0"])
    by_id = {r.textarena_id: r for r in results}
    assert by_id["TicTacToe-v0"].passed and by_id["Nim-v0"].passed
    assert not by_id["Chess-v0"].passed and by_id["Chess-v0"].category == "import failure"
    page = tmp_path / "status.md"
    write_status_page(results, page)
    text = page.read_text()
    assert "**2 pass**" in text and "| `Chess-v0` |" in text and "SyntaxError" in text


def test_cli_sweep_writes_the_status_page(tmp_path, capsys):
    from selfplay_gym.cli import main

    page = tmp_path / "status.md"
    assert main(["textarena", "sweep", "Nim-v0", "--output", str(page)]) == 0
    assert "| `Nim-v0` | `selfplay/TextArenaNim-v0` | 2 | pass |" in page.read_text()
    assert "1/1 games pass" in capsys.readouterr().out


def test_a_game_left_with_one_player_is_ended_by_the_bridge():
    # PublicGoodsGame-v0 eliminates a player after three invalid contributions but never ends the
    # game; TextArena's state then loops forever once the last player goes. The bridge ends it.
    env = TextArenaEnv("PublicGoodsGame-v0")
    env.reset(seed=0)
    for _ in range(6):  # three rounds of talk
        env.step("{let us all give 20}")
    assert env.agent_selection == "player_0"
    for _ in range(2):  # out of range: two warnings (this game allows two resubmissions)
        env.step("[999]")
        assert env.agent_selection == "player_0" and env.infos["player_0"]["invalid_action"]
    env.step("[999]")  # eliminated
    assert all(env.terminations.values())
    assert env.rewards == {"player_0": -1.0, "player_1": 1.0}
    assert "ended by the bridge" in env.infos["player_1"]["game_over_reason"]
