"""The wheel holds every subpackage, including the folders mapped from the repository root."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAPPED = {
    "src/selfplay_gym": "selfplay_gym",
    "envs": "selfplay_gym/envs",
    "wrappers": "selfplay_gym/wrappers",
    "baselines": "selfplay_gym/baselines",
}


def _expected_modules() -> set[str]:
    expected = set()
    for folder, prefix in MAPPED.items():
        for path in (ROOT / folder).rglob("*.py"):
            if "__pycache__" in path.parts:
                continue
            expected.add(f"{prefix}/{path.relative_to(ROOT / folder).as_posix()}")
    return expected


def _pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = _pip("wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT))
    assert proc.returncode == 0, proc.stderr
    (built,) = out.glob("selfplay_gym-*.whl")
    return built


def test_wheel_contains_every_module_and_py_typed(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = _expected_modules() - names
    assert not missing, f"not packaged: {sorted(missing)}"
    assert "selfplay_gym/py.typed" in names
    assert not any(n.startswith(("tests/", "benchmarks/", "docs/")) for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert (
        "selfplay-gym = selfplay_gym.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    )


def test_installed_wheel_imports_and_runs_from_outside_the_repository(wheel, tmp_path):
    target = tmp_path / "site"
    proc = _pip("install", "--no-deps", "-q", "--target", str(target), str(wheel))
    assert proc.returncode == 0, proc.stderr
    code = (
        "import selfplay_gym, gymnasium; "
        f"assert selfplay_gym.__file__.startswith({str(target)!r}), selfplay_gym.__file__; "
        "env = gymnasium.make('selfplay/TicTacToe-v0', opponent='strong'); "
        "print(env.reset(seed=0)[1]['legal_actions'][:2])"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 0, run.stderr
    assert "['[0]', '[1]']" in run.stdout
