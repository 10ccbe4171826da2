"""``report.html``: the human view of an audit folder, one self-contained file.

:func:`build_report` reads what ``audit scan`` wrote (``audit.parquet``, ``summary.json``, and
``retrieval.json`` when a clean → retrain benchmark left one) and writes ``report.html``: inline
CSS, every figure a PNG data URI (matplotlib, Agg, no pyplot state), thumbnails and text
snippets of the top suspects read from the scanned dataset when it is still there and unchanged.
The file opens offline in any browser; it loads nothing from anywhere.

Sections (each a ``<section id=…>`` with an ``<h2>``): ``overview``, ``signals``,
``detection``, ``classes``, ``suspects``, ``retrieval``. A section that has nothing to show
(no ground truth, no benchmark results) says so instead of disappearing.

Everything here is cheap at 200k rows: histograms and curves are computed with numpy and only
their bins or a few hundred curve points reach matplotlib, and only the top suspects' row groups
of the dataset are read.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from auditor.dataset import DataError
from auditor.fusion import suspicion_rank
from auditor.io import add_to_marker, file_fingerprint, read_schema, read_table, require_columns
from auditor.scan import AUDIT_FILE, FUSED, SUMMARY_FILE  # scan imports this module lazily

REPORT_FILE = "report.html"
RETRIEVAL_FILE = "retrieval.json"
CLEANLAB = "cleanlab_quality"  # drawn apart from the other signals: the reference to beat

DEFAULT_TOP = 50
HISTOGRAM_BINS = 40
CURVE_POINTS = 400  # points per plotted curve: enough for a smooth line at any N
THUMBNAIL_PIXELS = 96
SNIPPET_CHARS = 160
FIGURE_DPI = 80

SECTIONS = (
    ("overview", "The dataset at a glance"),
    ("signals", "Signal distributions"),
    ("detection", "Detection against the known noise"),
    ("classes", "Per class"),
    ("suspects", "Top suspects"),
    ("retrieval", "Retrieval before and after cleaning"),
)
REQUIRED_AUDIT_COLUMNS = (
    "id",
    "rank",
    FUSED,
    "is_issue",
    "given_labels",
    "labels_to_remove",
    "labels_to_add",
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
RETRIEVAL_KEYS = ("method", "labels", "round", "map_i2t", "map_t2i")


# ------------------------------------------------------------------------------ reading
@dataclass(frozen=True, eq=False)
class AuditFolder:
    """What the report reads from a scan folder.

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
        if "is_noisy" not in self.audit.column_names:
            return None
        return np.asarray(self.audit.column("is_noisy").to_numpy(zero_copy_only=False), bool)

    def values(self, column: str) -> np.ndarray:
        """(N,) float64 values of a numeric column."""
        array = self.audit.column(column).to_numpy(zero_copy_only=False)
        return np.asarray(array, dtype=np.float64)


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
    require_columns(
        audit, REQUIRED_AUDIT_COLUMNS, file=str(audit_path), prefix="not an audit table: "
    )
    summary = _read_json_object(summary_path)
    classes = summary.get("classes")
    if not isinstance(classes, list) or not classes:
        raise DataError("no class list under 'classes'", file=str(summary_path))
    described = summary.get("signals")
    if not isinstance(described, dict):
        raise DataError("no signal list under 'signals'", file=str(summary_path))
    signals: dict[str, str] = {}
    for column in audit.column_names:
        if column in described:
            direction = (
                described[column].get("direction") if isinstance(described[column], dict) else None
            )
            if direction not in ("low_is_suspect", "high_is_suspect"):
                raise DataError(f"signal {column!r} has no valid direction", file=str(summary_path))
            signals[column] = direction
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


def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        payload = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"not readable JSON ({error})", file=str(path)) from error
    if not isinstance(payload, dict):
        raise DataError("expected a JSON object", file=str(path))
    return payload


def read_retrieval(path: str | Path) -> list[dict[str, Any]]:
    """The rows of ``retrieval.json``: ``{"rows": [{"method", "labels", "round", "map_i2t",
    "map_t2i"}, …]}`` (other keys are kept and ignored); a malformed file is a DataError."""
    path = Path(path)
    payload = _read_json_object(path)
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


