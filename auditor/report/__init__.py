"""``report.html``: the human view of an audit folder, one self-contained file.

:func:`build_report` reads what ``audit scan`` wrote (:mod:`auditor.audit_files`: ``audit.parquet``,
``summary.json``, and ``retrieval.json`` when a clean → retrain benchmark left one) and writes
``report.html``: inline CSS, every figure an inline SVG chart (:mod:`auditor.report.figures`
on the primitives of :mod:`auditor.report.svg`), thumbnails and text snippets of the top
suspects read from the scanned dataset when it is still there and unchanged
(:mod:`auditor.report.media`), the page rendered by a jinja2 template with autoescape
(:mod:`auditor.report.page`). The file opens offline in any browser; it loads nothing from
anywhere. Nothing here imports torch, cleanlab, a hasher, scipy, sklearn, pandas or a plotting
library (tests/auditor/test_report.py checks it): ``audit report`` takes about a second.

Sections (each a ``<section id=…>`` with an ``<h2>``): ``overview``, ``signals``,
``detection``, ``classes``, ``suspects``, ``retrieval``. A section that has nothing to show
(no ground truth, no benchmark results) says so instead of disappearing.
"""

from auditor.audit_files import REPORT_FILE
from auditor.report.figures import Curves, detection_curves, histogram, thin
from auditor.report.page import DEFAULT_TOP, SECTIONS, build_report, class_counts, report_html
from auditor.report.text import snippet

__all__ = [
    "DEFAULT_TOP",
    "REPORT_FILE",
    "SECTIONS",
    "Curves",
    "build_report",
    "class_counts",
    "detection_curves",
    "histogram",
    "report_html",
    "snippet",
    "thin",
]
