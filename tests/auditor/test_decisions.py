"""`audit clean --decisions`: exactly the reviewed decisions, refused with line numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from auditor.dataset import DataError
from auditor.decisions import clean_with_decisions, read_decisions
from auditor.io import file_fingerprint, read_provenance
from cli.main import app
from tests.conftest import small_table, write

# small_table: ids r0..r11, classes cat/dog/sky; r0 query, r1 database, r2.. train.
# r2: [sky], r3: [cat, dog], r4: [dog], r5: [sky, cat], r6: [cat]


def labels_of(path: Path) -> dict[str, list[str]]:
    table = pq.read_table(path)
    return dict(
        zip(table.column("id").to_pylist(), table.column("labels").to_pylist(), strict=True)
    )


def decisions_file(folder: Path, lines: list[str], name: str = "decisions.csv") -> Path:
    path = folder / name
    path.write_text("id,class,action,reviewer_note\n" + "\n".join(lines) + "\n")
    return path


def test_applies_exactly_the_decisions(tmp_path: Path) -> None:
    data = write(small_table(), tmp_path / "d.parquet")
    before = labels_of(data)
    decisions = decisions_file(
        tmp_path,
        [
            "r3,dog,accepted,not a dog",  # remove
            "r4,sky,accepted,",  # add
            'r5,cat,rejected,"looks right,\nreally"',  # a note over two lines
            'r6,"dog|sky",set,both',
        ],
    )
    out = tmp_path / "c.parquet"
    summary = clean_with_decisions(data, decisions, out)
    after = labels_of(out)
    assert after["r3"] == ["cat"]
    assert after["r4"] == ["dog", "sky"]
    assert after["r6"] == ["dog", "sky"]
    untouched = {k: v for k, v in before.items() if k not in ("r3", "r4", "r6")}
    assert {k: after[k] for k in untouched} == untouched
    changes = dict(
        zip(
            pq.read_table(out).column("id").to_pylist(),
            pq.read_table(out).column("changes").to_pylist(),
            strict=True,
        )
    )
    assert changes["r3"] == ["-dog"] and changes["r4"] == ["+sky"]
    assert changes["r6"] == ["-cat", "+dog", "+sky"] and changes["r5"] == []
    assert summary["decisions_accepted"] == 2 and summary["decisions_rejected"] == 1
    assert summary["rows_changed"] == 3 and summary["labels_removed"] == 2
    provenance = read_provenance(out)
    assert provenance is not None
    assert provenance["decisions"] == {
        "path": str(decisions),
        "fingerprint": file_fingerprint(decisions),
    }
    assert [d.line for d in read_decisions(decisions)] == [2, 3, 4, 6]
    # the same decisions on the cleaned file would flip the accepted cells back: refused
    with pytest.raises(DataError, match="already applied"):
        clean_with_decisions(out, decisions, tmp_path / "again.parquet")


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["r3,dog,accepted,", "zz,dog,accepted,"], "column 'id': line 3: id 'zz' is not in"),
        (["r3,bird,accepted,"], "column 'class': line 2: unknown class 'bird'"),
        (["r3,dog,maybe,"], "column 'action': line 2: unknown action 'maybe'"),
        (["r0,dog,accepted,"], "line 2: id 'r0' is a 'query' row"),
        (["r3,dog,accepted,", "r3,dog,rejected,"], "line 3: a second decision on id 'r3'"),
        (["r3,dog,accepted,", "r3,cat,set,"], "line 3: id 'r3' has a 'set' decision and another"),
        (["r2,sky,accepted,"], "line 2: id 'r2' would be left without any label"),
    ],
)
def test_bad_decisions_name_the_line(tmp_path: Path, lines: list[str], message: str) -> None:
    data = write(small_table(), tmp_path / "d.parquet")
    decisions = decisions_file(tmp_path, lines)
    out = tmp_path / "c.parquet"
    with pytest.raises(DataError) as caught:
        clean_with_decisions(data, decisions, out)
    assert message in str(caught.value) and str(decisions) in str(caught.value)
    assert not out.exists()


def audit_for(table: pa.Table, suggestions: dict[str, tuple[list[str], list[str]]]) -> pa.Table:
    """An audit.parquet of the train rows: (remove, add) suggestions per id."""
    pairs = zip(table["id"].to_pylist(), table["split"].to_pylist(), strict=True)
    ids = [i for i, split in pairs if split == "train"]
    given = dict(zip(table["id"].to_pylist(), table["labels"].to_pylist(), strict=True))
    remove = [suggestions.get(i, ([], []))[0] for i in ids]
    add = [suggestions.get(i, ([], []))[1] for i in ids]
    suggested = [
        sorted((set(given[i]) - set(r)) | set(a)) for i, r, a in zip(ids, remove, add, strict=True)
    ]
    return pa.table(
        {
            "id": ids,
            "rank": list(range(1, len(ids) + 1)),
            "label_quality": [0.5] * len(ids),
            "is_issue": [i in suggestions for i in ids],
            "given_labels": [given[i] for i in ids],
            "suggested_labels": suggested,
            "labels_to_remove": pa.array(remove, type=pa.list_(pa.string())),
            "labels_to_add": pa.array(add, type=pa.list_(pa.string())),
        }
    )


def test_with_the_audit_accepted_cells_must_be_suggestions(tmp_path: Path) -> None:
    table = small_table()
    data = write(table, tmp_path / "d.parquet")
    audit = write(audit_for(table, {"r3": (["dog"], [])}), tmp_path / "audit.parquet")
    ok = decisions_file(tmp_path, ["r3,dog,accepted,"], "ok.csv")
    clean_with_decisions(data, ok, tmp_path / "c.parquet", audit_path=audit)
    assert labels_of(tmp_path / "c.parquet")["r3"] == ["cat"]
    bad = decisions_file(tmp_path, ["r3,dog,accepted,", "r4,sky,accepted,"], "bad.csv")
    with pytest.raises(DataError, match="line 3: class 'sky' of id 'r4' is not a suggested"):
        clean_with_decisions(data, bad, tmp_path / "c2.parquet", audit_path=audit)


def test_cli_decisions(tmp_path: Path) -> None:
    data = write(small_table(), tmp_path / "d.parquet")
    decisions = decisions_file(tmp_path, ["r3,dog,accepted,"])
    runner = CliRunner()
    out = tmp_path / "c.parquet"
    result = runner.invoke(
        app, ["clean", str(data), "--decisions", str(decisions), "-o", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["labels_removed"] == 1
    bad = decisions_file(tmp_path, ["r3,dog,accepted,", "nope,dog,accepted,"], "bad.csv")
    result = runner.invoke(
        app, ["clean", str(data), "--decisions", str(bad), "-o", str(tmp_path / "x.parquet")]
    )
    assert result.exit_code == 2 and "line 3: id 'nope'" in result.output
    assert not (tmp_path / "x.parquet").exists()
    result = runner.invoke(
        app, ["clean", str(data), "--decisions", str(decisions), "--strategy", "drop"]
    )
    assert result.exit_code == 2


def test_cli_needs_a_strategy_or_decisions(tmp_path: Path) -> None:
    data = write(small_table(), tmp_path / "d.parquet")
    result = CliRunner().invoke(app, ["clean", str(data)])
    assert result.exit_code == 2 and "--decisions" in result.output
