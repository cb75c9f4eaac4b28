from __future__ import annotations

import numpy as np
import pytest

from selfplay_gym.core.invalid import InvalidMovePolicy
from selfplay_gym.core.parsers import answer_span, bracketed, cap_text, last_boxed, last_tag
from selfplay_gym.spaces import MoveText, UnicodeText


def test_unicode_text_accepts_any_string_within_its_length():
    space = UnicodeText(12)
    assert space.contains("[4] à 中文 \U0001f600")
    assert not space.contains("x" * 13) and not space.contains(b"[4]") and not space.contains(4)
    space.seed(0)
    samples = [space.sample() for _ in range(200)]
    assert all(space.contains(s) for s in samples) and len(set(samples)) > 150
    with pytest.raises(ValueError, match="positive int"):
        UnicodeText(0)


def test_move_text_samples_only_masked_moves():
    space = MoveText(100, moves=("a", "b", "c"), seed=1)
    mask = np.array([0, 1, 1], dtype=np.int8)
    assert {space.sample(mask) for _ in range(100)} == {"b", "c"}
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        space.sample(np.ones(4, dtype=np.int8))
    assert space == MoveText(100, moves=("a", "b", "c")) and space != MoveText(100, moves=("a",))


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("\\boxed{[4]}", "[4]"),
        ("\\boxed{4}", "[4]"),
        ("\\boxed{bet}", "[bet]"),
        ("reasoning \\boxed{[1]} then \\boxed{[2]}", "[2]"),
        ("\\boxed{\\boxed{7}}", "[7]"),
        ("<answer>[3]</answer>", "[3]"),
        ("<answer>call</answer>", "[call]"),
        ("plain [5] text", "plain [5] text"),
        ("\\boxed{never closed [4]", "\\boxed{never closed [4]"),
        (
            "\\boxed{I offer wood: [Offer: 3 Wood -> 2 Gold]}",
            "I offer wood: [Offer: 3 Wood -> 2 Gold]",
        ),
    ],
)
def test_answer_span(text, span):
    assert answer_span(text) == span


def test_small_parsers():
    assert last_boxed("a \\boxed{x{y}z} b") == "x{y}z"
    assert last_boxed("\\boxed{x") is None
    assert last_tag("<q>1</q><q>2</q>", "q") == "2" and last_tag("<q>1", "q") is None
    assert bracketed("[a] [b\n] [c[d]]") == ["a", "d"]
    assert cap_text("abcdef", 3) == ("def", True) and cap_text("ab", 3) == ("ab", False)


def test_invalid_move_policy_validation():
    assert InvalidMovePolicy.coerce(None) == InvalidMovePolicy()
    assert InvalidMovePolicy.coerce("penalize").mode == "penalize"
    with pytest.raises(ValueError, match="expected mode in"):
        InvalidMovePolicy.coerce("ignore")
    with pytest.raises(ValueError, match=r"unknown invalid-move policy fields \['budget'\]"):
        InvalidMovePolicy.coerce({"budget": 3})
    with pytest.raises(ValueError, match="retry_budget"):
        InvalidMovePolicy(retry_budget=-1)
    with pytest.raises(ValueError, match="finite number"):
        InvalidMovePolicy(penalty=float("nan"))
    with pytest.raises(TypeError, match="got int"):
        InvalidMovePolicy.coerce(3)
