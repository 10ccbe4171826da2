"""Fusion: many signals in, one ``label_quality`` per row and one presence estimate per cell out.

No ground truth is used anywhere here. The rules (docs/design.md, "How the audit decides"):

1. **Cells.** Each detector's per-cell presence evidence is calibrated, class by class, to a
   probability by a monotone one-dimensional logistic fit against the given labels (a monotone
   map cannot reorder a class's rows, and two parameters per class cannot memorise the noise);
   the detectors' calibrated log-odds are then stacked by one more logistic fit against the
   given labels, over all cells at once, with one non-negative weight per detector and a bias
   (:func:`stack_presence`): ``presence`` (N, C). A handful of weights cannot memorise the noise
   either; they let the detectors that explain the labels best count most.
2. **Noise model** (:func:`estimate_noise_model`). Per class and per direction, the number of
   spurious given labels and of missing ones, by mixture proportion estimation on the two tails
   of the class's presence (confident learning's class-conditional joint, one per class and
   direction; each tail's reference holds the other direction's noise, which is corrected
   for, :func:`true_label_positions`; the spurious reads lose the share that their rows' other
   labels support, true labels the content does not show, :func:`context_supported_share`):
   the cells those counts select, the per-direction row
   rates and the regime
   (``mostly missing tags`` ...). A kNN vote in the input space (no fit to the labels) gives the
   content-free floor of each class's labels; when it exceeds the calibrated spurious estimate
   by far, the noise is common enough that every fit learned it: the model says NOT
   IDENTIFIABLE instead of reporting a clean data set. ``--noise`` imposes a direction.
3. **Rows.** Every row signal becomes a suspicion rank in (0, 1] (its direction applied; ties
   share their average rank). The cell evidence gives one more row score: the rank of the
   strongest doubt about a given label and the rank of the strongest sign of a missing class,
   mixed by the estimated direction shares (a missing-tag regime spends no suspicion on given
   labels). The fused suspicion is half that cell score's rank plus half the consensus-weighted
   mean of all ranks (each signal weighted by its correlation with the mean of the others,
   floored at 0). In a ``mostly missing tags`` regime the anchor leans on the rank of the
   strongest sign of a missing class alone, and its share grows, by how purely the noise drops
   tags (:func:`missing_dominance`, :func:`fuse_rows`): every detector's own row score
   suspects the given labels. ``label_quality`` = 1 − fused suspicion, lower = more suspect.
4. **Noise rate.** Per direction, the share of rows holding a wrong cell: the counts over the
   number of wrong cells per wrong row, read from how the selected cells gather in rows beyond
   chance (:func:`clustered_row_rate`); overall, the union of the two directions with their
   overlap read the same way, from cell pairs (:func:`union_row_rate`); where those pairs say
   each wrong label displaced a true one, both directions read one share, their mean
   (:func:`displaced_row_share`), and the spurious count the rows are read from is not cut
   by the label context below the missing one (:func:`displaced_spurious_counts`). Under a
   missing-tag
   majority the spurious rows count as far as their rows depart from chance against the
   missing ones in the held-out evidence, as noise's do, and an avoidance as far as it is as
   strong as a mixture's (:func:`evidence_rows_z`, :func:`evidence_rows_avoidance`,
   :func:`trusted_spurious_rows`). A count that would
   fill every row is a cap, not a reading: the model says NOT IDENTIFIABLE
   (:func:`count_saturates`). ``is_issue`` flags that many rows, most suspect first. The
   rates' spread is read again on resampled rows (:func:`row_rate_spread`).
5. **Label changes** (flagged rows only, :func:`suggest_directed_changes`): per row at most
   one removal and one addition (the strongest), in the directions the noise model found (a
   row whose problem is a missing tag gets an addition, not a removal; in a missing-tag
   regime removals only when the rows read as spurious avoid those read as missing, a
   mixture, :func:`overlap_z`), each only when it
   passes three tests at the target precision (the threshold, 0.7): its error probability,
   its posterior under the model's class-conditional rates (:func:`noise_posterior`; a given
   cell's rate is its row kind's, :func:`row_spurious_lift`) and its
   false-discovery q-value on the held-out evidence (:func:`direction_qvalues`). A flagged row
   with no such cell gets no change (review only): precision over coverage. In single-label
   data an addition replaces the label (a relabel); a row never ends with no label.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

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


def fuse_rows(
    suspicions: Mapping[str, np.ndarray],
    anchor: str | None = None,
    missing_sign: np.ndarray | None = None,
    missing_weight: float = 0.0,
) -> np.ndarray:
    """(N,) suspicion ranks by name -> (N,) fused suspicion in (0, 1], higher = more suspect.

    The consensus-weighted mean of all ranks (:func:`consensus_weights`); with ``anchor`` (the
    row score of the fused cell evidence) the result is the mean of that anchor's rank and the
    consensus mean. With ``missing_sign`` ((N,) suspicion rank of the strongest sign of a
    missing class, :func:`strongest_missing_sign`) and ``missing_weight`` w in [0, 1]
    (:func:`missing_dominance`), the anchor becomes ``(1 − w) · anchor + w · missing_sign`` and
    its share of the result ``(1 + w) / 2``: at w = 1 the row suspicion comes from the absent
    classes alone, since every detector's own row score suspects the given labels.
    """
    if not suspicions:
        raise ValueError("no signals to fuse")
    stacked = np.stack(list(suspicions.values()))
    weights = consensus_weights(stacked)
    consensus = (weights[:, None] * stacked).sum(axis=0) / weights.sum()
    if anchor is None:
        return np.asarray(consensus)
    anchored = suspicions[anchor]
    weight = float(np.clip(missing_weight, 0.0, 1.0)) if missing_sign is not None else 0.0
    if weight > 0:
        anchored = (1.0 - weight) * anchored + weight * np.asarray(missing_sign)
    share = 0.5 + 0.5 * weight
    return np.asarray(share * anchored + (1.0 - share) * consensus)


def strongest_missing_sign(labels: np.ndarray, presence: np.ndarray) -> np.ndarray:
    """(N,) the largest presence among each row's absent classes (0 for a row with none).

    labels : (N, C) 0/1 given labels; presence : (N, C) fused presence probability. A row score
    that suspects no given label: the row's likeliest missing tag.
    """
    given = np.asarray(labels).astype(bool)
    presence = np.clip(np.asarray(presence, dtype=np.float64), 0.0, 1.0)
    return np.asarray(np.where(given, 0.0, presence).max(axis=1, initial=0.0))


def flag_top(suspicion: np.ndarray, n_flagged: int) -> np.ndarray:
    """(N,) bool: the ``n_flagged`` most suspect rows (ties by row order)."""
    order = np.argsort(-np.asarray(suspicion), kind="stable")
    flagged = np.zeros(len(order), dtype=bool)
    flagged[order[: max(0, n_flagged)]] = True
    return flagged


def class_lists(matrix: np.ndarray, classes: Sequence[str]) -> list[list[str]]:
    """(N, C) bool -> per row, the class names that are set (class order)."""
    names = np.asarray(classes, dtype=object)
    return [names[row].tolist() for row in np.asarray(matrix, dtype=bool)]


# ------------------------------------------------------------------ direction-aware noise model
NOISE_PRIORS = ("missing", "spurious", "both")
"""``--noise``: the user's prior on the noise's direction (None = estimated from the data)."""

ONE_DIRECTION_REGIMES = ("mostly missing tags", "mostly spurious tags")
"""The regimes (:attr:`NoiseModel.regime`) in which the noise runs one way."""

UNIDENTIFIABLE_GAP = 0.15
"""The calibration is called unable to separate noise from signal when the content-free floor of
the given labels (:func:`label_floor`) exceeds the calibrated spurious estimate by this much."""


@dataclass(frozen=True, eq=False)
class NoiseModel:
    """Per class and per direction, how many given cells are wrong (confident learning).

    Attributes
    ----------
    given : (C,) int, rows carrying each class as given.
    n_spurious, n_missing : (C,) int, estimated wrong given labels / missing true labels.
    spurious_cells, missing_cells : (N, C) bool, the cells those counts select: per class the
        ``n_spurious[c]`` given cells with the lowest presence and the ``n_missing[c]`` absent
        cells with the highest.
    floor_rate : (C,) share of the given labels of each class that the input space does not
        explain (:func:`label_floor`); evidence that no fit to the given labels produced.
    identifiable : whether the calibrated estimate agrees with that floor and neither
        direction's count fills every row (:func:`count_saturates`); reason says why not.
    prior : the direction the user imposed (``missing``, ``spurious``) or None.
    spurious_q, missing_q : (N, C) false-discovery q-value of removing each given cell / adding
        each absent one (:func:`direction_qvalues`; 1 for the cells of the other kind).
    spurious_row_share, missing_row_share : estimated share of rows with a wrong cell of each
        direction (:func:`clustered_row_rate` on the cells the counts select in the held-out
        evidence, :func:`evidence_row_rates`; where fewer rows read spurious than missing, the
        spurious one times the trust in its reads, :func:`trusted_spurious_rows`); None = the
        share of rows the cells select.
    noisy_row_rate : estimated share of rows with a wrong cell in either direction
        (:func:`union_row_rate`, likewise); None = the larger direction's row rate.
    displaced : whether the cell pairs of the counts' selections in the held-out evidence read
        each wrong label as displacing a true one (:func:`counted_row_rates`), which is when
        :func:`estimate_noise_model` reads the model again matched on busyness.
    """

    given: np.ndarray
    n_spurious: np.ndarray
    n_missing: np.ndarray
    spurious_cells: np.ndarray
    missing_cells: np.ndarray
    spurious_q: np.ndarray
    missing_q: np.ndarray
    floor_rate: np.ndarray
    identifiable: bool
    reason: str
    prior: str | None
    spurious_row_share: float | None = None
    missing_row_share: float | None = None
    noisy_row_rate: float | None = None
    displaced: bool = False

    @property
    def spurious_rate(self) -> np.ndarray:
        """(C,) estimated share of each class's given labels that are wrong."""
        return np.asarray(self.n_spurious / np.maximum(self.given, 1))

    @property
    def missing_rate(self) -> np.ndarray:
        """(C,) estimated share of each class's true occurrences missing from the labels."""
        true_count = self.given - self.n_spurious + self.n_missing
        return np.asarray(self.n_missing / np.maximum(true_count, 1))

    @property
    def spurious_rows(self) -> np.ndarray:
        return np.asarray(self.spurious_cells.any(axis=1))

    @property
    def missing_rows(self) -> np.ndarray:
        return np.asarray(self.missing_cells.any(axis=1))

    @property
    def noisy_rows(self) -> np.ndarray:
        """(N,) bool: rows with at least one selected cell (either direction)."""
        return np.asarray(self.spurious_rows | self.missing_rows)

    @property
    def spurious_row_rate(self) -> float:
        """Estimated share of rows with a spurious label (:attr:`spurious_row_share`)."""
        if self.spurious_row_share is not None:
            return self.spurious_row_share
        return float(self.spurious_rows.mean())

    @property
    def missing_row_rate(self) -> float:
        """Estimated share of rows missing a label (:attr:`missing_row_share`)."""
        if self.missing_row_share is not None:
            return self.missing_row_share
        return float(self.missing_rows.mean())

    @property
    def row_rate(self) -> float:
        """Estimated share of noisy rows (either direction): :attr:`noisy_row_rate`, the union
        of the two directions' rows with their overlap corrected for the selections'
        imprecision (:func:`union_row_rate`). Without it, the larger direction's row rate,
        which undercounts a mixture by its minority direction."""
        if self.noisy_row_rate is not None:
            return self.noisy_row_rate
        return max(self.missing_row_rate, self.spurious_row_rate)

    @property
    def regime(self) -> str:
        """``mostly missing tags``, ``mostly spurious tags``, ``both directions`` or ``clean``
        (:func:`direction_regime` of the two row rates)."""
        return direction_regime(self.missing_row_rate, self.spurious_row_rate)

    def describe(self) -> str:
        """One line for the terminal, e.g. ``mostly missing tags: 23 % of rows lack at least one
        tag; spurious tags 2 %``."""
        line = (
            f"{self.regime}: {100 * self.missing_row_rate:.0f} % of rows lack at least one tag; "
            f"spurious tags {100 * self.spurious_row_rate:.0f} %"
        )
        if self.prior is not None:
            line += f" (--noise {self.prior})"
        if not self.identifiable:
            line += f". NOT IDENTIFIABLE: {self.reason}"
        return line


def direction_regime(missing: float, spurious: float) -> str:
    """The regime of a scan from its shares of rows missing a label and carrying a spurious
    one: ``clean`` below 2 % together, ``mostly missing tags`` / ``mostly spurious tags`` where
    one share is at least twice the other, else ``both directions``."""
    if missing + spurious < 0.02:
        return "clean"
    if missing >= 2 * spurious:
        return "mostly missing tags"
    if spurious >= 2 * missing:
        return "mostly spurious tags"
    return "both directions"


TAIL_QUANTILES = np.array([0.05, 0.1, 0.2, 0.3])
"""Tail sizes, as shares of the reference cells, at which the mixture proportion is read. Small
tails hold the fewest cells of the other component, so they give the tightest bound; the share
is read at the one tail size whose bound, pooled over the classes, is the smallest."""
MIN_TAIL_CELLS = 10
"""A class's tail with fewer reference cells is too coarse to read its own proportion from; the
class then takes the pooled proportion."""


