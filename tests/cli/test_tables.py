"""Result tables at 80 columns: the columns that fit, ids and numbers whole."""

from __future__ import annotations

import io

from rich.console import Console

from cli.tables import Column, columns_that_fit, fitted_table


def render(table: object, width: int) -> list[str]:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(table)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    return output.splitlines()


COLUMNS = [
    Column("rank", justify="right"),
    Column("id"),
    Column("given labels", whole=False, priority=3),
    Column("remove", whole=False, priority=1),
    Column("add", whole=False, priority=1),
    Column("label_quality", justify="right"),
    Column("strongest signal", priority=4),
    Column("truly noisy", priority=2),
]
ROWS = [
    [
        str(rank),
        f"flickr-{rank:06d}-a4c9e3f1",
        "transportation_vehicle, indoor_scene, people_portrait",
        "indoor_scene",
        "structure_building",
        f"{0.0123 * rank:.3f}",
        "rshnl_clean_probability",
        "yes",
    ]
    for rank in range(1, 16)
]


def test_narrow_tables_keep_ids_and_numbers_whole() -> None:
    lines = render(fitted_table("Top suspects", COLUMNS, ROWS, 80), 80)
    assert all(len(line) <= 80 for line in lines)
    text = "\n".join(lines)
    assert "…" not in text
    for row in ROWS:
        line = next(line for line in lines if row[1] in line)  # the id on one line, whole
        assert row[5] in line  # its score beside it
    # the lowest-priority column went first, and the caption says so
    assert "strongest signal" not in lines[2] and "left out to fit 80 columns" in text
    # class names wrap between words, never inside one
    assert "indoor_scene" in text and "remove" in lines[2]


def test_wide_terminals_show_every_column() -> None:
    assert columns_that_fit(COLUMNS, ROWS, 200) == list(range(len(COLUMNS)))
    text = "\n".join(render(fitted_table("Top suspects", COLUMNS, ROWS, 200), 200))
    assert "strongest signal" in text and "left out" not in text


def test_columns_leave_by_priority_and_essential_ones_stay() -> None:
    kept = columns_that_fit(COLUMNS, ROWS, 80)
    headers = [COLUMNS[index].header for index in kept]
    assert {"rank", "id", "label_quality"} <= set(headers)
    assert "strongest signal" not in headers
    # even a terminal too narrow for anything keeps the priority-0 columns
    assert [COLUMNS[i].header for i in columns_that_fit(COLUMNS, ROWS, 10)] == [
        "rank",
        "id",
        "label_quality",
    ]
