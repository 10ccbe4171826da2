"""Fusion rules: calibration, rank fusion, noise-rate estimate, label suggestions."""

from __future__ import annotations

import numpy as np
import pytest

from auditor.fusion import (
    calibrate_presence,
    cell_row_score,
    confidently_wrong_rows,
    consensus_weights,
    estimate_noise_rate,
    flag_top,
    fuse_rows,
    stack_presence,
    suggest_changes,
    suspicion_rank,
)
from auditor.metrics import auroc


def test_suspicion_rank_direction_and_ties() -> None:
    low = suspicion_rank(np.array([0.1, 0.5, 0.5, 0.9]), "low_is_suspect")
    np.testing.assert_allclose(low, [1.0, 0.625, 0.625, 0.25])
    high = suspicion_rank(np.array([0.1, 0.9]), "high_is_suspect")
    assert high[1] > high[0]


def test_calibration_is_monotone_per_class_and_tracks_frequency() -> None:
    rng = np.random.default_rng(0)
    truth = (rng.random((2000, 3)) < [0.1, 0.4, 0.7]).astype(np.uint8)
    evidence = truth * 2.0 + rng.normal(size=truth.shape) * 3.0 + 100.0  # any scale
    calibrated = calibrate_presence(evidence, truth)
    for c in range(3):
        order = np.argsort(evidence[:, c])
        assert (np.diff(calibrated[order, c]) >= -1e-12).all()
        assert abs(calibrated[:, c].mean() - truth[:, c].mean()) < 0.02


def test_cell_row_score_catches_pairflips() -> None:
    rng = np.random.default_rng(1)
    clean = (rng.random((500, 6)) < 0.3).astype(np.uint8)
    clean[clean.sum(axis=1) == 0, 0] = 1
    presence = np.clip(clean * 0.8 + 0.1 + rng.normal(scale=0.05, size=clean.shape), 0, 1)
    noisy = clean.copy()
    flipped = np.arange(0, 500, 5)
    for row in flipped:  # one label off, one on
        on, off = np.flatnonzero(noisy[row]), np.flatnonzero(noisy[row] == 0)
        noisy[row, on[0]], noisy[row, off[0]] = 0, 1
    truth = np.zeros(500, dtype=bool)
    truth[flipped] = True
    assert auroc(truth, -cell_row_score(noisy, presence)) > 0.99
    # The estimated rate is in the right region when the evidence is this clean.
    assert abs(estimate_noise_rate(noisy, presence) - 0.2) < 0.05


def test_fuse_rows_and_flag_top() -> None:
    fused = fuse_rows({"a": np.array([0.2, 0.9, 0.5]), "b": np.array([0.4, 0.7, 0.1])})
    np.testing.assert_allclose(fused, [0.3, 0.8, 0.3])  # two agreeing signals: equal weights
    # A signal unrelated to the consensus gets (almost) no weight.
    rng = np.random.default_rng(0)
    base = rng.random(400)
    stacked = np.stack(
        [base + rng.normal(scale=0.1, size=400) for _ in range(3)] + [rng.random(400), 1 - base]
    )
    weights = consensus_weights(stacked)
    assert (weights[:3] > 0.5).all() and weights[3] < 0.15 and weights[4] == 0.0
    agreeing = np.array([0.1, 0.2, 0.9, 0.8])
    anchored = fuse_rows({"a": agreeing, "b": agreeing}, anchor="a")
    np.testing.assert_allclose(anchored, agreeing)
    assert flag_top(fused, 1).tolist() == [False, True, False]
    assert flag_top(fused, 2).tolist() == [True, True, False]  # ties by row order


def test_suggestions_only_in_flagged_rows_and_never_empty() -> None:
    labels = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=np.uint8)
    presence = np.array([[0.1, 0.2, 0.3], [0.2, 0.9, 0.8], [0.1, 0.2, 0.9]])
    flagged = np.array([True, True, False])
    remove, add = suggest_changes(labels, presence, flagged)
    # Row 0: its only label is unlikely but must not be emptied; the best absent class is
    # below 0.5, so the single most suspect cell is changed and the label kept.
    assert ((labels[0].astype(bool) & ~remove[0]) | add[0]).any()
    assert remove[1].tolist() == [True, False, False] and add[1].tolist() == [False, False, True]
    assert not remove[2].any() and not add[2].any()  # not flagged
    suggested = (labels.astype(bool) & ~remove) | add
    assert suggested.any(axis=1).all()


def test_stacking_weights_the_informative_detector_and_never_goes_negative() -> None:
    rng = np.random.default_rng(0)
    truth = rng.random((3000, 4)) < 0.3
    given = truth.copy()
    flipped = rng.random(truth.shape) < 0.1  # 10 % of the cells are wrong
    given[flipped] = ~given[flipped]
    informative = np.where(truth, 0.8, 0.2) + rng.normal(scale=0.05, size=truth.shape)
    useless = rng.random(truth.shape)
    contrary = 1.0 - informative  # would need a negative weight
    calibrated = [np.clip(m, 0.01, 0.99) for m in (informative, useless, contrary)]
    presence, weights, _ = stack_presence(calibrated, given)
    assert weights[0] > 1.0 and weights[1] < 0.05 and weights[2] == 0.0
    # the stack finds the flipped cells at least as well as the informative detector alone
    errors = np.where(given, 1 - presence, presence)
    alone = np.where(given, 1 - calibrated[0], calibrated[0])
    assert auroc(flipped.ravel(), errors.ravel()) >= auroc(flipped.ravel(), alone.ravel()) - 1e-9
    assert auroc(flipped.ravel(), errors.ravel()) > 0.95


def test_suggestions_change_at_most_one_given_and_one_absent_cell_per_row() -> None:
    labels = np.array([[1, 1, 1, 0, 0, 0]], dtype=np.uint8)
    presence = np.array([[0.05, 0.1, 0.9, 0.95, 0.8, 0.1]])
    remove, add = suggest_changes(labels, presence, np.array([True]))
    assert remove[0].tolist() == [True, False, False, False, False, False]  # the least present
    assert add[0].tolist() == [False, False, False, True, False, False]  # the most present


@pytest.mark.parametrize(("separation", "seed"), [(3.0, 0), (3.0, 1), (0.7, 2)])
def test_confidently_wrong_rows_equal_cleanlabs_confident_learning_filter(
    separation: float, seed: int
) -> None:
    # Sharp evidence (about 17 % of rows have a flipped cell) and weak evidence (most rows
    # flagged): the same rows either way.
    from cleanlab.multilabel_classification.filter import find_label_issues

    from auditor.baselines import multi_hot_to_lists

    rng = np.random.default_rng(seed)
    truth = (rng.random((2000, 8)) < 0.3).astype(np.int64)
    labels = truth.copy()
    flipped = rng.random(labels.shape) < 0.03
    labels[flipped] = 1 - labels[flipped]
    labels[labels.sum(axis=1) == 0, 1] = 1
    presence = 1 / (1 + np.exp(-rng.normal(separation * (2 * truth - 1), 1.5)))
    expected = find_label_issues(
        multi_hot_to_lists(labels), presence, filter_by="confident_learning"
    )
    rows = confidently_wrong_rows(labels, presence)
    assert 0 < rows.sum() < len(rows)
    np.testing.assert_array_equal(rows, expected)
    assert estimate_noise_rate(labels, presence) == rows.mean()
