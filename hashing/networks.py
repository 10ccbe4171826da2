"""Hash towers: the MLPs that map fixed input features to continuous codes.

Both towers end in ``normalize(tanh(.))`` so a code ``h`` lies on the unit sphere of R^K and
``sign(h)`` is its binary code. The papers use hidden width 4096-8192 on 4096-d VGG features; on a
2-core CPU the default width here is 1024 (``HashSettings.image_hidden`` / ``text_hidden``), which
trains a 10k-row epoch in about a second.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def init_linear_(layer: nn.Linear, generator: torch.Generator) -> None:
    """Re-initialise ``layer`` like ``nn.Linear``'s default, but from ``generator``.

    ``nn.Linear`` draws from torch's global RNG; drawing from a passed generator keeps two models
    built with the same seed identical regardless of what else ran in the process.
    """
    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
    if layer.bias is not None:
        bound = 1.0 / math.sqrt(layer.in_features) if layer.in_features > 0 else 0.0
        nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


def make_mlp(sizes: list[int], generator: torch.Generator) -> nn.Sequential:
    """A ReLU MLP with layer widths ``sizes`` (input first, output last), no final activation."""
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        linear = nn.Linear(fan_in, fan_out)
        init_linear_(linear, generator)
        layers.append(linear)
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class HashTower(nn.Module):
    """MLP followed by ``normalize(tanh(.))``.

    Parameters
    ----------
    sizes : layer widths, input dimension first and code length K last.
    generator : seeded generator for the initial weights.

    ``forward(x)``: ``x`` (B, D) float32 -> ``h`` (B, K), each row of unit L2 norm.
    """

    def __init__(self, sizes: list[int], generator: torch.Generator) -> None:
        super().__init__()
        self.mlp = make_mlp(sizes, generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(torch.tanh(self.mlp(x)), dim=1)


def image_tower(in_dim: int, hidden: int, bits: int, generator: torch.Generator) -> HashTower:
    """Image tower in -> H -> H -> K (ReLU), as in all three papers."""
    return HashTower([in_dim, hidden, hidden, bits], generator)


def text_tower(in_dim: int, hidden: int, bits: int, generator: torch.Generator) -> HashTower:
    """Text tower in -> H -> K (ReLU), as in all three papers."""
    return HashTower([in_dim, hidden, bits], generator)
