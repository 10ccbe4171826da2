"""The one k-nearest-neighbour search of the house, by inner product, self excluded.

Both neighbour searches of the audit (the kNN vote in the input space, :mod:`auditor.knn`;
SCBCH's per-epoch neighbours in code space, :mod:`hashing.signals`) call
:func:`nearest_neighbours`:

- below :data:`INDEX_MIN_ROWS` rows, exact (:func:`exact_neighbours`): a faiss ``IndexFlatIP``
  (BLAS inner products, memory O(block × N) inside faiss, never N × N, time O(N² · D)); ties at
  the k-th place are chosen, and every list ordered, by lower row index, so the result does not
  depend on how faiss breaks ties;
- from :data:`INDEX_MIN_ROWS` rows on, approximate (:func:`approximate_neighbours`): a faiss
  inverted-file index (IVF-Flat) on the unit-length rows, searched by inner product (= cosine
  similarity).

The approximate index:

- ``nlist = 4·√N`` k-means lists (:func:`ivf_lists`), trained on a seeded sample of at most
  ``TRAIN_POINTS_PER_LIST · nlist`` rows (10 iterations); every row is added to its list.
- Each query scans the rows of its ``nprobe`` nearest lists: about ``nlist + nprobe·N/nlist``
  inner products instead of N, so the search costs O(N^1.5 · D) with these settings, and memory
  is the index (one copy of the rows, float32) plus the (N, k) result.
- Similarities of the returned neighbours are exact; what is approximate is which rows are
  returned (a true neighbour in a list that was not probed is missed). Measured recall@k and
  the effect on the detection signals are in docs/benchmarks.md ("Scale").
- A row is never its own neighbour; rows for which the probed lists held fewer than k other
  rows (rare: tiny or very unbalanced lists) are searched exactly instead.
- Deterministic: the k-means sample and initialisation are seeded, and results are ordered by
  similarity (high first), ties by row index (low first).

faiss runs on the CPU (arrays are moved there) with as many threads as torch uses.
"""

from __future__ import annotations

import math

import numpy as np

INDEX_MIN_ROWS = 20_000
"""Row count from which the neighbour searches use the index (below it: exact blocked search,
which is fast enough there and keeps small scans exactly as before)."""

DEFAULT_NPROBE = 48
"""Lists probed per query (docs/benchmarks.md, "Scale": the measured recall and signal quality)."""

TRAIN_POINTS_PER_LIST = 40
"""k-means training sample per list: faiss's own minimum advice is 39; more costs
O(sample · nlist · D) per iteration and barely moves the recall."""


def ivf_lists(n_rows: int) -> int:
    """Number of inverted lists for N rows: ``round(4·√N)``, at least 1 and at most N."""
    return int(min(n_rows, max(1, round(4.0 * math.sqrt(n_rows)))))


def use_index(n_rows: int, min_rows: int | None = INDEX_MIN_ROWS) -> bool:
    """Whether a search over ``n_rows`` rows uses the approximate index (None = never)."""
    return min_rows is not None and n_rows >= min_rows


DEFAULT_BLOCK_ROWS = 256
"""Query rows per block of the exact re-search of tied rows: a (block, N) float32 slab."""
SEARCH_ROWS = 16_384
"""Queries per faiss call (a multiple of faiss's own 4,096-query blocks): bounds the
(SEARCH_ROWS, k + margin) result arrays."""


def _use_torch_threads(faiss: object) -> None:
    """Give faiss as many threads as torch uses (torch is imported here, not by the module:
    the kNN vote needs no torch)."""
    import torch

    faiss.omp_set_num_threads(max(1, torch.get_num_threads()))  # type: ignore[attr-defined]


def _as_unit_array(unit: np.ndarray, k: int) -> np.ndarray:
    unit = np.ascontiguousarray(unit, dtype=np.float32)
    if unit.ndim != 2:
        raise ValueError(f"unit must be a 2-D (N, D) array, got shape {unit.shape}")
    if not 1 <= k <= unit.shape[0] - 1:
        raise ValueError(f"k must be in [1, N - 1 = {unit.shape[0] - 1}], got {k}")
    return unit


