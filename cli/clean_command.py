"""`audit clean`: apply an audit to a dataset (drop, relabel or prune) and write a cleaned copy."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from auditor.cleaning import (
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
    settings_from_sources,
    status,
    usage_errors,
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


def decisions_summary_line(summary: Mapping[str, Any]) -> str:
    """One sentence of what applying decisions did, from ``clean_with_decisions``'s summary."""
    return (
        f"decisions: {summary['decisions_accepted']} accepted, {summary['decisions_rejected']} "
        f"rejected, {summary['decisions_set']} set on {summary['rows_reviewed']} rows; "
        f"{summary['rows_changed']} rows changed: {summary['labels_removed']} labels removed, "
        f"{summary['labels_added']} added. Wrote {summary['output']} ({summary['rows_written']} "
        "rows)."
    )


@handle_errors
def clean(
    data: Annotated[Path, typer.Argument(help="Dataset Parquet file (never modified).")],
    audit: Annotated[
        Path | None,
        typer.Option(
            "--audit",
            help="audit.parquet written by `audit scan` on DATA (needed by --strategy; with "
            "--decisions it checks that each accepted cell was a suggestion).",
        ),
    ] = None,
    strategy: Annotated[
        str | None,
        typer.Option(
            "--strategy",
            help=f"{' | '.join(STRATEGIES)}. drop: remove the chosen train rows; relabel: give "
            "them their suggested_labels; prune: apply only the suggested removals/additions "
            "whose error probability reaches --confidence, keeping every row.",
        ),
    ] = None,
    decisions: Annotated[
        Path | None,
        typer.Option(
            "--decisions",
            help="Apply exactly the reviewed decisions of this decisions.csv (from the report's "
            "review loop: columns id, class, action accepted|rejected|set, reviewer_note; for "
            "set, class holds the full label list separated by |) instead of a --strategy.",
        ),
    ] = None,
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
    columns = column_names(
        id_column, labels_column, image_column, text_column, split_column, clean_column
    )
    if decisions is not None:
        if strategy is not None or budget is not None or threshold is not None:
            raise typer.BadParameter(
                "--decisions applies the reviewed decisions: no --strategy, --budget or "
                "--threshold beside it",
                param_hint="--decisions",
            )
        out = out or data.with_name(f"{data.stem}.cleaned-decisions.parquet")
        status(f"cleaning {data} with the decisions of {decisions}", quiet)
        from auditor.decisions import clean_with_decisions  # loads pandas: only when used

        summary = clean_with_decisions(
            data, decisions, out, audit_path=audit, columns=columns, classes=parse_classes(classes)
        )
        if json_output:
            emit_json(summary)
        else:
            result_console.print(decisions_summary_line(summary), highlight=False, soft_wrap=True)
        return
    if strategy is None or audit is None:
        raise typer.BadParameter(
            "give --audit and --strategy (or --decisions)", param_hint="--strategy"
        )
    with usage_errors(option="--budget"):
        chosen_budget = None if budget is None else parse_budget(budget)
    given = {
        "strategy": strategy,
        "budget": chosen_budget,
        "threshold": threshold,
        "confidence": confidence,
    }
    on_command_line = {key: value for key, value in given.items() if value is not None}
    settings = settings_from_sources(CleanSettings, {}, on_command_line, None)
    if out is None:
        out = data.with_name(f"{data.stem}.cleaned-{strategy}.parquet")
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
