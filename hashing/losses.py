"""Loss pieces of the three noisy-label hashers and the plain baseline, as pure tensor functions.

Conventions: ``h_image``, ``h_text`` are (B, K) continuous codes with unit-norm rows (the output of
``hashing.networks.HashTower``); ``labels`` are (B, C) float tensors of 0/1 (noisy multi-hot
labels, single-label data being one 1 per row). ``S = h_image @ h_text.T`` is the (B, B)
cross-modal similarity whose diagonal holds the homologous (same-row) pairs. Every function returns
a scalar mean unless its docstring says otherwise. See ``docs/methods.md`` for the formulas.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F

SelfPacedVariant = Literal["linear", "hard"]
SharedPairs = Literal["excluded", "constant"]
SecondDirection = Literal["transpose", "row_twice"]
ViewReduction = Literal["mean", "sum"]
PositiveAverage = Literal["overlapping", "all_pairs"]


# ---------------------------------------------------------------------------- shared pieces
def quantization_l2(h: torch.Tensor) -> torch.Tensor:
    """Mean (|h_ik| - 1/sqrt(K))^2 over a (B, K) batch of unit-norm codes (NRCH, plain).

    A unit-norm code whose entries all have magnitude 1/sqrt(K) is a scaled binary code, so this
    is zero exactly when sign(h) loses nothing.
    """
    level = 1.0 / math.sqrt(h.shape[1])
    return ((h.abs() - level) ** 2).mean()


def quantization_sign(h: torch.Tensor) -> torch.Tensor:
    """||h - sign(h)||_1 / numel over a (B, K) batch (SCBCH).

    For unit-norm codes without zero entries (tanh outputs are never exactly 0) this is
    1 - ||h||_1 / K, minimised when all entries have equal magnitude 1/sqrt(K), i.e. when the code
    is a scaled binary code.
    """
    return (h - torch.sign(h).detach()).abs().mean()


def shares_label(labels_a: torch.Tensor, labels_b: torch.Tensor) -> torch.Tensor:
    """(Ba, Bb) bool: True where row i of ``labels_a`` and row j of ``labels_b`` share a label."""
    return (labels_a @ labels_b.T) > 0


def jaccard_similarity(labels: torch.Tensor) -> torch.Tensor:
    """(B, B) Jaccard overlap |y_i AND y_j| / |y_i OR y_j| of multi-hot rows (0 when both empty)."""
    intersection = labels @ labels.T
    counts = labels.sum(dim=1)
    union = counts[:, None] + counts[None, :] - intersection
    return torch.where(union > 0, intersection / union.clamp_min(1e-12), torch.zeros_like(union))


def shift_easy_negatives(similarity: torch.Tensor, margin: float, shift: float) -> torch.Tensor:
    """Lower the easy negatives of a row-anchored (B, B) similarity matrix by ``shift``.

    The anchor of row i is its diagonal entry S_ii. Entry (i, j) is a *hard* negative when
    S_ij >= S_ii - margin and keeps its value; every other (easy) entry becomes S_ij - shift, so
    easy negatives barely contribute to an exp-based push. The diagonal is returned unchanged.
    For the column-anchored direction pass ``similarity.T``.
    """
    anchor = torch.diagonal(similarity)[:, None]
    hard = similarity >= anchor - margin
    return torch.where(hard, similarity, similarity - shift)


def _off_diagonal(n: int, device: torch.device) -> torch.Tensor:
    return ~torch.eye(n, dtype=torch.bool, device=device)


# ---------------------------------------------------------------------------- NRCH
def robust_contrastive_direction(
    similarity: torch.Tensor,
    shared: torch.Tensor,
    margin: float,
    shift: float,
    temperature: float,
    shared_pairs: SharedPairs = "excluded",
    positive_in_logsumexp: bool = False,
    shared_pair_weight: float = 1.0,
) -> torch.Tensor:
    """NRCH's robust contrastive loss for one anchoring direction, mean over anchors.

    Parameters
    ----------
    similarity : (B, B) row-anchored similarity, positives on the diagonal (B >= 2).
    shared : (B, B) bool, pairs that share a noisy label; they are neither pulled nor pushed.
    margin, shift, temperature : see ``shift_easy_negatives``; ``temperature`` is tau.
    shared_pairs : how the shared pairs leave the loss. ``"excluded"`` drops them from the sum.
        ``"constant"`` is the spec's formula (docs/methods.md) read literally,
        exp(S~_ij (1 - T_ij) / tau): their logit is fixed, a constant per pair without
        gradient. On multi-label data a third or more of a batch's pairs share a label, and
        those constants take a share of the denominator from the real negatives and soften
        their push (measured on synthetic data, 64 bits, pairflip 0.5: mAP 0.532 / 0.535 with
        constants of 1, 0.559 / 0.562 without).
    shared_pair_weight : the constant each shared pair adds with ``"constant"`` (logit
        log(weight)); 1 is the spec's exp(0) = 1, smaller softens the push less. Must be > 0.
    positive_in_logsumexp : False (default): the log-sum-exp runs over the negatives only, a
        soft "hardest negative stays ``margin`` below the positive" that keeps pushing. True
        (the reference code): the anchor's own pair enters the log-sum-exp too, with logit
        max(S_ii, 0) / tau, so the term behaves like a softmax cross-entropy and stops pushing
        once the positive dominates its row; such a row is never without a term.

    Returns
    -------
    mean over i of  -S_ii + tau * log sum_{j != i, not shared} exp(S~_ij / tau) + margin,
    a soft version of "the hardest negative stays ``margin`` below the positive". An anchor with
    no negative left (every other row shares a label with it) keeps only -S_ii + margin: its
    homologous pair is still pulled.
    """
    n = similarity.shape[0]
    if n < 2:
        raise ValueError("the robust contrastive loss needs at least two rows")
    shifted = shift_easy_negatives(similarity, margin, shift)
    diagonal = ~_off_diagonal(n, similarity.device)
    if shared_pairs == "constant":
        if shared_pair_weight <= 0:
            raise ValueError(f"shared_pair_weight must be > 0, got {shared_pair_weight}")
        constant = shifted.new_tensor(math.log(shared_pair_weight))  # on the codes' device
        logits = torch.where(shared, constant, shifted / temperature)
        left_out = diagonal
    elif shared_pairs == "excluded":
        logits = shifted / temperature
        left_out = diagonal | shared
    else:
        raise ValueError(f"shared_pairs must be 'excluded' or 'constant', got {shared_pairs!r}")
    if positive_in_logsumexp:
        own = torch.diagonal(similarity).clamp_min(0.0) / temperature
        logits = torch.where(diagonal, own[:, None].expand_as(logits), logits)
        left_out = left_out & ~diagonal
    logits = logits.masked_fill(left_out, float("-inf"))
    has_negative = ~left_out.all(dim=1)
    push = torch.logsumexp(logits, dim=1)
    push = torch.where(has_negative, push, torch.zeros_like(push))
    positive = torch.diagonal(similarity)
    per_anchor = -positive + temperature * push + margin
    return per_anchor.mean()


def robust_contrastive_loss(
    h_image: torch.Tensor,
    h_text: torch.Tensor,
    labels: torch.Tensor,
    margin: float = 0.2,
    shift: float = 1.0,
    temperature: float = 1.0,
    shared_pairs: SharedPairs = "excluded",
    positive_in_logsumexp: bool = False,
    second_direction: SecondDirection = "transpose",
    tanh_codes: bool = False,
    shared_pair_weight: float = 1.0,
) -> torch.Tensor:
    """NRCH's L_RCH: image-anchored (rows of S) plus text-anchored (rows of S.T) directions.

    second_direction : ``"transpose"`` (default): the text-anchored direction is computed from
        the transposed matrix itself (its own hard/easy split against S_jj). ``"row_twice"``
        reproduces the reference code, whose second term reuses the row-anchored matrix, so the
        loss is twice the image-anchored term and the text anchors are never contrasted.
    tanh_codes : apply tanh to the (already unit-norm) codes first, as the reference code does.
    shared_pairs, positive_in_logsumexp, shared_pair_weight : see ``robust_contrastive_direction``.
    """
    if tanh_codes:
        h_image, h_text = torch.tanh(h_image), torch.tanh(h_text)
    similarity = h_image @ h_text.T
    shared = shares_label(labels, labels)
    options = (margin, shift, temperature, shared_pairs, positive_in_logsumexp, shared_pair_weight)
    row = robust_contrastive_direction(similarity, shared, *options)
    if second_direction == "row_twice":
        return 2.0 * row
    if second_direction != "transpose":
        raise ValueError(
            f"second_direction must be 'transpose' or 'row_twice', got {second_direction!r}"
        )
    column = robust_contrastive_direction(similarity.T, shared.T, *options)
    return row + column


def two_view_term(
    term: torch.Tensor, other: torch.Tensor, reduction: ViewReduction
) -> torch.Tensor:
    """Combine a loss term of the image view with the same term of the text view.

    ``"mean"`` halves their sum (this project), ``"sum"`` adds them (both reference codes), which
    doubles the term's weight next to the other terms.
    """
    if reduction == "mean":
        return (term + other) / 2.0
    if reduction == "sum":
        return term + other
    raise ValueError(f"view reduction must be 'mean' or 'sum', got {reduction!r}")


def prototype_loss(
    h_image: torch.Tensor, h_text: torch.Tensor, prototypes: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """NRCH's prototype loss; trains the (C, K) ``prototypes`` only (codes are detached).

    mean over i, c of (yhat_ic - h1_i . tanh(W_c))^2 + (yhat_ic - h2_i . tanh(W_c))^2 with
    yhat = 2 y - 1.
    """
    targets = 2.0 * labels - 1.0
    directions = torch.tanh(prototypes)
    image_term = (targets - h_image.detach() @ directions.T) ** 2
    text_term = (targets - h_text.detach() @ directions.T) ** 2
    return (image_term + text_term).mean()


# ---------------------------------------------------------------------------- SCBCH
def soft_negative_direction(
    similarity: torch.Tensor,
    soft_pairs: torch.Tensor,
    margin: float,
    shift: float,
    temperature: float,
) -> torch.Tensor:
    """SCBCH's soft negative term for one anchoring direction.

    mean over off-diagonal (i, j) of tau * exp(S~_ij (1 - T_ij) / tau), with S~ the
    hard/easy-shifted ``similarity`` (B, B) and ``soft_pairs`` T the (B, B) Jaccard overlaps: pairs
    with identical labels (T = 1) are not pushed, partly overlapping ones are pushed less.
    """
    n = similarity.shape[0]
    shifted = shift_easy_negatives(similarity, margin, shift)
    values = temperature * torch.exp(shifted * (1.0 - soft_pairs) / temperature)
    return values[_off_diagonal(n, similarity.device)].mean()


def soft_positive_term(
    similarity: torch.Tensor,
    soft_pairs: torch.Tensor,
    shift: float,
    average: PositiveAverage = "overlapping",
) -> torch.Tensor:
    """SCBCH's positive term: exp(shift - S_ij) summed over off-diagonal pairs with T_ij > 0.

    average : ``"overlapping"`` (default) divides by the number of those pairs, so the pull per
        pair does not depend on how many pairs of a batch overlap. ``"all_pairs"`` (the
        reference code) divides by all B^2 entries: the term shrinks with the share of
        overlapping pairs (about 1.9x weaker on MIRFlickr batches).

    Returns a zero (that keeps the graph) when no off-diagonal pair overlaps.
    """
    n = similarity.shape[0]
    overlapping = (soft_pairs > 0) & _off_diagonal(n, similarity.device)
    if not bool(overlapping.any()):
        return similarity.sum() * 0.0
    total = torch.exp(shift - similarity[overlapping]).sum()
    if average == "overlapping":
        return total / overlapping.sum()
    if average == "all_pairs":
        return total / float(n * n)
    raise ValueError(f"average must be 'overlapping' or 'all_pairs', got {average!r}")


def homologous_term(similarity: torch.Tensor) -> torch.Tensor:
    """-mean S_ii: pulls each image code toward its own text code."""
    return -torch.diagonal(similarity).mean()


def bidirectional_soft_contrastive_loss(
    h_image: torch.Tensor,
    h_text: torch.Tensor,
    labels: torch.Tensor,
    margin: float = 0.15,
    shift: float = 0.8,
    temperature: float = 1.0,
    positive_average: PositiveAverage = "overlapping",
) -> dict[str, torch.Tensor]:
    """SCBCH's L_BSCH and its parts on one batch (``positive_average``: see
    ``soft_positive_term``).

    Returns
    -------
    dict with scalar tensors ``negative_image`` (row-anchored), ``negative_text``
    (column-anchored, from S.T), ``positive``, ``homologous`` and their sum ``total``.
    """
    similarity = h_image @ h_text.T
    soft_pairs = jaccard_similarity(labels)
    parts = {
        "negative_image": soft_negative_direction(
            similarity, soft_pairs, margin, shift, temperature
        ),
        "negative_text": soft_negative_direction(
            similarity.T, soft_pairs.T, margin, shift, temperature
        ),
        "positive": soft_positive_term(similarity, soft_pairs, shift, positive_average),
        "homologous": homologous_term(similarity),
    }
    parts["total"] = (
        parts["negative_image"] + parts["negative_text"] + parts["positive"] + parts["homologous"]
    )
    return parts


def weighted_bce(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """mean over i of w_i * mean over c of BCE(sigmoid(logits_ic), y_ic).

    ``logits``, ``labels`` (B, C); ``weights`` (B,), e.g. SCBCH's reliabilities (detached).
    """
    per_cell = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    return (weights.detach() * per_cell.mean(dim=1)).mean()


# ---------------------------------------------------------------------------- RSHNL
def robust_loss_from_log_prob(log_p: torch.Tensor, q: float = 0.01) -> torch.Tensor:
    """RSHNL's robust loss g(p) = (1 - q)(1 - p^q)/q + q(1 - p), given log p; elementwise.

    A mix of generalised cross-entropy (near -log p for small q) and MAE (1 - p). g(1) = 0 and
    g decreases in p. Taking log p keeps p^q = exp(q log p) accurate for tiny p.
    """
    p = torch.exp(log_p)
    return (1.0 - q) * (1.0 - torch.exp(q * log_p)) / q + q * (1.0 - p)


def robust_loss(p: torch.Tensor, q: float = 0.01) -> torch.Tensor:
    """g(p) of ``robust_loss_from_log_prob`` for probabilities p in (0, 1]; elementwise."""
    return robust_loss_from_log_prob(torch.log(p.clamp_min(1e-12)), q)


def center_log_probabilities(
    h: torch.Tensor, centers: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """(B, C) log pi_ic = log softmax_c(h_i . W_c / tau_c) for unit-norm codes and centres."""
    return torch.log_softmax(h @ centers.T / temperature, dim=1)


def label_set_log_mass(log_probabilities: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(B,) log of the probability mass on each row's given labels, log sum_c y_ic pi_ic.

    For single-label rows it is the log-probability of the given class. Rows without any label
    give -inf (callers reject such rows up front).
    """
    masked = log_probabilities.masked_fill(labels <= 0, float("-inf"))
    return torch.logsumexp(masked, dim=1)


