"""The data commands end to end: synth, inject, import, and their errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import shared_data_path, small_table, write
from typer.testing import CliRunner

from auditor.io import read_dataset, read_provenance
from cli.main import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(arg) for arg in args])
    return result.exit_code, result.stdout, result.stderr


def test_help_lists_only_working_commands() -> None:
    code, out, _ = run("--help")
    assert code == 0
    for command in ("synth", "inject", "import"):
        assert command in out


def test_synth_then_inject_then_read(tmp_path: Path) -> None:
    synthetic = tmp_path / "s.parquet"
    code, out, _ = run(
        "synth", "-o", synthetic, "--rows", "600", "--n-classes", "8", "--seed", "1", "--json"
    )
    assert code == 0, out
    summary = json.loads(out)
    assert summary["rows"] == 600 and summary["classes"] == 8
    clean = read_dataset(synthetic)
    assert clean.n_rows == 600 and clean.n_classes == 8

    noisy_path = tmp_path / "n.parquet"
    before = synthetic.read_bytes()
    code, out, err = run(
        "inject",
        synthetic,
        "--protocol",
        "pairflip",
        "--rate",
        "0.5",
        "--seed",
        "0",
        "-o",
        noisy_path,
        "--json",
    )
    assert code == 0, err
    assert synthetic.read_bytes() == before  # the input is never modified
    noisy = read_dataset(noisy_path)
    n_train = int(clean.train_mask.sum())
    assert json.loads(out)["noisy_rows"] == int(0.5 * n_train)
    assert noisy.clean_labels is not None and noisy.noisy_rows is not None
    np.testing.assert_array_equal(noisy.clean_labels, clean.labels)
    assert int(noisy.noisy_rows.sum()) == int(0.5 * n_train)
    assert not noisy.noisy_rows[~noisy.train_mask].any()
    np.testing.assert_array_equal(noisy.image, clean.image)  # other columns kept as they were
    provenance = read_provenance(noisy_path)
    assert provenance is not None and provenance["command"] == "inject"
    assert provenance["settings"] == {"protocol": "pairflip", "rate": 0.5}
    assert provenance["input"]["path"] == str(synthetic)


def test_synth_is_deterministic(tmp_path: Path) -> None:
    for name in ("a", "b"):
        out = tmp_path / f"{name}.parquet"
        assert run("synth", "-o", out, "--rows", "300", "--seed", "4", "-q")[0] == 0
    a = pq.read_table(tmp_path / "a.parquet")
    b = pq.read_table(tmp_path / "b.parquet")
    assert a.equals(b)


def test_synth_keeps_its_old_rows_option_name(tmp_path: Path) -> None:
    # scripts written before --n became --rows keep working, and make the same data
    assert run("synth", "-o", tmp_path / "old.parquet", "--n", "300", "-q")[0] == 0
    assert run("synth", "-o", tmp_path / "new.parquet", "--rows", "300", "-q")[0] == 0
    old = pq.read_table(tmp_path / "old.parquet").replace_schema_metadata(None)
    assert old.num_rows == 300
    assert old.equals(pq.read_table(tmp_path / "new.parquet").replace_schema_metadata(None))


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--rows", "0"], "Invalid value for --rows: must be a positive integer, got 0"),
        (["--n-classes", "1"], "Invalid value for --n-classes: must be at least 2, got 1"),
    ],
)
def test_synth_bad_options_name_the_option(tmp_path: Path, args: list[str], fragment: str) -> None:
    code, _, err = run("synth", "-o", tmp_path / "s.parquet", *args)
    assert code == 2 and fragment in " ".join(err.replace("│", " ").split())
    assert list(tmp_path.iterdir()) == []


def test_inject_prints_realised_rates(tmp_path: Path) -> None:
    path = tmp_path / "s.parquet"
    run("synth", "-o", path, "--rows", "400", "-q")
    code, _, err = run(
        "inject", path, "--protocol", "missing", "--rate", "0.3", "-o", tmp_path / "m.parquet"
    )
    assert code == 0
    assert "realised row rate" in err and "realised cell rate" in err


def test_inject_bad_input_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    table = small_table()
    bad = table.set_column(1, "labels", pa.array([["cat"]] * 5 + [[]] + [["dog"]] * 6))
    path = write(bad, tmp_path / "bad.parquet")
    out = tmp_path / "out.parquet"
    code, _, err = run("inject", path, "-o", out)
    assert code == 2
    assert f"{path}, column 'labels', row 5: empty label list" in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.parquet"]


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--protocol", "zigzag"], "unknown protocol"),
        (["--rate", "1.5"], "Invalid value for '--rate'"),
        (["--protocol", "mixed", "--missing-share", "-0.1"], "Invalid value for '--missing-share'"),
    ],
)
def test_inject_bad_options_exit_2(tmp_path: Path, args: list[str], fragment: str) -> None:
    path = tmp_path / "s.parquet"
    run("synth", "-o", path, "--rows", "300", "-q")
    out = tmp_path / "o.parquet"
    code, _, err = run("inject", path, *args, "-o", out)
    assert code == 2 and fragment in err
    assert not out.exists()


def test_inject_rate_a_protocol_cannot_reach_names_the_option(tmp_path: Path) -> None:
    # Every row carries all three classes, so no row has room for a spurious one.
    table = small_table()
    full = table.set_column(1, "labels", pa.array([["cat", "dog", "sky"]] * table.num_rows))
    path = write(full, tmp_path / "full.parquet")
    out = tmp_path / "o.parquet"
    code, _, err = run("inject", path, "--protocol", "spurious", "--rate", "0.5", "-o", out)
    assert code == 2 and "Invalid value for --rate" in " ".join(err.replace("│", " ").split())
    assert "spurious at rate 0.5" in err
    assert not out.exists()


def test_inject_refuses_to_overwrite_its_input(tmp_path: Path) -> None:
    path = tmp_path / "s.parquet"
    run("synth", "-o", path, "--rows", "300", "-q")
    before = path.read_bytes()
    code, _, err = run("inject", path, "-o", path)
    assert code == 2 and "overwrite the input" in err
    assert path.read_bytes() == before


def test_missing_input_file_exits_2(tmp_path: Path) -> None:
    code, _, err = run("inject", tmp_path / "nope.parquet", "-o", tmp_path / "o.parquet")
    assert code == 2 and "no such file" in err


@pytest.mark.shared_data
def test_import_wikipedia_gives_2866_rows_10_classes(tmp_path: Path) -> None:
    out = tmp_path / "wiki.parquet"
    code, stdout, err = run(
        "import", "wikipedia", shared_data_path("wikipedia"), "-o", out, "--json"
    )
    assert code == 0, err
    assert json.loads(stdout)["rows"] == 2866
    dataset = read_dataset(out)
    assert dataset.n_rows == 2866 and dataset.n_classes == 10


@pytest.mark.shared_data
def test_import_mirflickr_with_noise_then_read(tmp_path: Path) -> None:
    import scipy.io

    folder = shared_data_path("mirflickr25k")
    xall = tmp_path / "xall.mat"
    scipy.io.savemat(xall, {"XAll": np.ones((20015, 4), dtype=np.float32)})
    out = tmp_path / "mir.parquet"
    code, _, err = run(
        "import",
        "mirflickr25k",
        "--lall",
        folder / "mirflickr25k-lall.mat",
        "--yall",
        folder / "mirflickr25k-yall.mat",
        "--xall",
        xall,
        "--noise",
        folder / "mirflickr25k-lall-noise_0.8.h5",
        "-o",
        out,
    )
    assert code == 0, err
    assert "8000 noisy train rows" in err
    dataset = read_dataset(out)
    assert dataset.noisy_rows is not None and int(dataset.noisy_rows.sum()) == 8000
