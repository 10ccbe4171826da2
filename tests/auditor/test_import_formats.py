"""Importers of a user's own data: COCO, tables, image folders, Hugging Face folders."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from auditor.dataset import DataError
from auditor.import_formats import (
    TableColumns,
    import_coco,
    import_folder,
    import_hf,
    import_table,
)
from auditor.io import read_dataset
from auditor.tags import detect_separator, join_tags, split_tags
from cli.main import app
from tests.auditor.own_data_fixtures import (
    INSTANCES,
    TABLE_ROWS,
    coco_document,
    expected_coco_labels,
    expected_table_labels,
    make_images,
    write_coco,
    write_csv,
    write_hf,
    write_jsonl,
)

TABLE_COLUMNS = TableColumns(image="path", text="caption", labels="tags", id="key")


def labels_by_id(table) -> dict:  # type: ignore[no-untyped-def]
    return {
        row_id: set(labels)
        for row_id, labels in zip(
            table.column("id").to_pylist(), table.column("labels").to_pylist(), strict=True
        )
    }


def test_tags_split_and_join_inverse() -> None:
    assert split_tags('beach|"rock|roll"', "|") == ["beach", "rock|roll"]
    assert split_tags("a; b ;c", ";") == ["a", "b", "c"]
    for tags in (["beach", "rock|roll"], ['say "hi"', "x"], ["東京"]):
        assert split_tags(join_tags(tags, "|"), "|") == tags
    assert detect_separator(["a;b", '"x|y";z']) == ";"
    with pytest.raises(ValueError, match="mixed separators"):
        detect_separator(["a|b", "c", "d;e"])


def test_coco_labels_texts_and_ids(tmp_path: Path) -> None:
    instances, captions, images = write_coco(tmp_path)
    imported = import_coco(instances, images, captions=captions)
    table = imported.table
    assert labels_by_id(table) == expected_coco_labels()
    assert imported.classes == ("chat", "chien", "été, plage", "東京", "unused")
    texts = dict(zip(table.column("id").to_pylist(), table.column("text").to_pylist(), strict=True))
    assert texts[101] == "caption 0 of 101 ünïcode caption 1 of 101 ünïcode"
    first = import_coco(instances, images, captions=captions, caption_mode="first").table
    assert first.column("text")[0].as_py() == "caption 0 of 101 ünïcode"
    assert all(Path(p).is_file() for p in table.column("image").to_pylist())
    embedded = import_coco(instances, images, embed_bytes=True).table
    image = embedded.column("image")[0].as_py()
    assert image["bytes"] == (images / "img_101.png").read_bytes()
    assert "text" not in embedded.column_names
    assert imported.record["fingerprint"].startswith("sha256:")


def test_coco_unlabelled_images_error_or_skip(tmp_path: Path) -> None:
    instances, _, images = write_coco(tmp_path, unlabelled=True)
    with pytest.raises(DataError, match=r"1 images have no annotation \(first: id 999\)"):
        import_coco(instances, images)
    imported = import_coco(instances, images, skip_unlabelled=True)
    assert 999 not in imported.table.column("id").to_pylist()
    assert imported.record["skipped_image_ids"] == [999]
    assert imported.notes == ("1 images without any annotation skipped",)


def broken_coco(tmp_path: Path, edit) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    _, _, images = write_coco(tmp_path)
    document = coco_document()
    edit(document)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(document))
    return path, images


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d["annotations"][4].update(category_id=42),
            "column 'annotations.category_id', row 4: unknown category id 42",
        ),
        (
            lambda d: d["images"][2].update(id=101),
            "column 'images.id', row 2: duplicate id 101 (first at row 0)",
        ),
        (
            lambda d: d["images"][3].update(file_name="gone.png"),
            "column 'images.file_name', row 3: image file not found",
        ),
        (lambda d: d.pop("categories"), "not a COCO file: no 'categories' list"),
    ],
)
def test_coco_bad_input(tmp_path: Path, edit, message: str) -> None:  # type: ignore[no-untyped-def]
    path, images = broken_coco(tmp_path, edit)
    with pytest.raises(DataError) as caught:
        import_coco(path, images)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_coco_malformed_json_names_the_line(tmp_path: Path) -> None:
    instances, _, images = write_coco(tmp_path)
    lines = instances.read_text().splitlines()
    lines[6] = lines[6] + " oops"
    instances.write_text("\n".join(lines))
    with pytest.raises(DataError, match="malformed JSON on line 7"):
        import_coco(instances, images)


@pytest.mark.parametrize(("name", "sep"), [("data.csv", ","), ("data.tsv", "\t")])
def test_csv_and_tsv_with_quoted_separators(tmp_path: Path, name: str, sep: str) -> None:
    path = write_csv(tmp_path, name, sep)
    imported = import_table(path, TABLE_COLUMNS)
    assert labels_by_id(imported.table) == expected_table_labels()
    assert imported.record["label_sep"] == "|"
    assert imported.table.column("text").to_pylist() == [row[1] for row in TABLE_ROWS]


def test_jsonl_lists_and_parquet(tmp_path: Path) -> None:
    jsonl = import_table(write_jsonl(tmp_path), TABLE_COLUMNS)
    assert labels_by_id(jsonl.table) == expected_table_labels()
    assert jsonl.record["labels_are_lists"] is True
    frame = __import__("pandas").read_json(tmp_path / "data.jsonl", lines=True)
    frame.to_parquet(tmp_path / "data.parquet")
    parquet = import_table(tmp_path / "data.parquet", TABLE_COLUMNS)
    assert labels_by_id(parquet.table) == expected_table_labels()


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        (["a|b", "", "c"], "column 'tags', row 1: empty tag cell"),
        (["a|b", "c", "d;e"], "column 'tags', row 2: mixed separators"),
        (["a||b"], "column 'tags', row 0: empty tag"),
    ],
)
def test_table_bad_tags(tmp_path: Path, cells: list[str], message: str) -> None:
    import pandas as pd

    make_images(tmp_path, [f"{i}.png" for i in range(len(cells))])
    frame = pd.DataFrame({"path": [f"{i}.png" for i in range(len(cells))], "tags": cells})
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(DataError, match="t.csv") as caught:
        import_table(tmp_path / "t.csv", TableColumns(image="path", text=None, labels="tags"))
    assert message in str(caught.value)


def test_explicit_separator_rejects_another_outside_quotes(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text('tags\n"a;b"\n"c;""x|y"""\n"d|e"\n')
    columns = TableColumns(image=None, text=None, labels="tags")
    with pytest.raises(DataError, match=r"row 2: mixed separators: 'd\|e' holds '\|'"):
        import_table(tmp_path / "t.csv", columns, label_sep=";")


