"""`audit scan` and `audit demo`: the ranked audit, with cleanlab and known noise side by side."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pyarrow as pa
import typer
from rich import progress as rich_progress
from rich.table import Table

from auditor.audit_files import FUSED, REPORT_FILE
from auditor.dataset import AuditDataset, ColumnNames, DataError
from auditor.detectors import HASHER_DETECTORS
from auditor.embed import EmbedSettings, embed_file
from auditor.fusion import class_lists
from auditor.inject import inject_into_table
from auditor.io import (
    atomic_output_dir,
    check_output_file,
    check_output_folder,
    dataset_from_table,
    dataset_to_table,
    labels_to_multi_hot,
    make_provenance,
    read_dataset,
    read_schema,
    read_table,
    write_table_atomic,
)
from auditor.scanning import ScanResult, ScanSettings, run_scan, train_scan_hashers, write_scan
from auditor.synth import SynthSettings, make_synthetic
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
    read_toml_settings,
    result_console,
    status,
    status_console,
)
from cli.embed_command import RichEmbedProgress
from cli.launch import NprocOption, relaunch_if_asked
from hashing.hasher import ProgressCallback
from hashing.runtime.distributed import distributed_from_env

TOP_SUSPECTS = 15


@contextlib.contextmanager
def stage_progress(quiet: bool) -> Iterator[Any]:
    """One rich progress bar per detector (epochs for hashers, one step for baselines)."""
    if quiet:
        yield None
        return
    columns = (
        rich_progress.TextColumn("{task.description:<10}"),
        rich_progress.BarColumn(),
        rich_progress.MofNCompleteColumn(),
        rich_progress.TimeElapsedColumn(),
    )
    with rich_progress.Progress(*columns, console=status_console) as bar:

        def progress_for(name: str) -> ProgressCallback:
            task = bar.add_task(name, total=None)

            def update(epoch: int, n_epochs: int, logs: dict[str, float]) -> None:
                bar.update(task, completed=epoch, total=n_epochs)

            return update

        yield progress_for


def read_truth(path: Path, dataset: AuditDataset, columns: ColumnNames) -> np.ndarray:
    """``--truth FILE``: a Parquet file of ids and clean labels -> (N, C) aligned with the data."""
    table = read_table(path)
    for name in (columns.id, columns.clean_labels):
        if name not in table.column_names:
            raise DataError(
                f"no such column (the file has: {', '.join(table.column_names)})",
                file=str(path),
                column=name,
            )
    clean = labels_to_multi_hot(
        table.column(columns.clean_labels),
        dataset.classes,
        file=str(path),
        column=columns.clean_labels,
    )
    truth_ids = table.column(columns.id).to_pylist()
    position = {value: index for index, value in enumerate(truth_ids)}
    aligned = dataset.labels.copy()
    for row in np.flatnonzero(dataset.train_mask):
        key = dataset.ids[row].item() if hasattr(dataset.ids[row], "item") else dataset.ids[row]
        if key not in position:
            raise DataError(
                f"no clean labels for id {key!r} of the data", file=str(path), column=columns.id
            )
        aligned[row] = clean[position[key]]
    return aligned


def embed_first_if_raw(
    data: Path,
    columns: ColumnNames,
    encoder: str,
    skip_bad: bool,
    quiet: bool,
    classes: list[str] | None = None,
) -> Path | None:
    """If DATA has raw ``image``/``text`` columns but no embeddings, embed them first (to
    ``DATA-stem.embedded.parquet``, cached by content) and return that file; else None."""
    names = set(read_schema(data).names)
    has_embeddings = {columns.image_embedding, columns.text_embedding} <= names
    if has_embeddings or not {columns.image, columns.text} <= names:
        return None
    out = data.with_name(f"{data.stem}.embedded.parquet")
    check_output_file(out, "embed", data)
    # the labels, ids and splits are checked on the user's own file before any embedding
    read_dataset(data, columns=columns, classes=classes, require_embeddings=False)
    status(
        f"{data} has raw images and texts but no embeddings: embedding them first -> {out}", quiet
    )
    settings = EmbedSettings(encoder=encoder, skip_bad=skip_bad)
    with RichEmbedProgress(quiet) as progress:
        embed_file(data, out, settings, columns=columns, progress=progress)
    return out


@contextlib.contextmanager
def removed_on_failure(path: Path | None) -> Iterator[None]:
    """Remove ``path`` (a file this run wrote) when the block fails: a failed command leaves
    nothing behind."""
    try:
        yield
    except BaseException:
        if path is not None:
            path.unlink(missing_ok=True)
        raise


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def render_scan(scan: ScanResult, summary: dict[str, Any], out: Path) -> None:
    """Top suspects and, with truth, the comparison table, on stdout."""
    order = np.argsort(scan.rank, kind="stable")[:TOP_SUSPECTS]
    strongest = scan.strongest_signal()
    given = class_lists(scan.labels[order].astype(bool), scan.classes)
    removes = class_lists(scan.remove[order], scan.classes)
    adds = class_lists(scan.add[order], scan.classes)
    table = Table(title=f"Top {len(order)} suspects (of {len(scan.rank)} audited rows)")
    for column in ("rank", "id", "given labels", "remove", "add", FUSED, "strongest signal"):
        table.add_column(column, overflow="fold")
    if scan.truth_rows is not None:
        table.add_column("truly noisy")
    for position, row in enumerate(order):
        cells = [
            str(scan.rank[row]),
            str(scan.ids[row]),
            ", ".join(given[position]),
            ", ".join(removes[position]),
            ", ".join(adds[position]),
            f"{scan.label_quality[row]:.3f}",
            strongest[row],
        ]
        if scan.truth_rows is not None:
            cells.append("yes" if scan.truth_rows[row] else "no")
        table.add_row(*cells)
    result_console.print(table)
    line = (
        f"estimated noise rate {summary['estimated_noise_rate']:.3f}: "
        f"{summary['rows_flagged']} rows flagged as issues, {summary['labels_to_remove']} "
        f"labels to remove, {summary['labels_to_add']} to add"
    )
    if "true_noise_rate" in summary:
        line += f" (true noise rate {summary['true_noise_rate']:.3f})"
    result_console.print(line, highlight=False)
    if scan.noise_model is not None:
        result_console.print(scan.noise_model.describe(), highlight=False)
    if "detection" in summary:
        comparison = Table(title="Detection against the known noise (higher is better)")
        keys = (
            "auroc",
            "auprc",
            "precision_at_t",
            "recall_at_t",
            "precision_at_1pct",
            "precision_at_5pct",
            "precision_at_10pct",
            "cell_auroc",
            "cell_auprc",
        )
        comparison.add_column("signal")
        for key in keys:
            comparison.add_column(
                key.replace("precision_at_", "P@").replace("recall_at_", "R@"), justify="right"
            )
        for name, metrics in summary["detection"].items():
            label = f"{name} (fused)" if name == FUSED else name
            comparison.add_row(label, *[_fmt(metrics.get(key)) for key in keys])
        result_console.print(comparison)
    times = ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in scan.timings.items())
    result_console.print(f"time per stage: {times}", highlight=False)
    result_console.print(f"outputs in {out}/, the report in {out / REPORT_FILE}", highlight=False)


def scan_and_report(
    dataset: AuditDataset,
    settings: ScanSettings,
    out: Path,
    *,
    truth: np.ndarray | None,
    json_output: bool,
    quiet: bool,
    shown_out: Path | None = None,
    source_name: str | None = None,
) -> dict[str, Any]:
    """Scan, write into ``out``, print; ``shown_out`` / ``source_name``: the final paths when
    ``out`` and the dataset's source are inside a temporary output folder."""
    with stage_progress(quiet) as progress_for:
        scan = run_scan(dataset, settings, truth=truth, progress_for=progress_for)
    summary = write_scan(scan, out, settings, source=dataset.source, source_name=source_name)
    if json_output:
        emit_json(summary)
    else:
        render_scan(scan, summary, shown_out or out)
    return summary


