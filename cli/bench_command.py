"""`audit bench`: noisy → scan → clean → retrain, against the clean-label oracle."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from auditor.cleaning import DEFAULT_CONFIDENCE, STRATEGIES, parse_budget
from cli.common import (
    METHOD_NAMES,
    SCAN_HASHERS,
    ClassesOption,
    CleanColumn,
    DeviceOption,
    EpochsOption,
    IdColumn,
    ImageColumn,
    JsonOption,
    LabelsColumn,
    QuietOption,
    SplitColumn,
    TextColumn,
    check_seed,
    column_names,
    configure_logging,
    emit_json,
    handle_errors,
    parse_classes,
    parse_methods,
    result_console,
    status,
    usage_errors,
)
from cli.progress import stage_progress
from cli.tables import Column, fitted_table

MIN_GAP = 0.005
"""The share of the noisy → oracle gap closed is shown only when the oracle is at least this
much mAP above the noisy labels (a smaller gap makes the share meaningless)."""


def _names(value: str, known: tuple[str, ...], option: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise typer.BadParameter(
            f"unknown {', '.join(unknown) or 'empty list'}; choose from {', '.join(known)}",
            param_hint=option,
        )
    return names


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def render_loop(payload: dict[str, Any]) -> None:
    """The mAP table (with the share of the noisy → oracle gap closed) and the cleaning table."""
    from auditor.loop import NOISY, ORACLE, gap_closed

    width = result_console.width
    rows = payload["rows"]
    map_rows = []
    for row in rows:
        closed = "–"
        if row["labels"] not in (NOISY, ORACLE):
            shares = gap_closed(rows, row["method"], row["labels"], row["round"], MIN_GAP)
            closed = " / ".join(
                "–" if value is None else f"{value:.0%}" for value in shares.values()
            )
        map_rows.append(
            [
                row["method"],
                row["labels"],
                str(row["round"]),
                f"{row['map_i2t']:.4f}",
                f"{row['map_t2i']:.4f}",
                closed,
                f"{row['label_accuracy']:.3f}",
            ]
        )
    map_columns = [
        Column("method"),
        Column("labels"),
        Column("round", justify="right", priority=2),
        Column("mAP i2t", justify="right"),
        Column("mAP t2i", justify="right"),
        Column("gap closed", justify="right", priority=1),
        Column("label acc", justify="right", priority=3),
    ]
    title = (
        "Retrieval mAP@all, retrained on each version of the train labels "
        "(gap closed: share of the noisy -> oracle gap, i2t / t2i)"
    )
    result_console.print(fitted_table(title, map_columns, map_rows, width))
    cleaning_columns = [
        Column("strategy"),
        Column("round", justify="right", priority=5),
        Column("chosen", justify="right", priority=2),
        Column("changed", justify="right", priority=3),
        Column("dropped", justify="right", priority=3),
        Column("train rows", justify="right", priority=4),
        Column("label acc before", justify="right"),
        Column("after", justify="right"),
        Column("cell acc before", justify="right", priority=1),
        Column("after ", justify="right", priority=1),
    ]
    cleaning_rows = []
    for record in payload["cleaning"]:
        counts = record["counts"]
        cleaning_rows.append(
            [
                record["strategy"],
                str(record["round"]),
                str(counts["rows_selected"]),
                str(counts["rows_changed"]),
                str(counts["rows_dropped"]),
                f"{record['train_rows_before']} → {record['train_rows_after']}",
                _fmt(record["label_accuracy_before"]),
                _fmt(record["label_accuracy_after"]),
                _fmt(record["cell_accuracy_before"]),
                _fmt(record["cell_accuracy_after"]),
            ]
        )
    title = "The cleanings (train rows whose labels equal the truth)"
    result_console.print(fitted_table(title, cleaning_columns, cleaning_rows, width))


@handle_errors
def bench(
    data: Annotated[
        Path,
        typer.Argument(help="Dataset with noisy labels and the truth in clean_labels."),
    ],
    loop: Annotated[
        bool,
        typer.Option(
            "--loop", hidden=True, help="Accepted for compatibility: the loop is the command."
        ),
    ] = False,
    methods: Annotated[
        str,
        typer.Option("--methods", help="Hashers to retrain, comma-separated."),
    ] = ",".join(METHOD_NAMES),
    strategies: Annotated[
        str,
        typer.Option(
            "--strategies",
            help="Cleaning strategies, comma-separated.",
        ),
    ] = ",".join(STRATEGIES),
    rounds: Annotated[
        int,
        typer.Option("--rounds", help="scan -> clean rounds per strategy."),
    ] = 1,
    bits: Annotated[int, typer.Option("--bits", help="Code length of scans and trainings.")] = 64,
    epochs: EpochsOption = None,
    scan_methods: Annotated[
        str | None,
        typer.Option(
            "--scan-methods",
            help=f"Hashers the scans train: {','.join(SCAN_HASHERS)}; 'none' = baselines only.",
            show_default="all three",
        ),
    ] = None,
    scan_epochs: Annotated[
        int | None,
        typer.Option(
            "--scan-epochs", help="Epochs of the scans' hashers.", show_default="the scan's"
        ),
    ] = None,
    budget: Annotated[
        str | None,
        typer.Option(
            "--budget", help="As `audit clean --budget`.", show_default="the audit's is_issue rows"
        ),
    ] = None,
    threshold: Annotated[
        float | None, typer.Option("--threshold", help="As `audit clean --threshold`.")
    ] = None,
    confidence: Annotated[
        float,
        typer.Option(
            "--confidence",
            help="prune's confidence, as `audit clean`.",
        ),
    ] = DEFAULT_CONFIDENCE,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of scans and trainings.", callback=check_seed)
    ] = 0,
    device: DeviceOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--out",
            help="Output folder: retrieval.json and the scans.",
            show_default="DATA-stem.loop/",
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
    """Benchmark cleaning, noisy -> scan -> clean -> retrain: retrain each hasher on the noisy
    labels, on each cleaned version and on the clean labels (oracle); print mAP image->text and
    text->image and label accuracy. (The other benchmarks are examples/bench_*.py.)"""
    configure_logging(quiet)
    from auditor.audit_files import RETRIEVAL_FILE
    from auditor.io import atomic_output_dir, check_output_folder, read_dataset
    from auditor.loop import DEFAULT_METHODS, LoopSettings, write_retrieval_json
    from auditor.loop import run_loop as run_cleaning_loop
    from auditor.scanning import ScanSettings

    scan_values: dict[str, Any] = {"seed": seed, "device": device, "bits": bits}
    chosen_scan_methods = parse_methods(scan_methods, "--scan-methods")
    if chosen_scan_methods is not None:
        scan_values["methods"] = chosen_scan_methods
    if scan_epochs is not None:
        scan_values["epochs"] = scan_epochs
    with usage_errors():
        settings = LoopSettings(
            methods=_names(methods, DEFAULT_METHODS, "--methods"),
            strategies=_names(strategies, STRATEGIES, "--strategies"),
            rounds=rounds,
            bits=bits,
            epochs=epochs,
            seed=seed,
            device=device,
            budget=None if budget is None else parse_budget(budget),
            threshold=threshold,
            confidence=confidence,
            scan=ScanSettings(**scan_values),
        )
    if out is None:
        out = data.with_name(f"{data.stem}.loop")
    check_output_folder(out, "bench", data)
    columns = column_names(
        id_column, labels_column, image_column, text_column, split_column, clean_column
    )
    dataset = read_dataset(data, columns=columns, classes=parse_classes(classes))
    status(
        f"loop on {data}: {int(dataset.train_mask.sum())} train rows; retrain "
        f"{', '.join(settings.methods)}; clean with {', '.join(settings.strategies)}; "
        f"{settings.rounds} round(s)",
        quiet,
    )
    with atomic_output_dir(out, "bench", data) as folder, stage_progress(quiet) as progress_for:
        result = run_cleaning_loop(
            dataset,
            settings,
            scan_dir=folder,
            status=None if quiet else lambda message: status(message, quiet),
            progress_for=progress_for,
        )
        write_retrieval_json(result, folder / RETRIEVAL_FILE)
    payload = result.as_json()
    if json_output:
        emit_json(payload)
        return
    render_loop(payload)
    result_console.print(f"retrieval.json and the scans in {out}/", highlight=False)
