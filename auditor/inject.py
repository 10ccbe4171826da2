"""Noise injection on a dataset table: the array protocols of :mod:`auditor.noise`, applied to the
train rows of a data-contract table, keeping every other column as it is."""

from __future__ import annotations

import dataclasses

import pyarrow as pa

from auditor.dataset import DEFAULT_COLUMNS, AuditDataset, ColumnNames
from auditor.io import multi_hot_to_arrow
from auditor.noise import DEFAULT_MISSING_SHARE, NoiseResult, inject_noise


def inject_into_table(
    table: pa.Table,
    dataset: AuditDataset,
    *,
    protocol: str,
    rate: float,
    seed: int,
    columns: ColumnNames = DEFAULT_COLUMNS,
    missing_share: float = DEFAULT_MISSING_SHARE,
) -> tuple[pa.Table, NoiseResult]:
    """Corrupt the train rows' labels; the labels before injection go to ``clean_labels``.

    If the table already has a ``clean_labels`` column it stays as it is (it is the truth), and
    the new noise is added on top of the given labels. Labels keep their Arrow form: class names
    stay names, class numbers stay numbers.
    """
    result = inject_noise(
        dataset.labels, dataset.train_mask, protocol, rate, seed, missing_share=missing_share
    )
    labels_type = table.schema.field(columns.labels).type
    as_indices = pa.types.is_integer(labels_type.value_type)
    noisy_column = multi_hot_to_arrow(result.noisy_labels, dataset.classes, as_indices=as_indices)
    index = table.schema.get_field_index(columns.labels)
    table = table.set_column(index, columns.labels, noisy_column)
    if columns.clean_labels not in table.column_names:
        clean_column = multi_hot_to_arrow(dataset.labels, dataset.classes, as_indices=as_indices)
        table = table.append_column(columns.clean_labels, clean_column)
    return table, result


def with_noise(
    dataset: AuditDataset,
    protocol: str,
    rate: float,
    seed: int,
    missing_share: float = DEFAULT_MISSING_SHARE,
) -> tuple[AuditDataset, NoiseResult]:
    """The dataset with its train rows' labels corrupted and the originals as ``clean_labels``.

    As in :func:`inject_into_table`, a dataset that already has ``clean_labels`` keeps them (they
    are the truth) and the new noise is added on top of its labels; the returned
    :class:`NoiseResult` describes this injection alone.
    """
    result = inject_noise(
        dataset.labels, dataset.train_mask, protocol, rate, seed, missing_share=missing_share
    )
    truth = result.clean_labels if dataset.clean_labels is None else dataset.clean_labels
    return dataclasses.replace(dataset, labels=result.noisy_labels, clean_labels=truth), result
