"""The notebook API on a pandas DataFrame: scan, look at the suspects, clean, save.

    python examples/notebook_api.py [--rows 1200] [--epochs 3] [--out notebook.audit/]

The data is synthetic (``auditor.synth``) with pairflip noise on half of the train rows; the
true labels are kept aside, out of the DataFrame the audit sees, and used only at the end to
measure what the audit found. ``tests/auditor/test_api.py`` runs :func:`main` and asserts its
numbers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import auditor  # noqa: E402
from auditor.inject import with_noise  # noqa: E402
from auditor.io import dataset_to_table  # noqa: E402
from auditor.synth import SynthSettings, make_synthetic  # noqa: E402


def noisy_frame(rows: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """A DataFrame in the data contract (``id``, ``labels``, the two embeddings, ``split``) with
    pairflip noise on half its train rows, and the true label sets by id (the train rows')."""
    clean = make_synthetic(SynthSettings(n_rows=rows, seed=seed)).to_dataset()
    noisy, _ = with_noise(clean, "pairflip", 0.5, seed)
    frame = dataset_to_table(noisy).to_pandas()
    truth = frame.loc[frame["split"] == "train"].set_index("id")["clean_labels"]
    return frame.drop(columns="clean_labels"), truth


def label_sets(values: pd.Series) -> pd.Series:
    return values.map(lambda labels: frozenset(labels))


def wrong_cells(labels: pd.Series, truth: pd.Series) -> int:
    """Label cells that differ from the truth: labels wrongly given plus labels missing."""
    pairs = zip(label_sets(labels), label_sets(truth.loc[labels.index]), strict=True)
    return sum(len(given ^ true) for given, true in pairs)


def main(rows: int = 1200, epochs: int = 3, seed: int = 0, out: Path | None = None) -> dict:
    frame, truth = noisy_frame(rows, seed)
    truth_sets = label_sets(truth)

    result = auditor.scan(frame, methods=("rshnl", "scbch", "nrch"), epochs=epochs, seed=seed)
    issues = result.issues  # one row per train row, most suspect first
    print(issues[["rank", "id", "label_quality", "labels_to_remove", "labels_to_add"]].head(10))
    print(f"estimated noise rate {result.summary['estimated_noise_rate']:.3f}")

    given_sets = label_sets(issues.set_index("id")["given_labels"])
    truly_noisy = given_sets != truth_sets.loc[given_sets.index]
    suspicion = 1.0 - issues.set_index("id")["label_quality"]
    auroc = float(roc_auc_score(truly_noisy, suspicion.loc[truly_noisy.index]))

    cleaned = auditor.clean(frame, result, strategy="relabel")
    train = cleaned.loc[cleaned["split"] == "train"].set_index("id")
    before = wrong_cells(frame.set_index("id").loc[train.index, "labels"], truth)
    after = wrong_cells(train["labels"], truth)
    print(f"fused detection AUROC against the hidden truth: {auroc:.3f}")
    print(f"label cells that differ from the truth: {before} before cleaning, {after} after")

    if out is not None:
        result.save(out)
        print(f"wrote {out}/ (open {out}/report.html, or run `audit report {out}`)")
    return {
        "auroc": auroc,
        "wrong_cells_before": before,
        "wrong_cells_after": after,
        "flagged": int(issues["is_issue"].sum()),
        "rows_changed": int(cleaned.attrs["hashaudit_clean"]["rows_changed"]),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1200)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    arguments = parser.parse_args()
    main(arguments.rows, arguments.epochs, arguments.seed, arguments.out)
