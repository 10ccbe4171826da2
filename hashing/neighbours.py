"""Approximate k-nearest-neighbour search by inner product, for large N.

The exact searches of the audit (the kNN vote in the input space, :mod:`auditor.knn`; SCBCH's
per-epoch neighbours in code space, :mod:`hashing.signals`) are blocked, so their memory is
O(block × N), but their time is O(N² · D): at 100,000 rows they dominate a scan. Above
:data:`INDEX_MIN_ROWS` rows they switch to this module: a faiss inverted-file index (IVF-Flat)
on the unit-length rows, searched by inner product (= cosine similarity).

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
import torch

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


def _exact_rows(
    unit: np.ndarray, rows: np.ndarray, k: int, block_rows: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k (self excluded) of the given query ``rows`` against all rows, in blocks."""
    data = torch.from_numpy(unit)
    indices = np.empty((rows.size, k), dtype=np.int64)
    similarities = np.empty((rows.size, k), dtype=np.float32)
    for start in range(0, rows.size, block_rows):
        chunk = rows[start : start + block_rows]
        slab = data[torch.from_numpy(chunk)] @ data.T  # (b, N)
        slab[torch.arange(chunk.size), torch.from_numpy(chunk)] = -torch.inf
        top = torch.topk(slab, k, dim=1)
        indices[start : start + chunk.size] = top.indices.numpy()
        similarities[start : start + chunk.size] = top.values.numpy()
    return indices, similarities


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

    unit = np.ascontiguousarray(unit, dtype=np.float32)
    if unit.ndim != 2:
        raise ValueError(f"unit must be a 2-D (N, D) array, got shape {unit.shape}")
    n_rows, dim = unit.shape
    if not 1 <= k <= n_rows - 1:
        raise ValueError(f"k must be in [1, N - 1 = {n_rows - 1}], got {k}")
    if nprobe < 1:
        raise ValueError(f"nprobe must be at least 1, got {nprobe}")
    lists = ivf_lists(n_rows) if n_lists is None else int(n_lists)
    faiss.omp_set_num_threads(max(1, torch.get_num_threads()))
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
        exact_indices, exact_similarities = _exact_rows(unit, rows, k)
        order = np.lexsort((exact_indices, -exact_similarities), axis=-1)
        indices[rows] = np.take_along_axis(exact_indices, order, axis=1)
        similarities[rows] = np.take_along_axis(exact_similarities, order, axis=1)
    return indices, similarities
