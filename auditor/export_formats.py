"""``audit export``: write a cleaned dataset's labels back in the format it was imported from.

The imported Parquet file carries the importer's record in its provenance (``import_source``:
format, source path and fingerprint, options), which ``audit embed`` and ``audit clean`` keep
in their provenance chain, and a ``source_row`` column, which every later step keeps. The
exporter re-reads the source (which must be unchanged: same fingerprint; ``source`` overrides
the path, e.g. after moving it) and writes a new file:

- ``coco``: the annotations file with every field kept; per image, the annotations of a removed
  category are deleted and an added category gets one image-level annotation (no geometry:
  ``bbox``/``segmentation`` absent, ``"hashaudit": "image-level label added by review"``);
  images dropped by ``audit clean --strategy drop`` are removed with their annotations; images
  the import skipped (no annotation) stay as they were.
- ``table``: the source's rows (dropped ones left out) and columns, the labels column replaced
  (an unchanged cell is written back exactly as it was; a changed one keeps its remaining tags in
  their order, then the added ones) and a ``changes`` column (``-dog|+cat``; a list in JSONL
  and Parquet). CSV, TSV, JSONL or Parquet, as the source (or by OUT's suffix).
- ``hf``: a ``save_to_disk`` folder with the labels column replaced (class numbers stay class
  numbers) and a ``changes`` column, readable by ``datasets.load_from_disk``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from auditor.dataset import DataError
from auditor.import_formats import (
    SOURCE_ROW,
    TABLE_SUFFIXES,
    hf_arrow_files,
    parse_label_cells,
    read_hf_folder,
    read_json_file,
    read_source_table,
    source_record,
)
from auditor.io import (
    atomic_output_dir,
    check_output_file,
    check_output_folder,
    read_provenance,
    read_table,
    schema_classes,
)
from auditor.tags import join_tags

FORMATS = ("coco", "table", "hf")
ADDED_MARK = "image-level label added by review"
FAMILY = {"coco": "coco", "table": "table", "folder": "table", "hf": "hf"}


@dataclass(frozen=True)
class CleanedRows:
    """The rows of a cleaned data-contract file, in source order.

    Attributes
    ----------
    source_rows : row of each in the import's source; ids : their ids;
    labels : their label names; changes : their ``-name`` / ``+name`` changes (empty lists when
    the file was never cleaned).
    """

    source_rows: list[int]
    ids: list[Any]
    labels: list[list[str]]
    changes: list[list[str]]


def import_record(provenance: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The importer's record, found along the provenance chain (embed, clean, ...), or None."""
    while provenance:
        record = provenance.get("import_source")
        if record:
            return dict(record)
        provenance = provenance.get("parent") or provenance.get("input_provenance")
    return None


def read_cleaned(path: str | Path) -> tuple[CleanedRows, dict[str, Any]]:
    """A cleaned (or just imported) file's rows and its import record."""
    path = Path(path)
    record = import_record(read_provenance(path))
    if record is None:
        raise DataError(
            "no import record in its provenance: export writes back data that `audit import "
            "coco|table|folder|hf` made",
            file=str(path),
        )
    table = read_table(path)
    for name in ("id", "labels", SOURCE_ROW):
        if name not in table.column_names:
            raise DataError(
                f"no such column (the file has: {', '.join(table.column_names)})",
                file=str(path),
                column=name,
            )
    classes = schema_classes(table.schema)
    labels = table.column("labels").to_pylist()
    if classes is not None and pa.types.is_integer(table.column("labels").type.value_type):
        labels = [[classes[i] for i in row] for row in labels]
    changes = (
        table.column("changes").to_pylist()
        if "changes" in table.column_names
        else [[] for _ in labels]
    )
    rows = CleanedRows(
        source_rows=table.column(SOURCE_ROW).to_pylist(),
        ids=table.column("id").to_pylist(),
        labels=labels,
        changes=[list(change or []) for change in changes],
    )
    order = sorted(range(len(rows.ids)), key=rows.source_rows.__getitem__)
    return CleanedRows(
        source_rows=[rows.source_rows[i] for i in order],
        ids=[rows.ids[i] for i in order],
        labels=[rows.labels[i] for i in order],
        changes=[rows.changes[i] for i in order],
    ), record


def checked_source(record: Mapping[str, Any], source: str | Path | None) -> Path:
    """The import's source path (or ``source``), refused when its content changed."""
    path = Path(source) if source is not None else Path(record["path"])
    if not path.exists():
        raise DataError(
            "the imported source is not there any more; pass --source with its new place",
            file=str(path),
        )
    now = source_record(record["format"], path)["fingerprint"]
    if now != record["fingerprint"]:
        raise DataError(
            "this is not the file the data was imported from (its fingerprint differs)",
            file=str(path),
        )
    return path


