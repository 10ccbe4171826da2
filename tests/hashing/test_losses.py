"""Loss pieces of hashing.losses against small hand-computed cases."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from hashing import losses

T = torch.tensor


def codes(rows: int, bits: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(rows, bits, generator=generator), dim=1)


# ---------------------------------------------------------------------------- shared pieces
def test_quantization_terms_vanish_on_scaled_binary_codes() -> None:
    signs = T([[1.0, -1.0, 1.0, 1.0], [-1.0, -1.0, 1.0, -1.0]])
    binary_like = signs / 2.0  # unit norm, every |entry| = 1/sqrt(4)
    assert losses.quantization_l2(binary_like).item() == pytest.approx(0.0, abs=1e-7)
    # ||h - sign h||_1 / numel = 1 - 1/2 for these codes
    assert losses.quantization_sign(binary_like).item() == pytest.approx(0.5)
    peaked = T([[1.0, 0.0, 0.0, 0.0]])
    # (1 - 1/2)^2 + 3 * (0 - 1/2)^2 over 4 entries
    assert losses.quantization_l2(peaked).item() == pytest.approx((0.25 + 3 * 0.25) / 4)
    # among unit-norm codes without zero entries, equal magnitudes minimise the sign term
    uneven = F.normalize(T([[3.0, 1.0, -1.0, 1.0]]), dim=1)
    assert losses.quantization_sign(uneven).item() == pytest.approx((4 - 6 / math.sqrt(12)) / 4)
    assert losses.quantization_sign(uneven).item() > losses.quantization_sign(binary_like).item()


def test_jaccard_soft_pair_weights() -> None:
    labels = T([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    jaccard = losses.jaccard_similarity(labels)
    expected = T(
        [
            [1.0, 1 / 3, 1.0, 0.0],
            [1 / 3, 1.0, 1 / 3, 1 / 2],
            [1.0, 1 / 3, 1.0, 0.0],
            [0.0, 1 / 2, 0.0, 1.0],
        ]
    )
    torch.testing.assert_close(jaccard, expected)
    assert losses.shares_label(labels, labels)[0].tolist() == [True, True, True, False]


def test_hard_and_easy_negatives_with_margin_and_shift() -> None:
    similarity = T([[0.9, 0.8, 0.1], [0.2, 0.5, 0.4], [0.0, -0.3, -0.2]])
    shifted = losses.shift_easy_negatives(similarity, margin=0.2, shift=1.0)
    # row 0: anchor 0.9, hard iff >= 0.7; row 1: anchor 0.5, hard iff >= 0.3;
    # row 2: anchor -0.2, hard iff >= -0.4 (so both negatives are hard)
    expected = T([[0.9, 0.8, -0.9], [-0.8, 0.5, 0.4], [0.0, -0.3, -0.2]])
    torch.testing.assert_close(shifted, expected)


# ---------------------------------------------------------------------------- NRCH
def test_robust_contrastive_direction_hand_computed() -> None:
    similarity = T([[0.9, 0.8, 0.1], [0.2, 0.5, 0.4], [0.0, -0.3, -0.2]])
    shared = torch.zeros(3, 3, dtype=torch.bool)
    value = losses.robust_contrastive_direction(similarity, shared, 0.2, 1.0, 1.0)
    row0 = -0.9 + math.log(math.exp(0.8) + math.exp(-0.9)) + 0.2
    row1 = -0.5 + math.log(math.exp(-0.8) + math.exp(0.4)) + 0.2
    row2 = 0.2 + math.log(math.exp(0.0) + math.exp(-0.3)) + 0.2
    assert value.item() == pytest.approx((row0 + row1 + row2) / 3, rel=1e-6)
    # a wider margin turns row 0's easy negative (0.1) hard: it is no longer shifted down
    wider = losses.robust_contrastive_direction(similarity, shared, 0.85, 1.0, 1.0)
    row0_wide = -0.9 + math.log(math.exp(0.8) + math.exp(0.1)) + 0.85
    row1_wide = -0.5 + math.log(math.exp(0.2) + math.exp(0.4)) + 0.85
    row2_wide = 0.2 + math.log(math.exp(0.0) + math.exp(-0.3)) + 0.85
    assert wider.item() == pytest.approx((row0_wide + row1_wide + row2_wide) / 3, rel=1e-6)
    # temperature scales the log-sum-exp: tau log sum exp(S/tau)
    cooler = losses.robust_contrastive_direction(similarity, shared, 0.2, 1.0, 0.5)
    row0_cool = -0.9 + 0.5 * math.log(math.exp(0.8 / 0.5) + math.exp(-0.9 / 0.5)) + 0.2
    row1_cool = -0.5 + 0.5 * math.log(math.exp(-0.8 / 0.5) + math.exp(0.4 / 0.5)) + 0.2
    row2_cool = 0.2 + 0.5 * math.log(math.exp(0.0) + math.exp(-0.3 / 0.5)) + 0.2
    assert cooler.item() == pytest.approx((row0_cool + row1_cool + row2_cool) / 3, rel=1e-6)


@pytest.mark.parametrize("shared_pairs", ["excluded", "constant"])
def test_pairs_sharing_a_label_are_neither_pulled_nor_pushed(shared_pairs: str) -> None:
    similarity = T([[0.9, 0.8, 0.1], [0.2, 0.5, 0.4], [0.0, -0.3, -0.2]]).requires_grad_()
    shared = torch.zeros(3, 3, dtype=torch.bool)
    shared[0, 1] = shared[1, 0] = True
    value = losses.robust_contrastive_direction(
        similarity,
        shared,
        0.2,
        1.0,
        1.0,
        shared_pairs=shared_pairs,  # type: ignore[arg-type]
    )
    if shared_pairs == "excluded":  # the shared pair leaves the sum
        row0 = -0.9 + math.log(math.exp(-0.9)) + 0.2
        row1 = -0.5 + math.log(math.exp(0.4)) + 0.2
    else:  # the shared pair's logit is fixed at 0
        row0 = -0.9 + math.log(math.exp(0.0) + math.exp(-0.9)) + 0.2
        row1 = -0.5 + math.log(math.exp(0.0) + math.exp(0.4)) + 0.2
    row2 = 0.2 + math.log(math.exp(0.0) + math.exp(-0.3)) + 0.2
    assert value.item() == pytest.approx((row0 + row1 + row2) / 3, rel=1e-6)
    value.backward()
    assert similarity.grad is not None
    assert similarity.grad[0, 1].item() == 0.0 and similarity.grad[1, 0].item() == 0.0
    assert similarity.grad[0, 2].item() > 0.0  # a non-shared negative is pushed down
    assert similarity.grad[0, 0].item() < 0.0  # the homologous pair is pulled up


def test_an_anchor_without_negatives_only_pulls_its_homologous_pair() -> None:
    similarity = T([[0.9, 0.8], [0.2, 0.5]]).requires_grad_()
    shared = torch.ones(2, 2, dtype=torch.bool)
    value = losses.robust_contrastive_direction(similarity, shared, 0.2, 1.0, 1.0)
    assert value.item() == pytest.approx(((-0.9 + 0.2) + (-0.5 + 0.2)) / 2, rel=1e-6)
    value.backward()
    assert similarity.grad is not None
    torch.testing.assert_close(similarity.grad, T([[-0.5, 0.0], [0.0, -0.5]]))


def test_unknown_shared_pair_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="shared_pairs"):
        losses.robust_contrastive_direction(
            T([[0.9, 0.8], [0.2, 0.5]]),
            torch.zeros(2, 2, dtype=torch.bool),
            0.2,
            1.0,
            1.0,
            shared_pairs="ignored",  # type: ignore[arg-type]
        )


def test_robust_contrastive_loss_uses_the_column_matrix_for_text_anchors() -> None:
    h_image, h_text = codes(6, 8, seed=1), codes(6, 8, seed=2)
    labels = T([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1], [0, 0, 1], [1, 0, 0]]).float()
    total = losses.robust_contrastive_loss(h_image, h_text, labels, 0.2, 1.0, 1.0)
    similarity = h_image @ h_text.T
    shared = losses.shares_label(labels, labels)
    row = losses.robust_contrastive_direction(similarity, shared, 0.2, 1.0, 1.0)
    column = losses.robust_contrastive_direction(similarity.T, shared, 0.2, 1.0, 1.0)
    assert total.item() == pytest.approx(row.item() + column.item(), rel=1e-6)
    assert total.item() != pytest.approx(2 * row.item(), rel=1e-3)  # not the reference's reuse
    # swapping the modalities swaps the two directions and leaves the sum unchanged
    swapped = losses.robust_contrastive_loss(h_text, h_image, labels, 0.2, 1.0, 1.0)
    assert swapped.item() == pytest.approx(total.item(), rel=1e-6)


def test_prototype_loss_hand_computed_and_trains_prototypes_only() -> None:
    h_image = T([[1.0, 0.0]]).requires_grad_()
    h_text = T([[0.0, 1.0]]).requires_grad_()
    prototypes = T([[0.5, 0.0], [0.0, -0.5]]).requires_grad_()
    labels = T([[1.0, 0.0]])
    value = losses.prototype_loss(h_image, h_text, prototypes, labels)
    t = math.tanh(0.5)
    # class 0 (target +1): image dot = t, text dot = 0; class 1 (target -1): image 0, text -t
    expected = ((1 - t) ** 2 + 1.0 + 1.0 + (-1 + t) ** 2) / 2
    assert value.item() == pytest.approx(expected, rel=1e-6)
    value.backward()
    assert h_image.grad is None and h_text.grad is None
    assert prototypes.grad is not None and prototypes.grad.abs().sum().item() > 0


# ---------------------------------------------------------------------------- SCBCH
def test_soft_negative_term_hand_computed() -> None:
    similarity = T([[0.9, 0.8], [0.1, 0.5]])
    soft_pairs = T([[1.0, 0.5], [0.5, 1.0]])
    value = losses.soft_negative_direction(similarity, soft_pairs, 0.2, 1.0, 1.0)
    # (0, 1) is hard (0.8 >= 0.7): exp(0.8 * 0.5); (1, 0) is easy (0.1 < 0.3): exp(-0.9 * 0.5)
    expected = (math.exp(0.8 * 0.5) + math.exp(-0.9 * 0.5)) / 2
    assert value.item() == pytest.approx(expected, rel=1e-6)
    identical = losses.soft_negative_direction(similarity, torch.ones(2, 2), 0.2, 1.0, 1.0)
    assert identical.item() == pytest.approx(1.0)  # identical label sets are not pushed


def test_soft_positive_and_homologous_terms() -> None:
    similarity = T([[0.9, 0.8, 0.0], [0.1, 0.5, 0.3], [0.2, 0.4, 0.7]])
    soft_pairs = T([[1.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 1.0]])
    positive = losses.soft_positive_term(similarity, soft_pairs, shift=0.8)
    assert positive.item() == pytest.approx((math.exp(0.8 - 0.8) + math.exp(0.8 - 0.1)) / 2)
    assert losses.homologous_term(similarity).item() == pytest.approx(-(0.9 + 0.5 + 0.7) / 3)
    none_overlap = losses.soft_positive_term(similarity, torch.eye(3), shift=0.8)
    assert none_overlap.item() == 0.0


def test_bidirectional_soft_contrastive_parts_add_up_both_directions() -> None:
    h_image, h_text = codes(5, 8, seed=3), codes(5, 8, seed=4)
    labels = T([[1, 1, 0], [0, 1, 0], [1, 0, 1], [0, 0, 1], [1, 1, 1]]).float()
    parts = losses.bidirectional_soft_contrastive_loss(h_image, h_text, labels, 0.15, 0.8, 1.0)
    similarity = h_image @ h_text.T
    soft = losses.jaccard_similarity(labels)
    column = losses.soft_negative_direction(similarity.T, soft, 0.15, 0.8, 1.0)
    assert parts["negative_text"].item() == pytest.approx(column.item())
    total = sum(parts[key] for key in ("negative_image", "negative_text", "positive", "homologous"))
    assert isinstance(total, torch.Tensor)
    assert parts["total"].item() == pytest.approx(total.item())


def test_weighted_bce_scales_each_row() -> None:
    logits = T([[0.0, 2.0], [1.0, -1.0]])
    labels = T([[1.0, 0.0], [1.0, 1.0]])
    weights = T([1.0, 0.5])
    row0 = (math.log(2.0) + math.log1p(math.exp(2.0))) / 2
    row1 = (math.log1p(math.exp(-1.0)) + math.log1p(math.exp(1.0))) / 2
    value = losses.weighted_bce(logits, labels, weights)
    assert value.item() == pytest.approx((row0 + 0.5 * row1) / 2, rel=1e-6)


# ---------------------------------------------------------------------------- RSHNL
@pytest.mark.parametrize("p", [1.0, 0.5, 0.1, 1e-4])
def test_robust_loss_values(p: float) -> None:
    q = 0.01
    expected = (1 - q) * (1 - p**q) / q + q * (1 - p)
    assert losses.robust_loss(T([p]), q).item() == pytest.approx(expected, rel=1e-5, abs=1e-7)


def test_robust_loss_is_between_mae_and_cross_entropy() -> None:
    p = torch.linspace(0.01, 0.99, 50)
    g = losses.robust_loss(p, 0.01)
    assert torch.all(g[1:] < g[:-1])  # decreasing in p
    assert torch.all(g <= -torch.log(p) + 1e-6)  # bounded by CE (q -> 0) ...
    assert torch.all(g >= 1 - p - 1e-6)  # ... and above MAE (q -> 1)
    assert losses.robust_loss(T([0.5]), 0.01).item() == pytest.approx(0.688846, abs=1e-5)


@pytest.mark.parametrize(
    ("variant", "expected_weights"),
    [("linear", [1.0, 0.5, 0.0, 0.0]), ("hard", [1.0, 1.0, 0.0, 0.0])],
)
def test_self_paced_weight_formula(
    variant: losses.SelfPacedVariant, expected_weights: list
) -> None:
    hardness = T([0.0, 2.5, 5.0, 7.0])
    weights = losses.self_paced_weight(hardness, pace=5.0, variant=variant)
    assert weights.tolist() == pytest.approx(expected_weights)
    objective = losses.self_paced_objective(hardness, weights, pace=5.0, variant=variant)
    if variant == "linear":  # v l + pace (v^2 / 2 - v)
        expected = [5 * (0.5 - 1), 0.5 * 2.5 + 5 * (0.125 - 0.5), 0.0, 0.0]
    else:  # v l - pace v
        expected = [-5.0, 2.5 - 5.0, 0.0, 0.0]
    assert objective.tolist() == pytest.approx(expected)


@pytest.mark.parametrize("variant", ["linear", "hard"])
def test_self_paced_weight_minimises_its_objective(variant: losses.SelfPacedVariant) -> None:
    hardness = T([0.3, 1.7, 4.2, 6.0])
    best = losses.self_paced_weight(hardness, pace=5.0, variant=variant)
    grid = torch.linspace(0, 1, 201) if variant == "linear" else T([0.0, 1.0])
    for i, loss in enumerate(hardness):
        values = losses.self_paced_objective(loss.expand_as(grid), grid, 5.0, variant)
        chosen = losses.self_paced_objective(loss[None], best[i : i + 1], 5.0, variant)
        assert chosen.item() <= values.min().item() + 1e-6


def test_self_paced_rejects_unknown_variant() -> None:
    with pytest.raises(ValueError, match="self-paced variant"):
        losses.self_paced_weight(T([1.0]), 5.0, "soft")  # type: ignore[arg-type]


def test_center_hardness_uses_mass_on_the_label_set() -> None:
    centers = T([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    h = T([[1.0, 0.0]])
    probabilities = torch.softmax(T([1.0, 0.0, -1.0]), dim=0)
    single = losses.center_hardness(h, h, centers, T([[0.0, 1.0, 0.0]]), 1.0, 0.01)
    expected_single = 2 * losses.robust_loss(probabilities[1:2], 0.01).item()
    assert single.item() == pytest.approx(expected_single, rel=1e-5)
    multi = losses.center_hardness(h, h, centers, T([[1.0, 1.0, 0.0]]), 1.0, 0.01)
    mass = probabilities[0] + probabilities[1]
    assert multi.item() == pytest.approx(2 * losses.robust_loss(mass[None], 0.01).item(), rel=1e-5)
    sharper = losses.center_hardness(h, h, centers, T([[0.0, 1.0, 0.0]]), 0.1, 0.01)
    assert sharper.item() > single.item()  # a lower tau_c penalises a wrong label harder


def test_contrastive_hashing_loss_matches_a_loop() -> None:
    h_image, h_text = codes(4, 6, seed=5), codes(4, 6, seed=6)
    value = losses.contrastive_hashing_loss(h_image, h_text, temperature=0.5, q=0.01)
    z = torch.cat([h_image, h_text])
    per_code = []
    for i in range(8):
        partner = (i + 4) % 8
        numerator = math.exp((z[i] @ z[partner]).item() / 0.5)
        denominator = sum(math.exp((z[i] @ z[j]).item() / 0.5) for j in range(8) if j != i)
        per_code.append(losses.robust_loss(T([numerator / denominator]), 0.01).item())
    assert value.item() == pytest.approx(sum(per_code) / 8, rel=1e-5)


# ---------------------------------------------------------------------------- plain
def test_pairwise_similarity_loss_hand_computed() -> None:
    h_image = T([[1.0, 0.0], [0.0, 1.0]])
    h_text = T([[0.6, 0.8], [1.0, 0.0]])
    labels = T([[1.0, 0.0], [0.0, 1.0]])
    # S = [[0.6, 1.0], [0.8, 0.0]], targets [[1, -1], [-1, 1]]
    expected = ((0.6 - 1) ** 2 + (1.0 + 1) ** 2 + (0.8 + 1) ** 2 + (0.0 - 1) ** 2) / 4
    assert losses.pairwise_similarity_loss(h_image, h_text, labels).item() == pytest.approx(
        expected
    )
