"""Trajectory records: the JSONL file a rollout writes, and how to read it back.

Every line is one JSON object with ``schema_version`` and ``type``:

``type == "step"`` -- one action of one agent (failed attempts of a retry policy included):

=====================  =====================================================================
field                  meaning
=====================  =====================================================================
run_id                 id of the :class:`RolloutEngine` run that wrote the record
episode_id             episode number within the run (0, 1, ...)
group_id               episodes sharing an env seed share this id (GRPO-style groups)
env_id                 the registered id, e.g. ``selfplay/KuhnPoker-v0``
env_seed               the seed the env was reset with
agent, role, seat      ``player_1``, ``player``, ``1``
turn                   the env's turn counter when the agent acted (``info["turn"]``)
step                   position of this record in the episode (0, 1, ...)
policy                 name of the policy that acted
prompt                 what the model read: the templated prompt when the backend reports
                       it, else the env's observation
completion             the raw action text (``""`` for a failed request)
prompt_token_ids       token ids of the prompt, or ``null`` (bots, HTTP servers)
token_ids, logprobs    generated token ids and their log-probs, or ``null``
finish_reason, error   ``stop``/``length``/``error`` (a generation), ``policy`` (a batched
                       ``act()`` policy, e.g. a score-mode LLMPolicy) or ``bot``, and the error
reward                 reward the agent received after this action, up to its next action
reward_components      the named parts of ``reward`` (``info["reward_components"]``)
return                 the agent's total reward over the episode (gamma = 1)
invalid_action         the env flagged the action invalid
parse_ok, parse_error  the env's parse result of the action
last                   this is the agent's last action of the episode
=====================  =====================================================================

``type == "episode"`` -- written after the episode's steps: ``episode_id``, ``group_id``,
``env_id``, ``env_seed``, ``steps``, ``returns`` (agent -> return), ``policies`` (agent ->
policy name), ``invalid`` (agent -> invalid actions), ``errors`` (failed generations),
``truncated``.

A whole episode is written with one ``write`` call when it ends, so a crash loses at most the
episodes in flight; :func:`read_records` skips a torn last line.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["SCHEMA_VERSION", "TrajectoryWriter", "read_records", "step_records"]

SCHEMA_VERSION = 1
"""Version of the record layout above; bumped on any incompatible change."""


class TrajectoryWriter:
    """Appends whole episodes to a JSONL file.

    Args:
        path: The file; parent directories are created. An existing file is appended to.
        fsync: Also ``fsync`` after every episode (survives a machine crash, costs a disk
            round trip per episode).
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.episodes_written = 0

    def write_episode(self, records: list[dict[str, Any]]) -> None:
        """Append the records of one episode in a single write."""
        if self._fd is None:
            raise RuntimeError(f"writer for {self.path} is closed")
        blob = "".join(
            json.dumps(r, ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n"
            for r in records
        ).encode("utf-8")
        view = memoryview(blob)
        while view:  # os.write may write less than asked (rare for regular files)
            written = os.write(self._fd, view)
            view = view[written:]
        if self.fsync:
            os.fsync(self._fd)
        self.episodes_written += 1

    def close(self) -> None:
        """Close the file."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> TrajectoryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


def read_records(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Every record of a trajectory file, in order.

    A torn last line (the process died while writing it) is skipped with a warning; a torn line
    anywhere else, or a record of another schema version, raises ``ValueError``.
    """
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except ValueError:
            if number == len(lines):
                warnings.warn(f"{path}: skipped a torn last line ({len(line)} bytes)", stacklevel=2)
                return
            raise ValueError(f"{path}:{number}: not a JSON record") from None
        version = record.get("schema_version") if isinstance(record, dict) else None
        if version != SCHEMA_VERSION:
            raise ValueError(
                f"{path}:{number}: schema_version {version!r}, this reader knows {SCHEMA_VERSION}"
            )
        yield record


def step_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The ``step`` records of a trajectory file."""
    return [r for r in read_records(path) if r["type"] == "step"]
