"""Worker of tests/hashing/test_distributed.py, run under torchrun (not collected by pytest).

``python -m torch.distributed.run --standalone --nproc_per_node 2 ddp_worker.py OUT`` trains
every case (a method and its settings) data-parallel on the small problem below and saves, per
case and rank, ``OUT/CASE-rankR.pt``: the weights, the final signals, the label evidence, the
per-epoch losses and the epoch the stopping rule picked. The test fits the same problem in one
process and compares.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hashing.base import HashSettings
from hashing.hasher import CrossModalHasher
from hashing.methods import default_settings
from hashing.runtime.distributed import distributed_from_env

N_ROWS = 245  # with batch 50: four batches of 50 and one of 45, split 23/22 across two ranks
BITS = 16

# Small towers and few epochs, with every method's per-sample machinery switched on after the
# first epoch (NRCH's keep mask, SCBCH's reliability weights, RSHNL's self-paced weights), and
# parameter averaging on for two of them (each rank keeps its own average: they must agree),
# SCBCH's by its default horizon in epochs (from the global steps an epoch), NRCH's per step.
# "rshnl-refit" runs the stopping rule on this small problem (its default minimum slice would
# turn it off): a held-out slice picks the epoch, then every rank refits on every row.
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "plain": ("plain", {}),
    "rshnl": ("rshnl", {"self_paced_start_epoch": 1, "pace": 2.0}),
    "scbch": ("scbch", {"reliability_start_epoch": 1, "neighbours": 5}),
    "nrch": ("nrch", {"warmup_epochs": 1, "ramp_epochs": 1, "weight_average": 0.8}),
    "rshnl-refit": (
        "rshnl",
        {"self_paced_start_epoch": 1, "pace": 2.0, "holdout_fraction": 0.2, "holdout_min_rows": 0},
    ),
}


def make_problem(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, 12) image and (N, 8) text features around 4 class centres; (N, 4) multi-hot labels
    with one or two classes per row."""
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, 4, size=N_ROWS)
    labels = np.zeros((N_ROWS, 4), dtype=np.float32)
    labels[np.arange(N_ROWS), classes] = 1
    second = rng.random(N_ROWS) < 0.3
    labels[np.flatnonzero(second), rng.integers(0, 4, size=int(second.sum()))] = 1
    image = labels @ rng.standard_normal((4, 12)) + 0.5 * rng.standard_normal((N_ROWS, 12))
    text = labels @ rng.standard_normal((4, 8)) + 0.5 * rng.standard_normal((N_ROWS, 8))
    return image.astype(np.float32), text.astype(np.float32), labels


def settings_for(case: str) -> HashSettings:
    method, overrides = CASES[case]
    return default_settings(
        method,
        epochs=3,
        batch_size=50,
        image_hidden=32,
        text_hidden=32,
        eval_batch_size=64,
        signal_average_epochs=2,
        **overrides,
    )


def fit(case: str) -> CrossModalHasher:
    image, text, labels = make_problem()
    return CrossModalHasher(settings_for(case), bits=BITS, seed=3, device="cpu").fit(
        image, text, labels
    )


def summary(hasher: CrossModalHasher) -> dict[str, Any]:
    """What the test compares: weights, signals, evidence and per-epoch losses."""
    return {
        "weights": hasher.state_dict()["weights"],
        "signals": hasher.signals_,
        "evidence": hasher.label_evidence_,
        "losses": [record["loss"] for record in hasher.history_],
        "selected_epoch": hasher.selected_epoch_,
    }


def main(out: Path) -> None:
    torch.set_num_threads(1)
    with distributed_from_env("cpu") as info:
        assert info.world_size == 2, info
        for case in CASES:
            torch.save(summary(fit(case)), out / f"{case}-rank{info.rank}.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
