"""examples/bench_matrix.py: the matrix table and issue 13's goals counted from bench_scan JSON."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

from examples.bench_matrix import goal_counts, matrix_table, rates_within

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "bench_matrix.py"


def _case(
    dataset: str = "mirflickr",
    protocol: str = "missing",
    rate: float = 0.2,
    seed: int = 0,
    fused_auroc: float = 0.9,
    cleanlab_auroc: float = 0.7,
    removals: tuple[int, float] = (0, math.nan),
    additions: tuple[int, float] = (10, 0.9),
    estimated: tuple[float, float, float] = (0.2, 0.2, 0.0),
    true: tuple[float, float, float] = (0.2, 0.2, 0.0),
) -> dict[str, Any]:
    """One case as bench_scan.py --json-out writes it (only the fields the summary reads)."""
    rate_fields = {}
    for key, est, tru in zip(("", "_missing", "_spurious"), estimated, true, strict=True):
        rate_fields[f"estimated{key}"], rate_fields[f"true{key}"] = est, tru
    return {
        "dataset": dataset,
        "seed": seed,
        "protocol": protocol,
        "noise_rate": rate,
        "rows": 3000,
        "fused": {"auroc": fused_auroc, "auprc": 0.5, "cell_auroc": 0.9},
        "cleanlab": {"auroc": cleanlab_auroc, "auprc": 0.4},
        "flag": {"precision": 0.8, "recall": 0.7},
        "remove": {"n": removals[0], "precision": removals[1], "recall": 0.1},
        "add": {"n": additions[0], "precision": additions[1], "recall": 0.2},
        "rate": rate_fields,
    }


def test_a_rate_counts_as_met_only_when_all_three_directions_are_within_tolerance() -> None:
    assert rates_within(_case(estimated=(0.24, 0.16, 0.05)))
    assert not rates_within(_case(estimated=(0.2, 0.2, 0.06)))  # spurious off by 0.06
    assert not rates_within(_case(estimated=(0.26, 0.2, 0.0)))  # overall off by 0.06


def test_goals_count_the_cases_each_applies_to() -> None:
    cases = [
        _case(fused_auroc=0.85, cleanlab_auroc=0.70),  # missing 0.2: meets the AUROC goal
        _case(rate=0.5, fused_auroc=0.85, cleanlab_auroc=0.78),  # lead only 0.07
        _case(rate=0.8, fused_auroc=0.70, cleanlab_auroc=0.50),  # 0.8: not an AUROC goal
        _case(protocol="spurious", removals=(40, 0.65), additions=(0, math.nan)),
        _case(protocol="mixed", removals=(5, 0.8), estimated=(0.3, 0.2, 0.1)),
        _case(protocol="pairflip", fused_auroc=0.96, cleanlab_auroc=0.97),
        _case(protocol="pairflip", seed=1, fused_auroc=0.93),
    ]
    cases[0]["rate"]["sd"] = 0.01  # 0.2 read for 0.2: covered
    cases[4]["rate"]["sd"] = 0.04  # 0.3 read for 0.2, ± 0.08: not covered
    counts = goal_counts(cases)
    assert counts["missing_auroc"] == (1, 2)
    assert counts["remove_precision"] == (1, 2)  # cases without removals do not count
    assert counts["add_precision"] == (6, 6)
    assert counts["rates_within"] == (6, 7)
    assert counts["overall_rate_within"] == (6, 7)
    assert counts["fused_at_least_cleanlab"] == (6, 7)
    assert counts["spread_covers"] == (1, 2)  # only cases read with resamples count
    # The floor is read on the papers' own noise files (seed 0); other seeds are reported apart.
    assert counts["pairflip"] == {(3000, 0.2): (0.96, 0.93)}


def test_the_table_has_a_line_per_case_with_the_means_over_its_seeds() -> None:
    cases = [
        _case(seed=0, fused_auroc=0.80, estimated=(0.20, 0.20, 0.0)),
        _case(seed=1, fused_auroc=0.90, estimated=(0.30, 0.30, 0.0)),
        _case(protocol="spurious", removals=(40, 0.65), additions=(0, math.nan)),
    ]
    lines = matrix_table(cases).splitlines()
    assert len(lines) == 2 + 2
    missing = lines[2].split(" | ")
    assert missing[4] == "2" and missing[5].startswith("0.850 /")
    assert missing[11] == "0.250 (0.200)"  # the mean estimate, the truth in brackets
    assert missing[-1].strip(" |") == "1/2"  # seed 1 reads the rate 0.1 high
    spurious = lines[3].split(" | ")
    assert spurious[9] == "40, 0.650 / 0.100" and spurious[10] == "0"


def test_a_file_that_is_not_bench_scan_output_is_refused_by_name(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps([_case()]))
    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "a list"}')
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(good), str(bad)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "bad.json" in result.stderr and result.stdout == ""


def test_a_case_without_the_fields_it_needs_is_refused_with_its_index(tmp_path: Path) -> None:
    partial = _case()
    del partial["rate"]["true_spurious"]
    path = tmp_path / "partial.json"
    path.write_text(json.dumps([_case(), partial]))
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(path)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "partial.json: case 1" in result.stderr and "true_spurious" in result.stderr
