"""The recipes' shared command line: one flag per dataclass field, typed by its annotation."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from selfplay_gym.baselines._cli import field_docs, parse_dataclass


@dataclass
class Example:
    steps: int = 10
    """How many
    steps."""
    rate: float | None = None
    """A rate, or none."""
    name: str = "a"
    """A name."""
    net: tuple[int, ...] = (64, 64)
    """Layer widths."""
    plot: bool = True
    """Draw the curve."""


def test_flags_follow_the_field_types():
    args = parse_dataclass(
        Example, ["--steps", "3", "--rate", "0.5", "--net", "8", "4", "--no-plot", "--name", "b"]
    )
    assert args == Example(steps=3, rate=0.5, name="b", net=(8, 4), plot=False)
    assert parse_dataclass(Example, []) == Example()
    assert parse_dataclass(Example, ["--rate", "none"]).rate is None


def test_bad_values_choices_and_required_fields_are_refused(capsys):
    with pytest.raises(SystemExit):
        parse_dataclass(Example, ["--steps", "many"])
    with pytest.raises(SystemExit):
        parse_dataclass(Example, ["--name", "c"], choices={"name": ["a", "b"]})
    with pytest.raises(SystemExit):
        parse_dataclass(Example, [], required=("name",))
    assert "--name" in capsys.readouterr().err


def test_help_comes_from_the_field_docstrings():
    assert field_docs(Example) == {
        "steps": "How many steps.",
        "rate": "A rate, or none.",
        "name": "A name.",
        "net": "Layer widths.",
        "plot": "Draw the curve.",
    }
