r"""Self-play SWE-RL (SSR): one agent injects a bug and hides it from the tests, N agents repair it.

:class:`BugInjectRepairEnv` is ``selfplay/BugInjectRepair-v0``. The artifact, its validation and
the scoring are the SSR engine's (:mod:`~selfplay_gym.envs.code_repair.artifact`); the tools the
agents call are :mod:`~selfplay_gym.envs.code_repair.tools`; the scripted players are
:mod:`~selfplay_gym.envs.code_repair.players`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import tempfile
import weakref
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from selfplay_gym.core.pipeline import PipelineEnv
from selfplay_gym.core.rewards import SSRInjector
from selfplay_gym.envs.code_repair import tools as _tools

__all__ = [
    "BugInjectRepairEnv",
    "resolve_sandbox",
    "load_repo_cached",
    "validate_cached",
    "remember_validation",
    "tree_digest",
    "SANDBOX_NAMES",
]

SANDBOX_NAMES = ("auto", "bwrap", "unshare", "unsafe")
STRATEGIES = ("remove", "mutate")
_CACHE_SIZE = 512

# ---- process-wide caches (never pickled; keyed by everything that decides the result) ---------
_SANDBOXES: dict[tuple, Any] = {}
_REPOS: dict[str, Any] = {}
_VALIDATIONS: OrderedDict[tuple, Any] = OrderedDict()
_SCORES: OrderedDict[tuple, Any] = OrderedDict()
_STARTS: OrderedDict[tuple, Any] = OrderedDict()
_PATCHES: OrderedDict[tuple, str] = OrderedDict()
_TEMPLATE_ROOT: list[Path] = []
_MAX_TEMPLATES = 64


class _Start:
    """A solvers' start tree, kept once per process: on disk (``root``) and packed in memory."""

    __slots__ = ("root", "rows", "digest", "oracle")

    def __init__(self, root: Path, rows: list, digest: str, oracle: dict[str, str]):
        self.root, self.rows, self.digest, self.oracle = root, rows, digest, oracle


def _template_dir() -> Path:
    if not _TEMPLATE_ROOT or not _TEMPLATE_ROOT[0].is_dir():
        import atexit

        root = Path(tempfile.mkdtemp(prefix="selfplay-ssr-templates-"))
        atexit.register(_rmtree, str(root))
        _TEMPLATE_ROOT[:] = [root]
    return _TEMPLATE_ROOT[0]


def _lru_put(cache: OrderedDict, key: tuple, value: Any) -> None:
    cache[key] = value
    cache.move_to_end(key)
    limit = _MAX_TEMPLATES if cache is _STARTS else _CACHE_SIZE
    while len(cache) > limit:
        _, old = cache.popitem(last=False)
        if isinstance(old, _Start):
            _rmtree(old.root.parent)


def resolve_sandbox(spec: Any, *, timeout_s: float = 60.0, output_bytes: int = 1 << 20) -> Any:
    """A :class:`~selfplay_gym.sandbox.Sandbox` for ``spec`` (a backend name, or a sandbox as is).

    Sandboxes are shared per process by backend and limits (building one probes the host once).
    """
    if not isinstance(spec, str):
        return spec
    from selfplay_gym.sandbox import Limits, Sandbox

    key = (spec, float(timeout_s), int(output_bytes))
    box = _SANDBOXES.get(key)
    if box is None:
        box = Sandbox(spec, Limits(timeout_s=float(timeout_s), output_bytes=int(output_bytes)))
        _SANDBOXES[key] = box
    return box


def load_repo_cached(spec: Any) -> Any:
    """:func:`~selfplay_gym.envs.code_repair.repos.load_repo`, once per spec and process."""
    from selfplay_gym.envs.code_repair.repos import Repo, load_repo

    if isinstance(spec, Repo):
        return spec
    key = os.fspath(spec)
    repo = _REPOS.get(key)
    if repo is None:
        repo = load_repo(key)
        _REPOS[key] = repo
    return repo


def _validation_key(artifact: Any, repo: Any, backend: str, config: Any) -> tuple:
    return (artifact.artifact_id, repo.fingerprint, backend, config)


def remember_validation(artifact: Any, repo: Any, backend: str, config: Any, report: Any) -> None:
    """Record ``report`` as what ``validate_artifact`` gives for these inputs (same process).

    The rule injector validates its own artifact with the very same function; recording it
    saves the env a second full validation of an identical artifact.
    """
    _lru_put(_VALIDATIONS, _validation_key(artifact, repo, backend, config), report)


def validate_cached(artifact: Any, repo: Any, sandbox: Any, config: Any) -> Any:
    """``validate_artifact`` through the process cache (keyed by artifact id, repo, backend, config)."""
    from selfplay_gym.envs.code_repair.artifact import validate_artifact

    key = _validation_key(artifact, repo, sandbox.backend, config)
    report = _VALIDATIONS.get(key)
    if report is None:
        report = validate_artifact(artifact, repo, sandbox, config)
        _lru_put(_VALIDATIONS, key, report)
    else:
        _VALIDATIONS.move_to_end(key)
    return report


def tree_digest(root: str | os.PathLike) -> str:
    """sha256 over every entry of a tree (paths, kinds, contents, link targets); no link followed."""
    h = hashlib.sha256()
    base = str(root)
    for current, dirs, files in os.walk(base):
        dirs.sort()
        rel_dir = os.path.relpath(current, base)
        for name in sorted(files + [d for d in dirs if os.path.islink(os.path.join(current, d))]):
            path = os.path.join(current, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                h.update(f"L\0{rel}\0{os.readlink(path)}\0".encode(errors="replace"))
            elif stat.S_ISREG(info.st_mode):
                h.update(
                    f"F\0{rel}\0{info.st_mode & 0o111}\0{info.st_size}\0".encode(errors="replace")
                )
                with open(path, "rb") as fh:
                    h.update(hashlib.sha256(fh.read()).digest())
            else:
                h.update(f"S\0{rel}\0".encode(errors="replace"))
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(current, d))]
        for d in dirs:
            h.update(f"D\0{os.path.normpath(os.path.join(rel_dir, d))}\0".encode(errors="replace"))
    return h.hexdigest()


