"""The report's review loop: one row per suggested change, decided in the browser.

The ``review`` section lists every suggested change (a label to remove or to add) of the
flagged rows, most suspect first, at most :data:`REVIEW_ROWS` rows. In the page (plain inline
JavaScript, ``templates/review.js.j2``; no server, nothing loaded from anywhere) each change
gets *accept* / *reject* buttons, a free "set labels" field for its row (class names separated
by ``|``: the row's whole new label list) and a note; ``j``/``k`` move, ``a``/``r`` accept or
reject and move on; a line counts "37 of 200 reviewed"; a button downloads ``decisions.csv``
(``id``, ``class``, ``action`` accepted|rejected|set, ``reviewer_note``) for
``audit clean DATA --decisions decisions.csv``. A row with a "set" value writes only its ``set``
line (it replaces the row's labels, so its accept/reject choices are not written).
"""

from __future__ import annotations

from typing import Any

from auditor.audit_files import FUSED, AuditFolder
from auditor.report.media import SuspectMedia
from auditor.report.text import number

REVIEW_ROWS = 500
SECTION = ("review", "Review the suggestions")


def review_changes(folder: AuditFolder, limit: int = REVIEW_ROWS) -> list[dict[str, Any]]:
    """The suggested changes to review, in rank order.

    Returns one dict per change: ``id`` (as text, as decisions.csv writes it), ``rank``,
    ``score`` (fused, formatted), ``given`` / ``suggested`` (label lists), ``class``, and
    ``change`` (``remove`` or ``add``). Only ``is_issue`` rows with a suggestion, at most
    ``limit`` of them.
    """
    columns = ["id", "rank", FUSED, "is_issue", "given_labels", "suggested_labels",
               "labels_to_remove", "labels_to_add"]  # fmt: skip
    changes: list[dict[str, Any]] = []
    rows = 0
    for record in folder.audit.select(columns).to_pylist():
        if rows >= limit:
            break
        remove, add = record["labels_to_remove"] or [], record["labels_to_add"] or []
        if not record["is_issue"] or not (remove or add):
            continue
        rows += 1
        base = {
            "id": str(record["id"]),
            "key": record["id"],
            "rank": record["rank"],
            "score": number(record[FUSED]),
            "given": list(record["given_labels"] or []),
            "suggested": list(record["suggested_labels"] or []),
        }
        changes += [{**base, "class": name, "change": "remove"} for name in remove]
        changes += [{**base, "class": name, "change": "add"} for name in add]
    return changes


def review_section(folder: AuditFolder, media: SuspectMedia) -> dict[str, Any]:
    """The ``review`` section: the changes (with thumbnails where the report has them)."""
    changes = review_changes(folder)
    for change in changes:
        change["thumb"] = media.thumbnails.get(change.pop("key"))
    flagged = int(sum(1 for value in folder.audit.column("is_issue").to_pylist() if value))
    if changes:
        intro = (
            f"{len(changes)} suggested changes of {len({c['id'] for c in changes})} flagged rows "
            f"({flagged} flagged in all). Accept or reject each, or type a row's whole new label "
            "list in 'set labels' (names separated by |); then download decisions.csv and run "
            "`audit clean DATA --decisions decisions.csv`. Keys: j / k move, a accept, r reject."
        )
        notes = []
    else:
        intro = ""
        notes = ["No flagged row has a suggested change: nothing to review."]
    return {
        "id": SECTION[0],
        "title": SECTION[1],
        "paragraphs": [intro] if intro else [],
        "notes": notes,
        "tables_before": [],
        "figures": [],
        "tables": [],
        "closing": [],
        "review": changes,
        "has_thumbs": any(change["thumb"] for change in changes),
    }
