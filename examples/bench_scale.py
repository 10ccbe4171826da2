"""Scale benchmark of `audit scan`: wall time per stage and peak memory at several row counts.

For each N it writes `audit synth --rows N --n-classes 21` data (pairflip noise on the train
rows, the originals kept as the truth, as `audit inject` does) to a temporary Parquet file, then,
in a
FRESH Python process per N (so each peak RSS is that N's alone), does what `audit scan` does:
reads the file back by column (``read_dataset``), runs the scan (``run_scan``) and writes the
outputs and the HTML report (``write_scan``). It prints a table of the stage times and the peak
resident memory (``ru_maxrss``), and the log-log slope of total time against N (1 = linear).

    OMP_NUM_THREADS=2 python examples/bench_scale.py --n 10000 50000 200000 --epochs 3

Workers run with ``OMP_WAIT_POLICY=PASSIVE`` unless it is set: on a machine shared with other
jobs, OpenMP's default spin-waiting made every 2-thread torch op wait for a descheduled thread
(measured: 470 ms per training step of RSHNL instead of 25 ms, at any N).

``--exact`` keeps the exact blocked neighbour searches at every N (the scan before the
approximate index; for comparison), ``--profile`` prints each N's top functions (cProfile).

``--epochs`` overrides every hasher's epochs (the scan defaults are rshnl 20, scbch 20,
nrch 30): the table gives each hasher's mean training seconds per epoch and the seconds of one
full signal pass (the last epoch's), so the time at the default epochs can be extrapolated
(column ``default-epoch est.``: the measured total with each hasher's measured epochs replaced
by its default epochs and signal passes; SCBCH searches neighbours in 16 of its 20 epochs).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from auditor.io import (  # noqa: E402
    dataset_to_table,
    make_provenance,
    read_dataset,
    write_table_atomic,
)

HASHERS = ("rshnl", "scbch", "nrch")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def write_data(path: Path, n_rows: int, n_classes: int, rate: float, seed: int) -> int:
    """Synthetic data with pairflip noise at ``rate`` on the train rows -> Parquet; train rows."""
    from auditor.inject import inject_into_table
    from auditor.synth import SynthSettings, make_synthetic

    settings = SynthSettings(n_rows=n_rows, n_classes=n_classes, seed=seed)
    dataset = make_synthetic(settings).to_dataset()
    table = dataset_to_table(dataset)
    if rate > 0:
        table, _ = inject_into_table(table, dataset, protocol="pairflip", rate=rate, seed=seed)
    provenance = make_provenance(
        "synth", settings=dataclasses.asdict(settings), classes=dataset.classes, seed=seed
    )
    write_table_atomic(table, path, provenance)
    return int(dataset.train_mask.sum())


def scan_once(
    path: Path, epochs: int | None, methods: tuple[str, ...], out: Path
) -> dict[str, Any]:
    """Read, scan and write like `audit scan`; stage times, per-epoch times and peak RSS."""
    import torch

    from auditor.scanning import ScanSettings, run_scan, write_scan

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
    rss_after_imports = peak_rss_mb()
    started = time.perf_counter()
    dataset = read_dataset(path)
    timings: dict[str, float] = {"read": time.perf_counter() - started}
    settings = ScanSettings(methods=methods, epochs=epochs)
    epoch_logs: dict[str, list[dict[str, float]]] = {}

    def progress_for(name: str) -> Any:
        logs = epoch_logs.setdefault(name, [])

        def update(epoch: int, n_epochs: int, values: dict[str, float]) -> None:
            logs.append(dict(values))

        return update

    scan = run_scan(dataset, settings, progress_for=progress_for)
    timings.update(scan.timings)
    started = time.perf_counter()
    write_scan(scan, out, settings, source=str(path))
    timings["write"] = time.perf_counter() - started
    per_epoch = {
        name: {
            "epochs": len(logs),
            "train_seconds": [round(log.get("train_seconds", 0.0), 3) for log in logs],
            "signal_seconds": [round(log.get("signal_seconds", 0.0), 3) for log in logs],
        }
        for name, logs in epoch_logs.items()
        if name in HASHERS and logs
    }
    metrics = {
        name: round(float(values["auroc"]), 4)
        for name, values in scan.metrics.items()
        if isinstance(values, dict) and "auroc" in values
    }
    return {
        "rows_audited": int(scan.labels.shape[0]),
        "timings": {key: round(value, 2) for key, value in timings.items()},
        "total_seconds": round(sum(timings.values()), 2),
        "per_epoch": per_epoch,
        "auroc": metrics,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_after_imports_mb": round(rss_after_imports, 1),
        "threads": torch.get_num_threads(),
    }


def signal_passes(name: str, epochs: int) -> int:
    """Epochs whose signal pass does the full work: every epoch, except SCBCH's neighbour search,
    which runs from the epoch before ``reliability_start_epoch`` and after the last epoch."""
    if name != "scbch":
        return epochs
    from hashing.scbch import SCBCHSettings

    start = SCBCHSettings().reliability_start_epoch
    return sum(1 for epoch in range(epochs) if epoch + 1 >= start or epoch == epochs - 1)


def per_epoch_seconds(epoch: dict[str, Any]) -> tuple[float, float]:
    """(mean training seconds per epoch, seconds of one full signal pass: the last epoch's)."""
    return float(np.mean(epoch["train_seconds"])), float(epoch["signal_seconds"][-1])


def default_epoch_estimate(result: dict[str, Any]) -> float:
    """Total seconds with every hasher at its scan default epochs: the measured total with each
    hasher's measured epochs replaced by its default number of epochs and signal passes."""
    from auditor.detectors import SCAN_EPOCHS

    total = float(result["total_seconds"])
    for name, epoch in result["per_epoch"].items():
        train, signal = per_epoch_seconds(epoch)
        total -= sum(epoch["train_seconds"]) + sum(epoch["signal_seconds"])
        total += SCAN_EPOCHS[name] * train + signal_passes(name, SCAN_EPOCHS[name]) * signal
    return total


def slope(sizes: list[int], seconds: list[float]) -> float:
    """Least-squares slope of log(seconds) against log(N): 1 = linear, 2 = quadratic."""
    if len(sizes) < 2:
        return math.nan
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def force_exact_search() -> None:
    """Make every neighbour search exact whatever N (the scan before the index)."""
    import hashing.neighbours

    hashing.neighbours.use_index = lambda *_: False


def worker(args: argparse.Namespace) -> None:
    """One N in this process: print one JSON line (the last line of stdout)."""
    if args.exact:
        force_exact_search()
    with tempfile.TemporaryDirectory(dir=args.tmp) as scratch:
        path = Path(scratch) / f"synth-{args.worker}.parquet"
        if args.data is not None:
            path = args.data
        else:
            # Generate in a child process so the scan process's peak memory is the scan's.
            subprocess.run(
                [sys.executable, __file__, "--generate", str(path), "--n", str(args.worker),
                 "--classes", str(args.classes), "--noise", str(args.noise),
                 "--seed", str(args.seed)],
                check=True,
            )  # fmt: skip
        out = Path(scratch) / "out.audit"
        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            result = profiler.runcall(scan_once, path, args.epochs, tuple(args.methods), out)
            stats = pstats.Stats(profiler, stream=sys.stderr)
            stats.sort_stats("tottime").print_stats(args.profile)
        else:
            result = scan_once(path, args.epochs, tuple(args.methods), out)
    result["n"] = args.worker
    print(json.dumps(result), flush=True)


def markdown(results: list[dict[str, Any]]) -> str:
    stages = [key for key in results[0]["timings"]]
    lines = [
        "| N rows (audited) | " + " | ".join(stages) + " | total s | default-epoch est. s "
        "| s/epoch train+signal " + " / ".join(HASHERS) + " | peak RSS MB |",
        "|---" * (len(stages) + 5) + "|",
    ]
    for result in results:
        epochs = " / ".join(
            "{:.1f}+{:.1f}".format(*per_epoch_seconds(values))
            for values in result["per_epoch"].values()
        )
        lines.append(
            f"| {result['n']:,} ({result['rows_audited']:,}) | "
            + " | ".join(f"{result['timings'].get(stage, 0.0):.1f}" for stage in stages)
            + f" | {result['total_seconds']:.0f} | {default_epoch_estimate(result):.0f} "
            f"| {epochs} | {result['peak_rss_mb']:,.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10_000, 50_000, 200_000])
    parser.add_argument("--classes", type=int, default=21)
    parser.add_argument("--noise", type=float, default=0.5, help="pairflip rate (0 = none)")
    parser.add_argument("--epochs", type=int, default=None, help="every hasher's epochs")
    parser.add_argument("--methods", nargs="*", default=list(HASHERS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tmp", type=Path, default=None, help="folder for the temporary data")
    parser.add_argument("--exact", action="store_true", help="exact neighbour searches only")
    parser.add_argument("--profile", type=int, default=0, help="print the top N functions")
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate is not None:
        write_data(args.generate, args.n[0], args.classes, args.noise, args.seed)
        return
    if args.worker is not None:
        worker(args)
        return
    results = []
    for n_rows in args.n:
        command = [sys.executable, __file__, "--worker", str(n_rows), "--classes",
                   str(args.classes), "--noise", str(args.noise), "--seed", str(args.seed),
                   "--methods", *args.methods]  # fmt: skip
        if args.epochs is not None:
            command += ["--epochs", str(args.epochs)]
        if args.tmp is not None:
            command += ["--tmp", str(args.tmp)]
        if args.exact:
            command += ["--exact"]
        if args.profile:
            command += ["--profile", str(args.profile)]
        env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
        done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True, env=env)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        results.append(result)
        print(json.dumps(result), file=sys.stderr, flush=True)
    print(markdown(results))
    sizes = [result["rows_audited"] for result in results]
    totals = [result["total_seconds"] for result in results]
    print(f"\nlog-log slope of total time vs N: {slope(sizes, totals):.2f}")
    estimates = [default_epoch_estimate(result) for result in results]
    print(f"log-log slope of the default-epoch estimate vs N: {slope(sizes, estimates):.2f}")
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
