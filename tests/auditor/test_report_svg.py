"""The report's SVG primitives: ticks, scales, paths, legends, and the escaping template."""

from __future__ import annotations

import numpy as np
import pytest

from auditor.report.page import _template
from auditor.report.svg import (
    Box,
    Chart,
    Mark,
    Text,
    axes,
    bars_path,
    legend,
    nice_ticks,
    path_data,
    scale,
    stairs_path,
)


@pytest.mark.parametrize(
    ("low", "high", "integer", "values", "labels"),
    [
        (0.0, 1.0, False, [0, 0.2, 0.4, 0.6, 0.8, 1.0], ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]),
        (0.013, 0.93, False, [0.2, 0.4, 0.6, 0.8], ["0.2", "0.4", "0.6", "0.8"]),
        (2.6, 6.7, False, [3, 4, 5, 6], ["3", "4", "5", "6"]),
        (0.0, 735.0, True, [0, 200, 400, 600], ["0", "200", "400", "600"]),
        (0.0, 3.15, True, [0, 1, 2, 3], ["0", "1", "2", "3"]),  # counts: no 0.5 steps
        (-0.1, 0.1, False, [-0.1, -0.05, 0, 0.05, 0.1], ["-0.10", "-0.05", "0.00", "0.05", "0.10"]),
    ],
)
def test_nice_ticks(
    low: float, high: float, integer: bool, values: list[float], labels: list[str]
) -> None:
    ticks, texts = nice_ticks(low, high, integer=integer)
    np.testing.assert_allclose(ticks, values, atol=1e-12)
    assert texts == labels


def test_nice_ticks_of_an_empty_range() -> None:
    ticks, texts = nice_ticks(2.0, 2.0)
    assert ticks.tolist() == [2.0] and texts == ["2"]


def test_scale_maps_the_domain_onto_the_pixels_and_flips_y() -> None:
    np.testing.assert_allclose(scale([0.0, 0.5, 1.0], (0.0, 1.0), (10.0, 110.0)), [10, 60, 110])
    # A y axis: the bottom pixel for the lowest value.
    np.testing.assert_allclose(scale([0.0, 40.0], (0.0, 40.0), (200.0, 40.0)), [200, 40])
    assert scale([3.0], (3.0, 3.0), (0.0, 9.0)).tolist() == [0.0]  # no division by zero


def test_stairs_path_draws_each_bin_and_closes_on_the_baseline() -> None:
    path = stairs_path(np.array([0.0, 10.0, 20.26]), np.array([5.0, 30.04]), 50.0)
    assert path == "M0 50V5H10V30H20.3V50Z"


def test_path_data_rounds_and_drops_repeated_points() -> None:
    xs = np.array([0.0, 0.04, 10.0, 10.0, 20.0])
    ys = np.array([1.0, 1.01, 2.0, 2.0, 3.56])
    assert path_data(xs, ys) == "M0 1L10 2L20 3.6"
    assert path_data(np.array([1.0]), np.array([2.0])) == "M1 2"


def test_bars_path_has_one_closed_rectangle_per_bar() -> None:
    path = bars_path(np.array([0.0, 10.0]), np.array([5.0, 15.0]), np.array([3.0, 7.0]), 9.0)
    assert path == "M0 9V3H5V9ZM10 9V7H15V9Z"


def test_axes_leave_out_ticks_outside_the_domain() -> None:
    box = Box(left=10, top=10, width=100, height=50)
    _, texts = axes(
        box, (0.25, 1.0), (0.0, 1.0), x_ticks=nice_ticks(0.0, 1.0), y_ticks=(np.array([]), [])
    )
    assert [text.text for text in texts] == ["0.4", "0.6", "0.8", "1.0"]
    assert texts[-1].x == box.right


def test_legend_rows_with_value_columns() -> None:
    marks, texts = legend(
        0, 20, [("fused", Mark(stroke="black")), ("clean", Mark(fill="#00f"))],
        values=[["0.9", "0.8"], ["0.5", "–"]], headers=("AUPRC", "AUROC"),
    )  # fmt: skip
    assert [text.text for text in texts] == ["AUPRC", "AUROC", "fused", "0.9", "0.8", "clean",
                                             "0.5", "–"]  # fmt: skip
    assert marks[0].d.count("h") == 1 and marks[1].d.endswith("Z")  # a line, then a block
    assert texts[2].y < texts[5].y


def test_the_chart_template_escapes_every_text() -> None:
    chart = Chart(
        width=100,
        height=50,
        label='a "quoted" <label>',
        marks=(Mark("M0 0H10", stroke="black", title="<script>x</script>", role="series"),),
        texts=(Text(5, 5, "<b>bold</b> & co", angle=-30),),
    )
    macro = _template().environment.get_template("chart.svg.j2").module.chart
    svg = str(macro(chart))
    assert "<b>" not in svg and "<script>" not in svg
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in svg
    assert "&lt;script&gt;x&lt;/script&gt;" in svg
    assert 'aria-label="a &#34;quoted&#34; &lt;label&gt;"' in svg
    assert 'transform="rotate(-30 5 5)"' in svg
