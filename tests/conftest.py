"""Shared test helpers: small data-contract tables, small images for the embedding tests, and
the location of the real data."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

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


def synth_and_inject(
    folder: Path, rows: int, n_classes: int, rate: float, seed: int = 0
) -> tuple[Path, Path]:
    """``audit synth`` then ``audit inject`` (pairflip at ``rate``) through the CLI, into
    ``folder``: the clean file ``s.parquet`` and the noisy ``n.parquet``."""
    from typer.testing import CliRunner

    from cli.main import app  # not at start-up: conftest is imported by every test

    clean, noisy = folder / "s.parquet", folder / "n.parquet"
    synth = ["synth", "-o", str(clean), "--rows", str(rows), "--n-classes", str(n_classes)]
    for args in (
        [*synth, "--seed", str(seed), "-q"],
        ["inject", str(clean), "--rate", str(rate), "-o", str(noisy), "-q"],
    ):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
    return clean, noisy


def write(table: pa.Table, path: Path) -> Path:
    pq.write_table(table, path)
    return path


TINY = "clip:hashaudit-tiny:"
"""The tiny random open_clip encoder: milliseconds per batch, no download."""
HF_IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
"""Hugging Face's image column type."""


def png(seed: int) -> bytes:
    """A 32x32 PNG of 4x4 random colour blocks; different seeds, different images."""
    rng = np.random.default_rng(seed)
    pixels = np.kron(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8), np.ones((8, 8, 1), np.uint8))
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def no_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach for the network: the hub is offline for huggingface_hub and for us."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True, raising=False)
