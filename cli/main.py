"""The `audit` command line: parses options, calls `auditor`, renders results. No algorithms.

Start-up stays light (no torch, cleanlab or scikit-learn): each command imports the
library modules it needs when it runs, so `audit --help` and `audit --version` answer at once.
"""

from __future__ import annotations

from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import typer

from auditor.dataset import ColumnNames
from auditor.noise import PROTOCOLS
from auditor.synth import SynthSettings
from cli import import_commands
from cli.bench_command import bench
from cli.clean_command import clean
from cli.common import (
    ClassesOption,
    CleanColumn,
    IdColumn,
    ImageColumn,
    JsonOption,
    LabelsColumn,
    QuietOption,
    SeedOption,
    SplitColumn,
    TextColumn,
    column_names,
    configure_logging,
    emit_summary,
    handle_errors,
    options_given,
    parse_classes,
    read_toml_settings,
    result_console,
    settings_from_sources,
    usage_errors,
)
from cli.embed_command import embed
from cli.export_command import export
from cli.report_command import report
from cli.scan_command import demo, scan
from cli.threads import HELP_EPILOG
from cli.train_command import train

if TYPE_CHECKING:
    from auditor.dataset import AuditDataset

app = typer.Typer(
    name="audit",
    help="hashaudit: find wrong labels in multi-label image-text datasets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # markdown: a docstring's line breaks are reflowed, not kept where the source wrapped
    rich_markup_mode="markdown",
    epilog=HELP_EPILOG,
)
import_app = typer.Typer(
    help="Convert benchmark releases or your own data (COCO, tables, image folders, "
    "HF datasets) to the hashaudit data contract.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(import_app, name="import")
import_app.command("coco")(import_commands.coco)
import_app.command("table")(import_commands.table)
import_app.command("folder")(import_commands.folder)
import_app.command("hf")(import_commands.hf)
app.command("train")(train)
app.command("embed")(embed)
app.command("scan")(scan)
app.command("demo")(demo)
app.command("clean")(clean)
app.command("bench")(bench)
app.command("report")(report)
app.command("export")(export)


def _version(value: bool) -> None:
    if value:
        result_console.print(f"hashaudit {tool_version()}", highlight=False)
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """hashaudit: find wrong labels in multi-label image-text datasets."""


def tool_version() -> str:
    """The installed package's version (its metadata), else the one the sources declare."""
    try:
        return metadata.version("hashaudit")
    except metadata.PackageNotFoundError:  # run from a checkout that is not installed
        from auditor.io import TOOL_VERSION

        return TOOL_VERSION


def _dataset_summary(
    path: Path, labels: np.ndarray, classes: tuple[str, ...], split: np.ndarray
) -> dict:
    per_row = labels.sum(axis=1)
    return {
        "output": str(path),
        "rows": int(labels.shape[0]),
        "classes": len(classes),
        "splits": {name: int(np.count_nonzero(split == name)) for name in np.unique(split)},
        "labels_per_row": {
            "min": int(per_row.min()),
            "mean": round(float(per_row.mean()), 3),
            "max": int(per_row.max()),
        },
    }


@app.command()
@handle_errors
def synth(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("-o", "--out", help="Parquet file to write.")] = Path(
        "synthetic.parquet"
    ),
    rows: Annotated[int, typer.Option("--rows", help="Number of rows.")] = SynthSettings.n_rows,
    # the option's name before 0.1.0's renaming: scripts written for it keep working
    rows_old_name: Annotated[int | None, typer.Option("--n", hidden=True)] = None,
    n_classes: Annotated[
        int, typer.Option("--n-classes", help="Number of classes.")
    ] = SynthSettings.n_classes,
    image_dim: Annotated[
        int, typer.Option("--image-dim", help="Image embedding dimension.")
    ] = SynthSettings.image_dim,
    text_dim: Annotated[
        int, typer.Option("--text-dim", help="Text embedding dimension.")
    ] = SynthSettings.text_dim,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="TOML file of SynthSettings fields (the knobs: docs/commands.md); options win.",
        ),
    ] = None,
    seed: SeedOption = SynthSettings.seed,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Write a deterministic synthetic multi-label image-text dataset (the demo's data)."""
    configure_logging(quiet)
    from auditor.importers import describe_splits
    from auditor.io import check_output_file, dataset_to_table, make_provenance, write_table_atomic
    from auditor.synth import make_synthetic

    check_output_file(out, "synth")

    given = options_given(
        ctx,
        n_rows=("rows", rows),
        n_classes=("n_classes", n_classes),
        image_dim=("image_dim", image_dim),
        text_dim=("text_dim", text_dim),
        seed=("seed", seed),
    )
    if rows_old_name is not None:
        given.setdefault("n_rows", rows_old_name)
    from_file = read_toml_settings(config, SynthSettings)  # its errors name the file
    settings = settings_from_sources(
        SynthSettings, from_file, given, config, options={"n_rows": "--rows"}
    )
    data = make_synthetic(settings)
    dataset = data.to_dataset()
    provenance = make_provenance(
        "synth", settings=asdict(settings), classes=data.classes, seed=settings.seed
    )
    write_table_atomic(dataset_to_table(dataset), out, provenance)
    summary = _dataset_summary(out, data.labels, data.classes, data.split)
    emit_summary(
        summary,
        f"wrote {out}: {summary['rows']} rows, {summary['classes']} classes "
        f"({describe_splits(data.split)}), {summary['labels_per_row']['mean']} labels per row",
        json_output,
        quiet,
    )


@app.command()
@handle_errors
def inject(
    data: Annotated[Path, typer.Argument(help="Dataset Parquet file (never modified).")],
    protocol: Annotated[
        str,
        typer.Option(
            "--protocol", help=f"Noise protocol: {' | '.join(PROTOCOLS)} (see docs/methods.md)."
        ),
    ] = "pairflip",
    rate: Annotated[
        float,
        typer.Option(
            "--rate",
            min=0.0,
            max=1.0,
            help="Share of train rows to corrupt (classflip: per-class flip rate).",
        ),
    ] = 0.5,
    missing_share: Annotated[
        float,
        typer.Option(
            "--missing-share",
            min=0.0,
            max=1.0,
            help="mixed only: share of the noisy rows missing labels (the rest get spurious ones).",
        ),
    ] = 0.7,
    out: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--out",
            help="Output Parquet file.",
            show_default="DATA-stem.PROTOCOL-RATE.parquet",
        ),
    ] = None,
    seed: SeedOption = 0,
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
    """Write a noisy copy of DATA: train labels corrupted, the originals kept in clean_labels."""
    configure_logging(quiet)
    from auditor.inject import inject_into_table
    from auditor.io import (
        check_output_file,
        dataset_from_table,
        make_provenance,
        read_table,
        write_table_atomic,
    )

    if protocol not in PROTOCOLS:
        raise typer.BadParameter(
            f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}",
            param_hint="--protocol",
        )
    if out is None:
        out = data.with_name(f"{data.stem}.{protocol}-{rate:g}.parquet")
    check_output_file(out, "inject", data)
    columns: ColumnNames = column_names(
        id_column, labels_column, image_column, text_column, split_column, clean_column
    )
    table = read_table(data)
    dataset = dataset_from_table(
        table,
        source=str(data),
        columns=columns,
        classes=parse_classes(classes),
        require_embeddings=False,
    )
    # The library's remaining complaints are about the rate (a protocol that cannot reach it).
    with usage_errors(option="--rate"):
        noisy_table, result = inject_into_table(
            table,
            dataset,
            protocol=protocol,
            rate=rate,
            seed=seed,
            columns=columns,
            missing_share=missing_share,
        )
    settings: dict[str, object] = {"protocol": protocol, "rate": rate}
    if protocol == "mixed":
        settings["missing_share"] = missing_share
    provenance = make_provenance(
        "inject",
        settings=settings,
        classes=dataset.classes,
        seed=seed,
        input_path=data,
        noise={
            "noisy_rows": int(result.noisy_rows.sum()),
            "noisy_cells": int(result.noisy_cells.sum()),
            "realised_row_rate": result.realised_row_rate,
            "realised_cell_rate": result.realised_cell_rate,
        },
    )
    write_table_atomic(noisy_table, out, provenance)
    summary = {
        "output": str(out),
        "protocol": protocol,
        "rate": rate,
        "seed": seed,
        "train_rows": int(dataset.train_mask.sum()),
        "noisy_rows": int(result.noisy_rows.sum()),
        "noisy_cells": int(result.noisy_cells.sum()),
        "realised_row_rate": result.realised_row_rate,
        "realised_cell_rate": result.realised_cell_rate,
    }
    emit_summary(
        summary,
        f"wrote {out}: {protocol} at rate {rate:g} (seed {seed}) changed "
        f"{summary['noisy_rows']} of {summary['train_rows']} train rows "
        f"(realised row rate {result.realised_row_rate:.4f}) and {summary['noisy_cells']} "
        f"label cells (realised cell rate {result.realised_cell_rate:.4f})",
        json_output,
        quiet,
    )


