"""The audit folder as a format of its own: file names, column names, readers and writers.

``audit scan`` writes a folder; ``audit report``, ``audit clean``, the cleaning loop and the
notebook API read it. They all meet here, so none of them depends on another (the report reads
this module, not the scan) and nothing here imports torch, cleanlab or a hasher.

The folder::

    audit.parquet         one row per audited sample, sorted by rank (AUDIT_COLUMNS, then one
                          float column per signal, then ``is_noisy`` when the truth is known)
    label_issues.parquet  one row per (sample, class) cell worth reviewing (ISSUES_COLUMNS, …)
    summary.json          counts, noise rates, signals with their directions, per-class
                          numbers, metrics against the truth, timings, settings, versions
    report.html           the human view (:mod:`auditor.report`)
    retrieval.json        optional: retrieval mAP before/after cleaning (``{"rows": [...]}``)

``audit train`` writes ``model.pt`` and ``metrics.json`` into its own folder.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pyarrow as pa

from auditor.dataset import DataError
from auditor.io import (
    column_numbers,
    read_table,
    require_columns,
    schema_classes,
    write_json_atomic,
    write_table_atomic,
)

AUDIT_FILE = "audit.parquet"
ISSUES_FILE = "label_issues.parquet"
SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.html"
RETRIEVAL_FILE = "retrieval.json"
MODEL_FILE = "model.pt"
METRICS_FILE = "metrics.json"

FUSED = "label_quality"
"""The fused row score of ``audit.parquet``: in [0, 1], LOW = more suspect."""
Direction = Literal["low_is_suspect", "high_is_suspect"]
"""Which end of a signal is suspect: LOW (``low_is_suspect``) or HIGH (``high_is_suspect``)."""
LOW_IS_SUSPECT: Final = "low_is_suspect"
HIGH_IS_SUSPECT: Final = "high_is_suspect"
DIRECTIONS: tuple[Direction, ...] = (LOW_IS_SUSPECT, HIGH_IS_SUSPECT)

AUDIT_COLUMNS = (
    "id",
    "rank",
    FUSED,
    "is_issue",
    "given_labels",
    "suggested_labels",
    "labels_to_remove",
    "labels_to_add",
)
"""The columns every ``audit.parquet`` has, in order (the signal columns follow)."""
TRUTH_COLUMN = "is_noisy"

RATE_AT_BOUND = (
    "every resample of the rows reads the same rate, a bound of the estimate (no row noisy, or "
    "every row), so resampling shows no spread there"
)
"""Said in place of the ± of ``estimated_noise_rate_sd`` when it is 0: a rate read at its cap
(the two directions' rows add up to more than every row, as under heavy class flips) or at 0
has no spread over resamples, which is not certainty."""
ISSUES_COLUMNS = ("id", "class", "error_probability")
"""The columns ``audit clean --strategy prune`` needs from ``label_issues.parquet``."""
RETRIEVAL_KEYS = ("method", "labels", "round", "map_i2t", "map_t2i")


# ------------------------------------------------------------------------------ writing
def write_audit_files(
    folder: str | Path,
    audit: pa.Table,
    issues: pa.Table,
    summary: Mapping[str, Any],
    provenance: Mapping[str, Any],
) -> None:
    """Write ``audit.parquet``, ``label_issues.parquet`` and ``summary.json`` into ``folder``,
    each atomically (the caller makes the folder itself atomic)."""
    folder = Path(folder)
    write_table_atomic(audit, folder / AUDIT_FILE, provenance)
    write_table_atomic(issues, folder / ISSUES_FILE, provenance)
    write_json_atomic(summary, folder / SUMMARY_FILE)


# ------------------------------------------------------------------------------ reading
def read_json_object(path: str | Path) -> dict[str, Any]:
    """A JSON file holding one object; unreadable or anything else is a DataError."""
    path = Path(path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"not readable JSON ({error})", file=str(path)) from error
    if not isinstance(payload, dict):
        raise DataError("expected a JSON object", file=str(path))
    return payload


def read_audit(path: str | Path) -> tuple[pa.Table, list[str] | None]:
    """``audit.parquet`` and its class list (from its provenance metadata), if it has one."""
    table = read_table(path)
    return table, schema_classes(table.schema)


def read_retrieval(path: str | Path) -> list[dict[str, Any]]:
    """The rows of ``retrieval.json``: ``{"rows": [{"method", "labels", "round", "map_i2t",
    "map_t2i"}, …]}`` (other keys are kept and ignored); a malformed file is a DataError."""
    path = Path(path)
    payload = read_json_object(path)
    rows = payload.get("rows")
    if not isinstance(rows, list):
        raise DataError("expected a list under 'rows'", file=str(path))
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise DataError("expected an object", file=str(path), row=index)
        for key in RETRIEVAL_KEYS:
            if key not in row:
                raise DataError(f"no {key!r}", file=str(path), row=index)
        for key in ("map_i2t", "map_t2i"):
            value = row[key]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise DataError(f"{key!r} is not a number: {value!r}", file=str(path), row=index)
    return rows


@dataclass(frozen=True, eq=False)
class AuditFolder:
    """A scan folder, read and checked.

    Attributes
    ----------
    path : the folder.
    audit : ``audit.parquet`` (one row per audited sample, sorted by rank).
    summary : ``summary.json``.
    classes : class names in order.
    signals : signal column name -> direction (``low_is_suspect`` / ``high_is_suspect``), in the
        column order of ``audit.parquet``.
    retrieval : the rows of ``retrieval.json``, or None when the folder has none.
    """

    path: Path
    audit: pa.Table
    summary: dict[str, Any]
    classes: tuple[str, ...]
    signals: dict[str, str]
    retrieval: list[dict[str, Any]] | None

    @property
    def truth(self) -> np.ndarray | None:
        """(N,) bool, True = the row is truly noisy; None when the truth is unknown."""
        if TRUTH_COLUMN not in self.audit.column_names:
            return None
        return column_numbers(self.audit.column(TRUTH_COLUMN)) == 1.0  # a null is not noisy

    def values(self, column: str) -> np.ndarray:
        """(N,) float64 values of a numeric column (a null is NaN)."""
        return column_numbers(self.audit.column(column))


def read_audit_folder(path: str | Path) -> AuditFolder:
    """Read and check a scan folder; anything missing or malformed is a DataError."""
    path = Path(path)
    if not path.is_dir():
        raise DataError("not a folder (expected the output folder of `audit scan`)", file=str(path))
    audit_path = path / AUDIT_FILE
    summary_path = path / SUMMARY_FILE
    for required in (audit_path, summary_path):
        if not required.is_file():
            raise DataError(
                f"not a scan folder: {required.name} is missing (run `audit scan` first)",
                file=str(path),
            )
    audit = read_table(audit_path)
    require_columns(audit, AUDIT_COLUMNS, file=str(audit_path), prefix="not an audit table: ")
    summary = read_json_object(summary_path)
    classes = summary.get("classes")
    if not isinstance(classes, list) or not classes:
        raise DataError("no class list under 'classes'", file=str(summary_path))
    signals = signal_directions(summary, audit.column_names, file=str(summary_path))
    retrieval_path = path / RETRIEVAL_FILE
    retrieval = read_retrieval(retrieval_path) if retrieval_path.is_file() else None
    return AuditFolder(
        path=path,
        audit=audit,
        summary=summary,
        classes=tuple(str(name) for name in classes),
        signals=signals,
        retrieval=retrieval,
    )


def signal_directions(
    summary: Mapping[str, Any], columns: Sequence[str], *, file: str | None
) -> dict[str, str]:
    """Signal column -> direction, for the ``columns`` that ``summary["signals"]`` describes
    (in column order); a missing list or an invalid direction is a DataError."""
    described = summary.get("signals")
    if not isinstance(described, dict):
        raise DataError("no signal list under 'signals'", file=file)
    signals: dict[str, str] = {}
    for column in columns:
        if column in described:
            entry = described[column]
            direction = entry.get("direction") if isinstance(entry, dict) else None
            if direction not in DIRECTIONS:
                raise DataError(f"signal {column!r} has no valid direction", file=file)
            signals[column] = direction
    return signals
