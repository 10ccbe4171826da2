"""`audit train`: trains, evaluates, saves; refuses what it cannot train on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from cli.main import app
from hashing.hasher import CrossModalHasher

runner = CliRunner()


@pytest.fixture(scope="module")
def noisy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("train")
    clean = folder / "s.parquet"
    noisy = folder / "n.parquet"
    assert (
        runner.invoke(
            app,
            ["synth", "-o", str(clean), "--rows", "1200", "--n-classes", "8", "--seed", "2", "-q"],
        ).exit_code
        == 0
    )
    assert (
        runner.invoke(
            app, ["inject", str(clean), "--rate", "0.3", "-o", str(noisy), "-q"]
        ).exit_code
        == 0
    )
    return noisy


@pytest.mark.e2e
def test_train_reports_map_above_random_and_saves_a_usable_model(
    noisy_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "model"
    result = runner.invoke(
        app,
        [
            "train",
            str(noisy_file),
            "--method",
            "plain",
            "--bits",
            "32",
            "--epochs",
            "8",
            "-o",
            str(out),
            "--json",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk["map_i2t"] == metrics["map_i2t"]
    assert metrics["relevance_from"] == "clean_labels"
    # Far above a random ranking in both directions.
    for key in ("map_i2t", "map_t2i"):
        assert metrics[key] > metrics["map_random_ranking"] + 0.1, metrics
    hasher = CrossModalHasher.load(out / "model.pt")
    codes = hasher.encode_image(np.zeros((3, hasher.image_dim_), dtype=np.float32))
    assert codes.shape == (3, 32) and set(np.unique(codes)) <= {-1, 1}


def _rewrite(source: Path, target: Path, change) -> Path:  # type: ignore[no-untyped-def]
    pq.write_table(change(pq.read_table(source)), target)
    return target


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--method", "bogus"], "unknown method 'bogus'"),
        (["--bits", "4"], "8..256"),
        (["--bits", "512"], "8..256"),
    ],
)
def test_bad_options_exit_2(
    noisy_file: Path, tmp_path: Path, args: list[str], fragment: str
) -> None:
    out = tmp_path / "o"
    result = runner.invoke(app, ["train", str(noisy_file), *args, "-o", str(out)])
    assert result.exit_code == 2 and fragment in result.stderr
    assert not out.exists()


def test_no_query_rows_exits_2(noisy_file: Path, tmp_path: Path) -> None:
    def no_queries(table: pa.Table) -> pa.Table:
        split = ["train" if s == "query" else s for s in table.column("split").to_pylist()]
        return table.set_column(table.schema.get_field_index("split"), "split", pa.array(split))

    path = _rewrite(noisy_file, tmp_path / "noq.parquet", no_queries)
    result = runner.invoke(app, ["train", str(path), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and "no query rows" in result.stderr
    assert not (tmp_path / "o").exists()


def test_one_class_exits_2(noisy_file: Path, tmp_path: Path) -> None:
    def one_class(table: pa.Table) -> pa.Table:
        labels = pa.array([["only"]] * table.num_rows)
        table = table.drop_columns(["clean_labels"]).replace_schema_metadata(None)
        return table.set_column(table.schema.get_field_index("labels"), "labels", labels)

    path = _rewrite(noisy_file, tmp_path / "one.parquet", one_class)
    result = runner.invoke(app, ["train", str(path), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and "only 1 class" in result.stderr