def _hash_text(text: str | None) -> str:
    return hashlib.sha256((text or "").encode("utf-8", errors="replace")).hexdigest()[:16]


def _pack_tree(root: Path) -> list[tuple[str, str, Any]]:
    """A tree as ``(rel, kind, payload)`` rows (files with their bytes and mode; links; dirs)."""
    rows: list[tuple[str, str, Any]] = []
    for current, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(current, root)
        for d in sorted(dirs):
            path = os.path.join(current, d)
            rel = os.path.normpath(os.path.join(rel_dir, d))
            if os.path.islink(path):
                rows.append((rel, "link", os.readlink(path)))
            else:
                rows.append((rel, "dir", None))
        dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(current, d)))
        for name in sorted(files):
            path = os.path.join(current, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                rows.append((rel, "link", os.readlink(path)))
            elif stat.S_ISREG(info.st_mode):
                with open(path, "rb") as fh:
                    rows.append((rel, "file", (fh.read(), info.st_mode & 0o777)))
    return rows


def _unpack_tree(rows: list[tuple[str, str, Any]], root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for rel, kind, payload in rows:
        path = root / rel
        if kind == "dir":
            path.mkdir(parents=True, exist_ok=True)
        elif kind == "link":
            os.symlink(payload, path)
        else:
            data, mode = payload
            path.write_bytes(data)
            os.chmod(path, mode)


def _rmtree(path: str | os.PathLike) -> None:
    def onerror(func, p, exc):  # a read-only dir left by a sandboxed command
        try:
            os.chmod(os.path.dirname(p), 0o755)
            os.chmod(p, 0o755)
            func(p)
        except OSError:
            pass

    try:
        shutil.rmtree(path, onerror=onerror)
    except RecursionError:  # a sandboxed command nested directories past the recursion limit
        subprocess.run(["rm", "-rf", "--one-file-system", "--", os.fspath(path)], check=False)


# ---- prompts (our own wording) ------------------------------------------------------------------
INJECTOR_SYSTEM = (
    "You are a software engineer working in a Python repository, in a sandbox with no network. "
    "Your job is to write a bug-injection artifact: a bug in the library's code, and a change to "
    "the tests that hides it. Other engineers will then be shown only the tests you removed or "
    "weakened and asked to repair the code. You are rewarded when some, but not all, of them "
    "succeed; an artifact that fails the harness's checks costs you.\n\n{tools}"
)
INJECTOR_SUBMIT = (
    "<submit>{...}</submit> -- end your work and hand in the artifact as one JSON object (see "
    "the task)."
)
STRATEGY_TEXT = {
    "remove": (
        "Strategy: removal. Delete a meaningful piece of the implementation -- a branch, a "
        "function body, a helper -- and fix up the code just enough that the package still "
        "imports, so that some tests fail."
    ),
    "mutate": (
        "Strategy: mutation. Change the behaviour of the code in a way a careful reader could "
        "find again -- a condition, an operator, a boundary, a constant -- so that some tests fail."
    ),
}
INJECTOR_USER = (
    "Repository: {repo} (its source files: {sources}; tests under {tests}). The test suite is "
    "run by the harness with pytest.\n\n{strategy}\n\n"
    "Then weaken the tests: delete or loosen the tests that now fail, so the suite passes with "
    "your bug in place. Touch only test files in the weakening and only source files in the bug.\n\n"
    "Hand in, inside <submit>...</submit>, a JSON object with these keys:\n"
    '  "test_files": the test files that reveal the bug (relative paths; they are restored '
    "before the repairs are scored),\n"
    '  "bug_inject_diff": a unified diff (git style, --- a/path +++ b/path, paths relative to '
    "the repository root) from the original source files to your buggy ones,\n"
    '  "test_weaken_diff": a unified diff, applied after the bug, of the test files only.\n'
    "{git}The harness checks that the original code passes at least "
    "{min_passing} tests, that the bug makes at least {min_failing} of them fail, that the "
    "weakened tests pass with the bug, and that each changed file is needed by the bug."
)
INJECTOR_GIT = (
    "Your copy is a git repository whose one commit is the original code, so git diff -- <source "
    "dirs> and git diff -- <test dirs> print the two diffs. "
)
SOLVER_SYSTEM = (
    "You are a software engineer repairing a bug in a Python repository, in a sandbox with no "
    "network. Your copy of the repository has the bug, and the tests that would reveal it have "
    "been removed or weakened.{git}\n\n{tools}"
)
SOLVER_GIT = " Your copy is a git repository with one commit of its starting state."
SOLVER_SUBMIT = "<submit/> -- you are done; the current state of your copy is scored."
SOLVER_USER = (
    "The diff below restores tests that are missing or weakened in your copy. Change the code "
    "so that these tests pass, and keep the repository's other tests passing. When your work is "
    "scored, all test files are restored to their original state, so editing tests does not "
    "help.\n\n```diff\n{diff}\n```"
)
SOLVER_USER_ORDER2 = (
    "\n\nNote: someone has already tried to fix this bug and failed; their changes are in your "
    "copy."
)


class BugInjectRepairEnv(PipelineEnv):
    r"""Self-play SWE-RL: an injector writes a hidden bug, N solvers repair it with tools.

    ## Description

    *Self-play SWE-RL* (SSR, Wei et al. 2025). One policy plays two roles over a real Python
    repository. The **injector** works in its own copy of the repository with tools (a shell,
    a viewer and a search-replace editor, all confined to a sandbox) and hands in a **bug
    artifact**: a diff that breaks the code (``bug_inject_diff``), a diff that deletes or
    weakens the tests that would reveal it (``test_weaken_diff``) and the list of oracle test
    files. The harness validates it with SSR's consistency checks
    (:func:`~selfplay_gym.envs.code_repair.artifact.validate_artifact`: test files exist,
    parser and script valid, bug scope, the bug breaks passing tests, the weakening hides them,
    inverse mutation testing, determinism across reruns). For a valid artifact each **solver**
    gets a fresh copy with the bug and the weakened tests applied and no ``.git``, sees only the
    *reversed* weakening diff with a fixed instruction, works with the same tools and submits.
    :func:`~selfplay_gym.envs.code_repair.artifact.score_repair` decides: every test file and
    all pytest configuration are restored from the pristine snapshot, the harness runs pytest
    itself, and the repair counts only if every fail-to-pass and pass-to-pass test passes in
    the harness's own report.

    Each episode draws an injection *strategy* from ``strategies`` with the env's generator
    (SSR samples between its removal and history prompts; without history here, removal and
    mutation); the injector's task says which.

    **Higher-order bugs** (``max_order=2``): a failed repair of an order-1 bug -- the solver's
    changes as a diff over its start state -- joins a small pool (``pool_size``); at reset, with
    probability ``order2_prob``, an episode starts from a pool entry instead: its solvers begin
    from the bug, the weakening *and* the failed patch (SSR stops at order 2), the injector
    seat is skipped, and the scoring is the parent artifact's.

    Speed: validation and scoring are cached per process -- validation by artifact id, repo
    fingerprint, backend and config, scoring by artifact, start state and a digest of the
    solver's whole tree -- so identical work is never run twice (scripted play repeats it a
    lot); a solver's copy is created only when it first uses a tool.

    ## Agents

    ``injector_0``, then ``solver_0`` .. ``solver_7`` (``num_solvers``; SSR's group size is 8,
    which is the class default; the registered id uses 4 so that the conformance suite's tens
    of thousands of scripted steps stay fast). The injector acts until it submits; then the
    solvers take turns round-robin, one tool call each, until each has submitted or used its
    ``max_turns``.

    ## Action Space

    ``UnicodeText``: one tool call per reply (the first ``max_action_chars`` characters are
    read), written as a tag -- ``<bash>CMD</bash>``, ``<view path="P" start="1" end="80"/>``,
    ``<edit path="P"><old>..</old><new>..</new></edit>``, ``<create path="P">..</create>``,
    ``<submit/>`` -- described in :mod:`~selfplay_gym.envs.code_repair.tools`. The injector
    submits its artifact as a JSON object inside ``<submit>...</submit>`` with keys
    ``test_files`` (list of str), ``bug_inject_diff`` and ``test_weaken_diff`` (git-style
    unified diffs; optional ``test_script``/``test_parser``/``meta`` as in
    :class:`~selfplay_gym.envs.code_repair.artifact.BugArtifact`). A solver's ``<submit/>``
    hands in the current state of its copy.

    A reply with no readable tool call is an **invalid move**: ``info["parse"]`` holds the
    error, the agent is told what was wrong (its reply echoed, capped) and acts again, and the
    reply costs one of its ``max_turns``. A well-formed call that fails (a missing file, an
    ``<old>`` text that is not unique, a path outside the copy or through a symlink) is a
    normal turn whose observation is the error.

    ## Observation Space

    ``UnicodeText``: the agent's conversation -- the system prompt with the tool list, the task,
    then each reply and tool output (a command's output capped to ``max_output_chars``; the
    oldest turns are dropped past ``max_observation_chars``). ``info["messages"]`` is the chat.
    Solvers never see the bug diff, the oracle list or the injector's conversation.

    ## Rewards

    * Solver (SSR): ``solved`` +1 when the harness says every F2P and P2P test passes, else
      ``unsolved`` -1 (``solver_rewards``); a solver that runs out of turns is scored on its
      tree as it stands.
    * Injector (:class:`~selfplay_gym.core.rewards.SSRInjector`, SSR's Eq. 1): ``invalid_artifact``
      -1 for an unreadable or invalid artifact (also when no artifact is submitted within
      ``max_turns``); else, with ``s`` the fraction of solvers that repaired the bug, ``injector``
      ``-alpha`` at ``s`` in {0, 1} and ``1 - (1 + alpha) s`` otherwise (``alpha`` = 0.8). It
      arrives when the last solver is scored. After an invalid artifact the solvers get
      ``no_task`` 0. In repair-only and order-2 episodes the injector gets nothing.

    ## Starting State

    ``reset(seed=...)`` draws the strategy and (order 2) the pool entry. ``options={"artifact":
    BugArtifact | JSON str | dict}`` is **repair-only** play: the artifact is validated first (an
    invalid one raises ``ValueError``), the injector seat is skipped and the solvers start at
    once; ``options["extra_patch"]`` adds an order-2 failed patch.
    ``options={"strategy": "remove"}`` fixes the strategy. With ``injector="rule"`` every
    episode is repair-only on an artifact of the rule-based injector
    (:class:`~selfplay_gym.envs.code_repair.injector.RuleInjector`, drawn from ``rule_pool``
    seeds per strategy with the env's generator).

    ## Episode End

    After an invalid artifact, or when every solver is scored. An agent out of turns is
    truncated; every other agent is terminated.

    ## Info

    Beside the common keys, everyone: ``sandbox`` (the backend, e.g. ``"bwrap"``), ``strategy``,
    ``order`` (1 or 2), ``turns_left``, ``tool`` (the last call, e.g. ``"bash ls"``),
    ``artifact_id`` once an artifact is valid. Injector: ``validity`` (``parsed`` and each
    check of the validation report), ``artifact_valid``, ``first_failure``, ``fail_to_pass`` and
    ``pass_to_pass`` (the report's counts), then ``solve_rate`` and ``solver_results``. Solver
    (when scored): ``solved``, ``failed_tests`` and ``missing_tests`` (counts), ``score_error``.

    ## Arguments

    * ``num_solvers`` (8), ``repo`` (``"embedded"``: the project's ``tallykit``; ``"pypi:NAME"``
      after ``selfplay-gym repos fetch NAME``; a directory; or a
      :class:`~selfplay_gym.envs.code_repair.repos.Repo`), ``sandbox`` (``"auto"``, ``"bwrap"``,
      ``"unshare"``, ``"unsafe"`` or a :class:`~selfplay_gym.sandbox.Sandbox`), ``config`` (an
      :class:`~selfplay_gym.envs.code_repair.artifact.SSRConfig`), ``alpha`` (0.8),
      ``solver_rewards`` ((1, -1)), ``injector`` (``"agent"`` or ``"rule"``), ``strategies``
      (``("remove", "mutate")``), ``rule_pool`` (2).
    * ``max_turns`` (32, per agent), ``command_timeout_s`` (30), ``max_output_chars`` (8000, a
      tool's output), ``max_file_bytes`` (256 KiB, a viewed or written file), ``max_task_chars``
      (24000, the solvers' diff).
    * ``max_order`` (2), ``order2_prob`` (0.25), ``pool_size`` (16).
    * ``git_init`` (True): when an agent's copy is first made on disk, git -- run *inside* the
      sandbox -- makes it a repository with one commit of its start state (SSR re-initialises
      ``.git`` the same way), so ``git diff`` shows the agent's changes. The harness itself never
      runs git: its diffs are pure Python and ignore ``.git``.
    * ``max_action_chars`` (32768), ``max_observation_chars`` (65536), ``render_mode``.

    ## Version History

    * v0: Initial version.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["ansi"],
        "render_fps": 1,
        "name": "bug_inject_repair_v0",
        "is_parallelizable": False,
    }
    has_chance: ClassVar[bool] = True

    def __init__(
        self,
        *,
        num_solvers: int = 8,
        repo: Any = "embedded",
        sandbox: Any = "auto",
        config: Any = None,
        alpha: float = 0.8,
        solver_rewards: tuple[float, float] = (1.0, -1.0),
        injector: str = "agent",
        strategies: Sequence[str] = STRATEGIES,
        rule_pool: int = 2,
        max_turns: int = 32,
        command_timeout_s: float = 30.0,
        max_output_chars: int = 8000,
        max_file_bytes: int = 256 << 10,
        max_task_chars: int = 24000,
        max_order: int = 2,
        order2_prob: float = 0.25,
        pool_size: int = 16,
        git_init: bool = True,
        max_action_chars: int = 32768,
        max_observation_chars: int = 65536,
        render_mode: str | None = None,
    ):
        if not isinstance(num_solvers, int) or isinstance(num_solvers, bool) or num_solvers < 1:
            raise ValueError(f"expected num_solvers >= 1, got {num_solvers!r}")
        if isinstance(sandbox, str):
            if sandbox not in SANDBOX_NAMES:
                raise ValueError(f"expected sandbox one of {list(SANDBOX_NAMES)} or a Sandbox")
        elif not callable(getattr(sandbox, "run", None)):
            raise TypeError(f"expected a sandbox name or a Sandbox, got {sandbox!r}")
        if injector not in ("agent", "rule"):
            raise ValueError(f"expected injector 'agent' or 'rule', got {injector!r}")
        strategies = (strategies,) if isinstance(strategies, str) else tuple(strategies)
        if not strategies or any(s not in STRATEGIES for s in strategies):
            raise ValueError(f"expected strategies from {list(STRATEGIES)}, got {strategies!r}")
        for name, value, low in (
            ("max_turns", max_turns, 1),
            ("max_output_chars", max_output_chars, 200),
            ("max_file_bytes", max_file_bytes, 1024),
            ("max_task_chars", max_task_chars, 1000),
            ("max_order", max_order, 1),
            ("pool_size", pool_size, 1),
            ("rule_pool", rule_pool, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"expected {name} to be an int >= {low}, got {value!r}")
        if not float(command_timeout_s) > 0:
            raise ValueError(f"expected command_timeout_s > 0, got {command_timeout_s!r}")
        if not 0.0 <= float(order2_prob) <= 1.0:
            raise ValueError(f"expected order2_prob in [0, 1], got {order2_prob!r}")
        if not 0.0 <= float(alpha) <= 1.0:
            raise ValueError(f"expected alpha in [0, 1], got {alpha!r}")
        if len(solver_rewards) != 2:
            raise ValueError(f"expected solver_rewards (solved, unsolved), got {solver_rewards!r}")
        self.num_solvers = num_solvers
        self.solvers = [f"solver_{i}" for i in range(num_solvers)]
        super().__init__(
            ["injector_0", *self.solvers],
            retries=0,
            max_action_chars=max_action_chars,
            max_observation_chars=max_observation_chars,
            render_mode=render_mode,
        )
        self.repo_spec = repo
        self.sandbox = sandbox
        self._config = config
        self.alpha = float(alpha)
        self.injector_rule = SSRInjector(alpha=self.alpha)
        self.solver_rewards = (float(solver_rewards[0]), float(solver_rewards[1]))
        self.injector_mode = injector
        self.strategies = strategies
        self.rule_pool = rule_pool
        self.max_turns = max_turns
        self.command_timeout_s = float(command_timeout_s)
        self.max_output_chars = max_output_chars
        self.max_file_bytes = max_file_bytes
        self.max_task_chars = max_task_chars
        self.max_order = max_order
        self.order2_prob = float(order2_prob)
        self.pool: deque[tuple[str, str]] = deque(maxlen=pool_size)
        self.git_init = bool(git_init)
        self._repo: Any = None
        self._backend: str | None = None
        self._root: Path | None = None
        self._finalizer: Any = None
        self._episode = 0
        self._clear_episode()

    # ---- resources ------------------------------------------------------------------------------
    @property
    def config(self) -> Any:
        """The :class:`~selfplay_gym.envs.code_repair.artifact.SSRConfig` in use."""
        if self._config is None:
            from selfplay_gym.envs.code_repair.artifact import SSRConfig

            self._config = SSRConfig()
        return self._config

    @property
    def repo(self) -> Any:
        """The :class:`~selfplay_gym.envs.code_repair.repos.Repo` (loaded on first use)."""
        if self._repo is None:
            self._repo = load_repo_cached(self.repo_spec)
        return self._repo

    def _tool_sandbox(self) -> Any:
        box = resolve_sandbox(
            self.sandbox,
            timeout_s=self.command_timeout_s,
            output_bytes=max(4 * self.max_output_chars, 64 << 10),
        )
        self._backend = str(box.backend)
        return box

    def _harness_sandbox(self) -> Any:
        box = resolve_sandbox(self.sandbox, timeout_s=float(self.config.test_timeout_s))
        self._backend = str(box.backend)
        return box

    def _episode_root(self) -> Path:
        if self._root is None or not self._root.is_dir():
            self._root = Path(tempfile.mkdtemp(prefix="selfplay-ssr-"))
            self._finalizer = weakref.finalize(self, _rmtree, str(self._root))
        return self._root

    def close(self) -> None:
        """Remove the episode copies."""
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None
        self._root = None
        self._workspaces = {}

    def _clear_episode(self) -> None:
        for path in getattr(self, "_workspaces", {}).values():
            _rmtree(path)
        self._workspaces: dict[str, Path] = {}
        self._overlays: dict[str, dict[str, str]] = {}
        self._artifact: Any = None
        self._artifact_id: str | None = None
        self._task = ""
        self._report: Any = None
        self._extra_patch: str | None = None
        self._order = 1
        self._given = False
        self._strategy = self.strategies[0]
        self._written: dict[str, list[str]] = {}
        self._solved: dict[str, bool] = {}
        self._validity: dict[str, Any] = {}

    # ---- pickling: the copies travel as their contents ------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_workspaces"] = {a: _pack_tree(p) for a, p in self._workspaces.items()}
        state["_root"] = None
        state["_finalizer"] = None
        if self._artifact is not None:
            state["_artifact"] = self._artifact.to_json()
        if not isinstance(self.sandbox, str):
            name = str(getattr(self.sandbox, "backend", "auto"))
            state["sandbox"] = name if name in SANDBOX_NAMES else "auto"
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        packed = state.pop("_workspaces")
        artifact = state.get("_artifact")
        self.__dict__.update(state)
        self._workspaces = {}
        if isinstance(artifact, str):
            from selfplay_gym.envs.code_repair.artifact import BugArtifact

            self._artifact = BugArtifact.from_json(artifact)
        for agent, rows in packed.items():
            path = self._episode_root() / f"ep{self._episode}" / agent
            _unpack_tree(rows, path)
            self._workspaces[agent] = path

    # ---- workspaces -----------------------------------------------------------------------------
    def _workspace(self, agent: str, *, git: bool = True) -> Path:
        """The agent's copy (created on first use; ``git``: with its start commit)."""
        path = self._workspaces.get(agent)
        if path is not None:
            return path
        path = self._episode_root() / f"ep{self._episode}" / agent
        if path.exists():
            _rmtree(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if agent == "injector_0":
            self.repo.fresh_copy(path)
        else:
            _unpack_tree(self._start().rows, path)
        if self.git_init and git:
            self._init_git(path)
        for rel, content in self._overlays.pop(agent, {}).items():  # files created before
            _tools.write_text(path, path / rel, content, self.max_file_bytes)
        self._workspaces[agent] = path
        return path

    def _init_git(self, path: Path) -> None:
        """One commit of the start state, made by git INSIDE the sandbox (never host git)."""
        box = self._tool_sandbox()
        box.run(
            "command -v git >/dev/null && git init -q . && git add -A && "
            "git -c user.name=selfplay -c user.email=selfplay@localhost commit -qm start",
            workdir=path,
            timeout_s=min(30.0, max(self.command_timeout_s, 10.0)),
        )

    def _workspace_path(self, agent: str) -> Path:
        return self._workspaces.get(agent) or (self._episode_root() / f"ep{self._episode}" / agent)

    def _start_key(self) -> tuple:
        return (self._artifact_id, _hash_text(self._extra_patch), self.repo.fingerprint)

    def _start(self) -> _Start:
        """The solvers' start tree of this episode (built once per process and start key)."""
        key = self._start_key()
        found = _STARTS.get(key)
        if found is not None and found.root.is_dir():
            _STARTS.move_to_end(key)
            return found
        from selfplay_gym.envs.code_repair.artifact import solver_workspace

        root = Path(tempfile.mkdtemp(prefix="start-", dir=_template_dir()))
        tree = solver_workspace(
            self._artifact, self.repo, root / "tree", extra_patch=self._extra_patch or None
        )
        oracle: dict[str, str] = {}
        for rel in self.repo.source_files():
            pristine = (self.repo.root / rel).read_bytes()
            current = tree / rel
            if not current.is_file() or current.read_bytes() != pristine:
                oracle[rel] = pristine.decode("utf-8", errors="replace")
        start = _Start(tree, _pack_tree(tree), tree_digest(tree), oracle)
        _lru_put(_STARTS, key, start)
        return start

    def _tree_key(self, agent: str) -> str:
        """A key that determines the agent's tree: a digest of its copy, or of start + overlay."""
        path = self._workspaces.get(agent)
        if path is not None:
            return tree_digest(path)
        start = self._start()
        overlay = self._overlays.get(agent)
        if not overlay:
            return start.digest
        h = hashlib.sha256(start.digest.encode())
        for rel in sorted(overlay):
            h.update(f"\0{rel}\0{_hash_text(overlay[rel])}".encode("utf-8", errors="replace"))
        return "overlay-" + h.hexdigest()

    # ---- the episode ----------------------------------------------------------------------------
    def _begin(self, options: dict[str, Any]) -> None:
        self._clear_episode()
        self._episode += 1
        rng = self.np_random
        strategy = self.strategies[int(rng.integers(len(self.strategies)))]
        draw_order2 = float(rng.random())
        if "strategy" in options:
            if options["strategy"] not in STRATEGIES:
                raise ValueError(f"expected options['strategy'] in {list(STRATEGIES)}")
            strategy = options["strategy"]
        self._strategy = strategy
        self._harness_sandbox()  # the backend is known (and reported) from the start
        if "artifact" in options:
            artifact = self._coerce_artifact(options["artifact"])
            report = self._validate(artifact)
            if not report.valid:
                raise ValueError(f"the given artifact is invalid: {report.first_failure}")
            extra = options.get("extra_patch")
            if extra is not None and not isinstance(extra, str):
                raise ValueError("expected options['extra_patch'] to be a diff (str)")
            self._skip_injector()
            self._start_repair(artifact, report, extra or None, 2 if extra else 1)
            return
        if self.max_order >= 2 and self.pool and draw_order2 < self.order2_prob:
            text, patch = self.pool[int(rng.integers(len(self.pool)))]
            artifact = self._coerce_artifact(text)
            report = self._validate(artifact)
            if report.valid:
                self._skip_injector()
                self._start_repair(artifact, report, patch, 2)
                return
        if self.injector_mode == "rule":
            from selfplay_gym.envs.code_repair.players import rule_artifact

            index = int(rng.integers(self.rule_pool))
            artifact, _ = rule_artifact(self.repo, self.sandbox, strategy, index, self.config)
            report = self._validate(artifact)
            self._skip_injector()
            self._start_repair(artifact, report, None, 1)
            return
        self.phase = "inject"
        sources = ", ".join(self.repo.source_files()[:12])
        user = INJECTOR_USER.format(
            repo=f"{self.repo.name} {self.repo.version}",
            sources=sources or "(none found)",
            tests=", ".join(self.repo.test_paths),
            strategy=STRATEGY_TEXT[strategy],
            min_passing=self.config.min_passing_tests,
            min_failing=self.config.min_failing_tests,
            git=INJECTOR_GIT if self.git_init else "",
        )
        self._prompt("injector_0", INJECTOR_SYSTEM.format(tools=self._help(INJECTOR_SUBMIT)), user)
        self._schedule("injector_0")

    def _help(self, submit: str) -> str:
        return _tools.TOOLS_HELP.format(
            timeout=self.command_timeout_s,
            cap=self.max_output_chars,
            submit=submit,
            turns=self.max_turns,
        )

    def _skip_injector(self) -> None:
        self._given = True
        self._finish("injector_0")
        self._seats["injector_0"].extra["given_artifact"] = True

    @staticmethod
    def _coerce_artifact(value: Any) -> Any:
        from selfplay_gym.envs.code_repair.artifact import BugArtifact

        if isinstance(value, BugArtifact):
            return value
        if isinstance(value, Mapping):
            value = json.dumps(dict(value))
        if isinstance(value, str):
            try:
                return BugArtifact.from_json(value)
            except Exception as exc:
                raise ValueError(f"could not read the artifact: {exc}") from exc
        raise ValueError(f"expected a BugArtifact, its JSON or a dict, got {type(value).__name__}")

    def _validate(self, artifact: Any) -> Any:
        return validate_cached(artifact, self.repo, self._harness_sandbox(), self.config)

    # ---- replies --------------------------------------------------------------------------------
    def _handle(self, agent: str, text: str) -> None:
        call, error = _tools.parse_tool_call(text)
        if call is None:
            self._unreadable(agent, error or "no tool call found", text)
            return
        seat = self._seats[agent]
        seat.parse = {"ok": True, "extracted": call.describe()[:200], "error": None}
        seat.extra["tool"] = call.describe()[:200]
        self._say(agent, "assistant", text)
        self._note(f"[{agent}] {call.describe()[:200]}")
        if call.name == "submit":
            if seat.role == "injector":
                self._submit_artifact(call.body)
            else:
                self._submit_repair(agent)
            return
        try:
            output = self._run_tool(agent, call)
        except _tools.ToolError as exc:
            output = f"Error: {exc}"
        self._say(agent, "user", output)
        self._after_turn(agent)

    def _unreadable(self, agent: str, error: str, text: str) -> bool:
        """An unreadable reply: recorded as invalid, answered with the error; it costs a turn."""
        seat = self._seats[agent]
        seat.parse = {"ok": False, "extracted": None, "error": error}
        seat.invalid = True
        seat.extra["tool"] = None
        self._note(f"[{agent}] unreadable: {error}")
        head = text[:500] + (" ..." if len(text) > 500 else "")
        self._say(agent, "assistant", head)
        self._say(agent, "user", f"Error: {error}")
        self._after_turn(agent)
        return True

    def _after_turn(self, agent: str) -> None:
        seat = self._seats[agent]
        if seat.turn < self.max_turns:
            self._schedule(agent, first=seat.role == "injector")
            return
        self._note(f"[{agent}] out of turns")
        seat.extra["out_of_turns"] = True
        if seat.role == "injector":
            self._validity = {"parsed": False}
            self._invalid_artifact(f"no artifact submitted within {self.max_turns} turns")
        else:
            self._submit_repair(agent, out_of_turns=True)

    def _run_tool(self, agent: str, call: _tools.ToolCall) -> str:
        written = self._written.setdefault(agent, [])
        if call.name == "create" and agent != "injector_0" and agent not in self._workspaces:
            out = self._overlay_create(agent, call)  # no copy needed yet
            written.append(call.attrs["path"].strip())
            return out
        root = self._workspace(agent)
        if call.name == "bash":
            box = self._tool_sandbox()
            base = str(root) if box.backend == "unsafe" else "/work"
            paths = [base if p in (".", "") else f"{base}/{p}" for p in self.repo.pythonpath]
            result = box.run(
                call.body,
                workdir=root,
                timeout_s=self.command_timeout_s,
                env={"PYTHONPATH": ":".join(paths)},
            )
            written.append("(bash)")
            return _tools.bash_output(result, self.max_output_chars, self.command_timeout_s)
        if call.name == "view":
            return _tools.view(
                root, call, max_bytes=self.max_file_bytes, max_chars=self.max_output_chars
            )
        if call.name == "edit":
            out = _tools.edit(root, call, max_bytes=self.max_file_bytes)
        else:
            out = _tools.create(root, call, max_bytes=self.max_file_bytes)
        written.append(call.attrs["path"].strip())
        return out

    def _overlay_create(self, agent: str, call: _tools.ToolCall) -> str:
        """``create`` on a copy not yet made: the same checks against the start tree, kept in memory."""
        base = self._start().root
        overlay = self._overlays.setdefault(agent, {})
        path = _tools.resolve_path(base, call.attrs.get("path", ""))
        rel = path.relative_to(base).as_posix()
        _tools.check_write(base, path, call.body, self.max_file_bytes, frozenset(overlay))
        existed = rel in overlay or os.path.lexists(path)
        overlay[rel] = call.body
        verb = "Overwrote" if existed else "Created"
        return f"{verb} {call.attrs.get('path', '').strip()[:200]} ({len(call.body)} characters)."

    # ---- the injector's artifact ----------------------------------------------------------------
    def _submit_artifact(self, body: str) -> None:
        self.phase = "validate"
        try:
            data = json.loads(body)
            if not isinstance(data, dict):
                raise ValueError("the artifact must be a JSON object")
            artifact = self._coerce_artifact(data)
        except Exception as exc:  # malformed: an invalid artifact, never a crash
            self._validity = {"parsed": False}
            self._invalid_artifact(f"the artifact could not be read: {exc}"[:300])
            return
        try:
            report = self._validate(artifact)
        except Exception as exc:
            from selfplay_gym.sandbox import SandboxUnavailable

            if isinstance(exc, SandboxUnavailable):
                raise
            self._validity = {"parsed": True}
            self._invalid_artifact(f"validation failed: {exc!r}"[:300])
            return
        self._validity = {"parsed": True, **dict(report.checks)}
        seat = self._seats["injector_0"].extra
        seat.update(
            fail_to_pass=len(report.fail_to_pass),
            pass_to_pass=len(report.pass_to_pass),
            first_failure=report.first_failure,
        )
        if not report.valid:
            self._invalid_artifact(report.first_failure or "the artifact failed validation")
            return
        self._start_repair(artifact, report, None, 1)

    def _invalid_artifact(self, reason: str) -> None:
        seat = self._seats["injector_0"]
        seat.extra.update(artifact_valid=False, first_failure=reason)
        self._reward("injector_0", "invalid_artifact", float(self.injector_rule.invalid_reward))
        self._note(f"[env] invalid artifact ({reason})")
        for s in self.solvers:
            self._reward(s, "no_task", 0.0)
        self._end()

    # ---- the repairs ----------------------------------------------------------------------------
    def _start_repair(self, artifact: Any, report: Any, extra: str | None, order: int) -> None:
        from selfplay_gym.envs.code_repair.diffs import reverse_diff

        self.phase = "repair"
        self._artifact, self._report = artifact, report
        self._extra_patch, self._order = extra, order
        inj = self._seats["injector_0"].extra
        inj.update(
            artifact_valid=True,
            fail_to_pass=len(report.fail_to_pass),
            pass_to_pass=len(report.pass_to_pass),
        )
        if not self._validity:
            self._validity = {"parsed": True, **dict(report.checks)}
        self._task = reverse_diff(artifact.test_weaken_diff)
        self._artifact_id = artifact.artifact_id
        task = _tools.cap_output(self._task, self.max_task_chars)
        user = SOLVER_USER.format(diff=task) + (SOLVER_USER_ORDER2 if order == 2 else "")
        git = SOLVER_GIT if self.git_init else ""
        system = SOLVER_SYSTEM.format(tools=self._help(SOLVER_SUBMIT), git=git)
        for s in self.solvers:
            self._prompt(s, system, user)
        self._schedule(*self.solvers)
        self._note(f"[env] artifact {artifact.artifact_id[:12]} valid (order {order})")

    def _score(self, agent: str) -> Any:
        key = (*self._start_key(), self._tree_key(agent), self._backend, self.config)
        found = _SCORES.get(key)
        if found is not None:
            return found
        from selfplay_gym.envs.code_repair.artifact import score_repair

        tree = self._workspace(agent, git=False)  # made only to be scored
        score = score_repair(
            self._artifact, self._report, self.repo, self._harness_sandbox(), tree, self.config
        )
        if score.error is None:
            _lru_put(_SCORES, key, score)
        return score

    def _submit_repair(self, agent: str, out_of_turns: bool = False) -> None:
        seat = self._seats[agent]
        try:
            score = self._score(agent)
            solved, error = bool(score.solved), score.error
            seat.extra.update(failed_tests=len(score.failed), missing_tests=len(score.missing))
        except Exception as exc:
            from selfplay_gym.sandbox import SandboxUnavailable

            if isinstance(exc, SandboxUnavailable):
                raise
            solved, error = False, f"scoring failed: {exc!r}"[:300]
        seat.extra.update(solved=solved, score_error=error)
        self._solved[agent] = solved
        if solved:
            self._reward(agent, "solved", self.solver_rewards[0])
        else:
            self._reward(agent, "unsolved", self.solver_rewards[1])
            self._remember_failure(agent)
        self._note(f"[env] {agent} {'solved' if solved else 'did not solve'} the bug")
        self._finish(agent, truncated=out_of_turns)
        if len(self._solved) == len(self.solvers):
            self._score_injector()

    def _remember_failure(self, agent: str) -> None:
        """A failed order-1 repair that changed the tree joins the order-2 pool."""
        if self.max_order < 2 or self._order != 1:
            return
        if agent not in self._workspaces and not self._overlays.get(agent):
            return  # nothing changed: the same start state again
        try:
            key = (*self._start_key(), self._tree_key(agent))
        except (OSError, RecursionError):  # a tree too deep to digest (os.walk recurses)
            return
        patch = _PATCHES.get(key)
        if patch is None:
            from selfplay_gym.envs.code_repair.diffs import make_diff

            start = self._start().root
            try:
                if agent in self._workspaces:
                    patch = make_diff(start, self._workspaces[agent])
                else:  # only the overlay's files differ
                    overlay = self._overlays[agent]
                    scratch = Path(tempfile.mkdtemp(prefix="selfplay-ssr-o2-"))
                    try:
                        for rel, content in overlay.items():
                            _tools.write_text(scratch, scratch / rel, content, self.max_file_bytes)
                        patch = make_diff(start, scratch, sorted(overlay))
                    finally:
                        _rmtree(scratch)
            except Exception:  # a tree the harness cannot diff (links, binaries): not pooled
                patch = ""
            _lru_put(_PATCHES, key, patch)
        if patch and len(patch) <= 100_000:
            entry = (self._artifact.to_json(), patch)
            if entry not in self.pool:
                self.pool.append(entry)

    def _score_injector(self) -> None:
        n = len(self.solvers)
        results = [self._solved[s] for s in self.solvers]
        s = sum(results) / n
        seat = self._seats["injector_0"]
        if not self._given:
            for name, value in self.injector_rule(s).items():
                self._reward("injector_0", name, value)
            seat.extra.update(solve_rate=s, solver_results=results)
        self._note(f"[env] solve rate {s:.2f}")
        self._end()

    # ---- infos and views ------------------------------------------------------------------------
    def _extra_info(self, agent: str) -> dict[str, Any]:
        seat = self._seats[agent]
        info: dict[str, Any] = {
            "sandbox": self._backend,
            "strategy": self._strategy,
            "order": self._order,
            "turns_left": max(0, self.max_turns - seat.turn),
            "tool": None,
        }
        if self._artifact_id is not None:
            info["artifact_id"] = self._artifact_id
        if agent == "injector_0" and self._validity:
            info["validity"] = dict(self._validity)
        return info

    def agent_view(self, agent: str) -> dict[str, Any]:
        """What ``agent`` knows, structured, for scripted players (never another agent's secrets).

        Keys: ``role``, ``turn``, ``turns_left``, ``phase``, ``strategy``, ``order``, ``repo``
        (the :class:`~selfplay_gym.envs.code_repair.repos.Repo`, public), ``sandbox`` (the
        env's ``sandbox`` argument), ``config`` and ``written`` (the paths this agent wrote with
        tools this episode). Injector: ``workspace`` (its own copy's host path). Solver, once
        the repair phase starts: ``task`` (the reversed weakening diff it was shown). The bug
        diff is *not* here; see :meth:`oracle_files` for the test-only cheat.
        """
        if not self._seats:
            raise RuntimeError("call reset() before agent_view()")
        if agent not in self._seats:
            raise KeyError(f"expected one of {self.possible_agents}, got {agent!r}")
        seat = self._seats[agent]
        view: dict[str, Any] = {
            "role": seat.role,
            "turn": seat.turn,
            "turns_left": max(0, self.max_turns - seat.turn),
            "phase": self.phase,
            "strategy": self._strategy,
            "order": self._order,
            "repo": self.repo,
            "sandbox": self.sandbox,
            "config": self.config,
            "written": list(self._written.get(agent, [])),
        }
        if seat.role == "injector":
            if self.phase == "inject":  # made on its first tool call
                view["workspace"] = str(self._workspace_path(agent))
            return view
        if self._artifact is not None and self.phase in ("repair", "done"):
            view["task"] = self._task
        return view

    def oracle_files(self, agent: str) -> dict[str, str]:
        """A CHEAT for oracle players and tests: the pristine files the start state changed.

        The pristine text of each source file that the solver's start state changed (writing
        them back repairs the bug). Never in any observation, info or :meth:`agent_view`; a
        policy trained on observations cannot see it.
        """
        if agent not in self.solvers or self._artifact is None:
            return {}
        return dict(self._start().oracle)
