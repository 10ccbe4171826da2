"""Cleaning: apply an audit to a dataset — drop, relabel or prune the suspect train rows.

Library first. The core works on arrays aligned to the dataset's rows:

- :func:`select_rows` chooses the audited rows to act on (a budget, a ``label_quality``
  threshold, or the audit's ``is_issue`` flags), most suspect first;
- :func:`relabel_labels`, :func:`prune_labels` and :func:`clean_arrays` apply a strategy to
  (N, C) multi-hot labels;
- :func:`align_audit` checks that an audit belongs to a dataset and aligns it to its rows.

:func:`clean_table` rewrites a data-contract table keeping every input column, and
:func:`clean_file` is the facade ``audit clean`` calls: read, validate, clean, write atomically
with provenance (and, for ``drop``, the sidecar of dropped rows).

Rules every strategy follows:

- only audited rows are touched, and an audit's rows must be the dataset's ``train`` rows, so
  ``query`` and ``database`` rows are never changed or dropped;
- no row ends with an empty label set: ``relabel`` keeps a row's given labels when its
  suggestion is empty, ``prune`` keeps the given label with the lowest error probability when
  every given label would be removed and no label added; ``drop`` removes whole rows (never
  every train row).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from auditor.audit_files import AUDIT_COLUMNS, FUSED, ISSUES_COLUMNS, ISSUES_FILE, read_audit
from auditor.dataset import DEFAULT_COLUMNS, AuditDataset, ColumnNames, DataError
from auditor.io import (
    check_output_file,
    check_unique_ids,
    dataset_from_table,
    file_fingerprint,
    labels_to_multi_hot,
    make_provenance,
    multi_hot_to_arrow,
    read_provenance,
    read_table,
    require_columns,
    write_table_atomic,
)

STRATEGIES = ("drop", "relabel", "prune")
DEFAULT_CONFIDENCE = 0.8
"""Default of ``prune``'s confidence: a suggested cell is applied when its error probability
(``label_issues.parquet``) reaches this. Measured on synthetic pairflip data (1,500 audited rows,
full scan): suggested cells at error probability ≥ 0.8 are right 64 % of the time against 53 %
for all suggestions, and applying them raises the share of correct cells; lower it to apply more."""
CHANGES_COLUMN = "changes"
DROPPED_SUFFIX = ".dropped.parquet"


# ------------------------------------------------------------------------------------ settings
@dataclass(frozen=True)
class Budget:
    """How many audited rows to act on: a ``fraction`` of them, or a ``count``."""

    fraction: float | None = None
    count: int | None = None

    def __post_init__(self) -> None:
        if (self.fraction is None) == (self.count is None):
            raise ValueError("a budget is either a fraction or a count")
        if self.fraction is not None and not 0.0 < self.fraction <= 1.0:
            raise ValueError(f"a budget fraction must be in (0, 1], got {self.fraction}")
        if self.count is not None and self.count < 1:
            raise ValueError(f"a budget count must be at least 1, got {self.count}")

    def rows(self, n_audited: int) -> int:
        """Rows the budget allows out of ``n_audited`` (a fraction rounds to the nearest row)."""
        if self.count is not None:
            return min(self.count, n_audited)
        assert self.fraction is not None
        return min(n_audited, int(math.floor(self.fraction * n_audited + 0.5)))

    def describe(self) -> str:
        return f"{self.fraction:g}" if self.fraction is not None else str(self.count)


def parse_budget(value: str | float | int) -> Budget:
    """``"5%"`` or ``"0.05"`` -> a fraction of the audited rows; ``"200"`` -> a count of rows.

    A value with ``%`` is a percentage; one with a decimal point or below 1 a fraction in
    (0, 1]; a whole number of at least 1 a count. Anything else is a ValueError.
    """
    text = str(value).strip()
    hint = "give a fraction like 0.05, a percentage like 5%, or a number of rows like 200"
    if re.fullmatch(r"[+]?\d+", text):
        return Budget(count=int(text))
    try:
        number = float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
    except ValueError:
        raise ValueError(f"not a budget: {value!r} ({hint})") from None
    if not math.isfinite(number):
        raise ValueError(f"not a budget: {value!r} ({hint})")
    return Budget(fraction=number)


@dataclass(frozen=True)
class CleanSettings:
    """What ``audit clean`` does.

    Attributes
    ----------
    strategy : ``drop`` (remove the chosen rows), ``relabel`` (give them their
        ``suggested_labels``) or ``prune`` (apply only the suggested removals and additions
        whose error probability reaches ``confidence``; every row is kept).
    budget : at most this many of the most suspect rows; None = no cap.
    threshold : only rows with ``label_quality`` strictly below it; None = no threshold.
        With neither ``budget`` nor ``threshold`` the audit's ``is_issue`` rows are chosen.
    confidence : ``prune`` only, in (0, 1] (default :data:`DEFAULT_CONFIDENCE`).
    """

    strategy: str = "relabel"
    budget: Budget | None = None
    threshold: float | None = None
    confidence: float = DEFAULT_CONFIDENCE

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(
                f"strategy {self.strategy!r} is unknown; choose one of {', '.join(STRATEGIES)}"
            )
        if self.threshold is not None and not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if not 0.0 < self.confidence <= 1.0:
            raise ValueError(f"confidence must be in (0, 1], got {self.confidence}")

    @classmethod
    def parse(
        cls,
        strategy: str,
        budget: str | float | int | None = None,
        threshold: float | None = None,
        confidence: float = DEFAULT_CONFIDENCE,
    ) -> CleanSettings:
        """Settings from user-facing values: ``budget`` as ``audit clean --budget`` takes it
        (``"5%"``, ``0.05``, ``200``; see :func:`parse_budget`). ValueError when out of range."""
        return cls(
            strategy=strategy,
            budget=None if budget is None else parse_budget(budget),
            threshold=threshold,
            confidence=confidence,
        )

    @property
    def selection(self) -> str:
        """How rows are chosen, in words (for provenance and status lines)."""
        parts = []
        if self.threshold is not None:
            parts.append(f"label_quality < {self.threshold:g}")
        if self.budget is not None:
            parts.append(f"budget {self.budget.describe()}")
        return " and ".join(parts) if parts else "is_issue"

    def as_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "budget": None if self.budget is None else self.budget.describe(),
            "budget_kind": None
            if self.budget is None
            else ("fraction" if self.budget.fraction is not None else "count"),
            "threshold": self.threshold,
            "confidence": self.confidence if self.strategy == "prune" else None,
            "selection": self.selection,
        }


# ---------------------------------------------------------------------------------- pure core
def select_rows(
    rank: np.ndarray,
    label_quality: np.ndarray,
    is_issue: np.ndarray,
    budget: Budget | None = None,
    threshold: float | None = None,
) -> np.ndarray:
    """Which audited rows to act on.

    Parameters
    ----------
    rank : (M,) int, 1 = most suspect; label_quality : (M,) float, lower = more suspect;
    is_issue : (M,) bool, the audit's flags.
    budget : at most this many rows, most suspect (lowest rank) first.
    threshold : only rows with ``label_quality < threshold``.

    Returns
    -------
    (M,) bool. With neither ``budget`` nor ``threshold``: ``is_issue``. With both: the rows
    below the threshold, at most ``budget`` of them.
    """
    n_rows = len(rank)
    if budget is None and threshold is None:
        return np.asarray(is_issue, dtype=bool).copy()
    eligible = np.ones(n_rows, dtype=bool)
    if threshold is not None:
        eligible &= np.asarray(label_quality) < threshold
    order = np.argsort(np.asarray(rank), kind="stable")
    order = order[eligible[order]]
    if budget is not None:
        order = order[: budget.rows(n_rows)]
    selected = np.zeros(n_rows, dtype=bool)
    selected[order] = True
    return selected


def relabel_labels(
    given: np.ndarray, suggested: np.ndarray, selected: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Replace the selected rows' labels by the suggested ones.

    Parameters
    ----------
    given, suggested : (M, C) 0/1; selected : (M,) bool.

    Returns
    -------
    labels : (M, C) bool. kept_given : (M,) bool, selected rows whose suggestion is empty and
    which therefore keep their given labels (a row never ends without a label).
    """
    given = np.asarray(given).astype(bool)
    suggested = np.asarray(suggested).astype(bool)
    selected = np.asarray(selected, dtype=bool)
    kept_given = selected & ~suggested.any(axis=1)
    use = selected & ~kept_given
    labels = np.where(use[:, None], suggested, given)
    return labels, kept_given


