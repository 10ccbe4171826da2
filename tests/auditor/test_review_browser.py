"""The report's review loop in headless Chromium: three decisions by keyboard and a typed
label list, decisions.csv downloaded, and `audit clean --decisions` applying exactly them."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from auditor.audit_files import read_audit_folder
from auditor.decisions import clean_with_decisions
from auditor.report import build_report
from auditor.report.review import review_changes
from tests.auditor.report_fixtures import scan_folder
from tests.auditor.test_report_browser import browser, load, severe_messages  # noqa: F401


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    data, out = scan_folder(tmp_path_factory.mktemp("review"))
    return data, out, build_report(out)


def test_review_rows_are_the_flagged_suggestions(scanned: tuple[Path, Path, Path]) -> None:
    _, out, report = scanned
    audit = pq.read_table(out / "audit.parquet").to_pylist()
    expected = [
        (str(r["id"]), name)
        for r in audit
        if r["is_issue"]
        for name in [*r["labels_to_remove"], *r["labels_to_add"]]
    ]
    changes = review_changes(read_audit_folder(out))
    assert [(c["id"], c["class"]) for c in changes] == expected
    html = report.read_text(encoding="utf-8")
    assert html.count('<tr class="change"') == len(expected) > 20
    assert f"0 of {len(expected)} reviewed" in html
    assert "<script src" not in html and "http://" not in html and "https://" not in html


def wait_for_file(path: Path, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists() or path.with_name(path.name + ".crdownload").exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} was not downloaded")
        time.sleep(0.1)


def test_review_three_download_and_apply(
    browser: Any,  # noqa: F811
    scanned: tuple[Path, Path, Path],
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By

    data, out, report = scanned
    changes = review_changes(read_audit_folder(out))
    # three changes of three different rows: the first change of each of the first three ids
    firsts: dict[str, int] = {}
    for index, change in enumerate(changes):
        firsts.setdefault(change["id"], index)
    picks = list(firsts.values())[:3]
    browser.execute_cdp_cmd(
        "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)}
    )
    load(browser, report)
    body = browser.find_element(By.TAG_NAME, "body")
    position = -1

    def move_to(index: int) -> None:
        nonlocal position
        body.send_keys("j" * (index - position))
        position = index

    move_to(picks[0])
    body.send_keys("a")  # accept, and the selection moves on
    position += 1
    move_to(picks[1])
    body.send_keys("r")
    position += 1
    classes = read_audit_folder(out).classes
    wanted = [classes[0], classes[-1]]
    rows = browser.find_elements(By.CSS_SELECTOR, "#review-table tr.change")
    rows[picks[2]].find_element(By.CSS_SELECTOR, "input.set").send_keys("|".join(wanted))
    rows[picks[2]].find_element(By.CSS_SELECTOR, "input.note").send_keys('typed, "by hand"')
    # a typed label list decides every suggested change of its row
    covered = sum(1 for change in changes if change["id"] == changes[picks[2]]["id"])
    progress = browser.find_element(By.ID, "review-progress").text
    assert progress == f"{2 + covered} of {len(changes)} reviewed"
    browser.find_element(By.ID, "download-decisions").click()
    decisions = tmp_path / "decisions.csv"
    wait_for_file(decisions)
    assert severe_messages(browser) == []

    with open(decisions, newline="", encoding="utf-8") as handle:
        lines = list(csv.DictReader(handle))
    first, second, third = (changes[index] for index in picks)
    assert lines == [
        {"id": first["id"], "class": first["class"], "action": "accepted", "reviewer_note": ""},
        {"id": second["id"], "class": second["class"], "action": "rejected", "reviewer_note": ""},
        {
            "id": third["id"],
            "class": "|".join(wanted),
            "action": "set",
            "reviewer_note": 'typed, "by hand"',
        },
    ]

    cleaned = tmp_path / "cleaned.parquet"
    summary = clean_with_decisions(data, decisions, cleaned, audit_path=out / "audit.parquet")
    before = dict(
        zip(*pq.read_table(data, columns=["id", "labels"]).to_pydict().values(), strict=True)
    )
    after = dict(
        zip(*pq.read_table(cleaned, columns=["id", "labels"]).to_pydict().values(), strict=True)
    )
    changed = {key for key in before if set(before[key]) != set(after[key])}
    flipped = set(first["given"]) ^ {first["class"]}
    assert set(after[first["id"]]) == flipped
    assert set(after[second["id"]]) == set(before[second["id"]])
    assert set(after[third["id"]]) == set(wanted)
    expected_changed = {first["id"]} | (
        {third["id"]} if set(wanted) != set(third["given"]) else set()
    )
    assert changed == expected_changed
    assert (
        summary["decisions_accepted"]
        == summary["decisions_rejected"]
        == summary["decisions_set"]
        == 1
    )
