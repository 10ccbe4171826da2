"""Detection benchmark of `audit scan` on every noise protocol: fused score vs cleanlab, rows,
cells, flags, suggestions and the estimated noise rate (overall and per direction), with known
noise.

Datasets:
- ``mirflickr``: MIRFlickr-25K's real labels and tags (../shared/data, or --mirflickr DIR). The
  real image view (VGG features) is not available here, so a stand-in image view is built FROM
  THE CLEAN LABELS: each label is dropped with probability 0.3 (occlusion), the rest go through a
  fixed random nonlinear map into 512 dimensions with Gaussian noise. It sees the true labels
  imperfectly, as real image features do, but it is not real image data: read the numbers with
  that in mind. ``pairflip`` uses the papers' own noise files; the other protocols are injected
  into the clean labels with ``audit inject``'s code (seed 0).
- ``synthetic``: `audit synth` defaults (10,000 rows, 5,000 train rows).
- ``wikipedia``: single-label (10 classes), so only ``pairflip`` and ``symmetric`` apply.

Protocols: pairflip, symmetric, classflip, missing, spurious, mixed (70 % of the noisy rows
missing labels, 30 % with spurious ones).

    python examples/bench_scan.py --dataset mirflickr --protocols missing mixed --rates 0.2 0.5
    python examples/bench_scan.py --dataset mirflickr --train-rows 3000 --epochs 10 \\
        --cache /tmp/scan-cache            # saves every detector's output per case (.npz)
    python examples/bench_scan.py --dataset mirflickr --train-rows 3000 --epochs 10 \\
        --cache /tmp/scan-cache --from-cache   # re-runs fusion and decisions only (seconds)

Prints one block per case; --json-out writes them all.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from auditor.dataset import AuditDataset  # noqa: E402
from auditor.detectors import DetectorOutput, run_detectors  # noqa: E402
from auditor.fusion import NOISE_PRIORS  # noqa: E402
from auditor.importers import import_mirflickr25k, import_wikipedia  # noqa: E402
from auditor.inject import with_noise  # noqa: E402
from auditor.metrics import detection_report, flag_report  # noqa: E402
from auditor.scanning import ScanSettings, fuse_outputs, scan_input  # noqa: E402
from auditor.synth import SynthSettings, make_synthetic  # noqa: E402
from cli.scan_command import parse_methods  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
PROTOCOLS = ("pairflip", "symmetric", "classflip", "missing", "spurious", "mixed")
SINGLE_LABEL_PROTOCOLS = ("pairflip", "symmetric")


def stand_in_image_view(clean: np.ndarray, seed: int = 0, dim: int = 512) -> np.ndarray:
    """(N, C) clean labels -> (N, dim) float32 image view that sees them imperfectly."""
    rng = np.random.default_rng(seed)
    seen = clean * (rng.random(clean.shape) > 0.3)
    hidden = seen @ rng.normal(size=(clean.shape[1], 256)) + rng.normal(size=(len(clean), 256))
    return (np.tanh(0.5 * hidden) @ rng.normal(size=(256, dim)) / 16.0).astype(np.float32)


def mirflickr(protocol: str, rate: float, folder: Path) -> AuditDataset:
    lall = folder / "mirflickr25k-lall.mat"
    clean = scipy.io.loadmat(lall)["LAll"].astype(np.uint8)
    papers_noise = folder / f"mirflickr25k-lall-noise_{rate}.h5"
    with tempfile.TemporaryDirectory() as scratch:
        xall = Path(scratch) / "xall.mat"
        scipy.io.savemat(xall, {"XAll": stand_in_image_view(clean)})
        if protocol == "pairflip" and papers_noise.exists():
            return import_mirflickr25k(lall, folder / "mirflickr25k-yall.mat", xall, papers_noise)
        dataset = import_mirflickr25k(lall, folder / "mirflickr25k-yall.mat", xall)
    return with_noise(dataset, protocol, rate, 0)[0]


def wikipedia(protocol: str, rate: float, folder: Path) -> AuditDataset:
    return with_noise(import_wikipedia(folder), protocol, rate, 0)[0]


def synthetic(protocol: str, rate: float, rows: int) -> AuditDataset:
    clean = make_synthetic(SynthSettings(n_rows=rows)).to_dataset()
    return with_noise(clean, protocol, rate, 0)[0]


def first_train_rows(dataset: AuditDataset, n_rows: int | None) -> AuditDataset:
    """The dataset with only its first ``n_rows`` train rows audited (a faster development set)."""
    if n_rows is None:
        return dataset
    split = dataset.split.copy()
    split[np.flatnonzero(dataset.train_mask)[n_rows:]] = "database"
    return dataclasses.replace(dataset, split=split)


def save_outputs(path: Path, outputs: dict[str, DetectorOutput]) -> None:
    arrays: dict[str, np.ndarray] = {}
    for name, output in outputs.items():
        arrays[f"{name}/seconds"] = np.array(output.seconds)
        if output.presence is not None:
            arrays[f"{name}/presence"] = output.presence
        for signal, values in output.signals.items():
            arrays[f"{name}/signal/{signal}"] = values
    np.savez_compressed(path, **arrays)


def load_outputs(path: Path) -> dict[str, DetectorOutput]:
    stored = np.load(path)
    names = list(dict.fromkeys(key.split("/")[0] for key in stored.files))
    return {
        name: DetectorOutput(
            signals={
                key.split("/", 2)[2]: stored[key]
                for key in stored.files
                if key.startswith(f"{name}/signal/")
            },
            presence=stored[f"{name}/presence"] if f"{name}/presence" in stored.files else None,
            seconds=float(stored[f"{name}/seconds"]),
        )
        for name in names
    }


def suggestion_quality(suggested: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Precision and recall of suggested cell changes (N, C) against the true changes (N, C)."""
    n_suggested, n_true = int(suggested.sum()), int(truth.sum())
    correct = int((suggested & truth).sum())
    return {
        "n": n_suggested,
        "precision": correct / n_suggested if n_suggested else float("nan"),
        "recall": correct / n_true if n_true else float("nan"),
    }


