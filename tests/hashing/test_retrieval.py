"""Hamming retrieval metrics against plain-Python reference implementations.

The references below use explicit loops and the definitions in hashing/retrieval.py's
docstring (rank by distance, ties by database index; AP over relevant items; queries without
relevant items left out), on small random inputs with 8-bit codes so that distances tie a lot.
"""

from __future__ import annotations

import logging
import math
import tracemalloc
from dataclasses import dataclass

import numpy as np
import pytest

from hashing.retrieval import (
    average_precision_per_query,
    default_chunk_size,
    evaluate_retrieval,
    hamming_distance,
    label_relevance,
    mean_average_precision,
    pack_codes,
    precision_at_k,
    precision_recall_curve,
    rank_by_distance,
    sign_codes,
)

# ------------------------------------------------------------------------------------------
# Plain-Python references
# ------------------------------------------------------------------------------------------


def ref_distances(query_signs: list[list[int]], db_signs: list[list[int]]) -> list[list[int]]:
    return [[sum(a != b for a, b in zip(q, d, strict=True)) for d in db_signs] for q in query_signs]


def ref_relevance(query_labels: np.ndarray, db_labels: np.ndarray) -> list[list[bool]]:
    return [
        [any(bool(a) and bool(b) for a, b in zip(q, d, strict=True)) for d in db_labels]
        for q in query_labels
    ]


def ref_ranking(distance_row: list[int]) -> list[int]:
    return sorted(range(len(distance_row)), key=lambda j: (distance_row[j], j))


def ref_average_precision(ranking: list[int], relevant_row: list[bool], top_k: int | None) -> float:
    if not any(relevant_row):
        return math.nan
    cut = ranking if top_k is None else ranking[:top_k]
    hits = 0
    precisions = []
    for position, item in enumerate(cut, start=1):
        if relevant_row[item]:
            hits += 1
            precisions.append(hits / position)
    return sum(precisions) / len(precisions) if precisions else 0.0


def ref_precision_at_k(ranking: list[int], relevant_row: list[bool], k: int) -> float:
    return sum(relevant_row[item] for item in ranking[:k]) / k


def ref_pr_curve(
    distances: list[list[int]], relevance: list[list[bool]], n_bits: int
) -> tuple[list[float], list[float]]:
    precision, recall = [], []
    for radius in range(n_bits + 1):
        precisions, recalls = [], []
        for distance_row, relevant_row in zip(distances, relevance, strict=True):
            n_relevant = sum(relevant_row)
            if n_relevant == 0:
                continue
            retrieved = [j for j, d in enumerate(distance_row) if d <= radius]
            relevant_retrieved = sum(relevant_row[j] for j in retrieved)
            if retrieved:
                precisions.append(relevant_retrieved / len(retrieved))
            recalls.append(relevant_retrieved / n_relevant)
        precision.append(sum(precisions) / len(precisions) if precisions else math.nan)
        recall.append(sum(recalls) / len(recalls) if recalls else math.nan)
    return precision, recall


def to_signs(features: np.ndarray) -> list[list[int]]:
    return [[1 if value >= 0 else -1 for value in row] for row in features.tolist()]


# ------------------------------------------------------------------------------------------
# Random problems with many ties and awkward queries
# ------------------------------------------------------------------------------------------

N_BITS = 8
N_QUERIES = 13
N_DATABASE = 47
N_CLASSES = 5


