"""Detection metrics: how well a score ranks the rows (or cells) that are known to be noisy.

Every function takes a **suspicion** score, where HIGH = more suspect. Signals whose low values
are suspect (cleanlab's label quality, ``knn_vote``, ``label_quality``) go through
:func:`suspicion_from_quality` first.

Conventions shared by all functions:

- ``truth`` is a boolean array, True = the row (or cell) is noisy.
- Ties in the suspicion score are handled as scikit-learn does: AUROC uses average ranks (a tie
  between a noisy and a clean row counts one half), average precision treats tied scores as one
  threshold. Top-k selections break ties deterministically by row index (lower index first), so
  the same inputs always give the same numbers.
- Degenerate inputs do not raise: a metric that is undefined returns NaN, with the reason in the
  function's docstring (for example, AUROC when no row, or every row, is noisy).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

DEFAULT_BUDGETS: tuple[float, ...] = (0.01, 0.05, 0.10)
"""Review budgets, as fractions of N, at which :func:`detection_report` gives precision."""


# ------------------------------------------------------------------------ input handling
def _truth_vector(truth: np.ndarray, name: str = "truth") -> np.ndarray:
    truth = np.asarray(truth)
    if truth.ndim != 1:
        raise ValueError(f"{name} must be a 1-D (N,) array, got shape {truth.shape}")
    if truth.dtype != np.bool_:
        if truth.size and not np.isin(truth, (0, 1)).all():
            raise ValueError(f"{name} must be boolean (or 0/1), got values outside {{0, 1}}")
        truth = truth.astype(bool)
    return truth


def _score_vector(score: np.ndarray, n_rows: int, name: str = "suspicion") -> np.ndarray:
    score = np.asarray(score)
    if score.shape != (n_rows,):
        raise ValueError(f"{name} must have shape ({n_rows},) to match truth, got {score.shape}")
    if not np.issubdtype(score.dtype, np.number) or np.issubdtype(score.dtype, np.complexfloating):
        raise ValueError(f"{name} must be real numbers, got dtype {score.dtype}")
    score = score.astype(np.float64)
    if np.isnan(score).any():
        raise ValueError(f"{name} contains NaN; a ranking needs every score")
    return score


def suspicion_from_quality(quality: np.ndarray) -> np.ndarray:
    """Turn a quality score (LOW = more suspect) into a suspicion score (HIGH = more suspect).

    Parameters
    ----------
    quality : (N,) or (N, C) array
        Any score whose low values are suspect (cleanlab's label quality, ``knn_vote``).

    Returns
    -------
    Same shape, float64: ``-quality``. Negation keeps every metric here unchanged in meaning
    (ranks reverse exactly, ties stay ties), whatever the range of ``quality``.
    """
    return -np.asarray(quality, dtype=np.float64)


# ------------------------------------------------------------------------ ranking metrics
def auroc(truth: np.ndarray, suspicion: np.ndarray) -> float:
    """Area under the ROC curve of ``suspicion`` for detecting ``truth``.

    Equal to ``sklearn.metrics.roc_auc_score(truth, suspicion)``: the probability that a random
    noisy row scores above a random clean row, ties counting one half (average ranks,
    Mann–Whitney U).

    Parameters
    ----------
    truth : (N,) bool
        True = noisy.
    suspicion : (N,) float
        HIGH = more suspect.

    Returns
    -------
    float in [0, 1] (0.5 = random), or NaN when there is no noisy row or no clean row: the
    curve needs both kinds.
    """
    truth = _truth_vector(truth)
    suspicion = _score_vector(suspicion, truth.size)
    n_noisy = int(truth.sum())
    n_clean = truth.size - n_noisy
    if n_noisy == 0 or n_clean == 0:
        return math.nan
    from scipy.stats import rankdata  # scipy.stats costs ~1 s to import; the report needs none

    rank_sum = float(rankdata(suspicion)[truth].sum())
    u_statistic = rank_sum - n_noisy * (n_noisy + 1) / 2.0
    return u_statistic / (n_noisy * n_clean)


def average_precision(truth: np.ndarray, suspicion: np.ndarray) -> float:
    """Average precision (area under the precision–recall curve) of ``suspicion``.

    Equal to ``sklearn.metrics.average_precision_score(truth, suspicion)``:
    Σₙ (Rₙ − Rₙ₋₁)·Pₙ over the distinct score thresholds in decreasing order (tied scores form
    one threshold). A random ranking scores about the noise rate. Parameters: as :func:`auroc`.

    Returns
    -------
    float in [0, 1], or NaN when no row is noisy (recall is 0/0) or every row is noisy (every
    ranking scores 1, so the number says nothing about the score).
    """
    truth = _truth_vector(truth)
    suspicion = _score_vector(suspicion, truth.size)
    n_noisy = int(truth.sum())
    if n_noisy == 0 or n_noisy == truth.size:
        return math.nan
    order = np.argsort(-suspicion, kind="stable")
    sorted_scores = suspicion[order]
    hits = truth[order]
    # Last position of each run of equal scores: one threshold per distinct score.
    is_last = np.ones(truth.size, dtype=bool)
    is_last[:-1] = sorted_scores[:-1] != sorted_scores[1:]
    true_positives = np.cumsum(hits)[is_last]
    flagged = (np.flatnonzero(is_last) + 1).astype(np.float64)
    precision = true_positives / flagged
    recall = true_positives / n_noisy
    recall_steps = np.diff(recall, prepend=0.0)
    return float(np.sum(recall_steps * precision))


# ------------------------------------------------------------------------ top-k metrics
def top_k_rows(suspicion: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` most suspect rows, most suspect first.

    Parameters
    ----------
    suspicion : (N,) float
        HIGH = more suspect.
    k : int in [0, N]

    Returns
    -------
    (k,) int64. Ties are broken by row index, lower first (a stable sort), so the selection
    is deterministic.
    """
    suspicion = np.asarray(suspicion, dtype=np.float64)
    if suspicion.ndim != 1:
        raise ValueError(f"suspicion must be a 1-D (N,) array, got shape {suspicion.shape}")
    if np.isnan(suspicion).any():
        raise ValueError("suspicion contains NaN; a ranking needs every score")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= suspicion.size:
        raise ValueError(f"k must be an integer in [0, {suspicion.size}], got {k!r}")
    return np.argsort(-suspicion, kind="stable")[: int(k)].astype(np.int64)


def precision_recall_at_k(truth: np.ndarray, suspicion: np.ndarray, k: int) -> tuple[float, float]:
    """Precision and recall of flagging the ``k`` most suspect rows.

    Parameters
    ----------
    truth : (N,) bool
        True = noisy.
    suspicion : (N,) float
        HIGH = more suspect; ties broken by row index (:func:`top_k_rows`).
    k : int in [0, N]

    Returns
    -------
    precision : float
        Noisy rows among the k flagged / k; NaN when k = 0 (nothing flagged: 0/0).
    recall : float
        Noisy rows among the k flagged / noisy rows; NaN when no row is noisy (0/0).
    """
    truth = _truth_vector(truth)
    suspicion = _score_vector(suspicion, truth.size)
    hits = int(truth[top_k_rows(suspicion, k)].sum())
    n_noisy = int(truth.sum())
    precision = hits / k if k > 0 else math.nan
    recall = hits / n_noisy if n_noisy > 0 else math.nan
    return precision, recall


def budget_size(fraction: float, n_rows: int) -> int:
    """Rows reviewed at a budget of ``fraction`` of N: max(1, round(fraction · N)), at most N."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"a review budget must be a fraction in (0, 1], got {fraction}")
    return min(n_rows, max(1, int(round(fraction * n_rows))))


def budget_key(fraction: float) -> str:
    """Report key of a budget: 0.01 → ``precision_at_1pct``, 0.005 → ``precision_at_0.5pct``."""
    return f"precision_at_{fraction * 100:g}pct"


# ------------------------------------------------------------------------ reports
def detection_report(
    truth_rows: np.ndarray,
    suspicion_rows: np.ndarray,
    truth_cells: np.ndarray | None = None,
    suspicion_cells: np.ndarray | None = None,
    budgets: Sequence[float] = DEFAULT_BUDGETS,
) -> dict[str, float | int]:
    """All detection metrics of one signal against known noise (docs/methods.md, "Detection").

    Parameters
    ----------
    truth_rows : (N,) bool
        True = the row has at least one wrong label.
    suspicion_rows : (N,) float
        HIGH = more suspect (use :func:`suspicion_from_quality` on a quality score).
    truth_cells : (N, C) bool, optional
        True = that (row, class) label is wrong.
    suspicion_cells : (N, C) float, optional
        Per-cell suspicion, HIGH = more suspect. Give both cell arrays or neither.
    budgets : fractions of N
        Review budgets for precision at ``max(1, round(fraction · N))`` rows.

    Returns
    -------
    dict with
        ``n_rows``, ``n_noisy_rows`` (T);
        ``auroc``, ``auprc`` (average precision);
        ``precision_at_t``, ``recall_at_t``: flagging the T most suspect rows (the two are
        equal by construction, both kept for the report's columns);
        ``precision_at_1pct``, ``precision_at_5pct``, ``precision_at_10pct`` (one per budget);
        and with cell inputs ``n_cells``, ``n_noisy_cells``, ``cell_auroc``, ``cell_auprc``
        over all N·C cells.

    When no row or every row is noisy, every sample-level metric is NaN: a ranking cannot be
    judged without both noisy and clean rows. The same holds for the cell metrics and cells.
    """
    truth_rows = _truth_vector(truth_rows, "truth_rows")
    suspicion_rows = _score_vector(suspicion_rows, truth_rows.size, "suspicion_rows")
    n_rows = truth_rows.size
    n_noisy = int(truth_rows.sum())
    degenerate = n_noisy == 0 or n_noisy == n_rows

    report: dict[str, float | int] = {"n_rows": n_rows, "n_noisy_rows": n_noisy}
    report["auroc"] = auroc(truth_rows, suspicion_rows)
    report["auprc"] = average_precision(truth_rows, suspicion_rows)
    if degenerate:
        report["precision_at_t"] = math.nan
        report["recall_at_t"] = math.nan
    else:
        precision, recall = precision_recall_at_k(truth_rows, suspicion_rows, n_noisy)
        report["precision_at_t"] = precision
        report["recall_at_t"] = recall
    for fraction in budgets:
        k = budget_size(fraction, n_rows) if n_rows else 0
        report[budget_key(fraction)] = (
            math.nan if degenerate else precision_recall_at_k(truth_rows, suspicion_rows, k)[0]
        )

    if (truth_cells is None) != (suspicion_cells is None):
        raise ValueError("give both truth_cells and suspicion_cells, or neither")
    if truth_cells is not None and suspicion_cells is not None:
        truth_cells = np.asarray(truth_cells)
        suspicion_cells = np.asarray(suspicion_cells)
        if truth_cells.ndim != 2 or truth_cells.shape[0] != n_rows:
            raise ValueError(
                f"truth_cells must be (N, C) with N = {n_rows}, got shape {truth_cells.shape}"
            )
        if suspicion_cells.shape != truth_cells.shape:
            raise ValueError(
                f"suspicion_cells must have the shape of truth_cells {truth_cells.shape}, "
                f"got {suspicion_cells.shape}"
            )
        flat_truth = _truth_vector(truth_cells.ravel(), "truth_cells")
        flat_suspicion = _score_vector(suspicion_cells.ravel(), flat_truth.size, "suspicion_cells")
        report["n_cells"] = int(flat_truth.size)
        report["n_noisy_cells"] = int(flat_truth.sum())
        report["cell_auroc"] = auroc(flat_truth, flat_suspicion)
        report["cell_auprc"] = average_precision(flat_truth, flat_suspicion)
    return report


def flag_report(truth: np.ndarray, flagged: np.ndarray) -> dict[str, float | int]:
    """Quality of a yes/no flag (such as ``is_issue``) against known noise.

    Parameters
    ----------
    truth : (N,) bool
        True = noisy.
    flagged : (N,) bool
        True = the detector flags the row.

    Returns
    -------
    dict with
        ``n_flagged``, ``n_noisy``, ``n_correct`` (flagged and noisy);
        ``precision`` = correct / flagged (NaN when nothing is flagged);
        ``recall`` = correct / noisy (NaN when nothing is noisy);
        ``f1`` = harmonic mean of the two (NaN when either is NaN; 0 when both are 0);
        ``flag_ratio`` = flagged / noisy, 1 = the flag's count matches the true count
        (NaN when nothing is noisy).
    """
    truth = _truth_vector(truth)
    flagged = _truth_vector(flagged, "flagged")
    if flagged.shape != truth.shape:
        raise ValueError(
            f"flagged must have shape {truth.shape} to match truth, got {flagged.shape}"
        )
    n_flagged = int(flagged.sum())
    n_noisy = int(truth.sum())
    n_correct = int((flagged & truth).sum())
    precision = n_correct / n_flagged if n_flagged else math.nan
    recall = n_correct / n_noisy if n_noisy else math.nan
    if math.isnan(precision) or math.isnan(recall):
        f1 = math.nan
    elif precision + recall == 0:
        f1 = 0.0
    else:
        f1 = 2 * precision * recall / (precision + recall)
    return {
        "n_flagged": n_flagged,
        "n_noisy": n_noisy,
        "n_correct": n_correct,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "flag_ratio": n_flagged / n_noisy if n_noisy else math.nan,
    }


# ------------------------------------------------------------------------ per class
def per_class_noise(
    classes: Sequence[str], given: np.ndarray, spurious: np.ndarray, missing: np.ndarray
) -> dict[str, dict[str, float | int | None]]:
    """The per-class numbers of ``summary.json`` (and of the report's class table).

    Parameters
    ----------
    classes : C class names.
    given, spurious, missing : (C,) counts of rows that list the class, of given labels
        suggested for removal, and of absent classes suggested for addition.

    Returns
    -------
    class name -> ``given``, ``suspected_spurious``, ``suspected_missing`` and
    ``estimated_noise_rate`` = ``(spurious + missing) / (given + missing)``: the share of the
    rows that carry (or should carry) the class whose label for it is suspect; None for a class
    no row carries.
    """
    given, spurious, missing = (np.asarray(a, dtype=np.int64) for a in (given, spurious, missing))
    denominator = given + missing
    numbers: dict[str, dict[str, float | int | None]] = {}
    for c, name in enumerate(classes):
        rate = (spurious[c] + missing[c]) / denominator[c] if denominator[c] > 0 else None
        numbers[str(name)] = {
            "given": int(given[c]),
            "suspected_spurious": int(spurious[c]),
            "suspected_missing": int(missing[c]),
            "estimated_noise_rate": None if rate is None else round(float(rate), 6),
        }
    return numbers
