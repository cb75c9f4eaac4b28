"""MaskablePPO self-play on the numeric view of a finite game, against a league of its past selves.

One policy learns both seats of TicTacToe or of one-hand Kuhn Poker (``learner="any"``: the
view draws the learner's seat every episode). The other seat is played by an opponent drawn
from a :class:`~selfplay_gym.league.League` that holds fixed bots and frozen snapshots of the
learner, one added every ``snapshot_every`` PPO updates (the newest ``max_snapshots`` kept).
TicTacToe's default league is the random bot, the tactical bot (wins, else blocks, else
random), the minimax bot and the 10 newest snapshots, drawn uniformly (a league with fixed
bots, not pure self-play); Kuhn Poker's plays the
newest snapshot (plain self-play), keeping every snapshot for the average strategy, and adds
to PPO's loss a KL penalty toward a "magnet", a frozen copy of the policy replaced every 10
updates (magnetic mirror descent, :class:`MagnetPPO`), which damps self-play's cycling.

At the end the recipe prints the league table, plays the deterministic policy against the
random bot and the game's strong bot (perfect minimax in TicTacToe, a Nash strategy in Kuhn
Poker) in both seats, and, for Kuhn Poker, computes the exact exploitability, in chips per
hand, of the final (stochastic) policy and of the average strategy of the snapshots of the
second half of training (:class:`AverageKuhnPolicy`): PPO self-play cycles around the
equilibrium, and it is the time-average that converges.

Run::

    python -m selfplay_gym.baselines.sb3_numeric --env tictactoe
    python -m selfplay_gym.baselines.sb3_numeric --env kuhn --json kuhn.json

Needs ``pip install "selfplay-gym[sb3]"`` (stable-baselines3, sb3-contrib, torch).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium
import numpy as np
import torch
from sb3_contrib import MaskablePPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

import selfplay_gym  # noqa: F401  (registers the ids)
from selfplay_gym.core.bots import Bot
from selfplay_gym.league import League

__all__ = [
    "Args",
    "AverageKuhnPolicy",
    "Game",
    "GAMES",
    "PolicyBot",
    "LeagueSnapshots",
    "MagnetPPO",
    "kl_to_magnet",
    "evaluate",
    "main",
    "train",
]


@dataclass(frozen=True)
class Game:
    """A game the recipe trains on, with the budget that reaches its targets."""

    env_id: str
    """The registered id."""
    env_kwargs: dict[str, Any]
    """Keywords of the multi-agent env."""
    total_timesteps: int
    """Default learner steps of training."""
    ent_coef: float
    """Default entropy bonus at the start of training."""
    ent_coef_final: float
    """Default entropy bonus at the end (it moves linearly from :attr:`ent_coef`)."""
    learning_rate: float
    """Default Adam step size."""
    learning_rate_decay: bool
    """Default of :attr:`Args.learning_rate_decay`."""
    net_arch: tuple[int, ...]
    """Default hidden layers of the policy and the value networks."""
    snapshot_every: int
    """Default PPO updates between snapshots."""
    max_snapshots: int
    """Default number of snapshots kept in the league."""
    league_bots: str
    """Default fixed bots of the league (comma-separated bot names)."""
    league_rule: str
    """Default rule of the league's draws."""
    n_epochs: int
    """Default passes over each rollout."""
    magnet_kl: float = 0.0
    """Default weight of the KL penalty toward the magnet policy (0: plain PPO)."""
    magnet_every: int = 10
    """Default PPO updates between magnet replacements."""


GAMES = {
    "tictactoe": Game(
        "selfplay/TicTacToe-v0",
        {},
        total_timesteps=2_000_000,
        ent_coef=0.01,
        ent_coef_final=0.01,
        learning_rate=5e-4,
        learning_rate_decay=True,
        net_arch=(256, 256),
        snapshot_every=5,
        # The 10 newest snapshots, the random, tactical and minimax bots: see the docs page
        # (the tactical bot punishes a missed block every time; without it O kept losing to
        # minimax; 2M steps: at 1M O still lost 6 of 200).
        max_snapshots=10,
        league_bots="random,tactical,strong",
        league_rule="uniform",
        n_epochs=10,
    ),
    # One hand, paid in net chips: the classic game, in which exploitability is defined.
    "kuhn": Game(
        "selfplay/KuhnPoker-v0",
        {"num_hands": 1, "payoff": "chips", "ante": 1},
        total_timesteps=200_000,
        ent_coef=0.1,
        ent_coef_final=0.1,
        learning_rate=3e-4,
        learning_rate_decay=False,
        net_arch=(64, 64),
        snapshot_every=1,
        # Self-play against the newest snapshot; every snapshot stays for the average strategy.
        max_snapshots=1000,
        league_bots="random",
        league_rule="latest",
        n_epochs=4,
        # Magnetic mirror descent: a KL penalty toward the policy of up to 10 updates ago
        # (0.2: below 0.05 chips per hand on each of seeds 0-9; 0.1 reached 0.050 on seed 1).
        magnet_kl=0.2,
        magnet_every=10,
    ),
}
"""The games of ``--env``."""


