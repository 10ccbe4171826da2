"""Hamming retrieval metrics for binary hash codes: mAP, precision@k, precision-recall curves.

Codes are compared by Hamming distance, the number of differing bits; for ±1 codes of K bits
that is ``(K - b_i . b_j) / 2``. Codes are packed 64 bits to a ``uint64`` word and distances
are computed with XOR and a population count, so a 64-bit code costs one word per item.

Conventions (every function below follows them):

- **Signs.** Real-valued features become codes by ``sign``, with ``sign(0) := +1``.
- **Relevance.** A database item is relevant to a query when their label rows share at least
  one label (multi-hot labels; single-label data is the one-label case).
- **Ranking and ties.** For each query the database is sorted by Hamming distance ascending,
  and items at equal distance keep database index order (index ascending). This makes every
  metric deterministic even though Hamming distances tie massively (only K + 1 values).
  The sort is ``np.argsort(kind="stable")`` on 8- or 16-bit distances, which numpy runs as a
  radix sort: linear in the database size.
- **Queries without relevant items** (no database item shares a label with them) have an
  undefined average precision. They get NaN per query and are left out of every mean
  (mAP, precision@k, the precision-recall curve).
- **mAP@k.** Average precision over the top k ranks divides by the number of relevant items
  *retrieved within the top k* (the convention of the hashing literature), and is 0 when none
  of the top k is relevant. ``top_k=None`` ranks the whole database ("mAP@all").
- **Memory.** Queries are processed in chunks of ``chunk_size`` rows; a chunk holds about
  ``BYTES_PER_PAIR`` bytes per (query, database item) pair at its peak, so the Q x B distance
  matrix is never built. The default chunk size keeps a chunk within
  ``DEFAULT_MEMORY_BUDGET_BYTES`` (256 MiB): about 83 queries at B = 200,000 and about 930 at
  B = 18,000. Results do not depend on the chunk size.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack

import numpy as np
from numpy.typing import ArrayLike, NDArray

logger = logging.getLogger(__name__)

__all__ = [
    "BYTES_PER_PAIR",
    "DEFAULT_MEMORY_BUDGET_BYTES",
    "RetrievalReport",
    "average_precision_per_query",
    "default_chunk_size",
    "evaluate_retrieval",
    "hamming_distance",
    "label_relevance",
    "mean_average_precision",
    "pack_codes",
    "precision_at_k",
    "precision_recall_curve",
    "rank_by_distance",
    "sign_codes",
]

DEFAULT_MEMORY_BUDGET_BYTES = 256 * 1024**2
# Bytes per (query, database item) pair of a chunk's work arrays (see _ChunkWorkspace): a
# uint64 scratch shared by the code XOR and the label AND (8), the distance (<= 2), the
# relevance mask (1), and per-word temporaries for codes > 64 bits or C > 64 classes (1 + 1);
# at most 13, rounded up. Row-by-row ranking adds O(B), not O(q B).
BYTES_PER_PAIR = 16

_BITS_PER_WORD = 64


# --------------------------------------------------------------------------------------------
# Codes and distances
# --------------------------------------------------------------------------------------------


def sign_codes(features: ArrayLike) -> NDArray[np.int8]:
    """Binarise real-valued features into ±1 hash codes.

    Parameters
    ----------
    features : (N, K) float
        Continuous network outputs (e.g. tanh activations). Must be finite.

    Returns
    -------
    codes : (N, K) int8
        ``+1`` where ``features >= 0`` (so ``sign(0) := +1``), ``-1`` elsewhere.
    """
    values = _as_2d(features, "features")
    if np.issubdtype(values.dtype, np.floating) and not np.isfinite(values).all():
        raise ValueError("features contain NaN or infinite values; cannot take their sign")
    return np.where(values >= 0, np.int8(1), np.int8(-1)).astype(np.int8, copy=False)


def pack_codes(codes: ArrayLike) -> NDArray[np.uint64]:
    """Pack binary codes into 64-bit words, one row per item.

    Parameters
    ----------
    codes : (N, K) bool, ±1 integer, or real-valued float
        ``bool``: the bit is the value. Integers must be -1 or +1 (a {0, 1} integer array is
        refused because 0 would silently read as +1; pass it as ``bool``). Floats are signed
        with ``sign(0) := +1`` (so a float {0, 1} array would become all ones).

    Returns
    -------
    packed : (N, W) uint64, W = ceil(K / 64)
        Bit k of a code sits in word ``k // 64``. K is padded to ``64 * W`` with zero bits in
        every row, so the padding never adds Hamming distance.
    """
    bits = _code_bits(codes, "codes")
    n_items, n_bits = bits.shape
    n_words = -(-n_bits // _BITS_PER_WORD)
    padded = np.zeros((n_items, n_words * _BITS_PER_WORD), dtype=bool)
    padded[:, :n_bits] = bits
    packed_bytes = np.packbits(padded, axis=1, bitorder="little")
    # A little-endian view makes bit k land at bit k % 64 of its word on any machine.
    return np.ascontiguousarray(packed_bytes).view("<u8").astype(np.uint64, copy=False)


def hamming_distance(
    query_packed: NDArray[np.uint64],
    db_packed: NDArray[np.uint64],
    n_bits: int | None = None,
) -> NDArray[np.unsignedinteger]:
    """Hamming distances between packed codes.

    Parameters
    ----------
    query_packed : (Q, W) uint64
        Output of :func:`pack_codes` for the queries.
    db_packed : (B, W) uint64
        Output of :func:`pack_codes` for the database.
    n_bits : int, optional
        Code length K (<= 64 W). Only chooses the smallest output dtype; defaults to 64 W.

    Returns
    -------
    distances : (Q, B) uint8 if K <= 255, uint16 if K <= 65535, else uint32
        Number of differing bits; 0 = identical codes, K = complementary codes.
        Allocates Q x B: chunk the queries for large inputs (the metrics below do).
    """
    query_words = _packed_2d(query_packed, "query_packed")
    db_words = _packed_2d(db_packed, "db_packed")
    n_words = query_words.shape[1]
    if db_words.shape[1] != n_words:
        raise ValueError(
            f"query_packed has {n_words} words per code but db_packed has {db_words.shape[1]}"
        )
    max_bits = n_words * _BITS_PER_WORD
    if n_bits is None:
        n_bits = max_bits
    if not 1 <= n_bits <= max_bits:
        raise ValueError(f"n_bits={n_bits} does not fit {n_words} packed words (1..{max_bits})")
    workspace = _ChunkWorkspace.allocate(
        query_words.shape[0], db_words.shape[0], _distance_dtype(n_bits), n_words, 1
    )
    return _hamming_into(query_words, db_words, workspace)


def label_relevance(query_labels: ArrayLike, db_labels: ArrayLike) -> NDArray[np.bool_]:
    """Which database items are relevant to which query: they share at least one label.

    Parameters
    ----------
    query_labels : (Q, C) multi-hot, bool or {0, 1} numbers
    db_labels : (B, C) multi-hot, bool or {0, 1} numbers

    Returns
    -------
    relevant : (Q, B) bool
        True where the two label rows overlap. A query with an all-zero label row has no
        relevant item. Allocates Q x B.
    """
    query_hot = _label_matrix(query_labels, "query_labels")
    db_hot = _label_matrix(db_labels, "db_labels")
    if query_hot.shape[1] != db_hot.shape[1]:
        raise ValueError(
            f"query_labels have {query_hot.shape[1]} classes but db_labels have {db_hot.shape[1]}"
        )
    word_bits = _label_word_bits(query_hot.shape[1])
    query_label_bits = _pack_label_bits(query_hot, word_bits)
    workspace = _ChunkWorkspace.allocate(
        query_hot.shape[0], db_hot.shape[0], np.uint8, 1, query_label_bits.shape[1]
    )
    db_label_bits_t = np.ascontiguousarray(_pack_label_bits(db_hot, word_bits).T)
    return _overlap_into(query_label_bits, db_label_bits_t, workspace)


def rank_by_distance(distances: NDArray[np.unsignedinteger]) -> NDArray[np.intp]:
    """Rank database items per query: distance ascending, ties by database index ascending.

    Parameters
    ----------
    distances : (Q, B) unsigned int
        Hamming distances, e.g. from :func:`hamming_distance`.

    Returns
    -------
    order : (Q, B) intp
        ``order[q, r]`` is the database index at rank r (0 = nearest) for query q.
    """
    values = np.asarray(distances)
    if values.ndim != 2:
        raise ValueError(f"distances must be 2-D (Q, B), got shape {values.shape}")
    # Stable sort keeps index order inside ties; numpy radix-sorts 8/16-bit keys.
    return np.argsort(values, axis=1, kind="stable")


# --------------------------------------------------------------------------------------------
# Ranking metrics
# --------------------------------------------------------------------------------------------


def default_chunk_size(
    n_database: int, memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET_BYTES
) -> int:
    """Queries per chunk so that one chunk stays within ``memory_budget_bytes``.

    Parameters
    ----------
    n_database : int
        Database size B.
    memory_budget_bytes : int
        Budget for one chunk's (query, item) work arrays, at ``BYTES_PER_PAIR`` bytes a pair.

    Returns
    -------
    chunk_size : int, >= 1
        E.g. 83 at B = 200,000 and 932 at B = 18,000 with the default 256 MiB.
    """
    if n_database < 1:
        raise ValueError(f"n_database must be >= 1, got {n_database}")
    return max(1, memory_budget_bytes // (BYTES_PER_PAIR * n_database))


def average_precision_per_query(
    query_codes: ArrayLike,
    db_codes: ArrayLike,
    query_labels: ArrayLike,
    db_labels: ArrayLike,
    top_k: int | None = None,
    chunk_size: int | None = None,
) -> NDArray[np.float64]:
    """Average precision of each query's Hamming ranking (higher = better).

    Parameters
    ----------
    query_codes : (Q, K) real features, ±1 codes or bool bits
    db_codes : (B, K) same kinds
    query_labels : (Q, C) multi-hot
    db_labels : (B, C) multi-hot
    top_k : int, optional
        Cut the ranking after ``top_k`` items (1 <= top_k <= B); None ranks the whole
        database. With a cut, AP divides by the relevant items found in the top k (0 if none).
    chunk_size : int, optional
        Queries per chunk; default from :func:`default_chunk_size`.

    Returns
    -------
    average_precision : (Q,) float64 in [0, 1]
        Mean, over the relevant items in the (cut) ranking, of the precision at each one's
        rank. NaN for queries with no relevant item in the whole database.
    """
    inputs = _prepare(query_codes, db_codes, query_labels, db_labels)
    cut = inputs.n_database if top_k is None else _check_k(top_k, inputs.n_database, "top_k")
    hit_numbers = np.arange(1, inputs.n_database + 1, dtype=np.float64)
    average_precision = np.full(inputs.n_queries, np.nan)
    for query, positions in _iter_relevant_positions(inputs, chunk_size):
        if positions.size == 0:
            continue
        average_precision[query] = _average_precision(positions, cut, hit_numbers)
    return average_precision


class RankingOptions(TypedDict, total=False):
    """The keyword options of :func:`average_precision_per_query`, for the functions that pass
    them on."""

    top_k: int | None
    chunk_size: int | None


def mean_average_precision(
    query_codes: ArrayLike,
    db_codes: ArrayLike,
    query_labels: ArrayLike,
    db_labels: ArrayLike,
    **options: Unpack[RankingOptions],
) -> float:
    """Mean average precision of Hamming ranking: mAP@all, or mAP@k with ``top_k``.

    Parameters are those of :func:`average_precision_per_query` (``top_k`` and ``chunk_size``
    by keyword).

    Returns
    -------
    map_score : float in [0, 1], higher = better
        Mean of the per-query AP over queries with at least one relevant database item; NaN
        (with a logged warning) if no query has one.
    """
    per_query = average_precision_per_query(
        query_codes, db_codes, query_labels, db_labels, **options
    )
    return _mean_over_evaluated(per_query, "mAP")


def precision_at_k(
    query_codes: ArrayLike,
    db_codes: ArrayLike,
    query_labels: ArrayLike,
    db_labels: ArrayLike,
    ks: Sequence[int],
    chunk_size: int | None = None,
) -> dict[int, float]:
    """Precision among the first k ranked database items, for several k.

    Parameters
    ----------
    query_codes, db_codes, query_labels, db_labels
        As in :func:`average_precision_per_query`.
    ks : sequence of int, each 1 <= k <= B
    chunk_size : int, optional

    Returns
    -------
    precision : dict k -> float in [0, 1], higher = better
        (relevant items in the top k) / k, averaged over queries with at least one relevant
        database item (the queries mAP averages over).
    """
    inputs = _prepare(query_codes, db_codes, query_labels, db_labels)
    cutoffs = _check_ks(ks, inputs.n_database)
    hits_sum = np.zeros(len(cutoffs), dtype=np.float64)
    n_evaluated = 0
    for _, positions in _iter_relevant_positions(inputs, chunk_size):
        if positions.size == 0:
            continue
        n_evaluated += 1
        hits_sum += np.searchsorted(positions, cutoffs)
    return _precision_dict(cutoffs, hits_sum, n_evaluated)


def precision_recall_curve(
    query_codes: ArrayLike,
    db_codes: ArrayLike,
    query_labels: ArrayLike,
    db_labels: ArrayLike,
    chunk_size: int | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Precision and recall of Hamming-ball retrieval at every radius r = 0..K.

    At radius r a query retrieves every database item within Hamming distance <= r.

    Parameters
    ----------
    query_codes, db_codes, query_labels, db_labels
        As in :func:`average_precision_per_query`.
    chunk_size : int, optional

    Returns
    -------
    radii : (K + 1,) int64
        0, 1, ..., K.
    precision : (K + 1,) float64
        Mean over queries that have a relevant item *and* retrieve at least one item at that
        radius of (relevant retrieved) / (retrieved); NaN where no such query exists.
    recall : (K + 1,) float64
        Mean over queries that have a relevant item of (relevant retrieved) / (relevant);
        non-decreasing, 1.0 at r = K. NaN everywhere if no query has a relevant item.
    """
    inputs = _prepare(query_codes, db_codes, query_labels, db_labels)
    curve = _RadiusCurveAccumulator(inputs.n_bits)
    for distances, relevant in _iter_query_chunks(inputs, chunk_size):
        for row in range(distances.shape[0]):
            curve.add(distances[row], relevant[row])
    return curve.result()


