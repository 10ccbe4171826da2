"""``audit embed``: add image and text embedding columns computed from a dataset's raw columns.

The raw ``image`` column is a Hugging Face Image struct (``struct<bytes, path>``), a path string
(relative paths are resolved against the Parquet file's folder) or raw bytes; ``text`` is a string
column. Work happens in three steps:

1. :func:`plan_embedding` reads every row cheaply (file exists, bytes look like an image, text is
   not empty) and hashes the content; bad rows stop the run here, before any model is loaded,
   unless ``skip_bad`` asks to reject them.
2. :func:`run_embedding` encodes each distinct image and text once, in batches, reusing vectors
   from an :class:`EmbeddingCache` keyed by content hash and encoder, so a re-run is instant.
   Images that turn out to be corrupt when fully decoded are bad rows too.
3. :func:`embed_file` writes the input columns plus ``image_embedding`` and ``text_embedding``
   (fixed_size_list<float32>) atomically with provenance, and under ``skip_bad`` a rejects file
   (row, id, column, reason) beside it. No row ever disappears silently.

Under ``torchrun`` (a ``torch.distributed`` process group of W ranks) every rank plans the whole
table (the cheap pass), rank 0's view of the cache decides which distinct contents need
encoding, and rank r encodes the r-th contiguous shard of them; the vectors go to rank 0, which
assembles and writes the output alone. Each rank writes the vectors it encoded to the cache.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from auditor.dataset import ColumnNames, DataError
from auditor.encoders import Encoder, make_encoder, resolve_encoder_spec
from auditor.io import (
    check_output_file,
    make_provenance,
    read_provenance,
    read_table,
    schema_classes,
    write_bytes_atomic,
    write_table_atomic,
)
from auditor.media import (
    BadCell,
    Problem,
    RawImages,
    check_image,
    decode_image,
    text_values,
)
from hashing.runtime.distributed import (
    all_gather_objects,
    broadcast_object,
    gather_objects_to_main,
    shard_bounds,
    world,
)

logger = logging.getLogger(__name__)

IMAGE = "image"
TEXT = "text"
DEFAULT_COLUMNS = ColumnNames()
# Bad rows named in an error message; the count says how many there are in all.
ROWS_SHOWN_IN_ERRORS = 5
# New vectors are written to the cache in shards of about this many, so an interrupted run
# keeps most of its work.
CACHE_FLUSH_EVERY = 1024


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/hashaudit/embeddings``, by default ``~/.cache/hashaudit/embeddings``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path("~/.cache").expanduser())
    return Path(base) / "hashaudit" / "embeddings"


def rejects_path_for(output: str | Path) -> Path:
    """Where ``--skip-bad`` writes the rejected rows: ``OUT-stem.rejects.parquet`` beside OUT."""
    output = Path(output)
    return output.with_name(f"{output.stem}.rejects.parquet")


def content_key(data: bytes) -> str:
    """sha256 hex digest of the content: the cache key of one image or text."""
    return hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------------------------------
# progress reporting (the CLI renders it; the library only counts)


class EmbedProgress(Protocol):
    """Receives progress: ``start`` once per task with its total, then ``advance`` calls."""

    def start(self, task: str, total: int) -> None: ...

    def advance(self, task: str, amount: int) -> None: ...


class _NoProgress:
    def start(self, task: str, total: int) -> None:
        pass

    def advance(self, task: str, amount: int) -> None:
        pass


# ----------------------------------------------------------------------------------------------
# the embedding cache


class EmbeddingCache:
    """Vectors on disk keyed by (encoder cache key, modality, content hash).

    Layout: ``ROOT/ENCODER_KEY/{image,text}/SHARD.keys.npy`` (S64 hex digests) beside
    ``SHARD.vectors.npy`` ((k, D) float32, memory-mapped on lookup). Shards are written to a
    temporary name and renamed, vectors first, so a keys file always has its vectors.
    """

    def __init__(
        self, root: str | Path, encoder_key: str, description: Mapping[str, Any] | None = None
    ) -> None:
        self.folder = Path(root).expanduser() / encoder_key
        self._description = dict(description or {})

    def lookup(self, modality: str, keys: Sequence[str], dim: int) -> dict[str, np.ndarray]:
        """The cached (dim,) float32 vector of every key that has one."""
        wanted = np.array(sorted(set(keys)), dtype="S64")
        found: dict[str, np.ndarray] = {}
        folder = self.folder / modality
        if not wanted.size or not folder.is_dir():
            return found
        for keys_file in sorted(folder.glob("*.keys.npy")):
            vectors_file = keys_file.with_name(keys_file.name.replace(".keys.npy", ".vectors.npy"))
            try:
                shard_keys = np.load(keys_file)
                hits = np.flatnonzero(np.isin(shard_keys, wanted))
                if not hits.size:
                    continue
                vectors = np.load(vectors_file, mmap_mode="r")
                if vectors.ndim != 2 or vectors.shape != (len(shard_keys), dim):
                    logger.warning("ignoring cache shard %s: shape %s", keys_file, vectors.shape)
                    continue
                for index in hits:
                    found[shard_keys[index].decode()] = np.array(vectors[index], dtype=np.float32)
            except (OSError, ValueError) as error:
                logger.warning("ignoring unreadable cache shard %s: %s", keys_file, error)
            if len(found) == wanted.size:
                break
        return found

    def store(self, modality: str, keys: Sequence[str], vectors: np.ndarray) -> None:
        """Write one shard of (k, D) vectors for k keys."""
        if not len(keys):
            return
        folder = self.folder / modality
        folder.mkdir(parents=True, exist_ok=True)
        description = self.folder / "encoder.json"
        if self._description and not description.exists():
            write_bytes_atomic(_json_bytes(self._description), description)
        name = content_key("\n".join(keys).encode())[:24]
        keys_array = np.array(list(keys), dtype="S64")
        vectors_buffer = io.BytesIO()
        np.save(vectors_buffer, np.ascontiguousarray(vectors, dtype=np.float32))
        keys_buffer = io.BytesIO()
        np.save(keys_buffer, keys_array)
        write_bytes_atomic(vectors_buffer.getvalue(), folder / f"{name}.vectors.npy")
        write_bytes_atomic(keys_buffer.getvalue(), folder / f"{name}.keys.npy")


def _json_bytes(record: Mapping[str, Any]) -> bytes:
    import json

    return json.dumps(dict(record), indent=2, sort_keys=True, default=str).encode()


# ----------------------------------------------------------------------------------------------
# planning: the cheap pass over every row


@dataclass
class EmbeddingPlan:
    """The validated raw columns of one table and the content hash of every usable cell.

    ``image_keys[row]`` / ``text_keys[row]`` is None for a row with a problem.
    """

    table: pa.Table
    columns: ColumnNames
    source: str | None
    images: RawImages
    texts: list
    image_keys: list[str | None]
    text_keys: list[str | None]
    problems: list[Problem] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return int(self.table.num_rows)

    def bad_rows(self) -> set[int]:
        return {problem.row for problem in self.problems}


def plan_embedding(
    table: pa.Table,
    *,
    columns: ColumnNames = DEFAULT_COLUMNS,
    base_dir: str | Path | None = None,
    source: str | None = None,
    skip_bad: bool = False,
    progress: EmbedProgress | None = None,
) -> EmbeddingPlan:
    """Check every row's image and text cheaply and hash their content.

    Raises a DataError naming the bad rows (first few and the count) unless ``skip_bad``.
    """
    progress = progress or _NoProgress()
    if table.num_rows == 0:
        raise DataError("the file has no rows", file=source)
    present = ", ".join(table.column_names)
    for name in (columns.image, columns.text):
        if name not in table.column_names:
            raise DataError(
                f"no such column (the file has: {present}); name the raw columns with "
                "--image-column / --text-column",
                file=source,
                column=name,
            )
    images = RawImages(
        table.column(columns.image),
        base_dir=Path(base_dir) if base_dir is not None else None,
        file=source,
        column=columns.image,
    )
    texts = text_values(table.column(columns.text), file=source, column=columns.text)
    plan = EmbeddingPlan(
        table=table,
        columns=columns,
        source=source,
        images=images,
        texts=texts,
        image_keys=[None] * table.num_rows,
        text_keys=[None] * table.num_rows,
    )
    progress.start("checking rows", table.num_rows)
    for row in range(table.num_rows):
        text = texts[row]
        if text is None:
            plan.problems.append(Problem(row, columns.text, "null text"))
        elif not text.strip():
            plan.problems.append(Problem(row, columns.text, "empty text"))
        else:
            plan.text_keys[row] = content_key(text.encode("utf-8"))
        try:
            data = images.load(row)
            check_image(data)
            plan.image_keys[row] = content_key(data)
        except BadCell as bad:
            plan.problems.append(Problem(row, columns.image, str(bad)))
        if row % 256 == 255 or row == table.num_rows - 1:
            progress.advance("checking rows", row % 256 + 1)
    if plan.problems and not skip_bad:
        raise bad_rows_error(plan.problems, file=source)
    return plan


def bad_rows_error(problems: Sequence[Problem], *, file: str | None) -> DataError:
    """One DataError listing the first bad rows, how many there are, and the way out."""
    ordered = sorted(problems, key=lambda problem: (problem.row, problem.column))
    rows = sorted({problem.row for problem in ordered})
    shown = ordered[:ROWS_SHOWN_IN_ERRORS]
    details = "; ".join(f"row {p.row} ({p.column}: {p.reason})" for p in shown)
    if len(ordered) > len(shown):
        details += f"; … {len(ordered) - len(shown)} more"
    columns = {problem.column for problem in ordered}
    noun = "row" if len(rows) == 1 else "rows"
    message = (
        f"{len(rows)} bad {noun}: {details}. Fix them, or pass --skip-bad to write them to a "
        "rejects file and embed the other rows"
    )
    return DataError(message, file=file, column=columns.pop() if len(columns) == 1 else None)


# ----------------------------------------------------------------------------------------------
# running: encode what is not cached


@dataclass(frozen=True)
class ModalityCounts:
    """How one modality went: rows kept, distinct contents, cache hits, newly encoded, seconds."""

    rows: int
    distinct: int
    cached: int
    encoded: int
    seconds: float

    @property
    def per_second(self) -> float | None:
        return self.encoded / self.seconds if self.encoded and self.seconds > 0 else None


@dataclass(frozen=True)
class EmbedResult:
    """The embedded table (kept rows only) and the rejected rows.

    Attributes
    ----------
    table : the input columns of the kept rows plus the two embedding columns.
    kept_rows : (M,) int64 input row numbers of ``table``'s rows.
    rejects : one row per problem: ``row`` (int64), ``id``, ``column``, ``reason``.
    image, text : counts and timings per modality.
    """

    table: pa.Table
    kept_rows: np.ndarray
    rejects: pa.Table
    image: ModalityCounts
    text: ModalityCounts


def run_embedding(
    plan: EmbeddingPlan,
    encoder: Encoder,
    *,
    batch_size: int = 32,
    skip_bad: bool = False,
    cache: EmbeddingCache | None = None,
    progress: EmbedProgress | None = None,
) -> EmbedResult | None:
    """Encode every distinct image and text of the plan's good rows (cache first) and assemble.

    In a distributed run every rank calls this with the same plan and encodes its shard of the
    contents (see the module docstring); rank 0 returns the result, the other ranks None.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    progress = progress or _NoProgress()
    columns = plan.columns

    def images_of(keys: Sequence[str], rows_of_key: Mapping[str, list[int]]) -> Iterator[Any]:
        for key in keys:
            try:
                yield decode_image(plan.images.load(rows_of_key[key][0]))
            except BadCell as bad:
                for row in rows_of_key[key]:
                    plan.problems.append(Problem(row, columns.image, str(bad)))
                yield None

    known_problems = len(plan.problems)
    image_vectors, image_counts = _encode_distinct(
        IMAGE,
        keys_by_row=plan.image_keys,
        good_rows=_good_rows(plan),
        dim=encoder.image_dim,
        load=images_of,
        encode=encoder.encode_images,
        batch_size=batch_size,
        cache=cache,
        progress=progress,
    )
    # images found corrupt while decoding were found by the rank that decoded them
    found = all_gather_objects(plan.problems[known_problems:])
    plan.problems[known_problems:] = [problem for part in found for problem in part]
    if plan.problems and not skip_bad:
        raise bad_rows_error(plan.problems, file=plan.source)

    def texts_of(keys: Sequence[str], rows_of_key: Mapping[str, list[int]]) -> Iterator[Any]:
        for key in keys:
            yield plan.texts[rows_of_key[key][0]]

    good_rows = _good_rows(plan)
    text_vectors, text_counts = _encode_distinct(
        TEXT,
        keys_by_row=plan.text_keys,
        good_rows=good_rows,
        dim=encoder.text_dim,
        load=texts_of,
        encode=encoder.encode_texts,
        batch_size=batch_size,
        cache=cache,
        progress=progress,
    )
    if not good_rows:
        raise DataError(
            f"no rows left: all {plan.n_rows} rows were rejected (see the rejects file)",
            file=plan.source,
        )
    if not world().is_main:
        return None
    kept = np.array(good_rows, dtype=np.int64)
    image_matrix = np.stack([image_vectors[str(plan.image_keys[row])] for row in good_rows])
    text_matrix = np.stack([text_vectors[str(plan.text_keys[row])] for row in good_rows])
    table = plan.table if len(kept) == plan.n_rows else plan.table.take(pa.array(kept))
    table = _with_column(table, columns.image_embedding, _fixed_size_list(image_matrix))
    table = _with_column(table, columns.text_embedding, _fixed_size_list(text_matrix))
    return EmbedResult(
        table=table,
        kept_rows=kept,
        rejects=rejects_table(plan),
        image=image_counts,
        text=text_counts,
    )


