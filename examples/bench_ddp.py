"""Data-parallel training benchmark: seconds per epoch with 1 and 2 processes on this machine.

    python examples/bench_ddp.py                      # nrch, 5,000 train rows, 5 epochs, 1 vs 2
    python examples/bench_ddp.py --method plain --processes 1 2 4 --rows 10000

Each run is ``python -m torch.distributed.run --standalone --nproc_per_node W`` of this script
in worker mode (gloo on the CPU, ``OMP_NUM_THREADS=1`` per process unless ``--threads``),
training the method with its default settings (global batch unchanged) on the train rows of the
synthetic dataset; rank 0 reports the per-epoch training and signal-pass seconds measured inside
``train_method`` (process start and data loading excluded) and the trained model. The models
are compared by the share of differing bits in the codes of the train rows: float rounding
differs between the runs (half batches, gradients summed across processes) and Adam's update
magnifies it on coordinates whose gradient is near zero, so weights drift apart by up to
lr × steps there while the codes agree.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from auditor.synth import SynthSettings, make_synthetic  # noqa: E402
from hashing.hasher import CrossModalHasher  # noqa: E402
from hashing.methods import default_settings  # noqa: E402
from hashing.runtime.distributed import distributed_from_env  # noqa: E402


def worker(method: str, rows: int, epochs: int, bits: int, out: Path) -> None:
    """Train under torchrun; rank 0 writes the timings and weights to ``out``."""
    data = make_synthetic(SynthSettings(n_rows=2 * rows, train_fraction=0.5)).to_dataset()
    assert data.image is not None and data.text is not None
    train = data.train_mask
    # one run over every row: the stopping rule (NRCH's default) would add a refit
    settings = default_settings(method, epochs=epochs, holdout_fraction=0.0)
    with distributed_from_env("cpu") as info:
        hasher = CrossModalHasher(settings, bits=bits, seed=0, device="cpu")
        hasher.fit(data.image[train], data.text[train], data.labels[train])
        if info.is_main:
            record = {
                "processes": info.world_size,
                "threads": torch.get_num_threads(),
                "train_rows": int(train.sum()),
                "train_seconds": [r["train_seconds"] for r in hasher.history_],
                "signal_seconds": [r["signal_seconds"] for r in hasher.history_],
            }
            (out / "timings.json").write_text(json.dumps(record))
            hasher.save(out / "model.pt")


def launch(processes: int, args: argparse.Namespace, out: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        "--nproc_per_node", str(processes), __file__, "--worker", str(out),
        "--method", args.method, "--rows", str(args.rows), "--epochs", str(args.epochs),
        "--bits", str(args.bits),
    ]  # fmt: skip
    subprocess.run(command, env=env, check=True)
    return json.loads((out / "timings.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--method", default="nrch")
    parser.add_argument("--rows", type=int, default=5000, help="train rows")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--bits", type=int, default=64)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--threads", type=int, default=1, help="OMP threads per process")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.method, args.rows, args.epochs, args.bits, args.worker)
        return
    print(
        f"{args.method}, {args.rows} train rows, {args.epochs} epochs, {args.bits} bits, "
        f"{os.cpu_count()} cores; seconds per epoch (mean of epochs 2..{args.epochs})"
    )
    print("processes  threads/proc  train s/epoch  signal s/epoch  total s/epoch  bits differing")
    data = make_synthetic(SynthSettings(n_rows=2 * args.rows, train_fraction=0.5)).to_dataset()
    assert data.image is not None and data.text is not None
    train_image = data.image[data.train_mask]
    reference = None
    with tempfile.TemporaryDirectory() as folder:
        for processes in args.processes:
            out = Path(folder) / f"w{processes}"
            out.mkdir()
            timings = launch(processes, args, out)
            codes = CrossModalHasher.load(out / "model.pt", device="cpu").encode_image(train_image)
            if reference is None:
                reference = codes
            differing = float((codes != reference).mean())
            train = float(np.mean(timings["train_seconds"][1:] or timings["train_seconds"]))
            signal = float(np.mean(timings["signal_seconds"][1:] or timings["signal_seconds"]))
            print(
                f"{processes:>9}  {timings['threads']:>12}  {train:>13.2f}  {signal:>14.2f}  "
                f"{train + signal:>13.2f}  {differing:>14.2%}"
            )


if __name__ == "__main__":
    main()
