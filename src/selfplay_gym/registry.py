"""The one table of environment ids, and their registration with Gymnasium and PettingZoo.

Every id is registered twice when ``selfplay_gym`` is imported:

* ``pettingzoo.make("aec", "selfplay/TicTacToe-v0")`` gives the multi-agent env;
* ``gymnasium.make("selfplay/TicTacToe-v0")`` gives the single-agent view: the learner plays
  ``player_0`` and the other seats are played by the id's default opponent. Keywords
  ``learner=``, ``opponent=`` and ``numeric=True`` change that; any other keyword goes to the
  multi-agent env.

Without importing ``selfplay_gym`` first, Gymnasium can import it for you:
``gymnasium.make("selfplay_gym:selfplay/TicTacToe-v0")``.

To add an environment, add one :class:`SelfPlaySpec` to :data:`ENV_SPECS`; the conformance
suite in ``tests/`` then checks it automatically.
"""

from __future__ import annotations

import difflib
import importlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium
import pettingzoo
from gymnasium.error import NameNotFound, VersionNotFound

__all__ = [
    "SelfPlaySpec",
    "ENV_SPECS",
    "TEXTARENA_SPECS",
    "register_all",
    "spec",
    "make",
    "make_single_agent",
    "resolve_opponent",
    "load_entry_point",
]

_ID_RE = re.compile(r"^selfplay/([A-Z][A-Za-z0-9]*)-v(\d+)$")


@dataclass(frozen=True)
class SelfPlaySpec:
    """One registered environment id."""

    id: str
    """``selfplay/PascalCase-vN``."""
    entry_point: str
    """``"module:Class"`` of the multi-agent env."""
    kind: str = "aec"
    """``"aec"`` (turn-based) or ``"parallel"`` (simultaneous moves)."""
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    """Constructor defaults of this id (the paper's constants)."""
    bots: Mapping[str, str] = field(default_factory=dict)
    """Named scripted opponents besides ``"random"``: name -> ``"module:Class"``."""
    default_opponent: str = "random"
    """The opponent of the single-agent view when none is given."""
    summary: str = ""
    """One line for ``selfplay-gym list``."""

    def __post_init__(self) -> None:
        if not _ID_RE.match(self.id):
            raise ValueError(f"expected an id like 'selfplay/PascalCase-v0', got {self.id!r}")
        if self.kind not in ("aec", "parallel"):
            raise ValueError(f"expected kind 'aec' or 'parallel', got {self.kind!r}")

    @property
    def name(self) -> str:
        """The id without namespace and version, e.g. ``TicTacToe``."""
        return _ID_RE.match(self.id).group(1)  # type: ignore[union-attr]

    @property
    def family(self) -> str:
        """The env family: the folder under ``envs/`` (``"text_games"``, ``"search"``, ...)."""
        module = self.entry_point.partition(":")[0]
        prefix = "selfplay_gym.envs."
        return module[len(prefix) :].split(".")[0] if module.startswith(prefix) else module

    @property
    def numeric(self) -> bool:
        """Whether ``numeric=True`` works: the env has a finite move set and a state tensor.

        False for free-text envs (search, pipelines), whose moves are arbitrary strings.
        """
        game = load_entry_point(self.entry_point)
        return bool(getattr(game, "move_names", None)) and bool(getattr(game, "state_size", 0))

    def make(self, **kwargs: Any) -> Any:
        """Construct the multi-agent env with this id's defaults overridden by ``kwargs``."""
        return load_entry_point(self.entry_point)(**{**self.kwargs, **kwargs})