@dataclass
class Args:
    """Arguments of the recipe (each is a command-line flag: ``--snapshot-every 5``)."""

    env: str = "tictactoe"
    """The game: ``tictactoe`` or ``kuhn``."""
    seed: int = 0
    """Seeds PPO, the envs, the league and the evaluation: a seeded run replays exactly."""
    total_timesteps: int | None = None
    """Learner steps of training; ``None``: the game's default."""
    n_envs: int = 8
    """Envs stepped together (in this process)."""
    n_steps: int = 256
    """Steps per env per PPO update."""
    batch_size: int = 512
    """Minibatch size of the PPO update."""
    n_epochs: int | None = None
    """Passes over each rollout; ``None``: the game's default."""
    learning_rate: float | None = None
    """Adam step size; ``None``: the game's default."""
    learning_rate_decay: str | None = None
    """``yes``: the step size decays linearly to 0 over training (TicTacToe's default);
    ``no``: it stays constant (Kuhn Poker's default: self-play there cycles around the
    equilibrium, and the average strategy needs the cycles to keep turning); ``None``: the
    game's default."""
    gamma: float = 1.0
    """Discount: the games are short and only the end pays, so none."""
    ent_coef: float | None = None
    """Entropy bonus at the start; ``None``: the game's default."""
    ent_coef_final: float | None = None
    """Entropy bonus at the end of training, reached linearly from ``ent_coef``; ``None``:
    the game's default (TicTacToe keeps it constant; Kuhn Poker anneals it), or constant if
    ``--ent-coef`` is given."""
    net_arch: tuple[int, ...] | None = None
    """Hidden layers of the policy and the value networks; ``None``: the game's default."""
    snapshot_every: int | None = None
    """Add a frozen snapshot of the learner to the league every this many PPO updates;
    ``None``: the game's default (TicTacToe 5, Kuhn Poker 1)."""
    max_snapshots: int | None = None
    """Snapshots kept in the league (the oldest leave first); ``None``: the game's default
    (Kuhn Poker keeps every snapshot, so the uniform league plays the average of all the
    learner's past selves, fictitious self-play; TicTacToe keeps the 10 newest)."""
    magnet_kl: float | None = None
    """Weight of a KL penalty ``KL(pi || magnet)`` added to the PPO loss, toward a frozen copy
    of the policy replaced by the current one every ``magnet_every`` updates (magnetic mirror
    descent, Sokota et al. 2022); 0: plain PPO; ``None``: the game's default. Needs a positive
    entropy bonus (see :class:`MagnetPPO`)."""
    magnet_every: int | None = None
    """PPO updates between magnet replacements; ``None``: the game's default."""
    snapshot_moves: str = "sample"
    """How league snapshots play: ``sample`` (from the policy's distribution; needed where
    the equilibrium is mixed, as in poker) or ``greedy`` (the most likely move: a snapshot then
    always takes a win it sees; in TicTacToe this made O lose more to minimax, see the docs)."""
    average_from: float = 0.5
    """Kuhn Poker: the reported average strategy averages the snapshots taken after this
    fraction of training (0: all of them; the early ones are near-uniform and slow it down)."""
    league_rule: str | None = None
    """How the league draws opponents: ``uniform``, ``prioritized`` or ``latest``; ``None``:
    the game's default. Not ``prioritized``: with one noisy result per game, ``prioritized`` starved snapshots whose first
    one or two games the learner happened to win (win rate 1, weight 0, never drawn again)."""
    league_bots: str | None = None
    """The fixed bots of the league, comma-separated bot names; ``None``: the game's default
    (TicTacToe ``random,tactical,strong``: the minimax bot is one league entry, so it is not pure
    self-play; Kuhn Poker ``random``). ``--league-bots random`` is pure self-play."""
    league_window: int = 200
    """Win rates in the league count each entry's last this many games."""
    eval_games: int = 200
    """Evaluation games per opponent and per seat."""
    snapshot_games: int = 40
    """TicTacToe: games (half in each seat) each new snapshot plays, deterministically, against
    minimax as a progress measure; its losses are printed (0: no measure)."""
    json: str | None = None
    """Write a JSON summary (evaluation, exploitability, league, timings) to this path."""
    save: str | None = None
    """Save the trained model to this path (a ``.zip``)."""
    verbose: int = 0
    """SB3 verbosity (0 silent, 1 training tables)."""

    @property
    def game(self) -> Game:
        """The :class:`Game` of :attr:`env`."""
        if self.env not in GAMES:
            raise ValueError(f"expected --env in {sorted(GAMES)}, got {self.env!r}")
        return GAMES[self.env]


