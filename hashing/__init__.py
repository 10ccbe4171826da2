"""Noisy-label cross-modal hashing (RSHNL, SCBCH, NRCH, a plain baseline) and per-sample signals.

Depends on torch and numpy, plus faiss-cpu for the approximate neighbour index that
``hashing.neighbours`` imports only above 20,000 rows; no Parquet, no CLI, no cleanlab. The
method specifications are in docs/methods.md. The entry point is ``CrossModalHasher``; methods
are found by name in ``METHODS``; retrieval metrics live in ``hashing.retrieval``.
"""

from hashing.base import HashMethod, HashSettings
from hashing.hasher import CrossModalHasher, ProgressCallback
from hashing.methods import METHODS, SIGNAL_DIRECTIONS, default_settings
from hashing.nrch import NRCHSettings
from hashing.plain import PlainSettings
from hashing.rshnl import RSHNLSettings
from hashing.scbch import SCBCHSettings

__all__ = [
    "METHODS",
    "SIGNAL_DIRECTIONS",
    "CrossModalHasher",
    "HashMethod",
    "HashSettings",
    "NRCHSettings",
    "PlainSettings",
    "ProgressCallback",
    "RSHNLSettings",
    "SCBCHSettings",
    "default_settings",
]
