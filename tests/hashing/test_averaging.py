"""Parameter averaging (``HashSettings.weight_average``): what is averaged, what reads it, and
that off leaves training untouched."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from auditor.dataset import AuditDataset
from auditor.detectors import DetectorInput, HasherDetector
from auditor.inject import with_noise
from auditor.synth import SynthSettings, make_synthetic
from hashing import averaging
from hashing.averaging import decay_for_horizon
from hashing.base import HashSettings
from hashing.hasher import (
    CrossModalHasher,
    averaging_decay,
    batches_per_epoch,
    encode_continuous,
    holdout_query_ap,
    holdout_split,
    shuffled_batches,
    train_method,
)
from hashing.methods import default_settings
from hashing.nrch import NRCHHasher
from hashing.scbch import SCBCHSettings

TINY = {"epochs": 3, "image_hidden": 32, "text_hidden": 32, "batch_size": 64, "lr": 3e-3}


@pytest.fixture(scope="module")
def data() -> AuditDataset:
    clean = make_synthetic(SynthSettings(n_rows=400, n_classes=5, seed=0)).to_dataset()
    return with_noise(clean, "pairflip", 0.4, 0)[0]


def arrays(data: AuditDataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    assert data.image is not None and data.text is not None
    train = data.train_mask
    return data.image[train], data.text[train], data.labels[train]


def fit(data: AuditDataset, settings: HashSettings, seed: int = 0) -> CrossModalHasher:
    return CrossModalHasher(settings, bits=16, seed=seed, device="cpu").fit(*arrays(data))


def weights(hasher: CrossModalHasher) -> dict[str, torch.Tensor]:
    return hasher.state_dict()["weights"]


def test_off_never_builds_an_average(data: AuditDataset, monkeypatch: pytest.MonkeyPatch) -> None:
    """weight_average = 0 runs the loop without the averaging code: the result is that of the
    loop as it was before the setting existed."""

    def refuse(*args: object) -> None:
        raise AssertionError("an average was built with weight_average = 0")

    monkeypatch.setattr(averaging.WeightAverage, "__init__", refuse)
    settings = default_settings("nrch", holdout_fraction=0.2, holdout_min_rows=0, **TINY)
    hasher = fit(data, settings)
    assert hasher.settings.weight_average == 0.0
    assert hasher.selection_history_ is not None and len(hasher.selection_history_) == 3


def test_the_model_ends_with_the_bias_corrected_average_of_every_step(
    data: AuditDataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``plain`` has no per-epoch pass, so averaging does not change its live trajectory: the
    averaged run must end with the float64 moving average of the live weights recorded after
    every optimiser step of the run without averaging, and encode with it."""
    decay = 0.8
    recorded: list[dict[str, torch.Tensor]] = []
    original_step = torch.optim.Adam.step

    def step_and_record(self: torch.optim.Adam, *args: object, **kwargs: object) -> object:
        result = original_step(self, *args, **kwargs)
        parameters = self.param_groups[0]["params"]
        recorded.append({str(i): p.detach().double().clone() for i, p in enumerate(parameters)})
        return result

    monkeypatch.setattr(torch.optim.Adam, "step", step_and_record)
    live = fit(data, default_settings("plain", **TINY))
    monkeypatch.setattr(torch.optim.Adam, "step", original_step)
    image = arrays(data)[0]
    averaged = CrossModalHasher(
        default_settings("plain", weight_average=decay, **TINY), bits=16, seed=0
    )
    seen_by_progress: list[np.ndarray] = []

    def progress(epoch: int, n_epochs: int, logs: dict[str, float]) -> None:
        seen_by_progress.append(averaged.encode_image(image))

    averaged.fit(*arrays(data), progress=progress)

    expected = {name: torch.zeros_like(value) for name, value in recorded[0].items()}
    for step, values in enumerate(recorded, start=1):
        share = (1.0 - decay) / (1.0 - decay**step)
        for name, value in values.items():
            expected[name] += share * (value - expected[name])
    parameters = list(averaged.model_.parameters())
    for name, value in expected.items():
        torch.testing.assert_close(parameters[int(name)].double(), value, atol=1e-6, rtol=1e-5)
    # the average lags the live weights measurably ...
    lag = max(
        float((weights(live)[name] - weights(averaged)[name]).abs().max())
        for name in weights(live)
        if name.endswith("weight")
    )
    assert lag > 1e-3
    # ... and it is what encodes (and what a progress callback reads), not the live weights
    assert not np.array_equal(live.encode_image(image), averaged.encode_image(image))
    np.testing.assert_array_equal(seen_by_progress[-1], averaged.encode_image(image))
    reloaded = CrossModalHasher.from_state_dict(averaged.state_dict())
    np.testing.assert_array_equal(reloaded.encode_image(image), averaged.encode_image(image))


