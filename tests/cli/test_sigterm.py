"""SIGTERM (what `kill`, `timeout` and batch schedulers send) is handled like Ctrl-C: the
command says "interrupted", exits 143 and leaves nothing behind.

A real process receives a real signal at a deterministic point: the child stalls in the middle
of its write phase (its outputs half written into the temporary name) and says so on stdout;
only then does the test send SIGTERM. No timing is asserted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app

ROOT = Path(__file__).resolve().parents[2]

# Each child patches one writer so that it stalls after writing part of the output.
STALL_IN = {
    # the folder writer: audit.parquet and label_issues.parquet written, summary.json next
    "scan": ("auditor.audit_files", "write_json_atomic"),
    # the single-file writer: the temporary Parquet file is complete, the rename is next
    "inject": ("pyarrow.parquet", "write_table"),
}


def child_script(module: str, name: str, argv: list[str]) -> str:
    return textwrap.dedent(
        f"""
        import importlib, sys, time
        module = importlib.import_module({module!r})
        original = getattr(module, {name!r})

        def stalled(*args, **kwargs):
            original(*args, **kwargs)
            print("WRITING", flush=True)
            while True:
                time.sleep(0.05)

        setattr(module, {name!r}, stalled)
        sys.argv = ["audit", *{argv!r}]
        from cli.main import app
        app()
        """
    )


@pytest.fixture(scope="module")
def noisy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    runner = CliRunner()
    assert runner.invoke(app, ["synth", "-o", str(folder / "s.parquet"), "--rows", "300",
                               "--classes", "5", "-q"]).exit_code == 0  # fmt: skip
    return folder / "s.parquet"


@pytest.mark.parametrize("command", sorted(STALL_IN))
def test_sigterm_during_the_write_phase_leaves_nothing(
    noisy: Path, tmp_path: Path, command: str
) -> None:
    data = tmp_path / "n.parquet"
    data.write_bytes(noisy.read_bytes())
    out = tmp_path / ("audit" if command == "scan" else "out.parquet")
    argv = [command, str(data), "-o", str(out), "-q"]
    if command == "scan":
        argv += ["--methods", "none"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
           "OMP_WAIT_POLICY": "PASSIVE"}  # fmt: skip
    child = subprocess.Popen(
        [sys.executable, "-c", child_script(*STALL_IN[command], argv)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()  # blocks until the child is stalled mid-write
        if line.strip() != "WRITING":
            child.kill()
            pytest.fail(f"the child never reached its write phase: {child.communicate()}")
        child.send_signal(signal.SIGTERM)
        stdout, stderr = child.communicate(timeout=300)  # a safety net, not a measurement
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 143, stderr
    assert stderr.strip().splitlines()[-1] == "interrupted", stderr
    assert "Traceback" not in stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["n.parquet"]
    assert data.read_bytes() == noisy.read_bytes()
