"""The fixed-width text tables of the arena, the league and the ratings."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["format_table"]


def format_table(
    title: str, header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1
) -> str:
    """A title, a header, a rule and the rows, as fixed-width text.

    The first ``left`` columns (names) are left-aligned, the others (numbers) right-aligned.

    Example:
        >>> print(format_table("T", ("who", "n"), [("ann", "10"), ("bo", "9")]))
        T
        who   n
        -------
        ann  10
        bo    9
    """
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.ljust(width) if i < left else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(padded).rstrip()

    head = line(header)
    return "\n".join([title, head, "-" * len(head), *map(line, rows)])
