"""Detection metrics against plain reference implementations on random inputs, ties included."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from auditor.metrics import (
    auroc,
    average_precision,
    budget_key,
    budget_size,
    detection_report,
    flag_report,
    precision_recall_at_k,
    suspicion_from_quality,
    top_k_rows,
)


def random_case(seed: int, n_rows: int, tied: bool) -> tuple[np.ndarray, np.ndarray]:
    """Random truth (both classes present) and a score that is informative but imperfect."""
    rng = np.random.default_rng(seed)
    truth = rng.random(n_rows) < rng.uniform(0.05, 0.9)
    truth[0], truth[1] = True, False
    score = truth * rng.uniform(0.0, 2.0) + rng.standard_normal(n_rows)
    if tied:  # few distinct values: many ties, within and across the two classes
        score = np.round(score * rng.integers(1, 4)) / 2.0
    return truth, score


def reference_top_k(suspicion: np.ndarray, k: int) -> list[int]:
    """Plain sort: most suspect first, ties by lower row index."""
    return sorted(range(len(suspicion)), key=lambda i: (-suspicion[i], i))[:k]


def reference_precision_recall(truth: np.ndarray, suspicion: np.ndarray, k: int) -> tuple:
    hits = sum(bool(truth[i]) for i in reference_top_k(suspicion, k))
    n_noisy = int(sum(bool(t) for t in truth))
    return (hits / k if k else math.nan, hits / n_noisy if n_noisy else math.nan)


CASES = [(seed, n, tied) for seed in range(12) for n, tied in ((7, True), (60, False), (250, True))]


@pytest.mark.parametrize(("seed", "n_rows", "tied"), CASES)
def test_auroc_and_average_precision_equal_sklearn(seed: int, n_rows: int, tied: bool) -> None:
    truth, score = random_case(seed, n_rows, tied)
    assert auroc(truth, score) == pytest.approx(roc_auc_score(truth, score), abs=1e-12)
    assert average_precision(truth, score) == pytest.approx(
        average_precision_score(truth, score), abs=1e-12
    )


def test_auroc_counts_a_tie_as_one_half() -> None:
    # One noisy and one clean row with the same score: a coin flip.
    assert auroc(np.array([True, False]), np.array([3.0, 3.0])) == 0.5
    assert auroc(np.array([True, False, False]), np.array([2.0, 2.0, 1.0])) == 0.75


def test_perfect_and_reversed_rankings() -> None:
    truth = np.array([True, True, False, False, False])
    score = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    assert auroc(truth, score) == 1.0
    assert auroc(truth, -score) == 0.0
    assert average_precision(truth, score) == 1.0


def test_quality_to_suspicion_reverses_the_ranking() -> None:
    truth, score = random_case(3, 80, tied=True)
    quality = -score * 0.5 + 7.0  # a monotone-decreasing transform of the suspicion
    assert auroc(truth, suspicion_from_quality(quality)) == pytest.approx(auroc(truth, score))
    assert average_precision(truth, suspicion_from_quality(quality)) == pytest.approx(
        average_precision(truth, score)
    )
    assert suspicion_from_quality(np.array([[0.2, 0.9]])).shape == (1, 2)


@pytest.mark.parametrize("seed", range(10))
def test_top_k_and_precision_recall_equal_a_loop(seed: int) -> None:
    truth, score = random_case(seed, 40, tied=True)
    for k in (0, 1, 5, int(truth.sum()), 40):
        assert top_k_rows(score, k).tolist() == reference_top_k(score, k)
        got = precision_recall_at_k(truth, score, k)
        want = reference_precision_recall(truth, score, k)
        for g, w in zip(got, want, strict=True):
            assert (math.isnan(g) and math.isnan(w)) or g == pytest.approx(w)


def test_top_k_breaks_ties_by_row_index() -> None:
    score = np.array([1.0, 2.0, 2.0, 0.0, 2.0])
    assert top_k_rows(score, 2).tolist() == [1, 2]
    assert top_k_rows(score, 4).tolist() == [1, 2, 4, 0]


def test_top_k_rejects_bad_k_and_nan() -> None:
    with pytest.raises(ValueError, match="k must be"):
        top_k_rows(np.zeros(3), 4)
    with pytest.raises(ValueError, match="k must be"):
        top_k_rows(np.zeros(3), 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="NaN"):
        top_k_rows(np.array([0.0, np.nan]), 1)
    with pytest.raises(ValueError, match="NaN"):
        auroc(np.array([True, False]), np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="shape"):
        auroc(np.array([True, False]), np.array([0.0, 1.0, 2.0]))


def test_budget_size_rounds_and_keeps_at_least_one_row() -> None:
    assert budget_size(0.01, 50) == 1  # round(0.5) = 0, raised to 1
    assert budget_size(0.05, 1000) == 50
    assert budget_size(0.10, 1234) == 123
    assert budget_key(0.01) == "precision_at_1pct"
    assert budget_key(0.10) == "precision_at_10pct"


@pytest.mark.parametrize("seed", range(6))
def test_detection_report_equals_reference(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n_rows, n_classes = 300, 5
    truth_cells = rng.random((n_rows, n_classes)) < 0.08
    truth_rows: np.ndarray = np.any(truth_cells, axis=1)
    cell_score = np.round(truth_cells * 1.2 + rng.standard_normal((n_rows, n_classes)), 1)
    row_score = cell_score.max(axis=1)
    report = detection_report(truth_rows, row_score, truth_cells, cell_score)

    n_noisy = int(truth_rows.sum())
    assert report["n_rows"] == n_rows and report["n_noisy_rows"] == n_noisy
    assert report["auroc"] == pytest.approx(roc_auc_score(truth_rows, row_score))
    assert report["auprc"] == pytest.approx(average_precision_score(truth_rows, row_score))
    p_t, r_t = reference_precision_recall(truth_rows, row_score, n_noisy)
    assert report["precision_at_t"] == pytest.approx(p_t)
    assert report["recall_at_t"] == pytest.approx(r_t)
    for fraction, key in ((0.01, "precision_at_1pct"), (0.05, "precision_at_5pct"),
                          (0.10, "precision_at_10pct")):  # fmt: skip
        k = max(1, round(fraction * n_rows))
        assert report[key] == pytest.approx(reference_precision_recall(truth_rows, row_score, k)[0])
    assert report["n_cells"] == n_rows * n_classes
    assert report["n_noisy_cells"] == int(truth_cells.sum())
    assert report["cell_auroc"] == pytest.approx(
        roc_auc_score(truth_cells.ravel(), cell_score.ravel())
    )
    assert report["cell_auprc"] == pytest.approx(
        average_precision_score(truth_cells.ravel(), cell_score.ravel())
    )


def test_detection_report_without_cells_has_no_cell_keys() -> None:
    truth, score = random_case(0, 50, tied=False)
    report = detection_report(truth, score)
    assert "cell_auroc" not in report and "auroc" in report
    with pytest.raises(ValueError, match="both"):
        detection_report(truth, score, truth_cells=np.zeros((50, 2), bool))


@pytest.mark.parametrize("all_noisy", [False, True])
def test_degenerate_truth_gives_nan_not_an_exception(all_noisy: bool) -> None:
    truth = np.full(20, all_noisy)
    score = np.arange(20, dtype=float)
    cells = np.zeros((20, 3), bool)
    cells[:, 0] = all_noisy
    report = detection_report(truth, score, cells, np.ones((20, 3)))
    assert report["n_noisy_rows"] == (20 if all_noisy else 0)
    for key in ("auroc", "auprc", "precision_at_t", "recall_at_t", "precision_at_1pct",
                "precision_at_5pct", "precision_at_10pct"):  # fmt: skip
        assert math.isnan(report[key]), key
    # Cells: all-noisy rows still have clean cells here, so only the no-noise case is degenerate.
    assert math.isnan(report["cell_auroc"]) != all_noisy
    assert math.isnan(auroc(truth, score)) and math.isnan(average_precision(truth, score))


def test_flag_report_equals_counts() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        truth = rng.random(50) < 0.3
        flagged = rng.random(50) < 0.25
        report = flag_report(truth, flagged)
        correct = sum(1 for t, f in zip(truth, flagged, strict=True) if t and f)
        precision = correct / flagged.sum()
        recall = correct / truth.sum()
        assert report["n_correct"] == correct
        assert report["precision"] == pytest.approx(precision)
        assert report["recall"] == pytest.approx(recall)
        f1 = 0.0 if correct == 0 else 2 * precision * recall / (precision + recall)
        assert report["f1"] == pytest.approx(f1)
        assert report["flag_ratio"] == pytest.approx(flagged.sum() / truth.sum())


def test_flag_report_degenerate_cases() -> None:
    truth = np.array([True, False, False])
    nothing = flag_report(truth, np.zeros(3, bool))
    assert math.isnan(nothing["precision"]) and nothing["recall"] == 0.0
    assert math.isnan(nothing["f1"]) and nothing["flag_ratio"] == 0.0
    no_noise = flag_report(np.zeros(3, bool), np.array([True, False, False]))
    assert no_noise["precision"] == 0.0 and math.isnan(no_noise["recall"])
    assert math.isnan(no_noise["flag_ratio"])
    wrong = flag_report(truth, np.array([False, True, False]))
    assert wrong["f1"] == 0.0
    with pytest.raises(ValueError, match="shape"):
        flag_report(truth, np.zeros(4, bool))
