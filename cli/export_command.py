"""`audit export DATA --to coco|table|hf -o OUT`: cleaned labels back in the user's format.

Registered in cli/main.py as ``app.command("export")(export)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import (
    EXPORT_FORMATS,
    JsonOption,
    QuietOption,
    configure_logging,
    emit_json,
    handle_errors,
    status,
)


@handle_errors
def export(
    data: Annotated[
        Path, typer.Argument(help="A file made by `audit import` (then embedded, cleaned, ...).")
    ],
    to: Annotated[
        str, typer.Option("--to", help=f"{' | '.join(EXPORT_FORMATS)}: the imported format.")
    ],
    out: Annotated[
        Path,
        typer.Option(
            "-o", "--out", help="Annotations JSON (coco), table file (table) or folder (hf)."
        ),
    ],
    source: Annotated[
        Path | None,
        typer.Option(
            "--source",
            help="The imported source file/folder if it moved (its content must be unchanged).",
            show_default="the path recorded at import",
        ),
    ] = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Write DATA's labels back into the format it was imported from, plus what changed."""
    configure_logging(quiet)
    from auditor.export_formats import export_file  # pandas only when exporting

    summary = export_file(data, to, out, source=source)
    if json_output:
        emit_json(summary)
        return
    details = ", ".join(
        f"{key.replace('_', ' ')} {value}"
        for key, value in summary.items()
        if isinstance(value, int) and not isinstance(value, bool)
    )
    status(f"wrote {out} ({to}): {details}", quiet)