def prune_labels(
    given: np.ndarray,
    remove: np.ndarray,
    add: np.ndarray,
    error: np.ndarray,
    selected: np.ndarray,
    confidence: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply only the confident suggestions of the selected rows.

    Parameters
    ----------
    given : (M, C) 0/1 given labels; remove, add : (M, C) bool suggestions;
    error : (M, C) float, probability that the cell as given is wrong (NaN = no evidence,
        never applied); selected : (M,) bool; confidence : apply a suggested cell when its
        error probability is at least this.

    Returns
    -------
    labels : (M, C) bool. below_confidence : (M, C) bool, suggested cells left alone.
    kept_to_avoid_empty : (M, C) bool, confident removals skipped because the row would have
    no label left: the given label with the lowest error probability stays.
    """
    given = np.asarray(given).astype(bool)
    selected = np.asarray(selected, dtype=bool)[:, None]
    suggested = (np.asarray(remove, dtype=bool) | np.asarray(add, dtype=bool)) & selected
    error = np.asarray(error, dtype=np.float64)
    confident = suggested & (np.nan_to_num(error, nan=-1.0) >= confidence)
    apply_remove = confident & given
    apply_add = confident & ~given
    labels = (given & ~apply_remove) | apply_add
    kept = np.zeros_like(given)
    emptied = np.flatnonzero(~labels.any(axis=1))
    if emptied.size:
        candidates = np.where(apply_remove[emptied], error[emptied], np.inf)
        best = candidates.argmin(axis=1)
        kept[emptied, best] = True
        labels[emptied, best] = True
    return labels, suggested & ~confident, kept


@dataclass(frozen=True, eq=False)
class AlignedAudit:
    """An audit aligned to a dataset's rows (audit order; every row is a train row).

    Attributes
    ----------
    rows : (M,) int64 dataset row of each audited sample.
    ids : (M,) ids; rank : (M,) int; label_quality : (M,) float; is_issue : (M,) bool.
    given, suggested, remove, add : (M, C) bool.
    error : (M, C) float64 error probability of each cell from ``label_issues.parquet`` (NaN
        where it lists nothing), or None without that file.
    """

    rows: np.ndarray
    ids: np.ndarray
    rank: np.ndarray
    label_quality: np.ndarray
    is_issue: np.ndarray
    given: np.ndarray
    suggested: np.ndarray
    remove: np.ndarray
    add: np.ndarray
    error: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class CleanResult:
    """A strategy applied to every row of a dataset.

    Attributes
    ----------
    labels : (N, C) uint8 labels after cleaning (dropped rows keep theirs).
    keep : (N,) bool, False for dropped rows. selected : (N,) bool, the rows chosen.
    removed, added : (N, C) bool, the label cells changed.
    counts : numbers for the user and the provenance (see docs/commands.md, ``audit clean``).
    """

    labels: np.ndarray
    keep: np.ndarray
    selected: np.ndarray
    removed: np.ndarray
    added: np.ndarray
    counts: dict[str, int]


def clean_arrays(labels: np.ndarray, audit: AlignedAudit, settings: CleanSettings) -> CleanResult:
    """Apply ``settings.strategy`` to the audited rows of ``labels`` (N, C); others untouched."""
    labels = np.asarray(labels)
    n_rows = labels.shape[0]
    chosen = select_rows(
        audit.rank, audit.label_quality, audit.is_issue, settings.budget, settings.threshold
    )
    given = audit.given
    has_suggestion = (audit.remove | audit.add).any(axis=1)
    counts: dict[str, int] = {
        "rows": n_rows,
        "rows_audited": len(audit.rows),
        "rows_flagged": int(audit.is_issue.sum()),
        "rows_selected": int(chosen.sum()),
    }
    keep = np.ones(n_rows, dtype=bool)
    new_audited = given.copy()
    if settings.strategy == "drop":
        keep[audit.rows[chosen]] = False
        counts["rows_dropped"] = int(chosen.sum())
    elif settings.strategy == "relabel":
        new_audited, kept_given = relabel_labels(given, audit.suggested, chosen)
        counts["rows_kept_given_labels"] = int(kept_given.sum())
        counts["rows_without_suggestion"] = int((chosen & ~has_suggestion).sum())
    else:
        if audit.error is None:
            raise DataError(f"prune needs the per-cell evidence of {ISSUES_FILE}")
        new_audited, below, kept = prune_labels(
            given, audit.remove, audit.add, audit.error, chosen, settings.confidence
        )
        counts["cells_below_confidence"] = int(below.sum())
        counts["removals_skipped_to_keep_a_label"] = int(kept.sum())
        counts["rows_without_suggestion"] = int((chosen & ~has_suggestion).sum())
    removed = np.zeros(labels.shape, dtype=bool)
    added = np.zeros(labels.shape, dtype=bool)
    removed[audit.rows] = given & ~new_audited
    added[audit.rows] = new_audited & ~given
    cleaned = labels.copy()
    cleaned[audit.rows] = new_audited.astype(labels.dtype)
    changed = removed.any(axis=1) | added.any(axis=1)
    counts["rows_changed"] = int(changed.sum())
    counts["labels_removed"] = int(removed.sum())
    counts["labels_added"] = int(added.sum())
    counts.setdefault("rows_dropped", 0)
    counts["rows_written"] = int(keep.sum())
    selected = np.zeros(n_rows, dtype=bool)
    selected[audit.rows[chosen]] = True
    return CleanResult(
        labels=cleaned,
        keep=keep,
        selected=selected,
        removed=removed,
        added=added,
        counts=counts,
    )


def change_lists(removed: np.ndarray, added: np.ndarray, classes: Sequence[str]) -> list[list[str]]:
    """(N, C) bool removed and added cells -> per row ``["-dog", "+cat"]`` (removals first,
    each in class order)."""
    names = np.asarray(classes, dtype=object)
    return [
        [f"-{name}" for name in names[gone]] + [f"+{name}" for name in names[new]]
        for gone, new in zip(np.asarray(removed, bool), np.asarray(added, bool), strict=True)
    ]


def label_accuracy(labels: np.ndarray, truth: np.ndarray) -> float:
    """Share of rows whose label set equals the truth exactly ((N, C) each; NaN for no rows)."""
    if len(labels) == 0:
        return float("nan")
    return float((np.asarray(labels, bool) == np.asarray(truth, bool)).all(axis=1).mean())


def cell_accuracy(labels: np.ndarray, truth: np.ndarray) -> float:
    """Share of (row, class) cells equal to the truth ((N, C) each; NaN for no rows)."""
    if len(labels) == 0:
        return float("nan")
    return float((np.asarray(labels, bool) == np.asarray(truth, bool)).mean())


def truth_accuracy(dataset: AuditDataset, result: CleanResult) -> dict[str, float] | None:
    """With known clean labels: the share of train rows (``label_accuracy``) and of train cells
    (``cell_accuracy``) equal to the truth, before and after cleaning (after: the kept rows)."""
    if dataset.clean_labels is None:
        return None
    train = dataset.train_mask
    kept = train & result.keep
    truth = dataset.clean_labels
    return {
        "label_accuracy_before": label_accuracy(dataset.labels[train], truth[train]),
        "label_accuracy_after": label_accuracy(result.labels[kept], truth[kept]),
        "cell_accuracy_before": cell_accuracy(dataset.labels[train], truth[train]),
        "cell_accuracy_after": cell_accuracy(result.labels[kept], truth[kept]),
    }


# ----------------------------------------------------------------------------- the audit files
def _python_ids(ids: np.ndarray) -> list[Any]:
    return ids.tolist()


def align_audit(
    dataset: AuditDataset,
    audit: pa.Table,
    *,
    audit_classes: Sequence[str] | None,
    issues: pa.Table | None = None,
    audit_file: str | None = None,
    issues_file: str | None = None,
) -> AlignedAudit:
    """Check that ``audit`` (``audit.parquet``) was made on ``dataset`` and align it to its rows.

    Refused with a DataError naming the file, column and row: a missing audit column; a class
    list that differs from the dataset's; an audit id that is not a train row of the dataset
    (missing, or a query/database row); a train row of the dataset the audit does not cover;
    duplicate ids; given labels that differ from the dataset's labels (the audit was made on
    other labels: scan again); a label name that is not a class.
    """
    file = audit_file
    require_columns(audit, AUDIT_COLUMNS, file=file, prefix="not an audit: ")
    classes = list(dataset.classes)
    if audit_classes is not None and list(audit_classes) != classes:
        only_audit = [name for name in audit_classes if name not in classes]
        only_data = [name for name in classes if name not in audit_classes]
        detail = (
            f"only in the audit: {', '.join(only_audit) or 'none'}; only in the data: "
            f"{', '.join(only_data) or 'none'}"
            if only_audit or only_data
            else "same names in another order"
        )
        raise DataError(
            f"the audit's class list ({len(audit_classes)} classes) differs from the data's "
            f"({len(classes)}): {detail}",
            file=file,
        )
    ids = audit.column("id").to_pylist()
    if any(value is None for value in ids):
        raise DataError("null id", file=file, column="id", row=ids.index(None))
    row_of = {value: index for index, value in enumerate(_python_ids(dataset.ids))}
    train = dataset.train_mask
    rows = np.empty(len(ids), dtype=np.int64)
    for position, value in enumerate(ids):
        row = row_of.get(value)
        if row is None:
            raise DataError(
                f"audit id {value!r} is not in the data ({dataset.source or 'the dataset'}): "
                "this audit was made on another dataset",
                file=file,
                column="id",
                row=position,
            )
        if not train[row]:
            raise DataError(
                f"audit id {value!r} is a {dataset.split[row]!r} row of the data, not a train "
                "row: this audit was made on another dataset",
                file=file,
                column="id",
                row=position,
            )
        rows[position] = row
    check_unique_ids(ids, file=file, column="id")
    n_train = int(train.sum())
    if len(rows) != n_train:
        uncovered = np.setdiff1d(np.flatnonzero(train), rows)
        raise DataError(
            f"the audit covers {len(rows)} of the data's {n_train} train rows (first uncovered "
            f"id {_python_ids(dataset.ids[uncovered[:1]])[0]!r}): this audit was made on "
            "another dataset",
            file=file,
        )

    def lists(name: str) -> np.ndarray:
        values = audit.column(name)
        return labels_to_multi_hot(values, classes, file=file, column=name, allow_empty=True) > 0

    given = lists("given_labels")
    differs = np.flatnonzero((given != dataset.labels[rows].astype(bool)).any(axis=1))
    if differs.size:
        raise DataError(
            f"the audit's given labels differ from the data's labels in {differs.size} rows "
            f"(first: id {ids[differs[0]]!r}): the audit was made on other labels; scan this "
            "file again",
            file=file,
            column="given_labels",
            row=int(differs[0]),
        )
    label_quality = _numbers(audit, FUSED, np.float64, file)
    rank = _numbers(audit, "rank", np.int64, file)
    is_issue = _numbers(audit, "is_issue", np.bool_, file)
    error = None
    if issues is not None:
        error = _cell_errors(issues, ids, classes, file=issues_file)
    return AlignedAudit(
        rows=rows,
        ids=dataset.ids[rows],
        rank=rank,
        label_quality=label_quality,
        is_issue=is_issue,
        given=given,
        suggested=lists("suggested_labels"),
        remove=lists("labels_to_remove"),
        add=lists("labels_to_add"),
        error=error,
    )


_KINDS = {
    np.float64: (pa.types.is_floating, "float"),
    np.int64: (pa.types.is_integer, "integer"),
    np.bool_: (pa.types.is_boolean, "boolean"),
}


def _numbers(table: pa.Table, name: str, dtype: type, file: str | None) -> np.ndarray:
    """A float, integer or boolean column as a numpy array; nulls, NaN and wrong types refused."""
    column = table.column(name)
    accepts, kind = _KINDS[dtype]
    if not accepts(column.type):
        raise DataError(f"wrong type {column.type}: expected {kind}", file=file, column=name)
    if column.null_count:
        row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
        raise DataError("null value", file=file, column=name, row=row)
    values: np.ndarray = np.asarray(column.to_numpy(zero_copy_only=False)).astype(dtype)
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        row = int(np.flatnonzero(~np.isfinite(values))[0])
        raise DataError("NaN or infinite value", file=file, column=name, row=row)
    return values


def _cell_errors(
    issues: pa.Table, audit_ids: list[Any], classes: Sequence[str], *, file: str | None
) -> np.ndarray:
    """(M, C) error probability per audited cell from ``label_issues.parquet`` (NaN = unlisted)."""
    require_columns(issues, ISSUES_COLUMNS, file=file)
    position_of = {value: index for index, value in enumerate(audit_ids)}
    class_of = {name: index for index, name in enumerate(classes)}
    error = np.full((len(audit_ids), len(classes)), np.nan)
    probability = _numbers(issues, "error_probability", np.float64, file)
    for row, (value, name) in enumerate(
        zip(issues.column("id").to_pylist(), issues.column("class").to_pylist(), strict=True)
    ):
        if value not in position_of:
            raise DataError(
                f"id {value!r} is not in the audit: these label issues belong to another audit",
                file=file,
                column="id",
                row=row,
            )
        if name not in class_of:
            raise DataError(f"unknown class {name!r}", file=file, column="class", row=row)
        error[position_of[value], class_of[name]] = probability[row]
    return error


# --------------------------------------------------------------------------------- tables
def _replace_rows(original: pa.ChunkedArray, rows: np.ndarray, values: pa.Array) -> pa.Array:
    """``original`` with the entries at ``rows`` replaced by ``values`` (same order), other
    entries byte-for-byte as they were; ``values`` is cast to the column's type."""
    base = original.combine_chunks()
    if rows.size == 0:
        return base
    indices = np.arange(len(base), dtype=np.int64)
    indices[rows] = len(base) + np.arange(rows.size)
    combined = pa.concat_arrays([base, values.cast(base.type)])
    return combined.take(pa.array(indices))


