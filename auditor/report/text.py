"""How the report writes numbers and texts (plain strings; the template escapes them)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

SNIPPET_CHARS = 160
MISSING = "–"


def number(value: Any, digits: int = 3) -> str:
    """An int with thousands separators, a float with ``digits`` decimals, ``–`` for none/NaN."""
    if value is None or isinstance(value, bool):
        return MISSING
    if isinstance(value, float) and not math.isfinite(value):
        return MISSING
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    return f"{float(value):.{digits}f}"


def percent(value: Any) -> str:
    """A share in [0, 1] as ``12.3 %``, ``–`` for none/NaN."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return MISSING
    return f"{100 * float(value):.1f} %"


def snippet(text: str | None, limit: int = SNIPPET_CHARS) -> str:
    """The first ``limit`` characters of a text, whitespace collapsed, with an ellipsis if cut."""
    if not text:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
