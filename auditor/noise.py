"""Known label noise for benchmarks: the protocols of docs/methods.md ("Noise protocols") and two of
real tag data's directions: ``spurious`` (labels added) and ``mixed`` (some rows missing labels,
the others with spurious ones).

Every protocol is a pure function ``protocol(labels, mask, rate, rng) -> noisy_labels`` on a
(N, C) uint8 multi-hot matrix. Only rows where ``mask`` is True (the train rows) may change; the
input is never modified. :func:`inject_noise` dispatches by name through :data:`PROTOCOLS`,
seeds the generator and returns the noisy labels with their ground truth (:class:`NoiseResult`).

Row counts: the row-choosing protocols (``pairflip``, ``symmetric``, ``missing``, ``spurious``,
``mixed``) corrupt ``floor(rate · n_masked)`` rows, computed with a tolerance for floating error
so that ``0.29 · 100`` gives 29 rows (plain ``int(0.29 * 100)`` is 28); see :func:`rows_for_rate`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

NoiseProtocol = Callable[[np.ndarray, np.ndarray, float, np.random.Generator], np.ndarray]

MAX_CLASSFLIP_FLIPS_PER_ROW = 3
"""cleanlab's multi-label benchmark changes at most this many cells per row."""

CLASSFLIP_RATE_SPREAD = 0.25
"""Per-class P(1 → 0) is uniform in [(1 − s)·rate, (1 + s)·rate] with this s (clipped to 1):
classes differ, and the mean over classes stays ``rate``."""


# ---------------------------------------------------------------------------- shared helpers
def rows_for_rate(rate: float, n_rows: int) -> int:
    """Number of rows to corrupt: floor(rate · n_rows), immune to floating error (0.29·100 → 29)."""
    return int(np.floor(rate * n_rows + 1e-9))


def _check_inputs(labels: np.ndarray, mask: np.ndarray, rate: float) -> None:
    """Validate the common arguments once; raise ValueError with what is wrong."""
    if not isinstance(labels, np.ndarray) or labels.ndim != 2:
        raise ValueError(f"labels must be a 2-D (N, C) array, got shape {np.shape(labels)}")
    if labels.size and not np.isin(labels, (0, 1)).all():
        raise ValueError("labels must be multi-hot: every entry 0 or 1")
    if not isinstance(mask, np.ndarray) or mask.shape != (labels.shape[0],):
        raise ValueError(
            f"mask must have shape ({labels.shape[0]},) to match labels {labels.shape}, "
            f"got {np.shape(mask)}"
        )
    if mask.dtype != np.bool_:
        raise ValueError(f"mask must be a boolean array, got dtype {mask.dtype}")
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)):
        raise ValueError(f"rate must be a number in [0, 1], got {rate!r}")
    if not 0.0 <= float(rate) <= 1.0:  # also refuses nan
        raise ValueError(f"rate must be in [0, 1], got {rate}")


def _choose_rows(
    eligible: np.ndarray,
    mask: np.ndarray,
    rate: float,
    rng: np.random.Generator,
    protocol: str,
    requirement: str,
) -> np.ndarray:
    """Indices of rows_for_rate(rate, n_masked) rows drawn uniformly from the eligible ones."""
    n_masked = int(mask.sum())
    n_wanted = rows_for_rate(rate, n_masked)
    candidates = np.flatnonzero(eligible)
    if n_wanted > candidates.size:
        raise ValueError(
            f"{protocol} at rate {rate} needs {n_wanted} of the {n_masked} train rows, but only "
            f"{candidates.size} have {requirement} (at most rate "
            f"{candidates.size / n_masked if n_masked else 0.0:.4f} is possible)"
        )
    return np.sort(rng.choice(candidates, size=n_wanted, replace=False))


def _pick_one_per_row(allowed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n,) column index chosen uniformly among each row's True cells (every row needs one)."""
    keys = np.where(allowed, rng.random(allowed.shape), -1.0)
    return np.argmax(keys, axis=1)


