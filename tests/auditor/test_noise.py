"""Noise protocols: each checked exactly against what docs/methods.md and the README promise."""

from __future__ import annotations

import numpy as np
import pytest

from auditor.inject import with_noise
from auditor.noise import (
    MAX_CLASSFLIP_FLIPS_PER_ROW,
    PROTOCOLS,
    NoiseResult,
    class_flip_probabilities,
    classflip,
    inject_noise,
    missing,
    mixed,
    noise_truth,
    pairflip,
    rows_for_rate,
    spurious,
    symmetric,
)
from auditor.synth import SynthSettings, make_synthetic


@pytest.fixture(scope="module")
def multi_label() -> tuple[np.ndarray, np.ndarray]:
    """(N, C) labels of the synthetic data and its (N,) train mask (N = 4000, 2000 train rows)."""
    data = make_synthetic(SynthSettings(n_rows=4000, seed=7))
    return data.labels, data.split == "train"


def single_label(n_rows: int, n_classes: int, seed: int = 0) -> np.ndarray:
    """(N, C) one-hot labels with uniform classes."""
    classes = np.random.default_rng(seed).integers(0, n_classes, size=n_rows)
    return np.eye(n_classes, dtype=np.uint8)[classes]


def run(
    labels: np.ndarray, mask: np.ndarray, protocol: str, rate: float, seed: int = 0
) -> NoiseResult:
    """inject_noise, checking that it leaves its inputs and the rows outside the mask alone."""
    labels_before, mask_before = labels.copy(), mask.copy()
    result = inject_noise(labels, mask, protocol, rate, seed)
    np.testing.assert_array_equal(labels, labels_before)
    np.testing.assert_array_equal(mask, mask_before)
    np.testing.assert_array_equal(result.clean_labels, labels)
    np.testing.assert_array_equal(result.noisy_labels[~mask], labels[~mask])
    assert result.noisy_labels.dtype == np.uint8 and result.noisy_labels.shape == labels.shape
    return result


# ---------------------------------------------------------------------------- pairflip
@pytest.mark.parametrize(("rate", "n_rows"), [(0.2, 400), (0.5, 1000), (0.29, 580)])
def test_pairflip_flips_exactly_one_label_off_and_one_on_in_the_asked_rows(
    multi_label: tuple[np.ndarray, np.ndarray], rate: float, n_rows: int
) -> None:
    labels, train = multi_label
    result = run(labels, train, "pairflip", rate)
    n_train = int(train.sum())
    assert n_train == 2000
    assert result.noisy_rows.sum() == n_rows
    assert not result.noisy_rows[~train].any()
    clean = labels.astype(np.int16)
    noisy = result.noisy_labels.astype(np.int16)
    changed = result.noisy_rows
    assert ((clean - noisy)[changed] == 1).sum(axis=1).tolist() == [1] * int(changed.sum())
    assert ((noisy - clean)[changed] == 1).sum(axis=1).tolist() == [1] * int(changed.sum())
    np.testing.assert_array_equal(noisy.sum(axis=1), clean.sum(axis=1))
    assert result.noisy_cells.sum() == 2 * changed.sum()
    assert result.realised_row_rate == pytest.approx(result.noisy_rows.sum() / n_train)
    assert result.realised_cell_rate == pytest.approx(
        2 * changed.sum() / (n_train * labels.shape[1])
    )


def test_pairflip_picks_labels_uniformly(multi_label: tuple[np.ndarray, np.ndarray]) -> None:
    labels, train = multi_label
    noisy = pairflip(labels, train, 1.0, np.random.default_rng(0))
    removed = (labels == 1) & (noisy == 0)
    # Rows with exactly two labels lose either one about equally often.
    two = train & (labels.sum(axis=1) == 2)
    first_of_pair = np.argmax(labels[two], axis=1)
    share_first = removed[two][np.arange(two.sum()), first_of_pair].mean()
    assert 0.4 < share_first < 0.6