_TEXT_GAMES = "selfplay_gym.envs.text_games"
_SEARCH = "selfplay_gym.envs.search"
_REASONING = "selfplay_gym.envs.reasoning"
_REPEATED_GAME_BOTS = {
    "strong": f"{_TEXT_GAMES}.repeated_games:TitForTatBot",
    "always_j": f"{_TEXT_GAMES}.repeated_games:AlwaysJBot",
    "always_f": f"{_TEXT_GAMES}.repeated_games:AlwaysFBot",
    "defect_once": f"{_TEXT_GAMES}.repeated_games:DefectOnceBot",
    "tit_for_tat": f"{_TEXT_GAMES}.repeated_games:TitForTatBot",
    "grim": f"{_TEXT_GAMES}.repeated_games:GrimTriggerBot",
}
_SPY_BOTS = {  # social games: Who-is-the-Spy
    "strong": f"{_TEXT_GAMES}.spy:StrongSpyPlayer",
    "truthful": f"{_TEXT_GAMES}.spy:TruthfulSpyPlayer",
    "vague_spy": f"{_TEXT_GAMES}.spy:VagueSpyPlayer",
    "least_match_voter": f"{_TEXT_GAMES}.spy:LeastMatchVoter",
}
_SEARCH_BOTS = {
    "scripted": f"{_SEARCH}.players:ScriptedSearchPlayer",
    "careful": f"{_SEARCH}.players:CarefulSearchPlayer",
}
_CODE_REASONING = "selfplay_gym.envs.code_reasoning"
_CODE_REPAIR = "selfplay_gym.envs.code_repair"
_VOLLEYBALL = "selfplay_gym.envs.volleyball"
_VOLLEYBALL_BOTS = {
    "hover": f"{_VOLLEYBALL}.bots:HoverBot",
    "random_drone": f"{_VOLLEYBALL}.bots:RandomDroneBot",
}
_VOLLEYBALL_MATCH_BOTS = {**_VOLLEYBALL_BOTS, "scripted": f"{_VOLLEYBALL}.bots:ScriptedTeam"}
_VOLLEYBALL_HIGH_LEVEL_BOTS = {
    "scripted": f"{_VOLLEYBALL}.hierarchy:HighLevelScriptedBot",
    "random_options": f"{_VOLLEYBALL}.hierarchy:HighLevelRandomBot",
}
_OPENSPIEL = "selfplay_gym.envs.openspiel"
_OPENSPIEL_MCTS_BOTS = {
    "mcts100": f"{_OPENSPIEL}.bots:MCTS100Bot",
    "mcts1000": f"{_OPENSPIEL}.bots:MCTS1000Bot",
    "strong": f"{_OPENSPIEL}.bots:MCTS1000Bot",
}
_OPENSPIEL_CFR_BOTS = {"cfr": f"{_OPENSPIEL}.bots:CFRBot", "strong": f"{_OPENSPIEL}.bots:CFRBot"}
_MARS_KWARGS = {"reward_shaping": "mars", "max_turns": 50}
# MARS only evaluates on its held-out games (win rates, team scores): their ids pay the outcome.
_MARS_HELD_OUT_KWARGS = {"reward_shaping": "none", "max_turns": 50}