def center_hardness(
    h_image: torch.Tensor,
    h_text: torch.Tensor,
    centers: torch.Tensor,
    labels: torch.Tensor,
    center_temperature: float = 1.0,
    q: float = 0.01,
) -> torch.Tensor:
    """RSHNL's per-sample CAL loss l_i = g(p1_i) + g(p2_i), shape (B,); high = suspect label."""
    log_mass_image = label_set_log_mass(
        center_log_probabilities(h_image, centers, center_temperature), labels
    )
    log_mass_text = label_set_log_mass(
        center_log_probabilities(h_text, centers, center_temperature), labels
    )
    return robust_loss_from_log_prob(log_mass_image, q) + robust_loss_from_log_prob(
        log_mass_text, q
    )


def self_paced_weight(
    losses: torch.Tensor, pace: float, variant: SelfPacedVariant = "linear"
) -> torch.Tensor:
    """Self-paced weights v_i from per-sample losses (no gradient); same shape as ``losses``.

    linear: v = max(0, 1 - l / pace); hard: v = 1[l < pace]. Easy (low-loss) samples get weight
    near 1, samples with loss >= ``pace`` get 0.
    """
    losses = losses.detach()
    if variant == "linear":
        return (1.0 - losses / pace).clamp_min(0.0)
    if variant == "hard":
        return (losses < pace).to(losses.dtype)
    raise ValueError(f"unknown self-paced variant {variant!r}; use 'linear' or 'hard'")


