"""Importers for a user's own data: COCO, tables (CSV/TSV/JSONL/Parquet), image folders, and
Hugging Face ``datasets`` folders written by ``save_to_disk``.

Each importer reads the user's files with a real parser (``json``, pandas, pyarrow), checks them
once at this edge and returns an :class:`ImportedData`: the data-contract table (``id``,
``labels`` as class names, raw ``image`` / ``text`` for ``audit embed``, ``split``, and
``source_row``: the row's position in the source, which ``audit export`` uses to write the
cleaned labels back into the user's format) plus the ``import_source`` record kept in the
provenance.

Bad input is a :class:`~auditor.dataset.DataError` naming the file, the column (or COCO field)
and the row: a missing image file, an unknown category id, an empty tag cell, a malformed JSON
line (its line number), duplicate image ids, mixed label separators. Nothing is written here.

Delimited tag cells (``"dog|cat"``) are split with the ``csv`` module, so a tag that contains
the separator is written in double quotes: ``"rock|roll"|guitar`` is the two tags ``rock|roll``
and ``guitar``. A tag that contains another common separator (``| ; ,``) outside quotes is taken
for a cell written with a different separator: "mixed separators", an error.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from auditor.dataset import DataError
from auditor.io import check_unique_ids, dataset_from_table, path_fingerprint
from auditor.tags import (
    QUOTED,
    SEPARATOR_CANDIDATES,
    MixedSeparators,
    detect_separator,
    split_tags,
)

SOURCE_ROW = "source_row"
TABLE_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
TABLE_SUFFIXES.update({".parquet": "parquet", ".pq": "parquet"})
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
FOLDER_SIDECARS = ("metadata.csv", "metadata.jsonl")


@dataclass(frozen=True)
class ImportedData:
    """A user's dataset in the data contract, ready to be written.

    Attributes
    ----------
    table : id, labels (list<string>), image (path string or struct<bytes, path>), text,
        split, source_row.
    classes : the class names (COCO: every category, in category-id order; otherwise sorted).
    record : what ``audit export`` needs to write back (format, source path and fingerprint,
        the options used), stored in the provenance under ``import_source``.
    notes : things the user should know (rows skipped and why).
    """

    table: pa.Table
    classes: tuple[str, ...]
    record: dict[str, Any]
    notes: tuple[str, ...] = field(default=())


def parse_label_cells(
    values: Sequence[Any], *, sep: str | None, file: str, column: str
) -> tuple[list[list[str]], str | None]:
    """A labels column -> one list of tag names per row, and the separator used.

    ``values`` holds strings (delimited tags: ``sep``, or detected when None) or lists of
    strings (JSONL arrays, Parquet lists; no separator). Empty or null cells, empty tags and
    mixed separators are DataErrors naming the row.
    """
    is_text = [isinstance(value, str) for value in values]
    cells: list[str] = [value for value in values if isinstance(value, str)]
    if cells and sep is None:
        try:
            sep = detect_separator(cells)
        except MixedSeparators as error:
            rows = [row for row, text in enumerate(is_text) if text]
            raise DataError(str(error), file=file, column=column, row=rows[error.row]) from None
    others = [candidate for candidate in SEPARATOR_CANDIDATES if candidate != sep]
    labels: list[list[str]] = []
    for row, value in enumerate(values):
        if value is None or (isinstance(value, float) and np.isnan(value)):
            raise DataError("empty tag cell (null)", file=file, column=column, row=row)
        if isinstance(value, str):
            assert sep is not None
            if not value.strip():
                raise DataError("empty tag cell", file=file, column=column, row=row)
            tags = split_tags(value, sep)
            bare = QUOTED.sub("", value)
            mixed = [other for other in others if other in bare]
            if mixed:
                raise DataError(
                    f"mixed separators: {value!r} holds {mixed[0]!r} outside quotes but the "
                    f"separator is {sep!r} (quote tags that contain it; --label-sep sets it)",
                    file=file,
                    column=column,
                    row=row,
                )
        elif isinstance(value, list | tuple | np.ndarray):
            if len(value) == 0:
                raise DataError("empty tag cell (empty list)", file=file, column=column, row=row)
            if not all(isinstance(tag, str) for tag in value):
                raise DataError("a tag that is not a string", file=file, column=column, row=row)
            tags = [tag.strip() for tag in value]
        else:
            raise DataError(
                f"wrong type {type(value).__name__}: expected delimited tags or a list of tags",
                file=file,
                column=column,
                row=row,
            )
        if any(not tag for tag in tags):
            raise DataError(f"empty tag in {value!r}", file=file, column=column, row=row)
        labels.append(list(dict.fromkeys(tags)))
    return labels, sep


# ------------------------------------------------------------------------------- shared parts
def resolve_images(names: Sequence[Any], root: Path, *, file: str, column: str) -> list[str]:
    """Image file names (relative to ``root``, or absolute) -> absolute path strings; a missing
    file, a folder or an empty cell is a DataError naming the row."""
    paths = []
    for row, name in enumerate(names):
        if not isinstance(name, str) or not name.strip():
            raise DataError("no image file name", file=file, column=column, row=row)
        path = Path(name).expanduser()
        path = path if path.is_absolute() else root / path
        if not path.is_file():
            what = "is a folder" if path.is_dir() else "not found"
            raise DataError(f"image file {what}: {path}", file=file, column=column, row=row)
        paths.append(str(path.resolve()))
    return paths


def image_array(paths: Sequence[str], embed_bytes: bool) -> pa.Array:
    """Path strings, or with ``embed_bytes`` the Hugging Face ``struct<bytes, path>``."""
    if not embed_bytes:
        return pa.array(list(paths), type=pa.string())
    return pa.array(
        [{"bytes": Path(path).read_bytes(), "path": Path(path).name} for path in paths],
        type=pa.struct([("bytes", pa.binary()), ("path", pa.string())]),
    )


def contract_table(
    *,
    ids: Sequence[Any],
    labels: Sequence[Sequence[str]],
    image: pa.Array | None,
    text: Sequence[str | None] | None,
    split: Sequence[str] | None,
    source_rows: Sequence[int],
    classes: Sequence[str],
    file: str,
) -> pa.Table:
    """The data-contract table of imported rows, validated by :func:`dataset_from_table`."""
    id_values = list(ids)
    id_type = pa.int64() if all(isinstance(v, int | np.integer) for v in id_values) else None
    if id_type is None:
        id_values = [str(value) for value in id_values]
    columns: dict[str, pa.Array] = {
        "id": pa.array(id_values, type=id_type or pa.string()),
        "labels": pa.array([list(row) for row in labels], type=pa.list_(pa.string())),
    }
    if image is not None:
        columns["image"] = image
    if text is not None:
        columns["text"] = pa.array(list(text), type=pa.string())
    columns["split"] = pa.array(
        list(split) if split is not None else ["train"] * len(id_values), type=pa.string()
    )
    columns[SOURCE_ROW] = pa.array(list(source_rows), type=pa.int64())
    table = pa.table(columns)
    dataset_from_table(
        table, source=file, classes=list(classes), require_embeddings=False
    )  # the contract's own checks (split names, class names) on what we built
    return table


def source_record(fmt: str, path: Path, **options: Any) -> dict[str, Any]:
    """The ``import`` provenance record: format, absolute source path and fingerprint (of the
    file, or of a folder's files), options."""
    fingerprint = path_fingerprint(path)
    return {"format": fmt, "path": str(path.resolve()), "fingerprint": fingerprint, **options}


# ------------------------------------------------------------------------------------- COCO
def read_json_file(path: Path) -> Any:
    """A whole JSON file; unreadable or malformed -> DataError with the line number."""
    if not path.is_file():
        raise DataError("no such file", file=str(path))
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as error:
        raise DataError(
            f"malformed JSON on line {error.lineno} ({error.msg})", file=str(path)
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"cannot read the file ({error})", file=str(path)) from None


def _coco_list(document: Any, key: str, path: Path) -> list[dict[str, Any]]:
    if not isinstance(document, dict) or not isinstance(document.get(key), list):
        raise DataError(f"not a COCO file: no '{key}' list", file=str(path), column=key)
    items = document[key]
    for row, item in enumerate(items):
        if not isinstance(item, dict) or "id" not in item:
            raise DataError("an entry without an 'id'", file=str(path), column=key, row=row)
    return items


def coco_categories(document: Any, path: Path) -> dict[int, str]:
    """Category id -> name (in id order); repeated ids or names are DataErrors."""
    categories = _coco_list(document, "categories", path)
    names: dict[int, str] = {}
    for row, category in enumerate(categories):
        name = category.get("name")
        if not isinstance(name, str) or not name:
            raise DataError("category without a name", file=str(path), column="categories", row=row)
        if category["id"] in names:
            raise DataError(
                f"duplicate category id {category['id']!r}",
                file=str(path),
                column="categories",
                row=row,
            )
        if name in names.values():
            raise DataError(
                f"duplicate category name {name!r}", file=str(path), column="categories", row=row
            )
        names[category["id"]] = name
    return dict(sorted(names.items()))


def import_coco(
    annotations: str | Path,
    images: str | Path,
    *,
    captions: str | Path | None = None,
    caption_mode: str = "join",
    skip_unlabelled: bool = False,
    embed_bytes: bool = False,
) -> ImportedData:
    """COCO instances (+ optional captions) -> one row per image.

    ``labels``: the names of the categories of the image's annotations (a set); ``text``: its
    captions joined with a space (``caption_mode="join"``) or the first one (``"first"``);
    ``image``: the file under ``images``; ``id``: the COCO image id. Images without any
    annotation are an error naming the first, or with ``skip_unlabelled`` skipped (their ids
    go to the import record so the export keeps them as they were).
    """
    if caption_mode not in ("join", "first"):
        raise ValueError(f"caption mode is 'join' or 'first', got {caption_mode!r}")
    annotations, images = Path(annotations), Path(images)
    file = str(annotations)
    document = read_json_file(annotations)
    image_entries = _coco_list(document, "images", annotations)
    names = coco_categories(document, annotations)
    image_ids = [entry["id"] for entry in image_entries]
    check_unique_ids(image_ids, file=file, column="images.id")
    position = {image_id: row for row, image_id in enumerate(image_ids)}
    labels: list[set[str]] = [set() for _ in image_entries]
    known_ids: dict[str, Container[Any]] = {"category_id": names, "image_id": position}
    for row, annotation in enumerate(_coco_list(document, "annotations", annotations)):
        for key, known in known_ids.items():
            if annotation.get(key) not in known:
                raise DataError(
                    f"unknown {key.replace('_', ' ')} {annotation.get(key)!r} "
                    f"(annotation id {annotation['id']!r})",
                    file=file,
                    column=f"annotations.{key}",
                    row=row,
                )
        labels[position[annotation.get("image_id")]].add(names[annotation["category_id"]])
    unlabelled = [row for row, found in enumerate(labels) if not found]
    notes = []
    if unlabelled and not skip_unlabelled:
        raise DataError(
            f"{len(unlabelled)} images have no annotation (first: id "
            f"{image_ids[unlabelled[0]]!r}); --skip-unlabelled leaves them out",
            file=file,
            column="images",
            row=unlabelled[0],
        )
    if unlabelled:
        notes.append(f"{len(unlabelled)} images without any annotation skipped")
    kept = [row for row, found in enumerate(labels) if found]
    texts = None
    if captions is not None:
        texts = _coco_captions(Path(captions), [image_ids[row] for row in kept], caption_mode)
    paths = resolve_images(
        [image_entries[row].get("file_name") for row in kept],
        images,
        file=file,
        column="images.file_name",
    )
    order = list(names.values())
    table = contract_table(
        ids=[image_ids[row] for row in kept],
        labels=[sorted(labels[row], key=order.index) for row in kept],
        image=image_array(paths, embed_bytes),
        text=texts,
        split=None,
        source_rows=kept,
        classes=order,
        file=file,
    )
    record = source_record(
        "coco",
        annotations,
        images=str(images.resolve()),
        captions=None if captions is None else str(Path(captions).resolve()),
        caption_mode=caption_mode,
        skipped_image_ids=[image_ids[row] for row in unlabelled],
        category_ids={name: category for category, name in names.items()},
    )
    return ImportedData(table=table, classes=tuple(order), record=record, notes=tuple(notes))


def _coco_captions(path: Path, image_ids: Sequence[Any], mode: str) -> list[str]:
    """One text per image id from a COCO captions file (annotation order); an image without a
    caption is a DataError."""
    document = read_json_file(path)
    found: dict[Any, list[str]] = {}
    for row, annotation in enumerate(_coco_list(document, "annotations", path)):
        caption = annotation.get("caption")
        if not isinstance(caption, str):
            raise DataError(
                "annotation without a 'caption' string",
                file=str(path),
                column="annotations.caption",
                row=row,
            )
        found.setdefault(annotation.get("image_id"), []).append(caption.strip())
    texts = []
    for image_id in image_ids:
        if image_id not in found:
            raise DataError(
                f"image id {image_id!r} has no caption",
                file=str(path),
                column="annotations.image_id",
            )
        texts.append(" ".join(found[image_id]) if mode == "join" else found[image_id][0])
    return texts


# ------------------------------------------------------------------------------------ tables
def table_format(path: Path) -> str:
    """csv / tsv / jsonl / parquet from the file name; anything else is a DataError."""
    fmt = TABLE_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise DataError(
            f"unknown table format {path.suffix!r}: expected {', '.join(sorted(TABLE_SUFFIXES))}",
            file=str(path),
        )
    return fmt


def read_source_table(path: Path, fmt: str | None = None) -> pd.DataFrame:
    """A CSV/TSV (every cell a string, nothing turned into NaN), JSONL or Parquet file."""
    if not path.is_file():
        raise DataError("no such file", file=str(path))
    fmt = fmt or table_format(path)
    try:
        if fmt in ("csv", "tsv"):
            return pd.read_csv(
                path,
                sep="," if fmt == "csv" else "\t",
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                encoding="utf-8",
            )
        if fmt == "parquet":
            return pq.read_table(path).to_pandas(types_mapper=None)
        return _read_jsonl(path)
    except DataError:
        raise
    except (ValueError, OSError, pa.ArrowException, UnicodeDecodeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(f"not a readable {fmt} file ({first})", file=str(path)) from None


def _read_jsonl(path: Path) -> pd.DataFrame:
    """One JSON object per line (blank lines skipped); a malformed line names its number."""
    records = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(
                    f"malformed JSON on line {number} ({error.msg})", file=str(path)
                ) from None
            if not isinstance(record, dict):
                raise DataError(f"line {number} is not a JSON object", file=str(path))
            records.append(record)
    return pd.DataFrame.from_records(records)


@dataclass(frozen=True)
class TableColumns:
    """Which source columns hold what (``audit import table`` options)."""

    image: str | None = "image"
    text: str | None = "text"
    labels: str = "labels"
    id: str | None = None
    split: str | None = None


def _column(frame: pd.DataFrame, name: str, file: str, option: str) -> list[Any]:
    if name not in frame.columns:
        raise DataError(
            f"no such column (the file has: {', '.join(map(str, frame.columns))}); see {option}",
            file=file,
            column=name,
        )
    return [None if _is_missing(value) else value for value in frame[name].tolist()]


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def import_table(
    path: str | Path,
    columns: TableColumns = TableColumns(),
    *,
    label_sep: str | None = None,
    images_root: str | Path | None = None,
    embed_bytes: bool = False,
    fmt: str | None = None,
    record_format: str = "table",
) -> ImportedData:
    """A CSV / TSV / JSONL / Parquet table -> the data contract.

    Image paths are relative to ``images_root`` (default: the table's folder). Ids are the
    ``columns.id`` values, or the 0-based data row when it is None.
    """
    path = Path(path)
    file = str(path)
    frame = read_source_table(path, fmt)
    if frame.empty:
        raise DataError("the file has no rows", file=file)
    labels, sep = parse_label_cells(
        _column(frame, columns.labels, file, "--labels-column"),
        sep=label_sep,
        file=file,
        column=columns.labels,
    )

    def read(column: str, option: str) -> list[Any]:
        return _column(frame, column, file, option)

    def image_of(column: str) -> pa.Array:
        root = Path(images_root) if images_root is not None else path.parent
        names = read(column, "--image-column")
        return image_array(resolve_images(names, root, file=file, column=column), embed_bytes)

    classes = sorted({tag for row in labels for tag in row})
    table = _contract_of_columns(read, image_of, len(frame), columns, labels, classes, file)
    record = source_record(
        record_format,
        path,
        table_format=fmt or table_format(path),
        columns=asdict(columns),
        label_sep=sep,
        labels_are_lists=sep is None,
        images_root=str(Path(images_root).resolve()) if images_root is not None else None,
    )
    return ImportedData(table=table, classes=tuple(classes), record=record)


def _contract_of_columns(
    read: Callable[[str, str], list[Any]],
    image_of: Callable[[str], pa.Array],
    n_rows: int,
    columns: TableColumns,
    labels: Sequence[Sequence[str]],
    classes: Sequence[str],
    file: str,
) -> pa.Table:
    """The contract table of a source's ``n_rows`` rows from the columns ``columns`` names:
    ``read(column, option)`` gives a column's cells (a DataError naming the column, and the
    ``option`` that chose it, when it is missing), ``image_of(column)`` the image column's
    array. Ids default to the 0-based row; the columns are read in the order id, image, text,
    split, so the first missing one is the one reported."""
    ids: list[Any] = list(range(n_rows))
    if columns.id is not None:
        ids = [_id_value(value) for value in read(columns.id, "--id-column")]
        check_unique_ids(ids, file=file, column=columns.id)
    image = image_of(columns.image) if columns.image is not None else None
    text = None
    if columns.text is not None:
        text = _text_cells(read(columns.text, "--text-column"), file, columns.text)
    split = None
    if columns.split is not None:
        split = [str(v) for v in read(columns.split, "--split-column")]
    return contract_table(
        ids=ids,
        labels=labels,
        image=image,
        text=text,
        split=split,
        source_rows=range(n_rows),
        classes=classes,
        file=file,
    )


def _id_value(value: Any) -> Any:
    """Ids stay ints when they are whole numbers (``"17"`` in a CSV stays the string)."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _text_cells(values: Sequence[Any], file: str, column: str) -> list[str | None]:
    texts: list[str | None] = []
    for row, value in enumerate(values):
        if value is not None and not isinstance(value, str):
            raise DataError(
                f"wrong type {type(value).__name__}: expected text",
                file=file,
                column=column,
                row=row,
            )
        texts.append(value)
    return texts


# ------------------------------------------------------------------------------------ folders
def import_folder(
    folder: str | Path,
    *,
    sidecar: str | Path | None = None,
    columns: TableColumns = TableColumns(image="file_name"),
    label_sep: str | None = None,
    embed_bytes: bool = False,
) -> ImportedData:
    """``DIR/<images>`` with a sidecar table (default ``DIR/metadata.csv`` or
    ``metadata.jsonl``, the Hugging Face imagefolder convention: a ``file_name`` column of
    paths relative to DIR). Images in the folder that the sidecar does not list are noted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("no such folder", file=str(folder))
    if sidecar is None:
        found = [folder / name for name in FOLDER_SIDECARS if (folder / name).is_file()]
        if not found:
            raise DataError(
                f"no sidecar file: expected {' or '.join(FOLDER_SIDECARS)} (or pass --sidecar)",
                file=str(folder),
            )
        sidecar = found[0]
    imported = import_table(
        sidecar,
        columns,
        label_sep=label_sep,
        images_root=folder,
        embed_bytes=embed_bytes,
        record_format="folder",
    )
    listed = set()
    if columns.image is not None:
        image = imported.table.column("image")
        listed = {
            Path(value["path"] if isinstance(value, dict) else value).name
            for value in image.to_pylist()
        }
    unlisted = [
        path.name
        for path in sorted(folder.rglob("*"))
        if path.suffix.lower() in IMAGE_SUFFIXES and path.name not in listed
    ]
    notes = list(imported.notes)
    if unlisted:
        notes.append(
            f"{len(unlisted)} images in {folder} are not in the sidecar and were left out "
            f"(first: {unlisted[0]})"
        )
    record = {**imported.record, "folder": str(folder.resolve())}
    return ImportedData(
        table=imported.table, classes=imported.classes, record=record, notes=tuple(notes)
    )


# ------------------------------------------------------------------------ Hugging Face folders
def hf_arrow_files(folder: Path) -> list[Path]:
    """The Arrow shards of a ``save_to_disk`` folder, from its ``state.json``."""
    if not folder.is_dir():
        raise DataError("no such folder", file=str(folder))
    if (folder / "dataset_dict.json").is_file():
        splits = json.loads((folder / "dataset_dict.json").read_text()).get("splits", [])
        raise DataError(
            f"a DatasetDict: import one split folder (one of: {', '.join(map(str, splits))})",
            file=str(folder),
        )
    state_path = folder / "state.json"
    state = read_json_file(state_path)
    files = state.get("_data_files") if isinstance(state, dict) else None
    if not isinstance(files, list) or not files:
        raise DataError("no '_data_files' list: not a save_to_disk folder", file=str(state_path))
    return [folder / str(entry.get("filename")) for entry in files]


def read_hf_folder(folder: Path) -> tuple[pa.Table, dict[str, Any]]:
    """The rows of a ``datasets`` ``save_to_disk`` folder (Arrow stream shards) and its
    features (from ``dataset_info.json``)."""
    shards = []
    for path in hf_arrow_files(folder):
        if not path.is_file():
            raise DataError("no such file (listed in state.json)", file=str(path))
        try:
            with pa.memory_map(str(path)) as source:
                shards.append(pa.ipc.open_stream(source).read_all())
        except (pa.ArrowException, OSError) as error:
            raise DataError(f"not a readable Arrow file ({error})", file=str(path)) from None
    info_path = folder / "dataset_info.json"
    info = read_json_file(info_path) if info_path.is_file() else {}
    features = info.get("features", {}) if isinstance(info, dict) else {}
    return pa.concat_tables(shards), features


def hf_class_names(feature: Mapping[str, Any]) -> list[str] | None:
    """Names of a ``List(ClassLabel)`` / ``Sequence(ClassLabel)`` / ``ClassLabel`` feature."""
    inner = feature.get("feature", feature)
    if isinstance(inner, Mapping) and inner.get("_type") == "ClassLabel":
        return [str(name) for name in inner.get("names", [])]
    return None


def import_hf(
    folder: str | Path,
    columns: TableColumns = TableColumns(),
    *,
    label_sep: str | None = None,
    images_root: str | Path | None = None,
    embed_bytes: bool = False,
) -> ImportedData:
    """A ``Dataset.save_to_disk`` folder (one split) read with pyarrow.

    Labels may be a list of strings, a ``List(ClassLabel)`` (class numbers, names from the
    features), or delimited tags. An ``Image`` feature (``struct<bytes, path>``) is kept as it
    is; a string image column is a path relative to ``images_root`` (default: the folder).
    """
    folder = Path(folder)
    table, features = read_hf_folder(folder)
    file = str(folder)
    if columns.labels not in table.column_names:
        raise DataError(
            f"no such column (the dataset has: {', '.join(table.column_names)})",
            file=file,
            column=columns.labels,
        )
    if table.num_rows == 0:
        raise DataError("the dataset has no rows", file=file)
    values = table.column(columns.labels).to_pylist()
    names = hf_class_names(features.get(columns.labels, {}))
    if names is not None:
        values = [
            _class_numbers_to_names(value, names, file, columns.labels, row)
            for row, value in enumerate(values)
        ]
    labels, sep = parse_label_cells(values, sep=label_sep, file=file, column=columns.labels)

    def read(column: str, option: str) -> list[Any]:
        return _arrow_column(table, column, file).to_pylist()

    def image_of(column: str) -> pa.Array:
        raw = _arrow_column(table, column, file).combine_chunks()
        if pa.types.is_struct(raw.type):
            return _checked_image_structs(raw, folder, file, column)
        root = Path(images_root) if images_root is not None else folder
        paths = resolve_images(raw.to_pylist(), root, file=file, column=column)
        return image_array(paths, embed_bytes)

    classes = names if names is not None else sorted({tag for row in labels for tag in row})
    contract = _contract_of_columns(read, image_of, table.num_rows, columns, labels, classes, file)
    record = source_record(
        "hf",
        folder,
        columns=asdict(columns),
        label_sep=sep,
        labels_are_class_numbers=names is not None,
        labels_are_lists=sep is None,
    )
    return ImportedData(table=contract, classes=tuple(classes), record=record)


def _arrow_column(table: pa.Table, name: str, file: str) -> pa.ChunkedArray:
    if name not in table.column_names:
        raise DataError(
            f"no such column (the dataset has: {', '.join(table.column_names)})",
            file=file,
            column=name,
        )
    return table.column(name)


def _class_numbers_to_names(
    value: Any, names: Sequence[str], file: str, column: str, row: int
) -> Any:
    if value is None:
        return None
    numbers = value if isinstance(value, list) else [value]
    for number in numbers:
        if not isinstance(number, int) or not 0 <= number < len(names):
            raise DataError(
                f"class number {number!r} is outside 0..{len(names) - 1}",
                file=file,
                column=column,
                row=row,
            )
    return [names[number] for number in numbers]


def _checked_image_structs(array: pa.Array, folder: Path, file: str, column: str) -> pa.Array:
    """An HF Image column: every row needs bytes, or a path to a file that exists (made
    absolute, so ``audit embed`` finds it wherever the Parquet file goes)."""
    rows = []
    for row, value in enumerate(array.to_pylist()):
        data, path = (value or {}).get("bytes"), (value or {}).get("path")
        if not data:
            if not path:
                raise DataError(
                    "no image (neither bytes nor path)", file=file, column=column, row=row
                )
            candidate = Path(path).expanduser()
            candidate = candidate if candidate.is_absolute() else folder / candidate
            if not candidate.is_file():
                raise DataError(
                    f"image file not found: {candidate}", file=file, column=column, row=row
                )
            path = str(candidate.resolve())
        rows.append({"bytes": data, "path": path})
    return pa.array(rows, type=pa.struct([("bytes", pa.binary()), ("path", pa.string())]))