def _good_rows(plan: EmbeddingPlan) -> list[int]:
    bad = plan.bad_rows()
    return [row for row in range(plan.n_rows) if row not in bad]


def _encode_distinct(
    modality: str,
    *,
    keys_by_row: Sequence[str | None],
    good_rows: Sequence[int],
    dim: int,
    load: Callable[[Sequence[str], Mapping[str, list[int]]], Iterator[Any]],
    encode: Callable[[Sequence[Any]], np.ndarray],
    batch_size: int,
    cache: EmbeddingCache | None,
    progress: EmbedProgress,
) -> tuple[dict[str, np.ndarray], ModalityCounts]:
    """Vectors for every distinct key of the good rows: from the cache, else encoded in batches.

    ``load(keys, rows_of_key)`` yields one input per key, or None for an input that turned out
    bad (it records the problem itself); those keys get no vector.

    Distributed: rank 0's cache hits decide the keys to encode, each rank encodes its contiguous
    shard of them, and rank 0 returns every vector and the total counts (the other ranks return
    their own shard's).
    """
    rows_of_key: dict[str, list[int]] = {}
    for row in good_rows:
        key = keys_by_row[row]
        assert key is not None
        rows_of_key.setdefault(key, []).append(row)
    distinct = list(rows_of_key)
    info = world()
    vectors = cache.lookup(modality, distinct, dim) if cache is not None and info.is_main else {}
    # one list for every rank: the cache may change under the other ranks' feet
    missing = broadcast_object([key for key in distinct if key not in vectors])
    cached = len(distinct) - len(missing)
    start, stop = shard_bounds(len(missing), info.rank, info.world_size)
    missing = missing[start:stop]
    task = f"encoding {modality}s"
    progress.start(task, len(missing))
    pending_keys: list[str] = []
    pending_vectors: list[np.ndarray] = []
    encoded = 0
    started = time.perf_counter()
    for start in range(0, len(missing), batch_size):
        batch_keys = missing[start : start + batch_size]
        inputs = list(load(batch_keys, rows_of_key))
        usable = [
            (key, item) for key, item in zip(batch_keys, inputs, strict=True) if item is not None
        ]
        if usable:
            batch_vectors = encode([item for _, item in usable])
            for (key, _), vector in zip(usable, batch_vectors, strict=True):
                vectors[key] = vector
            pending_keys.extend(key for key, _ in usable)
            pending_vectors.append(batch_vectors)
            encoded += len(usable)
        progress.advance(task, len(batch_keys))
        if cache is not None and len(pending_keys) >= CACHE_FLUSH_EVERY:
            cache.store(modality, pending_keys, np.concatenate(pending_vectors))
            pending_keys, pending_vectors = [], []
    if cache is not None and pending_keys:
        cache.store(modality, pending_keys, np.concatenate(pending_vectors))
    if info.is_distributed:
        mine = {key: vectors[key] for key in missing if key in vectors}
        shards = gather_objects_to_main((mine, encoded))
        if shards is not None:
            for shard_vectors, shard_encoded in shards[1:]:
                vectors.update(shard_vectors)
                encoded += shard_encoded
    seconds = time.perf_counter() - started
    counts = ModalityCounts(
        rows=len(good_rows), distinct=len(distinct), cached=cached, encoded=encoded, seconds=seconds
    )
    return vectors, counts


