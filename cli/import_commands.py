"""`audit import coco|table|folder|hf`: a user's own data into the data contract.

Registered in cli/main.py on the ``import`` sub-app. The importers live in
auditor/import_formats.py; here: options, the atomic write with provenance, one status line.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import typer

from auditor.io import check_output_file, make_provenance, write_table_atomic
from cli.common import JsonOption, QuietOption, configure_logging, emit_json, handle_errors, status

if TYPE_CHECKING:
    from auditor.import_formats import ImportedData, TableColumns

OutOption = Annotated[Path, typer.Option("-o", "--out", help="Parquet file to write.")]
EmbedBytesOption = Annotated[
    bool,
    typer.Option(
        "--embed-bytes",
        help="Store the image bytes in the Parquet file (struct<bytes, path>) instead of paths.",
    ),
]
ImageColumnOption = Annotated[
    str | None, typer.Option("--image-column", help="Column of image file paths.")
]
TextColumnOption = Annotated[str | None, typer.Option("--text-column", help="Column of texts.")]
LabelsColumnOption = Annotated[
    str, typer.Option("--labels-column", help="Column of tags: delimited text or a list.")
]
LabelSepOption = Annotated[
    str | None,
    typer.Option(
        "--label-sep",
        help="Separator of delimited tags (one character; default: detected among | ; ,). "
        'A tag containing it is written in double quotes: "rock|roll"|guitar.',
    ),
]
IdColumnOption = Annotated[
    str | None,
    typer.Option("--id-column", help="Column of unique ids.", show_default="row numbers"),
]
SplitColumnOption = Annotated[
    str | None,
    typer.Option(
        "--split-column",
        help="Column of splits train/query/database.",
        show_default="all train",
    ),
]

NoImageOption = Annotated[bool, typer.Option("--no-image", help="There is no image column.")]
NoTextOption = Annotated[bool, typer.Option("--no-text", help="There is no text column.")]


def write_imported(
    imported: ImportedData, out: Path, command: str, json_output: bool, quiet: bool
) -> None:
    """Write the contract table atomically with provenance; one status line (or JSON)."""
    provenance = make_provenance(
        command,
        settings={key: value for key, value in imported.record.items() if key != "category_ids"},
        classes=imported.classes,
        import_source=imported.record,
    )
    write_table_atomic(imported.table, out, provenance)
    labels = imported.table.column("labels").to_pylist()
    per_row = np.array([len(row) for row in labels])
    summary = {
        "output": str(out),
        "rows": imported.table.num_rows,
        "classes": len(imported.classes),
        "labels_per_row": round(float(per_row.mean()), 3),
        "has_text": "text" in imported.table.column_names,
        "has_image": "image" in imported.table.column_names,
        "notes": list(imported.notes),
    }
    if json_output:
        emit_json(summary)
        return
    for note in imported.notes:
        status(f"note: {note}", quiet)
    status(
        f"wrote {out}: {summary['rows']} rows, {summary['classes']} classes, "
        f"{summary['labels_per_row']} labels per row",
        quiet,
    )


def run_import(
    command: str,
    out: Path,
    sources: tuple[Path | None, ...],
    read_source: Callable[[], ImportedData],
    json_output: bool,
    quiet: bool,
) -> None:
    """The steps every import shares: refuse an ``out`` it must not replace (or one of the
    ``sources``), read the source, write the table and say so."""
    check_output_file(out, command, *sources)
    write_imported(read_source(), out, command, json_output, quiet)


def table_columns(
    image: str | None,
    text: str | None,
    labels: str,
    id_column: str | None,
    split: str | None,
    no_image: bool = False,
    no_text: bool = False,
) -> TableColumns:
    """The source columns the options name; ``--no-image`` / ``--no-text`` leave a view out."""
    from auditor.import_formats import TableColumns

    return TableColumns(
        None if no_image else image, None if no_text else text, labels, id_column, split
    )


@handle_errors
def coco(
    annotations: Annotated[Path, typer.Argument(help="COCO instances file (annotations JSON).")],
    images: Annotated[Path, typer.Option("--images", help="Folder of the images' file_name.")],
    captions: Annotated[
        Path | None, typer.Option("--captions", help="COCO captions file: gives the texts.")
    ] = None,
    first_caption: Annotated[
        bool, typer.Option("--first-caption", help="Text = the first caption, not all joined.")
    ] = False,
    skip_unlabelled: Annotated[
        bool,
        typer.Option(
            "--skip-unlabelled", help="Leave out images without annotations instead of stopping."
        ),
    ] = False,
    embed_bytes: EmbedBytesOption = False,
    out: OutOption = Path("coco.parquet"),
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """COCO: one row per image; labels = its annotations' category names; id = image id."""
    configure_logging(quiet)
    from auditor.import_formats import import_coco  # pandas only when importing

    read_source = partial(
        import_coco,
        annotations,
        images,
        captions=captions,
        caption_mode="first" if first_caption else "join",
        skip_unlabelled=skip_unlabelled,
        embed_bytes=embed_bytes,
    )
    run_import("import coco", out, (annotations, captions), read_source, json_output, quiet)


