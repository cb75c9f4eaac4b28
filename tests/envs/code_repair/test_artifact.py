"""SSR artifacts: each consistency check failing on a crafted artifact, and score_repair's guards
against a gaming solver (each hack is first shown to work on an unguarded run where it can)."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest

from selfplay_gym.envs.code_repair.artifact import (
    CHECK_ORDER,
    BugArtifact,
    SSRConfig,
    score_repair,
    solver_workspace,
    validate_artifact,
)
from selfplay_gym.envs.code_repair.diffs import apply_diff, make_diff, reverse_diff
from selfplay_gym.envs.code_repair.injector import remove_tests
from selfplay_gym.envs.code_repair.repos import load_repo
from selfplay_gym.envs.code_repair.testing import run_tests

RLE = "src/tallykit/rle.py"
RLE_TESTS = "tests/test_rle.py"
# `dumps` writes a count only from 3 on: breaks the round trip and escaping tests.
BUG_FROM, BUG_TO = "        if count > 1:\n", "        if count > 2:\n"
F2P = {
    "tests/test_rle.py::test_dumps_escapes_digits_and_backslash",
    "tests/test_rle.py::test_round_trip[112233]",
    "tests/test_rle.py::test_round_trip[hello  world]",
    "tests/test_rle.py::test_round_trip[\\\\\\\\n9]",
}


@pytest.fixture(scope="module")
def sandbox():
    from selfplay_gym.sandbox import Sandbox, SandboxUnavailable

    try:
        return Sandbox("auto")
    except SandboxUnavailable as exc:
        pytest.skip(f"no sandbox backend here (bwrap or unshare): {exc}")


@pytest.fixture(scope="module")
def repo():
    return load_repo("embedded")


@pytest.fixture(scope="module")
def scratch():
    path = Path(tempfile.mkdtemp(prefix="selfplay-test-artifact-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _edited_diff(repo, scratch: Path, edits: dict[str, tuple[str, str]], name: str) -> str:
    """A diff of the pristine repo with ``old -> new`` text replacements per file."""
    before = repo.root
    after = repo.fresh_copy(scratch / f"edit-{name}")
    for rel, (old, new) in edits.items():
        path = after / rel
        text = path.read_text()
        assert old in text, (rel, old)
        path.write_text(text.replace(old, new, 1))
    return make_diff(before, after, sorted(edits))


@pytest.fixture(scope="module")
def parts(repo, scratch):
    bug = _edited_diff(repo, scratch, {RLE: (BUG_FROM, BUG_TO)}, "bug")
    tests_text = (repo.root / RLE_TESTS).read_text()
    weakened = remove_tests(
        tests_text, [("test_dumps_escapes_digits_and_backslash",), ("test_round_trip",)]
    )
    after = repo.fresh_copy(scratch / "weak")
    (after / RLE_TESTS).write_text(weakened)
    weaken = make_diff(repo.root, after, [RLE_TESTS])
    return bug, weaken


@pytest.fixture(scope="module")
def validated(repo, sandbox, parts):
    bug, weaken = parts
    artifact = BugArtifact((RLE_TESTS,), bug, weaken, meta={"injector": "test"})
    report = validate_artifact(artifact, repo, sandbox)
    assert report.valid, report.first_failure
    return artifact, report


def test_a_valid_artifact_passes_every_check_in_order(validated):
    artifact, report = validated
    assert list(report.checks) == list(CHECK_ORDER)
    assert all(report.checks.values()), report.checks
    assert report.first_failure is None
    assert set(report.fail_to_pass) == F2P
    assert set(report.buggy_fail) == F2P
    assert set(report.pass_to_pass) == set(report.original_pass) - F2P
    assert set(report.weakened_pass) == set(report.pass_to_pass) - {
        t for t in report.pass_to_pass if "test_round_trip" in t
    }
    assert report.per_file_necessity == {RLE: tuple(sorted(F2P))}
    assert {"original", "buggy", "weakened", "inverse", "total"} <= set(report.timings_s)
    assert report.backend in ("bwrap", "unshare")


def test_artifact_json_round_trip_and_id(validated):
    artifact, _ = validated
    again = BugArtifact.from_json(artifact.to_json())
    assert again == artifact and again.artifact_id == artifact.artifact_id
    assert {again: 1}[artifact] == 1  # hashable despite the meta dict
    assert len(artifact.artifact_id) == 64
    other = BugArtifact(artifact.test_files, artifact.bug_inject_diff, "")
    assert other.artifact_id != artifact.artifact_id
    for bad in ("[]", '{"test_files": "x"}', '{"test_files": [], "bug_inject_diff": 1}'):
        with pytest.raises(ValueError):
            BugArtifact.from_json(bad)
    data = json.loads(artifact.to_json())
    data["surprise"] = 1
    with pytest.raises(ValueError, match="unknown"):
        BugArtifact.from_json(json.dumps(data))


def _fails(report, check: str, reason: str) -> None:
    assert not report.valid
    assert report.checks[check] is False, report.checks
    assert report.first_failure.startswith(f"{check}:"), report.first_failure
    assert reason in report.first_failure, report.first_failure
    order = list(CHECK_ORDER)
    for later in order[order.index(check) + 1 :]:
        if later != "deterministic":
            assert report.checks[later] is None, (later, report.checks)


def test_a_bug_diff_touching_a_test_file_fails_bug_scope(repo, sandbox, parts, scratch):
    _, weaken = parts
    edit = {"tests/test_vectors.py": ("import pytest", "import pytest  # edited")}
    bug = _edited_diff(repo, scratch, edit, "bug-in-tests")
    report = validate_artifact(BugArtifact((RLE_TESTS,), bug, weaken), repo, sandbox)
    _fails(report, "bug_scope", "touches test files or test configuration")
    conf = _edited_diff(repo, scratch, {"pyproject.toml": ("[tool.ruff]", "[tool.rough]")}, "cfg")
    report = validate_artifact(BugArtifact((RLE_TESTS,), conf, weaken), repo, sandbox)
    _fails(report, "bug_scope", "pyproject.toml")


def test_a_weakening_outside_test_files_fails_test_files_exist(repo, sandbox, parts, scratch):
    bug, _ = parts
    weaken = _edited_diff(repo, scratch, {RLE: ('DIGITS = "', 'DIGITS = "x')}, "weak-src")
    report = validate_artifact(BugArtifact((RLE_TESTS,), bug, weaken), repo, sandbox)
    _fails(report, "test_files_exist", "outside test_files")


def test_a_missing_test_file_fails_test_files_exist(repo, sandbox, parts):
    bug, weaken = parts
    for files, reason in [
        ((RLE_TESTS, "tests/test_nope.py"), "does not exist"),
        (("../etc/passwd",), "'..'"),
        ((), "non-empty"),
        ((RLE_TESTS, 3), "expected a relative path"),
    ]:
        report = validate_artifact(BugArtifact(files, bug, weaken), repo, sandbox)
        _fails(report, "test_files_exist", reason)


def test_malformed_diffs_fail_with_the_reason(repo, sandbox, parts):
    bug, weaken = parts
    report = validate_artifact(
        BugArtifact((RLE_TESTS,), "@@ -1 +1 @@\n-x\n", weaken), repo, sandbox
    )
    _fails(report, "bug_scope", "malformed bug_inject_diff")
    report = validate_artifact(BugArtifact((RLE_TESTS,), bug, "--- a/x\n"), repo, sandbox)
    _fails(report, "test_files_exist", "malformed test_weaken_diff")
    stale = bug.replace("if count > 1:", "if count >= 1:").replace("if count > 2:", "if x:")
    report = validate_artifact(BugArtifact((RLE_TESTS,), stale, weaken), repo, sandbox)
    _fails(report, "bug_scope", "does not apply")


def test_custom_script_or_parser_is_refused_with_a_reason(repo, sandbox, parts):
    bug, weaken = parts
    report = validate_artifact(
        BugArtifact((RLE_TESTS,), bug, weaken, test_parser="print('{}')"), repo, sandbox
    )
    _fails(report, "parser_valid", "not supported")
    report = validate_artifact(
        BugArtifact((RLE_TESTS,), bug, weaken, test_script="pytest -k nothing"), repo, sandbox
    )
    _fails(report, "script_valid", "not supported")


def test_bug_scope_limits(repo, sandbox, parts):
    bug, weaken = parts
    artifact = BugArtifact((RLE_TESTS,), bug, weaken)
    report = validate_artifact(artifact, repo, sandbox, SSRConfig(min_changed_files=2))
    _fails(report, "bug_scope", "changes 1 files")
    report = validate_artifact(artifact, repo, sandbox, SSRConfig(max_patch_bytes=100))
    _fails(report, "bug_scope", "over the 100 limit")
    report = validate_artifact(artifact, repo, sandbox, SSRConfig(min_passing_tests=10_000))
    _fails(report, "script_valid", "expected at least 10000")


def test_a_bug_no_test_catches_fails_bug_valid(repo, sandbox, parts, scratch):
    _, weaken = parts
    edit = {RLE: ('"""Run-length coding', '"""Run-length  coding')}
    bug = _edited_diff(repo, scratch, edit, "harmless")
    report = validate_artifact(BugArtifact((RLE_TESTS,), bug, weaken), repo, sandbox)
    _fails(report, "bug_valid", "0 oracle test(s)")


def test_a_weakening_that_hides_nothing_fails_weaken_valid(repo, sandbox, parts, scratch):
    bug, _ = parts
    edit = {RLE_TESTS: ("def test_runs():", "def test_runs_renamed():")}
    weaken = _edited_diff(repo, scratch, edit, "weak-nothing")
    report = validate_artifact(BugArtifact((RLE_TESTS,), bug, weaken), repo, sandbox)
    _fails(report, "weaken_valid", "no failing oracle test")


def test_a_padded_bug_fails_inverse_mutation(repo, sandbox, parts, scratch):
    _, weaken = parts
    edits = {
        RLE: (BUG_FROM, BUG_TO),
        "src/tallykit/vectors.py": ("from __future__", "# padding\nfrom __future__"),
    }
    bug = _edited_diff(repo, scratch, edits, "padded")
    report = validate_artifact(BugArtifact((RLE_TESTS,), bug, weaken), repo, sandbox)
    _fails(report, "inverse_mutation", "reverting only src/tallykit/vectors.py")
    assert report.per_file_necessity == {RLE: tuple(sorted(F2P)), "src/tallykit/vectors.py": ()}
    assert report.checks["bug_valid"] and report.checks["weaken_valid"]


def test_a_flaky_bug_fails_deterministic(repo, sandbox, parts, scratch):
    _, weaken = parts
    edits = {
        RLE: (
            "    found: list[tuple[str, int]] = []\n",
            "    found: list[tuple[str, int]] = []\n"
            '    if text and __import__("random").random() < 0.5:\n'
            "        return found\n",
        )
    }
    bug = _edited_diff(repo, scratch, edits, "flaky")
    report = validate_artifact(
        BugArtifact((RLE_TESTS,), bug, weaken), repo, sandbox, SSRConfig(reruns=3)
    )
    _fails(report, "deterministic", "buggy runs: run 1 and run")


# ---------------------------------------------------------------- the solver's world and scoring


@pytest.fixture
def workspace(validated, repo, tmp_path):
    artifact, _ = validated
    return solver_workspace(artifact, repo, tmp_path / "solver")


@pytest.fixture
def restored(workspace, repo):
    """A workspace where the solver put the oracle file back itself, so that only the hack (and
    no reset of the oracle file) decides the score: without its guard it would be solved."""
    shutil.copyfile(repo.root / RLE_TESTS, workspace / RLE_TESTS)
    return workspace


def _score(validated, repo, sandbox, tree):
    artifact, report = validated
    return score_repair(artifact, report, repo, sandbox, tree)


def _raw(repo, sandbox, tree):
    """An unguarded run over the solver's tree as it stands (no reset)."""
    return run_tests(sandbox, tree, repo, test_files=[RLE_TESTS])