@dataclass(frozen=True)
class RetrievalReport:
    """Retrieval quality of one direction (e.g. image queries against a text database).

    Attributes
    ----------
    map_score : float
        mAP over the whole ranking (mAP@all).
    precision_at_k : dict k -> float
    radii, precision, recall : (K + 1,) arrays
        Precision-recall curve by Hamming radius (see :func:`precision_recall_curve`).
    n_queries : int
        All queries.
    n_evaluated_queries : int
        Queries with at least one relevant database item; the means run over these.
    """

    map_score: float
    precision_at_k: dict[int, float]
    radii: NDArray[np.int64]
    precision: NDArray[np.float64]
    recall: NDArray[np.float64]
    n_queries: int
    n_evaluated_queries: int


def evaluate_retrieval(
    query_codes: ArrayLike,
    db_codes: ArrayLike,
    query_labels: ArrayLike,
    db_labels: ArrayLike,
    ks: Sequence[int] = (),
    chunk_size: int | None = None,
) -> RetrievalReport:
    """mAP@all, precision@k and the precision-recall curve in one pass over the queries.

    Same results as calling :func:`mean_average_precision`, :func:`precision_at_k` and
    :func:`precision_recall_curve` separately, for the cost of one ranking per query.
    Parameters as in those functions; ``ks`` may be empty.
    """
    inputs = _prepare(query_codes, db_codes, query_labels, db_labels)
    cutoffs = _check_ks(ks, inputs.n_database)
    hit_numbers = np.arange(1, inputs.n_database + 1, dtype=np.float64)
    average_precision = np.full(inputs.n_queries, np.nan)
    hits_sum = np.zeros(len(cutoffs), dtype=np.float64)
    curve = _RadiusCurveAccumulator(inputs.n_bits)
    ranked_buffer = np.empty(inputs.n_database, dtype=bool)
    query = 0
    for distances, relevant in _iter_query_chunks(inputs, chunk_size):
        for row in range(distances.shape[0]):
            positions = _relevant_positions(distances[row], relevant[row], ranked_buffer)
            if positions.size:
                average_precision[query] = _average_precision(
                    positions, inputs.n_database, hit_numbers
                )
                hits_sum += np.searchsorted(positions, cutoffs)
            curve.add(distances[row], relevant[row])
            query += 1
    radii, precision, recall = curve.result()
    n_evaluated = int(np.count_nonzero(~np.isnan(average_precision)))
    return RetrievalReport(
        map_score=_mean_over_evaluated(average_precision, "mAP"),
        precision_at_k=_precision_dict(cutoffs, hits_sum, n_evaluated),
        radii=radii,
        precision=precision,
        recall=recall,
        n_queries=inputs.n_queries,
        n_evaluated_queries=n_evaluated,
    )


