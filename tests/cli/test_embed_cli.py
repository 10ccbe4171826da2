"""`audit embed` on the command line: exit codes, one-line errors, outputs, JSON on stdout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from conftest import HF_IMAGE, TINY, png, shared_data_path
from typer.testing import CliRunner

from auditor.io import read_dataset, read_provenance
from cli.embed_command import embed

pytestmark = pytest.mark.usefixtures("no_hub")  # no test may reach for the network


def audit_app() -> typer.Typer:
    """The command as cli/main.py registers it, in an app of its own."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def main() -> None:
        """audit (test app)"""

    app.command("embed")(embed)
    return app


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(audit_app(), ["embed", *args])
    return result.exit_code, result.stdout, result.stderr


def error_line(stderr: str) -> str:
    """The one error line (status lines and progress bars may come before it)."""
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr
    return errors[0]


def raw_file(path: Path, images: list, texts: list, image_type: pa.DataType = HF_IMAGE) -> Path:
    table = pa.table(
        {
            "id": list(range(100, 100 + len(texts))),
            "labels": [["a"]] * len(texts),
            "image": pa.array(images, type=image_type),
            "text": pa.array(texts, type=pa.string()),
        }
    )
    pq.write_table(table, path)
    return path


def good_file(tmp_path: Path, n_rows: int = 4) -> Path:
    images = [{"bytes": png(i), "path": f"{i}.png"} for i in range(n_rows)]
    return raw_file(tmp_path / "raw.parquet", images, [f"text {i}" for i in range(n_rows)])


def test_embeds_with_the_tiny_clip_model_and_prints_json(tmp_path: Path) -> None:
    data, out = good_file(tmp_path), tmp_path / "out.parquet"
    cached = [str(data), "--encoder", TINY, "-o", str(out), "--cache-dir", str(tmp_path / "cache")]
    code, stdout, stderr = run(*cached, "--batch-size", "3", "--json")
    assert code == 0, stderr
    summary = json.loads(stdout)  # stdout holds only the JSON
    assert summary["output"] == str(out)
    assert summary["rows_in"] == summary["rows_out"] == 4 and summary["rows_rejected"] == 0
    assert summary["encoder"]["spec"] == TINY
    assert summary["encoder"]["image_dim"] == summary["encoder"]["text_dim"] == 32
    assert summary["image"]["encoded"] == 4 and summary["text"]["encoded"] == 4
    dataset = read_dataset(out)
    assert dataset.image is not None and dataset.image.shape == (4, 32)
    assert dataset.ids.tolist() == [100, 101, 102, 103]
    provenance = read_provenance(out)
    assert provenance is not None and provenance["settings"]["batch_size"] == 3

    # the same command again is served from the cache
    code, stdout, _ = run(*cached, "--json")
    again = json.loads(stdout)
    assert code == 0 and again["image"]["cached"] == 4 and again["image"]["encoded"] == 0


def test_default_output_name_and_human_summary(tmp_path: Path) -> None:
    data = good_file(tmp_path)
    code, stdout, stderr = run(str(data), "--encoder", TINY, "--no-cache")
    assert code == 0, stderr
    out = tmp_path / "raw.embedded.parquet"
    assert out.exists()
    assert f"wrote {out}: 4 of 4 rows, image_embedding 32-d, text_embedding 32-d" in stderr
    assert stdout == ""


def test_quiet_prints_nothing(tmp_path: Path) -> None:
    code, stdout, stderr = run(str(good_file(tmp_path)), "--encoder", TINY, "--no-cache", "-q")
    assert code == 0 and stdout == "" and stderr == ""


def test_bad_rows_exit_2_with_one_line_and_no_output(tmp_path: Path) -> None:
    images = [
        {"bytes": png(0), "path": "a.png"},
        {"bytes": b"junk", "path": "b.png"},
        {"bytes": None, "path": "missing.png"},
    ]
    data = raw_file(tmp_path / "raw.parquet", images, ["x", "y", ""])
    out = tmp_path / "out.parquet"
    code, stdout, stderr = run(str(data), "--encoder", TINY, "-o", str(out), "--no-cache")
    assert code == 2
    line = error_line(stderr)
    assert line.startswith(f"error: {data}: 2 bad rows: row 1 (image:")
    assert "row 2 (image: image file not found" in line
    assert "row 2 (text: empty text)" in line
    assert stdout == ""
    assert not out.exists()


