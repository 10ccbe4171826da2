"""Data-parallel training: two gloo processes train the same model as one process.

The two-process run is ``torchrun --standalone --nproc_per_node 2 ddp_worker.py`` (a free port
on 127.0.0.1 picked by torch's launcher); it trains every method (and RSHNL once more with the
stopping rule and its refit) on the same small problem with the same seed and global batch as
the one-process fits here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import ddp_worker
import numpy as np
import pytest
import torch

from hashing.hasher import CrossModalHasher
from hashing.runtime.distributed import (
    WorldInfo,
    gather_rows,
    launched_by_torchrun,
    shard_bounds,
    shard_sizes,
    world,
)

# Float tolerance of the comparison. Measured differences: weights <= 6e-8, signals and
# evidence <= 3e-6 (summation order differs when the towers see half batches and DDP sums the
# two halves' gradients).
WEIGHT_ATOL = 1e-5
SIGNAL_ATOL, SIGNAL_RTOL = 1e-5, 1e-5


@pytest.fixture(scope="module")
def two_process_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the worker under torchrun once for every method; the folder of its outputs."""
    out = tmp_path_factory.mktemp("ddp")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(Path(ddp_worker.__file__)),
        str(out),
    ]
    # the timeout only stops a hang; it is not a speed check (a shared machine may be slow)
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def one_process_fits() -> dict[str, CrossModalHasher]:
    torch.set_num_threads(1)
    return {case: ddp_worker.fit(case) for case in ddp_worker.CASES}


def load(folder: Path, method: str, rank: int) -> dict[str, Any]:
    return torch.load(folder / f"{method}-rank{rank}.pt", weights_only=False)


@pytest.mark.distributed
@pytest.mark.parametrize("method", list(ddp_worker.CASES))
def test_two_processes_train_the_same_weights_as_one(
    method: str, two_process_runs: Path, one_process_fits: dict[str, CrossModalHasher]
) -> None:
    alone = ddp_worker.summary(one_process_fits[method])
    rank0, rank1 = load(two_process_runs, method, 0), load(two_process_runs, method, 1)
    initial = CrossModalHasher(ddp_worker.settings_for(method), bits=ddp_worker.BITS, seed=3)
    image, text, labels = ddp_worker.make_problem()
    initial._build(image.shape[1], text.shape[1], labels.shape[1])
    start = initial.model_.state_dict()
    for name, weights in alone["weights"].items():
        # the ranks hold bit-identical models, equal to the one-process model
        assert torch.equal(rank0["weights"][name], rank1["weights"][name]), name
        torch.testing.assert_close(rank0["weights"][name], weights, atol=WEIGHT_ATOL, rtol=0)
    # and training moved the weights far more than the tolerance (the comparison means something)
    moved = max(
        float((alone["weights"][name] - start[name]).abs().max())
        for name in start
        if name.endswith("weight")
    )
    assert moved > 100 * WEIGHT_ATOL
    np.testing.assert_allclose(rank0["losses"], alone["losses"], rtol=1e-5)
    assert rank0["selected_epoch"] == rank1["selected_epoch"] == alone["selected_epoch"]


@pytest.mark.distributed
@pytest.mark.parametrize("method", ["rshnl", "scbch", "nrch", "rshnl-refit"])
def test_two_processes_give_the_same_per_sample_signals_and_evidence(
    method: str, two_process_runs: Path, one_process_fits: dict[str, CrossModalHasher]
) -> None:
    hasher = one_process_fits[method]
    alone = ddp_worker.summary(hasher)
    rank0, rank1 = load(two_process_runs, method, 0), load(two_process_runs, method, 1)
    assert set(rank0["signals"]) == set(alone["signals"]) == set(hasher.model_.signal_names)
    for name, values in alone["signals"].items():
        assert values.shape == (ddp_worker.N_ROWS,)
        np.testing.assert_array_equal(rank0["signals"][name], rank1["signals"][name])
        np.testing.assert_allclose(
            rank0["signals"][name], values, atol=SIGNAL_ATOL, rtol=SIGNAL_RTOL, err_msg=name
        )
    np.testing.assert_allclose(rank0["evidence"], alone["evidence"], atol=SIGNAL_ATOL, rtol=1e-5)


@pytest.mark.e2e
def test_the_per_sample_state_was_exercised(
    one_process_fits: dict[str, CrossModalHasher],
) -> None:
    """The comparison covers the per-epoch state that steers training: NRCH dropped samples,
    SCBCH weighted them unevenly, RSHNL's self-paced weights left 1, and the stopping rule
    refit on every row."""
    nrch = one_process_fits["nrch"].history_
    assert min(record["next_kept_fraction"] for record in nrch) < 1.0
    reliability = one_process_fits["scbch"].signals_["scbch_reliability"]
    assert float(reliability.std()) > 0.01
    assert float(one_process_fits["rshnl"].signals_["rshnl_weight"].min()) < 1.0
    # the stopping rule held rows out and picked an epoch, then the model was trained again on
    # every row for that many epochs (what the two-process run must reproduce)
    refit = one_process_fits["rshnl-refit"]
    assert refit.holdout_rows_ == round(0.2 * ddp_worker.N_ROWS)
    assert refit.selection_history_ is not None
    assert len(refit.history_) == refit.selected_epoch_ >= 1
    assert all("holdout_map_i2t" not in record for record in refit.history_)


def test_shards_cover_every_row_once_in_order() -> None:
    for n_rows in (0, 1, 5, 45, 50):
        for world_size in (1, 2, 3, 4):
            sizes = shard_sizes(n_rows, world_size)
            assert sum(sizes) == n_rows and max(sizes) - min(sizes) <= 1
            bounds = [shard_bounds(n_rows, rank, world_size) for rank in range(world_size)]
            rows = [row for start, stop in bounds for row in range(start, stop)]
            assert rows == list(range(n_rows))
            expected = [len(part) for part in torch.tensor_split(torch.arange(n_rows), world_size)]
            assert sizes == expected


def test_a_single_process_is_a_world_of_one() -> None:
    assert world() == WorldInfo(rank=0, world_size=1, local_rank=0)
    assert world().is_main and not world().is_distributed
    codes = torch.randn(5, 3, requires_grad=True)
    assert gather_rows(codes, [5], with_grad=True) is codes


def test_launch_detection_needs_every_rendezvous_variable() -> None:
    full = {"RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
    assert launched_by_torchrun(full)
    assert not launched_by_torchrun({key: full[key] for key in ("RANK", "WORLD_SIZE")})
    assert not launched_by_torchrun({})
