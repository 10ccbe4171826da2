"""`auditor.cleaning`: each strategy changes exactly what it claims, on a real seeded audit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from auditor.cleaning import (
    CHANGES_COLUMN,
    Budget,
    CleanSettings,
    clean_file,
    dropped_path,
    parse_budget,
    prune_labels,
    relabel_labels,
    select_rows,
)
from auditor.dataset import AuditDataset, DataError
from auditor.inject import with_noise
from auditor.io import (
    PROVENANCE_KEY,
    dataset_to_table,
    file_fingerprint,
    make_provenance,
    multi_hot_to_arrow,
    read_dataset,
    read_provenance,
    write_table_atomic,
)
from auditor.scanning import ScanSettings, run_scan, write_scan
from auditor.synth import SynthSettings, make_synthetic

SCAN = ScanSettings(methods=(), epochs=1)  # baselines only: a real audit in about 2 s


def write_dataset(dataset: AuditDataset, path: Path, table: pa.Table | None = None) -> Path:
    table = dataset_to_table(dataset) if table is None else table
    write_table_atomic(table, path, make_provenance("test", settings={}, classes=dataset.classes))
    return path


def scan_file(dataset: AuditDataset, folder: Path) -> Path:
    write_scan(run_scan(dataset, SCAN), folder, SCAN, source=None)
    return folder / "audit.parquet"


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> tuple[AuditDataset, Path, Path]:
    folder = tmp_path_factory.mktemp("clean")
    clean = make_synthetic(SynthSettings(n_rows=600, n_classes=8, seed=1)).to_dataset()
    noisy = with_noise(clean, "pairflip", 0.4, 0)[0]
    data = write_dataset(noisy, folder / "n.parquet")
    return noisy, data, scan_file(noisy, folder / "audit")


def by_id(table: pa.Table, column: str) -> dict:
    return dict(zip(table.column("id").to_pylist(), table.column(column).to_pylist(), strict=True))


def ids_where(table: pa.Table, column: str, keep) -> list:  # type: ignore[no-untyped-def]
    """Ids of the rows whose ``column`` value satisfies ``keep``."""
    values = table.column(column).to_pylist()
    return [i for i, value in zip(table["id"].to_pylist(), values, strict=True) if keep(value)]


def untouched_rows_identical(before: pa.Table, after: pa.Table, ids: set) -> None:
    """Rows in ``ids`` are in ``after`` with every input column exactly as in ``before``."""
    keep_before = before.filter(pc.is_in(before.column("id"), pa.array(sorted(ids))))
    keep_after = after.filter(pc.is_in(after.column("id"), pa.array(sorted(ids))))
    assert keep_after.num_rows == len(ids)
    assert keep_after.select(before.column_names).equals(keep_before)


@pytest.mark.e2e
def test_relabel_gives_flagged_rows_exactly_their_suggestions(audited, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dataset, data, audit_path = audited
    before_data, before_audit = file_fingerprint(data), file_fingerprint(audit_path)
    out = tmp_path / "relabel.parquet"
    summary = clean_file(data, audit_path, out, CleanSettings("relabel"))
    audit = pq.read_table(audit_path)
    flagged = np.asarray(audit.column("is_issue"))
    removes = audit.column("labels_to_remove").to_pylist()
    adds = audit.column("labels_to_add").to_pylist()
    assert summary["rows_selected"] == flagged.sum() > 0
    assert summary["labels_removed"] == sum(len(removes[i]) for i in np.flatnonzero(flagged))
    assert summary["labels_added"] == sum(len(adds[i]) for i in np.flatnonzero(flagged))
    cleaned = pq.read_table(out)
    labels, changes = by_id(cleaned, "labels"), by_id(cleaned, CHANGES_COLUMN)
    for row, audit_id in enumerate(audit.column("id").to_pylist()):
        given = audit.column("given_labels")[row].as_py()
        if flagged[row]:
            assert set(labels[audit_id]) == set(audit.column("suggested_labels")[row].as_py())
            assert sorted(changes[audit_id]) == sorted(
                [f"-{name}" for name in removes[row]] + [f"+{name}" for name in adds[row]]
            )
        else:
            assert labels[audit_id] == given and changes[audit_id] == []
    assert all(labels.values())  # never an empty label set
    # Query and database rows: every column exactly as in the input, no changes recorded.
    source = pq.read_table(data)
    others = set(ids_where(source, "split", lambda split: split != "train"))
    untouched_rows_identical(source, cleaned, others)
    assert all(changes[i] == [] for i in others)
    assert cleaned.num_rows == source.num_rows
    assert file_fingerprint(data) == before_data and file_fingerprint(audit_path) == before_audit
    # The cleaned file is a valid dataset whose truth column is still the truth.
    reread = read_dataset(out)
    assert np.array_equal(reread.clean_labels, dataset.clean_labels)


@pytest.mark.e2e
def test_drop_removes_the_most_suspect_train_rows_and_lists_them(audited, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, data, audit_path = audited
    out = tmp_path / "drop.parquet"
    summary = clean_file(data, audit_path, out, CleanSettings("drop", parse_budget("10%")))
    audit = pq.read_table(audit_path)
    n_audited = audit.num_rows
    expected = set(audit.column("id").to_pylist()[: round(0.1 * n_audited)])  # sorted by rank
    sidecar = pq.read_table(dropped_path(out))
    assert sidecar.column_names == ["id", "rank", "label_quality", "given_labels"]
    assert set(sidecar.column("id").to_pylist()) == expected
    assert sidecar.column("rank").to_pylist() == list(range(1, len(expected) + 1))
    assert summary["rows_dropped"] == len(expected) == 30
    source, cleaned = pq.read_table(data), pq.read_table(out)
    assert cleaned.num_rows == source.num_rows - len(expected)
    assert not expected & set(cleaned.column("id").to_pylist())
    kept = set(source.column("id").to_pylist()) - expected
    untouched_rows_identical(source, cleaned, kept)  # query and database rows among them
    assert all(change == [] for change in cleaned.column(CHANGES_COLUMN).to_pylist())
    assert read_provenance(dropped_path(out)) == read_provenance(out)


@pytest.mark.e2e
def test_budget_count_with_threshold(audited, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, data, audit_path = audited
    audit = pq.read_table(audit_path)
    quality = np.asarray(audit.column("label_quality"))
    threshold = float(np.quantile(quality, 0.05))
    out = tmp_path / "d.parquet"
    summary = clean_file(
        data, audit_path, out, CleanSettings("drop", parse_budget("200"), threshold=threshold)
    )
    expected = set(ids_where(audit, "label_quality", lambda value: value < threshold))
    assert 0 < summary["rows_dropped"] == len(expected) < 200
    assert set(pq.read_table(dropped_path(out)).column("id").to_pylist()) == expected


@pytest.mark.e2e
def test_prune_applies_only_confident_suggestions_and_keeps_every_row(
    audited, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _, data, audit_path = audited
    confidence = 0.85  # above the scan's threshold (0.7): some suggestions fall below it
    out = tmp_path / "prune.parquet"
    summary = clean_file(data, audit_path, out, CleanSettings("prune", confidence=confidence))
    issues = pq.read_table(audit_path.with_name("label_issues.parquet")).to_pylist()
    flagged = set(ids_where(pq.read_table(audit_path), "is_issue", bool))
    confident = {
        (cell["id"], ("-" if cell["suggestion"] == "remove" else "+") + cell["class"])
        for cell in issues
        if cell["suggestion"] and cell["id"] in flagged and cell["error_probability"] >= confidence
    }
    below = sum(1 for c in issues if c["suggestion"] and c["id"] in flagged) - len(confident)
    cleaned = pq.read_table(out)
    applied = {
        (row_id, change)
        for row_id, changes in by_id(cleaned, CHANGES_COLUMN).items()
        for change in changes
    }
    assert applied <= confident
    skipped = confident - applied
    # Only removals are ever skipped, one per row that would otherwise lose its last label.
    assert all(change.startswith("-") for _, change in skipped)
    assert summary["removals_skipped_to_keep_a_label"] == len(skipped)
    assert summary["labels_removed"] + summary["labels_added"] == len(applied)
    assert summary["cells_below_confidence"] == below > 0
    assert cleaned.num_rows == pq.read_table(data).num_rows
    assert all(cleaned.column("labels").to_pylist())


def test_empty_label_rule_in_the_pure_functions() -> None:
    given = np.array([[1, 1, 0], [1, 0, 0], [0, 1, 0]], dtype=np.uint8)
    suggested = np.array([[0, 0, 0], [0, 0, 1], [0, 1, 0]], dtype=bool)
    labels, kept = relabel_labels(given, suggested, np.array([True, True, False]))
    # Row 0's suggestion is empty: it keeps its given labels. Row 1 is relabelled.
    assert labels.tolist() == [[1, 1, 0], [0, 0, 1], [0, 1, 0]] and kept.tolist() == [1, 0, 0]
    remove = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 0]], dtype=bool)
    add = np.array([[0, 0, 0], [0, 0, 1], [0, 0, 0]], dtype=bool)
    error = np.array([[0.95, 0.85, np.nan], [0.99, np.nan, 0.6], [np.nan] * 3])
    labels, below, kept = prune_labels(given, remove, add, error, np.ones(3, bool), 0.8)
    # Row 0 would lose both labels: the one less likely wrong (0.85) stays. Row 1's add is
    # below the confidence, so its removal is skipped too.
    assert labels.tolist() == [[0, 1, 0], [1, 0, 0], [0, 1, 0]]
    assert kept.tolist() == [[0, 1, 0], [1, 0, 0], [0, 0, 0]]
    assert below.tolist() == [[0, 0, 0], [0, 0, 1], [0, 0, 0]]


def test_selection_and_budget_parsing() -> None:
    rank = np.array([3, 1, 4, 2, 5])
    quality = np.array([0.3, 0.1, 0.4, 0.2, 0.5])
    issue = np.array([0, 1, 0, 1, 0], dtype=bool)
    assert select_rows(rank, quality, issue).tolist() == issue.tolist()
    assert select_rows(rank, quality, issue, Budget(count=3)).tolist() == [1, 1, 0, 1, 0]
    assert select_rows(rank, quality, issue, Budget(fraction=0.4)).tolist() == [0, 1, 0, 1, 0]
    assert select_rows(rank, quality, issue, threshold=0.35).tolist() == [1, 1, 0, 1, 0]
    both = select_rows(rank, quality, issue, Budget(count=1), threshold=0.35)
    assert both.tolist() == [0, 1, 0, 0, 0]
    assert parse_budget("5%") == Budget(fraction=0.05)
    assert parse_budget("0.05") == Budget(fraction=0.05)
    assert parse_budget("200") == Budget(count=200)
    assert parse_budget("1.0") == Budget(fraction=1.0)
    for bad in ("abc", "0", "-3", "150%", "1.5", "nan", ""):
        with pytest.raises(ValueError):
            parse_budget(bad)


@pytest.mark.e2e
def test_provenance_round_trip(audited, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dataset, data, audit_path = audited
    out = tmp_path / "p.parquet"
    settings = CleanSettings("prune", parse_budget("25%"), confidence=0.6)
    summary = clean_file(data, audit_path, out, settings)
    record = read_provenance(out)
    assert record is not None and record["command"] == "clean"
    assert record["settings"]["strategy"] == "prune"
    assert record["settings"]["budget"] == "0.25" and record["settings"]["confidence"] == 0.6
    assert record["audit"] == {"path": str(audit_path), "fingerprint": file_fingerprint(audit_path)}
    issues = audit_path.with_name("label_issues.parquet")
    assert record["evidence"]["fingerprint"] == file_fingerprint(issues)
    assert record["input"]["fingerprint"] == file_fingerprint(data)
    assert record["counts"] == {key: summary[key] for key in record["counts"]}
    assert record["counts"]["rows_selected"] == 75
    assert record["classes"] == list(dataset.classes)
    assert record["parent"]["command"] == "test"  # the input's own provenance is kept
    assert 0 <= record["accuracy"]["label_accuracy_after"] <= 1


@pytest.mark.e2e
def test_class_numbers_stay_class_numbers(audited, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dataset, _, audit_path = audited
    table = dataset_to_table(dataset)
    index = table.schema.get_field_index("labels")
    numbers = multi_hot_to_arrow(dataset.labels, dataset.classes, as_indices=True)
    data = write_dataset(
        dataset, tmp_path / "ints.parquet", table.set_column(index, "labels", numbers)
    )
    out = tmp_path / "ints.cleaned.parquet"
    summary = clean_file(data, audit_path, out, CleanSettings("relabel"))
    cleaned = pq.read_table(out)
    assert pa.types.is_integer(cleaned.schema.field("labels").type.value_type)
    assert summary["rows_changed"] > 0
    assert read_dataset(out).labels.sum(axis=1).min() >= 1


@pytest.mark.e2e
def test_cleaning_a_cleaned_file_appends_to_changes(audited, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, data, audit_path = audited
    first = tmp_path / "first.parquet"
    clean_file(data, audit_path, first, CleanSettings("relabel"))
    second_audit = scan_file(read_dataset(first), tmp_path / "audit2")
    second = tmp_path / "second.parquet"
    summary = clean_file(first, second_audit, second, CleanSettings("relabel", Budget(count=10)))
    old, new = (
        by_id(pq.read_table(first), CHANGES_COLUMN),
        by_id(pq.read_table(second), CHANGES_COLUMN),
    )
    appended = {i for i in old if new[i] != old[i]}
    assert all(new[i][: len(old[i])] == old[i] for i in old)
    assert len(appended) == summary["rows_changed"] > 0
    assert read_provenance(second)["parent"]["command"] == "clean"


# ------------------------------------------------------------------------- refused audits
@pytest.mark.e2e
def test_audit_of_other_rows_is_refused(audited, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dataset, data, audit_path = audited
    table = pq.read_table(data)
    train_ids = ids_where(table, "split", lambda split: split == "train")
    fewer = write_dataset(
        dataset,
        tmp_path / "fewer.parquet",
        table.filter(pc.invert(pc.is_in(table.column("id"), pa.array(train_ids[:3])))),
    )
    with pytest.raises(DataError, match="is not in the data"):
        clean_file(fewer, audit_path, tmp_path / "o.parquet", CleanSettings("drop"))
    split = table.column("split").to_pylist()
    split[table.column("id").to_pylist().index(train_ids[0])] = "query"
    moved = write_dataset(
        dataset, tmp_path / "moved.parquet", table.set_column(4, "split", pa.array(split))
    )
    with pytest.raises(DataError, match="'query' row of the data, not a train row"):
        clean_file(moved, audit_path, tmp_path / "o.parquet", CleanSettings("relabel"))
    split = table.column("split").to_pylist()
    split[split.index("database")] = "train"
    more = write_dataset(
        dataset, tmp_path / "more.parquet", table.set_column(4, "split", pa.array(split))
    )
    with pytest.raises(DataError, match="covers 300 of the data's 301 train rows"):
        clean_file(more, audit_path, tmp_path / "o.parquet", CleanSettings("relabel"))
    audit = pq.read_table(audit_path)
    repeated = tmp_path / "repeated.audit.parquet"
    pq.write_table(pa.concat_tables([audit, audit.slice(5, 1)]), repeated)
    first_id = audit.column("id")[5].as_py()
    with pytest.raises(DataError, match=rf"row 300: duplicate id {first_id!r} \(first at row 5\)"):
        clean_file(data, repeated, tmp_path / "o.parquet", CleanSettings("relabel"))
    assert not (tmp_path / "o.parquet").exists()


@pytest.mark.e2e
def test_audit_with_other_classes_or_labels_is_refused(audited, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dataset, data, audit_path = audited
    audit = pq.read_table(audit_path)
    record = json.loads(audit.schema.metadata[PROVENANCE_KEY])
    record["classes"] = [*record["classes"][:-1], "zebra"]
    other = tmp_path / "other_audit.parquet"
    write_table_atomic(audit.replace_schema_metadata(None), other, record)
    with pytest.raises(DataError, match="class list .* differs .* only in the audit: zebra"):
        clean_file(data, other, tmp_path / "o.parquet", CleanSettings("relabel"))
    relabelled = dataset.labels.copy()
    first_train = int(np.flatnonzero(dataset.train_mask)[0])
    relabelled[first_train] = 1 - relabelled[first_train]
    changed = write_dataset(
        AuditDataset(**{**dataset.__dict__, "labels": relabelled}), tmp_path / "changed.parquet"
    )
    with pytest.raises(DataError, match="given labels differ from the data's labels in 1 rows"):
        clean_file(changed, audit_path, tmp_path / "o.parquet", CleanSettings("relabel"))
    with pytest.raises(DataError, match="overwrite the input"):
        clean_file(data, audit_path, data, CleanSettings("relabel"))
    assert not (tmp_path / "o.parquet").exists()
