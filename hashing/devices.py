"""The one rule for ``--device``: what ``None``/``auto`` means and which names are accepted."""

from __future__ import annotations

from typing import Any


def resolve_device(device: Any = None) -> str:
    """``None``/``""``/``auto`` -> ``cuda`` when a GPU is usable, else ``cpu``; ``cpu``, ``cuda``
    and ``cuda:N`` as given (a ``torch.device`` too).

    Raises ValueError for any other name, and for cuda when no GPU is usable (torch is imported
    here, not at module import, so callers that never resolve a device stay torch-free).
    """
    import torch

    text = "" if device is None else str(device).strip()
    if text in ("", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not (text == "cpu" or text == "cuda" or (text.startswith("cuda:") and text[5:].isdigit())):
        raise ValueError(f"--device {text}: expected cpu, cuda, cuda:N or auto")
    if text.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {text}: no CUDA GPU is available here; use --device cpu")
    return text
