"""The registry of detectors and of the signals they produce (``list_detectors()``).

A *detector* is one source of evidence run once per scan: a hashing method (RSHNL, SCBCH, NRCH,
trained on the audited rows), cleanlab on out-of-fold probe probabilities, or the training-free
kNN vote. It returns one or more per-row *signals* and, optionally, a per-cell *presence*
matrix: for every (row, class), evidence that the class truly applies (higher = more likely
present). Every signal states its direction; the fusion turns all of them into suspicion.

A hashing method declares its signals (name, direction, meaning) and its per-cell evidence on
its class (:class:`hashing.base.HashMethod`); :class:`HasherDetector` reads them from there, so
every method with signals in :data:`hashing.methods.METHODS` is a detector. Adding another
detector touches this file only: write a class with ``name``, ``signals`` and ``run``, and add
one line to ``DETECTORS``. The tests' quality floors run these same detectors.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from auditor.audit_files import LOW_IS_SUSPECT, Direction
from auditor.baselines import cleanlab_scores
from auditor.knn import DEFAULT_K, knn_features, knn_vote
from auditor.probe import out_of_fold_probabilities
from hashing.hasher import CrossModalHasher, ProgressCallback
from hashing.methods import METHODS, default_settings


@dataclass(frozen=True)
class SignalSpec:
    """One per-row signal: its column name in ``audit.parquet``, direction and meaning."""

    name: str
    direction: Direction
    detector: str
    meaning: str


@dataclass(frozen=True)
class DetectorInput:
    """What every detector sees: the audited rows only.

    Attributes
    ----------
    image : (N, Di) float32
    text : (N, Dt) float32
    labels : (N, C) uint8 given (possibly noisy) multi-hot labels
    seed : int
    device : str or None (None = cuda when present)
    epochs : dict method -> epochs overriding the method's scan default
    bits : code length of the hashers
    """

    image: np.ndarray
    text: np.ndarray
    labels: np.ndarray
    seed: int
    device: str | None
    epochs: dict[str, int]
    bits: int


@dataclass(frozen=True, eq=False)
class DetectorOutput:
    """signals: name -> (N,) float; presence: (N, C) float, higher = class more likely present
    (None when the detector has no per-label evidence); seconds: wall time."""

    signals: dict[str, np.ndarray]
    presence: np.ndarray | None
    seconds: float


class Detector(Protocol):
    """One source of evidence: its name, the signals it returns, and how to run it."""

    @property
    def name(self) -> str: ...

    @property
    def signals(self) -> tuple[SignalSpec, ...]: ...

    def run(self, data: DetectorInput, progress: ProgressCallback | None) -> DetectorOutput: ...


# Epochs of each hasher in a scan: enough for the per-sample signals to separate (they are read
# from training, not from converged retrieval models), short enough that a 10,000-row scan with
# all three stays within a few minutes on a 2-core CPU. Measured in docs/benchmarks.md.
SCAN_EPOCHS = {"rshnl": 20, "scbch": 20, "nrch": 30}

# Settings of the scan's hashers that differ from the models the methods hand out (their
# retrieval defaults), every one measured on the detection matrix. All read their per-sample
# signals from the live weights: averaged weights (SCBCH's retrieval default) lifted detection
# on average but lowered it on the synthetic class flips and one removal case (docs/benchmarks.md,
# "Issue 15, eighth session" and "ninth session"). NRCH leaves the pairs that share a noisy label
# out of its contrastive sum: its retrieval default's constants for them cost the fused row AUROC
# up to 0.004 (mean -0.0004) and one removal case its target ("Issue 15, tenth session").
# None uses the stopping rule (the robust methods' retrieval default): the scan reads every row's
# from one run over every row, for the fixed SCAN_EPOCHS the detection matrix was measured at.
_SCAN_COMMON: dict[str, Any] = {
    "weight_average": 0.0,
    "weight_average_epochs": 0.0,
    "holdout_fraction": 0.0,
}
SCAN_OVERRIDES: dict[str, dict[str, Any]] = {
    "rshnl": _SCAN_COMMON,
    "scbch": _SCAN_COMMON,
    "nrch": {**_SCAN_COMMON, "shared_pairs": "excluded"},
}


def presence_from_residuals(residuals: np.ndarray) -> np.ndarray:
    """NRCH prototype residuals (N, C), in [0, 4], low = present -> presence in [0, 1]."""
    return np.clip(1.0 - np.asarray(residuals, dtype=np.float64) / 4.0, 0.0, 1.0)


@dataclass(frozen=True)
class HasherDetector:
    """A noise-robust hashing method trained on the audited rows; its per-sample signals."""

    name: str

    @property
    def signals(self) -> tuple[SignalSpec, ...]:
        """The signals the method's class declares (:attr:`hashing.base.HashMethod.signals`)."""
        return tuple(
            SignalSpec(signal.name, signal.direction, self.name, signal.meaning)
            for signal in METHODS[self.name].signals
        )

    def run(self, data: DetectorInput, progress: ProgressCallback | None) -> DetectorOutput:
        started = time.perf_counter()
        epochs = data.epochs.get(self.name, SCAN_EPOCHS.get(self.name))
        overrides = {**SCAN_OVERRIDES[self.name], **({} if epochs is None else {"epochs": epochs})}
        settings = default_settings(self.name, **overrides)
        hasher = CrossModalHasher(settings, bits=data.bits, seed=data.seed, device=data.device)
        hasher.fit(data.image, data.text, data.labels, progress=progress)
        evidence = hasher.label_evidence_
        presence = None
        if evidence is not None:
            presence = (
                np.asarray(evidence, dtype=np.float64)
                if hasher.evidence_high_means_present_
                else presence_from_residuals(evidence)
            )
        signals = {spec.name: np.asarray(hasher.signals_[spec.name]) for spec in self.signals}
        return DetectorOutput(signals, presence, time.perf_counter() - started)


