"""The typed in-memory dataset every part of the audit works on.

A dataset Parquet file (see docs/design.md, "Data contract") is read once, validated at the edge,
and becomes an :class:`AuditDataset`: plain numpy arrays with fixed shapes and dtypes, so the
algorithms below never see Arrow types, nulls or class names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SPLITS = ("train", "query", "database")


class DataError(ValueError):
    """Bad input data: names the file, the column and the row where it is known.

    The CLI prints ``str(error)`` as a single line and exits with code 2.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        column: str | None = None,
        row: int | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.column = column
        self.row = row
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.file is not None:
            where.append(str(self.file))
        if self.column is not None:
            where.append(f"column '{self.column}'")
        if self.row is not None:
            where.append(f"row {self.row}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


@dataclass(frozen=True)
class ColumnNames:
    """Names of the dataset's columns; every one can be renamed by a CLI option."""

    id: str = "id"
    labels: str = "labels"
    image_embedding: str = "image_embedding"
    text_embedding: str = "text_embedding"
    split: str = "split"
    clean_labels: str = "clean_labels"
    image: str = "image"
    text: str = "text"


DEFAULT_COLUMNS = ColumnNames()


@dataclass(frozen=True, eq=False)
class AuditDataset:
    """One multi-label image–text dataset, validated.

    Attributes
    ----------
    ids : (N,) object array of str, or int64 array
        Unique row identifiers (row numbers when the file has no id column).
    labels : (N, C) uint8
        Given (possibly noisy) multi-hot labels; every row has at least one label.
    classes : tuple of C str
        Class names, in column order of ``labels``.
    image : (N, Di) float32 or None
        Image embeddings; None only when read without requiring embeddings.
    text : (N, Dt) float32 or None
        Text embeddings; None only when read without requiring embeddings.
    split : (N,) object array of str
        One of ``train`` / ``query`` / ``database`` per row (all ``train`` without a split column).
    clean_labels : (N, C) uint8 or None
        Ground-truth labels when known.
    source : str or None
        Path of the file the dataset was read from.
    notes : tuple of str
        Things the reader assumed that the user should hear about (e.g. ids from row numbers).
    """

    ids: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    image: np.ndarray | None
    text: np.ndarray | None
    split: np.ndarray
    clean_labels: np.ndarray | None = None
    source: str | None = None
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        n_rows, n_classes = self.labels.shape
        if n_classes != len(self.classes):
            raise ValueError(f"labels have {n_classes} columns but {len(self.classes)} classes")
        for name in ("ids", "split"):
            if len(getattr(self, name)) != n_rows:
                raise ValueError(f"{name} has {len(getattr(self, name))} rows, labels {n_rows}")
        for name in ("image", "text", "clean_labels"):
            array = getattr(self, name)
            if array is not None and array.shape[0] != n_rows:
                raise ValueError(f"{name} has {array.shape[0]} rows, labels {n_rows}")

    @property
    def n_rows(self) -> int:
        return int(self.labels.shape[0])

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def train_mask(self) -> np.ndarray:
        """(N,) bool: rows in the audit scope (split ``train``)."""
        return np.asarray(self.split == "train")

    @property
    def query_mask(self) -> np.ndarray:
        """(N,) bool: retrieval queries (split ``query``)."""
        return np.asarray(self.split == "query")

    @property
    def retrieval_database_mask(self) -> np.ndarray:
        """(N,) bool: the retrieval database, ``train`` ∪ ``database`` rows (papers' protocol)."""
        return np.asarray((self.split == "train") | (self.split == "database"))

    @property
    def noisy_rows(self) -> np.ndarray | None:
        """(N,) bool: rows whose given labels differ from the truth, or None if it is unknown."""
        if self.clean_labels is None:
            return None
        return np.asarray((self.labels != self.clean_labels).any(axis=1))


def check_classes_learnable(labels: np.ndarray, source: str | None) -> None:
    """DataError when the (N, C) train labels cannot be learned from, before any model
    allocates N x C (or C x C) floats: fewer than 2 classes, more classes than rows, most
    classes with fewer than 2 rows, or every row carrying every class (nothing tells the rows
    apart)."""
    n_rows, n_classes = labels.shape
    if n_classes < 2:
        raise DataError(
            f"only {n_classes} class: auditing labels needs at least 2 classes", file=source
        )
    if n_classes > n_rows:
        raise DataError(
            f"{n_classes} classes for {n_rows} train rows: far too many classes to learn from "
            "(most would have no example); merge rare classes or add rows",
            file=source,
        )
    rare = int(np.count_nonzero(labels.sum(axis=0) < 2))
    if 2 * rare > n_classes:
        raise DataError(
            f"{rare} of the {n_classes} classes have fewer than 2 train rows: far too many "
            "classes for the rows to learn from; merge rare classes or add rows",
            file=source,
        )
    if labels.all():
        raise DataError(
            f"every train row carries all {n_classes} classes: the labels tell no rows apart",
            file=source,
        )