def _settings(config: Path | None, given: dict[str, Any]) -> ScanSettings:
    values = read_toml_settings(config, ScanSettings)
    values.update({key: value for key, value in given.items() if value is not None})
    for key in ("methods", "baselines"):
        if isinstance(values.get(key), list):
            values[key] = tuple(values[key])
    try:
        return ScanSettings(**values)
    except (ValueError, TypeError) as error:
        raise typer.BadParameter(str(error)) from None


MethodsOption = Annotated[
    str | None,
    typer.Option(
        "--methods",
        help="Comma-separated hashers to train: rshnl,scbch,nrch (default: "
        "all three); 'none' runs the baselines only.",
    ),
]
BitsOption = Annotated[int | None, typer.Option("--bits", help="Code length (default: 64).")]
EpochsOption = Annotated[
    int | None,
    typer.Option("--epochs", help="Epochs of every hasher (default: each method's scan default)."),
]
DeviceOption = Annotated[
    str | None,
    typer.Option(
        "--device", help="cpu or cuda (default: cuda when present).", callback=check_device
    ),
]
SeedOption = Annotated[
    int | None, typer.Option("--seed", help="Seed (default: 0).", callback=check_seed)
]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="TOML file of ScanSettings fields.")
]
NoiseRateOption = Annotated[
    float | None,
    typer.Option("--noise-rate", help="Share of rows to flag (default: the estimate)."),
]
NoiseOption = Annotated[
    str | None,
    typer.Option(
        "--noise",
        help="Direction of the noise when you know it: missing (annotators only ever leave "
        "tags out), spurious (tags are only ever added), both (default: estimated). Use it "
        "when the scan says the noise is not identifiable or you know how the labels were made.",
    ),
]


