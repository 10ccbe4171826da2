"""`audit report DIR`: (re)build the HTML report of an audit folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import JsonOption, QuietOption, configure_logging, emit_json, handle_errors, status

DEFAULT_TOP = 50
"""auditor.report.DEFAULT_TOP (not imported at start-up; tests/cli/test_startup.py pins it)."""


@handle_errors
def report(
    folder: Annotated[
        Path, typer.Argument(help="An audit folder written by `audit scan` (or `audit demo`).")
    ],
    top: Annotated[
        int,
        typer.Option(
            "--top",
            min=1,
            help="Suspects listed in the report.",
        ),
    ] = DEFAULT_TOP,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Write DIR/report.html: one self-contained page (figures inline) with the dataset at a
    glance, signal histograms, curves against the truth, per-class counts, the top suspects and
    retrieval before/after cleaning when DIR/retrieval.json exists."""
    configure_logging(quiet)
    from auditor.report import build_report

    path = build_report(folder, top)
    if json_output:
        emit_json({"report": str(path), "top": top, "bytes": path.stat().st_size})
    else:
        status(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)", quiet)