# ------------------------------------------------------------------------------ pure helpers
def class_counts(values: pa.ChunkedArray | pa.Array, classes: Sequence[str]) -> np.ndarray:
    """list<string> column -> (C,) int64: how many rows list each class (unknown names ignored)."""
    flat = pc.list_flatten(values)
    counts = np.zeros(len(classes), dtype=np.int64)
    if len(flat) == 0:
        return counts
    tally = pc.value_counts(flat).to_pylist()
    index = {name: position for position, name in enumerate(classes)}
    for entry in tally:
        position = index.get(entry["values"])
        if position is not None:
            counts[position] = entry["counts"]
    return counts


def per_class_table(given: np.ndarray, spurious: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """(C,) estimated noise rate per class from the suggestions.

    Parameters
    ----------
    given, spurious, missing : (C,) counts of rows that list the class, of given labels
        suggested for removal, and of absent classes suggested for addition.

    Returns
    -------
    (C,) float in [0, 1]: ``(spurious + missing) / (given + missing)``, the share of the rows
    that carry (or should carry) the class whose label for it is suspect; NaN for a class no
    row carries.
    """
    denominator = (given + missing).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = (spurious + missing) / denominator
    return np.where(denominator > 0, rate, np.nan)


@dataclass(frozen=True)
class Curves:
    """ROC and precision–recall curves of one suspicion score (all thresholds, tie-aware).

    Attributes
    ----------
    fpr, tpr : (K + 1,) starting at (0, 0), one point per distinct score value.
    recall, precision : (K,) one point per distinct score value, most suspect first.
    """

    fpr: np.ndarray
    tpr: np.ndarray
    recall: np.ndarray
    precision: np.ndarray


def detection_curves(truth: np.ndarray, suspicion: np.ndarray) -> Curves | None:
    """ROC and PR curves of ``suspicion`` (HIGH = more suspect) against ``truth`` (N,) bool.

    Rows with equal suspicion enter together (one point per distinct value), so the area under
    the ROC curve by the trapezoid rule equals the tie-averaged AUROC. None when every row or
    no row is noisy (there is no curve to draw).
    """
    truth = np.asarray(truth, dtype=bool)
    suspicion = np.asarray(suspicion, dtype=np.float64)
    n_noisy = int(truth.sum())
    if n_noisy == 0 or n_noisy == truth.size:
        return None
    order = np.argsort(-suspicion, kind="stable")
    ordered = suspicion[order]
    hits = truth[order]
    true_positives = np.cumsum(hits)
    false_positives = np.cumsum(~hits)
    last_of_tie = np.r_[np.flatnonzero(np.diff(ordered) != 0), ordered.size - 1]
    tp = true_positives[last_of_tie].astype(np.float64)
    fp = false_positives[last_of_tie].astype(np.float64)
    return Curves(
        fpr=np.r_[0.0, fp / fp[-1]],
        tpr=np.r_[0.0, tp / n_noisy],
        recall=tp / n_noisy,
        precision=tp / (tp + fp),
    )


def thin(*arrays: np.ndarray, points: int = CURVE_POINTS) -> tuple[np.ndarray, ...]:
    """Keep at most ``points`` evenly spaced entries (first and last always kept) of same-length
    arrays: what a plotted line needs, whatever N is."""
    size = arrays[0].size
    if size <= points:
        return arrays
    keep = np.unique(np.linspace(0, size - 1, points).round().astype(np.int64))
    return tuple(array[keep] for array in arrays)


def histogram(
    values: np.ndarray, groups: np.ndarray | None, bins: int = HISTOGRAM_BINS
) -> tuple[np.ndarray, list[np.ndarray], int]:
    """Shared-bin histograms of ``values`` (N,), one per group.

    Parameters
    ----------
    groups : (N,) bool or None: True = truly noisy; None = one histogram of every row.

    Returns
    -------
    edges : (bins + 1,); counts : per group (clean first, then noisy) a (bins,) int64 array;
    dropped : how many non-finite values were left out.
    """
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    dropped = int((~finite).sum())
    kept = values[finite]
    if kept.size == 0:
        low, high = 0.0, 1.0
    else:
        low, high = float(kept.min()), float(kept.max())
    if high <= low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, bins + 1)
    selections = [finite] if groups is None else [finite & ~groups, finite & groups]
    counts = [np.histogram(values[mask], bins=edges)[0] for mask in selections]
    return edges, counts, dropped


