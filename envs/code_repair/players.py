r"""Scripted players of ``selfplay/BugInjectRepair-v0``: a rule-based injector and four solvers.

Every player plays the **injector** seat the same way -- it asks the rule-based injector
(:class:`~selfplay_gym.envs.code_repair.injector.RuleInjector`: seeded AST mutation or code
removal, programmatic test weakening, full SSR validation) for an artifact of the episode's
strategy on the env's repository and sandbox, and submits it as JSON (optionally after a
``<bash>ls</bash>`` look around, and now and then deliberately broken) -- and differs on the
**solver** seats:

* :class:`OracleSolver` -- an *oracle*: it reads :meth:`BugInjectRepairEnv.oracle_files
  <selfplay_gym.envs.code_repair.env.BugInjectRepairEnv.oracle_files>`, a cheat that gives the
  pristine text of the files the bug changed, writes them back with ``<create>`` and submits.
  It exists for tests and baselines (it always repairs the bug); it is not a fair player;
* :class:`LazySolver` -- submits at once, changing nothing (never repairs);
* :class:`RandomEditSolver` -- the oracle's repair done wrong: the restored file loses its
  ``return`` statements (a botched edit), so the repair always fails -- but it changes the
  tree, which feeds the order-2 pool;
* :class:`ScriptedSSRPlayer` (the id's default) -- each reply drawn from the three: the oracle
  with probability ``skill``, the lazy submit with ``lazy``, else the mistaken edit, so solve
  rates spread over (0, 1) and every injector outcome occurs.

Rule artifacts are cached per process by (repository, backend, strategy, pool index, config):
the players draw the index from ``pool`` seeds per strategy, so scripted play costs a few full
validations in all, not one per episode.
"""

from __future__ import annotations

import json
import random
from collections import OrderedDict
from typing import Any

from selfplay_gym.core.bots import Bot

__all__ = [
    "ScriptedSSRPlayer",
    "OracleSolver",
    "LazySolver",
    "RandomEditSolver",
    "rule_artifact",
]

_ARTIFACTS: OrderedDict[tuple, tuple[Any, Any]] = OrderedDict()
_MISTAKES = ("malformed", "no_bug")


def rule_artifact(
    repo: Any, sandbox: Any, strategy: str, index: int, config: Any
) -> tuple[Any, Any]:
    """The rule injector's ``(artifact, report)`` for ``(strategy, index)`` on ``repo`` (cached).

    ``index`` seeds the injector; if no site validates with the asked strategy, the other
    strategy is tried, then the next seeds. The report is recorded in the env's validation
    cache (it is exactly what validation of that artifact gives).

    Raises:
        RuntimeError: no artifact validates on this repository.
    """
    from selfplay_gym.envs.code_repair.env import remember_validation, resolve_sandbox
    from selfplay_gym.envs.code_repair.injector import RuleInjector

    box = resolve_sandbox(sandbox, timeout_s=float(config.test_timeout_s))
    key = (repo.fingerprint, box.backend, strategy, int(index), config)
    found = _ARTIFACTS.get(key)
    if found is not None:
        return found
    order = [strategy] + [s for s in ("remove", "mutate") if s != strategy]
    errors = []
    for attempt in range(3):
        for name in order:
            seed = int(index) + 1000 * attempt
            injector = RuleInjector(strategies=(name,), seed=seed)
            try:
                artifact, report = injector.make_artifact(
                    repo, box, random.Random(f"{name}:{seed}"), config
                )
            except RuntimeError as exc:
                errors.append(f"{name}/{seed}: {exc}")
                continue
            remember_validation(artifact, repo, box.backend, config, report)
            _ARTIFACTS[key] = (artifact, report)
            while len(_ARTIFACTS) > 256:
                _ARTIFACTS.popitem(last=False)
            return artifact, report
    raise RuntimeError("the rule injector found no valid artifact: " + "; ".join(errors)[:500])


