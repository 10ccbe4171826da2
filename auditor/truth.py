"""The known truth given apart from the data (``audit scan --truth FILE``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from auditor.dataset import AuditDataset, ColumnNames, DataError
from auditor.io import labels_to_multi_hot, read_table, require_columns


def read_truth(path: str | Path, dataset: AuditDataset, columns: ColumnNames) -> np.ndarray:
    """A Parquet file of ids and clean labels -> (N, C) multi-hot truth aligned with ``dataset``.

    Rows outside the train split keep their given labels (only the audited rows need a truth);
    a train id missing from the file is a DataError naming the file and the id column.
    """
    file = str(path)
    table = read_table(path)
    require_columns(table, (columns.id, columns.clean_labels), file=file)
    clean = labels_to_multi_hot(
        table.column(columns.clean_labels), dataset.classes, file=file, column=columns.clean_labels
    )
    position = {value: index for index, value in enumerate(table.column(columns.id).to_pylist())}
    aligned = dataset.labels.copy()
    for row in np.flatnonzero(dataset.train_mask):
        key = dataset.ids[row].item() if hasattr(dataset.ids[row], "item") else dataset.ids[row]
        if key not in position:
            raise DataError(
                f"no clean labels for id {key!r} of the data", file=file, column=columns.id
            )
        aligned[row] = clean[position[key]]
    return aligned
