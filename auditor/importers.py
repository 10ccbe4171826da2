"""Converters from the standard released benchmark files to the data contract.

- MIRFlickr-25K as preprocessed for the noisy-label cross-modal hashing papers: ``LAll``
  (multi-hot labels), ``YAll`` (tag bag-of-words), ``XAll`` (image features) in .mat files, and
  optionally the papers' noise files (HDF5 keys ``result`` = noisy, ``True`` = clean labels of the
  training rows).
- Wikipedia (Rasiwasia et al. 2010): ``raw_features.mat`` plus the train/test lists and the
  category names.

Each importer returns an :class:`AuditDataset`; the CLI writes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np
import scipy.io

from auditor.dataset import AuditDataset, DataError

MIRFLICKR_CLASSES = (
    "animals", "baby", "bird", "car", "clouds", "dog", "female", "flower", "food", "indoor",
    "lake", "male", "night", "people", "plant_life", "portrait", "river", "sea", "sky",
    "structures", "sunset", "transport", "tree", "water",
)  # fmt: skip
# The papers' protocol: query rows 0..1999, train rows 2000..11999, database rows 12000..end
# (the retrieval database is train ∪ database, i.e. every non-query row).
MIRFLICKR_QUERY_ROWS = 2000
MIRFLICKR_TRAIN_ROWS = 10000


def load_mat_array(path: str | Path, key: str) -> np.ndarray:
    """One array from a MATLAB file, v5 (scipy) or v7.3 (HDF5, stored transposed)."""
    path = Path(path)
    if not path.exists():
        raise DataError("no such file", file=str(path))
    try:
        contents = scipy.io.loadmat(path, variable_names=[key])
        if key not in contents:
            found = [name for name in scipy.io.whosmat(path)]
            raise DataError(
                f"no key {key!r} (it has: {', '.join(n for n, *_ in found)})",
                file=str(path),
                column=key,
            )
        return np.asarray(contents[key])
    except NotImplementedError:
        # MATLAB v7.3 files are HDF5; MATLAB stores them column-major, so transpose.
        with h5py.File(path, "r") as handle:
            if key not in handle:
                raise DataError(
                    f"no key {key!r} (it has: {', '.join(handle.keys())})",
                    file=str(path),
                    column=key,
                ) from None
            return np.asarray(handle[key]).T
    except (ValueError, OSError, TypeError) as error:
        raise DataError(f"not a readable .mat file ({error})", file=str(path)) from error


def load_noise_file(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """The papers' noise file: (noisy, clean) training labels, each (10000, C) uint8."""
    path = Path(path)
    if not path.exists():
        raise DataError("no such file", file=str(path))
    try:
        with h5py.File(path, "r") as handle:
            for key in ("result", "True"):
                if key not in handle:
                    raise DataError(
                        f"no key {key!r} (it has: {', '.join(handle.keys())})",
                        file=str(path),
                        column=key,
                    )
            noisy = np.asarray(handle["result"])
            clean = np.asarray(handle["True"])
    except OSError as error:
        raise DataError(f"not a readable HDF5 file ({error})", file=str(path)) from error
    return _binary(noisy, path, "result"), _binary(clean, path, "True")


def _binary(matrix: np.ndarray, path: str | Path, key: str) -> np.ndarray:
    if not np.isin(matrix, (0, 1)).all():
        row = int(np.flatnonzero(~np.isin(matrix, (0, 1)).all(axis=1))[0])
        raise DataError("labels must be 0/1", file=str(path), column=key, row=row)
    return matrix.astype(np.uint8)


def _features(matrix: np.ndarray, path: str | Path, key: str) -> np.ndarray:
    features = np.asarray(matrix, dtype=np.float32)
    if features.ndim != 2:
        raise DataError(
            f"expected a 2-d matrix, got shape {features.shape}", file=str(path), column=key
        )
    finite = np.isfinite(features).all(axis=1)
    if not finite.all():
        raise DataError(
            "NaN or infinite value", file=str(path), column=key, row=int(np.flatnonzero(~finite)[0])
        )
    return features