class _SSRPlayer(Bot):
    """The common injector play; subclasses write :meth:`solve`.

    Args:
        seed: The player's generator seed.
        pool: Rule artifacts per strategy the injector draws from.
        explore: Injector: probability of a ``<bash>ls</bash>`` before submitting (first turn).
        mistakes: Injector: probability of submitting a broken artifact (malformed JSON, or
            the bug diff left out), which the env rejects.
    """

    name = "ssr"

    def __init__(
        self,
        seed: int | None = None,
        *,
        pool: int = 2,
        explore: float = 0.0,
        mistakes: float = 0.1,
    ):
        super().__init__(seed)
        if pool < 1:
            raise ValueError(f"expected pool >= 1, got {pool!r}")
        self.pool = int(pool)
        self.explore = float(explore)
        self.mistakes = float(mistakes)

    def act(self, env: Any, agent: str) -> str:
        """The tool call of ``agent`` (injector or solver) in ``env``."""
        view = env.agent_view(agent)
        if view["role"] == "injector":
            return self.inject(env, view)
        return self.solve(env, agent, view)

    def inject(self, env: Any, view: dict[str, Any]) -> str:
        """Submit a rule artifact of the episode's strategy (maybe after ``ls``, maybe broken)."""
        if view["turn"] == 0 and self.rng.random() < self.explore:
            return "Let me look at the repository first.\n<bash>ls</bash>"
        index = self.rng.randrange(self.pool)
        broken = self.rng.random() < self.mistakes
        kind = self.rng.choice(_MISTAKES)
        artifact, _ = rule_artifact(
            view["repo"], view["sandbox"], view["strategy"], index, view["config"]
        )
        data = json.loads(artifact.to_json())
        if broken and kind == "malformed":
            return "<submit>\n" + json.dumps(data)[:-2] + "\n</submit>"
        if broken:
            data["bug_inject_diff"] = ""
        return "<submit>\n" + json.dumps(data) + "\n</submit>"

    def solve(self, env: Any, agent: str, view: dict[str, Any]) -> str:
        """The solver's tool call."""
        raise NotImplementedError

    # ---- solver moves ---------------------------------------------------------------------------
    @staticmethod
    def _remaining(env: Any, agent: str, view: dict[str, Any]) -> list[tuple[str, str]]:
        files = env.oracle_files(agent)
        return [(p, files[p]) for p in sorted(files) if p not in view["written"]]

    def _oracle_move(self, env: Any, agent: str, view: dict[str, Any]) -> str:
        todo = self._remaining(env, agent, view)
        if not todo:
            return "The original behaviour is restored.\n<submit/>"
        path, text = todo[0]
        return f'<create path="{path}">\n{text}</create>'

    def _mistaken_move(self, env: Any, agent: str, view: dict[str, Any]) -> str:
        todo = self._remaining(env, agent, view)
        if not todo:
            return "<submit/>"
        path, text = todo[0]
        lines = text.splitlines(keepends=True)
        kept = [line for line in lines if not line.lstrip().startswith("return ")]
        if len(kept) == len(lines):  # nothing to drop: a half-done edit that breaks the import
            kept.append('raise ImportError("half-done edit")\n')
        return f'<create path="{path}">\n{"".join(kept)}</create>'


class OracleSolver(_SSRPlayer):
    """Restores the files the bug changed (an oracle: reads the env's test-only cheat)."""

    name = "oracle"

    def solve(self, env: Any, agent: str, view: dict[str, Any]) -> str:
        """``<create>`` each changed file with its pristine text, then ``<submit/>``."""
        return self._oracle_move(env, agent, view)


class LazySolver(_SSRPlayer):
    """Submits without changing anything (never repairs the bug)."""

    name = "lazy"

    def solve(self, env: Any, agent: str, view: dict[str, Any]) -> str:
        """``<submit/>``."""
        return "Nothing to change.\n<submit/>"


class RandomEditSolver(_SSRPlayer):
    """The oracle's repair done wrong (the file's ``return`` lines dropped): never repairs."""

    name = "random_edit"

    def solve(self, env: Any, agent: str, view: dict[str, Any]) -> str:
        """``<create>`` each changed file without its ``return`` lines, then ``<submit/>``."""
        return self._mistaken_move(env, agent, view)


class ScriptedSSRPlayer(_SSRPlayer):
    """Each solver reply drawn from the oracle (``skill``), the lazy submit (``lazy``) or a mistake.

    Args:
        skill: Probability of the oracle's move.
        lazy: Probability of submitting at once.
        seed, pool, explore, mistakes: see the injector's play (module docstring).
    """

    name = "scripted"

    def __init__(self, seed: int | None = None, *, skill: float = 0.6, lazy: float = 0.2, **kwargs):
        super().__init__(seed, **kwargs)
        self.skill = float(skill)
        self.lazy = float(lazy)

    def solve(self, env: Any, agent: str, view: dict[str, Any]) -> str:
        """One of the three moves, by the player's generator."""
        u = self.rng.random()
        if u < self.skill:
            return self._oracle_move(env, agent, view)
        if u < self.skill + self.lazy:
            return "<submit/>"
        return self._mistaken_move(env, agent, view)
