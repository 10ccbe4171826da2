"""`audit export`: import -> (clean) -> export gives back the labels per image, every other
field as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from auditor.dataset import DataError
from auditor.decisions import clean_with_decisions
from auditor.export_formats import ADDED_MARK, export_file
from auditor.import_formats import TableColumns, import_coco, import_hf, import_table
from cli.import_commands import write_imported
from cli.main import app
from tests.auditor.own_data_fixtures import (
    TABLE_ROWS,
    coco_document,
    coco_image_labels,
    expected_coco_labels,
    expected_table_labels,
    write_coco,
    write_csv,
    write_hf,
    write_jsonl,
)

TABLE_COLUMNS = TableColumns(image="path", text="caption", labels="tags", id="key")


def imported_file(imported, path: Path) -> Path:  # type: ignore[no-untyped-def]
    write_imported(imported, path, "import test", json_output=False, quiet=True)
    return path


def decisions(folder: Path, lines: list[str]) -> Path:
    path = folder / "decisions.csv"
    path.write_text("id,class,action,reviewer_note\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("unlabelled", [False, True])
def test_coco_round_trip_is_the_same_document(tmp_path: Path, unlabelled: bool) -> None:
    instances, captions, images = write_coco(tmp_path, unlabelled=unlabelled)
    data = imported_file(
        import_coco(instances, images, captions=captions, skip_unlabelled=unlabelled),
        tmp_path / "coco.parquet",
    )
    summary = export_file(data, "coco", tmp_path / "out.json")
    exported = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert exported == coco_document(unlabelled)
    assert summary["annotations_removed"] == summary["annotations_added"] == 0


def test_coco_export_follows_reviewed_labels_and_keeps_the_rest(tmp_path: Path) -> None:
    instances, captions, images = write_coco(tmp_path)
    data = imported_file(import_coco(instances, images), tmp_path / "coco.parquet")
    reviewed = decisions(
        tmp_path,
        [
            "307,chien,accepted,",
            "101,東京,accepted,",
            "408,chat,rejected,",
            '205,"chat|""été, plage""",set,',
        ],
    )
    cleaned = tmp_path / "cleaned.parquet"
    clean_with_decisions(data, reviewed, cleaned)
    export_file(cleaned, "coco", tmp_path / "out.json")
    exported = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    expected = expected_coco_labels()
    expected[307] -= {"chien"}
    expected[101] |= {"東京"}
    expected[205] = {"chat", "été, plage"}
    assert coco_image_labels(exported) == expected
    original = coco_document()
    for key in ("info", "licenses", "images", "categories"):
        assert exported[key] == original[key]
    kept = [a for a in exported["annotations"] if "hashaudit" not in a]
    assert all(a in original["annotations"] for a in kept)  # untouched, bbox and all
    added = [a for a in exported["annotations"] if "hashaudit" in a]
    assert {(a["image_id"], a["category_id"]) for a in added} == {(101, 9), (205, 1)}
    assert all(a["hashaudit"] == ADDED_MARK and "bbox" not in a for a in added)
    # the exported file imports back to the cleaned labels
    again = import_coco(tmp_path / "out.json", images).table
    assert {
        i: set(labels)
        for i, labels in zip(again["id"].to_pylist(), again["labels"].to_pylist(), strict=True)
    } == expected


def test_coco_dropped_images_leave_with_their_annotations(tmp_path: Path) -> None:
    instances, _, images = write_coco(tmp_path)
    data = imported_file(import_coco(instances, images), tmp_path / "coco.parquet")
    table = pq.read_table(data)
    kept = table.filter(pa_not_equal(table, 512))
    pq.write_table(kept, tmp_path / "dropped.parquet")  # schema metadata (provenance) kept
    summary = export_file(tmp_path / "dropped.parquet", "coco", tmp_path / "out.json")
    exported = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert 512 not in coco_image_labels(exported)
    assert summary["images_dropped"] == 1
    assert all(a["image_id"] != 512 for a in exported["annotations"])


def pa_not_equal(table, value):  # type: ignore[no-untyped-def]
    import pyarrow.compute as pc

    return pc.not_equal(table["id"], value)


