"""Threading defaults of the command line, set before numpy or torch load OpenMP.

Why: OpenMP's default is to let idle worker threads spin-wait for the next parallel region.
On a machine whose cores other jobs also use, the spinning threads compete with those jobs and
with each other, and a scan became 8-16x slower (a 1,500-row scan took 74-143 s instead of
8.8 s beside two busy processes; ``examples/bench_threads.py`` measures it). With a passive
wait policy idle threads sleep instead. OpenMP reads these variables once, when its runtime is
loaded, so they must be in the environment before the first import of torch: ``cli/__init__``
imports this module, which runs before any other module of the command line.

A value the user set (even an empty one) is always kept.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

WAIT_POLICY = "OMP_WAIT_POLICY"
NUM_THREADS = "OMP_NUM_THREADS"


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. under taskset or a cgroup
    cpuset), falling back to the machine's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def thread_defaults() -> dict[str, str]:
    """The environment the command line runs with unless the user chose otherwise."""
    return {WAIT_POLICY: "PASSIVE", NUM_THREADS: str(usable_cores())}


def apply_thread_defaults(environ: MutableMapping[str, str] | None = None) -> frozenset[str]:
    """Put each of ``thread_defaults()`` into ``environ`` (default ``os.environ``) unless it is
    there already; return the names this call set (the others were the user's)."""
    target = os.environ if environ is None else environ
    applied = set()
    for name, value in thread_defaults().items():
        if name not in target:
            target[name] = value
            applied.add(name)
    return frozenset(applied)


DEFAULTED: frozenset[str] = apply_thread_defaults()
"""The variables this process got from ``thread_defaults`` rather than from the user (``--nproc``
replaces a defaulted thread count by its per-worker share)."""

HELP_EPILOG = (
    "Threads: unless set in the environment, OMP_WAIT_POLICY=PASSIVE (idle threads sleep "
    "instead of spinning, which keeps the tool fast on a machine other jobs share) and "
    "OMP_NUM_THREADS = the usable cores. Set either to override (e.g. OMP_NUM_THREADS=1)."
)
