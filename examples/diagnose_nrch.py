"""Why NRCH's retrieval declines over epochs: one run with the truth beside it (diagnosis only).

Trains one configuration of ``examples/bench_train.py`` (default ``nrch``) on one dataset and
noise rate, and prints every ``--every`` epochs the test queries' mAP (relevance from the clean
labels), the share of rows DNS keeps for the next epoch and the share of truly clean rows among
them. At the end it prints how well DNS's per-sample loss separates the noisy rows (AUROC against
the truth) and what the two-component mixture makes of it (means, weights, rows kept at the
posterior thresholds 0.3 and 0.5, noisy share among the kept).

Two counterfactuals separate the causes:
- ``--labels clean``: train on the clean labels (does the formulation decline without noise?);
- ``--keep truth``: after the warm-up DNS keeps exactly the truly clean rows (is the decline
  DNS's selection?).

    python examples/diagnose_nrch.py --dataset mirflickr --rate 0.8 --epochs 36
    python examples/diagnose_nrch.py --dataset mirflickr --rate 0.8 --epochs 36 --keep truth
    python examples/diagnose_nrch.py --dataset mirflickr --rate 0.8 --epochs 36 --labels clean
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_train import DATA, config_settings, load  # noqa: E402

from auditor.train import evaluate_retrieval  # noqa: E402
from hashing.hasher import CrossModalHasher, encode_rows  # noqa: E402
from hashing.nrch import NRCHHasher  # noqa: E402
from hashing.signals import (  # noqa: E402
    fit_gaussian_mixture_1d,
    max_given_label_residual,
    min_max_normalize,
    prototype_residuals,
)


def keep_truth_after_warmup(clean_rows: np.ndarray) -> None:
    """Make NRCH's DNS keep exactly ``clean_rows`` (N,) bool whenever its threshold is above 0."""
    dns_epoch_signals = NRCHHasher.epoch_signals

    def truthful(self: NRCHHasher, epoch: int, *args: Any) -> Any:
        signals, logs = dns_epoch_signals(self, epoch, *args)
        if logs["next_threshold"] > 0:
            self.keep = torch.from_numpy(clean_rows).to(self.prototypes.device)
        return signals, logs

    setattr(NRCHHasher, "epoch_signals", truthful)  # noqa: B010 (a class attribute, on purpose)


def mixture_report(losses: np.ndarray, noisy: np.ndarray) -> list[str]:
    """Lines on how DNS's (N,) per-sample losses and their mixture separate the ``noisy`` rows."""
    normalized = min_max_normalize(losses)
    lines = [
        f"DNS loss: AUROC against the noisy rows {roc_auc_score(noisy, losses):.3f}, "
        f"noisy share {noisy.mean():.3f}",
        "normalised loss quantiles 1/10/50/90/99 %: "
        + " ".join(f"{q:.3f}" for q in np.quantile(normalized, [0.01, 0.1, 0.5, 0.9, 0.99])),
    ]
    for tied in (True, False):
        fitted = fit_gaussian_mixture_1d(normalized, tied_variance=tied)
        clean = fitted.posteriors(normalized)[:, int(np.argmin(fitted.means))]
        parts = [f"{'tied' if tied else 'untied'} mixture: means {np.round(fitted.means, 3)}"]
        parts.append(f"weights {np.round(fitted.weights, 3)}")
        for threshold in (0.3, 0.5):
            kept = clean >= threshold
            noisy_kept = f"{noisy[kept].mean():.3f}" if kept.any() else "-"
            parts.append(f"kept at {threshold}: {kept.mean():.3f} (noisy among them {noisy_kept})")
        lines.append(", ".join(parts))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mirflickr")
    parser.add_argument("--rate", type=float, default=0.8)
    parser.add_argument("--config", default="nrch")
    parser.add_argument("--epochs", type=int, default=36)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--every", type=int, default=3)
    parser.add_argument("--rows", type=int, default=10_000, help="synthetic rows")
    parser.add_argument("--labels", choices=["noisy", "clean"], default="noisy")
    parser.add_argument("--keep", choices=["dns", "truth"], default="dns")
    args = parser.parse_args()

    dataset = load(args.dataset, args.rate, args.rows, DATA)
    if args.labels == "clean" and dataset.clean_labels is not None:
        dataset = dataclasses.replace(dataset, labels=dataset.clean_labels)
    if dataset.clean_labels is None or dataset.image is None or dataset.text is None:
        raise SystemExit("the dataset needs clean labels and both views")
    train = dataset.train_mask
    clean_rows = (dataset.labels[train] == dataset.clean_labels[train]).all(axis=1)
    if args.keep == "truth":
        keep_truth_after_warmup(clean_rows)
    hasher = CrossModalHasher(
        config_settings(args.config, {"epochs": args.epochs, "holdout_fraction": 0.0}),
        bits=64,
        seed=args.seed,
    )

    def report(epoch: int, n_epochs: int, logs: dict[str, float]) -> None:
        if epoch % args.every and epoch not in (1, 2, n_epochs):
            return
        scores = evaluate_retrieval(hasher, dataset)
        line = f"epoch {epoch:3d}: mAP {scores.map_i2t:.4f} / {scores.map_t2i:.4f}"
        keep = getattr(hasher.model_, "keep", None)
        if keep is not None:
            kept = keep.cpu().numpy()
            line += f", kept {kept.mean():.3f} (clean among them {clean_rows[kept].mean():.3f})"
        print(line, flush=True)

    hasher.fit(dataset.image[train], dataset.text[train], dataset.labels[train], report)
    model = hasher.model_
    if isinstance(model, NRCHHasher) and not clean_rows.all():
        image = torch.from_numpy(dataset.image[train].astype(np.float32))
        text = torch.from_numpy(dataset.text[train].astype(np.float32))
        with torch.no_grad():
            h_image, h_text = encode_rows(model, image, text, 1024)
            residuals = prototype_residuals(h_image, h_text, model.prototypes)
            labels = torch.from_numpy(dataset.labels[train].astype(np.float32))
            losses = max_given_label_residual(residuals, labels).numpy().astype(np.float64)
        print("\n".join(mixture_report(losses, ~clean_rows)))


if __name__ == "__main__":
    main()