@dataclass(frozen=True)
class CleanlabDetector:
    """cleanlab's multi-label quality on out-of-fold probabilities of a linear probe."""

    name: str = "cleanlab"
    signals: tuple[SignalSpec, ...] = (
        SignalSpec(
            "cleanlab_quality",
            LOW_IS_SUSPECT,
            "cleanlab",
            "cleanlab multi-label label quality (EMA over classes), out-of-fold probe",
        ),
    )
    n_folds: int = 5

    def run(self, data: DetectorInput, progress: ProgressCallback | None) -> DetectorOutput:
        started = time.perf_counter()
        features = np.hstack([data.image, data.text])
        probabilities = out_of_fold_probabilities(
            features, data.labels, n_folds=self.n_folds, seed=data.seed, device=data.device
        )
        quality, _ = cleanlab_scores(data.labels, probabilities)
        if progress is not None:
            progress(1, 1, {})
        return DetectorOutput(
            {"cleanlab_quality": quality}, probabilities, time.perf_counter() - started
        )


@dataclass(frozen=True)
class KnnDetector:
    """Training-free vote of each row's k nearest neighbours in the input features."""

    name: str = "knn"
    signals: tuple[SignalSpec, ...] = (
        SignalSpec(
            "knn_vote",
            LOW_IS_SUSPECT,
            "knn",
            "agreement of the labels with the k nearest neighbours' labels",
        ),
    )
    k: int = DEFAULT_K

    def run(self, data: DetectorInput, progress: ProgressCallback | None) -> DetectorOutput:
        started = time.perf_counter()
        k = min(self.k, data.labels.shape[0] - 1)
        row_score, votes = knn_vote(
            knn_features(data.image, data.text),
            data.labels,
            k=k,
            seed=data.seed,
        )
        if progress is not None:
            progress(1, 1, {})
        return DetectorOutput({"knn_vote": row_score}, votes, time.perf_counter() - started)


HASHER_DETECTORS = tuple(name for name, method in METHODS.items() if method.signals)
"""Every hashing method with per-sample signals, in registry order (rshnl, scbch, nrch)."""
BASELINE_DETECTORS = ("cleanlab", "knn")

DETECTORS: dict[str, Detector] = {
    **{name: HasherDetector(name) for name in HASHER_DETECTORS},
    "cleanlab": CleanlabDetector(),
    "knn": KnnDetector(),
}
"""Every detector by name; a scan runs the hashers it is asked for plus both baselines."""


def list_detectors() -> dict[str, str]:
    """Every detector -> the signals it writes into ``audit.parquet`` (for help texts)."""
    return {
        name: ", ".join(spec.name for spec in detector.signals)
        for name, detector in DETECTORS.items()
    }


def signal_specs(detectors: tuple[str, ...] | list[str]) -> list[SignalSpec]:
    """The signals the given detectors produce, in detector order."""
    return [spec for name in detectors for spec in DETECTORS[name].signals]


def run_detectors(
    names: list[str],
    data: DetectorInput,
    progress_for: Callable[[str], ProgressCallback | None] | None = None,
) -> dict[str, DetectorOutput]:
    """Run detectors in order; a failure propagates (the scan stops with its message)."""
    outputs = {}
    for name in names:
        progress = progress_for(name) if progress_for is not None else None
        outputs[name] = DETECTORS[name].run(data, progress)
    return outputs
