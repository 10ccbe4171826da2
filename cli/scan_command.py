"""`audit scan` and `audit demo`: the ranked audit, with cleanlab and known noise side by side."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer

from auditor.dataset import ColumnNames, DataError
from auditor.demo import DEMO_ROWS
from cli.common import (
    BitsOption,
    ClassesOption,
    CleanColumn,
    ConfigOption,
    DeviceOption,
    EpochsOption,
    IdColumn,
    ImageColumn,
    JsonOption,
    LabelsColumn,
    MethodsOption,
    NoiseDirectionOption,
    NoiseRateOption,
    QuietOption,
    RateResamplesOption,
    SettingSeedOption,
    SplitColumn,
    TextColumn,
    check_seed,
    column_names,
    configure_logging,
    emit_json,
    handle_errors,
    parse_classes,
    parse_methods,
    read_toml_settings,
    result_console,
    settings_from_sources,
    status,
)
from cli.launch import NprocOption, relaunch_if_asked
from cli.progress import RichEmbedProgress, stage_progress
from cli.tables import Column, fitted_table

if TYPE_CHECKING:  # torch and cleanlab load when a scan runs, not when the command line starts
    from auditor.dataset import AuditDataset
    from auditor.demo import DemoData
    from auditor.scanning import ScanResult, ScanSettings

TOP_SUSPECTS = 15


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
    from auditor.io import check_output_file, read_dataset, read_schema

    names = set(read_schema(data).names)
    has_embeddings = {columns.image_embedding, columns.text_embedding} <= names
    if has_embeddings or not {columns.image, columns.text} <= names:
        return None
    from auditor.embed import EmbedSettings, embed_file

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


def suspects_table(scan: ScanResult, width: int) -> Any:
    """The top suspects, most suspect first, in the columns that fit ``width``."""
    from auditor.audit_files import FUSED
    from auditor.fusion import class_lists

    order = np.argsort(scan.rank, kind="stable")[:TOP_SUSPECTS]
    strongest = scan.strongest_signal()
    given = class_lists(scan.labels[order].astype(bool), scan.classes)
    removes = class_lists(scan.remove[order], scan.classes)
    adds = class_lists(scan.add[order], scan.classes)
    columns = [
        Column("rank", justify="right"),
        Column("id"),
        Column("given labels", whole=False, priority=3),
        Column("remove", whole=False, priority=1),
        Column("add", whole=False, priority=1),
        Column(FUSED, justify="right"),
        Column("strongest signal", priority=4),
    ]
    if scan.truth_rows is not None:
        columns.append(Column("truly noisy", priority=2))
    rows = []
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
        rows.append(cells)
    title = f"Top {len(order)} suspects (of {len(scan.rank)} audited rows)"
    return fitted_table(title, columns, rows, width)


DETECTION_KEYS = (  # most telling first: a narrow terminal drops from the end
    ("auroc", "AUROC"),
    ("auprc", "AUPRC"),
    ("precision_at_t", "P@t"),
    ("recall_at_t", "R@t"),
    ("cell_auroc", "cell AUROC"),
    ("precision_at_5pct", "P@5%"),
    ("cell_auprc", "cell AUPRC"),
    ("precision_at_1pct", "P@1%"),
    ("precision_at_10pct", "P@10%"),
)


def detection_table(detection: dict[str, dict[str, Any]], width: int) -> Any:
    """Every signal against the known noise, in the metric columns that fit ``width``."""
    from auditor.audit_files import FUSED

    columns = [Column("signal")] + [
        Column(header, justify="right", priority=position)
        for position, (_, header) in enumerate(DETECTION_KEYS)
    ]
    rows = [
        [f"{name} (fused)" if name == FUSED else name]
        + [_fmt(metrics.get(key)) for key, _ in DETECTION_KEYS]
        for name, metrics in detection.items()
    ]
    return fitted_table(
        "Detection against the known noise (higher is better)", columns, rows, width
    )


def rate_line(summary: dict[str, Any]) -> str:
    """The terminal's line of the estimated noise rate (± two standard deviations over
    resampled rows, when read), the flagged rows and the suggestions, from ``summary.json``."""
    from auditor.audit_files import RATE_AT_BOUND

    spread = ""
    if summary.get("estimated_noise_rate_sd") == 0:
        spread = f" ({RATE_AT_BOUND})"
    elif "estimated_noise_rate_sd" in summary:
        spread = (
            f" (± {2 * summary['estimated_noise_rate_sd']:.3f}, two standard deviations from "
            "resampling the rows; bias not included)"
        )
    line = (
        f"estimated noise rate {summary['estimated_noise_rate']:.3f}{spread}: "
        f"{summary['rows_flagged']} rows flagged as issues, {summary['labels_to_remove']} "
        f"labels to remove, {summary['labels_to_add']} to add"
    )
    if "true_noise_rate" in summary:
        line += f" (true noise rate {summary['true_noise_rate']:.3f})"
    return line


def render_scan(scan: ScanResult, summary: dict[str, Any], out: Path) -> None:
    """Top suspects and, with truth, the comparison table, on stdout."""
    from auditor.audit_files import REPORT_FILE

    width = result_console.width
    result_console.print(suspects_table(scan, width))
    result_console.print(rate_line(summary), highlight=False)
    if "noise_model" in summary:
        result_console.print(summary["noise_model"]["line"], highlight=False)
    if "detection" in summary:
        result_console.print(detection_table(summary["detection"], width))
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
    from auditor.scanning import run_scan, write_scan

    with stage_progress(quiet) as progress_for:
        scan = run_scan(dataset, settings, truth=truth, progress_for=progress_for)
    summary = write_scan(scan, out, settings, source=dataset.source, source_name=source_name)
    if json_output:
        emit_json(summary)
    else:
        render_scan(scan, summary, shown_out or out)
    return summary


def _settings(config: Path | None, given: dict[str, Any]) -> ScanSettings:
    from auditor.scanning import ScanSettings

    from_file = read_toml_settings(config, ScanSettings)
    for key in ("methods", "baselines"):
        if isinstance(from_file.get(key), list):
            from_file[key] = tuple(from_file[key])
    on_command_line = {key: value for key, value in given.items() if value is not None}
    return settings_from_sources(ScanSettings, from_file, on_command_line, config)


@handle_errors
def scan(
    ctx: typer.Context,
    data: Annotated[Path, typer.Argument(help="Dataset Parquet file (never modified).")],
    out: Annotated[
        Path | None,
        typer.Option("-o", "--out", help="Output folder.", show_default="DATA-stem.audit/"),
    ] = None,
    truth: Annotated[
        Path | None,
        typer.Option("--truth", help="Parquet file with id and clean_labels: the known truth."),
    ] = None,
    methods: MethodsOption = None,
    bits: BitsOption = None,
    epochs: EpochsOption = None,
    noise_rate: NoiseRateOption = None,
    noise: NoiseDirectionOption = None,
    rate_resamples: RateResamplesOption = None,
    device: DeviceOption = None,
    seed: SettingSeedOption = None,
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
        bool,
        typer.Option(
            "--skip-bad/--no-skip-bad",
            help="When embedding first: set unreadable images and empty texts aside (as `audit "
            "embed --skip-bad`) instead of stopping.",
        ),
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
    from auditor.io import check_output_folder

    if out is None:
        out = data.with_name(f"{data.stem}.audit")
    # before the slow imports (torch, cleanlab: seconds on a busy machine), so a refused -o
    # is refused at once
    check_output_folder(out, "scan", data, truth)
    from auditor.io import read_dataset
    from auditor.scanning import train_scan_hashers
    from auditor.truth import read_truth
    from hashing.runtime.distributed import distributed_from_env

    settings = _settings(
        config,
        {
            "methods": parse_methods(methods),
            "bits": bits,
            "epochs": epochs,
            "noise_rate": noise_rate,
            "noise": noise,
            "rate_resamples": rate_resamples,
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


@handle_errors
def demo(
    out: Annotated[Path, typer.Option("-o", "--out", help="Output folder.")] = Path(
        "hashaudit-demo"
    ),
    rows: Annotated[int, typer.Option("--rows", help="Synthetic rows.")] = DEMO_ROWS,
    seed: Annotated[
        int,
        typer.Option(
            "--seed", help="Seed of the data, the noise and the scan.", callback=check_seed
        ),
    ] = 0,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Synthetic data -> pairflip noise at 50% -> scan -> the ranked table and the comparison
    with cleanlab. Nothing is downloaded."""
    configure_logging(quiet)
    from auditor.io import check_output_folder

    check_output_folder(out, "demo")  # before the slow imports, as in scan
    from auditor.demo import run_demo
    from auditor.synth import SynthSettings

    try:
        SynthSettings(n_rows=rows, seed=seed)
    except (ValueError, TypeError) as error:
        raise typer.BadParameter(str(error), param_hint="--rows") from None

    def announce(data: DemoData) -> None:
        status(
            f"demo data: {data.rows} synthetic rows, {data.protocol} noise on {data.noisy_rows} "
            f"of {data.train_rows} train rows -> {data.path}",
            quiet,
        )

    with stage_progress(quiet) as progress_for:
        result = run_demo(out, rows=rows, seed=seed, on_data=announce, progress_for=progress_for)
    if json_output:
        emit_json(result.summary)
        return
    render_scan(result.scan, result.summary, result.audit_dir)
    result_console.print(f"demo finished: data and audit in {out}/", highlight=False)
