"""Wall time of `audit scan` beside busy processes: the cost of OpenMP's spin-waiting.

Starts ``--busy`` processes that spin (``python -c "while 1: pass"``) at this process's
niceness, runs ``python -m cli.main scan`` on a synthetic dataset with pairflip noise
(``--rows`` rows, the demo's recipe) in a subprocess, prints its wall time, then stops the
busy processes. The scan's environment is this one without any ``OMP_*`` variable, plus the
``--env NAME=VALUE`` pairs: so it runs with the command line's own threading defaults
(``cli/threads.py``) unless you pass some.

    # the command line's defaults (OMP_WAIT_POLICY=PASSIVE, OMP_NUM_THREADS = usable cores)
    python examples/bench_threads.py --rows 1500 --busy 2
    # spin-waiting threads, as before the defaults existed
    python examples/bench_threads.py --rows 1500 --busy 2 --env OMP_WAIT_POLICY=ACTIVE
    # another checkout's command line (e.g. one without cli/threads.py) on the same data
    python examples/bench_threads.py --rows 1500 --busy 2 --code /path/to/old/checkout

The time depends on everything else the machine runs; compare runs made side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from auditor.demo import write_demo_data  # noqa: E402


def spin_processes(count: int) -> list[subprocess.Popen[bytes]]:
    """``count`` processes that keep one core busy each until stopped."""
    return [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(count)]


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.kill()
    for process in processes:
        process.wait()


def scan_environment(code: Path, extra: list[str]) -> dict[str, str]:
    """This environment without OMP_* variables, with ``code`` first on PYTHONPATH and the
    ``NAME=VALUE`` pairs of ``extra``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("OMP_")}
    env["PYTHONPATH"] = os.pathsep.join([str(code), *filter(None, [env.get("PYTHONPATH")])])
    for pair in extra:
        name, _, value = pair.partition("=")
        env[name] = value
    return env


def timed_scan(data: Path, out: Path, env: dict[str, str]) -> tuple[float, dict]:
    """Wall seconds of one ``audit scan`` subprocess and its ``--json`` summary."""
    start = time.perf_counter()
    finished = subprocess.run(
        [sys.executable, "-m", "cli.main", "scan", str(data), "-o", str(out), "-q", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    if finished.returncode != 0:
        raise SystemExit(f"scan failed ({finished.returncode}): {finished.stderr.strip()[-2000:]}")
    return seconds, json.loads(finished.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1500, help="synthetic rows (half are train)")
    parser.add_argument("--busy", type=int, default=2, help="spinning background processes")
    parser.add_argument("--runs", type=int, default=1, help="scans, one after the other")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose cli.main runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch) / "data.parquet"
        write_demo_data(data, rows=args.rows, seed=args.seed)
        env = scan_environment(args.code, args.env)
        busy = spin_processes(args.busy)
        try:
            for run in range(args.runs):
                seconds, summary = timed_scan(data, Path(scratch) / f"audit-{run}", env)
                print(
                    f"rows {args.rows}, busy {args.busy}, env {' '.join(args.env) or '-'}, "
                    f"code {args.code}: {seconds:.1f} s wall "
                    f"(stages: {summary.get('timings_seconds', summary.get('timings', '?'))})",
                    flush=True,
                )
        finally:
            stop(busy)


if __name__ == "__main__":
    main()