def parse_methods(value: str | None) -> tuple[str, ...] | None:
    """`--methods` text -> hasher names (None: the default; "none": baselines only)."""
    if value is None:
        return None
    if value.strip().lower() == "none":
        return ()
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    unknown = [name for name in names if name not in HASHER_DETECTORS]
    if unknown:
        raise typer.BadParameter(
            f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(HASHER_DETECTORS)}",
            param_hint="--methods",
        )
    return names


@handle_errors
def scan(
    ctx: typer.Context,
    data: Annotated[Path, typer.Argument(help="Dataset Parquet file (never modified).")],
    out: Annotated[
        Path | None, typer.Option("-o", "--out", help="Output folder (default: DATA-stem.audit/).")
    ] = None,
    truth: Annotated[
        Path | None,
        typer.Option("--truth", help="Parquet file with id and clean_labels: the known truth."),
    ] = None,
    methods: MethodsOption = None,
    bits: BitsOption = None,
    epochs: EpochsOption = None,
    noise_rate: NoiseRateOption = None,
    noise: NoiseOption = None,
    device: DeviceOption = None,
    seed: SeedOption = None,
    config: ConfigOption = None,
    encoder: Annotated[
        str,
        typer.Option(
            "--encoder",
            help="Encoder when DATA has raw image/text columns but no "
            "embeddings (see `audit embed`); auto = open_clip when reachable, else offline.",
        ),
    ] = "auto",
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="When embedding first: set bad rows aside.")
    ] = False,
    classes: ClassesOption = None,
    id_column: IdColumn = "id",
    labels_column: LabelsColumn = "labels",
    image_column: ImageColumn = "image_embedding",
    text_column: TextColumn = "text_embedding",
    split_column: SplitColumn = "split",
    clean_column: CleanColumn = "clean_labels",
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    nproc: NprocOption = 1,
) -> None:
    """Train the hashers, collect their signals, rank the suspect labels, compare with cleanlab
    (and the truth when known); write audit.parquet, label_issues.parquet and summary.json."""
    configure_logging(quiet)
    settings = _settings(
        config,
        {
            "methods": parse_methods(methods),
            "bits": bits,
            "epochs": epochs,
            "noise_rate": noise_rate,
            "noise": noise,
            "device": device,
            "seed": seed,
        },
    )
    relaunch_if_asked(ctx, nproc)
    with distributed_from_env(settings.device) as world:
        # Under torchrun every rank reads and checks the data and trains its shard of the
        # hashers; rank 0 alone runs the baselines, fusion, writing and printing.
        if not world.is_main:
            quiet = True
            configure_logging(quiet)
        columns = column_names(
            id_column, labels_column, image_column, text_column, split_column, clean_column
        )
        if out is None:
            out = data.with_name(f"{data.stem}.audit")
        check_output_folder(out, "scan", data, truth)
        class_names = parse_classes(classes)
        embedded = embed_first_if_raw(data, columns, encoder, skip_bad, quiet, class_names)
        with removed_on_failure(embedded):
            try:
                dataset = read_dataset(
                    embedded or data,
                    columns=columns,
                    classes=class_names,
                    min_train_rows=settings.min_train_rows,
                )
            except DataError as error:
                if embedded is None:
                    raise
                # the generated file is gone: name the user's file
                raise DataError(
                    f"{error.message} (in the embeddings computed from it)",
                    file=str(data),
                    column=error.column,
                    row=error.row,
                ) from None
            truth_labels = read_truth(truth, dataset, columns) if truth is not None else None
            if not world.is_main:
                train_scan_hashers(dataset, settings)
                return
            status(
                f"scanning {dataset.train_mask.sum()} train rows of {embedded or data} with "
                f"{', '.join([*settings.methods, *settings.baselines])}"
                + (f" ({world.world_size} processes)" if world.is_distributed else ""),
                quiet,
            )
            scan_and_report(
                dataset, settings, out, truth=truth_labels, json_output=json_output, quiet=quiet
            )


