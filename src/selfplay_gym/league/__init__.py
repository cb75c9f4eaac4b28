"""The opponent league: a pool of bots, language models and learner snapshots, with Elo ratings.

* :class:`League` -- named opponents, a sampling rule (``latest``, ``uniform``, ``prioritized``
  by the learner's win rate) and the two calls every consumer uses:
  ``name, opponent = league.sample(rng)`` and ``league.record(name, score)``.
* :class:`Elo` -- ratings updated from game results.

``gymnasium.make(id, opponent=league)`` plays a league in the single-agent view: each episode
draws an opponent and reports the learner's result back. See ``docs/league.md``.
"""

from selfplay_gym.league.pool import League, LeagueEntry
from selfplay_gym.league.ratings import Elo, score_from_reward

__all__ = ["League", "LeagueEntry", "Elo", "score_from_reward"]
