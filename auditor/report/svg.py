"""Charts as inline SVG: scales, ticks, paths and legends as small pure functions.

A :class:`Chart` is plain data (paths in pixel coordinates, texts with positions); the markup is
``templates/chart.svg.j2``, rendered with autoescape, so a label from the data is always text.
Pixel coordinates run right (x) and DOWN (y) from the chart's top-left corner; a data value is
placed by :func:`scale`, which flips the y axis when given a pixel range from bottom to top.
Nothing here imports a plotting library: the report's figures cost a few milliseconds each.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

TEXT_COLOUR = "#333333"
GRID_COLOUR = "#e6e6e6"
FRAME_COLOUR = "#888888"
TICK_LENGTH = 4.0
LEGEND_ROW = 14.0  # pixels between legend rows
SWATCH = 16.0  # width of a legend swatch
SWATCH_GAP = 6.0  # between a swatch and its label


@dataclass(frozen=True)
class Mark:
    """One SVG path with its style. ``d`` is path data in chart pixels ("" for a style only,
    as a legend entry's); ``role`` becomes the CSS class (``series`` = a drawn data series,
    named by ``title``, which the browser shows on hover)."""

    d: str = ""
    stroke: str = "none"
    fill: str = "none"
    width: float = 1.0
    dash: str = ""
    opacity: float = 1.0
    title: str = ""
    role: str = ""


@dataclass(frozen=True)
class Text:
    """One text at (x, y) chart pixels; ``anchor`` start | middle | end; ``angle`` in degrees
    (negative = counter-clockwise) about the anchor point."""

    x: float
    y: float
    text: str
    anchor: str = "middle"
    size: float = 10.0
    angle: float = 0.0
    bold: bool = False


@dataclass(frozen=True)
class Chart:
    """A whole figure: ``width`` × ``height`` pixels, ``label`` for screen readers."""

    width: int
    height: int
    label: str
    marks: tuple[Mark, ...]
    texts: tuple[Text, ...]


@dataclass(frozen=True)
class Box:
    """A plot area in chart pixels."""

    left: float
    top: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height


def pixel(value: float) -> float:
    """A coordinate rounded to 0.1 px: finer than a screen shows, short in the markup."""
    return round(float(value), 1)


def scale(
    values: np.ndarray | Sequence[float],
    domain: tuple[float, float],
    pixels: tuple[float, float],
) -> np.ndarray:
    """Data values -> pixels, linearly: ``domain[0]`` -> ``pixels[0]``, ``domain[1]`` ->
    ``pixels[1]`` (give ``(bottom, top)`` for a y axis, so larger values are higher up)."""
    low, high = domain
    span = high - low if high != low else 1.0
    fraction = (np.asarray(values, dtype=np.float64) - low) / span
    return pixels[0] + fraction * (pixels[1] - pixels[0])


def nice_ticks(
    low: float, high: float, count: int = 5, *, integer: bool = False
) -> tuple[np.ndarray, list[str]]:
    """Round tick values inside [low, high] and their labels.

    The step is 1, 2 or 5 times a power of ten, the smallest such step giving at most about
    ``count`` + 1 ticks; ``integer`` = steps of at least 1 (counts). Labels carry as many
    decimals as the step needs (0.2 -> one, 0.05 -> two).
    """
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return np.array([low]), [_tick_label(low, 0)]
    raw = (high - low) / max(count, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw * (1 - 1e-9))
    if integer:
        step = max(step, 1.0)
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    values = np.arange(first, last + 1) * step
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return values, [_tick_label(value, decimals) for value in values]


def _tick_label(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.0"


def path_data(xs: np.ndarray, ys: np.ndarray) -> str:
    """A polyline through (xs, ys) pixels (same length >= 1) as path data; points that land on
    the same 0.1 px as the previous one are left out."""
    points = np.round(np.column_stack([xs, ys]).astype(np.float64), 1)
    if len(points) > 1:
        moved = np.r_[True, np.any(points[1:] != points[:-1], axis=1)]
        points = points[moved]
    head, *tail = (f"{_coord(x)} {_coord(y)}" for x, y in points)
    return "M" + head + "".join("L" + point for point in tail)


def stairs_path(edges: np.ndarray, heights: np.ndarray, baseline: float) -> str:
    """A filled histogram outline: bins between ``edges`` (B + 1,) x pixels, tops at
    ``heights`` (B,) y pixels, closed along the ``baseline`` y pixel."""
    edges = np.round(np.asarray(edges, dtype=np.float64), 1)
    heights = np.round(np.asarray(heights, dtype=np.float64), 1)
    steps = "".join(
        f"V{_coord(top)}H{_coord(right)}" for top, right in zip(heights, edges[1:], strict=True)
    )
    return f"M{_coord(edges[0])} {_coord(baseline)}{steps}V{_coord(baseline)}Z"


def bars_path(lefts: np.ndarray, rights: np.ndarray, tops: np.ndarray, baseline: float) -> str:
    """Rectangles from ``baseline`` up to ``tops`` (K,) between ``lefts`` and ``rights`` (K,)
    x pixels, as one path."""
    return "".join(
        f"M{_coord(left)} {_coord(baseline)}V{_coord(top)}H{_coord(right)}V{_coord(baseline)}Z"
        for left, right, top in zip(lefts, rights, tops, strict=True)
    )


def _coord(value: float) -> str:
    text = f"{float(value):.1f}"
    return text[:-2] if text.endswith(".0") else text


def axes(
    box: Box,
    x_domain: tuple[float, float],
    y_domain: tuple[float, float],
    *,
    x_ticks: tuple[np.ndarray, list[str]],
    y_ticks: tuple[np.ndarray, list[str]],
    title: str = "",
    x_label: str = "",
    y_label: str = "",
) -> tuple[list[Mark], list[Text]]:
    """Grid, frame, ticks, tick labels, axis labels and title of one plot area.

    Returns two marks, the grid (to draw behind the data) and the frame with its ticks, and
    the texts. Ticks outside the domain are left out.
    """
    xs = _inside(x_ticks, x_domain)
    ys = _inside(y_ticks, y_domain)
    x_pixels = scale([value for value, _ in xs], x_domain, (box.left, box.right))
    y_pixels = scale([value for value, _ in ys], y_domain, (box.bottom, box.top))
    grid = "".join(f"M{_coord(box.left)} {_coord(y)}H{_coord(box.right)}" for y in y_pixels)
    grid += "".join(f"M{_coord(x)} {_coord(box.top)}V{_coord(box.bottom)}" for x in x_pixels)
    ticks = "".join(f"M{_coord(x)} {_coord(box.bottom)}v{TICK_LENGTH:g}" for x in x_pixels)
    ticks += "".join(f"M{_coord(box.left)} {_coord(y)}h{-TICK_LENGTH:g}" for y in y_pixels)
    frame = (
        f"M{_coord(box.left)} {_coord(box.top)}H{_coord(box.right)}V{_coord(box.bottom)}"
        f"H{_coord(box.left)}Z"
    )
    marks = [
        Mark(grid, stroke=GRID_COLOUR, role="grid"),
        Mark(frame + ticks, stroke=FRAME_COLOUR, role="frame"),
    ]
    texts = [
        Text(pixel(x), pixel(box.bottom + TICK_LENGTH + 10), label, size=9)
        for x, (_, label) in zip(x_pixels, xs, strict=True)
    ]
    texts += [
        Text(pixel(box.left - TICK_LENGTH - 2), pixel(y + 3), label, anchor="end", size=9)
        for y, (_, label) in zip(y_pixels, ys, strict=True)
    ]
    if title:
        texts.append(Text(pixel(box.left + box.width / 2), pixel(box.top - 8), title, bold=True))
    if x_label:
        texts.append(Text(pixel(box.left + box.width / 2), pixel(box.bottom + 28), x_label))
    if y_label:
        centre = box.top + box.height / 2
        texts.append(Text(pixel(box.left - 36), pixel(centre), y_label, angle=-90))
    return marks, texts


def _inside(
    ticks: tuple[np.ndarray, list[str]], domain: tuple[float, float]
) -> list[tuple[float, str]]:
    low, high = min(domain), max(domain)
    tolerance = 1e-9 * max(1.0, abs(high - low))
    return [
        (float(value), label)
        for value, label in zip(ticks[0], ticks[1], strict=True)
        if low - tolerance <= value <= high + tolerance
    ]


def legend(
    x: float,
    y: float,
    entries: Sequence[tuple[str, Mark]],
    *,
    values: Sequence[Sequence[str]] = (),
    headers: Sequence[str] = (),
    label_width: float = 0.0,
    value_width: float = 40.0,
) -> tuple[list[Mark], list[Text]]:
    """A legend whose first row's text baseline is at ``y``, swatches starting at ``x``.

    ``entries`` : (label, style) per row; a style with a fill is drawn as a small block, one
    without as a line (with its dash). ``values`` : optional per row, texts right-aligned in
    columns after the label (``label_width`` pixels wide), under ``headers``.
    """
    marks: list[Mark] = []
    texts: list[Text] = []
    start = x + SWATCH + SWATCH_GAP
    columns_x = [start + label_width + value_width * (k + 1) for k in range(len(headers))]
    if headers:
        texts += [
            Text(pixel(column), pixel(y), header, anchor="end", size=9, bold=True)
            for column, header in zip(columns_x, headers, strict=True)
        ]
        y += LEGEND_ROW
    for row, (label, style) in enumerate(entries):
        baseline = y + row * LEGEND_ROW
        if style.fill != "none":
            swatch = f"M{_coord(x)} {_coord(baseline - 8)}h{SWATCH:g}v8h{-SWATCH:g}Z"
        else:
            swatch = f"M{_coord(x)} {_coord(baseline - 4)}h{SWATCH:g}"
        marks.append(replace(style, d=swatch, title="", role="swatch"))
        texts.append(Text(pixel(start), pixel(baseline), label, anchor="start", size=9))
        for column, value in zip(columns_x, values[row] if values else (), strict=False):
            texts.append(Text(pixel(column), pixel(baseline), value, anchor="end", size=9))
    return marks, texts


def legend_width(label_width: float, value_width: float, columns: int) -> float:
    """The width of a :func:`legend` with ``columns`` value columns (its right edge is the last
    column's right-aligned text)."""
    return SWATCH + SWATCH_GAP + label_width + value_width * columns
