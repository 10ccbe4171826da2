"""Every bad input or option of issue 12 is exit 2 with one line naming the option or file, and
nothing written; raw data that fails after embedding leaves no generated file; numeric warnings
become one note (none with -q)."""

from __future__ import annotations

import hashlib
import io
import logging
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from conftest import small_table
from PIL import Image
from typer.testing import CliRunner

from cli.common import configure_logging
from cli.main import app

runner = CliRunner()
N_ROWS = 60


def run(*args: str | Path) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(arg) for arg in args])
    return result.exit_code, result.stdout, result.stderr


def state(folder: Path) -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        for path in sorted(folder.iterdir())
    }


def error_line(code: int, stderr: str) -> str:
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), stderr
    return lines[0]


def table_with_labels(labels: list[list[str]], seed: int = 0) -> pa.Table:
    table = small_table(len(labels), seed=seed)
    return table.set_column(1, "labels", pa.array(labels))


@pytest.fixture(autouse=True)
def _private_cache(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    """Embedding caches and model downloads stay out of the user's home and the network."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "d.parquet"
    pq.write_table(small_table(N_ROWS), path)
    return path


@pytest.mark.parametrize(
    ("name", "labels"),
    [
        ("one class", [["cat"]] * N_ROWS),
        ("every class on every row", [["cat", "dog"]] * N_ROWS),
        ("more classes than rows", [[f"c{i}"] for i in range(N_ROWS)]),
        ("most classes on one row", [[f"c{i}"] if i < 40 else ["c0", "c2"] for i in range(N_ROWS)]),
    ],
)
def test_unlearnable_labels_are_refused_by_scan_and_train(
    tmp_path: Path, name: str, labels: list[list[str]]
) -> None:
    path = tmp_path / "d.parquet"
    pq.write_table(table_with_labels(labels), path)
    before = state(tmp_path)
    for command in (["scan", path, "--methods", "none"], ["train", path, "--epochs", "1"]):
        code, _, stderr = run(*command, "-o", tmp_path / "out", "-q")
        assert "d.parquet" in error_line(code, stderr), name
    assert state(tmp_path) == before


@pytest.mark.parametrize(
    "command",
    [
        ["scan", "{data}", "--methods", "none"],
        ["train", "{data}"],
        ["inject", "{data}"],
        ["synth", "--rows", "100"],
        ["demo", "--rows", "100"],
        ["bench", "{data}", "--loop"],
        ["embed", "{data}"],
    ],
)
@pytest.mark.parametrize("seed", ["99999999999999999999999", "-1", str(2**32)])
def test_seeds_outside_32_bits_are_refused(
    data: Path, command: list[str], seed: str, tmp_path: Path
) -> None:
    before = state(tmp_path)
    args = [part.replace("{data}", str(data)) for part in command]
    result = runner.invoke(app, [*args, "--seed", seed, "-o", str(tmp_path / "out"), "-q"])
    assert result.exit_code == 2, result.output
    assert "--seed" in result.stderr and "0..4294967295" in result.stderr
    assert state(tmp_path) == before


@pytest.mark.parametrize("device", ["tpu", "cuda:x", "cuda"])
@pytest.mark.parametrize("command", ["scan", "train", "embed", "bench"])
def test_unusable_devices_are_refused(data: Path, tmp_path: Path, device: str, command: str):
    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA: --device cuda is usable")
    before = state(tmp_path)
    extra = ["--loop"] if command == "bench" else []
    result = runner.invoke(app, [command, str(data), *extra, "--device", device, "-q"])
    assert result.exit_code == 2, result.output
    assert "--device" in result.stderr
    assert state(tmp_path) == before


def test_huge_finite_embedding_values_name_file_column_and_row(tmp_path: Path) -> None:
    table = small_table(N_ROWS)
    vectors = table.column("text_embedding").to_pylist()
    vectors[7][2] = 3e38
    path = tmp_path / "d.parquet"
    pq.write_table(table.set_column(3, "text_embedding", pa.array(vectors)), path)
    before = state(tmp_path)
    for command in (["scan", path, "--methods", "none"], ["train", path]):
        code, _, stderr = run(*command, "-o", tmp_path / "out", "-q")
        line = error_line(code, stderr)
        assert "d.parquet" in line and "'text_embedding'" in line and "row 7" in line
        assert "too large" in line
    assert state(tmp_path) == before


class _Smuggled:
    def __reduce__(self) -> tuple:
        return (print, ("this must never run",))


def test_a_clip_checkpoint_that_is_not_plain_weights_is_not_loaded(tmp_path: Path) -> None:
    checkpoint = tmp_path / "evil.pt"
    torch.save({"state_dict": _Smuggled()}, checkpoint)
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "PNG")
    raw = tmp_path / "raw.parquet"
    pq.write_table(
        pa.table(
            {
                "id": [1, 2],
                "image": [buffer.getvalue()] * 2,
                "text": ["a", "b"],
                "labels": [["x"], ["y"]],
            }
        ),
        raw,
    )
    before = state(tmp_path)
    code, stdout, stderr = run(
        "embed", raw, "--encoder", f"clip:hashaudit-tiny:{checkpoint}", "--no-cache", "-q"
    )
    line = error_line(code, stderr)
    assert "evil.pt" in line and "not a plain weights file" in line and "not loaded" in line
    assert "weights_only=False" not in stderr + stdout
    assert "this must never run" not in stdout
    assert state(tmp_path) == before


@pytest.mark.parametrize(
    ("toml", "setting"),
    [
        ('epochs = "ten"', "epochs"),
        ("methods = 3", "methods"),
        ("bits = 6.5", "bits"),
        ("fuse_baselines = 1", "fuse_baselines"),
    ],
)
def test_wrongly_typed_config_values_name_file_and_setting(
    data: Path, tmp_path: Path, toml: str, setting: str
) -> None:
    config = tmp_path / "scan.toml"
    config.write_text(toml + "\n")
    before = state(tmp_path)
    code, _, stderr = run("scan", data, "--config", config, "-o", tmp_path / "out", "-q")
    line = error_line(code, stderr)
    assert "scan.toml" in line and f"setting {setting} =" in line
    assert state(tmp_path) == before


def test_out_of_range_settings_name_their_option_or_config_file(data: Path, tmp_path: Path) -> None:
    before = state(tmp_path)
    code, _, stderr = run("scan", data, "--noise-rate", "2", "-o", tmp_path / "out", "-q")
    unboxed = " ".join(stderr.replace("│", " ").split())  # typer's box may wrap the line
    assert code == 2 and "Invalid value for --noise-rate: must be in [0, 1], got 2.0" in unboxed
    assert state(tmp_path) == before
    config = tmp_path / "scan.toml"
    config.write_text("noise_rate = 3.0\n")
    before = state(tmp_path)
    code, _, stderr = run("scan", data, "--config", config, "-o", tmp_path / "out", "-q")
    line = error_line(code, stderr)
    assert "scan.toml" in line and "setting noise_rate must be in [0, 1], got 3.0" in line
    assert state(tmp_path) == before
    code, _, stderr = run("scan", data, "--rate-resamples", "1", "-o", tmp_path / "out", "-q")
    unboxed = " ".join(stderr.replace("│", " ").split())
    assert code == 2 and "--rate-resamples: must be 0 (no spread) or at least 2, got 1" in unboxed
    assert state(tmp_path) == before


def test_synth_config_is_type_checked_too(tmp_path: Path) -> None:
    config = tmp_path / "synth.toml"
    config.write_text('n_rows = "many"\n')
    code, _, stderr = run("synth", "--config", config, "-o", tmp_path / "s.parquet", "-q")
    assert "synth.toml" in error_line(code, stderr) and "n_rows" in stderr
    assert not (tmp_path / "s.parquet").exists()


@pytest.mark.parametrize("value", ["classes.txt", "lists/names", "names.csv"])
def test_classes_naming_a_missing_file_is_refused(data: Path, tmp_path: Path, value: str):
    before = state(tmp_path)
    code, _, stderr = run("inject", data, "--classes", value, "-o", tmp_path / "o.parquet", "-q")
    line = error_line(code, stderr)
    assert value in line and "no such file" in line
    assert state(tmp_path) == before


def test_classes_as_a_comma_separated_list_still_works(tmp_path: Path) -> None:
    table = small_table(N_ROWS)
    numbers = pa.array([[i % 3] for i in range(N_ROWS)], type=pa.list_(pa.int32()))
    path = tmp_path / "d.parquet"
    pq.write_table(table.set_column(1, "labels", numbers), path)
    code, _, stderr = run("inject", path, "--classes", "cat,dog,sky", "-o", tmp_path / "o.parquet")
    assert code == 0, stderr


def _raw_photos(path: Path, n_rows: int, labels: list[list[str]] | None = None) -> Path:
    rng = np.random.default_rng(0)
    images = []
    for _ in range(n_rows):
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(buffer, "PNG")
        images.append(buffer.getvalue())
    pq.write_table(
        pa.table(
            {
                "id": [f"p{i}" for i in range(n_rows)],
                "image": images,
                "text": [f"caption {i}" for i in range(n_rows)],
                "labels": labels or [["a"] if i % 2 else ["b"] for i in range(n_rows)],
            }
        ),
        path,
    )
    return path


def test_raw_data_failing_after_embedding_leaves_no_embedded_file(tmp_path: Path) -> None:
    raw = _raw_photos(tmp_path / "raw.parquet", 20)  # embeddable, but too few rows to scan
    before = state(tmp_path)
    code, _, stderr = run("scan", raw, "--encoder", "clip:hashaudit-tiny:", "-q")
    line = error_line(code, stderr)
    assert line.startswith(f"error: {raw}:") and "too few rows" in line
    assert "embedded" not in line.split(":")[1]
    assert state(tmp_path) == before  # no raw.embedded.parquet, no raw.audit/


def test_raw_data_with_bad_labels_is_refused_before_embedding(tmp_path: Path) -> None:
    labels = [["a"]] * 30 + [[]] + [["b"]] * 29
    raw = _raw_photos(tmp_path / "raw.parquet", 60, labels)
    before = state(tmp_path)
    code, _, stderr = run("scan", raw, "--encoder", "clip:hashaudit-tiny:", "-q")
    line = error_line(code, stderr)
    assert line.startswith(f"error: {raw}, column 'labels', row 30:")
    assert state(tmp_path) == before


def test_zero_embeddings_print_nothing_raw_with_quiet(tmp_path: Path) -> None:
    table = table_with_labels([["cat"] if i % 2 else ["dog"] for i in range(N_ROWS)])
    zeros = pa.FixedSizeListArray.from_arrays(pa.array(np.zeros(N_ROWS * 4, np.float32)), 4)
    table = table.set_column(2, "image_embedding", zeros)
    table = table.set_column(3, "text_embedding", pa.array(np.zeros((N_ROWS, 3)).tolist()))
    path = tmp_path / "zeros.parquet"
    pq.write_table(table, path)
    code, _, stderr = run("scan", path, "--epochs", "1", "-o", tmp_path / "out", "--json", "-q")
    assert code == 0, stderr
    assert stderr == ""


def test_warnings_become_one_note_and_none_with_quiet(capsys: pytest.CaptureFixture) -> None:
    saved = warnings.showwarning
    try:
        for quiet in (False, True):
            configure_logging(quiet)
            with warnings.catch_warnings():
                warnings.simplefilter("always")
                warnings.showwarning = logging_showwarning()
                np.log(np.zeros(1))  # RuntimeWarning: divide by zero encountered in log
            err = capsys.readouterr().err
            if quiet:
                assert err == ""
            else:
                assert err.strip().splitlines() == [
                    "note: RuntimeWarning: divide by zero encountered in log (the data may be "
                    "degenerate)"
                ]
    finally:
        warnings.showwarning = saved
        logging.getLogger().handlers.clear()


def logging_showwarning():  # the hook configure_logging installed (catch_warnings restores it)
    from cli.common import _warning_as_note

    return _warning_as_note
