"""Build a small COCO-format dataset from real photos, for the own-data walk-through.

    python examples/own_data_fixture.py PHOTOS_DIR OUT_DIR [--n 60] [--noisy 8] [--seed 0]

Writes OUT_DIR/instances.json and OUT_DIR/captions.json (COCO), OUT_DIR/images/ (copies of the
first N photos, sorted by their number), and OUT_DIR/truth.parquet (``id``, ``clean_labels``:
for `audit scan --truth`).

The categories are of our own making but follow what is in the pixels, so a detector can
check them: ``bright`` or ``dark`` (mean brightness above or below the median), the dominant
colour ``reddish`` / ``greenish`` / ``bluish`` (the channel furthest above the photo's mean), and
``contrasted`` (pixel spread above the median). The captions describe the true categories. In
``--noisy`` photos, chosen with the seed, the annotations give a wrong dominant colour: the
wrong labels the audit should find (the captions and pixels still tell the truth).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

CATEGORIES = ("bright", "dark", "reddish", "greenish", "bluish", "contrasted")
COLOURS = ("reddish", "greenish", "bluish")


def photo_number(path: Path) -> int:
    found = re.findall(r"\d+", path.stem)
    return int(found[-1]) if found else 0


def pixel_stats(path: Path) -> tuple[float, np.ndarray, float]:
    """(brightness, (3,) channel means minus their mean, pixel standard deviation)."""
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0
    channels = pixels.reshape(-1, 3).mean(axis=0)
    return float(pixels.mean()), channels - channels.mean(), float(pixels.std())


def true_categories(stats: list[tuple[float, np.ndarray, float]]) -> list[list[str]]:
    brightness = np.array([s[0] for s in stats])
    spread = np.array([s[2] for s in stats])
    categories = []
    for light, tint, contrast in stats:
        names = ["bright" if light > np.median(brightness) else "dark"]
        names.append(COLOURS[int(np.argmax(tint))])
        if contrast > np.median(spread):
            names.append("contrasted")
        categories.append(names)
    return categories


def caption(names: list[str]) -> str:
    light = names[0]
    colour = names[1].removesuffix("ish")
    text = f"a {light} photo in {colour} tones"
    return text + (", strongly contrasted" if "contrasted" in names else ", soft and flat")


def build(photos: Path, out: Path, n: int, noisy: int, seed: int) -> dict[int, list[str]]:
    """Write the fixture; returns image id -> given (possibly wrong) categories."""
    files = sorted(
        (p for p in photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")),
        key=photo_number,
    )[:n]
    if len(files) < n:
        raise SystemExit(f"{photos}: {len(files)} photos, need {n}")
    (out / "images").mkdir(parents=True, exist_ok=True)
    stats = [pixel_stats(path) for path in files]
    truth = true_categories(stats)
    rng = np.random.default_rng(seed)
    corrupted = set(rng.choice(n, size=noisy, replace=False).tolist())
    category_id = {name: index + 1 for index, name in enumerate(CATEGORIES)}
    images: list[dict[str, Any]] = []
    instances: list[dict[str, Any]] = []
    captions: list[dict[str, Any]] = []
    given: dict[int, list[str]] = {}
    for row, path in enumerate(files):
        image_id = 1000 + row
        shutil.copyfile(path, out / "images" / path.name)
        with Image.open(path) as image:
            width, height = image.size
        images.append({"id": image_id, "file_name": path.name, "width": width, "height": height})
        names = list(truth[row])
        if row in corrupted:
            wrong = [c for c in COLOURS if c != names[1]]
            names[1] = wrong[int(rng.integers(len(wrong)))]
        given[image_id] = names
        for name in names:
            instances.append(
                {
                    "id": len(instances) + 1,
                    "image_id": image_id,
                    "category_id": category_id[name],
                    "bbox": [0, 0, width, height],
                    "area": width * height,
                    "iscrowd": 0,
                }
            )
        captions.append({"id": row + 1, "image_id": image_id, "caption": caption(truth[row])})
    categories = [{"id": category_id[name], "name": name} for name in CATEGORIES]
    document = {"info": {"description": "hashaudit own-data walk-through"}, "images": images}
    (out / "instances.json").write_text(
        json.dumps({**document, "annotations": instances, "categories": categories}, indent=1)
    )
    (out / "captions.json").write_text(json.dumps({**document, "annotations": captions}, indent=1))
    pq.write_table(
        pa.table({"id": [1000 + row for row in range(n)], "clean_labels": truth}),
        out / "truth.parquet",
    )
    return given


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--noisy", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    build(arguments.photos, arguments.out, arguments.n, arguments.noisy, arguments.seed)


if __name__ == "__main__":
    main()