# --------------------------------------------------------------------------------------------
# Internals
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PreparedInputs:
    query_packed: NDArray[np.uint64]  # (Q, W)
    db_packed: NDArray[np.uint64]  # (B, W)
    query_labels: NDArray[np.unsignedinteger]  # (Q, V) label bits, see _pack_label_bits
    db_labels_t: NDArray[np.unsignedinteger]  # (V, B) the same, transposed once
    n_bits: int

    @property
    def n_queries(self) -> int:
        return int(self.query_packed.shape[0])

    @property
    def n_database(self) -> int:
        return int(self.db_packed.shape[0])


def _prepare(
    query_codes: ArrayLike, db_codes: ArrayLike, query_labels: ArrayLike, db_labels: ArrayLike
) -> _PreparedInputs:
    """Validate the four inputs once and convert codes and labels to packed bits."""
    query_bits = _code_bits(query_codes, "query_codes")
    db_bits = _code_bits(db_codes, "db_codes")
    if query_bits.shape[1] != db_bits.shape[1]:
        raise ValueError(
            f"query_codes have {query_bits.shape[1]} bits but db_codes have {db_bits.shape[1]}"
        )
    query_hot = _label_matrix(query_labels, "query_labels")
    db_hot = _label_matrix(db_labels, "db_labels")
    if query_hot.shape[1] != db_hot.shape[1]:
        raise ValueError(
            f"query_labels have {query_hot.shape[1]} classes but db_labels have {db_hot.shape[1]}"
        )
    for codes_name, bits, labels_name, hot in (
        ("query_codes", query_bits, "query_labels", query_hot),
        ("db_codes", db_bits, "db_labels", db_hot),
    ):
        if bits.shape[0] != hot.shape[0]:
            raise ValueError(
                f"{codes_name} has {bits.shape[0]} rows but {labels_name} has {hot.shape[0]}"
            )
    word_bits = _label_word_bits(query_hot.shape[1])
    return _PreparedInputs(
        query_packed=pack_codes(query_bits),
        db_packed=pack_codes(db_bits),
        query_labels=_pack_label_bits(query_hot, word_bits),
        db_labels_t=np.ascontiguousarray(_pack_label_bits(db_hot, word_bits).T),
        n_bits=int(query_bits.shape[1]),
    )