def figure_to_data_uri(figure: Any) -> str:
    """A matplotlib Figure -> ``data:image/png;base64,…``."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIGURE_DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _new_figure(width: float, height: float) -> Any:
    # The object API renders with Agg without touching pyplot's global state or backend.
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def histogram_figure(
    name: str, values: np.ndarray, noisy: np.ndarray | None, direction: str
) -> str:
    """One signal's histogram (split into truly clean / noisy rows when known) as a data URI."""
    edges, counts, dropped = histogram(values, noisy)
    figure = _new_figure(3.6, 2.4)
    axes = figure.add_subplot()
    if noisy is None:
        axes.stairs(counts[0], edges, fill=True, color="#4c72b0", alpha=0.8, label="all rows")
    else:
        axes.stairs(counts[0], edges, fill=True, color="#4c72b0", alpha=0.55, label="clean")
        axes.stairs(counts[1], edges, fill=True, color="#dd5555", alpha=0.55, label="noisy")
        axes.legend(fontsize=7, frameon=False)
    suspect_side = "low" if direction == "low_is_suspect" else "high"
    title = f"{name} ({suspect_side} = suspect)"
    if dropped:
        title += f", {dropped} non-finite left out"
    axes.set_title(title, fontsize=8)
    axes.set_ylabel("rows", fontsize=7)
    axes.tick_params(labelsize=7)
    return figure_to_data_uri(figure)


def curves_figure(curves: Mapping[str, Curves], scores: Mapping[str, Mapping[str, Any]]) -> str:
    """Precision–recall and ROC curves of every score on one figure, as a data URI.

    ``scores`` : name -> detection metrics (``auroc``, ``auprc``) for the legends.
    """
    figure = _new_figure(10.0, 4.2)
    pr_axes, roc_axes = figure.subplots(1, 2)
    palette = [
        "#4c72b0", "#55a868", "#8172b2", "#ccb974", "#64b5cd", "#937860", "#da8bc3", "#8c8c8c",
    ]  # fmt: skip
    others = iter(palette * 4)
    for name, curve in curves.items():
        if name == FUSED:
            style: dict[str, Any] = {"color": "black", "linewidth": 2.2, "zorder": 3}
        elif name == CLEANLAB:
            style = {"color": "#c44e52", "linewidth": 1.8, "linestyle": "--", "zorder": 2}
        else:
            style = {"color": next(others), "linewidth": 1.0}
        metrics = scores.get(name, {})
        recall, precision = thin(curve.recall, curve.precision)
        fpr, tpr = thin(curve.fpr, curve.tpr)
        pr_axes.plot(recall, precision, label=f"{name} ({_number(metrics.get('auprc'))})", **style)
        roc_axes.plot(fpr, tpr, label=f"{name} ({_number(metrics.get('auroc'))})", **style)
    roc_axes.plot([0, 1], [0, 1], color="#bbbbbb", linewidth=0.8, linestyle=":")
    for axes, (x_label, y_label, title) in (
        (pr_axes, ("recall", "precision", "Precision–recall (legend: AUPRC)")),
        (roc_axes, ("false positive rate", "true positive rate", "ROC (legend: AUROC)")),
    ):
        axes.set_xlabel(x_label, fontsize=8)
        axes.set_ylabel(y_label, fontsize=8)
        axes.set_title(title, fontsize=9)
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1.02)
        axes.tick_params(labelsize=7)
        axes.legend(
            fontsize=6.5, frameon=False, loc="lower left" if axes is pr_axes else "lower right"
        )
    return figure_to_data_uri(figure)


def retrieval_figure(rows: Sequence[Mapping[str, Any]]) -> str:
    """Grouped bars of mAP image→text and text→image per benchmark row, as a data URI."""
    labels = [_retrieval_label(row) for row in rows]
    positions = np.arange(len(rows))
    figure = _new_figure(max(4.5, 0.9 * len(rows) + 1.5), 3.2)
    axes = figure.add_subplot()
    width = 0.38
    axes.bar(positions - width / 2, [row["map_i2t"] for row in rows], width, label="image→text")
    axes.bar(positions + width / 2, [row["map_t2i"] for row in rows], width, label="text→image")
    axes.set_xticks(positions, labels, rotation=30, ha="right", fontsize=7)
    axes.set_ylabel("mAP@all", fontsize=8)
    axes.tick_params(axis="y", labelsize=7)
    highest = max([float(row[key]) for row in rows for key in ("map_i2t", "map_t2i")] + [0.0])
    axes.set_ylim(0, max(highest, 1e-3) * 1.25)  # headroom for the legend above the bars
    axes.legend(fontsize=7, frameon=False, loc="upper left", ncols=2)
    return figure_to_data_uri(figure)