def self_paced_objective(
    losses: torch.Tensor, weights: torch.Tensor, pace: float, variant: SelfPacedVariant = "linear"
) -> torch.Tensor:
    """Per-sample self-paced objective v l + regulariser(v), shape of ``losses``.

    linear: v l + pace (v^2/2 - v); hard: v l - pace v. ``weights`` are treated as constants, so
    the gradient is v dl; the regulariser only makes the value the one being minimised over v.
    """
    weights = weights.detach()
    if variant == "linear":
        return weights * losses + pace * (weights**2 / 2.0 - weights)
    if variant == "hard":
        return weights * losses - pace * weights
    raise ValueError(f"unknown self-paced variant {variant!r}; use 'linear' or 'hard'")


def contrastive_hashing_loss(
    h_image: torch.Tensor, h_text: torch.Tensor, temperature: float = 1.0, q: float = 0.01
) -> torch.Tensor:
    """RSHNL's L_CHL over the 2B codes of a batch.

    For each of the 2B codes z_i (images then texts) with cross-modal partner z_i',
    p_i = exp(s_ii' / tau) / sum_{j != i} exp(s_ij / tau) with s = z z^T, and the loss is the mean
    of g(p_i) over all 2B codes (both directions).
    """
    batch = h_image.shape[0]
    codes = torch.cat([h_image, h_text], dim=0)
    logits = codes @ codes.T / temperature
    logits = logits.masked_fill(~_off_diagonal(2 * batch, codes.device), float("-inf"))
    partner = torch.cat([torch.arange(batch, 2 * batch), torch.arange(0, batch)]).to(codes.device)
    rows = torch.arange(2 * batch, device=codes.device)
    log_p = logits[rows, partner] - torch.logsumexp(logits, dim=1)
    return robust_loss_from_log_prob(log_p, q).mean()


# ---------------------------------------------------------------------------- plain baseline
def pairwise_similarity_loss(
    h_image: torch.Tensor, h_text: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """Plain label-similarity hashing loss: mean over all (i, j) of (S_ij - t_ij)^2.

    t_ij = +1 when rows i and j share a label (the homologous pair included), -1 otherwise, with
    S = h_image @ h_text.T. Treats every given label as true.
    """
    similarity = h_image @ h_text.T
    targets = 2.0 * shares_label(labels, labels).to(similarity.dtype) - 1.0
    return ((similarity - targets) ** 2).mean()