ENV_SPECS: tuple[SelfPlaySpec, ...] = (
    SelfPlaySpec(
        id="selfplay/TicTacToe-v0",
        entry_point=f"{_TEXT_GAMES}.tictactoe:TicTacToeEnv",
        bots={
            "strong": f"{_TEXT_GAMES}.tictactoe:PerfectTicTacToeBot",
            "tactical": f"{_TEXT_GAMES}.tictactoe:TacticalTicTacToeBot",
        },
        summary="Tic-Tac-Toe in text (SPIRAL); bots: perfect play, tactical (win, block, else random).",
    ),
    SelfPlaySpec(
        id="selfplay/KuhnPoker-v0",
        entry_point=f"{_TEXT_GAMES}.kuhn_poker:KuhnPokerEnv",
        kwargs={"num_hands": 5, "ante": 1},
        bots={"strong": f"{_TEXT_GAMES}.kuhn_poker:NashKuhnBot"},
        summary="Kuhn Poker, 5 hands, ante 1 (SPIRAL); strong bot: a Nash strategy.",
    ),
    SelfPlaySpec(
        id="selfplay/SimpleNegotiation-v0",
        entry_point=f"{_TEXT_GAMES}.negotiation:SimpleNegotiationEnv",
        kwargs={"max_rounds": 10},
        bots={"strong": f"{_TEXT_GAMES}.negotiation:ValueAwareNegotiator"},
        summary="Wood/Gold trading over 10 turns (SPIRAL); strong bot: value-aware trader.",
    ),
    SelfPlaySpec(
        id="selfplay/RepeatedPrisonersDilemma-v0",
        entry_point=f"{_TEXT_GAMES}.repeated_games:RepeatedMatrixGameEnv",
        kwargs={
            "payoffs": {"JJ": (8, 8), "JF": (0, 10), "FJ": (10, 0), "FF": (5, 5)},
            "rounds": 10,
            "game_name": "the Prisoner's Dilemma",
        },
        bots=_REPEATED_GAME_BOTS,
        summary="Repeated Prisoner's Dilemma, 10 rounds, options J/F (Akata et al.); strong bot: tit-for-tat.",
    ),
    SelfPlaySpec(
        id="selfplay/RepeatedBattleOfTheSexes-v0",
        entry_point=f"{_TEXT_GAMES}.repeated_games:RepeatedMatrixGameEnv",
        kwargs={
            "payoffs": {"JJ": (10, 7), "JF": (0, 0), "FJ": (0, 0), "FF": (7, 10)},
            "rounds": 10,
            "game_name": "the Battle of the Sexes",
        },
        bots=_REPEATED_GAME_BOTS,
        summary="Repeated Battle of the Sexes, 10 rounds, options J/F (Akata et al.); strong bot: tit-for-tat.",
    ),
    SelfPlaySpec(
        id="selfplay/OffSwitch-v0",
        entry_point=f"{_TEXT_GAMES}.off_switch:OffSwitchEnv",
        kwargs={"prior_mean": 0.5, "prior_std": 1.0, "num_rounds": 1},
        bots={
            "strong": f"{_TEXT_GAMES}.off_switch:StrongRobotBot",
            "rational_human": f"{_TEXT_GAMES}.off_switch:RationalHumanBot",
            "boltzmann_human": f"{_TEXT_GAMES}.off_switch:BoltzmannHumanBot",
            "always_act_robot": f"{_TEXT_GAMES}.off_switch:AlwaysActRobotBot",
            "always_wait_robot": f"{_TEXT_GAMES}.off_switch:AlwaysWaitRobotBot",
            "always_off_robot": f"{_TEXT_GAMES}.off_switch:AlwaysOffRobotBot",
        },
        default_opponent="rational_human",
        summary="The Off-Switch game (Hadfield-Menell et al.): a robot acts, switches off or defers to a human who knows U_a; shared reward.",
    ),
    SelfPlaySpec(
        id="selfplay/SearchSelfPlay-v0",
        entry_point=f"{_SEARCH}.env:SearchSelfPlayEnv",
        kwargs={"num_solvers": 5, "topk": 3, "max_turns": 10},
        bots=_SEARCH_BOTS,
        default_opponent="scripted",
        summary="Search self-play (SSP): a proposer searches to pose a question, 5 solvers search to answer it.",
    ),
    SelfPlaySpec(
        id="selfplay/SearchQA-v0",
        entry_point=f"{_SEARCH}.env:SearchSelfPlayEnv",
        kwargs={"questions": "fixture", "num_solvers": 1, "topk": 3, "max_turns": 10},
        bots=_SEARCH_BOTS,
        default_opponent="scripted",
        summary="Search-R1's task: answer questions by searching the corpus (the solver side of SSP).",
    ),
    # ---- proposer/solver/judge pipelines (envs/reasoning) ----
    SelfPlaySpec(
        id="selfplay/RedTeam-v0",
        entry_point=f"{_REASONING}.red_team:RedTeamEnv",
        kwargs={"prompts": "fixture", "hidden_cot": True},
        bots={"scripted": f"{_REASONING}.red_team:ScriptedRedTeamPlayer"},
        default_opponent="scripted",
        summary="Self-RedTeam: an attacker rewrites a seed prompt, a defender answers; a safety judge labels both (general-sum, hidden CoT).",
    ),
    SelfPlaySpec(
        id="selfplay/PreferenceGame-v0",
        entry_point=f"{_REASONING}.preference:PreferenceGameEnv",
        kwargs={"num_responses": 5, "creator": False},
        bots={"scripted": f"{_REASONING}.preference:ScriptedPreferencePlayer"},
        default_opponent="scripted",
        summary="SPPO/SPIN/eva: 5 responses to a prompt, a pairwise judge, each rewarded by its win rate (optional eva creator).",
    ),
    SelfPlaySpec(
        id="selfplay/ProposerSolverJudge-v0",
        entry_point=f"{_REASONING}.mae:ProposerSolverJudgeEnv",
        kwargs={"num_solvers": 5, "judge": "agent", "include_references": 0.5, "gate": 0.7},
        bots={"scripted": f"{_REASONING}.mae:ScriptedMAEPlayer"},
        default_opponent="scripted",
        summary="Multi-Agent Evolve (MAE): a proposer, 5 solvers and a judge from one model; the judge's 1-10 scores are the verifier.",
    ),
    SelfPlaySpec(
        id="selfplay/DualPlay-v0",
        entry_point=f"{_REASONING}.dual_play:DualPlayEnv",
        kwargs={
            "num_solvers": 6,
            "passages": "fixture",
            "threshold": 0.2,
            "diversity_threshold": 0.3,
            "history_size": 100,
            "max_similarity": 0.8,
        },
        bots={"scripted": f"{_REASONING}.dual_play:ScriptedDualPlayer"},
        default_opponent="scripted",
        summary="PasoDoble: a proposer writes a math problem from a passage with its boxed answer; 6 solvers solve it.",
    ),
    SelfPlaySpec(
        id="selfplay/VariationalSynthesis-v0",
        entry_point=f"{_REASONING}.variational:VariationalSynthesisEnv",
        kwargs={
            "num_solvers": 8,
            "num_variant_solvers": 8,
            "synthesis_band": (0.125, 0.5),
            "synthesizer_reward": "band",
        },
        bots={"scripted": f"{_REASONING}.variational:ScriptedSvSPlayer"},
        default_opponent="scripted",
        summary="SvS: 8 solvers; from a correct solution of a hard problem a synthesizer writes a same-answer variant for 8 more.",
    ),
    SelfPlaySpec(
        id="selfplay/SneakyCritic-v0",
        entry_point=f"{_REASONING}.sneaky_critic:SneakyCriticEnv",
        kwargs={"p_original": 0.0, "invalid_reward": -1.0},
        bots={"scripted": f"{_REASONING}.sneaky_critic:ScriptedSPCPlayer"},
        default_opponent="scripted",
        summary="SPC: a sneaky generator makes one solution step subtly wrong, a critic judges it (zero-sum).",
    ),
    # ---- code self-play (envs/code_reasoning, envs/code_repair) ----
    SelfPlaySpec(
        id="selfplay/CodeReasoning-v0",
        entry_point=f"{_CODE_REASONING}.env:CodeReasoningEnv",
        kwargs={
            "num_solvers": 8,
            "task_types": ("deduction", "abduction", "induction"),
            "num_references": 6,
            "num_inputs": 10,
            "induction_source": "buffer",
            "sandbox": "auto",
        },
        bots={"scripted": f"{_CODE_REASONING}.players:ScriptedCodePlayer"},
        default_opponent="scripted",
        summary="Absolute Zero Reasoner: a proposer writes Python programs with inputs (run in a sandbox); 8 solvers deduce outputs, abduce inputs or induce programs.",
    ),
    SelfPlaySpec(
        id="selfplay/BugInjectRepair-v0",
        entry_point=f"{_CODE_REPAIR}.env:BugInjectRepairEnv",
        kwargs={
            "num_solvers": 4,
            "repo": "embedded",
            "sandbox": "auto",
            "alpha": 0.8,
            "max_turns": 32,
            "max_order": 2,
            "injector": "agent",
        },
        bots={
            "scripted": f"{_CODE_REPAIR}.players:ScriptedSSRPlayer",
            "oracle": f"{_CODE_REPAIR}.players:OracleSolver",
            "lazy": f"{_CODE_REPAIR}.players:LazySolver",
            "random_edit": f"{_CODE_REPAIR}.players:RandomEditSolver",
        },
        default_opponent="scripted",
        summary="SSR: an injector hides a bug in a real repository behind weakened tests; solvers repair it with sandboxed bash/view/edit tools (4 solvers here, SSR uses 8).",
    ),
    # ---- social games: Who-is-the-Spy (words, images) and Werewolf (envs/text_games) ----
    SelfPlaySpec(
        id="selfplay/WhoIsTheSpy-v0",
        entry_point=f"{_TEXT_GAMES}.spy:WhoIsTheSpyEnv",
        kwargs={"num_players": 4, "num_rounds": 2},
        bots=_SPY_BOTS,
        default_opponent="strong",
        summary="Who-is-the-Spy with words (Vision-Zero's game): 4 players, one spy, 2 clue rounds, a secret vote; Vision-Zero's rewards.",
    ),
    SelfPlaySpec(
        id="selfplay/WhoIsTheSpyImages-v0",
        entry_point=f"{_TEXT_GAMES}.spy_images:WhoIsTheSpyImagesEnv",
        kwargs={"num_players": 4, "num_rounds": 2, "num_objects": 5},
        bots=_SPY_BOTS,
        default_opponent="strong",
        summary="Vision-Zero's Who-is-the-Spy on generated CLEVR-like images (the spy's has two objects replaced); images in info['images'].",
    ),
    SelfPlaySpec(
        id="selfplay/Werewolf-v0",
        entry_point=f"{_TEXT_GAMES}.werewolf:WerewolfEnv",
        kwargs={
            "roles": ("werewolf", "werewolf", "seer", "doctor", "villager", "villager", "villager"),
            "max_days": 6,
            "tie_rule": "none",
        },
        bots={
            "strong": f"{_TEXT_GAMES}.werewolf:StrongWerewolfBot",
            "scripted": f"{_TEXT_GAMES}.werewolf:ScriptedWerewolfBot",
        },
        default_opponent="strong",
        summary="Werewolf, 7 players (2 werewolves, seer, doctor, 3 villagers): night kills, inspections and saves, one speech each per day, a secret plurality vote.",
    ),
    # ---- end of the social games: Who-is-the-Spy and Werewolf ----
    # ---- social games: the Donor Game and bargaining (envs/text_games) ----
    SelfPlaySpec(
        id="selfplay/DonorGame-v0",
        entry_point=f"{_TEXT_GAMES}.donor_game:DonorGameEnv",
        kwargs={
            "num_agents": 12,
            "endowment": 10,
            "multiplier": 2,
            "num_generations": 3,
            "trace_depth": 3,
            "punishment": False,
        },
        bots={
            "strong": f"{_TEXT_GAMES}.donor_game:ReciprocalBot",
            "reciprocal": f"{_TEXT_GAMES}.donor_game:ReciprocalBot",
            "always_give": f"{_TEXT_GAMES}.donor_game:AlwaysGiveBot",
            "never_give": f"{_TEXT_GAMES}.donor_game:NeverGiveBot",
        },
        default_opponent="reciprocal",
        summary="The Donor Game with cultural evolution (Vallinder & Hughes): 12 agents, gifts doubled, top half survive; 3 generations here (paper: 10).",
    ),
    SelfPlaySpec(
        id="selfplay/Bargaining-v0",
        entry_point=f"{_TEXT_GAMES}.bargaining:BargainingEnv",
        kwargs={
            "cost": 8,
            "seller_open": 20,
            "buyer_open": 10,
            "buyer_value": 20,
            "max_rounds": 10,
            "num_games": 3,
            "coached": "seller",
        },
        bots={
            "concession": f"{_TEXT_GAMES}.bargaining:ConcessionBot",
            "hard_liner": f"{_TEXT_GAMES}.bargaining:HardLinerBot",
            "rule_critic": f"{_TEXT_GAMES}.bargaining:RuleCriticBot",
        },
        default_opponent="concession",
        summary="Buyer/seller bargaining over a balloon (Fu et al.): cost $8, openers $20/$10, 10 rounds, rule moderator; a critic coaches the seller between 3 games.",
    ),
    # ---- end of the social games: the Donor Game and bargaining ----
    # ---- OpenSpiel bridge: MARS's suite (envs/openspiel) ----
    SelfPlaySpec(
        id="selfplay/MarsTicTacToe-v0",
        entry_point=f"{_OPENSPIEL}.mars:MarsTicTacToeEnv",
        kwargs=_MARS_KWARGS,
        bots=_OPENSPIEL_MCTS_BOTS,
        summary="MARS training game: OpenSpiel tic_tac_toe; MCTS opponents (100, 1000 simulations).",
    ),
    SelfPlaySpec(
        id="selfplay/MarsKuhnPoker-v0",
        entry_point=f"{_OPENSPIEL}.mars:MarsKuhnPokerEnv",
        kwargs=_MARS_KWARGS,
        bots=_OPENSPIEL_CFR_BOTS,
        summary="MARS training game: one hand of OpenSpiel kuhn_poker; CFR+ opponent.",
    ),
    SelfPlaySpec(
        id="selfplay/MarsMiniHanabi-v0",
        entry_point=f"{_OPENSPIEL}.mars:MarsMiniHanabiEnv",
        kwargs=_MARS_KWARGS,
        summary="MARS training game (cooperative): Hanabi, 2 colours x 2 ranks, hands of 3.",
    ),
    SelfPlaySpec(
        id="selfplay/MarsConnectFour-v0",
        entry_point=f"{_OPENSPIEL}.mars:MarsConnectFourEnv",
        kwargs=_MARS_HELD_OUT_KWARGS,
        bots=_OPENSPIEL_MCTS_BOTS,
        summary="MARS held-out game: OpenSpiel connect_four; MCTS opponents (100, 1000 simulations).",
    ),
    SelfPlaySpec(
        id="selfplay/MarsLeducHoldem-v0",
        entry_point=f"{_OPENSPIEL}.mars:MarsLeducHoldemEnv",
        kwargs=_MARS_HELD_OUT_KWARGS,
        bots=_OPENSPIEL_CFR_BOTS,
        summary="MARS held-out game: OpenSpiel leduc_poker; CFR+ opponent.",
    ),
    SelfPlaySpec(
        id="selfplay/MarsSimpleHanabi-v0",
        entry_point=f"{_OPENSPIEL}.mars:MarsSimpleHanabiEnv",
        kwargs=_MARS_HELD_OUT_KWARGS,
        summary="MARS held-out game (cooperative): Hanabi, 3 colours x 2 ranks, hands of 5.",
    ),
    SelfPlaySpec(
        id="selfplay/MarsFullHanabi-v0",
        entry_point=f"{_OPENSPIEL}.mars:MarsFullHanabiEnv",
        kwargs=_MARS_HELD_OUT_KWARGS,
        summary="MARS held-out game (cooperative): Hanabi, 3 colours x 3 ranks, hands of 5.",
    ),
    # ---- end of the OpenSpiel block ----
    # ---- drone volleyball on MuJoCo (envs/volleyball) ----
    *(
        SelfPlaySpec(
            id=f"selfplay/Volleyball{name}-v0",
            entry_point=f"{_VOLLEYBALL}.env:VolleyballEnv",
            kind="parallel",
            kwargs={"task": task, **extra},
            bots=_VOLLEYBALL_MATCH_BOTS if task in ("1v1", "3v3", "6v6") else _VOLLEYBALL_BOTS,
            default_opponent="scripted" if task in ("1v1", "3v3", "6v6") else "hover",
            summary=summary,
        )
        for name, task, extra, summary in (
            ("BackAndForth", "back_and_forth", {}, "VolleyBots drill: fly between two waypoints (1 Iris quadrotor, MuJoCo)."),
            ("HitTheBall", "hit_the_ball", {}, "VolleyBots drill: hit a dropped ball as far toward the net as possible."),
            ("SoloBump", "solo_bump", {}, "VolleyBots drill: juggle the ball alone, bumps 0.5 s apart."),
            ("BumpAndPass", "bump_and_pass", {}, "VolleyBots co-op: two drones pass the ball back and forth, 4 m high."),
            ("SetAndSpike", "set_and_spike", {}, "VolleyBots co-op: a setter and an attacker spike into a target (easy: no defender)."),
            ("SetAndSpikeHard", "set_and_spike", {"defender": True}, "VolleyBots co-op, hard: a scripted board defends the target."),
            ("1v1", "1v1", {}, "VolleyBots 1v1 rally on a 6 x 3 court, one touch per side."),
            ("3v3", "3v3", {}, "VolleyBots 3v3 rally on a 12 x 6 court, one touch per drone per possession."),
            ("6v6", "6v6", {}, "VolleyBots 6v6 rally on the 18 x 9 court."),
        )
    ),
    SelfPlaySpec(
        id="selfplay/VolleyballHighLevel3v3-v0",
        entry_point=f"{_VOLLEYBALL}.hierarchy:HighLevelVolleyballEnv",
        kind="parallel",
        bots=_VOLLEYBALL_HIGH_LEVEL_BOTS,
        default_opponent="scripted",
        summary="HCSP's high level: each 3v3 team picks a skill per role at every hit (MultiDiscrete [6, 3, 4]).",
    ),
    # ---- end of the volleyball block ----
)
"""Every environment id of the package."""