def tail_position(mixed: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(n,) share of ``reference`` at or below each value of ``mixed`` (ties count half).

    For values drawn like the reference the positions are uniform on [0, 1]; values drawn from
    a distribution that sits higher crowd near 1.
    """
    ordered = np.sort(np.asarray(reference, dtype=np.float64))
    mixed = np.asarray(mixed, dtype=np.float64)
    if ordered.size == 0:
        return np.ones_like(mixed)
    below = np.searchsorted(ordered, mixed, side="left")
    at_or_below = np.searchsorted(ordered, mixed, side="right")
    return np.asarray((below + at_or_below) / (2.0 * ordered.size))


def resolvable_tails(reference: np.ndarray, true_share: float = 1.0) -> np.ndarray:
    """(Q,) bool: whether any cell of ``reference`` has its own :func:`tail_position` at or
    below each q of :data:`TAIL_QUANTILES`; with ``true_share`` < 1, its position among the
    reference's true cells (:func:`true_label_positions`).

    Tied evidence puts whole blocks of cells at one position (a block's position is the share
    below it plus half the block): a class whose calibration found no slope for a held-out
    detector is left with the other's few values or with one. Where the reference's lowest
    block holds more than 2q of its cells, no cell, reference or mixed, can fall in the tail,
    and the class would read 0 noise for want of a tail, not for want of noise (Wikipedia
    pairflip 0.8: the held-out evidence of three of the ten classes is constant, each read 0
    spurious labels for a truth of 0.81–0.87; MIRFlickr stand-in class flips 0.8: one class
    of 24 read 0 for 0.44).
    """
    reference = np.asarray(reference, dtype=np.float64)
    if reference.size == 0:
        return np.zeros(TAIL_QUANTILES.size, dtype=bool)
    # the lowest block's own position is half its share (none below it): no sort needed, the
    # reference can hold every absent cell of a class
    lowest = np.count_nonzero(reference == reference.min()) / (2.0 * reference.size)
    return np.asarray(lowest / true_share <= TAIL_QUANTILES)


def pooled_tail_shares(
    positions: Sequence[np.ndarray],
    n_reference: np.ndarray,
    resolvable: np.ndarray | None = None,
    pooled_base: np.ndarray | None = None,
    widest_unless_tighter: bool = False,
) -> np.ndarray:
    """(C,) share of each class's mixed cells that is drawn like its reference cells.

    Parameters
    ----------
    positions : C arrays, each class's mixed cells' :func:`tail_position` in its reference.
    n_reference : (C,) number of reference cells of each class (may be fractional: the true
        part of a contaminated reference).
    resolvable : (C, Q) bool, each class's :func:`resolvable_tails`; None = every tail (evidence
        without ties).
    pooled_base : (C,) what a class's share is proportional to when it cannot be read; None =
        every class alike. A class too rare to read takes ``pooled_base[c]`` times the pooled
        ratio of share to base over the classes read. The missing share of a class's absent
        cells grows with the class's frequency (its given over its absent cells is the base):
        taken alike, a class of 23 given labels in 3,000 rows read 117 missing labels for 7
        (MIRFlickr stand-in ``missing`` 0.5).
    widest_unless_tighter : read at the widest qualifying tail, and at a smaller one only where
        its pooled bound is lower by :data:`TIGHTER_Z` standard deviations of the difference
        (:func:`tighter_tails`), instead of at the smallest bound plus one standard error.

    Mixture proportion estimation (Scott's estimator, discretised): if a share α of the mixed
    cells is drawn like the reference and the rest sits above its low tail, the share of mixed
    cells in the reference's lowest q, divided by q, is α plus that rest's tail mass: an upper
    bound that tightens as q shrinks. Per class the bound is read at every q of
    :data:`TAIL_QUANTILES` that holds at least :data:`MIN_TAIL_CELLS` reference cells; the q with
    the smallest bound pooled over the classes (weighted by their mixed cells) is used for
    every class, and a class too rare to read there takes the pooled share. Reading each class
    at its own best q instead scattered the rare classes' estimates (MIRFlickr stand-in, 3,000
    rows, pairflip 0.2: a class of 60 given labels read 1,146 missing for a truth of 2).
    """
    n_classes = len(positions)
    n_mixed = np.array([position.size for position in positions], dtype=np.float64)
    # On data too small for any class to hold MIN_TAIL_CELLS in its largest tail, read the
    # loose large-tail bound anyway: an overestimate leaves the direction open, where a zero
    # closed it (60 audited rows: every missing label was read as 0 and no addition suggested).
    largest_tail = TAIL_QUANTILES.max() * np.asarray(n_reference, dtype=np.float64)
    min_cells = MIN_TAIL_CELLS if (largest_tail >= MIN_TAIL_CELLS).any() else 1
    if resolvable is None:
        resolvable = np.ones((n_classes, TAIL_QUANTILES.size), dtype=bool)
    bounds = np.full((n_classes, TAIL_QUANTILES.size), np.nan)
    in_tail = np.zeros((n_classes, TAIL_QUANTILES.size))
    for c, position in enumerate(positions):
        # a tail the reference's ties leave empty is not read: the class takes the pooled
        # share there, like a class too rare to read
        readable = (TAIL_QUANTILES * n_reference[c] >= min_cells) & resolvable[c]
        if position.size and readable.any():
            tail = TAIL_QUANTILES[readable]
            in_tail[c, readable] = (position[:, None] <= tail[None, :]).sum(axis=0)
            bounds[c, readable] = in_tail[c, readable] / position.size / tail
    readable = ~np.isnan(bounds)
    weight = readable * n_mixed[:, None]
    if not weight.any():
        return np.zeros(n_classes)
    covered = weight.sum(axis=0)
    pooled = np.nansum(bounds * weight, axis=0) / np.maximum(covered, 1e-12)
    # A tail size qualifies when the classes readable there hold at least half of the mixed
    # cells.
    qualifies = covered >= 0.5 * n_mixed.sum()
    candidates = [int(j) for j in np.flatnonzero(qualifies)] or [int(np.flatnonzero(covered).max())]
    # The smallest bound, judged with one standard error added: the minimum of noisy bounds
    # is biased low (the winner's curse), and a small tail's bound is the noisiest. The error
    # of a count k is taken as √(k + 1), not √k: a tail that holds no mixed cell has an error
    # of one cell, so a zero in a tail too small to hold a cell by chance does not win (the
    # reason a tail once had to hold MIN_TAIL_CELLS mixed cells to qualify), while a zero in
    # a tail large enough to hold many is read as the zero it is. With the count rule, a
    # direction without noise read its few mixed cells at the largest tail (MIRFlickr stand-in
    # ``spurious`` 0.5 / 0.8: 54 / 229 missing cells, 0.018 / 0.076 of the rows, where the
    # two smaller tails held none).
    standard_error = np.sqrt(in_tail.sum(axis=0) + 1.0) / (
        TAIL_QUANTILES * np.maximum(covered, 1e-12)
    )
    if widest_unless_tighter:
        candidates = tighter_tails(pooled, in_tail.sum(axis=0), covered, candidates)
    best = min(candidates, key=lambda j: pooled[j] + standard_error[j])
    fallback = np.full(n_classes, pooled[best])
    if pooled_base is not None:
        base = np.asarray(pooled_base, dtype=np.float64)
        read = weight[:, best]
        ratio = np.nansum(bounds[:, best] * read) / max(float((base * read).sum()), 1e-12)
        fallback = ratio * base
    share = np.where(readable[:, best], bounds[:, best], fallback)
    return np.asarray(np.clip(share, 0.0, 1.0))


TIGHTER_Z = 2.0
"""How many standard deviations below the widest tail's bound a smaller tail's bound must fall
to be read instead (:func:`tighter_tails`; one-sided p ≈ 0.02)."""


def tighter_tails(
    pooled: np.ndarray, counts: np.ndarray, covered: np.ndarray, candidates: Sequence[int]
) -> list[int]:
    """The tail sizes (indices into :data:`TAIL_QUANTILES`) a mixture proportion may be read at:
    the widest of ``candidates`` and each smaller one whose pooled bound is below the widest's
    by at least :data:`TIGHTER_Z` standard deviations of the difference.

    Parameters
    ----------
    pooled : (Q,) pooled bound per tail size; counts : (Q,) mixed cells in each tail (pooled
        over the classes read there); covered : (Q,) mixed cells of those classes;
    candidates : the qualifying tail sizes (:func:`pooled_tail_shares`).

    Scott's bound tightens as the tail shrinks only where the other component reaches into the
    tail; where the mixed cells below the tail are all drawn like the reference, every tail
    reads the same share and the smaller ones only add noise. The smallest of the noisy reads
    (even with one standard error added) is then biased low: Wikipedia pairflip 0.8, where a
    wrong label replaces the true one at random, read 0.69-0.79 of the given labels as wrong
    for 0.80 at five seeds, while the widest tail read 0.86-0.88 of the absent cells' tail
    for 0.878. The tails are nested, so the difference of two bounds has the variance
    ``k_s / (m_s q_s)² + k_w / (m_w q_w)² − 2 k_s / (m_s m_w q_s q_w)`` (counts k, cells m,
    sizes q of the small and wide tail; Poisson counts, each with one added like the standard
    error there).
    """
    widest = max(candidates)
    scale = TAIL_QUANTILES * np.maximum(np.asarray(covered, dtype=np.float64), 1e-12)
    count = np.asarray(counts, dtype=np.float64) + 1.0
    variance = count / scale**2 + count[widest] / scale[widest] ** 2
    variance -= 2.0 * count / (scale * scale[widest])
    spread = np.sqrt(np.maximum(variance, 0.0))
    return [
        j for j in candidates if j == widest or pooled[widest] - pooled[j] >= TIGHTER_Z * spread[j]
    ]


MIN_TRUE_SHARE = 0.05
"""A class read as almost all spurious keeps this share of its given cells as its true labels
(the division in :func:`true_label_positions` stays finite; such a class's tail then holds too
few cells to read and takes the pooled share)."""


def true_label_share(spurious_read: np.ndarray) -> np.ndarray:
    """(C,) share of each class's given cells taken as its true labels: 1 − β for its spurious
    read β (C,), at least :data:`MIN_TRUE_SHARE`."""
    return np.asarray(np.maximum(1.0 - np.asarray(spurious_read, dtype=np.float64), MIN_TRUE_SHARE))


def true_label_positions(position: np.ndarray, true_share: float) -> np.ndarray:
    """(n,) positions of absent cells among a class's true given labels, from their
    :func:`tail_position` (n,) among all its given labels (high presence first, as read for
    the missing direction), of which a share ``true_share`` (:func:`true_label_share`) are
    true and the rest sit below the top as spurious labels.

    The given cells' top q is the top q / (1 − β) of their true labels when a share β of them
    is spurious and sits below it: the same q is a wider slice of the true labels the more
    spurious labels a class holds, and Scott's bound, which tightens as its tail shrinks,
    then holds more true negatives (MIRFlickr stand-in pairflip 0.8, 3,000 rows: a class with
    60 % of its 200 given labels spurious read 304 missing labels for 50). Dividing the
    positions by 1 − β reads every class at the same share q of its true labels; the share
    read is then the missing share itself. The rule before read at q / (1 − β) and
    multiplied the read by 1 − β (``uncontaminated_shares``), which corrects the mean but not
    the looser bound. β is the spurious read itself, true labels the content hides included:
    they sit below the top too.
    """
    return np.asarray(np.asarray(position, dtype=np.float64) / true_share)


def displaced_shares(
    spurious_read: np.ndarray, n_given: np.ndarray, n_absent: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(C,) spurious share of the given cells and (C,) missing share of the absent cells of
    single-label data, from the spurious tails read against the absent cells.

    Parameters
    ----------
    spurious_read : (C,) each class's spurious share as read in its absent cells' low tail
        (:func:`pooled_tail_shares`); n_given, n_absent : (C,) given / absent cells per class.

    In single-label data every wrong label displaced one true label, so the missing cells are
    as many as the spurious ones, and they are not read but counted: a share
    α = Σ β_c n_c / Σ n_absent of the absent cells (one pooled share: the displaced label's
    class is not read per class). Those cells are true labels and sit above the absent low
    tail, so that tail is the true negatives' q / (1 − α) and each class reads
    β_r = β / (1 − α). Solved together: with a = Σ β_r,c n_c / Σ n_absent, α = a / (1 + a)
    and β = β_r (1 − α). The multi-label form (then ``uncontaminated_shares``) took the
    missing share for a read contaminated by the spurious labels (α = α_r (1 − β)); fed
    a count instead of a read, it corrected a share that holds no contamination, and fed the
    uncorrected spurious read, it took that count too high: Wikipedia pairflip 0.8 read 0.859
    for 0.800, symmetric 0.8 0.769 for 0.717.
    """
    spurious_read = np.clip(np.asarray(spurious_read, dtype=np.float64), 0.0, 1.0)
    read_total = float((spurious_read * np.asarray(n_given)).sum()) / max(
        float(np.asarray(n_absent).sum()), 1.0
    )
    missing = read_total / (1.0 + read_total)
    return np.asarray(spurious_read * (1.0 - missing)), np.full(spurious_read.shape, missing)


BUSYNESS_STRATA = 3
"""Rows are split into this many strata of equal size by their neighbours' label count when the
spurious read is matched on busyness (:func:`busyness_strata`). On the MIRFlickr stand-in
(10,000 rows, symmetric 0.5), 3 / 5 / 10 strata put the wrong labels at 0.92-0.97 / 0.99-1.01 /
1.01-1.05 of the share of the absent cells' tails they would fill drawn like them (1 with no
strata: 0.57-0.72), and read 16,138 / 17,618 / 19,018 given cells as spurious for 16,361 (15,183
wrong labels against absent cells 7 % of which are true; the true labels the content hides
count too, and the label context then takes them out); 3 gave the most rates within ±0.05 on
the benchmark matrices (docs/benchmarks.md, "Issue 13, nineteenth session")."""


def neighbour_label_count(vote: np.ndarray) -> np.ndarray:
    """(N,) mean number of labels a row's nearest neighbours in the input space carry, from the
    kNN ``vote`` (N, C), each class's share of the neighbours that carry it.

    How many things the content shows, read without the row's own labels: tags added to a row
    raise its own label count and tags dropped lower it, but not its neighbours' (their noise
    moves every row's count alike, on average).
    """
    return np.asarray(np.asarray(vote, dtype=np.float64).sum(axis=1))


def busyness_strata(busyness: np.ndarray, n_strata: int = BUSYNESS_STRATA) -> np.ndarray:
    """(N,) int stratum of each row: the share of rows below its ``busyness`` (N,) cut into
    ``n_strata`` equal parts (ties share a stratum, so strata may be unequal)."""
    busyness = np.asarray(busyness, dtype=np.float64)
    edges = np.quantile(busyness, np.arange(1, n_strata) / n_strata)
    return np.asarray(np.digitize(busyness, edges))


def positions_within_strata(
    values: np.ndarray, placed: np.ndarray, reference: np.ndarray, strata: np.ndarray
) -> np.ndarray:
    """(N,) :func:`tail_position` of each ``placed`` cell's value among the ``reference``
    cells' values of its own stratum; NaN for the cells not placed and for those whose stratum
    holds no reference cell.

    Parameters
    ----------
    values : (N,) one class's values (evidence, context); placed, reference : (N,) bool;
    strata : (N,) int, each row's stratum.
    """
    values = np.asarray(values, dtype=np.float64)
    placed, reference = np.asarray(placed, dtype=bool), np.asarray(reference, dtype=bool)
    position = np.full(values.shape, np.nan)
    for stratum in np.unique(strata[placed]):
        rows = strata == stratum
        if (reference & rows).any():
            position[placed & rows] = tail_position(values[placed & rows], values[reference & rows])
    return position


def matched_tail_position(
    values: np.ndarray, mixed: np.ndarray, reference: np.ndarray, strata: np.ndarray
) -> np.ndarray:
    """(n_mixed,) :func:`tail_position` of each ``mixed`` cell among the ``reference`` cells of
    its own stratum (:func:`positions_within_strata`; parameters as there), in row order. A
    stratum without reference cells places its mixed cells among all of them."""
    values = np.asarray(values, dtype=np.float64)
    mixed = np.asarray(mixed, dtype=bool)
    position = positions_within_strata(values, mixed, reference, strata)
    unmatched = mixed & np.isnan(position)
    position[unmatched] = tail_position(values[unmatched], values[np.asarray(reference, bool)])
    return np.asarray(position[mixed])


