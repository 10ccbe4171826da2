"""Start-up of the command line: light imports, the threading defaults, --version, help text."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

import cli.entry
from cli import common, threads
from cli.main import app, tool_version
from cli.report_command import DEFAULT_TOP

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "cleanlab", "sklearn", "matplotlib", "pandas")
runner = CliRunner()


def run_python(code: str, **env: str) -> str:
    """stdout of ``python -c CODE`` from the repository root, without the OMP_* variables of
    this process, plus ``env``."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("OMP_")}
    clean["PYTHONPATH"] = str(ROOT)
    finished = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return finished.stdout.strip()


def test_importing_the_command_line_loads_no_heavy_library() -> None:
    loaded = run_python(
        "import sys, cli.main; "
        f"print(','.join(name for name in {HEAVY!r} if name in sys.modules) or 'none')"
    )
    assert loaded == "none"


def test_thread_defaults_are_set_when_absent() -> None:
    printed = run_python(
        "import os, cli.main; print(os.environ['OMP_WAIT_POLICY'], os.environ['OMP_NUM_THREADS'])"
    )
    assert printed.split() == ["PASSIVE", str(threads.usable_cores())]


def test_thread_settings_of_the_user_are_kept() -> None:
    printed = run_python(
        "import os, cli.main, cli.threads; print(os.environ['OMP_WAIT_POLICY'], "
        "os.environ['OMP_NUM_THREADS'], sorted(cli.threads.DEFAULTED))",
        OMP_WAIT_POLICY="ACTIVE",
        OMP_NUM_THREADS="3",
    )
    assert printed == "ACTIVE 3 []"


def test_apply_thread_defaults_reports_what_it_set() -> None:
    environ = {"OMP_NUM_THREADS": "1"}
    assert threads.apply_thread_defaults(environ) == {"OMP_WAIT_POLICY"}
    assert environ == {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"hashaudit {tool_version()}"
    assert tool_version().count(".") >= 1


def test_ctrl_c_during_start_up_is_one_line_and_exit_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Interrupted(types.ModuleType):
        def __getattr__(self, name: str) -> object:
            raise KeyboardInterrupt  # as if Ctrl-C came while cli.main was loading

    monkeypatch.setitem(sys.modules, "cli.main", Interrupted("cli.main"))
    with pytest.raises(SystemExit) as stopped:
        cli.entry.main()
    assert stopped.value.code == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_help_names_pinned_to_the_library() -> None:
    from auditor.detectors import HASHER_DETECTORS
    from auditor.export_formats import FORMATS
    from auditor.loop import DEFAULT_METHODS
    from auditor.report import DEFAULT_TOP as REPORT_TOP
    from hashing.hasher import MAX_BITS, MIN_BITS
    from hashing.methods import METHODS

    assert common.METHOD_NAMES == tuple(METHODS) == DEFAULT_METHODS
    assert common.SCAN_HASHERS == HASHER_DETECTORS
    assert common.BITS_RANGE == (MIN_BITS, MAX_BITS)
    assert DEFAULT_TOP == REPORT_TOP
    assert common.EXPORT_FORMATS == FORMATS


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group (typer has its own copy of click)
            found.extend(_commands(command, (*path, name)))
        else:
            found.append((*path, name))
    return found


def test_help_text_is_consistent() -> None:
    commands = _commands(typer.main.get_command(app))
    assert ("bench",) in commands and ("import", "wikipedia") in commands
    for command in [(), *commands]:
        result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "100"})
        assert result.exit_code == 0, (command, result.output)
        text = " ".join(result.output.split())
        assert "<bool>" not in text, command  # a flag takes no value
        assert "(default:" not in text, command  # one default style: typer's [default: ...]
    scan_help = runner.invoke(app, ["scan", "--help"]).output
    assert "--no-skip-bad" in scan_help
    synth_help = runner.invoke(app, ["synth", "--help"]).output
    assert "--rows" in synth_help and "--n-classes" in synth_help
    assert "--rows" in runner.invoke(app, ["demo", "--help"]).output
    assert "OMP_WAIT_POLICY" in runner.invoke(app, ["--help"]).output


def test_bench_needs_no_loop_flag(tmp_path: Path) -> None:
    missing = tmp_path / "missing.parquet"
    result = runner.invoke(app, ["bench", str(missing), "-q"])
    assert result.exit_code == 2  # the data is checked: no complaint about a missing --loop
    assert "--loop" not in result.output


def test_nproc_shares_the_default_thread_count_and_keeps_the_users(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import torch.distributed.launcher.api as launcher

    import cli.launch

    seen: list[str] = []

    def fake_launch(config: object, entrypoint: object) -> Any:
        return lambda *arguments: seen.append(os.environ["OMP_NUM_THREADS"])

    monkeypatch.setattr(launcher, "elastic_launch", fake_launch)
    monkeypatch.setattr(threads, "usable_cores", lambda: 8)
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    monkeypatch.setattr(threads, "DEFAULTED", frozenset({"OMP_NUM_THREADS"}))
    assert cli.launch.launch_local(2, ["train", "x.parquet"]) == 0
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.setattr(threads, "DEFAULTED", frozenset())
    assert cli.launch.launch_local(2, ["train", "x.parquet"]) == 0
    assert seen == ["4", "3"]  # the default split over the workers; the user's value kept


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (["synth", "--seed", "99999999999999999999999"], "--seed"),
        (["scan", "x.parquet", "--device", "tpu"], "--device"),
        (["synth", "--no-such-option"], "--no-such-option"),
        (["no-such-command"], "no-such-command"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    arguments: list[str],
    named: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # the console script, not CliRunner: the one-line form is the entry point's doing
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["audit", *arguments])
    with pytest.raises(SystemExit) as stopped:
        cli.entry.main()
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and named in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["scan", "train", "demo"])
def test_a_refused_output_folder_is_refused_before_the_heavy_imports(
    command: str, tmp_path: Path
) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("keep")
    data = tmp_path / "data.parquet"  # never read: the folder is refused first
    arguments = [command] if command == "demo" else [command, str(data)]
    arguments += ["-q", "-o", str(taken)]
    loaded = run_python(
        "import sys; from typer.testing import CliRunner; from cli.main import app; "
        f"result = CliRunner().invoke(app, {arguments!r}); "
        f"print(result.exit_code, ','.join(n for n in {HEAVY!r} if n in sys.modules) or 'none')"
    )
    assert loaded == "2 none"
    assert (taken / "notes.txt").read_text() == "keep"
