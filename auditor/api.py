"""The notebook API: audit a pandas DataFrame (or a Parquet file) in a few lines.

```python
import auditor
result = auditor.scan(df)            # a DataFrame with the data contract's columns,
                                     # a Parquet path, or an AuditDataset
result.issues                        # DataFrame: the rows of audit.parquet, most suspect first
result.cells                         # DataFrame: the rows of label_issues.parquet
result.summary                       # dict: summary.json
result.save("out/")                  # the folder `audit scan -o out/` writes
cleaned = auditor.clean(df, result, strategy="relabel")   # a DataFrame
```

A thin layer over the library the CLI uses (:func:`auditor.scanning.run_scan`,
:func:`auditor.scanning.write_scan`, :func:`auditor.cleaning.clean_table`): the same validation
and the same outputs. Bad input or settings raise :class:`auditor.dataset.DataError`, whose
``str`` is the CLI's one-line message (the file — or ``DataFrame`` — the column and the row).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa

from auditor.cleaning import (
    CHANGES_COLUMN,
    DEFAULT_CONFIDENCE,
    CleanSettings,
    align_audit,
    clean_table,
    truth_accuracy,
)
from auditor.dataset import DEFAULT_COLUMNS, AuditDataset, ColumnNames, DataError
from auditor.detectors import HASHER_DETECTORS
from auditor.io import (
    dataset_columns,
    dataset_from_table,
    dataset_to_table,
    path_fingerprint,
    read_dataset,
    read_table,
)
from auditor.scanning import (
    ScanResult,
    ScanSettings,
    audit_table,
    label_issues_table,
    run_scan,
    scan_summary,
    write_scan,
)

T = TypeVar("T")
DatasetLike: TypeAlias = "pd.DataFrame | str | os.PathLike[str] | AuditDataset"
FRAME = "DataFrame"
"""How error messages name an in-memory DataFrame (where the CLI names the file)."""
CLASSES_ATTR = "classes"
"""``DataFrame.attrs`` key of the class order (as the ``classes`` schema metadata of a file)."""
CLEAN_ATTR = "hashaudit_clean"
"""``DataFrame.attrs`` key of what :func:`clean` did (the counts ``audit clean`` prints)."""


@dataclass(frozen=True, eq=False)
class AuditResult:
    """What :func:`scan` found, with pandas views of the files ``audit scan`` writes.

    Attributes
    ----------
    scan : the library's :class:`~auditor.scanning.ScanResult` (numpy arrays, dataset order).
    settings : the :class:`~auditor.scanning.ScanSettings` used.
    dataset : the validated input.
    """

    scan: ScanResult
    settings: ScanSettings
    dataset: AuditDataset

    @cached_property
    def issues(self) -> pd.DataFrame:
        """One row per audited sample, sorted by ``rank`` (1 = most suspect): the columns of
        ``audit.parquet`` (``id``, ``rank``, ``label_quality``, ``is_issue``, the label lists,
        one column per signal, ``is_noisy`` when the truth is known)."""
        return audit_table(self.scan).to_pandas()

    @cached_property
    def cells(self) -> pd.DataFrame:
        """One row per (sample, class) cell worth reviewing: ``label_issues.parquet``."""
        return label_issues_table(self.scan, self.settings.review_threshold).to_pandas()

    @cached_property
    def summary(self) -> dict[str, Any]:
        """``summary.json``: counts, noise-rate estimate, detection metrics with truth, timings."""
        summary = scan_summary(self.scan, self.settings, self.dataset.source)
        source = self.dataset.source
        summary["input_fingerprint"] = path_fingerprint(source) if source is not None else None
        return summary

    def save(self, out: str | os.PathLike[str], *, report: bool = True) -> Path:
        """Write the folder ``audit scan -o OUT`` writes (``audit.parquet``,
        ``label_issues.parquet``, ``summary.json`` and, with ``report``, ``report.html``),
        atomically; return its path. ``audit report OUT`` and ``audit clean --audit`` read it."""
        path = Path(out)
        write_scan(self.scan, path, self.settings, source=self.dataset.source, report=report)
        return path


def scan(
    data: DatasetLike,
    methods: Sequence[str] | str = HASHER_DETECTORS,
    *,
    columns: ColumnNames = DEFAULT_COLUMNS,
    classes: Sequence[str] | None = None,
    **settings: Any,
) -> AuditResult:
    """Audit the ``train`` rows of ``data``: train the hashers, run the baselines, fuse, rank.

    Parameters
    ----------
    data : a DataFrame with the data contract's columns (``labels``, ``image_embedding``,
        ``text_embedding``; optional ``id``, ``split``, ``clean_labels``), a Parquet path, or an
        :class:`AuditDataset`.
    methods : hashers to train, a sequence or ``"rshnl,scbch"``; ``()`` or ``"none"`` runs the
        baselines only (``--methods``).
    columns : the column names (the CLI's ``--labels-column`` etc.).
    classes : the class order when ``labels`` holds class numbers (``--classes``); default the
        DataFrame's ``attrs["classes"]``, the file's metadata, or the sorted names.
    **settings : any other :class:`ScanSettings` field: ``bits``, ``epochs``, ``seed``,
        ``device``, ``noise_rate``, ``baselines``, ``threshold``, ...

    Raises
    ------
    DataError : bad input or settings, with the CLI's one-line message.
    """
    scan_settings = _scan_settings(methods, settings)
    dataset = load_dataset(
        data, columns=columns, classes=classes, min_train_rows=scan_settings.min_train_rows
    )
    result = run_scan(dataset, scan_settings)
    return AuditResult(scan=result, settings=scan_settings, dataset=dataset)


def clean(
    data: DatasetLike,
    result: AuditResult,
    strategy: str = "relabel",
    *,
    budget: str | float | int | None = None,
    threshold: float | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    columns: ColumnNames = DEFAULT_COLUMNS,
    classes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Apply ``result`` to ``data`` as ``audit clean`` does; return the cleaned rows.

    Parameters
    ----------
    data : the DataFrame, Parquet path or AuditDataset that was scanned (the audit must match
        it: same train rows and ids, same given labels, same classes).
    strategy : ``relabel`` (the suggested labels), ``drop`` (leave the chosen rows out) or
        ``prune`` (only suggestions whose error probability reaches ``confidence``).
    budget : at most this many of the most suspect rows: ``"5%"``, ``0.05`` or ``200``.
    threshold : only rows with ``label_quality`` below it. With neither, the ``is_issue`` rows.

    Returns
    -------
    A DataFrame with every input column and every row not dropped: for a DataFrame input, its
    own index and cell values, with only the changed rows' labels replaced; a ``changes`` column
    (``-name`` per label removed, ``+name`` per label added) is added or appended to.
    ``attrs["hashaudit_clean"]`` holds the counts (and label accuracy before/after with
    ``clean_labels``), ``attrs["classes"]`` the class order.
    """
    try:
        clean_settings = CleanSettings.parse(strategy, budget, threshold, confidence)
    except ValueError as error:
        raise DataError(str(error)) from None
    frame = data if isinstance(data, pd.DataFrame) else None
    table = _input_table(data, columns)
    dataset = _checked(
        lambda: dataset_from_table(
            table,
            source=_source(data),
            columns=columns,
            classes=_classes(data, classes),
            require_embeddings=False,
        ),
        frame is not None,
    )
    issues = None
    if clean_settings.strategy == "prune":
        issues = label_issues_table(result.scan, result.settings.review_threshold)
    aligned = align_audit(
        dataset,
        audit_table(result.scan),
        audit_classes=result.scan.classes,
        issues=issues,
        audit_file="the scan result",
    )
    cleaned, _, outcome = _checked(
        lambda: clean_table(table, dataset, aligned, clean_settings, columns=columns),
        frame is not None,
    )
    if frame is None:
        output = cleaned.to_pandas()
    else:
        output = _apply_to_frame(
            frame, cleaned, outcome.keep, outcome.removed | outcome.added, columns
        )
    output.attrs[CLASSES_ATTR] = list(dataset.classes)
    output.attrs[CLEAN_ATTR] = {
        **clean_settings.as_dict(),
        **outcome.counts,
        **(truth_accuracy(dataset, outcome) or {}),
    }
    return output


# ------------------------------------------------------------------------------ the edges
def load_dataset(
    data: DatasetLike,
    *,
    columns: ColumnNames = DEFAULT_COLUMNS,
    classes: Sequence[str] | None = None,
    min_train_rows: int = 1,
) -> AuditDataset:
    """A DataFrame, Parquet path or AuditDataset -> a validated AuditDataset (DataError)."""
    if isinstance(data, AuditDataset):
        return data
    if isinstance(data, str | os.PathLike):
        return read_dataset(Path(data), columns, classes, min_train_rows=min_train_rows)
    if not isinstance(data, pd.DataFrame):
        raise DataError(
            f"expected a pandas DataFrame, a Parquet path or an AuditDataset, got "
            f"{type(data).__name__}"
        )
    table = _frame_to_table(data, dataset_columns(columns), columns.labels)
    return _checked(
        lambda: dataset_from_table(
            table,
            columns=columns,
            classes=_classes(data, classes),
            min_train_rows=min_train_rows,
            file_columns=[str(name) for name in data.columns],
        ),
        True,
    )


def _scan_settings(methods: Sequence[str] | str, settings: Mapping[str, Any]) -> ScanSettings:
    known = {field.name for field in dataclasses.fields(ScanSettings)} - {"methods"}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise DataError(
            f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    if isinstance(methods, str):
        text = methods.strip().lower()
        methods = (
            () if text == "none" else [name.strip() for name in text.split(",") if name.strip()]
        )
    values: dict[str, Any] = {
        key: tuple(value) if isinstance(value, list) else value for key, value in settings.items()
    }
    try:
        return ScanSettings(methods=tuple(methods), **values)
    except (ValueError, TypeError) as error:
        raise DataError(str(error)) from None


def _frame_to_table(frame: pd.DataFrame, wanted: Sequence[str], labels: str) -> pa.Table:
    """The DataFrame's data-contract columns (those it has) as an Arrow table; its index is
    not a column. DataError naming the column Arrow cannot convert, or the missing labels."""
    names = [name for name in wanted if name in frame.columns]
    if labels not in names:
        raise DataError(
            f"no such column (the DataFrame has: {', '.join(map(str, frame.columns)) or 'none'})",
            file=FRAME,
            column=labels,
        )
    try:
        table = pa.Table.from_pandas(frame[names], preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError):
        for name in names:  # only on failure: find the column Arrow refuses
            try:
                pa.array(frame[name], from_pandas=True)
            except (pa.ArrowException, TypeError, ValueError) as error:
                first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
                raise DataError(
                    f"cannot convert to Arrow ({first_line or type(error).__name__})",
                    file=FRAME,
                    column=str(name),
                ) from None
        raise
    return table.replace_schema_metadata(None)


def _input_table(data: DatasetLike, columns: ColumnNames) -> pa.Table:
    """The table ``clean`` rewrites: for a DataFrame its contract columns and ``changes``."""
    if isinstance(data, AuditDataset):
        return dataset_to_table(data, columns)
    if isinstance(data, str | os.PathLike):
        return read_table(Path(data))
    if not isinstance(data, pd.DataFrame):
        raise DataError(
            f"expected a pandas DataFrame, a Parquet path or an AuditDataset, got "
            f"{type(data).__name__}"
        )
    return _frame_to_table(data, [*dataset_columns(columns), CHANGES_COLUMN], columns.labels)


def _source(data: DatasetLike) -> str | None:
    if isinstance(data, AuditDataset):
        return data.source
    return str(data) if isinstance(data, str | os.PathLike) else None


def _classes(data: DatasetLike, classes: Sequence[str] | None) -> Sequence[str] | None:
    if classes is None and isinstance(data, pd.DataFrame):
        return data.attrs.get(CLASSES_ATTR)
    return classes


def _checked(build: Callable[[], T], in_memory: bool) -> T:
    """Run ``build()``; for an in-memory DataFrame, name it where the CLI names the file."""
    try:
        return build()
    except DataError as error:
        if not in_memory or error.file is not None:
            raise
        raise DataError(error.message, file=FRAME, column=error.column, row=error.row) from None


def _apply_to_frame(
    frame: pd.DataFrame,
    cleaned: pa.Table,
    keep: np.ndarray,
    changed_cells: np.ndarray,
    columns: ColumnNames,
) -> pd.DataFrame:
    """``frame`` without the dropped rows, the changed rows' labels and ``changes`` taken from
    the cleaned table; every other cell (and the index) exactly as in ``frame``."""
    output = frame.loc[keep].copy()
    changed = np.flatnonzero(np.asarray(changed_cells.any(axis=1))[keep])
    new_labels = cleaned.column(columns.labels).take(pa.array(changed)).to_pylist()
    labels = list(output[columns.labels])
    for position, value in zip(changed, new_labels, strict=True):
        labels[position] = value
    output[columns.labels] = pd.Series(labels, index=output.index, dtype=object)
    output[CHANGES_COLUMN] = pd.Series(
        cleaned.column(CHANGES_COLUMN).to_pylist(), index=output.index, dtype=object
    )
    return output
