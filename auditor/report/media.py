"""Thumbnails and text snippets of the top suspects, read from the scanned dataset.

Only the row groups holding the suspects are read; the dataset is used only when it is still
where the scan recorded it (or beside the audit folder) and its fingerprint is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from auditor.audit_files import AuditFolder
from auditor.dataset import DataError
from auditor.io import column_numbers, file_fingerprint, read_schema
from auditor.media import BadCell, RawImages, text_values, thumbnail_data_uri
from auditor.report.text import snippet


@dataclass(frozen=True)
class SuspectMedia:
    """Thumbnails and text snippets of some rows, keyed by id; ``note`` says what is missing."""

    thumbnails: dict[Any, str | None]
    texts: dict[Any, str | None]
    has_images: bool
    has_texts: bool
    note: str | None = None


NO_MEDIA = SuspectMedia({}, {}, False, False)


def resolve_input(folder: AuditFolder) -> tuple[Path | None, str | None]:
    """The scanned dataset file (as recorded, or beside the audit folder), or why not found."""
    recorded = folder.summary.get("input")
    if not recorded:
        return None, "the scan did not record its input file"
    candidates = [Path(recorded), folder.path.resolve().parent / Path(recorded).name]
    for candidate in candidates:
        if candidate.is_file():
            return candidate, None
    return None, f"the scanned file {recorded} is no longer there"


def load_suspect_media(
    data: Path,
    ids: pa.Array,
    *,
    id_column: str = "id",
    image_column: str = "image",
    text_column: str = "text",
) -> SuspectMedia:
    """Thumbnails and snippets of the rows with these ``ids`` (the audit's id column, top
    rows first), reading only their row groups.

    A row whose image cannot be read gets None (the report shows why not in a tooltip-free
    "unreadable"); a dataset with neither column gives :data:`NO_MEDIA`.
    """
    names = set(read_schema(data).names)
    wanted = [column for column in (image_column, text_column) if column in names]
    if not wanted:
        return NO_MEDIA
    parquet = pq.ParquetFile(data)
    id_values = ids.to_pylist()
    if id_column in names:
        file_ids = parquet.read(columns=[id_column]).column(id_column).combine_chunks()
        try:
            lookup = ids.cast(file_ids.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            return SuspectMedia({}, {}, False, False, "the dataset's ids do not match the audit's")
        found = column_numbers(pc.index_in(file_ids, value_set=lookup))  # NaN = not a suspect
        rows = np.flatnonzero(~np.isnan(found))
        keys = [id_values[int(found[row])] for row in rows]
    else:  # no id column: the scan used row numbers as ids
        rows = np.array(
            sorted(int(key) for key in id_values if 0 <= int(key) < parquet.metadata.num_rows),
            dtype=np.int64,
        )
        keys = [int(row) for row in rows]
    table = _read_rows(parquet, rows, wanted)
    thumbnails: dict[Any, str | None] = {}
    texts: dict[Any, str | None] = {}
    if image_column in wanted:
        images = RawImages(
            table.column(image_column), base_dir=data.parent, file=str(data), column=image_column
        )
        for position, key in enumerate(keys):
            try:
                thumbnails[key] = thumbnail_data_uri(images.load(position))
            except BadCell:
                thumbnails[key] = None
    if text_column in wanted:
        try:
            values = text_values(table.column(text_column), file=str(data), column=text_column)
        except DataError:
            values = [None] * len(keys)
        texts = {key: snippet(value) for key, value in zip(keys, values, strict=True)}
    return SuspectMedia(thumbnails, texts, image_column in wanted, text_column in wanted)


def _read_rows(parquet: pq.ParquetFile, rows: np.ndarray, columns: list[str]) -> pa.Table:
    """Rows (sorted file positions) of some columns, reading only the row groups holding them."""
    sizes = [parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)]
    starts = np.r_[0, np.cumsum(sizes)]
    group_of_row = np.searchsorted(starts, rows, side="right") - 1
    pieces = []
    for group in np.unique(group_of_row):
        local = np.ascontiguousarray(rows[group_of_row == group] - starts[group], dtype=np.int64)
        # An Arrow view of the numpy indices: pa.array(local) would import pandas.
        indices = pa.Array.from_buffers(pa.int64(), len(local), [None, pa.py_buffer(local)])
        pieces.append(parquet.read_row_group(int(group), columns=columns).take(indices))
    if not pieces:
        return parquet.schema_arrow.empty_table().select(columns)
    return pa.concat_tables(pieces)


def suspect_media(folder: AuditFolder, ids: pa.Array, data: Path | None) -> SuspectMedia:
    """Media of the top suspects from the scanned file; ``data`` given = trusted (the caller
    just scanned it), else it is found from the summary and its fingerprint checked."""
    if data is None:
        data, reason = resolve_input(folder)
        if data is None:
            return SuspectMedia({}, {}, False, False, f"no thumbnails or snippets: {reason}")
        names = set(read_schema(data).names)
        if not names & {"image", "text"}:
            return NO_MEDIA
        recorded = folder.summary.get("input_fingerprint")
        if recorded and file_fingerprint(data) != recorded:
            return SuspectMedia(
                {}, {}, False, False,
                f"no thumbnails or snippets: {data} changed since the scan (fingerprint differs)",
            )  # fmt: skip
    try:
        return load_suspect_media(data, ids)
    except DataError as error:
        return SuspectMedia({}, {}, False, False, f"no thumbnails or snippets: {error}")