def relabelled_table(
    table: pa.Table,
    dataset: AuditDataset,
    result: CleanResult,
    *,
    columns: ColumnNames = DEFAULT_COLUMNS,
) -> pa.Table:
    """``table`` with the labels of the changed rows replaced by ``result.labels`` (other rows
    byte-for-byte as they were) and the ``changes`` column added or extended."""
    changed_rows = np.flatnonzero(result.removed.any(axis=1) | result.added.any(axis=1))
    labels_column = table.column(columns.labels)
    as_indices = pa.types.is_integer(labels_column.type.value_type)
    new_labels = multi_hot_to_arrow(
        result.labels[changed_rows], dataset.classes, as_indices=as_indices
    )
    index = table.schema.get_field_index(columns.labels)
    table = table.set_column(
        index, table.schema.field(index), _replace_rows(labels_column, changed_rows, new_labels)
    )
    changes = change_lists(result.removed, result.added, dataset.classes)
    if CHANGES_COLUMN in table.column_names:
        previous = table.column(CHANGES_COLUMN)
        value_type = getattr(previous.type, "value_type", None)
        if value_type is None or not (
            pa.types.is_string(value_type) or pa.types.is_large_string(value_type)
        ):
            raise DataError(
                f"wrong type {previous.type}: expected list<string> (the changes of an earlier "
                "`audit clean`)",
                file=dataset.source,
                column=CHANGES_COLUMN,
            )
        history = previous.to_pylist()
        merged = [(old or []) + new for old, new in zip(history, changes, strict=True)]
        table = table.set_column(
            table.schema.get_field_index(CHANGES_COLUMN),
            CHANGES_COLUMN,
            pa.array(merged, type=pa.list_(pa.string())),
        )
    else:
        table = table.append_column(CHANGES_COLUMN, pa.array(changes, type=pa.list_(pa.string())))
    return table


