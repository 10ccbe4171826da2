"""The scan pipeline: validate → train the hashers → baselines → fuse → decide → compare → write.

Library first: :func:`run_scan` works on an :class:`AuditDataset` and returns a
:class:`ScanResult`; :func:`write_scan` writes ``audit.parquet``, ``label_issues.parquet``,
``summary.json`` and ``report.html`` (:mod:`auditor.report`) into a folder atomically. The CLI
(``audit scan``) is a thin layer on top.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import math
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from auditor.audit_files import (
    FUSED,
    HIGH_IS_SUSPECT,
    LOW_IS_SUSPECT,
    TRUTH_COLUMN,
    write_audit_files,
)
from auditor.dataset import AuditDataset, DataError, check_classes_learnable
from auditor.detectors import (
    BASELINE_DETECTORS,
    DETECTORS,
    HASHER_DETECTORS,
    DetectorInput,
    DetectorOutput,
    SignalSpec,
    run_detectors,
    signal_specs,
)
from auditor.fusion import (
    NOISE_PRIORS,
    RATE_RESAMPLES,
    NoiseModel,
    cell_error_probability,
    direction_row_score,
    estimate_noise_model,
    flag_top,
    fuse_presence,
    fuse_rows,
    missing_dominance,
    row_rate_spread,
    strongest_missing_sign,
    suggest_directed_changes,
    suspicion_rank,
)
from auditor.io import atomic_output_dir, make_provenance, multi_hot_to_arrow
from auditor.knn import DEFAULT_K
from auditor.metrics import detection_report, flag_report, per_class_noise
from hashing.hasher import MAX_BITS, MIN_BITS, ProgressCallback

CELL_SIGNAL = "cell_quality"
"""The row score the fused per-cell evidence gives (weakest support × weakest rejection)."""
CELL_SPEC = SignalSpec(
    CELL_SIGNAL,
    LOW_IS_SUSPECT,
    "fusion",
    "1 − (rank of the strongest doubt about a given label and rank of the strongest sign of a "
    "missing class, mixed by the estimated direction of the noise), from the fused per-cell "
    "evidence",
)
PACKAGES = ("numpy", "torch", "pyarrow", "cleanlab", "scikit-learn", "scipy")


@dataclass(frozen=True)
class ScanSettings:
    """Settings of a scan; the CLI and ``--config scan.toml`` fill them.

    Attributes
    ----------
    methods : hashers to train (default all three: rshnl, scbch, nrch).
    baselines : baselines to run beside them (default cleanlab and knn).
    fuse_baselines : whether the baselines' signals and cell evidence enter the fused score
        (default True); False fuses the hashers alone (the baselines are still reported).
    bits : code length of the hashers (default 64).
    epochs : epochs of every hasher; None = each method's scan default (``SCAN_EPOCHS``).
    seed : seed of every random choice (default 0).
    device : ``cpu``, ``cuda``; None = cuda when present.
    noise_rate : share of rows to flag as ``is_issue``; None = the estimate (docs/design.md).
    noise : the direction of the noise when the user knows it: ``missing`` (tags are only ever
        left out), ``spurious`` (tags are only ever added), ``both``; None = estimated.
    threshold : the precision a suggested change is held to (default 0.7: a suggestion a
        reviewer accepts blindly should be right at least that often). A given label is
        suggested for removal, an absent class for addition, when its error probability
        (``1 − presence`` / ``presence``) and its posterior under the noise model both exceed
        it and its false-discovery q-value is at most ``1 − threshold``
        (:func:`auditor.fusion.suggest_directed_changes`; measured in docs/benchmarks.md).
    review_threshold : cells outside flagged rows are listed in ``label_issues.parquet`` when
        their error probability exceeds this (default 0.9).
    rate_resamples : resamples of the rows the noise rate's spread is read from (default 20,
        :func:`auditor.fusion.row_rate_spread`); 0 = no spread.
    min_train_rows : fewer audited rows is an input error (default 50).
    """

    methods: tuple[str, ...] = HASHER_DETECTORS
    baselines: tuple[str, ...] = BASELINE_DETECTORS
    fuse_baselines: bool = True
    bits: int = 64
    epochs: int | None = None
    seed: int = 0
    device: str | None = None
    noise_rate: float | None = None
    noise: str | None = None
    threshold: float = 0.7
    review_threshold: float = 0.9
    rate_resamples: int = RATE_RESAMPLES
    min_train_rows: int = 50

    def __post_init__(self) -> None:
        unknown = [name for name in (*self.methods, *self.baselines) if name not in DETECTORS]
        if unknown:
            raise ValueError(
                f"unknown detector(s) {', '.join(unknown)}; known: {', '.join(DETECTORS)}"
            )
        if not self.methods and not (self.baselines and self.fuse_baselines):
            raise ValueError("nothing to fuse: choose at least one method or fuse the baselines")
        if not MIN_BITS <= self.bits <= MAX_BITS:
            raise ValueError(f"bits must be in {MIN_BITS}..{MAX_BITS}, got {self.bits}")
        if self.epochs is not None and self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        if self.noise is not None and self.noise not in NOISE_PRIORS:
            raise ValueError(
                f"unknown noise direction {self.noise!r}; choose one of {', '.join(NOISE_PRIORS)}"
            )
        if self.noise_rate is not None and not 0.0 <= self.noise_rate <= 1.0:
            raise ValueError(f"noise_rate must be in [0, 1], got {self.noise_rate}")
        if self.rate_resamples == 1 or self.rate_resamples < 0:
            raise ValueError(
                f"rate_resamples must be 0 (no spread) or at least 2, got {self.rate_resamples}"
            )
        for name in ("threshold", "review_threshold"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in (0, 1), got {getattr(self, name)}")

    def as_dict(self) -> dict[str, Any]:
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in dataclasses.asdict(self).items()
        }


@dataclass(frozen=True, eq=False)
class ScanResult:
    """Everything a scan found, for the audited (train) rows, in dataset order.

    Attributes
    ----------
    ids : (N,) ids of the audited rows; labels : (N, C) uint8 given labels; classes.
    signals : name -> (N,) raw signal values; specs : the SignalSpec of each signal.
    label_quality : (N,) fused quality in [0, 1], lower = more suspect.
    rank : (N,) int, 1 = most suspect; is_issue : (N,) bool.
    presence : (N, C) fused presence probability; detector_presence : name -> (N, C) calibrated;
    presence_weights : name -> the detector's weight in the stacked presence.
    remove, add : (N, C) bool suggestions; estimated_noise_rate : float.
    noise_model : the direction-aware noise model (per class spurious and missing rates).
    rate_spread : standard deviations of the noisy, missing and spurious row rates over
        resampled rows (:func:`auditor.fusion.row_rate_spread`), or None (``rate_resamples`` 0).
    truth_rows : (N,) bool or None; truth_cells : (N, C) bool or None.
    metrics : signal -> detection metrics (with truth); timings : stage -> seconds.
    """

    ids: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    signals: dict[str, np.ndarray]
    specs: dict[str, SignalSpec]
    label_quality: np.ndarray
    rank: np.ndarray
    is_issue: np.ndarray
    presence: np.ndarray
    detector_presence: dict[str, np.ndarray]
    remove: np.ndarray
    add: np.ndarray
    estimated_noise_rate: float
    truth_rows: np.ndarray | None
    truth_cells: np.ndarray | None
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    presence_weights: dict[str, float] = field(default_factory=dict)
    noise_model: NoiseModel | None = None
    rate_spread: tuple[float, float, float] | None = None

    @property
    def suggested(self) -> np.ndarray:
        """(N, C) bool: the given labels with the suggestions applied."""
        return (self.labels.astype(bool) & ~self.remove) | self.add

    def strongest_signal(self) -> list[str]:
        """Per row, the signal that finds it most suspect (highest suspicion rank)."""
        names = list(self.signals)
        ranks = np.stack(
            [suspicion_rank(self.signals[name], self.specs[name].direction) for name in names],
            axis=1,
        )
        return [names[index] for index in ranks.argmax(axis=1)]


def scan_input(dataset: AuditDataset, settings: ScanSettings) -> DetectorInput:
    """What every detector of a scan sees: the train rows; DataError when they cannot be
    scanned (no embeddings, fewer than ``settings.min_train_rows``)."""
    if dataset.image is None or dataset.text is None:
        raise DataError("no embeddings: run `audit embed` first", file=dataset.source)
    scope = dataset.train_mask
    n_rows = int(scope.sum())
    if n_rows < settings.min_train_rows:
        raise DataError(
            f"too few rows: {n_rows} train rows, the scan needs at least {settings.min_train_rows}",
            file=dataset.source,
        )
    check_classes_learnable(dataset.labels[scope], dataset.source)
    return DetectorInput(
        image=dataset.image[scope],
        text=dataset.text[scope],
        labels=dataset.labels[scope],
        seed=settings.seed,
        device=settings.device,
        epochs={} if settings.epochs is None else dict.fromkeys(settings.methods, settings.epochs),
        bits=settings.bits,
    )


def train_scan_hashers(dataset: AuditDataset, settings: ScanSettings) -> None:
    """A rank other than 0 of a distributed scan (``torchrun``): take part in training the
    scan's hashers, in ``run_scan``'s order, and stop.

    Training is the scan's only data-parallel stage. Rank 0 runs ``run_scan`` as usual (its
    hashers train together with this rank), then the baselines, fusion and writing alone: those
    are cheap next to training and gain nothing from more processes, so the other ranks skip
    them and exit instead of waiting at a barrier.
    """
    run_detectors(list(settings.methods), scan_input(dataset, settings))


def run_scan(
    dataset: AuditDataset,
    settings: ScanSettings = ScanSettings(),  # noqa: B008 - frozen, never mutated
    *,
    truth: np.ndarray | None = None,
    progress_for: Callable[[str], ProgressCallback | None] | None = None,
) -> ScanResult:
    """Scan the train rows of ``dataset``.

    Parameters
    ----------
    truth : (N_dataset, C) clean labels overriding ``dataset.clean_labels`` (``--truth``).
    progress_for : detector name -> progress callback (epochs for hashers, one step otherwise).
    """
    data = scan_input(dataset, settings)
    scope = dataset.train_mask
    labels = data.labels
    clean = truth if truth is not None else dataset.clean_labels
    names = [*settings.methods, *settings.baselines]
    timings: dict[str, float] = {}
    outputs = run_detectors(names, data, progress_for)
    for name, output in outputs.items():
        timings[name] = round(output.seconds, 3)

    started = time.perf_counter()
    fused_names = [*settings.methods, *(settings.baselines if settings.fuse_baselines else ())]
    result = fuse_outputs(labels, outputs, fused_names, settings)
    timings["fusion"] = round(time.perf_counter() - started, 3)

    truth_rows = truth_cells = None
    if clean is not None:
        truth_cells = np.asarray(clean[scope] != labels)
        truth_rows = np.asarray(truth_cells.any(axis=1))
    scan = ScanResult(
        ids=dataset.ids[scope],
        labels=labels,
        classes=dataset.classes,
        truth_rows=truth_rows,
        truth_cells=truth_cells,
        timings=timings,
        **result,
    )
    if truth_rows is not None and truth_cells is not None:
        scan.metrics.update(compare_with_truth(scan, outputs))
    return scan


MIN_ROWS_PER_NEIGHBOUR = 20
"""The identifiability check runs on at least this many rows per kNN neighbour (1,000 rows)."""
HELD_OUT_DETECTORS = ("cleanlab", "knn")
"""Detectors whose cell evidence never saw the row's own labels (the out-of-fold probe, the
vote of the row's neighbours); the noise model reads its counts from their stack."""