def _write_imported(
    dataset: AuditDataset, out: Path, command: str, settings: dict, json_output: bool, quiet: bool
) -> None:
    from auditor.importers import describe_splits
    from auditor.io import dataset_to_table, make_provenance, write_table_atomic

    provenance = make_provenance(command, settings=settings, classes=dataset.classes)
    write_table_atomic(dataset_to_table(dataset), out, provenance)
    summary = _dataset_summary(out, dataset.labels, dataset.classes, dataset.split)
    noisy_rows = dataset.noisy_rows
    if noisy_rows is not None:
        summary["noisy_rows"] = int(noisy_rows.sum())
    noisy = f", {summary['noisy_rows']} noisy train rows" if "noisy_rows" in summary else ""
    emit_summary(
        summary,
        f"wrote {out}: {summary['rows']} rows, {summary['classes']} classes "
        f"({describe_splits(dataset.split)}){noisy}",
        json_output,
        quiet,
    )


@import_app.command("mirflickr25k")
@handle_errors
def import_mirflickr(
    lall: Annotated[Path, typer.Option("--lall", help="mirflickr25k-lall.mat (key LAll).")],
    yall: Annotated[Path, typer.Option("--yall", help="mirflickr25k-yall.mat (key YAll: tags).")],
    xall: Annotated[
        Path, typer.Option("--xall", help="Image features .mat (key XAll, e.g. the VGG features).")
    ],
    noise: Annotated[
        Path | None,
        typer.Option(
            "--noise",
            help="The papers' noise file (.h5, keys result/True): train rows get its noisy labels.",
        ),
    ] = None,
    xall_key: Annotated[str, typer.Option("--xall-key", help="Key of the image matrix.")] = "XAll",
    out: import_commands.OutOption = Path("mirflickr25k.parquet"),
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """MIRFlickr-25K, papers' protocol: query rows 0..1999, train 2000..11999, database the rest."""
    configure_logging(quiet)
    from auditor.importers import import_mirflickr25k
    from auditor.io import check_output_file

    check_output_file(out, "import mirflickr25k", lall, yall, xall, noise)
    dataset = import_mirflickr25k(lall, yall, xall, noise, xall_key=xall_key)
    settings = {
        "lall": str(lall),
        "yall": str(yall),
        "xall": str(xall),
        "noise": str(noise) if noise else None,
    }
    _write_imported(dataset, out, "import mirflickr25k", settings, json_output, quiet)


@import_app.command("wikipedia")
@handle_errors
def import_wiki(
    folder: Annotated[
        Path,
        typer.Argument(
            help="Folder with raw_features.mat, the two .list files and categories.list."
        ),
    ],
    out: import_commands.OutOption = Path("wikipedia.parquet"),
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """The Wikipedia dataset: train pairs become train rows, test pairs query rows."""
    configure_logging(quiet)
    from auditor.importers import import_wikipedia
    from auditor.io import check_output_file

    check_output_file(out, "import wikipedia", folder)
    dataset = import_wikipedia(folder)
    _write_imported(dataset, out, "import wikipedia", {"folder": str(folder)}, json_output, quiet)


if __name__ == "__main__":
    app()
