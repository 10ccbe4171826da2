"""The report's figures: histograms, precision–recall and ROC curves, retrieval bars.

Every figure is a matplotlib ``Figure`` (object API, Agg, no pyplot state) returned as a PNG
``data:`` URI. Only bins or a few hundred curve points reach matplotlib, whatever N is.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from auditor.audit_files import FUSED, LOW_IS_SUSPECT
from auditor.report.text import number

CLEANLAB = "cleanlab_quality"  # drawn apart from the other signals: the reference to beat
HISTOGRAM_BINS = 40
CURVE_POINTS = 400  # points per plotted curve: enough for a smooth line at any N
FIGURE_DPI = 80


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


def detection_curves(truth: np.ndarray, suspicion: np.ndarray) -> Curves | None:
    """ROC and PR curves of ``suspicion`` (HIGH = more suspect) against ``truth`` (N,) bool.

    sklearn's ``roc_curve`` and ``precision_recall_curve`` with every threshold kept: rows with
    equal suspicion enter together (one point per distinct value), so the area under the ROC
    curve by the trapezoid rule equals the tie-averaged AUROC. None when every row or no row is
    noisy (there is no curve to draw).
    """
    from sklearn.metrics import precision_recall_curve, roc_curve  # only when there is a truth

    truth = np.asarray(truth, dtype=bool)
    suspicion = np.asarray(suspicion, dtype=np.float64)
    n_noisy = int(truth.sum())
    if n_noisy == 0 or n_noisy == truth.size:
        return None
    fpr, tpr, _ = roc_curve(truth, suspicion, drop_intermediate=False)
    precision, recall, _ = precision_recall_curve(truth, suspicion)
    # sklearn lists the PR points from the lowest threshold up and appends (recall 0,
    # precision 1); the report draws them most suspect first, without the appended point.
    return Curves(fpr=fpr, tpr=tpr, recall=recall[-2::-1], precision=precision[-2::-1])


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


def figure_to_data_uri(figure: Any) -> str:
    """A matplotlib Figure -> ``data:image/png;base64,…``."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIGURE_DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _new_figure(width: float, height: float) -> Any:
    # The object API renders with Agg without touching pyplot's global state or backend.
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def histogram_figure(
    name: str, values: np.ndarray, noisy: np.ndarray | None, direction: str
) -> str:
    """One signal's histogram (split into truly clean / noisy rows when known) as a data URI."""
    edges, counts, dropped = histogram(values, noisy)
    figure = _new_figure(3.6, 2.4)
    axes = figure.add_subplot()
    if noisy is None:
        axes.stairs(counts[0], edges, fill=True, color="#4c72b0", alpha=0.8, label="all rows")
    else:
        axes.stairs(counts[0], edges, fill=True, color="#4c72b0", alpha=0.55, label="clean")
        axes.stairs(counts[1], edges, fill=True, color="#dd5555", alpha=0.55, label="noisy")
        axes.legend(fontsize=7, frameon=False)
    suspect_side = "low" if direction == LOW_IS_SUSPECT else "high"
    title = f"{name} ({suspect_side} = suspect)"
    if dropped:
        title += f", {dropped} non-finite left out"
    axes.set_title(title, fontsize=8)
    axes.set_ylabel("rows", fontsize=7)
    axes.tick_params(labelsize=7)
    return figure_to_data_uri(figure)


def curves_figure(curves: Mapping[str, Curves], scores: Mapping[str, Mapping[str, Any]]) -> str:
    """Precision–recall and ROC curves of every score on one figure, as a data URI.

    ``scores`` : name -> detection metrics (``auroc``, ``auprc``) for the legends.
    """
    figure = _new_figure(10.0, 4.2)
    pr_axes, roc_axes = figure.subplots(1, 2)
    palette = [
        "#4c72b0", "#55a868", "#8172b2", "#ccb974", "#64b5cd", "#937860", "#da8bc3", "#8c8c8c",
    ]  # fmt: skip
    others = iter(palette * 4)
    for name, curve in curves.items():
        if name == FUSED:
            style: dict[str, Any] = {"color": "black", "linewidth": 2.2, "zorder": 3}
        elif name == CLEANLAB:
            style = {"color": "#c44e52", "linewidth": 1.8, "linestyle": "--", "zorder": 2}
        else:
            style = {"color": next(others), "linewidth": 1.0}
        metrics = scores.get(name, {})
        recall, precision = thin(curve.recall, curve.precision)
        fpr, tpr = thin(curve.fpr, curve.tpr)
        pr_axes.plot(recall, precision, label=f"{name} ({number(metrics.get('auprc'))})", **style)
        roc_axes.plot(fpr, tpr, label=f"{name} ({number(metrics.get('auroc'))})", **style)
    roc_axes.plot([0, 1], [0, 1], color="#bbbbbb", linewidth=0.8, linestyle=":")
    for axes, (x_label, y_label, title) in (
        (pr_axes, ("recall", "precision", "Precision–recall (legend: AUPRC)")),
        (roc_axes, ("false positive rate", "true positive rate", "ROC (legend: AUROC)")),
    ):
        axes.set_xlabel(x_label, fontsize=8)
        axes.set_ylabel(y_label, fontsize=8)
        axes.set_title(title, fontsize=9)
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1.02)
        axes.tick_params(labelsize=7)
        axes.legend(
            fontsize=6.5, frameon=False, loc="lower left" if axes is pr_axes else "lower right"
        )
    return figure_to_data_uri(figure)


def retrieval_figure(rows: Sequence[Mapping[str, Any]]) -> str:
    """Grouped bars of mAP image→text and text→image per benchmark row, as a data URI."""
    labels = [_retrieval_label(row) for row in rows]
    positions = np.arange(len(rows))
    figure = _new_figure(max(4.5, 0.9 * len(rows) + 1.5), 3.2)
    axes = figure.add_subplot()
    width = 0.38
    axes.bar(positions - width / 2, [row["map_i2t"] for row in rows], width, label="image→text")
    axes.bar(positions + width / 2, [row["map_t2i"] for row in rows], width, label="text→image")
    axes.set_xticks(positions, labels, rotation=30, ha="right", fontsize=7)
    axes.set_ylabel("mAP@all", fontsize=8)
    axes.tick_params(axis="y", labelsize=7)
    highest = max([float(row[key]) for row in rows for key in ("map_i2t", "map_t2i")] + [0.0])
    axes.set_ylim(0, max(highest, 1e-3) * 1.25)  # headroom for the legend above the bars
    axes.legend(fontsize=7, frameon=False, loc="upper left", ncols=2)
    return figure_to_data_uri(figure)


def _retrieval_label(row: Mapping[str, Any]) -> str:
    return f"{row['method']} · {row['labels']} · r{row['round']}"
