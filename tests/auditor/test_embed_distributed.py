"""`embed_table` under torchrun: rank r encodes its shard of the contents, rank 0 assembles; an
image found corrupt by either rank while decoding is reported by every rank."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import embed_worker
import numpy as np
import pytest

from auditor.embed import embed_table
from auditor.encoders import make_encoder


@pytest.mark.distributed
def test_two_ranks_share_the_encoding_and_both_report_decoding_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        str(Path(embed_worker.__file__)), str(tmp_path),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # the timeout only stops a hang; it is not a speed check (a shared machine may be slow)
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    assert completed.returncode == 0, completed.stderr[-3000:]
    rank0 = json.loads((tmp_path / "rank0.json").read_text())
    rank1 = json.loads((tmp_path / "rank1.json").read_text())

    # without skip_bad both ranks stop with the same error naming both rows
    assert rank0["strict"] == rank1["strict"]
    assert "2 bad rows: row 1 (image: corrupt image" in rank0["strict"]["error"]
    assert "row 6 (image: corrupt image" in rank0["strict"]["error"]

    # with skip_bad rank 0 holds the result, rank 1 nothing; it equals a one-process run
    assert rank1["skip_bad"] == {"result": None}
    monkeypatch.setattr("auditor.embed.check_image", lambda data: None)
    alone = embed_table(
        embed_worker.table(), make_encoder("clip:hashaudit-tiny:", device="cpu"),
        batch_size=2, skip_bad=True,
    )  # fmt: skip
    assert alone is not None
    assert rank0["skip_bad"]["kept_rows"] == alone.kept_rows.tolist() == [0, 2, 3, 4, 5, 7]
    assert rank0["skip_bad"]["rejected_rows"] == [1, 6]
    assert rank0["skip_bad"]["encoded"] == alone.image.encoded == 6
    expected = np.asarray(alone.table.column("image_embedding").to_pylist())
    np.testing.assert_allclose(np.asarray(rank0["skip_bad"]["image"]), expected, atol=1e-5)
