"""`audit clean` and `audit bench` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import synth_and_inject
from typer.testing import CliRunner

from auditor.io import file_fingerprint
from cli.main import app

runner = CliRunner()


def ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    folder = tmp_path_factory.mktemp("clean_cli")
    clean, noisy = synth_and_inject(folder, rows=600, n_classes=8, rate=0.4, seed=3)
    ok(["scan", str(noisy), "--methods", "none", "-o", str(folder / "audit"), "-q", "--json"])
    return clean, noisy, folder / "audit" / "audit.parquet"


@pytest.mark.e2e
def test_clean_then_train(files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, noisy, audit = files
    out = tmp_path / "c.parquet"
    summary = json.loads(
        ok(
            ["clean", str(noisy), "--audit", str(audit), "--strategy", "drop", "--budget", "5%"]
            + ["-o", str(out), "--json", "-q"]
        )
    )
    assert summary["rows_dropped"] == 15 and summary["rows_written"] == 585
    assert pq.read_table(tmp_path / "c.dropped.parquet").num_rows == 15
    assert summary["label_accuracy_after"] >= summary["label_accuracy_before"] - 1e-9
    text = ok(["clean", str(noisy), "--audit", str(audit), "--strategy", "relabel", "-q"])
    assert "relabel:" in text and "rows changed" in text
    assert (noisy.with_name("n.cleaned-relabel.parquet")).exists()
    # `audit train` runs unchanged on a cleaned file.
    metrics = json.loads(
        ok(
            ["train", str(out), "--method", "plain", "--epochs", "1", "--bits", "16"]
            + ["-o", str(tmp_path / "model"), "--json", "-q"]
        )
    )
    assert 0 < metrics["map_i2t"] <= 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--strategy", "relabel", "--budget", "lots"], "for --budget: not a budget"),
        (["--strategy", "burn"], "for --strategy: 'burn' is unknown"),
        (["--strategy", "prune", "--confidence", "1.5"], "for --confidence: must be in"),
        (["--strategy", "relabel", "--threshold", "0"], "for --threshold: must be in"),
    ],
)
def test_bad_options_exit_2(files, tmp_path: Path, extra: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    _, noisy, audit = files
    out = tmp_path / "c.parquet"
    result = runner.invoke(
        app, ["clean", str(noisy), "--audit", str(audit), "-o", str(out), *extra]
    )
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert list(tmp_path.iterdir()) == []


def test_mismatched_audit_and_bad_files_exit_2_with_nothing_written(files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    clean, noisy, audit = files
    before = file_fingerprint(noisy)
    other = tmp_path / "other.parquet"
    ok(["synth", "-o", str(other), "--rows", "600", "--n-classes", "6", "--seed", "9", "-q"])
    out = tmp_path / "c.parquet"
    cases = [
        ([str(other), "--audit", str(audit), "--strategy", "drop"], "class list"),
        (
            [str(noisy), "--audit", str(tmp_path / "nope.parquet"), "--strategy", "drop"],
            "no such file",
        ),
        ([str(noisy), "--audit", str(noisy), "--strategy", "drop"], "not an audit"),
        (
            [
                str(noisy),
                "--audit",
                str(audit),
                "--strategy",
                "prune",
                "--issues",
                str(tmp_path / "x"),
            ],
            "prune needs",
        ),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["clean", *args, "-o", str(out)])
        assert result.exit_code == 2, result.output
        assert message in " ".join(result.output.split()), result.output
    result = runner.invoke(
        app, ["clean", str(noisy), "--audit", str(audit), "--strategy", "drop", "-o", str(noisy)]
    )
    assert result.exit_code == 2 and "overwrite the input" in result.output
    assert file_fingerprint(noisy) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.parquet"]


@pytest.mark.e2e
def test_bench_loop(files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    clean, noisy, _ = files
    out = tmp_path / "loop"
    payload = json.loads(
        ok(
            ["bench", str(noisy), "--methods", "plain", "--strategies", "drop,relabel"]
            + ["--epochs", "2", "--bits", "16", "--scan-methods", "none", "-o", str(out)]
            + ["--json", "-q"]
        )
    )
    assert [(row["labels"], row["round"]) for row in payload["rows"]] == [
        ("noisy", 0),
        ("cleaned:drop", 1),
        ("cleaned:relabel", 1),
        ("clean (oracle)", 0),
    ]
    assert json.loads((out / "retrieval.json").read_text())["rows"] == payload["rows"]
    assert (out / "audit-round1" / "audit.parquet").exists()
    # Without the truth: exit 2 and nothing written (the old `--loop` flag is still accepted).
    for args in (["bench", str(clean)], ["bench", "--loop", str(clean)]):
        result = runner.invoke(app, [*args, "-o", str(tmp_path / "bad"), "-q"])
        assert result.exit_code == 2, result.output
        assert "no clean_labels" in " ".join(result.output.split())
    assert not (tmp_path / "bad").exists()
