"""The scan end to end on seeded synthetic data: quality, determinism, outputs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from auditor.dataset import AuditDataset, DataError
from auditor.inject import with_noise
from auditor.scanning import FUSED, ScanSettings, run_scan, scan_summary, write_scan
from auditor.synth import SynthSettings, make_synthetic

SETTINGS = ScanSettings(epochs=4, seed=0)


def noisy_dataset(rows: int = 1600, rate: float = 0.4, seed: int = 3) -> AuditDataset:
    clean = make_synthetic(SynthSettings(n_rows=rows, n_classes=10, seed=seed)).to_dataset()
    return with_noise(clean, "pairflip", rate, seed)[0]


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    dataset = noisy_dataset()
    scan = run_scan(dataset, SETTINGS)
    out = tmp_path_factory.mktemp("scan") / "audit"
    summary = write_scan(scan, out, SETTINGS, source=None)
    return dataset, scan, out, summary


@pytest.mark.e2e
def test_fused_score_beats_random_and_the_weakest_signal(scanned) -> None:  # type: ignore[no-untyped-def]
    _, scan, _, summary = scanned
    detection = summary["detection"]
    fused = detection[FUSED]
    assert fused["auroc"] > 0.85  # random ranking: 0.5
    assert fused["auprc"] > 0.75  # random ranking: the noise rate, 0.4
    weakest = min(metrics["auroc"] for name, metrics in detection.items() if name != FUSED)
    assert fused["auroc"] >= weakest
    # Per-label evidence finds the flipped cells.
    assert fused["cell_auroc"] > 0.85


@pytest.mark.e2e
def test_outputs_follow_the_contract(scanned) -> None:  # type: ignore[no-untyped-def]
    dataset, scan, out, summary = scanned
    audit = pq.read_table(out / "audit.parquet")
    n_train = int(dataset.train_mask.sum())
    assert audit.num_rows == n_train
    assert audit.column("rank").to_pylist() == list(range(1, n_train + 1))
    quality = np.asarray(audit.column(FUSED))
    assert (np.diff(quality) >= -1e-12).all() and quality.min() >= 0 and quality.max() <= 1
    for column in (
        "id",
        "is_issue",
        "given_labels",
        "suggested_labels",
        "labels_to_remove",
        "labels_to_add",
        "rshnl_hardness",
        "rshnl_weight",
        "scbch_reliability",
        "nrch_clean_posterior",
        "cleanlab_quality",
        "knn_vote",
        "is_noisy",
    ):
        assert column in audit.column_names, column
    flagged = np.asarray(audit.column("is_issue"))
    assert flagged.sum() == summary["rows_flagged"] > 0
    # Suggestions only in flagged rows, most of which get one; no row ends without a label.
    removes = audit.column("labels_to_remove").to_pylist()
    adds = audit.column("labels_to_add").to_pylist()
    changed = np.array([bool(removes[i] or adds[i]) for i in range(len(removes))])
    assert not changed[~flagged].any() and changed[flagged].mean() > 0.5
    assert set(summary["per_class"]) == set(scan.classes)
    assert (
        summary["noise_model"]["regime"]
        and "true_spurious_rate" in summary["per_class"][scan.classes[0]]
    )
    assert all(audit.column("suggested_labels").to_pylist())
    issues = pq.read_table(out / "label_issues.parquet")
    assert issues.num_rows >= int(scan.remove.sum() + scan.add.sum())
    assert set(issues.column("suggestion").to_pylist()) <= {"remove", "add", ""}
    assert b"hashaudit" in (audit.schema.metadata or {})
    assert 0 < summary["estimated_noise_rate"] < 1
    # the rate's spread over resampled rows, 0.02-0.04 on 800 rows of any protocol
    assert 0.005 < summary["estimated_noise_rate_sd"] < 0.1
    assert {"missing_row_rate_sd", "spurious_row_rate_sd"} <= set(summary["noise_model"])
    without = scan_summary(dataclasses.replace(scan, rate_spread=None), SETTINGS, None)
    assert "estimated_noise_rate_sd" not in without
    assert "missing_row_rate_sd" not in without["noise_model"]


@pytest.mark.e2e
def test_same_seed_same_audit(scanned, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dataset, _, out, _ = scanned
    again = run_scan(dataset, SETTINGS)
    write_scan(again, tmp_path / "audit", SETTINGS, source=None)
    first = pq.read_table(out / "audit.parquet").replace_schema_metadata(None)
    second = pq.read_table(tmp_path / "audit" / "audit.parquet").replace_schema_metadata(None)
    assert first.equals(second)
    assert again.rate_spread == scanned[1].rate_spread


def test_too_few_rows_is_an_input_error() -> None:
    dataset = noisy_dataset(rows=60)
    with pytest.raises(DataError, match="too few rows"):
        run_scan(dataset, SETTINGS)


@pytest.mark.e2e
def test_failed_scan_leaves_no_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import auditor.audit_files as audit_files

    dataset = noisy_dataset(rows=400)
    settings = ScanSettings(methods=(), epochs=1)
    scan = run_scan(dataset, settings)

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    monkeypatch.setattr(audit_files, "write_json_atomic", broken)
    with pytest.raises(OSError):
        write_scan(scan, tmp_path / "audit", settings, source=None)
    assert list(tmp_path.iterdir()) == []
