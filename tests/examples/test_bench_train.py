"""examples/bench_train.py: configurations named on the command line."""

from __future__ import annotations

import numpy as np

from examples.bench_scan import synthetic
from examples.bench_train import config_settings, training_data
from hashing.nrch import NRCHSettings
from hashing.rshnl import RSHNLSettings


def test_a_setting_after_the_name_overrides_the_default() -> None:
    settings = config_settings("rshnl+weight_average=0.99", {"holdout_fraction": 0.1})
    assert isinstance(settings, RSHNLSettings)
    assert settings.weight_average == 0.99 and settings.holdout_fraction == 0.1
    assert config_settings("rshnl", {}).weight_average == 0.0
    paper = config_settings("nrch-paper+weight_average=0.999+epochs=60", {})
    assert isinstance(paper, NRCHSettings)
    assert (paper.weight_average, paper.epochs, paper.optimizer) == (0.999, 60, "rmsprop")


def test_a_clean_configuration_trains_on_the_clean_labels_with_its_own_settings() -> None:
    data = synthetic("pairflip", 0.5, rows=300)
    assert data.clean_labels is not None and (data.labels != data.clean_labels).any()
    for config in ("oracle", "nrch+shared_pairs=constant@clean"):
        assert np.array_equal(training_data(data, config).labels, data.clean_labels)
    assert training_data(data, "nrch").labels is data.labels
    settings = config_settings("nrch+shared_pairs=constant@clean", {})
    assert isinstance(settings, NRCHSettings) and settings.shared_pairs == "constant"