def test_skip_bad_writes_rejects_beside_the_output(tmp_path: Path) -> None:
    images = [
        {"bytes": png(0), "path": "a.png"},
        {"bytes": b"junk", "path": "b.png"},
        {"bytes": png(2), "path": "c.png"},
    ]
    data = raw_file(tmp_path / "raw.parquet", images, ["x", "y", "z"])
    out = tmp_path / "out.parquet"
    code, stdout, stderr = run(
        str(data), "--encoder", TINY, "-o", str(out), "--no-cache", "--skip-bad", "--json"
    )
    assert code == 0, stderr
    summary = json.loads(stdout)
    assert summary["rows_out"] == 2 and summary["rows_rejected"] == 1
    rejects = pq.read_table(summary["rejects_path"])
    assert summary["rejects_path"] == str(tmp_path / "out.rejects.parquet")
    assert rejects.column("row").to_pylist() == [1] and rejects.column("id").to_pylist() == [101]
    assert pq.read_table(out).column("id").to_pylist() == [100, 102]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("clip:hashaudit-tiny:nonsense", "unknown pretrained tag 'nonsense'"),
        ("clip:ViT-B-32:laion2b_s34b_b79k", "cannot load open_clip ViT-B-32 with weights"),
        ("clip:ViT-B-32:/nowhere/model.pt", "checkpoint file not found: /nowhere/model.pt"),
        ("clip:ViT-B-32", "say which weights"),
        ("glove", "unknown --encoder 'glove'"),
    ],
)
def test_unavailable_encoders_exit_2_naming_alternatives(
    tmp_path: Path, spec: str, expected: str
) -> None:
    code, _, stderr = run(str(good_file(tmp_path)), "--encoder", spec, "--no-cache")
    line = error_line(stderr)
    assert code == 2 and expected in line
    assert "--encoder offline" in line and "clip:hashaudit-tiny:" in line


def test_wrong_column_type_and_missing_column_exit_2(tmp_path: Path) -> None:
    data = raw_file(tmp_path / "ints.parquet", [1, 2], ["a", "b"], image_type=pa.int64())
    code, _, stderr = run(str(data), "--encoder", TINY, "--no-cache")
    assert code == 2
    assert error_line(stderr).startswith(f"error: {data}, column 'image': wrong type int64")
    code, _, stderr = run(
        str(good_file(tmp_path)), "--encoder", TINY, "--no-cache", "--text-column", "caption"
    )
    assert code == 2 and "column 'caption': no such column" in error_line(stderr)


def test_missing_input_and_overwriting_input_exit_2(tmp_path: Path) -> None:
    code, _, stderr = run(str(tmp_path / "nope.parquet"), "--encoder", TINY)
    assert code == 2 and "no such file" in error_line(stderr)
    data = good_file(tmp_path)
    code, _, stderr = run(str(data), "--encoder", TINY, "-o", str(data))
    assert code == 2 and "overwrite the input" in error_line(stderr)


def test_bad_batch_size_is_a_usage_error(tmp_path: Path) -> None:
    code, _, stderr = run(str(good_file(tmp_path)), "--encoder", TINY, "--batch-size", "0")
    assert code == 2 and "--batch-size" in stderr


def test_settings_from_a_toml_file_with_options_overriding(tmp_path: Path) -> None:
    config = tmp_path / "embed.toml"
    config.write_text(
        f'encoder = "{TINY}"\nbatch_size = 3\nseed = 4\ncache_dir = "{tmp_path / "toml-cache"}"\n'
    )
    data, out = good_file(tmp_path), tmp_path / "out.parquet"
    code, stdout, stderr = run(
        str(data), "--config", str(config), "--batch-size", "2", "-o", str(out), "--json"
    )
    assert code == 0, stderr
    provenance = read_provenance(out)
    assert provenance is not None
    assert provenance["settings"]["encoder"] == TINY and provenance["settings"]["seed"] == 4
    assert provenance["settings"]["batch_size"] == 2  # the option wins over the file
    assert (tmp_path / "toml-cache").is_dir()
    config.write_text("encoder = 3\nbatchsize = 2\n")
    code, _, stderr = run(str(data), "--config", str(config))
    assert code == 2 and "unknown setting(s) batchsize" in error_line(stderr)
    config.write_text("batch_size = 0\n")
    code, _, stderr = run(str(data), "--config", str(config))
    assert code == 2 and "batch_size must be a whole number >= 1" in stderr


def test_help_lists_the_options() -> None:
    result = CliRunner().invoke(audit_app(), ["embed", "--help"])
    assert result.exit_code == 0
    for option in (
        "--encoder",
        "--out",
        "--batch-size",
        "--device",
        "--bf16",
        "--skip-bad",
        "--cache-dir",
        "--image-column",
        "--text-column",
        "--json",
        "--quiet",
    ):
        assert option in result.stdout


@pytest.mark.shared_data
def test_real_photos_by_relative_path_with_the_tiny_model(tmp_path: Path) -> None:
    thumbs = shared_data_path("mirflickr25k_thumbs")
    folder = tmp_path / "photos"
    folder.mkdir()
    names = [f"im{i}.jpg" for i in range(1, 101)]
    for name in names:  # links, not copies: the paths are what is under test
        (folder / name).symlink_to(thumbs / name)
    data = raw_file(
        tmp_path / "photos.parquet",
        [f"photos/{name}" for name in names],
        [f"a photo, number {i}" for i in range(100)],
        image_type=pa.string(),
    )
    code, stdout, stderr = run(str(data), "--encoder", TINY, "--no-cache", "--json")
    assert code == 0, stderr
    assert json.loads(stdout)["rows_out"] == 100
    dataset = read_dataset(tmp_path / "photos.embedded.parquet")
    assert dataset.image is not None and dataset.image.shape == (100, 32)
    assert np.isfinite(dataset.image).all()
