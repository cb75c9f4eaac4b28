"""The recipes' command lines: one ``--flag`` per field of an ``Args`` dataclass, its docstring as help.

Field types are read from the annotations (the recipes use ``from __future__ import
annotations``, so they are strings): ``bool`` becomes ``--x/--no-x``; ``int``, ``float`` and
``str`` take one value; ``X | None`` also accepts ``none``; ``tuple[int, ...]`` takes one or
more integers.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

__all__ = ["field_docs", "parse_dataclass"]

T = TypeVar("T")

_SCALARS: dict[str, Callable[[str], Any]] = {"int": int, "float": float, "str": str}


def field_docs(cls: type) -> dict[str, str]:
    """The string literal under each field of dataclass ``cls``, whitespace folded."""
    body = ast.parse(inspect.getsource(cls)).body[0].body  # type: ignore[attr-defined]
    docs = {}
    for node, after in zip(body, body[1:], strict=False):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def _optional(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        return None if text.lower() == "none" else convert(text)

    parse.__name__ = getattr(convert, "__name__", "value")
    return parse


def parse_dataclass(
    cls: type[T],
    argv: Sequence[str] | None = None,
    *,
    description: str = "",
    prog: str | None = None,
    choices: Mapping[str, Sequence[str]] | None = None,
    required: Sequence[str] = (),
) -> T:
    """An instance of dataclass ``cls`` from the command line ``argv`` (default: ``sys.argv``).

    Args:
        cls: The arguments dataclass.
        argv: The command line without the program name.
        description: The ``--help`` text above the flags.
        prog: The program name shown in ``--help``.
        choices: Field name -> the values it accepts.
        required: Fields that must be given.
    """
    docs = field_docs(cls)
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    choices = dict(choices or {})
    tuples = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        flag = "--" + f.name.replace("_", "-")
        kind = str(f.type)
        extra: dict[str, Any] = {"default": f.default, "help": docs.get(f.name, "")}
        if f.name in required:
            extra["required"] = True
        if kind == "bool":
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **extra)
            continue
        base = kind.removesuffix(" | None")
        if base == "tuple[int, ...]":
            tuples.append(f.name)
            parser.add_argument(flag, type=int, nargs="+", **extra)
            continue
        if base not in _SCALARS:
            raise TypeError(f"{cls.__name__}.{f.name}: no command-line form for type {kind!r}")
        convert = _SCALARS[base]
        if base != kind:
            convert = _optional(convert)
        parser.add_argument(flag, type=convert, choices=choices.get(f.name), **extra)
    values = vars(parser.parse_args(argv))
    for name in tuples:
        if values[name] is not None:
            values[name] = tuple(values[name])
    return cls(**values)