# The demo's data: small enough for a couple of minutes on 2 CPU cores, large enough to show it.
DEMO_ROWS = 4000
DEMO_NOISE = ("pairflip", 0.5)


@handle_errors
def demo(
    out: Annotated[
        Path, typer.Option("-o", "--out", help="Output folder (default: ./hashaudit-demo).")
    ] = Path("hashaudit-demo"),
    rows: Annotated[int, typer.Option("--rows", help="Synthetic rows.")] = DEMO_ROWS,
    seed: Annotated[int, typer.Option("--seed", help="Seed.", callback=check_seed)] = 0,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Synthetic data -> pairflip noise at 50% -> scan -> the ranked table and the comparison
    with cleanlab. Nothing is downloaded."""
    configure_logging(quiet)
    check_output_folder(out, "demo")
    protocol, rate = DEMO_NOISE
    clean = make_synthetic(SynthSettings(n_rows=rows, seed=seed)).to_dataset()
    table: pa.Table = dataset_to_table(clean)
    noisy_table, result = inject_into_table(table, clean, protocol=protocol, rate=rate, seed=seed)
    with atomic_output_dir(out, "demo") as folder:
        write_table_atomic(
            noisy_table,
            folder / "data.parquet",
            make_provenance(
                "demo",
                settings={"rows": rows, "protocol": protocol, "rate": rate},
                classes=clean.classes,
                seed=seed,
            ),
        )
        status(
            f"demo data: {rows} synthetic rows, {protocol} noise on "
            f"{int(result.noisy_rows.sum())} of {int(clean.train_mask.sum())} train rows "
            f"-> {out / 'data.parquet'}",
            quiet,
        )
        dataset = dataset_from_table(noisy_table, source=str(folder / "data.parquet"))
        scan_and_report(
            dataset,
            ScanSettings(seed=seed),
            folder / "audit",
            truth=None,
            json_output=json_output,
            quiet=quiet,
            shown_out=out / "audit",
            source_name=str(out / "data.parquet"),
        )
    if not json_output:
        result_console.print(f"demo finished: data and audit in {out}/", highlight=False)
