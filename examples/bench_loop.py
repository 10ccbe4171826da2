"""Cleaning benchmark: noisy → scan → clean → retrain, per method, against the clean-label oracle.

    python examples/bench_loop.py --dataset synthetic --rates 0.5 0.8
    python examples/bench_loop.py --dataset mirflickr --rates 0.5 0.8
    python examples/bench_loop.py --dataset wikipedia --rates 0.4 0.6

Datasets (as in bench_scan.py and bench_train.py): ``synthetic`` — `audit synth` defaults
(--rows, default 10,000: 5,000 train rows) with pairflip noise; ``mirflickr`` — MIRFlickr-25K's
real labels and tags with the papers' pairflip noise files and the STAND-IN image view built
from the clean labels (bench_scan.py explains it); ``wikipedia`` — both real views, symmetric
noise. Every setting runs :func:`auditor.loop.run_loop` (the library behind
`audit bench`) and prints markdown tables for docs/benchmarks.md: mAP image→text / text→image
per method and label version, the share of the noisy → oracle gap each cleaning closes, and the
cleaned labels' own accuracy (share of train rows whose labels equal the truth).
With --out DIR each setting's retrieval.json and scans go to DIR/<dataset>-<protocol>-<rate>/.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scan import SHARED, mirflickr, synthetic  # noqa: E402

from auditor.audit_files import RETRIEVAL_FILE  # noqa: E402
from auditor.cleaning import DEFAULT_CONFIDENCE, STRATEGIES, parse_budget  # noqa: E402
from auditor.dataset import AuditDataset  # noqa: E402
from auditor.detectors import HASHER_DETECTORS  # noqa: E402
from auditor.importers import import_wikipedia  # noqa: E402
from auditor.inject import with_noise  # noqa: E402
from auditor.io import atomic_output_dir, check_output_folder  # noqa: E402
from auditor.loop import (  # noqa: E402
    DEFAULT_METHODS,
    NOISY,
    ORACLE,
    LoopResult,
    LoopSettings,
    cleaned_name,
    gap_closed,
    run_loop,
    write_retrieval_json,
)
from auditor.scanning import ScanSettings  # noqa: E402
from cli.common import Terminated, sigterm_as_interrupt  # noqa: E402

PROTOCOL = {"synthetic": "pairflip", "mirflickr": "pairflip", "wikipedia": "symmetric"}
RATES = {"synthetic": [0.5, 0.8], "mirflickr": [0.5, 0.8], "wikipedia": [0.4, 0.6]}


def load(name: str, rate: float, rows: int, seed: int, data: Path) -> AuditDataset:
    """The noisy benchmark dataset (labels noisy, ``clean_labels`` the truth); ``data`` is the
    folder of the shared data (``mirflickr25k/``, ``wikipedia/``)."""
    if name == "synthetic":
        return synthetic("pairflip", rate, rows)
    if name == "mirflickr":
        return mirflickr("pairflip", rate, data / "mirflickr25k")
    return with_noise(import_wikipedia(data / "wikipedia"), "symmetric", rate, seed)[0]


def variant_columns(settings: LoopSettings) -> list[tuple[str, int]]:
    """(labels, round) of every table column, in order."""
    columns = [(NOISY, 0)]
    for strategy in settings.strategies:
        columns += [(cleaned_name(strategy), k) for k in range(1, settings.rounds + 1)]
    return [*columns, (ORACLE, 0)]


def heading(labels: str, round_number: int, rounds: int) -> str:
    if labels == ORACLE:
        return "oracle"
    return labels if round_number == 0 or rounds == 1 else f"{labels} r{round_number}"


def markdown(results: list[tuple[str, LoopResult]], settings: LoopSettings, gap_method: str) -> str:
    columns = variant_columns(settings)
    lines = [
        "| data, noise | method | "
        + " | ".join(heading(name, k, settings.rounds) for name, k in columns)
        + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for title, result in results:
        for method in settings.methods:
            cells = []
            for name, k in columns:
                row = next(
                    r
                    for r in result.rows
                    if r["method"] == method and r["labels"] == name and r["round"] == k
                )
                cells.append(f"{row['map_i2t']:.3f} / {row['map_t2i']:.3f}".replace("0.", "."))
            lines.append(f"| {title} | {method} | " + " | ".join(cells) + " |")
    cleaned = [(name, k) for name, k in columns if name not in (NOISY, ORACLE)]
    if gap_method in settings.methods:
        lines += [
            "",
            f"Share of the noisy → oracle gap closed by `{gap_method}` (i2t / t2i):",
            "",
            "| data, noise | "
            + " | ".join(heading(name, k, settings.rounds) for name, k in cleaned)
            + " |",
            "|---|" + "---|" * len(cleaned),
        ]
        for title, result in results:
            cells = []
            for name, k in cleaned:
                shares = gap_closed(result.rows, gap_method, name, k, min_gap=0.005)
                cells.append(
                    " / ".join("no gap" if v is None else f"{v:.0%}" for v in shares.values())
                )
            lines.append(f"| {title} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Label accuracy (share of train rows whose labels equal the truth; drop: kept rows):",
        "",
        "| data, noise | strategy | round | rows chosen | train rows | label acc before → after "
        "| cell acc before → after |",
        "|---|---|---|---|---|---|---|",
    ]
    for title, result in results:
        for record in result.cleaning:
            lines.append(
                f"| {title} | {record['strategy']} | {record['round']} | "
                f"{record['counts']['rows_selected']} | {record['train_rows_before']} → "
                f"{record['train_rows_after']} | {record['label_accuracy_before']:.3f} → "
                f"{record['label_accuracy_after']:.3f} | {record['cell_accuracy_before']:.4f} → "
                f"{record['cell_accuracy_after']:.4f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=tuple(PROTOCOL), default="synthetic")
    parser.add_argument("--rates", type=float, nargs="+", help="default: see RATES")
    parser.add_argument("--rows", type=int, default=10_000, help="synthetic rows")
    parser.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS))
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--bits", type=int, default=64)
    parser.add_argument("--epochs", type=int, help="retraining epochs (default: each method's)")
    parser.add_argument(
        "--scan-methods", nargs="*", default=list(HASHER_DETECTORS), help="none = baselines only"
    )
    parser.add_argument("--scan-epochs", type=int, help="default: the scan's")
    parser.add_argument("--budget", help="as `audit clean --budget` (default: is_issue rows)")
    parser.add_argument("--confidence", type=float, default=DEFAULT_CONFIDENCE)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=SHARED, help="folder of the shared data")
    parser.add_argument("--out", type=Path, help="folder for retrieval.json and the scans")
    parser.add_argument("--json-out", type=Path, help="all settings' results in one JSON file")
    args = parser.parse_args()
    settings = LoopSettings(
        methods=tuple(args.methods),
        strategies=tuple(args.strategies),
        rounds=args.rounds,
        bits=args.bits,
        epochs=args.epochs,
        seed=args.seed,
        budget=None if args.budget is None else parse_budget(args.budget),
        confidence=args.confidence,
        scan=ScanSettings(
            methods=tuple(name for name in args.scan_methods if name != "none"),
            epochs=args.scan_epochs,
            bits=args.bits,
            seed=args.seed,
        ),
    )
    protocol = PROTOCOL[args.dataset]
    results: list[tuple[str, LoopResult]] = []
    payload: list[dict[str, Any]] = []
    rates = args.rates or RATES[args.dataset]
    if args.out is not None:  # refuse what must not be replaced before hours of work
        for rate in rates:
            check_output_folder(args.out / f"{args.dataset}-{protocol}-{rate:g}", "bench")
    for rate in rates:
        dataset = load(args.dataset, rate, args.rows, args.seed, args.data)
        title = f"{args.dataset} {protocol} {rate:g}"
        started = time.perf_counter()

        def say(message: str, title: str = title) -> None:
            print(f"[{title}] {message}", file=sys.stderr, flush=True)

        if args.out is not None:
            folder_name = args.out / f"{args.dataset}-{protocol}-{rate:g}"
            with atomic_output_dir(folder_name, "bench") as folder:
                result = run_loop(dataset, settings, scan_dir=folder, status=say)
                write_retrieval_json(result, folder / RETRIEVAL_FILE)
        else:
            result = run_loop(dataset, settings, status=say)
        say(f"done in {time.perf_counter() - started:.0f} s")
        results.append((title, result))
        payload.append(
            {"dataset": args.dataset, "protocol": protocol, "rate": rate, **result.as_json()}
        )
    print(markdown(results, settings, "plain"))
    if args.json_out:
        args.json_out.write_text(json.dumps(payload, indent=2, default=float))


if __name__ == "__main__":
    # a SIGTERM (kill, timeout) unwinds like Ctrl-C, so the half-built output folder goes too
    try:
        with sigterm_as_interrupt():
            main()
    except KeyboardInterrupt as interrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(143 if isinstance(interrupt, Terminated) else 130)
