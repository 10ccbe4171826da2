"""The report's figures: histograms, precision–recall and ROC curves, retrieval bars.

Every figure is a :class:`~auditor.report.svg.Chart` (inline SVG, drawn by
``templates/chart.svg.j2``): only bins or a few hundred curve points reach the page, whatever N
is. The curves are computed here with numpy: importing sklearn.metrics (and scipy with it) took
seconds of the report's start-up, for what is one sort and two cumulative sums.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from auditor.audit_files import FUSED, HIGH_IS_SUSPECT, LOW_IS_SUSPECT
from auditor.report.svg import (
    Box,
    Chart,
    Mark,
    Text,
    axes,
    bars_path,
    legend,
    legend_width,
    nice_ticks,
    path_data,
    pixel,
    scale,
    stairs_path,
)
from auditor.report.text import number

CLEANLAB = "cleanlab_quality"  # drawn apart from the other signals: the reference to beat
HISTOGRAM_BINS = 40
CURVE_POINTS = 400  # points per plotted curve: enough for a smooth line at any N
LABEL_CHAR_WIDTH = 5.4  # px, about the mean glyph width of the 9 px tick labels
LEGEND_LABEL_WIDTH = 130.0  # px for a signal name in the curves' legend (24 characters)
LEGEND_VALUE_WIDTH = 44.0  # px per AUPRC / AUROC column
CLEAN_COLOUR = "#4c72b0"
NOISY_COLOUR = "#dd5555"
PALETTE = ("#4c72b0", "#55a868", "#8172b2", "#ccb974", "#64b5cd", "#937860", "#da8bc3", "#8c8c8c")
FUSED_STYLE = Mark(stroke="black", width=2.2)
CLEANLAB_STYLE = Mark(stroke="#c44e52", width=1.8, dash="5 3")


@dataclass(frozen=True)
class Curves:
    """ROC and precision–recall curves of one suspicion score (all thresholds, tie-aware).

    Attributes
    ----------
    fpr, tpr : (K + 1,) starting at (0, 0), one point per distinct score value.
    recall, precision : (K,) one point per distinct score value, most suspect first.
    """

    fpr: np.ndarray
    tpr: np.ndarray
    recall: np.ndarray
    precision: np.ndarray


def suspicion(values: np.ndarray, direction: str) -> np.ndarray:
    """(N,) signal -> (N,) float64, HIGHER = more suspect; a NaN is the most suspect value.

    The same order (ties included) as :func:`auditor.fusion.suspicion_rank`, without its rank
    transform (the curves depend on the order only) and without importing scipy.
    """
    values = np.asarray(values, dtype=np.float64)
    if direction == LOW_IS_SUSPECT:
        values = -values
    elif direction != HIGH_IS_SUSPECT:
        raise ValueError(f"unknown direction {direction!r}")
    return np.where(np.isnan(values), np.inf, values)


def detection_curves(truth: np.ndarray, suspicion: np.ndarray) -> Curves | None:
    """ROC and PR curves of ``suspicion`` (N,) (HIGH = more suspect) against ``truth`` (N,) bool.

    Every threshold is kept: rows with equal suspicion enter together (one point per distinct
    value, +inf equal to +inf), so the area under the ROC curve by the trapezoid rule equals the
    tie-averaged AUROC. The same points as sklearn's ``roc_curve(drop_intermediate=False)`` and
    ``precision_recall_curve`` (tests/auditor/test_report.py pins that). None when every row or
    no row is noisy (there is no curve to draw).
    """
    truth = np.asarray(truth, dtype=bool)
    suspicion = np.asarray(suspicion, dtype=np.float64)
    n_noisy = int(truth.sum())
    if n_noisy == 0 or n_noisy == truth.size:
        return None
    order = np.argsort(-suspicion, kind="stable")
    ranked = suspicion[order]
    # The last row of each run of equal values: where the threshold passes, all of it at once.
    ends = np.r_[np.flatnonzero(ranked[1:] != ranked[:-1]), ranked.size - 1]
    true_positives = np.cumsum(truth[order])[ends].astype(np.float64)
    false_positives = (ends + 1) - true_positives
    return Curves(
        fpr=np.r_[0.0, false_positives / false_positives[-1]],
        tpr=np.r_[0.0, true_positives / true_positives[-1]],
        recall=true_positives / true_positives[-1],
        precision=true_positives / (ends + 1),
    )


def thin(*arrays: np.ndarray, points: int = CURVE_POINTS) -> tuple[np.ndarray, ...]:
    """Keep at most ``points`` evenly spaced entries (first and last always kept) of same-length
    arrays: what a plotted line needs, whatever N is."""
    size = arrays[0].size
    if size <= points:
        return arrays
    keep = np.unique(np.linspace(0, size - 1, points).round().astype(np.int64))
    return tuple(array[keep] for array in arrays)


def histogram(
    values: np.ndarray, groups: np.ndarray | None, bins: int = HISTOGRAM_BINS
) -> tuple[np.ndarray, list[np.ndarray], int]:
    """Shared-bin histograms of ``values`` (N,), one per group.

    Parameters
    ----------
    groups : (N,) bool or None: True = truly noisy; None = one histogram of every row.

    Returns
    -------
    edges : (bins + 1,); counts : per group (clean first, then noisy) a (bins,) int64 array;
    dropped : how many non-finite values were left out.
    """
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    dropped = int((~finite).sum())
    kept = values[finite]
    if kept.size == 0:
        low, high = 0.0, 1.0
    else:
        low, high = float(kept.min()), float(kept.max())
    if high <= low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, bins + 1)
    selections = [finite] if groups is None else [finite & ~groups, finite & groups]
    counts = [np.histogram(values[mask], bins=edges)[0] for mask in selections]
    return edges, counts, dropped


def histogram_figure(
    name: str, values: np.ndarray, noisy: np.ndarray | None, direction: str
) -> Chart:
    """One signal's histogram (split into truly clean / noisy rows when known), 340 × 230 px:
    each group one translucent filled outline over shared bins, so overlaps stay visible."""
    edges, counts, dropped = histogram(values, noisy)
    box = Box(left=46, top=40, width=284, height=160)
    highest = max(int(max(count.max() for count in counts)), 1)
    x_domain = (float(edges[0]), float(edges[-1]))
    y_domain = (0.0, highest * 1.05)
    (grid, frame), texts = axes(
        box, x_domain, y_domain,
        x_ticks=nice_ticks(*x_domain), y_ticks=nice_ticks(*y_domain, integer=True),
        y_label="rows",
    )  # fmt: skip
    x_edges = scale(edges, x_domain, (box.left, box.right))
    groups = (
        [("all rows", CLEAN_COLOUR, 0.8)]
        if noisy is None
        else [("clean", CLEAN_COLOUR, 0.55), ("noisy", NOISY_COLOUR, 0.55)]
    )
    series = []
    for (label, colour, opacity), count in zip(groups, counts, strict=True):
        tops = scale(count, y_domain, (box.bottom, box.top))
        outline = stairs_path(x_edges, tops, box.bottom)
        series.append(Mark(outline, fill=colour, opacity=opacity, title=label, role="series"))
    key_marks, key_texts = _one_line_legend(box.left, 28, groups)
    title = f"{name} ({'low' if direction == LOW_IS_SUSPECT else 'high'} = suspect)"
    texts.append(Text(pixel(box.left + box.width / 2), 13, title, bold=True))
    if dropped:  # on the legend's line, right-aligned: the title line has no room to spare
        texts.append(Text(box.right, 28, f"{dropped:,} non-finite left out", anchor="end", size=9))
    return Chart(
        width=340,
        height=230,
        label=f"histogram of {name}",
        marks=(grid, *series, frame, *key_marks),  # the frame over the bins' edges
        texts=(*texts, *key_texts),
    )


def _one_line_legend(
    x: float, y: float, groups: Sequence[tuple[str, str, float]]
) -> tuple[list[Mark], list[Text]]:
    """Swatches side by side on one line (a histogram's clean / noisy key, above the plot)."""
    marks: list[Mark] = []
    texts: list[Text] = []
    for label, colour, opacity in groups:
        entry_marks, entry_texts = legend(x, y, [(label, Mark(fill=colour, opacity=opacity))])
        marks += entry_marks
        texts += entry_texts
        x += 80
    return marks, texts


def curve_style(name: str, others: Sequence[str]) -> Mark:
    """The line of one score: the fused score black and thick, cleanlab red and dashed, the
    other signals thin, in palette order (``others``: their names in drawing order)."""
    if name == FUSED:
        return FUSED_STYLE
    if name == CLEANLAB:
        return CLEANLAB_STYLE
    colour = PALETTE[others.index(name) % len(PALETTE)] if name in others else PALETTE[-1]
    return Mark(stroke=colour, width=1.2)


def curves_figure(curves: Mapping[str, Curves], scores: Mapping[str, Mapping[str, Any]]) -> Chart:
    """Precision–recall and ROC curves of every score side by side, with one shared legend
    giving each score's AUPRC and AUROC (``scores`` : name -> detection metrics)."""
    pr_box = Box(left=52, top=28, width=300, height=300)
    roc_box = Box(left=pr_box.right + 62, top=28, width=300, height=300)
    unit = (0.0, 1.0)
    ticks = nice_ticks(*unit)
    marks: list[Mark] = []
    texts: list[Text] = []
    for box, title, x_label, y_label in (
        (pr_box, "Precision–recall", "recall", "precision"),
        (roc_box, "ROC", "false positive rate", "true positive rate"),
    ):
        panel_marks, panel_texts = axes(
            box, unit, (0.0, 1.02), x_ticks=ticks, y_ticks=ticks,
            title=title, x_label=x_label, y_label=y_label,
        )  # fmt: skip
        marks += panel_marks
        texts += panel_texts
    diagonal = scale([0.0, 1.0], unit, (roc_box.left, roc_box.right))
    chance = scale([0.0, 1.0], (0.0, 1.02), (roc_box.bottom, roc_box.top))
    marks.append(Mark(path_data(diagonal, chance), stroke="#bbbbbb", width=0.8, dash="2 2"))
    others = [name for name in curves if name not in (FUSED, CLEANLAB)]
    # The fused score on top of cleanlab on top of the signals; the legend keeps the given order.
    drawing_order = sorted(curves, key=lambda name: {FUSED: 2, CLEANLAB: 1}.get(name, 0))
    for name in drawing_order:
        style = curve_style(name, others)
        recall, precision = thin(curves[name].recall, curves[name].precision)
        fpr, tpr = thin(curves[name].fpr, curves[name].tpr)
        for box, xs, ys in ((pr_box, recall, precision), (roc_box, fpr, tpr)):
            line = path_data(
                scale(xs, unit, (box.left, box.right)),
                scale(ys, (0.0, 1.02), (box.bottom, box.top)),
            )
            marks.append(replace(style, d=line, title=name, role="series"))
    names = list(curves)
    legend_x = roc_box.right + 24
    key_marks, key_texts = legend(
        legend_x, pr_box.top + 4,
        [(name, curve_style(name, others)) for name in names],
        values=[
            [number(scores.get(name, {}).get(key)) for key in ("auprc", "auroc")]
            for name in names
        ],
        headers=("AUPRC", "AUROC"), label_width=LEGEND_LABEL_WIDTH, value_width=LEGEND_VALUE_WIDTH,
    )  # fmt: skip
    return Chart(
        width=int(legend_x + legend_width(LEGEND_LABEL_WIDTH, LEGEND_VALUE_WIDTH, 2) + 12),
        height=int(pr_box.bottom + 40),
        label="precision-recall and ROC curves",
        marks=(*marks, *key_marks),
        texts=(*texts, *key_texts),
    )


def retrieval_figure(rows: Sequence[Mapping[str, Any]]) -> Chart:
    """Grouped bars of mAP image→text and text→image per benchmark row, labels slanted below
    (the margins grow with the longest label, so none is cut off)."""
    labels = [_retrieval_label(row) for row in rows]
    slot = 72.0
    # A label slanted by 30° spans cos 30° ≈ 0.87 of its length to the left, half of it down.
    reach = max([len(label) * LABEL_CHAR_WIDTH for label in labels] + [0.0])
    left = max(52.0, 0.87 * len(labels[0]) * LABEL_CHAR_WIDTH - slot / 2 + 8) if labels else 52.0
    box = Box(left=left, top=16, width=max(300.0, slot * len(rows)), height=170)
    highest = max([float(row[key]) for row in rows for key in ("map_i2t", "map_t2i")] + [0.0])
    y_domain = (0.0, max(highest, 1e-3) * 1.25)  # headroom for the legend above the bars
    marks, texts = axes(
        box, (0.0, 1.0), y_domain, x_ticks=(np.array([]), []), y_ticks=nice_ticks(*y_domain),
        y_label="mAP@all",
    )  # fmt: skip
    slot = box.width / max(len(rows), 1)
    centres = box.left + slot * (np.arange(len(rows)) + 0.5)
    width = slot * 0.38
    series = (("image→text", "map_i2t", "#4c72b0", -1), ("text→image", "map_t2i", "#dd8452", 0))
    for label, key, colour, offset in series:
        tops = scale([float(row[key]) for row in rows], y_domain, (box.bottom, box.top))
        lefts = centres + offset * width
        path = bars_path(lefts, lefts + width, tops, box.bottom)
        marks.insert(1, Mark(path, fill=colour, title=label, role="series"))
    for centre, label in zip(centres, labels, strict=True):
        x, y = pixel(centre + 4), pixel(box.bottom + 14)
        texts.append(Text(x, y, label, anchor="end", size=9, angle=-30))
    key_marks, key_texts = _one_line_legend(
        box.left + 8, box.top + 14, [(label, colour, 1.0) for label, _, colour, _ in series]
    )
    return Chart(
        width=int(box.right + 16),
        height=int(box.bottom + 0.5 * reach + 28),
        label="retrieval mAP",
        marks=(*marks, *key_marks),
        texts=(*texts, *key_texts),
    )


def _retrieval_label(row: Mapping[str, Any]) -> str:
    return f"{row['method']} · {row['labels']} · r{row['round']}"
