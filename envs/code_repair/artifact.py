"""SSR's bug artifact: its consistency validation, the solver's workspace, and repair scoring.

A :class:`BugArtifact` is SSR's five files (Wei et al. 2025, §2.3) as data: the oracle test files,
the bug diff over source files, the test-weakening diff over those test files, and an optional
test script and parser (``None``: the harness's own pytest command and JUnit parser).

:func:`validate_artifact` runs SSR's seven checks plus a determinism check, in this fixed order,
stopping at the first failure (later checks stay ``None``):

1. ``test_files_exist`` -- every oracle file is a relative path naming a regular file of the
   pristine repo, and the weakening diff (parsed here: a malformed one fails with the reason)
   touches only oracle files.
2. ``parser_valid`` / 3. ``script_valid`` -- the harness's parser and command are trusted (True).
   A custom ``test_parser`` or ``test_script`` (an LLM injector's) is **not supported yet**: it is
   rejected with that reason rather than run. ``script_valid`` also needs the original run to
   complete with at least ``min_passing_tests`` passing tests.
4. ``bug_scope`` -- the bug diff parses, touches between ``min_changed_files`` and
   ``max_changed_files`` files, none of them a test file, an oracle file or test configuration
   (``conftest.py``, ``pytest.ini``, ``setup.cfg``, ``sitecustomize.py``...), is at most
   ``max_patch_bytes`` (so is the weakening diff), and applies to the pristine tree.
5. ``bug_valid`` -- at least ``min_failing_tests`` oracle tests that pass on the original do not
   pass with the bug (a missing id counts as failing): the fail-to-pass (F2P) set.
6. ``weaken_valid`` -- on the buggy tree with the weakening applied, at least one F2P test passes
   or is gone, no oracle module fails to collect, and nothing that passed on the buggy tree fails.
7. ``inverse_mutation`` -- for each file of the bug diff on its own: the buggy tree (weakening
   *not* applied) with only that file reverted to the original must make at least one F2P test
   pass again; so a bug padded with irrelevant edits is rejected.
8. ``deterministic`` -- the original and the buggy runs are each done ``config.reruns`` times and
   must agree test by test (flaky or random tests are rejected). Checked right after each repeated
   run, so it can be the first failure.

What runs where (speed; the sandbox costs tens of ms, pytest start-up ~0.5-1 s per run):

* the original run is the **whole suite** (``min_passing_tests`` counts it, as SSR's check 3 uses
  the full test script), ``reruns`` times, and is cached per process by repo fingerprint and
  sandbox backend (the snapshot is pristine and never written, so its results cannot change);
* the buggy runs (``reruns`` times), the weakened run and the inverse-mutation runs use only the
  oracle ``test_files`` (inverse mutation: only those holding F2P tests);
* for a one-file bug the reverted tree *is* the original tree, so inverse mutation needs no run:
  every F2P test passed there (``reruns`` times);
* runs after the original use a timeout of ``max(10 s, 5 x the original run)`` capped at
  ``config.test_timeout_s`` (an infinite loop introduced by a bug costs seconds, not minutes).

Scoring (:func:`score_repair`) copies the solver's tree (regular files only: symlinks, devices,
caches and bytecode are dropped, VCS dirs too), restores every oracle test file and all test
configuration from the pristine snapshot, removes such files the solver added, and runs the
harness's pytest over the oracle files; only ids of F2P and P2P that the harness's own JUnit
report lists as passed count.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from selfplay_gym.envs.code_repair.diffs import (
    MAX_FILE_BYTES,
    PatchError,
    apply_diff,
    check_relative_path,
    parse_diff,
    read_file,
    remove_file,
    walk_files,
    write_file,
)

if TYPE_CHECKING:
    from selfplay_gym.envs.code_repair.repos import Repo
    from selfplay_gym.envs.code_repair.testing import TestRun
    from selfplay_gym.sandbox import Sandbox

__all__ = [
    "CHECK_ORDER",
    "TEST_CONFIG_NAMES",
    "BugArtifact",
    "RepairScore",
    "SSRConfig",
    "ValidationReport",
    "clear_original_cache",
    "is_test_config",
    "score_repair",
    "solver_workspace",
    "validate_artifact",
]

CHECK_ORDER = (
    "test_files_exist",
    "parser_valid",
    "script_valid",
    "bug_scope",
    "bug_valid",
    "weaken_valid",
    "inverse_mutation",
    "deterministic",
)
"""The checks of :class:`ValidationReport`, in the order :func:`validate_artifact` runs them."""
TEST_CONFIG_NAMES = frozenset(
    {
        "conftest.py",
        "pytest.ini",
        "tox.ini",
        "setup.cfg",
        "pyproject.toml",
        "sitecustomize.py",
        "usercustomize.py",
    }
)
"""File names (anywhere in the tree) that configure pytest or the interpreter; with ``*.pth``
they are reset to the pristine snapshot before a scored run."""
MAX_TREE_BYTES = 256 << 20
"""A solver tree larger than this (regular files summed) is not scored."""


def is_test_config(rel: str) -> bool:
    """Whether ``rel`` names test or interpreter configuration (see :data:`TEST_CONFIG_NAMES`)."""
    base = PurePosixPath(rel).name
    return base in TEST_CONFIG_NAMES or base.endswith(".pth")


# ---------------------------------------------------------------- data


@dataclass(frozen=True)
class BugArtifact:
    """SSR's bug artifact.

    Attributes:
        test_files: oracle test files, relative to the repo root; reset before scoring.
        bug_inject_diff: unified diff over non-test source files that introduces the bug.
        test_weaken_diff: unified diff over files in ``test_files`` hiding the bug; its reverse is
            the solver's whole specification.
        test_script: ``None`` -- the harness's pytest command (only ``None`` is accepted yet).
        test_parser: ``None`` -- the harness's JUnit parser (only ``None`` is accepted yet).
        meta: provenance: ``strategy``, ``injector`` (``"rule"``/``"llm"``), ``seed``, ``order``,
            ``parent_id``...; JSON-serialisable.
    """

    test_files: tuple[str, ...]
    bug_inject_diff: str
    test_weaken_diff: str
    test_script: str | None = None
    test_parser: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def _as_dict(self) -> dict[str, Any]:
        return {
            "test_files": list(self.test_files),
            "bug_inject_diff": self.bug_inject_diff,
            "test_weaken_diff": self.test_weaken_diff,
            "test_script": self.test_script,
            "test_parser": self.test_parser,
            "meta": dict(self.meta),
        }

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no extra whitespace)."""
        return json.dumps(self._as_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> BugArtifact:
        """Parse :meth:`to_json` output; raises ``ValueError`` on a wrong shape or type."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        files = data.get("test_files")
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            raise ValueError("expected test_files as a list of strings")
        for key in ("bug_inject_diff", "test_weaken_diff"):
            if not isinstance(data.get(key), str):
                raise ValueError(f"expected {key} as a string, got {type(data.get(key)).__name__}")
        for key in ("test_script", "test_parser"):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise ValueError(f"expected {key} as a string or null")
        meta = data.get("meta") or {}
        if not isinstance(meta, dict):
            raise ValueError("expected meta as an object")
        unknown = set(data) - {
            "test_files",
            "bug_inject_diff",
            "test_weaken_diff",
            "test_script",
            "test_parser",
            "meta",
        }
        if unknown:
            raise ValueError(f"unknown artifact fields: {sorted(unknown)}")
        return cls(
            tuple(files),
            data["bug_inject_diff"],
            data["test_weaken_diff"],
            data.get("test_script"),
            data.get("test_parser"),
            meta,
        )

    def __hash__(self) -> int:  # meta is a dict, so the generated hash would fail
        return hash(self.artifact_id)

    @property
    def artifact_id(self) -> str:
        """sha256 (hex) of :meth:`to_json`."""
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SSRConfig:
    """Thresholds and budgets of :func:`validate_artifact` and :func:`score_repair`."""

    min_passing_tests: int = 5
    """The original run must pass at least this many tests (SSR check 3)."""
    min_changed_files: int = 1
    """The bug diff must touch at least this many files (SSR check 4)."""
    min_failing_tests: int = 1
    """At least this many oracle tests must go from passing to not passing (SSR check 5)."""
    max_changed_files: int = 8
    """The bug diff may touch at most this many files."""
    max_patch_bytes: int = 200_000
    """Largest bug or weakening diff, in UTF-8 bytes."""
    reruns: int = 2
    """The original and buggy runs are done this many times; per-test results must agree."""
    test_timeout_s: float = 120.0
    """Wall-clock limit of the original run, and the cap of every other run's limit."""
    inverse_mutation: bool = True
    """Run SSR's inverse mutation check (check 7); False leaves it ``None``."""


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of :func:`validate_artifact`.

    Attributes:
        valid: every check passed.
        checks: check name (:data:`CHECK_ORDER`) -> True/False, ``None`` when not run.
        first_failure: ``"<check>: <why>"`` for the first failed check, else ``None``.
        original_pass: oracle test ids passing on the original tree.
        buggy_fail: oracle test ids not passing with the bug (missing ones included).
        weakened_pass: oracle test ids passing with the bug and the weakening.
        fail_to_pass: pass on the original, fail with the bug (what the solver must fix).
        pass_to_pass: oracle tests passing on both (what the solver must keep).
        per_file_necessity: bug file -> F2P ids that pass again when only it is reverted.
        timings_s: seconds per phase (``original``, ``buggy``, ``weakened``, ``inverse``...).
        backend: the sandbox backend.
    """

    valid: bool
    checks: dict[str, bool | None]
    first_failure: str | None
    original_pass: tuple[str, ...] = ()
    buggy_fail: tuple[str, ...] = ()
    weakened_pass: tuple[str, ...] = ()
    fail_to_pass: tuple[str, ...] = ()
    pass_to_pass: tuple[str, ...] = ()
    per_file_necessity: dict[str, tuple[str, ...]] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    backend: str = ""


@dataclass(frozen=True)
class RepairScore:
    """The outcome of :func:`score_repair`.

    Attributes:
        solved: every F2P and P2P id is ``"passed"`` in the harness report.
        results: the scored run's ``{test id: status}``.
        missing: F2P/P2P ids absent from the report.
        failed: F2P/P2P ids present but not passed.
        reset_files: files restored from the snapshot or removed before the run.
        error: why the run failed to complete (``None`` when it did).
    """

    solved: bool
    results: dict[str, str]
    missing: tuple[str, ...]
    failed: tuple[str, ...]
    reset_files: tuple[str, ...]
    error: str | None


# ---------------------------------------------------------------- helpers


def _is_test_file(repo: Repo, rel: str) -> bool:
    base = PurePosixPath(rel).name
    in_test_paths = any(rel == t or rel.startswith(t.rstrip("/") + "/") for t in repo.test_paths)
    return (
        in_test_paths
        or base.startswith("test_")
        or base.endswith("_test.py")
        or "/tests/" in f"/{rel}"
    )


def _passed(results: Mapping[str, str]) -> set[str]:
    return {test_id for test_id, status in results.items() if status == "passed"}


def _in_files(test_id: str, files: set[str]) -> bool:
    return test_id.split("::", 1)[0] in files


def _run(
    sandbox: Sandbox,
    workdir: Path,
    repo: Repo,
    files: Sequence[str] | None,
    timeout_s: float,
) -> TestRun:
    from selfplay_gym.envs.code_repair.testing import run_tests

    return run_tests(sandbox, workdir, repo, test_files=files, timeout_s=timeout_s)


def _disagreement(runs: Sequence[TestRun]) -> str | None:
    first = runs[0].results
    for index, other in enumerate(runs[1:], 2):
        if other.results != first:
            ids = sorted(
                t for t in set(first) | set(other.results) if first.get(t) != other.results.get(t)
            )
            sample = ", ".join(f"{t} ({first.get(t)} vs {other.results.get(t)})" for t in ids[:3])
            return f"run 1 and run {index} disagree on {len(ids)} test(s): {sample}"
    return None


_ORIGINAL_CACHE: dict[tuple[str, str, str, int, float], tuple[TestRun, str | None, float]] = {}


def clear_original_cache() -> None:
    """Forget the cached original-suite runs (see the module docstring)."""
    _ORIGINAL_CACHE.clear()


def _original_runs(
    repo: Repo, sandbox: Sandbox, config: SSRConfig, scratch: Path
) -> tuple[TestRun, str | None, float, bool]:
    """The whole suite on the pristine tree, ``reruns`` times.

    Returns (first run, disagreement, seconds spent now, whether it came from the cache).
    """
    key = (repo.fingerprint, str(repo.root), sandbox.backend, config.reruns, config.test_timeout_s)
    cached = _ORIGINAL_CACHE.get(key)
    if cached is not None:
        return (*cached[:2], 0.0, True)
    tree = repo.fresh_copy(scratch / "original")
    started = time.perf_counter()
    runs = [
        _run(sandbox, tree, repo, None, config.test_timeout_s) for _ in range(max(1, config.reruns))
    ]
    elapsed = time.perf_counter() - started
    outcome = (runs[0], _disagreement(runs) if all(r.ok for r in runs) else None, elapsed)
    if all(r.ok for r in runs):
        _ORIGINAL_CACHE[key] = outcome
    return (*outcome, False)


def _bug_allowed(repo: Repo, oracle: set[str]) -> Callable[[str], bool]:
    def allowed(rel: str) -> bool:
        return rel not in oracle and not _is_test_file(repo, rel) and not is_test_config(rel)

    return allowed


def _restore_file(pristine: Path, tree: Path, rel: str) -> None:
    data = read_file(pristine, rel)
    if data is None:
        remove_file(tree, rel)
    else:
        write_file(tree, rel, data)


# ---------------------------------------------------------------- validation


class _Failed(Exception):
    def __init__(self, check: str, reason: str) -> None:
        super().__init__(f"{check}: {reason}")
        self.check = check


def validate_artifact(
    artifact: BugArtifact,
    repo: Repo,
    sandbox: Sandbox,
    config: SSRConfig = SSRConfig(),  # noqa: B008 -- frozen, so a shared default is safe
) -> ValidationReport:
    """Check ``artifact`` against ``repo`` with SSR's seven checks plus determinism.

    See the module docstring for the checks, their order and what runs where. Never raises on a
    bad artifact: a malformed diff, a missing file or a failed run is a failed check whose reason
    is in ``first_failure``. (A broken sandbox can still raise.)
    """
    checks: dict[str, bool | None] = dict.fromkeys(CHECK_ORDER)
    timings: dict[str, float] = {}
    found: dict[str, Any] = {}
    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="selfplay-ssr-validate-"))
    try:
        _validate(artifact, repo, sandbox, config, checks, timings, found, scratch)
        valid, failure = True, None
    except _Failed as exc:
        checks[exc.check] = False
        valid, failure = False, str(exc)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    timings["total"] = time.perf_counter() - started
    return ValidationReport(
        valid=valid,
        checks=checks,
        first_failure=failure,
        original_pass=tuple(sorted(found.get("original_pass", ()))),
        buggy_fail=tuple(sorted(found.get("buggy_fail", ()))),
        weakened_pass=tuple(sorted(found.get("weakened_pass", ()))),
        fail_to_pass=tuple(sorted(found.get("f2p", ()))),
        pass_to_pass=tuple(sorted(found.get("p2p", ()))),
        per_file_necessity=found.get("necessity", {}),
        timings_s=timings,
        backend=sandbox.backend,
    )


def _validate(
    artifact: BugArtifact,
    repo: Repo,
    sandbox: Sandbox,
    config: SSRConfig,
    checks: dict[str, bool | None],
    timings: dict[str, float],
    found: dict[str, Any],
    scratch: Path,
) -> None:
    # 1. test files exist and cover the weakening
    if not artifact.test_files or isinstance(artifact.test_files, str):
        raise _Failed("test_files_exist", "expected test_files as a non-empty list of paths")
    oracle: list[str] = []
    for name in artifact.test_files:
        try:
            rel = check_relative_path(name, "test_files")
            data = read_file(repo.root, rel)
        except PatchError as exc:
            raise _Failed("test_files_exist", str(exc)) from None
        if data is None:
            raise _Failed("test_files_exist", f"{rel} does not exist in the original repo")
        if not rel.endswith(".py") or is_test_config(rel):
            raise _Failed("test_files_exist", f"{rel} is not a test module")
        oracle.append(rel)
    oracle_set = set(oracle)
    oracle = sorted(oracle_set)
    try:
        weaken_patches = parse_diff(artifact.test_weaken_diff)
    except PatchError as exc:
        raise _Failed("test_files_exist", f"malformed test_weaken_diff: {exc}") from None
    outside = [p.path for p in weaken_patches if p.path not in oracle_set]
    if outside:
        raise _Failed(
            "test_files_exist",
            f"test_weaken_diff touches files outside test_files: {', '.join(outside)}",
        )
    checks["test_files_exist"] = True

    # 2. parser and 3. script (the harness's own, or refused)
    if artifact.test_parser is not None:
        raise _Failed(
            "parser_valid",
            "custom test parsers are not supported yet; use None (the harness's JUnit parser)",
        )
    checks["parser_valid"] = True
    if artifact.test_script is not None:
        raise _Failed(
            "script_valid",
            "custom test scripts are not supported yet; use None (the harness's pytest command)",
        )
    original, disagreement, original_s, cached = _original_runs(repo, sandbox, config, scratch)
    timings["original"] = original_s
    timings["original_run"] = original.duration_s  # one run (the scoring timeout scales with it)
    timings["original_cached"] = float(cached)
    if not original.ok:
        raise _Failed("script_valid", f"the original run failed: {original.error}")
    if disagreement:
        raise _Failed("deterministic", f"original runs: {disagreement}")
    passing = _passed(original.results)
    if len(passing) < config.min_passing_tests:
        raise _Failed(
            "script_valid",
            f"{len(passing)} tests pass on the original, expected at least "
            f"{config.min_passing_tests}",
        )
    checks["script_valid"] = True
    original_pass = {t for t in passing if _in_files(t, oracle_set)}
    found["original_pass"] = original_pass
    if not original_pass:
        raise _Failed("bug_valid", "no test in test_files passes on the original")
    run_timeout = min(config.test_timeout_s, max(10.0, 5.0 * original.duration_s))

    # 4. bug scope
    started = time.perf_counter()
    for label, text in (("bug_inject_diff", artifact.bug_inject_diff),
                        ("test_weaken_diff", artifact.test_weaken_diff)):  # fmt: skip
        if not isinstance(text, str):
            raise _Failed("bug_scope", f"expected {label} as a string, got {type(text).__name__}")
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > config.max_patch_bytes:
            raise _Failed(
                "bug_scope", f"{label} is {size} bytes, over the {config.max_patch_bytes} limit"
            )
    try:
        bug_patches = parse_diff(artifact.bug_inject_diff)
    except PatchError as exc:
        raise _Failed("bug_scope", f"malformed bug_inject_diff: {exc}") from None
    bug_files = [p.path for p in bug_patches]
    if not config.min_changed_files <= len(bug_files) <= config.max_changed_files:
        raise _Failed(
            "bug_scope",
            f"bug_inject_diff changes {len(bug_files)} files, expected "
            f"{config.min_changed_files}..{config.max_changed_files}",
        )
    allowed = _bug_allowed(repo, oracle_set)
    refused = [rel for rel in bug_files if not allowed(rel)]
    if refused:
        raise _Failed(
            "bug_scope",
            f"bug_inject_diff touches test files or test configuration: {', '.join(refused)}",
        )
    buggy = repo.fresh_copy(scratch / "buggy")
    try:
        apply_diff(buggy, artifact.bug_inject_diff, allowed=allowed)
    except PatchError as exc:
        raise _Failed("bug_scope", f"bug_inject_diff does not apply: {exc}") from None
    checks["bug_scope"] = True
    timings["scope"] = time.perf_counter() - started

    # 5. bug validity (+ determinism of the buggy runs)
    started = time.perf_counter()
    buggy_runs = [
        _run(sandbox, buggy, repo, oracle, run_timeout) for _ in range(max(1, config.reruns))
    ]
    timings["buggy"] = time.perf_counter() - started
    first = buggy_runs[0]
    if not first.results:
        raise _Failed("bug_valid", f"the buggy run gave no results: {first.error}")
    disagreement = _disagreement(buggy_runs)
    if disagreement:
        raise _Failed("deterministic", f"buggy runs: {disagreement}")
    buggy_pass = _passed(first.results)
    buggy_fail = {t for t in original_pass if t not in buggy_pass}
    buggy_fail |= {t for t, s in first.results.items() if s in ("failed", "error")}
    found["buggy_fail"] = buggy_fail
    f2p = original_pass - buggy_pass
    found["f2p"] = f2p
    found["p2p"] = original_pass & buggy_pass
    if len(f2p) < config.min_failing_tests:
        raise _Failed(
            "bug_valid",
            f"{len(f2p)} oracle test(s) go from passing to failing, expected at least "
            f"{config.min_failing_tests}",
        )
    checks["bug_valid"] = True

    # 6. weakening validity
    started = time.perf_counter()
    weakened = scratch / "weakened"
    shutil.copytree(buggy, weakened, symlinks=True)
    try:
        apply_diff(weakened, artifact.test_weaken_diff, allowed=oracle_set.__contains__)
    except PatchError as exc:
        raise _Failed("weaken_valid", f"test_weaken_diff does not apply: {exc}") from None
    weak_run = _run(sandbox, weakened, repo, oracle, run_timeout)
    timings["weakened"] = time.perf_counter() - started
    if not weak_run.ok:
        raise _Failed("weaken_valid", f"the weakened run failed: {weak_run.error}")
    broken = sorted(t for t in oracle_set if weak_run.results.get(t) == "error")
    if broken:
        raise _Failed("weaken_valid", f"weakened test modules fail to collect: {broken}")
    weak_pass = _passed(weak_run.results)
    found["weakened_pass"] = {t for t in weak_pass if _in_files(t, oracle_set)}
    hidden = {t for t in f2p if t in weak_pass or t not in weak_run.results}
    if not hidden:
        raise _Failed("weaken_valid", "no failing oracle test passes or is removed after weakening")
    regressed = sorted(t for t in buggy_pass if weak_run.results.get(t) in ("failed", "error"))
    if regressed:
        raise _Failed(
            "weaken_valid", f"tests passing with the bug fail after weakening: {regressed[:5]}"
        )
    checks["weaken_valid"] = True

    # 7. inverse mutation: revert one bug file at a time on the buggy (unweakened) tree
    if config.inverse_mutation:
        started = time.perf_counter()
        necessity: dict[str, tuple[str, ...]] = {}
        if len(bug_files) == 1:
            # Reverting the only file gives the original tree, where every F2P test passed.
            necessity[bug_files[0]] = tuple(sorted(f2p))
        else:
            f2p_files = sorted({t.split("::", 1)[0] for t in f2p} & oracle_set) or oracle
            for rel in bug_files:
                buggy_bytes = read_file(buggy, rel)
                _restore_file(repo.root, buggy, rel)
                try:
                    run = _run(sandbox, buggy, repo, f2p_files, run_timeout)
                finally:
                    if buggy_bytes is None:
                        remove_file(buggy, rel)
                    else:
                        write_file(buggy, rel, buggy_bytes)
                fixed = tuple(sorted(f2p & _passed(run.results)))
                necessity[rel] = fixed
                if not fixed:
                    found["necessity"] = necessity
                    timings["inverse"] = time.perf_counter() - started
                    raise _Failed(
                        "inverse_mutation",
                        f"reverting only {rel} makes no failing test pass (an irrelevant edit)",
                    )
        found["necessity"] = necessity
        timings["inverse"] = time.perf_counter() - started
        checks["inverse_mutation"] = True
    checks["deterministic"] = True


# ---------------------------------------------------------------- the solver's world and scoring


def solver_workspace(
    artifact: BugArtifact, repo: Repo, dest: str | Path, *, extra_patch: str | None = None
) -> Path:
    """A fresh copy of ``repo`` at ``dest`` with the bug, the weakening and ``extra_patch``.

    ``extra_patch`` is an order-2 start state (a failed repair). The tree has no ``.git``; the
    env may keep its own git dir outside it.

    Raises:
        PatchError: a diff that does not apply or touches what it may not.
    """
    oracle = {check_relative_path(p, "test_files") for p in artifact.test_files}
    root = repo.fresh_copy(dest)
    apply_diff(root, artifact.bug_inject_diff, allowed=_bug_allowed(repo, oracle))
    apply_diff(root, artifact.test_weaken_diff, allowed=oracle.__contains__)
    if extra_patch:
        apply_diff(root, extra_patch)
    return root


def _copy_solver_tree(tree: Path, dest: Path) -> None:
    """Regular files of ``tree`` into ``dest`` (links, specials, caches, bytecode, VCS dropped)."""
    total = 0
    dest.mkdir(parents=True, exist_ok=True)
    for entry in walk_files(tree, skip_caches=True):
        if entry.kind != "file" or entry.path.startswith(".selfplay-report-"):
            continue
        data = read_file(tree, entry.path, max_bytes=MAX_FILE_BYTES * 16)
        if data is None:
            continue
        total += len(data)
        if total > MAX_TREE_BYTES:
            raise PatchError(f"the solver's tree is over {MAX_TREE_BYTES} bytes")
        write_file(dest, entry.path, data)


def score_repair(
    artifact: BugArtifact,
    report: ValidationReport,
    repo: Repo,
    sandbox: Sandbox,
    tree: str | Path,
    config: SSRConfig = SSRConfig(),  # noqa: B008 -- frozen, so a shared default is safe
) -> RepairScore:
    """Score the solver's work in ``tree`` against a validated artifact (see the module docstring).

    ``tree`` is only read (never run on the host); scoring happens in a copy that is deleted
    afterwards. Solved iff every F2P and P2P id is ``"passed"`` in the harness's report.
    """
    expected = set(report.fail_to_pass) | set(report.pass_to_pass)
    scoring = Path(tempfile.mkdtemp(prefix="selfplay-ssr-score-"))
    try:
        work = scoring / "tree"
        try:
            _copy_solver_tree(Path(tree), work)
        except (PatchError, OSError) as exc:
            return RepairScore(
                False, {}, tuple(sorted(expected)), (), (), f"unscorable tree: {exc}"
            )
        oracle = {check_relative_path(p, "test_files") for p in artifact.test_files}
        pristine = {e.path for e in walk_files(repo.root) if e.kind == "file"}
        present = {e.path for e in walk_files(work, skip_caches=True)}
        reset: list[str] = []
        for rel in sorted(oracle | {p for p in pristine | present if is_test_config(p)}):
            original = read_file(repo.root, rel)
            current = read_file(work, rel)
            if original == current:
                continue
            _restore_file(repo.root, work, rel)
            reset.append(rel)
        files = sorted({t.split("::", 1)[0] for t in expected} & oracle) or sorted(oracle)
        original_s = report.timings_s.get("original_run", config.test_timeout_s / 5)
        timeout = min(config.test_timeout_s, max(10.0, 5.0 * original_s))
        run = _run(sandbox, work, repo, files, timeout)
    finally:
        shutil.rmtree(scoring, ignore_errors=True)
    missing = tuple(sorted(t for t in expected if t not in run.results))
    failed = tuple(sorted(t for t in expected if run.results.get(t, "passed") != "passed"))
    solved = bool(expected) and run.ok and not missing and not failed
    return RepairScore(solved, dict(run.results), missing, failed, tuple(reset), run.error)
