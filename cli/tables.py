"""Result tables that fit the terminal (80 columns when piped) without breaking a value.

Numbers and ids are never wrapped or cut; text cells (lists of class names) wrap between words
only. When the columns cannot all fit at that, the least important ones are left out and the
caption says which (``--json`` has them all).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.table import Table

CELL_PADDING = 2  # rich's default padding: one space either side of a cell
BORDER = 1  # one vertical rule between columns and at either edge


@dataclass(frozen=True)
class Column:
    """One column: ``whole`` values (numbers, ids) never wrap; ``priority`` 0 is kept longest
    (columns are left out from the highest priority number down)."""

    header: str
    whole: bool = True
    priority: int = 0
    justify: str = "left"


def _longest_word(text: str) -> int:
    return max((len(word) for word in text.split()), default=0)


def min_width(column: Column, cells: Sequence[str]) -> int:
    """The narrowest the column can be without breaking a value or a word of it (header too)."""
    measure = len if column.whole else _longest_word
    return max([measure(column.header), *(measure(cell) for cell in cells)])


def columns_that_fit(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int
) -> list[int]:
    """Indices of the columns to show in ``width`` characters: the priority-0 columns always,
    then the others from the most important (lowest priority number, earlier column among
    equals) down, each if it still fits."""
    needed = [
        min_width(column, [row[index] for row in rows]) + CELL_PADDING + BORDER
        for index, column in enumerate(columns)
    ]
    keep = [index for index, column in enumerate(columns) if column.priority == 0]
    used = BORDER + sum(needed[index] for index in keep)
    optional = sorted(
        (index for index, column in enumerate(columns) if column.priority > 0),
        key=lambda index: (columns[index].priority, index),
    )
    for index in optional:
        if used + needed[index] <= width:
            keep.append(index)
            used += needed[index]
    return sorted(keep)


def fitted_table(
    title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int
) -> Table:
    """A rich table of ``rows`` with the columns that fit ``width`` (see ``columns_that_fit``)."""
    keep = columns_that_fit(columns, rows, width)
    left_out = [columns[index].header for index in range(len(columns)) if index not in keep]
    caption = f"(left out to fit {width} columns: {', '.join(left_out)})" if left_out else None
    table = Table(title=title, caption=caption)
    for index in keep:
        column = columns[index]
        table.add_column(
            column.header,
            justify=column.justify,  # type: ignore[arg-type]
            no_wrap=column.whole,
            overflow="fold",  # a word longer than the whole terminal still shows in full
        )
    for row in rows:
        table.add_row(*(row[index] for index in keep))
    return table
