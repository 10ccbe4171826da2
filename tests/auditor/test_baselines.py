"""Baselines: the out-of-fold probe, cleanlab's scores and the kNN vote; their quality floors
run the very detectors the scan runs (:data:`auditor.detectors.DETECTORS`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from cleanlab.multilabel_classification.rank import (
    get_label_quality_scores,
    get_label_quality_scores_per_class,
)

from auditor import probe
from auditor.baselines import cleanlab_scores, multi_hot_to_lists
from auditor.detectors import DETECTORS, DetectorInput, KnnDetector
from auditor.knn import (
    knn_features,
    knn_vote,
    nearest_neighbours,
    neighbour_votes,
    vote_cell_quality,
    vote_row_score,
)
from auditor.metrics import auroc, average_precision, suspicion_from_quality
from auditor.noise import NoiseResult, inject_noise
from auditor.probe import fit_linear_probe, fold_assignment, out_of_fold_probabilities
from auditor.synth import SyntheticData, SynthSettings, make_synthetic
from hashing import neighbours

N_ROWS, N_CLASSES = 1500, 12


@pytest.fixture(scope="module")
def data() -> SyntheticData:
    return make_synthetic(SynthSettings(n_rows=N_ROWS, n_classes=N_CLASSES, seed=0))


def pairflip(data: SyntheticData, rate: float) -> NoiseResult:
    return inject_noise(data.labels, np.ones(N_ROWS, bool), "pairflip", rate, seed=0)


def detector_scores(
    detector: Any, data: SyntheticData, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Run a scan detector on every row: its one row signal and its per-cell quality (the
    presence of the given value of each cell: p where given, 1 − p where absent)."""
    found = detector.run(
        DetectorInput(data.image, data.text, labels, seed=0, device=None, epochs={}, bits=64), None
    )
    (row,) = found.signals.values()
    return row, vote_cell_quality(labels, found.presence)


def small_problem(seed: int, n_rows: int = 120, n_classes: int = 4) -> tuple[np.ndarray, ...]:
    """Features that predict labels a little, for probe mechanics tests."""
    rng = np.random.default_rng(seed)
    labels = (rng.random((n_rows, n_classes)) < 0.3).astype(np.uint8)
    features = rng.standard_normal((n_rows, 6)).astype(np.float32)
    features[:, :n_classes] += 1.5 * labels
    return features, labels


# ------------------------------------------------------------------------ out-of-fold probe
def test_folds_are_balanced_and_seeded() -> None:
    folds = fold_assignment(103, 5, seed=3)
    assert sorted(np.bincount(folds).tolist()) == [20, 20, 21, 21, 21]
    np.testing.assert_array_equal(folds, fold_assignment(103, 5, seed=3))
    assert not np.array_equal(folds, fold_assignment(103, 5, seed=4))
    with pytest.raises(ValueError, match="n_folds"):
        fold_assignment(10, 1, seed=0)


@pytest.mark.e2e
def test_no_probe_predicts_a_row_whose_label_it_was_fitted_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    features, labels = small_problem(0)
    # Column 0 carries the row number, so the spies can tell which rows each probe saw.
    features = np.hstack([np.arange(len(labels), dtype=np.float32)[:, None], features])
    fitted_on: dict[int, set[int]] = {}
    predicted: dict[int, list[int]] = {}
    models: list[probe.LinearProbe] = []  # kept alive so that id() stays unique
    real_fit, real_predict = probe.fit_linear_probe, probe.predict_probabilities

    def spy_fit(train_features: np.ndarray, *args: Any, **kwargs: Any) -> probe.LinearProbe:
        model = real_fit(train_features, *args, **kwargs)
        models.append(model)
        fitted_on[id(model)] = set(train_features[:, 0].astype(int).tolist())
        return model

    def spy_predict(model: probe.LinearProbe, rows: np.ndarray) -> np.ndarray:
        predicted.setdefault(id(model), []).extend(rows[:, 0].astype(int).tolist())
        return real_predict(model, rows)

    monkeypatch.setattr(probe, "fit_linear_probe", spy_fit)
    monkeypatch.setattr(probe, "predict_probabilities", spy_predict)
    out_of_fold_probabilities(features, labels, n_folds=4, seed=1)

    assert len(fitted_on) == 4 and predicted.keys() == fitted_on.keys()
    every_prediction = [row for rows in predicted.values() for row in rows]
    assert sorted(every_prediction) == list(range(len(labels)))  # each row exactly once
    for model, rows in predicted.items():
        assert fitted_on[model].isdisjoint(rows)
        assert fitted_on[model] | set(rows) == set(range(len(labels)))


