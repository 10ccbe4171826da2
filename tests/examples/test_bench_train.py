"""examples/bench_train.py: configurations named on the command line."""

from __future__ import annotations

from examples.bench_train import config_settings
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
