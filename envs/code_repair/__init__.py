"""Code repair: repositories, a harness-owned test runner, and (later) SSR's bug inject/repair game.

* :mod:`~selfplay_gym.envs.code_repair.repos` -- the embedded ``tallykit`` library, PyPI sdists
  (inflection, parse, toolz, cachetools) fetched into a cache with their licence, and a user's
  directory; each a pristine snapshot with a fresh copy per episode;
* :mod:`~selfplay_gym.envs.code_repair.testing` -- pytest run inside
  :mod:`selfplay_gym.sandbox` with the harness's own configuration, results read from a JUnit
  report the harness parses itself;
* :mod:`~selfplay_gym.envs.code_repair.cli` -- ``selfplay-gym repos list`` and
  ``selfplay-gym repos fetch NAME``.

Nothing is imported here, so ``import selfplay_gym.envs.code_repair`` stays cheap.
"""