def merged_tags(original: Sequence[str], labels: Sequence[str]) -> list[str]:
    """The new tag list: the original tags still wanted, in their order, then the added ones."""
    wanted = set(labels)
    kept = [tag for tag in original if tag in wanted]
    return kept + [tag for tag in labels if tag not in set(original)]


# -------------------------------------------------------------------------------------- COCO
def export_coco(rows: CleanedRows, record: Mapping[str, Any], source: Path) -> dict[str, Any]:
    """The new COCO document and counts (see the module docstring)."""
    document = read_json_file(source)
    category_ids: dict[str, Any] = dict(record["category_ids"])
    labels_of = {
        image_id: set(labels) for image_id, labels in zip(rows.ids, rows.labels, strict=True)
    }
    skipped = set(record.get("skipped_image_ids") or [])
    kept_images = [
        image for image in document["images"] if image["id"] in labels_of or image["id"] in skipped
    ]
    dropped = len(document["images"]) - len(kept_images)
    name_of = {category: name for name, category in category_ids.items()}
    annotations = []
    present: dict[Any, set[str]] = {}
    removed = 0
    for annotation in document["annotations"]:
        image_id = annotation["image_id"]
        if image_id in skipped:
            annotations.append(annotation)
            continue
        if image_id not in labels_of:
            continue
        name = name_of[annotation["category_id"]]
        if name not in labels_of[image_id]:
            removed += 1
            continue
        present.setdefault(image_id, set()).add(name)
        annotations.append(annotation)
    next_id = max((a["id"] for a in document["annotations"] if isinstance(a["id"], int)), default=0)
    added = 0
    for image_id, labels in zip(rows.ids, rows.labels, strict=True):
        for name in labels:
            if name in present.get(image_id, set()):
                continue
            next_id += 1
            added += 1
            annotations.append(
                {
                    "id": next_id,
                    "image_id": image_id,
                    "category_id": category_ids[name],
                    "iscrowd": 0,
                    "hashaudit": ADDED_MARK,
                }
            )
    new_document = {**document, "images": kept_images, "annotations": annotations}
    counts = {
        "images": len(kept_images),
        "images_dropped": dropped,
        "annotations_removed": removed,
        "annotations_added": added,
    }
    return {"document": new_document, "counts": counts}


def write_json_file(document: Any, out: Path) -> None:
    """JSON (unicode kept as is) via a temporary name renamed into place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        temporary.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        os.replace(temporary, out)
    finally:
        if temporary.exists():
            temporary.unlink()


# ------------------------------------------------------------------------------------- tables
def _new_cells(
    original_cells: Sequence[Any], rows: CleanedRows, sep: str | None, file: str, column: str
) -> list[Any]:
    """The labels cells to write: unchanged rows' cells verbatim, changed rows' rebuilt."""
    original_labels, _ = parse_label_cells(original_cells, sep=sep, file=file, column=column)
    cells = []
    for cell, before, after in zip(original_cells, original_labels, rows.labels, strict=True):
        if set(before) == set(after):
            cells.append(cell)
            continue
        tags = merged_tags(before, after)
        cells.append(tags if sep is None else join_tags(tags, sep))
    return cells


def export_table(
    rows: CleanedRows, record: Mapping[str, Any], source: Path, out: Path
) -> dict[str, Any]:
    """Write the source table's rows with the labels column replaced and ``changes``."""
    fmt = record["table_format"]
    out_format = TABLE_SUFFIXES.get(out.suffix.lower(), fmt)
    labels_column = record["columns"]["labels"]
    sep = record.get("label_sep")
    if fmt == "parquet" and out_format == "parquet":
        table = pq.read_table(source).take(pa.array(rows.source_rows, type=pa.int64()))
        original = table.column(labels_column).to_pylist()
        cells = _new_cells(original, rows, sep, str(source), labels_column)
        index = table.schema.get_field_index(labels_column)
        table = table.set_column(index, labels_column, pa.array(cells))
        table = table.append_column("changes", pa.array(rows.changes, type=pa.list_(pa.string())))
        _write_atomic(out, lambda path: pq.write_table(table, path))
        return {"rows": table.num_rows}
    frame = read_source_table(source, fmt).iloc[rows.source_rows].reset_index(drop=True)
    original = [None if value is None else value for value in frame[labels_column].tolist()]
    frame[labels_column] = _new_cells(original, rows, sep, str(source), labels_column)
    if out_format in ("csv", "tsv"):
        frame["changes"] = [join_tags(change, "|") for change in rows.changes]
        delimiter = "," if out_format == "csv" else "\t"
        _write_atomic(out, lambda path: frame.to_csv(path, index=False, sep=delimiter))
    elif out_format == "jsonl":
        frame["changes"] = rows.changes
        _write_atomic(
            out,
            lambda path: frame.to_json(path, orient="records", lines=True, force_ascii=False),
        )
    else:
        frame["changes"] = rows.changes
        _write_atomic(out, lambda path: frame.to_parquet(path, index=False))
    return {"rows": len(frame), "format": out_format}


