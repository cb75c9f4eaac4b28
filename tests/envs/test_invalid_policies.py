"""Invalid-move policies (forfeit, penalize, retry) and non-text actions, for every text game."""

from __future__ import annotations

import numpy as np
import pytest

import selfplay_gym
from selfplay_gym.core.invalid import InvalidMovePolicy

GAMES = {
    "tictactoe": {
        "id": "selfplay/TicTacToe-v0",
        "good": "[4]",
        "reply": "[0]",
        "bad": "[9]",
        "error": "cell 9 does not exist: expected 0 to 8.",
        "good_index": 4,
        "illegal_index_after_good": 4,
    },
    "kuhn": {
        "id": "selfplay/KuhnPoker-v0",
        "kwargs": {"first_opener": 0},  # the scripts below have player_0 open the first hand
        "good": "[check]",
        "reply": "[bet]",
        "bad": "[call]",
        "error": "[call] is not legal now: choose [check], [bet].",
        "good_index": 1,
        "illegal_index_after_good": 2,
    },
    "negotiation": {
        "id": "selfplay/SimpleNegotiation-v0",
        "good": "Hello. [Offer: 1 Wood -> 1 Gold]",
        "reply": "Hi.",
        "bad": "[Offer: 99 Wood -> 1 Gold]",
        "error": "you cannot offer what you do not hold (you hold 10 Wood, 10 Gold).",
        "good_index": 0,
        "illegal_index_after_good": 403 + 40 * 20,  # offer 20 Gold -> 20 Wood: not affordable
    },
}
ALL = list(GAMES)


def make(game, **kwargs):
    kwargs = {**GAMES[game].get("kwargs", {}), **kwargs}
    env = selfplay_gym.make(GAMES[game]["id"], render_mode="ansi", **kwargs)
    env.reset(seed=0)
    return env


def other(agent):
    return "player_1" if agent == "player_0" else "player_0"


def snapshot(env):
    """Everything an invalid move under ``penalize``/``retry`` must or must not change."""
    return {a: env.agent_view(a) for a in env.possible_agents}


# ---- forfeit ---------------------------------------------------------------------------------
@pytest.mark.parametrize("offender_seat", [0, 1])
@pytest.mark.parametrize("game", ALL)
def test_forfeit_is_minus_1_5_plus_0_5_and_ends_the_game(game, offender_seat):
    g = GAMES[game]
    env = make(game)
    if offender_seat == 1:
        env.step(g["good"])
    offender = env.agent_selection
    winner = other(offender)
    env.step(g["bad"])
    assert env.rewards == {offender: -1.5, winner: 0.5}
    assert env.terminations == {"player_0": True, "player_1": True}
    assert env.truncations == {"player_0": False, "player_1": False}
    reason = g["error"].rstrip(".")
    assert f"{offender} made an invalid move and forfeits the game ({reason})." in env.render()
    for agent in ("player_0", "player_1"):
        assert f"{offender} made an invalid move and forfeits the game" in env.observe(agent)
    # last() of each agent in turn: the reward equals the sum of its reward components.
    seen = {}
    while env.agents:
        agent = env.agent_selection
        _, reward, terminated, truncated, info = env.last()
        assert terminated and not truncated
        assert info["reward_components"] == {"forfeit": reward}
        assert sum(info["reward_components"].values()) == reward
        seen[agent] = reward
        env.step(None)
    assert seen == {offender: -1.5, winner: 0.5}


@pytest.mark.parametrize(
    "policy",
    [
        {"mode": "forfeit", "offender_reward": -1, "opponent_reward": 1},
        InvalidMovePolicy(offender_reward=-1.0, opponent_reward=1.0),
    ],
)
@pytest.mark.parametrize("game", ALL)
def test_forfeit_rewards_are_configurable(game, policy):
    env = make(game, invalid_move=policy)
    env.step(GAMES[game]["bad"])
    assert env.rewards == {"player_0": -1.0, "player_1": 1.0}
    assert env.infos["player_1"]["reward_components"] == {"forfeit": 1.0}
    assert env.infos["player_0"]["reward_components"] == {"forfeit": -1.0}
    assert all(env.terminations.values())


@pytest.mark.parametrize("game", ALL)
def test_forfeit_rule_is_stated_in_the_prompt(game):
    env = make(game)
    assert "A reply without a legal move loses the game on the spot." in env.observe("player_0")


