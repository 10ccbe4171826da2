"""Parquet in, Parquet out: reading and validating the data contract; atomic, provenanced writes.

Everything here is pyarrow-native (no pandas round trips). Validation happens once, at this edge:
every problem becomes a :class:`~auditor.dataset.DataError` naming the file, the column and the
first bad row (0-based row number in the file).
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from auditor.dataset import DEFAULT_COLUMNS, SPLITS, AuditDataset, ColumnNames, DataError

logger = logging.getLogger(__name__)

PROVENANCE_KEY = b"hashaudit"
CLASSES_KEY = b"classes"
TOOL_VERSION = "0.1.0"
MAX_EMBEDDING_MAGNITUDE = float(np.sqrt(np.finfo(np.float32).max / 2**32))
"""About 2.8e14: a sum of 2**32 squares of such values still fits float32, so norms, variances
and dot products over any realistic number of dimensions or rows cannot overflow."""


# ----------------------------------------------------------------------------------------------
# reading


def read_table(path: str | Path, columns: Sequence[str] | None = None) -> pa.Table:
    """Read a Parquet file (optionally only some columns); every failure becomes a DataError."""
    path = Path(path)
    if not path.exists():
        raise DataError("no such file", file=str(path))
    if path.is_dir():
        raise DataError("is a folder, not a Parquet file", file=str(path))
    try:
        # ParquetFile, not pq.read_table: that goes through pyarrow.dataset, whose import loads
        # pandas (about 1 s of every command's start) for what is a single-file read.
        with pq.ParquetFile(path) as parquet:
            if columns is not None:
                absent = [name for name in columns if name not in parquet.schema_arrow.names]
                if absent:  # ParquetFile.read would skip it silently
                    raise DataError("no such column", file=str(path), column=absent[0])
            return parquet.read(columns=list(columns) if columns is not None else None)
    except DataError:
        raise
    except (pa.ArrowException, OSError, ValueError) as error:
        first_line = (
            str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        )
        raise DataError(f"not a readable Parquet file ({first_line})", file=str(path)) from error


def read_schema(path: str | Path) -> pa.Schema:
    """The file's Arrow schema (with metadata), or a DataError if it cannot be read."""
    path = Path(path)
    if not path.exists():
        raise DataError("no such file", file=str(path))
    try:
        return pq.read_schema(path)
    except (pa.ArrowException, OSError, ValueError) as error:
        first_line = (
            str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        )
        raise DataError(f"not a readable Parquet file ({first_line})", file=str(path)) from error


