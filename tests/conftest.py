"""Shared test set-up.

PettingZoo's ``api_test`` compares ``observation.dtype`` with the space's dtype, which assumes
array observations (the same limitation PettingZoo#1167 reports for nested dicts). Our language
envs return plain ``str`` prompts, so for ``str`` observations that one comparison is skipped;
``api_test`` still checks ``observation_space(agent).contains(obs)`` on every step, and every
other check runs unchanged.
"""

from __future__ import annotations

import importlib
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
# MuJoCo picks its GL backend when first imported; headless, offscreen rendering needs EGL.
if not os.environ.get("DISPLAY"):
    os.environ.setdefault("MUJOCO_GL", "egl")

_api_test_module = importlib.import_module("pettingzoo.test.api_test")
_original_compatibility = _api_test_module._test_observation_space_compatibility


def _compatibility_allowing_text(expected, seen, recursed_keys):
    if isinstance(seen, str):
        assert expected.contains(seen), f"observation of length {len(seen)} is outside {expected}"
        return
    _original_compatibility(expected, seen, recursed_keys)


_api_test_module._test_observation_space_compatibility = _compatibility_allowing_text

# Trainer tests (tests/trainers) use torch; two threads on a busy 2-core machine run far slower.
os.environ.setdefault("MKL_NUM_THREADS", "1")

# Search indexes go to a throw-away cache of this test session, never to ~/.cache.
if "SELFPLAY_GYM_CACHE" not in os.environ:
    import tempfile

    os.environ["SELFPLAY_GYM_CACHE"] = tempfile.mkdtemp(prefix="selfplay-gym-test-cache-")
