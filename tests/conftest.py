"""Shared test helpers: small data-contract tables and the location of the real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def shared_data_path(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test with the reason when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real benchmark data not found at {path} (it sits beside the repository)")
    return path


def small_table(n_rows: int = 12, image_dim: int = 4, text_dim: int = 3, seed: int = 0) -> pa.Table:
    """A valid data-contract table: 3 classes, every row 1–2 labels, all three splits."""
    rng = np.random.default_rng(seed)
    classes = ["cat", "dog", "sky"]
    labels = [[classes[i % 3]] + ([classes[(i + 1) % 3]] if i % 2 else []) for i in range(n_rows)]
    splits = ["query", "database"] + ["train"] * (n_rows - 2)
    return pa.table(
        {
            "id": [f"r{i}" for i in range(n_rows)],
            "labels": labels,
            "image_embedding": pa.FixedSizeListArray.from_arrays(
                pa.array(rng.standard_normal(n_rows * image_dim).astype(np.float32)), image_dim
            ),
            "text_embedding": pa.array(
                rng.standard_normal((n_rows, text_dim)).tolist(), type=pa.list_(pa.float64())
            ),
            "split": splits,
        }
    )


def write(table: pa.Table, path: Path) -> Path:
    pq.write_table(table, path)
    return path
