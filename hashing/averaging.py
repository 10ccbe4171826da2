"""Parameter averaging: an exponential moving average of a model's weights over optimiser steps.

Training steps the live weights; the average trails them and is what the training loop reads
after each epoch (signal pass, held-out score) and what the trained model ends with
(``HashSettings.weight_average``; ``hashing.hasher.train_method``).

In a data-parallel run every rank holds bit-identical parameters after each DDP step (the same
averaged gradient, the same optimiser state), so each rank's local average, updated from the
same values in the same order, stays identical too: no communication is needed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn


class WeightAverage:
    """The bias-corrected exponential moving average of ``model``'s parameters.

    After step t the average is ``sum_s (1 - d) d^(t-s) w_s / (1 - d^t)`` over the weights
    ``w_1..w_t`` seen at :meth:`update` (``d`` = ``decay``): the starting weights carry no weight,
    so the first epochs are not dragged towards the random initialisation (with d = 0.999 and
    70 steps an epoch, an uncorrected average would still hold 93 % of it after one epoch).
    Buffers (input scaling, fixed before training) are not trained and are left as they are.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.steps = 0
        self.parameters = list(model.parameters())
        self.averaged = [parameter.detach().clone() for parameter in self.parameters]

    @torch.no_grad()
    def update(self) -> None:
        """Fold the current parameters in (call after every optimiser step)."""
        self.steps += 1
        share = (1.0 - self.decay) / (1.0 - self.decay**self.steps)
        for average, parameter in zip(self.averaged, self.parameters, strict=True):
            average.lerp_(parameter.detach(), share)

    @torch.no_grad()
    def copy_to_model(self) -> None:
        """Overwrite the model's parameters with the average (at the end of training)."""
        for average, parameter in zip(self.averaged, self.parameters, strict=True):
            parameter.copy_(average)

    @contextlib.contextmanager
    def applied(self) -> Iterator[None]:
        """Within the block the model holds the averaged parameters; the live ones after it.

        The swap is in place (the parameter objects stay the same), so the optimiser's state and
        a ``DistributedDataParallel`` wrapper keep referring to the right tensors.
        """
        with torch.no_grad():
            live = [parameter.detach().clone() for parameter in self.parameters]
            self.copy_to_model()
        try:
            yield
        finally:
            with torch.no_grad():
                for parameter, weights in zip(self.parameters, live, strict=True):
                    parameter.copy_(weights)


def decay_for_horizon(horizon_epochs: float, steps_per_epoch: int) -> float:
    """The per-step decay whose average spans about ``horizon_epochs`` epochs.

    An exponential moving average with decay d weighs the last ``1 / (1 - d)`` steps most, so
    d = 1 - 1 / (horizon_epochs * steps_per_epoch). Counted in epochs the horizon means the same
    on 2,000 rows as on 10,000 (a fixed per-step decay spans five times as many epochs on the
    smaller data). A horizon shorter than one step gives 0 (no averaging: the live weights).
    """
    if horizon_epochs <= 0 or steps_per_epoch < 1:
        raise ValueError(
            f"horizon_epochs must be > 0 and steps_per_epoch >= 1, got {horizon_epochs}, "
            f"{steps_per_epoch}"
        )
    return max(0.0, 1.0 - 1.0 / (horizon_epochs * steps_per_epoch))


def averaged_weights(average: WeightAverage | None) -> contextlib.AbstractContextManager[None]:
    """``average.applied()``, or a block that changes nothing when averaging is off."""
    return contextlib.nullcontext() if average is None else average.applied()
