"""Training recipes: one readable file each, a dataclass of arguments, runnable with ``python -m``.

* :mod:`~selfplay_gym.baselines.sb3_lm` -- SB3 PPO on a causal LM's legal-move likelihoods, by
  self-play against a league of its snapshots (the recipe of ``make demo``); the policy class is
  :mod:`~selfplay_gym.baselines.sb3_lm_policy`.
* :mod:`~selfplay_gym.baselines.sb3_numeric` -- sb3-contrib MaskablePPO self-play on the numeric
  view of TicTacToe and Kuhn Poker, with exact Kuhn exploitability.
* :mod:`~selfplay_gym.baselines.rllib_kuhn` -- RLlib multi-agent PPO, one shared policy for both
  seats of Kuhn Poker.
* :mod:`~selfplay_gym.baselines.lm_selfplay_pg` -- SPIRAL-style policy gradient for causal LMs
  over the batched rollout engine.

Importing this package imports nothing heavy; each recipe imports its trainer when run.
"""
