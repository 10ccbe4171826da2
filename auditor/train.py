"""Train one hasher on a dataset's train rows and evaluate retrieval in the papers' protocol.

Queries are the ``query`` rows; the retrieval database is ``train`` ∪ ``database``. Relevance
(two items share a label) uses truth labels given by the caller (``audit train --truth``), else
``clean_labels`` when the dataset has them, else the given ``labels``, whose noise on the train
rows then counts as relevance (``relevance_from == "labels"``, see ``NOISY_RELEVANCE_NOTE``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, Unpack

import numpy as np

from auditor.audit_files import METRICS_FILE, MODEL_FILE
from auditor.dataset import AuditDataset, DataError, check_classes_learnable
from auditor.io import atomic_output_dir, make_provenance, write_json_atomic
from hashing.hasher import CrossModalHasher, ProgressCallback
from hashing.methods import default_settings
from hashing.retrieval import label_relevance, mean_average_precision

NOISY_RELEVANCE_NOTE = (
    "relevance from the given (noisy) labels: the train rows in the retrieval database count "
    "as relevant by their noisy labels, which ranks a method that fits the noise higher; the "
    "papers score by clean labels (give them with --truth FILE or a clean_labels column)"
)


@dataclass(frozen=True)
class RetrievalScores:
    """mAP@all in both directions, and what it was measured on."""

    map_i2t: float
    map_t2i: float
    n_queries: int
    n_database: int
    relevance_from: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "map_i2t": self.map_i2t,
            "map_t2i": self.map_t2i,
            "n_queries": self.n_queries,
            "n_database": self.n_database,
            "relevance_from": self.relevance_from,
        }


def check_trainable(dataset: AuditDataset) -> None:
    """DataError unless the dataset can be trained on and evaluated (query rows, 2+ classes)."""
    if dataset.image is None or dataset.text is None:
        raise DataError("no embeddings: run `audit embed` first", file=dataset.source)
    if int(dataset.train_mask.sum()) < 2:
        raise DataError("fewer than 2 train rows", file=dataset.source)
    check_classes_learnable(dataset.labels[dataset.train_mask], dataset.source)
    if not dataset.query_mask.any():
        raise DataError(
            "no query rows: retrieval evaluation needs rows with split 'query'",
            file=dataset.source,
        )


def relevance_labels(
    dataset: AuditDataset, truth: np.ndarray | None = None, truth_source: str = "truth"
) -> tuple[np.ndarray, str]:
    """(N, C) labels that decide relevance and where they come from: ``truth`` (named
    ``truth_source``) when given, else ``clean_labels``, else the given ``labels``."""
    if truth is not None:
        return truth, truth_source
    if dataset.clean_labels is not None:
        return dataset.clean_labels, "clean_labels"
    return dataset.labels, "labels"


def evaluate_retrieval(
    hasher: CrossModalHasher,
    dataset: AuditDataset,
    truth: np.ndarray | None = None,
    truth_source: str = "truth",
) -> RetrievalScores:
    """mAP@all image→text and text→image: query rows against train ∪ database rows, relevance
    from ``relevance_labels(dataset, truth, truth_source)``."""
    assert dataset.image is not None and dataset.text is not None
    truth, source = relevance_labels(dataset, truth, truth_source)
    query, database = dataset.query_mask, dataset.retrieval_database_mask
    query_image = hasher.encode_image(dataset.image[query])
    query_text = hasher.encode_text(dataset.text[query])
    database_image = hasher.encode_image(dataset.image[database])
    database_text = hasher.encode_text(dataset.text[database])
    return RetrievalScores(
        map_i2t=float(
            mean_average_precision(query_image, database_text, truth[query], truth[database])
        ),
        map_t2i=float(
            mean_average_precision(query_text, database_image, truth[query], truth[database])
        ),
        n_queries=int(query.sum()),
        n_database=int(database.sum()),
        relevance_from=source,
    )


def training_overrides(
    epochs: int | None, holdout_fraction: float | None, average_epochs: float | None = None
) -> dict[str, Any]:
    """The settings fields ``audit train`` lets a user override (None: the method's default).

    A ``holdout_fraction`` the user gives applies at any size (the method's minimum slice,
    ``HashSettings.holdout_min_rows``, guards only its default). ``average_epochs`` is the
    weight average's horizon in epochs (``HashSettings.weight_average_epochs``; 0 turns
    averaging off, including a per-step decay the method's defaults may set)."""
    overrides: dict[str, Any] = {}
    if epochs is not None:
        overrides["epochs"] = epochs
    if holdout_fraction is not None:
        overrides.update(holdout_fraction=holdout_fraction, holdout_min_rows=0)
    if average_epochs is not None:
        overrides.update(weight_average_epochs=average_epochs, weight_average=0.0)
    return overrides


def fit_hasher(
    dataset: AuditDataset,
    method: str,
    *,
    bits: int = 64,
    seed: int = 0,
    epochs: int | None = None,
    device: str | None = None,
    progress: ProgressCallback | None = None,
    holdout_fraction: float | None = None,
    average_epochs: float | None = None,
) -> tuple[CrossModalHasher, float]:
    """Train ``method`` on the train rows' given labels; return it and the training wall time
    in seconds. ``holdout_fraction`` overrides the method's stopping rule (see
    ``HashSettings.holdout_fraction``); it sees the train rows only. ``average_epochs``
    overrides the weight average's horizon (``training_overrides``). In a distributed run every
    rank calls this (training is data-parallel)."""
    check_trainable(dataset)
    assert dataset.image is not None and dataset.text is not None
    overrides = training_overrides(epochs, holdout_fraction, average_epochs)
    settings = default_settings(method, **overrides)
    hasher = CrossModalHasher(settings, bits=bits, seed=seed, device=device)
    train = dataset.train_mask
    started = time.perf_counter()
    hasher.fit(dataset.image[train], dataset.text[train], dataset.labels[train], progress=progress)
    return hasher, time.perf_counter() - started


class TrainingOptions(TypedDict, total=False):
    """``fit_hasher``'s keyword options, for the functions that pass them on."""

    bits: int
    seed: int
    epochs: int | None
    device: str | None
    progress: ProgressCallback | None
    holdout_fraction: float | None
    average_epochs: float | None


def train_hasher(
    dataset: AuditDataset,
    method: str,
    *,
    truth: np.ndarray | None = None,
    truth_source: str = "truth",
    **training: Unpack[TrainingOptions],
) -> tuple[CrossModalHasher, RetrievalScores, float]:
    """Train ``method`` on the train rows' given labels (``training``: as ``fit_hasher``);
    return it, its retrieval scores (relevance: see ``relevance_labels``; training never sees
    ``truth``) and the training wall time in seconds."""
    hasher, seconds = fit_hasher(dataset, method, **training)
    return hasher, evaluate_retrieval(hasher, dataset, truth, truth_source), seconds


def random_ranking_map(dataset: AuditDataset, truth: np.ndarray | None = None) -> float:
    """Expected mAP of a random ranking: the mean share of relevant database items per query
    (the floor any trained model must clear)."""
    truth, _ = relevance_labels(dataset, truth)
    query = truth[dataset.query_mask]
    database = truth[dataset.retrieval_database_mask]
    shares = [
        label_relevance(block, database).mean(axis=1)
        for block in np.array_split(query, max(1, len(query) // 1024))
    ]
    relevant_share = np.concatenate(shares)
    return float(relevant_share[relevant_share > 0].mean())


def training_metrics(
    dataset: AuditDataset,
    hasher: CrossModalHasher,
    scores: RetrievalScores,
    *,
    method: str,
    bits: int,
    seed: int,
    seconds: float,
    processes: int = 1,
    input_path: str | Path | None = None,
    truth: np.ndarray | None = None,
    truth_path: str | Path | None = None,
) -> dict[str, Any]:
    """``metrics.json``: the retrieval scores (with ``relevance_note`` when relevance came from
    the noisy labels), the random-ranking floor, the epoch kept, what was trained on what, and
    the provenance (the settings ``hasher`` trained with, classes, seed, input fingerprint,
    truth file)."""
    settings = hasher.settings
    noisy = scores.relevance_from == "labels"
    return {
        **scores.as_dict(),
        **({"relevance_note": NOISY_RELEVANCE_NOTE} if noisy else {}),
        "map_random_ranking": random_ranking_map(dataset, truth),
        "selected_epoch": hasher.selected_epoch_,
        "holdout_rows": hasher.holdout_rows_,
        "refit": hasher.selection_history_ is not None,
        "method": method,
        "bits": bits,
        "seed": seed,
        "train_rows": int(dataset.train_mask.sum()),
        "train_seconds": round(seconds, 3),
        "device": str(hasher.device),
        "processes": processes,
        "provenance": make_provenance(
            "train",
            settings=settings.to_dict(),
            classes=dataset.classes,
            seed=seed,
            input_path=input_path,
            bits=bits,
            method=method,
            truth_path=None if truth_path is None else str(truth_path),
        ),
    }


def write_training(
    out: str | Path,
    hasher: CrossModalHasher,
    metrics: dict[str, Any],
    *inputs: str | Path | None,
) -> Path:
    """The folder ``out`` with ``model.pt`` and ``metrics.json``, written atomically (marked as
    `audit train`'s output, trained on ``inputs``)."""
    with atomic_output_dir(out, "train", *inputs) as folder:
        hasher.save(folder / MODEL_FILE)
        write_json_atomic(metrics, folder / METRICS_FILE)
    return Path(out)