def test_the_workspace_has_the_bug_and_the_weakening_and_no_git(validated, repo, workspace):
    artifact, report = validated
    assert BUG_TO in (workspace / RLE).read_text()
    assert "def test_round_trip" not in (workspace / RLE_TESTS).read_text()
    assert not (workspace / ".git").exists()
    # order 2: a failed repair on top
    extra = "--- a/README.md\n+++ b/README.md\n@@ -1 +1 @@\n-# tallykit\n+# tallykit!\n"
    if (workspace / "README.md").read_text().startswith("# tallykit\n"):
        other = solver_workspace(artifact, repo, workspace.parent / "o2", extra_patch=extra)
        assert (other / "README.md").read_text().startswith("# tallykit!\n")


def test_doing_nothing_is_not_solved(validated, repo, sandbox, workspace):
    score = _score(validated, repo, sandbox, workspace)
    assert not score.solved
    assert set(score.failed) == F2P
    assert score.reset_files == (RLE_TESTS,)  # the weakened oracle file goes back


def test_the_reverse_bug_patch_is_solved(validated, repo, sandbox, workspace):
    artifact, report = validated
    apply_diff(workspace, reverse_diff(artifact.bug_inject_diff))
    score = _score(validated, repo, sandbox, workspace)
    assert score.solved, (score.failed, score.missing, score.error)
    assert set(score.results) >= set(report.fail_to_pass) | set(report.pass_to_pass)


