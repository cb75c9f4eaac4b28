"""Task sources of the reasoning family: math problems, passages and instruction prompts.

Each loader takes ``"fixture"`` (the package data in ``data/``, written for the project; see
``data/README.md``), a file path, or a list of rows, and returns new dicts with every field
checked and defaults filled in, so an env can use them without further validation. A bad row
raises ``ValueError`` naming its source and line (or index).

* :func:`load_problems`: ``{"id", "topic", "problem", "answer", "steps"}``.
* :func:`load_passages`: ``{"id", "title", "text"}``.
* :func:`load_prompts`: ``{"id", "prompt", "harmful"}``.

Files are JSON Lines (one object per line) or ``.json`` (one list); for passages a ``.txt`` file
holds one passage per blank-line-separated block, and for prompts one prompt per non-blank line.

Example:
    >>> problems = load_problems("fixture")
    >>> sorted(problems[0])
    ['answer', 'id', 'problem', 'steps', 'topic']
    >>> load_prompts([{"prompt": "Write a haiku."}])
    [{'id': '1', 'prompt': 'Write a haiku.', 'harmful': False}]
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["load_problems", "load_passages", "load_prompts", "FIXTURE_FILES"]

FIXTURE_FILES = {
    "problems": "math_problems.jsonl",
    "passages": "passages.jsonl",
    "prompts": "prompts.jsonl",
}
"""The package data file behind each loader's ``"fixture"``."""

Row = dict[str, Any]


def load_problems(spec: str | Path | Sequence[Mapping[str, Any]] = "fixture") -> list[Row]:
    """Math problems with reference answers.

    Args:
        spec: ``"fixture"`` (120 templated problems with worked steps), a ``.jsonl``/``.json``
            path, or a list of mappings.

    Returns:
        One dict per problem: ``problem`` (str), ``answer`` (str; a number in the file is
        converted), ``steps`` (list of str, ``[]`` when absent), ``topic`` (``""`` when absent)
        and ``id`` (the row's position from 1 when absent).

    Raises:
        ValueError: A row lacks a non-empty ``problem`` or an ``answer``, has ``steps`` that
            are not a list of strings, or there are no rows.
    """
    return _load("problems", spec, _problem_row)


def load_passages(spec: str | Path | Sequence[Mapping[str, Any] | str] = "fixture") -> list[Row]:
    """Expository passages a proposer reads before posing a problem (PasoDoble's knowledge).

    Args:
        spec: ``"fixture"`` (40 passages on school and competition mathematics), a
            ``.jsonl``/``.json`` path, a ``.txt`` path (blank-line-separated passages), or a
            list of mappings or strings.

    Returns:
        One dict per passage: ``text`` (str), ``title`` (``""`` when absent) and ``id``.

    Raises:
        ValueError: A row lacks a non-empty ``text``, or there are no rows.
    """
    return _load("passages", spec, _passage_row)


def load_prompts(spec: str | Path | Sequence[Mapping[str, Any] | str] = "fixture") -> list[Row]:
    """Instruction prompts for preference games and red-team seeds.

    Args:
        spec: ``"fixture"`` (30 everyday requests and 10 mildly harmful ones), a
            ``.jsonl``/``.json`` path, a ``.txt`` path (one prompt per line), or a list of
            mappings or strings.

    Returns:
        One dict per prompt: ``prompt`` (str), ``harmful`` (bool, ``False`` when absent) and
        ``id``.

    Raises:
        ValueError: A row lacks a non-empty ``prompt``, ``harmful`` is not a bool, or there are
            no rows.
    """
    return _load("prompts", spec, _prompt_row)


# ---- rows ---------------------------------------------------------------------------------------
def _text_field(row: Mapping[str, Any], key: str) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a non-empty string {key!r}, got {value!r}")
    return value


def _row_id(row: Mapping[str, Any], position: int) -> str:
    value = row.get("id", position)
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ValueError(f"expected 'id' to be a string or an integer, got {value!r}")
    return str(value)


def _as_mapping(row: Any) -> Mapping[str, Any]:
    if not isinstance(row, Mapping):
        raise ValueError(f"expected an object, got {type(row).__name__}")
    return row


