"""hashaudit's audit library: find wrong labels in multi-label image–text datasets.

The notebook API (:mod:`auditor.api`)::

    import auditor
    result = auditor.scan(df)                      # DataFrame, Parquet path or AuditDataset
    result.issues, result.cells, result.summary    # audit.parquet, label_issues, summary.json
    result.save("out/")                            # the folder `audit scan` writes
    cleaned = auditor.clean(df, result, strategy="relabel")

The names are loaded on first use, so ``import auditor`` stays cheap (no torch, no pandas).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from auditor.api import AuditResult, clean, load_dataset, scan
    from auditor.dataset import AuditDataset, DataError

_LAZY = {
    "scan": "auditor.api",
    "clean": "auditor.api",
    "load_dataset": "auditor.api",
    "AuditResult": "auditor.api",
    "AuditDataset": "auditor.dataset",
    "DataError": "auditor.dataset",
}

__all__ = ["AuditDataset", "AuditResult", "DataError", "clean", "load_dataset", "scan"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'auditor' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
