"""Delimited tag cells (``dog|"rock|roll"``): split and joined with the csv module.

A tag that contains the separator is written in double quotes, as in a CSV cell. Light on
purpose (no pandas): the decisions reader and the importers share it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence

SEPARATOR_CANDIDATES = ("|", ";", ",")


def split_tags(cell: str, sep: str) -> list[str]:
    """``'dog|"rock|roll"'`` -> ``['dog', 'rock|roll']`` (quotes protect a separator; each tag
    stripped of surrounding spaces)."""
    if len(sep) != 1:
        raise ValueError(f"a label separator is one character, got {sep!r}")
    fields = next(csv.reader([cell], delimiter=sep, quotechar='"', skipinitialspace=True), [])
    return [tag.strip() for tag in fields]


def join_tags(tags: Sequence[str], sep: str) -> str:
    """Inverse of :func:`split_tags`: tags that contain the separator or a quote are quoted."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=sep, quotechar='"', lineterminator="").writerow(list(tags))
    return buffer.getvalue()


QUOTED = re.compile(r'"(?:[^"]|"")*"')


def detect_separator(cells: Sequence[str]) -> str:
    """The one separator of ``SEPARATOR_CANDIDATES`` the cells use outside quotes ("|" when
    every cell holds one tag). Two different ones -> ValueError naming the row of the second."""
    first: dict[str, int] = {}
    for row, cell in enumerate(cells):
        bare = QUOTED.sub("", cell)
        for sep in SEPARATOR_CANDIDATES:
            if sep in bare and sep not in first:
                first[sep] = row
    if len(first) > 1:
        (sep_a, row_a), (sep_b, row_b) = sorted(first.items(), key=lambda item: item[1])[:2]
        raise MixedSeparators(sep_a, row_a, sep_b, row_b)
    return next(iter(first), "|")


class MixedSeparators(ValueError):
    def __init__(self, sep_a: str, row_a: int, sep_b: str, row_b: int) -> None:
        self.row = row_b
        super().__init__(
            f"mixed separators: row {row_a} separates tags with {sep_a!r}, this row with "
            f"{sep_b!r} (pick one, or quote tags that contain it; --label-sep sets it)"
        )
