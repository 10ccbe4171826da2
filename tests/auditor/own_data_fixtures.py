"""Small user-data fixtures: COCO files, CSV/TSV/JSONL/Parquet tables, an image folder and a
Hugging Face save_to_disk folder, with unicode class names and tags holding separators."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

CATEGORIES = [
    {"id": 1, "name": "chat", "supercategory": "animal"},
    {"id": 3, "name": "chien", "supercategory": "animal"},
    {"id": 7, "name": "été, plage", "supercategory": "scène"},  # a comma in a name
    {"id": 9, "name": "東京", "supercategory": "lieu"},
    {"id": 12, "name": "unused", "supercategory": "x"},
]
# image id -> category ids of its instances (repeats: several instances of one category)
INSTANCES = {101: [1, 1, 3], 205: [7], 307: [9, 3, 7], 408: [1], 512: [9, 9], 613: [3, 7, 9, 1]}


def make_images(folder: Path, names: list[str], seed: int = 0) -> None:
    """Tiny distinct PNG images."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in names:
        pixels = rng.integers(0, 255, size=(8, 8, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / name)


def coco_document(unlabelled: bool = False) -> dict[str, Any]:
    images = [
        {"id": image_id, "file_name": f"img_{image_id}.png", "width": 8, "height": 8,
         "license": 1}
        for image_id in INSTANCES
    ]  # fmt: skip
    if unlabelled:
        images.append({"id": 999, "file_name": "img_999.png", "width": 8, "height": 8})
    annotations = []
    for image_id, categories in INSTANCES.items():
        for category in categories:
            annotations.append(
                {"id": len(annotations) + 1, "image_id": image_id, "category_id": category,
                 "bbox": [1.0, 1.0, 3.0, 3.0], "area": 9.0, "iscrowd": 0}
            )  # fmt: skip
    return {
        "info": {"description": "fixture", "version": "1"},
        "licenses": [{"id": 1, "name": "CC"}],
        "images": images,
        "annotations": annotations,
        "categories": CATEGORIES,
    }


def captions_document() -> dict[str, Any]:
    annotations = []
    for image_id in INSTANCES:
        for k in range(2):
            annotations.append(
                {"id": len(annotations) + 1, "image_id": image_id,
                 "caption": f"caption {k} of {image_id} ünïcode"}
            )  # fmt: skip
    return {"images": [{"id": i} for i in INSTANCES], "annotations": annotations}


def expected_coco_labels() -> dict[int, set[str]]:
    names = {category["id"]: category["name"] for category in CATEGORIES}
    return {image_id: {names[c] for c in cats} for image_id, cats in INSTANCES.items()}


def coco_image_labels(document: dict[str, Any]) -> dict[int, set[str]]:
    """Image id -> the names of its annotations' categories (empty for an unannotated image)."""
    names = {c["id"]: c["name"] for c in document["categories"]}
    labels: dict[int, set[str]] = {image["id"]: set() for image in document["images"]}
    for annotation in document["annotations"]:
        labels[annotation["image_id"]].add(names[annotation["category_id"]])
    return labels


def write_coco(folder: Path, unlabelled: bool = False) -> tuple[Path, Path, Path]:
    """(instances.json, captions.json, images folder)."""
    images = folder / "images"
    ids = list(INSTANCES) + ([999] if unlabelled else [])
    make_images(images, [f"img_{i}.png" for i in ids])
    instances, captions = folder / "instances.json", folder / "captions.json"
    instances.write_text(json.dumps(coco_document(unlabelled), ensure_ascii=False, indent=1))
    captions.write_text(json.dumps(captions_document(), ensure_ascii=False))
    return instances, captions, images


# tag cells with the separator inside quotes and unicode
TABLE_ROWS = [
    ("a.png", "a sunny day", 'beach|"rock|roll"', "k1"),
    ("b.png", "東京の夜", "東京|night", "k2"),
    ("c.png", "two dogs", "dog", "k3"),
    ("d.png", "guitar on a beach", '"rock|roll"|guitar|beach', "k4"),
    ("e.png", "commas", '"a, b"|dog', "k5"),
]


def expected_table_labels() -> dict[str, set[str]]:
    return {
        "k1": {"beach", "rock|roll"},
        "k2": {"東京", "night"},
        "k3": {"dog"},
        "k4": {"rock|roll", "guitar", "beach"},
        "k5": {"a, b", "dog"},
    }


def write_csv(folder: Path, name: str = "data.csv", sep: str = ",") -> Path:
    """A CSV/TSV written with pandas (so cells are quoted as a spreadsheet would)."""
    import pandas as pd

    make_images(folder, [row[0] for row in TABLE_ROWS])
    frame = pd.DataFrame(TABLE_ROWS, columns=["path", "caption", "tags", "key"])
    path = folder / name
    frame.to_csv(path, index=False, sep=sep)
    return path


def write_jsonl(folder: Path, name: str = "data.jsonl") -> Path:
    """JSONL with tags as JSON lists."""
    make_images(folder, [row[0] for row in TABLE_ROWS])
    labels = expected_table_labels()
    path = folder / name
    with open(path, "w", encoding="utf-8") as handle:
        for image, caption, _, key in TABLE_ROWS:
            record = {"path": image, "caption": caption, "tags": sorted(labels[key]), "key": key}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def write_hf(folder: Path) -> Path:
    """A save_to_disk folder: Image feature with bytes, List(ClassLabel) labels."""
    import datasets

    names = sorted({tag for tags in expected_table_labels().values() for tag in tags})
    images = folder / "hf_images"
    make_images(images, [row[0] for row in TABLE_ROWS], seed=1)
    labels = expected_table_labels()
    features = datasets.Features(
        {
            "image": datasets.Image(),
            "text": datasets.Value("string"),
            "labels": datasets.Sequence(datasets.ClassLabel(names=names)),
            "key": datasets.Value("string"),
        }
    )
    data = datasets.Dataset.from_dict(
        {
            "image": [str(images / row[0]) for row in TABLE_ROWS],
            "text": [row[1] for row in TABLE_ROWS],
            "labels": [[names.index(tag) for tag in sorted(labels[row[3]])] for row in TABLE_ROWS],
            "key": [row[3] for row in TABLE_ROWS],
        },
        features=features,
    )
    out = folder / "hf"
    data.save_to_disk(str(out))
    return out
