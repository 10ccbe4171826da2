"""The demo recipe (`audit demo`): synthetic data -> pairflip noise at 50 % -> a full scan.

Nothing is downloaded. The noisy data keep the labels before injection in ``clean_labels``, so
the scan compares every signal with the known noise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from auditor.dataset import AuditDataset
from auditor.inject import inject_into_table
from auditor.io import (
    atomic_output_dir,
    dataset_from_table,
    dataset_to_table,
    make_provenance,
    write_table_atomic,
)
from auditor.synth import SynthSettings, make_synthetic

if TYPE_CHECKING:  # the scan (torch, cleanlab) is imported only when a demo runs
    from auditor.scanning import ScanResult
    from hashing.hasher import ProgressCallback

DEMO_ROWS = 4000
"""Small enough for a few minutes on 2 CPU cores, large enough to show the ranking work."""
DEMO_PROTOCOL = "pairflip"
DEMO_RATE = 0.5
DATA_FILE = "data.parquet"
AUDIT_FOLDER = "audit"


@dataclass(frozen=True)
class DemoData:
    """The demo's noisy dataset as written to ``path``."""

    path: Path
    dataset: AuditDataset
    rows: int
    train_rows: int
    noisy_rows: int
    protocol: str = DEMO_PROTOCOL
    rate: float = DEMO_RATE


@dataclass(frozen=True)
class DemoResult:
    data: DemoData
    audit_dir: Path
    scan: ScanResult
    summary: dict[str, Any]


def write_demo_data(path: Path, *, rows: int = DEMO_ROWS, seed: int = 0) -> DemoData:
    """Synthetic data (``rows`` rows, ``seed``) with pairflip noise at 50 % on the train rows,
    written to the Parquet file ``path`` (atomically, with provenance)."""
    clean = make_synthetic(SynthSettings(n_rows=rows, seed=seed)).to_dataset()
    table: pa.Table = dataset_to_table(clean)
    noisy_table, noise = inject_into_table(
        table, clean, protocol=DEMO_PROTOCOL, rate=DEMO_RATE, seed=seed
    )
    provenance = make_provenance(
        "demo",
        settings={"rows": rows, "protocol": DEMO_PROTOCOL, "rate": DEMO_RATE},
        classes=clean.classes,
        seed=seed,
    )
    write_table_atomic(noisy_table, path, provenance)
    return DemoData(
        path=path,
        dataset=dataset_from_table(noisy_table, source=str(path)),
        rows=rows,
        train_rows=int(clean.train_mask.sum()),
        noisy_rows=int(noise.noisy_rows.sum()),
    )


def run_demo(
    out: Path,
    *,
    rows: int = DEMO_ROWS,
    seed: int = 0,
    on_data: Callable[[DemoData], None] | None = None,
    progress_for: Callable[[str], ProgressCallback | None] | None = None,
) -> DemoResult:
    """The whole demo into the folder ``out``: ``out/data.parquet`` (the noisy data; ``on_data``
    is told about it before the scan starts) and ``out/audit/`` (the scan with its report, the
    default scan settings with ``seed``). The folder is built under a temporary name and renamed
    into place only when all of it is written (``check_output_folder(out, "demo")`` first)."""
    from auditor.scanning import ScanSettings, run_scan, write_scan

    settings = ScanSettings(seed=seed)
    with atomic_output_dir(out, "demo") as folder:
        written = write_demo_data(folder / DATA_FILE, rows=rows, seed=seed)
        data = dataclasses.replace(written, path=out / DATA_FILE)
        if on_data is not None:
            on_data(data)
        scan = run_scan(written.dataset, settings, truth=None, progress_for=progress_for)
        summary = write_scan(
            scan,
            folder / AUDIT_FOLDER,
            settings,
            source=written.dataset.source,
            source_name=str(data.path),
        )
    return DemoResult(data=data, audit_dir=out / AUDIT_FOLDER, scan=scan, summary=summary)