# ---- penalize --------------------------------------------------------------------------------
@pytest.mark.parametrize("penalty", [-1.0, -0.25])
@pytest.mark.parametrize("game", ALL)
def test_penalize_charges_the_penalty_and_the_game_goes_on(game, penalty):
    g = GAMES[game]
    env = make(game, invalid_move={"mode": "penalize", "penalty": penalty})
    env.step(g["bad"])
    assert env.rewards == {"player_0": penalty, "player_1": 0.0}
    assert not any(env.terminations.values()) and not any(env.truncations.values())
    assert env.infos["player_0"]["invalid_action"] is True
    assert env.infos["player_0"]["parse"]["error"] == g["error"]
    assert env.agent_selection == "player_1"
    env.step(g["reply"])
    assert env.agent_selection == "player_0"
    _, reward, terminated, _, info = env.last()
    assert reward == penalty and not terminated
    assert info["reward_components"] == {"invalid_move": penalty}
    assert info["invalid_action"] is True  # its last action was the invalid one


def test_penalize_in_tictactoe_passes_the_turn():
    env = make("tictactoe", invalid_move="penalize")
    env.step("[4]")
    env.step("[4]")  # occupied: player_1 loses its turn
    assert env.agent_selection == "player_0"
    assert env.agent_view("player_0")["board"] == [None] * 4 + ["X"] + [None] * 4
    assert (
        "player_1 made an invalid move (cell 4 is already taken) and loses the turn."
        in env.render()
    )
    env.step("[0]")  # player_0 moves twice in a row
    assert env.agent_view("player_0")["board"][0] == "X"
    env.step("[2]")
    env.step("[8]")  # X: 0, 4, 8
    assert env.rewards == {"player_0": 1.0, "player_1": -1.0}
    assert env.infos["player_1"]["reward_components"] == {"outcome": -1.0}


def test_penalize_prompt_of_tictactoe_describes_the_lost_turn():
    env = make("tictactoe", invalid_move="penalize")
    obs = env.observe("player_0")
    assert "default move is played" not in obs
    assert "turn" in obs.split("Think as much as you like")[1]


@pytest.mark.parametrize(
    "prefix, bad, fallback_line, next_legal",
    [
        ((), "[call]", "player_0 checks.", ["[check]", "[bet]"]),
        (("[check]",), "[fold]", "player_1 checks.", None),  # check-check: showdown, next hand
        (("[bet]",), "[check]", "player_1 folds.", None),  # facing a bet: fold
        (("[check]", "[bet]"), "[bet]", "player_0 folds.", None),
    ],
)
def test_penalize_in_kuhn_plays_check_else_fold(prefix, bad, fallback_line, next_legal):
    env = make("kuhn", invalid_move="penalize")
    for move in prefix:
        env.step(move)
    offender = env.agent_selection
    env.step(bad)
    assert env.rewards[offender] == -1.0
    assert f"{offender} made an invalid move ({bad} is not legal now" in env.render()
    assert fallback_line in env.render().split("the default move is played.")[1]
    if next_legal is not None:
        assert env.infos[env.agent_selection]["legal_actions"] == next_legal
        assert env.agent_view("player_0")["bets"] == ["check"]
    else:
        assert env.agent_view("player_0")["hand"] == 2  # the fallback ended the hand


def test_penalize_in_negotiation_is_a_turn_without_offer():
    env = make("negotiation", invalid_move="penalize")
    env.step("[Offer: 3 Wood -> 2 Gold]")
    env.step("[Offer: 2 Wood, 1 Gold -> 4 Gold]")  # malformed: same resource on both sides
    assert env.rewards["player_1"] == -1.0
    log = env.render()
    assert "player_1 made an invalid move (a malformed offer" in log
    assert "player_1 rejects the offer of player_0." in log  # the pending offer is rejected
    assert env.agent_view("player_0")["offer_to_me"] is None  # and no offer is made
    assert env.agent_view("player_0")["inventory"] == (10, 10)
    assert env.agent_view("player_0")["turns_left"] == 8  # the lost turn counts
    assert env.agent_selection == "player_0"


def test_penalize_forever_truncates_at_max_turns_without_outcome():
    env = make("tictactoe", invalid_move="penalize", max_turns=6)
    for _ in range(6):
        assert not env.truncations[env.agent_selection]
        env.step("no move")
    assert env.truncations == {"player_0": True, "player_1": True}
    assert env.terminations == {"player_0": False, "player_1": False}
    assert "the limit of 6 turns is reached" in env.render()
    totals = {}
    while env.agents:
        totals[env.agent_selection] = env.last()[1]
        env.step(None)
    # Each penalty was collected by last() at the agent's next turn except its final one.
    assert totals == {"player_0": -1.0, "player_1": -1.0}