# ---------------------------------------------------------------------------- protocols
def pairflip(
    labels: np.ndarray, mask: np.ndarray, rate: float, rng: np.random.Generator
) -> np.ndarray:
    """The papers' multi-label protocol: in each chosen row, one present label off, one absent on.

    Parameters
    ----------
    labels : (N, C) uint8 multi-hot
    mask : (N,) bool
        Rows that may change (the train rows).
    rate : float in [0, 1]
        Exactly ``rows_for_rate(rate, mask.sum())`` rows are flipped, drawn uniformly among the
        masked rows with at least one label and at least one absent class.
    rng : numpy Generator

    Returns
    -------
    (N, C) uint8: the noisy labels; every flipped row keeps its number of labels.

    Raises
    ------
    ValueError
        If fewer masked rows can be flipped than the rate asks for (the message says how many).
    """
    _check_inputs(labels, mask, rate)
    n_labels = labels.sum(axis=1)
    eligible = mask & (n_labels >= 1) & (n_labels < labels.shape[1])
    rows = _choose_rows(
        eligible, mask, rate, rng, "pairflip", "a label to remove and an absent class to add"
    )
    noisy = labels.astype(np.uint8, copy=True)
    present = labels[rows].astype(bool)
    switch_off = _pick_one_per_row(present, rng)
    switch_on = _pick_one_per_row(~present, rng)
    noisy[rows, switch_off] = 0
    noisy[rows, switch_on] = 1
    return noisy


def symmetric(
    labels: np.ndarray, mask: np.ndarray, rate: float, rng: np.random.Generator
) -> np.ndarray:
    """RSHNL's protocol: each chosen row gets as many distinct classes, drawn uniformly.

    For single-label data this is a uniform class, which may equal the true one, so the
    realised noise rate is below ``rate`` (about ``rate · (C − 1) / C``); it is reported, not
    forced.

    Parameters
    ----------
    labels : (N, C) uint8 multi-hot
    mask : (N,) bool
        Rows that may change (the train rows).
    rate : float in [0, 1]
        ``rows_for_rate(rate, mask.sum())`` rows are redrawn, chosen uniformly among the masked
        rows with at least one label.
    rng : numpy Generator

    Returns
    -------
    (N, C) uint8: the noisy labels; every row keeps its number of labels.

    Raises
    ------
    ValueError
        If fewer masked rows have labels than the rate asks for.
    """
    _check_inputs(labels, mask, rate)
    n_labels = labels.sum(axis=1)
    rows = _choose_rows(mask & (n_labels >= 1), mask, rate, rng, "symmetric", "a label")
    noisy = labels.astype(np.uint8, copy=True)
    n_classes = labels.shape[1]
    # The first k classes of a uniform random permutation are k distinct uniform classes.
    rank = np.argsort(rng.random((rows.size, n_classes)), axis=1).argsort(axis=1)
    noisy[rows] = (rank < n_labels[rows, None]).astype(np.uint8)
    return noisy