class PolicyBot(Bot):
    """The actor of a MaskablePPO policy as a :class:`~selfplay_gym.core.bots.Bot`.

    It reads ``env.state_tensor(agent)`` and the legal-move mask of ``env.infos[agent]``, and
    plays the most likely legal move (``deterministic``) or samples one with the bot's own
    generator (never torch's global one), so a game re-seeded by the view or the arena replays.
    :meth:`snapshot` gives a frozen copy, which is what :meth:`League.add_snapshot
    <selfplay_gym.league.League.add_snapshot>` stores.

    Args:
        policy: The ``model.policy`` of a ``MaskablePPO``; the bot plays its actor modules as
            they are (it follows training until :meth:`snapshot` freezes a copy).
        deterministic: Play the most likely legal move instead of sampling.
        seed: Seed of the bot's generator.
    """

    name = "policy"

    def __init__(self, policy: Any, deterministic: bool = False, seed: int | None = None):
        super().__init__(seed)
        # Observation -> move logits: the modules MaskableActorCriticPolicy runs for its actor.
        self.actor = torch.nn.Sequential(
            policy.pi_features_extractor, policy.mlp_extractor.policy_net, policy.action_net
        )
        self.deterministic = deterministic

    def snapshot(self) -> PolicyBot:
        """A bot playing a frozen copy of the actor as it is now (later training leaves it)."""
        frozen = copy.copy(self)
        frozen.actor = copy.deepcopy(self.actor).requires_grad_(False).eval()
        frozen.reset()
        return frozen

    def probabilities(self, env: Any, agent: str) -> np.ndarray:
        """The policy's probability of each of ``env.move_names`` (zero on illegal moves)."""
        mask = np.asarray(env.infos[agent]["action_mask"], dtype=bool)
        with torch.no_grad():
            logits = self.actor(torch.as_tensor(env.state_tensor(agent)).unsqueeze(0))
        logits = logits[0].double().numpy()
        logits[~mask] = -np.inf
        p = np.exp(logits - logits.max())
        return p / p.sum()

    def act(self, env: Any, agent: str) -> int:
        """The index of the chosen legal move."""
        p = self.probabilities(env, agent)
        if self.deterministic:
            return int(np.argmax(p))
        r = self.rng.random()
        legal = np.flatnonzero(p > 0)
        for move in legal:
            r -= p[move]
            if r < 0:
                return int(move)
        return int(legal[-1])  # r was within rounding of 1

    def __call__(self, env: Any, agent: str) -> np.ndarray:
        """Same as :meth:`probabilities`: the ``policy(env, agent)`` form of exploitability."""
        return self.probabilities(env, agent)