# ---- retry -----------------------------------------------------------------------------------
@pytest.mark.parametrize("game", ALL)
def test_retry_keeps_the_turn_and_feeds_the_error_back(game):
    g = GAMES[game]
    env = make(game, invalid_move="retry")
    before = snapshot(env)
    other_obs = env.observe("player_1")
    env.step(g["bad"])
    assert env.agent_selection == "player_0"
    assert snapshot(env) == before  # nothing happened in the game
    assert not any(env.terminations.values())
    obs, reward, _, _, info = env.last()
    assert reward == 0.0 and info["reward_components"] == {"invalid_move": 0.0}
    assert info["invalid_action"] is True and info["parse"]["error"] == g["error"]
    feedback = (
        f"Your last reply could not be used: {g['error']} "
        "Answer again (1 more attempt(s) this turn)."
    )
    assert obs.endswith(feedback)
    assert info["messages"][1]["content"].endswith(feedback)
    assert env.observe("player_1") == other_obs  # the other player sees nothing of the attempt
    env.step(g["good"])
    assert env.agent_selection == "player_1"
    assert "could not be used" not in env.observe("player_0")  # feedback cleared by a legal move
    assert env.infos["player_0"]["invalid_action"] is False


@pytest.mark.parametrize("game", ALL)
def test_retry_budget_then_forfeit(game):
    g = GAMES[game]
    env = make(game, invalid_move={"mode": "retry", "retry_budget": 2})
    env.step(g["bad"])
    env.step(g["bad"])
    assert env.agent_selection == "player_0" and not any(env.terminations.values())
    assert env.observe("player_0").endswith("Answer again (0 more attempt(s) this turn).")
    env.step(g["bad"])  # the budget of 2 retries is spent: exhausted = forfeit
    assert env.rewards == {"player_0": -1.5, "player_1": 0.5}
    assert all(env.terminations.values())
    assert (
        "A reply without a legal move must be resubmitted; "
        "after 2 failed retries in one turn it loses the game." in env.observe("player_0")
    )


@pytest.mark.parametrize("game", ALL)
def test_retry_budget_zero_forfeits_at_once(game):
    env = make(game, invalid_move={"mode": "retry", "retry_budget": 0})
    env.step(GAMES[game]["bad"])
    assert env.rewards == {"player_0": -1.5, "player_1": 0.5}


@pytest.mark.parametrize("game", ALL)
def test_retry_exhausted_penalize_applies_penalty_and_fallback(game):
    g = GAMES[game]
    env = make(
        game,
        invalid_move={
            "mode": "retry",
            "retry_budget": 1,
            "exhausted": "penalize",
            "penalty": -0.5,
            "retry_penalty": -0.1,
        },
    )
    env.step(g["bad"])
    assert env.rewards["player_0"] == -0.1
    assert env.agent_selection == "player_0"
    assert env.last()[1] == -0.1
    env.step(g["bad"])
    assert env.rewards["player_0"] == -0.5
    assert env.infos["player_0"]["reward_components"] == {"invalid_move": -0.5}
    assert not any(env.terminations.values())
    assert env.agent_selection == "player_1"  # fallback played (or turn passed)
    assert "is penalized" in env.observe("player_0")


def test_retry_budget_is_per_turn():
    env = make("tictactoe", invalid_move="retry")
    for mover_cell in ("[0]", "[4]", "[8]", "[1]"):
        env.step("[9]")
        env.step("[9]")
        env.step(mover_cell)
        assert not any(env.terminations.values())
    assert env.agent_view("player_0")["board"][:2] == ["X", "O"]


def test_retry_failures_count_towards_max_turns():
    env = make("tictactoe", invalid_move={"mode": "retry", "retry_budget": 10}, max_turns=3)
    for _ in range(3):
        env.step("[12]")
    assert all(env.truncations.values())
    assert env.rewards == {"player_0": 0.0, "player_1": 0.0}


# ---- non-text and numeric actions ------------------------------------------------------------
@pytest.mark.parametrize(
    "action, type_name",
    [
        (b"[4]", "bytes"),
        (3.5, "float"),
        (["[4]"], "list"),
        ({"move": "[4]"}, "dict"),
        (True, "bool"),
    ],
)
@pytest.mark.parametrize("game", ALL)
def test_non_text_actions_are_invalid_moves_naming_the_type(game, action, type_name):
    env = make(game, invalid_move="retry")
    env.step(action)
    info = env.infos["player_0"]
    assert info["invalid_action"] is True
    assert info["parse"]["ok"] is False
    assert info["parse"]["error"] == f"expected a str (or an int move index), got {type_name}."
    assert env.agent_selection == "player_0"
    assert type_name in env.observe("player_0").rsplit("could not be used:", 1)[1]


@pytest.mark.parametrize("game", ALL)
def test_non_text_action_under_default_policy_forfeits(game):
    env = make(game)
    env.step(3.5)
    assert env.rewards == {"player_0": -1.5, "player_1": 0.5}


@pytest.mark.parametrize("game", ALL)
def test_str_subclass_actions_are_read_as_text(game):
    g = GAMES[game]
    env, text_env = make(game), make(game)
    env.step(np.str_(g["good"]))
    text_env.step(g["good"])
    assert env.infos["player_0"]["invalid_action"] is False
    assert env.render() == text_env.render()


