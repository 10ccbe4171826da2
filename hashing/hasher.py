"""The shared training loop and ``CrossModalHasher``, the one facade over every method.

>>> hasher = CrossModalHasher("nrch", bits=64, seed=0).fit(image, text, labels)  # doctest: +SKIP
>>> hasher.signals_["nrch_clean_posterior"]          # (N,) low = suspect       # doctest: +SKIP
>>> codes = hasher.encode_image(query_image)         # (Q, 64) int8 in {-1, +1} # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hashing.base import EpochRecord, HashMethod, HashSettings
from hashing.methods import default_settings, method_class, method_of_settings
from hashing.retrieval import sign_codes

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, dict[str, float]], None]
"""``progress(epoch, n_epochs, logs)`` after each epoch; ``epoch`` counts completed epochs (1..n)
and ``logs`` holds that epoch's scalar history entries (mean loss terms, timings, method logs)."""

STATE_FORMAT = "hashaudit.cross_modal_hasher/1"
MIN_BITS, MAX_BITS = 8, 256


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``device`` as given, else ``cuda`` when available, else ``cpu``."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def shuffled_batches(
    n_rows: int, batch_size: int, generator: torch.Generator
) -> list[torch.Tensor]:
    """A seeded permutation of ``range(n_rows)`` cut into batches of ``batch_size``.

    A final batch of a single row is merged into the one before it: the batch losses compare
    rows with each other and need at least two.
    """
    order = torch.randperm(n_rows, generator=generator)
    batches = list(torch.split(order, batch_size))
    if len(batches) > 1 and batches[-1].numel() < 2:
        batches[-2] = torch.cat([batches[-2], batches.pop()])
    return batches


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
    """
    settings = model.settings
    groups = model.parameter_groups()
    optimizer: torch.optim.Optimizer
    if settings.optimizer == "adam":
        optimizer = torch.optim.Adam(groups, lr=settings.lr, weight_decay=settings.weight_decay)
    else:
        optimizer = torch.optim.RMSprop(groups, lr=settings.lr, weight_decay=settings.weight_decay)
    model.fit_input_scaling(image, text)
    model.start_training(labels)
    history: list[EpochRecord] = []
    for epoch in range(settings.epochs):
        started = time.perf_counter()
        model.train()
        totals: dict[str, float] = {}
        for rows_cpu in shuffled_batches(labels.shape[0], settings.batch_size, generator):
            rows = rows_cpu.to(labels.device)
            h_image, h_text = model(image[rows], text[rows])
            loss, terms = model.batch_loss(rows, h_image, h_text, labels[rows], epoch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            weight = float(rows.numel())
            for key, value in {"loss": loss, **terms}.items():
                totals[key] = totals.get(key, 0.0) + weight * float(value.detach())
        record: EpochRecord = {"epoch": epoch + 1}
        record.update({key: value / labels.shape[0] for key, value in totals.items()})
        record["train_seconds"] = time.perf_counter() - started
        started = time.perf_counter()
        signals: dict[str, np.ndarray] = {}
        if model.needs_epoch_pass:
            h_image_all, h_text_all = encode_continuous(
                model, image, text, settings.eval_batch_size
            )
            with torch.no_grad():
                signals, logs = model.epoch_signals(epoch, h_image_all, h_text_all, labels)
            record.update(logs)
        record["signal_seconds"] = time.perf_counter() - started
        scalars = {key: value for key, value in record.items() if key != "epoch"}
        record["signals"] = signals
        history.append(record)
        logger.debug("epoch %d/%d %s", epoch + 1, settings.epochs, scalars)
        if progress is not None:
            progress(epoch + 1, settings.epochs, scalars)
    return history


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
    signals_ : dict name -> (N,) float32, the method's per-sample signals (see
        ``hashing.methods.SIGNAL_DIRECTIONS`` for which end is suspect); empty for ``plain``.
    label_evidence_ : (N, C) float32 per-label evidence, or None (``plain``).
    evidence_high_means_present_ : True when a high evidence value means "label present"
        (SCBCH, RSHNL), False when low means present (NRCH residuals), None without evidence.
    history_ : per-epoch dicts (see ``train_method``).
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
        self.device = resolve_device(device)

    def _build(self, image_dim: int, text_dim: int, n_classes: int) -> torch.Generator:
        generator = torch.Generator().manual_seed(self.seed)
        model = method_class(self.method)(
            self.settings, image_dim, text_dim, n_classes, self.bits, generator
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
        self.signals_ = self.model_.final_signals(self.history_)
        h_image, h_text = encode_continuous(
            self.model_, image_t, text_t, self.settings.eval_batch_size
        )
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
        settings = method_class(state["method"]).settings_class.from_dict(state["settings"])
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