def _write_atomic(out: Path, write: Any) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.tmp-{os.getpid()}{out.suffix}")
    try:
        write(temporary)
        os.replace(temporary, out)
    finally:
        if temporary.exists():
            temporary.unlink()


# ---------------------------------------------------------------------------------------- hf
def export_hf(
    rows: CleanedRows, record: Mapping[str, Any], source: Path, out: Path
) -> dict[str, Any]:
    """Write a ``save_to_disk`` folder: the source's rows, labels replaced, ``changes`` added."""
    table, features = read_hf_folder(source)
    labels_column = record["columns"]["labels"]
    table = table.take(pa.array(rows.source_rows, type=pa.int64()))
    original = table.column(labels_column).to_pylist()
    feature = features.get(labels_column, {})
    names = None
    inner = feature.get("feature", feature) if isinstance(feature, Mapping) else {}
    if isinstance(inner, Mapping) and inner.get("_type") == "ClassLabel":
        names = [str(name) for name in inner.get("names", [])]
    if names is not None:
        as_names = [[names[i] for i in value] for value in original]
        new = _new_cells(as_names, rows, None, str(source), labels_column)
        cells: list[Any] = [[names.index(tag) for tag in value] for value in new]
    else:
        cells = _new_cells(original, rows, record.get("label_sep"), str(source), labels_column)
    index = table.schema.get_field_index(labels_column)
    field = table.schema.field(index)
    table = table.set_column(index, field, pa.array(cells, type=field.type))
    table = table.append_column("changes", pa.array(rows.changes, type=pa.list_(pa.string())))
    features = {
        **features,
        "changes": {"feature": {"dtype": "string", "_type": "Value"}, "_type": "List"},
    }
    info_path = source / "dataset_info.json"
    info = read_json_file(info_path) if info_path.is_file() else {}
    info = {**info, "features": features}
    metadata = dict(table.schema.metadata or {})
    metadata[b"huggingface"] = json.dumps({"info": {"features": features}}).encode()
    table = table.replace_schema_metadata(metadata)
    state = read_json_file(source / "state.json")
    with atomic_output_dir(out, "export hf", source) as folder:
        name = "data-00000-of-00001.arrow"
        with (
            pa.OSFile(str(folder / name), "wb") as sink,
            pa.ipc.new_stream(sink, table.schema) as writer,
        ):
            writer.write_table(table)
        digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()[:16]
        state = {**state, "_data_files": [{"filename": name}], "_fingerprint": digest}
        (folder / "state.json").write_text(json.dumps(state, indent=2))
        (folder / "dataset_info.json").write_text(json.dumps(info, indent=2))
    return {"rows": table.num_rows, "shards_in": len(hf_arrow_files(source))}


# ------------------------------------------------------------------------------------ facade
def export_file(
    data: str | Path, to: str, out: str | Path, *, source: str | Path | None = None
) -> dict[str, Any]:
    """``audit export DATA --to coco|table|hf -o OUT``: the summary of what was written."""
    if to not in FORMATS:
        raise DataError(f"unknown export format {to!r}; choose one of {', '.join(FORMATS)}")
    data, out = Path(data), Path(out)
    rows, record = read_cleaned(data)
    family = FAMILY.get(record["format"])
    if family != to:
        raise DataError(
            f"the data was imported from {record['format']}: export --to {family}",
            file=str(data),
        )
    source_path = checked_source(record, source)
    if to == "hf":
        check_output_folder(out, "export hf", data, source_path)
    else:
        check_output_file(out, f"export {to}", data, source_path)
    summary: dict[str, Any] = {"output": str(out), "to": to, "source": str(source_path)}
    if to == "coco":
        exported = export_coco(rows, record, source_path)
        write_json_file(exported["document"], out)
        summary.update(exported["counts"])
    elif to == "table":
        summary.update(export_table(rows, record, source_path, out))
    else:
        summary.update(export_hf(rows, record, source_path, out))
    summary["rows_changed"] = sum(1 for change in rows.changes if change)
    return summary
