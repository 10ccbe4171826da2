"""Worker of tests/hashing/test_distributed.py, run under torchrun (not collected by pytest).

``python -m torch.distributed.run --standalone --nproc_per_node 2 ddp_worker.py OUT`` trains
every method data-parallel on the small problem below and saves, per method and rank,
``OUT/METHOD-rankR.pt``: the weights, the final signals, the label evidence and the per-epoch
losses. The test fits the same problem in one process and compares.
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

METHODS = ("plain", "rshnl", "scbch", "nrch")
N_ROWS = 245  # with batch 50: four batches of 50 and one of 45, split 23/22 across two ranks
BITS = 16

# Small towers and few epochs, with every method's per-sample machinery switched on after the
# first epoch (NRCH's keep mask, SCBCH's reliability weights, RSHNL's self-paced weights), and
# parameter averaging on for two of them (each rank keeps its own average: they must agree),
# SCBCH's by its default horizon in epochs (from the global steps an epoch), NRCH's per step.
SETTINGS: dict[str, dict[str, Any]] = {
    "plain": {},
    "rshnl": {"self_paced_start_epoch": 1, "pace": 2.0},
    "scbch": {"reliability_start_epoch": 1, "neighbours": 5},
    "nrch": {"warmup_epochs": 1, "ramp_epochs": 1, "weight_average": 0.8},
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


def settings_for(method: str) -> HashSettings:
    return default_settings(
        method,
        epochs=3,
        batch_size=50,
        image_hidden=32,
        text_hidden=32,
        eval_batch_size=64,
        signal_average_epochs=2,
        **SETTINGS[method],
    )


def fit(method: str) -> CrossModalHasher:
    image, text, labels = make_problem()
    return CrossModalHasher(settings_for(method), bits=BITS, seed=3, device="cpu").fit(
        image, text, labels
    )


def summary(hasher: CrossModalHasher) -> dict[str, Any]:
    """What the test compares: weights, signals, evidence and per-epoch losses."""
    return {
        "weights": hasher.state_dict()["weights"],
        "signals": hasher.signals_,
        "evidence": hasher.label_evidence_,
        "losses": [record["loss"] for record in hasher.history_],
    }


def main(out: Path) -> None:
    torch.set_num_threads(1)
    with distributed_from_env("cpu") as info:
        assert info.world_size == 2, info
        for method in METHODS:
            torch.save(summary(fit(method)), out / f"{method}-rank{info.rank}.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
