"""The rule-based injector: mutation sites and test removal on small sources (no sandbox), then
valid, deterministic artifacts on tallykit whose weakened tests pass on the buggy tree and whose
reversed bug patch solves them."""

from __future__ import annotations

import ast
import random

import numpy as np
import pytest

from selfplay_gym.envs.code_repair.artifact import score_repair, solver_workspace
from selfplay_gym.envs.code_repair.diffs import apply_diff, diff_paths, reverse_diff
from selfplay_gym.envs.code_repair.injector import (
    KINDS,
    RuleInjector,
    find_mutations,
    remove_tests,
)
from selfplay_gym.envs.code_repair.repos import load_repo
from selfplay_gym.envs.code_repair.testing import run_tests

SOURCE = '''"""A module."""

LIMIT = 10


def clamp(x, low=0, high=LIMIT):
    """Clamp x."""
    if x < low and low is not None:
        return low
    total = x - 1
    total += 2
    for item in (1, 2):
        total = total * item
    return min(total, high) if flag(x) or x in (1, 2) else True


def flag(x):
    return x != 3
'''


def test_find_mutations_covers_every_kind_and_each_edit_parses():
    mutations = find_mutations("m.py", SOURCE)
    kinds = {m.kind for m in mutations}
    assert kinds == set(KINDS["mutate"]) | set(KINDS["remove"])
    for mutation in mutations:
        mutated = mutation.apply(SOURCE)
        assert mutated != SOURCE
        ast.parse(mutated)
    described = {m.description for m in mutations}
    assert {"clamp: < -> <=", "clamp: - -> +", "clamp: += -> -=", "clamp: and -> or",
            "flag: != -> =="} <= described  # fmt: skip
    assert "clamp: body replaced by raise NotImplementedError" in described
    body = next(m for m in mutations if m.kind == "body" and m.description.startswith("clamp"))
    assert '    """Clamp x."""\n    raise NotImplementedError\n' in body.apply(SOURCE)
    # module-level code is never mutated, so the package still imports
    assert all(m.line > 4 for m in mutations)
    assert find_mutations("m.py", SOURCE) == mutations  # deterministic
    assert find_mutations("bad.py", "def (:\n") == []


def test_edits_are_local_to_the_node():
    mutation = next(m for m in find_mutations("m.py", SOURCE) if m.description == "flag: != -> ==")
    before, after = SOURCE.splitlines(), mutation.apply(SOURCE).splitlines()
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert len(changed) == 1 and after[changed[0]] == "    return x == 3"


def test_remove_tests_deletes_functions_methods_and_decorators():
    text = """import pytest


def test_a():
    assert 1


@pytest.mark.parametrize("x", [1, 2])
def test_b(x):
    assert x


class TestC:
    def test_m(self):
        assert 0


def test_keep():
    pass
"""
    out = remove_tests(text, [("test_b",), ("TestC", "test_m")])
    tree = ast.parse(out)
    names = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)]
    assert names == ["test_a", "TestC", "test_keep"]
    assert "parametrize" not in out
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef))
    assert isinstance(cls.body[0], ast.Pass)


def test_the_attempt_order_is_seeded():
    repo = load_repo("embedded")

    def first(seed: int, rng_seed: int) -> list[str]:
        it = RuleInjector(seed=seed).candidates(repo, RuleInjector(seed=seed)._random(
            random.Random(rng_seed))[0])  # fmt: skip
        return [f"{m.path}:{m.line}:{m.description}" for _, m in zip(range(12), it, strict=False)]

    assert first(1, 5) == first(1, 5)
    assert first(1, 5) != first(2, 5) and first(1, 5) != first(1, 6)
    only_remove = RuleInjector(strategies=("remove",))
    local, _ = only_remove._random(np.random.default_rng(0))
    assert {
        m.strategy for _, m in zip(range(20), only_remove.candidates(repo, local), strict=False)
    } == {"remove"}
    with pytest.raises(ValueError):
        RuleInjector(strategies=("teleport",))


# ---------------------------------------------------------------- in the sandbox


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


SEEDS = range(5)


@pytest.fixture(scope="module")
def made(repo, sandbox):
    out = {}
    for seed in SEEDS:
        try:
            out[seed] = RuleInjector(seed=seed).make_artifact(repo, sandbox, random.Random(seed))
        except RuntimeError as exc:
            out[seed] = exc
    return out


def test_most_seeds_give_a_validated_artifact(made, repo):
    valid = {seed: v for seed, v in made.items() if not isinstance(v, Exception)}
    assert len(valid) >= 4, made
    for artifact, report in valid.values():
        assert report.valid and all(report.checks.values()), report.first_failure
        assert artifact.meta["injector"] == "rule"
        assert artifact.meta["strategy"] in KINDS
        (bug_file,) = diff_paths(artifact.bug_inject_diff)
        assert bug_file in repo.source_files()
        assert set(diff_paths(artifact.test_weaken_diff)) <= set(artifact.test_files)
        assert report.fail_to_pass


def test_same_seed_same_artifact(made, repo, sandbox):
    seed, (artifact, _) = next((s, v) for s, v in made.items() if not isinstance(v, Exception))
    again, _ = RuleInjector(seed=seed).make_artifact(repo, sandbox, random.Random(seed))
    assert again.artifact_id == artifact.artifact_id


def test_weakened_tests_pass_on_the_buggy_tree_and_the_reverse_patch_solves(
    made, repo, sandbox, tmp_path
):
    for seed, value in made.items():
        if isinstance(value, Exception):
            continue
        artifact, report = value
        tree = solver_workspace(artifact, repo, tmp_path / f"s{seed}")
        run = run_tests(sandbox, tree, repo, test_files=list(artifact.test_files))
        assert run.ok and run.ids_with("failed") == [] and run.ids_with("error") == [], seed
        assert set(run.ids_with("passed")) == set(report.weakened_pass)
        apply_diff(tree, reverse_diff(artifact.bug_inject_diff))
        score = score_repair(artifact, report, repo, sandbox, tree)
        assert score.solved, (seed, score.failed, score.missing, score.error)
