"""The data contract: valid files read into typed arrays; every bad input is one clear error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import small_table, write

from auditor.dataset import ColumnNames, DataError
from auditor.io import (
    MARKER_FILE,
    atomic_output_dir,
    dataset_to_table,
    make_provenance,
    read_dataset,
    read_provenance,
    write_table_atomic,
)


def replace(table: pa.Table, name: str, values: pa.Array | list) -> pa.Table:
    return table.set_column(
        table.schema.get_field_index(name),
        name,
        pa.array(values) if isinstance(values, list) else values,
    )


def test_reads_valid_file_into_typed_arrays(tmp_path: Path) -> None:
    dataset = read_dataset(write(small_table(), tmp_path / "d.parquet"))
    assert dataset.classes == ("cat", "dog", "sky")
    assert dataset.labels.dtype == np.uint8 and dataset.labels.shape == (12, 3)
    assert dataset.labels[1].tolist() == [0, 1, 1]  # row 1: dog, sky
    assert dataset.image is not None and dataset.image.dtype == np.float32
    assert dataset.image.shape == (12, 4)
    assert dataset.text is not None and dataset.text.shape == (12, 3)
    assert dataset.text.dtype == np.float32  # list<double> accepted and converted
    assert dataset.train_mask.sum() == 10 and dataset.query_mask.sum() == 1
    assert dataset.retrieval_database_mask.sum() == 11
    assert dataset.clean_labels is None and dataset.noisy_rows is None


def test_integer_labels_with_classes_from_metadata_or_option(tmp_path: Path) -> None:
    table = replace(small_table(), "labels", [[i % 3] for i in range(12)])
    path = write(table, tmp_path / "ints.parquet")
    with pytest.raises(DataError, match="--classes"):
        read_dataset(path)
    by_option = read_dataset(path, classes=["a", "b", "c"])
    assert by_option.classes == ("a", "b", "c") and by_option.labels[4].tolist() == [0, 1, 0]
    with_metadata = table.replace_schema_metadata({b"classes": json.dumps(["x", "y", "z"])})
    assert read_dataset(write(with_metadata, tmp_path / "meta.parquet")).classes == ("x", "y", "z")


def test_missing_id_and_split_columns_fall_back_with_notes(tmp_path: Path) -> None:
    table = small_table().drop_columns(["id", "split"])
    dataset = read_dataset(write(table, tmp_path / "d.parquet"))
    assert dataset.ids.tolist() == list(range(12))
    assert dataset.train_mask.all()
    assert any("row numbers" in note for note in dataset.notes)


def test_clean_labels_give_ground_truth(tmp_path: Path) -> None:
    table = small_table()
    noisy = table.column("labels").to_pylist()
    noisy[5] = ["sky"]
    table = replace(table, "labels", noisy).append_column("clean_labels", table.column("labels"))
    dataset = read_dataset(write(table, tmp_path / "d.parquet"))
    assert dataset.noisy_rows is not None
    assert np.flatnonzero(dataset.noisy_rows).tolist() == [5]


def test_round_trip_and_provenance(tmp_path: Path) -> None:
    dataset = read_dataset(write(small_table(), tmp_path / "in.parquet"))
    provenance = make_provenance(
        "test",
        settings={"k": 1},
        classes=dataset.classes,
        seed=3,
        input_path=tmp_path / "in.parquet",
    )
    out = tmp_path / "out.parquet"
    write_table_atomic(dataset_to_table(dataset), out, provenance)
    again = read_dataset(out)
    np.testing.assert_array_equal(again.labels, dataset.labels)
    np.testing.assert_array_equal(again.image, dataset.image)
    assert again.ids.tolist() == dataset.ids.tolist()
    stored = read_provenance(out)
    assert stored is not None
    assert stored["seed"] == 3 and stored["classes"] == ["cat", "dog", "sky"]
    assert stored["input"]["fingerprint"].startswith("sha256:")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet", "out.parquet"]


def test_provenance_of_a_folder_input_fingerprints_its_files(tmp_path: Path) -> None:
    """A dataset imported from a raw folder (Wikipedia's, MIRFlickr's) names the folder as its
    source; its provenance fingerprints the files in it, and changes when one changes."""
    folder = tmp_path / "raw"
    folder.mkdir()
    (folder / "a.list").write_text("1 2\n")
    (folder / "b.mat").write_bytes(b"\x00\x01")

    def fingerprint() -> str:
        record = make_provenance("scan", settings={}, classes=["x"], input_path=folder)
        return str(record["input"]["fingerprint"])

    first = fingerprint()
    assert first.startswith("sha256:") and first == fingerprint()
    (folder / "a.list").write_text("1 3\n")
    assert fingerprint() != first


def test_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_write(table: pa.Table, where: Path) -> None:
        Path(where).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", broken_write)
    with pytest.raises(OSError):
        write_table_atomic(small_table(), tmp_path / "out.parquet", {"classes": []})
    assert list(tmp_path.iterdir()) == []


# One case per bad input of docs/design.md: (how to break the table, column, row, message fragment).
BAD_INPUTS = {
    "unknown column": (lambda t: t.drop_columns(["labels"]), "labels", None, "no such column"),
    "wrong labels type": (
        lambda t: replace(t, "labels", ["cat"] * 12),
        "labels",
        None,
        "wrong type",
    ),
    "null label list": (
        lambda t: replace(t, "labels", [["cat"]] * 7 + [None] + [["dog"]] * 4),
        "labels",
        7,
        "null label list",
    ),
    "empty label list": (
        lambda t: replace(t, "labels", [["cat"]] * 3 + [[]] + [["dog"]] * 8),
        "labels",
        3,
        "empty label list",
    ),
    "unknown class name": (
        lambda t: replace(
            t, "labels", [["cat"]] * 9 + [["cat", "llama"]] + [["dog"]] * 2
        ).replace_schema_metadata({b"classes": json.dumps(["cat", "dog", "sky"])}),
        "labels",
        9,
        "unknown class name 'llama'",
    ),
    "class number out of range": (
        lambda t: replace(t, "labels", [[0]] * 6 + [[5]] + [[1]] * 5).replace_schema_metadata(
            {b"classes": json.dumps(["cat", "dog", "sky"])}
        ),
        "labels",
        6,
        "outside 0..2",
    ),
    "NaN embedding": (
        lambda t: replace(
            t,
            "text_embedding",
            [[0.0, 1.0, 2.0]] * 4 + [[0.0, float("nan"), 1.0]] + [[0.0, 1.0, 2.0]] * 7,
        ),
        "text_embedding",
        4,
        "NaN or infinite",
    ),
    "inf embedding": (
        lambda t: replace(
            t,
            "text_embedding",
            [[0.0, 1.0, 2.0]] * 10 + [[float("inf"), 0.0, 1.0]] + [[0.0, 1.0, 2.0]],
        ),
        "text_embedding",
        10,
        "NaN or infinite",
    ),
    "ragged embedding": (
        lambda t: replace(
            t, "text_embedding", [[0.0, 1.0, 2.0]] * 2 + [[0.0, 1.0]] + [[1.0] * 3] * 9
        ),
        "text_embedding",
        2,
        "ragged",
    ),
    "null embedding": (
        lambda t: replace(t, "text_embedding", [[0.0, 1.0, 2.0]] * 8 + [None] + [[1.0] * 3] * 3),
        "text_embedding",
        8,
        "null embedding",
    ),
    "embedding of strings": (
        lambda t: replace(t, "image_embedding", [["a"]] * 12),
        "image_embedding",
        None,
        "wrong type",
    ),
    "duplicate ids": (
        lambda t: replace(t, "id", [f"r{i}" for i in range(11)] + ["r3"]),
        "id",
        11,
        "duplicate id 'r3' (first at row 3)",
    ),
    "duplicate integer ids": (
        lambda t: replace(t, "id", [*range(11), 7]),
        "id",
        11,
        "duplicate id 7 (first at row 7)",  # as written, not numpy's np.int64(7)
    ),
    "null id": (
        lambda t: replace(t, "id", [f"r{i}" for i in range(5)] + [None] * 7),
        "id",
        5,
        "null id",
    ),
    "unknown split": (
        lambda t: replace(t, "split", ["train"] * 11 + ["test"]),
        "split",
        11,
        "unknown split 'test'",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_names_file_column_and_row(case: str, tmp_path: Path) -> None:
    breaker, column, row, fragment = BAD_INPUTS[case]
    path = write(breaker(small_table()), tmp_path / "bad.parquet")
    with pytest.raises(DataError) as caught:
        read_dataset(path)
    error = caught.value
    assert fragment in str(error)
    assert error.file == str(path) and error.column == column and error.row == row
    assert "\n" not in str(error)


def test_embedding_dimension_mismatch_within_a_list_column(tmp_path: Path) -> None:
    # fixed_size_list guarantees one dimension; list<float> columns are checked row by row.
    table = replace(small_table(), "image_embedding", [[1.0] * 4] * 11 + [[1.0] * 5])
    with pytest.raises(DataError, match="ragged embedding: 5 values, row 0 has 4"):
        read_dataset(write(table, tmp_path / "d.parquet"))


def test_too_few_rows_for_the_settings(tmp_path: Path) -> None:
    path = write(small_table(), tmp_path / "d.parquet")
    with pytest.raises(DataError, match="too few rows: 10 train rows.*at least 50"):
        read_dataset(path, min_train_rows=50)


@pytest.mark.parametrize("content", [b"", b"not parquet at all", None])
def test_unreadable_or_truncated_file(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "broken.parquet"
    if content is None:  # a real file cut in half
        write(small_table(), path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:
        path.write_bytes(content)
    with pytest.raises(DataError, match="not a readable Parquet file") as caught:
        read_dataset(path)
    assert caught.value.file == str(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        read_dataset(tmp_path / "nope.parquet")


def test_renamed_columns(tmp_path: Path) -> None:
    table = small_table().rename_columns(["key", "tags", "img", "txt", "part"])
    columns = ColumnNames(
        id="key", labels="tags", image_embedding="img", text_embedding="txt", split="part"
    )
    dataset = read_dataset(write(table, tmp_path / "d.parquet"), columns=columns)
    assert dataset.ids[0] == "r0" and dataset.query_mask.sum() == 1
    with pytest.raises(DataError, match="no such column") as caught:
        read_dataset(tmp_path / "d.parquet")
    assert caught.value.column == "labels"


def test_atomic_output_dir_keeps_a_folder_that_became_the_users_during_the_run(
    tmp_path: Path,
) -> None:
    """The check before the work is repeated before the rename: a folder someone put files
    into meanwhile is kept, and the new outputs are removed instead."""
    out = tmp_path / "out"
    with pytest.raises(DataError, match="did not write"), atomic_output_dir(out, "scan") as folder:
        (folder / "result.json").write_text("{}")
        out.mkdir()
        (out / "precious.txt").write_text("mine")
    assert (out / "precious.txt").read_text() == "mine"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out"]


def test_atomic_output_dir_marks_and_replaces_only_its_own_command(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for _ in range(2):
        with atomic_output_dir(out, "train") as folder:
            (folder / "metrics.json").write_text("{}")
    assert json.loads((out / MARKER_FILE).read_text())["files"] == ["metrics.json"]
    with pytest.raises(DataError, match="audit train"), atomic_output_dir(out, "scan"):
        pass
    assert sorted(path.name for path in out.iterdir()) == [MARKER_FILE, "metrics.json"]