def case_report(labels: np.ndarray, clean: np.ndarray, fused: dict[str, Any]) -> dict[str, Any]:
    """Every number of one case: fused and cleanlab detection, flags, suggestions, rates."""
    given, truth = labels.astype(bool), clean.astype(bool)
    truth_cells = given != truth
    truth_rows = truth_cells.any(axis=1)
    missing_cells, spurious_cells = truth & ~given, given & ~truth
    suspicion = 1.0 - fused["label_quality"]
    error = np.where(given, 1.0 - fused["presence"], fused["presence"])
    report = {
        "fused": detection_report(truth_rows, suspicion, truth_cells, error),
        "flag": flag_report(truth_rows, fused["is_issue"]),
        "remove": suggestion_quality(fused["remove"], spurious_cells),
        "add": suggestion_quality(fused["add"], missing_cells),
        "rate": {
            "estimated": fused["estimated_noise_rate"],
            "true": float(truth_rows.mean()),
            "estimated_missing": fused["noise_model"].missing_row_rate,
            "true_missing": float(missing_cells.any(axis=1).mean()),
            "estimated_spurious": fused["noise_model"].spurious_row_rate,
            "true_spurious": float(spurious_cells.any(axis=1).mean()),
            "regime": fused["noise_model"].regime,
            "identifiable": fused["noise_model"].identifiable,
        },
    }
    if "cleanlab_quality" in fused["signals"]:
        report["cleanlab"] = detection_report(truth_rows, -fused["signals"]["cleanlab_quality"])
    return report


