"""read_dataset reads only the columns a dataset is built from (Parquet is columnar)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import small_table, write

from auditor import io
from auditor.dataset import DataError


def with_raw_columns(table: pa.Table) -> pa.Table:
    """Add what `audit embed` reads and a scan never needs: image bytes and text."""
    blobs = [bytes(10_000) for _ in range(table.num_rows)]
    table = table.append_column("image", pa.array(blobs, type=pa.binary()))
    return table.append_column("text", pa.array(["a caption"] * table.num_rows))


def test_only_the_dataset_columns_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(with_raw_columns(small_table()), tmp_path / "raw.parquet")
    requested: list[list[str] | None] = []
    real = pq.ParquetFile.read  # what io.read_table reads with

    def spy(self: pq.ParquetFile, columns: list[str] | None = None, **kwargs: object) -> pa.Table:
        requested.append(columns)
        return real(self, columns=columns, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pq.ParquetFile, "read", spy)
    dataset = io.read_dataset(path)
    assert requested == [["id", "labels", "image_embedding", "text_embedding", "split"]]
    expected = io.dataset_from_table(pq.read_table(path), source=str(path))
    np.testing.assert_array_equal(dataset.image, expected.image)
    np.testing.assert_array_equal(dataset.labels, expected.labels)
    assert list(dataset.ids) == list(expected.ids)


def test_class_metadata_survives_reading_some_columns(tmp_path: Path) -> None:
    table = small_table()
    table = table.set_column(1, "labels", pa.array([[i % 3] for i in range(12)]))
    table = with_raw_columns(table).replace_schema_metadata(
        {b"classes": json.dumps(["x", "y", "z"])}
    )
    dataset = io.read_dataset(write(table, tmp_path / "meta.parquet"))
    assert dataset.classes == ("x", "y", "z") and dataset.labels[4].tolist() == [0, 1, 0]


def test_a_missing_column_error_still_lists_every_column_of_the_file(tmp_path: Path) -> None:
    table = with_raw_columns(small_table()).drop_columns(["labels"])
    path = write(table, tmp_path / "nolabels.parquet")
    with pytest.raises(DataError, match="image, text") as error:
        io.read_dataset(path)
    assert error.value.column == "labels"
