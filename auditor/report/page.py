"""The report page: each section's content as plain data, rendered by a jinja2 template.

The section functions return dicts of strings and numbers (no markup); the template
``templates/report.html.j2`` turns them into HTML with autoescape, so a label name or a text
from the data can never become markup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc

from auditor.audit_files import (
    FUSED,
    LOW_IS_SUSPECT,
    RATE_AT_BOUND,
    REPORT_FILE,
    RETRIEVAL_FILE,
    TRUTH_COLUMN,
    AuditFolder,
    read_audit_folder,
)
from auditor.io import add_to_marker, write_text_atomic
from auditor.metrics import per_class_noise
from auditor.report.figures import (
    Curves,
    curves_figure,
    detection_curves,
    histogram_figure,
    retrieval_figure,
    suspicion,
)
from auditor.report.media import NO_MEDIA, SuspectMedia, suspect_media
from auditor.report.review import SECTION as REVIEW_SECTION
from auditor.report.review import review_section
from auditor.report.svg import Chart
from auditor.report.text import MISSING, number, percent

DEFAULT_TOP = 50
SECTIONS = (
    ("overview", "The dataset at a glance"),
    ("signals", "Signal distributions"),
    ("detection", "Detection against the known noise"),
    ("classes", "Per class"),
    ("suspects", "Top suspects"),
    REVIEW_SECTION,
    ("retrieval", "Retrieval before and after cleaning"),
)
COMPARISON_KEYS = (
    ("auroc", "AUROC"),
    ("auprc", "AUPRC"),
    ("precision_at_t", "P@T"),
    ("precision_at_1pct", "P@1%"),
    ("precision_at_5pct", "P@5%"),
    ("precision_at_10pct", "P@10%"),
    ("cell_auroc", "cell AUROC"),
    ("cell_auprc", "cell AUPRC"),
)

Cell = dict[str, Any]
Section = dict[str, Any]


# ------------------------------------------------------------------------------ building blocks
def _text(value: Any) -> Cell:
    return {"value": str(value), "kind": ""}


def _num(value: Any, digits: int = 3) -> Cell:
    return {"value": number(value, digits), "kind": "num"}


def _percent(value: Any) -> Cell:
    return {"value": percent(value), "kind": "num"}


def _table(
    table_id: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    row_classes: Sequence[str] | None = None,
    *,
    scroll: bool = False,
) -> dict[str, Any]:
    return {
        "id": table_id,
        "headers": list(headers),
        "rows": [
            {"cells": list(cells), "css": row_classes[index] if row_classes else ""}
            for index, cells in enumerate(rows)
        ],
        "scroll": scroll,
    }


def _figure(chart: Chart, caption: str, **data: str) -> dict[str, Any]:
    return {"chart": chart, "caption": caption, "data": data}


def _section(section_id: str, **content: list[Any]) -> Section:
    section: Section = {"id": section_id, "title": dict(SECTIONS)[section_id]}
    for part in ("paragraphs", "notes", "tables_before", "figures", "tables", "closing"):
        section[part] = content.get(part, [])
    return section


# ------------------------------------------------------------------------------ sections
def estimated_rate(summary: dict[str, Any]) -> str:
    """The estimated noise rate, with ± two standard deviations over resampled rows when the
    scan read them (``estimated_noise_rate_sd``), or why there is none where it is 0
    (:data:`auditor.audit_files.RATE_AT_BOUND`)."""
    rate = percent(summary.get("estimated_noise_rate"))
    sd = summary.get("estimated_noise_rate_sd")
    if sd is None or rate == MISSING:
        return rate
    if float(sd) == 0:
        return f"{rate} ({RATE_AT_BOUND})"
    return (
        f"{rate} (± {200 * float(sd):.1f} points from resampling the rows, two standard "
        "deviations; the estimate's bias is not included)"
    )


def overview_section(folder: AuditFolder) -> Section:
    summary = folder.summary
    # Arrow's own aggregates: a numpy conversion would import pandas (audit_files.column_numbers)
    given_lengths = pc.list_value_length(folder.audit.column("given_labels"))
    lengths = pc.min_max(given_lengths).as_py()
    n_rows = folder.audit.num_rows
    settings = summary.get("settings") or {}
    detectors = [*settings.get("methods", []), *settings.get("baselines", [])]
    timings = summary.get("timings_seconds") or {}
    if "true_noise_rate" in summary:
        truth = (
            f"{percent(summary['true_noise_rate'])} "
            f"({number(summary.get('true_noisy_rows'))} rows, "
            f"{number(summary.get('true_noisy_cells'))} label cells)"
        )
    else:
        truth = "unknown (no ground truth)"
    labels_per_row = (
        f"mean {pc.mean(given_lengths).as_py():.2f} (min {lengths['min']}, max {lengths['max']})"
        if n_rows
        else MISSING
    )
    facts: list[tuple[str, str]] = [
        ("input", str(summary.get("input") or "not recorded")),
        ("input fingerprint", str(summary.get("input_fingerprint") or MISSING)),
        ("rows audited", number(n_rows)),
        ("classes", f"{len(folder.classes)}: {', '.join(folder.classes)}"),
        ("labels per row", labels_per_row),
        ("estimated noise rate", estimated_rate(summary)),
        ("noise model", str((summary.get("noise_model") or {}).get("line") or MISSING)),
        ("true noise rate", truth),
        (
            "rows flagged (is_issue)",
            f"{number(summary.get('rows_flagged'))} ({percent(summary.get('flag_rate'))})",
        ),
        (
            "labels to remove / add",
            f"{number(summary.get('labels_to_remove'))} / {number(summary.get('labels_to_add'))}",
        ),
    ]
    if detectors:
        facts.append(("detectors", ", ".join(str(name) for name in detectors)))
    if timings:
        facts.append(("scan time", f"{sum(float(v) for v in timings.values()):.1f} s"))
    rows = [[_text(key), _text(value)] for key, value in facts]
    return _section("overview", tables=[_table("overview-table", ("", ""), rows)])


def signals_section(folder: AuditFolder) -> Section:
    truth = folder.truth
    directions = {FUSED: LOW_IS_SUSPECT, **folder.signals}
    figures = [
        _figure(
            histogram_figure(name, folder.values(name), truth, direction),
            "fused score" if name == FUSED else name,
            signal=name,
        )
        for name, direction in directions.items()
    ]
    intro = "Distribution of every signal and of the fused score over the audited rows" + (
        ", truly clean rows in blue, truly noisy rows in red." if truth is not None else "."
    )
    return _section("signals", paragraphs=[intro], figures=figures)


def detection_section(folder: AuditFolder) -> Section:
    truth = folder.truth
    detection = folder.summary.get("detection")
    if truth is None or not isinstance(detection, dict):
        return _section(
            "detection",
            notes=[
                "The ground truth is unknown for this audit: no curves or comparison table. "
                "Give the scan a clean_labels column or --truth FILE to see them."
            ],
        )
    directions = {FUSED: LOW_IS_SUSPECT, **folder.signals}
    curves: dict[str, Curves] = {}
    for name, direction in directions.items():
        curve = detection_curves(truth, suspicion(folder.values(name), direction))
        if curve is not None:
            curves[name] = curve
    figures, notes = [], []
    if curves:
        figures.append(
            _figure(
                curves_figure(curves, detection),
                "fused score (black), cleanlab (red, dashed) and every signal",
                figure="curves",
            )
        )
    else:
        notes.append("Every row or no row is noisy: no curve can be drawn.")
    rows = []
    for name in [FUSED, *[name for name in detection if name != FUSED]]:
        metrics = detection.get(name)
        if isinstance(metrics, dict):
            label = f"{name} (fused)" if name == FUSED else name
            rows.append([_text(label), *[_num(metrics.get(key)) for key, _ in COMPARISON_KEYS]])
    headers = ("signal", *[header for _, header in COMPARISON_KEYS])
    closing = []
    flag = (detection.get(FUSED) or {}).get("flag")
    if isinstance(flag, dict):
        closing.append(
            f"is_issue against the truth: precision {number(flag.get('precision'))}, "
            f"recall {number(flag.get('recall'))}, F1 {number(flag.get('f1'))}."
        )
    return _section(
        "detection",
        notes=notes,
        figures=figures,
        tables=[_table("comparison-table", headers, rows)],
        closing=closing,
    )


def class_counts(values: Any, classes: Sequence[str]) -> np.ndarray:
    """list<string> column -> (C,) int64: how many rows list each class (unknown names ignored)."""
    flat = pc.list_flatten(values)
    counts = np.zeros(len(classes), dtype=np.int64)
    if len(flat) == 0:
        return counts
    index = {name: position for position, name in enumerate(classes)}
    for entry in pc.value_counts(flat).to_pylist():
        position = index.get(entry["values"])
        if position is not None:
            counts[position] = entry["counts"]
    return counts


def per_class_numbers(folder: AuditFolder) -> Mapping[str, Mapping[str, Any]]:
    """``summary.json``'s ``per_class`` (written by the scan); for a folder from before it was
    written, the same numbers counted from ``audit.parquet``."""
    stored = folder.summary.get("per_class")
    if isinstance(stored, dict) and all(name in stored for name in folder.classes):
        return stored
    counts = [
        class_counts(folder.audit.column(column), folder.classes)
        for column in ("given_labels", "labels_to_remove", "labels_to_add")
    ]
    return per_class_noise(folder.classes, *counts)


def classes_section(folder: AuditFolder) -> Section:
    numbers = per_class_numbers(folder)
    columns = [
        ("given", "given", _num),
        ("suspected_spurious", "suspected spurious", _num),
        ("suspected_missing", "suspected missing", _num),
        ("estimated_noise_rate", "estimated noise rate", _percent),
        ("estimated_spurious_rate", "estimated spurious rate", _percent),
        ("estimated_missing_rate", "estimated missing rate", _percent),
        ("true_spurious_rate", "true spurious rate", _percent),
        ("true_missing_rate", "true missing rate", _percent),
    ]
    # The direction columns exist for scans with the noise model, the true ones with truth.
    shown = [
        column
        for column in columns
        if any(column[0] in numbers[name] for name in folder.classes) or column[0] == "given"
    ]
    rows = [
        [_text(name), *[cell(numbers[name].get(key)) for key, _, cell in shown]]
        for name in folder.classes
    ]
    headers = ("class", *[header for _, header, _ in shown])
    explanation = (
        "Given: rows that list the class. Suspected spurious / missing: suggested removals / "
        "additions. Estimated noise rate: (spurious + missing) / (given + missing), the share "
        "of the rows that carry or should carry the class whose label for it is suspect. "
        "Estimated spurious rate: the noise model's share of the given labels that are wrong "
        "(an upper bound: a true label the content does not show looks the same); estimated "
        "missing rate: its share of the class's true occurrences left out of the labels."
    )
    return _section(
        "classes",
        paragraphs=[explanation],
        notes=unidentifiable_note(folder.summary),
        tables=[_table("class-table", headers, rows)],
    )


def unidentifiable_note(summary: Mapping[str, Any]) -> list[str]:
    """The per-class section's warning where the scan said the noise is not identifiable: its
    estimated rates come from the same calibration, so a reader of the table alone would take
    them at face value (MIRFlickr stand-in, symmetric 0.8, 3,000 rows, seeds 0-2: seven classes
    read 51-76 % of their absent cells as missing labels where 1-30 % are)."""
    model = summary.get("noise_model") or {}
    if model.get("identifiable", True):
        return []
    reason = model.get("unidentifiable_reason") or "no reason recorded"
    return [
        "The scan could not tell the noise from the signal here (NOT IDENTIFIABLE: "
        f"{reason}), and the estimated rates below come from the same calibration: they "
        "may be far from the truth."
    ]


def suspects_section(folder: AuditFolder, top: int, media: SuspectMedia) -> Section:
    table = folder.audit.slice(0, top)
    records = table.to_pylist()
    truth = TRUTH_COLUMN in table.column_names
    headers = ["rank", "id"]
    if media.has_images:
        headers.append("image")
    if media.has_texts:
        headers.append("text")
    headers += ["given labels", "remove", "add", "fused score", *folder.signals]
    if truth:
        headers.append("truly noisy")
    rows, row_classes = [], []
    for record in records:
        key = record["id"]
        cells = [_num(record["rank"]), _text(key)]
        if media.has_images:
            cells.append({"value": str(key), "kind": "thumb", "src": media.thumbnails.get(key)})
        if media.has_texts:
            cells.append({"value": media.texts.get(key) or "", "kind": "text"})
        cells += [
            _text(", ".join(record["given_labels"] or [])),
            {"value": ", ".join(record["labels_to_remove"] or []), "kind": "rm"},
            {"value": ", ".join(record["labels_to_add"] or []), "kind": "add"},
            _num(record[FUSED]),
            *[_num(record[name]) for name in folder.signals],
        ]
        if truth:
            cells.append(_text("yes" if record[TRUTH_COLUMN] else "no"))
        rows.append(cells)
        row_classes.append("noisy" if truth and record[TRUTH_COLUMN] else "")
    intro = (
        f"The {len(records)} most suspect of {folder.audit.num_rows:,} audited rows "
        "(fused score: lower = more suspect)."
    )
    return _section(
        "suspects",
        paragraphs=[intro],
        notes=[media.note] if media.note else [],
        tables=[_table("suspects-table", headers, rows, row_classes, scroll=True)],
    )


def retrieval_section(folder: AuditFolder) -> Section:
    if folder.retrieval is None:
        return _section(
            "retrieval",
            notes=[
                f"No benchmark results are present ({RETRIEVAL_FILE} is not in this folder): "
                "clean the labels and retrain to fill this section."
            ],
        )
    rows = folder.retrieval
    if not rows:
        return _section("retrieval", notes=[f"{RETRIEVAL_FILE} lists no results."])
    baseline: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["labels"] == "noisy":
            baseline.setdefault(row["method"], row)
    cells = []
    for row in rows:
        reference = baseline.get(row["method"])
        deltas = [
            _text(MISSING) if reference is None or row is reference
            else {"value": f"{row[key] - reference[key]:+.3f}", "kind": "num"}
            for key in ("map_i2t", "map_t2i")
        ]  # fmt: skip
        cells.append(
            [_text(row["method"]), _text(row["labels"]), _num(row["round"]),
             _num(row["map_i2t"]), _num(row["map_t2i"]), *deltas]
        )  # fmt: skip
    headers = ("method", "labels", "round", "mAP image→text", "mAP text→image",
               "Δ image→text vs noisy", "Δ text→image vs noisy")  # fmt: skip
    return _section(
        "retrieval",
        paragraphs=[
            "Retrieval mAP@all of hashers trained on the given (noisy) labels, on the cleaned "
            "labels, and on the clean labels (oracle, when known)."
        ],
        tables_before=[_table("retrieval-table", headers, cells)],
        figures=[_figure(retrieval_figure(rows), "mAP@all per run", figure="retrieval")],
    )


# ------------------------------------------------------------------------------ the page
@cache
def _template() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    environment = Environment(
        loader=PackageLoader("auditor.report"),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    return environment.get_template("report.html.j2")


def report_html(folder: AuditFolder, top: int = DEFAULT_TOP, media: SuspectMedia = NO_MEDIA) -> str:
    """The whole report as one HTML string."""
    source = folder.summary.get("input") or str(folder.path)
    title = f"hashaudit report: {Path(str(source)).name}"
    sections = [
        overview_section(folder),
        signals_section(folder),
        detection_section(folder),
        classes_section(folder),
        suspects_section(folder, top, media),
        review_section(folder, media),
        retrieval_section(folder),
    ]
    subtitle = f"{folder.audit.num_rows:,} rows · {len(folder.classes)} classes"
    html: str = _template().render(title=title, subtitle=subtitle, sections=sections)
    return html


def build_report(
    audit_dir: str | Path, top: int = DEFAULT_TOP, *, data: str | Path | None = None
) -> Path:
    """Write ``audit_dir/report.html`` atomically and return its path.

    Parameters
    ----------
    audit_dir : a folder written by ``audit scan``.
    top : how many suspects the table lists (at least 1).
    data : the scanned dataset file, trusted as the one the scan read (the scan passes it);
        None = the file recorded in ``summary.json`` (or beside the folder), used for thumbnails
        and snippets only when its fingerprint still matches.
    """
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    folder = read_audit_folder(audit_dir)
    ids = folder.audit.column("id").slice(0, top).combine_chunks()
    media = suspect_media(folder, ids, Path(data) if data is not None else None)
    path = folder.path / REPORT_FILE
    write_text_atomic(report_html(folder, top, media), path)
    add_to_marker(folder.path, path.name)  # the folder stays replaceable by the next scan
    return path