def clean_table(
    table: pa.Table,
    dataset: AuditDataset,
    audit: AlignedAudit,
    settings: CleanSettings,
    *,
    columns: ColumnNames = DEFAULT_COLUMNS,
) -> tuple[pa.Table, pa.Table | None, CleanResult]:
    """Rewrite a data-contract table: labels of changed rows replaced, dropped rows removed,
    a ``changes`` column added; every other column and row as it was.

    Returns
    -------
    cleaned : the table. dropped : for ``drop``, the dropped rows (``id``, ``rank``,
    ``label_quality``, ``given_labels``), else None. result : the :class:`CleanResult`.

    ``changes`` is ``list<string>``: ``-name`` per label removed, ``+name`` per label added. If
    the input already has a ``changes`` column (a cleaned file cleaned again) the new changes
    are appended to it, so it keeps the whole history.
    """
    result = clean_arrays(dataset.labels, audit, settings)
    table = relabelled_table(table, dataset, result, columns=columns)
    dropped = None
    if settings.strategy == "drop":
        if not (result.keep & dataset.train_mask).any():
            raise DataError(
                f"dropping {result.counts['rows_dropped']} rows would leave no train rows; "
                "choose a smaller --budget",
                file=dataset.source,
            )
        chosen = ~result.keep[audit.rows]
        order = np.argsort(audit.rank[chosen], kind="stable")
        ids = audit.ids[chosen][order]
        dropped = pa.table(
            {
                "id": pa.array(_python_ids(ids)),
                "rank": pa.array(audit.rank[chosen][order]),
                FUSED: pa.array(audit.label_quality[chosen][order]),
                "given_labels": multi_hot_to_arrow(audit.given[chosen][order], dataset.classes),
            }
        )
        table = table.filter(pa.array(result.keep))
    return table, dropped, result


