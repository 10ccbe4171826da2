"""Retrieval benchmark of the hashers: mAP of plain, rshnl, scbch, nrch and the clean-label oracle.

    python examples/bench_train.py --dataset wikipedia --protocol symmetric --rates 0.2 0.4 0.6 0.8
    python examples/bench_train.py --dataset synthetic --protocol pairflip --rates 0.2 0.5 0.8

The oracle is `plain` trained on the clean labels. mAP@all, query rows against train ∪ database
rows, relevance from the clean labels, 64 bits, each method's default epochs. Also prints the
seconds per epoch of each method next to the floor set by its matrix-multiply FLOPs at this
machine's measured float32 matmul rate.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from auditor.dataset import AuditDataset  # noqa: E402
from auditor.importers import import_wikipedia  # noqa: E402
from auditor.inject import with_noise  # noqa: E402
from auditor.synth import SynthSettings, make_synthetic  # noqa: E402
from auditor.train import train_hasher  # noqa: E402
from hashing.methods import default_settings  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "wikipedia"
METHODS = ("plain", "rshnl", "scbch", "nrch")


def matmul_rate() -> float:
    """Measured float32 matmul FLOP/s on this machine (1024×1024 products)."""
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    started, repeats = time.perf_counter(), 20
    for _ in range(repeats):
        a @ b
    return 2 * 1024**3 * repeats / (time.perf_counter() - started)


def epoch_flops(method: str, n_rows: int, image_dim: int, text_dim: int, bits: int) -> float:
    """Matrix-multiply FLOPs of one epoch of the towers: forward and backward (×3)."""
    settings = default_settings(method)
    h_i, h_t = settings.image_hidden, settings.text_hidden
    image = image_dim * h_i + h_i * h_i + h_i * bits
    text = text_dim * h_t + h_t * bits
    return 3 * 2 * n_rows * (image + text)


def load(dataset: str, rows: int) -> AuditDataset:
    if dataset == "wikipedia":
        return import_wikipedia(SHARED)
    return make_synthetic(SynthSettings(n_rows=rows)).to_dataset()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("synthetic", "wikipedia"), default="synthetic")
    parser.add_argument("--protocol", default="pairflip")
    parser.add_argument("--rates", type=float, nargs="+", default=[0.2, 0.5, 0.8])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--bits", type=int, default=64)
    parser.add_argument(
        "--methods", nargs="+", default=[*METHODS, "oracle"], choices=[*METHODS, "oracle"]
    )
    args = parser.parse_args()
    clean = load(args.dataset, args.rows)
    rate_flops = matmul_rate()
    print(f"matmul rate {rate_flops / 1e9:.1f} GFLOP/s", flush=True)
    for noise_rate in args.rates:
        noisy, result = with_noise(clean, args.protocol, noise_rate, 0)
        row = [
            f"{args.dataset} {args.protocol} {noise_rate} (realised {result.realised_row_rate:.2f})"
        ]
        runs = [(method, noisy) for method in METHODS if method in args.methods]
        if "oracle" in args.methods:
            runs.append(("oracle", dataclasses.replace(noisy, labels=clean.labels)))
        for name, data in runs:
            method = "plain" if name == "oracle" else name
            hasher, scores, seconds = train_hasher(data, method, bits=args.bits)
            epochs = hasher.settings.epochs
            floor = (
                epoch_flops(
                    method,
                    int(data.train_mask.sum()),
                    hasher.image_dim_,
                    hasher.text_dim_,
                    args.bits,
                )
                / rate_flops
            )
            row.append(
                f"{name} i2t {scores.map_i2t:.3f} t2i {scores.map_t2i:.3f} "
                f"({seconds / epochs:.2f} s/epoch, floor {floor:.3f})"
            )
            print("  " + row[-1], flush=True)
        print(" | ".join(row), flush=True)


if __name__ == "__main__":
    main()
