"""`-o` never destroys anything: each case of issue 12 refuses up front (exit 2, one line naming
the path), the protected files keep their bytes, and nothing is written."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import small_table, synth_and_inject, write
from typer.testing import CliRunner

from auditor.io import MARKER_FILE
from cli.main import app

runner = CliRunner()
SCAN_FAST = ("--methods", "none", "-q")


def run(*args: str | Path) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(arg) for arg in args])
    return result.exit_code, result.stdout, result.stderr


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` (hidden ones too) -> sha256 of its bytes / 'dir'."""
    state = {}
    for path in sorted(root.rglob("*")):
        key = path.relative_to(root).as_posix()
        state[key] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def assert_refused(code: int, stderr: str, *fragments: str) -> None:
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), stderr
    for fragment in fragments:
        assert fragment in lines[0], stderr


@pytest.fixture(scope="module")
def noisy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _, noisy = synth_and_inject(tmp_path_factory.mktemp("data"), rows=300, n_classes=5, rate=0.4)
    return noisy


@pytest.fixture
def work(tmp_path: Path, noisy: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh folder holding n.parquet, made the current folder."""
    shutil.copy(noisy, tmp_path / "n.parquet")
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    for path in tmp_path.rglob("*"):  # undo chmod 555 so pytest can clean up
        if path.is_dir():
            path.chmod(0o755)


def test_scan_into_the_folder_holding_its_input_is_refused(work: Path) -> None:
    folder = work / "d"
    folder.mkdir()
    shutil.copy(work / "n.parquet", folder / "n.parquet")
    (folder / "other.txt").write_text("keep me")
    before = snapshot(work)
    code, _, stderr = run("scan", "d/n.parquet", "-o", "d", *SCAN_FAST)
    assert_refused(code, stderr, "d", "input")
    assert snapshot(work) == before


def test_scan_onto_its_input_file_is_refused(work: Path) -> None:
    before = snapshot(work)
    code, _, stderr = run("scan", "n.parquet", "-o", "n.parquet", *SCAN_FAST)
    assert_refused(code, stderr, "n.parquet")
    assert snapshot(work) == before


def test_scan_into_a_folder_with_other_files_is_refused(work: Path) -> None:
    (work / "results").mkdir()
    (work / "results" / "precious.txt").write_text("years of work")
    before = snapshot(work)
    code, _, stderr = run("scan", "n.parquet", "-o", "results", *SCAN_FAST)
    assert_refused(code, stderr, "results", "did not write")
    assert snapshot(work) == before


def test_scan_into_a_read_only_folder_is_refused(work: Path) -> None:
    folder = work / "out_ro"
    folder.mkdir()
    (folder / "precious.txt").write_text("keep me")
    folder.chmod(0o555)
    empty = work / "empty_ro"
    empty.mkdir()
    empty.chmod(0o555)
    before = snapshot(work)
    for target in ("out_ro", "empty_ro", "out_ro/sub"):
        code, _, stderr = run("scan", "n.parquet", "-o", target, *SCAN_FAST)
        assert_refused(code, stderr, target.split("/")[0])
    assert snapshot(work) == before
    assert stat.S_IMODE(folder.stat().st_mode) == 0o555


def test_scan_into_the_current_folder_is_refused(work: Path, tmp_path_factory) -> None:
    before = snapshot(work)
    code, _, stderr = run("scan", "n.parquet", "-o", ".", *SCAN_FAST)
    assert_refused(code, stderr)
    assert snapshot(work) == before
    # the same with the input elsewhere: "." is still the current folder
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "n.parquet"
    shutil.copy(work / "n.parquet", elsewhere)
    code, _, stderr = run("scan", elsewhere, "-o", ".", *SCAN_FAST)
    assert_refused(code, stderr, "current folder")
    assert snapshot(work) == before


@pytest.mark.e2e
def test_a_previous_scan_is_replaced_and_folders_get_the_users_mode(work: Path) -> None:
    previous_mask = os.umask(0o022)
    try:
        code, _, stderr = run("scan", "n.parquet", "-o", "deep/er/audit", *SCAN_FAST)
        assert code == 0, stderr
        for folder in ("deep", "deep/er", "deep/er/audit"):  # not mkdtemp's 0700
            assert stat.S_IMODE((work / folder).stat().st_mode) == 0o755, folder
        audit = work / "deep/er/audit"
        marker = json.loads((audit / MARKER_FILE).read_text())
        assert marker["command"] == "scan" and "audit.parquet" in marker["files"]
        code, _, stderr = run("scan", "n.parquet", "-o", audit, *SCAN_FAST)
        assert code == 0, stderr
        assert not [p for p in audit.parent.iterdir() if ".tmp-" in p.name or ".old-" in p.name]
        # once the user adds a file of their own, the folder is theirs
        (audit / "notes.txt").write_text("mine")
        before = snapshot(work)
        code, _, stderr = run("scan", "n.parquet", "-o", audit, *SCAN_FAST)
        assert_refused(code, stderr, "audit", "notes.txt")
        assert snapshot(work) == before
    finally:
        os.umask(previous_mask)


def test_an_output_of_another_command_is_refused(work: Path) -> None:
    audit = work / "audit"
    audit.mkdir()
    (audit / "audit.parquet").write_bytes((work / "n.parquet").read_bytes())
    marker = {"tool": "hashaudit", "command": "scan", "files": ["audit.parquet"]}
    (audit / MARKER_FILE).write_text(json.dumps(marker))
    before = snapshot(work)
    code, _, stderr = run("train", "n.parquet", "-o", "audit", "--epochs", "1", "-q")
    assert_refused(code, stderr, "audit scan")
    code, _, stderr = run("bench", "n.parquet", "--loop", "-o", "audit", "-q")
    assert_refused(code, stderr, "audit scan")
    code, _, stderr = run("demo", "-o", "audit", "-q")
    assert_refused(code, stderr, "audit scan")
    assert snapshot(work) == before


@pytest.mark.parametrize(
    "command",
    [
        ["train", "n.parquet", "--epochs", "1"],
        ["bench", "n.parquet", "--loop", "--methods", "nrch", "--epochs", "1"],
        ["demo", "--rows", "300"],
    ],
)
def test_folder_commands_refuse_a_folder_with_other_files(work: Path, command: list[str]) -> None:
    (work / "results").mkdir()
    (work / "results" / "precious.txt").write_text("keep me")
    before = snapshot(work)
    code, _, stderr = run(*command, "-o", "results", "-q")
    assert_refused(code, stderr, "results")
    assert snapshot(work) == before


@pytest.mark.parametrize(
    "command",
    [
        ["synth", "--rows", "100"],
        ["inject", "n.parquet"],
        ["clean", "n.parquet", "--audit", "n.parquet", "--strategy", "drop"],
        ["embed", "n.parquet", "--encoder", "clip:hashaudit-tiny:"],
        ["import", "wikipedia", "."],
    ],
)
def test_file_commands_refuse_a_folder_or_a_foreign_file(work: Path, command: list[str]) -> None:
    (work / "folder").mkdir()
    (work / "folder" / "precious.txt").write_text("keep me")
    (work / "precious.parquet").write_bytes((work / "n.parquet").read_bytes())
    write(small_table(), work / "plain.parquet")  # a Parquet file without provenance
    (work / "notes.parquet").write_text("not even Parquet")
    before = snapshot(work)
    for target in ("folder", "plain.parquet", "notes.parquet", "precious.parquet"):
        code, _, stderr = run(*command, "-o", target, "-q")
        if target == "precious.parquet" and command[0] == "inject":
            assert code == 0, stderr  # a previous output of inject: replacing it is fine
            continue
        assert_refused(code, stderr, target)
        assert snapshot(work) == before


def test_a_previous_output_of_the_same_command_is_replaced(work: Path) -> None:
    assert run("synth", "--rows", "100", "-o", "s.parquet", "-q")[0] == 0
    first = hashlib.sha256((work / "s.parquet").read_bytes()).hexdigest()
    code, _, stderr = run("synth", "--rows", "120", "-o", "s.parquet", "-q")
    assert code == 0, stderr
    assert pq.read_metadata(work / "s.parquet").num_rows == 120
    assert hashlib.sha256((work / "s.parquet").read_bytes()).hexdigest() != first