def fuse_outputs(
    labels: np.ndarray,
    outputs: dict[str, DetectorOutput],
    fused_names: Sequence[str],
    settings: ScanSettings,
) -> dict[str, Any]:
    """Fusion and decisions (module :mod:`auditor.fusion`) from the detectors' outputs."""
    specs = {spec.name: spec for spec in signal_specs(list(outputs))}
    signals = {name: outputs[spec.detector].signals[name] for name, spec in specs.items()}
    evidence = {
        name: outputs[name].presence for name in fused_names if outputs[name].presence is not None
    }
    presence, detector_presence, stacking_weights = fuse_presence(
        {name: matrix for name, matrix in evidence.items() if matrix is not None}, labels
    )
    # The content-free floor needs neighbourhoods that are a small part of the data: with k
    # neighbours out of fewer than 20·k rows every vote is close to the class frequency and
    # every label would read as content-free (60 rows: 82 %).
    vote = (
        outputs["knn"].presence
        if "knn" in outputs and labels.shape[0] >= MIN_ROWS_PER_NEIGHBOUR * DEFAULT_K
        else None
    )
    held_out_evidence = {
        name: matrix
        for name in HELD_OUT_DETECTORS
        if name in outputs and (matrix := outputs[name].presence) is not None
    }
    held_out = fuse_presence(held_out_evidence, labels)[0] if held_out_evidence else None
    model = estimate_noise_model(
        labels, presence, vote=vote, prior=settings.noise, held_out=held_out
    )
    signals[CELL_SIGNAL] = 1.0 - direction_row_score(labels, presence, model)
    specs[CELL_SIGNAL] = CELL_SPEC
    suspicions = {
        name: suspicion_rank(signals[name], specs[name].direction)
        for name in signals
        if name == CELL_SIGNAL or specs[name].detector in fused_names
    }
    fused_suspicion = fuse_rows(
        suspicions,
        anchor=CELL_SIGNAL,
        missing_sign=suspicion_rank(strongest_missing_sign(labels, presence), HIGH_IS_SUSPECT),
        missing_weight=missing_dominance(model),
    )
    label_quality = 1.0 - fused_suspicion
    estimated = model.row_rate
    rate = settings.noise_rate if settings.noise_rate is not None else estimated
    n_rows = labels.shape[0]
    is_issue = flag_top(fused_suspicion, int(round(rate * n_rows)))
    order = np.argsort(-fused_suspicion, kind="stable")
    rank = np.empty(n_rows, dtype=np.int64)
    rank[order] = np.arange(1, n_rows + 1)
    remove, add = suggest_directed_changes(labels, presence, is_issue, model, settings.threshold)
    spread = None
    if settings.rate_resamples:
        spread = row_rate_spread(
            labels,
            presence,
            vote,
            settings.noise,
            held_out,
            settings.rate_resamples,
            np.random.default_rng(settings.seed),
        )
    return {
        "signals": signals,
        "specs": specs,
        "label_quality": label_quality,
        "rank": rank,
        "is_issue": is_issue,
        "presence": presence,
        "detector_presence": detector_presence,
        "presence_weights": stacking_weights,
        "remove": remove,
        "add": add,
        "estimated_noise_rate": estimated,
        "noise_model": model,
        "rate_spread": spread,
    }


