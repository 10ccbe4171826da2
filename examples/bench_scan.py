"""Detection benchmark of `audit scan`: fused score vs every signal vs cleanlab, with known noise.

Datasets:
- ``mirflickr``: MIRFlickr-25K's real labels and tags (../shared/data, or --mirflickr DIR) with
  the papers' own pairflip noise files (rates 0.2 / 0.5 / 0.8). The real image view (VGG
  features) is not available here, so a stand-in image view is built FROM THE CLEAN LABELS:
  each label is dropped with probability 0.3 (occlusion), the rest go through a fixed random
  nonlinear map into 512 dimensions with Gaussian noise. It sees the true labels imperfectly,
  as real image features do, but it is not real image data: read the numbers with that in mind.
- ``synthetic``: `audit synth` defaults (10,000 rows, 5,000 train rows) with pairflip noise.

    python examples/bench_scan.py --dataset synthetic --rates 0.2 0.5 0.8
    python examples/bench_scan.py --dataset mirflickr --rates 0.2 0.5 0.8

Prints one line per (dataset, rate, signal) and the time per stage; --json-out writes them all.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.io

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from auditor.dataset import AuditDataset  # noqa: E402
from auditor.importers import import_mirflickr25k  # noqa: E402
from auditor.inject import with_noise  # noqa: E402
from auditor.scanning import ScanSettings, run_scan  # noqa: E402
from auditor.synth import SynthSettings, make_synthetic  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "mirflickr25k"


def stand_in_image_view(clean: np.ndarray, seed: int = 0, dim: int = 512) -> np.ndarray:
    """(N, C) clean labels -> (N, dim) float32 image view that sees them imperfectly."""
    rng = np.random.default_rng(seed)
    seen = clean * (rng.random(clean.shape) > 0.3)
    hidden = seen @ rng.normal(size=(clean.shape[1], 256)) + rng.normal(size=(len(clean), 256))
    return (np.tanh(0.5 * hidden) @ rng.normal(size=(256, dim)) / 16.0).astype(np.float32)


def mirflickr(rate: float, folder: Path) -> AuditDataset:
    lall = folder / "mirflickr25k-lall.mat"
    clean = scipy.io.loadmat(lall)["LAll"].astype(np.uint8)
    with tempfile.TemporaryDirectory() as scratch:
        xall = Path(scratch) / "xall.mat"
        scipy.io.savemat(xall, {"XAll": stand_in_image_view(clean)})
        return import_mirflickr25k(
            lall,
            folder / "mirflickr25k-yall.mat",
            xall,
            folder / f"mirflickr25k-lall-noise_{rate}.h5",
        )


def synthetic(rate: float, rows: int) -> AuditDataset:
    return with_noise(make_synthetic(SynthSettings(n_rows=rows)).to_dataset(), "pairflip", rate, 0)[
        0
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("synthetic", "mirflickr"), default="synthetic")
    parser.add_argument("--rates", type=float, nargs="+", default=[0.2, 0.5, 0.8])
    parser.add_argument("--rows", type=int, default=10_000, help="synthetic rows")
    parser.add_argument("--mirflickr", type=Path, default=SHARED)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    results = []
    for rate in args.rates:
        dataset = (
            mirflickr(rate, args.mirflickr)
            if args.dataset == "mirflickr"
            else synthetic(rate, args.rows)
        )
        started, cpu_started = time.perf_counter(), time.process_time()
        scan = run_scan(dataset, ScanSettings())
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
        print(
            f"{args.dataset} pairflip {rate}: {int(dataset.train_mask.sum())} rows, "
            f"{dataset.n_classes} classes, scan {seconds:.0f} s wall, {cpu_seconds:.0f} s CPU; "
            f"stages {scan.timings}; "
            f"estimated noise rate {scan.estimated_noise_rate:.3f}",
            flush=True,
        )
        for name, metrics in scan.metrics.items():
            print(
                f"  {name:22s} AUROC {metrics['auroc']:.3f} AUPRC {metrics['auprc']:.3f} "
                f"P@T {metrics['precision_at_t']:.3f} cell AUROC "
                f"{metrics.get('cell_auroc', float('nan')):.3f} cell AUPRC "
                f"{metrics.get('cell_auprc', float('nan')):.3f}",
                flush=True,
            )
        results.append(
            {
                "dataset": args.dataset,
                "rate": rate,
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "timings": scan.timings,
                "metrics": scan.metrics,
                "estimated_noise_rate": scan.estimated_noise_rate,
            }
        )
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2, default=float))


if __name__ == "__main__":
    main()