# ---- TextArena bridge (envs/textarena; owner: the TextArena helper) ----
_TEXTARENA = "selfplay_gym.envs.textarena"
_TEXTARENA_NAMED = {
    "TicTacToe-v0": "TextArenaTicTacToeEnv",
    "KuhnPoker-v0": "TextArenaKuhnPokerEnv",
    "ConnectFour-v0": "TextArenaConnectFourEnv",
    "Nim-v0": "TextArenaNimEnv",
    "SimpleNegotiation-v0": "TextArenaSimpleNegotiationEnv",
}
"""TextArena ids with a named class; these are also in ENV_SPECS (the main conformance suite)."""


def _textarena_specs() -> tuple[SelfPlaySpec, ...]:
    """One spec per TextArena id, from the committed table (textarena itself is not imported)."""
    from selfplay_gym._textarena_ids import ROWS

    specs = []
    for textarena_id, name, version, _entry, players, *_ in ROWS:
        named = _TEXTARENA_NAMED.get(textarena_id)
        counts = "-".join(map(str, sorted({min(players), max(players)}))) if players else ""
        specs.append(
            SelfPlaySpec(
                id=f"selfplay/{name}-v{version}",
                entry_point=(
                    f"{_TEXTARENA}.games:{named}" if named else f"{_TEXTARENA}.env:TextArenaEnv"
                ),
                kwargs={} if named else {"game_id": textarena_id},
                bots={"listed_random": f"{_TEXTARENA}.bots:ListedMoveBot"},
                default_opponent="listed_random",
                summary=f"TextArena's {textarena_id} through the bridge"
                + (
                    f" ({counts} players)."
                    if players
                    else " (does not start: docs/textarena_status.md)."
                ),
            )
        )
    return tuple(specs)