def test_editing_an_oracle_test_file_is_undone(validated, repo, sandbox, workspace):
    path = workspace / RLE_TESTS
    path.write_text(path.read_text().replace("def test_runs", "def dropped_runs"))
    assert _raw(repo, sandbox, workspace).ids_with("failed") == []  # the hack works unguarded
    score = _score(validated, repo, sandbox, workspace)
    assert not score.solved and RLE_TESTS in score.reset_files


def test_deleting_the_tests_is_undone_and_missing_ids_fail(validated, repo, sandbox, workspace):
    (workspace / RLE_TESTS).unlink()
    score = _score(validated, repo, sandbox, workspace)
    assert not score.solved and RLE_TESTS in score.reset_files and set(score.failed) >= F2P
    # a package that no longer imports: the ids vanish from the report, which is not a pass
    (workspace / RLE).write_text("raise ImportError('gone')\n")
    score = _score(validated, repo, sandbox, workspace)
    assert not score.solved and set(score.missing) >= F2P


FORCE_PASS = """
import pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
    report.longrepr = None
"""


@pytest.mark.parametrize("where", ["conftest.py", "tests/conftest.py"])
def test_a_planted_conftest_forcing_passes_is_removed(validated, repo, sandbox, restored, where):
    (restored / where).write_text(FORCE_PASS)
    raw = _raw(repo, sandbox, restored)
    assert raw.ok and raw.ids_with("failed") == []  # the hook works unguarded
    assert F2P <= set(raw.ids_with("passed"))
    score = _score(validated, repo, sandbox, restored)
    assert not score.solved and where in score.reset_files
    assert set(score.failed) == F2P