class AverageKuhnPolicy:
    """The average strategy of several Kuhn Poker policies (one hand), in sequence form.

    Fictitious play converges in its *time-average* strategy, not in its last iterate; this is
    that average. Drawing one of ``bots`` uniformly at random for a whole hand is a mixed
    strategy; its behaviour at an information set weights each bot's move probabilities by that
    bot's own probability of reaching the set (the product of its earlier moves' probabilities
    in the hand; the opponent's moves and the deal weigh every bot alike)::

        average(I) = sum_k reach_k(I) * p_k(I) / sum_k reach_k(I)

    It is a ``policy(env, agent)`` as :func:`~selfplay_gym.envs.text_games.kuhn_poker.exploitability`
    expects, reading only what ``agent`` may read (its card and the hand's moves).

    Args:
        bots: The policies averaged (:class:`PolicyBot` snapshots), each with equal weight.
        env_kwargs: Keywords of the one-hand env the bots were trained in.
    """

    def __init__(self, bots: list[PolicyBot], env_kwargs: dict[str, Any]):
        from selfplay_gym.envs.text_games.kuhn_poker import KuhnPokerEnv, _deal_seeds

        if not bots:
            raise ValueError("expected at least one policy to average, got none")
        self.bots = list(bots)
        self._env = KuhnPokerEnv(**env_kwargs)  # replays the hand's earlier positions
        self._seed_of_deal = _deal_seeds(self._env)

    def __call__(self, env: Any, agent: str) -> np.ndarray:
        """The average probability of each of ``env.move_names`` for ``agent`` at this position."""
        bets = tuple(env._bets)
        deal = (env._cards["player_0"], env._cards["player_1"])
        reach = np.ones(len(self.bots))
        # The agent's own earlier moves of the hand: every other move before this one.
        for j in range(len(bets) % 2, len(bets), 2):
            self._env.reset(seed=self._seed_of_deal[deal])
            for move in bets[:j]:
                self._env.step(move)
            for k, bot in enumerate(self.bots):
                reach[k] *= bot.probabilities(self._env, agent)[bets[j]]
        probabilities = np.array([bot.probabilities(env, agent) for bot in self.bots])
        if reach.sum() <= 0:  # no policy reaches this set: any behaviour there is as good
            reach = np.ones(len(self.bots))
        return reach @ probabilities / reach.sum()


def kl_to_magnet(
    policy: Any, magnet: Any, obs: torch.Tensor, action_masks: torch.Tensor | None
) -> torch.Tensor:
    """``KL(policy || magnet)`` at each observation, over the legal moves.

    Differentiable in ``policy``; the magnet is held fixed.
    """
    log_p = policy.get_distribution(obs, action_masks).distribution.logits  # normalised
    with torch.no_grad():
        log_q = magnet.get_distribution(obs, action_masks).distribution.logits
    # Illegal moves have probability exactly 0 under both (masked logits near -1e8): no term.
    return (log_p.exp() * (log_p - log_q)).sum(-1)


class MagnetPPO(MaskablePPO):
    """MaskablePPO plus a KL penalty toward a moving magnet policy (magnetic mirror descent).

    The loss gains ``magnet_kl * KL(pi || magnet)``, where the magnet is a frozen copy of the
    policy taken before every ``magnet_every``-th update. With PPO's own proximity to the
    previous policy and the entropy bonus, this is the MMD update of Sokota et al. (2022),
    whose last iterate converges in two-player zero-sum games (to the regularised
    equilibrium of the magnet, which moves toward a Nash equilibrium as it is replaced).

    The term enters through the entropy that ``policy.evaluate_actions`` returns to
    ``MaskablePPO.train``, which adds ``-ent_coef * mean(entropy)`` to the loss: it returns
    ``entropy - (magnet_kl / ent_coef) * KL``, so the loss gets exactly ``+magnet_kl *
    mean(KL)`` without copying the training loop (the logged entropy loss includes it).
    Hence it needs ``ent_coef > 0``.
    """

    def __init__(self, *args: Any, magnet_kl: float = 0.0, magnet_every: int = 10, **kwargs: Any):
        self.magnet_kl, self.magnet_every = magnet_kl, magnet_every
        self.magnet: Any = None
        self.updates = 0
        super().__init__(*args, **kwargs)
        if magnet_kl and not self.ent_coef > 0:
            raise ValueError("the magnet KL term needs a positive entropy bonus (ent_coef)")

    def _setup_model(self) -> None:
        # Also what ``MagnetPPO.load`` calls to rebuild the policy: the hook goes on here.
        super()._setup_model()
        evaluate = self.policy.evaluate_actions

        def evaluate_actions(obs, actions, action_masks=None):  # type: ignore[no-untyped-def]
            values, log_prob, entropy = evaluate(obs, actions, action_masks=action_masks)
            if self.magnet_kl:
                kl = kl_to_magnet(self.policy, self.magnet, obs, action_masks)
                entropy = entropy - self.magnet_kl / self.ent_coef * kl
            return values, log_prob, entropy

        self.policy.evaluate_actions = evaluate_actions

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "magnet"]  # a new one is taken when due

    def train(self) -> None:
        """One PPO update, replacing the magnet by the current policy first if it is due."""
        if self.magnet_kl and (self.magnet is None or self.updates % self.magnet_every == 0):
            self.magnet = copy.deepcopy(self.policy).requires_grad_(False)
        self.updates += 1
        super().train()