TEXTARENA_SPECS: tuple[SelfPlaySpec, ...] = _textarena_specs()
"""Every TextArena id (family ``textarena``): registered and known to :func:`spec`, but only the
named ones are in :data:`ENV_SPECS`, whose ids the full conformance suite runs on."""
ENV_SPECS = ENV_SPECS + tuple(s for s in TEXTARENA_SPECS if ".games:" in s.entry_point)
# ---- end of the TextArena block ----

_BY_ID = {s.id: s for s in (*ENV_SPECS, *TEXTARENA_SPECS)}
_registered = False


def load_entry_point(entry_point: str) -> Any:
    """Import ``"module:attr"`` and return the attribute."""
    module, _, attr = entry_point.partition(":")
    return getattr(importlib.import_module(module), attr)


def spec(env_id: str) -> SelfPlaySpec:
    """The spec of ``env_id``; unknown ids raise with the closest registered ids suggested."""
    found = _BY_ID.get(env_id)
    if found is not None:
        return found
    if not isinstance(env_id, str):
        raise TypeError(f"expected an env id string, got {type(env_id).__name__}")
    base = env_id.rsplit("-v", 1)[0]
    same_name = [s.id for s in ENV_SPECS if s.id.rsplit("-v", 1)[0].lower() == base.lower()]
    if same_name and same_name[0].rsplit("-v", 1)[0] == base:
        raise VersionNotFound(
            f"Environment version for `{env_id}` does not exist. Registered: {', '.join(same_name)}."
        )
    candidates = difflib.get_close_matches(env_id, list(_BY_ID), n=3, cutoff=0.5)
    if not candidates:
        lowered = {k.lower(): k for k in _BY_ID}
        candidates = [
            lowered[k]
            for k in difflib.get_close_matches(env_id.lower(), list(lowered), n=3, cutoff=0.4)
        ]
    candidates = list(dict.fromkeys(same_name + candidates))
    hint = f" Did you mean: `{candidates[0]}`?" if candidates else ""
    raise NameNotFound(f"Environment `{env_id}` doesn't exist in selfplay-gym.{hint}")