def _fixed_size_list(matrix: np.ndarray) -> pa.Array:
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), matrix.shape[1])


def _with_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    """Replace the column ``name`` in place, or append it."""
    index = table.schema.get_field_index(name)
    if index >= 0:
        return table.set_column(index, name, values)
    return table.append_column(name, values)


def rejects_table(plan: EmbeddingPlan) -> pa.Table:
    """One row per problem, sorted by row: ``row``, ``id`` (row number without an id column),
    ``column``, ``reason``."""
    ordered = sorted(plan.problems, key=lambda problem: (problem.row, problem.column))
    rows = pa.array([problem.row for problem in ordered], type=pa.int64())
    if plan.columns.id in plan.table.column_names:
        ids = plan.table.column(plan.columns.id).combine_chunks().take(rows)
    else:
        ids = rows
    return pa.table(
        {
            "row": rows,
            "id": ids,
            "column": pa.array([problem.column for problem in ordered], type=pa.string()),
            "reason": pa.array([problem.reason for problem in ordered], type=pa.string()),
        }
    )


def embed_table(
    table: pa.Table,
    encoder: Encoder,
    *,
    columns: ColumnNames = DEFAULT_COLUMNS,
    base_dir: str | Path | None = None,
    source: str | None = None,
    batch_size: int = 32,
    skip_bad: bool = False,
    cache: EmbeddingCache | None = None,
    progress: EmbedProgress | None = None,
) -> EmbedResult | None:
    """Plan and run in one call, for library users who already hold an encoder (None on ranks
    other than 0 of a distributed run, see ``run_embedding``)."""
    plan = plan_embedding(
        table,
        columns=columns,
        base_dir=base_dir,
        source=source,
        skip_bad=skip_bad,
        progress=progress,
    )
    return run_embedding(
        plan, encoder, batch_size=batch_size, skip_bad=skip_bad, cache=cache, progress=progress
    )