class LeagueSnapshots(BaseCallback):
    """Adds a frozen snapshot of the learner to ``league`` every ``every`` PPO updates.

    Every snapshot is also kept in :attr:`snapshots` (the league may drop old ones), which is
    what an average strategy over training is built from.

    Args:
        league: The league the training envs draw their opponents from.
        every: PPO updates between snapshots.
        measure: Optional ``measure(bot) -> float`` of each new snapshot (Kuhn Poker: its
            exploitability; TicTacToe: its losses to minimax), printed and kept in
            :attr:`history`.
        entropy: ``(start, end)``: set the model's entropy bonus before each rollout, moving
            linearly from ``start`` to ``end`` over training.
        greedy: Snapshots play their most likely move instead of sampling.
    """

    def __init__(
        self,
        league: League,
        every: int,
        measure: Callable[[PolicyBot], float] | None = None,
        entropy: tuple[float, float] | None = None,
        greedy: bool = False,
    ):
        super().__init__()
        self.entropy = entropy
        self.greedy = greedy
        self.league = league
        self.every = every
        self.measure = measure
        self.updates = 0
        self.history: list[tuple[int, float]] = []
        """(timesteps, measure) at each snapshot."""
        self.snapshots: list[tuple[int, PolicyBot]] = []
        """(timesteps, frozen bot) of every snapshot taken."""

    def _on_rollout_start(self) -> None:
        if self.entropy is not None:
            start, end = self.entropy
            progress = 1.0 - self.model._current_progress_remaining
            self.model.ent_coef = start + (end - start) * progress
        # Called before each rollout, i.e. after each update but the first rollout.
        if self.updates and self.updates % self.every == 0:
            name = f"snapshot@{self.num_timesteps}"
            bot = PolicyBot(self.model.policy, deterministic=self.greedy)
            entry = self.league.add_snapshot(bot, name=name)
            self.snapshots.append((self.num_timesteps, entry.source))
            if self.measure is not None:
                self.history.append((self.num_timesteps, self.measure(entry.source)))
                print(f"{name}: {self.history[-1][1]:.4f}", flush=True)

    def _on_rollout_end(self) -> None:
        self.updates += 1

    def _on_step(self) -> bool:
        return True


@dataclass
class SeatResult:
    """The learner's results in one seat against one opponent."""

    opponent: str
    """The opponent's bot name."""
    seat: str
    """The learner's seat."""
    games: int = 0
    """Games played."""
    wins: int = 0
    """Games with a positive return."""
    draws: int = 0
    """Games with a zero return."""
    losses: int = 0
    """Games with a negative return."""
    total_reward: float = 0.0
    """Summed returns (chips, in Kuhn Poker)."""
    lost_games: dict[str, int] = field(default_factory=dict)
    """Transcript of each distinct lost game -> how many times it was played (the lines a
    deterministic policy loses on, e.g. the opening that beats it)."""

    @property
    def mean_reward(self) -> float:
        """Return per game."""
        return self.total_reward / self.games if self.games else 0.0


def evaluate(
    model: MaskablePPO,
    game: Game,
    opponent: str,
    seat: str,
    games: int,
    seed: int,
    deterministic: bool = True,
) -> SeatResult:
    """Play ``games`` seeded games of ``model`` in ``seat`` against the bot named ``opponent``.

    Game ``g`` resets the numeric view with ``seed + g`` (the view re-seeds the bot from it), so
    the evaluation replays. It plays the model itself (``model.predict``) through the numeric
    view, the way it was trained.
    """
    env = gymnasium.make(
        game.env_id, numeric=True, learner=seat, opponent=opponent, **game.env_kwargs
    )
    result = SeatResult(opponent=opponent, seat=seat)
    for g in range(games):
        obs, _ = env.reset(seed=seed + g)
        total, done = 0.0, False
        while not done:
            action, _ = model.predict(
                obs, action_masks=env.unwrapped.action_masks(), deterministic=deterministic
            )
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
        result.games += 1
        result.total_reward += total
        result.wins += total > 0
        result.draws += total == 0
        result.losses += total < 0
        if total < 0:
            lines = " ".join(
                line.split("\n")[0] for line in env.unwrapped.aec_env.unwrapped.transcript
            )
            result.lost_games[lines] = result.lost_games.get(lines, 0) + 1
    env.close()
    return result


