"""Noisy-label cross-modal hashing (RSHNL, SCBCH, NRCH, a plain baseline) and per-sample signals.

torch + numpy only. The entry point is ``CrossModalHasher``; methods are found by name in
``METHODS``; retrieval metrics live in ``hashing.retrieval``.
"""

from hashing.base import HashMethod, HashSettings
from hashing.hasher import CrossModalHasher, ProgressCallback
from hashing.methods import METHODS, default_settings, list_methods
from hashing.nrch import NRCHSettings
from hashing.plain import PlainSettings
from hashing.rshnl import RSHNLSettings
from hashing.scbch import SCBCHSettings

__all__ = [
    "METHODS",
    "CrossModalHasher",
    "HashMethod",
    "HashSettings",
    "NRCHSettings",
    "PlainSettings",
    "ProgressCallback",
    "RSHNLSettings",
    "SCBCHSettings",
    "default_settings",
    "list_methods",
]
