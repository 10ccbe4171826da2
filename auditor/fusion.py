"""Fusion: many signals in, one ``label_quality`` per row and one presence estimate per cell out.

No ground truth is used anywhere here. The rules (docs/design.md, "How the audit decides"):

1. **Cells.** Each detector's per-cell presence evidence is calibrated, class by class, to a
   probability by a monotone one-dimensional logistic fit against the given labels (a monotone
   map cannot reorder a class's rows, and two parameters per class cannot memorise the noise);
   the detectors' calibrated log-odds are then stacked by one more logistic fit against the
   given labels, over all cells at once, with one non-negative weight per detector and a bias
   (:func:`stack_presence`): ``presence`` (N, C). A handful of weights cannot memorise the noise
   either; they let the detectors that explain the labels best count most.
2. **Rows.** Every row signal becomes a suspicion rank in (0, 1] (its direction applied; ties
   share their average rank). The cell evidence gives one more row score: the weakest support
   among the given labels times the weakest rejection among the absent classes. The fused
   suspicion is half that cell score's rank plus half the consensus-weighted mean of all ranks
   (each signal weighted by its correlation with the mean of the others, floored at 0);
   ``label_quality`` = 1 − fused suspicion, in [0, 1], lower = more suspect (as cleanlab's).
3. **Noise rate.** Estimated from the cells by confident learning, class by class: the share of
   rows with at least one confidently wrong cell (:func:`estimate_noise_rate`). ``is_issue``
   flags that many rows, most suspect first.
4. **Label changes** (flagged rows only): at most one removal (the given label most likely
   wrong) and one addition (the absent class most likely present) per row, each when its error
   probability exceeds the threshold (0.5); a flagged row with neither gets its single most
   suspect cell changed; a row never ends with no label (the likeliest other class is added
   instead: a relabel). One of each is the precision-minded choice: the scan's cell evidence is
   ranked well but its probabilities are soft, and changing every cell past 0.5 changed about
   twice as many cells as were wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy.optimize import minimize
from scipy.stats import rankdata

from auditor.audit_files import HIGH_IS_SUSPECT, LOW_IS_SUSPECT


def suspicion_rank(values: np.ndarray, direction: str) -> np.ndarray:
    """(N,) signal -> (N,) suspicion in (0, 1], higher = more suspect, ties averaged.

    ``direction`` is ``low_is_suspect`` or ``high_is_suspect``. A NaN counts as the most
    suspect value (NaNs tie with each other).
    """
    values = np.asarray(values, dtype=np.float64)
    if direction == LOW_IS_SUSPECT:
        values = -values
    elif direction != HIGH_IS_SUSPECT:
        raise ValueError(f"unknown direction {direction!r}")
    values = np.where(np.isnan(values), np.inf, values)  # rankdata would make every rank NaN
    return rankdata(values) / max(1, values.size)


def calibrate_presence(
    evidence: np.ndarray, labels: np.ndarray, iterations: int = 25, ridge: float = 1e-3
) -> np.ndarray:
    """Per-class monotone logistic calibration of presence evidence to probabilities.

    Parameters
    ----------
    evidence : (N, C) float, higher = class more likely present (any scale).
    labels : (N, C) 0/1 given labels, the (noisy) targets of the fit.

    Returns
    -------
    (N, C) float64 in (0, 1): ``sigmoid(a_c · z_ic + b_c)`` with ``z`` the class-standardised
    evidence and ``a_c >= 0`` (clipped), fitted by Newton steps on the logistic loss with a
    small ridge penalty; all classes at once.
    """
    evidence = np.asarray(evidence, dtype=np.float64)
    targets = np.asarray(labels, dtype=np.float64)
    mean = evidence.mean(axis=0)
    scale = evidence.std(axis=0)
    z = (evidence - mean) / np.where(scale > 0, scale, 1.0)
    n_classes = evidence.shape[1]
    prior = np.clip(targets.mean(axis=0), 1e-4, 1 - 1e-4)
    slope = np.ones(n_classes)
    intercept = np.log(prior / (1 - prior))
    for _ in range(iterations):
        probability = 1.0 / (1.0 + np.exp(-(z * slope + intercept)))
        residual = probability - targets
        weight = probability * (1 - probability)
        grad_slope = (residual * z).mean(axis=0) + ridge * slope
        grad_intercept = residual.mean(axis=0)
        h_ss = (weight * z * z).mean(axis=0) + ridge
        h_si = (weight * z).mean(axis=0)
        h_ii = weight.mean(axis=0) + 1e-12
        determinant = h_ss * h_ii - h_si * h_si
        determinant = np.where(np.abs(determinant) > 1e-12, determinant, 1e-12)
        slope = np.maximum(slope - (h_ii * grad_slope - h_si * grad_intercept) / determinant, 0.0)
        intercept = intercept - (h_ss * grad_intercept - h_si * grad_slope) / determinant
    return 1.0 / (1.0 + np.exp(-(z * slope + intercept)))


def stack_presence(
    calibrated: Sequence[np.ndarray], labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """Stack D detectors' calibrated (N, C) presence probabilities into one.

    Parameters
    ----------
    calibrated : D matrices (N, C) in (0, 1), higher = class more likely present.
    labels : (N, C) 0/1 given labels, the (noisy) targets of the fit.

    Returns
    -------
    presence : (N, C) ``sigmoid(sum_d w_d logit(P_d) + bias)``;
    weights : (D,) non-negative detector weights; bias : float.
    The weights and bias minimise the mean logistic loss against the given labels over all
    cells (L-BFGS-B, weights bounded below by 0 so that every detector can only raise the
    presence it sees as high; a useless detector gets weight 0). Start: equal weights 1/D.
    """
    if not calibrated:
        raise ValueError("no per-cell evidence to stack")
    shape = np.asarray(calibrated[0]).shape
    log_odds = np.stack(
        [_logit(np.asarray(matrix, dtype=np.float64)).ravel() for matrix in calibrated], axis=1
    )
    targets = np.asarray(labels, dtype=np.float64).ravel()
    n_detectors = log_odds.shape[1]

    def loss_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = log_odds @ theta[:-1] + theta[-1]
        residual = 1.0 / (1.0 + np.exp(-z)) - targets
        loss = float(np.mean(np.logaddexp(0.0, z) - targets * z))
        gradient = np.append(log_odds.T @ residual, residual.sum()) / targets.size
        return loss, gradient

    start = np.append(np.full(n_detectors, 1.0 / n_detectors), 0.0)
    bounds = [(0.0, None)] * n_detectors + [(None, None)]
    fit = minimize(loss_and_gradient, start, jac=True, method="L-BFGS-B", bounds=bounds)
    weights, bias = np.asarray(fit.x[:-1]), float(fit.x[-1])
    presence = 1.0 / (1.0 + np.exp(-(log_odds @ weights + bias)))
    return presence.reshape(shape), weights, bias


def _logit(probability: np.ndarray) -> np.ndarray:
    clipped = np.clip(probability, 1e-9, 1.0 - 1e-9)
    return np.asarray(np.log(clipped) - np.log1p(-clipped))


def fuse_presence(
    evidence: Mapping[str, np.ndarray], labels: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, float]]:
    """Calibrate every detector's (N, C) presence evidence and stack them.

    Returns the fused (N, C) presence probability, the calibrated matrix of each detector and
    each detector's stacking weight (see :func:`stack_presence`).
    """
    if not evidence:
        raise ValueError("no per-cell evidence to fuse")
    calibrated = {name: calibrate_presence(matrix, labels) for name, matrix in evidence.items()}
    fused, weights, _ = stack_presence(list(calibrated.values()), labels)
    return fused, calibrated, {name: float(w) for name, w in zip(calibrated, weights, strict=True)}


def cell_error_probability(labels: np.ndarray, presence: np.ndarray) -> np.ndarray:
    """(N, C) probability that each given cell is wrong: ``1 − P`` if given, ``P`` if absent."""
    given = np.asarray(labels).astype(bool)
    return np.where(given, 1.0 - presence, presence)


def cell_row_score(labels: np.ndarray, presence: np.ndarray) -> np.ndarray:
    """(N,) row quality from cells, low = suspect: weakest support × weakest rejection."""
    given = np.asarray(labels).astype(bool)
    weakest_support = np.where(given, presence, 1.0).min(axis=1, initial=1.0)
    weakest_rejection = np.where(given, 1.0, 1.0 - presence).min(axis=1, initial=1.0)
    return np.asarray(weakest_support * weakest_rejection)


def consensus_weights(suspicions: np.ndarray) -> np.ndarray:
    """(S, N) suspicion ranks -> (S,) weights: each signal's correlation with the mean of the
    others, floored at 0. Signals that agree with the rest count more; no truth is used."""
    n_signals = suspicions.shape[0]
    if n_signals == 1:
        return np.ones(1)
    weights = np.empty(n_signals)
    for index in range(n_signals):
        others = np.delete(suspicions, index, axis=0).mean(axis=0)
        correlation = np.corrcoef(suspicions[index], others)[0, 1]
        weights[index] = max(0.0, float(np.nan_to_num(correlation)))
    if weights.sum() == 0:
        return np.ones(n_signals)
    return weights


def fuse_rows(suspicions: Mapping[str, np.ndarray], anchor: str | None = None) -> np.ndarray:
    """(N,) suspicion ranks by name -> (N,) fused suspicion in (0, 1], higher = more suspect.

    The consensus-weighted mean of all ranks (:func:`consensus_weights`); with ``anchor`` (the
    row score of the fused cell evidence) the result is the mean of that anchor's rank and the
    consensus mean.
    """
    if not suspicions:
        raise ValueError("no signals to fuse")
    stacked = np.stack(list(suspicions.values()))
    weights = consensus_weights(stacked)
    consensus = (weights[:, None] * stacked).sum(axis=0) / weights.sum()
    if anchor is None:
        return np.asarray(consensus)
    return np.asarray(0.5 * suspicions[anchor] + 0.5 * consensus)


def confidently_wrong_rows(labels: np.ndarray, presence: np.ndarray) -> np.ndarray:
    """(N,) bool: rows with at least one confidently wrong cell (confident learning, per class).

    A given label is confidently wrong when its absence probability ``1 − P`` reaches the mean
    absence probability of the rows where the class is not given (and exceeds ``P``); an absent
    class is confidently missing when ``P`` reaches the mean presence of the rows where it is
    given (and exceeds ``1 − P``). Per-class thresholds adapt to rare and common classes.

    This is cleanlab's confident-learning filter, one-vs-rest per class
    (``cleanlab.multilabel_classification.filter.find_label_issues(...,
    filter_by="confident_learning")``), row for row: a test pins the equality. It is kept here,
    ten lines of numpy, because the scan needs it on the fused presence of every cell and
    cleanlab's version builds a confident joint per class around it.

    Parameters
    ----------
    labels : (N, C) 0/1 given labels; presence : (N, C) presence probability in [0, 1].
    """
    given = np.asarray(labels).astype(bool)
    n_classes = given.shape[1]
    present_mean = np.array(
        [presence[given[:, c], c].mean() if given[:, c].any() else 1.0 for c in range(n_classes)]
    )
    absent_mean = np.array(
        [
            (1 - presence[~given[:, c], c]).mean() if (~given[:, c]).any() else 1.0
            for c in range(n_classes)
        ]
    )
    wrong_given = given & ((1 - presence) >= absent_mean) & (presence < 0.5)
    wrong_absent = ~given & (presence >= present_mean) & (presence > 0.5)
    return np.asarray((wrong_given | wrong_absent).any(axis=1))


def estimate_noise_rate(labels: np.ndarray, presence: np.ndarray) -> float:
    """Share of rows with at least one confidently wrong cell (:func:`confidently_wrong_rows`:
    cleanlab's confident-learning filter, row for row)."""
    return float(confidently_wrong_rows(labels, presence).mean())


def flag_top(suspicion: np.ndarray, n_flagged: int) -> np.ndarray:
    """(N,) bool: the ``n_flagged`` most suspect rows (ties by row order)."""
    order = np.argsort(-np.asarray(suspicion), kind="stable")
    flagged = np.zeros(len(order), dtype=bool)
    flagged[order[: max(0, n_flagged)]] = True
    return flagged


def suggest_changes(
    labels: np.ndarray, presence: np.ndarray, flagged: np.ndarray, threshold: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell suggestions for the flagged rows.

    Parameters
    ----------
    labels : (N, C) 0/1 given labels; presence : (N, C) fused presence probability;
    flagged : (N,) bool rows to fix; threshold : error probability a cell must exceed.

    Returns
    -------
    remove, add : (N, C) bool. Unflagged rows get no suggestion. A flagged row loses its given
    label with the lowest presence when that presence is below ``1 − threshold`` and gains its
    absent class with the highest presence when that presence is above ``threshold``: at most
    one of each. A flagged row with neither gets its single most suspect cell changed. No row is
    left without a label: one that would be gets the likeliest other class added (a relabel).
    """
    given = np.asarray(labels).astype(bool)
    flagged = np.asarray(flagged, dtype=bool)
    rows = np.flatnonzero(flagged)
    remove = np.zeros_like(given)
    add = np.zeros_like(given)
    error = cell_error_probability(given, presence)
    given_error = np.where(given[rows], error[rows], -np.inf)
    absent_error = np.where(~given[rows], error[rows], -np.inf)
    worst_given = given_error.argmax(axis=1)
    worst_absent = absent_error.argmax(axis=1)
    worst_given_error = given_error[np.arange(len(rows)), worst_given]
    worst_absent_error = absent_error[np.arange(len(rows)), worst_absent]
    remove[rows, worst_given] = worst_given_error > threshold
    add[rows, worst_absent] = worst_absent_error > threshold
    unchanged = ~(remove[rows] | add[rows]).any(axis=1)
    prefer_removal = worst_given_error >= worst_absent_error
    remove[rows[unchanged & prefer_removal], worst_given[unchanged & prefer_removal]] = True
    add[rows[unchanged & ~prefer_removal], worst_absent[unchanged & ~prefer_removal]] = True
    # A row whose every label would go gets the likeliest other class instead (a relabel), or,
    # when every class is given, keeps its likeliest label.
    emptied = np.flatnonzero((given & ~remove).sum(axis=1) + add.sum(axis=1) == 0)
    has_absent = (~given[emptied]).any(axis=1)
    relabel, keep = emptied[has_absent], emptied[~has_absent]
    best_absent = np.where(given[relabel], -np.inf, presence[relabel]).argmax(axis=1)
    add[relabel, best_absent] = True
    best_given = np.where(given[keep], presence[keep], -np.inf).argmax(axis=1)
    remove[keep, best_given] = False
    return remove, add


def class_lists(matrix: np.ndarray, classes: Sequence[str]) -> list[list[str]]:
    """(N, C) bool -> per row, the class names that are set (class order)."""
    names = np.asarray(classes, dtype=object)
    return [names[row].tolist() for row in np.asarray(matrix, dtype=bool)]
