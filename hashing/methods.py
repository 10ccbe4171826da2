"""The registry of hashing methods: name -> method class (with its settings class).

Adding a method: write one module with a ``HashSettings`` subclass and a ``HashMethod`` subclass
(which declares its per-sample ``signals``), then add one line here.
"""

from __future__ import annotations

from typing import Any

from hashing.base import HashMethod, HashSettings
from hashing.nrch import NRCHHasher
from hashing.plain import PlainHasher
from hashing.rshnl import RSHNLHasher
from hashing.scbch import SCBCHHasher

METHODS: dict[str, type[HashMethod]] = {
    "plain": PlainHasher,
    "rshnl": RSHNLHasher,
    "scbch": SCBCHHasher,
    "nrch": NRCHHasher,
}


def list_methods() -> dict[str, str]:
    """Every registered method -> the first line of its class docstring (for help texts)."""
    return {name: (cls.__doc__ or name).strip().splitlines()[0] for name, cls in METHODS.items()}


def method_class(name: str) -> type[HashMethod]:
    """The method registered as ``name``; ValueError listing the known names otherwise."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown hashing method {name!r}; known: {', '.join(METHODS)}") from None


def default_settings(name: str, **overrides: Any) -> HashSettings:
    """The method's default settings with ``overrides`` applied (unknown fields are an error)."""
    settings_class = method_class(name).settings_class
    return settings_class.from_dict(overrides)


def method_of_settings(settings: HashSettings) -> str:
    """The registry name whose settings class is exactly ``type(settings)``."""
    for name, cls in METHODS.items():
        if type(settings) is cls.settings_class:
            return name
    raise ValueError(f"no registered method uses settings of type {type(settings).__name__}")