@handle_errors
def table(
    file: Annotated[Path, typer.Argument(help="A .csv, .tsv, .jsonl or .parquet table.")],
    image_column: ImageColumnOption = "image",
    text_column: TextColumnOption = "text",
    labels_column: LabelsColumnOption = "labels",
    label_sep: LabelSepOption = None,
    id_column: IdColumnOption = None,
    split_column: SplitColumnOption = None,
    images_root: Annotated[
        Path | None,
        typer.Option(
            "--images-root",
            help="Relative image paths start here.",
            show_default="FILE's folder",
        ),
    ] = None,
    no_image: NoImageOption = False,
    no_text: NoTextOption = False,
    embed_bytes: EmbedBytesOption = False,
    out: OutOption = Path("table.parquet"),
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """A CSV / TSV / JSONL / Parquet table with an image path, a text and tags per row."""
    configure_logging(quiet)
    from auditor.import_formats import import_table

    columns = table_columns(
        image_column, text_column, labels_column, id_column, split_column, no_image, no_text
    )
    read_source = partial(
        import_table,
        file,
        columns,
        label_sep=label_sep,
        images_root=images_root,
        embed_bytes=embed_bytes,
    )
    run_import("import table", out, (file,), read_source, json_output, quiet)


@handle_errors
def folder(
    directory: Annotated[Path, typer.Argument(help="Folder of images with a sidecar table.")],
    sidecar: Annotated[
        Path | None,
        typer.Option(
            "--sidecar", help="The table.", show_default="DIR/metadata.csv or metadata.jsonl"
        ),
    ] = None,
    image_column: ImageColumnOption = "file_name",
    text_column: TextColumnOption = "text",
    labels_column: LabelsColumnOption = "labels",
    label_sep: LabelSepOption = None,
    id_column: IdColumnOption = None,
    split_column: SplitColumnOption = None,
    embed_bytes: EmbedBytesOption = False,
    out: OutOption = Path("folder.parquet"),
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """DIR/<images> + a sidecar CSV/JSONL whose file_name column names them (relative to DIR)."""
    configure_logging(quiet)
    from auditor.import_formats import import_folder

    columns = table_columns(image_column, text_column, labels_column, id_column, split_column)
    read_source = partial(
        import_folder,
        directory,
        sidecar=sidecar,
        columns=columns,
        label_sep=label_sep,
        embed_bytes=embed_bytes,
    )
    run_import("import folder", out, (sidecar, directory), read_source, json_output, quiet)


@handle_errors
def hf(
    directory: Annotated[Path, typer.Argument(help="A Dataset.save_to_disk folder (one split).")],
    image_column: ImageColumnOption = "image",
    text_column: TextColumnOption = "text",
    labels_column: LabelsColumnOption = "labels",
    label_sep: LabelSepOption = None,
    id_column: IdColumnOption = None,
    split_column: SplitColumnOption = None,
    no_image: NoImageOption = False,
    no_text: NoTextOption = False,
    embed_bytes: EmbedBytesOption = False,
    out: OutOption = Path("hf.parquet"),
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """A Hugging Face `datasets` folder written by save_to_disk, read with pyarrow."""
    configure_logging(quiet)
    from auditor.import_formats import import_hf

    columns = table_columns(
        image_column, text_column, labels_column, id_column, split_column, no_image, no_text
    )
    read_source = partial(
        import_hf, directory, columns, label_sep=label_sep, embed_bytes=embed_bytes
    )
    run_import("import hf", out, (directory,), read_source, json_output, quiet)
