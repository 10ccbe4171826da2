"""Property test of the data contract: a broken Parquet input makes scan, clean, train and
inject exit 2 with exactly one line on stderr naming the file, write nothing and leave the
input's bytes unchanged."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import small_table
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()
N_ROWS = 60

Mutation = Callable[[pa.Table, int], pa.Table | bytes]


def _set(table: pa.Table, name: str, values: list | pa.Array) -> pa.Table:
    array = values if isinstance(values, pa.Array) else pa.array(values)
    return table.set_column(table.column_names.index(name), name, array)


def _labels_at(table: pa.Table, row: int, value: object) -> pa.Table:
    labels = table.column("labels").to_pylist()
    labels[row] = value
    return _set(table, "labels", labels)


def _embedding_at(table: pa.Table, row: int, value: object, name: str = "text_embedding"):
    vectors = table.column(name).to_pylist()
    vectors[row] = value
    return _set(table, name, vectors)


def _value_in_embedding(value: float) -> Mutation:
    def mutate(table: pa.Table, row: int) -> pa.Table:
        vector = table.column("text_embedding").to_pylist()[row]
        vector[1] = value
        return _embedding_at(table, row, vector)

    return mutate


def _column_at(name: str, value: object) -> Mutation:
    def mutate(table: pa.Table, row: int) -> pa.Table:
        values = table.column(name).to_pylist()
        values[row] = value
        return _set(table, name, values)

    return mutate


def _duplicate_id(table: pa.Table, row: int) -> pa.Table:
    ids = table.column("id").to_pylist()
    ids[row] = ids[(row + 1) % len(ids)]
    return _set(table, "id", ids)


# Broken for every command: the labels, ids and splits, and any embedding column that is
# present (clean and inject read embeddings only when there).
BROKEN_FOR_ALL: dict[str, Mutation] = {
    "no labels column": lambda t, r: t.drop_columns(["labels"]),
    "empty label list": lambda t, r: _labels_at(t, r, []),
    "null label list": lambda t, r: _labels_at(t, r, None),
    "null label entry": lambda t, r: _labels_at(t, r, ["cat", None]),
    "labels not lists": lambda t, r: _set(t, "labels", [f"x{i}" for i in range(t.num_rows)]),
    "duplicate id": _duplicate_id,
    "null id": _column_at("id", None),
    "unknown split": _column_at("split", "validation"),
    "null split": _column_at("split", None),
    "NaN in an embedding": _value_in_embedding(float("nan")),
    "inf in an embedding": _value_in_embedding(float("inf")),
    "huge value in an embedding": _value_in_embedding(3e38),
    "null embedding": lambda t, r: _embedding_at(t, r, None),
    "null value in an embedding": _value_in_embedding(None),  # type: ignore[arg-type]
    "ragged embedding": lambda t, r: _embedding_at(t, r, [0.5]),
    "embedding as text": lambda t, r: _set(t, "text_embedding", ["0.1"] * t.num_rows),
    "no rows": lambda t, r: t.slice(0, 0),
    "not Parquet": lambda t, r: b"PAR1 but not really" * (r + 1),
    "truncated Parquet": lambda t, r: b"",
}
# Broken only for the commands that need embeddings (scan, train).
BROKEN_FOR_TRAINING: dict[str, Mutation] = {
    "no image embedding": lambda t, r: t.drop_columns(["image_embedding"]),
    "no text embedding": lambda t, r: t.drop_columns(["text_embedding"]),
}


def command_line(command: str, data: Path, out: Path) -> list[str]:
    if command == "scan":
        return ["scan", str(data), "-o", str(out), "--methods", "none", "-q"]
    if command == "train":
        return ["train", str(data), "-o", str(out), "--epochs", "1", "-q"]
    if command == "clean":
        # the audit file does not exist: the data must be refused before it is looked for
        audit = str(data.with_name("never.audit.parquet"))
        return ["clean", str(data), "--audit", audit, "--strategy", "drop", "-o", str(out), "-q"]
    return ["inject", str(data), "-o", str(out), "-q"]


def assert_refused_cleanly(command: str, payload: pa.Table | bytes, folder: Path) -> None:
    data = folder / f"{command}-input.parquet"
    if isinstance(payload, bytes):
        data.write_bytes(payload)
    else:
        pq.write_table(payload, data)
    digest = hashlib.sha256(data.read_bytes()).hexdigest()
    before = sorted(folder.iterdir())
    out = folder / f"{command}-out" if command in ("scan", "train") else folder / "out.parquet"
    result = runner.invoke(app, command_line(command, data, out))
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, (command, result.stderr, result.exception)
    assert len(lines) == 1 and lines[0].startswith("error:"), (command, result.stderr)
    assert data.name in lines[0], (command, lines[0])
    assert sorted(folder.iterdir()) == before, command  # nothing written, nothing left behind
    assert hashlib.sha256(data.read_bytes()).hexdigest() == digest
    data.unlink()


@pytest.fixture(scope="module")
def base_table() -> pa.Table:
    return small_table(N_ROWS, seed=3)


@settings(
    max_examples=30,
    database=None,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    name=st.sampled_from(sorted(BROKEN_FOR_ALL)),
    row=st.integers(min_value=0, max_value=N_ROWS - 1),
)
def test_broken_inputs_are_refused_by_every_command(
    base_table: pa.Table, tmp_path: Path, name: str, row: int
) -> None:
    payload = BROKEN_FOR_ALL[name](base_table, row)
    for command in ("scan", "clean", "train", "inject"):
        assert_refused_cleanly(command, payload, tmp_path)


@pytest.mark.parametrize("name", sorted(BROKEN_FOR_TRAINING))
def test_missing_embeddings_are_refused_by_scan_and_train(
    base_table: pa.Table, tmp_path: Path, name: str
) -> None:
    payload = BROKEN_FOR_TRAINING[name](base_table, 0)
    for command in ("scan", "train"):
        assert_refused_cleanly(command, payload, tmp_path)


def test_the_unbroken_table_is_accepted(base_table: pa.Table, tmp_path: Path) -> None:
    """The property above is not vacuous: the same table, unbroken, is valid input."""
    data = tmp_path / "ok.parquet"
    pq.write_table(base_table, data)
    result = runner.invoke(app, command_line("inject", data, tmp_path / "out.parquet"))
    assert result.exit_code == 0, result.stderr
    assert pq.read_metadata(tmp_path / "out.parquet").num_rows == N_ROWS
