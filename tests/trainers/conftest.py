"""Fixtures of the trainer tests.

* ``tiny_model_path`` -- :func:`selfplay_gym.llm.tiny.build_tiny_model` in a temporary
  directory, built once per session (the same model as ``tests/llm``'s fixture of that name).
  Tests that use it are skipped where torch or transformers is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    torch.set_num_threads(1)
    from selfplay_gym.llm.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("trainers") / "tiny")