def class_flip_probabilities(
    labels: np.ndarray, rate: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Per-class 2×2 flip matrices, as their two off-diagonal entries.

    Parameters
    ----------
    labels : (n, C) uint8 multi-hot
        The rows that may change (their class frequencies set the priors).
    rate : float in [0, 1]
        Typical probability that a present label is switched off.
    rng : numpy Generator

    Returns
    -------
    p_off : (C,) float64
        P(1 → 0) per class, uniform within ±:data:`CLASSFLIP_RATE_SPREAD` of ``rate``
        (relative), clipped to 1.
    p_on : (C,) float64
        P(0 → 1) per class, ``p_off · π / (1 − π)`` with π the class prior, so that the expected
        class frequency is unchanged (clipped to 1 for classes present in over half the rows).
    """
    n_classes = labels.shape[1]
    spread = rng.uniform(1.0 - CLASSFLIP_RATE_SPREAD, 1.0 + CLASSFLIP_RATE_SPREAD, size=n_classes)
    p_off = np.clip(rate * spread, 0.0, 1.0)
    prior = labels.mean(axis=0) if labels.shape[0] else np.zeros(n_classes)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_on = np.where(prior < 1.0, p_off * prior / (1.0 - prior), 0.0)
    return p_off, np.clip(p_on, 0.0, 1.0)


def classflip(
    labels: np.ndarray, mask: np.ndarray, rate: float, rng: np.random.Generator
) -> np.ndarray:
    """cleanlab's multi-label benchmark noise: independent per-class flips, at most 3 per row.

    Each masked cell flips with its class's probability (:func:`class_flip_probabilities`:
    P(1 → 0) around ``rate``, P(0 → 1) set from the class prior so class frequencies are roughly
    kept). A row drawing more than :data:`MAX_CLASSFLIP_FLIPS_PER_ROW` flips keeps that many,
    chosen at random; a row that would end with no label gets one of its removals undone.

    Parameters
    ----------
    labels : (N, C) uint8 multi-hot
    mask : (N,) bool
        Rows that may change (the train rows).
    rate : float in [0, 1]
        Typical per-class probability that a present label is switched off.
    rng : numpy Generator

    Returns
    -------
    (N, C) uint8: the noisy labels; no masked row that had a label ends empty.
    """
    _check_inputs(labels, mask, rate)
    rows = np.flatnonzero(mask)
    clean = labels[rows].astype(bool)
    p_off, p_on = class_flip_probabilities(labels[rows], rate, rng)
    flip_probability = np.where(clean, p_off[None, :], p_on[None, :])
    flips = rng.random(clean.shape) < flip_probability

    # Keep at most MAX flips per row: the MAX flips with the smallest random keys survive.
    keys = np.where(flips, rng.random(flips.shape), np.inf)
    rank = np.argsort(keys, axis=1).argsort(axis=1)
    flips &= rank < MAX_CLASSFLIP_FLIPS_PER_ROW

    # Never leave a row empty: undo one of its removals, chosen at random.
    noisy_rows = clean ^ flips
    emptied = ~noisy_rows.any(axis=1) & clean.any(axis=1)
    if emptied.any():
        removed = flips[emptied] & clean[emptied]
        restore = _pick_one_per_row(removed, rng)
        flips[np.flatnonzero(emptied), restore] = False
        noisy_rows = clean ^ flips

    noisy = labels.astype(np.uint8, copy=True)
    noisy[rows] = noisy_rows.astype(np.uint8)
    return noisy


def missing(
    labels: np.ndarray, mask: np.ndarray, rate: float, rng: np.random.Generator
) -> np.ndarray:
    """Missing labels, the commonest real error: drop one or two present labels, keep at least one.

    Parameters
    ----------
    labels : (N, C) uint8 multi-hot
    mask : (N,) bool
        Rows that may change (the train rows).
    rate : float in [0, 1]
        ``rows_for_rate(rate, mask.sum())`` rows lose labels, chosen uniformly among the masked
        rows with at least two labels. Each loses one or two (equally likely), but a row with two
        labels loses only one.
    rng : numpy Generator

    Returns
    -------
    (N, C) uint8: the noisy labels (only removals).

    Raises
    ------
    ValueError
        If fewer masked rows have two or more labels than the rate asks for.
    """
    _check_inputs(labels, mask, rate)
    n_labels = labels.sum(axis=1)
    rows = _choose_rows(mask & (n_labels >= 2), mask, rate, rng, "missing", "two or more labels")
    noisy = labels.astype(np.uint8, copy=True)
    noisy[rows] = _drop_labels(labels[rows].astype(bool), rng).astype(np.uint8)
    return noisy


def _drop_labels(present: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n, C) bool rows with two or more labels -> the rows with one or two (equally likely)
    labels switched off, uniformly, never the last one."""
    n_drop = np.minimum(rng.integers(1, 3, size=present.shape[0]), present.sum(axis=1) - 1)
    keys = np.where(present, rng.random(present.shape), np.inf)
    rank = np.argsort(keys, axis=1).argsort(axis=1)
    return present & ~(rank < n_drop[:, None])


