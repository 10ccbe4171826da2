"""Reviewed decisions: apply exactly what a person decided in the report's review loop.

``decisions.csv`` (written by the report's "download decisions.csv" button, or by hand) has the
columns ``id``, ``class``, ``action`` and ``reviewer_note`` (optional), one decision per line:

- ``accepted``: the audit's suggested change of that (id, class) cell is applied. The suggestion
  always flips the cell, so: a class the row has is removed, a class it lacks is added.
- ``rejected``: nothing changes (the decision is counted and kept in the provenance counts).
- ``set``: the row's labels become exactly the classes in ``class``, separated by ``|`` (a name
  containing ``|`` is written in double quotes, as in a CSV cell: ``dog|"rock|roll"``).

Refused with the line number (1 = the header): an unknown id, a non-train row, an unknown class,
an unknown action, a second decision on the same (id, class) or a ``set`` beside other decisions
of its row, a row left without any label. With the audit at hand, an ``accepted`` cell must be
one of its suggestions (``labels_to_remove`` / ``labels_to_add``) of that row.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from auditor.cleaning import (
    AlignedAudit,
    CleanResult,
    align_audit,
    read_audit,
    relabelled_table,
    truth_accuracy,
)
from auditor.dataset import DEFAULT_COLUMNS, AuditDataset, ColumnNames, DataError
from auditor.io import (
    check_output_file,
    dataset_from_table,
    file_fingerprint,
    make_provenance,
    read_provenance,
    read_table,
    write_table_atomic,
)
from auditor.tags import split_tags

DECISION_COLUMNS = ("id", "class", "action")
ACTIONS = ("accepted", "rejected", "set")
SET_SEPARATOR = "|"


@dataclass(frozen=True)
class Decision:
    """One line of decisions.csv (``line``: its 1-based line number in the file)."""

    line: int
    id: str
    classes: tuple[str, ...]
    action: str
    note: str


def read_decisions(path: str | Path) -> list[Decision]:
    """Parse decisions.csv with the csv module (quoted notes may span lines: ``line`` is where
    the record starts). A missing column or unknown action is a DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError("no such file", file=str(path))
    decisions = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            missing = [name for name in DECISION_COLUMNS if name not in header]
            if missing:
                raise DataError(
                    f"no such column (the file has: {', '.join(header) or 'nothing'})",
                    file=str(path),
                    column=missing[0],
                )
            line = reader.line_num + 1
            for record in reader:
                action = (record.get("action") or "").strip().lower()
                if action not in ACTIONS:
                    raise DataError(
                        f"line {line}: unknown action {record.get('action')!r} "
                        f"(expected {' | '.join(ACTIONS)})",
                        file=str(path),
                        column="action",
                    )
                cell = record.get("class") or ""
                names = split_tags(cell, SET_SEPARATOR) if action == "set" else [cell.strip()]
                decisions.append(
                    Decision(
                        line=line,
                        id=(record.get("id") or "").strip(),
                        classes=tuple(names),
                        action=action,
                        note=record.get("reviewer_note") or "",
                    )
                )
                line = reader.line_num + 1
    except (csv.Error, UnicodeDecodeError) as error:
        raise DataError(f"not a readable CSV file ({error})", file=str(path)) from None
    return decisions


def apply_decisions(
    dataset: AuditDataset,
    decisions: Sequence[Decision],
    *,
    audit: AlignedAudit | None = None,
    file: str | None = None,
) -> CleanResult:
    """The dataset's labels with exactly the decisions applied (every row kept).

    Parameters
    ----------
    dataset : the data the decisions were made on; decisions : from :func:`read_decisions`.
    audit : when given, each ``accepted`` cell must be one of its suggestions.

    Returns
    -------
    A :class:`~auditor.cleaning.CleanResult`: ``labels`` (N, C) after, ``selected`` the rows with a
    decision, ``removed`` / ``added`` the cells changed, ``counts`` per action.
    """
    row_of = {str(value): row for row, value in enumerate(dataset.ids.tolist())}
    class_of = {name: index for index, name in enumerate(dataset.classes)}
    suggested = _suggested_cells(audit)
    labels = dataset.labels.astype(bool)
    after = labels.copy()
    selected = np.zeros(len(labels), dtype=bool)
    seen: dict[tuple[int, str], int] = {}
    set_rows: dict[int, int] = {}
    counts = {action: 0 for action in ACTIONS}
    last_line: dict[int, int] = {}

    def fail(decision: Decision, message: str, column: str) -> DataError:
        return DataError(f"line {decision.line}: {message}", file=file, column=column)

    for decision in decisions:
        row = row_of.get(decision.id)
        if row is None:
            raise fail(decision, f"id {decision.id!r} is not in the data", "id")
        if dataset.split[row] != "train":
            raise fail(
                decision,
                f"id {decision.id!r} is a {dataset.split[row]!r} row, not a "
                "train row (only audited rows are reviewed)",
                "id",
            )
        indices = []
        for name in decision.classes:
            if name not in class_of:
                raise fail(
                    decision, f"unknown class {name!r} (known: {len(class_of)} classes)", "class"
                )
            indices.append(class_of[name])
        key_name = SET_SEPARATOR if decision.action == "set" else decision.classes[0]
        if row in set_rows or (decision.action == "set" and any(r == row for r, _ in seen)):
            first = set_rows.get(row) or next(v for (r, _), v in seen.items() if r == row)
            raise fail(
                decision,
                f"id {decision.id!r} has a 'set' decision and another one (line {first}): keep one",
                "action",
            )
        if (row, key_name) in seen:
            raise fail(
                decision,
                f"a second decision on id {decision.id!r}, class "
                f"{key_name!r} (first on line {seen[(row, key_name)]})",
                "class",
            )
        seen[(row, key_name)] = decision.line
        counts[decision.action] += 1
        selected[row] = True
        last_line[row] = decision.line
        if decision.action == "set":
            set_rows[row] = decision.line
            after[row] = False
            after[row, indices] = True
        elif decision.action == "accepted":
            cell = indices[0]
            if suggested is not None and (row, cell) not in suggested:
                raise fail(
                    decision,
                    f"class {decision.classes[0]!r} of id {decision.id!r} is "
                    "not a suggested change of the audit",
                    "class",
                )
            after[row, cell] = not labels[row, cell]
    emptied = np.flatnonzero(selected & ~after.any(axis=1))
    if emptied.size:
        row = int(emptied[0])
        raise DataError(
            f"line {last_line[row]}: id {dataset.ids[row]!r} would be left without any label",
            file=file,
            column="class",
        )
    removed, added = labels & ~after, after & ~labels
    changed = removed.any(axis=1) | added.any(axis=1)
    return CleanResult(
        labels=after.astype(dataset.labels.dtype),
        keep=np.ones(len(labels), dtype=bool),
        selected=selected,
        removed=removed,
        added=added,
        counts={
            "rows": len(labels),
            "decisions": len(decisions),
            **{f"decisions_{action}": count for action, count in counts.items()},
            "rows_reviewed": int(selected.sum()),
            "rows_changed": int(changed.sum()),
            "labels_removed": int(removed.sum()),
            "labels_added": int(added.sum()),
            "rows_written": len(labels),
        },
    )