# ----------------------------------------------------------------------------------- facade
def dropped_path(out: str | Path) -> Path:
    """The sidecar of dropped rows beside ``out``: ``<out-stem>.dropped.parquet``."""
    out = Path(out)
    return out.with_name(f"{out.stem}{DROPPED_SUFFIX}")


def clean_file(
    data: str | Path,
    audit_path: str | Path,
    out: str | Path,
    settings: CleanSettings,
    *,
    issues_path: str | Path | None = None,
    columns: ColumnNames = DEFAULT_COLUMNS,
    classes: Sequence[str] | None = None,
) -> dict[str, Any]:
    """``audit clean``: read DATA and the audit, check they match, clean, write atomically.

    Writes ``out`` (all input columns, labels replaced, ``changes``, provenance under the
    metadata key ``hashaudit``: the audit's path and fingerprint, the settings, the counts) and,
    for ``drop``, :func:`dropped_path`. ``issues_path`` (``label_issues.parquet``, default: the
    file beside the audit) is read for ``prune``. Returns a summary (counts, paths, settings).
    Input files are never modified and nothing is left behind on failure.
    """
    data, audit_path, out = Path(data), Path(audit_path), Path(out)
    sidecar = dropped_path(out) if settings.strategy == "drop" else None
    if settings.strategy == "prune" and issues_path is None:
        issues_path = audit_path.with_name(ISSUES_FILE)
    inputs = (data, audit_path, issues_path)
    check_output_file(out, "clean", *inputs)
    if sidecar is not None:
        check_output_file(sidecar, "clean", *inputs)
    table = read_table(data)
    dataset = dataset_from_table(
        table, source=str(data), columns=columns, classes=classes, require_embeddings=False
    )
    audit_table, audit_classes = read_audit(audit_path)
    issues = None
    if settings.strategy == "prune":
        assert issues_path is not None
        if not Path(issues_path).exists():
            raise DataError(
                f"prune needs the per-cell evidence of {ISSUES_FILE} (written by `audit scan` "
                "beside audit.parquet); pass --issues FILE",
                file=str(issues_path),
            )
        issues = read_table(issues_path)
    aligned = align_audit(
        dataset,
        audit_table,
        audit_classes=audit_classes,
        issues=issues,
        audit_file=str(audit_path),
        issues_file=None if issues_path is None else str(issues_path),
    )
    cleaned, dropped, result = clean_table(table, dataset, aligned, settings, columns=columns)
    accuracy = truth_accuracy(dataset, result)
    evidence = (
        {"path": str(issues_path), "fingerprint": file_fingerprint(issues_path)}
        if issues is not None and issues_path is not None
        else None
    )
    provenance = make_provenance(
        "clean",
        settings=settings.as_dict(),
        classes=dataset.classes,
        input_path=data,
        audit={"path": str(audit_path), "fingerprint": file_fingerprint(audit_path)},
        evidence=evidence,
        counts=result.counts,
        accuracy=accuracy,
        dropped_file=None if sidecar is None else str(sidecar),
        parent=read_provenance(data),
    )
    if dropped is not None and sidecar is not None:
        write_table_atomic(dropped, sidecar, provenance)
    try:
        write_table_atomic(cleaned, out, provenance)
    except BaseException:
        if sidecar is not None and sidecar.exists():
            sidecar.unlink()
        raise
    return {
        "output": str(out),
        "dropped_file": None if sidecar is None else str(sidecar),
        "input": str(data),
        "audit": str(audit_path),
        **settings.as_dict(),
        **result.counts,
        **(accuracy or {}),
    }
