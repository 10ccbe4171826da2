"""SCBCH: Cross-modal Semantic-Consistent Classification + Bidirectional Soft Contrastive Hashing
(arXiv 2511.07780), per docs/methods.md.

Signal: ``scbch_reliability`` (N,), r_i = gamma + (1 - gamma) cos(y_i, q_i) in [gamma, 1];
low = suspect. Label evidence: (N, C) neighbour soft labels q_i; HIGH means the label is likely
present (``evidence_high_means_present = True``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from hashing.base import (
    BatchLoss,
    EpochSignals,
    HashMethod,
    RobustHashSettings,
    Signal,
    float32_array,
)
from hashing.losses import (
    PositiveAverage,
    ViewReduction,
    bidirectional_soft_contrastive_loss,
    quantization_sign,
    two_view_term,
    weighted_bce,
)
from hashing.neighbours import DEFAULT_NPROBE, INDEX_MIN_ROWS
from hashing.networks import init_linear_
from hashing.signals import cscc_reliability


@dataclass(frozen=True)
class SCBCHSettings(RobustHashSettings):
    """Settings of SCBCH.

    Reference: Adam lr 1e-4, wd 1e-5, batch 128, 50 epochs. CPU defaults here: lr 3e-4 and 30
    epochs (measured on synthetic data, 4,000 train rows, 50% pairflip: mAP 0.52 / 0.57 at
    1e-4, 0.55 / 0.58 at 3e-4).

    contrastive_weight, quantization_weight : alpha (0.7) and beta (0.3) in
        alpha L_BSCH + beta L_quant + L_CSCC.
    margin, shift : hard/easy negative split; per dataset in the paper (MIRFlickr 0.15/0.8,
        NUS-WIDE 0.2/1.0, MS-COCO 0.3/1.1, IAPR 0.3/1.2). Default: MIRFlickr's.
    temperature : tau of the soft negative term.
    neighbours : k of the reliability's neighbour search (20).
    reliability_floor : gamma; reliabilities lie in [gamma, 1] (0.5).
    reliability_start_epoch : 0-based epoch from which L_CSCC is weighted by r (5); r = 1 before.
    knn_block_rows : query rows per block of the exact neighbour search (None: sized to
        ~128 MiB).
    knn_index_min_rows : training rows from which the neighbour search uses an approximate
        inverted-file index (``hashing.neighbours``) instead of the exact O(N^2 K) search
        (default ``INDEX_MIN_ROWS``, 20,000); None = always exact.
    knn_nprobe : inverted lists probed per query by that index.

    Formulation switches (``SCBCHSettings.paper()`` sets all of them to the reference code's
    choice, with its step size, epochs and raw inputs):
    positive_average : ``"overlapping"`` or ``"all_pairs"`` (reference); see
        ``hashing.losses.soft_positive_term``.
    quantization_views : ``"sum"`` of the two views' quantisation terms (the reference's
        choice, the default since the fifth session: it doubles the term's weight next to the
        others and gained in both directions on all three datasets, docs/benchmarks.md "Issue
        15, fifth session") or their ``"mean"`` (this project's first choice).
    orthogonal_heads : orthogonal initial weights of the classifier heads (reference) instead
        of the towers' initialisation.
    clip_negative_neighbours : clip negative neighbour similarities to 0 in the soft labels
        (this project) or keep them as negative weights (reference); see
        ``hashing.signals.neighbour_soft_labels``.
    weight_average_epochs : 5 here (``HashSettings``; the reference has no averaging): the
        trained model is the moving average of the weights over about the last five epochs.
        SCBCH's retrieval peaks within a few epochs and then fits the noise; the average holds
        more of the peak (three seeds, three datasets, 50 % and 80 % pairflip: see
        docs/benchmarks.md "Issue 15, ninth session"). ``audit scan`` reads SCBCH's signals
        from the live weights all the same (``auditor.detectors.SCAN_OVERRIDES``).
    """

    epochs: int = 30
    batch_size: int = 128
    lr: float = 3e-4
    weight_decay: float = 1e-5
    contrastive_weight: float = 0.7
    quantization_weight: float = 0.3
    margin: float = 0.15
    shift: float = 0.8
    temperature: float = 1.0
    neighbours: int = 20
    reliability_floor: float = 0.5
    reliability_start_epoch: int = 5
    knn_block_rows: int | None = None
    knn_index_min_rows: int | None = INDEX_MIN_ROWS
    knn_nprobe: int = DEFAULT_NPROBE
    positive_average: PositiveAverage = "overlapping"
    quantization_views: ViewReduction = "sum"
    orthogonal_heads: bool = False
    clip_negative_neighbours: bool = True
    weight_average_epochs: float = 5.0

    @classmethod
    def paper(cls, **overrides: Any) -> SCBCHSettings:
        """The reference code's formulation (Plke/SCBCH, read, not copied): Adam at 1e-4 for 50
        epochs, the positive term averaged over all B^2 entries, summed quantisation,
        orthogonally initialised heads, unclipped neighbour similarities, raw inputs, the last
        weights (no averaging) and no stopping rule (the paper picks its epoch on the test
        queries; this keeps the last)."""
        values: dict[str, Any] = {
            "lr": 1e-4,
            "epochs": 50,
            "positive_average": "all_pairs",
            "quantization_views": "sum",
            "orthogonal_heads": True,
            "clip_negative_neighbours": False,
            "standardize_inputs": False,
            "weight_average_epochs": 0.0,
            "holdout_fraction": 0.0,
        }
        values.update(overrides)
        return cls(**values)


class SCBCHHasher(HashMethod):
    """SCBCH: towers + a (K -> C) classifier head per view; reliability-weighted BCE + BSCH."""

    name = "scbch"
    settings_class = SCBCHSettings
    signals = (
        Signal(
            "scbch_reliability",
            "low_is_suspect",
            "agreement of the labels with cross-modal neighbours in code space",
        ),
    )
    evidence_high_means_present = True
    settings: SCBCHSettings

    def build_method_parts(self, generator: torch.Generator) -> None:
        self.image_head = nn.Linear(self.bits, self.n_classes, bias=False)
        self.text_head = nn.Linear(self.bits, self.n_classes, bias=False)
        for head in (self.image_head, self.text_head):
            if self.settings.orthogonal_heads:
                nn.init.orthogonal_(head.weight, generator=generator)
            else:
                init_linear_(head, generator)
        self.reliability: torch.Tensor | None = None  # (N,) weights of L_CSCC this epoch
        # The last search's inputs and result: the evidence after training reuses the last
        # epoch's search when codes and labels are the same (they are: both passes encode in
        # eval mode), which saves one full neighbour search per fit.
        self._last_search: tuple[torch.Tensor, ...] | None = None

    def start_training(self, labels: torch.Tensor) -> None:
        self.reliability = torch.ones(labels.shape[0], device=labels.device)

    def _reliability_and_soft_labels(
        self, h_image: torch.Tensor, h_text: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.settings
        cached = self._last_search
        if (
            cached is not None
            and cached[0].shape == h_image.shape
            and torch.equal(cached[0], h_image)
            and torch.equal(cached[1], h_text)
            and torch.equal(cached[2], labels)
        ):
            return cached[3], cached[4]
        reliability, soft_labels = cscc_reliability(
            h_image,
            h_text,
            labels,
            k=s.neighbours,
            floor=s.reliability_floor,
            block_rows=s.knn_block_rows,
            index_min_rows=s.knn_index_min_rows,
            nprobe=s.knn_nprobe,
            clip_negative=s.clip_negative_neighbours,
        )
        self._last_search = (h_image, h_text, labels, reliability, soft_labels)
        return reliability, soft_labels

    def batch_loss(
        self, rows: Tensor, h_image: Tensor, h_text: Tensor, labels: Tensor, epoch: int
    ) -> BatchLoss:
        s = self.settings
        contrastive = bidirectional_soft_contrastive_loss(
            h_image, h_text, labels, s.margin, s.shift, s.temperature, s.positive_average
        )
        quantization = two_view_term(
            quantization_sign(h_image), quantization_sign(h_text), s.quantization_views
        )
        weights = torch.ones_like(labels[:, 0])
        if epoch >= s.reliability_start_epoch and self.reliability is not None:
            weights = self.reliability[rows]
        classification = (
            weighted_bce(self.image_head(h_image), labels, weights)
            + weighted_bce(self.text_head(h_text), labels, weights)
        ) / 2.0
        loss = (
            s.contrastive_weight * contrastive["total"]
            + s.quantization_weight * quantization
            + classification
        )
        logs = {f"bsch_{key}": value for key, value in contrastive.items()}
        logs.update(quantization=quantization, classification=classification)
        return loss, logs

    def epoch_signals(
        self, epoch: int, h_image: Tensor, h_text: Tensor, labels: Tensor
    ) -> EpochSignals:
        """Reliabilities for the next epoch's L_CSCC, and for the history. The neighbour search
        costs O(N^2 K), so it runs only when the next epoch uses it, and after the last epoch."""
        s = self.settings
        if epoch + 1 < s.reliability_start_epoch and epoch != s.epochs - 1:
            return {}, {}
        reliability, _ = self._reliability_and_soft_labels(h_image, h_text, labels)
        self.reliability = reliability
        logs = {"mean_reliability": float(reliability.mean())}
        return {"scbch_reliability": float32_array(reliability)}, logs

    def label_evidence(self, h_image: Tensor, h_text: Tensor, labels: Tensor) -> np.ndarray:
        """(N, C) neighbour soft labels q_i; high = label likely present."""
        _, soft_labels = self._reliability_and_soft_labels(h_image, h_text, labels)
        return float32_array(soft_labels)