def test_table_duplicate_ids_missing_image_malformed_jsonl(tmp_path: Path) -> None:
    make_images(tmp_path, ["a.png"])
    (tmp_path / "d.csv").write_text("path,tags,key\na.png,x,1\na.png,y,1\n")
    with pytest.raises(DataError, match="column 'key', row 1: duplicate id '1'"):
        import_table(
            tmp_path / "d.csv", TableColumns(image="path", text=None, labels="tags", id="key")
        )
    (tmp_path / "m.csv").write_text("path,tags\na.png,x\nb.png,y\n")
    with pytest.raises(DataError, match="column 'path', row 1: image file not found"):
        import_table(tmp_path / "m.csv", TableColumns(image="path", text=None, labels="tags"))
    (tmp_path / "j.jsonl").write_text('{"path": "a.png", "tags": ["x"]}\n\n{"path": "a.png",\n')
    with pytest.raises(DataError, match="j.jsonl: malformed JSON on line 3"):
        import_table(tmp_path / "j.jsonl", TableColumns(image="path", text=None, labels="tags"))


def test_folder_with_sidecar(tmp_path: Path) -> None:
    write_csv(tmp_path)
    (tmp_path / "data.csv").rename(tmp_path / "metadata.csv")
    make_images(tmp_path, ["stray.png"])
    imported = import_folder(
        tmp_path, columns=TableColumns(image="path", text="caption", labels="tags", id="key")
    )
    assert labels_by_id(imported.table) == expected_table_labels()
    assert "1 images in" in imported.notes[0] and "stray.png" in imported.notes[0]


def test_hf_save_to_disk_folder(tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    folder = write_hf(tmp_path)
    imported = import_hf(folder, TableColumns(id="key"))
    assert labels_by_id(imported.table) == expected_table_labels()
    image = imported.table.column("image")[0].as_py()
    assert image["bytes"] == (tmp_path / "hf_images" / "a.png").read_bytes()
    assert imported.record["labels_are_class_numbers"] is True


def test_cli_import_then_read_dataset(tmp_path: Path) -> None:
    instances, captions, images = write_coco(tmp_path)
    out = tmp_path / "coco.parquet"
    runner = CliRunner()
    args = ["import", "coco", str(instances), "--captions", str(captions), "--images", str(images)]
    result = runner.invoke(app, [*args, "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows"] == len(INSTANCES)
    dataset = read_dataset(out, require_embeddings=False)
    assert dataset.classes == ("chat", "chien", "été, plage", "東京", "unused")
    assert "import_source" in json.loads(pq.read_schema(out).metadata[b"hashaudit"])
    (images / "img_205.png").unlink()
    bad = tmp_path / "bad.parquet"
    result = runner.invoke(
        app, ["import", "coco", str(instances), "--images", str(images), "-o", str(bad)]
    )
    assert result.exit_code == 2
    assert "column 'images.file_name', row 1: image file not found" in result.output
    assert not bad.exists()


def test_cli_table_folder_and_hf(tmp_path: Path) -> None:
    runner = CliRunner()
    source = write_csv(tmp_path)
    options = ["--image-column", "path", "--text-column", "caption", "--labels-column", "tags"]
    out = tmp_path / "t.parquet"
    result = runner.invoke(
        app, ["import", "table", str(source), *options, "--id-column", "key", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert labels_by_id(pq.read_table(out)) == expected_table_labels()
    result = runner.invoke(
        app, ["import", "table", str(source), *options, "--label-sep", ";", "-o", str(out)]
    )
    assert result.exit_code == 2 and "mixed separators" in result.output
    (tmp_path / "data.csv").rename(tmp_path / "metadata.csv")
    folder_out = tmp_path / "f.parquet"
    result = runner.invoke(
        app,
        [
            "import",
            "folder",
            str(tmp_path),
            *options,
            "--id-column",
            "key",
            "--embed-bytes",
            "-o",
            str(folder_out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows"] == len(TABLE_ROWS)
    assert pq.read_table(folder_out).column("image").type.num_fields == 2
    pytest.importorskip("datasets")
    hf_folder = write_hf(tmp_path / "hf_source")
    hf_out = tmp_path / "h.parquet"
    result = runner.invoke(
        app, ["import", "hf", str(hf_folder), "--id-column", "key", "-o", str(hf_out)]
    )
    assert result.exit_code == 0, result.output
    assert labels_by_id(pq.read_table(hf_out)) == expected_table_labels()
    result = runner.invoke(
        app, ["export", str(hf_out), "--to", "hf", "-o", str(tmp_path / "hf_back"), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows"] == len(TABLE_ROWS)
