"""Per-sample signal pieces of hashing.signals: DNS mixture, threshold ramp, blocked kNN, CSCC."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hashing import signals


# ---------------------------------------------------------------------------- NRCH: DNS
def test_prototype_residuals_and_max_over_given_labels() -> None:
    prototypes = torch.tensor([[20.0, 0.0], [0.0, 20.0]])  # tanh -> ~(1, 0) and ~(0, 1)
    h_image = torch.tensor([[1.0, 0.0]])
    h_text = torch.tensor([[0.0, 1.0]])
    residuals = signals.prototype_residuals(h_image, h_text, prototypes)
    # class 0: (1 - 1)^2 + (1 - 0)^2 = 1; class 1: (1 - 0)^2 + (1 - 1)^2 = 1
    torch.testing.assert_close(residuals, torch.tensor([[1.0, 1.0]]))
    residuals = torch.tensor([[0.5, 3.0, 2.0], [1.0, 0.2, 4.0]])
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    worst = signals.max_given_label_residual(residuals, labels)
    torch.testing.assert_close(worst, torch.tensor([2.0, 0.2]))


def test_min_max_normalize() -> None:
    np.testing.assert_allclose(signals.min_max_normalize(np.array([2.0, 4.0, 3.0])), [0, 1, 0.5])
    np.testing.assert_array_equal(signals.min_max_normalize(np.array([5.0, 5.0])), [0.0, 0.0])


@pytest.mark.parametrize("tied", [True, False])
def test_gaussian_mixture_recovers_two_clusters(tied: bool) -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0.2, 0.05, 600), rng.normal(0.7, 0.05, 400)])
    mixture = signals.fit_gaussian_mixture_1d(values, tied_variance=tied)
    low, high = np.argsort(mixture.means)
    assert mixture.means[low] == pytest.approx(0.2, abs=0.01)
    assert mixture.means[high] == pytest.approx(0.7, abs=0.01)
    assert mixture.weights[low] == pytest.approx(0.6, abs=0.02)
    assert np.sqrt(mixture.variances[low]) == pytest.approx(0.05, abs=0.01)
    posteriors = mixture.posteriors(values)
    np.testing.assert_allclose(posteriors.sum(axis=1), 1.0)


@pytest.mark.parametrize("clean_share", [0.8, 0.2])
def test_clean_posterior_belongs_to_the_lower_mean_component(clean_share: float) -> None:
    # orientation is by mean, not by size: the clean (low-loss) group may be the minority
    rng = np.random.default_rng(1)
    n_clean = int(1000 * clean_share)
    losses = np.concatenate([rng.normal(1.0, 0.1, n_clean), rng.normal(3.0, 0.15, 1000 - n_clean)])
    posterior = signals.clean_posterior(losses)
    assert posterior.shape == (1000,)
    assert posterior[:n_clean].min() > 0.95
    assert posterior[n_clean:].max() < 0.05


def test_clean_posterior_is_monotone_in_the_loss() -> None:
    # a narrow low-loss majority and a wide high-loss minority: with separate variances the
    # wide component also wins the far-left tail, so the smallest losses look noisy
    rng = np.random.default_rng(2)
    losses = np.concatenate([rng.normal(0.22, 0.08, 8500), rng.normal(0.32, 0.13, 1500)])
    losses = np.clip(losses, 0.0, None)
    order = np.argsort(losses)
    tied = signals.clean_posterior(losses)
    assert np.all(np.diff(tied[order]) <= 1e-12)
    separate = signals.clean_posterior(losses, tied_variance=False)
    assert np.any(np.diff(separate[order]) > 1e-3)  # the artefact the default avoids


def test_clean_posterior_of_a_constant_loss_is_uninformative() -> None:
    np.testing.assert_array_equal(signals.clean_posterior(np.full(5, 2.0)), np.full(5, 0.5))


def test_dns_threshold_warm_up_then_ramp_or_constant() -> None:
    ramp = [signals.dns_threshold(epoch, 3, 0.3, 4, "ramp") for epoch in range(9)]
    assert ramp == pytest.approx([0.0, 0.0, 0.0, 0.075, 0.15, 0.225, 0.3, 0.3, 0.3])
    constant = [signals.dns_threshold(epoch, 3, 0.3, 4, "constant") for epoch in range(5)]
    assert constant == pytest.approx([0.0, 0.0, 0.0, 0.3, 0.3])
    with pytest.raises(ValueError, match="threshold schedule"):
        signals.dns_threshold(5, 3, 0.3, 4, "cosine")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- SCBCH: CSCC
def dense_knn(image: torch.Tensor, text: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference: the full N x N two-view cosine similarity, self excluded."""
    a, b = F.normalize(image, dim=1), F.normalize(text, dim=1)
    similarity = (a @ a.T + b @ b.T) / 2
    similarity.fill_diagonal_(float("-inf"))
    top = torch.topk(similarity, k, dim=1)
    return top.indices, top.values