def _iter_query_chunks(
    inputs: _PreparedInputs, chunk_size: int | None
) -> Iterator[tuple[NDArray[np.unsignedinteger], NDArray[np.bool_]]]:
    """Yield (distances (q, B), relevant (q, B) bool) for consecutive chunks of queries.

    The yielded arrays are overwritten by the next chunk: use them before asking for it.
    """
    if chunk_size is None:
        chunk_size = default_chunk_size(inputs.n_database)
    elif chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    workspace = _ChunkWorkspace.allocate(
        min(chunk_size, inputs.n_queries),
        inputs.n_database,
        _distance_dtype(inputs.n_bits),
        inputs.query_packed.shape[1],
        inputs.query_labels.shape[1],
    )
    for start in range(0, inputs.n_queries, chunk_size):
        stop = min(start + chunk_size, inputs.n_queries)
        chunk = workspace.rows(stop - start)
        distances = _hamming_into(inputs.query_packed[start:stop], inputs.db_packed, chunk)
        relevant = _overlap_into(inputs.query_labels[start:stop], inputs.db_labels_t, chunk)
        yield distances, relevant


def _iter_relevant_positions(
    inputs: _PreparedInputs, chunk_size: int | None
) -> Iterator[tuple[int, NDArray[np.intp]]]:
    """Yield (query index, 0-based ranks of its relevant items, ascending) for every query."""
    ranked_buffer = np.empty(inputs.n_database, dtype=bool)
    query = 0
    for distances, relevant in _iter_query_chunks(inputs, chunk_size):
        for row in range(distances.shape[0]):
            yield query, _relevant_positions(distances[row], relevant[row], ranked_buffer)
            query += 1


