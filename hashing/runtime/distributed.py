"""Data-parallel training across processes with ``torch.distributed`` (torch only).

A run is launched by ``torchrun`` (or ``torch.distributed.launcher.api.elastic_launch``), which
sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` in every
process. :func:`init_from_env` joins the process group (``nccl`` for CUDA devices, ``gloo`` on the
CPU); without those variables everything here is a no-op for a world of one process, so
single-process code paths stay unchanged.

How training splits the work (see ``hashing.hasher.train_method``): every rank draws the same
seeded global batch order and takes its contiguous shard of each global batch
(:func:`shard_bounds`, a ``DistributedSampler``-style split without padding, so the global batch
is exactly the one-process batch); the towers run on the shard, the codes are all-gathered with
autograd (:func:`gather_rows` with ``with_grad=True``) and every rank computes the method's loss on
the whole global batch. The gather's backward sums the W identical copies of each rank's code
gradient and DDP averages over the W ranks, so the update equals the one-process update.
"""

from __future__ import annotations

import contextlib
import gc
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

ENV_VARIABLES = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
"""What a launcher (``torchrun``) sets in every process; all four mean: join a process group."""

# A rank may wait in a collective while another works alone (rank 0 writing an embedded file
# before it broadcasts its report; a slow rank still encoding its shard): allow long stages.
DEFAULT_TIMEOUT = timedelta(hours=2)


@dataclass(frozen=True)
class WorldInfo:
    """This process's place in the run: ``rank`` in 0..``world_size``-1 across all nodes and
    ``local_rank`` on its node (the GPU it uses)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that prints and writes outputs."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        """More than one process takes part."""
        return self.world_size > 1


def launched_by_torchrun(environ: dict[str, str] | None = None) -> bool:
    """True when a launcher set the rendezvous variables (``ENV_VARIABLES``) for this process."""
    values = os.environ if environ is None else environ
    return all(name in values for name in ENV_VARIABLES)


def world() -> WorldInfo:
    """The current process group's rank and size, or a world of one without a process group."""
    if not (dist.is_available() and dist.is_initialized()):
        return WorldInfo()
    return WorldInfo(
        rank=dist.get_rank(),
        world_size=dist.get_world_size(),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )


def backend_for(device: torch.device) -> str:
    """``nccl`` for CUDA devices (collectives on the GPU), ``gloo`` for the CPU."""
    return "nccl" if device.type == "cuda" else "gloo"


def init_from_env(
    device: str | torch.device | None = None, timeout: timedelta = DEFAULT_TIMEOUT
) -> WorldInfo:
    """Join the process group a launcher described in the environment; return this rank's info.

    ``device`` is the device training will use (None: cuda when available, else cpu); it picks
    the backend. With CUDA, each rank binds to GPU ``LOCAL_RANK`` so that ``"cuda"`` means the
    rank's own GPU. Without the launcher's variables, or when a group already exists, nothing is
    initialised and the current world is returned.
    """
    if dist.is_initialized() or not launched_by_torchrun() or not dist.is_available():
        return world()
    resolved = torch.device(
        device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu")
    )
    if resolved.type == "cuda" and resolved.index is None:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend_for(resolved), timeout=timeout)
    return world()


