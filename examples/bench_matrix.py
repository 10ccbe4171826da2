"""The benchmark matrix of `examples/bench_scan.py` as one table, and issue 13's goals counted.

Reads the files ``bench_scan.py --json-out`` wrote (any number of datasets, sizes and seeds),
prints a Markdown table with one line per dataset, audited rows, protocol and rate (every
number the mean over the seeds read), then the goals, each as "cases that meet it / cases it
applies to":

- ``missing`` at 0.2 and 0.5: fused row AUROC >= 0.80 and at least 0.10 above cleanlab's;
- ``labels_to_remove`` and ``labels_to_add`` precision >= 0.7 (cases that suggest any);
- the estimated noise rate within ±0.05 of the truth, overall and in both directions (and
  overall alone);
- pairflip on the MIRFlickr stand-in, per audited size: the fused row AUROC at 0.2 / 0.5 / 0.8
  on the papers' own noise files (seed 0) against the floors 0.955 / 0.95 / 0.945, and the
  lowest at the other seeds (``audit inject``'s pairflip, for information);
- fused row AUROC at or above cleanlab's;

and, not a goal, how often the true overall rate lies within the ± two standard deviations the
scan prints with it (cases read with the rate's resamples, ``sd`` in the JSON).

    python examples/bench_scan.py --dataset mirflickr --train-rows 10000 --seed 0 \\
        --cache C --json-out mir-0.json        # and so on for each dataset and seed
    python examples/bench_matrix.py mir-*.json syn-*.json

Columns of the table: ``seeds`` how many seeds were read; ``fused`` / ``cleanlab`` row AUROC
and AUPRC; ``cell`` the fused cell AUROC; ``flag P / R`` the flagged rows' precision and
recall; ``remove`` and ``add`` the suggestions' count, precision and recall ("0" where none
were made); ``rate`` / ``missing`` / ``spurious`` the estimated share of rows with any wrong
label, with a missing one and with a spurious one, the truth in brackets; ``±0.05`` the seeds
whose three rates are all within 0.05 of the truth.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

RATE_TOLERANCE = 0.05
SUGGESTION_PRECISION = 0.7
MISSING_AUROC_FLOOR, MISSING_AUROC_LEAD = 0.80, 0.10
PAIRFLIP_FLOORS = {0.2: 0.955, 0.5: 0.95, 0.8: 0.945}
RATE_KEYS = ("", "_missing", "_spurious")


def case_key(case: dict[str, Any]) -> tuple[str, int, str, float]:
    """(dataset, audited rows, protocol, injected rate): the line of the table a case is on."""
    return (case["dataset"], int(case["rows"]), case["protocol"], float(case["noise_rate"]))


def rate_errors(case: dict[str, Any]) -> list[float]:
    """Estimated minus true share of rows: overall, missing and spurious (3 values)."""
    rate = case["rate"]
    return [float(rate[f"estimated{k}"]) - float(rate[f"true{k}"]) for k in RATE_KEYS]


def within(error: float, tolerance: float = RATE_TOLERANCE) -> bool:
    """Whether an estimate's ``error`` is within ``tolerance`` (a rounding's width over it
    still counts: 0.25 read for 0.20 is within 0.05)."""
    return abs(error) <= tolerance + 1e-12


def rates_within(case: dict[str, Any]) -> bool:
    """Whether the overall rate and both directions' are within ±0.05 of the truth."""
    return all(within(error) for error in rate_errors(case))


def spread_covers(case: dict[str, Any]) -> bool | None:
    """Whether the true overall rate lies within the estimate's ± two standard deviations (the
    interval the scan prints); None where the case was read without resamples."""
    rate = case["rate"]
    if rate.get("sd") is None or math.isnan(float(rate["sd"])):
        return None
    return bool(abs(float(rate["estimated"]) - float(rate["true"])) <= 2.0 * float(rate["sd"]))


def suggestions_meet(case: dict[str, Any], kind: str, target: float) -> bool | None:
    """Whether the ``kind`` (``remove`` / ``add``) suggestions' precision reaches ``target``;
    None where the case made none."""
    made = case[kind]
    if not made["n"]:
        return None
    return bool(made["precision"] >= target)


def _share(flags: Iterable[bool | None]) -> tuple[int, int]:
    """(how many are True, how many are not None)."""
    known = [flag for flag in flags if flag is not None]
    return sum(known), len(known)


