"""`auditor.loop`: noisy → scan → clean → retrain on tiny seeded data (baselines-only scans)."""

from __future__ import annotations

import json

import pytest

from auditor.cleaning import STRATEGIES
from auditor.dataset import DataError
from auditor.inject import with_noise
from auditor.loop import NOISY, ORACLE, LoopSettings, run_loop, write_retrieval_json
from auditor.scanning import ScanSettings
from auditor.synth import SynthSettings, make_synthetic
from auditor.train import random_ranking_map

SETTINGS = LoopSettings(
    methods=("plain",),
    rounds=2,
    bits=32,
    epochs=4,
    scan=ScanSettings(methods=(), bits=32),
)


@pytest.fixture(scope="module")
def looped(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    clean = make_synthetic(SynthSettings(n_rows=1000, n_classes=8, seed=4)).to_dataset()
    noisy = with_noise(clean, "pairflip", 0.5, 4)[0]
    folder = tmp_path_factory.mktemp("loop")
    result = run_loop(noisy, SETTINGS, scan_dir=folder)
    write_retrieval_json(result, folder / "retrieval.json")
    return noisy, result, folder


@pytest.mark.e2e
def test_every_method_and_label_version_is_measured(looped) -> None:  # type: ignore[no-untyped-def]
    noisy, result, folder = looped
    expected = [(NOISY, 0)]
    expected += [(f"cleaned:{s}", k) for s in STRATEGIES for k in (1, 2)]
    expected += [(ORACLE, 0)]
    assert [(row["labels"], row["round"]) for row in result.rows] == expected
    floor = random_ranking_map(noisy)
    for row in result.rows:
        assert row["method"] == "plain"
        assert floor < row["map_i2t"] <= 1 and floor < row["map_t2i"] <= 1
    payload = json.loads((folder / "retrieval.json").read_text())
    assert {"method", "labels", "round", "map_i2t", "map_t2i", "label_accuracy"} <= set(
        payload["rows"][0]
    )
    assert payload["settings"]["rounds"] == 2 and payload["settings"]["methods"] == ["plain"]
    # One scan shared by the first round, one per strategy for the second.
    names = sorted(path.name for path in folder.iterdir() if path.is_dir())
    assert names == ["audit-round1", *(f"audit-round2-{s}" for s in sorted(STRATEGIES))]


@pytest.mark.e2e
def test_cleaning_improves_label_accuracy_and_reports_it_truthfully(looped) -> None:  # type: ignore[no-untyped-def]
    noisy, result, _ = looped
    rows = {(row["labels"], row["round"]): row for row in result.rows}
    truth_rate = noisy.noisy_rows[noisy.train_mask].mean()
    assert rows[(NOISY, 0)]["label_accuracy"] == pytest.approx(1 - truth_rate)
    assert rows[(ORACLE, 0)]["label_accuracy"] == 1.0
    records = {(r["strategy"], r["round"]): r for r in result.cleaning}
    # Dropping the flagged rows leaves cleaner labels, and a second round cleaner still.
    first, second = records[("drop", 1)], records[("drop", 2)]
    assert first["label_accuracy_before"] == pytest.approx(0.5)
    assert first["label_accuracy_after"] > 0.7 > first["label_accuracy_before"]
    assert second["label_accuracy_after"] > second["label_accuracy_before"]
    assert second["label_accuracy_before"] == first["label_accuracy_after"]
    assert first["train_rows_after"] == first["train_rows_before"] - first["counts"]["rows_dropped"]
    assert rows[("cleaned:drop", 1)]["train_rows"] == first["train_rows_after"]
    # Relabel and prune keep every train row; the accuracy they report is the table's.
    for strategy in ("relabel", "prune"):
        record = records[(strategy, 1)]
        assert record["train_rows_after"] == record["train_rows_before"]
        assert record["counts"]["rows_changed"] > 0
        assert rows[(f"cleaned:{strategy}", 1)]["label_accuracy"] == record["label_accuracy_after"]


def test_the_loop_needs_the_truth() -> None:
    clean = make_synthetic(SynthSettings(n_rows=300, n_classes=6, seed=1)).to_dataset()
    assert clean.clean_labels is None
    with pytest.raises(DataError, match="no clean_labels"):
        run_loop(clean, SETTINGS)
    with pytest.raises(ValueError, match="unknown strategy"):
        LoopSettings(strategies=("burn",))
    with pytest.raises(ValueError, match="unknown method"):
        LoopSettings(methods=("cnn",))