# ----------------------------------------------------------------------------------------------
# files


@dataclass(frozen=True)
class EmbedSettings:
    """Settings of ``audit embed`` (written into the output's provenance).

    encoder : ``auto``, ``offline`` or ``clip:MODEL:PRETRAINED`` (see :mod:`auditor.encoders`).
    batch_size : images or texts per model call.
    device : ``auto`` (cuda when present), ``cpu``, ``cuda``, ``cuda:N``.
    bf16 : bfloat16 autocast (CPU or GPU); vectors are still written as float32.
    skip_bad : reject bad rows into a rejects file instead of stopping.
    cache_dir : where vectors are cached; None disables the cache.
    seed : seeds random open_clip weights (``clip:MODEL:``).
    """

    encoder: str = "auto"
    batch_size: int = 32
    device: str = "auto"
    bf16: bool = False
    skip_bad: bool = False
    cache_dir: Path | None = field(default_factory=default_cache_dir)
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a whole number >= 1, got {self.batch_size!r}")
        if self.cache_dir is not None and not isinstance(self.cache_dir, Path):
            # from a TOML file the folder arrives as a string
            object.__setattr__(self, "cache_dir", Path(str(self.cache_dir)).expanduser())


@dataclass(frozen=True)
class EmbedReport:
    """What ``embed_file`` did: where things went and the counts the CLI prints."""

    output: Path
    rejects_path: Path | None
    rows_in: int
    rows_out: int
    rows_rejected: int
    encoder: dict[str, Any]
    image: ModalityCounts
    text: ModalityCounts

    def summary(self) -> dict[str, Any]:
        record = asdict(self)
        record["output"] = str(self.output)
        record["rejects_path"] = str(self.rejects_path) if self.rejects_path else None
        for modality in (IMAGE, TEXT):
            counts: ModalityCounts = getattr(self, modality)
            record[modality]["per_second"] = counts.per_second
        return record


