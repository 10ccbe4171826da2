"""The shared training loop and ``CrossModalHasher``, the one facade over every method.

>>> hasher = CrossModalHasher("nrch", bits=64, seed=0).fit(image, text, labels)  # doctest: +SKIP
>>> hasher.signals_["nrch_clean_posterior"]          # (N,) low = suspect       # doctest: +SKIP
>>> codes = hasher.encode_image(query_image)         # (Q, 64) int8 in {-1, +1} # doctest: +SKIP
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from hashing.averaging import WeightAverage, averaged_weights, decay_for_horizon
from hashing.base import EpochRecord, HashMethod, HashSettings
from hashing.devices import resolve_device
from hashing.methods import default_settings, method_class, method_of_settings
from hashing.retrieval import average_precision_per_query, sign_codes
from hashing.runtime.distributed import WorldInfo, gather_rows, shard_bounds, shard_sizes, world

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, dict[str, float]], None]
"""``progress(epoch, n_epochs, logs)`` after each epoch; ``epoch`` counts completed epochs (1..n)
and ``logs`` holds that epoch's scalar history entries (mean loss terms, timings, method logs).
With ``weight_average`` on, the model holds the averaged weights during the call. When the
stopping rule refits (``HashSettings.holdout_refit``), the refit's E epochs follow the selection
run's n: they are reported as n+1 .. n+E of n+E."""

STATE_FORMAT = "hashaudit.cross_modal_hasher/1"
MIN_BITS, MAX_BITS = 8, 256

# Settings added after models were first saved, with the value that behaves as the code that
# saved a model without them did: a model's settings must describe how it was trained, not
# today's defaults (SCBCH's default horizon is 5, but a model saved before the field existed
# was not averaged that way; its settings may even hold a per-step decay the two would clash with;
# NRCH's constants for shared pairs weighed 1 before their weight was a setting). Each applies to
# the methods whose settings have the field.
SETTINGS_BEFORE_THEY_EXISTED: dict[str, Any] = {
    "weight_average_epochs": 0.0,
    "shared_pair_weight": 1.0,
    "holdout_refit": False,
    "holdout_min_rows": 0,
}


def shuffled_batches(
    n_rows: int, batch_size: int, generator: torch.Generator
) -> list[torch.Tensor]:
    """A seeded permutation of ``range(n_rows)`` cut into batches of ``batch_size``.

    A final batch of a single row is merged into the one before it: the batch losses compare
    rows with each other and need at least two.
    """
    order = torch.randperm(n_rows, generator=generator)
    starts = range(0, batches_per_epoch(n_rows, batch_size) * batch_size, batch_size)
    return [order[start : start + batch_size] for start in starts[:-1]] + [order[starts[-1] :]]


def batches_per_epoch(n_rows: int, batch_size: int) -> int:
    """How many batches ``shuffled_batches(n_rows, batch_size, ...)`` cuts (optimiser steps):
    one per ``batch_size`` rows begun, less one when the last would hold a single row (it
    joins the batch before it), and at least one."""
    batches = math.ceil(n_rows / batch_size)
    return max(1, batches - 1 if batches > 1 and n_rows % batch_size == 1 else batches)


def averaging_decay(settings: HashSettings, n_train_rows: int) -> float:
    """The per-step decay of the weight average ``settings`` asks for; 0 when it is off.

    ``weight_average`` is a per-step decay as given; ``weight_average_epochs`` a horizon in
    epochs, turned into the decay for this run's steps an epoch.
    """
    if settings.weight_average_epochs > 0:
        steps = batches_per_epoch(n_train_rows, settings.batch_size)
        return decay_for_horizon(settings.weight_average_epochs, steps)
    return settings.weight_average


