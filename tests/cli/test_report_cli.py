"""`audit report DIR` from the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.auditor.report_fixtures import parse_report, scan_folder, write_retrieval

runner = CliRunner()


@pytest.fixture(scope="module")
def audit_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scan_folder(tmp_path_factory.mktemp("report-cli"))[1]


def test_report_rebuilds_the_page(audit_folder: Path, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(audit_folder, tmp_path / "audit"))
    (folder / "report.html").unlink()
    write_retrieval(folder)
    result = runner.invoke(app, ["report", str(folder), "--top", "3", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["report"] == str(folder / "report.html") and payload["top"] == 3
    parsed = parse_report(folder / "report.html")
    assert len(parsed.tables["suspects-table"]) == 3
    assert len(parsed.tables["retrieval-table"]) == 3
    assert payload["bytes"] == (folder / "report.html").stat().st_size


def test_report_status_line_and_quiet(audit_folder: Path, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(audit_folder, tmp_path / "audit"))
    result = runner.invoke(app, ["report", str(folder)])
    assert result.exit_code == 0, result.output
    assert f"wrote {folder / 'report.html'}" in result.stderr
    assert result.stdout == ""
    quiet = runner.invoke(app, ["report", str(folder), "-q"])
    assert quiet.exit_code == 0 and quiet.stderr == "" and quiet.stdout == ""


def test_not_a_scan_folder_exits_2(tmp_path: Path, audit_folder: Path) -> None:
    missing = runner.invoke(app, ["report", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2
    assert "not a folder" in missing.stderr
    empty = runner.invoke(app, ["report", str(tmp_path)])
    assert empty.exit_code == 2
    assert "audit.parquet is missing" in empty.stderr
    broken = Path(shutil.copytree(audit_folder, tmp_path / "broken"))
    (broken / "summary.json").write_text("[]")
    result = runner.invoke(app, ["report", str(broken)])
    assert result.exit_code == 2 and "expected a JSON object" in result.stderr
    assert not list(tmp_path.glob("*.html"))


def test_top_must_be_positive(audit_folder: Path) -> None:
    result = runner.invoke(app, ["report", str(audit_folder), "--top", "0"])
    assert result.exit_code == 2