def import_mirflickr25k(
    lall: str | Path,
    yall: str | Path,
    xall: str | Path,
    noise: str | Path | None = None,
    *,
    xall_key: str = "XAll",
) -> AuditDataset:
    """MIRFlickr-25K in the papers' protocol.

    Parameters
    ----------
    lall : .mat with ``LAll`` (N, 24) multi-hot labels, columns in MIRFLICKR_CLASSES order.
    yall : .mat with ``YAll`` (N, 1386) tag features (the text view).
    xall : .mat with (N, D) image features (``XAll`` by default, e.g. the 4096-d VGG features).
    noise : optional HDF5 noise file; the train rows then get its noisy labels and
        ``clean_labels`` holds the true ones.
    """
    labels = _binary(load_mat_array(lall, "LAll"), lall, "LAll")
    text = _features(load_mat_array(yall, "YAll"), yall, "YAll")
    image = _features(load_mat_array(xall, xall_key), xall, xall_key)
    n_rows = labels.shape[0]
    if labels.shape[1] != len(MIRFLICKR_CLASSES):
        raise DataError(
            f"expected {len(MIRFLICKR_CLASSES)} label columns, got {labels.shape[1]}",
            file=str(lall),
            column="LAll",
        )
    for matrix, path, key in ((text, yall, "YAll"), (image, xall, xall_key)):
        if matrix.shape[0] != n_rows:
            raise DataError(
                f"{matrix.shape[0]} rows, but LAll has {n_rows}", file=str(path), column=key
            )
    if n_rows <= MIRFLICKR_QUERY_ROWS + MIRFLICKR_TRAIN_ROWS:
        raise DataError(
            f"{n_rows} rows: the protocol needs more than "
            f"{MIRFLICKR_QUERY_ROWS + MIRFLICKR_TRAIN_ROWS}",
            file=str(lall),
            column="LAll",
        )
    empty = labels.sum(axis=1) == 0
    if empty.any():
        raise DataError(
            "row without labels", file=str(lall), column="LAll", row=int(np.flatnonzero(empty)[0])
        )
    split = np.full(n_rows, "database", dtype=object)
    split[:MIRFLICKR_QUERY_ROWS] = "query"
    train = slice(MIRFLICKR_QUERY_ROWS, MIRFLICKR_QUERY_ROWS + MIRFLICKR_TRAIN_ROWS)
    split[train] = "train"

    clean_labels = None
    if noise is not None:
        noisy, true = load_noise_file(noise)
        if noisy.shape != (MIRFLICKR_TRAIN_ROWS, labels.shape[1]) or true.shape != noisy.shape:
            raise DataError(
                f"expected ({MIRFLICKR_TRAIN_ROWS}, {labels.shape[1]}) label matrices, "
                f"got {noisy.shape} and {true.shape}",
                file=str(noise),
            )
        mismatch = (true != labels[train]).any(axis=1)
        if mismatch.any():
            raise DataError(
                "its clean labels ('True') differ from LAll's training rows "
                f"(first at training row {int(np.flatnonzero(mismatch)[0])}): "
                "not the noise file of this LAll",
                file=str(noise),
                column="True",
            )
        empty_noisy = noisy.sum(axis=1) == 0
        if empty_noisy.any():
            raise DataError(
                "noisy row without labels",
                file=str(noise),
                column="result",
                row=int(np.flatnonzero(empty_noisy)[0]),
            )
        clean_labels = labels.copy()
        labels = labels.copy()
        labels[train] = noisy
    return AuditDataset(
        ids=np.arange(n_rows, dtype=np.int64),
        labels=labels,
        classes=MIRFLICKR_CLASSES,
        image=image,
        text=text,
        split=split,
        clean_labels=clean_labels,
        source=str(lall),
    )


def _read_pair_list(path: Path, n_classes: int) -> tuple[list[str], np.ndarray]:
    """Rows of ``text_id<TAB>image_id<TAB>class (1-based)``: (text ids, 0-based classes)."""
    if not path.exists():
        raise DataError("no such file", file=str(path))
    text_ids: list[str] = []
    classes: list[int] = []
    for row, line in enumerate(path.read_text().splitlines()):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 3 or not fields[2].strip().isdigit():
            raise DataError("expected text_id<TAB>image_id<TAB>class", file=str(path), row=row)
        class_number = int(fields[2])
        if not 1 <= class_number <= n_classes:
            raise DataError(
                f"class {class_number} is outside 1..{n_classes}", file=str(path), row=row
            )
        text_ids.append(fields[0].strip())
        classes.append(class_number - 1)
    return text_ids, np.array(classes, dtype=np.int64)


def import_wikipedia(folder: str | Path) -> AuditDataset:
    """The Wikipedia dataset: SIFT-BoVW image (128-d) and LDA text (10-d) views, 10 classes.

    Train pairs (2,173) become ``train`` rows, test pairs (693) ``query`` rows; the retrieval
    database is then the train rows, as in the papers. Ids are the text ids of the lists.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("no such folder", file=str(folder))
    categories_path = folder / "categories.list"
    if not categories_path.exists():
        raise DataError("no such file", file=str(categories_path))
    class_names = tuple(
        line.strip() for line in categories_path.read_text().splitlines() if line.strip()
    )
    features = folder / "raw_features.mat"
    parts = []
    for list_name, suffix, split_name in (
        ("trainset_txt_img_cat.list", "tr", "train"),
        ("testset_txt_img_cat.list", "te", "query"),
    ):
        ids, classes = _read_pair_list(folder / list_name, len(class_names))
        image = _features(load_mat_array(features, f"I_{suffix}"), features, f"I_{suffix}")
        text = _features(load_mat_array(features, f"T_{suffix}"), features, f"T_{suffix}")
        for matrix, key in ((image, f"I_{suffix}"), (text, f"T_{suffix}")):
            if matrix.shape[0] != len(ids):
                raise DataError(
                    f"{matrix.shape[0]} rows, but {list_name} has {len(ids)}",
                    file=str(features),
                    column=key,
                )
        parts.append((ids, classes, image, text, split_name))
    ids_all: list[str] = [text_id for part in parts for text_id in part[0]]
    labels = np.zeros((len(ids_all), len(class_names)), dtype=np.uint8)
    labels[np.arange(len(ids_all)), np.concatenate([part[1] for part in parts])] = 1
    return AuditDataset(
        ids=np.array(ids_all, dtype=object),
        labels=labels,
        classes=class_names,
        image=np.concatenate([part[2] for part in parts]),
        text=np.concatenate([part[3] for part in parts]),
        split=np.array([part[4] for part in parts for _ in part[0]], dtype=object),
        source=str(folder),
    )


def describe_splits(split: Sequence[str] | np.ndarray) -> str:
    """'train 10000, query 2000, database 8015' style summary."""
    names, counts = np.unique(np.asarray(split, dtype=object), return_counts=True)
    return ", ".join(f"{name} {count}" for name, count in zip(names, counts, strict=True))
