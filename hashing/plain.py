"""``plain``: the same towers trained with a plain label-similarity loss and no noise handling.

It takes every given label at face value, so it is the reference the noise-robust methods must
beat. It has no per-sample signals and no label evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from hashing.base import BatchLoss, HashMethod, HashSettings
from hashing.losses import pairwise_similarity_loss, quantization_l2


@dataclass(frozen=True)
class PlainSettings(HashSettings):
    """Settings of ``plain`` (Adam, lr 1e-4, batch 128, 30 epochs: its best of lr 1e-4, 3e-4 and
    1e-3 on synthetic data, so the robust methods are compared with a tuned baseline).

    quantization_weight : weight of the quantisation term next to the similarity loss.
    """

    epochs: int = 30
    batch_size: int = 128
    lr: float = 1e-4
    weight_decay: float = 1e-5
    quantization_weight: float = 0.1


class PlainHasher(HashMethod):
    """Loss: mean (h1_i . h2_j - t_ij)^2 with t = +1 for pairs sharing a label, -1 otherwise,
    plus ``quantization_weight`` * the quantisation term of both views."""

    name = "plain"
    settings_class = PlainSettings
    needs_epoch_pass = False
    settings: PlainSettings

    def batch_loss(
        self, rows: Tensor, h_image: Tensor, h_text: Tensor, labels: Tensor, epoch: int
    ) -> BatchLoss:
        similarity = pairwise_similarity_loss(h_image, h_text, labels)
        quantization = (quantization_l2(h_image) + quantization_l2(h_text)) / 2.0
        loss = similarity + self.settings.quantization_weight * quantization
        return loss, {"similarity": similarity, "quantization": quantization}
