"""Time Hamming mAP@all on random codes and multi-label data of a chosen size.

Defaults match the MIRFlickr-25K protocol: 2,000 queries x 18,000 database items, 64 bits,
24 classes with about 3.5 labels per row (the real data has 3.78). Codes are random, so the
mAP printed is near the base rate of relevant pairs; the point is the time and the memory.

    python examples/bench_retrieval.py
    python examples/bench_retrieval.py --queries 20000 --database 200000

Prints one line: sizes, chunk size, mAP, best wall-clock time of ``--repeats`` runs after one
warm-up run, and the process's peak resident memory next to its value right after the imports.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hashing.retrieval import default_chunk_size, mean_average_precision  # noqa: E402


def random_multilabel(
    n_rows: int, n_classes: int, labels_per_row: float, rng: np.random.Generator
) -> np.ndarray:
    """(n_rows, n_classes) bool multi-hot, at least one label a row, skewed class frequencies.

    Row sizes are 1 + Poisson(labels_per_row - 1); classes are drawn without replacement
    with Zipf-like popularity (a few common concepts such as "people" or "sky", many rare ones).
    """
    popularity = 1.0 / np.arange(1, n_classes + 1) ** 0.8
    popularity = rng.permutation(popularity / popularity.sum())
    sizes = np.minimum(1 + rng.poisson(max(labels_per_row - 1.0, 0.0), size=n_rows), n_classes)
    # Gumbel top-k: the `size` largest perturbed log-weights are a weighted draw without
    # replacement, done for all rows at once.
    keys = np.log(popularity)[None, :] + rng.gumbel(size=(n_rows, n_classes))
    ranks = np.argsort(np.argsort(-keys, axis=1), axis=1)
    return ranks < sizes[:, None]


def peak_rss_mb() -> float:
    """High-water resident memory of this process so far (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    # Importing the hashing package pulls in torch (hundreds of MB), so report the peak above
    # this import baseline too: that part is what the metric itself costs.
    import_rss_mb = peak_rss_mb()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--database", type=int, default=18_000)
    parser.add_argument("--bits", type=int, default=64)
    parser.add_argument("--classes", type=int, default=24)
    parser.add_argument("--labels-per-row", type=float, default=3.5)
    parser.add_argument(
        "--chunk-size", type=int, default=None, help="queries per chunk (default: auto)"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    query_codes = rng.standard_normal((args.queries, args.bits), dtype=np.float32)
    db_codes = rng.standard_normal((args.database, args.bits), dtype=np.float32)
    query_labels = random_multilabel(args.queries, args.classes, args.labels_per_row, rng)
    db_labels = random_multilabel(args.database, args.classes, args.labels_per_row, rng)

    def run() -> float:
        return mean_average_precision(
            query_codes, db_codes, query_labels, db_labels, chunk_size=args.chunk_size
        )

    map_score = run()  # warm-up
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)

    chunk = args.chunk_size or default_chunk_size(args.database)
    peak_mb = peak_rss_mb()
    print(
        f"mAP@all {args.queries}x{args.database} bits={args.bits} classes={args.classes} "
        f"labels/row={query_labels.sum(1).mean():.2f} chunk={chunk}: map={map_score:.4f} "
        f"best={min(times):.3f}s of {args.repeats} (after warm-up) "
        f"peak_rss={peak_mb:.0f}MB (import baseline {import_rss_mb:.0f}MB)"
    )


if __name__ == "__main__":
    main()