def compare_with_truth(
    scan: ScanResult, outputs: dict[str, DetectorOutput]
) -> dict[str, dict[str, Any]]:
    """Detection metrics of the fused score and every signal against the known noise.

    Cell-level metrics: the fused presence for ``label_quality``; each detector's calibrated
    presence for its signals (cleanlab: its out-of-fold probabilities, i.e. its per-class score).
    """
    assert scan.truth_rows is not None and scan.truth_cells is not None
    metrics: dict[str, dict[str, Any]] = {}
    fused_cells = cell_error_probability(scan.labels, scan.presence)
    metrics[FUSED] = detection_report(
        scan.truth_rows, 1.0 - scan.label_quality, scan.truth_cells, fused_cells
    )
    metrics[FUSED]["flag"] = flag_report(scan.truth_rows, scan.is_issue)
    for name, spec in scan.specs.items():
        suspicion = suspicion_rank(scan.signals[name], spec.direction)
        # Fused detectors are judged on their calibrated cells, others on their raw evidence.
        presence = scan.detector_presence.get(spec.detector)
        if presence is None and spec.detector in outputs:
            presence = outputs[spec.detector].presence
        if presence is not None:
            metrics[name] = detection_report(
                scan.truth_rows,
                suspicion,
                scan.truth_cells,
                cell_error_probability(scan.labels, presence),
            )
        else:
            metrics[name] = detection_report(scan.truth_rows, suspicion)
    return metrics


