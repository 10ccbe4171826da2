"""``--nproc N``: run a command data-parallel on this machine under torch's elastic launcher.

A command given ``--nproc N`` (N > 1) re-runs itself, without ``--nproc``, in N worker processes
started by ``torch.distributed.launcher.api.elastic_launch`` (what ``torchrun --standalone
--nproc_per_node N -m cli.main ...`` does); the workers find their rank in the environment and
join the process group (``hashing.runtime.distributed``). A command already started by
torchrun (single- or multi-node) runs directly. No process management of our own beyond that call.
"""

from __future__ import annotations

import enum
import logging
import os
import sys
import uuid
from typing import Annotated, Any

import typer

from cli import threads as thread_defaults

logger = logging.getLogger(__name__)

NPROC_PARAMETER = "nproc"

NprocOption = Annotated[
    int,
    typer.Option(
        "--nproc",
        min=1,
        help="Processes to run on this machine, data-parallel with torch.distributed (gloo on "
        "the CPU, nccl with one GPU each): the command re-runs itself under torch's launcher, "
        "each process works on its shard and the first one writes the outputs. For several "
        "machines start the command with torchrun instead (see docs/commands.md).",
    ),
]


def _as_text(value: object) -> str:
    return str(value.value if isinstance(value, enum.Enum) else value)


def command_arguments(ctx: typer.Context, skip: tuple[str, ...] = (NPROC_PARAMETER,)) -> list[str]:
    """The arguments after the program name that re-create ``ctx``'s command: its subcommand
    path, then every parameter the user gave on the command line (defaults are left to the
    re-run), except ``skip``.

    For example ``audit train data.parquet --method plain --nproc 2`` gives ``["train",
    "data.parquet", "--method", "plain"]`` (long option names; typer's own copy of click is
    read by duck typing).
    """
    path: list[str] = []
    current: Any = ctx
    while current is not None and current.parent is not None:
        path.append(str(current.info_name))
        current = current.parent
    arguments = list(reversed(path))
    options: list[str] = []
    for param in ctx.command.params:
        name = param.name
        if name is None or name in skip:
            continue
        source = ctx.get_parameter_source(name)
        if source is None or source.name != "COMMANDLINE":
            continue
        value = ctx.params.get(name)
        values = list(value) if isinstance(value, list | tuple) else [value]
        if param.param_type_name == "argument":
            arguments.extend(_as_text(item) for item in values)
            continue
        flag = max(param.opts, key=len)
        if getattr(param, "is_flag", False):
            if value or not param.secondary_opts:
                options.append(flag)
            else:
                options.append(max(param.secondary_opts, key=len))
            continue
        for item in values:
            options.extend([flag, _as_text(item)])
    return arguments + options


def launch_local(nproc: int, arguments: list[str]) -> int:
    """Run ``python -m cli.main ARGUMENTS`` in ``nproc`` processes on this machine, as
    ``torchrun --standalone --nproc_per_node NPROC`` would; return the exit code (that of the
    first worker that failed, 1 if a signal ended it; 0 when all succeeded).

    Each worker gets ``OMP_NUM_THREADS`` = cores // nproc unless it is set already (torchrun
    sets 1), so the workers do not oversubscribe the cores.
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    if thread_defaults.NUM_THREADS in thread_defaults.DEFAULTED or (
        thread_defaults.NUM_THREADS not in os.environ
    ):
        # the command line's default (all cores) is for one process: share the cores instead
        per_worker = max(1, thread_defaults.usable_cores() // nproc)
        os.environ[thread_defaults.NUM_THREADS] = str(per_worker)
    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=nproc,
        run_id=str(uuid.uuid4()),
        rdzv_backend="c10d",
        rdzv_endpoint="localhost:0",  # a free port, as torchrun --standalone
        max_restarts=0,
    )
    # The workers print their own errors; the agent's log would repeat each failure.
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
    try:
        elastic_launch(config, sys.executable)("-m", "cli.main", *arguments)
    except ChildFailedError as error:
        # the first failure is the cause; the agent then stops the others (SIGTERM)
        rank, failure = error.get_first_failure()
        code = failure.exitcode
        if code < 0:
            logger.error("worker of rank %d was killed by signal %d", rank, -code)
        return code if code > 0 else 1
    return 0


def relaunch_if_asked(ctx: typer.Context, nproc: int) -> None:
    """For ``--nproc N`` with N > 1 outside a launcher: run the command in N processes and exit
    with their exit code (raises ``typer.Exit``). Otherwise return and let the command run here
    (under torchrun it joins the run the launcher set up)."""
    if nproc <= 1:
        return
    from hashing.runtime.distributed import launched_by_torchrun

    if launched_by_torchrun():
        logger.warning("already started by a launcher (torchrun): --nproc %d is ignored", nproc)
        return
    raise typer.Exit(launch_local(nproc, command_arguments(ctx)))
