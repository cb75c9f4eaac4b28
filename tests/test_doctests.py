"""The ``>>>`` examples in the package's docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import selfplay_gym
import selfplay_gym.baselines
import selfplay_gym.envs
import selfplay_gym.wrappers

# The mapped packages live outside src/ in an editable install, so walk each of them too.
MODULES = sorted(
    {
        info.name
        for package in (
            selfplay_gym,
            selfplay_gym.envs,
            selfplay_gym.wrappers,
            selfplay_gym.baselines,
        )
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")
        if not info.name.endswith("__main__")
    }
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
