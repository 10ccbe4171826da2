"""`audit scan` and `audit demo` from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import synth_and_inject
from typer.testing import CliRunner

from cli.common import result_console
from cli.main import app

runner = CliRunner()


@pytest.fixture(scope="module")
def noisy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _, noisy = synth_and_inject(tmp_path_factory.mktemp("scan"), rows=800, n_classes=8, rate=0.4)
    return noisy


@pytest.mark.e2e
def test_scan_json_summary_and_files(noisy_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit"
    result = runner.invoke(
        app, ["scan", str(noisy_file), "--epochs", "2", "-o", str(out), "--json", "-q"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rows_audited"] == 400 and summary["true_noisy_rows"] == 160
    assert {"label_quality", "cleanlab_quality", "knn_vote"} <= set(summary["detection"])
    assert summary["detection"]["label_quality"]["auroc"] > 0.75
    assert sorted(p.name for p in out.iterdir()) == [
        ".hashaudit",
        "audit.parquet",
        "label_issues.parquet",
        "report.html",
        "summary.json",
    ]


@pytest.mark.e2e
def test_scan_prints_tables(
    noisy_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # stdout is not a terminal here, as in a pipe or `| tee`: 80 columns, like COLUMNS=80
    monkeypatch.setattr(result_console, "width", 80)
    out = tmp_path / "a"
    result = runner.invoke(
        app, ["scan", str(noisy_file), "--methods", "none", "-o", str(out), "-q"]
    )
    assert result.exit_code == 0, result.output
    assert (
        "Top 15 suspects" in result.stdout and "Detection against the known noise" in result.stdout
    )
    assert "estimated noise rate" in result.stdout
    spread = "two standard deviations from resampling the rows; bias not included"
    assert spread in " ".join(result.stdout.split())
    tables = result.stdout.split("estimated noise rate")[0].splitlines()
    assert all(len(line) <= 80 for line in tables) and "…" not in result.stdout
    audit = pq.read_table(out / "audit.parquet").to_pylist()
    for row in sorted(audit, key=lambda row: row["rank"])[:15]:
        # each suspect's id and score whole on one line of the table
        line = next(line for line in tables if f" {row['id']} " in line)
        assert f"{row['label_quality']:.3f}" in line


@pytest.mark.e2e
def test_scan_with_truth_file(noisy_file: Path, tmp_path: Path) -> None:
    table = pq.read_table(noisy_file)
    truth = tmp_path / "truth.parquet"
    pq.write_table(table.select(["id", "clean_labels"]), truth)
    without = tmp_path / "nolabels.parquet"
    pq.write_table(table.drop_columns(["clean_labels"]), without)
    result = runner.invoke(
        app,
        [
            "scan",
            str(without),
            "--methods",
            "none",
            "--truth",
            str(truth),
            "-o",
            str(tmp_path / "a"),
            "--json",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["true_noisy_rows"] == 160


def test_bad_input_exits_2_without_output_folder(noisy_file: Path, tmp_path: Path) -> None:
    table = pq.read_table(noisy_file)
    values = table.column("text_embedding").to_pylist()
    values[7] = [float("nan")] * len(values[7])
    bad = tmp_path / "bad.parquet"
    pq.write_table(
        table.set_column(
            table.schema.get_field_index("text_embedding"), "text_embedding", pa.array(values)
        ),
        bad,
    )
    out = tmp_path / "bad.audit"
    result = runner.invoke(app, ["scan", str(bad), "-o", str(out)])
    assert result.exit_code == 2
    assert "column 'text_embedding', row 7" in result.stderr
    assert not out.exists()


def test_unknown_method_exits_2(noisy_file: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["scan", str(noisy_file), "--methods", "foo", "-o", str(tmp_path / "a")]
    )
    assert result.exit_code == 2 and "unknown method" in result.stderr
    assert not (tmp_path / "a").exists()


def test_scan_embeds_raw_images_and_texts_first(tmp_path: Path) -> None:
    import io

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    images, texts, labels = [], [], []
    for row in range(80):
        colour = row % 2  # two "scenes": reddish or bluish pictures with matching captions
        pixels = rng.integers(0, 60, size=(24, 24, 3), dtype=np.uint8)
        pixels[..., 0 if colour == 0 else 2] += 180
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="PNG")
        images.append({"bytes": buffer.getvalue(), "path": None})
        texts.append("a red sunset over the sea" if colour == 0 else "a blue lake under the sky")
        labels.append(["sunset"] if colour == 0 else ["lake"])
    raw = tmp_path / "raw.parquet"
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    pq.write_table(
        pa.table(
            {
                "id": [f"p{i}" for i in range(80)],
                "image": pa.array(images, type=image_type),
                "text": texts,
                "labels": labels,
            }
        ),
        raw,
    )
    out = tmp_path / "audit"
    result = runner.invoke(
        app,
        [
            "scan",
            str(raw),
            "--methods",
            "none",
            "--encoder",
            "clip:hashaudit-tiny:",
            "-o",
            str(out),
            "--json",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows_audited"] == 80
    embedded = pq.read_table(tmp_path / "raw.embedded.parquet")
    assert {"image_embedding", "text_embedding"} <= set(embedded.column_names)
    assert pq.read_table(raw).column_names == ["id", "image", "text", "labels"]  # untouched


def test_terminal_says_the_noise_regime_and_no_library_chatter(
    noisy_file: Path, tmp_path: Path
) -> None:
    """A fresh process (faiss logs its loader only on first import): the regime line is there,
    faiss's eight lines of tried builds are not."""
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.main",
            "scan",
            str(noisy_file),
            "--methods",
            "none",
            "-o",
            str(tmp_path / "a"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert "% of rows lack at least one tag; spurious tags" in output
    assert "faiss" not in output.lower()


def test_the_rate_line_says_why_a_rate_at_its_bound_has_no_spread() -> None:
    from auditor.audit_files import RATE_AT_BOUND
    from cli.scan_command import rate_line

    counts = {"rows_flagged": 10, "labels_to_remove": 3, "labels_to_add": 4}
    spread = rate_line({"estimated_noise_rate": 0.55, "estimated_noise_rate_sd": 0.03, **counts})
    assert "0.550 (± 0.060, two standard deviations from resampling the rows; bias" in spread
    # heavy class flips read every row noisy in every resample: ± 0.000 would read as certainty
    capped = rate_line({"estimated_noise_rate": 1.0, "estimated_noise_rate_sd": 0.0, **counts})
    assert f"1.000 ({RATE_AT_BOUND}): 10 rows flagged" in capped and "±" not in capped
    unread = rate_line({"estimated_noise_rate": 0.2, **counts})
    assert unread.startswith("estimated noise rate 0.200: 10 rows flagged")