def random_problem(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Real-valued codes (8 bits: distances collide), sparse multi-hot labels.

    Query 0 has no label at all and query 1 only a class no database item carries, so both
    have no relevant item; some features are exactly 0 to exercise sign(0) = +1.
    """
    rng = np.random.default_rng(seed)
    query_features = rng.standard_normal((N_QUERIES, N_BITS))
    db_features = rng.standard_normal((N_DATABASE, N_BITS))
    query_features[rng.random(query_features.shape) < 0.1] = 0.0
    db_features[rng.random(db_features.shape) < 0.1] = 0.0
    query_labels = (rng.random((N_QUERIES, N_CLASSES)) < 0.3).astype(np.uint8)
    db_labels = (rng.random((N_DATABASE, N_CLASSES)) < 0.3).astype(np.uint8)
    db_labels[:, -1] = 0
    # Every other query carries at least one class the database has.
    query_labels[np.arange(N_QUERIES), rng.integers(0, N_CLASSES - 1, size=N_QUERIES)] = 1
    query_labels[0] = 0
    query_labels[1] = 0
    query_labels[1, -1] = 1
    return query_features, db_features, query_labels, db_labels


@dataclass(frozen=True)
class Problem:
    args: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    distances: list[list[int]]
    relevance: list[list[bool]]
    rankings: list[list[int]]


@pytest.fixture(params=[0, 1, 2, 3, 4])
def problem(request: pytest.FixtureRequest) -> Problem:
    query_features, db_features, query_labels, db_labels = random_problem(request.param)
    distances = ref_distances(to_signs(query_features), to_signs(db_features))
    relevance = ref_relevance(query_labels, db_labels)
    assert not any(relevance[0]) and not any(relevance[1])
    assert all(any(row) for row in relevance[2:])
    # Many ties is the point of the 8-bit setting.
    assert len(set(distances[2])) < N_DATABASE / 3
    return Problem(
        args=(query_features, db_features, query_labels, db_labels),
        distances=distances,
        relevance=relevance,
        rankings=[ref_ranking(row) for row in distances],
    )


CHUNK_SIZES = [1, 4, 5, N_QUERIES, None]


@pytest.mark.parametrize("top_k", [None, 1, 3, 10, N_DATABASE])
@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_average_precision_matches_reference(
    problem: Problem, top_k: int | None, chunk_size: int | None
) -> None:
    expected = np.array(
        [
            ref_average_precision(ranking, relevant_row, top_k)
            for ranking, relevant_row in zip(problem.rankings, problem.relevance, strict=True)
        ]
    )
    per_query = average_precision_per_query(*problem.args, top_k=top_k, chunk_size=chunk_size)
    np.testing.assert_allclose(per_query, expected, rtol=0, atol=1e-12, equal_nan=True)
    assert np.isnan(per_query[0]) and np.isnan(per_query[1])

    map_score = mean_average_precision(*problem.args, top_k=top_k, chunk_size=chunk_size)
    assert map_score == pytest.approx(float(np.nanmean(expected)), abs=1e-12)


@pytest.mark.parametrize("chunk_size", [2, None])
def test_long_codes_and_many_classes_match_reference(chunk_size: int | None) -> None:
    # 130 bits (3 words) and 70 classes (2 label words) take the multi-word paths.
    rng = np.random.default_rng(130)
    query_features = rng.standard_normal((5, 130))
    db_features = rng.standard_normal((31, 130))
    query_labels = rng.random((5, 70)) < 0.03
    db_labels = rng.random((31, 70)) < 0.03
    distances = ref_distances(to_signs(query_features), to_signs(db_features))
    relevance = ref_relevance(query_labels, db_labels)
    expected = [
        ref_average_precision(ref_ranking(row), relevant_row, None)
        for row, relevant_row in zip(distances, relevance, strict=True)
    ]
    assert sum(not math.isnan(value) for value in expected) >= 3
    per_query = average_precision_per_query(
        query_features, db_features, query_labels, db_labels, chunk_size=chunk_size
    )
    np.testing.assert_allclose(per_query, expected, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("top_k", [None, 3])
def test_chunking_does_not_change_results(problem: Problem, top_k: int | None) -> None:
    results = [
        average_precision_per_query(*problem.args, top_k=top_k, chunk_size=chunk_size)
        for chunk_size in CHUNK_SIZES
    ]
    for result in results[1:]:
        np.testing.assert_array_equal(result, results[0])


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_precision_at_k_matches_reference(problem: Problem, chunk_size: int | None) -> None:
    ks = [1, 2, 7, 20, N_DATABASE]
    evaluated = [i for i, row in enumerate(problem.relevance) if any(row)]
    expected = {
        k: float(
            np.mean(
                [
                    ref_precision_at_k(problem.rankings[i], problem.relevance[i], k)
                    for i in evaluated
                ]
            )
        )
        for k in ks
    }
    result = precision_at_k(*problem.args, ks=ks, chunk_size=chunk_size)
    assert list(result) == ks
    for k in ks:
        assert result[k] == pytest.approx(expected[k], abs=1e-12)


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_precision_recall_curve_matches_reference(problem: Problem, chunk_size: int | None) -> None:
    expected_precision, expected_recall = ref_pr_curve(problem.distances, problem.relevance, N_BITS)
    radii, precision, recall = precision_recall_curve(*problem.args, chunk_size=chunk_size)
    np.testing.assert_array_equal(radii, np.arange(N_BITS + 1))
    np.testing.assert_allclose(precision, expected_precision, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(recall, expected_recall, atol=1e-12)
    assert np.all(np.diff(recall) >= 0) and recall[-1] == pytest.approx(1.0)


def test_ranking_and_relevance_match_reference(problem: Problem) -> None:
    query_features, db_features, query_labels, db_labels = problem.args
    distances = hamming_distance(pack_codes(query_features), pack_codes(db_features), N_BITS)
    np.testing.assert_array_equal(distances, problem.distances)
    np.testing.assert_array_equal(rank_by_distance(distances), problem.rankings)
    np.testing.assert_array_equal(label_relevance(query_labels, db_labels), problem.relevance)


def test_evaluate_retrieval_equals_the_separate_metrics(problem: Problem) -> None:
    ks = (1, 5, 20)
    report = evaluate_retrieval(*problem.args, ks=ks, chunk_size=3)
    assert report.map_score == mean_average_precision(*problem.args)
    assert report.precision_at_k == precision_at_k(*problem.args, ks=ks)
    radii, precision, recall = precision_recall_curve(*problem.args)
    np.testing.assert_array_equal(report.radii, radii)
    np.testing.assert_array_equal(report.precision, precision)
    np.testing.assert_array_equal(report.recall, recall)
    assert report.n_queries == N_QUERIES
    assert report.n_evaluated_queries == sum(any(row) for row in problem.relevance)


# ------------------------------------------------------------------------------------------
# Codes and distances
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_bits", [8, 16, 63, 64, 65, 128, 256])
def test_packed_hamming_equals_inner_product_formula(n_bits: int) -> None:
    rng = np.random.default_rng(n_bits)
    query_codes = rng.choice(np.array([-1, 1], dtype=np.int8), size=(7, n_bits))
    db_codes = rng.choice(np.array([-1, 1], dtype=np.int8), size=(11, n_bits))
    # Complementary and identical pairs reach both ends of the range.
    db_codes[0] = -query_codes[0]
    db_codes[1] = query_codes[1]

    distances = hamming_distance(pack_codes(query_codes), pack_codes(db_codes), n_bits=n_bits)
    inner = query_codes.astype(np.int64) @ db_codes.astype(np.int64).T
    np.testing.assert_array_equal(distances, (n_bits - inner) // 2)
    assert distances[0, 0] == n_bits and distances[1, 1] == 0
    assert distances.dtype == (np.uint8 if n_bits <= 255 else np.uint16)
    assert pack_codes(query_codes).shape == (7, -(-n_bits // 64))


@pytest.mark.parametrize("n_classes", [1, 8, 9, 24, 33, 64, 65, 130])
def test_label_relevance_any_number_of_classes(n_classes: int) -> None:
    rng = np.random.default_rng(n_classes)
    # About one label a row, so both outcomes are common.
    query_labels = rng.random((9, n_classes)) < 1.0 / n_classes
    db_labels = (rng.random((23, n_classes)) < 1.0 / n_classes).astype(np.int64)
    query_labels[0, -1] = db_labels[0, -1] = 1  # the last (padded) word is used
    relevant = label_relevance(query_labels, db_labels)
    np.testing.assert_array_equal(relevant, ref_relevance(query_labels, db_labels))
    assert relevant[0, 0]


def test_sign_codes_maps_zero_to_plus_one() -> None:
    codes = sign_codes(np.array([[0.0, -0.0, 1e-9, -1e-9, 3.0, -2.0]]))
    assert codes.dtype == np.int8
    np.testing.assert_array_equal(codes, [[1, 1, 1, -1, 1, -1]])
    with pytest.raises(ValueError, match="NaN"):
        sign_codes(np.array([[0.5, np.nan]]))


def test_pack_codes_agrees_across_input_kinds() -> None:
    rng = np.random.default_rng(7)
    features = rng.standard_normal((5, 70))
    signs = sign_codes(features)
    expected = pack_codes(signs)
    np.testing.assert_array_equal(pack_codes(features), expected)
    np.testing.assert_array_equal(pack_codes(signs > 0), expected)
    np.testing.assert_array_equal(pack_codes(signs.astype(np.int64)), expected)
    with pytest.raises(ValueError, match="bool"):
        pack_codes((signs > 0).astype(np.uint8))


# ------------------------------------------------------------------------------------------
# Sanity of the scores
# ------------------------------------------------------------------------------------------


def test_codes_determined_by_the_class_score_perfectly() -> None:
    rng = np.random.default_rng(11)
    n_classes, n_bits = 6, 64
    class_codes = rng.choice(np.array([-1, 1], dtype=np.int8), size=(n_classes, n_bits))
    query_class = rng.integers(0, n_classes, size=40)
    db_class = np.repeat(np.arange(n_classes), 50)
    eye = np.eye(n_classes, dtype=np.uint8)
    args = (class_codes[query_class], class_codes[db_class], eye[query_class], eye[db_class])

    assert mean_average_precision(*args) == 1.0
    assert mean_average_precision(*args, top_k=10) == 1.0
    assert precision_at_k(*args, ks=[1, 50]) == {1: 1.0, 50: 1.0}
    _, precision, recall = precision_recall_curve(*args)
    assert precision[0] == 1.0 and recall[0] == 1.0


def test_random_codes_score_near_the_relevant_pair_base_rate() -> None:
    rng = np.random.default_rng(5)
    n_queries, n_database, n_classes = 200, 3000, 8
    query_labels = rng.random((n_queries, n_classes)) < 0.15
    db_labels = rng.random((n_database, n_classes)) < 0.15
    query_codes = rng.standard_normal((n_queries, 32))
    db_codes = rng.standard_normal((n_database, 32))

    relevance = label_relevance(query_labels, db_labels)
    has_relevant = relevance.any(axis=1)
    base_rate = relevance[has_relevant].mean()
    map_score = mean_average_precision(query_codes, db_codes, query_labels, db_labels)
    assert 0.2 < base_rate < 0.5
    assert abs(map_score - base_rate) < 0.02


def test_no_query_with_relevant_items_gives_nan(caplog: pytest.LogCaptureFixture) -> None:
    codes = np.ones((3, 8))
    query_labels = np.array([[1, 0], [1, 0], [0, 0]])
    db_labels = np.array([[0, 1], [0, 1], [0, 1]])
    with caplog.at_level(logging.WARNING):
        assert math.isnan(mean_average_precision(codes, codes, query_labels, db_labels))
    assert "no query has a relevant" in caplog.text
    assert math.isnan(precision_at_k(codes, codes, query_labels, db_labels, ks=[2])[2])


# ------------------------------------------------------------------------------------------
# Memory and validation
# ------------------------------------------------------------------------------------------


def test_memory_stays_bounded_by_the_chunk() -> None:
    rng = np.random.default_rng(2)
    n_queries, n_database, chunk_size = 1500, 4000, 25
    query_codes = rng.standard_normal((n_queries, 64)).astype(np.float32)
    db_codes = rng.standard_normal((n_database, 64)).astype(np.float32)
    query_labels = rng.random((n_queries, 10)) < 0.3
    db_labels = rng.random((n_database, 10)) < 0.3

    tracemalloc.start()  # numpy reports its array buffers to tracemalloc
    try:
        evaluate_retrieval(
            query_codes, db_codes, query_labels, db_labels, ks=[10], chunk_size=chunk_size
        )
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    full_distance_matrix = n_queries * n_database  # bytes at one byte a pair
    chunk_work = 16 * chunk_size * n_database
    assert peak_bytes < chunk_work + 1_500_000
    assert peak_bytes < full_distance_matrix / 2


def test_default_chunk_size_fits_the_budget() -> None:
    assert default_chunk_size(200_000) == 83
    assert default_chunk_size(18_000) == 932
    assert default_chunk_size(10**9) == 1


def test_inputs_are_validated() -> None:
    codes = np.ones((4, 8))
    labels = np.eye(4, 3)
    with pytest.raises(ValueError, match="bits"):
        mean_average_precision(codes, np.ones((4, 9)), labels, labels)
    with pytest.raises(ValueError, match="classes"):
        mean_average_precision(codes, codes, labels, np.eye(4, 5))
    with pytest.raises(ValueError, match="rows"):
        mean_average_precision(codes, np.ones((5, 8)), labels, labels)
    with pytest.raises(ValueError, match="empty"):
        mean_average_precision(np.ones((0, 8)), codes, np.ones((0, 3)), labels)
    with pytest.raises(ValueError, match="2-D"):
        mean_average_precision(np.ones(8), codes, labels, labels)
    with pytest.raises(ValueError, match="multi-hot"):
        mean_average_precision(codes, codes, labels * 0.5, labels)
    with pytest.raises(ValueError, match="top_k"):
        mean_average_precision(codes, codes, labels, labels, top_k=5)
    with pytest.raises(ValueError, match="top_k"):
        mean_average_precision(codes, codes, labels, labels, top_k=0)
    with pytest.raises(ValueError, match="k=0"):
        precision_at_k(codes, codes, labels, labels, ks=[1, 0])
    with pytest.raises(ValueError, match="chunk_size"):
        mean_average_precision(codes, codes, labels, labels, chunk_size=0)
    with pytest.raises(ValueError, match="NaN"):
        mean_average_precision(np.full((4, 8), np.nan), codes, labels, labels)
    with pytest.raises(ValueError, match="words"):
        hamming_distance(pack_codes(codes), pack_codes(np.ones((4, 70))))