def _retrieval_label(row: Mapping[str, Any]) -> str:
    return f"{row['method']} · {row['labels']} · r{row['round']}"


def thumbnail_data_uri(data: bytes, pixels: int = THUMBNAIL_PIXELS) -> str:
    """Encoded image bytes -> a small JPEG ``data:`` URI (longest side ``pixels``).

    Raises :class:`auditor.embed.BadCell` when the bytes are not a readable image.
    """
    from PIL import Image, ImageOps

    from auditor.embed import BadCell

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format == "JPEG":
                image.draft("RGB", (pixels * 2, pixels * 2))  # decode at a fraction of the size
            upright = ImageOps.exif_transpose(image).convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise BadCell(f"not a readable image ({type(error).__name__})") from error
    upright.thumbnail((pixels, pixels))
    buffer = io.BytesIO()
    upright.save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def snippet(text: str | None, limit: int = SNIPPET_CHARS) -> str:
    """The first ``limit`` characters of a text, whitespace collapsed, with an ellipsis if cut."""
    if not text:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


# ------------------------------------------------------------------------------ the dataset
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
    ids: Sequence[Any],
    *,
    id_column: str = "id",
    image_column: str = "image",
    text_column: str = "text",
) -> SuspectMedia:
    """Thumbnails and snippets of the rows with these ids, reading only their row groups.

    A row whose image cannot be read gets None (the report shows why not in a tooltip-free
    "unreadable"); a dataset with neither column gives :data:`NO_MEDIA`.
    """
    from auditor.embed import BadCell, RawImages, text_values

    names = set(read_schema(data).names)
    wanted = [column for column in (image_column, text_column) if column in names]
    if not wanted:
        return NO_MEDIA
    parquet = pq.ParquetFile(data)
    if id_column in names:
        file_ids = parquet.read(columns=[id_column]).column(id_column).combine_chunks()
        try:
            lookup = pa.array(list(ids)).cast(file_ids.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            return SuspectMedia({}, {}, False, False, "the dataset's ids do not match the audit's")
        found = pc.index_in(file_ids, value_set=lookup).to_numpy(zero_copy_only=False)
        rows = np.flatnonzero(~np.isnan(found.astype(np.float64)))
        keys = [ids[int(found[row])] for row in rows]
    else:  # no id column: the scan used row numbers as ids
        rows = np.array(
            sorted(int(key) for key in ids if 0 <= int(key) < parquet.metadata.num_rows)
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
        local = rows[group_of_row == group] - starts[group]
        pieces.append(parquet.read_row_group(int(group), columns=columns).take(pa.array(local)))
    if not pieces:
        return parquet.schema_arrow.empty_table().select(columns)
    return pa.concat_tables(pieces)


def suspect_media(folder: AuditFolder, ids: Sequence[Any], data: Path | None) -> SuspectMedia:
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


# ------------------------------------------------------------------------------ HTML
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;
background:#fafafa;line-height:1.4}
header{background:#263238;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:1.35em}header p{margin:4px 0 0;color:#cfd8dc;font-size:.9em}
nav{padding:6px 24px;background:#eceff1;font-size:.9em}nav a{margin-right:14px;color:#1565c0}
main{padding:8px 24px 40px;max-width:1400px}
section{background:#fff;border:1px solid #e0e0e0;border-radius:6px;padding:10px 18px;
margin:16px 0}
h2{font-size:1.15em;margin:6px 0 10px;color:#263238}
table{border-collapse:collapse;font-size:.82em;margin:6px 0}
th,td{border:1px solid #e0e0e0;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f5f5f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.noisy td{background:#fff3f3}
.figures{display:flex;flex-wrap:wrap;gap:8px}
figure{margin:0;border:1px solid #eee;padding:4px;background:#fff}
figcaption{font-size:.75em;color:#555;text-align:center}
.note{color:#666;font-style:italic}
.rm{color:#b71c1c}.add{color:#1b5e20}
td.text{max-width:280px;font-size:.95em;color:#333}
img.thumb{display:block;max-width:96px;max-height:96px}
.scroll{overflow-x:auto}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _number(value: Any, digits: int = 3) -> str:
    if value is None or isinstance(value, bool):
        return "–"
    if isinstance(value, float) and not math.isfinite(value):
        return "–"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    return f"{float(value):.{digits}f}"


def _percent(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{100 * float(value):.1f} %"


def _table(
    headers: Sequence[str],
    rows: Sequence[Sequence[tuple[str, str]]],
    *,
    table_id: str,
    row_classes: Sequence[str] | None = None,
) -> str:
    """An HTML table; each cell is (already-escaped HTML, css class)."""
    head = "".join(f"<th>{_e(header)}</th>" for header in headers)
    body = []
    for index, row in enumerate(rows):
        css = f' class="{row_classes[index]}"' if row_classes and row_classes[index] else ""
        cells = "".join(
            f'<td class="{kind}">{content}</td>' if kind else f"<td>{content}</td>"
            for content, kind in row
        )
        body.append(f"<tr{css}>{cells}</tr>")
    return (
        f'<table id="{_e(table_id)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _figure(uri: str, caption: str, alt: str, **attributes: str) -> str:
    extra = "".join(f' data-{key}="{_e(value)}"' for key, value in attributes.items())
    return (
        f'<figure{extra}><img src="{uri}" alt="{_e(alt)}"><figcaption>{_e(caption)}'
        "</figcaption></figure>"
    )


def _note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


def _section(section_id: str, body: str) -> str:
    title = dict(SECTIONS)[section_id]
    return f'<section id="{section_id}"><h2>{_e(title)}</h2>{body}</section>'


def _num(value: Any, digits: int = 3) -> tuple[str, str]:
    return _e(_number(value, digits)), "num"


def _text(value: Any) -> tuple[str, str]:
    return _e(value), ""


def overview_section(folder: AuditFolder) -> str:
    summary = folder.summary
    given_lengths = pc.list_value_length(folder.audit.column("given_labels")).to_numpy(
        zero_copy_only=False
    )
    n_rows = folder.audit.num_rows
    settings = summary.get("settings") or {}
    detectors = [*settings.get("methods", []), *settings.get("baselines", [])]
    timings = summary.get("timings_seconds") or {}
    facts: list[tuple[str, str]] = [
        ("input", str(summary.get("input") or "not recorded")),
        ("input fingerprint", str(summary.get("input_fingerprint") or "–")),
        ("rows audited", _number(n_rows)),
        ("classes", f"{len(folder.classes)}: {', '.join(folder.classes)}"),
        (
            "labels per row",
            f"mean {given_lengths.mean():.2f} "
            f"(min {given_lengths.min()}, max {given_lengths.max()})"
            if n_rows
            else "–",
        ),
        ("estimated noise rate", _percent(summary.get("estimated_noise_rate"))),
        (
            "rows flagged (is_issue)",
            f"{_number(summary.get('rows_flagged'))} ({_percent(summary.get('flag_rate'))})",
        ),
        ("labels to remove / add", f"{_number(summary.get('labels_to_remove'))} / "
         f"{_number(summary.get('labels_to_add'))}"),
    ]  # fmt: skip
    if "true_noise_rate" in summary:
        facts.insert(
            6,
            (
                "true noise rate",
                f"{_percent(summary['true_noise_rate'])} "
                f"({_number(summary.get('true_noisy_rows'))} rows, "
                f"{_number(summary.get('true_noisy_cells'))} label cells)",
            ),
        )
    else:
        facts.insert(6, ("true noise rate", "unknown (no ground truth)"))
    if detectors:
        facts.append(("detectors", ", ".join(str(name) for name in detectors)))
    if timings:
        facts.append(("scan time", f"{sum(float(v) for v in timings.values()):.1f} s"))
    rows = [[_text(key), _text(value)] for key, value in facts]
    return _section("overview", _table(("", ""), rows, table_id="overview-table"))


def signals_section(folder: AuditFolder) -> str:
    truth = folder.truth
    directions = {FUSED: "low_is_suspect", **folder.signals}
    figures = []
    for name, direction in directions.items():
        uri = histogram_figure(name, folder.values(name), truth, direction)
        caption = "fused score" if name == FUSED else name
        figures.append(_figure(uri, caption, f"histogram of {name}", signal=name))
    intro = "Distribution of every signal and of the fused score over the audited rows" + (
        ", truly clean rows in blue, truly noisy rows in red." if truth is not None else "."
    )
    return _section("signals", f'<p>{_e(intro)}</p><div class="figures">{"".join(figures)}</div>')


def detection_section(folder: AuditFolder) -> str:
    truth = folder.truth
    detection = folder.summary.get("detection")
    if truth is None or not isinstance(detection, dict):
        return _section(
            "detection",
            _note("The ground truth is unknown for this audit: no curves or comparison table. "
                  "Give the scan a clean_labels column or --truth FILE to see them."),
        )  # fmt: skip
    directions = {FUSED: "low_is_suspect", **folder.signals}
    curves: dict[str, Curves] = {}
    for name, direction in directions.items():
        curve = detection_curves(truth, suspicion_rank(folder.values(name), direction))
        if curve is not None:
            curves[name] = curve
    parts = []
    if curves:
        figure = _figure(
            curves_figure(curves, detection),
            "fused score (black), cleanlab (red, dashed) and every signal",
            "precision-recall and ROC curves",
            figure="curves",
        )
        parts.append(f'<div class="figures">{figure}</div>')
    else:
        parts.append(_note("Every row or no row is noisy: no curve can be drawn."))
    rows = []
    names = [FUSED, *[name for name in detection if name != FUSED]]
    for name in names:
        metrics = detection.get(name)
        if not isinstance(metrics, dict):
            continue
        label = f"{name} (fused)" if name == FUSED else name
        rows.append([_text(label), *[_num(metrics.get(key)) for key, _ in COMPARISON_KEYS]])
    headers = ("signal", *[header for _, header in COMPARISON_KEYS])
    parts.append(_table(headers, rows, table_id="comparison-table"))
    flag = (detection.get(FUSED) or {}).get("flag")
    if isinstance(flag, dict):
        parts.append(
            f"<p>is_issue against the truth: precision {_e(_number(flag.get('precision')))}, "
            f"recall {_e(_number(flag.get('recall')))}, F1 {_e(_number(flag.get('f1')))}.</p>"
        )
    return _section("detection", "".join(parts))


def classes_section(folder: AuditFolder) -> str:
    given = class_counts(folder.audit.column("given_labels"), folder.classes)
    spurious = class_counts(folder.audit.column("labels_to_remove"), folder.classes)
    missing = class_counts(folder.audit.column("labels_to_add"), folder.classes)
    rate = per_class_table(given, spurious, missing)
    rows = [
        [_text(name), _num(int(given[c])), _num(int(spurious[c])), _num(int(missing[c])),
         (_e(_percent(rate[c])), "num")]
        for c, name in enumerate(folder.classes)
    ]  # fmt: skip
    headers = (
        "class", "given", "suspected spurious", "suspected missing", "estimated noise rate",
    )  # fmt: skip
    explanation = (
        "Given: rows that list the class. Suspected spurious / missing: suggested removals / "
        "additions. Estimated noise rate: (spurious + missing) / (given + missing), the share "
        "of the rows that carry or should carry the class whose label for it is suspect."
    )
    return _section(
        "classes", f"<p>{_e(explanation)}</p>" + _table(headers, rows, table_id="class-table")
    )


def suspects_section(folder: AuditFolder, top: int, media: SuspectMedia) -> str:
    table = folder.audit.slice(0, top)
    records = table.to_pylist()
    truth = "is_noisy" in table.column_names
    headers = ["rank", "id"]
    if media.has_images:
        headers.append("image")
    if media.has_texts:
        headers.append("text")
    headers += ["given labels", "remove", "add", "fused score", *folder.signals]
    if truth:
        headers.append("truly noisy")
    rows = []
    row_classes = []
    for record in records:
        key = record["id"]
        cells = [_num(record["rank"]), _text(key)]
        if media.has_images:
            uri = media.thumbnails.get(key)
            cells.append(
                (f'<img class="thumb" src="{uri}" alt="image of {_e(key)}">', "")
                if uri
                else _text("unreadable")
            )
        if media.has_texts:
            cells.append((_e(media.texts.get(key) or ""), "text"))
        cells += [
            _text(", ".join(record["given_labels"] or [])),
            (f'<span class="rm">{_e(", ".join(record["labels_to_remove"] or []))}</span>', ""),
            (f'<span class="add">{_e(", ".join(record["labels_to_add"] or []))}</span>', ""),
            _num(record[FUSED]),
            *[_num(record[name]) for name in folder.signals],
        ]
        if truth:
            cells.append(_text("yes" if record["is_noisy"] else "no"))
        rows.append(cells)
        row_classes.append("noisy" if truth and record["is_noisy"] else "")
    intro = (
        f"The {len(records)} most suspect of {folder.audit.num_rows:,} audited rows "
        "(fused score: lower = more suspect)."
    )
    parts = [f"<p>{_e(intro)}</p>"]
    if media.note:
        parts.append(_note(media.note))
    suspects = _table(headers, rows, table_id="suspects-table", row_classes=row_classes)
    parts.append(f'<div class="scroll">{suspects}</div>')
    return _section("suspects", "".join(parts))


def retrieval_section(folder: AuditFolder) -> str:
    if folder.retrieval is None:
        return _section(
            "retrieval",
            _note(f"No benchmark results are present ({RETRIEVAL_FILE} is not in this folder): "
                  "clean the labels and retrain to fill this section."),
        )  # fmt: skip
    rows = folder.retrieval
    if not rows:
        return _section("retrieval", _note(f"{RETRIEVAL_FILE} lists no results."))
    baseline: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["labels"] == "noisy":
            baseline.setdefault(row["method"], row)
    cells = []
    for row in rows:
        reference = baseline.get(row["method"])
        deltas = [
            _text("–") if reference is None or row is reference
            else (_e(f"{row[key] - reference[key]:+.3f}"), "num")
            for key in ("map_i2t", "map_t2i")
        ]  # fmt: skip
        cells.append(
            [_text(row["method"]), _text(row["labels"]), _num(row["round"]),
             _num(row["map_i2t"]), _num(row["map_t2i"]), *deltas]
        )  # fmt: skip
    headers = ("method", "labels", "round", "mAP image→text", "mAP text→image",
               "Δ image→text vs noisy", "Δ text→image vs noisy")  # fmt: skip
    figure = _figure(retrieval_figure(rows), "mAP@all per run", "retrieval mAP", figure="retrieval")
    body = (
        "<p>Retrieval mAP@all of hashers trained on the given (noisy) labels, on the cleaned "
        "labels, and on the clean labels (oracle, when known).</p>"
        + _table(headers, cells, table_id="retrieval-table")
        + f'<div class="figures">{figure}</div>'
    )
    return _section("retrieval", body)


def report_html(folder: AuditFolder, top: int = DEFAULT_TOP, media: SuspectMedia = NO_MEDIA) -> str:
    """The whole report as one HTML string."""
    source = folder.summary.get("input") or str(folder.path)
    title = f"hashaudit report: {Path(str(source)).name}"
    nav = "".join(f'<a href="#{key}">{_e(name)}</a>' for key, name in SECTIONS)
    sections = [
        overview_section(folder),
        signals_section(folder),
        detection_section(folder),
        classes_section(folder),
        suspects_section(folder, top, media),
        retrieval_section(folder),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'  # no favicon request, offline or not
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{_e(title)}</h1><p>label-noise audit by hashaudit · "
        f"{folder.audit.num_rows:,} rows · {len(folder.classes)} classes</p></header>"
        f"<nav>{nav}</nav><main>{''.join(sections)}</main></body></html>\n"
    )


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
    ids = folder.audit.column("id").slice(0, top).to_pylist()
    media = suspect_media(folder, ids, Path(data) if data is not None else None)
    document = report_html(folder, top, media)
    path = folder.path / REPORT_FILE
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        temporary.write_text(document, encoding="utf-8")
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
    add_to_marker(folder.path, REPORT_FILE)  # the folder stays replaceable by the next scan
    return path