def test_a_conftest_of_the_repo_is_restored_not_deleted(validated, repo, sandbox, workspace):
    # tallykit has none; a solver-added one in the package dir is removed as well
    (workspace / "src/tallykit/conftest.py").write_text(FORCE_PASS)
    score = _score(validated, repo, sandbox, workspace)
    assert "src/tallykit/conftest.py" in score.reset_files and not score.solved


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("pytest.ini", "[pytest]\naddopts = -k 'not round_trip and not escapes'\n"),
        ("setup.cfg", "[tool:pytest]\naddopts = -k 'not round_trip and not escapes'\n"),
        ("tox.ini", "[pytest]\naddopts = -p no:python\n"),
        (
            "pyproject.toml",
            "[tool.pytest.ini_options]\naddopts = \"-k 'not round_trip and not escapes'\"\n",
        ),
    ],
)
def test_planted_pytest_config_is_ignored_and_reset(
    validated, repo, sandbox, workspace, name, text
):
    (workspace / name).write_text(text)
    score = _score(validated, repo, sandbox, workspace)
    assert not score.solved and set(score.failed) == F2P
    assert name in score.reset_files


SITECUSTOMIZE = "import os\nos.environ['PYTEST_PLUGINS'] = 'forcepass'\n"


def test_a_planted_sitecustomize_and_pth_are_removed(validated, repo, sandbox, restored):
    (restored / "src/forcepass.py").write_text(FORCE_PASS)
    (restored / "src/sitecustomize.py").write_text(SITECUSTOMIZE)
    (restored / "src/zz_evil.pth").write_text("import os; os.environ['X'] = '1'\n")
    raw = _raw(repo, sandbox, restored)
    assert raw.ok and raw.ids_with("failed") == []  # the plugin loads unguarded
    assert F2P <= set(raw.ids_with("passed"))
    score = _score(validated, repo, sandbox, restored)
    assert not score.solved and set(score.failed) == F2P
    assert {"src/sitecustomize.py", "src/zz_evil.pth"} <= set(score.reset_files)


def test_exiting_at_import_leaves_no_report_and_is_not_solved(validated, repo, sandbox, workspace):
    artifact, _ = validated
    apply_diff(workspace, reverse_diff(artifact.bug_inject_diff))  # even with the real fix
    init = workspace / "src/tallykit/__init__.py"
    init.write_text(init.read_text() + "\nimport os\nos._exit(0)\n")
    raw = _raw(repo, sandbox, workspace)
    assert raw.returncode == 0 and not raw.ok  # pytest "succeeded" but wrote no report
    score = _score(validated, repo, sandbox, workspace)
    assert not score.solved and score.error and set(score.missing) >= F2P


def test_printed_pass_lines_are_ignored(validated, repo, sandbox, restored):
    # printed at exit, after pytest's own capture ends, so they reach the real stdout
    fake = "".join(f"{t} PASSED\n" for t in sorted(F2P)) + "=== 20 passed in 0.1s ===\n"
    init = restored / "src/tallykit/__init__.py"
    init.write_text(init.read_text() + f"\nimport atexit\natexit.register(print, {fake!r})\n")
    raw = _raw(repo, sandbox, restored)
    assert "test_round_trip[112233] PASSED" in raw.output  # the lie reached the output
    score = _score(validated, repo, sandbox, restored)
    assert not score.solved and set(score.failed) == F2P


def test_symlinks_and_bytecode_in_the_solver_tree_are_dropped(validated, repo, sandbox, workspace):
    (workspace / "src/tallykit/leak.py").symlink_to("/etc/passwd")
    cache = workspace / "tests/__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / "test_rle.cpython-311-pytest-8.0.pyc").write_bytes(b"\x00" * 32)
    score = _score(validated, repo, sandbox, workspace)
    assert not score.solved and score.error is None
