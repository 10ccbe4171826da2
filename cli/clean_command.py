"""`audit clean`: apply an audit to a dataset (drop, relabel or prune) and write a cleaned copy."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from auditor.clean import (
    DEFAULT_CONFIDENCE,
    STRATEGIES,
    CleanSettings,
    clean_file,
    parse_budget,
)
from cli.common import (
    ClassesOption,
    CleanColumn,
    IdColumn,
    ImageColumn,
    JsonOption,
    LabelsColumn,
    QuietOption,
    SplitColumn,
    TextColumn,
    column_names,
    configure_logging,
    emit_json,
    handle_errors,
    parse_classes,
    result_console,
    status,
)


def summary_line(summary: Mapping[str, Any]) -> str:
    """One sentence of what a cleaning did, from ``clean_file``'s summary."""
    strategy = summary["strategy"]
    head = (
        f"{strategy}: {summary['rows_selected']} of {summary['rows_audited']} audited rows chosen "
        f"({summary['selection']})"
    )
    if strategy == "drop":
        body = f"{summary['rows_dropped']} rows dropped (listed in {summary['dropped_file']})"
    else:
        body = (
            f"{summary['rows_changed']} rows changed: {summary['labels_removed']} labels removed, "
            f"{summary['labels_added']} added"
        )
        if strategy == "relabel" and summary.get("rows_kept_given_labels"):
            body += (
                f"; {summary['rows_kept_given_labels']} rows kept their labels (empty suggestion)"
            )
        if strategy == "prune":
            body += (
                f"; {summary['cells_below_confidence']} suggested cells below confidence "
                f"{summary['confidence']:g} left alone"
            )
            if summary.get("removals_skipped_to_keep_a_label"):
                body += (
                    f", {summary['removals_skipped_to_keep_a_label']} removals skipped to keep a "
                    "label"
                )
    line = f"{head}; {body}. Wrote {summary['output']} ({summary['rows_written']} rows)."
    if "label_accuracy_before" in summary:
        line += (
            f" Train rows whose labels equal clean_labels: {summary['label_accuracy_before']:.3f}"
            f" before, {summary['label_accuracy_after']:.3f} after"
            + (" (kept rows)." if strategy == "drop" else ".")
        )
    return line


@handle_errors
def clean(
    data: Annotated[Path, typer.Argument(help="Dataset Parquet file (never modified).")],
    audit: Annotated[
        Path,
        typer.Option("--audit", help="audit.parquet written by `audit scan` on DATA."),
    ],
    strategy: Annotated[
        str,
        typer.Option(
            "--strategy",
            help=f"{' | '.join(STRATEGIES)}. drop: remove the chosen train rows; relabel: give "
            "them their suggested_labels; prune: apply only the suggested removals/additions "
            "whose error probability reaches --confidence, keeping every row.",
        ),
    ],
    budget: Annotated[
        str | None,
        typer.Option(
            "--budget",
            help="At most this many of the most suspect audited rows: a fraction (0.05), a "
            "percentage (5%) or a count (200). Without --budget and --threshold: the audit's "
            "is_issue rows.",
        ),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold",
            help="Only rows with label_quality below this (with --budget: at most that many).",
        ),
    ] = None,
    confidence: Annotated[
        float,
        typer.Option(
            "--confidence",
            help="prune: minimum error probability (label_issues.parquet) of a suggested cell "
            "to apply it.",
        ),
    ] = DEFAULT_CONFIDENCE,
    issues: Annotated[
        Path | None,
        typer.Option(
            "--issues",
            help="prune: the per-cell evidence.",
            show_default="label_issues.parquet beside --audit",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--out",
            help="Output Parquet file; drop also writes OUT-stem.dropped.parquet.",
            show_default="DATA-stem.cleaned-STRATEGY.parquet",
        ),
    ] = None,
    classes: ClassesOption = None,
    id_column: IdColumn = "id",
    labels_column: LabelsColumn = "labels",
    image_column: ImageColumn = "image_embedding",
    text_column: TextColumn = "text_embedding",
    split_column: SplitColumn = "split",
    clean_column: CleanColumn = "clean_labels",
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Write a cleaned copy of DATA from its audit: train rows dropped, relabelled or pruned;
    query and database rows untouched; a `changes` column and provenance recorded."""
    configure_logging(quiet)
    try:
        settings = CleanSettings(
            strategy=strategy,
            budget=None if budget is None else parse_budget(budget),
            threshold=threshold,
            confidence=confidence,
        )
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    if out is None:
        out = data.with_name(f"{data.stem}.cleaned-{strategy}.parquet")
    columns = column_names(
        id_column, labels_column, image_column, text_column, split_column, clean_column
    )
    status(f"cleaning {data} with {audit} ({strategy}, rows: {settings.selection})", quiet)
    summary = clean_file(
        data,
        audit,
        out,
        settings,
        issues_path=issues,
        columns=columns,
        classes=parse_classes(classes),
    )
    if json_output:
        emit_json(summary)
    else:
        result_console.print(summary_line(summary), highlight=False, soft_wrap=True)
