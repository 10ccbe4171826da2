"""What every hashing method shares: its settings base class and the method interface.

A method is an ``nn.Module`` holding the two hash towers plus its own parameters (prototypes,
classifier heads, centres), which it creates in ``build_method_parts(generator)`` right after
the towers. The shared training loop (``hashing.hasher.train``) drives it through
four hooks:

1. ``start_training(labels)`` - once, with all (N, C) training labels, to set per-sample state;
2. ``batch_loss(rows, h_image, h_text, labels, epoch)`` - the loss on one mini-batch;
3. ``epoch_signals(epoch, h_image, h_text, labels)`` - after each epoch, on the codes of all
   training rows (no gradient): the per-sample signals of that epoch, and any state the next
   epoch needs (NRCH's kept samples, SCBCH's reliabilities);
4. ``label_evidence(h_image, h_text, labels)`` and ``final_signals(history)`` - at the end.

Adding a method: subclass ``HashMethod`` (and ``HashSettings``) in one module and register it in
``hashing.methods.METHODS``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import Tensor, nn

from hashing.networks import HashTower, image_tower, text_tower

OptimizerName = Literal["adam", "rmsprop"]
EpochRecord = dict[str, Any]
BatchLoss = tuple[Tensor, dict[str, Tensor]]
"""``batch_loss``'s result: the scalar loss and its named scalar terms."""
EpochSignals = tuple[dict[str, np.ndarray], dict[str, float]]
"""``epoch_signals``'s result: per-sample (N,) signals by name and scalar logs."""