def holdout_size(n_rows: int, fraction: float, min_rows: int = 0) -> int:
    """Rows the stopping rule holds out of ``n_rows``: ``round(fraction * n_rows)``, at least 2
    (retrieval among them needs two) and at most ``n_rows - 2``; 0 when ``fraction == 0`` or
    the slice would hold fewer than ``min_rows``. Raises ValueError when fewer than 4 rows
    leave no room for a slice."""
    if fraction <= 0.0 or round(fraction * n_rows) < min_rows:
        return 0
    n_holdout = min(max(2, int(round(fraction * n_rows))), n_rows - 2)
    if n_holdout < 2:
        raise ValueError(f"{n_rows} rows are too few to hold out a selection slice")
    return n_holdout


def holdout_split(
    n_rows: int, fraction: float, generator: torch.Generator, min_rows: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Split ``range(n_rows)`` into (train_rows, holdout_rows), both sorted int64 tensors.

    ``round(fraction * n_rows)`` rows, drawn with ``generator``, are held out, at least 2 when
    ``fraction > 0`` (retrieval among them needs two) and never so many that fewer than 2 rows
    are left to train on. ``fraction == 0``, or a slice of fewer than ``min_rows`` rows, holds
    out nothing and draws nothing.
    """
    n_holdout = holdout_size(n_rows, fraction, min_rows)
    if n_holdout == 0:
        return torch.arange(n_rows), torch.arange(0)
    order = torch.randperm(n_rows, generator=generator)
    return order[n_holdout:].sort().values, order[:n_holdout].sort().values


def holdout_query_ap(
    image_codes: torch.Tensor, text_codes: torch.Tensor, labels: torch.Tensor
) -> np.ndarray:
    """(H', 2) average precision of each held-out row with a label as a query among the
    held-out rows (rows without a label have nothing to find and are left out).

    ``image_codes``, ``text_codes`` (H, K) continuous codes and ``labels`` (H, C) given (noisy)
    labels of the held-out rows only. Column 0: the row's image code ranks the slice's text
    codes; column 1: its text code ranks the image codes; relevance from the given labels.
    The slice is scored among itself, not against the trained rows: against them the score
    rewards codes that memorise the trained rows' noisy labels (MIRFlickr stand-in, NRCH,
    pairflip 0.8: it kept epoch 51, 0.729 mean mAP on the test queries, where among the slice
    it kept epoch 2, 0.761, the best of all 60).
    """
    image = sign_codes(image_codes.cpu().numpy())
    text = sign_codes(text_codes.cpu().numpy())
    given = labels.cpu().numpy()
    queries = given.any(axis=1)
    return np.stack(
        [
            average_precision_per_query(image[queries], text, given[queries], given),
            average_precision_per_query(text[queries], image, given[queries], given),
        ],
        axis=1,
    )


def holds_up_against(scores: np.ndarray, best: np.ndarray, standard_errors: float) -> bool:
    """Whether an epoch's held-out scores are within ``standard_errors`` standard errors of the
    best epoch's.

    ``scores``, ``best`` (H,): per-query scores of the same held-out rows at two epochs. The
    mean of the paired differences is compared with its standard error; with fewer than two
    rows, any drop counts.
    """
    differences = np.asarray(scores, dtype=np.float64) - np.asarray(best, dtype=np.float64)
    if differences.size < 2:
        return bool(differences.mean() >= 0.0)
    standard_error = differences.std(ddof=1) / math.sqrt(differences.size)
    return bool(differences.mean() >= -standard_errors * standard_error)


@dataclass
class EpochSelection:
    """The stopping rule's choice, epoch by epoch: the LATEST epoch whose held-out scores stay
    within two standard errors of the best epoch's (:func:`holds_up_against`).

    Keeping the best epoch outright followed the noise of a small slice: on Wikipedia (about
    200 held-out rows, single-label, pairflip 0.5) the slice's score was flat within ±0.01 while
    the test queries' text->image mAP rose from 0.22 to 0.50, and the best-scoring epoch was
    epoch 1 or 2 in two of three seeds (NRCH: 0.224 mean mAP on the test queries instead of
    0.367 at the last epoch). Training goes on unless the slice says, beyond its own noise, that
    it got worse; on the MIRFlickr stand-in, where the robust losses fit the noise after a few
    epochs, the drop is clear and the rule keeps the early epoch all the same.

    The tolerance, two standard errors, was chosen on per-epoch curves of four hashers on three
    datasets (docs/benchmarks.md, "Issue 15, continued"; ``examples/bench_stopping.py``): summed
    over the 22 dataset / rate / hasher cells, the gain over the last epoch was -0.146 for the
    best epoch, +0.003 within one standard error and +0.046 within two; all three keep the
    MIRFlickr stand-in's early epochs (+0.014 to +0.041 for the robust hashers).

    ``selected`` is the 1-based epoch chosen so far (0 before any), ``best`` the best epoch's
    (H,) scores, ``standard_errors`` the tolerance. The selected epoch is never before the best
    one, so one saved state suffices.
    """

    selected: int = 0
    best: np.ndarray | None = None
    standard_errors: float = 2.0

    def offer(self, epoch: int, scores: np.ndarray) -> bool:
        """Record ``epoch``'s (H,) per-query scores; True when it becomes the selected epoch."""
        if self.best is None or float(np.mean(scores)) > float(np.mean(self.best)):
            self.best = np.asarray(scores)
        elif not holds_up_against(scores, self.best, self.standard_errors):
            return False
        self.selected = epoch
        return True


@torch.no_grad()
def encode_continuous(
    model: HashMethod, image: torch.Tensor, text: torch.Tensor, batch_rows: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, K), (N, K) continuous codes of all rows, in eval mode, ``batch_rows`` at a time."""
    was_training = model.training
    model.eval()
    image_codes = torch.cat([model.encode_image(chunk) for chunk in torch.split(image, batch_rows)])
    text_codes = torch.cat([model.encode_text(chunk) for chunk in torch.split(text, batch_rows)])
    model.train(was_training)
    return image_codes, text_codes


def encode_rows(
    model: HashMethod, image: torch.Tensor, text: torch.Tensor, batch_rows: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, K), (N, K) continuous codes of all rows, like ``encode_continuous``; in a distributed
    run each rank encodes its contiguous shard of the rows and the shards are all-gathered, so
    every rank returns the codes of all N rows."""
    info = world()
    if not info.is_distributed:
        return encode_continuous(model, image, text, batch_rows)
    n_rows = image.shape[0]
    start, stop = shard_bounds(n_rows, info.rank, info.world_size)
    image_codes, text_codes = encode_continuous(
        model, image[start:stop], text[start:stop], batch_rows
    )
    sizes = shard_sizes(n_rows, info.world_size)
    return (
        gather_rows(image_codes, sizes, with_grad=False),
        gather_rows(text_codes, sizes, with_grad=False),
    )


def _global_batch_codes(
    towers: torch.nn.Module,
    image: torch.Tensor,
    text: torch.Tensor,
    rows: torch.Tensor,
    info: WorldInfo,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, K), (B, K) codes of the global batch ``rows`` with a graph to the towers.

    Alone: one forward pass. Distributed: this rank's forward pass on its contiguous shard of
    ``rows`` through the DDP-wrapped ``towers``, then an all-gather with autograd, so the codes
    are those of all B rows in batch order on every rank.
    """
    if not info.is_distributed:
        return towers(image[rows], text[rows])
    start, stop = shard_bounds(rows.numel(), info.rank, info.world_size)
    local = rows[start:stop]
    h_image, h_text = towers(image[local], text[local])
    sizes = shard_sizes(rows.numel(), info.world_size)
    return (
        gather_rows(h_image, sizes, with_grad=True),
        gather_rows(h_text, sizes, with_grad=True),
    )


def _wrap_data_parallel(model: HashMethod, info: WorldInfo) -> torch.nn.Module:
    """The module the training forward passes go through: ``model`` itself alone, else a
    ``DistributedDataParallel`` wrapper that averages every parameter's gradient over the ranks.

    Parameters outside the towers (prototypes, heads, centres) enter only the loss, which every
    rank computes on the whole batch: their gradients are equal on all ranks and the average
    keeps them. Every parameter gets a gradient at every step, so no unused-parameter search.
    Buffers (input scaling) are equal on all ranks once DDP has broadcast rank 0's state.
    """
    if not info.is_distributed:
        return model
    device = next(model.parameters()).device
    device_ids = None
    if device.type == "cuda":
        device_ids = [device.index if device.index is not None else torch.cuda.current_device()]
    return DistributedDataParallel(model, device_ids=device_ids, forward_sync_buffers=False)


def train_method(
    model: HashMethod,
    image: torch.Tensor,
    text: torch.Tensor,
    labels: torch.Tensor,
    generator: torch.Generator,
    progress: ProgressCallback | None = None,
) -> list[EpochRecord]:
    """Train ``model`` on all rows; return the per-epoch history.

    Parameters
    ----------
    model : a method built on the same device as the tensors.
    image, text : (N, Di), (N, Dt) float32 features; labels : (N, C) float32 0/1 noisy labels.
    generator : seeded CPU generator for the batch order.
    progress : optional callback, see ``ProgressCallback``.

    Returns
    -------
    One dict per epoch: ``epoch`` (1-based), ``loss`` and the method's loss terms (means over
    rows), ``train_seconds``, ``signal_seconds``, the method's scalar logs, and ``signals``
    (name -> (N,) float32 array of that epoch; empty for methods without signals).
    With ``settings.holdout_fraction > 0`` (the stopping rule) also ``holdout_map_i2t`` and
    ``holdout_map_t2i``; the best epoch's record gets ``selected: True`` and the model ends with
    that epoch's weights (the signals in the history stay those of each epoch).
    ``CrossModalHasher.fit`` then trains again on every row for that many epochs when
    ``settings.holdout_refit`` is on.
    With averaging on (``settings.weight_average`` or ``weight_average_epochs`` > 0) the signal
    pass, the held-out score, ``progress`` and the final weights read the moving average of the
    weights (``hashing.averaging``); the optimiser keeps stepping the live ones.

    In a distributed run (an initialised ``torch.distributed`` process group of W > 1 ranks,
    e.g. under ``torchrun``) every rank calls this with the same tensors, the same seed and the
    same ``settings.batch_size``, which stays the GLOBAL batch: each rank runs the towers on its
    shard of every batch and of the per-epoch signal pass (see ``hashing.runtime.distributed``); the
    returned history and the trained weights are the same on every rank and equal those of a
    one-process run up to float rounding.
    """
    settings = model.settings
    info = world()
    groups = model.parameter_groups()
    optimizer: torch.optim.Optimizer
    if settings.optimizer == "adam":
        optimizer = torch.optim.Adam(groups, lr=settings.lr, weight_decay=settings.weight_decay)
    else:
        optimizer = torch.optim.RMSprop(groups, lr=settings.lr, weight_decay=settings.weight_decay)
    train_rows, holdout = holdout_split(
        labels.shape[0], settings.holdout_fraction, generator, settings.holdout_min_rows
    )
    model.fit_input_scaling(image, text)
    model.start_training(labels)
    towers = _wrap_data_parallel(model, info)
    # created after the wrap, from the parameters DDP broadcast from rank 0
    decay = averaging_decay(settings, train_rows.numel())
    average = WeightAverage(model, decay) if decay > 0 else None
    history: list[EpochRecord] = []
    selected_state: dict[str, torch.Tensor] | None = None
    selection = EpochSelection()
    for epoch in range(settings.epochs):
        started = time.perf_counter()
        model.train()
        totals: dict[str, float] = {}
        for batch in shuffled_batches(train_rows.numel(), settings.batch_size, generator):
            rows = train_rows[batch].to(labels.device)
            h_image, h_text = _global_batch_codes(towers, image, text, rows, info)
            loss, terms = model.batch_loss(rows, h_image, h_text, labels[rows], epoch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if average is not None:
                average.update()
            weight = float(rows.numel())
            for key, value in {"loss": loss, **terms}.items():
                totals[key] = totals.get(key, 0.0) + weight * float(value.detach())
        record: EpochRecord = {"epoch": epoch + 1}
        record.update({key: value / train_rows.numel() for key, value in totals.items()})
        record["train_seconds"] = time.perf_counter() - started
        started = time.perf_counter()
        signals: dict[str, np.ndarray] = {}
        if model.needs_epoch_pass:
            # The signals read the averaged weights, as everything after a step does: the final
            # signals and evidence then describe the model that is handed out, and the per-sample
            # state steering the next epoch (NRCH's kept rows, SCBCH's reliabilities) comes from
            # the weights that fit the noise later (mean-teacher style selection).
            with averaged_weights(average):
                h_image_all, h_text_all = encode_rows(model, image, text, settings.eval_batch_size)
            with torch.no_grad():
                # every rank computes the same signals and per-sample state from the same codes
                signals, logs = model.epoch_signals(epoch, h_image_all, h_text_all, labels)
            record.update(logs)
        record["signal_seconds"] = time.perf_counter() - started
        if holdout.numel():
            held = holdout.to(labels.device)
            with averaged_weights(average):
                codes = encode_continuous(model, image[held], text[held], settings.eval_batch_size)
                query_ap = holdout_query_ap(*codes, labels[held])
                record.update(holdout_map_i2t=float(query_ap[:, 0].mean()))
                record.update(holdout_map_t2i=float(query_ap[:, 1].mean()))
                if selection.offer(epoch + 1, query_ap.mean(axis=1)):
                    selected_state = copy.deepcopy(model.state_dict())
        scalars = {key: value for key, value in record.items() if key != "epoch"}
        record["signals"] = signals
        history.append(record)
        logger.debug("epoch %d/%d %s", epoch + 1, settings.epochs, scalars)
        if progress is not None:
            # a callback that reads the model (examples/bench_train.py scores it) sees the
            # weights the epoch would end training with
            with averaged_weights(average):
                progress(epoch + 1, settings.epochs, scalars)
    if average is not None:
        average.copy_to_model()
    if selected_state is not None:
        # the stopping rule: the weights of the epoch the held-out slice selected
        model.load_state_dict(selected_state)
        history[selection.selected - 1]["selected"] = True
    return history


def _after(progress: ProgressCallback | None, done: int) -> ProgressCallback | None:
    """``progress`` for a second run that follows ``done`` epochs: its epochs count on from
    there, so a progress bar keeps rising (a refit of E epochs reports done+1 .. done+E of
    done+E)."""
    if progress is None:
        return None

    def report(epoch: int, n_epochs: int, logs: dict[str, float]) -> None:
        progress(done + epoch, done + n_epochs, logs)

    return report


def _as_features(name: str, values: Any) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty (N, D) matrix, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{name} must be numeric, got dtype {array.dtype}")
    array = array.astype(np.float32, copy=False)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _as_labels(values: Any, n_rows: int) -> np.ndarray:
    labels = np.asarray(values)
    if labels.ndim != 2 or labels.shape[0] != n_rows or labels.shape[1] == 0:
        raise ValueError(
            f"labels must be an (N, C) multi-hot matrix with N = {n_rows}, got {labels.shape}"
        )
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("labels must contain only 0 and 1")
    empty = np.flatnonzero(labels.sum(axis=1) == 0)
    if empty.size:
        raise ValueError(
            f"{empty.size} row(s) have no label (first: row {int(empty[0])}); every row needs one"
        )
    return labels.astype(np.float32)


class CrossModalHasher:
    """Train one cross-modal hashing method and read its codes and per-sample signals.

    Parameters
    ----------
    method : a registered name (``"plain"``, ``"rshnl"``, ``"scbch"``, ``"nrch"``) for its default
        settings, or a settings instance (``NRCHSettings(epochs=20)``, ...) naming the method by
        its type.
    bits : code length K, 8..256.
    seed : seeds the initial weights and the batch order (CPU runs are then deterministic).
    device : ``"cpu"``, ``"cuda"``, ... ; None picks cuda when available.

    Attributes after ``fit``
    ------------------------
    model_ : the trained ``HashMethod`` (an ``nn.Module``).
    signals_ : dict name -> (N,) float32, the method's per-sample signals (its class's
        ``signals`` say which end is suspect); empty for ``plain``.
    label_evidence_ : (N, C) float32 per-label evidence, or None (``plain``).
    evidence_high_means_present_ : True when a high evidence value means "label present"
        (SCBCH, RSHNL), False when low means present (NRCH residuals), None without evidence.
    history_ : per-epoch dicts (see ``train_method``) of the run that made the model.
    selected_epoch_ : the epoch whose weights the model holds (the last one unless the
        stopping rule, ``settings.holdout_fraction`` > 0, picked an earlier one).
    selection_history_ : with the stopping rule and ``settings.holdout_refit``, the history of
        the run that held the slice out and picked ``selected_epoch_`` (its records carry the
        slice's scores); ``history_`` is then the refit on every row. None otherwise.
    holdout_rows_ : rows the stopping rule held out (0: the rule was off, or its slice would
        have been smaller than ``settings.holdout_min_rows``).
    n_classes_, image_dim_, text_dim_ : shapes seen in ``fit``. fit_seconds_ : wall time.
    """

    def __init__(
        self,
        method: str | HashSettings = "nrch",
        bits: int = 64,
        seed: int = 0,
        device: str | torch.device | None = None,
    ) -> None:
        if isinstance(method, HashSettings):
            self.method = method_of_settings(method)
            self.settings = method
        else:
            self.method = method_class(method).name
            self.settings = default_settings(method)
        self.settings.validate()
        if not MIN_BITS <= int(bits) <= MAX_BITS:
            raise ValueError(f"bits must be in {MIN_BITS}..{MAX_BITS}, got {bits}")
        self.bits = int(bits)
        self.seed = int(seed)
        self.device = torch.device(resolve_device(device))

    def _build(
        self, image_dim: int, text_dim: int, n_classes: int, settings: HashSettings | None = None
    ) -> torch.Generator:
        generator = torch.Generator().manual_seed(self.seed)
        model = method_class(self.method)(
            settings or self.settings, image_dim, text_dim, n_classes, self.bits, generator
        )
        self.model_ = model.to(self.device)
        self.image_dim_, self.text_dim_, self.n_classes_ = image_dim, text_dim, n_classes
        return generator

    def fit(
        self,
        image: np.ndarray,
        text: np.ndarray,
        labels: np.ndarray,
        progress: ProgressCallback | None = None,
    ) -> CrossModalHasher:
        """Train on N rows: ``image`` (N, Di) and ``text`` (N, Dt) float features, ``labels``
        (N, C) 0/1 noisy multi-hot labels (uint8 or any 0/1 dtype; every row at least one label).

        Raises ValueError on mismatched shapes, non-finite features, non-0/1 labels, rows
        without labels or fewer than two rows.

        Under ``torch.distributed`` (a process group of W > 1 ranks, e.g. ``torchrun``) every
        rank calls ``fit`` with the same arrays and seed; training is data-parallel (see
        ``train_method``) and every rank ends with the same model, signals and evidence.
        """
        image_array = _as_features("image", image)
        text_array = _as_features("text", text)
        if text_array.shape[0] != image_array.shape[0]:
            raise ValueError(
                "image and text must have the same rows, got "
                f"{image_array.shape[0]} and {text_array.shape[0]}"
            )
        if image_array.shape[0] < 2:
            raise ValueError("fit needs at least two rows")
        label_array = _as_labels(labels, image_array.shape[0])
        started = time.perf_counter()
        generator = self._build(image_array.shape[1], text_array.shape[1], label_array.shape[1])
        image_t = torch.from_numpy(image_array).to(self.device)
        text_t = torch.from_numpy(text_array).to(self.device)
        labels_t = torch.from_numpy(label_array).to(self.device)
        self.history_ = train_method(self.model_, image_t, text_t, labels_t, generator, progress)
        self.holdout_rows_ = holdout_size(
            label_array.shape[0], self.settings.holdout_fraction, self.settings.holdout_min_rows
        )
        self.selected_epoch_ = next(
            (record["epoch"] for record in self.history_ if record.get("selected")),
            len(self.history_),
        )
        self.selection_history_: list[EpochRecord] | None = None
        if self.holdout_rows_ and self.settings.holdout_refit:
            # the same initial weights and batch order as a run of selected_epoch_ epochs
            # without the rule: the slice only chose how long to train
            refit = dataclasses.replace(
                self.settings, holdout_fraction=0.0, epochs=self.selected_epoch_
            )
            generator = self._build(
                image_array.shape[1], text_array.shape[1], label_array.shape[1], refit
            )
            self.selection_history_ = self.history_
            self.history_ = train_method(
                self.model_,
                image_t,
                text_t,
                labels_t,
                generator,
                _after(progress, self.settings.epochs),
            )
        self.signals_ = self.model_.final_signals(self.history_)
        h_image, h_text = encode_rows(self.model_, image_t, text_t, self.settings.eval_batch_size)
        with torch.no_grad():
            self.label_evidence_ = self.model_.label_evidence(h_image, h_text, labels_t)
        self.evidence_high_means_present_ = self.model_.evidence_high_means_present
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def _check_fitted(self) -> HashMethod:
        if not hasattr(self, "model_"):
            raise RuntimeError("this CrossModalHasher is not fitted; call fit() or load() first")
        return self.model_

    @torch.no_grad()
    def _encode(
        self,
        features: np.ndarray,
        encoder: Callable[[torch.Tensor], torch.Tensor],
        name: str,
        dim: int,
    ) -> np.ndarray:
        array = _as_features(name, features)
        if array.shape[1] != dim:
            raise ValueError(
                f"{name} features have {array.shape[1]} columns, the model expects {dim}"
            )
        self._check_fitted().eval()
        step = self.settings.eval_batch_size
        chunks = [
            encoder(torch.from_numpy(array[start : start + step]).to(self.device))
            for start in range(0, array.shape[0], step)
        ]
        return sign_codes(torch.cat(chunks).cpu().numpy())

    def encode_image(self, image: np.ndarray) -> np.ndarray:
        """(M, Di) image features -> (M, K) int8 binary codes in {-1, +1} (sign(0) = +1)."""
        model = self._check_fitted()
        return self._encode(image, model.encode_image, "image", self.image_dim_)

    def encode_text(self, text: np.ndarray) -> np.ndarray:
        """(M, Dt) text features -> (M, K) int8 binary codes in {-1, +1} (sign(0) = +1)."""
        model = self._check_fitted()
        return self._encode(text, model.encode_text, "text", self.text_dim_)

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to rebuild the trained model: JSON-able metadata plus CPU weights."""
        model = self._check_fitted()
        return {
            "format": STATE_FORMAT,
            "method": self.method,
            "settings": self.settings.to_dict(),
            "bits": self.bits,
            "seed": self.seed,
            "image_dim": self.image_dim_,
            "text_dim": self.text_dim_,
            "n_classes": self.n_classes_,
            "weights": {key: value.detach().cpu() for key, value in model.state_dict().items()},
        }

    def save(self, path: str | Path) -> None:
        """Write ``state_dict()`` with ``torch.save``."""
        torch.save(self.state_dict(), Path(path))

    @classmethod
    def from_state_dict(
        cls, state: dict[str, Any], device: str | torch.device | None = None
    ) -> CrossModalHasher:
        """Rebuild a fitted hasher (codes only: signals and history are not stored)."""
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"not a saved CrossModalHasher (format {state.get('format')!r})")
        settings_class = method_class(state["method"]).settings_class
        fields = {field.name for field in dataclasses.fields(settings_class)}
        missing = {k: v for k, v in SETTINGS_BEFORE_THEY_EXISTED.items() if k in fields}
        settings = settings_class.from_dict({**missing, **state["settings"]})
        hasher = cls(settings, bits=state["bits"], seed=state["seed"], device=device)
        hasher._build(state["image_dim"], state["text_dim"], state["n_classes"])
        hasher.model_.load_state_dict(state["weights"])
        hasher.model_.eval()
        return hasher

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device | None = None) -> CrossModalHasher:
        """Load a hasher written by ``save``."""
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
        return cls.from_state_dict(state, device=device)