@pytest.mark.parametrize("name", ["data.csv", "data.tsv", "data.jsonl", "data.parquet"])
def test_table_round_trip(tmp_path: Path, name: str) -> None:
    if name == "data.jsonl":
        source = write_jsonl(tmp_path)
    elif name == "data.parquet":
        write_jsonl(tmp_path)
        pd.read_json(tmp_path / "data.jsonl", lines=True).to_parquet(tmp_path / name)
        source = tmp_path / name
    else:
        source = write_csv(tmp_path, name, "," if name.endswith("csv") else "\t")
    data = imported_file(import_table(source, TABLE_COLUMNS), tmp_path / "t.parquet")
    out = tmp_path / f"out{source.suffix}"
    export_file(data, "table", out)
    again = import_table(out, TABLE_COLUMNS, images_root=tmp_path).table
    labels = dict(zip(again["id"].to_pylist(), again["labels"].to_pylist(), strict=True))
    assert {key: set(value) for key, value in labels.items()} == expected_table_labels()
    if name in ("data.csv", "data.tsv"):
        sep = "," if name.endswith("csv") else "\t"
        before = pd.read_csv(source, dtype=str, keep_default_na=False, sep=sep)
        after = pd.read_csv(out, dtype=str, keep_default_na=False, sep=sep)
        pd.testing.assert_frame_equal(after.drop(columns="changes"), before)  # cells verbatim
        assert (after["changes"] == "").all()


def test_table_export_after_review(tmp_path: Path) -> None:
    source = write_csv(tmp_path)
    data = imported_file(import_table(source, TABLE_COLUMNS), tmp_path / "t.parquet")
    reviewed = decisions(
        tmp_path, ["k1,beach,accepted,", 'k3,"rock|roll",accepted,', "k2,東京,rejected,"]
    )
    clean_with_decisions(data, reviewed, tmp_path / "c.parquet")
    export_file(tmp_path / "c.parquet", "table", tmp_path / "out.csv")
    after = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert after["tags"].tolist() == [
        '"rock|roll"',
        "東京|night",
        'dog|"rock|roll"',
        TABLE_ROWS[3][2],
        TABLE_ROWS[4][2],
    ]
    assert after["changes"].tolist() == ["-beach", "", '"+rock|roll"', "", ""]
    assert after["caption"].tolist() == [row[1] for row in TABLE_ROWS]


def test_hf_round_trip_and_review(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    folder = write_hf(tmp_path)
    data = imported_file(import_hf(folder, TableColumns(id="key")), tmp_path / "hf.parquet")
    export_file(data, "hf", tmp_path / "out_plain")
    plain = datasets.load_from_disk(str(tmp_path / "out_plain"))
    original = datasets.load_from_disk(str(folder))
    assert plain["labels"] == original["labels"] and plain["key"] == original["key"]
    reviewed = decisions(tmp_path, ["k3,night,accepted,"])
    clean_with_decisions(data, reviewed, tmp_path / "c.parquet")
    export_file(tmp_path / "c.parquet", "hf", tmp_path / "out")
    exported = datasets.load_from_disk(str(tmp_path / "out"))
    names = exported.features["labels"].feature.names
    assert [names[i] for i in exported[2]["labels"]] == ["dog", "night"]
    assert exported["changes"] == [[], [], ["+night"], [], []]
    assert exported[0]["image"].size == (8, 8)  # the Image feature still decodes


def test_refusals(tmp_path: Path) -> None:
    source = write_csv(tmp_path)
    data = imported_file(import_table(source, TABLE_COLUMNS), tmp_path / "t.parquet")
    with pytest.raises(DataError, match="imported from table: export --to table"):
        export_file(data, "coco", tmp_path / "x.json")
    moved = tmp_path / "moved.csv"
    source.rename(moved)
    with pytest.raises(DataError, match="not there any more"):
        export_file(data, "table", tmp_path / "x.csv")
    export_file(data, "table", tmp_path / "x.csv", source=moved)
    moved.write_text(moved.read_text() + "f.png,extra,dog,k9\n")
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "export",
            str(data),
            "--to",
            "table",
            "-o",
            str(tmp_path / "y.csv"),
            "--source",
            str(moved),
        ],
    )
    assert result.exit_code == 2 and "fingerprint differs" in result.output
    assert not (tmp_path / "y.csv").exists()
