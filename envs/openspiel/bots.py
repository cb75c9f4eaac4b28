"""OpenSpiel's search and equilibrium players as bots of the bridged games.

* :class:`MCTSBot` -- OpenSpiel's (C++) Monte-Carlo tree search with a random-rollout
  evaluator; :class:`MCTS100Bot` and :class:`MCTS1000Bot` are MARS's two strengths. It searches
  the true state, so it plays perfect-information games only.
* :class:`CFRBot` -- the average policy of CFR+ for the game, solved once per process and game
  and kept in memory (:func:`cfr_policy`); for small poker games (Kuhn, Leduc).

Both follow :class:`~selfplay_gym.core.bots.Bot`: they read ``env.agent_view(agent)`` only and
draw every random number from the bot's own seeded generator (the C++ search gets a seed drawn
from it for each move), so a seeded game replays exactly and a pickled bot plays on identically.
"""

from __future__ import annotations

from typing import Any

from selfplay_gym.core.bots import Bot
from selfplay_gym.envs.openspiel._pyspiel import pyspiel
from selfplay_gym.envs.openspiel.env import game_info

__all__ = ["MCTSBot", "MCTS100Bot", "MCTS1000Bot", "CFRBot", "cfr_policy", "CFR_ITERATIONS"]

CFR_ITERATIONS = {"kuhn_poker": 1000, "leduc_poker": 200}
"""CFR+ iterations per game (NashConv about 2e-4 for Kuhn, 1e-2 for Leduc); others: 200."""

_CFR_CACHE: dict[tuple[str, int], Any] = {}


def cfr_policy(game_string: str, iterations: int | None = None) -> Any:
    """The CFR+ average policy of ``game_string`` (a ``pyspiel.Policy``), computed once per process."""
    if iterations is None:
        iterations = CFR_ITERATIONS.get(game_string, 200)
    key = (game_string, iterations)
    policy = _CFR_CACHE.get(key)
    if policy is None:
        solver = pyspiel.CFRPlusSolver(game_info(game_string).game)
        for _ in range(iterations):
            solver.evaluate_and_update_policy()
        # The policy reads the solver's tables: keep the solver alive with it.
        policy = _CFR_CACHE[key] = (solver, solver.average_policy())
    return policy[1]


class MCTSBot(Bot):
    """OpenSpiel's MCTS: ``simulations`` rollouts per move, UCT constant ``uct_c``.

    Args:
        simulations: Simulations per move (MARS evaluates with 100 and 1000).
        uct_c: Exploration constant of UCT (OpenSpiel's default, 2).
        rollouts: Random rollouts per leaf evaluation.
        seed: Seed of the bot's generator.
    """

    name = "mcts"

    def __init__(
        self, simulations: int = 100, uct_c: float = 2.0, rollouts: int = 1, seed: int | None = None
    ):
        if not isinstance(simulations, int) or simulations < 1:
            raise ValueError(f"expected simulations to be a positive int, got {simulations!r}")
        super().__init__(seed)
        self.simulations = simulations
        self.uct_c = uct_c
        self.rollouts = rollouts

    def act(self, env: Any, agent: str) -> int:
        """The action id MCTS picks from the current state."""
        view = env.agent_view(agent)
        state = view["state"]
        if state is None:
            raise ValueError(
                f"MCTS searches the true state, so it plays perfect-information games only; "
                f"{view['game_string']!r} has hidden information (use the 'cfr' or 'random' bot)"
            )
        game = game_info(view["game_string"]).game
        evaluator = pyspiel.RandomRolloutEvaluator(self.rollouts, self.rng.randrange(2**31))
        search = pyspiel.MCTSBot(
            game,
            evaluator,
            self.uct_c,
            self.simulations,
            64,
            False,
            self.rng.randrange(2**31),
            False,
        )
        return int(search.step(state))

    def __repr__(self) -> str:
        return f"MCTSBot(simulations={self.simulations})"


class MCTS100Bot(MCTSBot):
    """MCTS with 100 simulations per move (MARS's weaker evaluation opponent)."""

    name = "mcts100"

    def __init__(self, seed: int | None = None):
        super().__init__(simulations=100, seed=seed)


class MCTS1000Bot(MCTSBot):
    """MCTS with 1000 simulations per move (MARS's stronger evaluation opponent)."""

    name = "mcts1000"

    def __init__(self, seed: int | None = None):
        super().__init__(simulations=1000, seed=seed)


class CFRBot(Bot):
    """Plays the CFR+ average policy of the game, sampled with the bot's generator.

    Args:
        iterations: CFR+ iterations (default: :data:`CFR_ITERATIONS` for the game).
        seed: Seed of the bot's generator.
    """

    name = "cfr"

    def __init__(self, iterations: int | None = None, seed: int | None = None):
        super().__init__(seed)
        self.iterations = iterations

    def probabilities(self, env: Any, agent: str) -> dict[int, float]:
        """Action id -> probability at ``agent``'s information state."""
        view = env.agent_view(agent)
        if view["information_state"] is None:
            raise ValueError(f"{view['game_string']!r} has no information states for CFR")
        policy = cfr_policy(view["game_string"], self.iterations)
        return dict(policy.get_state_policy(view["information_state"]))

    def act(self, env: Any, agent: str) -> int:
        """An action id drawn from the average policy."""
        probs = self.probabilities(env, agent)
        legal = env.agent_view(agent)["legal"]
        r = self.rng.random()
        for action in legal:
            r -= probs.get(action, 0.0)
            if r < 0:
                return action
        return max(legal, key=lambda a: probs.get(a, 0.0))