# ------------------------------------------------------------------------------------ writing
def audit_table(scan: ScanResult) -> pa.Table:
    """``audit.parquet``: one row per audited sample, sorted by rank (auditor.audit_files;
    docs/design.md)."""
    order = np.argsort(scan.rank, kind="stable")
    ids = scan.ids[order]
    columns: dict[str, pa.Array] = {
        "id": pa.array(ids.tolist() if ids.dtype == object else ids),
        "rank": pa.array(scan.rank[order]),
        FUSED: pa.array(scan.label_quality[order]),
        "is_issue": pa.array(scan.is_issue[order]),
        "given_labels": multi_hot_to_arrow(scan.labels[order], scan.classes),
        "suggested_labels": multi_hot_to_arrow(scan.suggested[order], scan.classes),
        "labels_to_remove": multi_hot_to_arrow(scan.remove[order], scan.classes),
        "labels_to_add": multi_hot_to_arrow(scan.add[order], scan.classes),
    }
    for name, values in scan.signals.items():
        columns[name] = pa.array(np.asarray(values, dtype=np.float64)[order])
    if scan.truth_rows is not None:
        columns[TRUTH_COLUMN] = pa.array(scan.truth_rows[order])
    return pa.table(columns)


def label_issues_table(scan: ScanResult, review_threshold: float) -> pa.Table:
    """``label_issues.parquet``: one row per (sample, class) cell worth reviewing.

    The cells are every suggested change (flagged rows) and, in any row, every cell whose error
    probability exceeds ``review_threshold``; sorted by error probability, most suspect first.
    """
    error = cell_error_probability(scan.labels, scan.presence)
    selected = scan.remove | scan.add | (error > review_threshold)
    rows, classes = np.nonzero(selected)
    order = np.lexsort((classes, rows, -error[rows, classes]))
    rows, classes = rows[order], classes[order]
    given = scan.labels[rows, classes].astype(bool)
    suggestion = np.where(
        scan.remove[rows, classes], "remove", np.where(scan.add[rows, classes], "add", "")
    )
    ids = scan.ids[rows]
    columns: dict[str, pa.Array] = {
        "id": pa.array(ids.tolist() if ids.dtype == object else ids),
        "rank": pa.array(scan.rank[rows]),
        "class": pa.array([scan.classes[c] for c in classes], type=pa.string()),
        "given": pa.array(given),
        "presence": pa.array(scan.presence[rows, classes]),
        "error_probability": pa.array(error[rows, classes]),
        "suggestion": pa.array(suggestion.tolist(), type=pa.string()),
    }
    for name, matrix in scan.detector_presence.items():
        columns[f"presence_{name}"] = pa.array(matrix[rows, classes])
    if scan.truth_cells is not None:
        columns["is_noisy_cell"] = pa.array(scan.truth_cells[rows, classes])
    return pa.table(columns)


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _finite(value: Any) -> Any:
    """JSON has no NaN: metrics that cannot be computed become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    return value


def noise_model_summary(model: NoiseModel) -> dict[str, Any]:
    """``summary.json`` ``noise_model``: the estimated regime, per-direction row rates and
    whether the calibration could tell the noise from the signal (and why not)."""
    return {
        "regime": model.regime,
        "line": model.describe(),
        "estimated_missing_row_rate": round(model.missing_row_rate, 6),
        "estimated_spurious_row_rate": round(model.spurious_row_rate, 6),
        "identifiable": model.identifiable,
        "unidentifiable_reason": model.reason or None,
        "prior": model.prior,
    }


def per_class_summary(scan: ScanResult) -> dict[str, dict[str, Any]]:
    """``summary.json`` ``per_class`` (added to the suggestion counts of
    :func:`auditor.metrics.per_class_noise`): per class, the given count, the estimated spurious
    rate (share of its given labels that are wrong), the estimated missing rate (share of its true
    occurrences left out), the content-free share of its labels (kNN vote floor) and, with the
    truth, the true rates."""
    model = scan.noise_model
    assert model is not None
    given = scan.labels.astype(bool)
    per_class: dict[str, dict[str, Any]] = {}
    for index, name in enumerate(scan.classes):
        entry: dict[str, Any] = {
            "given": int(model.given[index]),
            "estimated_spurious_rate": round(float(model.spurious_rate[index]), 6),
            "estimated_missing_rate": round(float(model.missing_rate[index]), 6),
            "content_free_rate": round(float(model.floor_rate[index]), 6),
        }
        if scan.truth_cells is not None:
            wrong = scan.truth_cells[:, index]
            n_spurious = int((wrong & given[:, index]).sum())
            n_missing = int((wrong & ~given[:, index]).sum())
            true_count = int(given[:, index].sum()) - n_spurious + n_missing
            entry["true_spurious_rate"] = round(n_spurious / max(1, entry["given"]), 6)
            entry["true_missing_rate"] = round(n_missing / max(1, true_count), 6)
        per_class[name] = entry
    return per_class


def scan_summary(scan: ScanResult, settings: ScanSettings, source: str | None) -> dict[str, Any]:
    """``summary.json``: counts, noise rates, metrics against the truth, timings, settings."""
    n_rows = int(scan.labels.shape[0])
    summary: dict[str, Any] = {
        "input": source,
        "rows_audited": n_rows,
        "classes": list(scan.classes),
        "rows_flagged": int(scan.is_issue.sum()),
        "labels_to_remove": int(scan.remove.sum()),
        "labels_to_add": int(scan.add.sum()),
        "estimated_noise_rate": round(scan.estimated_noise_rate, 6),
        "flag_rate": round(float(scan.is_issue.mean()), 6),
        "signals": {
            name: {"direction": spec.direction, "detector": spec.detector, "meaning": spec.meaning}
            for name, spec in scan.specs.items()
        },
        "presence_weights": {name: round(w, 6) for name, w in scan.presence_weights.items()},
        "per_class": per_class_noise(
            scan.classes, scan.labels.sum(axis=0), scan.remove.sum(axis=0), scan.add.sum(axis=0)
        ),
        "timings_seconds": scan.timings,
        "settings": settings.as_dict(),
        "versions": package_versions(),
    }
    if scan.noise_model is not None:
        summary["noise_model"] = noise_model_summary(scan.noise_model)
        if scan.rate_spread is not None:
            noisy, missing, spurious = (round(value, 6) for value in scan.rate_spread)
            summary["estimated_noise_rate_sd"] = noisy
            summary["noise_model"]["missing_row_rate_sd"] = missing
            summary["noise_model"]["spurious_row_rate_sd"] = spurious
        for name, numbers in per_class_summary(scan).items():
            summary["per_class"][name].update(numbers)
    if scan.truth_rows is not None and scan.truth_cells is not None:
        summary["true_noise_rate"] = round(float(scan.truth_rows.mean()), 6)
        given = scan.labels.astype(bool)
        summary["true_missing_row_rate"] = round(
            float((scan.truth_cells & ~given).any(axis=1).mean()), 6
        )
        summary["true_spurious_row_rate"] = round(
            float((scan.truth_cells & given).any(axis=1).mean()), 6
        )
        summary["true_noisy_rows"] = int(scan.truth_rows.sum())
        summary["true_noisy_cells"] = int(scan.truth_cells.sum())
        summary["detection"] = _finite(scan.metrics)
    return summary


def write_scan(
    scan: ScanResult,
    out: str | Path,
    settings: ScanSettings,
    *,
    source: str | None,
    extra_files: Callable[[Path], None] | None = None,
    report: bool = True,
    source_name: str | None = None,
) -> dict[str, Any]:
    """Write the scan's outputs into the folder ``out`` atomically; return the summary.

    With ``report`` (default) ``report.html`` is built inside the folder before it is renamed
    into place, so a failed report leaves no folder either. ``source_name``: the input's path
    to record when ``source`` is a temporary location (default: ``source``).
    """
    from auditor.report import build_report  # jinja2 only when a report is made

    provenance = make_provenance(
        "scan",
        settings=settings.as_dict(),
        classes=scan.classes,
        seed=settings.seed,
        input_path=source,
    )
    if source_name is not None and "input" in provenance:
        provenance["input"]["path"] = source_name
    summary = scan_summary(scan, settings, source_name or source)
    summary["input_fingerprint"] = provenance.get("input", {}).get("fingerprint")
    with atomic_output_dir(out, "scan", source) as folder:
        issues = label_issues_table(scan, settings.review_threshold)
        write_audit_files(folder, audit_table(scan), issues, summary, provenance)
        if extra_files is not None:
            extra_files(folder)
        if report:
            build_report(folder, data=source)
    return summary