def _by_similarity_then_row(
    found: np.ndarray, similarity: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The first k of each row of (b, m) candidates ordered by similarity (high first), ties by
    row index (low first); excluded candidates carry similarity -inf."""
    order = np.lexsort((found, -similarity), axis=-1)[:, :k]
    return np.take_along_axis(found, order, axis=1), np.take_along_axis(similarity, order, axis=1)


def _exact_rows(
    unit: np.ndarray, rows: np.ndarray, k: int, block_rows: int = DEFAULT_BLOCK_ROWS
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k (self excluded, ties by lower row index) of the query ``rows`` against every
    row, from whole (block, N) similarity slabs: for the rows whose k-th place is tied."""
    n_rows = unit.shape[0]
    indices = np.empty((rows.size, k), dtype=np.int64)
    similarities = np.empty((rows.size, k), dtype=np.float32)
    every_row = np.arange(n_rows, dtype=np.int64)
    for start in range(0, rows.size, block_rows):
        chunk = rows[start : start + block_rows]
        slab = unit[chunk] @ unit.T  # (b, N)
        slab[np.arange(chunk.size), chunk] = -np.inf  # a row is not its own neighbour
        found = np.broadcast_to(every_row, slab.shape)
        stop = start + chunk.size
        indices[start:stop], similarities[start:stop] = _by_similarity_then_row(found, slab, k)
    return indices, similarities


def _flat_search(index: object, queries: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """``index.search`` (faiss): (b, count) similarities and rows, most similar first."""
    similarity, found = index.search(queries, count)  # type: ignore[attr-defined]
    return similarity, found


def exact_neighbours(
    unit: np.ndarray, k: int, block_rows: int = DEFAULT_BLOCK_ROWS
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours of every row by inner product, self excluded.

    A faiss ``IndexFlatIP`` returns each row's ``k + 1 + max(2, k // 8)`` best candidates; the
    row itself is dropped and the rest ordered by similarity, ties by lower row index. Where the
    k-th kept candidate ties with the last one faiss returned (so a tied row may lie beyond what
    faiss returned, and faiss picks among ties by its own order), the row is searched again over
    all rows (:func:`_exact_rows`): the selection and order are exactly "similarity, then lower
    row index", as in a dense sort.

    Parameters
    ----------
    unit : (N, D) float32; for cosine similarity, unit-length rows.
    k : int in [1, N − 1].
    block_rows : query rows per slab of the re-search of tied rows.

    Returns
    -------
    indices : (N, k) int64, most similar first, ties by lower row index.
    similarities : (N, k) float32, non-increasing along each row.
    """
    import faiss

    unit = _as_unit_array(unit, k)
    n_rows, dim = unit.shape
    _use_torch_threads(faiss)
    index = faiss.IndexFlatIP(dim)
    index.add(unit)
    # k, the row itself and a margin: a row whose k-th candidate ties with the last is re-searched
    count = min(n_rows, k + 1 + max(2, k // 8))
    indices = np.empty((n_rows, k), dtype=np.int64)
    similarities = np.empty((n_rows, k), dtype=np.float32)
    tied: list[np.ndarray] = []
    for start in range(0, n_rows, SEARCH_ROWS):
        stop = min(n_rows, start + SEARCH_ROWS)
        rows = np.arange(start, stop)
        found_sim, found = _flat_search(index, unit[start:stop], count)
        found_sim = np.where(found == rows[:, None], -np.inf, found_sim).astype(np.float32)
        kept, kept_sim = _by_similarity_then_row(found, found_sim, k)
        indices[start:stop], similarities[start:stop] = kept, kept_sim
        if count < n_rows:
            boundary = np.where(np.isfinite(found_sim), found_sim, np.inf).min(axis=1)
            tied.append(rows[kept_sim[:, -1] <= boundary])
    redo = np.concatenate(tied) if tied else np.empty(0, dtype=np.int64)
    if redo.size:
        indices[redo], similarities[redo] = _exact_rows(unit, redo, k, block_rows)
    return indices, similarities


def nearest_neighbours(
    unit: np.ndarray,
    k: int,
    *,
    block_rows: int = DEFAULT_BLOCK_ROWS,
    index_min_rows: int | None = INDEX_MIN_ROWS,
    nprobe: int = DEFAULT_NPROBE,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """k nearest neighbours of every row by inner product, self excluded: exact
    (:func:`exact_neighbours`) below ``index_min_rows`` rows, from there on approximate
    (:func:`approximate_neighbours`; None = always exact). Shapes as in both."""
    if use_index(unit.shape[0], index_min_rows):
        return approximate_neighbours(unit, k, nprobe=nprobe, seed=seed)
    return exact_neighbours(unit, k, block_rows)


def approximate_neighbours(
    unit: np.ndarray,
    k: int,
    nprobe: int = DEFAULT_NPROBE,
    seed: int = 0,
    n_lists: int | None = None,
    search_rows: int = 16_384,
) -> tuple[np.ndarray, np.ndarray]:
    """Approximate k nearest neighbours of every row by inner product, self excluded.

    Parameters
    ----------
    unit : (N, D) float32
        Rows to search among (and to search for); for cosine similarity, unit-length rows.
    k : int in [1, N − 1]
        Neighbours per row.
    nprobe : int ≥ 1
        Inverted lists scanned per query (capped at the number of lists); higher = closer to
        exact and slower.
    seed : int
        Seed of the k-means sample and initialisation.
    n_lists : int, optional
        Inverted lists; default :func:`ivf_lists` (N).
    search_rows : int
        Queries per search call: bounds the (search_rows, k + 1) temporaries.

    Returns
    -------
    indices : (N, k) int64
        Neighbour rows, most similar first; ties by lower row index.
    similarities : (N, k) float32
        Their inner products with the query row, non-increasing along each row.
    """
    import faiss  # a heavy import, only needed at scale

    unit = _as_unit_array(unit, k)
    n_rows, dim = unit.shape
    if nprobe < 1:
        raise ValueError(f"nprobe must be at least 1, got {nprobe}")
    lists = ivf_lists(n_rows) if n_lists is None else int(n_lists)
    _use_torch_threads(faiss)
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, lists, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = int(seed)
    index.cp.niter = 10
    index.cp.min_points_per_centroid = 1  # no warning for small samples: they are on purpose
    index.cp.max_points_per_centroid = TRAIN_POINTS_PER_LIST
    index.train(unit)
    index.add(unit)
    index.nprobe = min(int(nprobe), lists)

    indices = np.empty((n_rows, k), dtype=np.int64)
    similarities = np.empty((n_rows, k), dtype=np.float32)
    incomplete: list[np.ndarray] = []
    for start in range(0, n_rows, search_rows):
        stop = min(n_rows, start + search_rows)
        found_sim, found = index.search(unit[start:stop], k + 1)
        rows = np.arange(start, stop)
        # Drop the row itself where it was found; elsewhere drop the last (least similar) hit.
        drop = found == rows[:, None]
        drop[~drop.any(axis=1), -1] = True
        drop &= np.cumsum(drop, axis=1) == 1  # only one drop per row, even with odd duplicates
        kept = found[~drop].reshape(-1, k)
        kept_sim = found_sim[~drop].reshape(-1, k)
        # Order by similarity, ties by row index (faiss leaves ties in list order).
        order = np.lexsort((kept, -kept_sim), axis=-1)
        indices[start:stop] = np.take_along_axis(kept, order, axis=1)
        similarities[start:stop] = np.take_along_axis(kept_sim, order, axis=1)
        missing = (kept < 0).any(axis=1)
        if missing.any():
            incomplete.append(rows[missing])
    if incomplete:
        rows = np.concatenate(incomplete)
        indices[rows], similarities[rows] = _exact_rows(unit, rows, k)
    return indices, similarities
