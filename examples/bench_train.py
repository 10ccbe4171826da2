"""Retrieval benchmark of the hashers over datasets, noise rates, seeds and formulations.

Configurations: ``plain``; ``oracle`` (``plain`` on the clean labels); ``rshnl``; ``scbch`` and
``nrch`` with this project's defaults; ``scbch-paper`` and ``nrch-paper`` with their reference
code's formulation (``SCBCHSettings.paper()``, ``NRCHSettings.paper()``). Any configuration
ending in ``@clean`` (``nrch@clean``, ``rshnl+epochs=60@clean``) trains on the clean labels:
the method's ceiling, what no handling of the noise can take it past. mAP@all, query rows
against train ∪ database rows, relevance from the CLEAN labels, 64 bits, pairflip noise
(MIRFlickr: the papers' own noise files; Wikipedia, synthetic: ``audit``'s pairflip, seed 0).
The training seed varies over ``--seeds``; the noise stays fixed.

Datasets: ``mirflickr`` (MIRFlickr-25K's labels and tags with the stand-in image view of
``examples/bench_scan.py``: NOT real image features), ``wikipedia`` (real 128-d SIFT / 10-d LDA
views), ``synthetic`` (``audit synth``, ``--rows`` rows).

Every run appends one JSON line to ``--out`` (resumable: runs already there are skipped), with
the query mAP at the last epoch, every ``--eval-every`` epochs and of the model handed out
(``selected``). With the stopping rule (``HashSettings.holdout_fraction``: the robust methods'
default from 5,000 train rows, or ``--holdout F`` for every configuration at any size)
``last`` and the curve are those of the run that held the slice out, and ``selected`` is the
model trained again on every row for the epochs the slice picked (``holdout_refit``; with
``+holdout_refit=false`` the slice run's own weights at that epoch). ``--holdout 0`` turns the
rule off everywhere.

    python examples/bench_train.py --datasets mirflickr --rates 0.5 0.8 --seeds 0 1 2 \\
        --configs plain nrch nrch-paper --out bench_train.jsonl
    python examples/bench_train.py --table bench_train.jsonl     # mean ± sd over seeds
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from collections import defaultdict
from functools import cache
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scan import mirflickr, synthetic, wikipedia  # noqa: E402

from auditor.dataset import AuditDataset  # noqa: E402
from auditor.train import evaluate_retrieval  # noqa: E402
from hashing.base import HashSettings  # noqa: E402
from hashing.hasher import CrossModalHasher  # noqa: E402
from hashing.methods import default_settings  # noqa: E402
from hashing.nrch import NRCHSettings  # noqa: E402
from hashing.scbch import SCBCHSettings  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CONFIGS = ("plain", "oracle", "rshnl", "scbch", "scbch-paper", "nrch", "nrch-paper")
CLEAN_LABELS = "@clean"  # the suffix of a configuration trained on the clean labels


def parse_value(text: str) -> Any:
    """A setting's value from the command line: JSON (numbers, true/false) or a bare string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def config_settings(config: str, overrides: dict[str, Any]) -> HashSettings:
    """The settings a configuration stands for: ``NAME[+field=value...][@clean]``, e.g.
    ``nrch+shared_pairs=constant`` or ``nrch-paper+epochs=60``, with ``overrides`` under it."""
    name, *changes = config.removesuffix(CLEAN_LABELS).split("+")
    values = dict(overrides)
    for change in changes:
        field, _, text = change.partition("=")
        values[field] = parse_value(text)
    if name == "nrch-paper":
        return NRCHSettings.paper(**values)
    if name == "scbch-paper":
        return SCBCHSettings.paper(**values)
    return default_settings("plain" if name == "oracle" else name, **values)


@cache
def load(dataset: str, rate: float, rows: int, data: Path) -> AuditDataset:
    """The dataset with pairflip noise at ``rate`` on its train rows (clean labels kept)."""
    if dataset == "mirflickr":
        return mirflickr("pairflip", rate, data / "mirflickr25k")
    if dataset == "wikipedia":
        return wikipedia("pairflip", rate, data / "wikipedia")
    return synthetic("pairflip", rate, rows)


