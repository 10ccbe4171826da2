"""Stopping rules for the hashers, judged against the test queries' retrieval at every epoch.

Each run trains one configuration of ``examples/bench_train.py`` with a 10 % held-out slice
(``HashSettings.holdout_fraction``) and stores, for every epoch, the slice's per-query average
precision (``hashing.hasher.holdout_query_ap``: what a rule may read, no truth) and the test
queries' mAP with relevance from the CLEAN labels (what the rule should have maximised). The
table then replays rules on the stored curves, so one set of runs judges them all:

- ``last``: no rule, the last epoch;
- ``best``: the epoch with the best slice score;
- ``1se`` / ``2se``: the latest epoch within one / two paired standard errors of the best
  (``hashing.hasher.EpochSelection`` is ``2se``);
- ``ceiling``: the epoch with the best test-query mAP (needs the truth; the most any rule can get).

    python examples/bench_stopping.py --datasets wikipedia --rates 0.5 0.8 --seeds 0 1 2 \\
        --configs nrch scbch rshnl plain --out stopping/
    python examples/bench_stopping.py --table stopping/
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_train import DATA, config_settings, load  # noqa: E402

import hashing.hasher as hasher_module  # noqa: E402
from auditor.train import evaluate_retrieval  # noqa: E402
from hashing.hasher import CrossModalHasher, EpochSelection  # noqa: E402


def record_run(dataset_name: str, rate: float, config: str, seed: int, rows: int) -> dict[str, Any]:
    """Train once; return ``slice`` (E, H, 2) per-query APs and ``test`` (E, 2) query mAPs."""
    dataset = load(dataset_name, rate, rows, DATA)
    slice_scores: list[np.ndarray] = []
    scorer = hasher_module.holdout_query_ap

    def recording(
        image_codes: torch.Tensor, text_codes: torch.Tensor, labels: torch.Tensor
    ) -> np.ndarray:
        scores = scorer(image_codes, text_codes, labels)
        slice_scores.append(scores)
        return scores

    # one run's curve: the slice's scores and the test queries' at every epoch, no refit
    settings = config_settings(
        config, {"holdout_fraction": 0.1, "holdout_min_rows": 0, "holdout_refit": False}
    )
    hasher = CrossModalHasher(settings, bits=64, seed=seed)
    test: list[list[float]] = []

    def evaluate(epoch: int, n_epochs: int, logs: dict[str, float]) -> None:
        scores = evaluate_retrieval(hasher, dataset)
        test.append([scores.map_i2t, scores.map_t2i])

    train = dataset.train_mask
    assert dataset.image is not None and dataset.text is not None
    hasher_module.holdout_query_ap = recording
    try:
        hasher.fit(dataset.image[train], dataset.text[train], dataset.labels[train], evaluate)
    finally:
        hasher_module.holdout_query_ap = scorer
    return {"slice": np.stack(slice_scores), "test": np.asarray(test)}


def replay(slice_scores: np.ndarray, standard_errors: float) -> int:
    """0-based epoch ``EpochSelection`` keeps from stored (E, H, 2) slice scores."""
    selection = EpochSelection(standard_errors=standard_errors)
    for epoch, scores in enumerate(slice_scores.mean(axis=2), start=1):
        selection.offer(epoch, scores)
    return selection.selected - 1


RULES = {
    "last": lambda run: len(run["test"]) - 1,
    "best": lambda run: int(run["slice"].mean(axis=2).mean(axis=1).argmax()),
    "1se": lambda run: replay(run["slice"], 1.0),
    "2se": lambda run: replay(run["slice"], 2.0),
    "ceiling": lambda run: int(run["test"].mean(axis=1).argmax()),
}


def print_table(folder: Path) -> None:
    """Per dataset, noise rate and configuration: the mean over runs of the test queries' mAP
    ((I→T + T→I) / 2) at the last epoch, and each rule's gain over it."""
    groups: dict[tuple[str, str, str], dict[str, list[float]]]
    groups = defaultdict(lambda: defaultdict(list))
    for path in sorted(folder.glob("*.npz")):
        dataset, rate, config, _seed = path.stem.split("_")
        run = dict(np.load(path))
        for rule, choose in RULES.items():
            groups[(dataset, rate, config)][rule].append(float(run["test"][choose(run)].mean()))
    print("| dataset | noise | config | runs | last | " + " | ".join(list(RULES)[1:]) + " |")
    print("|---|---|---|---|---|" + "---|" * (len(RULES) - 1))
    for key in sorted(groups):
        values = groups[key]
        last = float(np.mean(values["last"]))
        gains = " | ".join(f"{np.mean(values[rule]) - last:+.4f}" for rule in list(RULES)[1:])
        print(f"| {key[0]} | {key[1]} | {key[2]} | {len(values['last'])} | {last:.4f} | {gains} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["wikipedia"])
    parser.add_argument("--rates", type=float, nargs="+", default=[0.5, 0.8])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--configs", nargs="+", default=["nrch", "scbch", "rshnl", "plain"])
    parser.add_argument("--rows", type=int, default=10_000, help="synthetic rows")
    parser.add_argument("--out", type=Path, default=Path("stopping"))
    parser.add_argument("--table", type=Path, help="print the table of a runs folder and exit")
    args = parser.parse_args()
    if args.table:
        print_table(args.table)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        for dataset_name in args.datasets:
            for rate in args.rates:
                for config in args.configs:
                    path = args.out / f"{dataset_name}_{rate}_{config}_{seed}.npz"
                    if path.exists():
                        continue
                    started = time.perf_counter()
                    run = record_run(dataset_name, rate, config, seed, args.rows)
                    np.savez(path, **run)
                    print(f"{path.name}: {time.perf_counter() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
