"""The baselines the audit is compared with: cleanlab on out-of-fold probabilities, kNN vote.

- ``cleanlab_quality``: cleanlab's multi-label label-quality score (self-confidence per class,
  aggregated over classes by an exponential moving average) on out-of-fold probabilities from a
  probe cross-validated on the audit's own features (:mod:`auditor.probe`). In-sample
  probabilities would have memorised the noise, so the comparison would be unfair to cleanlab.
- ``knn_vote``: a training-free vote of each row's nearest neighbours (:mod:`auditor.knn`).

Both give a row score and a per-(row, class) score, LOW = suspect. The scan runs them as the
detectors ``cleanlab`` and ``knn`` (:mod:`auditor.detectors`), from the image and text views;
this module holds the cleanlab call.
"""

from __future__ import annotations

import numpy as np
from cleanlab.multilabel_classification.rank import (
    get_label_quality_scores,
    get_label_quality_scores_per_class,
)

__all__ = ["CLEANLAB_AGGREGATOR", "cleanlab_scores", "multi_hot_to_lists"]

CLEANLAB_AGGREGATOR: dict[str, object] = {"method": "exponential_moving_average", "alpha": 0.8}
"""How cleanlab folds per-class scores into one per row (its documented default, made explicit)."""


def multi_hot_to_lists(labels: np.ndarray) -> list[list[int]]:
    """cleanlab's multi-label format: for each row, the list of its class indices."""
    rows, columns = np.nonzero(labels)
    splits = np.searchsorted(rows, np.arange(1, labels.shape[0]))
    return [part.tolist() for part in np.split(columns, splits)]


def cleanlab_scores(labels: np.ndarray, pred_probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cleanlab's multi-label label-quality scores.

    Parameters
    ----------
    labels : (N, C) uint8 multi-hot
        The given labels (rows may be empty).
    pred_probs : (N, C) float in [0, 1]
        Out-of-sample class probabilities (:func:`auditor.probe.out_of_fold_probabilities`);
        independent per class, rows need not sum to 1.

    Returns
    -------
    row_quality : (N,) float64 in [0, 1]
        ``cleanlab.multilabel_classification.rank.get_label_quality_scores`` with
        ``method="self_confidence"`` and the exponential-moving-average aggregation
        (:data:`CLEANLAB_AGGREGATOR`). LOW = suspect.
    class_quality : (N, C) float64 in [0, 1]
        ``get_label_quality_scores_per_class``: the probability of the given value of each
        cell (p where the class is given, 1 − p where it is absent). LOW = suspect cell.
    """
    labels = np.asarray(labels)
    pred_probs = np.asarray(pred_probs, dtype=np.float64)
    if labels.ndim != 2 or pred_probs.shape != labels.shape:
        raise ValueError(
            f"labels and pred_probs must both be (N, C), got {labels.shape} and {pred_probs.shape}"
        )
    if labels.size and not np.isin(labels, (0, 1)).all():
        raise ValueError("labels must be multi-hot: every entry 0 or 1")
    if not (np.isfinite(pred_probs).all() and (pred_probs >= 0).all() and (pred_probs <= 1).all()):
        raise ValueError("pred_probs must be probabilities in [0, 1]")
    label_lists = multi_hot_to_lists(labels)
    row_quality = get_label_quality_scores(
        label_lists, pred_probs, method="self_confidence", aggregator_kwargs=CLEANLAB_AGGREGATOR
    )
    class_quality = get_label_quality_scores_per_class(
        label_lists, pred_probs, method="self_confidence"
    )
    return np.asarray(row_quality, dtype=np.float64), np.asarray(class_quality, dtype=np.float64)