def _add_labels(present: np.ndarray, frequency: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n, C) bool rows with an absent class -> the rows with one or two (equally likely) absent
    classes switched on, drawn without replacement with probability proportional to the class
    ``frequency`` (C,) (Gumbel top-k: the k largest ``log f + Gumbel`` keys)."""
    n_add = np.minimum(rng.integers(1, 3, size=present.shape[0]), (~present).sum(axis=1))
    weight = np.log(np.maximum(np.asarray(frequency, dtype=np.float64), 1e-12))
    keys = np.where(~present, weight[None, :] + rng.gumbel(size=present.shape), -np.inf)
    rank = np.argsort(-keys, axis=1).argsort(axis=1)
    return present | (~present & (rank < n_add[:, None]))


def spurious(
    labels: np.ndarray, mask: np.ndarray, rate: float, rng: np.random.Generator
) -> np.ndarray:
    """Spurious labels (a tag from the wrong photo, an over-eager annotator): add one or two.

    ``labels``, ``mask`` and ``rng`` as in :func:`missing`. ``rows_for_rate(rate, mask.sum())``
    rows gain labels, chosen uniformly among the masked rows with at least one absent class.
    Each gains one or two (equally likely; one when a single class is absent), drawn among its
    absent classes with probability proportional to the class's frequency in the masked rows
    (common tags are added more often, as they are in real data). Returns the (N, C) uint8
    noisy labels (only additions); raises ValueError if fewer masked rows have an absent class
    than the rate asks for.
    """
    _check_inputs(labels, mask, rate)
    n_absent = labels.shape[1] - labels.sum(axis=1)
    rows = _choose_rows(mask & (n_absent >= 1), mask, rate, rng, "spurious", "an absent class")
    frequency = _class_frequency(labels, mask)
    noisy = labels.astype(np.uint8, copy=True)
    noisy[rows] = _add_labels(labels[rows].astype(bool), frequency, rng).astype(np.uint8)
    return noisy


def _class_frequency(labels: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(C,) share of masked rows carrying each class, with a floor so every class can be drawn."""
    counts = labels[mask].sum(axis=0).astype(np.float64) + 1.0
    return np.asarray(counts / counts.sum())


DEFAULT_MISSING_SHARE = 0.7
"""``mixed``: share of the noisy rows that miss labels (the rest get spurious ones)."""


def mixed(
    labels: np.ndarray,
    mask: np.ndarray,
    rate: float,
    rng: np.random.Generator,
    missing_share: float = DEFAULT_MISSING_SHARE,
) -> np.ndarray:
    """Both directions of real tag noise: some noisy rows miss labels, the others gain some.

    ``labels``, ``mask`` and ``rng`` as in :func:`missing`. ``rows_for_rate(rate, mask.sum())``
    rows change, chosen uniformly among the masked rows with at least two labels and one absent
    class; ``round(missing_share · n)`` of them (a uniform subset; ``missing_share`` in [0, 1])
    lose one or two labels as in :func:`missing`, the rest gain one or two as in
    :func:`spurious`. Returns the (N, C) uint8 noisy labels.
    """
    _check_inputs(labels, mask, rate)
    if not 0.0 <= float(missing_share) <= 1.0:
        raise ValueError(f"missing_share must be in [0, 1], got {missing_share}")
    n_labels = labels.sum(axis=1)
    eligible = mask & (n_labels >= 2) & (n_labels < labels.shape[1])
    rows = _choose_rows(
        eligible, mask, rate, rng, "mixed", "two or more labels and an absent class"
    )
    rows = rng.permutation(rows)
    n_missing = int(np.floor(missing_share * rows.size + 0.5))
    losing, gaining = np.sort(rows[:n_missing]), np.sort(rows[n_missing:])
    noisy = labels.astype(np.uint8, copy=True)
    noisy[losing] = _drop_labels(labels[losing].astype(bool), rng).astype(np.uint8)
    frequency = _class_frequency(labels, mask)
    noisy[gaining] = _add_labels(labels[gaining].astype(bool), frequency, rng).astype(np.uint8)
    return noisy


PROTOCOLS: dict[str, NoiseProtocol] = {
    "pairflip": pairflip,
    "symmetric": symmetric,
    "classflip": classflip,
    "missing": missing,
    "spurious": spurious,
    "mixed": mixed,
}
"""Noise protocols by name, in the order the CLI lists them."""