@pytest.mark.parametrize("block_rows", [1, 7, 64, 100, None])
def test_blocked_knn_equals_dense_reference(block_rows: int | None) -> None:
    generator = torch.Generator().manual_seed(0)
    image = torch.randn(100, 16, generator=generator)
    text = torch.randn(100, 8, generator=generator) * 3.0  # any norm: cosines are used
    indices, values = signals.two_view_knn(image, text, k=5, block_rows=block_rows)
    dense_indices, dense_values = dense_knn(image, text, k=5)
    torch.testing.assert_close(values, dense_values)
    torch.testing.assert_close(indices, dense_indices)
    assert not torch.any(indices == torch.arange(100)[:, None])  # never its own neighbour


def test_knn_clips_k_to_the_other_rows() -> None:
    image = torch.eye(3)
    indices, _ = signals.two_view_knn(image, image, k=20)
    assert indices.shape == (3, 2)
    assert sorted(indices[0].tolist()) == [1, 2]


def test_default_block_rows_bounds_the_slab() -> None:
    assert signals.default_block_rows(1_000) == 2048
    rows = signals.default_block_rows(200_000)
    assert rows * 200_000 <= 1 << 25 and rows >= 1


def test_neighbour_soft_labels_and_reliability_hand_computed() -> None:
    labels = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    indices = torch.tensor([[1, 3], [0, 3], [0, 1], [0, 1]])
    similarities = torch.tensor([[0.6, 0.2], [0.5, 0.5], [-0.1, -0.3], [0.9, -0.5]])
    soft = signals.neighbour_soft_labels(indices, similarities, labels)
    expected = torch.tensor(
        [
            [1.0, 0.75, 0.0],  # a = (0.75, 0.25): 0.75 * (1, 1, 0) + 0.25 * (1, 0, 0)
            [1.0, 0.0, 0.0],  # a = (0.5, 0.5) over two (1, 0, 0) rows
            [1.0, 0.5, 0.0],  # all similarities <= 0: uniform weights
            [1.0, 0.0, 0.0],  # the negative similarity is clipped to 0
        ]
    )
    torch.testing.assert_close(soft, expected)
    reliability = signals.label_reliability(labels, soft, floor=0.5)
    cosine_row0 = 1.0 / np.sqrt(1 + 0.75**2)
    expected_reliability = [0.5 + 0.5 * cosine_row0, 0.5 + 0.5 / np.sqrt(2), 0.5, 1.0]
    np.testing.assert_allclose(reliability.numpy(), expected_reliability, rtol=1e-6)


def test_cscc_reliability_flags_a_row_whose_label_disagrees_with_its_neighbours() -> None:
    generator = torch.Generator().manual_seed(3)
    centres = torch.randn(3, 16, generator=generator) * 4
    group = torch.arange(60) % 3
    image = centres[group] + torch.randn(60, 16, generator=generator)
    text = centres[group] + torch.randn(60, 16, generator=generator)
    labels = F.one_hot(group, 3).float()
    labels[0] = torch.tensor([0.0, 1.0, 0.0])  # row 0 sits in group 0 but says class 1
    reliability, soft = signals.cscc_reliability(image, text, labels, k=10, floor=0.5)
    assert reliability.shape == (60,) and soft.shape == (60, 3)
    assert reliability[0].item() < 0.6
    assert reliability[1:].min().item() > 0.9
    assert torch.all((reliability >= 0.5) & (reliability <= 1.0 + 1e-6))