def print_case(title: str, report: dict[str, Any]) -> None:
    fused, rate = report["fused"], report["rate"]
    cleanlab = report.get("cleanlab", {"auroc": float("nan"), "auprc": float("nan")})
    print(
        f"{title}\n"
        f"  fused AUROC {fused['auroc']:.3f} AUPRC {fused['auprc']:.3f} cell AUROC "
        f"{fused['cell_auroc']:.3f} | cleanlab AUROC {cleanlab['auroc']:.3f} AUPRC "
        f"{cleanlab['auprc']:.3f}\n"
        f"  flagged P {report['flag']['precision']:.3f} R {report['flag']['recall']:.3f} | "
        f"remove n {report['remove']['n']} P {report['remove']['precision']:.3f} R "
        f"{report['remove']['recall']:.3f} | add n {report['add']['n']} P "
        f"{report['add']['precision']:.3f} R {report['add']['recall']:.3f}\n"
        f"  rate est {rate['estimated']:.3f} true {rate['true']:.3f} | missing est "
        f"{rate['estimated_missing']:.3f} true {rate['true_missing']:.3f} | spurious est "
        f"{rate['estimated_spurious']:.3f} true {rate['true_spurious']:.3f} | "
        f"{rate['regime']}{'' if rate['identifiable'] else ' (UNIDENTIFIABLE)'}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("synthetic", "mirflickr", "wikipedia"))
    parser.add_argument("--protocols", nargs="+", choices=PROTOCOLS, default=list(PROTOCOLS))
    parser.add_argument("--rates", type=float, nargs="+", default=[0.2, 0.5, 0.8])
    parser.add_argument("--rows", type=int, default=10_000, help="synthetic rows")
    parser.add_argument("--train-rows", type=int, help="audit only the first N train rows")
    parser.add_argument("--epochs", type=int, help="epochs of every hasher (default: scan's)")
    parser.add_argument("--methods", help="comma-separated hashers, 'none' (default: all)")
    parser.add_argument("--data", type=Path, default=SHARED)
    parser.add_argument("--cache", type=Path, help="folder of per-case detector outputs (.npz)")
    parser.add_argument("--from-cache", action="store_true", help="fusion only, from --cache")
    parser.add_argument("--cache-only", action="store_true", help="run and save detectors only")
    parser.add_argument("--json-out", type=Path)
    parser.add_argument(
        "--noise", choices=NOISE_PRIORS, help="direction prior, as `audit scan --noise`"
    )
    args = parser.parse_args()
    settings = ScanSettings(epochs=args.epochs, noise=args.noise)
    if args.methods is not None:
        settings = dataclasses.replace(settings, methods=parse_methods(args.methods) or ())
    results = []
    for protocol in args.protocols:
        if args.dataset == "wikipedia" and protocol not in SINGLE_LABEL_PROTOCOLS:
            continue
        for rate in args.rates:
            if args.dataset == "mirflickr":
                dataset = mirflickr(protocol, rate, args.data / "mirflickr25k")
            elif args.dataset == "wikipedia":
                dataset = wikipedia(protocol, rate, args.data / "wikipedia")
            else:
                dataset = synthetic(protocol, rate, args.rows)
            dataset = first_train_rows(dataset, args.train_rows)
            assert dataset.clean_labels is not None
            data = scan_input(dataset, settings)
            clean = dataset.clean_labels[dataset.train_mask]
            names = [*settings.methods, *settings.baselines]
            cached = None
            if args.cache is not None:
                args.cache.mkdir(parents=True, exist_ok=True)
                cached = args.cache / (
                    f"{args.dataset}-{protocol}-{rate}-{len(clean)}-{args.methods}.npz"
                )
            started, cpu_started = time.perf_counter(), time.process_time()
            if args.from_cache and cached is not None:
                outputs = load_outputs(cached)
            else:
                outputs = run_detectors(names, data)
                if cached is not None:
                    save_outputs(cached, outputs)
                if args.cache_only:
                    print(f"cached {cached}", flush=True)
                    continue
            fused = fuse_outputs(data.labels, outputs, names, settings)
            seconds = time.perf_counter() - started
            cpu_seconds = time.process_time() - cpu_started
            report = case_report(data.labels, clean, fused)
            title = (
                f"{args.dataset} {protocol} {rate}: {len(clean)} rows, {seconds:.0f} s wall, "
                f"{cpu_seconds:.0f} s CPU; detectors "
                f"{ {name: round(output.seconds) for name, output in outputs.items()} }"
            )
            print_case(title, report)
            results.append(
                {
                    "dataset": args.dataset,
                    "protocol": protocol,
                    "noise_rate": rate,  # the injected rate; "rate" holds the estimates
                    "rows": len(clean),
                    "epochs": args.epochs,
                    "seconds": seconds,
                    "cpu_seconds": cpu_seconds,
                    **report,
                }
            )
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2, default=float))


if __name__ == "__main__":
    main()
