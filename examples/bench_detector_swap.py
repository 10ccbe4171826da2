"""One hasher's settings against the detection matrix, every other detector held fixed.

Reads the per-case detector outputs cached by ``examples/bench_scan.py --cache DIR``, re-runs
ONE hashing detector of each case with its settings overridden, and writes a copy of the
case's cache with that detector's output swapped in. ``bench_scan.py --from-cache`` on the copy
then gives the matrix with only that detector changed (the others' outputs are bit-identical),
so a setting's effect on detection is measured without re-running four detectors.

    # NRCH at the scan's 30 epochs, its default settings, then with rejected rows in every term
    python examples/bench_detector_swap.py --cache scan-cache --out cache-nrch30 \\
        --method nrch --set epochs=30
    python examples/bench_detector_swap.py --cache scan-cache --out cache-nrch30-contrastive \\
        --method nrch --set epochs=30 --set rejected_rows=contrastive
    python examples/bench_scan.py --dataset mirflickr --train-rows 3000 --epochs 10 \\
        --protocols pairflip missing mixed --cache cache-nrch30 --from-cache --json-out a.json

The cases: ``--datasets`` (MIRFlickr stand-in: its first ``--train-rows`` train rows, 3,000
unless told; synthetic: 6,000 rows; Wikipedia: pairflip and symmetric only) × ``--protocols`` ×
``--rates``, each read from ``--cache`` under the name bench_scan gives it (``--epochs`` as the
cache was made: the other hashers' epochs do not matter here, the swapped one's come from
``--set epochs=N`` or its ``--epochs`` default). A case already in ``--out`` is skipped (resumable).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scan import (  # noqa: E402
    PROTOCOLS,
    SHARED,
    SINGLE_LABEL_PROTOCOLS,
    first_train_rows,
    load_outputs,
    mirflickr,
    save_outputs,
    synthetic,
    wikipedia,
)
from bench_train import parse_value  # noqa: E402

import auditor.detectors as detectors  # noqa: E402
from auditor.dataset import AuditDataset  # noqa: E402
from auditor.scanning import ScanSettings, scan_input  # noqa: E402

DEVELOPMENT_ROWS = {"mirflickr": 3000, "synthetic": 6000}


def parse_settings(pairs: list[str]) -> dict[str, Any]:
    """``["epochs=30", "rejected_rows=contrastive"]`` -> ``{"epochs": 30, ...}``."""
    settings = {}
    for pair in pairs:
        field, separator, text = pair.partition("=")
        if not separator or not field:
            raise SystemExit(f"--set takes FIELD=VALUE, got {pair!r}")
        settings[field] = parse_value(text)
    return settings


def cases(
    datasets: list[str],
    protocols: list[str],
    rates: list[float],
    data: Path,
    mirflickr_rows: int = DEVELOPMENT_ROWS["mirflickr"],
) -> Iterator[tuple[str, AuditDataset]]:
    """(bench_scan's cache name, the audited dataset) of every case, as bench_scan builds them."""
    for dataset_name in datasets:
        for protocol in protocols:
            if dataset_name == "wikipedia" and protocol not in SINGLE_LABEL_PROTOCOLS:
                continue
            for rate in rates:
                if dataset_name == "mirflickr":
                    dataset = first_train_rows(
                        mirflickr(protocol, rate, data / "mirflickr25k"), mirflickr_rows
                    )
                elif dataset_name == "wikipedia":
                    dataset = wikipedia(protocol, rate, data / "wikipedia")
                else:
                    dataset = synthetic(protocol, rate, DEVELOPMENT_ROWS["synthetic"])
                n_audited = int(dataset.train_mask.sum())
                yield f"{dataset_name}-{protocol}-{rate}-{n_audited}-None.npz", dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True, help="bench_scan's cache folder")
    parser.add_argument("--out", type=Path, required=True, help="folder of the swapped copies")
    parser.add_argument("--method", required=True, choices=("rshnl", "scbch", "nrch"))
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--datasets", nargs="+", default=["mirflickr", "synthetic", "wikipedia"])
    parser.add_argument("--protocols", nargs="+", choices=PROTOCOLS, default=list(PROTOCOLS))
    parser.add_argument("--rates", type=float, nargs="+", default=[0.2, 0.5, 0.8])
    parser.add_argument("--epochs", type=int, default=10, help="hashers' epochs in the cache")
    parser.add_argument("--data", type=Path, default=SHARED)
    parser.add_argument(
        "--train-rows",
        type=int,
        default=DEVELOPMENT_ROWS["mirflickr"],
        help="the MIRFlickr stand-in's train rows, as bench_scan's --train-rows (10000: full size)",
    )
    args = parser.parse_args()
    overrides = parse_settings(args.set)
    if args.out.resolve() == args.cache.resolve():
        raise SystemExit("--out must differ from --cache (the cache is never modified)")
    args.out.mkdir(parents=True, exist_ok=True)

    default_settings = detectors.default_settings

    def overridden(name: str, **values: Any) -> Any:
        chosen = {**values, **overrides} if name == args.method else values
        return default_settings(name, **chosen)

    # the detector builds its hasher's settings through this module attribute
    detectors.default_settings = overridden
    settings = ScanSettings(epochs=args.epochs)
    for name, dataset in cases(
        args.datasets, args.protocols, args.rates, args.data, args.train_rows
    ):
        target = args.out / name
        if target.exists():
            continue
        outputs = load_outputs(args.cache / name)
        fresh = detectors.run_detectors([args.method], scan_input(dataset, settings))[args.method]
        changed = any(
            not np.array_equal(values, fresh.signals[signal])
            for signal, values in outputs[args.method].signals.items()
        )
        outputs[args.method] = fresh
        partial = target.with_name(target.name + ".partial.npz")
        save_outputs(partial, outputs)
        partial.replace(target)
        print(f"{name}: {args.method} {'changed' if changed else 'identical'}", flush=True)


if __name__ == "__main__":
    main()
