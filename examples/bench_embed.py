"""Images and texts per second of each ``audit embed`` encoder, on the 100 real photos.

Reads the 100 MIRFlickr-25K thumbnails (256x256 JPEG) from ../shared/data/mirflickr25k_thumbs
(or ``--photos DIR``), writes them with short generated captions to a temporary Parquet file as
Hugging Face image structs, and for each encoder times:

- ``images/s`` and ``texts/s``: the model calls alone (preprocessing included, JPEG decoding
  not), best of ``--repeats`` passes after one warm-up batch;
- ``embed s``: the whole ``embed_file`` call with an empty cache (read, check, decode, encode,
  write), and ``cached s``: the same call again, served from the cache.

    python examples/bench_embed.py                      # offline and the tiny clip model, 2 threads
    python examples/bench_embed.py --bf16 --threads 2
    python examples/bench_embed.py --encoder clip:ViT-B-32:laion2b_s34b_b79k  # needs its weights

The command line equivalent of one row is printed under the table.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from auditor.embed import EmbedSettings, decode_image, embed_file  # noqa: E402
from auditor.encoders import Encoder, make_encoder  # noqa: E402

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "mirflickr25k_thumbs"
SUBJECTS = (
    "a busy street",
    "friends at a party",
    "the sea at sunset",
    "a red flower",
    "a plate of food",
    "a dog in the park",
    "an old church",
    "snow on the mountains",
)


def photo_files(folder: Path) -> list[Path]:
    files = sorted(folder.glob("im*.jpg"), key=lambda path: int(path.stem[2:]))
    if not files:
        raise SystemExit(f"no im*.jpg photos in {folder}")
    return files


def captions(n_rows: int) -> list[str]:
    """Short generated captions, a little varied in length like real ones."""
    return [
        f"photo {i}: {SUBJECTS[i % len(SUBJECTS)]}" + (", seen from far away" if i % 3 else "")
        for i in range(n_rows)
    ]


def write_dataset(files: list[Path], path: Path) -> Path:
    images = [{"bytes": file.read_bytes(), "path": file.name} for file in files]
    table = pa.table(
        {
            "id": [file.stem for file in files],
            "image": pa.array(
                images, type=pa.struct([("bytes", pa.binary()), ("path", pa.string())])
            ),
            "text": captions(len(files)),
        }
    )
    pq.write_table(table, path)
    return path


def items_per_second(encode: object, items: list, batch_size: int, repeats: int) -> float:
    """Best rate of ``repeats`` passes over ``items`` in batches, after one warm-up batch."""
    assert callable(encode)
    encode(items[:batch_size])
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for start in range(0, len(items), batch_size):
            encode(items[start : start + batch_size])
        best = min(best, time.perf_counter() - started)
    return len(items) / best


def bench(spec: str, data: Path, cache_dir: Path, work: Path, args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    encoder: Encoder = make_encoder(spec, device=args.device, bf16=args.bf16)
    encoder.load()
    load_seconds = time.perf_counter() - started
    images = [decode_image(file.read_bytes()) for file in photo_files(args.photos)]
    texts = captions(len(images))
    image_rate = items_per_second(encoder.encode_images, images, args.batch_size, args.repeats)
    text_rate = items_per_second(encoder.encode_texts, texts, args.batch_size, args.repeats)
    settings = EmbedSettings(
        encoder=spec,
        batch_size=args.batch_size,
        device=args.device,
        bf16=args.bf16,
        cache_dir=cache_dir,
    )
    timings = []
    for name in ("cold", "cached"):
        started = time.perf_counter()
        embed_file(data, work / f"out-{name}.parquet", settings, encoder=encoder)
        timings.append(time.perf_counter() - started)
    return {
        "encoder": spec,
        "dims": f"{encoder.image_dim}/{encoder.text_dim}",
        "load s": load_seconds,
        "images/s": image_rate,
        "texts/s": text_rate,
        "embed s": timings[0],
        "cached s": timings[1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--encoder",
        action="append",
        help="encoder spec (repeatable) [default: offline, clip:hashaudit-tiny:]",
    )
    parser.add_argument("--photos", type=Path, default=PHOTOS)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    specs = args.encoder or ["offline", "clip:hashaudit-tiny:"]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        data = write_dataset(photo_files(args.photos), work / "thumbs.parquet")
        for index, spec in enumerate(specs):
            rows.append(bench(spec, data, work / f"cache-{index}", work, args))
    precision = "bf16 autocast" if args.bf16 else "fp32"
    print(
        f"{len(photo_files(args.photos))} photos (256x256 JPEG), {args.threads} threads, "
        f"batch {args.batch_size}, {precision}, load average {os.getloadavg()[0]:.1f}"
    )
    header = list(rows[0])
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        cells = [value if isinstance(value, str) else f"{value:.1f}" for value in row.values()]
        print("| " + " | ".join(cells) + " |")
    flags = " --bf16" if args.bf16 else ""
    print(
        f"\ncommand: OMP_NUM_THREADS={args.threads} audit embed data.parquet "
        f"--encoder {specs[0]} --batch-size {args.batch_size}{flags} -o out.parquet"
    )


if __name__ == "__main__":
    main()
