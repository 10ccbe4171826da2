"""``clip:MODEL:PRETRAINED``: an open_clip model (and the tiny random one for tests)."""

from __future__ import annotations

import json
import logging
import os
import pickle
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from auditor.dataset import DataError
from auditor.encoders.base import (
    TINY_CLIP_MODEL,
    TorchEncoder,
    available_specs_hint,
    package_version,
    quiet_third_party,
)
from auditor.io import file_fingerprint

logger = logging.getLogger(__name__)

# A tiny open_clip architecture (ViT 32 px, 2 layers of width 64 in each tower) for tests: random
# weights, ~3.4M parameters (mostly the 49408-token embedding), milliseconds per batch on a CPU.
TINY_CLIP_CONFIG: dict[str, Any] = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "head_width": 32, "patch_size": 8},
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


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


class ClipEncoder(TorchEncoder):
    """An open_clip model's image and text towers; vectors are L2-normalised (CLIP's cosine space).

    Random weights (no PRETRAINED) are drawn from a seeded generator, so two runs agree.
    """

    cache_name = "clip"

    def __init__(
        self, spec: str, device: str | None = None, bf16: bool = False, seed: int = 0
    ) -> None:
        import open_clip

        parsed = parse_clip_spec(spec)
        register_tiny_clip_config()
        super().__init__(device, bf16)
        self.spec = parsed.spec
        self.name = f"open_clip {parsed.model} ({parsed.pretrained or 'random weights'})"
        self._parsed = parsed
        self._seed = seed
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
        quiet = quiet_third_party(_uses_hf_text_tower(parsed.model))
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
            except pickle.UnpicklingError as error:
                # torch refused it with weights_only=True: it holds more than tensors
                raise DataError(
                    "not a plain weights file (it holds pickled objects or code, which are "
                    "never executed): it was not loaded; use a checkpoint of tensors only",
                    file=str(parsed.pretrained),
                ) from error
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
        return not tag_weights_cached(parsed.model, parsed.pretrained)

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

    def _weights_parts(self) -> dict[str, Any]:
        return {
            "model": self._parsed.model,
            "weights": self._weights_id or ("random", self._seed),
            "open_clip": package_version("open_clip_torch"),
        }

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


def tag_weights_cached(model: str, tag: str) -> bool:
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