def _relevant_positions(
    distances: NDArray[np.unsignedinteger],
    relevant: NDArray[np.bool_],
    ranked_buffer: NDArray[np.bool_],
) -> NDArray[np.intp]:
    """0-based ranks of the relevant items in one query's ranking (distance, then index).

    Row by row rather than over the chunk: one row's arrays stay in cache, which measured
    about 2x faster than sorting and gathering the whole (q, B) chunk at once.
    """
    order = np.argsort(distances, kind="stable")
    np.take(relevant, order, out=ranked_buffer)
    return np.flatnonzero(ranked_buffer)


def _average_precision(
    positions: NDArray[np.intp], cut: int, hit_numbers: NDArray[np.float64]
) -> float:
    """AP from the ascending 0-based ranks of the relevant items, ranking cut after ``cut``.

    The m-th relevant item (1-based) at 0-based rank p has precision m / (p + 1).
    """
    n_hits = int(np.searchsorted(positions, cut))
    if n_hits == 0:
        return 0.0
    precisions = hit_numbers[:n_hits] / (positions[:n_hits] + 1)
    return float(precisions.sum() / n_hits)


class _RadiusCurveAccumulator:
    """Sums per-query precision and recall at every Hamming radius 0..K."""

    def __init__(self, n_bits: int) -> None:
        self.n_levels = n_bits + 1
        self.precision_sum = np.zeros(self.n_levels, dtype=np.float64)
        self.precision_count = np.zeros(self.n_levels, dtype=np.int64)
        self.recall_sum = np.zeros(self.n_levels, dtype=np.float64)
        self.n_evaluated = 0

    def add(self, distances: NDArray[np.unsignedinteger], relevant: NDArray[np.bool_]) -> None:
        """Add one query: distances (B,) and relevant (B,) bool."""
        relevant_distances = distances[relevant]
        n_relevant = relevant_distances.size
        if n_relevant == 0:
            return
        retrieved = np.cumsum(np.bincount(distances, minlength=self.n_levels))
        relevant_retrieved = np.cumsum(np.bincount(relevant_distances, minlength=self.n_levels))
        has_retrieved = retrieved > 0
        self.precision_sum[has_retrieved] += (
            relevant_retrieved[has_retrieved] / retrieved[has_retrieved]
        )
        self.precision_count += has_retrieved
        self.recall_sum += relevant_retrieved / n_relevant
        self.n_evaluated += 1

    def result(
        self,
    ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
        radii = np.arange(self.n_levels, dtype=np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(
                self.precision_count > 0,
                self.precision_sum / np.maximum(self.precision_count, 1),
                np.nan,
            )
        if self.n_evaluated == 0:
            recall = np.full(self.n_levels, np.nan)
        else:
            recall = self.recall_sum / self.n_evaluated
        return radii, precision, recall


def _mean_over_evaluated(per_query: NDArray[np.float64], what: str) -> float:
    evaluated = per_query[~np.isnan(per_query)]
    if evaluated.size == 0:
        logger.warning("%s is undefined: no query has a relevant database item", what)
        return float("nan")
    return float(evaluated.mean())


def _precision_dict(
    cutoffs: NDArray[np.intp], hits_sum: NDArray[np.float64], n_evaluated: int
) -> dict[int, float]:
    if n_evaluated == 0:
        if len(cutoffs):
            logger.warning("precision@k is undefined: no query has a relevant database item")
        return {int(k): float("nan") for k in cutoffs}
    return {int(k): float(h / (k * n_evaluated)) for k, h in zip(cutoffs, hits_sum, strict=True)}


def _check_k(k: int, n_database: int, name: str) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {k!r}")
    if not 1 <= k <= n_database:
        raise ValueError(f"{name}={k} is outside 1..{n_database} (the database size)")
    return int(k)


def _check_ks(ks: Sequence[int], n_database: int) -> NDArray[np.intp]:
    return np.array([_check_k(k, n_database, "k") for k in ks], dtype=np.intp)


@dataclass(frozen=True)
class _ChunkWorkspace:
    """Work arrays for a chunk of q queries against B items, allocated once and reused.

    Fresh arrays of a hundred megabytes per chunk cost page faults on every chunk (about a
    fifth of the run time measured at B = 200,000); reusing them costs nothing.
    """

    scratch: NDArray[np.uint64]  # (q, B) XOR of codes, then AND of labels
    distances: NDArray[np.unsignedinteger]  # (q, B)
    bit_counts: NDArray[np.uint8] | None  # (q, B) per-word counts, only for codes > 64 bits
    relevant: NDArray[np.bool_]  # (q, B)
    word_shares: NDArray[np.bool_] | None  # (q, B) per-word overlap, only for C > 64

    @classmethod
    def allocate(
        cls,
        n_rows: int,
        n_database: int,
        distance_dtype: type[np.unsignedinteger],
        n_code_words: int,
        n_label_words: int,
    ) -> _ChunkWorkspace:
        shape = (n_rows, n_database)
        return cls(
            scratch=np.empty(shape, dtype=np.uint64),
            distances=np.empty(shape, dtype=distance_dtype),
            bit_counts=np.empty(shape, dtype=np.uint8) if n_code_words > 1 else None,
            relevant=np.empty(shape, dtype=bool),
            word_shares=np.empty(shape, dtype=bool) if n_label_words > 1 else None,
        )

    def rows(self, n_rows: int) -> _ChunkWorkspace:
        """The same buffers cut to the first ``n_rows`` rows (for the last, shorter chunk)."""
        return _ChunkWorkspace(
            scratch=self.scratch[:n_rows],
            distances=self.distances[:n_rows],
            bit_counts=None if self.bit_counts is None else self.bit_counts[:n_rows],
            relevant=self.relevant[:n_rows],
            word_shares=None if self.word_shares is None else self.word_shares[:n_rows],
        )


def _hamming_into(
    query_words: NDArray[np.uint64], db_words: NDArray[np.uint64], workspace: _ChunkWorkspace
) -> NDArray[np.unsignedinteger]:
    """(q, W) and (B, W) packed codes -> workspace.distances (q, B), filled and returned."""
    distances = workspace.distances
    for word in range(query_words.shape[1]):
        np.bitwise_xor(
            query_words[:, word : word + 1], db_words[:, word][None, :], out=workspace.scratch
        )
        if workspace.bit_counts is None:  # a single word
            np.bitwise_count(workspace.scratch, out=distances)
            return distances
        np.bitwise_count(workspace.scratch, out=workspace.bit_counts)
        if word == 0:
            np.copyto(distances, workspace.bit_counts)
        else:
            distances += workspace.bit_counts
    return distances


def _overlap_into(
    query_label_bits: NDArray[np.unsignedinteger],
    db_label_bits_t: NDArray[np.unsignedinteger],
    workspace: _ChunkWorkspace,
) -> NDArray[np.bool_]:
    """(q, V) and (V, B) packed label bits -> workspace.relevant (q, B): "shares a label".

    Bitwise AND rather than a float matmul: no BLAS threads to fight other processes for the
    cores, and for C <= 32 the AND runs on 4-byte words.
    """
    n_database = db_label_bits_t.shape[1]
    # The codes' scratch is free again here; reuse its bytes as words of the label dtype.
    and_buffer = workspace.scratch.view(db_label_bits_t.dtype)[:, :n_database]
    relevant = workspace.relevant
    for word in range(query_label_bits.shape[1]):
        np.bitwise_and(
            query_label_bits[:, word : word + 1], db_label_bits_t[word][None, :], out=and_buffer
        )
        if workspace.word_shares is None:  # a single word
            np.not_equal(and_buffer, 0, out=relevant)
            return relevant
        np.not_equal(and_buffer, 0, out=workspace.word_shares)
        if word == 0:
            np.copyto(relevant, workspace.word_shares)
        else:
            np.logical_or(relevant, workspace.word_shares, out=relevant)
    return relevant


def _label_word_bits(n_classes: int) -> int:
    """Narrowest word (8, 16, 32 or 64 bits) holding C labels; wider C uses several uint64."""
    for word_bits in (8, 16, 32):
        if n_classes <= word_bits:
            return word_bits
    return 64


def _pack_label_bits(hot: NDArray[np.bool_], word_bits: int) -> NDArray[np.unsignedinteger]:
    """(N, C) bool multi-hot -> (N, ceil(C / word_bits)) unsigned words, zero-padded.

    Only "do two rows share a set bit" is asked of these words, so the bit order inside a
    word does not matter as long as queries and database are packed alike.
    """
    n_rows, n_classes = hot.shape
    n_words = -(-n_classes // word_bits)
    padded = np.zeros((n_rows, n_words * word_bits), dtype=bool)
    padded[:, :n_classes] = hot
    packed_bytes = np.ascontiguousarray(np.packbits(padded, axis=1, bitorder="little"))
    return packed_bytes.view(np.dtype(f"u{word_bits // 8}"))


def _distance_dtype(n_bits: int) -> type[np.unsignedinteger]:
    if n_bits <= np.iinfo(np.uint8).max:
        return np.uint8
    if n_bits <= np.iinfo(np.uint16).max:
        return np.uint16
    return np.uint32


def _as_2d(values: ArrayLike, name: str) -> NDArray[Any]:
    array = np.asarray(values)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (N, K), got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {array.shape})")
    return array


def _code_bits(codes: ArrayLike, name: str) -> NDArray[np.bool_]:
    """(N, K) codes of any accepted kind -> (N, K) bool, True = +1."""
    array = _as_2d(codes, name)
    if array.dtype == np.bool_:
        return array.astype(bool, copy=False)
    if np.issubdtype(array.dtype, np.integer):
        if not np.isin(array, (-1, 1)).all():
            raise ValueError(
                f"{name}: integer codes must be -1 or +1; pass {{0, 1}} bits as a bool array"
            )
        return array > 0
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise ValueError(f"{name} contain NaN or infinite values")
        return array >= 0
    raise ValueError(f"{name} must be bool, integer or float, got dtype {array.dtype}")


def _label_matrix(labels: ArrayLike, name: str) -> NDArray[np.bool_]:
    """(N, C) multi-hot of bool or {0, 1} numbers -> (N, C) bool."""
    array = np.asarray(labels)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D multi-hot array (N, C), got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {array.shape})")
    if array.dtype != np.bool_ and not np.isin(array, (0, 1)).all():
        raise ValueError(f"{name} must be multi-hot: every value 0 or 1")
    return array.astype(bool)


def _packed_2d(packed: NDArray[np.uint64], name: str) -> NDArray[np.uint64]:
    array = np.asarray(packed)
    if array.ndim != 2 or array.dtype != np.uint64:
        raise ValueError(
            f"{name} must be a 2-D uint64 array from pack_codes, got {array.dtype} {array.shape}"
        )
    if array.shape[1] == 0:
        raise ValueError(f"{name} has no words (shape {array.shape})")
    return array
