"""The cleaning loop: noisy labels → scan → clean → retrain, against the clean-label oracle.

For a dataset whose true labels are known (``clean_labels``; the noisy ones in ``labels``),
:func:`run_loop` scans the train rows (:func:`auditor.scanning.run_scan`), cleans them with every
requested strategy (:mod:`auditor.cleaning`, exactly what ``audit clean`` does to a file), trains
every requested hasher on the noisy labels, on each cleaned version and on the clean labels
(the oracle), and measures retrieval mAP in both directions. With ``rounds`` > 1 each strategy's
cleaned labels are scanned and cleaned again. It also measures the labels themselves: the share
of train rows whose label set equals the truth, before and after each cleaning.

Dropped rows are not trained on but stay in the retrieval database (their split becomes
``database``), so every variant is evaluated on the same queries against the same database;
relevance always comes from the clean labels.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from auditor.audit_files import FUSED
from auditor.cleaning import (
    DEFAULT_CONFIDENCE,
    STRATEGIES,
    Budget,
    CleanResult,
    CleanSettings,
    align_audit,
    cell_accuracy,
    clean_arrays,
    label_accuracy,
)
from auditor.dataset import AuditDataset, DataError
from auditor.io import write_json_atomic
from auditor.scanning import (
    ScanResult,
    ScanSettings,
    audit_table,
    label_issues_table,
    run_scan,
    write_scan,
)
from auditor.train import check_trainable, train_hasher
from hashing.hasher import MAX_BITS, MIN_BITS, ProgressCallback
from hashing.methods import METHODS

DEFAULT_METHODS = ("plain", "rshnl", "scbch", "nrch")
NOISY = "noisy"
ORACLE = "clean (oracle)"

StatusCallback = Callable[[str], None]
ProgressFactory = Callable[[str], ProgressCallback | None]


def cleaned_name(strategy: str) -> str:
    """The ``labels`` value of a cleaned variant in the result rows: ``cleaned:<strategy>``."""
    return f"cleaned:{strategy}"


def scan_folder_name(round_number: int, strategy: str | None) -> str:
    """``audit-round1`` (shared by every strategy), then ``audit-round<k>-<strategy>``."""
    return (
        f"audit-round{round_number}"
        if strategy is None
        else (f"audit-round{round_number}-{strategy}")
    )


@dataclass(frozen=True)
class LoopSettings:
    """Settings of :func:`run_loop`.

    Attributes
    ----------
    methods : hashers retrained on every label variant (default plain, rshnl, scbch, nrch).
    strategies : cleaning strategies (default drop, relabel, prune).
    rounds : scan → clean rounds per strategy (default 1).
    bits, epochs, seed, device : of the retrained hashers (epochs None = each method's default).
    budget, threshold, confidence : the cleaning's row choice and prune confidence
        (:class:`auditor.cleaning.CleanSettings`; default: the audit's ``is_issue`` rows).
    scan : settings of every scan (its own hashers, epochs and seed).
    """

    methods: tuple[str, ...] = DEFAULT_METHODS
    strategies: tuple[str, ...] = STRATEGIES
    rounds: int = 1
    bits: int = 64
    epochs: int | None = None
    seed: int = 0
    device: str | None = None
    budget: Budget | None = None
    threshold: float | None = None
    confidence: float = DEFAULT_CONFIDENCE
    scan: ScanSettings = field(default_factory=ScanSettings)

    def __post_init__(self) -> None:
        if not self.methods:
            raise ValueError("choose at least one method to retrain")
        unknown = [name for name in self.methods if name not in METHODS]
        if unknown:
            raise ValueError(f"unknown method(s) {', '.join(unknown)}; known: {', '.join(METHODS)}")
        if not self.strategies:
            raise ValueError("choose at least one cleaning strategy")
        unknown = [name for name in self.strategies if name not in STRATEGIES]
        if unknown:
            raise ValueError(
                f"unknown strategy(ies) {', '.join(unknown)}; known: {', '.join(STRATEGIES)}"
            )
        if len(set(self.methods)) != len(self.methods) or len(set(self.strategies)) != len(
            self.strategies
        ):
            raise ValueError("a method or strategy is named twice")
        if self.rounds < 1:
            raise ValueError(f"rounds must be at least 1, got {self.rounds}")
        if not MIN_BITS <= self.bits <= MAX_BITS:
            raise ValueError(f"bits must be in {MIN_BITS}..{MAX_BITS}, got {self.bits}")
        if self.epochs is not None and self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        self.clean_settings(self.strategies[0])  # validates threshold and confidence

    def clean_settings(self, strategy: str) -> CleanSettings:
        return CleanSettings(
            strategy=strategy,
            budget=self.budget,
            threshold=self.threshold,
            confidence=self.confidence,
        )

    def as_dict(self) -> dict[str, Any]:
        cleaning = self.clean_settings(self.strategies[0]).as_dict()
        cleaning.pop("strategy")
        cleaning["confidence"] = self.confidence
        return {
            "methods": list(self.methods),
            "strategies": list(self.strategies),
            "rounds": self.rounds,
            "bits": self.bits,
            "epochs": self.epochs,
            "seed": self.seed,
            "device": self.device,
            "cleaning": cleaning,
            "scan": self.scan.as_dict(),
        }


@dataclass(frozen=True, eq=False)
class LabelVariant:
    """One version of the training labels: the dataset to train on and how good its labels are.

    ``dataset`` has the variant's ``labels`` (and, after ``drop``, the dropped rows moved to the
    ``database`` split); ``label_accuracy`` / ``cell_accuracy`` are over its train rows.
    """

    name: str
    round: int
    dataset: AuditDataset
    label_accuracy: float
    cell_accuracy: float
    strategy: str | None = None


@dataclass
class LoopResult:
    """Result rows (one per method × label variant), the cleanings, and what was run."""

    rows: list[dict[str, Any]]
    cleaning: list[dict[str, Any]]
    settings: dict[str, Any]
    dataset: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        """The ``retrieval.json`` payload: ``rows``, ``cleaning``, ``settings``, ``dataset``."""
        return {
            "rows": self.rows,
            "cleaning": self.cleaning,
            "settings": self.settings,
            "dataset": self.dataset,
        }


def _accuracies(dataset: AuditDataset) -> tuple[float, float]:
    assert dataset.clean_labels is not None
    train = dataset.train_mask
    return (
        label_accuracy(dataset.labels[train], dataset.clean_labels[train]),
        cell_accuracy(dataset.labels[train], dataset.clean_labels[train]),
    )


def training_view(dataset: AuditDataset, result: CleanResult) -> AuditDataset:
    """The dataset with the cleaned labels; dropped train rows become ``database`` rows (not
    trained on, still retrieved), so the retrieval evaluation is the same for every variant."""
    split = np.where(result.keep, dataset.split, "database").astype(object)
    return dataclasses.replace(dataset, labels=result.labels, split=split)


def clean_with_scan(
    dataset: AuditDataset, scan: ScanResult, settings: CleanSettings, review_threshold: float
) -> CleanResult:
    """Apply ``settings`` to ``dataset`` using a scan of it, through the same tables and checks
    ``audit clean`` uses on files (``audit.parquet`` and ``label_issues.parquet``)."""
    aligned = align_audit(
        dataset,
        audit_table(scan),
        audit_classes=scan.classes,
        issues=label_issues_table(scan, review_threshold),
    )
    return clean_arrays(dataset.labels, aligned, settings)


def cleaned_variants(
    noisy: AuditDataset,
    settings: LoopSettings,
    *,
    scan_dir: Path | None = None,
    status: StatusCallback | None = None,
    progress_for: ProgressFactory | None = None,
) -> tuple[list[LabelVariant], list[dict[str, Any]]]:
    """Scan → clean, ``settings.rounds`` times per strategy (round 1's scan is shared).

    Returns the cleaned variants (strategy order, then round) and one record per cleaning
    (counts, scan estimates, label accuracy before and after). With ``scan_dir`` every scan is
    written there (:func:`scan_folder_name`).
    """
    say = status or (lambda message: None)
    variants: list[LabelVariant] = []
    records: list[dict[str, Any]] = []
    first_scan: ScanResult | None = None
    for strategy in settings.strategies:
        current = noisy
        for round_number in range(1, settings.rounds + 1):
            folder = scan_folder_name(round_number, None if round_number == 1 else strategy)
            if round_number == 1 and first_scan is not None:
                scan = first_scan
            else:
                say(f"round {round_number}: scanning {int(current.train_mask.sum())} train rows")
                scan = run_scan(current, settings.scan, progress_for=progress_for)
                if scan_dir is not None:
                    # Later rounds scan labels that exist only in memory, not the input file.
                    source = current.source if round_number == 1 else None
                    write_scan(scan, scan_dir / folder, settings.scan, source=source)
                if round_number == 1:
                    first_scan = scan
            result = clean_with_scan(
                current,
                scan,
                settings.clean_settings(strategy),
                settings.scan.review_threshold,
            )
            cleaned = training_view(current, result)
            if not cleaned.train_mask.any():
                raise DataError(
                    f"{strategy} would leave no train rows in round {round_number}; choose a "
                    "smaller budget",
                    file=noisy.source,
                )
            before = _accuracies(current)
            after = _accuracies(cleaned)
            fused = scan.metrics.get(FUSED, {})
            records.append(
                {
                    "strategy": strategy,
                    "round": round_number,
                    "scan_folder": folder if scan_dir is not None else None,
                    "estimated_noise_rate": scan.estimated_noise_rate,
                    "scan_auroc": fused.get("auroc"),
                    "train_rows_before": int(current.train_mask.sum()),
                    "train_rows_after": int(cleaned.train_mask.sum()),
                    "label_accuracy_before": before[0],
                    "label_accuracy_after": after[0],
                    "cell_accuracy_before": before[1],
                    "cell_accuracy_after": after[1],
                    "counts": result.counts,
                }
            )
            say(
                f"round {round_number} {strategy}: {result.counts['rows_selected']} rows chosen, "
                f"label accuracy {before[0]:.3f} -> {after[0]:.3f}"
            )
            variants.append(
                LabelVariant(
                    name=cleaned_name(strategy),
                    round=round_number,
                    dataset=cleaned,
                    label_accuracy=after[0],
                    cell_accuracy=after[1],
                    strategy=strategy,
                )
            )
            current = cleaned
    return variants, records


def run_loop(
    dataset: AuditDataset,
    settings: LoopSettings = LoopSettings(),  # noqa: B008 - frozen, never mutated
    *,
    scan_dir: Path | None = None,
    status: StatusCallback | None = None,
    progress_for: ProgressFactory | None = None,
) -> LoopResult:
    """noisy → scan → clean → retrain, for every method and strategy; see the module docstring.

    Parameters
    ----------
    dataset : noisy labels in ``labels``, the truth in ``clean_labels`` (required), query rows.
    scan_dir : a folder to write every scan into (``audit-round<k>[-<strategy>]/``).
    status : receives one line per stage; progress_for : name -> epoch progress callback, for
        every scan detector and every training.

    Returns
    -------
    LoopResult whose ``rows`` hold, per method: ``noisy`` (round 0), ``cleaned:<strategy>``
    (rounds 1..N) and ``clean (oracle)`` (round 0), each with ``map_i2t``, ``map_t2i`` and the
    train labels' ``label_accuracy``.
    """
    if dataset.clean_labels is None:
        raise DataError(
            "no clean_labels column: the loop compares with the true labels, so it needs them "
            "(inject noise with `audit inject`, which keeps the originals in clean_labels)",
            file=dataset.source,
        )
    check_trainable(dataset)
    say = status or (lambda message: None)
    noisy_accuracy = _accuracies(dataset)
    variants = [LabelVariant(NOISY, 0, dataset, *noisy_accuracy)]
    cleaned, records = cleaned_variants(
        dataset, settings, scan_dir=scan_dir, status=status, progress_for=progress_for
    )
    variants.extend(cleaned)
    oracle = dataclasses.replace(dataset, labels=dataset.clean_labels)
    variants.append(LabelVariant(ORACLE, 0, oracle, 1.0, 1.0))
    rows: list[dict[str, Any]] = []
    for method in settings.methods:
        for variant in variants:
            description = f"{method} on {variant.name}" + (
                f" (round {variant.round})" if variant.round else ""
            )
            say(f"training {description}")
            progress = progress_for(description) if progress_for is not None else None
            _, scores, seconds = train_hasher(
                variant.dataset,
                method,
                bits=settings.bits,
                seed=settings.seed,
                epochs=settings.epochs,
                device=settings.device,
                progress=progress,
            )
            rows.append(
                {
                    "method": method,
                    "labels": variant.name,
                    "round": variant.round,
                    "strategy": variant.strategy,
                    "map_i2t": scores.map_i2t,
                    "map_t2i": scores.map_t2i,
                    "label_accuracy": variant.label_accuracy,
                    "cell_accuracy": variant.cell_accuracy,
                    "train_rows": int(variant.dataset.train_mask.sum()),
                    "train_seconds": round(seconds, 3),
                }
            )
    noisy_rows = dataset.noisy_rows
    assert noisy_rows is not None
    train = dataset.train_mask
    return LoopResult(
        rows=rows,
        cleaning=records,
        settings=settings.as_dict(),
        dataset={
            "source": dataset.source,
            "rows": dataset.n_rows,
            "train_rows": int(train.sum()),
            "query_rows": int(dataset.query_mask.sum()),
            "classes": len(dataset.classes),
            "true_noise_rate": float(noisy_rows[train].mean()),
        },
    )


def gap_closed(
    rows: list[dict[str, Any]],
    method: str,
    labels: str,
    round_number: int,
    min_gap: float = 1e-12,
) -> dict[str, float | None]:
    """Share of the noisy → oracle mAP gap a cleaned variant closes, per direction
    (1 = reaches the oracle, 0 = no better than noisy, negative = worse; None when the oracle
    is less than ``min_gap`` above the noisy labels: there is no gap to close)."""

    def find(name: str, number: int) -> dict[str, Any]:
        return next(
            row
            for row in rows
            if row["method"] == method and row["labels"] == name and row["round"] == number
        )

    noisy, oracle = find(NOISY, 0), find(ORACLE, 0)
    cleaned = find(labels, round_number)
    closed: dict[str, float | None] = {}
    for key in ("map_i2t", "map_t2i"):
        gap = oracle[key] - noisy[key]
        closed[key] = None if gap < min_gap else (cleaned[key] - noisy[key]) / gap
    return closed


def write_retrieval_json(result: LoopResult, path: str | Path) -> None:
    """Write ``retrieval.json`` (:meth:`LoopResult.as_json`) atomically."""
    write_json_atomic(result.as_json(), path)
