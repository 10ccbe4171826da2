"""Fusion: many signals in, one ``label_quality`` per row and one presence estimate per cell out.

No ground truth is used anywhere here. The rules (README, "How the audit decides"):

1. **Cells.** Each detector's per-cell presence evidence is calibrated, class by class, to a
   probability by a monotone one-dimensional logistic fit against the given labels (a monotone
   map cannot reorder a class's rows, and two parameters per class cannot memorise the noise);
   the calibrated probabilities are averaged over detectors: ``presence`` (N, C).
2. **Rows.** Every row signal becomes a suspicion rank in (0, 1] (its direction applied; ties
   share their average rank). The cell evidence gives one more row score: the weakest support
   among the given labels times the weakest rejection among the absent classes. The fused
   suspicion is half that cell score's rank plus half the consensus-weighted mean of all ranks
   (each signal weighted by its correlation with the mean of the others, floored at 0);
   ``label_quality`` = 1 − fused suspicion, in [0, 1], lower = more suspect (as cleanlab's).
3. **Noise rate.** Estimated from the cells by confident learning, class by class: the share of
   rows with at least one confidently wrong cell (:func:`estimate_noise_rate`). ``is_issue``
   flags that many rows, most suspect first.
4. **Label changes** (flagged rows only): remove a given label whose presence is below 0.5, add
   an absent class whose presence is above 0.5; if a flagged row would have no change, the
   single most suspect cell is changed; a row never ends with no label (the likeliest other
   class is added instead: a relabel).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from auditor.metrics import average_ranks


def suspicion_rank(values: np.ndarray, direction: str) -> np.ndarray:
    """(N,) signal -> (N,) suspicion in (0, 1], higher = more suspect, ties averaged.

    ``direction`` is ``low_is_suspect`` or ``high_is_suspect``.
    """
    values = np.asarray(values, dtype=np.float64)
    if direction == "low_is_suspect":
        values = -values
    elif direction != "high_is_suspect":
        raise ValueError(f"unknown direction {direction!r}")
    return average_ranks(values) / max(1, values.size)


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


def fuse_presence(
    evidence: Mapping[str, np.ndarray], labels: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Calibrate every detector's (N, C) presence evidence and average them.

    Returns the fused (N, C) presence probability and the calibrated matrix of each detector.
    """
    if not evidence:
        raise ValueError("no per-cell evidence to fuse")
    calibrated = {name: calibrate_presence(matrix, labels) for name, matrix in evidence.items()}
    fused = np.mean(np.stack(list(calibrated.values())), axis=0)
    return fused, calibrated


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


def estimate_noise_rate(labels: np.ndarray, presence: np.ndarray) -> float:
    """Share of rows with at least one confidently wrong cell (confident learning, per class).

    A given label is confidently wrong when its absence probability ``1 − P`` reaches the mean
    absence probability of the rows where the class is not given (and exceeds ``P``); an absent
    class is confidently missing when ``P`` reaches the mean presence of the rows where it is
    given (and exceeds ``1 − P``). Per-class thresholds adapt to rare and common classes.
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
    return float((wrong_given | wrong_absent).any(axis=1).mean())


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
    flagged : (N,) bool rows to fix; threshold : presence below it removes, above it adds.

    Returns
    -------
    remove, add : (N, C) bool. Unflagged rows get no suggestion. A flagged row with no cell past
    the threshold gets its single most suspect cell changed. No row is left without a label:
    one that would be gets the likeliest other class added (a relabel).
    """
    given = np.asarray(labels).astype(bool)
    flagged = np.asarray(flagged, dtype=bool)
    remove = given & (presence < threshold) & flagged[:, None]
    add = ~given & (presence > threshold) & flagged[:, None]
    error = cell_error_probability(given, presence)
    unchanged = flagged & ~(remove | add).any(axis=1)
    rows = np.flatnonzero(unchanged)
    worst = error[rows].argmax(axis=1)
    remove[rows, worst] = given[rows, worst]
    add[rows, worst] = ~given[rows, worst]
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
