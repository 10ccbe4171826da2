"""Measure what `audit synth` claims at its defaults: generation time, class imbalance and that
neither view alone is enough (macro AUROC of a per-class logistic-regression probe, train rows
-> query rows).

    python examples/synth_structure.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from auditor.synth import SynthSettings, make_synthetic  # noqa: E402


def macro_auroc(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray
) -> float:
    scaler = StandardScaler().fit(train_x)
    scores = []
    for c in range(train_y.shape[1]):
        if train_y[:, c].min() == train_y[:, c].max() or test_y[:, c].min() == test_y[:, c].max():
            continue
        probe = LogisticRegression(C=0.1, max_iter=300).fit(
            scaler.transform(train_x), train_y[:, c]
        )
        scores.append(
            roc_auc_score(test_y[:, c], probe.decision_function(scaler.transform(test_x)))
        )
    return float(np.mean(scores))


def main() -> None:
    started = time.perf_counter()
    data = make_synthetic(SynthSettings())
    print(f"generated {data.labels.shape[0]:,} rows in {time.perf_counter() - started:.2f} s")
    counts = data.labels.sum(axis=0)
    print(f"most common / rarest class: {counts.max() / counts.min():.1f}x")
    train, query = data.split == "train", data.split == "query"
    y_train, y_query = data.labels[train], data.labels[query]
    for name, features in (
        ("image", data.image),
        ("text", data.text),
        ("both", np.hstack([data.image, data.text])),
    ):
        auroc = macro_auroc(features[train], y_train, features[query], y_query)
        print(f"{name:5s} macro AUROC {auroc:.3f}")


if __name__ == "__main__":
    main()
