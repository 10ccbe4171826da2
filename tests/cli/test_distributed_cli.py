"""`--nproc N`: `audit train`, `audit scan` and `audit embed` run data-parallel under torch's
launcher, write their outputs once (rank 0) and agree with a one-process run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from conftest import HF_IMAGE, TINY, png
from typer.testing import CliRunner

import cli.launch
from auditor.io import read_dataset
from cli.main import app

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]


def audit(*args: str) -> subprocess.CompletedProcess[str]:
    """`audit ARGS` in a fresh process (``--nproc`` launches workers from the real argv)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )


def run_in_one_and_two_processes(args: list[str], tmp_path: Path) -> tuple[str, str]:
    """``audit ARGS --json -q`` in this process (``-o tmp_path/one``) and under ``--nproc 2``
    (``-o tmp_path/two``); both must succeed. Their stdout."""
    args = [*args, "--json", "-q"]
    one = runner.invoke(app, [*args, "-o", str(tmp_path / "one")])
    assert one.exit_code == 0, one.output
    two = audit(*args, "--nproc", "2", "-o", str(tmp_path / "two"))
    assert two.returncode == 0, two.stderr[-3000:]
    return one.stdout, two.stdout


@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ddp-cli") / "s.parquet"
    result = runner.invoke(
        app, ["synth", "-o", str(path), "--rows", "500", "--n-classes", "6", "--seed", "1", "-q"]
    )
    assert result.exit_code == 0, result.output
    return path