def test_pairflip_refuses_a_rate_it_cannot_meet() -> None:
    labels = np.ones((10, 4), dtype=np.uint8)  # full rows: nothing to switch on
    labels[:3, 0] = 0  # only three rows can be flipped
    mask = np.ones(10, dtype=bool)
    assert pairflip(labels, mask, 0.3, np.random.default_rng(0)).sum() == labels.sum()
    with pytest.raises(ValueError, match="only 3 have"):
        pairflip(labels, mask, 0.4, np.random.default_rng(0))


def test_row_counts_do_not_suffer_from_floating_error() -> None:
    assert int(0.29 * 100) == 28  # the trap
    assert rows_for_rate(0.29, 100) == 29
    assert rows_for_rate(0.5, 7) == 3 and rows_for_rate(1.0, 7) == 7 and rows_for_rate(0.0, 7) == 0
    labels = single_label(200, 5)
    mask = np.zeros(200, dtype=bool)
    mask[:100] = True
    assert run(labels, mask, "pairflip", 0.29).noisy_rows.sum() == 29


# ---------------------------------------------------------------------------- symmetric
def test_symmetric_on_single_label_data_reports_a_realised_rate_below_nominal() -> None:
    labels = single_label(4000, 4)
    mask = np.zeros(4000, dtype=bool)
    mask[1000:] = True  # 3000 masked rows; 1500 chosen
    result = run(labels, mask, "symmetric", 0.5)
    assert (result.noisy_labels.sum(axis=1) == 1).all()
    changed = int(result.noisy_rows.sum())
    # A chosen row keeps its class with probability 1/4: expect 1125 changes (sd 17).
    assert 1050 <= changed <= 1200
    assert result.realised_row_rate < 0.5
    assert result.realised_row_rate == pytest.approx(changed / 3000)
    # The new classes are uniform over the other classes.
    new_classes = np.argmax(result.noisy_labels[result.noisy_rows], axis=1)
    assert np.bincount(new_classes, minlength=4).min() > changed / 4 * 0.8


def test_symmetric_keeps_label_counts_and_redraws_the_chosen_rows(
    multi_label: tuple[np.ndarray, np.ndarray],
) -> None:
    labels, train = multi_label
    result = run(labels, train, "symmetric", 0.4)
    n_chosen = rows_for_rate(0.4, int(train.sum()))  # 800
    np.testing.assert_array_equal(result.noisy_labels.sum(axis=1), labels.sum(axis=1))
    changed = int(result.noisy_rows.sum())
    # With 24 classes a redrawn set rarely equals the old one (never more than the chosen rows).
    assert 0.9 * n_chosen <= changed <= n_chosen
    # Redrawn labels ignore class popularity: rare classes gain, the commonest class loses.
    clean_count, noisy_count = labels[train].sum(axis=0), result.noisy_labels[train].sum(axis=0)
    assert noisy_count[0] < clean_count[0]
    assert noisy_count[np.argmin(clean_count)] > clean_count.min()


# ---------------------------------------------------------------------------- classflip
def test_classflip_caps_flips_never_empties_a_row_and_keeps_frequencies(
    multi_label: tuple[np.ndarray, np.ndarray],
) -> None:
    labels, train = multi_label
    rate = 0.2
    result = run(labels, train, "classflip", rate)
    cells_per_row = result.noisy_cells.sum(axis=1)
    assert cells_per_row.max() <= MAX_CLASSFLIP_FLIPS_PER_ROW
    assert (result.noisy_labels.sum(axis=1) >= 1).all()
    clean, noisy = labels[train].astype(bool), result.noisy_labels[train].astype(bool)
    removals, additions = (clean & ~noisy).sum(), (~clean & noisy).sum()
    # P(1 -> 0) averages `rate` over classes; the cap and the empty-row rule only lower it
    # (measured 0.180 to 0.199 over seeds 0-3).
    assert rate - 0.035 <= removals / clean.sum() <= rate + 0.02
    # P(0 -> 1) is set from the prior so each class keeps about its frequency.
    assert 0.85 <= additions / removals <= 1.2
    clean_count, noisy_count = clean.sum(axis=0), noisy.sum(axis=0)
    assert (np.abs(noisy_count - clean_count) <= np.maximum(0.25 * clean_count, 10)).all()
    # Changed cells / masked cells is about 2 · rate · label density (measured 0.0385 vs 0.0418).
    expected_cell_rate = 2 * rate * clean.mean()
    assert result.realised_cell_rate == pytest.approx(expected_cell_rate, rel=0.15)


def test_classflip_cap_binds_at_high_rates(multi_label: tuple[np.ndarray, np.ndarray]) -> None:
    labels, train = multi_label
    result = run(labels, train, "classflip", 0.6)
    cells_per_row = result.noisy_cells.sum(axis=1)
    assert cells_per_row.max() == MAX_CLASSFLIP_FLIPS_PER_ROW
    assert (cells_per_row == MAX_CLASSFLIP_FLIPS_PER_ROW).sum() > 50
    assert (result.noisy_labels.sum(axis=1) >= 1).all()


def test_classflip_rate_zero_changes_nothing_and_rate_one_never_empties_a_row() -> None:
    labels = single_label(300, 6)
    mask = np.ones(300, dtype=bool)
    assert not run(labels, mask, "classflip", 0.0).noisy_rows.any()
    # At rate 1 nearly every present label is drawn for removal; rows that gain nothing get
    # their label back rather than end empty.
    noisy = run(labels, mask, "classflip", 1.0).noisy_labels
    assert (noisy.sum(axis=1) >= 1).all()
    assert ((labels == 1) & (noisy == 0)).sum() / labels.sum() > 0.5
    restored = (noisy == labels).all(axis=1)
    assert restored.sum() > 10


def test_class_flip_probabilities_keep_expected_frequencies() -> None:
    labels = np.zeros((100, 4), dtype=np.uint8)
    labels[:10, 0] = 1
    labels[:50, 1] = 1
    labels[:, 2] = 1
    p_off, p_on = class_flip_probabilities(labels, 0.2, np.random.default_rng(0))
    assert ((p_off >= 0.15) & (p_off <= 0.25)).all() and len(np.unique(p_off)) == 4
    prior = labels.mean(axis=0)
    np.testing.assert_allclose(p_on[:2], p_off[:2] * prior[:2] / (1 - prior[:2]))
    # Expected positives unchanged: prior·(1 − p_off) + (1 − prior)·p_on = prior.
    np.testing.assert_allclose(prior[:2] * (1 - p_off[:2]) + (1 - prior[:2]) * p_on[:2], prior[:2])
    assert p_on[2] == 0.0 and p_on[3] == 0.0  # always present, never present


# ---------------------------------------------------------------------------- missing
def test_missing_only_removes_one_or_two_labels_and_keeps_one(
    multi_label: tuple[np.ndarray, np.ndarray],
) -> None:
    labels, train = multi_label
    rate = 0.3
    result = run(labels, train, "missing", rate)
    assert result.noisy_rows.sum() == rows_for_rate(rate, int(train.sum()))
    assert (result.noisy_labels <= labels).all()  # only removals
    removed = result.noisy_cells.sum(axis=1)[result.noisy_rows]
    assert set(np.unique(removed).tolist()) == {1, 2}
    assert (result.noisy_labels.sum(axis=1) >= 1).all()
    # Rows with exactly two labels lose only one.
    two = result.noisy_rows & (labels.sum(axis=1) == 2)
    assert two.any() and (result.noisy_cells[two].sum(axis=1) == 1).all()
    # Rows with three or more lose one or two, about equally often.
    many = result.noisy_rows & (labels.sum(axis=1) >= 3)
    assert 0.4 < np.mean(result.noisy_cells[many].sum(axis=1) == 2) < 0.6


def test_missing_refuses_a_rate_it_cannot_meet(multi_label: tuple[np.ndarray, np.ndarray]) -> None:
    labels, train = multi_label
    n_possible = int((train & (labels.sum(axis=1) >= 2)).sum())
    with pytest.raises(ValueError, match=f"only {n_possible} have two or more labels"):
        missing(labels, train, 0.9, np.random.default_rng(0))
    with pytest.raises(ValueError, match="only 0 have"):
        inject_noise(single_label(50, 3), np.ones(50, dtype=bool), "missing", 0.1, 0)


# ---------------------------------------------------------------------------- spurious
def test_spurious_only_adds_one_or_two_labels_drawn_by_class_frequency(
    multi_label: tuple[np.ndarray, np.ndarray],
) -> None:
    labels, train = multi_label
    rate = 0.6
    result = run(labels, train, "spurious", rate)
    assert result.noisy_rows.sum() == rows_for_rate(rate, int(train.sum()))
    assert (result.noisy_labels >= labels).all()  # only additions
    np.testing.assert_array_equal(result.spurious_cells, result.noisy_cells)
    assert not result.missing_cells.any()
    added = result.noisy_cells.sum(axis=1)[result.noisy_rows]
    assert set(np.unique(added).tolist()) == {1, 2}
    assert 0.4 < np.mean(added == 2) < 0.6
    # Additions follow the class frequency: per class, the share of the eligible (absent) cells
    # that were switched on correlates with how common the class is.
    frequency = labels[train].mean(axis=0)
    absent = (labels[result.noisy_rows] == 0).sum(axis=0)
    share = result.noisy_cells[result.noisy_rows].sum(axis=0) / np.maximum(absent, 1)
    assert np.corrcoef(frequency, share)[0, 1] > 0.8


def test_spurious_refuses_a_rate_it_cannot_meet() -> None:
    full = np.ones((10, 3), dtype=np.uint8)
    full[:4, 0] = 0  # only 4 rows have an absent class
    with pytest.raises(ValueError, match="only 4 have an absent class"):
        spurious(full, np.ones(10, dtype=bool), 0.5, np.random.default_rng(0))


# ---------------------------------------------------------------------------- mixed
@pytest.mark.parametrize("share", [0.7, 0.0, 1.0, 0.35])
def test_mixed_splits_the_noisy_rows_exactly_by_the_missing_share(
    multi_label: tuple[np.ndarray, np.ndarray], share: float
) -> None:
    labels, train = multi_label
    rate = 0.4
    result = inject_noise(labels, train, "mixed", rate, 5, missing_share=share)
    n_noisy = rows_for_rate(rate, int(train.sum()))
    assert result.noisy_rows.sum() == n_noisy
    losing, gaining = result.missing_cells.any(axis=1), result.spurious_cells.any(axis=1)
    assert not (losing & gaining).any()  # a row goes one way only
    assert losing.sum() == int(np.floor(share * n_noisy + 0.5))
    assert gaining.sum() == n_noisy - losing.sum()
    assert (result.noisy_labels.sum(axis=1) >= 1).all()
    for direction in (result.missing_cells, result.spurious_cells):
        counts = direction.sum(axis=1)[direction.any(axis=1)]
        assert set(np.unique(counts).tolist()) <= {1, 2}


def test_mixed_refuses_a_bad_share(multi_label: tuple[np.ndarray, np.ndarray]) -> None:
    labels, train = multi_label
    with pytest.raises(ValueError, match="missing_share must be in"):
        inject_noise(labels, train, "mixed", 0.2, 0, missing_share=1.5)


# ---------------------------------------------------------------------------- all protocols
@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_same_seed_same_noise_other_seed_other_noise(
    multi_label: tuple[np.ndarray, np.ndarray], protocol: str
) -> None:
    labels, train = multi_label
    first = inject_noise(labels, train, protocol, 0.3, seed=11)
    again = inject_noise(labels, train, protocol, 0.3, seed=11)
    other = inject_noise(labels, train, protocol, 0.3, seed=12)
    np.testing.assert_array_equal(first.noisy_labels, again.noisy_labels)
    assert not np.array_equal(first.noisy_labels, other.noisy_labels)
    assert (first.protocol, first.rate, first.seed) == (protocol, 0.3, 11)


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_truth_matches_the_difference(
    multi_label: tuple[np.ndarray, np.ndarray], protocol: str
) -> None:
    labels, train = multi_label
    result = run(labels, train, protocol, 0.25, seed=3)
    rows, cells = noise_truth(result.noisy_labels, labels)
    np.testing.assert_array_equal(result.noisy_rows, rows)
    np.testing.assert_array_equal(result.noisy_cells, cells)
    np.testing.assert_array_equal(cells, result.noisy_labels != labels)
    assert result.realised_row_rate == pytest.approx(rows.sum() / train.sum())
    assert result.realised_cell_rate == pytest.approx(cells.sum() / (train.sum() * labels.shape[1]))


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_the_protocol_functions_never_modify_their_input(
    multi_label: tuple[np.ndarray, np.ndarray], protocol: str
) -> None:
    labels, train = multi_label
    before = labels.copy()
    noisy = PROTOCOLS[protocol](labels, train, 0.3, np.random.default_rng(0))
    np.testing.assert_array_equal(labels, before)
    assert noisy is not labels and not np.array_equal(noisy, labels)


def test_protocol_registry_lists_the_protocols_in_order() -> None:
    assert list(PROTOCOLS) == ["pairflip", "symmetric", "classflip", "missing", "spurious", "mixed"]
    assert PROTOCOLS["spurious"] is spurious and PROTOCOLS["mixed"] is mixed
    assert PROTOCOLS["pairflip"] is pairflip and PROTOCOLS["symmetric"] is symmetric
    assert PROTOCOLS["classflip"] is classflip and PROTOCOLS["missing"] is missing


def test_boolean_and_integer_labels_are_accepted() -> None:
    labels = single_label(100, 5)
    mask = np.ones(100, dtype=bool)
    reference = inject_noise(labels, mask, "pairflip", 0.5, 0).noisy_labels
    for converted in (labels.astype(bool), labels.astype(np.int64)):
        np.testing.assert_array_equal(
            inject_noise(converted, mask, "pairflip", 0.5, 0).noisy_labels, reference
        )


# ---------------------------------------------------------------------------- bad input
def test_unknown_protocol_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown noise protocol 'flip'.*pairflip, symmetric"):
        inject_noise(single_label(10, 3), np.ones(10, dtype=bool), "flip", 0.1, 0)


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
@pytest.mark.parametrize("rate", [-0.1, 1.5, float("nan"), float("inf")])
def test_rates_outside_zero_one_are_refused(protocol: str, rate: float) -> None:
    with pytest.raises(ValueError, match="rate must be"):
        inject_noise(single_label(10, 3), np.ones(10, dtype=bool), protocol, rate, 0)


def test_bad_mask_and_labels_are_refused() -> None:
    labels = single_label(10, 3)
    with pytest.raises(ValueError, match=r"mask must have shape \(10,\)"):
        inject_noise(labels, np.ones(9, dtype=bool), "pairflip", 0.1, 0)
    with pytest.raises(ValueError, match="mask must be a boolean array"):
        inject_noise(labels, np.ones(10, dtype=np.int64), "pairflip", 0.1, 0)
    with pytest.raises(ValueError, match="selects no rows"):
        inject_noise(labels, np.zeros(10, dtype=bool), "pairflip", 0.1, 0)
    with pytest.raises(ValueError, match="every entry 0 or 1"):
        inject_noise(labels * 2, np.ones(10, dtype=bool), "pairflip", 0.1, 0)
    with pytest.raises(ValueError, match="2-D"):
        inject_noise(labels[:, 0], np.ones(10, dtype=bool), "pairflip", 0.1, 0)
    with pytest.raises(ValueError, match="differ in shape"):
        noise_truth(labels, labels[:5])


def test_noise_added_to_noisy_data_keeps_the_first_truth() -> None:
    # as `audit inject` on a file that has clean_labels: the truth stays, the noise adds up
    clean = make_synthetic(SynthSettings(n_rows=600, seed=3)).to_dataset()
    assert clean.clean_labels is None
    once, _ = with_noise(clean, "missing", 0.3, seed=0)
    twice, second = with_noise(once, "spurious", 0.2, seed=1)
    assert np.array_equal(twice.clean_labels, clean.labels)
    # the result describes the second injection alone
    assert np.array_equal(second.clean_labels, once.labels)
    assert second.noisy_rows.sum() == rows_for_rate(0.2, int(clean.train_mask.sum()))
    lost = (clean.labels == 1) & (twice.labels == 0)
    added = (clean.labels == 0) & (twice.labels == 1)
    assert lost.any() and added.any()