@pytest.mark.parametrize("as_type", [int, np.int64, np.int8])
@pytest.mark.parametrize("game", ALL)
def test_legal_int_action_plays_the_canonical_move(game, as_type):
    g = GAMES[game]
    env = make(game)
    text_env = make(game)
    env.step(as_type(g["good_index"]))
    text_env.step(env.unwrapped.move_names[g["good_index"]])
    assert env.infos["player_0"]["invalid_action"] is False
    assert env.infos["player_0"]["parse"]["extracted"] == env.unwrapped.move_names[g["good_index"]]
    assert snapshot(env) == snapshot(text_env)
    assert env.render() == text_env.render()


@pytest.mark.parametrize("index_kind", ["illegal", "too large", "negative"])
@pytest.mark.parametrize("game", ALL)
def test_illegal_int_action_is_an_invalid_move(game, index_kind):
    g = GAMES[game]
    env = make(game, invalid_move="retry")
    env.step(g["good"])
    legal = [i for i, on in enumerate(env.infos["player_1"]["action_mask"]) if on]
    index = {"illegal": g["illegal_index_after_good"], "too large": 10_000, "negative": -1}[
        index_kind
    ]
    if game == "negotiation" and index_kind == "illegal":
        index = env.unwrapped.move_names.index("[Offer: 20 Gold -> 20 Wood]")
    assert index not in legal
    before = snapshot(env)
    env.step(index)
    info = env.infos["player_1"]
    assert info["invalid_action"] is True
    assert info["parse"]["error"] == f"expected a legal move index in {legal}, got {index}."
    assert snapshot(env) == before
    assert env.agent_selection == "player_1"


# ---- info schema on every agent --------------------------------------------------------------
SCRIPTS = {
    "tictactoe": [
        ("[9]", True),
        ("[4]", False),
        ("[0]", False),
        (7.5, True),
        ("[4]", True),
        ("[8]", False),
        ("[1]", False),
    ],
    "kuhn": [
        ("[call]", True),
        ("[check]", False),
        (7.5, True),
        ("[bet]", False),
        ("[check]", True),
        ("[call]", False),
        ("[fold]", True),
    ],
    "negotiation": [
        ("[Offer: 99 Wood -> 1 Gold]", True),
        ("Hello [Offer: 1 Wood -> 1 Gold]", False),
        (7.5, True),
        ("[Accept]", False),
        ("[Offer: 1 Stone -> 1 Gold]", True),
        ("hi", False),
    ],
}


@pytest.mark.parametrize("game", ALL)
def test_invalid_action_and_parse_are_set_on_every_agent_after_every_step(game):
    env = make(game, invalid_move={"mode": "retry", "retry_budget": 1, "exhausted": "penalize"})
    last_invalid = {"player_0": False, "player_1": False}
    for action, invalid in SCRIPTS[game]:
        actor = env.agent_selection
        env.step(action)
        last_invalid[actor] = invalid
        assert env.infos[actor]["invalid_action"] is invalid, action
        for agent in env.agents:
            info = env.infos[agent]
            assert info["invalid_action"] is last_invalid[agent]
            assert set(info["parse"]) == {"ok", "extracted", "error"}
            assert info["parse"]["ok"] is (not last_invalid[agent])
            assert (info["parse"]["error"] is None) is (not last_invalid[agent])
    assert not any(env.terminations.values())


STALE_FEEDBACK = (
    "BUG: TurnBasedTextEnv._handle_invalid does not clear self._feedback[agent] when the retry "
    "budget is exhausted, so the offender's prompt keeps 'Your last reply could not be used: ... "
    "Answer again (0 more attempt(s) this turn).' from an earlier turn"
)


@pytest.mark.parametrize("game", ALL)
def test_exhausted_retry_feedback_does_not_leak_into_the_next_turn(game):
    g = GAMES[game]
    policy = {"mode": "retry", "retry_budget": 1, "exhausted": "penalize"}
    env = make(game, invalid_move=policy)
    env.step(g["bad"])
    env.step(g["bad"])  # budget spent: penalty, fallback, the turn is over
    while env.agent_selection != "player_0":
        env.step(env.infos[env.agent_selection]["legal_actions"][0])
    obs = env.observe("player_0")  # a new turn, with a fresh budget
    assert "could not be used" not in obs
    assert "0 more attempt(s)" not in obs


@pytest.mark.parametrize("game", ALL)
def test_final_observation_after_retry_forfeit_does_not_ask_to_answer_again(game):
    env = make(game, invalid_move={"mode": "retry", "retry_budget": 1})
    env.step(GAMES[game]["bad"])
    env.step(GAMES[game]["bad"])
    assert all(env.terminations.values())
    assert "Answer again" not in env.observe("player_0")
