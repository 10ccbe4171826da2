"""`audit train`: trains, evaluates, saves; refuses what it cannot train on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import synth_and_inject
from typer.testing import CliRunner

from cli.main import app
from hashing.hasher import CrossModalHasher

runner = CliRunner()


@pytest.fixture(scope="module")
def noisy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("train")
    _, noisy = synth_and_inject(folder, rows=1200, n_classes=8, rate=0.3, seed=2)
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


def _train(data: Path, out: Path, *extra: str) -> dict:  # type: ignore[type-arg]
    args = ["train", str(data), "--method", "plain", "--bits", "16", "--epochs", "2", "-o"]
    result = runner.invoke(app, [*args, str(out), *extra, "-q"])
    assert result.exit_code == 0, result.output
    assert "Model and metrics" in result.stdout
    return {"stdout": result.stdout, **json.loads((out / "metrics.json").read_text())}


def test_relevance_from_noisy_labels_is_said_and_truth_file_restores_clean_relevance(
    noisy_file: Path, tmp_path: Path
) -> None:
    unlabelled = _rewrite(noisy_file, tmp_path / "no_clean.parquet",
                          lambda table: table.drop(["clean_labels"]))  # fmt: skip
    noisy = _train(unlabelled, tmp_path / "noisy")
    assert noisy["relevance_from"] == "labels"
    assert (
        "noisy" in noisy["relevance_note"] and "Note: relevance from the given" in noisy["stdout"]
    )
    truth = _train(unlabelled, tmp_path / "truth", "--truth", str(noisy_file))
    clean = _train(noisy_file, tmp_path / "clean")
    assert truth["relevance_from"] == f"truth:{noisy_file}" and "relevance_note" not in truth
    assert clean["relevance_from"] == "clean_labels"
    # same seed, same training (the truth never reaches it): the scores of the clean column
    assert (truth["map_i2t"], truth["map_t2i"]) == (clean["map_i2t"], clean["map_t2i"])
    assert truth["map_random_ranking"] == clean["map_random_ranking"]
    assert truth["map_i2t"] != noisy["map_i2t"]


def test_truth_file_missing_an_evaluated_id_exits_2(noisy_file: Path, tmp_path: Path) -> None:
    partial = _rewrite(noisy_file, tmp_path / "partial.parquet", lambda table: table.slice(0, 50))
    out = tmp_path / "o"
    result = runner.invoke(app, ["train", str(noisy_file), "--truth", str(partial), "-o", str(out)])
    assert result.exit_code == 2 and "no clean labels for id" in result.stderr
    assert not out.exists()


def test_average_epochs_ends_with_averaged_weights_and_says_so(
    noisy_file: Path, tmp_path: Path
) -> None:
    averaged = _train(noisy_file, tmp_path / "avg", "--average-epochs", "1")
    last = _train(noisy_file, tmp_path / "last", "--average-epochs", "0")
    assert averaged["provenance"]["settings"]["weight_average_epochs"] == 1
    assert last["provenance"]["settings"]["weight_average_epochs"] == 0
    assert "moving average over about the last 1 epochs" in averaged["stdout"]
    assert "moving average" not in last["stdout"]
    # the model handed out is the average, not the last step's weights
    assert (averaged["map_i2t"], averaged["map_t2i"]) != (last["map_i2t"], last["map_t2i"])
    out = tmp_path / "bad"
    args = ["train", str(noisy_file), "--average-epochs", "-1", "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "--average-epochs" in result.stderr and not out.exists()


def test_holdout_stopping_rule_reports_the_epoch_and_the_refit(
    noisy_file: Path, tmp_path: Path
) -> None:
    metrics = _train(noisy_file, tmp_path / "held", "--holdout", "0.1")
    epoch = metrics["selected_epoch"]
    assert 1 <= epoch <= 2 and metrics["refit"] is True
    # 10 % of the 600 train rows, held out although the method's minimum slice is larger:
    # a fraction the user gives applies at any size
    assert metrics["holdout_rows"] == 60
    assert metrics["provenance"]["settings"]["holdout_fraction"] == 0.1
    assert f"stopping rule: epoch {epoch} of 2" in metrics["stdout"]
    assert f"trained again on every train row for {epoch} epochs" in metrics["stdout"]
    out = tmp_path / "bad"
    result = runner.invoke(app, ["train", str(noisy_file), "--holdout", "0.7", "-o", str(out)])
    assert result.exit_code == 2 and "0..0.5" in result.stderr


def test_nrch_default_stopping_rule_is_off_and_said_so_below_its_minimum_slice(
    noisy_file: Path, tmp_path: Path
) -> None:
    args = ["train", str(noisy_file), "--bits", "16", "--epochs", "2", "-q"]
    result = runner.invoke(app, [*args, "-o", str(tmp_path / "nrch")])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "nrch" / "metrics.json").read_text())
    assert metrics["method"] == "nrch" and metrics["holdout_rows"] == 0
    assert metrics["selected_epoch"] == 2 and metrics["refit"] is False
    assert "stopping rule off: 10% of the train rows is fewer than 500 rows" in result.stdout
