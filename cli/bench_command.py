"""`audit bench --loop`: noisy → scan → clean → retrain, against the clean-label oracle."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from auditor.audit_files import RETRIEVAL_FILE
from auditor.cleaning import DEFAULT_CONFIDENCE, STRATEGIES, parse_budget
from auditor.io import atomic_output_dir, check_output_folder, read_dataset
from auditor.loop import (
    DEFAULT_METHODS,
    NOISY,
    ORACLE,
    LoopSettings,
    gap_closed,
    write_retrieval_json,
)
from auditor.loop import run_loop as run_cleaning_loop
from auditor.scanning import ScanSettings
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
    check_device,
    check_seed,
    column_names,
    configure_logging,
    emit_json,
    handle_errors,
    parse_classes,
    result_console,
    status,
)
from cli.scan_command import parse_methods as scan_methods_option
from cli.scan_command import stage_progress

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
    rows = payload["rows"]
    table = Table(
        title="Retrieval mAP@all, retrained on each version of the train labels "
        "(gap closed: share of the noisy -> oracle gap, i2t / t2i)"
    )
    for column in ("method", "labels", "round", "mAP i2t", "mAP t2i", "gap closed", "label acc"):
        left = column in ("method", "labels")
        table.add_column(column, justify="left" if left else "right", no_wrap=left)
    for row in rows:
        closed = "–"
        if row["labels"] not in (NOISY, ORACLE):
            shares = gap_closed(rows, row["method"], row["labels"], row["round"], MIN_GAP)
            closed = " / ".join(
                "–" if value is None else f"{value:.0%}" for value in shares.values()
            )
        table.add_row(
            row["method"],
            row["labels"],
            str(row["round"]),
            f"{row['map_i2t']:.4f}",
            f"{row['map_t2i']:.4f}",
            closed,
            f"{row['label_accuracy']:.3f}",
        )
    result_console.print(table)
    cleaning = Table(title="The cleanings (train rows whose labels equal the truth)")
    for column in (
        "strategy",
        "round",
        "chosen",
        "changed",
        "dropped",
        "train rows",
        "label acc before",
        "after",
        "cell acc before",
        "after ",
    ):
        cleaning.add_column(
            column, justify="left" if column == "strategy" else "right", no_wrap=True
        )
    for record in payload["cleaning"]:
        counts = record["counts"]
        cleaning.add_row(
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
        )
    result_console.print(cleaning)


@handle_errors
def bench(
    data: Annotated[
        Path,
        typer.Argument(help="Dataset with noisy labels and the truth in clean_labels."),
    ],
    loop: Annotated[
        bool,
        typer.Option(
            "--loop",
            help="Run noisy -> scan -> clean -> retrain and compare mAP with the clean-label "
            "oracle (the only benchmark this command runs; the others are examples/bench_*.py).",
        ),
    ] = False,
    methods: Annotated[
        str,
        typer.Option(
            "--methods",
            help=f"Hashers to retrain, comma-separated (default: {','.join(DEFAULT_METHODS)}).",
            show_default=False,
        ),
    ] = ",".join(DEFAULT_METHODS),
    strategies: Annotated[
        str,
        typer.Option(
            "--strategies",
            help=f"Cleaning strategies, comma-separated (default: {','.join(STRATEGIES)}).",
            show_default=False,
        ),
    ] = ",".join(STRATEGIES),
    rounds: Annotated[
        int,
        typer.Option(
            "--rounds", help="scan -> clean rounds per strategy (default: 1).", show_default=False
        ),
    ] = 1,
    bits: Annotated[
        int, typer.Option("--bits", help="Code length (default: 64).", show_default=False)
    ] = 64,
    epochs: Annotated[
        int | None,
        typer.Option("--epochs", help="Epochs of every retraining (default: each method's)."),
    ] = None,
    scan_methods: Annotated[
        str | None,
        typer.Option(
            "--scan-methods",
            help="Hashers the scans train: rshnl,scbch,nrch (default: all three); 'none' = "
            "baselines only.",
        ),
    ] = None,
    scan_epochs: Annotated[
        int | None,
        typer.Option("--scan-epochs", help="Epochs of the scans' hashers (default: the scan's)."),
    ] = None,
    budget: Annotated[
        str | None,
        typer.Option(
            "--budget", help="As `audit clean --budget` (default: the audit's is_issue rows)."
        ),
    ] = None,
    threshold: Annotated[
        float | None, typer.Option("--threshold", help="As `audit clean --threshold`.")
    ] = None,
    confidence: Annotated[
        float,
        typer.Option(
            "--confidence",
            help=f"prune's confidence, as `audit clean` (default: {DEFAULT_CONFIDENCE}).",
            show_default=False,
        ),
    ] = DEFAULT_CONFIDENCE,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of scans and trainings.", callback=check_seed)
    ] = 0,
    device: Annotated[
        str | None,
        typer.Option(
            "--device", help="cpu or cuda (default: cuda when present).", callback=check_device
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--out",
            help="Output folder: retrieval.json and the scans (default: DATA-stem.loop/).",
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
    """Benchmark cleaning: retrain each hasher on the noisy labels, on each cleaned version and
    on the clean labels (oracle); print mAP image->text and text->image and label accuracy."""
    configure_logging(quiet)
    if not loop:
        raise typer.BadParameter(
            "choose a benchmark: --loop (noisy -> scan -> clean -> retrain)", param_hint="--loop"
        )
    scan_values: dict[str, Any] = {"seed": seed, "device": device, "bits": bits}
    chosen_scan_methods = scan_methods_option(scan_methods)
    if chosen_scan_methods is not None:
        scan_values["methods"] = chosen_scan_methods
    if scan_epochs is not None:
        scan_values["epochs"] = scan_epochs
    try:
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
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
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
