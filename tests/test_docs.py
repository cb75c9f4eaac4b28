"""The env pages in docs/envs are generated from the env docstrings and must be current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_generated_env_pages_are_up_to_date():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "gen_env_pages.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr + "\nrun: make docs"


def test_every_registered_id_has_a_page_with_its_sections():
    import selfplay_gym

    for spec in selfplay_gym.ENV_SPECS:
        page = (ROOT / "docs" / "envs" / f"{spec.name}.md").read_text()
        assert f"\n# {spec.id}\n" in page
        for section in ("## Action Space", "## Rewards", "## Version History", "Example prompt"):
            assert section in page, f"{spec.id}: {section} missing"


def _pages_with_python():
    """Pages with ```python blocks; ```py marks fragments that are not run."""
    import re

    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        blocks = re.findall(r"```python\n(.*?)```", path.read_text(), re.S)
        if blocks:
            yield pytest.param(blocks, id=path.name)


@pytest.mark.parametrize("blocks", list(_pages_with_python()))
def test_documented_python_runs(blocks, capsys):
    # A page reads top to bottom: its blocks run in order and share one namespace.
    namespace = {"__name__": "doc_block"}
    for index, block in enumerate(blocks):
        try:
            exec(compile(block, f"<doc block {index}>", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"block {index} failed: {type(exc).__name__}: {exc}") from exc