@dataclass(frozen=True)
class HashSettings:
    """Settings every method has. Subclasses override the defaults with their own.

    Attributes
    ----------
    epochs : training epochs.
    batch_size : rows per mini-batch.
    lr, weight_decay : optimiser step size and L2 penalty.
    optimizer : ``"adam"`` or ``"rmsprop"``.
    image_hidden, text_hidden : hidden widths of the towers (papers: 4096-8192; 1024 keeps an
        epoch of 10k rows near a second on a 2-core CPU).
    signal_average_epochs : signals documented as averaged (``rshnl_hardness``) are averaged over
        this many last epochs.
    eval_batch_size : rows per forward pass when encoding all rows (no gradient).
    standardize_inputs : z-score every input feature with the training rows' mean and standard
        deviation (stored with the model and applied when encoding new rows). Features such as
        normalised histograms (Wikipedia's SIFT words, mean 0.008) otherwise leave the towers
        nearly constant at initialisation and training stalls.
    holdout_fraction : the stopping rule. 0 (default): train on every row and keep the last
        epoch. f in (0, 0.5]: a seeded slice of that share of the training rows is left out of
        the mini-batches; after every epoch each of those rows queries the others across the
        views (average precision, relevance from their NOISY labels), and the latest epoch
        within two standard errors of the best is picked (``hashing.hasher.EpochSelection``;
        what the model then ends as: ``holdout_refit``). It needs no truth: it sees
        only the training rows and their given labels. The held-out rows still get per-sample
        signals (every row's codes go through the per-epoch signal pass), so they are not fully
        unseen: SCBCH's neighbour vote counts their labels when it weighs the trained rows.
        Off by default here and for ``plain``; the robust methods hold out 10 % from 5,000
        training rows (``RobustHashSettings``).
    holdout_refit : with the stopping rule, what the model ends as. True (default): once the
        slice has picked epoch E, a fresh model from the same seed is trained on EVERY
        training row for E epochs (bit for bit the first E epochs of a run without the rule),
        and that model (its weights, signals and history) is the result; the selection costs
        up to one more run, and no row is lost to it. False: the model keeps the selected
        epoch's weights of the run that held the slice out. On the MIRFlickr stand-in (three
        seeds) the refit gained +0.001 to +0.012 over the slice's own model in every cell
        (docs/benchmarks.md, "Issue 15, twelfth session").
    holdout_min_rows : the stopping rule applies only when the slice would hold at least this
        many rows (``round(holdout_fraction * N)``); on fewer it is off and training keeps the
        last epoch of every row. A slice of a few hundred rows scores each epoch too noisily to
        pick by (Wikipedia's 200 rows: docs/benchmarks.md, "Issue 15, continued"). 0 (default):
        any slice of at least 2 rows.
    weight_average : parameter averaging. 0 (default): off, the trained weights are the live
        ones. d in (0, 1): an exponential moving average of the parameters with decay d per
        optimiser step (bias-corrected, ``hashing.averaging.WeightAverage``; about 1 / (1 - d)
        steps, 70 steps an epoch at 10,000 rows and batch 128) is what the per-epoch signal
        pass and held-out score read and what the model ends with; training steps the live
        weights. Off by default for every method (docs/benchmarks.md, "Issue 15, eighth
        session"): at 0.999 it lifted every hasher's last epoch on the MIRFlickr stand-in,
        where training peaks early and then fits the noise (seed 0: RSHNL +0.005 to +0.009,
        SCBCH +0.016 to +0.020, NRCH +0.006 to +0.011), but the average lags wherever
        training still improves at its end: text->image on Wikipedia fell by 0.04-0.13 (RSHNL,
        SCBCH; 16 steps an epoch there, so 0.999 averages nearly the whole run) and RSHNL lost
        0.02 on the synthetic data. NRCH at 0.999 over three seeds: +0.006 / +0.007 and
        +0.007 / +0.009 on the MIRFlickr stand-in, -0.006 on the synthetic data (image->text,
        50 %) and on Wikipedia (text->image, 50 %). SCBCH at 0.99, three seeds: +0.003 to +0.008
        in all twelve cells; SCBCH's default is now the same average counted in epochs
        (``weight_average_epochs``).
    weight_average_epochs : parameter averaging with its horizon counted in epochs. 0 (default):
        off. h > 0: the same average, its per-step decay set from the run's steps an epoch as
        1 - 1 / (h * steps) (``hashing.averaging.decay_for_horizon``), so the horizon means the
        same on small data as on large; setting both this and ``weight_average`` is an error.
        SCBCH's default is 5 (``SCBCHSettings``); at 5 RSHNL lost 0.03 text->image on Wikipedia
        and NRCH moved by -0.002 to +0.007 (docs/benchmarks.md "Issue 15, ninth session").
    """

    epochs: int = 30
    batch_size: int = 128
    lr: float = 1e-4
    weight_decay: float = 1e-5
    optimizer: OptimizerName = "adam"
    image_hidden: int = 1024
    text_hidden: int = 1024
    signal_average_epochs: int = 5
    eval_batch_size: int = 4096
    standardize_inputs: bool = True
    holdout_fraction: float = 0.0
    holdout_refit: bool = True
    holdout_min_rows: int = 0
    weight_average: float = 0.0
    weight_average_epochs: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict of every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> HashSettings:
        """Build from ``to_dict`` output (or a subset of fields); unknown keys are an error."""
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields: {', '.join(unknown)}")
        return cls(**values)

    def validate(self) -> None:
        """Raise ValueError on settings no training run could use."""
        if self.epochs < 1:
            raise ValueError("epochs must be >= 1")
        if self.batch_size < 2:
            raise ValueError("batch_size must be >= 2 (the losses compare rows within a batch)")
        if self.lr <= 0 or self.weight_decay < 0:
            raise ValueError("lr must be > 0 and weight_decay >= 0")
        if self.optimizer not in ("adam", "rmsprop"):
            raise ValueError(f"optimizer must be 'adam' or 'rmsprop', not {self.optimizer!r}")
        if self.image_hidden < 1 or self.text_hidden < 1 or self.eval_batch_size < 1:
            raise ValueError("hidden sizes and eval_batch_size must be >= 1")
        if self.signal_average_epochs < 1:
            raise ValueError("signal_average_epochs must be >= 1")
        if not 0.0 <= self.holdout_fraction <= 0.5:
            raise ValueError(f"holdout_fraction must be in [0, 0.5], got {self.holdout_fraction}")
        if self.holdout_min_rows < 0:
            raise ValueError(f"holdout_min_rows must be >= 0, got {self.holdout_min_rows}")
        if not 0.0 <= self.weight_average < 1.0:
            raise ValueError(f"weight_average must be in [0, 1), got {self.weight_average}")
        if self.weight_average_epochs < 0:
            raise ValueError(
                f"weight_average_epochs must be >= 0, got {self.weight_average_epochs}"
            )
        if self.weight_average > 0 and self.weight_average_epochs > 0:
            raise ValueError(
                f"set weight_average (a per-step decay) or weight_average_epochs (a horizon in "
                f"epochs), not both (got {self.weight_average} and {self.weight_average_epochs}; "
                f"a method whose default averages needs weight_average_epochs=0 beside "
                f"weight_average)"
            )