def embed_file(
    data: str | Path,
    out: str | Path,
    settings: EmbedSettings | None = None,
    *,
    columns: ColumnNames = DEFAULT_COLUMNS,
    encoder: Encoder | None = None,
    progress: EmbedProgress | None = None,
    resolve_spec: Callable[[str], str] = resolve_encoder_spec,
) -> EmbedReport:
    """Read DATA, embed its raw ``image``/``text`` columns, write OUT (and rejects) atomically.

    Bad rows are found before the model is loaded where possible. With an ``encoder`` given,
    ``settings.encoder`` / ``device`` / ``bf16`` / ``seed`` are not used to build one.
    ``resolve_spec`` turns ``auto`` into a concrete spec (replaceable, e.g. to stay offline).
    """
    settings = settings or EmbedSettings()
    data, out = Path(data), Path(out)
    check_output_file(out, "embed", data)
    rejects_path = rejects_path_for(out) if settings.skip_bad else None
    if rejects_path is not None:
        check_output_file(rejects_path, "embed rejects", data)
    table = read_table(data)
    plan = plan_embedding(
        table,
        columns=columns,
        base_dir=data.parent,
        source=str(data),
        skip_bad=settings.skip_bad,
        progress=progress,
    )
    if plan.problems:
        logger.info("%d rows will be rejected (see %s)", len(plan.bad_rows()), rejects_path)
    if encoder is None:
        # rank 0 resolves "auto" so that every rank of a distributed run loads the same encoder
        spec = broadcast_object(resolve_spec(settings.encoder) if world().is_main else None)
        if spec != settings.encoder:
            logger.info("encoder %s resolved to %s", settings.encoder, spec)
        encoder = make_encoder(spec, device=settings.device, bf16=settings.bf16, seed=settings.seed)
    description = encoder.describe()
    logger.info(
        "encoder %s: image %d-d, text %d-d", encoder.name, encoder.image_dim, encoder.text_dim
    )
    cache = (
        EmbeddingCache(settings.cache_dir, encoder.cache_key, description)
        if settings.cache_dir is not None
        else None
    )
    result = run_embedding(
        plan,
        encoder,
        batch_size=settings.batch_size,
        skip_bad=settings.skip_bad,
        cache=cache,
        progress=progress,
    )
    report = None
    if result is not None:
        report = _write_embedding(result, plan, data, out, rejects_path, settings, columns, encoder)
    # rank 0 sends its report once the files exist, so every rank returns after the writing
    written: EmbedReport = broadcast_object(report)
    return written