def teardown(*, wait_for_peers: bool = True) -> None:
    """Leave the process group (no-op without one), so that its backend is gone before exit.

    Order matters (a 2-rank gloo run aborted with "terminate called without an active
    exception" in 2 of 11 runs when it skipped these steps):

    1. ``wait_for_peers``: a barrier, so no rank closes its connections while a peer still has
       collectives in flight. Skipped after an error, when a peer may never arrive.
    2. A garbage collection: the ``DistributedDataParallel`` wrappers and the autograd graphs
       of ``gather_rows`` sit in reference cycles that hold the group's C++ backend; freed
       here, the backend (its worker threads and their pending work) is destroyed inside
       ``destroy_process_group`` while the interpreter is whole, not during interpreter
       shutdown, where destroying pending work that holds tensors needs the GIL and aborts.
    3. ``destroy_process_group``.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    if wait_for_peers and dist.get_world_size() > 1:
        dist.barrier()
    gc.collect()
    dist.destroy_process_group()


@contextlib.contextmanager
def distributed_from_env(device: str | torch.device | None = None) -> Iterator[WorldInfo]:
    """``init_from_env`` on entry and ``teardown`` on exit (only of a group it created): with
    a barrier after a normal exit, without one after an exception (the group is destroyed on
    both paths)."""
    created = not dist.is_initialized()
    info = init_from_env(device)
    try:
        yield info
    except BaseException:
        if created:
            teardown(wait_for_peers=False)
        raise
    if created:
        teardown()


def shard_sizes(n_rows: int, world_size: int) -> list[int]:
    """Rows of each rank's contiguous shard of ``n_rows``: the first ``n_rows % world_size``
    ranks get one more (as ``torch.tensor_split``); sizes sum to ``n_rows``, some may be 0."""
    base, extra = divmod(n_rows, world_size)
    return [base + (1 if rank < extra else 0) for rank in range(world_size)]


def shard_bounds(n_rows: int, rank: int, world_size: int) -> tuple[int, int]:
    """``(start, stop)`` of rank ``rank``'s contiguous shard of ``n_rows`` rows."""
    sizes = shard_sizes(n_rows, world_size)
    start = sum(sizes[:rank])
    return start, start + sizes[rank]


def gather_rows(local: torch.Tensor, sizes: list[int], *, with_grad: bool) -> torch.Tensor:
    """Concatenate every rank's (sizes[r], ...) shard in rank order: (sum(sizes), ...).

    ``local`` is this rank's shard (``sizes[rank]`` rows). Shards of unequal size are padded to
    the largest for the collective and trimmed after. ``with_grad=True`` uses
    ``torch.distributed.nn.functional.all_gather``, whose backward sends each rank the SUM over
    ranks of the gradients of its rows (what lets every rank compute the loss on the whole global
    batch, see the module docstring); ``with_grad=False`` a plain ``all_gather``. A world of one
    returns ``local`` unchanged.
    """
    world_size = len(sizes)
    if world_size == 1:
        return local
    longest = max(sizes)
    padded = local
    if local.shape[0] < longest:
        padding = local.new_zeros((longest - local.shape[0], *local.shape[1:]))
        padded = torch.cat([local, padding])
    if with_grad:
        import torch.distributed.nn.functional as collectives

        with warnings.catch_warnings():
            # deprecated in favour of a private module; still the public autograd all_gather
            warnings.simplefilter("ignore", FutureWarning)
            parts = collectives.all_gather(padded)
    else:
        parts_list = [torch.empty_like(padded) for _ in range(world_size)]
        dist.all_gather(parts_list, padded.detach().contiguous())
        parts = tuple(parts_list)
    return torch.cat([part[:size] for part, size in zip(parts, sizes, strict=True)])


def broadcast_object(value: Any, src: int = 0) -> Any:
    """``value`` as held by rank ``src``, on every rank (picklable objects; identity alone)."""
    if not world().is_distributed:
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=src)
    return holder[0]


def all_gather_objects(value: Any) -> list[Any]:
    """Every rank's ``value`` in rank order, on every rank (``[value]`` alone)."""
    info = world()
    if not info.is_distributed:
        return [value]
    values: list[Any] = [None] * info.world_size
    dist.all_gather_object(values, value)
    return values


def gather_objects_to_main(value: Any) -> list[Any] | None:
    """Every rank's ``value`` in rank order on rank 0; None on the other ranks (``[value]``
    alone). Picklable objects (numpy arrays travel efficiently)."""
    info = world()
    if not info.is_distributed:
        return [value]
    values: list[Any] | None = [None] * info.world_size if info.is_main else None
    dist.gather_object(value, values, dst=0)
    return values


def barrier() -> None:
    """Wait for every rank (no-op alone)."""
    if world().is_distributed:
        dist.barrier()