@dataclass(frozen=True)
class RobustHashSettings(HashSettings):
    """Settings every noise-robust method (RSHNL, SCBCH, NRCH) shares: the stopping rule on by
    default from 5,000 training rows. 10 % of them (a slice of at least 500) are held out, the
    slice picks the epoch and the model is trained again on every row for that many epochs
    (``holdout_refit``). On fewer rows training keeps the last epoch of every row.

    Chosen on three datasets, three seeds each, 50 / 80 % pairflip, against the last epoch of
    every row (docs/benchmarks.md, "Issue 15, twelfth session"): on the MIRFlickr stand-in,
    where the robust losses peak within a few epochs and then fit the noise, NRCH gains
    -0.009 / +0.025 and +0.007 / +0.033 mAP (image->text / text->image at 50 / 80 %), SCBCH
    +0.001 / +0.013 and +0.004 / +0.011, RSHNL +0.002 / +0.005 and +0.003 / +0.007; on the
    synthetic data (5,000 train rows, still improving at the last epoch) they lose 0.000 to
    0.007; Wikipedia (2,173 train rows) is below the minimum. ``plain`` keeps the rule off: it
    lost there (-0.003 / +0.008, -0.013 / +0.003 on the stand-in, -0.004 to -0.009 on the
    synthetic data).
    """

    holdout_fraction: float = 0.1
    holdout_min_rows: int = 500


Direction = Literal["low_is_suspect", "high_is_suspect"]


@dataclass(frozen=True)
class Signal:
    """A per-sample signal a method returns after training.

    Attributes
    ----------
    name : its key in ``CrossModalHasher.signals_`` (and its column in ``audit.parquet``).
    direction : which end is suspect: ``low_is_suspect`` or ``high_is_suspect``.
    meaning : what it measures, in one line (written into ``summary.json``).
    """

    name: str
    direction: Direction
    meaning: str