def _suggested_cells(audit: AlignedAudit | None) -> set[tuple[int, int]] | None:
    """(dataset row, class) of every suggested change in the audit, or None without one."""
    if audit is None:
        return None
    positions, classes = np.nonzero(audit.remove | audit.add)
    return {(int(audit.rows[p]), int(c)) for p, c in zip(positions, classes, strict=True)}


def applied_before(provenance: Mapping[str, Any] | None, fingerprint: str) -> bool:
    """Whether a decisions file with this fingerprint was already applied to the data (found in
    its provenance chain): applying ``accepted`` flips twice would undo them."""
    while provenance:
        if (provenance.get("decisions") or {}).get("fingerprint") == fingerprint:
            return True
        provenance = provenance.get("parent") or provenance.get("input_provenance")
    return False


def clean_with_decisions(
    data: str | Path,
    decisions_path: str | Path,
    out: str | Path,
    *,
    audit_path: str | Path | None = None,
    columns: ColumnNames = DEFAULT_COLUMNS,
    classes: Sequence[str] | None = None,
) -> dict[str, Any]:
    """``audit clean DATA --decisions FILE``: read, check, apply, write OUT atomically.

    OUT keeps every input column and row, with the labels of the changed rows replaced and the
    ``changes`` column; its provenance names the decisions file and its fingerprint (and the
    audit's, when given). A decisions file already applied to DATA (same fingerprint in its
    provenance chain) is refused.
    """
    data, decisions_path, out = Path(data), Path(decisions_path), Path(out)
    check_output_file(out, "clean", data, decisions_path, audit_path)
    table = read_table(data)
    dataset = dataset_from_table(
        table, source=str(data), columns=columns, classes=classes, require_embeddings=False
    )
    fingerprint = file_fingerprint(decisions_path) if decisions_path.is_file() else ""
    parent = read_provenance(data)
    if fingerprint and applied_before(parent, fingerprint):
        raise DataError(
            f"these decisions were already applied to {data} (its provenance names a file with "
            "the same fingerprint): applying them again would undo the accepted changes",
            file=str(decisions_path),
        )
    decisions = read_decisions(decisions_path)
    aligned = None
    audit_record = None
    if audit_path is not None:
        audit_table, audit_classes = read_audit(audit_path)
        aligned = align_audit(
            dataset, audit_table, audit_classes=audit_classes, audit_file=str(audit_path)
        )
        audit_record = {"path": str(audit_path), "fingerprint": file_fingerprint(audit_path)}
    result = apply_decisions(dataset, decisions, audit=aligned, file=str(decisions_path))
    cleaned = relabelled_table(table, dataset, result, columns=columns)
    accuracy = truth_accuracy(dataset, result)
    provenance = make_provenance(
        "clean",
        settings={"strategy": "decisions", "selection": "reviewed decisions"},
        classes=dataset.classes,
        input_path=data,
        decisions={"path": str(decisions_path), "fingerprint": fingerprint},
        audit=audit_record,
        counts=result.counts,
        accuracy=accuracy,
        parent=parent,
    )
    write_table_atomic(cleaned, out, provenance)
    return {
        "output": str(out),
        "input": str(data),
        "decisions": str(decisions_path),
        "decisions_fingerprint": fingerprint,
        "audit": None if audit_path is None else str(audit_path),
        "strategy": "decisions",
        **result.counts,
        **(accuracy or {}),
    }
