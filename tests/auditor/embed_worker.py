"""Worker of tests/auditor/test_embed_distributed.py, run under torchrun (not collected).

``python -m torch.distributed.run --standalone --nproc_per_node 2 embed_worker.py OUT`` embeds a
table whose rows 1 and 6 hold images that pass the cheap check but fail full decoding (the check
is switched off here to reach that path); with two ranks, each decodes one of them. Each rank
writes ``OUT/rankR.json``: what ``embed_table`` returned, with and without ``skip_bad``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

import auditor.embed
from auditor.dataset import DataError
from auditor.embed import embed_table
from auditor.encoders import make_encoder
from hashing.runtime.distributed import distributed_from_env

# torchrun runs this file as a script: the shared test helpers sit one folder up
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import HF_IMAGE, png  # noqa: E402

BROKEN_ROWS = (1, 6)
N_ROWS = 8


def table() -> pa.Table:
    images = [
        {"bytes": b"\x89PNG\r\n\x1a\n broken %d" % row if row in BROKEN_ROWS else png(row),
         "path": f"{row}.png"}
        for row in range(N_ROWS)
    ]  # fmt: skip
    return pa.table(
        {
            "id": [f"r{row}" for row in range(N_ROWS)],
            "image": pa.array(images, type=HF_IMAGE),
            "text": [f"text {row}" for row in range(N_ROWS)],
        }
    )


def run(skip_bad: bool) -> dict[str, Any]:
    encoder = make_encoder("clip:hashaudit-tiny:", device="cpu")
    try:
        result = embed_table(table(), encoder, batch_size=2, skip_bad=skip_bad)
    except DataError as error:
        return {"error": str(error)}
    if result is None:
        return {"result": None}
    return {
        "kept_rows": result.kept_rows.tolist(),
        "rejected_rows": result.rejects.column("row").to_pylist(),
        "image": np.asarray(result.table.column("image_embedding").to_pylist()).tolist(),
        "encoded": result.image.encoded,
    }


def main(out: Path) -> None:
    auditor.embed.check_image = lambda data: None  # type: ignore[assignment]
    with distributed_from_env("cpu") as info:
        outcome = {"strict": run(skip_bad=False), "skip_bad": run(skip_bad=True)}
        (out / f"rank{info.rank}.json").write_text(json.dumps(outcome))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