def training_data(dataset: AuditDataset, config: str) -> AuditDataset:
    """``dataset`` with the labels ``config`` trains on: the clean ones for ``oracle`` and any
    ``NAME@clean``, the given (noisy) ones otherwise."""
    if config.startswith("oracle") or config.endswith(CLEAN_LABELS):
        if dataset.clean_labels is None:
            raise SystemExit(f"{config} needs clean labels, which {dataset.source} lacks")
        return dataclasses.replace(dataset, labels=dataset.clean_labels)
    return dataset


def run(
    dataset: AuditDataset, config: str, seed: int, bits: int, overrides: dict[str, Any], every: int
) -> dict[str, Any]:
    """Train one configuration; return its query mAPs at the checkpoints and the selected epoch."""
    dataset = training_data(dataset, config)
    hasher = CrossModalHasher(config_settings(config, overrides), bits=bits, seed=seed)
    curve: dict[int, list[float]] = {}

    def evaluate(epoch: int, n_epochs: int, logs: dict[str, float]) -> None:
        if epoch == n_epochs or epoch % every == 0:
            scores = evaluate_retrieval(hasher, dataset)
            curve[epoch] = [scores.map_i2t, scores.map_t2i]

    train = dataset.train_mask
    assert dataset.image is not None and dataset.text is not None
    started = time.perf_counter()
    hasher.fit(dataset.image[train], dataset.text[train], dataset.labels[train], evaluate)
    seconds = time.perf_counter() - started
    final = evaluate_retrieval(hasher, dataset)
    return {
        "epochs": hasher.settings.epochs,
        "selected_epoch": hasher.selected_epoch_,
        "holdout_rows": hasher.holdout_rows_,
        "refit": hasher.selection_history_ is not None,
        "selected": [final.map_i2t, final.map_t2i],
        "last": curve[hasher.settings.epochs],
        "curve": curve,
        "seconds": seconds,
    }


def key_of(record: dict[str, Any]) -> tuple[Any, ...]:
    return (record["dataset"], record["rate"], record["config"], record["seed"], record["tag"])


def read_runs(paths: list[Path]) -> list[dict[str, Any]]:
    """Every run of the results files, a run repeated (by a parallel process) counted once."""
    runs: dict[tuple[Any, ...], dict[str, Any]] = {}
    for path in paths:
        for line in path.read_text().splitlines():
            record = json.loads(line)
            runs.setdefault(key_of(record), record)
    return list(runs.values())


def print_differences(paths: list[Path], baseline: str) -> None:
    """Last-epoch mAP of every configuration minus ``baseline``'s, paired by dataset, noise
    rate, seed and tag, averaged over the pairs."""
    runs = read_runs(paths)
    base = {key_of(r)[:2] + key_of(r)[3:]: r["last"] for r in runs if r["config"] == baseline}
    pairs: dict[tuple[Any, ...], list[tuple[float, float]]] = defaultdict(list)
    for record in runs:
        key = key_of(record)
        reference = base.get(key[:2] + key[3:])
        if record["config"] != baseline and reference is not None:
            last = record["last"]
            pairs[key[2], key[0], key[1]].append((last[0] - reference[0], last[1] - reference[1]))
    print(f"| config | dataset | noise | seeds | Δ I→T vs {baseline} | Δ T→I |")
    print("|---|---|---|---|---|---|")
    for key in sorted(pairs):
        deltas = pairs[key]
        i2t, t2i = (statistics.mean(delta[d] for delta in deltas) for d in (0, 1))
        print(f"| {key[0]} | {key[1]} | {key[2]} | {len(deltas)} | {i2t:+.4f} | {t2i:+.4f} |")


