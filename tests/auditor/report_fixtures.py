"""A small scan with raw images and texts, for the report tests (library, CLI and browser)."""

from __future__ import annotations

import dataclasses
import io
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from auditor.inject import with_noise
from auditor.io import dataset_to_table, read_dataset
from auditor.scanning import ScanSettings, run_scan, write_scan
from auditor.synth import SynthSettings, make_synthetic

# Baselines only: a scan of 200 audited rows in about a second.
FAST_SETTINGS = ScanSettings(methods=(), epochs=1, seed=0)
N_CLASSES = 6
# Markup in the texts must come out as text, never as elements.
TEXT_WITH_MARKUP = "<b>bold</b> & <script>alert(1)</script>"


def png_bytes(colour: tuple[int, int, int], size: int = 24) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def media_table(rows: int = 400, seed: int = 3, truth: bool = True) -> pa.Table:
    """A noisy synthetic dataset with an HF-style ``image`` struct column and a ``text`` column."""
    clean = make_synthetic(SynthSettings(n_rows=rows, n_classes=N_CLASSES, seed=seed)).to_dataset()
    noisy = with_noise(clean, "pairflip", 0.4, seed)[0]
    if not truth:
        noisy = dataclasses.replace(noisy, clean_labels=None)
    table = dataset_to_table(noisy)
    rng = np.random.default_rng(seed)
    colours = rng.integers(0, 256, size=(rows, 3))
    images = pa.array(
        [{"bytes": png_bytes(tuple(int(v) for v in c)), "path": None} for c in colours],
        type=pa.struct([("bytes", pa.binary()), ("path", pa.string())]),
    )
    texts = [f"row {i}: {TEXT_WITH_MARKUP} " + "words " * 60 for i in range(rows)]
    return table.append_column("image", images).append_column("text", pa.array(texts))


def scan_folder(folder: Path, *, truth: bool = True) -> tuple[Path, Path]:
    """Write the dataset and scan it; return (dataset file, audit folder with report.html)."""
    data = folder / "data.parquet"
    pq.write_table(media_table(truth=truth), data)
    dataset = read_dataset(data)
    scan = run_scan(dataset, FAST_SETTINGS)
    out = folder / "audit"
    write_scan(scan, out, FAST_SETTINGS, source=str(data))
    return data, out


def retrieval_rows() -> list[dict[str, Any]]:
    return [
        {"method": "plain", "labels": "noisy", "round": 0, "map_i2t": 0.50, "map_t2i": 0.52},
        {
            "method": "plain",
            "labels": "cleaned:relabel",
            "round": 1,
            "map_i2t": 0.55,
            "map_t2i": 0.51,
        },
        {
            "method": "plain",
            "labels": "clean (oracle)",
            "round": 0,
            "map_i2t": 0.58,
            "map_t2i": 0.6,
        },
    ]


def write_retrieval(folder: Path) -> None:
    (folder / "retrieval.json").write_text(json.dumps({"rows": retrieval_rows()}))


class ReportParser(HTMLParser):
    """The report's structure: sections (id -> heading), images, charts and tables (per
    section)."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, str] = {}  # id -> h2 text, in document order
        self.texts: dict[str, str] = {}  # id -> all the section's text
        self.images: list[dict[str, str]] = []  # src, alt, section
        self.tables: dict[str, list[list[str]]] = {}  # id -> body rows of cell texts
        self.figures: list[dict[str, str]] = []  # data-* attributes, section
        # inline SVG charts: their attributes, section, "series" (path title -> path data)
        # and "texts" (every text element's content)
        self.charts: list[dict[str, Any]] = []
        self._series_path: str | None = None  # d of the series path being read
        self._in_series_title = False
        self._in_chart_text = False
        self.tags_in_tables: set[str] = set()
        self._section: str | None = None
        self._in_h2 = False
        self._table: str | None = None
        self._in_body = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: value or "" for key, value in attrs}
        if tag == "section":
            self._section = attributes.get("id", "")
            self.sections[self._section] = ""
            self.texts[self._section] = ""
        elif tag == "h2":
            self._in_h2 = True
        elif tag == "img":
            self.images.append({**attributes, "section": self._section or ""})
        elif tag == "figure":
            self.figures.append({**attributes, "section": self._section or ""})
        elif tag == "svg":
            chart = {**attributes, "section": self._section or "", "series": {}, "texts": []}
            self.charts.append(chart)
        elif tag == "path" and attributes.get("class") == "series":
            self._series_path = attributes["d"]
        elif tag == "title" and self._series_path is not None:
            self._in_series_title = True
        elif tag == "text" and self.charts:
            self._in_chart_text = True
        elif tag == "table":
            self._table = attributes.get("id", "")
            self.tables[self._table] = []
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body and self._table is not None:
            self.tables[self._table].append([])
        elif tag == "td" and self._in_body:
            self._cell = []
        if self._table is not None and tag not in {"table", "thead", "tbody", "tr", "th", "td"}:
            self.tags_in_tables.add(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "path":
            self._series_path = None
        elif tag == "title":
            self._in_series_title = False
        elif tag == "text":
            self._in_chart_text = False
        elif tag == "section":
            self._section = None
        elif tag == "h2":
            self._in_h2 = False
        elif tag == "table":
            self._table = None
        elif tag == "tbody":
            self._in_body = False
        elif tag == "td" and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._in_series_title and self._series_path is not None:
            # a name may have several paths (the curves: one per panel)
            self.charts[-1]["series"].setdefault(data, []).append(self._series_path)
            return
        if self._in_chart_text:
            self.charts[-1]["texts"].append(data)
        if self._section is not None:
            self.texts[self._section] += data
            if self._in_h2:
                self.sections[self._section] += data
        if self._cell is not None:
            self._cell.append(data)


def parse_report(path: Path) -> ReportParser:
    parser = ReportParser()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser
