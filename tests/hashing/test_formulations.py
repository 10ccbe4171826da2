"""The formulation switches (this project's choice vs the reference codes') on tiny hand-computed
batches, the ``paper()`` presets, and the truth-free stopping rule (``holdout_fraction``)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from auditor.dataset import AuditDataset
from auditor.detectors import DetectorInput, HasherDetector
from auditor.inject import with_noise
from auditor.synth import SynthSettings, make_synthetic
from auditor.train import fit_hasher
from hashing import losses
from hashing.hasher import (
    CrossModalHasher,
    EpochSelection,
    encode_continuous,
    holdout_query_ap,
    holdout_size,
    holdout_split,
    holds_up_against,
    train_method,
)
from hashing.methods import default_settings
from hashing.nrch import NRCHHasher, NRCHSettings
from hashing.plain import PlainHasher
from hashing.rshnl import RSHNLHasher, RSHNLSettings
from hashing.scbch import SCBCHHasher, SCBCHSettings
from hashing.signals import (
    clean_posterior,
    fit_gaussian_mixture_1d,
    min_max_normalize,
    neighbour_soft_labels,
)

T = torch.tensor
SIMILARITY = T([[0.9, 0.8, 0.1], [0.2, 0.5, 0.4], [0.0, -0.3, -0.2]])


def codes(rows: int, bits: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(rows, bits, generator=generator), dim=1)


# ---------------------------------------------------------------------------- NRCH switches
def test_positive_inside_the_log_sum_exp_hand_computed() -> None:
    shared = torch.zeros(3, 3, dtype=torch.bool)
    value = losses.robust_contrastive_direction(
        SIMILARITY, shared, 0.2, 1.0, 1.0, positive_in_logsumexp=True
    )
    # hard/easy split as without the switch (row 0's 0.1 and row 1's 0.2 are easy: minus 1);
    # each row's own logit is max(S_ii, 0): 0.9, 0.5, and 0 for row 2's -0.2
    row0 = -0.9 + math.log(math.exp(0.9) + math.exp(0.8) + math.exp(-0.9)) + 0.2
    row1 = -0.5 + math.log(math.exp(-0.8) + math.exp(0.5) + math.exp(0.4)) + 0.2
    row2 = 0.2 + math.log(math.exp(0.0) + math.exp(-0.3) + math.exp(0.0)) + 0.2
    assert value.item() == pytest.approx((row0 + row1 + row2) / 3, rel=1e-6)
    # with every other pair sharing a label and dropped, a row keeps its own term
    everyone = ~torch.eye(3, dtype=torch.bool)
    alone = losses.robust_contrastive_direction(
        SIMILARITY, everyone, 0.2, 1.0, 1.0, positive_in_logsumexp=True
    )
    expected = ((-0.9 + 0.9 + 0.2) + (-0.5 + 0.5 + 0.2) + (0.2 + 0.0 + 0.2)) / 3
    assert alone.item() == pytest.approx(expected, rel=1e-6)


def test_positive_inside_with_constant_shared_pairs_hand_computed() -> None:
    shared = T([[False, True, False], [True, False, False], [False, False, False]])
    value = losses.robust_contrastive_direction(
        SIMILARITY, shared, 0.2, 1.0, 1.0, shared_pairs="constant", positive_in_logsumexp=True
    )
    # the shared pairs (0, 1) and (1, 0) enter as exp(0) = 1 each
    row0 = -0.9 + math.log(math.exp(0.9) + 1.0 + math.exp(-0.9)) + 0.2
    row1 = -0.5 + math.log(1.0 + math.exp(0.5) + math.exp(0.4)) + 0.2
    row2 = 0.2 + math.log(math.exp(0.0) + math.exp(-0.3) + math.exp(0.0)) + 0.2
    assert value.item() == pytest.approx((row0 + row1 + row2) / 3, rel=1e-6)


def test_shared_pairs_weighted_constants_hand_computed() -> None:
    shared = T([[False, True, False], [True, False, False], [False, False, False]])
    value = losses.robust_contrastive_direction(
        SIMILARITY, shared, 0.2, 1.0, 1.0, shared_pairs="constant", shared_pair_weight=0.1
    )
    # the shared pairs (0, 1) and (1, 0) enter as the constant 0.1 each; row 0's 0.1 and row
    # 1's 0.2 are easy negatives (shifted down by 1); row 2 shares nothing
    row0 = -0.9 + math.log(0.1 + math.exp(-0.9)) + 0.2
    row1 = -0.5 + math.log(0.1 + math.exp(0.4)) + 0.2
    row2 = 0.2 + math.log(math.exp(0.0) + math.exp(-0.3)) + 0.2
    assert value.item() == pytest.approx((row0 + row1 + row2) / 3, rel=1e-6)
    # a smaller constant takes less of the denominator, so the real negatives are pushed harder
    similarity = SIMILARITY.clone().requires_grad_()
    pushes = []
    for weight in (1.0, 0.1):
        similarity.grad = None
        losses.robust_contrastive_direction(
            similarity, shared, 0.2, 1.0, 1.0, shared_pairs="constant", shared_pair_weight=weight
        ).backward()
        assert similarity.grad is not None and similarity.grad[0, 1].item() == 0.0
        pushes.append(similarity.grad[0, 2].item())
    assert 0.0 < pushes[0] < pushes[1]


def test_nrch_refuses_a_shared_pair_weight_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="shared_pair_weight must be > 0"):
        NRCHSettings(shared_pair_weight=0.0).validate()


def test_an_nrch_model_saved_before_the_weight_existed_loads_with_constants_of_one() -> None:
    """Saved NRCH settings without ``shared_pair_weight`` describe a model whose constants (if
    any) weighed 1: they load as such, not with today's default of 0.1."""
    generator = torch.Generator().manual_seed(0)
    image, text = torch.randn(40, 6, generator=generator), torch.randn(40, 5, generator=generator)
    labels = (torch.rand(40, 4, generator=generator) < 0.4).numpy().astype(np.uint8)
    labels[labels.sum(axis=1) == 0, 0] = 1
    settings = NRCHSettings(epochs=1, image_hidden=8, text_hidden=8, shared_pair_weight=1.0)
    hasher = CrossModalHasher(settings, bits=8, seed=0, device="cpu")
    hasher.fit(image.numpy(), text.numpy(), labels)
    state = hasher.state_dict()
    del state["settings"]["shared_pair_weight"]
    loaded = CrossModalHasher.from_state_dict(state, device="cpu")
    assert (loaded.settings.shared_pairs, loaded.settings.shared_pair_weight) == ("constant", 1.0)
    assert NRCHSettings().shared_pair_weight == 0.1
    np.testing.assert_array_equal(
        loaded.encode_image(image.numpy()), hasher.encode_image(image.numpy())
    )


def test_nrch_trains_with_weighted_constants_but_the_scan_leaves_shared_pairs_out() -> None:
    """``audit train``'s NRCH puts constants of 0.1 for the shared pairs into its sum; the
    scan's NRCH detector leaves them out, as the detection matrix was measured."""
    assert (NRCHSettings().shared_pairs, NRCHSettings().shared_pair_weight) == ("constant", 0.1)
    clean = make_synthetic(SynthSettings(n_rows=300, n_classes=5, seed=0)).to_dataset()
    data = with_noise(clean, "pairflip", 0.4, 0)[0]
    assert data.image is not None and data.text is not None
    train = data.train_mask
    image, text, labels = data.image[train], data.text[train], data.labels[train]
    scan = DetectorInput(image, text, labels, seed=0, device="cpu", epochs={"nrch": 2}, bits=16)
    signal = HasherDetector("nrch").run(scan, None).signals["nrch_clean_posterior"]

    def posterior(**fields: object) -> np.ndarray:
        settings = default_settings("nrch", epochs=2, **fields)
        hasher = CrossModalHasher(settings, bits=16, seed=0, device="cpu")
        return hasher.fit(image, text, labels).signals_["nrch_clean_posterior"]

    np.testing.assert_array_equal(signal, posterior(shared_pairs="excluded"))
    assert not np.array_equal(signal, posterior())


@pytest.mark.parametrize("name", ["rshnl", "scbch", "nrch"])
def test_the_scan_reads_every_row_without_the_stopping_rule(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The robust methods hold out a slice and refit by default (from 5,000 rows); the scan's
    detectors train once on every row, as the detection matrix was measured."""
    assert default_settings(name).holdout_fraction == 0.1
    trained: list[CrossModalHasher] = []
    original = CrossModalHasher.fit

    def recording(self: CrossModalHasher, *args: object, **kwargs: object) -> CrossModalHasher:
        trained.append(self)
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(CrossModalHasher, "fit", recording)
    clean = make_synthetic(SynthSettings(n_rows=300, n_classes=5, seed=0)).to_dataset()
    data = with_noise(clean, "pairflip", 0.4, 0)[0]
    assert data.image is not None and data.text is not None
    train = data.train_mask
    image, text, labels = data.image[train], data.text[train], data.labels[train]
    scan = DetectorInput(image, text, labels, seed=0, device="cpu", epochs={name: 1}, bits=16)
    HasherDetector(name).run(scan, None)
    (hasher,) = trained
    assert hasher.settings.holdout_fraction == 0.0 and hasher.selection_history_ is None


def test_row_twice_and_tanh_codes_switches() -> None:
    h_image, h_text = codes(5, 8, seed=1), codes(5, 8, seed=2)
    labels = T([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1], [1, 0, 0]]).float()
    shared = losses.shares_label(labels, labels)
    row = losses.robust_contrastive_direction(h_image @ h_text.T, shared, 0.2, 1.0, 1.0)
    twice = losses.robust_contrastive_loss(
        h_image, h_text, labels, 0.2, 1.0, 1.0, second_direction="row_twice"
    )
    assert twice.item() == pytest.approx(2 * row.item(), rel=1e-6)
    tanh = losses.robust_contrastive_loss(h_image, h_text, labels, tanh_codes=True)
    by_hand = losses.robust_contrastive_loss(torch.tanh(h_image), torch.tanh(h_text), labels)
    assert tanh.item() == pytest.approx(by_hand.item(), rel=1e-6)
    assert tanh.item() != pytest.approx(
        losses.robust_contrastive_loss(h_image, h_text, labels).item()
    )
    with pytest.raises(ValueError, match="second_direction"):
        losses.robust_contrastive_loss(
            h_image,
            h_text,
            labels,
            second_direction="columns",  # type: ignore[arg-type]
        )


def test_two_view_term_mean_and_sum() -> None:
    assert losses.two_view_term(T(0.2), T(0.4), "mean").item() == pytest.approx(0.3)
    assert losses.two_view_term(T(0.2), T(0.4), "sum").item() == pytest.approx(0.6)
    with pytest.raises(ValueError, match="view reduction"):
        losses.two_view_term(T(0.2), T(0.4), "max")  # type: ignore[arg-type]


def nrch_model(**settings: object) -> NRCHHasher:
    generator = torch.Generator().manual_seed(0)
    values: dict[str, object] = {"image_hidden": 16, "text_hidden": 16}
    values.update(settings)
    return NRCHHasher(NRCHSettings(**values), 6, 5, 3, 8, generator)  # type: ignore[arg-type]


def test_rshnl_quantization_weight_adds_the_views_mean_sign_gap() -> None:
    # 0 (the paper: no quantisation term) leaves the loss as it was; w adds w times the mean
    # over both views of |h - sign(h)|, least for unit codes of equal magnitudes +-1/sqrt(K).
    h_image, h_text = codes(4, 8, seed=5), codes(4, 8, seed=6)
    labels = T([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]]).float()
    rows = torch.arange(4)
    losses_by_weight = {}
    for weight in (0.0, 0.5):
        generator = torch.Generator().manual_seed(0)
        settings = RSHNLSettings(image_hidden=16, text_hidden=16, quantization_weight=weight)
        model = RSHNLHasher(settings, 6, 5, 3, 8, generator)
        losses_by_weight[weight] = model.batch_loss(rows, h_image, h_text, labels, 0)[0].item()
    gap = (losses.quantization_sign(h_image) + losses.quantization_sign(h_text)).item() / 2
    assert gap > 0.1
    assert losses_by_weight[0.5] == pytest.approx(losses_by_weight[0.0] + 0.5 * gap, rel=1e-6)
    binary = torch.sign(h_image) / math.sqrt(8)
    assert losses.quantization_sign(binary).item() == pytest.approx(1.0 - 1.0 / math.sqrt(8))
    assert losses.quantization_sign(binary) < losses.quantization_sign(h_image)


def test_nrch_rejected_rows_and_quantization_views_in_the_batch_loss() -> None:
    h_image, h_text = codes(4, 8, seed=5), codes(4, 8, seed=6)
    labels = T([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]]).float()
    rows = torch.arange(4)
    keep = T([True, False, True, True])
    terms = {}
    for rejected in ("contrastive", "all"):
        for views in ("mean", "sum"):
            model = nrch_model(rejected_rows=rejected, quantization_views=views)
            model.keep = keep
            _, terms[rejected, views] = model.batch_loss(rows, h_image, h_text, labels, 0)
    q_all = (losses.quantization_l2(h_image) + losses.quantization_l2(h_text)) / 2
    q_kept = (losses.quantization_l2(h_image[keep]) + losses.quantization_l2(h_text[keep])) / 2
    assert terms["contrastive", "mean"]["quantization"].item() == pytest.approx(q_all.item())
    assert terms["contrastive", "sum"]["quantization"].item() == pytest.approx(2 * q_all.item())
    assert terms["all", "mean"]["quantization"].item() == pytest.approx(q_kept.item())
    prototypes = nrch_model().prototypes
    kept_prototype = losses.prototype_loss(h_image[keep], h_text[keep], prototypes, labels[keep])
    assert terms["all", "mean"]["prototype"].item() == pytest.approx(kept_prototype.item())
    # the contrastive term is on the kept rows either way
    assert terms["all", "mean"]["contrastive"].item() == pytest.approx(
        terms["contrastive", "mean"]["contrastive"].item()
    )


def test_nrch_batch_without_kept_rows_still_reaches_every_parameter() -> None:
    model = nrch_model(rejected_rows="all")
    model.keep = torch.zeros(3, dtype=torch.bool)
    image, text = torch.randn(3, 6), torch.randn(3, 5)
    h_image, h_text = model(image, text)
    loss, _ = model.batch_loss(torch.arange(3), h_image, h_text, torch.eye(3), 0)
    loss.backward()
    assert loss.item() == 0.0
    assert all(parameter.grad is not None for parameter in model.parameters())


def test_untied_short_mixture_differs_from_the_tied_one() -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0.2, 0.05, 300), rng.normal(0.7, 0.2, 100)])
    tied = clean_posterior(values)
    untied = clean_posterior(values, tied_variance=False, max_iter=10, tol=0.5)
    assert not np.allclose(tied, untied)
    # both call the centre of the low-loss mode clean, the centre of the high one noisy
    centre, noisy = np.abs(values - 0.2).argmin(), np.abs(values - 0.7).argmin()
    assert tied[centre] > 0.9 and untied[centre] > 0.9
    assert tied[noisy] < 0.1 and untied[noisy] < 0.1
    # the untied fit lets the wider component win the far low tail (why tied is the default)
    assert untied[values.argmin()] < 0.5 < tied[values.argmin()]
    short = fit_gaussian_mixture_1d(min_max_normalize(values), tied_variance=False, tol=0.5)
    full = fit_gaussian_mixture_1d(min_max_normalize(values), tied_variance=False)
    assert short.n_iter < full.n_iter


# ---------------------------------------------------------------------------- SCBCH switches
def test_positive_term_over_all_pairs_hand_computed() -> None:
    similarity = T([[0.9, 0.8, 0.0], [0.1, 0.5, 0.3], [0.2, 0.4, 0.7]])
    soft_pairs = T([[1.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 1.0]])
    all_pairs = losses.soft_positive_term(similarity, soft_pairs, 0.8, average="all_pairs")
    assert all_pairs.item() == pytest.approx((math.exp(0.0) + math.exp(0.7)) / 9)
    parts = losses.bidirectional_soft_contrastive_loss(
        codes(4, 8, 1), codes(4, 8, 2), torch.ones(4, 2), positive_average="all_pairs"
    )
    overlapping = losses.bidirectional_soft_contrastive_loss(
        codes(4, 8, 1), codes(4, 8, 2), torch.ones(4, 2)
    )
    # all 12 off-diagonal pairs overlap: the B^2 average is 12/16 of the overlapping one
    assert parts["positive"].item() == pytest.approx(0.75 * overlapping["positive"].item())


def test_unclipped_neighbour_similarities_hand_computed() -> None:
    indices = T([[1, 2], [0, 2], [0, 1]])
    similarities = T([[0.6, -0.2], [0.5, 0.5], [-0.4, -0.1]])
    labels = T([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    clipped = neighbour_soft_labels(indices, similarities, labels)
    raw = neighbour_soft_labels(indices, similarities, labels, clip_negative=False)
    # row 0: clipped weights (1, 0) -> y1; raw weights (0.6, -0.2) / 0.4 = (1.5, -0.5)
    torch.testing.assert_close(clipped[0], T([0.0, 1.0]))
    torch.testing.assert_close(raw[0], T([-0.5, 1.0]))
    # row 2: every similarity negative -> uniform weights either way
    torch.testing.assert_close(raw[2], T([0.5, 0.5]))
    torch.testing.assert_close(clipped[2], T([0.5, 0.5]))


def test_orthogonal_heads() -> None:
    generator = torch.Generator().manual_seed(0)
    settings = SCBCHSettings(orthogonal_heads=True, image_hidden=16, text_hidden=16)
    model = SCBCHHasher(settings, 6, 5, 4, 16, generator)
    for head in (model.image_head, model.text_head):
        torch.testing.assert_close(head.weight @ head.weight.T, torch.eye(4), atol=1e-5, rtol=0)


def test_paper_presets_carry_the_reference_choices() -> None:
    nrch = NRCHSettings.paper()
    nrch.validate()
    assert (nrch.optimizer, nrch.lr, nrch.epochs, nrch.shared_pairs) == (
        "rmsprop",
        1e-5,
        100,
        "constant",
    )
    assert nrch.second_direction == "row_twice" and not nrch.standardize_inputs
    scbch = SCBCHSettings.paper(epochs=30)
    assert scbch.epochs == 30 and scbch.positive_average == "all_pairs"
    assert scbch.quantization_views == "sum" and scbch.orthogonal_heads
    assert not scbch.clip_negative_neighbours and not scbch.standardize_inputs


# ---------------------------------------------------------------------------- stopping rule
def test_epoch_selection_keeps_training_unless_the_slice_drops_beyond_its_noise() -> None:
    rng = np.random.default_rng(0)
    base = rng.uniform(0.2, 0.8, size=400)

    def select(means: list[float], noise: float) -> int:
        selection = EpochSelection()
        for epoch, mean in enumerate(means, start=1):
            wiggle = rng.normal(0.0, noise, size=base.size)
            selection.offer(epoch, base + mean + wiggle - wiggle.mean())  # mean exactly ``mean``
        return selection.selected

    # a flat curve whose wiggles are the slice's noise: the last epoch is kept
    assert select([0.0, -0.002, 0.001, -0.001, 0.0], noise=0.1) == 5
    # a clear peak and a real decline: the peak is kept
    assert select([0.0, 0.10, 0.05, 0.02, 0.0], noise=0.02) == 2
    # a rising curve: the last epoch, the best
    assert select([0.0, 0.02, 0.04, 0.06], noise=0.001) == 4
    # after a new best, earlier epochs are out of reach
    assert select([0.0, 0.0, 0.2, 0.0], noise=0.01) == 3


def test_holds_up_against_uses_the_paired_standard_error() -> None:
    best = np.array([0.5, 0.6, 0.7, 0.8])
    assert holds_up_against(best, best, 1.0)
    wiggle = np.array([0.01, -0.01, 0.0, -0.004])  # mean -0.001, standard error 0.0047
    assert holds_up_against(best + wiggle, best, 1.0)
    assert not holds_up_against(best + wiggle - 0.006, best, 1.0)  # mean -0.007
    assert holds_up_against(best + wiggle - 0.006, best, 2.0)
    assert not holds_up_against(best - 0.05, best, 2.0)  # the same drop on every row is significant
    assert holds_up_against(np.array([0.6]), np.array([0.5]), 2.0)
    assert not holds_up_against(np.array([0.4]), np.array([0.5]), 2.0)


def test_holdout_split_is_seeded_disjoint_and_sized() -> None:
    train, held = holdout_split(100, 0.1, torch.Generator().manual_seed(3))
    again, held_again = holdout_split(100, 0.1, torch.Generator().manual_seed(3))
    assert held.numel() == 10 and train.numel() == 90
    assert torch.equal(held, held_again) and torch.equal(train, again)
    assert set(train.tolist()).isdisjoint(held.tolist())
    assert sorted(train.tolist() + held.tolist()) == list(range(100))
    everything, nothing = holdout_split(7, 0.0, torch.Generator())
    assert everything.tolist() == list(range(7)) and nothing.numel() == 0


def test_holdout_query_ap_ranks_the_slice_among_itself() -> None:
    class_codes = torch.tensor([[1.0, 1, 1, 1], [1, -1, 1, -1], [-1, -1, 1, 1]])
    classes = torch.arange(6) % 3
    labels = torch.nn.functional.one_hot(classes, 3).float()
    image, text = class_codes[classes].clone(), class_codes[classes].clone()
    assert np.array_equal(holdout_query_ap(image, text, labels), np.ones((6, 2)))
    text[0] = class_codes[1]  # row 0's text now looks like class 1
    query_ap = holdout_query_ap(image, text, labels)
    assert query_ap[0, 1] < 1.0  # its text ranks class 1's images first
    assert np.array_equal(query_ap[[2, 5]], np.ones((2, 2)))  # class 2's rankings are untouched
    labels[4] = 0  # a row without a label finds nothing: it is no query, and never relevant
    without = holdout_query_ap(image, text, labels)
    assert without.shape == (5, 2) and np.isfinite(without).all()


def small_dataset() -> AuditDataset:
    clean = make_synthetic(SynthSettings(n_rows=600, n_classes=6, seed=0)).to_dataset()
    return with_noise(clean, "pairflip", 0.4, 0)[0]


def test_stopping_rule_keeps_the_best_holdout_epoch_and_never_trains_on_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = small_dataset()
    train = data.train_mask
    assert data.image is not None and data.text is not None
    settings = default_settings(
        "plain", epochs=6, holdout_fraction=0.2, image_hidden=32, text_hidden=32, lr=3e-3
    )
    model = PlainHasher(settings, data.image.shape[1], data.text.shape[1], data.n_classes, 16,
                        torch.Generator().manual_seed(0))  # fmt: skip
    seen: set[int] = set()
    original = PlainHasher.batch_loss

    def recording(self: PlainHasher, rows: torch.Tensor, *args: object) -> object:
        seen.update(rows.tolist())
        return original(self, rows, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(PlainHasher, "batch_loss", recording)
    image = torch.from_numpy(data.image[train])
    text = torch.from_numpy(data.text[train])
    labels = torch.from_numpy(data.labels[train].astype(np.float32))
    history = train_method(model, image, text, labels, torch.Generator().manual_seed(0))
    _, held = holdout_split(labels.shape[0], 0.2, torch.Generator().manual_seed(0))
    assert seen.isdisjoint(held.tolist())
    assert len(seen) == labels.shape[0] - held.numel()
    scores = [(r["holdout_map_i2t"] + r["holdout_map_t2i"]) / 2 for r in history]
    chosen = [r.get("selected", False) for r in history]
    assert chosen.count(True) == 1
    kept = chosen.index(True)
    assert scores[kept] >= max(scores) - 0.1  # within the slice's noise of the best
    # the model holds the chosen epoch's weights: re-scoring the slice gives its score again
    codes = encode_continuous(model, image[held], text[held], 4096)
    assert holdout_query_ap(*codes, labels[held]).mean() == pytest.approx(scores[kept], abs=1e-9)


def test_stopping_rule_reads_neither_query_rows_nor_clean_labels() -> None:
    data = small_dataset()
    assert data.image is not None and data.text is not None and data.clean_labels is not None
    query = data.query_mask
    rng = np.random.default_rng(1)
    image, text = data.image.copy(), data.text.copy()
    image[query] = rng.normal(size=image[query].shape).astype(np.float32)
    text[query] = rng.normal(size=text[query].shape).astype(np.float32)
    labels = data.labels.copy()
    labels[query] = 1 - labels[query]
    labels[query, 0] = 1  # keep every row labelled
    altered = dataclasses.replace(
        data, image=image, text=text, labels=labels, clean_labels=1 - data.clean_labels
    )
    runs = []
    for dataset in (data, altered):
        hasher, _ = fit_hasher(dataset, "plain", bits=16, seed=0, epochs=4, holdout_fraction=0.2)
        runs.append(hasher)
    first, second = (
        [(r["holdout_map_i2t"], r["holdout_map_t2i"]) for r in run.selection_history_ or []]
        for run in runs
    )
    assert len(first) == 4
    assert first == second
    assert runs[0].selected_epoch_ == runs[1].selected_epoch_


def test_refit_is_a_run_of_the_selected_epochs_on_every_row() -> None:
    data = small_dataset()
    train = data.train_mask
    assert data.image is not None and data.text is not None
    tiny = {"image_hidden": 32, "text_hidden": 32, "lr": 3e-3}
    arrays = (data.image[train], data.text[train], data.labels[train])
    ruled = CrossModalHasher(
        default_settings("plain", epochs=6, holdout_fraction=0.2, **tiny), bits=16, seed=0
    ).fit(*arrays)
    epoch = ruled.selected_epoch_
    assert ruled.holdout_rows_ == 60 and ruled.selection_history_ is not None
    assert len(ruled.selection_history_) == 6 and len(ruled.history_) == epoch
    assert "holdout_map_i2t" in ruled.selection_history_[0]
    assert "holdout_map_i2t" not in ruled.history_[-1]
    # the slice only chose how long to train: the model is bit for bit a run of that many
    # epochs on every row from the same seed
    unruled = default_settings("plain", epochs=epoch, **tiny)
    plain = CrossModalHasher(unruled, bits=16, seed=0).fit(*arrays)
    for ours, theirs in zip(
        ruled.model_.state_dict().values(), plain.model_.state_dict().values(), strict=True
    ):
        assert torch.equal(ours, theirs)
    kept = CrossModalHasher(
        default_settings("plain", epochs=6, holdout_fraction=0.2, holdout_refit=False, **tiny),
        bits=16,
        seed=0,
    ).fit(*arrays)
    assert kept.selection_history_ is None and kept.selected_epoch_ == epoch
    assert not np.array_equal(kept.encode_image(arrays[0]), ruled.encode_image(arrays[0]))


def test_refit_progress_counts_on_after_the_selection_run() -> None:
    data = small_dataset()
    train = data.train_mask
    assert data.image is not None and data.text is not None
    settings = default_settings(
        "plain", epochs=4, holdout_fraction=0.2, image_hidden=16, text_hidden=16
    )
    calls: list[tuple[int, int]] = []
    hasher = CrossModalHasher(settings, bits=16, seed=0)
    hasher.fit(data.image[train], data.text[train], data.labels[train],
               lambda epoch, n_epochs, logs: calls.append((epoch, n_epochs)))  # fmt: skip
    refit = hasher.selected_epoch_
    selection = [(epoch, 4) for epoch in range(1, 5)]
    assert calls == selection + [(4 + epoch, 4 + refit) for epoch in range(1, refit + 1)]


def test_holdout_min_rows_keeps_small_data_whole() -> None:
    assert holdout_size(4_994, 0.1, 500) == 0 and holdout_size(5_000, 0.1, 500) == 500
    assert holdout_size(10, 0.1) == 2 and holdout_size(100, 0.0) == 0
    with pytest.raises(ValueError, match="too few"):
        holdout_size(3, 0.5)
    data = small_dataset()
    train = data.train_mask
    assert data.image is not None and data.text is not None
    # NRCH's default rule needs a slice of 500 rows; these 600 train rows give 60
    settings = default_settings("nrch", epochs=2, image_hidden=16, text_hidden=16)
    assert settings.holdout_fraction == 0.1 and settings.holdout_min_rows == 500
    hasher = CrossModalHasher(settings, bits=16, seed=0)
    hasher.fit(data.image[train], data.text[train], data.labels[train])
    assert hasher.holdout_rows_ == 0 and hasher.selection_history_ is None
    assert hasher.selected_epoch_ == 2 and "holdout_map_i2t" not in hasher.history_[-1]


def test_default_keeps_the_last_epoch() -> None:
    data = small_dataset()
    hasher, _ = fit_hasher(data, "plain", bits=16, seed=0, epochs=2)
    assert hasher.selected_epoch_ == 2
    assert "holdout_map_i2t" not in hasher.history_[-1]
    assert isinstance(hasher, CrossModalHasher)