def test_nproc_reruns_the_command_with_the_given_arguments_only(
    data_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    launched: list[tuple[int, list[str]]] = []

    def fake_launch(nproc: int, arguments: list[str]) -> int:
        launched.append((nproc, arguments))
        return 2  # the workers' exit code becomes the command's

    monkeypatch.setattr(cli.launch, "launch_local", fake_launch)
    out = tmp_path / "m"
    result = runner.invoke(
        app,
        ["train", str(data_file), "--method", "plain", "--nproc", "3", "-o", str(out), "-q"],
    )
    assert result.exit_code == 2
    assert launched == [
        (3, ["train", str(data_file), "--method", "plain", "--out", str(out), "--quiet"])
    ]
    assert not out.exists()


def test_nproc_1_and_torchrun_workers_run_in_place(
    data_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_launch(nproc: int, arguments: list[str]) -> int:
        raise AssertionError("must not launch")

    monkeypatch.setattr(cli.launch, "launch_local", no_launch)
    args = ["train", str(data_file), "--method", "plain", "--epochs", "1", "--bits", "16", "-q"]
    assert runner.invoke(app, [*args, "-o", str(tmp_path / "a")]).exit_code == 0
    # a process started by torchrun ignores --nproc (it is one of the launched workers);
    # alone in its world it joins no group and trains by itself. MASTER_PORT 0: the one-process
    # group's store binds a free port itself (a port probed, closed and reused could be taken
    # by another process in between)
    for name, value in (("RANK", "0"), ("WORLD_SIZE", "1"), ("MASTER_ADDR", "127.0.0.1")):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MASTER_PORT", "0")
    result = runner.invoke(app, [*args, "--nproc", "2", "-o", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "b" / "metrics.json").exists()


@pytest.mark.distributed
def test_train_with_two_processes_matches_one(data_file: Path, tmp_path: Path) -> None:
    one, two = run_in_one_and_two_processes(
        ["train", str(data_file), "--method", "nrch", "--bits", "16", "--epochs", "3"], tmp_path
    )
    # one JSON document on stdout: only rank 0 printed
    metrics_one, metrics_two = json.loads(one), json.loads(two)
    assert metrics_one["processes"] == 1 and metrics_two["processes"] == 2
    for key in ("map_i2t", "map_t2i"):
        assert metrics_two[key] == pytest.approx(metrics_one[key], abs=1e-6)
    assert sorted(path.name for path in (tmp_path / "two").iterdir()) == [
        ".hashaudit",
        "metrics.json",
        "model.pt",
    ]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["one", "two"]  # no leftovers
    written = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert written["map_i2t"] == metrics_two["map_i2t"]
    weights_one = torch.load(tmp_path / "one" / "model.pt", weights_only=True)["weights"]
    weights_two = torch.load(tmp_path / "two" / "model.pt", weights_only=True)["weights"]
    for name, value in weights_one.items():
        torch.testing.assert_close(weights_two[name], value, atol=1e-4, rtol=0)


@pytest.mark.distributed
def test_bad_input_under_nproc_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "missing.parquet"
    result = audit("train", str(missing), "--nproc", "2", "-q", "-o", str(tmp_path / "out"))
    assert result.returncode == 2
    # one line, from rank 0, though both workers met the error
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("error:") and str(missing) in errors[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.distributed
def test_scan_with_two_processes_matches_one(data_file: Path, tmp_path: Path) -> None:
    _, two = run_in_one_and_two_processes(
        ["scan", str(data_file), "--methods", "nrch,scbch", "--epochs", "3", "--bits", "16"],
        tmp_path,
    )
    json.loads(two)  # one document: only rank 0 printed
    first = pq.read_table(tmp_path / "one" / "audit.parquet").sort_by("id")
    second = pq.read_table(tmp_path / "two" / "audit.parquet").sort_by("id")
    for column in ("nrch_clean_posterior", "scbch_reliability", "label_quality"):
        np.testing.assert_allclose(
            np.asarray(second[column]), np.asarray(first[column]), atol=1e-4, err_msg=column
        )


def raw_file(path: Path, n_rows: int) -> Path:
    """Rows of 7 distinct images (row 4 is junk) and 6 distinct texts, as `audit embed` reads."""
    images = [{"bytes": png(i % 7), "path": f"{i}.png"} for i in range(n_rows)]
    if n_rows > 4:
        images[4] = {"bytes": b"junk", "path": "bad.png"}
    table = pa.table(
        {
            "id": list(range(n_rows)),
            "labels": [["a"]] * n_rows,
            "image": pa.array(images, type=HF_IMAGE),
            "text": [f"text {i % 6}" for i in range(n_rows)],
        }
    )
    pq.write_table(table, path)
    return path


@pytest.mark.distributed
def test_embed_with_two_processes_matches_one(tmp_path: Path) -> None:
    data = raw_file(tmp_path / "raw.parquet", 9)
    common = ["--encoder", TINY, "--skip-bad", "--batch-size", "2", "--json"]
    one = runner.invoke(
        app, ["embed", str(data), *common, "--no-cache", "-o", str(tmp_path / "one.parquet")]
    )
    assert one.exit_code == 0, one.output
    # the first 3 rows' contents go to the cache: rank 0 finds them there, the ranks share the rest
    head = raw_file(tmp_path / "head.parquet", 3)
    cache = ["--cache-dir", str(tmp_path / "cache")]
    warm = runner.invoke(app, ["embed", str(head), *common, *cache])
    assert warm.exit_code == 0, warm.output
    two = audit(
        "embed", str(data), *common, *cache, "--nproc", "2", "-o", str(tmp_path / "two.parquet")
    )
    assert two.returncode == 0, two.stderr[-3000:]
    summary = json.loads(two.stdout)  # one document: only rank 0 printed
    assert summary["rows_out"] == 8 and summary["rows_rejected"] == 1
    assert summary["image"]["cached"] == 3 and summary["image"]["encoded"] == 3
    assert summary["text"]["cached"] == 3 and summary["text"]["encoded"] == 2
    first, second = read_dataset(tmp_path / "one.parquet"), read_dataset(tmp_path / "two.parquet")
    assert second.ids.tolist() == first.ids.tolist() == [0, 1, 2, 3, 5, 6, 7, 8]
    assert first.image is not None and second.image is not None
    assert first.text is not None and second.text is not None
    np.testing.assert_allclose(second.image, first.image, atol=1e-5)
    np.testing.assert_allclose(second.text, first.text, atol=1e-5)
    assert pq.read_table(tmp_path / "two.rejects.parquet").column("row").to_pylist() == [4]