def _write_embedding(
    result: EmbedResult,
    plan: EmbeddingPlan,
    data: Path,
    out: Path,
    rejects_path: Path | None,
    settings: EmbedSettings,
    columns: ColumnNames,
    encoder: Encoder,
) -> EmbedReport:
    """Write OUT (and the rejects file) with provenance; the report of what was written."""
    description = encoder.describe()
    # the spec actually used ("auto" resolved, or the given encoder's), and what was asked for
    settings_record = {
        **asdict(settings),
        "encoder": encoder.spec,
        "encoder_requested": settings.encoder,
        "columns": asdict(columns),
    }
    provenance = make_provenance(
        "embed",
        settings=settings_record,
        classes=schema_classes(plan.table.schema) or [],
        seed=settings.seed,
        input_path=data,
        encoder=description,
        rows={
            "input": plan.n_rows,
            "output": int(result.table.num_rows),
            "rejected": len(plan.bad_rows()),
        },
        input_provenance=read_provenance(data),
    )
    # Rejects first: an output without its rejects file would be a silent gap.
    if rejects_path is not None:
        write_table_atomic(result.rejects, rejects_path, {**provenance, "command": "embed rejects"})
    write_table_atomic(result.table, out, provenance)
    return EmbedReport(
        output=out,
        rejects_path=rejects_path,
        rows_in=plan.n_rows,
        rows_out=int(result.table.num_rows),
        rows_rejected=len(plan.bad_rows()),
        encoder=description,
        image=result.image,
        text=result.text,
    )