def _problem_row(row: Any, position: int) -> Row:
    row = _as_mapping(row)
    problem = _text_field(row, "problem")
    answer = row.get("answer")
    if isinstance(answer, (int, float)) and not isinstance(answer, bool):
        answer = str(answer)
    if not isinstance(answer, str) or not answer.strip():
        raise ValueError(f"expected 'answer' as a non-empty string or a number, got {answer!r}")
    steps = row.get("steps", [])
    if not isinstance(steps, (list, tuple)) or not all(isinstance(s, str) for s in steps):
        raise ValueError(f"expected 'steps' as a list of strings, got {steps!r}")
    topic = row.get("topic", "")
    if not isinstance(topic, str):
        raise ValueError(f"expected 'topic' to be a string, got {topic!r}")
    return {
        "id": _row_id(row, position),
        "topic": topic,
        "problem": problem,
        "answer": answer.strip(),
        "steps": list(steps),
    }


def _passage_row(row: Any, position: int) -> Row:
    if isinstance(row, str):
        row = {"text": row}
    row = _as_mapping(row)
    title = row.get("title", "")
    if not isinstance(title, str):
        raise ValueError(f"expected 'title' to be a string, got {title!r}")
    return {"id": _row_id(row, position), "title": title, "text": _text_field(row, "text")}


def _prompt_row(row: Any, position: int) -> Row:
    if isinstance(row, str):
        row = {"prompt": row}
    row = _as_mapping(row)
    harmful = row.get("harmful", False)
    if not isinstance(harmful, bool):
        raise ValueError(f"expected 'harmful' to be true or false, got {harmful!r}")
    return {"id": _row_id(row, position), "prompt": _text_field(row, "prompt"), "harmful": harmful}


# ---- sources ------------------------------------------------------------------------------------
def _load(kind: str, spec: Any, make_row: Callable[[Any, int], Row]) -> list[Row]:
    if isinstance(spec, str) and spec == "fixture":
        return copy.deepcopy(list(_fixture(kind)))
    if isinstance(spec, (str, Path)):
        rows = list(_file_rows(kind, Path(spec), make_row))
        source = str(spec)
    elif isinstance(spec, Sequence):
        rows = []
        for index, raw in enumerate(spec):
            try:
                rows.append(make_row(raw, index + 1))
            except ValueError as exc:
                raise ValueError(f"{kind} row {index}: {exc}") from None
        source = f"the given list of {kind}"
    else:
        raise TypeError(
            f"expected 'fixture', a path or a list of {kind}, got {type(spec).__name__}"
        )
    if not rows:
        raise ValueError(f"{source}: expected at least one row, got none")
    return rows


@functools.cache
def _fixture(kind: str) -> tuple[Row, ...]:
    name = FIXTURE_FILES[kind]
    text = (resources.files(__package__) / "data" / name).read_text(encoding="utf-8")
    make_row = {"problems": _problem_row, "passages": _passage_row, "prompts": _prompt_row}[kind]
    return tuple(_jsonl_rows(text.splitlines(), name, make_row))


def _file_rows(kind: str, path: Path, make_row: Callable[[Any, int], Row]) -> Iterator[Row]:
    if not path.is_file():
        raise FileNotFoundError(f"expected a {kind} file at {path}, found nothing")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: expected a JSON list, got {exc}") from None
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a JSON list, got {type(data).__name__}")
        for index, raw in enumerate(data):
            try:
                yield make_row(raw, index + 1)
            except ValueError as exc:
                raise ValueError(f"{path} item {index}: {exc}") from None
    elif path.suffix == ".txt" and kind in ("passages", "prompts"):
        if kind == "passages":
            blocks = [" ".join(b.split()) for b in text.replace("\r\n", "\n").split("\n\n")]
        else:
            blocks = [line.strip() for line in text.splitlines()]
        for index, block in enumerate(b for b in blocks if b):
            yield make_row(block, index + 1)
    else:
        yield from _jsonl_rows(text.splitlines(), str(path), make_row)


def _jsonl_rows(
    lines: Sequence[str], source: str, make_row: Callable[[Any, int], Row]
) -> Iterator[Row]:
    position = 0
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        position += 1
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{source} line {lineno}: expected a JSON object, got {exc}") from None
        try:
            yield make_row(raw, position)
        except ValueError as exc:
            raise ValueError(f"{source} line {lineno}: {exc}") from None
