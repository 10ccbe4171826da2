"""Out-of-fold class probabilities from a linear probe: the fair input for cleanlab.

cleanlab's label-quality scores are only meaningful on probabilities from a model that never saw
the row's own label; in-sample probabilities have memorised the noise and hide it. So every row's
probabilities come from a probe fitted on the other folds (K-fold cross-validation on the same
features the audit uses).

The probe is a multi-label logistic regression: one linear layer, a sigmoid per class, mean binary
cross-entropy over all (row, class) cells plus an L2 penalty on the weights, fitted full-batch by
L-BFGS from zero weights (so the fit itself is deterministic; the seed only sets the folds).
Features are standardised with the training fold's mean and standard deviation. All C classes are
fitted at once, which is what makes it fast: measured on 10,000 × (256 + 128) features, 24
classes, 5 folds, one thread: 8–14 s, cleanlab row AUROC 0.910 at pairflip 0.5 (scikit-learn's
one-vs-rest lbfgs ``LogisticRegression``: 93 s, 0.903; a 256-unit MLP probe: 108 s, 0.894).

Why these defaults (pairflip noise on the synthetic data, cleanlab row AUROC): weight decay
1e-4 was best or tied at noise rates 0.2, 0.5 and 0.8 among 1e-5 … 1e-2; 100 L-BFGS iterations.

A class that a training fold has in no row (or in every row) cannot be fitted; it gets a
constant probability, the fold's smoothed frequency (positives + 0.5) / (rows + 1), instead of
an error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from hashing.devices import resolve_device

DEFAULT_WEIGHT_DECAY = 1e-4
DEFAULT_MAX_ITER = 100


@dataclass(frozen=True, eq=False)
class LinearProbe:
    """A fitted multi-label linear probe (see :func:`fit_linear_probe`).

    Attributes
    ----------
    mean, scale : (D,) float32
        Standardisation of the training features: ``(x − mean) / scale``.
    weights : (D, C) float32
        Weights; zero for constant classes.
    bias : (C,) float32
        Logit offsets; zero for constant classes.
    constant_probability : (C,) float64
        NaN for fitted classes; the predicted probability of classes the training rows did not
        vary on (absent from every row, or present in every row).
    """

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: np.ndarray
    constant_probability: np.ndarray


def fold_assignment(n_rows: int, n_folds: int, seed: int) -> np.ndarray:
    """Balanced random folds.

    Parameters
    ----------
    n_rows : int
    n_folds : int in [2, n_rows]
    seed : int

    Returns
    -------
    (n_rows,) int64 fold index in [0, n_folds); fold sizes differ by at most one.
    """
    if isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer)):
        raise ValueError(f"n_folds must be an integer, got {n_folds!r}")
    if not 2 <= n_folds <= n_rows:
        raise ValueError(f"n_folds must be in [2, N={n_rows}], got {n_folds}")
    rng = np.random.default_rng(seed)
    return (rng.permutation(n_rows) % n_folds).astype(np.int64)


def _check_features_labels(features: np.ndarray, labels: np.ndarray) -> None:
    if features.ndim != 2:
        raise ValueError(f"features must be a 2-D (N, D) array, got shape {features.shape}")
    if labels.ndim != 2 or labels.shape[0] != features.shape[0]:
        raise ValueError(
            f"labels must be (N, C) with N = {features.shape[0]} rows, got shape {labels.shape}"
        )
    if labels.size and not np.isin(labels, (0, 1)).all():
        raise ValueError("labels must be multi-hot: every entry 0 or 1")
    if not np.isfinite(features).all():
        raise ValueError("features contain NaN or inf")


def fit_linear_probe(
    features: np.ndarray,
    labels: np.ndarray,
    weight_decay: float = DEFAULT_WEIGHT_DECAY,
    max_iter: int = DEFAULT_MAX_ITER,
    device: str | None = None,
) -> LinearProbe:
    """Fit a multi-label logistic regression on all classes at once.

    Parameters
    ----------
    features : (n, D) float
    labels : (n, C) uint8 multi-hot
    weight_decay : float
        L2 penalty ``weight_decay · ‖W‖²`` added to the mean per-cell binary cross-entropy.
    max_iter : int
        L-BFGS iterations.
    device : str, optional
        Torch device; None picks ``cuda`` when present.

    Returns
    -------
    LinearProbe
    """
    features = np.asarray(features)
    labels = np.asarray(labels)
    _check_features_labels(features, labels)
    n_rows, n_classes = labels.shape
    if n_rows == 0:
        raise ValueError("cannot fit a probe on zero rows")
    x = features.astype(np.float32, copy=False)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    # A constant feature carries nothing; dividing by 1 keeps it at zero instead of NaN.
    scale = np.where(scale > 1e-12, scale, 1.0).astype(np.float32)

    positives = labels.sum(axis=0, dtype=np.int64)
    varying = (positives > 0) & (positives < n_rows)
    constant_probability = np.where(varying, np.nan, (positives + 0.5) / (n_rows + 1.0))
    weights = np.zeros((features.shape[1], n_classes), dtype=np.float32)
    bias = np.zeros(n_classes, dtype=np.float32)

    if varying.any():
        torch_device = torch.device(resolve_device(device))
        standardised = x - mean
        standardised /= scale
        x_t = torch.from_numpy(standardised).to(torch_device)
        y_t = torch.from_numpy(labels[:, varying].astype(np.float32)).to(torch_device)
        w_t = torch.zeros((x.shape[1], int(varying.sum())), device=torch_device, requires_grad=True)
        b_t = torch.zeros(int(varying.sum()), device=torch_device, requires_grad=True)
        optimiser = torch.optim.LBFGS(
            [w_t, b_t], lr=1.0, max_iter=max_iter, history_size=10, line_search_fn="strong_wolfe"
        )

        def closure() -> torch.Tensor:
            optimiser.zero_grad()
            logits = x_t @ w_t + b_t
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y_t)
            loss = loss + weight_decay * (w_t * w_t).sum()
            loss.backward()
            return loss

        optimiser.step(closure)
        weights[:, varying] = w_t.detach().cpu().numpy()
        bias[varying] = b_t.detach().cpu().numpy()

    return LinearProbe(mean, scale, weights, bias, constant_probability)


def predict_probabilities(probe: LinearProbe, features: np.ndarray) -> np.ndarray:
    """Class probabilities of a fitted probe.

    Parameters
    ----------
    probe : LinearProbe
    features : (n, D) float

    Returns
    -------
    (n, C) float64 in (0, 1): independent per-class probabilities (rows need not sum to 1).
    """
    x = (np.asarray(features, dtype=np.float32) - probe.mean) / probe.scale
    logits = (x @ probe.weights + probe.bias).astype(np.float64)
    probabilities = 1.0 / (1.0 + np.exp(-logits))
    constant = ~np.isnan(probe.constant_probability)
    probabilities[:, constant] = probe.constant_probability[constant]
    return probabilities


def out_of_fold_probabilities(
    features: np.ndarray,
    labels: np.ndarray,
    n_folds: int = 5,
    seed: int = 0,
    weight_decay: float = DEFAULT_WEIGHT_DECAY,
    max_iter: int = DEFAULT_MAX_ITER,
    device: str | None = None,
) -> np.ndarray:
    """Class probabilities for every row from a probe that never saw that row's label.

    Parameters
    ----------
    features : (N, D) float
        The audit's features, e.g. ``np.hstack([image, text])`` (each column is standardised
        inside every fold, so the views' scales do not matter).
    labels : (N, C) uint8 multi-hot
        The given (possibly noisy) labels.
    n_folds : int in [2, N]
        Cross-validation folds (:func:`fold_assignment`).
    seed : int
        Seed of the fold assignment (the fit itself is deterministic).
    weight_decay, max_iter, device
        Passed to :func:`fit_linear_probe`.

    Returns
    -------
    (N, C) float64 out-of-fold probabilities: row i's come from the probe fitted on the folds
    other than i's.

    Notes
    -----
    Cost: ``n_folds`` full-batch fits; memory about three copies of ``features`` in float32.
    """
    features = np.asarray(features)
    labels = np.asarray(labels)
    _check_features_labels(features, labels)
    folds = fold_assignment(labels.shape[0], n_folds, seed)
    probabilities = np.empty(labels.shape, dtype=np.float64)
    for fold in range(n_folds):
        held_out = folds == fold
        probe = fit_linear_probe(
            features[~held_out], labels[~held_out], weight_decay, max_iter, device
        )
        probabilities[held_out] = predict_probabilities(probe, features[held_out])
    return probabilities
