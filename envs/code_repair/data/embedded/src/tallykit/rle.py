"""Run-length coding of text and bytes.

Text form: each run is its count (omitted when 1) followed by its character; a digit or a
backslash character is escaped with a backslash, so ``"aaab11"`` encodes as ``"3ab2\\1"``.
Byte form: pairs ``(count, byte)`` with counts from 1 to 255.
"""

from __future__ import annotations

from collections.abc import Iterable

DIGITS = "0123456789"
MAX_BYTE_RUN = 255


class RLEError(ValueError):
    """Malformed encoded data."""


def runs(text: str) -> list[tuple[str, int]]:
    """The runs of ``text`` as ``(character, count)`` pairs.

    >>> runs("aaab")
    [('a', 3), ('b', 1)]
    """
    found: list[tuple[str, int]] = []
    for char in text:
        if found and found[-1][0] == char:
            found[-1] = (char, found[-1][1] + 1)
        else:
            found.append((char, 1))
    return found


def expand(pairs: Iterable[tuple[str, int]]) -> str:
    """The text of ``(character, count)`` pairs; counts must be at least 1."""
    pieces = []
    for char, count in pairs:
        if count < 1:
            raise RLEError(f"run count must be at least 1, got {count} for {char!r}")
        pieces.append(char * count)
    return "".join(pieces)


def dumps(text: str) -> str:
    """Encode ``text`` in the text form."""
    parts: list[str] = []
    for char, count in runs(text):
        if count > 1:
            parts.append(str(count))
        parts.append("\\" + char if char in DIGITS or char == "\\" else char)
    return "".join(parts)


def loads(data: str) -> str:
    """Decode the text form.

    Raises:
        RLEError: a count with no character after it, a dangling escape, or a zero count.
    """
    pieces: list[str] = []
    index = 0
    size = len(data)
    while index < size:
        cursor = index
        while cursor < size and data[cursor] in DIGITS:
            cursor += 1
        count = int(data[index:cursor]) if cursor > index else 1
        if cursor >= size:
            raise RLEError(f"count at offset {index} has no character after it")
        if data[cursor] == "\\":
            cursor += 1
            if cursor >= size:
                raise RLEError("dangling escape at the end")
        if count == 0:
            raise RLEError(f"zero count at offset {index}")
        pieces.append(data[cursor] * count)
        index = cursor + 1
    return "".join(pieces)


def encode_bytes(data: bytes) -> bytes:
    """Encode bytes as ``(count, byte)`` pairs; runs longer than 255 are split."""
    out = bytearray()
    index = 0
    while index < len(data):
        run = 1
        while index + run < len(data) and data[index + run] == data[index] and run < MAX_BYTE_RUN:
            run += 1
        out += bytes((run, data[index]))
        index += run
    return bytes(out)


def decode_bytes(data: bytes) -> bytes:
    """Decode :func:`encode_bytes` output.

    Raises:
        RLEError: odd length or a zero count.
    """
    if len(data) % 2:
        raise RLEError(f"encoded bytes come in pairs, got an odd length {len(data)}")
    out = bytearray()
    for offset in range(0, len(data), 2):
        count, value = data[offset], data[offset + 1]
        if count == 0:
            raise RLEError(f"zero count at offset {offset}")
        out += bytes((value,)) * count
    return bytes(out)


def compression_ratio(text: str) -> float:
    """Encoded length over original length (1.0 for the empty text)."""
    if not text:
        return 1.0
    return len(dumps(text)) / len(text)