def direction_counts(
    labels: np.ndarray,
    presence: np.ndarray,
    busyness: np.ndarray | None = None,
    joint: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """The class-conditional noise joint, per class and per direction (no ground truth).

    Parameters
    ----------
    labels : (N, C) 0/1 given labels; presence : (N, C) presence evidence (any scale that is
        monotone within a class: only ranks within a class matter). It should come from models
        that never saw the row's own labels (see :func:`estimate_noise_model`).
    busyness : (N,) how many things each row's content shows (:func:`neighbour_label_count`),
        or None. Given, each given cell's place in the absent cells' tail is read among the
        absent cells of rows as busy (:func:`busyness_strata`, :func:`matched_tail_position`):
        a class is given more often in rows with more labels, and content that shows more
        raises every class's presence, so wrong labels that keep their row's label count sit
        above the class's average absent cell (:func:`estimate_noise_model` says when).
    joint : in multi-label rows, read the two directions' shares together
        (:func:`read_missing_shares`, up to :data:`JOINT_READ_ROUNDS` rounds) instead of the
        missing share once against the spurious read as it stands (which
        :func:`estimate_noise_model` keeps where wrong labels displace true ones).

    Returns
    -------
    n_spurious, n_missing : (C,) int. Per class, the given cells are a mixture of true
    occurrences and spurious labels that look like the absent cells: the share of spurious ones
    is the share of given cells drawn like the absent cells, read in the absent cells' low
    tail (:func:`pooled_tail_shares`); symmetrically, the share of absent cells drawn like the
    given ones, read in the given cells' high tail, counts the missing labels. This is
    confident learning's class-conditional joint for a binary task, one per class and
    direction, read from the tails instead of thresholds at the class means: the mean
    thresholds count every hard true occurrence as noise, and a calibration fitted to the
    given labels puts as much expected mass on one direction as on the other.

    A true label that leaves no trace in the content looks exactly like a spurious one, so the
    spurious count is an upper bound: on ``audit synth`` data, where 9 % of the true labels
    leave no trace in either view, it reads about 0.1 of the given labels as spurious when
    none are. :func:`estimate_noise_model` takes out the share of those reads that the rows'
    other labels support (:func:`context_supported_share`).
    """
    given = np.asarray(labels).astype(bool)
    presence = np.asarray(presence, dtype=np.float64)
    n_classes = given.shape[1]
    strata = (
        np.zeros(given.shape[0], dtype=np.int64) if busyness is None else busyness_strata(busyness)
    )
    spurious_positions, absent_tails = [], []
    for c in range(n_classes):
        spurious_positions.append(
            matched_tail_position(presence[:, c], given[:, c], ~given[:, c], strata)
        )
        absent_tails.append(resolvable_tails(presence[~given[:, c], c]))
    n_given = given.sum(axis=0)
    n_absent = given.shape[0] - n_given
    single_label = is_single_label(given)
    # Single-label rows: a wrong label replaced the true one at random, so the given cells in
    # the absent cells' low tail are wrong ones whatever the tail's size, and a smaller tail
    # only adds noise (:func:`tighter_tails`). Multi-label rows keep the smallest bound: their
    # spurious read also counts the true labels the content hides, which a wider tail reads
    # more of (synthetic ``missing`` 0.2 with the widest tail: 0.12 of the rows read spurious
    # for none, the regime tipped to ``both directions`` and 19 removals were all wrong).
    spurious_read = pooled_tail_shares(
        spurious_positions,
        n_absent,
        np.array(absent_tails),
        widest_unless_tighter=single_label,
    )
    if single_label:
        # Single-label rows: each wrong label displaced one true label, so the absent cells'
        # missing share is the spurious labels' count over the absent cells, not the read
        # one (which overshoots on confusable classes: Wikipedia pairflip 0.5, 3,820 missing
        # cells read for 1,086).
        spurious_share, missing_share = displaced_shares(spurious_read, n_given, n_absent)
    else:
        # The missing tail is read among each class's true given labels (the spurious ones
        # sit below the given cells' top), so the share read is the missing share itself.
        given_top = [-presence[given[:, c], c] for c in range(n_classes)]
        positions = [
            tail_position(-presence[~given[:, c], c], given_top[c]) for c in range(n_classes)
        ]
        missing_share = read_missing_shares(positions, given_top, n_absent, spurious_read)
        if joint:
            # the missing tail read again with the spurious share corrected as below
            missing_share = settled_read(
                lambda share: read_missing_shares(
                    positions, given_top, n_absent, spurious_read * (1.0 - share)
                ),
                missing_share,
            )
        # the absent cells' low tail is their true negatives' q / (1 − α): β_r = β / (1 − α)
        spurious_share = spurious_read * (1.0 - missing_share)
    return (
        np.round(spurious_share * n_given).astype(np.int64),
        np.round(missing_share * n_absent).astype(np.int64),
    )


JOINT_READ_ROUNDS = 20
"""Most readings of the missing share in the joint read of :func:`direction_counts`. On the
benchmark matrices (docs/benchmarks.md, "Issue 13, twenty-second session") the reads settle
in 2-3 readings but for class flips (3-16); three synthetic class-flip cases fall into a cycle
instead (0.5 / 0.8 at 3,000 rows, seed 0, and 0.5 at 10,000 rows, seed 2; see
:func:`settled_read`)."""
JOINT_READ_TOLERANCE = 1e-4
"""The joint read stops when no class's missing share moves by this much in a round, and
two reads this close are one state of a cycle."""


def settled_read(
    read_again: Callable[[np.ndarray], np.ndarray],
    first: np.ndarray,
    rounds: int = JOINT_READ_ROUNDS,
    tolerance: float = JOINT_READ_TOLERANCE,
) -> np.ndarray:
    """(C,) the shares a repeated read settles on, starting from ``first`` (C,).

    ``read_again`` maps one read to the next. The read stops when no share moves by
    ``tolerance``. The tails a read counts in are chosen by how many cells they hold, so the
    map is a step function and can fall into a cycle instead (the synthetic class flips 0.8
    at 3,000 rows, seed 0, return every fourth read: 6,288 / 6,512 / 6,327 / 6,298 missing
    cells); a read that returns to an earlier state would repeat the cycle forever, and which
    of its states the last round lands on says nothing about the data, so the result is the
    mean of the cycle's states. A read that neither settles nor cycles within ``rounds``
    reads is taken at the last.
    """
    states = [np.asarray(first, dtype=np.float64)]
    for _ in range(rounds - 1):
        current = np.asarray(read_again(states[-1]), dtype=np.float64)
        if np.abs(current - states[-1]).max() < tolerance:
            return current
        for start, earlier in enumerate(states[:-1]):
            if np.abs(current - earlier).max() < tolerance:
                return np.asarray(np.mean(states[start:], axis=0))
        states.append(current)
    return states[-1]


def read_missing_shares(
    positions: Sequence[np.ndarray],
    given_top: Sequence[np.ndarray],
    n_absent: np.ndarray,
    spurious_share: np.ndarray,
) -> np.ndarray:
    """(C,) missing share of each class's absent cells, read in the top tail of its true given
    labels (:func:`pooled_tail_shares`).

    Parameters
    ----------
    positions : C arrays, each class's absent cells' :func:`tail_position` among all its given
        cells, high presence first; given_top : C arrays, each class's given cells' presence
        negated (their own order, for :func:`resolvable_tails`); n_absent : (C,) absent cells;
    spurious_share : (C,) share of each class's given cells taken as spurious, which sit below
        the top (:func:`true_label_positions`).

    The two directions' reads are each contaminated by the other's noise: the spurious read
    β_r against the absent cells, whose low tail is the true negatives' q / (1 − α) when a
    share α of them are missing labels, is β / (1 − α); the missing read, placed among the
    true given labels, takes 1 − β of them as true. Read once with β_r, class flips (a
    share of each class's labels switched off, as many absent cells switched on) count a
    class with many missing labels as more spurious than it is, and its missing labels fall
    short in proportion: seeded flips of half the labels of 8 classes read 23–35 % of the
    missing labels too few (tests/auditor/test_fusion.py); read together with β = β_r (1 − α)
    until α settles, within 16 %, and the benchmark's synthetic class flips 0.8 at 3,000
    rows, seed 1, read 0.844 of the rows missing a tag for 0.888 instead of 0.663.
    """
    n_given = np.array([values.size for values in given_top], dtype=np.float64)
    true_share = true_label_share(spurious_share)
    return pooled_tail_shares(
        [true_label_positions(positions[c], true_share[c]) for c in range(len(positions))],
        n_given * true_share,
        np.array([resolvable_tails(given_top[c], true_share[c]) for c in range(len(positions))]),
        pooled_base=n_given / np.maximum(n_absent, 1),
    )


def select_cells(scores: np.ndarray, eligible: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(N, C) bool: per class c, the ``counts[c]`` eligible cells with the highest score."""
    keyed = np.where(eligible, np.asarray(scores, dtype=np.float64), -np.inf)
    order = np.argsort(-keyed, axis=0, kind="stable")
    position = np.empty_like(order)
    np.put_along_axis(position, order, np.arange(order.shape[0])[:, None], axis=0)
    return np.asarray(eligible & (position < np.asarray(counts)[None, :]))


def is_single_label(labels: np.ndarray) -> bool:
    """Whether every row of ``labels`` (N, C) 0/1, C > 1, carries exactly one label."""
    given = np.asarray(labels).astype(bool)
    return bool(given.shape[1] > 1 and (given.sum(axis=1) == 1).all())


def displaces_labels(labels: np.ndarray, prior: str | None) -> bool:
    """Whether each spurious label's missing twin is the true label it displaced
    (:func:`displaced_labels`): single-label ``labels`` (N, C) with both directions estimated."""
    return prior in (None, "both") and is_single_label(labels)


def direction_cells(
    labels: np.ndarray,
    scores: np.ndarray,
    n_spurious: np.ndarray,
    n_missing: np.ndarray,
    prior: str | None,
) -> tuple[np.ndarray, np.ndarray]:
    """(N, C) bool spurious cells and (N, C) bool missing cells that the counts select.

    Per class c the ``n_spurious[c]`` given cells of lowest ``scores`` (N, C), a presence
    probability, and the ``n_missing[c]`` absent cells of highest; where labels are displaced
    (:func:`displaces_labels`) the missing cells are the labels the spurious ones displaced.
    """
    given = np.asarray(labels).astype(bool)
    spurious = select_cells(1.0 - scores, given, n_spurious)
    if displaces_labels(given, prior):
        return spurious, displaced_labels(given, scores, spurious)
    return spurious, select_cells(scores, ~given, n_missing)


def tail_qvalues(mixed: np.ndarray, reference: np.ndarray, share: float) -> np.ndarray:
    """(n,) false-discovery q-value of calling each value of ``mixed`` drawn like ``reference``.

    ``mixed`` is a sample of which a share ``share`` is drawn like ``reference`` (the rest sits
    higher). Of the mixed values at or below v, the expected share drawn like the reference is
    ``share · F_reference(v) / F_mixed(v)`` (F the empirical CDFs): the precision of calling
    them all. The q-value of a value is one minus the best such precision over the lower tails
    that contain it (Storey's q-value: monotone in the value, like Benjamini-Hochberg's).
    """
    mixed = np.asarray(mixed, dtype=np.float64)
    if mixed.size == 0:
        return np.ones(0)
    order = np.argsort(mixed, kind="stable")
    ordered = mixed[order]
    reference = np.sort(np.asarray(reference, dtype=np.float64))
    in_reference = np.searchsorted(reference, ordered, side="right") / max(1, reference.size)
    in_mixed = np.searchsorted(ordered, ordered, side="right") / ordered.size
    precision = np.minimum(share * in_reference / in_mixed, 1.0)
    best = np.maximum.accumulate(precision[::-1])[::-1]  # the best tail that holds the value
    q = np.empty_like(best)
    q[order] = 1.0 - best
    return q


def direction_qvalues(
    labels: np.ndarray, evidence: np.ndarray, n_spurious: np.ndarray, n_missing: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(N, C) q-values of removing each given cell and of adding each absent one (no truth).

    Parameters
    ----------
    labels : (N, C) 0/1 given labels; evidence : (N, C) presence evidence that never saw the
        row's own labels (the one :func:`direction_counts` reads the counts from);
    n_spurious, n_missing : (C,) the noise model's counts.

    The mixture the counts come from, read cell by cell: per class, the given cells are a share
    ``n_spurious / given`` drawn like the absent cells, so a given cell's q-value is the
    expected share of true labels among the given cells at or below its evidence
    (:func:`tail_qvalues`); symmetrically for the absent cells, the missing share and the
    upper tail. Suggesting only cells with q ≤ 1 − target precision keeps each class's
    suggestions at that precision as far as the counts are right. They are upper bounds on the
    spurious side (true labels that leave no trace in the content read as spurious), so the
    q-values of removals are too low where such labels outnumber the spurious ones.
    Cells of the other kind get 1.
    """
    given = np.asarray(labels).astype(bool)
    evidence = np.asarray(evidence, dtype=np.float64)
    spurious_q, missing_q = np.ones(given.shape), np.ones(given.shape)
    for c in range(given.shape[1]):
        positive, negative = given[:, c], ~given[:, c]
        n_positive, n_negative = int(positive.sum()), int(negative.sum())
        spurious_q[positive, c] = tail_qvalues(
            evidence[positive, c], evidence[negative, c], n_spurious[c] / max(1, n_positive)
        )
        missing_q[negative, c] = tail_qvalues(
            -evidence[negative, c], -evidence[positive, c], n_missing[c] / max(1, n_negative)
        )
    return spurious_q, missing_q


def pooled_share_cap(counts: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """(C,) int: each class's count capped at the pooled share, ``totals[c] · Σ counts / Σ totals``.

    A class's spurious count is read from its own tail and includes its true labels that the
    content does not show; those concentrate in the classes the evidence explains worst, so a
    class reading far above the data set's pooled share is mostly reading them. Where the noise
    runs one way (tags added or dropped at random) the classes share one rate and the excess
    over the pooled share is that bias; where labels are confused between classes (pairflip,
    class flips) the per-class rates genuinely differ and the cap would cut true removals
    (MIRFlickr stand-in, pairflip 0.5: 498 removals at precision 0.83 capped to 119 at 0.74).
    """
    counts = np.asarray(counts)
    totals = np.asarray(totals)
    pooled = float(counts.sum()) / max(1, int(totals.sum()))
    return np.asarray(np.minimum(counts, np.round(pooled * totals)).astype(np.int64))


SEPARATE_ROWS_Z = 3.0
"""How far below chance (in standard deviations) the overlap of the rows read as spurious and
the rows read as missing must fall for a missing-tag regime to take removals: one test per
scan whose wrong "yes" costs every removal, so a strict level (one-sided p ≈ 0.001)."""


def chance_of_a_cell(cells: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """(N,) probability that a row holds one of ``cells`` (N, C) if each class's cells were
    spread at random over its ``eligible`` (N, C) cells: ``1 − prod(1 − rate_c)`` over the row's
    eligible cells. A row with many given labels is likelier to hold a spurious read, one with
    many absent classes a missing read."""
    return np.asarray(1.0 - (1.0 - chance_spread(cells, eligible)).prod(axis=1))


def overlap_z(
    cells_a: np.ndarray, eligible_a: np.ndarray, cells_b: np.ndarray, eligible_b: np.ndarray
) -> float:
    """z-score of the number of rows holding cells of both selections (N, C) against its value
    if each selection's cells were spread at random over its eligible cells
    (:func:`chance_of_a_cell`, rows independent); negative = the two avoid each other's rows.

    The chance has to follow each row's eligible cells: rows that lost a label have fewer
    given labels to read as spurious, so against the plain product of the two row shares a
    missing-only noise already read as avoidance (seeded 8-class data with faint true labels:
    z −2.9 / −1.2 / −2.7; with this chance −1.5 / −0.1 / −1.1)."""
    observed, expected, variance = row_overlap(cells_a, eligible_a, cells_b, eligible_b)
    if variance <= 0:
        return 0.0
    return float((observed - expected) / math.sqrt(variance))


def overlap_avoidance(
    cells_a: np.ndarray, eligible_a: np.ndarray, cells_b: np.ndarray, eligible_b: np.ndarray
) -> float:
    """The share of the rows that would hold cells of both selections (N, C) at random which do
    not, ``1 − observed / expected`` (:func:`row_overlap`; parameters as :func:`overlap_z`):
    how strongly the two avoid each other's rows, whatever the number of rows (the z of
    :func:`overlap_z` grows as its root). Negative where they share rows; 0 where nothing is
    expected."""
    observed, expected, _ = row_overlap(cells_a, eligible_a, cells_b, eligible_b)
    if expected <= 0:
        return 0.0
    return float(1.0 - observed / expected)


def row_overlap(
    cells_a: np.ndarray, eligible_a: np.ndarray, cells_b: np.ndarray, eligible_b: np.ndarray
) -> tuple[float, float, float]:
    """``(observed, expected, variance)`` of the number of rows holding cells of both
    selections (N, C): as counted, and as it would be with each selection's cells spread at
    random over its eligible cells (:func:`chance_of_a_cell`, rows independent)."""
    rows_a = np.asarray(cells_a, dtype=bool).any(axis=1)
    rows_b = np.asarray(cells_b, dtype=bool).any(axis=1)
    both = chance_of_a_cell(cells_a, eligible_a) * chance_of_a_cell(cells_b, eligible_b)
    return float((rows_a & rows_b).sum()), float(both.sum()), float((both * (1.0 - both)).sum())


def label_context(labels: np.ndarray) -> np.ndarray:
    """(N, C) how well each class fits the row's OTHER given labels, learnt from the other rows.

    labels : (N, C) 0/1 given labels. For row i and class c: the mean, over the row's other
    given classes j, of P(c | j) counted on every row but i (leave-own-row-out co-occurrence,
    so a label never supports itself); NaN when the row has no other label (single-label
    data has no context). No content and no fit: evidence that is independent of the presence
    the noise counts are read from. Tags come in scenes (sky and clouds, sea and water): a true
    label the content does not show still fits its row's other labels, a tag added from the
    wrong photo does not.
    """
    given = np.asarray(labels, dtype=np.float64)
    together = given.T @ given  # (C, C) rows carrying both classes
    count = np.diag(together).copy()
    inverse = 1.0 / np.maximum(count - 1.0, 1.0)  # P(. | j) over the other rows holding j
    summed = (given * inverse) @ together  # sum_j y_ij (n_jc) / (n_j - 1), own row included
    # take the row's own contribution (y_ic for each j) and the j = c term out
    summed -= given * (given @ inverse)[:, None]
    summed -= given * (inverse * (count - 1.0))[None, :]
    others = given.sum(axis=1, keepdims=True) - given
    return np.asarray(np.where(others > 0, summed / np.maximum(others, 1.0), np.nan))


MIN_CONTEXT_LIFT = 0.1
"""The label context corrects the spurious counts only where it tells given labels from absent
ones: the reference true labels' mean context position (:func:`context_supported_share`) must
exceed the 0.5 of a class that fits every row alike by this much (else: no co-occurrence
structure, one label per row, or labels too noisy for their co-occurrences to carry anything,
as on the seeded test data of independently drawn classes)."""
MOST_OTHER_LABELS = 4
"""Rows with this many other labels or more share one reference in :func:`context_positions`."""


EXCLUSIVE_MIN_EXPECTED = 5.0
"""Two classes count as exclusive when they never share a row though independence would put
at least this many rows under both (a Poisson count of mean 5 is 0 with probability 0.007)."""


def exclusive_classes(labels: np.ndarray) -> np.ndarray:
    """(C, C) bool: classes that never share a row of the given labels, (N, C) 0/1, though
    their frequencies say they would (:data:`EXCLUSIVE_MIN_EXPECTED`).

    One colour per photo, bright or dark: a wrong label that REPLACES a true one of its group
    keeps the group exclusive, and takes away the label that excluded it, so it fits its row's
    other labels. Against rows holding another class of the group it sits high by
    construction (the own-data walk-through, 60 photos with 8 colours swapped: all 11 spurious
    reads read as true labels, row AUROC 0.98 → 0.81); such rows are no reference for it
    (:func:`context_positions`). Added tags break exclusivity, so they are unaffected.
    """
    given = np.asarray(labels, dtype=np.float64)
    together = given.T @ given
    count = np.diag(together)
    expected = np.outer(count, count) / max(1, given.shape[0])
    exclusive = (together == 0) & (expected >= EXCLUSIVE_MIN_EXPECTED)
    np.fill_diagonal(exclusive, False)
    return np.asarray(exclusive)


def context_positions(trusted: np.ndarray, given: np.ndarray) -> np.ndarray:
    """(N, C) position of each given cell's :func:`label_context` among its class's absent cells
    in rows with as many other labels (:func:`tail_position`); NaN elsewhere.

    Parameters
    ----------
    trusted : (N, C) bool, the given labels the context is learnt from and read on;
    given : (N, C) bool, all given labels (the cells placed, and the absent cells of reference).

    A tag added to a row without regard to its content sits among its class's absent cells
    like any of them: position uniform, mean 0.5 (measured 0.46-0.51 on the benchmark's
    ``spurious`` and ``mixed`` cases). The reference rows carry as many other labels as the
    cell's own, since a row's number of labels shifts every class's context: with one
    reference for all rows, seeded data of independently drawn classes (no co-occurrence to
    read) showed a lift of the true labels and lost 31 % of its spurious counts; per number of
    other labels it shows none.
    """
    trusted = np.asarray(trusted, dtype=bool)
    given = np.asarray(given, dtype=bool)
    context = label_context(trusted)
    others = np.minimum(trusted.sum(axis=1, keepdims=True) - trusted, MOST_OTHER_LABELS)
    # A row holding a class that never comes with c could not hold c: it is no reference.
    blocked = (given.astype(np.float64) @ exclusive_classes(given).astype(np.float64)) > 0
    position = np.full(given.shape, np.nan)
    for c in range(given.shape[1]):
        # rows with no other label have no context to place
        rows = (others[:, c] >= 1) & ~blocked[:, c]
        position[:, c] = positions_within_strata(
            context[:, c], given[:, c] & rows, ~given[:, c] & rows, others[:, c]
        )
    return position


def context_supported_share(labels: np.ndarray, evidence: np.ndarray, counts: np.ndarray) -> float:
    """Share of the given cells read as spurious that their rows' other labels support as true.

    Parameters
    ----------
    labels : (N, C) 0/1 given labels; evidence : (N, C) the held-out presence the counts were
        read from; counts : (C,) the spurious counts (:func:`direction_counts`), which select
        each class's ``counts[c]`` given cells of lowest evidence (the read cells).

    A true label that leaves no trace in the content reads as spurious, and nothing in the
    content tells it from one; its row's other labels do, on average. The context is learnt
    from the given labels not read (:func:`label_context`), so that noise which always adds
    the same class to the same company (pairflip at 0.8) does not teach it. A tag added from
    the wrong photo sits among its class's absent cells (:func:`context_positions`) at mean
    position 0.5; a true label at the mean μ_T of the true labels like it. With μ_S the read
    cells' mean position, they are a share π = (μ_S − 0.5) / (μ_T − 0.5) of true labels (a
    mixture of two means, clipped to [0, 1]). μ_T is read on the weaker half of each class's
    unread given labels (by evidence): the true labels the content hides are the harder ones of
    their class, with a weaker context than the clearly shown ones (synthetic ``missing``,
    every read label true: π 0.37-0.41 against all unread labels, 0.52-0.56 against the weaker
    half; still an underestimate, so the correction only moves the counts towards the truth).
    0 when the context does not tell given labels from absent ones (μ_T − 0.5 below
    :data:`MIN_CONTEXT_LIFT`) or no cell can be read (a row with no other label has no context).
    """
    given = np.asarray(labels).astype(bool)
    doubt = -np.asarray(evidence, dtype=np.float64)
    counts = np.asarray(counts)
    selected = select_cells(doubt, given, counts)
    weaker_half = select_cells(doubt, given, counts + (given.sum(axis=0) - counts) // 2)
    position = context_positions(given & ~selected, given)
    read, rest = position[selected], position[weaker_half & ~selected]
    read, rest = read[~np.isnan(read)], rest[~np.isnan(rest)]
    if not read.size or not rest.size:
        return 0.0
    true_lift = float(rest.mean()) - 0.5
    if true_lift < MIN_CONTEXT_LIFT:
        return 0.0
    return float(np.clip((float(read.mean()) - 0.5) / true_lift, 0.0, 1.0))


def label_floor(labels: np.ndarray, vote: np.ndarray, quantile: float = 0.02) -> np.ndarray:
    """(C,) share of each class's given labels that the input space does not explain.

    Parameters
    ----------
    labels : (N, C) 0/1 given labels; vote : (N, C) share of each row's nearest neighbours in
        the input space that carry each class (the kNN vote; no fit to the labels).

    Per class, the ``quantile`` of the vote over all rows is the rate at which the class is
    given whatever the content (the neighbourhoods where it never applies still carry it at
    that rate); times N over the given count, the share of the given labels that are
    content-free. Clean tags sit on their content, so the floor is near 0; tags added at random
    raise it in every neighbourhood.
    """
    given = np.asarray(labels).astype(bool)
    floor = np.quantile(np.asarray(vote, dtype=np.float64), quantile, axis=0)
    return np.asarray(np.clip(floor * given.shape[0] / np.maximum(given.sum(axis=0), 1), 0, 1))


def estimate_noise_model(
    labels: np.ndarray,
    presence: np.ndarray,
    vote: np.ndarray | None = None,
    prior: str | None = None,
    held_out: np.ndarray | None = None,
) -> NoiseModel:
    """The direction-aware noise model of a scan (no ground truth).

    Parameters
    ----------
    labels : (N, C) 0/1 given labels; presence : (N, C) fused presence probability, which
        ranks the cells the counts select.
    vote : (N, C) kNN vote in the input space, or None (then identifiability is not checked).
    prior : ``missing`` or ``spurious`` zeroes the other direction; ``both`` / None estimate both.
    held_out : (N, C) presence evidence from a model that never saw the row's own labels (the
        out-of-fold probe), which the counts are read from; None reads them from ``presence``.
        The counts need evidence that did not fit the noise: the hashers train on the given
        labels and give a spurious label the presence of a true one (MIRFlickr stand-in,
        pairflip 0.5: 2 % of the given labels read as spurious from the fused presence, 19 %
        from the out-of-fold probe, truth 13 %).

    Where the rows read each wrong label as displacing a true one (pairflip, symmetric
    redraws: :func:`counted_row_rates`), the model is read again with the spurious tail
    matched on the rows' busyness (:func:`neighbour_label_count`, :func:`direction_counts`).
    Such wrong labels keep their row's label count, so they fall in label-rich rows as often
    as the class's true labels do, and there the held-out presence of every class is higher:
    on the MIRFlickr stand-in (10,000 rows, symmetric 0.5) they filled 0.57-0.72 of the
    absent cells' low tail they would fill drawn like them, 0.92-0.97 matched on 3 strata.
    Only these are read again: tags added to rows (the ``spurious`` protocol, mixtures) fall in
    rows drawn at random, and matching them too left 94 of 138 and 43 of 72 benchmark rates
    within ±0.05 (3,000 / 10,000 rows), against 101 and 47 this way and 103 and 44 unmatched.
    The matched read is kept only where its own rows still read a displacement: where they
    come apart, the spurious rows over-read and the missing ones under-read (synthetic
    symmetric 0.8 at 10,000 rows: 0.947 / 0.462 for 0.793). Single-label rows all carry one
    label and are not matched.

    The two directions' shares are read together (``joint``, :func:`read_missing_shares`)
    except where the rows read a displacement: there the spurious read under-counts the wrong
    labels that sit in label-rich rows, and the joint read passes that on to the missing count
    (the stand-in's symmetric 0.5 at 3,000 rows: +0.063 / +0.068 → +0.082 / +0.081), so the
    displacement is read as before, matched or not. Read together everywhere, the benchmark
    matrices put 98 of 138 and 74 of 108 rates within ±0.05; together except where displaced,
    103 and 72; one-way, 102 and 70 (docs/benchmarks.md, "Issue 13, twenty-second session").
    """
    model = read_noise_model(labels, presence, vote, prior, held_out, joint=True)
    if not model.displaced or is_single_label(labels):
        return model
    if vote is not None:
        busyness = neighbour_label_count(vote)
        matched = read_noise_model(labels, presence, vote, prior, held_out, busyness)
        if matched.displaced:
            return matched
    return read_noise_model(labels, presence, vote, prior, held_out)


RATE_RESAMPLES = 20
"""Resamples of the rows :func:`row_rate_spread` reads the noise model on by default: the
standard deviation of 20 draws is itself within about 16 % of the truth."""
RATE_RESAMPLE_ROWS = 10_000
"""At most this many rows are drawn per resample (:func:`row_rate_spread`); larger data sets are
read on resamples of this size and the spread scaled down by √(drawn / rows), so the cost stays
about 20 readings of 10,000 rows (about 7 s on one core) however large the data."""


def row_rate_spread(
    labels: np.ndarray,
    presence: np.ndarray,
    vote: np.ndarray | None,
    prior: str | None,
    held_out: np.ndarray | None,
    n_resamples: int,
    rng: np.random.Generator,
    max_rows: int = RATE_RESAMPLE_ROWS,
) -> tuple[float, float, float]:
    """Standard deviations of the noisy, missing and spurious row shares that
    :func:`estimate_noise_model` reads (parameters as there, all (N, ...) arrays indexed by
    row), over ``n_resamples`` (≥ 2) resamples of the rows drawn with replacement from ``rng``.

    The noise rate is read from tails and cell pairs, so it moves with the rows the data
    happens to hold: on the benchmark matrix the standard deviation of the overall rate is
    0.028 at the median at 3,000 audited rows (up to 0.14), 0.016 at 10,000. The detectors'
    outputs stay fixed, so the spread leaves out how their training varies and any bias of the
    estimate (the true labels the content hides, read as spurious): it is the least
    uncertainty of the rate, not a confidence interval. Two standard deviations covered the
    true rate in 114 of 138 cases at 3,000 rows and 64 of 108 at 10,000 (docs/benchmarks.md,
    "The spread of the noise rate"). Data sets larger than ``max_rows`` are read on resamples of
    ``max_rows`` rows and the spread scaled by √(max_rows / N), the rate's error shrinking as
    one over the root of the rows.
    """
    if n_resamples < 2:
        raise ValueError(f"the spread needs at least 2 resamples, got {n_resamples}")
    n_rows = np.asarray(labels).shape[0]
    drawn = min(n_rows, max_rows)
    reads = np.empty((n_resamples, 3))
    for index in range(n_resamples):
        rows = rng.integers(0, n_rows, size=drawn)
        model = estimate_noise_model(
            labels[rows],
            presence[rows],
            None if vote is None else vote[rows],
            prior,
            None if held_out is None else held_out[rows],
        )
        reads[index] = model.row_rate, model.missing_row_rate, model.spurious_row_rate
    spread = reads.std(axis=0, ddof=1) * math.sqrt(drawn / n_rows)
    return float(spread[0]), float(spread[1]), float(spread[2])


def read_noise_model(
    labels: np.ndarray,
    presence: np.ndarray,
    vote: np.ndarray | None,
    prior: str | None,
    held_out: np.ndarray | None,
    busyness: np.ndarray | None = None,
    joint: bool = False,
) -> NoiseModel:
    """One reading of :func:`estimate_noise_model` (parameters as there), with the spurious
    tail matched on ``busyness`` (N,) when given and the two directions read together with
    ``joint`` (:func:`direction_counts`)."""
    if prior is not None and prior not in NOISE_PRIORS:
        raise ValueError(f"unknown noise prior {prior!r}; choose one of {', '.join(NOISE_PRIORS)}")
    given = np.asarray(labels).astype(bool)
    evidence = presence if held_out is None else held_out
    n_spurious, n_missing = direction_counts(given, evidence, busyness, joint)
    spurious_read = n_spurious
    # The spurious counts include the true labels the content does not show, whatever the
    # prior; the share of the read cells that their rows' other labels support is taken out.
    supported = context_supported_share(given, evidence, n_spurious)
    n_spurious = np.round(n_spurious * (1.0 - supported)).astype(np.int64)
    if prior == "missing":
        n_spurious = np.zeros_like(n_spurious)
    elif prior == "spurious":
        n_missing = np.zeros_like(n_missing)
    floor = np.zeros(given.shape[1]) if vote is None else label_floor(given, vote)
    n_given = given.sum(axis=0)
    floor_share = float((floor * n_given).sum() / max(1, n_given.sum()))
    calibrated_share = float(n_spurious.sum() / max(1, n_given.sum()))
    identifiable = floor_share - calibrated_share <= UNIDENTIFIABLE_GAP or prior == "missing"
    reason = ""
    if not identifiable:
        reason = (
            f"{100 * floor_share:.0f} % of the given labels are not explained by the input "
            f"space (kNN vote floor), but the calibrated estimate finds "
            f"{100 * calibrated_share:.0f} % spurious: the noise is common enough that fits to "
            "the given labels learn it as signal, so the rates may be far off in either "
            "direction and the suggestions find only part of the wrong labels"
        )
    spurious_cells, missing_cells = direction_cells(given, presence, n_spurious, n_missing, prior)
    if displaces_labels(given, prior):
        n_missing = missing_cells.sum(axis=0)
    spurious_q, missing_q = direction_qvalues(given, evidence, n_spurious, n_missing)
    model = NoiseModel(
        given=n_given,
        n_spurious=n_spurious,
        n_missing=n_missing,
        spurious_cells=spurious_cells,
        missing_cells=missing_cells,
        spurious_q=spurious_q,
        missing_q=missing_q,
        floor_rate=floor,
        identifiable=identifiable,
        reason=reason,
        prior=prior,
    )
    read = read_selections(given, evidence, model)  # the cells the row shares are read from
    spurious_share, missing_share, noisy_row_rate, displaced = evidence_row_rates(
        given, evidence, model, spurious_read, read
    )
    fused_posterior = noise_posterior(given, presence, model)
    fused_precisions = (
        mean_or_one(fused_posterior[model.spurious_cells]),
        mean_or_one(fused_posterior[model.missing_cells]),
    )
    saturated = (
        saturation_reason(given, model, fused_precisions)
        or read_saturation(given, model, read)
        or ranking_dependence(given, model, read)
    )
    model = replace(
        model,
        spurious_row_share=spurious_share,
        missing_row_share=missing_share,
        noisy_row_rate=noisy_row_rate,
        displaced=displaced,
        identifiable=identifiable and not saturated,
        reason="; ".join(part for part in (reason, saturated) if part),
    )
    if prior is None and model.spurious_row_rate < model.missing_row_rate:
        # Where fewer rows read spurious than missing, the spurious reads count as rows of
        # added tags only as far as their rows are tied to the missing ones; true labels the
        # content hides sit at random (synthetic ``missing`` 0.2: 0.075 of the rows read
        # spurious for none; at seed 2 0.122, which read ``both directions`` before the test
        # reached it there), or avoid them less than a mixture's tags do. The test reads the
        # cells the row shares come from (:func:`evidence_rows_z`,
        # :func:`evidence_rows_avoidance`).
        trust = spurious_read_trust(
            evidence_rows_z(given, read), evidence_rows_avoidance(given, read)
        )
        model = trusted_spurious_rows(model, trust)
    if model.regime in ONE_DIRECTION_REGIMES and n_spurious.any():
        # One direction: the classes share one spurious rate, and a class's read above the
        # pooled one is its own faint true labels (:func:`pooled_share_cap`).
        capped_q, _ = direction_qvalues(
            given, evidence, pooled_share_cap(n_spurious, n_given), n_missing
        )
        model = replace(model, spurious_q=capped_q)
    return model


def evidence_row_rates(
    labels: np.ndarray,
    evidence: np.ndarray,
    model: NoiseModel,
    spurious_read: np.ndarray | None = None,
    read: ReadSelections | None = None,
) -> tuple[float, float, float, bool]:
    """``(spurious rows, missing rows, noisy rows, displaced)``: the model's counts turned into
    shares of rows, read from the cells the counts describe in the evidence they were read
    from, and whether the model's own counts read a displacement (:func:`counted_row_rates`).

    Parameters
    ----------
    labels : (N, C) 0/1 given labels; evidence : (N, C) the held-out presence
        :func:`direction_counts` read the counts from (a probability calibrated against the
        given labels by a model that never saw the row's own labels);
    model : the noise model, whose ``n_spurious`` / ``n_missing`` (C,) are placed;
    spurious_read : (C,) the spurious counts before the label context's correction
        (:func:`context_supported_share`), or None. Where the context cut the spurious total
        below the missing one, the rows are read again from the counts
        :func:`displaced_spurious_counts` floors at the missing total, and that reading is
        kept where its cell pairs read each wrong label as displacing a true one;
    read : the model's own :func:`read_selections` in ``evidence`` when the caller has them
        already, or None to select them here.

    Per class the ``n_spurious[c]`` given cells of lowest evidence and the ``n_missing[c]``
    absent cells of highest (in single-label data the label each spurious one displaced;
    :func:`direction_cells`) are the cells whose gathering in rows
    (:func:`clustered_row_rate`, :func:`union_row_rate`) converts the counts into rows, with
    each selection's precision read under the same evidence (:func:`read_selections`).
    The model's own cells rank by the fused presence, whose hashers trained on the given
    labels: they pull an absent true cell's presence down, so the posterior read from the
    fused presence puts the precision of its selection near 0.55 whatever the truth (MIRFlickr
    stand-in ``missing`` 0.8: 0.52 for 0.67), and the excess of pairs, divided by its square,
    read fewer wrong cells per row than there are (1.18 for 1.41; rows 0.98 for 0.81).
    """
    rates = counted_row_rates(labels, evidence, model, read)
    floored = displaced_spurious_counts(model.n_spurious, spurious_read, model.n_missing)
    if floored is not None:
        again = counted_row_rates(labels, evidence, replace(model, n_spurious=floored))
        if again[3]:
            return (*again[:3], rates[3])
    return rates


def counted_row_rates(
    labels: np.ndarray,
    evidence: np.ndarray,
    model: NoiseModel,
    read: ReadSelections | None = None,
) -> tuple[float, float, float, bool]:
    """``(spurious rows, missing rows, noisy rows, displaced)`` read from the cells the model's
    counts select in ``evidence`` (N, C) (:func:`evidence_row_rates` explains the reading;
    ``labels`` (N, C) 0/1; ``read`` those cells when already selected): ``displaced`` says the
    cell pairs read each wrong label as displacing a true one, and then the three shares are
    one (:func:`displaced_row_share`)."""
    given = np.asarray(labels).astype(bool)
    spurious, missing, precisions = (
        read_selections(given, evidence, model) if read is None else read
    )
    spurious_share = clustered_row_rate(spurious, given, precisions[0])
    missing_share = clustered_row_rate(missing, ~given, precisions[1])
    rates = (spurious_share, missing_share)
    # the cell pairs are read once, for the union and for the displacement test
    both = rows_wrong_both_ways(spurious, missing, given, rates, precisions)
    shared = None if both is None else displaced_row_share(rates, both)
    if shared is not None:
        return shared, shared, shared, True
    return spurious_share, missing_share, union_of_shares(rates, both), False


ReadSelections = tuple[np.ndarray, np.ndarray, tuple[float, float]]
"""What :func:`read_selections` returns: the spurious and missing cells (N, C) bool and their
expected shares of wrong cells."""


def read_selections(labels: np.ndarray, evidence: np.ndarray, model: NoiseModel) -> ReadSelections:
    """``(spurious cells, missing cells, (spurious precision, missing precision))``: the cells
    (N, C) bool the model's counts select in the held-out ``evidence`` (N, C), which the row
    shares are read from (:func:`evidence_row_rates`), and the expected share of wrong cells in
    each: the spurious cells' mean :func:`noise_posterior`, the missing cells'
    :func:`missing_selection_precision`. ``labels`` (N, C) 0/1 given labels."""
    given = np.asarray(labels).astype(bool)
    evidence = np.asarray(evidence, dtype=np.float64)
    spurious, missing = direction_cells(
        given, evidence, model.n_spurious, model.n_missing, model.prior
    )
    posterior = noise_posterior(given, evidence, model)
    true_share = true_label_share(model.n_spurious / np.maximum(model.given, 1))
    precisions = (
        mean_or_one(posterior[spurious]),
        missing_selection_precision(given, evidence, missing, model.n_missing, true_share),
    )
    return spurious, missing, precisions


def missing_selection_precision(
    labels: np.ndarray,
    evidence: np.ndarray,
    cells: np.ndarray,
    n_missing: np.ndarray,
    true_share: np.ndarray,
) -> float:
    """Expected share of missing labels among the absent cells selected as missing, under the
    mixture the missing counts were read from (no ground truth).

    Parameters
    ----------
    labels : (N, C) 0/1 given labels; evidence : (N, C) the held-out presence the counts were
        read from (higher = more present);
    cells : (N, C) bool, per class the absent cells selected as missing (those of highest
        evidence); n_missing : (C,) the missing counts;
    true_share : (C,) share of each class's given labels taken as true
        (:func:`true_label_share`).

    Per class, the ``n_missing[c]`` missing labels lie in the evidence like the class's true
    given labels (:func:`direction_counts`), so ``n_missing[c] · F(b)`` of them lie at or
    above the selection's lowest evidence b, with F(b) the share of the true given labels
    there: the given cells at or above b over the true share, since the spurious ones sit below
    (:func:`true_label_positions`). Over the selected cells, pooled over the classes, that is
    the selection's precision. The mean posterior (:func:`noise_posterior`), which the spurious
    selection keeps, under-read it: at 10,000 rows (MIRFlickr stand-in and synthetic, seed 0)
    it read 0.43-0.69, below the truth in 29 of 30 missing selections by 0.161 on average;
    this reads 0.59-0.80, by 0.045 (docs/benchmarks.md, "Issue 13, seventeenth session"). On
    the spurious side the same mixture counts the true labels the content hides as wrong:
    read so on both sides, 84 of the 3,000-row matrix's 138 rates were within ±0.05, against
    96 on the missing side alone (both measured with the displacement test before,
    :func:`displaced_row_share`). 1.0 when nothing is selected.
    """
    given = np.asarray(labels).astype(bool)
    evidence = np.asarray(evidence, dtype=np.float64)
    cells = np.asarray(cells, dtype=bool)
    wrong = selected = 0.0
    for c in range(given.shape[1]):
        chosen = cells[:, c]
        if not chosen.any():
            continue
        lowest = evidence[chosen, c].min()
        true_labels = evidence[given[:, c], c]
        above = np.asarray((true_labels >= lowest).mean() if true_labels.size else 1.0)
        share_above = min(1.0, float(true_label_positions(above, float(true_share[c]))))
        wrong += min(float(n_missing[c]) * share_above, float(chosen.sum()))
        selected += float(chosen.sum())
    return wrong / selected if selected else 1.0


def displaced_spurious_counts(
    counts: np.ndarray, read: np.ndarray | None, n_missing: np.ndarray
) -> np.ndarray | None:
    """(C,) spurious counts no lower in total than the missing one, or None where the label
    context's correction left them there already (or there is nothing to floor).

    Parameters
    ----------
    counts : (C,) the spurious counts after the label context's correction;
    read : (C,) the same counts before it (:func:`direction_counts`), or None;
    n_missing : (C,) the missing counts.

    Where each wrong label displaced a true one (pairflip, symmetric redraws) there are as
    many spurious labels as missing ones. The context takes out of a count n the share π of
    its selected cells that the rows' other labels support as true labels; but where the
    evidence ranks imperfectly, the selection also holds visible true labels in place of the
    spurious labels it left unread (U of them), so the spurious labels are n (1 − π) + U, and
    the correction is a lower bound. At heavy noise U is large: symmetric 0.5 read 2,088 /
    2,260 spurious cells for 4,493 / 3,205 (MIRFlickr stand-in / synthetic; the selections
    0.79 / 0.70 spurious, π 0.30 / 0.37), and the noisy rows 0.435 / 0.409 for 0.492 / 0.496.
    The missing count bounds the spurious one from below there; the correction is undone in
    proportion, class by class, until the totals meet or none of it is left (never above the
    read before it). Only :func:`evidence_row_rates` uses these counts, and only where they
    still read a displacement: a mixture's or a missing-tag regime's missing labels displaced
    nothing.
    """
    if read is None:
        return None
    counts = np.asarray(counts, dtype=np.int64)
    read = np.asarray(read, dtype=np.int64)
    total, uncorrected = int(counts.sum()), int(read.sum())
    missing = int(np.asarray(n_missing).sum())
    if total <= 0 or missing <= total or uncorrected <= total:
        return None
    undone = (min(missing, uncorrected) - total) / (uncorrected - total)
    return np.asarray(np.round(counts + undone * (read - counts)).astype(np.int64))


def saturation_reason(
    labels: np.ndarray, model: NoiseModel, precisions: tuple[float, float]
) -> str:
    """Why a direction's row rate is a cap and not a reading ("" when neither is).

    ``labels`` (N, C) the given labels; ``precisions`` the expected shares of wrong cells in
    the model's spurious and missing cells. A count that saturates (:func:`count_saturates`)
    reads as every row wrong in that direction; the line says so instead of reporting the cap
    as a rate.
    """
    given = np.asarray(labels).astype(bool)
    parts = []
    for name, cells, eligible, precision in (
        ("missing", model.missing_cells, ~given, precisions[1]),
        ("spurious", model.spurious_cells, given, precisions[0]),
    ):
        if count_saturates(cells, eligible, precision):
            parts.append(
                f"the {name} count ({int(cells.sum())} cells, "
                f"{cells.sum() / max(1, given.shape[0]):.1f} per row) fills every row, "
                "so its row rate is a cap, not a reading"
            )
    if not parts:
        return ""
    return (
        " and ".join(parts)
        + ": each direction is read against the other kind of cell, which here holds much of "
        "the other direction's noise, so the split between missing and spurious labels is "
        "not identified (the flagged rows still rank)"
    )


def read_saturation(labels: np.ndarray, model: NoiseModel, read: ReadSelections) -> str:
    """:func:`saturation_reason` for the cells the row shares are read from, with the
    precisions they are read with (``read``, :func:`read_selections` of the model in the
    held-out evidence); ``labels`` (N, C) the given labels.

    The model's own cells rank by the fused presence, and their test can pass where the
    reading the scan reports is its cap: synthetic class flips at 0.8 read every row as
    missing a label (1.000 for 0.876-0.883, at 3,000 and 10,000 rows) with no word of it.
    """
    spurious, missing, precisions = read
    placed = replace(model, spurious_cells=spurious, missing_cells=missing)
    return saturation_reason(labels, placed, precisions)


RANKINGS_AGREE_WITHIN = 1.6
""":func:`ranking_dependence` calls a direction's rows unread where its two readings differ by
more than this factor. Over the 246 cases of the benchmark matrices (docs/benchmarks.md,
"Issue 13, twentieth session") the readings of every case but symmetric noise at 0.8 agree
within 1.43 (or lie within three standard errors of each other); those disagree by 1.89–2.72
on the missing side."""
RANKING_DISAGREEMENT_Z = 3.0
""":func:`ranking_dependence` also asks the two readings to differ by this many standard errors
(:func:`gathered_row_share`): a selection that its own evidence reads as mostly right cells
scales its pairs by a large ``1 / precision²`` and reads its rows with little precision."""


def gathered_row_share(
    cells: np.ndarray, eligible: np.ndarray, precision: float
) -> tuple[float, float]:
    """``(rows, standard error)``: the Poisson end of :func:`row_share_bracket` for ``cells``
    (N, C) bool selected among ``eligible`` (N, C) bool with a share ``precision`` wrong (the
    row reading of :func:`clustered_row_rate`, unclipped), and its error from the pairs of
    cells sharing a row, counted as Poisson.

    The reading is ``s / (1 + λ)`` (``s`` the cells over N) with ``(2λ + λ²) / (1 + λ)`` equal
    to ``2P / n`` and ``P = chance + (observed − chance) / precision²``, so an error ``dO`` in
    the observed pairs moves it by ``2 s dO / ((2 + 2λ + λ²) n precision²)``; ``dO`` is taken
    as ``√(O + 1)``.
    """
    cells = np.asarray(cells, dtype=bool)
    n_cells = int(cells.sum())
    if n_cells == 0:
        return 0.0, 0.0
    rows = row_share_bracket(cells, eligible, precision)[1]
    share = n_cells / cells.shape[0]
    extra = share / max(rows, 1e-12) - 1.0  # λ
    per_row = cells.sum(axis=1)
    observed = float((per_row * (per_row - 1) / 2).sum())
    slope = 2.0 * share / ((2.0 + 2.0 * extra + extra**2) * n_cells * max(precision**2, 1e-3))
    return rows, slope * math.sqrt(observed + 1.0)


def ranking_dependence(labels: np.ndarray, model: NoiseModel, read: ReadSelections) -> str:
    """Why a direction's rows depend on the evidence that ranks its cells ("" where neither
    direction's do).

    Parameters
    ----------
    labels : (N, C) 0/1 given labels; model : the noise model, whose own cells rank by the
        fused presence; read : :func:`read_selections` of the model in the held-out evidence
        the counts and the row shares are read from.

    The same counts are placed twice: by the fused presence (the model's cells) and by the
    held-out evidence (:func:`read_selections`, the cells the reported shares come from). Each
    placement's gathering gives the rows (:func:`gathered_row_share`). Where the two agree, the
    rows are a property of the counts; where one reads more than
    :data:`RANKINGS_AGREE_WITHIN` times the other, by more than
    :data:`RANKING_DISAGREEMENT_Z` standard errors, they are a property of the ranking. Both
    are read with the held-out selection's precision, so that only the placement differs. The
    fused presence's hashers fit the given labels, so the two differ a little everywhere
    (up to 1.43 over the benchmark matrices), but under symmetric noise at 0.8, where most
    given labels are wrong, the fused selection of the missing count spreads over every row and
    the held-out one gathers in a third of them (MIRFlickr stand-in, 10,000 rows, seed 0: 0.99
    against 0.36, 69 standard errors apart, and the missing rows read 0.364 for 0.796 with no
    other test saying so).
    """
    given = np.asarray(labels).astype(bool)
    spurious, missing, read_precisions = read
    parts = []
    directions = (
        ("missing a label", model.missing_cells, missing, ~given, 1),
        ("with a spurious label", model.spurious_cells, spurious, given, 0),
    )
    for name, own, held_out_cells, eligible, side in directions:
        # one precision for both, the reported reading's: only the placement differs
        precision = read_precisions[side]
        fused_rows, fused_error = gathered_row_share(own, eligible, precision)
        held_out_rows, held_out_error = gathered_row_share(held_out_cells, eligible, precision)
        fewer, more = sorted((fused_rows, held_out_rows))
        apart = (more - fewer) / max(math.hypot(fused_error, held_out_error), 1e-12)
        if more > RANKINGS_AGREE_WITHIN * fewer and apart > RANKING_DISAGREEMENT_Z:
            parts.append(
                f"the rows {name} read {held_out_rows:.2f} from the held-out evidence's cells "
                f"and {min(fused_rows, 1.0):.2f} from the fused presence's"
            )
    if not parts:
        return ""
    return (
        " and ".join(parts)
        + ": the same counts gather differently under the two rankings, so the rows of each "
        "direction and the split between them are not identified (the flagged rows still rank)"
    )


def mean_or_one(values: np.ndarray) -> float:
    """The mean of ``values``, 1.0 when there are none (a selection of no cell is not wrong)."""
    return float(values.mean()) if values.size else 1.0


def clustered_row_rate(cells: np.ndarray, eligible: np.ndarray, precision: float) -> float:
    """Estimated share of rows holding a wrong cell of one direction, from the selected cells.

    Parameters
    ----------
    cells : (N, C) bool, the cells the direction's per-class counts select;
    eligible : (N, C) bool, the cells that could be wrong in that direction (the given cells
        for spurious labels, the absent ones for missing labels);
    precision : expected share of the selected cells that are wrong (:func:`read_selections`).

    The counts say how many cells are wrong, not how they gather in rows: one per row in a
    pairflip, all of a row's labels in a symmetric redraw. The share of rows the selection
    touches mixes the two (an imprecise selection scatters cells that gather, and piles up
    cells that do not): on the MIRFlickr stand-in it read 0.35 of the rows at symmetric 0.2
    (truth 0.19) and 0.68 at pairflip 0.8 (truth 0.80). The within-row gathering is read from
    the selection instead (:func:`row_share_bracket`): the most rows its pairs of cells in a
    row allow (one wrong cell per wrong row plus a Poisson number more), kept between the
    largest class's count over N (its wrong cells lie in distinct rows) and ``n / N`` (one
    wrong cell per wrong row).
    """
    cells = np.asarray(cells, dtype=bool)
    n_rows, n_cells = cells.shape[0], int(cells.sum())
    if n_cells == 0:
        return 0.0
    gathered = row_share_bracket(cells, eligible, precision)[1]
    # a class's wrong cells lie in distinct rows, and no row holds less than one
    fewest = float(cells.sum(axis=0).max()) / n_rows
    return float(np.clip(gathered, fewest, min(1.0, n_cells / n_rows)))


def row_share_bracket(
    cells: np.ndarray, eligible: np.ndarray, precision: float
) -> tuple[float, float]:
    """The fewest and the most wrong rows (as shares of N, unclipped) that the selected cells'
    gathering allows, for ``cells`` (N, C) bool selected among ``eligible`` (N, C) bool, a
    share ``precision`` of them wrong.

    The pairs of selected cells that share a row, beyond the pairs the selection's imprecise
    share would form at random (each class's rate over the row's eligible cells), scaled up by
    ``1 / precision²``, are the pairs of wrong cells sharing a row: with n wrong cells and P
    such pairs, ``Σ W_i = n`` and ``Σ W_i (W_i − 1) = 2P`` over the wrong rows' counts W_i.
    That fixes the rows only with the counts' spread. Equal counts give the fewest rows,
    ``n² / (n + 2P)`` (Cauchy-Schwarz); ``W = 1 + K``, K Poisson(λ), gives
    ``n / (1 + λ)`` with ``(2λ + λ²) / (1 + λ) = 2P / n``. The protocols' counts vary less than
    a Poisson (one or two cells; a row's labels), so that reading over-counts: with the true
    wrong cells of the 60 noisy directions of the MIRFlickr stand-in and synthetic cases, by
    up to 9 % of the truth (missing 0.8: 0.852 for 0.806), and every row count fell inside
    the bracket. :func:`clustered_row_rate` reads the Poisson end: the middle read the 42
    cases closer (after the label context, mean error overall / missing 0.046 / 0.047 against
    0.054 / 0.057; MIRFlickr missing 0.8 0.891 for 0.806 against 0.952) but it narrows a
    direction whose wrong cells gather (missing labels, one or two to a row) more than one
    read from scattered false cells, so where the spurious direction is over-read the regime
    tips (synthetic ``missing`` 0.2: ``mostly missing tags`` became ``both directions``, 19
    removals all wrong, row AUROC 0.762 → 0.748). The fewest-rows end is the floor no
    reading can go below.
    """
    cells = np.asarray(cells, dtype=bool)
    eligible = np.asarray(eligible, dtype=bool)
    n_rows, n_cells = cells.shape[0], int(cells.sum())
    if n_cells == 0:
        return 0.0, 0.0
    spread = chance_spread(cells, eligible)
    chance_pairs = float(((spread.sum(axis=1) ** 2 - (spread**2).sum(axis=1)) / 2).sum())
    per_row = cells.sum(axis=1)
    observed_pairs = float((per_row * (per_row - 1) / 2).sum())
    pairs = max(chance_pairs + (observed_pairs - chance_pairs) / max(precision**2, 1e-3), 0.0)
    ratio = 2.0 * pairs / n_cells  # Σ W(W − 1) / Σ W
    extra = (ratio - 2.0 + np.sqrt((2.0 - ratio) ** 2 + 4.0 * ratio)) / 2.0  # λ
    share = n_cells / n_rows
    return share / (1.0 + ratio), share / (1.0 + extra)


def count_saturates(cells: np.ndarray, eligible: np.ndarray, precision: float) -> bool:
    """Whether a direction's count holds more wrong cells than the rows can carry: even
    gathered as many to a wrong row as the selection shows (the row rate's reading,
    :func:`row_share_bracket`), the selected cells (N, C) would need more wrong rows than
    there are, and the row rate is its cap (every row), not a reading. On the 42-case matrix
    this happens only to the missing direction of symmetric noise at 0.8 and of class flips
    at 0.5 / 0.8 (MIRFlickr stand-in symmetric 0.8: 18,861 missing cells read for 7,318, six
    to a row; rows 1.000 for 0.798), where many given labels are wrong and each direction's
    reference (the other kind of cell) holds much of the other direction's noise."""
    cells = np.asarray(cells, dtype=bool)
    return bool(cells.any()) and row_share_bracket(cells, eligible, precision)[1] >= 1.0


def chance_spread(cells: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """(N, C) probability of each eligible cell being selected if each class's selected cells
    (N, C) were spread at random over its eligible cells (N, C): the class's rate there."""
    cells, eligible = np.asarray(cells, dtype=bool), np.asarray(eligible, dtype=bool)
    rate = cells.sum(axis=0) / np.maximum(eligible.sum(axis=0), 1)
    return np.asarray(eligible * rate[None, :])


def union_row_rate(
    spurious_cells: np.ndarray,
    missing_cells: np.ndarray,
    labels: np.ndarray,
    rates: tuple[float, float],
    precisions: tuple[float, float] = (1.0, 1.0),
) -> float:
    """Estimated share of rows wrong in either direction, from each direction's selected cells.

    Parameters
    ----------
    spurious_cells, missing_cells : (N, C) bool, the cells each direction's counts select;
    labels : (N, C) 0/1 given labels (the spurious cells' eligible cells; the rest the
        missing ones');
    rates : the two directions' estimated row rates ``(s, m)`` (:func:`clustered_row_rate`);
    precisions : expected share of each selection's cells that are wrong ``(ρ_s, ρ_m)``
        (:func:`read_selections`).

    The union ``s + m − both`` needs the share of rows wrong in both directions, which the
    noise's structure sets: all of them when a wrong label displaces a true one (pairflip,
    symmetric), none when a row either loses or gains labels (a mixture), about ``s·m`` for
    independent flips. It is read like each direction's gathering, from cells: the pairs of a
    selected spurious cell and a selected missing cell in one row, beyond the pairs the two
    selections would form at random (:func:`chance_spread`), scaled by ``1 / (ρ_s ρ_m)``, are
    the excess of such pairs among the wrong cells; over ``N · w_s · w_m`` (``w`` each
    direction's wrong cells per wrong row, its cells over ``N`` times its rate) they are the
    excess of rows wrong both ways over ``s·m``. So ``both = s·m + excess / (ρ_s ρ_m N w_s
    w_m)``, clipped to ``[max(0, s + m − 1), min(s, m)]``: no more rows are wrong than there
    are (unclipped, class flips 0.5 / 0.8 read 1.02 of the rows noisy).

    The overlap of the two selections' rows (the rule before) saturates where the selections
    cover most rows: it read symmetric 0.5 as 0.68 of the rows for 0.49 (MIRFlickr stand-in)
    and 0.67 for 0.50 (synthetic), the cell pairs 0.62 / 0.54. The larger direction's rate
    (the rule before that) undercounted every mixture by its minority direction (mixed 0.8:
    0.61 for 0.81); the plain union of the selections overcounted pairflip (0.62 for 0.50).
    """
    both = rows_wrong_both_ways(spurious_cells, missing_cells, labels, rates, precisions)
    return union_of_shares(rates, both)


def union_of_shares(rates: tuple[float, float], both: float | None) -> float:
    """``s + m − both`` for the two directions' row shares ``rates`` ``(s, m)``, with ``both``
    (:func:`rows_wrong_both_ways`) clipped to ``[max(0, s + m − 1), min(s, m)]``; ``min(1, s +
    m)`` where ``both`` is None (a direction read nothing)."""
    s, m = rates
    if both is None:
        return float(min(1.0, s + m))
    both = float(np.clip(both, max(0.0, s + m - 1.0), min(s, m)))
    return float(s + m - both)


def rows_wrong_both_ways(
    spurious_cells: np.ndarray,
    missing_cells: np.ndarray,
    labels: np.ndarray,
    rates: tuple[float, float],
    precisions: tuple[float, float] = (1.0, 1.0),
) -> float | None:
    """Share of rows wrong in both directions as the cell pairs read it, unclipped
    (:func:`union_row_rate` explains the reading; parameters as there):
    ``s·m + excess / (ρ_s ρ_m N w_s w_m)``, or None where a direction's share is 0 or its
    selection (N, C) empty."""
    s, m = rates
    if s <= 0 or m <= 0 or not np.any(spurious_cells) or not np.any(missing_cells):
        return None
    spurious_cells = np.asarray(spurious_cells, dtype=bool)
    missing_cells = np.asarray(missing_cells, dtype=bool)
    given = np.asarray(labels).astype(bool)
    n_rows = given.shape[0]
    observed = float((spurious_cells.sum(axis=1) * missing_cells.sum(axis=1)).sum())
    chance = float(
        (
            chance_spread(spurious_cells, given).sum(axis=1)
            * chance_spread(missing_cells, ~given).sum(axis=1)
        ).sum()
    )
    excess = (observed - chance) / max(precisions[0] * precisions[1], 1e-3)
    per_row_s = spurious_cells.sum() / (n_rows * s)
    per_row_m = missing_cells.sum() / (n_rows * m)
    return float(s * m + excess / (n_rows * per_row_s * per_row_m))


def displaced_row_share(rates: tuple[float, float], both: float) -> float | None:
    """The one share of rows that both directions read where wrong labels displace true
    ones, or None where the reads do not say so.

    ``rates`` the two directions' row shares ``(s, m)`` (:func:`clustered_row_rate`), ``both``
    the rows wrong both ways as the cell pairs read them (:func:`rows_wrong_both_ways`,
    unclipped). When ``both`` is nearer to every row of the smaller direction, ``min(s, m)``,
    than to the ``s·m`` of directions independent of each other, and neither direction holds
    twice the other's rows (the regime is ``both directions``, :func:`direction_regime`),
    each wrong label displaced a true one (pairflip, symmetric redraws): the rows with a
    spurious label and those missing one are the same rows, read twice, and the share is their
    mean. The halfway point is the boundary between the two readings: a displacement read
    without bias sits at ``min(s, m)``, so a test at ``min(s, m)`` itself is a coin toss; once
    the missing selection's precision read right (:func:`missing_selection_precision`) it
    failed the stand-in's pairflip 0.8 at all three seeds (3,000 rows), which the under-read
    precision had passed by inflating ``both``. Measured as a fraction of the way from ``s·m``
    to ``min(s, m)`` (3,000 rows, seed 0): pairflip and symmetric 0.2 / 0.5 0.88-1.53, class
    flips −2.15 to −0.06, mixtures −1.12 to −0.19. The two reads err in opposite
    ways there: the spurious one counts the true labels the content hides (synthetic pairflip
    0.2 / 0.8: 0.272 / 0.869 for 0.200 / 0.800), the missing one under-reads the classes the
    protocol takes from label-poor rows (MIRFlickr stand-in pairflip 0.8 at 10,000 rows: 0.673
    for 0.800), and the overall rate, their union, took the larger. Independent flips (class
    flips) and mixtures are left as read, and so is a direction read at twice the other's
    rows (synthetic ``missing`` 0.8: true labels the content hides in the rows that lost a
    tag, both 1.4 times the spurious rows).
    """
    s, m = rates
    if min(s, m) <= 0 or both < (s * m + min(s, m)) / 2.0:
        return None
    if direction_regime(m, s) != "both directions":
        return None
    return (s + m) / 2.0


def displaced_labels(
    labels: np.ndarray, presence: np.ndarray, spurious_cells: np.ndarray
) -> np.ndarray:
    """(N, C) bool: in single-label data, the true label each spurious one displaced.

    When every row carries exactly one label, a wrong label means a missing one in the same
    row: the missing direction is the spurious one's mirror, not a second estimate. Read on its
    own from the given labels' high tail it overshot on Wikipedia, where classes are
    confusable (rows missing a label 0.36 / 0.90 / 1.00 at pairflip 0.2 / 0.5 / 0.8, while the
    spurious side read 0.19 / 0.58 / 0.62). The displaced label is the row's likeliest absent
    class.
    """
    given = np.asarray(labels).astype(bool)
    rows = np.flatnonzero(np.asarray(spurious_cells).any(axis=1))
    displaced = np.zeros_like(given)
    likeliest = np.where(given[rows], -np.inf, presence[rows]).argmax(axis=1)
    displaced[rows, likeliest] = True
    return displaced


def reads_added_tags(model: NoiseModel) -> bool:
    """Whether the row score also weighs each given label against its own class's labels
    (:func:`direction_row_score`): the model reads tags added (``mostly spurious tags`` or
    ``both directions``) that do not displace true ones, and is identifiable.

    Where a wrong label displaced a true one (:attr:`NoiseModel.displaced`: pairflip,
    symmetric), the row's evidence is the pair, a weak given label beside a strong absent one,
    and the missing sign is read on the probability's scale: weighing the class's place there
    too cost the stand-in's pairflip 0.955 / 0.949 → 0.949 / 0.938 at 0.5 / 0.8 (10,000
    rows, seed 0) and symmetric 0.5 0.977 → 0.967. A regime the calibration cannot separate
    from the signal says nothing of either (synthetic symmetric 0.8 at 10,000 rows, seed 2,
    read ``mostly spurious tags`` and not identifiable: 0.955 → 0.918)."""
    return (
        model.regime in ("mostly spurious tags", "both directions")
        and model.identifiable
        and not model.displaced
    )


def within_class_position(labels: np.ndarray, presence: np.ndarray) -> np.ndarray:
    """(N, C) each given cell's :func:`tail_position` among its own class's given cells (the
    share of them at or below its ``presence``, ties half), 1 for the absent cells.

    labels : (N, C) 0/1 given labels; presence : (N, C) presence evidence, any scale that is
    monotone within a class. Uniform on [0, 1] within each class, so a low value means the same
    in every class: few of the class's labels sit this low.
    """
    given = np.asarray(labels).astype(bool)
    presence = np.asarray(presence, dtype=np.float64)
    positions = np.ones(given.shape)
    for c in range(given.shape[1]):
        cells = given[:, c]
        positions[cells, c] = tail_position(presence[cells, c], presence[cells, c])
    return positions


def direction_row_score(labels: np.ndarray, presence: np.ndarray, model: NoiseModel) -> np.ndarray:
    """(N,) row suspicion in [0, 1] from the cells, weighted by the direction of the noise.

    ``1 − (1 − doubt)^(2·s) · (1 − sign)^(2·m)``: ``doubt`` the strongest doubt about a given
    label (``max 1 − P``), ``sign`` the strongest sign of a missing class (``max P`` over the
    absent classes), ``s`` and ``m`` the estimated shares of rows with spurious and with missing
    labels, normalised to sum to 1. With both directions equally likely this is the weakest
    support times the weakest rejection (the rule before the noise model); a missing-tag regime
    spends no suspicion on the given labels, a spurious one none on the absent classes. Against
    a rank average of the two (MIRFlickr stand-in, 3,000 rows) it kept pairflip's row AUROC
    (0.967 / 0.962 / 0.949), raised classflip 0.5 / 0.8 (0.914 → 0.926, 0.882 → 0.917) and mixed
    0.2 (0.829 → 0.866), and cost missing 0.007–0.014 (0.863 / 0.849 / 0.875).

    Where the model reads tags added without displacing true ones (:func:`reads_added_tags`),
    a given label's support is the mean of its probability and its place among its own class's
    labels (:func:`within_class_position`). The presence is calibrated per class, so the true labels
    of a class the content shows faintly sit at low probabilities, and a row holding one reads
    as doubtful as a row holding an added tag (MIRFlickr stand-in ``spurious``, 10,000 rows:
    the classes' true labels average 0.45–0.97). An added tag sits low among its own class's
    labels whatever the class: there the given cells' AUROC is 0.954–0.961 against 0.923–0.938
    by probability. The place alone misreads a class shown clearly, whose weakest true labels
    sit at the bottom of its own labels too: on seeded data whose frequent classes are the
    faint ones it cost 0.013–0.028 of row AUROC, the mean −0.004 to +0.004
    (tests/auditor/test_fusion.py). On the benchmark matrices the mean raised the fused row
    AUROC of every ``spurious`` case by 0.009–0.028 and of the class flips and mixtures read in
    ``both directions`` by up to 0.048, with one case down 0.007 (docs/benchmarks.md, "Issue
    13, twenty-third session").
    """
    given = np.asarray(labels).astype(bool)
    presence = np.clip(np.asarray(presence, dtype=np.float64), 0.0, 1.0)  # a probability
    # where tags are added, a label is also weighed against its own class's labels
    support = presence
    if reads_added_tags(model):
        support = 0.5 * (presence + within_class_position(given, presence))
    doubt = np.where(given, 1.0 - support, 0.0).max(axis=1, initial=0.0)
    sign_missing = strongest_missing_sign(given, presence)
    spurious_weight = model.spurious_row_rate
    missing_weight = model.missing_row_rate
    total = spurious_weight + missing_weight
    if total <= 0:
        spurious_weight = missing_weight = total = 1.0
    support = (1.0 - doubt) ** (2.0 * spurious_weight / total)
    rejection = (1.0 - sign_missing) ** (2.0 * missing_weight / total)
    return np.asarray(1.0 - support * rejection)


MISSING_DOMINANCE_SLOPE = 2.0
""":func:`missing_dominance` falls to 0 where the trusted spurious row rate reaches half the
missing one (the regime's own bound for ``mostly missing tags``)."""


def direction_rows_z(labels: np.ndarray, model: NoiseModel) -> float:
    """:func:`overlap_z` of the rows the model reads as spurious and those it reads as missing.

    labels : (N, C) 0/1 given labels (the spurious cells' eligible cells; the absent ones are
    the missing cells'). Negative: the two directions avoid each other's rows (a mixture, rows
    that gained a tag and rows that lost one); positive: they share rows (a wrong label that
    displaced a true one); near 0: the spurious reads sit at random, as the data's faint true
    labels do.
    """
    given = np.asarray(labels).astype(bool)
    return overlap_z(model.spurious_cells, given, model.missing_cells, ~given)


def evidence_rows_z(labels: np.ndarray, read: ReadSelections) -> float:
    """:func:`direction_rows_z` on the cells the model's counts select in the held-out presence
    the counts and the row shares are read from (``read``, :func:`read_selections`), instead of
    the model's own cells, which rank by the fused presence; ``labels`` (N, C) 0/1 given labels.

    The trust in the spurious row share (:func:`spurious_read_trust`) weighs the rows that
    share was read from. The fused presence's hashers trained on the given labels, and they
    weaken the given labels of the rows that lost a tag more than the held-out evidence does:
    on synthetic ``missing`` 0.8 (every given label true) the given cells of those rows sit at
    mean within-class rank 0.48 against 0.63 in the rows that kept every tag by the fused
    presence, 0.49 against 0.56 held out. Read on the fused selection the rows test took the
    true labels read as spurious for noise tied to the missing reads (``missing`` 0.5: z +1.93,
    held out +0.40), while the mixtures' avoidance reads as strongly or more (MIRFlickr stand-in
    ``mixed`` 0.2 / 0.5 / 0.8: −2.52 / −5.36 / −5.06 fused, −2.96 / −8.05 / −11.25 held out).
    """
    given = np.asarray(labels).astype(bool)
    spurious, missing, _ = read
    return overlap_z(spurious, given, missing, ~given)


def evidence_rows_avoidance(labels: np.ndarray, read: ReadSelections) -> float:
    """:func:`overlap_avoidance` of the spurious and the missing cells of ``read``
    (:func:`read_selections`) in the rows, ``labels`` (N, C) 0/1 given labels: the effect whose
    significance :func:`evidence_rows_z` reads."""
    given = np.asarray(labels).astype(bool)
    spurious, missing, _ = read
    return overlap_avoidance(spurious, given, missing, ~given)


AVOIDANCE_AT_RANDOM_Z = 1.0
""":func:`spurious_read_trust` counts the spurious reads' avoidance of the missing reads' rows
beyond this many standard deviations: as far as true labels the content hides, read as
spurious, avoid them on their own."""


HIDDEN_LABEL_AVOIDANCE = 0.2
"""The avoidance (:func:`overlap_avoidance`) true labels the content hides, read as spurious,
show of the missing reads' rows on their own: synthetic ``missing`` 0.02-0.25 of the rows
expected at random, at 3,000 and 10,000 rows, seeds 0-2 (docs/benchmarks.md, "Issue 13,
twenty-first session"). :func:`spurious_read_trust` counts an avoidance beyond it."""
MIXTURE_AVOIDANCE = 0.3
"""The avoidance from which the spurious reads count in full as a mixture's added tags: the
least of the benchmark's ``mixed`` cases, whose avoidance reads 0.30-0.54 (synthetic ``mixed``
0.8 at 3,000 rows 0.30 / 0.32 at seeds 2 / 1, the rest 0.37 and more). Set at 0.35, those two
lost a quarter of their spurious rows (overall rate 0.795 / 0.794 → 0.707 / 0.733 for 0.800)."""


def spurious_read_trust(rows_z: float, avoidance: float = 1.0) -> float:
    """How far the spurious reads are trusted as noise, in [0, 1]: ``erf(z / √2)`` for
    ``z ≥ 0``, ``erf(max(|z| − AVOIDANCE_AT_RANDOM_Z, 0) / √2)`` times the share of the way
    ``avoidance`` has come from :data:`HIDDEN_LABEL_AVOIDANCE` to :data:`MIXTURE_AVOIDANCE`
    (clipped to [0, 1]) for ``z < 0``.

    The avoidance (:func:`evidence_rows_avoidance`) is the effect whose significance the z
    reads: the z of a fixed avoidance grows as the root of the rows, and at 10,000 rows the
    hidden true labels of synthetic ``missing`` 0.2 avoid the missing reads' rows at z −2.7 to
    −3.7 (avoidance 0.21-0.25 of the expected rows), which the z alone trusted as a mixture's
    (spurious rows 0.073-0.124 for none; at seeds 0 and 2 the regime ``both directions``, 134
    and 40 removals all wrong, row AUROC 0.754 / 0.774; with the avoidance 0.878 / 0.871).

    ``rows_z`` is :func:`evidence_rows_z` (:func:`direction_rows_z` on the held-out
    selection), how far the spurious reads' rows depart from chance with respect to the
    missing reads' rows. Spurious labels a noise process made are tied to the rows it also
    dropped tags from, one way (a mixture: z −3.0 to −11.3 on the benchmark's ``mixed`` cases
    read as ``mostly missing tags``) or the other (a wrong label displacing a true one: up to
    +18 on pairflip, +0.78 on the notebook example's 400 rows of pairflip 0.5); true labels
    the content does not show, read as spurious, are tied to neither. They do not sit at
    random, though: they *avoid* the missing reads' rows by up to two standard deviations
    (``missing`` on the MIRFlickr stand-in −0.10 / −1.08 / −0.59 at 0.2 / 0.5 / 0.8, −1.79 /
    −1.60 at 0.2 / 0.5 with 10,000 rows, synthetic 0.2 −0.60; the seeded faint labels of
    tests/auditor/test_fusion.py −0.07 to −1.43 in six seeds), while a positive tie without
    noise is rare (synthetic ``missing`` 0.5 +0.40; 0.8 +4.70 is the protocol's choice of
    label-rich rows, rates10). The two-sided confidence ``erf(|z| / √2)`` (the rule before)
    kept 0.72 of such reads at z −1.08 (MIRFlickr stand-in ``missing`` 0.5: 0.020 of the rows
    for none, the noisy rows 0.573 for 0.506); an avoidance counts only beyond
    :data:`AVOIDANCE_AT_RANDOM_Z` (a mixture at z −3.0 keeps 0.95). Discounting ties as
    well cost the notebook example its displacement's spurious rows (seed 0: row AUROC 0.849
    → 0.749). A spurious minority drawn independently of the dropped tags is discounted too:
    nothing in the rows tells it from those true labels.
    """
    if rows_z >= 0:
        return float(math.erf(rows_z / math.sqrt(2.0)))
    beyond_chance = max(-rows_z - AVOIDANCE_AT_RANDOM_Z, 0.0)
    strength = (avoidance - HIDDEN_LABEL_AVOIDANCE) / (MIXTURE_AVOIDANCE - HIDDEN_LABEL_AVOIDANCE)
    return float(math.erf(beyond_chance / math.sqrt(2.0)) * np.clip(strength, 0.0, 1.0))


def trusted_spurious_rows(model: NoiseModel, trust: float) -> NoiseModel:
    """The model with its spurious row share, and that share's part of the union (the rows
    read as spurious only), times ``trust`` in [0, 1] (:func:`spurious_read_trust`); the cells
    and counts are unchanged. A model the discount would read as ``clean`` is returned as it
    is (that would open removals); one read in ``both directions`` may become ``mostly
    missing tags``, which is the point: hidden true labels read as spurious had tipped
    missing-only noise there (synthetic ``missing`` 0.2, seed 2, 3,000 rows: row AUROC 0.745,
    0.917 with the discount)."""
    missing = model.missing_row_rate
    spurious_only = max(model.row_rate - missing, 0.0)
    trusted = replace(
        model,
        spurious_row_share=trust * model.spurious_row_rate,
        missing_row_share=missing,
        noisy_row_rate=missing + trust * spurious_only,
    )
    return model if trusted.regime == "clean" else trusted


def missing_dominance(model: NoiseModel) -> float:
    """How purely the estimated noise drops tags, in [0, 1]: ``max(0, 1 − 2 · s / m)``.

    ``s`` and ``m`` the estimated shares of rows with a spurious and with a missing label (``s``
    the trusted share where it is the smaller, :func:`trusted_spurious_rows`);
    0 unless the regime is ``mostly missing tags`` (m ≥ 2 s), 1 when no spurious label
    is estimated (or ``--noise missing``). It weights the absent-class row score in
    :func:`fuse_rows`. Measured on the 42-case matrix (docs/benchmarks.md, "The row score of a
    missing-tag regime"): a hard switch to the absent-class score in the missing regime cost
    the mixtures the regime also covers (MIRFlickr stand-in mixed 0.2 / 0.5: 0.872 → 0.812,
    0.846 → 0.795), where s / m is 0.4–0.5; the slope leaves them nearly as they were. Without
    the trust the spurious reads of true labels the content hides held synthetic ``missing``
    0.2 at w 0.04 (row AUROC 0.762; with it w 0.63, 0.865; docs/benchmarks.md, "Trusting the
    spurious reads by their rows").
    """
    if model.regime != "mostly missing tags":
        return 0.0
    spurious, missing = model.spurious_row_rate, model.missing_row_rate
    return float(np.clip(1.0 - MISSING_DOMINANCE_SLOPE * spurious / missing, 0.0, 1.0))


def noise_posterior(
    labels: np.ndarray,
    presence: np.ndarray,
    model: NoiseModel,
    spurious_lift: np.ndarray | None = None,
) -> np.ndarray:
    """(N, C) probability that each cell is wrong, under the model's class-conditional noise.

    ``presence`` (N, C) is calibrated against the given labels: P(given | evidence). With the
    class's missing rate ρ+ = P(not given | true) and spurious rate ρ− = P(given | not true)
    (from the model's counts), the presence of the true class is t = (P − ρ−) / (1 − ρ+ − ρ−)
    (Natarajan et al.'s correction, clipped to [0, 1]), and Bayes' rule gives a given cell
    ρ− (1 − t) / P of being spurious and an absent cell ρ+ t / (1 − P) of missing. Where the
    rates are small, a low presence is not enough: most given labels of low presence are true
    ones that the evidence explains badly. Rates that sum to 1 or more (labels that say
    nothing of the class) make t 0 below ρ− and 1 above.

    ``spurious_lift`` (N,), optional: each row's ρ− is the class's times the row's lift
    (:func:`row_spurious_lift`), the prior of a spurious label in a row of its kind; None = 1.
    """
    given = np.asarray(labels).astype(bool)
    presence = np.clip(np.asarray(presence, dtype=np.float64), 1e-9, 1.0 - 1e-9)
    n_rows = given.shape[0]
    true_count = model.given - model.n_spurious + model.n_missing
    missing_rate = model.n_missing / np.maximum(true_count, 1)
    spurious_rate = model.n_spurious / np.maximum(n_rows - true_count, 1)
    if spurious_lift is not None:
        lift = np.asarray(spurious_lift, dtype=np.float64)[:, None]
        spurious_rate = np.clip(spurious_rate[None, :] * lift, 0.0, 1.0)
    informative = np.maximum(1.0 - missing_rate - spurious_rate, 1e-9)
    true_presence = np.clip((presence - spurious_rate) / informative, 0.0, 1.0)
    wrong_given = spurious_rate * (1.0 - true_presence) / presence
    wrong_absent = missing_rate * true_presence / (1.0 - presence)
    return np.asarray(np.clip(np.where(given, wrong_given, wrong_absent), 0.0, 1.0))


def keep_strongest(selected: np.ndarray, score: np.ndarray, per_row: int) -> np.ndarray:
    """(N, C) bool: per row, at most ``per_row`` of the selected cells, those scoring highest."""
    keyed = np.where(selected, np.asarray(score, dtype=np.float64), -np.inf)
    rank = np.argsort(-keyed, axis=1, kind="stable").argsort(axis=1, kind="stable")
    return np.asarray(selected & (rank < per_row))


def row_spurious_lift(labels: np.ndarray, model: NoiseModel) -> np.ndarray:
    """(N,) how much likelier a given cell is read as spurious in a row of its kind than its
    class's rate says: rows the model reads as missing a label, and the other rows.

    labels : (N, C) 0/1 given labels. Per kind, the spurious reads (``model.spurious_cells``)
    its rows hold over those they would hold if each class's reads were spread at random over
    its given cells (:func:`chance_spread` over the kind's rows: the class's read rate times
    the kind's given cells of that class);
    weighted by those chance reads, the lifts average to 1. :func:`noise_posterior` takes a
    row's cells as independent, but a wrong label that displaced a true one sits in a row
    missing one (pairflip at 0.2 on the benchmark: lifts 2.0-2.1 in the rows read as missing a
    label, 0.7-0.8 in the others) and a tag added to a row that lost none sits apart from the
    missing ones (mixtures: 0.72-0.88 and 1.01-1.14), while true labels the content hides
    read as spurious at random. 1 everywhere when every row or none is read as missing a label.
    """
    given = np.asarray(labels).astype(bool)
    reads = np.asarray(model.spurious_cells, dtype=bool)
    kind = np.asarray(model.missing_cells, dtype=bool).any(axis=1)
    chance = chance_spread(reads, given)
    lift = np.ones(given.shape[0])
    for rows in (kind, ~kind):
        expected = float(chance[rows].sum())
        if expected > 0 and rows.any() and not rows.all():
            lift[rows] = reads[rows].sum() / expected
    return lift


def suggest_directed_changes(
    labels: np.ndarray,
    presence: np.ndarray,
    flagged: np.ndarray,
    model: NoiseModel,
    threshold: float = 0.7,
    per_row: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell suggestions for the flagged rows, in the directions the noise model found.

    Parameters
    ----------
    labels : (N, C) 0/1 given labels; presence : (N, C) fused presence probability;
    flagged : (N,) bool rows to fix; model : the scan's :class:`NoiseModel`;
    threshold : the precision a suggestion is held to: a cell's error probability and its
        posterior (:func:`noise_posterior`) must exceed it and its q-value
        (:func:`direction_qvalues`) must not exceed ``1 − threshold``;
    per_row : most removals and most additions suggested per row.

    Returns
    -------
    remove, add : (N, C) bool. A flagged row loses its given labels with the lowest presence
    and gains its absent classes with the highest, at most ``per_row`` of each, each only when
    it passes the three tests below and only in a direction the model found: no removal of a
    class with no estimated spurious label, nor in a ``mostly missing tags`` regime unless the
    rows read as spurious avoid the rows read as missing (:func:`overlap_z` at most
    −:data:`SEPARATE_ROWS_Z`: a mixture, rows that gained a tag and rows that lost one) or the
    user said tags are also added (``--noise both``); no addition in a ``mostly spurious tags``
    regime or of a class with no estimated missing one. A flagged row
    with no such cell gets no suggestion (it is flagged for review: the evidence points at no
    single cell strongly enough). In single-label data (every row one label) an addition
    replaces the row's label (a relabel) and a removal without an addition is not suggested.
    A row never ends with no label: its removals are withdrawn instead (review).

    Three tests, each at the target precision ``threshold``: the error probability (``1 − P``
    for a given cell, ``P`` for an absent one; the fused presence ranks the cells best but is
    fitted to the given labels, so it says how likely the label is given, not how likely it
    is true), the posterior that the cell is wrong under the model's class-conditional rates
    (:func:`noise_posterior`: where few labels of a class are wrong, a low presence is not
    enough; a given cell's rate is its row kind's, :func:`row_spurious_lift`) and the
    false-discovery q-value of the held-out evidence (:func:`direction_qvalues`:
    the mixture the counts were read from, cell by cell). On the benchmark matrix
    (docs/benchmarks.md, "Noise with a direction": 42 cases on three data sets) the error
    probability alone left the removals below 0.7 precision in 19 cases and the additions in
    12 (the unthresholded relabels of single-label rows among them); with the three tests the
    additions reach 0.76 or more in every case and the removals fall short in 9, each a case
    where spurious labels are a minority (rate 0.2, or the mixture): there the spurious counts
    include the true labels that leave no trace in the content, which no content-based
    evidence tells from spurious ones (on the ``missing`` protocol, with no spurious label, the
    counts read 1.5–3 % of the given labels as spurious on the MIRFlickr stand-in, 9–14 % on
    synthetic data). Coverage is the price: the removals' mean recall over the matrix fell
    from 0.57 to 0.26, the additions' from 0.34 to 0.22, and Wikipedia's relabels to 0–10 % of
    its noisy rows. Where the counts are right the posterior is calibrated (MIRFlickr stand-in,
    pairflip 0.5: given labels at posterior 0.5–0.7 / 0.7–0.9 / 0.9–1 are spurious 0.68 / 0.72
    / 0.84 of the time), so the threshold on it is not a margin but the target itself.

    A minority of spurious reads under a missing-tag majority are as likely the data's true
    labels that leave no trace in the content as added tags, and no content-based evidence
    tells them apart (synthetic ``missing`` 0.5: 93 removals, none right, from the same
    direction shares as MIRFlickr ``mixed`` 0.5, where 74 % of 181 were right). Their rows
    do: a tag added to a row that did not lose one puts the two directions in different rows,
    and faint true labels sit at random. In a regime of one direction the removals' q-values
    read each class's share capped at the pooled one (:func:`pooled_share_cap`, set by
    :func:`estimate_noise_model`). On the 42-case matrix the two rules together took the
    cases with removals below 0.7 precision from 8 to 7 (MIRFlickr ``spurious`` 0.2: 278 at
    0.65 → 166 at 0.75) and gave MIRFlickr ``mixed`` 0.2 / 0.5 / 0.8 11 / 78 / 234 removals at
    0.82 / 0.81 / 0.83 and synthetic ``mixed`` 0.8 465 at 0.72 where the blanket rule made none.

    A given cell's posterior reads its class's spurious rate times its row kind's lift
    (:func:`row_spurious_lift`: rows read as missing a label, or not), because wrong labels
    gather in the rows that lost one (displacement) or avoid them (a mixture), where true
    labels the content hides sit anywhere. On the 42-case matrix (docs/benchmarks.md,
    "Removals weighed by their rows") the removals below 0.7 precision went from 4 cases to 2
    (synthetic pairflip 0.2: 173 at 0.61 → 210 at 0.76; mixed 0.5: 84 at 0.69 → 87 at 0.72),
    with more right removals in most cases; additions are unchanged.

    The strongest cell of each flagged row, rather than the cells the per-class counts select,
    is what a row-level flag calls for: on the MIRFlickr stand-in (3,000 rows) both rules gave
    the same precision (removals 0.68–0.86 on pairflip) with higher recall for this one (0.70–
    0.77 against 0.58–0.73), and on the notebook example's 400 rows the count selection
    changed as many cells wrongly as rightly (400 wrong cells before and after, against 363
    after with this rule).
    """
    given = np.asarray(labels).astype(bool)
    rows = np.asarray(flagged, dtype=bool)[:, None]
    # A given cell's posterior takes its row's kind into account (:func:`row_spurious_lift`):
    # spurious reads gather in, or avoid, the rows read as missing a label.
    posterior = np.where(
        given,
        noise_posterior(given, presence, model, row_spurious_lift(given, model)),
        noise_posterior(given, presence, model),
    )
    confident = (cell_error_probability(given, presence) > threshold) & (posterior > threshold)
    tolerated = 1.0 - threshold
    removals_open = model.regime != "mostly missing tags" or model.prior == "both"
    if not removals_open:
        # A minority of spurious reads under a missing-tag majority are as likely the data's
        # faint true labels as added tags, and no content-based evidence tells them apart;
        # rows that gained a tag and rows that lost one are different rows in a mixture, so
        # the spurious reads are trusted when their rows avoid the missing ones.
        removals_open = direction_rows_z(given, model) <= -SEPARATE_ROWS_Z
    may_remove = (model.n_spurious > 0)[None, :] & removals_open
    may_add = (model.n_missing > 0)[None, :] & (model.regime != "mostly spurious tags")
    confident_removal = confident & (model.spurious_q <= tolerated) & may_remove
    confident_addition = confident & (model.missing_q <= tolerated) & may_add
    remove = keep_strongest(given & rows & confident_removal, 1.0 - presence, per_row)
    add = keep_strongest(~given & rows & confident_addition, presence, per_row)
    if is_single_label(given):
        relabelled = np.asarray(add.any(axis=1))
        remove = given & relabelled[:, None]  # the added class replaces the row's label
    emptied = (given & ~remove).sum(axis=1) + add.sum(axis=1) == 0
    remove[emptied] = False
    return remove, add