def train(args: Args) -> dict[str, Any]:
    """Train by self-play against the league, evaluate, and return the summary."""
    torch.set_num_threads(1)
    game = args.game
    # The game's defaults fill the arguments left at None (the summary records the values used).
    args = dataclasses.replace(
        args,
        total_timesteps=args.total_timesteps or game.total_timesteps,
        ent_coef=game.ent_coef if args.ent_coef is None else args.ent_coef,
        learning_rate=args.learning_rate or game.learning_rate,
        net_arch=args.net_arch or game.net_arch,
        snapshot_every=args.snapshot_every or game.snapshot_every,
        max_snapshots=args.max_snapshots or game.max_snapshots,
        league_bots=args.league_bots or game.league_bots,
        league_rule=args.league_rule or game.league_rule,
        n_epochs=args.n_epochs or game.n_epochs,
        magnet_kl=game.magnet_kl if args.magnet_kl is None else args.magnet_kl,
        magnet_every=args.magnet_every or game.magnet_every,
        learning_rate_decay=args.learning_rate_decay
        or ("yes" if game.learning_rate_decay else "no"),
    )
    if args.snapshot_moves not in ("sample", "greedy"):
        raise ValueError(f"expected --snapshot-moves sample or greedy, got {args.snapshot_moves!r}")
    if args.learning_rate_decay not in ("yes", "no"):
        raise ValueError(
            f"expected --learning-rate-decay yes or no, got {args.learning_rate_decay!r}"
        )
    if args.ent_coef_final is None:
        final = game.ent_coef_final if args.ent_coef == game.ent_coef else args.ent_coef
        args = dataclasses.replace(args, ent_coef_final=final)
    wall, cpu = time.perf_counter(), time.process_time()
    league = League(
        rule=args.league_rule,
        env_id=game.env_id,
        window=args.league_window,
        max_snapshots=args.max_snapshots,
        seed=args.seed,
    )
    for bot in args.league_bots.split(","):
        league.add(bot, bot)
    vec = make_vec_env(
        lambda: gymnasium.make(
            game.env_id, numeric=True, learner="any", opponent=league, **game.env_kwargs
        ),
        n_envs=args.n_envs,
        seed=args.seed,
    )
    total_timesteps = args.total_timesteps
    learning_rate, decay = args.learning_rate, args.learning_rate_decay == "yes"
    model = MagnetPPO(
        "MlpPolicy",
        vec,
        n_steps=args.n_steps,
        batch_size=args.batch_size,
        n_epochs=args.n_epochs,
        learning_rate=lambda remaining: learning_rate * (remaining if decay else 1.0),
        gamma=args.gamma,
        ent_coef=args.ent_coef,
        policy_kwargs={"net_arch": list(args.net_arch)},
        seed=args.seed,
        device="cpu",
        verbose=args.verbose,
        magnet_kl=args.magnet_kl,
        magnet_every=args.magnet_every,
    )
    if args.env == "kuhn":
        from selfplay_gym.envs.text_games.kuhn_poker import exploitability as kuhn_exploitability

        measure_name = "exploitability (chips per hand)"

        def measure(bot: Any) -> float:
            return kuhn_exploitability(bot, **_kuhn_position(game))

    else:
        from selfplay_gym.core.arena import play_match

        measure_name = (
            f"losses of the deterministic snapshot in {args.snapshot_games} games against strong"
        )

        def measure(bot: Any) -> float:
            greedy = copy.copy(bot)
            greedy.deterministic = True
            match = play_match(
                game.env_id, [greedy, "strong"], games=args.snapshot_games, seed=10**7
            )
            return float(match.players[0].losses)

    measured = measure if args.env == "kuhn" or args.snapshot_games else None
    snapshots = LeagueSnapshots(
        league,
        args.snapshot_every,
        measured,
        entropy=(args.ent_coef, args.ent_coef_final),
        greedy=args.snapshot_moves == "greedy",
    )
    model.learn(total_timesteps, callback=snapshots)
    train_wall, train_cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(league.table())
    if args.save:
        model.save(args.save)

    evaluation = []
    seats = ("player_0", "player_1")
    for opponent in ("random", "strong"):
        for i, seat in enumerate(seats):
            evaluation.append(
                evaluate(model, game, opponent, seat, args.eval_games, seed=10**6 * (i + 1))
            )
    print(
        f"\n{game.env_id} {game.env_kwargs or ''}: deterministic policy, {args.eval_games} games each"
    )
    print(f"  {'opponent':<8} {'seat':<9} {'W':>4} {'D':>4} {'L':>4} {'mean reward':>12}")
    for r in evaluation:
        print(
            f"  {r.opponent:<8} {r.seat:<9} {r.wins:>4} {r.draws:>4} {r.losses:>4} {r.mean_reward:>+12.3f}"
        )
    if (
        args.env == "tictactoe"
    ):  # poker losses are normal; a TicTacToe loss to minimax is a line to fix
        for r in evaluation:
            for lines, count in sorted(r.lost_games.items(), key=lambda kv: -kv[1])[:5]:
                print(f"  lost {count}x as {r.seat} to {r.opponent}: {lines}")

    exploitability = average_exploitability = average_all_exploitability = None
    averaged: list[int] = []
    if args.env == "kuhn":
        exploitability = measure(PolicyBot(model.policy))
        print(f"\nexploitability of the learned policy: {exploitability:.4f} chips per hand")
        taken = [(t, bot) for t, bot in snapshots.snapshots] + [
            (model.num_timesteps, PolicyBot(model.policy).snapshot())
        ]
        tail = [(t, bot) for t, bot in taken if t > args.average_from * model.num_timesteps]
        averaged = [t for t, _ in tail]
        average_exploitability = measure(
            AverageKuhnPolicy([bot for _, bot in tail], game.env_kwargs)
        )
        average_all_exploitability = measure(
            AverageKuhnPolicy([bot for _, bot in taken], game.env_kwargs)
        )
        print(
            f"exploitability of the average strategy of the {len(tail)} policies after "
            f"{args.average_from:.0%} of training: {average_exploitability:.4f} chips per hand"
        )
        print(
            f"exploitability of the average strategy of all {len(taken)} policies: "
            f"{average_all_exploitability:.4f} chips per hand"
        )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"\n{model.num_timesteps} training steps in {train_wall:.0f} s wall, {train_cpu:.0f} s CPU; "
        f"total {wall:.0f} s wall, {cpu:.0f} s CPU"
    )
    summary = {
        "env_id": game.env_id,
        "env_kwargs": game.env_kwargs,
        "args": dataclasses.asdict(args),
        "timesteps": model.num_timesteps,
        "train_wall_seconds": train_wall,
        "train_cpu_seconds": train_cpu,
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "evaluation": [{**dataclasses.asdict(r), "mean_reward": r.mean_reward} for r in evaluation],
        "exploitability": exploitability,
        "average_exploitability": average_exploitability,
        "average_all_exploitability": average_all_exploitability,
        "averaged_snapshots": averaged,
        "snapshot_measure": measure_name if measured is not None else None,
        "snapshot_history": snapshots.history,
        "league": [
            {
                "name": e.name,
                "kind": e.kind,
                "games": e.games,
                "wins": e.wins,
                "draws": e.draws,
                "losses": e.losses,
                "rating": league.ratings.rating(e.name),
            }
            for e in league
        ],
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)
    return summary


def _kuhn_position(game: Game) -> dict[str, int]:
    """The exploitability keywords matching the training env's ante and opener."""
    kwargs = game.env_kwargs
    return {"ante": kwargs.get("ante", 1), "first_opener": kwargs.get("first_opener", 1)}


def parse_args(argv: list[str] | None = None) -> Args:
    """:class:`Args` from the command line: one flag per field, its docstring as help."""
    from selfplay_gym.baselines._cli import parse_dataclass

    return parse_dataclass(
        Args, argv, description=__doc__.split("\n\n")[0], choices={"env": sorted(GAMES)}
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the recipe with command-line arguments."""
    return train(parse_args(argv))


if __name__ == "__main__":
    main()