def test_changing_a_label_changes_only_the_other_folds_predictions() -> None:
    features, labels = small_problem(1)
    before = out_of_fold_probabilities(features, labels, n_folds=4, seed=2)
    row = 17
    flipped = labels.copy()
    flipped[row] = 1 - flipped[row]
    after = out_of_fold_probabilities(features, flipped, n_folds=4, seed=2)

    folds = fold_assignment(len(labels), 4, seed=2)
    same_fold = folds == folds[row]
    # The row's own probabilities (and its fold-mates') come from a probe that never saw it.
    np.testing.assert_array_equal(after[same_fold], before[same_fold])
    # Every other fold's probe was fitted on the changed label and moved.
    for fold in set(range(4)) - {int(folds[row])}:
        assert np.abs(after[folds == fold] - before[folds == fold]).max() > 1e-6


def test_a_class_missing_from_a_training_fold_gets_a_constant_probability() -> None:
    features, labels = small_problem(2)
    labels[:, 1] = 0
    labels[5, 1] = 1  # class 1: a single row, so the fold holding it out never sees it
    labels[:, 3] = 1  # class 3: every row
    probabilities = out_of_fold_probabilities(features, labels, n_folds=3, seed=0)
    folds = fold_assignment(len(labels), 3, seed=0)
    held_out = folds == folds[5]
    n_train = int((~held_out).sum())
    np.testing.assert_allclose(probabilities[held_out, 1], 0.5 / (n_train + 1))
    np.testing.assert_allclose(probabilities[:, 3], (n_train + 0.5) / (n_train + 1), rtol=0.02)
    assert np.isfinite(probabilities).all()
    assert ((probabilities > 0) & (probabilities < 1)).all()


def test_probe_learns_the_labels() -> None:
    features, labels = small_problem(3, n_rows=400)
    model = fit_linear_probe(features, labels)
    probabilities = probe.predict_probabilities(model, features)
    for c in range(labels.shape[1]):
        assert auroc(labels[:, c].astype(bool), probabilities[:, c]) > 0.8


