"""examples/bench_scan.py --visible-truth: the content-visible truth and the scores against it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from auditor.metrics import auroc, detection_report
from examples.bench_scan import (
    content_visible_truth,
    suggestion_quality,
    synthetic,
    visible_truth_report,
    with_independent_spurious,
)


def test_traceless_true_labels_count_neither_right_nor_wrong() -> None:
    truth = np.array([[1, 1, 0], [1, 1, 0], [1, 1, 0], [1, 0, 0]], dtype=bool)
    given = np.array([[1, 1, 0], [1, 0, 0], [0, 1, 1], [1, 0, 0]], dtype=bool)
    visible = np.array([[1, 0, 0], [1, 0, 0], [1, 1, 0], [1, 0, 0]], dtype=bool)
    wrong, scored_cells, noisy_rows, scored_rows = content_visible_truth(given, truth, visible)
    # Row 0 gives a traceless true label: a clean row, that cell not scored. Row 1 lost only a
    # traceless label: the row is not scored. Row 2 lost a visible label and gained a spurious
    # one: both wrong. Row 3 is clean.
    np.testing.assert_array_equal(
        wrong, [[0, 0, 0], [0, 0, 0], [1, 0, 1], [0, 0, 0]]
    )  # fmt: skip
    np.testing.assert_array_equal(
        scored_cells, [[1, 0, 1], [1, 0, 1], [1, 1, 1], [1, 1, 1]]
    )  # fmt: skip
    np.testing.assert_array_equal(noisy_rows, [False, False, True, False])
    np.testing.assert_array_equal(scored_rows, [True, False, True, True])


def _random_case(rng: np.random.Generator, visible_share: float) -> tuple[Any, ...]:
    """Seeded given/true labels (missing and spurious noise), a visibility mask, and a fused
    dict whose presence reads the visible true labels only."""
    truth = rng.random((400, 6)) < 0.35
    given = truth.copy()
    given[rng.random(truth.shape) < 0.08] ^= True
    visible = rng.random(truth.shape) < visible_share
    # The content reads the visible true labels only, as the detectors do.
    presence = np.clip((truth & visible) * 0.6 + rng.random(truth.shape) * 0.5, 0.0, 1.0)
    error = np.where(given, 1.0 - presence, presence)
    fused = {
        "label_quality": 1.0 - error.max(axis=1),
        "presence": presence,
        "remove": given & (presence < 0.3),
        "add": ~given & (presence > 0.7),
        "is_issue": error.max(axis=1) > 0.6,
        "signals": {},
    }
    return given, truth, visible, fused


def test_with_every_label_visible_the_visible_truth_is_the_plain_truth() -> None:
    given, truth, _, fused = _random_case(np.random.default_rng(0), 1.0)
    report = visible_truth_report(given, truth, np.ones_like(truth), fused)
    plain_rows = (given != truth).any(axis=1)
    plain = detection_report(plain_rows, 1.0 - fused["label_quality"])
    assert report["fused"]["auroc"] == plain["auroc"]
    assert report["remove"] == suggestion_quality(fused["remove"], given & ~truth)
    assert report["add"] == suggestion_quality(fused["add"], truth & ~given)
    assert report["excluded_row_share"] == 0.0 and report["ceiling_auroc"] == 1.0
    assert "no_trace_share_of_true_labels" not in report  # only with shown_anywhere


def test_labels_with_no_trace_at_all_are_counted_among_the_true_and_the_missing_ones() -> None:
    given, truth, visible, fused = _random_case(np.random.default_rng(2), 0.7)
    shown_anywhere = visible | (np.random.default_rng(3).random(truth.shape) < 0.5)
    report = visible_truth_report(given, truth, visible, fused, shown_anywhere)
    untraced, missing = truth & ~shown_anywhere, truth & ~given
    assert report["no_trace_share_of_true_labels"] == untraced.sum() / truth.sum()
    assert report["no_trace_share_of_true_labels"] < report["traceless_share_of_true_labels"]
    assert report["missing_with_any_trace_share"] == (missing & ~untraced).sum() / missing.sum()


def test_removals_on_traceless_labels_leave_the_precision_and_the_ceiling_is_an_oracle() -> None:
    given, truth, visible, fused = _random_case(np.random.default_rng(1), 0.7)
    report = visible_truth_report(given, truth, visible, fused)
    traceless = truth & ~visible
    removed = fused["remove"]
    plain = suggestion_quality(removed, given & ~truth)
    assert (removed & traceless).any()  # the case exercises the exclusion
    assert report["remove"]["n"] == plain["n"] - int((removed & traceless).sum())
    assert report["remove"]["precision"] > plain["precision"]
    assert report["removals_on_traceless_share"] == (removed & traceless).sum() / removed.sum()
    # The ceiling is the plain-truth AUROC of a detector that ranks exactly the rows with a
    # visible wrong cell first and ties every other row.
    _, _, noisy_rows, scored_rows = content_visible_truth(given, truth, visible)
    plain_rows = (given != truth).any(axis=1)
    assert np.isclose(report["ceiling_auroc"], auroc(plain_rows, noisy_rows.astype(float)))
    assert np.isclose(report["excluded_row_share"], 1.0 - scored_rows.mean())
    assert 0.0 < report["excluded_row_share"] < plain_rows.mean()


def test_seed_draws_another_instance_and_repeats_it() -> None:
    first, again = synthetic("missing", 0.3, 400, seed=1), synthetic("missing", 0.3, 400, seed=1)
    default = synthetic("missing", 0.3, 400)
    assert first.clean_labels is not None and default.clean_labels is not None
    assert first.image is not None and again.image is not None and default.image is not None
    np.testing.assert_array_equal(first.labels, again.labels)
    np.testing.assert_array_equal(first.image, again.image)
    # another world (features and true labels) and another draw of the noise
    assert not np.array_equal(first.image, default.image)
    assert not np.array_equal(first.clean_labels, default.clean_labels)
    noisy_rows = (first.labels != first.clean_labels).any(axis=1)
    assert noisy_rows[first.train_mask].mean() == pytest.approx(0.3, abs=0.01)


def test_independent_spurious_noise_keeps_the_truth_and_adds_tags_to_its_share_of_rows() -> None:
    missing = synthetic("missing", 0.5, 400)
    both = with_independent_spurious(missing, 0.3, 100)
    assert missing.clean_labels is not None and both.clean_labels is not None
    np.testing.assert_array_equal(both.clean_labels, missing.clean_labels)
    train = both.train_mask
    before, after = missing.labels[train].astype(bool), both.labels[train].astype(bool)
    # the second noise only adds tags, to exactly its share of the rows
    assert not (before & ~after).any()
    added = (after & ~before).any(axis=1)
    assert added.sum() == int(0.3 * train.sum())
    # drawn independently: the rows it adds to overlap the rows that lost a tag about as chance
    # would have them
    lost = (missing.clean_labels[train].astype(bool) & ~before).any(axis=1)
    assert abs((lost & added).mean() - lost.mean() * added.mean()) < 0.05
