"""Importers of the standard released files, on the real data in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
from conftest import shared_data_path

from auditor.dataset import DataError
from auditor.importers import MIRFLICKR_CLASSES, import_mirflickr25k, import_wikipedia

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def stand_in_xall(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real MIRFlickr image view is not available: a random XAll of the right row count."""
    lall = scipy.io.loadmat(shared_data_path("mirflickr25k", "mirflickr25k-lall.mat"))["LAll"]
    path = tmp_path_factory.mktemp("xall") / "xall.mat"
    rng = np.random.default_rng(0)
    scipy.io.savemat(path, {"XAll": rng.standard_normal((lall.shape[0], 8)).astype(np.float32)})
    return path


def mirflickr(name: str) -> Path:
    return shared_data_path("mirflickr25k", name)


def test_mirflickr_protocol_split_and_classes(stand_in_xall: Path) -> None:
    dataset = import_mirflickr25k(
        mirflickr("mirflickr25k-lall.mat"), mirflickr("mirflickr25k-yall.mat"), stand_in_xall
    )
    assert dataset.n_rows == 20015 and dataset.classes == MIRFLICKR_CLASSES
    assert dataset.split[:2000].tolist() == ["query"] * 2000
    assert (dataset.split[2000:12000] == "train").all()
    assert (dataset.split[12000:] == "database").all()
    assert dataset.text is not None and dataset.text.shape == (20015, 1386)
    assert dataset.image is not None and dataset.image.shape == (20015, 8)
    assert dataset.clean_labels is None
    # docs/commands.md's check of the column order: every 'dog' row is also an 'animals' row.
    dog, animals = MIRFLICKR_CLASSES.index("dog"), MIRFLICKR_CLASSES.index("animals")
    dogs = dataset.labels[:, dog] == 1
    assert dataset.labels[dogs, animals].mean() > 0.99


@pytest.mark.parametrize("rate, noisy_rows", [(0.2, 2000), (0.5, 5000)])
def test_mirflickr_with_the_papers_noise_file(
    stand_in_xall: Path, rate: float, noisy_rows: int
) -> None:
    dataset = import_mirflickr25k(
        mirflickr("mirflickr25k-lall.mat"),
        mirflickr("mirflickr25k-yall.mat"),
        stand_in_xall,
        mirflickr(f"mirflickr25k-lall-noise_{rate}.h5"),
    )
    assert dataset.noisy_rows is not None and dataset.clean_labels is not None
    assert int(dataset.noisy_rows.sum()) == noisy_rows
    assert not dataset.noisy_rows[dataset.split != "train"].any()
    changed = dataset.labels.astype(int) - dataset.clean_labels.astype(int)
    # The files' protocol: one label off and one on per corrupted row.
    assert ((changed == 1).sum(axis=1)[dataset.noisy_rows] == 1).all()
    assert ((changed == -1).sum(axis=1)[dataset.noisy_rows] == 1).all()


def test_mirflickr_rejects_a_noise_file_of_other_labels(
    stand_in_xall: Path, tmp_path: Path
) -> None:
    fake = tmp_path / "noise.h5"
    with h5py.File(fake, "w") as handle:
        handle["result"] = np.eye(24)[np.arange(10000) % 24]
        handle["True"] = np.eye(24)[np.arange(10000) % 24]
    with pytest.raises(DataError, match="differ from LAll") as caught:
        import_mirflickr25k(
            mirflickr("mirflickr25k-lall.mat"),
            mirflickr("mirflickr25k-yall.mat"),
            stand_in_xall,
            fake,
        )
    assert caught.value.file == str(fake)


def test_mirflickr_rejects_image_features_of_another_length(tmp_path: Path) -> None:
    short = tmp_path / "short.mat"
    scipy.io.savemat(short, {"XAll": np.zeros((100, 4), dtype=np.float32)})
    with pytest.raises(DataError, match="100 rows, but LAll has 20015") as caught:
        import_mirflickr25k(
            mirflickr("mirflickr25k-lall.mat"), mirflickr("mirflickr25k-yall.mat"), short
        )
    assert caught.value.column == "XAll"


def test_wikipedia_rows_classes_and_splits() -> None:
    dataset = import_wikipedia(shared_data_path("wikipedia"))
    assert dataset.n_rows == 2866 and dataset.n_classes == 10
    assert dataset.classes[:3] == ("art", "biology", "geography")
    assert int(dataset.train_mask.sum()) == 2173 and int(dataset.query_mask.sum()) == 693
    assert (dataset.labels.sum(axis=1) == 1).all()
    assert dataset.image is not None and dataset.image.shape == (2866, 128)
    assert dataset.text is not None and dataset.text.shape == (2866, 10)
    assert len(set(dataset.ids.tolist())) == 2866
    # Every class is present in both splits.
    assert (dataset.labels[dataset.train_mask].sum(axis=0) > 0).all()
    assert (dataset.labels[dataset.query_mask].sum(axis=0) > 0).all()


def test_wikipedia_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such folder"):
        import_wikipedia(tmp_path / "nowhere")