def column_numbers(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """(N,) float64 copy of a numeric or bool Arrow column; a null becomes NaN.

    Read from the Arrow buffer rather than with ``to_numpy``: pyarrow's numpy conversion goes
    through its pandas layer, which imports pandas (0.3–1 s, most of ``audit report``'s time;
    so do ``pa.array`` and ``pa.scalar`` of Python or numpy values).
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    array = pc.cast(column, pa.float64())
    if len(array) == 0:
        return np.zeros(0)
    values = np.frombuffer(
        array.buffers()[1], dtype=np.float64, count=len(array), offset=8 * array.offset
    ).copy()
    if array.null_count:
        values[column_numbers(array.is_null()) == 1.0] = np.nan
    return values


def read_dataset(
    path: str | Path,
    columns: ColumnNames = DEFAULT_COLUMNS,
    classes: Sequence[str] | None = None,
    *,
    require_embeddings: bool = True,
    min_train_rows: int = 1,
) -> AuditDataset:
    """Read and validate a dataset Parquet file (docs/design.md, "Data contract").

    Parameters
    ----------
    path : the Parquet file.
    columns : the column names to use.
    classes : class names in order; required when labels are class numbers and the file's
        schema metadata has no ``classes`` entry.
    require_embeddings : when False, the embedding columns may be absent (raw data for ``embed``).
    min_train_rows : fewer rows in the audit scope is an error ("too few rows for the settings").

    Only the columns the dataset is built from are read (Parquet is columnar): raw ``image``
    bytes, ``text`` and any other columns stay on disk.
    """
    file_columns = read_schema(path).names
    wanted = [name for name in dataset_columns(columns) if name in file_columns]
    table = read_table(path, columns=wanted or None)
    return dataset_from_table(
        table,
        source=str(path),
        columns=columns,
        classes=classes,
        require_embeddings=require_embeddings,
        min_train_rows=min_train_rows,
        file_columns=file_columns,
    )


def dataset_columns(columns: ColumnNames = DEFAULT_COLUMNS) -> list[str]:
    """The columns an AuditDataset is built from, in the data contract's order (no raw
    ``image`` / ``text``)."""
    names = (
        columns.id,
        columns.labels,
        columns.image_embedding,
        columns.text_embedding,
        columns.split,
        columns.clean_labels,
    )
    return list(dict.fromkeys(names))


def require_columns(
    table: pa.Table, names: Sequence[str], *, file: str | None, prefix: str = ""
) -> None:
    """DataError naming the first of ``names`` that ``table`` lacks, and the columns it has.

    ``prefix`` starts the message (e.g. ``"not an audit: "``).
    """
    missing = [name for name in names if name not in table.column_names]
    if missing:
        raise DataError(
            f"{prefix}no such column (the file has: {', '.join(table.column_names)})",
            file=file,
            column=missing[0],
        )


def dataset_from_table(
    table: pa.Table,
    *,
    source: str | None = None,
    columns: ColumnNames = DEFAULT_COLUMNS,
    classes: Sequence[str] | None = None,
    require_embeddings: bool = True,
    min_train_rows: int = 1,
    file_columns: Sequence[str] | None = None,
) -> AuditDataset:
    """Validate an Arrow table against the data contract and convert it to an AuditDataset.

    ``file_columns``: every column of the file, named in the error for a missing column when
    ``table`` holds only some of them (default: the table's columns).
    """
    file = source
    present = set(table.column_names)
    available = ", ".join(table.column_names if file_columns is None else file_columns) or "none"

    def require(name: str) -> pa.ChunkedArray:
        if name not in present:
            raise DataError(f"no such column (the file has: {available})", file=file, column=name)
        return table.column(name)

    if table.num_rows == 0:
        raise DataError("the file has no rows", file=file)
    labels_column = require(columns.labels)
    notes: list[str] = []

    class_names = _resolve_classes(table, labels_column, columns, classes, file)
    labels = labels_to_multi_hot(labels_column, class_names, file=file, column=columns.labels)
    clean_labels = None
    if columns.clean_labels in present:
        clean_labels = labels_to_multi_hot(
            table.column(columns.clean_labels), class_names, file=file, column=columns.clean_labels
        )

    if columns.id in present:
        ids = _validated_ids(table.column(columns.id), file=file, column=columns.id)
    else:
        ids = np.arange(table.num_rows, dtype=np.int64)
        notes.append(f"no '{columns.id}' column: row numbers are used as ids")

    if columns.split in present:
        split = _validated_split(table.column(columns.split), file=file, column=columns.split)
    else:
        split = np.full(table.num_rows, "train", dtype=object)
        notes.append(f"no '{columns.split}' column: every row is audited, no retrieval queries")

    image = text = None
    if require_embeddings or columns.image_embedding in present:
        image = embedding_matrix(
            require(columns.image_embedding), file=file, column=columns.image_embedding
        )
    if require_embeddings or columns.text_embedding in present:
        text = embedding_matrix(
            require(columns.text_embedding), file=file, column=columns.text_embedding
        )

    n_train = int(np.count_nonzero(split == "train"))
    if n_train < min_train_rows:
        raise DataError(
            f"too few rows: {n_train} train rows, the settings need at least {min_train_rows}",
            file=file,
        )
    for note in notes:
        logger.info("%s: %s", file, note)
    return AuditDataset(
        ids=ids,
        labels=labels,
        classes=tuple(class_names),
        image=image,
        text=text,
        split=split,
        clean_labels=clean_labels,
        source=source,
        notes=tuple(notes),
    )


def schema_classes(schema: pa.Schema) -> list[str] | None:
    """Class names stored in the schema metadata (key ``classes``, or the provenance's), if any."""
    metadata = schema.metadata or {}
    if CLASSES_KEY in metadata:
        return [str(name) for name in json.loads(metadata[CLASSES_KEY])]
    if PROVENANCE_KEY in metadata:
        stored = json.loads(metadata[PROVENANCE_KEY]).get("classes")
        if stored:
            return [str(name) for name in stored]
    return None


def _resolve_classes(
    table: pa.Table,
    labels_column: pa.ChunkedArray,
    columns: ColumnNames,
    classes: Sequence[str] | None,
    file: str | None,
) -> list[str]:
    if classes is not None:
        names = [str(name) for name in classes]
    else:
        names = schema_classes(table.schema) or []
    if len(set(names)) != len(names):
        raise DataError("the class list repeats a name", file=file)
    if names:
        return names
    value_type = _list_value_type(labels_column.type, file, columns.labels)
    if not pa.types.is_string(value_type) and not pa.types.is_large_string(value_type):
        raise DataError(
            "labels are class numbers but no class names are known: pass --classes or store them "
            "in the schema metadata key 'classes'",
            file=file,
            column=columns.labels,
        )
    found: set[str] = set()
    for name in (columns.labels, columns.clean_labels):
        if name in table.column_names:
            values = pc.list_flatten(table.column(name))
            found.update(str(v) for v in pc.unique(values).to_pylist() if v is not None)
    return sorted(found)


def _list_value_type(data_type: pa.DataType, file: str | None, column: str) -> pa.DataType:
    if not (pa.types.is_list(data_type) or pa.types.is_large_list(data_type)):
        raise DataError(
            f"wrong type {data_type}: expected a list of class names or class numbers",
            file=file,
            column=column,
        )
    return data_type.value_type


def labels_to_multi_hot(
    values: pa.ChunkedArray | pa.Array,
    classes: Sequence[str],
    *,
    file: str | None = None,
    column: str | None = None,
    allow_empty: bool = False,
) -> np.ndarray:
    """Convert a list<string> or list<int> label column to a (N, C) uint8 multi-hot matrix.

    Null lists, null entries, unknown class names, out-of-range class numbers and (unless
    ``allow_empty``, as in an audit's ``labels_to_remove``) empty lists are errors naming the
    first bad row. A class repeated within one row counts once.
    """
    array = _combined(values)
    value_type = _list_value_type(array.type, file, column or "labels")
    n_rows = len(array)
    if array.null_count:
        row = int(np.flatnonzero(array.is_null().to_numpy(zero_copy_only=False))[0])
        raise DataError("null label list", file=file, column=column, row=row)
    lengths = pc.list_value_length(array).to_numpy(zero_copy_only=False)
    if not allow_empty and (lengths == 0).any():
        row = int(np.flatnonzero(lengths == 0)[0])
        raise DataError(
            "empty label list: every row needs at least one label",
            file=file,
            column=column,
            row=row,
        )
    flat = pc.list_flatten(array)
    row_of_value = np.repeat(np.arange(n_rows), lengths)
    if flat.null_count:
        position = int(np.flatnonzero(flat.is_null().to_numpy(zero_copy_only=False))[0])
        raise DataError(
            "null entry in the label list",
            file=file,
            column=column,
            row=int(row_of_value[position]),
        )
    if pa.types.is_string(value_type) or pa.types.is_large_string(value_type):
        class_index = {name: index for index, name in enumerate(classes)}
        encoded = pc.dictionary_encode(flat)
        names = encoded.dictionary.to_pylist()
        lookup = np.array([class_index.get(name, -1) for name in names], dtype=np.int64)
        indices = lookup[encoded.indices.to_numpy(zero_copy_only=False)]
        bad = np.flatnonzero(indices < 0)
        if bad.size:
            name = names[int(encoded.indices[int(bad[0])].as_py())]
            raise DataError(
                f"unknown class name {name!r} (known: {len(classes)} classes)",
                file=file,
                column=column,
                row=int(row_of_value[bad[0]]),
            )
    elif pa.types.is_integer(value_type):
        indices = flat.to_numpy(zero_copy_only=False).astype(np.int64)
        bad = np.flatnonzero((indices < 0) | (indices >= len(classes)))
        if bad.size:
            raise DataError(
                f"class number {int(indices[bad[0]])} is outside 0..{len(classes) - 1}",
                file=file,
                column=column,
                row=int(row_of_value[bad[0]]),
            )
    else:
        raise DataError(
            f"wrong type {array.type}: expected list<string> or list<int>", file=file, column=column
        )
    multi_hot = np.zeros((n_rows, len(classes)), dtype=np.uint8)
    multi_hot[row_of_value, indices] = 1
    return multi_hot


def embedding_matrix(
    values: pa.ChunkedArray | pa.Array, *, file: str | None = None, column: str | None = None
) -> np.ndarray:
    """Convert a fixed_size_list<float> or list<float> column to a (N, D) float32 matrix.

    Null rows or entries, ragged lists (lengths differing from row 0's) and NaN/inf values are
    errors naming the first bad row.
    """
    array = _combined(values)
    data_type = array.type
    is_list = pa.types.is_list(data_type) or pa.types.is_large_list(data_type)
    if not (pa.types.is_fixed_size_list(data_type) or is_list) or not pa.types.is_floating(
        data_type.value_type
    ):
        raise DataError(
            f"wrong type {data_type}: expected fixed_size_list<float32> or list<float>",
            file=file,
            column=column,
        )
    n_rows = len(array)
    if array.null_count:
        row = int(np.flatnonzero(array.is_null().to_numpy(zero_copy_only=False))[0])
        raise DataError("null embedding", file=file, column=column, row=row)
    lengths = pc.list_value_length(array).to_numpy(zero_copy_only=False)
    dim = int(lengths[0])
    if (lengths != dim).any():
        row = int(np.flatnonzero(lengths != dim)[0])
        raise DataError(
            f"ragged embedding: {int(lengths[row])} values, row 0 has {dim}",
            file=file,
            column=column,
            row=row,
        )
    if dim == 0:
        raise DataError("empty embedding vectors", file=file, column=column, row=0)
    flat = pc.list_flatten(array)
    if flat.null_count:
        position = int(np.flatnonzero(flat.is_null().to_numpy(zero_copy_only=False))[0])
        raise DataError(
            "null value in the embedding", file=file, column=column, row=position // dim
        )
    raw = flat.to_numpy(zero_copy_only=False).reshape(n_rows, dim)
    finite_rows = np.isfinite(raw).all(axis=1)
    if not finite_rows.all():
        row = int(np.flatnonzero(~finite_rows)[0])
        raise DataError("NaN or infinite value in the embedding", file=file, column=column, row=row)
    largest = np.abs(raw).max(axis=1)
    if (largest > MAX_EMBEDDING_MAGNITUDE).any():
        row = int(np.flatnonzero(largest > MAX_EMBEDDING_MAGNITUDE)[0])
        raise DataError(
            f"embedding value {float(largest[row]):.3g} is too large: values must stay within "
            f"±{MAX_EMBEDDING_MAGNITUDE:.2g} (so sums of squares fit float32); rescale the vectors",
            file=file,
            column=column,
            row=row,
        )
    return raw.astype(np.float32, copy=False)


def _validated_ids(values: pa.ChunkedArray, *, file: str | None, column: str) -> np.ndarray:
    array = _combined(values)
    if not (
        pa.types.is_integer(array.type)
        or pa.types.is_string(array.type)
        or pa.types.is_large_string(array.type)
    ):
        raise DataError(
            f"wrong type {array.type}: expected string or integer ids", file=file, column=column
        )
    if array.null_count:
        row = int(np.flatnonzero(array.is_null().to_numpy(zero_copy_only=False))[0])
        raise DataError("null id", file=file, column=column, row=row)
    if pa.types.is_integer(array.type):
        ids = array.to_numpy(zero_copy_only=False).astype(np.int64)
    else:
        ids = np.array(array.to_pylist(), dtype=object)
    if len(np.unique(ids)) != len(ids):
        check_unique_ids(ids.tolist(), file=file, column=column)  # names the rows
    return ids


def check_unique_ids(ids: Sequence[Any], *, file: str | None, column: str) -> None:
    """Duplicate (or null) ids -> DataError naming the second occurrence's row and the first's;
    ``ids`` are Python values, so the message shows them as written (7, not np.int64(7))."""
    seen: dict[Any, int] = {}
    for row, value in enumerate(ids):
        if value is None or (isinstance(value, float) and np.isnan(value)):
            raise DataError("null id", file=file, column=column, row=row)
        if value in seen:
            raise DataError(
                f"duplicate id {value!r} (first at row {seen[value]})",
                file=file,
                column=column,
                row=row,
            )
        seen[value] = row


def _validated_split(values: pa.ChunkedArray, *, file: str | None, column: str) -> np.ndarray:
    array = _combined(values)
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        raise DataError(
            f"wrong type {array.type}: expected strings {'/'.join(SPLITS)}",
            file=file,
            column=column,
        )
    split = np.array(array.to_pylist(), dtype=object)
    bad = np.flatnonzero(~np.isin(split, np.array(SPLITS, dtype=object)))
    if bad.size:
        raise DataError(
            f"unknown split {split[bad[0]]!r}: expected one of {', '.join(SPLITS)}",
            file=file,
            column=column,
            row=int(bad[0]),
        )
    return split


def _combined(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks()
    return values


# ----------------------------------------------------------------------------------------------
# writing


def multi_hot_to_arrow(
    multi_hot: np.ndarray, classes: Sequence[str], *, as_indices: bool = False
) -> pa.Array:
    """(N, C) multi-hot matrix -> list<string> class names (or list<int32> class numbers).

    Within a row the classes appear in class-list order.
    """
    rows, class_indices = np.nonzero(multi_hot)
    counts = np.bincount(rows, minlength=multi_hot.shape[0])
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    if as_indices:
        values: pa.Array = pa.array(class_indices.astype(np.int32))
    else:
        values = pa.array(list(classes), type=pa.string()).take(pa.array(class_indices))
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def matrix_to_arrow(matrix: np.ndarray) -> pa.Array:
    """(N, D) float matrix -> fixed_size_list<float32>[D]."""
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), matrix.shape[1])


def dataset_to_table(dataset: AuditDataset, columns: ColumnNames = DEFAULT_COLUMNS) -> pa.Table:
    """The data-contract table of a dataset (labels as class names)."""
    ids = dataset.ids
    arrays: dict[str, pa.Array] = {
        columns.id: pa.array(ids.tolist() if ids.dtype == object else ids),
        columns.labels: multi_hot_to_arrow(dataset.labels, dataset.classes),
    }
    if dataset.image is not None:
        arrays[columns.image_embedding] = matrix_to_arrow(dataset.image)
    if dataset.text is not None:
        arrays[columns.text_embedding] = matrix_to_arrow(dataset.text)
    arrays[columns.split] = pa.array(dataset.split.tolist(), type=pa.string())
    if dataset.clean_labels is not None:
        arrays[columns.clean_labels] = multi_hot_to_arrow(dataset.clean_labels, dataset.classes)
    return pa.table(arrays)


def file_fingerprint(path: str | Path) -> str:
    """``sha256:<hex>`` of the file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def folder_fingerprint(folder: str | Path) -> str:
    """``sha256:<hex>`` over the names and fingerprints of the files directly in a folder."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).iterdir() if p.is_file()):
        digest.update(f"{path.name}\0{file_fingerprint(path)}\n".encode())
    return f"sha256:{digest.hexdigest()}"


def path_fingerprint(path: str | Path) -> str:
    """The fingerprint of an input, a file (``file_fingerprint``) or a folder of files an
    importer read (``folder_fingerprint``: MIRFlickr's or Wikipedia's raw folders)."""
    return folder_fingerprint(path) if Path(path).is_dir() else file_fingerprint(path)


def make_provenance(
    command: str,
    *,
    settings: Mapping[str, Any],
    classes: Sequence[str],
    seed: int | None = None,
    input_path: str | Path | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The provenance record stored under the schema metadata key ``hashaudit``."""
    record: dict[str, Any] = {
        "tool": "hashaudit",
        "version": TOOL_VERSION,
        "command": command,
        "settings": dict(settings),
        "seed": seed,
        "classes": list(classes),
    }
    if input_path is not None:
        record["input"] = {"path": str(input_path), "fingerprint": path_fingerprint(input_path)}
    record.update(extra)
    return record


def read_provenance(path: str | Path) -> dict[str, Any] | None:
    """The ``hashaudit`` provenance record of a Parquet file, or None if it has none."""
    metadata = read_schema(path).metadata or {}
    if PROVENANCE_KEY not in metadata:
        return None
    record: dict[str, Any] = json.loads(metadata[PROVENANCE_KEY])
    return record


def write_table_atomic(table: pa.Table, path: str | Path, provenance: Mapping[str, Any]) -> None:
    """Write a table to ``path`` with provenance, via a temporary name renamed into place.

    A failure leaves no file (and never a half-written one) at ``path``. The class list is also
    stored under the metadata key ``classes`` so list<int> labels stay interpretable.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = dict(table.schema.metadata or {})
    metadata[PROVENANCE_KEY] = json.dumps(provenance, sort_keys=True, default=str).encode()
    if "classes" in provenance:
        metadata[CLASSES_KEY] = json.dumps(list(provenance["classes"])).encode()
    table = table.replace_schema_metadata(metadata)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        pq.write_table(table, temporary)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def refuse_overwriting_input(output: str | Path, *inputs: str | Path | None) -> None:
    """Raise a DataError if ``output`` would replace one of the input files."""
    out = Path(output).resolve()
    for candidate in inputs:
        if candidate is not None and Path(candidate).resolve() == out:
            raise DataError(
                "the output would overwrite the input file; choose another -o", file=str(candidate)
            )


# ----------------------------------------------------------------------------------------------
# output safety: what may be replaced
#
# A command replaces only what a previous run of the same command wrote. Output folders carry a
# marker file listing the command and every file written; output files carry the provenance
# record in their schema metadata. Everything else is refused before any work starts.

MARKER_FILE = ".hashaudit"


def user_mode(kind: str = "dir") -> int:
    """The permission bits a new folder (``dir``) or file gets under the user's umask."""
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if kind == "dir" else 0o666) & ~mask


def _writable(folder: Path) -> bool:
    """Whether we may write into ``folder``: permitted, and not marked read-only by its owner
    (the mode bit is honoured even where the permission check is not, e.g. for root)."""
    return os.access(folder, os.W_OK | os.X_OK) and bool(folder.stat().st_mode & stat.S_IWUSR)


def _check_parent_writable(path: Path) -> None:
    """DataError unless the nearest existing ancestor of ``path`` is a writable folder."""
    ancestor = path.parent
    while not ancestor.exists():
        if ancestor.parent == ancestor:
            break
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise DataError("is a file, not a folder: choose another -o", file=str(ancestor))
    if not _writable(ancestor):
        raise DataError(
            f"the folder is not writable, so {path} cannot be written there: choose another -o "
            "or make it writable",
            file=str(ancestor),
        )


def _holds(folder: Path, candidate: Path) -> bool:
    return candidate == folder or folder in candidate.parents


def read_marker(folder: str | Path) -> dict[str, Any] | None:
    """The marker record of a hashaudit output folder, or None if it has no readable one."""
    marker = Path(folder) / MARKER_FILE
    try:
        record = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("tool") != "hashaudit":
        return None
    return record


def _folder_files(folder: Path) -> set[str]:
    """Every file and folder under ``folder``, as POSIX paths relative to it."""
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*")}


def check_output_folder(path: str | Path, command: str, *inputs: str | Path | None) -> None:
    """Refuse (DataError) an output folder ``path`` that the command must not replace.

    Allowed: a path that does not exist yet (in a writable folder), an empty writable folder,
    or a folder written by an earlier run of the same ``command`` (its marker lists exactly the
    files it holds). Refused: a file, the current folder or one holding it, a folder holding
    an input, a folder with anything else in it, and an output of another command.
    """
    path = Path(path)
    resolved = path.resolve()
    where = str(path)
    for candidate in inputs:
        if candidate is not None and _holds(resolved, Path(candidate).resolve()):
            raise DataError(
                f"the output folder would replace the input {candidate}: choose another -o",
                file=where,
            )
    if _holds(resolved, Path.cwd().resolve()):
        raise DataError(
            "is the current folder (or holds it) and cannot be replaced: choose a new folder "
            "for -o",
            file=where,
        )
    _check_parent_writable(resolved)
    if not resolved.exists() and not resolved.is_symlink():
        return
    if not resolved.is_dir() or path.is_symlink():
        raise DataError(
            "exists and is not an output folder: choose another -o or remove it yourself",
            file=where,
        )
    contents = _folder_files(resolved)
    if not contents:
        if not _writable(resolved):
            raise DataError("the folder is not writable: choose another -o", file=where)
        return
    marker = read_marker(resolved)
    if marker is None:
        raise DataError(
            "exists and holds files hashaudit did not write: choose a new folder for -o "
            "(nothing was changed)",
            file=where,
        )
    if marker.get("command") != command:
        raise DataError(
            f"holds the output of `audit {marker.get('command')}`, not of `audit {command}`: "
            "choose another -o",
            file=where,
        )
    extra = sorted(contents - set(marker.get("files", [])) - {MARKER_FILE})
    if extra:
        raise DataError(
            f"holds files hashaudit did not write ({', '.join(extra[:3])}): choose a new folder "
            "for -o (nothing was changed)",
            file=where,
        )


def check_output_file(path: str | Path, command: str, *inputs: str | Path | None) -> None:
    """Refuse (DataError) an output file ``path`` that the command must not replace.

    Allowed: a new path in a writable folder, or a Parquet file whose provenance (schema
    metadata key ``hashaudit``) says an earlier run of the same ``command`` wrote it.
    """
    path = Path(path)
    refuse_overwriting_input(path, *inputs)
    resolved = path.resolve()
    _check_parent_writable(resolved)
    if not resolved.exists():
        return
    if resolved.is_dir():
        raise DataError(
            "is a folder, not a file: choose a file name for -o (nothing was changed)",
            file=str(path),
        )
    try:
        record = read_provenance(resolved)
    except DataError:
        record = None
    if record is None:
        raise DataError(
            f"exists and is not an earlier output of `audit {command}` (no hashaudit provenance "
            "in it): choose another -o or remove it yourself (nothing was changed)",
            file=str(path),
        )
    if record.get("command") != command:
        raise DataError(
            f"exists and was written by `audit {record.get('command')}`, not by `audit {command}`: "
            "choose another -o or remove it yourself (nothing was changed)",
            file=str(path),
        )


def write_marker(folder: str | Path, command: str) -> None:
    """Record in ``folder`` that ``command`` wrote it, with the list of every file in it."""
    folder = Path(folder)
    record = {
        "tool": "hashaudit",
        "version": TOOL_VERSION,
        "command": command,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "files": sorted(_folder_files(folder) - {MARKER_FILE}),
    }
    write_json_atomic(record, folder / MARKER_FILE)


def add_to_marker(folder: str | Path, *names: str) -> None:
    """Add files a later command wrote into an output folder (e.g. ``report.html``) to its
    marker, so the folder stays replaceable; no-op for a folder without a marker."""
    record = read_marker(folder)
    if record is None:
        return
    record["files"] = sorted(set(record.get("files", [])) | set(names))
    write_json_atomic(record, Path(folder) / MARKER_FILE)


@contextlib.contextmanager
def atomic_output_dir(path: str | Path, command: str, *inputs: str | Path | None) -> Iterator[Path]:
    """Build an output folder under a temporary name; rename it into place only on success.

    Refuses first (see :func:`check_output_folder`) what the command must not replace, then
    yields the temporary folder to write into. On an exception it is removed and ``path`` is
    left as it was; on success the folder gets a marker (:data:`MARKER_FILE`) and the user's
    normal mode (umask), and replaces ``path``, which is checked again just before.
    """
    given = Path(path)
    check_output_folder(given, command, *inputs)
    path = given.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        os.chmod(temporary, user_mode("dir"))
        yield temporary
        write_marker(temporary, command)
        # the folder may have changed during a long run: never replace what became precious
        check_output_folder(given, command, *inputs)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    previous = None
    if path.exists():
        previous = path.with_name(f".{path.name}.old-{os.getpid()}")
        os.replace(path, previous)
    os.replace(temporary, path)
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


def write_bytes_atomic(data: bytes, path: str | Path) -> None:
    """Write ``data`` to ``path`` via a temporary name renamed into place: a reader sees the
    old file or the whole new one, and a failure leaves no partial file."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def write_text_atomic(text: str, path: str | Path) -> None:
    """Write UTF-8 text atomically (:func:`write_bytes_atomic`)."""
    write_bytes_atomic(text.encode("utf-8"), path)


def write_json_atomic(payload: Mapping[str, Any], path: str | Path) -> None:
    """Write JSON (sorted keys, indented) atomically (:func:`write_bytes_atomic`)."""
    write_text_atomic(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n", path)
