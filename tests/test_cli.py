"""Behaviour of the ``selfplay-gym`` command line and of the arena it runs."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from selfplay_gym.cli import main
from selfplay_gym.core.arena import play_match
from selfplay_gym.core.bots import Bot

ALL_IDS = ("selfplay/TicTacToe-v0", "selfplay/KuhnPoker-v0", "selfplay/SimpleNegotiation-v0")
REPO = Path(__file__).resolve().parents[1]
NINE_CELLS = "".join(f"[{i}]\n" for i in range(9))


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_module(*argv: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "selfplay_gym", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )


# ---- list ------------------------------------------------------------------------------------
def test_list_shows_every_id_with_its_kind_and_move_count(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    lines = out.splitlines()
    for env_id in ALL_IDS:
        (row,) = [line for line in lines if line.startswith(env_id + " ")]
        assert " aec " in row
        assert "player_0,player_1" in row
    tictactoe = next(line for line in lines if line.startswith("selfplay/TicTacToe-v0"))
    assert "MoveText(" in tictactoe and " 9 " in tictactoe


def test_list_groups_the_ids_by_family(capsys):
    import selfplay_gym

    _, out, _ = run_cli(capsys, "list")
    headings = [line for line in out.splitlines() if line.startswith("[")]
    families = [s.family for s in selfplay_gym.ENV_SPECS]
    assert headings == [f"[{f}]" for f in dict.fromkeys(families)]  # each once, registry order
    assert {"[text_games]", "[search]", "[reasoning]", "[code_repair]"} <= set(headings)
    section = out.split("[search]")[1].split("\n\n")[0]
    assert "selfplay/SearchQA-v0" in section and "selfplay/TicTacToe-v0" not in section


def test_list_names_an_id_whose_extra_is_missing_and_lists_the_rest(capsys, monkeypatch):
    from selfplay_gym.registry import SelfPlaySpec

    original = SelfPlaySpec.make

    def make(self, **kwargs):
        if self.family == "volleyball":
            raise ImportError("drone volleyball needs MuJoCo 4: pip install 'selfplay-gym[drones]'")
        return original(self, **kwargs)

    monkeypatch.setattr(SelfPlaySpec, "make", make)
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    lines = out.splitlines()
    (row,) = [line for line in lines if line.startswith("selfplay/Volleyball3v3-v0 ")]
    assert "not available" in row and "selfplay-gym[drones]" in row
    assert any(line.startswith("selfplay/TicTacToe-v0 ") for line in lines)


# ---- arena -----------------------------------------------------------------------------------
def test_arena_strong_never_loses_tictactoe_and_games_add_up(capsys):
    code, out, _ = run_cli(
        capsys,
        "arena",
        "selfplay/TicTacToe-v0",
        "--players",
        "strong,random",
        "--games",
        "20",
        "--json",
    )
    assert code == 0
    result = json.loads(out)
    strong, rand = result["players"]
    assert (strong["name"], rand["name"]) == ("strong", "random")
    assert strong["losses"] == 0
    assert result["games"] == 20
    for player in (strong, rand):
        assert player["games"] == 20
        assert player["wins"] + player["draws"] + player["losses"] == 20
        assert player["seat_games"] == {"player_0": 10, "player_1": 10}
    # Zero-sum game without invalid moves: one side's wins are the other's losses.
    assert strong["wins"] == rand["losses"] and strong["draws"] == rand["draws"]
    assert strong["invalid_moves"] == rand["invalid_moves"] == 0


def test_arena_table_is_reproducible_per_seed_and_differs_across_seeds(capsys):
    def table(seed: str) -> str:
        code, out, _ = run_cli(
            capsys,
            "arena",
            "selfplay/KuhnPoker-v0",
            "--players",
            "strong,strong",
            "--games",
            "30",
            "--seed",
            seed,
        )
        assert code == 0
        return out

    first, again, other = table("0"), table("0"), table("1")
    assert first == again
    assert first != other
    assert "strong#1" in first and "strong#2" in first
    assert "win rate" in first and "invalid" in first


def test_arena_json_parses_and_matches_the_table_counts(capsys):
    argv = ("arena", "selfplay/SimpleNegotiation-v0", "--players", "strong,random", "--games", "6")
    code, out, _ = run_cli(capsys, *argv, "--json")
    assert code == 0
    result = json.loads(out)
    assert result["env_id"] == "selfplay/SimpleNegotiation-v0"
    assert [p["games"] for p in result["players"]] == [6, 6]
    code, table, _ = run_cli(capsys, *argv)
    strong_row = next(line for line in table.splitlines() if line.startswith("strong "))
    s = result["players"][0]
    assert strong_row.split()[3:6] == [str(s["wins"]), str(s["draws"]), str(s["losses"])]


def test_arena_no_swap_keeps_seats(capsys):
    code, out, _ = run_cli(
        capsys,
        "arena",
        "selfplay/TicTacToe-v0",
        "--players",
        "random,strong",
        "--games",
        "4",
        "--no-swap",
        "--json",
    )
    assert code == 0
    first, second = json.loads(out)["players"]
    assert first["seat_games"] == {"player_0": 4, "player_1": 0}
    assert second["seat_games"] == {"player_0": 0, "player_1": 4}


def test_unknown_id_exits_2_with_a_suggestion(capsys):
    for command in (
        ["arena", "selfplay/TicTacToo-v0", "--players", "strong,random"],
        ["play", "selfplay/TicTacToo-v0"],
    ):
        code, out, err = run_cli(capsys, *command)
        assert code == 2
        assert "Did you mean" in err and "selfplay/TicTacToe-v0" in err
        assert out == ""


def test_unknown_player_name_exits_2_naming_the_choices(capsys):
    code, _, err = run_cli(capsys, "arena", "selfplay/TicTacToe-v0", "--players", "strong,rnadom")
    assert code == 2
    assert "'rnadom'" in err and "random" in err
    code, _, err = run_cli(capsys, "arena", "selfplay/TicTacToe-v0", "--players", "strong")
    assert code == 2
    assert "expected 2 players" in err


def test_bad_arguments_exit_2(capsys):
    assert (
        main(["arena", "selfplay/TicTacToe-v0", "--players", "strong,random", "--games", "0"]) == 2
    )
    assert main(["play", "selfplay/TicTacToe-v0", "--seat", "2"]) == 2
    assert main(["play", "selfplay/TicTacToe-v0", "--opponent", "nobody"]) == 2
    assert main([]) == 2
    capsys.readouterr()


# ---- arena: ratings and language-model players -----------------------------------------------
def fake_llm(monkeypatch, load_policy):
    """Stand in for selfplay_gym.llm so that no test needs transformers."""
    module = types.ModuleType("selfplay_gym.llm")
    module.load_policy = load_policy
    monkeypatch.setitem(sys.modules, "selfplay_gym.llm", module)


def test_arena_prints_an_elo_table_with_strong_above_random(capsys):
    argv = ("arena", "selfplay/TicTacToe-v0", "--players", "random,strong", "--games", "20")
    code, out, _ = run_cli(capsys, *argv)
    assert code == 0
    table = out.split("Elo ratings")[1].splitlines()
    assert table[0] == " (initial 1000, K 32)"
    rows = [line.split() for line in table[3:]]
    assert [row[0] for row in rows] == ["strong", "random"]
    assert float(rows[0][1]) > 1100 > 900 > float(rows[1][1])
    assert rows[0][2] == rows[1][2] == "20"
    code, out, _ = run_cli(capsys, *argv, "--json")
    ratings = json.loads(out)["ratings"]
    assert list(ratings) == ["strong", "random"]
    assert ratings["strong"] == pytest.approx(float(rows[0][1]), abs=0.05)
    assert sum(ratings.values()) == pytest.approx(2000.0)


def test_arena_loads_hf_players_with_llm_load_policy(capsys, monkeypatch):
    loaded = []

    def load_policy(spec):
        loaded.append(spec)
        return lambda observation, info: info["legal_actions"][0]

    fake_llm(monkeypatch, load_policy)
    code, out, err = run_cli(
        capsys,
        "arena",
        "selfplay/TicTacToe-v0",
        "--players",
        "hf:/models/tiny,random",
        "--games",
        "6",
        "--json",
    )
    assert code == 0, err
    assert loaded == ["hf:/models/tiny"]
    result = json.loads(out)
    model, rand = result["players"]
    assert model["name"] == "hf:/models/tiny" and model["games"] == 6
    assert model["invalid_moves"] == 0  # it always plays a legal move
    assert set(result["ratings"]) == {"hf:/models/tiny", "random"}


def test_arena_passes_other_backend_specs_to_load_policy(capsys, monkeypatch):
    loaded = []
    fake_llm(monkeypatch, lambda spec: loaded.append(spec) or (lambda o, i: i["legal_actions"][-1]))
    spec = "openai:http://127.0.0.1:8000/v1#tiny"
    code, out, _ = run_cli(capsys, "arena", "selfplay/TicTacToe-v0", "--players", f"random,{spec}")
    assert code == 0
    assert loaded == [spec]
    assert spec in out


def test_arena_without_the_llm_extra_exits_2_naming_the_install(capsys, monkeypatch):
    def load_policy(spec):
        raise ImportError("No module named 'transformers'")

    fake_llm(monkeypatch, load_policy)
    argv = ("arena", "selfplay/TicTacToe-v0", "--players", "hf:/models/tiny,random")
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    assert 'pip install "selfplay-gym[llm]"' in err and "transformers" in err
    monkeypatch.setitem(sys.modules, "selfplay_gym.llm", None)  # the package cannot be imported
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and "selfplay-gym[llm]" in err


def test_arena_model_player_errors_exit_2_before_or_after_loading(capsys, monkeypatch):
    loaded = []

    def load_policy(spec):
        loaded.append(spec)
        raise ValueError(f"no model at {spec}")

    fake_llm(monkeypatch, load_policy)
    code, _, err = run_cli(capsys, "arena", "selfplay/TicTacToe-v0", "--players", "hf:/a")
    assert code == 2 and "expected 2 players" in err
    assert loaded == []  # the seat count is checked before any model loads
    code, _, err = run_cli(capsys, "arena", "selfplay/TicTacToe-v0", "--players", "hf:/a,random")
    assert code == 2 and "cannot load player 'hf:/a'" in err and "no model at hf:/a" in err


def test_match_ratings_replay_the_games_in_order():
    from selfplay_gym.league import Elo

    result = play_match("selfplay/KuhnPoker-v0", ["strong", "random"], games=12, seed=1)
    expected = Elo()
    for record in result.records:
        strong, rand = record.rewards
        expected.update(
            "strong", "random", 1.0 if strong > rand else 0.5 if strong == rand else 0.0
        )
    assert result.ratings().to_dict() == pytest.approx(expected.to_dict())
    assert result.to_dict()["ratings"] == result.ratings().to_dict()


def test_play_match_takes_player_names():
    def policy(observation, info):
        return info["legal_actions"][0]

    result = play_match("selfplay/TicTacToe-v0", [policy, policy], games=2, names=["lm", "lm"])
    assert [p.name for p in result.players] == ["lm#1", "lm#2"]
    with pytest.raises(ValueError, match="one name per player"):
        play_match("selfplay/TicTacToe-v0", [policy, policy], games=2, names=["lm"])


# ---- play_match ------------------------------------------------------------------------------
def test_swap_seats_gives_each_player_both_seats():
    result = play_match("selfplay/TicTacToe-v0", ["strong", "random"], games=2, seed=5)
    assert [p.games_as_first for p in result.players] == [1, 1]
    assert [r.seats for r in result.records] == [("strong", "random"), ("random", "strong")]
    fixed = play_match("selfplay/TicTacToe-v0", ["strong", "random"], games=2, swap_seats=False)
    assert [p.games_as_first for p in fixed.players] == [2, 0]


def test_play_match_counts_invalid_moves_and_forfeits():
    def babbler(observation: str, info: dict) -> str:
        return "I would rather not say."

    result = play_match("selfplay/TicTacToe-v0", [babbler, "random"], games=4)
    talker, rand = result.players
    assert talker.name == "babbler"
    # Default policy is forfeit: every babble ends its game at once, -1.5 / +0.5.
    assert talker.invalid_moves == 4 and talker.losses == 4
    assert talker.mean_reward == pytest.approx(-1.5)
    assert rand.wins == 4 and rand.mean_reward == pytest.approx(0.5)
    assert "babbler" in result.table()


def test_a_failing_player_is_named_in_the_error():
    class Broken(Bot):
        def act(self, env, agent):
            raise KeyError("no idea")

    with pytest.raises(RuntimeError, match=r"player 'Broken' \(seat player_1\).*game 0.*no idea"):
        play_match("selfplay/TicTacToe-v0", ["strong", Broken()], games=3)


def test_records_replay_with_the_same_seed():
    a = play_match("selfplay/KuhnPoker-v0", ["strong", "random"], games=10, seed=3)
    b = play_match("selfplay/KuhnPoker-v0", ["strong", "random"], games=10, seed=3)
    assert a.records == b.records
    assert a.to_dict(include_records=True) == b.to_dict(include_records=True)


# ---- play ------------------------------------------------------------------------------------
def test_play_in_a_subprocess_finishes_the_game():
    proc = run_module(
        "play", "selfplay/TicTacToe-v0", "--opponent", "random", "--seed", "0", stdin=NINE_CELLS
    )
    assert proc.returncode == 0, proc.stderr
    assert "Game over" in proc.stdout
    assert "Final rewards" in proc.stdout
    assert "player_0 (X) takes cell 0." in proc.stdout  # the transcript
    # With this seed the opponent takes a cell the human tries later; the error is reported.
    assert "Invalid move: cell" in proc.stdout


def test_play_with_retries_reports_each_bad_move_and_still_finishes():
    proc = run_module(
        "play",
        "selfplay/TicTacToe-v0",
        "--opponent",
        "random",
        "--seed",
        "0",
        "--invalid-move",
        "retry",
        stdin=NINE_CELLS,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Game over" in proc.stdout
    assert "is already taken" in proc.stdout


def test_play_end_of_input_mid_game_exits_1():
    proc = run_module("play", "selfplay/TicTacToe-v0", "--opponent", "random", stdin="[4]\n")
    assert proc.returncode == 1
    assert "End of input" in proc.stderr
    assert "Game over" not in proc.stdout


def test_play_match_passes_env_kwargs_to_the_env():
    """Single-hand Kuhn paid in chips: every game's rewards are chip counts that sum to zero."""
    from selfplay_gym.core.arena import play_match

    result = play_match(
        "selfplay/KuhnPoker-v0",
        ["random", "random"],
        40,
        seed=0,
        env_kwargs={"num_hands": 1, "payoff": "chips"},
    )
    values = {r for record in result.records for r in record.rewards}
    assert values <= {-2.0, -1.0, 1.0, 2.0} and {1.0, -1.0} <= values
    assert all(sum(record.rewards) == 0 for record in result.records)
    assert all(record.steps <= 3 for record in result.records)


def test_play_match_counts_wins_draws_and_losses_per_seat():
    from selfplay_gym.core.arena import play_match

    result = play_match("selfplay/TicTacToe-v0", ["strong", "random"], 40, seed=1)
    for player in result.players:
        assert sum(t["wins"] for t in player.seat_results.values()) == player.wins
        assert sum(t["losses"] for t in player.seat_results.values()) == player.losses
        for seat, tally in player.seat_results.items():
            assert sum(tally.values()) == player.seat_games[seat] == 20
    strong, random = result.players
    assert all(t["losses"] == 0 for t in strong.seat_results.values())
    # What one player won in a seat, the other lost in the other seat.
    assert strong.seat_results["player_0"]["wins"] == random.seat_results["player_1"]["losses"]
