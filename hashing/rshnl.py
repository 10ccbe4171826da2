"""RSHNL: Contrastive Hashing + Center Aggregation + Noise-tolerant Self-paced Hashing (AAAI 2025),
per docs/methods.md.

Signals: ``rshnl_hardness`` (N,), l_i = g(p1_i) + g(p2_i) averaged over the last
``signal_average_epochs`` epochs, high = suspect; ``rshnl_weight`` (N,), the self-paced weight v_i
after the last epoch, low = suspect. Label evidence: (N, C) class probabilities pi averaged over
the two views; HIGH means the label is likely present.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hashing.base import (
    BatchLoss,
    EpochRecord,
    EpochSignals,
    HashMethod,
    RobustHashSettings,
    Signal,
    float32_array,
)
from hashing.losses import (
    SelfPacedVariant,
    center_hardness,
    center_log_probabilities,
    contrastive_hashing_loss,
    quantization_sign,
    self_paced_objective,
    self_paced_weight,
)
from hashing.networks import init_linear_


@dataclass(frozen=True)
class RSHNLSettings(RobustHashSettings):
    """Settings of RSHNL.

    Reference: Adam lr 1e-4, batch 256, 150 epochs (single-label data).

    center_weight, contrastive_weight : lambda (1) and alpha (0.1) in
        lambda mean(CAL with NSH) + alpha L_CHL.
    temperature : tau of L_CHL (1).
    center_temperature : tau_c of the class softmax over cosines (reference: 1). On multi-label
        data a lower tau_c sharpens the hardness signal at some cost in mAP (synthetic, 50%
        pairflip: tau_c 1 -> AUROC 0.61, mAP 0.56 / 0.59; 0.5 -> 0.69, 0.54 / 0.59;
        0.3 -> 0.73, 0.54 / 0.58); on single-label data tau_c 1 is best on both counts.
    robust_q : q of g(p) (0.01).
    self_paced_start_epoch : 0-based epoch t_p from which NSH weights the CAL term (5).
    pace : gamma, the loss above which a sample gets weight 0 (5).
    pace_growth : gamma is multiplied by this every epoch after t_p (1 = fixed pace).
    self_paced_variant : ``"linear"`` v = max(0, 1 - l/gamma) or ``"hard"`` v = 1[l < gamma].
    quantization_weight : weight of a quantisation term, the mean over both views of
        ``hashing.losses.quantization_sign`` (0: none, as in the paper). 1 since the fifth
        session: three seeds, last epoch, +0.008 / +0.006 and +0.012 / +0.011 mAP on the
        MIRFlickr stand-in at 50 / 80 % pairflip, +0.011 / -0.002 and +0.016 / +0.015 on
        Wikipedia, -0.001 to +0.003 on the synthetic data (docs/benchmarks.md, "Issue 15, fifth
        session").
    """

    epochs: int = 30
    batch_size: int = 256
    lr: float = 1e-4
    weight_decay: float = 0.0
    center_weight: float = 1.0
    contrastive_weight: float = 0.1
    temperature: float = 1.0
    center_temperature: float = 1.0
    robust_q: float = 0.01
    self_paced_start_epoch: int = 5
    pace: float = 5.0
    pace_growth: float = 1.0
    self_paced_variant: SelfPacedVariant = "linear"
    quantization_weight: float = 1.0


class CenterNetwork(nn.Module):
    """Maps one-hot class vectors to hash centres: W = normalize(tanh(Linear(I_C))), (C, K)."""

    def __init__(self, n_classes: int, bits: int, generator: torch.Generator) -> None:
        super().__init__()
        self.linear = nn.Linear(n_classes, bits)
        init_linear_(self.linear, generator)
        self.register_buffer("one_hot", torch.eye(n_classes), persistent=False)

    def forward(self) -> torch.Tensor:
        return F.normalize(torch.tanh(self.linear(self.one_hot)), dim=1)


class RSHNLHasher(HashMethod):
    """RSHNL: towers + a centre network; self-paced CAL + robust CHL."""

    name = "rshnl"
    settings_class = RSHNLSettings
    signals = (
        Signal(
            "rshnl_hardness",
            "high_is_suspect",
            "robust loss of the given labels, averaged over the last epochs",
        ),
        Signal("rshnl_weight", "low_is_suspect", "self-paced weight at the end of training"),
    )
    evidence_high_means_present = True
    settings: RSHNLSettings

    def build_method_parts(self, generator: torch.Generator) -> None:
        self.centers = CenterNetwork(self.n_classes, self.bits, generator)

    def pace_at(self, epoch: int) -> float:
        """gamma at 0-based ``epoch``: ``pace`` * ``pace_growth`` ** (epochs since t_p)."""
        s = self.settings
        return s.pace * s.pace_growth ** max(0, epoch - s.self_paced_start_epoch)

    def batch_loss(
        self, rows: Tensor, h_image: Tensor, h_text: Tensor, labels: Tensor, epoch: int
    ) -> BatchLoss:
        s = self.settings
        hardness = center_hardness(
            h_image, h_text, self.centers(), labels, s.center_temperature, s.robust_q
        )
        if epoch >= s.self_paced_start_epoch:
            pace = self.pace_at(epoch)
            weights = self_paced_weight(hardness, pace, s.self_paced_variant)
            center = self_paced_objective(hardness, weights, pace, s.self_paced_variant).mean()
            mean_weight = weights.mean()
        else:
            center = hardness.mean()
            mean_weight = torch.ones(())
        contrastive = contrastive_hashing_loss(h_image, h_text, s.temperature, s.robust_q)
        loss = s.center_weight * center + s.contrastive_weight * contrastive
        if s.quantization_weight:
            quantization = (quantization_sign(h_image) + quantization_sign(h_text)) / 2.0
            loss = loss + s.quantization_weight * quantization
        return loss, {
            "center": center,
            "hardness": hardness.mean(),
            "contrastive": contrastive,
            "mean_weight": mean_weight,
        }

    def epoch_signals(
        self, epoch: int, h_image: Tensor, h_text: Tensor, labels: Tensor
    ) -> EpochSignals:
        s = self.settings
        hardness = center_hardness(
            h_image, h_text, self.centers(), labels, s.center_temperature, s.robust_q
        )
        pace = self.pace_at(epoch)
        weights = self_paced_weight(hardness, pace, s.self_paced_variant)
        signals = {
            "rshnl_hardness": float32_array(hardness),
            "rshnl_weight": float32_array(weights),
        }
        return signals, {"pace": pace, "zero_weight_fraction": float((weights == 0).float().mean())}

    def final_signals(self, history: list[EpochRecord]) -> dict[str, np.ndarray]:
        """Hardness averaged over the last ``signal_average_epochs`` epochs; weight of the last."""
        if not history:
            return {}
        recent = history[-self.settings.signal_average_epochs :]
        hardness = np.mean([record["signals"]["rshnl_hardness"] for record in recent], axis=0)
        return {
            "rshnl_hardness": hardness.astype(np.float32),
            "rshnl_weight": history[-1]["signals"]["rshnl_weight"],
        }

    def label_evidence(self, h_image: Tensor, h_text: Tensor, labels: Tensor) -> np.ndarray:
        """(N, C) class probabilities averaged over both views; high = label likely present."""
        centers = self.centers()
        tau = self.settings.center_temperature
        probabilities = (
            center_log_probabilities(h_image, centers, tau).exp()
            + center_log_probabilities(h_text, centers, tau).exp()
        ) / 2.0
        return float32_array(probabilities)