def goal_counts(cases: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Each goal as (cases that meet it, cases it applies to); ``pairflip`` maps (audited
    rows, rate) to the MIRFlickr stand-in's fused row AUROC on the papers' noise files (seed
    0, NaN where not read) and the lowest at other seeds (NaN where none)."""
    missing = [
        case
        for case in cases
        if case["protocol"] == "missing" and float(case["noise_rate"]) in (0.2, 0.5)
    ]
    pairflip: dict[tuple[int, float], tuple[float, float]] = {}
    for case in cases:
        if case["dataset"] != "mirflickr" or case["protocol"] != "pairflip":
            continue
        key = (int(case["rows"]), float(case["noise_rate"]))
        papers, others = pairflip.get(key, (math.nan, math.nan))
        auroc = float(case["fused"]["auroc"])
        if int(case["seed"]) == 0:
            papers = auroc
        else:
            others = auroc if math.isnan(others) else min(others, auroc)
        pairflip[key] = (papers, others)
    return {
        "missing_auroc": _share(
            case["fused"]["auroc"] >= MISSING_AUROC_FLOOR
            and case["fused"]["auroc"] - case["cleanlab"]["auroc"] >= MISSING_AUROC_LEAD
            for case in missing
        ),
        "remove_precision": _share(
            suggestions_meet(case, "remove", SUGGESTION_PRECISION) for case in cases
        ),
        "add_precision": _share(
            suggestions_meet(case, "add", SUGGESTION_PRECISION) for case in cases
        ),
        "rates_within": _share(rates_within(case) for case in cases),
        "overall_rate_within": _share(within(rate_errors(case)[0]) for case in cases),
        "pairflip": dict(sorted(pairflip.items())),
        "spread_covers": _share(spread_covers(case) for case in cases),
        "fused_at_least_cleanlab": _share(
            case["fused"]["auroc"] >= case["cleanlab"]["auroc"] for case in cases
        ),
    }


def _mean(values: Iterable[float | None]) -> float:
    known = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    return sum(known) / len(known) if known else math.nan


def _number(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.3f}"


def _suggestions(cases: Sequence[dict[str, Any]], kind: str) -> str:
    count = _mean(case[kind]["n"] for case in cases)
    if not count:
        return "0"
    precision = _mean(case[kind]["precision"] for case in cases if case[kind]["n"])
    recall = _mean(case[kind]["recall"] for case in cases)
    return f"{count:.0f}, {_number(precision)} / {_number(recall)}"


def _rate(cases: Sequence[dict[str, Any]], key: str) -> str:
    estimated = _mean(case["rate"][f"estimated{key}"] for case in cases)
    true = _mean(case["rate"][f"true{key}"] for case in cases)
    return f"{estimated:.3f} ({true:.3f})"


def matrix_table(cases: Sequence[dict[str, Any]]) -> str:
    """The Markdown table described in the module's docstring, lines in the order the cases'
    keys first appear."""
    groups: dict[tuple[str, int, str, float], list[dict[str, Any]]] = {}
    for case in cases:
        groups.setdefault(case_key(case), []).append(case)
    lines = [
        "| data | rows | noise | rate | seeds | fused AUROC / AUPRC | cleanlab AUROC / AUPRC "
        "| cell | flag P / R | remove n, P / R | add n, P / R | rate | missing | spurious "
        "| ±0.05 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (dataset, rows, protocol, rate), group in groups.items():
        lines.append(
            f"| {dataset} | {rows:,} | {protocol} | {rate} | {len(group)} "
            f"| {_mean(c['fused']['auroc'] for c in group):.3f} / "
            f"{_mean(c['fused']['auprc'] for c in group):.3f} "
            f"| {_mean(c['cleanlab']['auroc'] for c in group):.3f} / "
            f"{_mean(c['cleanlab']['auprc'] for c in group):.3f} "
            f"| {_number(_mean(c['fused']['cell_auroc'] for c in group))} "
            f"| {_number(_mean(c['flag']['precision'] for c in group))} / "
            f"{_number(_mean(c['flag']['recall'] for c in group))} "
            f"| {_suggestions(group, 'remove')} | {_suggestions(group, 'add')} "
            f"| {_rate(group, '')} | {_rate(group, '_missing')} | {_rate(group, '_spurious')} "
            f"| {sum(rates_within(c) for c in group)}/{len(group)} |"
        )
    return "\n".join(lines)


def goals_text(counts: dict[str, Any]) -> str:
    """The goal counts of :func:`goal_counts` as lines of text."""

    def share(name: str) -> str:
        met, applies = counts[name]
        return f"{met} of {applies}"

    floors = "".join(
        f"\n  - {rows:,} rows at {rate}: {_number(papers)} (floor {PAIRFLIP_FLOORS.get(rate, '–')}"
        f"{', UNDER' if papers < PAIRFLIP_FLOORS.get(rate, 0.0) else ''}; other seeds' lowest "
        f"{_number(others)})"
        for (rows, rate), (papers, others) in counts["pairflip"].items()
    )
    return "\n".join(
        [
            f"- missing 0.2 / 0.5, fused AUROC >= {MISSING_AUROC_FLOOR} and "
            f"+{MISSING_AUROC_LEAD} over cleanlab: {share('missing_auroc')}",
            f"- removals at precision >= {SUGGESTION_PRECISION}: {share('remove_precision')}",
            f"- additions at precision >= {SUGGESTION_PRECISION}: {share('add_precision')}",
            f"- rates within ±{RATE_TOLERANCE}, overall and both directions: "
            f"{share('rates_within')} (overall alone: {share('overall_rate_within')})",
            f"- (not a goal) the true overall rate within the scan's ± two standard deviations: "
            f"{share('spread_covers')}",
            f"- pairflip on the MIRFlickr stand-in, papers' noise files:{floors or ' no cases'}",
            f"- fused row AUROC at or above cleanlab's: {share('fused_at_least_cleanlab')}",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path, help="bench_scan.py --json-out files")
    args = parser.parse_args()
    cases: list[dict[str, Any]] = []
    for path in args.results:
        try:
            loaded = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            parser.exit(2, f"{path}: not a bench_scan.py --json-out file ({error})\n")
        if not isinstance(loaded, list):
            parser.exit(2, f"{path}: not a bench_scan.py --json-out file (not a list)\n")
        for index, case in enumerate(loaded):
            try:
                matrix_table([case]), goal_counts([case])
            except (KeyError, TypeError, ValueError) as error:
                parser.exit(
                    2,
                    f"{path}: case {index} lacks a bench_scan.py field or mangles it ({error!r})\n",
                )
        cases.extend(loaded)
    print(matrix_table(cases))
    print()
    print(goals_text(goal_counts(cases)))


if __name__ == "__main__":
    main()