def test_probe_rejects_bad_input() -> None:
    features, labels = small_problem(4)
    with pytest.raises(ValueError, match="multi-hot"):
        out_of_fold_probabilities(features, labels * 2)
    with pytest.raises(ValueError, match="rows"):
        out_of_fold_probabilities(features[:-1], labels)
    features[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        out_of_fold_probabilities(features, labels)


# ------------------------------------------------------------------------ cleanlab
def test_cleanlab_scores_are_cleanlabs_ema_and_per_class_scores() -> None:
    rng = np.random.default_rng(0)
    labels = (rng.random((50, 5)) < 0.3).astype(np.uint8)
    labels[3] = 0  # an empty row is allowed in multi-label data
    pred_probs = rng.random((50, 5))
    row, cell = cleanlab_scores(labels, pred_probs)
    lists = [[c for c in range(5) if labels[i, c]] for i in range(50)]
    assert multi_hot_to_lists(labels) == lists
    np.testing.assert_allclose(
        row,
        get_label_quality_scores(
            lists,
            pred_probs,
            aggregator_kwargs={"method": "exponential_moving_average", "alpha": 0.8},
        ),
    )
    np.testing.assert_allclose(cell, get_label_quality_scores_per_class(lists, pred_probs))
    # Self-confidence: the probability of each cell's given value.
    np.testing.assert_allclose(cell, np.where(labels == 1, pred_probs, 1 - pred_probs))
    assert row.shape == (50,) and cell.shape == (50, 5)


def test_cleanlab_scores_reject_bad_input() -> None:
    labels = np.zeros((4, 3), np.uint8)
    with pytest.raises(ValueError, match="probabilities"):
        cleanlab_scores(labels, np.full((4, 3), 1.5))
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        cleanlab_scores(labels, np.zeros((4, 2)))


# ------------------------------------------------------------------------ kNN vote
def dense_reference_neighbours(features: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Brute force in float64: the full N × N cosine matrix, one sorted list per row."""
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    unit = features / np.where(norms > 0, norms, 1.0)
    similarity = unit.astype(np.float64) @ unit.T.astype(np.float64)
    neighbours, similarities = [], []
    for i in range(len(features)):
        others = sorted((j for j in range(len(features)) if j != i),
                        key=lambda j: (-similarity[i, j], j))[:k]  # fmt: skip
        neighbours.append(others)
        similarities.append([similarity[i, j] for j in others])
    return np.array(neighbours), np.array(similarities)


@pytest.mark.parametrize("block_size", [1, 7, 64, 1000])
def test_blocked_neighbours_equal_a_dense_search(block_size: int) -> None:
    rng = np.random.default_rng(5)
    features = rng.standard_normal((150, 10)).astype(np.float32)
    expected, expected_similarity = dense_reference_neighbours(features, 8)
    got, similarity = nearest_neighbours(features, k=8, block_size=block_size)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_allclose(similarity, expected_similarity, atol=1e-5)


@pytest.mark.parametrize("block_size", [1, 13, 200])
def test_tied_neighbours_are_chosen_and_ordered_by_row_index(block_size: int) -> None:
    # ±1 vectors in 16 dimensions: every cosine is an exact multiple of 1/8, so ties abound
    # (duplicates included), and the float products are exact in any summation order.
    rng = np.random.default_rng(6)
    features = rng.choice([-1.0, 1.0], size=(120, 16)).astype(np.float32)
    features[60:70] = features[0]  # exact duplicates of row 0
    expected, _ = dense_reference_neighbours(features, 9)
    got, _ = nearest_neighbours(features, k=9, block_size=block_size)
    np.testing.assert_array_equal(got, expected)
    assert got[0].tolist()[:9] == list(range(60, 69))  # duplicates first, lowest index first
    assert not (got == np.arange(120)[:, None]).any()  # never itself


def test_neighbour_search_rejects_bad_k() -> None:
    with pytest.raises(ValueError, match="k must be"):
        nearest_neighbours(np.ones((5, 2)), k=5)
    with pytest.raises(ValueError, match="block_size"):
        nearest_neighbours(np.ones((5, 2)), k=2, block_size=0)


def test_votes_and_scores_equal_loops() -> None:
    rng = np.random.default_rng(7)
    labels = (rng.random((40, 5)) < 0.35).astype(np.uint8)
    labels[0] = 0  # no given label: only absent classes count
    labels[1] = 1  # every class given: only given classes count
    neighbours = np.array([rng.choice(np.delete(np.arange(40), i), 6, replace=False)
                           for i in range(40)])  # fmt: skip
    votes = neighbour_votes(neighbours, labels, chunk_rows=7)
    score = vote_row_score(labels, votes, k=6)
    cell = vote_cell_quality(labels, votes)
    frequency = labels.mean(axis=0)
    for i in range(40):
        for c in range(5):
            share = sum(int(labels[j, c]) for j in neighbours[i]) / 6
            assert votes[i, c] == pytest.approx(share)
            assert cell[i, c] == pytest.approx(share if labels[i, c] else 1 - share)
        smoothed = [(6 * votes[i, c] + frequency[c]) / 7 for c in range(5)]
        support = min([smoothed[c] for c in range(5) if labels[i, c]], default=1.0)
        rejection = min([1 - smoothed[c] for c in range(5) if not labels[i, c]], default=1.0)
        assert score[i] == pytest.approx(support * rejection)


def test_knn_vote_equals_its_parts_and_is_blocking_invariant(data: SyntheticData) -> None:
    noise = pairflip(data, 0.4)
    features = knn_features(data.image, data.text)
    row_a, votes_a = knn_vote(features, noise.noisy_labels, k=15, block_size=97)
    row_b, votes_b = knn_vote(features, noise.noisy_labels, k=15, block_size=1024)
    np.testing.assert_array_equal(votes_a, votes_b)
    np.testing.assert_array_equal(row_a, row_b)
    neighbours, _ = nearest_neighbours(features, k=15)
    np.testing.assert_array_equal(votes_a, neighbour_votes(neighbours, noise.noisy_labels))


def test_knn_features_weigh_the_views_equally() -> None:
    rng = np.random.default_rng(8)
    image, text = rng.standard_normal((30, 40)), rng.standard_normal((30, 3)) * 100
    features = knn_features(image, text)
    assert features.shape == (30, 43) and features.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(features[:, :40], axis=1), np.sqrt(0.5), rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(features[:, 40:], axis=1), np.sqrt(0.5), rtol=1e-5)


def test_knn_search_never_builds_an_n_by_n_block(monkeypatch: pytest.MonkeyPatch) -> None:
    # faiss returns (queries, k + 1 + 2) candidates per call; rows tied at the k-th place are
    # searched again in (block_size, N) slabs. ±1 rows in 4 dimensions: almost every row ties.
    searched: list[tuple[int, int]] = []
    slabs: list[int] = []
    real_search, real_exact = neighbours._flat_search, neighbours._exact_rows

    def search_spy(index: Any, queries: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        similarity, found = real_search(index, queries, count)
        searched.append(found.shape)
        return similarity, found

    def exact_spy(unit: np.ndarray, rows: np.ndarray, k: int, block_rows: int) -> Any:
        slabs.append(block_rows)
        return real_exact(unit, rows, k, block_rows)

    monkeypatch.setattr(neighbours, "SEARCH_ROWS", 128)
    monkeypatch.setattr(neighbours, "_flat_search", search_spy)
    monkeypatch.setattr(neighbours, "_exact_rows", exact_spy)
    features = np.random.default_rng(9).choice([-1.0, 1.0], size=(300, 4))
    got, _ = nearest_neighbours(features, k=3, block_size=64)
    assert searched == [(128, 6), (128, 6), (44, 6)]
    assert slabs == [64]
    expected, _ = dense_reference_neighbours(features, 3)
    np.testing.assert_array_equal(got, expected)


# ------------------------------------------------------------------------ both baselines
@pytest.mark.parametrize(
    ("detector", "rate", "row_floor", "ap_floor", "cell_floor"),
    [
        # Measured on this data (1,500 rows, 12 classes, seeds 0-3): AUROC 0.90-0.91 at 0.3 and
        # 0.85-0.87 at 0.5; AUPRC 0.79-0.81 and 0.82-0.85; cell AUROC 0.92-0.94 and 0.91-0.92.
        pytest.param("cleanlab", 0.3, 0.84, 0.68, 0.86, marks=pytest.mark.e2e),
        pytest.param("cleanlab", 0.5, 0.80, 0.74, 0.85, marks=pytest.mark.e2e),
        # Measured (1,500 rows, 12 classes, k = 20, seeds 0-3): AUROC 0.84-0.86 at 0.3 and
        # 0.83-0.85 at 0.5; AUPRC 0.64-0.69 and 0.80-0.83; cell AUROC 0.88-0.89 and 0.87-0.88.
        ("knn", 0.3, 0.80, 0.58, 0.84),
        ("knn", 0.5, 0.79, 0.74, 0.83),
    ],
)
def test_baseline_detects_pairflip_noise(
    data: SyntheticData,
    detector: str,
    rate: float,
    row_floor: float,
    ap_floor: float,
    cell_floor: float,
) -> None:
    noise = pairflip(data, rate)
    baseline = DETECTORS["cleanlab"] if detector == "cleanlab" else KnnDetector(k=20)
    row, cell = detector_scores(baseline, data, noise.noisy_labels)
    assert auroc(noise.noisy_rows, suspicion_from_quality(row)) > row_floor
    assert average_precision(noise.noisy_rows, suspicion_from_quality(row)) > ap_floor
    assert auroc(noise.noisy_cells.ravel(), suspicion_from_quality(cell).ravel()) > cell_floor