def print_table(paths: list[Path]) -> None:
    """Mean ± sd over seeds of every (dataset, rate, config, tag) in the results files."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for record in read_runs(paths):
        groups[key_of(record)[:3] + (record["tag"],)].append(record)

    def cell(records: list[dict[str, Any]], field: str, direction: int) -> str:
        values = [record[field][direction] for record in records]
        sd = statistics.stdev(values) if len(values) > 1 else float("nan")
        return f"{statistics.mean(values):.4f} ± {sd:.4f}"

    print(
        "| dataset | noise | config | tag | seeds | epochs (selected) | last epoch I→T | T→I "
        "| selected epoch I→T | T→I |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for key in sorted(groups, key=lambda k: (k[0], k[1], k[2], k[3])):
        records = groups[key]
        selected = ",".join(str(record["selected_epoch"]) for record in records)
        print(
            f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | {len(records)} | "
            f"{records[0]['epochs']} ({selected}) | {cell(records, 'last', 0)} | "
            f"{cell(records, 'last', 1)} | {cell(records, 'selected', 0)} | "
            f"{cell(records, 'selected', 1)} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets",
        nargs="+",
        default=["mirflickr"],
        choices=("mirflickr", "wikipedia", "synthetic"),
    )
    parser.add_argument("--rates", type=float, nargs="+", default=[0.5, 0.8])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--configs",
        nargs="+",
        default=list(CONFIGS),
        help=f"{' '.join(CONFIGS)}, or NAME+field=value; suffix @clean: on the clean labels",
    )
    parser.add_argument("--rows", type=int, default=10_000, help="synthetic rows")
    parser.add_argument("--data", type=Path, default=DATA, help="folder of the shared data")
    parser.add_argument("--bits", type=int, default=64)
    parser.add_argument("--epochs", type=int, help="override every configuration's epochs")
    parser.add_argument(
        "--holdout",
        type=float,
        default=None,
        help="holdout_fraction for every configuration, at any size (0: off; default: each "
        "method's own stopping rule)",
    )
    parser.add_argument("--eval-every", type=int, default=10)
    parser.add_argument("--tag", default="", help="free label stored with every run")
    parser.add_argument("--out", type=Path, default=Path("bench_train.jsonl"))
    parser.add_argument(
        "--table", type=Path, nargs="+", help="print the table of results files and exit"
    )
    parser.add_argument(
        "--baseline", help="with --table: each configuration's last-epoch mAP minus this one's"
    )
    args = parser.parse_args()
    if args.table and args.baseline:
        print_differences(args.table, args.baseline)
        return
    if args.table:
        print_table(args.table)
        return
    overrides: dict[str, Any] = {}
    if args.holdout is not None:
        overrides.update(holdout_fraction=args.holdout, holdout_min_rows=0)
    if args.epochs:
        overrides["epochs"] = args.epochs
    holdout = "default" if args.holdout is None else args.holdout
    tag = args.tag or f"holdout={holdout}" + (f",epochs={args.epochs}" if args.epochs else "")
    done = set()
    if args.out.exists():
        done = {key_of(json.loads(line)) for line in args.out.read_text().splitlines()}
    for seed in args.seeds:
        for dataset_name in args.datasets:
            for rate in args.rates:
                for config in args.configs:
                    key = (dataset_name, rate, config, seed, tag)
                    if key in done:
                        continue
                    data = load(dataset_name, rate, args.rows, args.data)
                    result = run(data, config, seed, args.bits, overrides, args.eval_every)
                    fields = ("dataset", "rate", "config", "seed", "tag")
                    record = dict(zip(fields, key, strict=True))
                    record.update(result)
                    with args.out.open("a") as handle:
                        handle.write(json.dumps(record) + "\n")
                    print(
                        f"{dataset_name} {rate} {config} seed {seed}: last "
                        f"{result['last'][0]:.4f}/{result['last'][1]:.4f} selected "
                        f"{result['selected'][0]:.4f}/{result['selected'][1]:.4f} (epoch "
                        f"{result['selected_epoch']}/{result['epochs']}) {result['seconds']:.0f} s",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