def make(env_id: str, **kwargs: Any) -> Any:
    """The multi-agent env of ``env_id`` (PettingZoo AEC or parallel), e.g. ``make("selfplay/KuhnPoker-v0")``.

    Keywords override the id's defaults. For the single-agent Gymnasium view use
    ``gymnasium.make(env_id, ...)`` or :func:`make_single_agent`.
    """
    return spec(env_id).make(**kwargs)


def resolve_opponent(env_id: str, opponent: Any) -> Any:
    """Turn ``None``, a bot name (``"random"``, ``"strong"``), a :class:`Bot` or a callable into an opponent."""
    from selfplay_gym.core.bots import Bot, RandomBot

    s = spec(env_id)
    if opponent is None:
        opponent = s.default_opponent
    if isinstance(opponent, str):
        if opponent == "random":
            return RandomBot()
        if opponent in s.bots:
            return load_entry_point(s.bots[opponent])()
        raise ValueError(
            f"unknown opponent {opponent!r} for {env_id}; expected one of {['random', *s.bots]} "
            "or a callable (observation, info) -> action"
        )
    if isinstance(opponent, Bot) or callable(opponent):
        return opponent
    raise TypeError(
        f"expected an opponent name, a Bot or a callable, got {type(opponent).__name__}"
    )