# ---------------------------------------------------------------------------- dispatch
@dataclass(frozen=True, eq=False)
class NoiseResult:
    """Noisy labels with their ground truth.

    Attributes
    ----------
    noisy_labels : (N, C) uint8
        Labels after injection.
    clean_labels : (N, C) uint8
        Labels before injection (a copy of the input).
    noisy_rows : (N,) bool
        Rows where any cell changed.
    noisy_cells : (N, C) bool
        Cells that changed.
    realised_row_rate : float
        Changed rows / masked rows.
    realised_cell_rate : float
        Changed cells / masked cells (masked rows × C).
    protocol : str
    rate : float
    seed : int
    """

    noisy_labels: np.ndarray
    clean_labels: np.ndarray
    noisy_rows: np.ndarray
    noisy_cells: np.ndarray
    realised_row_rate: float
    realised_cell_rate: float
    protocol: str
    rate: float
    seed: int

    @property
    def missing_cells(self) -> np.ndarray:
        """(N, C) bool: true labels the noise switched off (missing in the given labels)."""
        return np.asarray(self.noisy_cells & self.clean_labels.astype(bool))

    @property
    def spurious_cells(self) -> np.ndarray:
        """(N, C) bool: labels the noise switched on (spurious in the given labels)."""
        return np.asarray(self.noisy_cells & self.noisy_labels.astype(bool))


def noise_truth(noisy: np.ndarray, clean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ground truth of injected noise.

    Parameters
    ----------
    noisy, clean : (N, C) multi-hot, same shape

    Returns
    -------
    rows : (N,) bool
        True where any label of the row differs.
    cells : (N, C) bool
        True where the label differs.
    """
    if noisy.shape != clean.shape:
        raise ValueError(f"noisy and clean labels differ in shape: {noisy.shape} vs {clean.shape}")
    cells = np.asarray(noisy != clean)
    return np.asarray(cells.any(axis=1)), cells


def inject_noise(
    labels: np.ndarray,
    mask: np.ndarray,
    protocol: str,
    rate: float,
    seed: int,
    missing_share: float = DEFAULT_MISSING_SHARE,
) -> NoiseResult:
    """Corrupt the masked rows of ``labels`` with a named protocol, reproducibly.

    Parameters
    ----------
    labels : (N, C) multi-hot (uint8, bool or integer 0/1)
    mask : (N,) bool
        Rows that may change (the train rows); must select at least one row.
    protocol : str
        A key of :data:`PROTOCOLS`.
    rate : float in [0, 1]
        Share of masked rows to corrupt (``classflip``: per-class flip probability of a
        present label).
    seed : int
        Seed of the ``np.random.Generator``; the same inputs and seed give the same noise.
    missing_share : float in [0, 1]
        ``mixed`` only: share of the noisy rows that miss labels (the rest gain spurious ones).

    Returns
    -------
    NoiseResult
    """
    if protocol not in PROTOCOLS:
        raise ValueError(
            f"unknown noise protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}"
        )
    labels = np.asarray(labels)
    mask = np.asarray(mask)
    _check_inputs(labels, mask, rate)
    n_masked = int(mask.sum())
    if n_masked == 0:
        raise ValueError("the mask selects no rows: there is nothing to corrupt")
    clean = labels.astype(np.uint8, copy=True)
    rng = np.random.default_rng(seed)
    if protocol == "mixed":
        noisy = mixed(clean, mask, float(rate), rng, missing_share=missing_share)
    else:
        noisy = PROTOCOLS[protocol](clean, mask, float(rate), rng)
    rows, cells = noise_truth(noisy, clean)
    return NoiseResult(
        noisy_labels=noisy,
        clean_labels=clean,
        noisy_rows=rows,
        noisy_cells=cells,
        realised_row_rate=float(rows.sum() / n_masked),
        realised_cell_rate=float(cells.sum() / (n_masked * labels.shape[1])),
        protocol=protocol,
        rate=float(rate),
        seed=seed,
    )
