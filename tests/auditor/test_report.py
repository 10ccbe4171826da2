"""report.html: built from a real (small) scan, checked through its parsed structure."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from auditor.dataset import DataError
from auditor.metrics import auroc, per_class_noise
from auditor.report import (
    REPORT_FILE,
    SECTIONS,
    build_report,
    class_counts,
    detection_curves,
    histogram,
    snippet,
    thin,
)
from auditor.report import page as report_page
from auditor.report.figures import HISTOGRAM_BINS, histogram_figure, suspicion
from auditor.scanning import run_scan, write_scan
from tests.auditor.report_fixtures import (
    FAST_SETTINGS,
    N_CLASSES,
    TEXT_WITH_MARKUP,
    media_table,
    parse_report,
    retrieval_rows,
    scan_folder,
    write_retrieval,
)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return scan_folder(tmp_path_factory.mktemp("report"))


@pytest.fixture()
def audit_copy(scanned: tuple[Path, Path], tmp_path: Path) -> Path:
    """A copy of the audit folder beside a copy of its data. The summary names a file that is
    not there, so the report finds the data beside the folder."""
    data, out = scanned
    shutil.copy(data, tmp_path / data.name)
    copy = Path(shutil.copytree(out, tmp_path / "audit"))
    summary = json.loads((copy / "summary.json").read_text())
    summary["input"] = str(tmp_path / "moved-away" / data.name)
    (copy / "summary.json").write_text(json.dumps(summary))
    return copy


def decoded(src: str) -> Image.Image:
    header, _, payload = src.partition(",")
    assert header in ("data:image/png;base64", "data:image/jpeg;base64"), header[:40]
    image = Image.open(io.BytesIO(base64.b64decode(payload, validate=True)))
    image.load()
    assert image.format == ("PNG" if "png" in header else "JPEG")
    return image


@pytest.mark.e2e
def test_scan_writes_a_report_with_every_section(scanned: tuple[Path, Path]) -> None:
    _, out = scanned
    parsed = parse_report(out / REPORT_FILE)
    assert list(parsed.sections) == [key for key, _ in SECTIONS]
    for key, title in SECTIONS:
        assert parsed.sections[key].strip() == title
    overview = dict((row[0], row[1]) for row in parsed.tables["overview-table"])
    summary = json.loads((out / "summary.json").read_text())
    assert overview["rows audited"] == str(summary["rows_audited"])
    assert overview["estimated noise rate"].startswith(
        f"{100 * summary['estimated_noise_rate']:.1f} % "
        f"(± {200 * summary['estimated_noise_rate_sd']:.1f} points from resampling the rows"
    )
    assert overview["true noise rate"].startswith(f"{100 * summary['true_noise_rate']:.1f} %")
    assert overview["classes"].startswith(f"{N_CLASSES}:")


def bin_heights(outline: str) -> np.ndarray:
    """The drawn height of each bin of a histogram outline (svg.stairs_path): baseline minus
    each ``V`` top, the closing ``V`` back to the baseline left out."""
    start = re.match(r"M[-\d.]+ ([-\d.]+)", outline)
    assert start is not None, outline[:40]
    baseline = float(start.group(1))
    tops = np.array([float(value) for value in re.findall(r"V([-\d.]+)", outline)[:-1]])
    return baseline - tops


@pytest.mark.e2e
def test_figures_are_inline_charts_that_draw_the_data(scanned: tuple[Path, Path]) -> None:
    _, out = scanned
    parsed = parse_report(out / REPORT_FILE)
    audit = pq.read_table(out / "audit.parquet")
    summary = json.loads((out / "summary.json").read_text())
    signals = [name for name in audit.column_names if name in summary["signals"]]
    histograms = [f["data-signal"] for f in parsed.figures if "data-signal" in f]
    assert histograms == ["label_quality", *signals]  # one per signal, and the fused score
    assert all(f["section"] == "signals" for f in parsed.figures if "data-signal" in f)
    curves = [f for f in parsed.figures if f.get("data-figure") == "curves"]
    assert len(curves) == 1 and curves[0]["section"] == "detection"
    # One inline SVG per figure, in the same order; no picture files, no <img> for a figure.
    assert len(parsed.charts) == len(parsed.figures)
    assert not [image for image in parsed.images if image["section"] in ("signals", "detection")]
    for chart in parsed.charts:
        assert chart["role"] == "img" and chart["aria-label"]
        assert chart["viewbox"] == f"0 0 {chart['width']} {chart['height']}"
    # Each histogram draws the clean and the noisy rows' counts over the same 40 bins.
    truth = pq.read_table(out / "audit.parquet").column("is_noisy").to_numpy()
    for name, chart in zip(histograms, parsed.charts, strict=False):
        assert set(chart["series"]) == {"clean", "noisy"}
        _, counts, _ = histogram(audit.column(name).to_numpy(), truth)
        drawn = [bin_heights(chart["series"][group][0]) for group in ("clean", "noisy")]
        tallest = max(height.max() for height in drawn)
        for height, count in zip(drawn, counts, strict=True):
            assert len(height) == HISTOGRAM_BINS
            np.testing.assert_allclose(height / tallest, count / max(c.max() for c in counts),
                                       atol=2e-3)  # fmt: skip
    # The curves: the fused score, cleanlab and every signal, each in both panels.
    (curve_chart,) = [c for c in parsed.charts if c["section"] == "detection"]
    assert set(curve_chart["series"]) == {"label_quality", *signals}
    assert all(len(paths) == 2 for paths in curve_chart["series"].values())
    for name in curve_chart["series"]:  # the legend carries each score's AUPRC and AUROC
        metrics = summary["detection"][name]
        position = curve_chart["texts"].index(name)
        assert curve_chart["texts"][position + 1 : position + 3] == [
            f"{metrics['auprc']:.3f}", f"{metrics['auroc']:.3f}"
        ]  # fmt: skip


@pytest.mark.e2e
def test_comparison_table_lists_fused_cleanlab_and_every_signal(
    scanned: tuple[Path, Path],
) -> None:
    _, out = scanned
    parsed = parse_report(out / REPORT_FILE)
    summary = json.loads((out / "summary.json").read_text())
    rows = parsed.tables["comparison-table"]
    names = [row[0] for row in rows]
    assert names[0] == "label_quality (fused)"
    assert set(names[1:]) == set(summary["detection"]) - {"label_quality"}
    assert "cleanlab_quality" in names
    fused = summary["detection"]["label_quality"]
    assert rows[0][1] == f"{fused['auroc']:.3f}" and rows[0][2] == f"{fused['auprc']:.3f}"


@pytest.mark.e2e
def test_per_class_table_has_one_row_per_class_and_matches_the_audit(
    scanned: tuple[Path, Path],
) -> None:
    _, out = scanned
    parsed = parse_report(out / REPORT_FILE)
    summary = json.loads((out / "summary.json").read_text())
    rows = parsed.tables["class-table"]
    assert len(rows) == len(summary["classes"]) == N_CLASSES
    assert [row[0] for row in rows] == summary["classes"]
    audit = pq.read_table(out / "audit.parquet")
    labels = audit.column("given_labels").to_pylist()
    for row in rows:
        assert int(row[1].replace(",", "")) == sum(row[0] in given for given in labels)
    assert sum(int(row[2]) for row in rows) == summary["labels_to_remove"]
    assert sum(int(row[3]) for row in rows) == summary["labels_to_add"]
    # The same numbers are in summary.json, computed by the scan.
    for row in rows:
        stored = summary["per_class"][row[0]]
        counts = [stored[key] for key in ("given", "suspected_spurious", "suspected_missing")]
        assert [int(cell.replace(",", "")) for cell in row[1:4]] == counts


@pytest.mark.e2e
def test_per_class_rates_are_marked_where_the_scan_said_the_noise_is_not_identifiable(
    audit_copy: Path,
) -> None:
    summary_file = audit_copy / "summary.json"
    summary = json.loads(summary_file.read_text())
    assert summary["noise_model"]["identifiable"]
    build_report(audit_copy)
    assert "NOT IDENTIFIABLE" not in parse_report(audit_copy / REPORT_FILE).texts["classes"]
    reason = "the kNN vote's floor exceeds the calibrated spurious estimate by 0.31"
    summary["noise_model"].update(identifiable=False, unidentifiable_reason=reason)
    summary_file.write_text(json.dumps(summary))
    build_report(audit_copy)
    parsed = parse_report(audit_copy / REPORT_FILE)
    assert f"NOT IDENTIFIABLE: {reason}" in parsed.texts["classes"]
    assert "may be far from the truth" in parsed.texts["classes"]
    # the table itself is unchanged: one row per class
    assert len(parsed.tables["class-table"]) == N_CLASSES


@pytest.mark.e2e
def test_top_suspects_in_rank_order_with_thumbnails_and_escaped_text(
    audit_copy: Path,
) -> None:
    build_report(audit_copy, top=7)
    parsed = parse_report(audit_copy / REPORT_FILE)
    rows = parsed.tables["suspects-table"]
    audit = pq.read_table(audit_copy / "audit.parquet")
    assert [row[1] for row in rows] == audit.column("id").to_pylist()[:7]
    assert [row[0] for row in rows] == [str(rank) for rank in range(1, 8)]
    thumbnails = [image for image in parsed.images if image["section"] == "suspects"]
    assert len(thumbnails) == 7
    assert all(decoded(image["src"]).format == "JPEG" for image in thumbnails)
    # The text snippet is text: markup in the data is shown, never interpreted.
    assert all(TEXT_WITH_MARKUP in row[3] for row in rows)
    assert not parsed.tags_in_tables & {"b", "script"}
    assert all(row[3].endswith("…") and len(row[3]) <= 160 for row in rows)


@pytest.mark.e2e
def test_no_media_when_the_data_changed_or_is_gone(audit_copy: Path, tmp_path: Path) -> None:
    data = tmp_path / "data.parquet"
    pq.write_table(media_table(rows=400, seed=4), data)  # same place, other content
    parsed = parse_report(build_report(audit_copy, top=5))
    assert "changed since the scan" in parsed.texts["suspects"]
    assert not [image for image in parsed.images if image["section"] == "suspects"]
    data.unlink()
    parsed = parse_report(build_report(audit_copy, top=5))
    assert "no longer there" in parsed.texts["suspects"]
    assert len(parsed.tables["suspects-table"]) == 5


@pytest.mark.e2e
def test_retrieval_section_with_and_without_results(audit_copy: Path) -> None:
    parsed = parse_report(build_report(audit_copy))
    assert "No benchmark results are present" in parsed.texts["retrieval"]
    assert "retrieval-table" not in parsed.tables
    write_retrieval(audit_copy)
    parsed = parse_report(build_report(audit_copy))
    rows = parsed.tables["retrieval-table"]
    assert [row[1] for row in rows] == [row["labels"] for row in retrieval_rows()]
    # Δ against the same method's noisy run: 0.55 - 0.50 and 0.51 - 0.52.
    assert rows[1][5:] == ["+0.050", "-0.010"]
    assert rows[0][5:] == ["–", "–"]
    assert [f for f in parsed.figures if f.get("data-figure") == "retrieval"]


@pytest.mark.e2e
def test_bad_retrieval_file_is_an_input_error(audit_copy: Path) -> None:
    rows = retrieval_rows()
    del rows[1]["map_t2i"]
    (audit_copy / "retrieval.json").write_text(json.dumps({"rows": rows}))
    with pytest.raises(DataError, match=r"retrieval.json, row 1: no 'map_t2i'"):
        build_report(audit_copy)
    assert not list(audit_copy.glob(".report*"))


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "audit.parquet").unlink(), "audit.parquet is missing"),
        (lambda d: (d / "summary.json").unlink(), "summary.json is missing"),
        (lambda d: (d / "summary.json").write_text("{not json"), "not readable JSON"),
        (lambda d: (d / "audit.parquet").write_bytes(b"PAR1 truncated"), "not a readable Parquet"),
        (
            lambda d: pq.write_table(pa.table({"id": ["a"]}), d / "audit.parquet"),
            "column 'rank'",
        ),
    ],
)
def test_not_a_scan_folder_is_an_input_error(audit_copy: Path, damage, message: str) -> None:  # type: ignore[no-untyped-def]
    (audit_copy / REPORT_FILE).unlink()
    damage(audit_copy)
    with pytest.raises(DataError, match=message):
        build_report(audit_copy)
    assert not (audit_copy / REPORT_FILE).exists()


@pytest.mark.e2e
def test_without_truth_or_media_the_report_says_so(tmp_path: Path) -> None:
    table = media_table(rows=300, truth=False).drop_columns(["image", "text"])
    data = tmp_path / "plain.parquet"
    pq.write_table(table, data)
    from auditor.io import read_dataset

    scan = run_scan(read_dataset(data), FAST_SETTINGS)
    out = tmp_path / "audit"
    write_scan(scan, out, FAST_SETTINGS, source=str(data))
    parsed = parse_report(out / REPORT_FILE)
    assert list(parsed.sections) == [key for key, _ in SECTIONS]
    assert "ground truth is unknown" in parsed.texts["detection"]
    assert "comparison-table" not in parsed.tables
    assert "unknown" in dict(parsed.tables["overview-table"])["true noise rate"]
    headers_free = parsed.tables["suspects-table"]
    assert len(headers_free) == 50
    assert not [image for image in parsed.images if image["section"] == "suspects"]


def test_a_failed_report_leaves_no_scan_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = media_table(rows=300).drop_columns(["image", "text"])
    data = tmp_path / "d.parquet"
    pq.write_table(table, data)
    from auditor.io import read_dataset

    scan = run_scan(read_dataset(data), FAST_SETTINGS)

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("figure failed")

    monkeypatch.setattr(report_page, "report_html", broken)
    with pytest.raises(RuntimeError):
        write_scan(scan, tmp_path / "audit", FAST_SETTINGS, source=str(data))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["d.parquet"]


@pytest.mark.e2e
def test_report_of_a_large_audit_stays_the_size_of_a_small_one(audit_copy: Path) -> None:
    """20k rows (the audit table tiled): figures get bins and thinned points and the tables a
    fixed number of rows, so the page does not grow with N (its speed at scale is timed by
    ``examples/bench_scale.py``, whose write stage builds the report; no clock in the tests)."""
    small = build_report(audit_copy).stat().st_size
    audit = pq.read_table(audit_copy / "audit.parquet")
    copies = 20_000 // audit.num_rows + 1
    big = pa.concat_tables([audit] * copies)
    ids = pa.array([f"x{i}" for i in range(big.num_rows)])
    big = big.set_column(big.column_names.index("id"), "id", ids)
    big = big.set_column(
        big.column_names.index("rank"), "rank", pa.array(np.arange(1, big.num_rows + 1))
    )
    pq.write_table(big, audit_copy / "audit.parquet")
    path = build_report(audit_copy)
    parsed = parse_report(path)
    assert len(parsed.tables["suspects-table"]) == 50
    # measured: 338 kB at 200 rows, 536 kB at 20,200 (the review lists at most 500 changes)
    assert path.stat().st_size < 2 * small


# ---------------------------------------------------------------------------- pure helpers
def test_the_overview_says_why_a_rate_at_its_bound_has_no_spread() -> None:
    from auditor.audit_files import RATE_AT_BOUND

    spread = report_page.estimated_rate(
        {"estimated_noise_rate": 0.55, "estimated_noise_rate_sd": 0.03}
    )
    assert spread.startswith("55.0 % (± 6.0 points from resampling the rows")
    # every resample reads every row noisy (heavy class flips): not a certainty of ± 0
    capped = report_page.estimated_rate(
        {"estimated_noise_rate": 1.0, "estimated_noise_rate_sd": 0.0}
    )
    assert capped == f"100.0 % ({RATE_AT_BOUND})"
    assert report_page.estimated_rate({"estimated_noise_rate": 0.2}) == "20.0 %"


def test_detection_curves_match_the_tie_averaged_auroc() -> None:
    rng = np.random.default_rng(0)
    truth = rng.random(500) < 0.3
    # Coarse scores: many ties, and the noisy rows score higher on average.
    suspicion = np.round(rng.random(500) + 0.4 * truth, 1)
    curves = detection_curves(truth, suspicion)
    assert curves is not None
    area = float(np.sum(np.diff(curves.fpr) * (curves.tpr[1:] + curves.tpr[:-1]) / 2))
    assert area == pytest.approx(auroc(truth, suspicion), abs=1e-12)
    assert curves.recall[-1] == 1.0 and curves.precision[-1] == pytest.approx(truth.mean())
    assert len(curves.recall) == len(np.unique(suspicion))
    assert detection_curves(np.zeros(10, bool), np.arange(10.0)) is None
    assert detection_curves(np.ones(10, bool), np.arange(10.0)) is None


def test_detection_curves_are_sklearns_points() -> None:
    """The numpy curves (no sklearn import on the report's path) are sklearn's, point for
    point, ties and infinite values included."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    rng = np.random.default_rng(1)
    truth = rng.random(3000) < 0.2
    scores = np.round(rng.normal(size=3000) + truth, 1)
    scores[rng.choice(3000, 40, replace=False)] = np.inf  # NaN signals become +inf suspicion
    curves = detection_curves(truth, scores)
    assert curves is not None
    finite = np.where(np.isinf(scores), scores[np.isfinite(scores)].max() + 1, scores)
    fpr, tpr, _ = roc_curve(truth, finite, drop_intermediate=False)  # sklearn refuses inf
    precision, recall, _ = precision_recall_curve(truth, finite)
    np.testing.assert_allclose(curves.fpr, fpr, rtol=0, atol=1e-15)
    np.testing.assert_allclose(curves.tpr, tpr, rtol=0, atol=1e-15)
    np.testing.assert_allclose(curves.recall, recall[-2::-1], rtol=0, atol=1e-15)
    np.testing.assert_allclose(curves.precision, precision[-2::-1], rtol=0, atol=1e-15)


def test_suspicion_orders_rows_as_the_scan_does() -> None:
    from scipy.stats import rankdata

    from auditor.fusion import suspicion_rank

    values = np.array([0.3, np.nan, 0.1, 0.3, 0.9, np.nan, -2.0])
    for direction in ("low_is_suspect", "high_is_suspect"):
        ranks = rankdata(suspicion(values, direction)) / values.size
        np.testing.assert_array_equal(ranks, suspicion_rank(values, direction))
    with pytest.raises(ValueError, match="unknown direction"):
        suspicion(values, "sideways")


HEAVY = ("torch", "cleanlab", "sklearn", "scipy", "matplotlib", "pandas")


@pytest.mark.e2e
def test_building_a_report_loads_no_heavy_library(audit_copy: Path) -> None:
    """`audit report` stays light: with the truth (curves), thumbnails and snippets, it imports
    none of these (each costs from half a second to seconds of start-up)."""
    code = (
        "import sys; from auditor.report import build_report; "
        f"build_report({str(audit_copy)!r}); "
        f"print(sorted(name for name in {HEAVY!r} if name in sys.modules))"
    )
    root = Path(__file__).resolve().parents[2]
    finished = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert finished.stdout.strip() == "[]"
    parsed = parse_report(audit_copy / REPORT_FILE)  # it was the full report
    assert [image for image in parsed.images if image["section"] == "suspects"]
    assert [chart for chart in parsed.charts if chart["section"] == "detection"]


def test_thin_keeps_the_ends_and_at_most_the_budget() -> None:
    x = np.arange(10_000.0)
    (kept,) = thin(x, points=400)
    assert len(kept) <= 400 and kept[0] == 0 and kept[-1] == 9_999
    assert (np.diff(kept) > 0).all()
    (short,) = thin(x[:10], points=400)
    assert len(short) == 10


def test_class_counts_and_per_class_rate() -> None:
    column = pa.array([["a", "b"], ["b"], [], ["c", "zz"]])
    assert class_counts(column, ["a", "b", "c", "d"]).tolist() == [1, 2, 1, 0]
    numbers = per_class_noise(
        ["a", "b", "c"], np.array([10, 0, 4]), np.array([2, 0, 0]), np.array([2, 0, 4])
    )
    rate = [numbers[name]["estimated_noise_rate"] for name in "abc"]
    assert rate[0] == pytest.approx(4 / 12) and rate[1] is None and rate[2] == 0.5
    assert numbers["a"] == {
        "given": 10,
        "suspected_spurious": 2,
        "suspected_missing": 2,
        "estimated_noise_rate": round(4 / 12, 6),
    }


def test_snippet() -> None:
    assert snippet("a \n b") == "a b"
    assert snippet(None) == ""
    cut = snippet("word " * 100, limit=20)
    assert len(cut) <= 20 and cut.endswith("…")


def test_histogram_figure_says_how_many_values_it_left_out() -> None:
    values = np.r_[np.linspace(0.0, 1.0, 50), [np.nan] * 3, [np.inf]]
    chart = histogram_figure("weight", values, None, "low_is_suspect")
    texts = [text.text for text in chart.texts]
    assert "weight (low = suspect)" in texts and "4 non-finite left out" in texts
    (series,) = [mark for mark in chart.marks if mark.role == "series"]
    assert series.title == "all rows" and series.d.count("V") == 40 + 1