def make_single_agent(
    env_id: str,
    *,
    learner: str | Sequence[str] | None = None,
    opponent: Any = None,
    numeric: bool = False,
    **kwargs: Any,
) -> gymnasium.Env:
    """The single-agent view of ``env_id``: ``learner`` plays, ``opponent`` takes the other seats.

    Args:
        env_id: A registered id.
        learner: The seat the Gymnasium agent plays (default: the env's first seat, e.g.
            ``player_0`` or ``proposer_0``); a sequence of seats, or ``"any"``, draws it anew on
            every reset (self-play of one policy in every seat).
        opponent: A bot name, a :class:`~selfplay_gym.core.bots.Bot`, a callable
            ``(observation, info) -> action``, a :class:`~selfplay_gym.league.League` (an
            opponent drawn from it on every reset, results reported back), or a mapping from
            seat to any of these.
        numeric: Return the numeric view (state tensor observations, ``Discrete`` actions).
        **kwargs: Passed to the multi-agent env (``render_mode`` included).
    """
    from selfplay_gym.league import League
    from selfplay_gym.wrappers import NumericView, SelfPlayView
    from selfplay_gym.wrappers.self_play_view import learner_seats

    def seat_opponent(given: Any) -> Any:
        # A league stays a league: the view draws from it on every reset.
        return given if isinstance(given, League) else resolve_opponent(env_id, given)

    env = make(env_id, **kwargs)
    if spec(env_id).kind == "parallel":
        from selfplay_gym.wrappers.parallel_view import ParallelSelfPlayView

        if numeric:
            raise TypeError(f"{env_id} already has numeric spaces; numeric=True is for text games")
        seat = env.possible_agents[0] if learner is None else learner
        if not isinstance(seat, str):
            raise TypeError(f"{env_id} takes one learner seat (a str), got {seat!r}")
        others = [a for a in env.possible_agents if a != seat]
        if isinstance(opponent, Mapping):
            unknown = sorted(set(opponent) - set(others))
            if unknown:
                raise ValueError(f"opponent seats {unknown} are not among the other seats {others}")
            opponents = {a: seat_opponent(opponent.get(a)) for a in others}
        else:
            opponents = {a: seat_opponent(opponent) for a in others}
        return ParallelSelfPlayView(env, learner=seat, opponents=opponents, env_id=env_id)
    seats = learner_seats(
        env.possible_agents, env.possible_agents[0] if learner is None else learner
    )
    # With several learner seats, each seat is an opponent's in the episodes the learner is not in it.
    others = [a for a in env.possible_agents if len(seats) > 1 or a != seats[0]]
    if isinstance(opponent, Mapping):
        unknown = sorted(set(opponent) - set(others))
        if unknown:
            raise ValueError(f"opponent seats {unknown} are not among the other seats {others}")
        opponents = {a: seat_opponent(opponent.get(a)) for a in others}
    else:
        opponents = {a: seat_opponent(opponent) for a in others}
    view = SelfPlayView(
        env, learner=seats if len(seats) > 1 else seats[0], opponents=opponents, env_id=env_id
    )
    return NumericView(view) if numeric else view


def register_all() -> None:
    """Register every id with Gymnasium and PettingZoo (once per process)."""
    global _registered
    if _registered:
        return
    for s in _BY_ID.values():
        if s.id not in gymnasium.registry:
            gymnasium.register(
                id=s.id,
                entry_point=make_single_agent,
                kwargs={"env_id": s.id},
                disable_env_checker=False,
            )
        pettingzoo.register(s.kind, s.id, entry_point=s.entry_point, kwargs=dict(s.kwargs))
    _registered = True