class HashMethod(nn.Module):
    """Base of every method: the two towers and the hooks the training loop calls.

    Class attributes a subclass sets:
    ``name`` (registry key), ``settings_class``, ``signals`` (the per-sample signals it returns:
    name, which end is suspect, what it measures; the audit's detector registry reads them from
    here and nowhere else), ``evidence_high_means_present`` (its per-cell evidence: the direction
    of its (N, C) label evidence, ``None`` when it has none), ``needs_epoch_pass`` (whether
    ``epoch_signals`` must run after every epoch).
    """

    name: ClassVar[str] = ""
    settings_class: ClassVar[type[HashSettings]] = HashSettings
    signals: ClassVar[tuple[Signal, ...]] = ()
    evidence_high_means_present: ClassVar[bool | None] = None
    needs_epoch_pass: ClassVar[bool] = True
    image_mean: torch.Tensor
    image_std: torch.Tensor
    text_mean: torch.Tensor
    text_std: torch.Tensor

    def __init__(
        self,
        settings: HashSettings,
        image_dim: int,
        text_dim: int,
        n_classes: int,
        bits: int,
        generator: torch.Generator,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.bits = bits
        self.n_classes = n_classes
        self.image_net: HashTower = image_tower(image_dim, settings.image_hidden, bits, generator)
        self.text_net: HashTower = text_tower(text_dim, settings.text_hidden, bits, generator)
        # input standardisation (identity until fit_input_scaling); saved with the weights
        self.register_buffer("image_mean", torch.zeros(image_dim))
        self.register_buffer("image_std", torch.ones(image_dim))
        self.register_buffer("text_mean", torch.zeros(text_dim))
        self.register_buffer("text_std", torch.ones(text_dim))
        self.build_method_parts(generator)

    def build_method_parts(self, generator: torch.Generator) -> None:
        """Create the method's own parameters (prototypes, heads, centres; initial weights drawn
        from ``generator`` after the towers') and per-sample state. Default: none."""

    def fit_input_scaling(self, image: torch.Tensor, text: torch.Tensor) -> None:
        """Store the per-feature mean and standard deviation of the (N, Di) and (N, Dt)
        training features when ``settings.standardize_inputs`` (constant features keep scale 1)."""
        if not self.settings.standardize_inputs:
            return
        for features, mean, std in (
            (image, self.image_mean, self.image_std),
            (text, self.text_mean, self.text_std),
        ):
            feature_std, feature_mean = torch.std_mean(features.double(), dim=0, correction=0)
            mean.copy_(feature_mean.float())
            std.copy_(
                torch.where(feature_std > 1e-12, feature_std, torch.ones_like(feature_std)).float()
            )

    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        """(B, Di) image features -> (B, K) unit-norm continuous codes."""
        return self.image_net((image - self.image_mean) / self.image_std)

    def encode_text(self, text: torch.Tensor) -> torch.Tensor:
        """(B, Dt) text features -> (B, K) unit-norm continuous codes."""
        return self.text_net((text - self.text_mean) / self.text_std)

    def forward(self, image: torch.Tensor, text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, Di), (B, Dt) features -> (B, K), (B, K) unit-norm continuous codes."""
        return self.encode_image(image), self.encode_text(text)

    # -- hooks ---------------------------------------------------------------------------------
    def parameter_groups(self) -> list[dict[str, Any]]:
        """Optimiser parameter groups. Default: one group at ``settings.lr``; a method whose
        extra parameters need another step size returns several (``{"params": ..., "lr": ...}``)."""
        return [{"params": list(self.parameters())}]

    def start_training(self, labels: torch.Tensor) -> None:
        """Set per-sample state from all (N, C) float training labels. Default: nothing."""

    def batch_loss(
        self, rows: Tensor, h_image: Tensor, h_text: Tensor, labels: Tensor, epoch: int
    ) -> BatchLoss:
        """Loss of one mini-batch.

        ``rows`` (B,) int64 training-row indices (for per-sample state), ``h_image``/``h_text``
        (B, K) codes, ``labels`` (B, C) float noisy labels, ``epoch`` 0-based. Returns the scalar
        loss to minimise and a dict of named scalar loss terms (tensors) for the history.

        The loss must reach every parameter at every step (a zero gradient is fine, see
        ``zero_loss``): data-parallel training (``hashing.runtime.distributed``) all-reduces every
        parameter's gradient and waits for all of them.
        """
        raise NotImplementedError

    def epoch_signals(
        self, epoch: int, h_image: Tensor, h_text: Tensor, labels: Tensor
    ) -> EpochSignals:
        """After epoch ``epoch`` (0-based), on the (N, K) codes of all rows: per-sample signals
        ((N,) arrays named as in ``signal_names``; every name after the last epoch, possibly
        none after earlier ones) and scalar logs. Default: none."""
        return {}, {}

    def label_evidence(self, h_image: Tensor, h_text: Tensor, labels: Tensor) -> np.ndarray | None:
        """(N, C) per-label evidence after training, or None. Default: none."""
        return None

    def final_signals(self, history: list[EpochRecord]) -> dict[str, np.ndarray]:
        """The signals handed to users, from the per-epoch history. Default: the last epoch's."""
        if not history:
            return {}
        return {name: history[-1]["signals"][name] for name in self.signal_names}

    @property
    def signal_names(self) -> tuple[str, ...]:
        """The names of :attr:`signals`, in order."""
        return tuple(signal.name for signal in self.signals)


def float32_array(values: Tensor) -> np.ndarray:
    """A tensor (any device, no gradient) as a float32 numpy array of the same shape."""
    return values.cpu().numpy().astype(np.float32)


def zero_loss(reference: torch.Tensor) -> torch.Tensor:
    """A scalar 0 attached to ``reference``'s graph (for batches where a term has no rows)."""
    return reference.sum() * 0.0