def test_the_stopping_rule_scores_and_keeps_the_averaged_weights(
    data: AuditDataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The held-out slice scores the averaged weights, and the model ends with those of the
    selected epoch (not its live weights): re-scoring the slice gives the recorded score."""
    settings = default_settings(
        "nrch", holdout_fraction=0.2, holdout_min_rows=0, weight_average=0.9, **TINY
    )
    image, text, labels = (torch.from_numpy(a.astype(np.float32)) for a in arrays(data))
    model = NRCHHasher(settings, image.shape[1], text.shape[1], labels.shape[1], 16,
                       torch.Generator().manual_seed(0))  # fmt: skip
    # (averaged, live) parameters each time the loop reads the model: signal pass, held-out score
    reads: list[tuple[list[torch.Tensor], list[torch.Tensor]]] = []
    original = averaging.WeightAverage.applied

    def recording(self: averaging.WeightAverage) -> object:
        live = [parameter.detach().clone() for parameter in self.parameters]
        reads.append(([average.clone() for average in self.averaged], live))
        return original(self)

    monkeypatch.setattr(averaging.WeightAverage, "applied", recording)
    history = train_method(model, image, text, labels, torch.Generator().manual_seed(0))
    assert len(reads) == 2 * len(history)
    _, held = holdout_split(labels.shape[0], 0.2, torch.Generator().manual_seed(0))
    [kept] = [record for record in history if record.get("selected")]
    score = (kept["holdout_map_i2t"] + kept["holdout_map_t2i"]) / 2
    codes = encode_continuous(model, image[held], text[held], 4096)
    assert holdout_query_ap(*codes, labels[held]).mean() == pytest.approx(score, abs=1e-9)
    averaged, live = reads[2 * kept["epoch"] - 1]
    for parameter, average in zip(model.parameters(), averaged, strict=True):
        assert torch.equal(parameter.detach(), average)
    assert any(not torch.equal(a, b) for a, b in zip(averaged, live, strict=True))


def test_same_seed_same_result_and_the_signals_differ_from_off(data: AuditDataset) -> None:
    settings = default_settings("nrch", weight_average=0.9, **TINY)
    first, second = fit(data, settings), fit(data, settings)
    for name, value in weights(first).items():
        assert torch.equal(value, weights(second)[name]), name
    for name, signal in first.signals_.items():
        np.testing.assert_array_equal(signal, second.signals_[name])
    off = fit(data, default_settings("nrch", **TINY))
    posterior = "nrch_clean_posterior"
    assert not np.allclose(first.signals_[posterior], off.signals_[posterior])


@pytest.mark.parametrize("decay", [-0.1, 1.0])
def test_a_decay_outside_0_1_is_refused(decay: float) -> None:
    with pytest.raises(ValueError, match="weight_average"):
        default_settings("rshnl", weight_average=decay).validate()


@pytest.mark.parametrize("n_rows", [2, 63, 64, 65, 127, 128, 129, 193, 360])
def test_an_epoch_steps_every_row_once_in_the_counted_batches(n_rows: int) -> None:
    """A last batch of one row joins the one before it (65 = 64 + 1, 193 = 3 * 64 + 1): every
    row is still trained on exactly once, and the batches counted are the steps taken."""
    batches = shuffled_batches(n_rows, 64, torch.Generator().manual_seed(0))
    assert batches_per_epoch(n_rows, 64) == len(batches)
    assert torch.equal(torch.sort(torch.cat(batches)).values, torch.arange(n_rows))
    assert min(batch.numel() for batch in batches) >= 2


def test_a_horizon_in_epochs_spans_the_same_epochs_on_any_data_size() -> None:
    # 10,000 rows at batch 128 (79 steps) and 2,000 rows (16 steps): five epochs each
    assert decay_for_horizon(5, 79) == pytest.approx(1 - 1 / 395)
    assert decay_for_horizon(5, 16) == pytest.approx(1 - 1 / 80)
    assert decay_for_horizon(0.5, 1) == 0.0  # shorter than a step: the live weights


def test_a_horizon_in_epochs_is_the_per_step_decay_of_this_run(data: AuditDataset) -> None:
    """weight_average_epochs = h trains exactly as weight_average = 1 - 1 / (h * steps)."""
    image, text, labels = arrays(data)
    # one run that holds the slice out (a refit on every row has more steps an epoch)
    held = {"holdout_fraction": 0.2, "holdout_min_rows": 0, "holdout_refit": False}
    settings = default_settings("scbch", weight_average_epochs=2, **held, **TINY)
    train_rows = labels.shape[0] - round(0.2 * labels.shape[0])
    decay = decay_for_horizon(2, batches_per_epoch(train_rows, TINY["batch_size"]))
    assert averaging_decay(settings, train_rows) == decay
    by_epochs = fit(data, settings)
    per_step = default_settings(
        "scbch", weight_average=decay, weight_average_epochs=0, **held, **TINY
    )
    by_step = fit(data, per_step)
    for name, value in weights(by_epochs).items():
        assert torch.equal(value, weights(by_step)[name]), name
    unaveraged = {**held, "weight_average_epochs": 0, **TINY}
    off = fit(data, default_settings("scbch", **unaveraged))
    assert any(not torch.equal(v, weights(off)[k]) for k, v in weights(by_epochs).items())


@pytest.mark.parametrize(
    "fields",
    [{"weight_average_epochs": -1.0}, {"weight_average_epochs": 5.0, "weight_average": 0.99}],
)
def test_a_negative_horizon_or_both_averages_is_refused(fields: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="weight_average"):
        default_settings("rshnl", **fields).validate()


def test_scbch_hands_out_averaged_weights_but_the_scan_reads_the_live_ones(
    data: AuditDataset,
) -> None:
    """SCBCH's default model is the five-epoch average (its paper formulation is not); the
    scan's SCBCH detector trains without averaging, so its signals are those of the live
    weights (the detection matrix was measured that way)."""
    assert default_settings("scbch").weight_average_epochs == 5.0
    assert SCBCHSettings.paper().weight_average_epochs == 0.0
    image, text, labels = arrays(data)
    scan = DetectorInput(image, text, labels.astype(np.uint8), seed=0, device="cpu",
                         epochs={"scbch": 3}, bits=16)  # fmt: skip
    signal = HasherDetector("scbch").run(scan, None).signals["scbch_reliability"]
    live = CrossModalHasher(default_settings("scbch", epochs=3, weight_average_epochs=0), bits=16,
                            seed=0, device="cpu").fit(image, text, labels)  # fmt: skip
    averaged = CrossModalHasher(default_settings("scbch", epochs=3), bits=16, seed=0,
                                device="cpu").fit(image, text, labels)  # fmt: skip
    np.testing.assert_array_equal(signal, live.signals_["scbch_reliability"])
    assert not np.array_equal(signal, averaged.signals_["scbch_reliability"])


def test_a_model_saved_before_the_horizon_existed_loads_with_its_own_averaging(
    data: AuditDataset,
) -> None:
    """Saved SCBCH settings without ``weight_average_epochs`` (the eighth session's, here with a
    per-step decay) describe a model that was not averaged by epochs: they load as such, not
    with today's default of 5 (which would also clash with the per-step decay)."""
    per_step = default_settings("scbch", weight_average=0.9, weight_average_epochs=0, **TINY)
    hasher = fit(data, per_step)
    state = hasher.state_dict()
    del state["settings"]["weight_average_epochs"]
    loaded = CrossModalHasher.from_state_dict(state, device="cpu")
    assert (loaded.settings.weight_average, loaded.settings.weight_average_epochs) == (0.9, 0.0)
    image = arrays(data)[0]
    np.testing.assert_array_equal(loaded.encode_image(image), hasher.encode_image(image))
