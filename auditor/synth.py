"""A deterministic synthetic multi-label image–text dataset: the demo's data, the tests' workhorse.

The generator draws a small random "world" (class popularity, latent scenes, how clearly each
class shows in each view, random nonlinear feature maps) from the seed alone, then draws rows
from it. It is built to look like the real benchmarks in the ways the audit cares about:

- **Imbalanced classes.** Class popularity follows a Zipf law, ``(rank + 1) ** -class_imbalance``,
  with class 0 the most popular; with the defaults the most common class is well over 5 times as
  frequent as the rarest.
- **Label co-occurrence.** Every row belongs to one latent scene; each scene strongly favours a
  few "core" classes, so classes sharing a scene co-occur far above independence (and classes
  of different scenes below it).
- **Label cardinality.** Each row has ``1 + Binomial(max_labels - 1, p)`` distinct labels (mean
  ``mean_labels``): never empty, never more than ``max_labels``. With fewer classes than that,
  both are capped at ``n_classes`` (see :attr:`SynthSettings.effective_max_labels`), so a small
  ``n_classes`` alone is a valid request.
- **Two imperfect views.** The image and text vectors have different dimensions and each sees the
  labels imperfectly: every class is either clear in the image and faint in the text, clear in the
  text and faint in the image, or clear in both; each label of each row is also dropped from each
  view independently (``label_dropout``: the object is occluded, the caption does not mention it;
  :attr:`SyntheticData.shown` records which labels each view kept, and :func:`visible_labels` which
  the content shows at all); label-free nuisance directions (lighting, writing style) and isotropic
  noise are added; then a fixed random nonlinear map (``tanh`` layer and a dense mix) takes each
  view's latent vector to its output dimension. Neither view alone is enough: a linear probe on the
  concatenation beats a probe on either view, while each view alone is well above chance
  (``tests/auditor/test_synth.py`` measures this).

Determinism: the world depends only on the seed and the structure settings, and rows are drawn
in fixed blocks of :data:`BLOCK_ROWS` rows, each from its own seeded stream, so the same
settings always give the same arrays, and a larger ``n_rows`` (same seed and structure) repeats
the smaller dataset's labels and features as its first rows (the split assignment is drawn
over all rows, so it differs). Memory is O(N·(C + Di + Dt)): there is no N×N anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from auditor.dataset import AuditDataset

BLOCK_ROWS = 4096
"""Rows are drawn in blocks of this size, each block from its own child seed stream."""

CONCEPT_NAMES = (
    "people", "sky", "structures", "plant_life", "indoor", "clouds", "female", "male", "tree",
    "water", "night", "portrait", "flower", "sea", "transport", "car", "animals", "food",
    "sunset", "dog", "bird", "lake", "river", "baby", "beach", "mountain", "snow", "road",
    "building", "boat", "horse", "cat", "grass", "street", "city", "garden", "bridge", "window",
    "reflection", "rain", "sports", "music", "crowd", "desert", "forest", "toy", "vehicle",
    "airplane",
)  # fmt: skip
"""Readable concept names, most popular first; classes past this list get numbered names."""

# How strongly each row's latent vector drives the tanh layer: large enough that the map is
# clearly nonlinear, small enough that tanh does not saturate and erase the labels.
_MAP_GAIN = 0.8

VIEW_PROFILES = ("image", "text", "both")
"""Where a class is clear: only in the image, only in the text, or in both views."""


@dataclass(frozen=True)
class SynthSettings:
    """Settings of :func:`make_synthetic`; every default is the one ``audit synth`` uses.

    Attributes
    ----------
    n_rows : int
        Number of rows N (default 10,000).
    n_classes : int
        Number of classes C (default 24, as MIRFlickr-25K).
    image_dim, text_dim : int
        Dimensions Di, Dt of the image and text vectors (defaults 256 and 128).
    max_labels : int
        Most labels a row can have (default 6; capped at ``n_classes``); every row has at least
        one.
    mean_labels : float
        Mean number of labels per row, in [1, max_labels] (default 2.5; capped at
        ``n_classes``).
    query_fraction : float
        Share of rows in the ``query`` split (default 0.1).
    train_fraction : float
        Share of rows in the ``train`` split (default 0.5); the rest is ``database``.
    seed : int
        Seed of everything random (default 0).
    n_scenes : int
        Number of latent scenes (default 12); each row belongs to one.
    scene_core_size : int
        Classes each scene favours (default 4; capped at ``n_classes``), dealt so that every
        class is a core class of some scene when there are enough scenes.
    scene_focus : float
        How many times more likely a scene's core classes are than their popularity alone
        gives (default 15); 1 means no co-occurrence structure.
    class_imbalance : float
        Zipf exponent of class popularity (default 1.0); 0 means all classes equally popular.
    latent_dim : int
        Dimension of each view's latent space before the nonlinear map (default 64).
    faint_strength : float
        Strength, relative to 1 for a clear class, of a class in the view where it is faint
        (default 0.1).
    label_dropout : float
        Probability, per row, view and label, that the label leaves no trace in that view
        (default 0.3).
    scene_visibility : float
        Strength of the scene's own context direction in each view (default 0.3).
    nuisance_dim : int
        Number of label-free nuisance directions per view (default 8).
    nuisance_strength : float
        Standard deviation of each nuisance factor (default 0.5).
    feature_noise : float
        Expected norm of the isotropic latent noise (default 0.6).
    """

    n_rows: int = 10_000
    n_classes: int = 24
    image_dim: int = 256
    text_dim: int = 128
    max_labels: int = 6
    mean_labels: float = 2.5
    query_fraction: float = 0.1
    train_fraction: float = 0.5
    seed: int = 0
    n_scenes: int = 12
    scene_core_size: int = 4
    scene_focus: float = 15.0
    class_imbalance: float = 1.0
    latent_dim: int = 64
    faint_strength: float = 0.1
    label_dropout: float = 0.3
    scene_visibility: float = 0.3
    nuisance_dim: int = 8
    nuisance_strength: float = 0.5
    feature_noise: float = 0.6

    def __post_init__(self) -> None:
        positive = ("n_rows", "n_classes", "image_dim", "text_dim", "max_labels", "n_scenes",
                    "scene_core_size", "latent_dim")  # fmt: skip
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.n_classes < 2:
            raise ValueError(f"n_classes must be at least 2, got {self.n_classes}")
        if not 1.0 <= self.mean_labels <= self.max_labels:
            raise ValueError(
                f"mean_labels must be in [1, max_labels={self.max_labels}], got {self.mean_labels}"
            )
        if (
            isinstance(self.seed, bool)
            or not isinstance(self.seed, (int, np.integer))
            or (self.seed < 0)
        ):
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if isinstance(self.nuisance_dim, bool) or self.nuisance_dim < 0:
            raise ValueError(
                f"nuisance_dim must be a non-negative integer, got {self.nuisance_dim}"
            )
        for name in ("query_fraction", "train_fraction", "label_dropout"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if self.label_dropout >= 1.0:
            raise ValueError("label_dropout must be below 1 (at 1 the views carry no labels)")
        if self.query_fraction + self.train_fraction > 1.0 + 1e-12:
            raise ValueError(
                f"query_fraction + train_fraction must be at most 1, got "
                f"{self.query_fraction} + {self.train_fraction}"
            )
        n_train = split_sizes(self.n_rows, self.query_fraction, self.train_fraction)[1]
        if n_train < 1:
            raise ValueError(
                f"the train split is empty ({self.n_rows} rows x train_fraction "
                f"{self.train_fraction}); the audit needs train rows"
            )
        if self.scene_focus < 1.0:
            raise ValueError(f"scene_focus must be at least 1, got {self.scene_focus}")
        for name in ("class_imbalance", "faint_strength", "scene_visibility", "nuisance_strength",
                     "feature_noise"):  # fmt: skip
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0.0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")

    @property
    def effective_max_labels(self) -> int:
        """``max_labels`` capped at ``n_classes`` (a row cannot have more labels than classes)."""
        return min(self.max_labels, self.n_classes)

    @property
    def effective_mean_labels(self) -> float:
        """``mean_labels`` capped at :attr:`effective_max_labels`."""
        return min(self.mean_labels, float(self.effective_max_labels))


@dataclass(frozen=True, eq=False)
class SyntheticData:
    """One synthetic dataset, in the shapes of :class:`auditor.dataset.AuditDataset`.

    Attributes
    ----------
    ids : (N,) object array of str
        ``s000000``, ``s000001``, … (zero padded to at least 6 digits).
    labels : (N, C) uint8
        Multi-hot labels, 1 to ``effective_max_labels`` per row.
    classes : tuple of C str
        Class names ``c00_people``, ``c01_sky``, … in column order of ``labels``.
    image : (N, Di) float32
        Image vectors.
    text : (N, Dt) float32
        Text vectors.
    split : (N,) object array of str
        ``query`` / ``train`` / ``database`` per row.
    scene : (N,) int64
        The latent scene of each row (what drives label co-occurrence).
    view_strength : (C, 2) float32
        How clearly each class shows in the image (column 0) and the text (column 1).
    shown : (N, C, 2) bool
        Which true labels show in the image (column 0) and the text (column 1): True where the
        row has the label and it was not dropped from that view (``label_dropout``). False
        everywhere a row lacks the label. How clearly a shown label shows is its class's
        ``view_strength``; see :func:`visible_labels` for the labels the content can show.
    """

    ids: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    image: np.ndarray
    text: np.ndarray
    split: np.ndarray
    scene: np.ndarray
    view_strength: np.ndarray
    shown: np.ndarray

    def to_dataset(self) -> AuditDataset:
        """The rows as an :class:`AuditDataset` (no ground truth: the labels are clean)."""
        return AuditDataset(
            ids=self.ids,
            labels=self.labels,
            classes=self.classes,
            image=self.image,
            text=self.text,
            split=self.split,
        )


CLEAR_STRENGTH = 0.5
"""A class shows *clearly* in a view when its ``view_strength`` there is at least this: clear
strengths are drawn in [0.8, 1.2], faint ones at ``faint_strength`` x [0.5, 1.5] (default
[0.05, 0.15]), so 0.5 separates them for any ``faint_strength`` up to 1/3."""


def visible_labels(
    shown: np.ndarray, view_strength: np.ndarray, min_strength: float = CLEAR_STRENGTH
) -> np.ndarray:
    """(N, C) bool: the true labels the content shows, i.e. that show in at least one view where
    their class is clear.

    Parameters
    ----------
    shown : (N, C, 2) bool
        :attr:`SyntheticData.shown`: the label shows in the image (column 0) / text (column 1).
    view_strength : (C, 2) float
        :attr:`SyntheticData.view_strength`.
    min_strength : float
        The strength from which a class counts as clear in a view (default
        :data:`CLEAR_STRENGTH`).

    A label kept only in a view where its class is faint counts as not visible: a linear probe
    on both views reads such labels barely better than labels dropped from both views, and far
    worse than labels shown clearly (``tests/auditor/test_synth.py`` measures this). The
    complement within the true labels, ``labels & ~visible``, is what the benchmark calls a
    *traceless* true label: no content-based detector can tell it, given, from a spurious label
    or, dropped by noise, from a class the row rightly lacks, except through the labels it
    co-occurs with.
    """
    shown = np.asarray(shown, dtype=bool)
    clear = np.asarray(view_strength) >= min_strength  # (C, 2)
    return np.asarray((shown & clear[None, :, :]).any(axis=2))


def class_names(n_classes: int) -> tuple[str, ...]:
    """Readable, zero-padded class names: ``c00_people``, … then ``c48_concept48``, …"""
    width = max(2, len(str(n_classes - 1)))
    names = []
    for index in range(n_classes):
        concept = CONCEPT_NAMES[index] if index < len(CONCEPT_NAMES) else f"concept{index}"
        names.append(f"c{index:0{width}d}_{concept}")
    return tuple(names)


def row_ids(n_rows: int) -> np.ndarray:
    """(n_rows,) object array ``s000000``, ``s000001``, …: zero padded to at least 6 digits,
    more when needed, so the ids sort in row order."""
    width = max(6, len(str(n_rows - 1)))
    return np.array([f"s{index:0{width}d}" for index in range(n_rows)], dtype=object)


def split_sizes(n_rows: int, query_fraction: float, train_fraction: float) -> tuple[int, int, int]:
    """(query, train, database) row counts: shares rounded half up, the database takes the rest."""
    n_query = int(np.floor(query_fraction * n_rows + 0.5))
    n_train = min(int(np.floor(train_fraction * n_rows + 0.5)), n_rows - n_query)
    return n_query, n_train, n_rows - n_query - n_train


def zipf_popularity(n_classes: int, exponent: float) -> np.ndarray:
    """(C,) class popularity ∝ (rank + 1) ** -exponent, summing to 1; class 0 most popular."""
    weights = np.arange(1, n_classes + 1, dtype=np.float64) ** -exponent
    return weights / weights.sum()


@dataclass(frozen=True, eq=False)
class _View:
    """One view's fixed random world: latent directions and the nonlinear output map."""

    class_directions: np.ndarray  # (C, L): unit direction of each class, scaled by its strength
    scene_directions: np.ndarray  # (S, L): context direction of each scene
    nuisance_directions: np.ndarray  # (R, L): label-free nuisance directions
    hidden_weights: np.ndarray  # (L, D)
    hidden_bias: np.ndarray  # (D,)
    output_mix: np.ndarray  # (D, D)


@dataclass(frozen=True, eq=False)
class _World:
    scene_weights: np.ndarray  # (S,) probability of each scene
    scene_class_log_probs: np.ndarray  # (S, C) log probability of each class within a scene
    view_strength: np.ndarray  # (C, 2)
    image: _View
    text: _View


def _unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    vectors = rng.standard_normal((n, dim))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _make_view(
    rng: np.random.Generator, strength: np.ndarray, settings: SynthSettings, out_dim: int
) -> _View:
    latent = settings.latent_dim
    # The typical latent norm sets the scale of the tanh layer's input.
    typical_norm = np.sqrt(settings.effective_mean_labels + settings.feature_noise**2 + 1.0)
    # float32 throughout the row-wise work: half the memory traffic of float64, same quality.
    return _View(
        class_directions=(_unit_rows(rng, settings.n_classes, latent) * strength[:, None]).astype(
            np.float32
        ),
        scene_directions=(
            _unit_rows(rng, settings.n_scenes, latent) * settings.scene_visibility
        ).astype(np.float32),
        nuisance_directions=_unit_rows(rng, settings.nuisance_dim, latent).astype(np.float32),
        hidden_weights=(rng.standard_normal((latent, out_dim)) * (_MAP_GAIN / typical_norm)).astype(
            np.float32
        ),
        hidden_bias=rng.uniform(-0.5, 0.5, size=out_dim).astype(np.float32),
        output_mix=(rng.standard_normal((out_dim, out_dim)) / np.sqrt(out_dim)).astype(np.float32),
    )


def _make_world(settings: SynthSettings, rng: np.random.Generator) -> _World:
    n_classes, n_scenes = settings.n_classes, settings.n_scenes
    popularity = zipf_popularity(n_classes, settings.class_imbalance)

    # Each scene favours a few core classes, dealt from shuffled decks of all classes so that
    # every class takes part in some scene's co-occurrence pattern.
    core_size = min(settings.scene_core_size, n_classes)
    n_decks = -(-n_scenes * core_size // n_classes)
    deck = np.concatenate([rng.permutation(n_classes) for _ in range(n_decks)])
    scene_class = np.tile(popularity, (n_scenes, 1))
    for scene in range(n_scenes):
        core = deck[scene * core_size : (scene + 1) * core_size]
        scene_class[scene, core] *= settings.scene_focus
    scene_class /= scene_class.sum(axis=1, keepdims=True)
    scene_weights = rng.dirichlet(np.full(n_scenes, 4.0))

    # Each class is clear in the image only, the text only, or both (in equal thirds).
    profile = rng.permutation(np.arange(n_classes) % len(VIEW_PROFILES))
    clear = rng.uniform(0.8, 1.2, size=(n_classes, 2))
    faint = settings.faint_strength * rng.uniform(0.5, 1.5, size=(n_classes, 2))
    strength = clear.copy()
    strength[profile == 0, 1] = faint[profile == 0, 1]  # image-clear: faint in the text
    strength[profile == 1, 0] = faint[profile == 1, 0]  # text-clear: faint in the image

    image = _make_view(rng, strength[:, 0], settings, settings.image_dim)
    text = _make_view(rng, strength[:, 1], settings, settings.text_dim)
    return _World(
        scene_weights=scene_weights,
        scene_class_log_probs=np.log(scene_class),
        view_strength=strength.astype(np.float32),
        image=image,
        text=text,
    )


def _draw_labels(
    rng: np.random.Generator, world: _World, settings: SynthSettings, n_rows: int
) -> tuple[np.ndarray, np.ndarray]:
    """(n, C) uint8 labels and (n,) scenes: k distinct classes per row from its scene."""
    n_scenes, n_classes = world.scene_class_log_probs.shape
    scene = rng.choice(n_scenes, size=n_rows, p=world.scene_weights)
    extra = settings.effective_max_labels - 1
    share = (settings.effective_mean_labels - 1.0) / extra if extra else 0.0
    n_labels = 1 + rng.binomial(extra, share, size=n_rows)
    # Gumbel top-k: the k largest perturbed log-probabilities are k draws without replacement.
    keys = world.scene_class_log_probs[scene] + rng.gumbel(size=(n_rows, n_classes))
    order = np.argsort(-keys, axis=1)
    chosen = (np.arange(n_classes)[None, :] < n_labels[:, None]).astype(np.uint8)
    labels = np.zeros((n_rows, n_classes), dtype=np.uint8)
    np.put_along_axis(labels, order, chosen, axis=1)
    return labels, scene


def _draw_view(
    rng: np.random.Generator,
    view: _View,
    labels: np.ndarray,
    scene: np.ndarray,
    settings: SynthSettings,
) -> tuple[np.ndarray, np.ndarray]:
    """(n, D) float32 features of one view for the given labels and scenes, and the (n, C) bool
    mask of the labels that show in it (the label is 1 and was not dropped from this view)."""
    n_rows = labels.shape[0]
    latent_dim = settings.latent_dim
    kept = rng.random(labels.shape, dtype=np.float32) >= settings.label_dropout
    shown = kept & labels.astype(bool)
    expressed = shown.astype(np.float32)
    latent = expressed @ view.class_directions + view.scene_directions[scene]
    nuisance = rng.standard_normal((n_rows, settings.nuisance_dim), dtype=np.float32)
    latent += np.float32(settings.nuisance_strength) * (nuisance @ view.nuisance_directions)
    noise = rng.standard_normal((n_rows, latent_dim), dtype=np.float32)
    latent += np.float32(settings.feature_noise / np.sqrt(latent_dim)) * noise
    hidden = np.tanh(latent @ view.hidden_weights + view.hidden_bias)
    return hidden @ view.output_mix, shown


def make_synthetic(settings: SynthSettings = SynthSettings()) -> SyntheticData:
    """Draw the synthetic dataset described in the module docstring.

    Parameters
    ----------
    settings : SynthSettings
        Sizes, structure and seed; the same settings always give the same arrays.

    Returns
    -------
    SyntheticData
        ids (N,), labels (N, C) uint8, classes, image (N, Di) float32, text (N, Dt) float32,
        split (N,) of ``query`` / ``train`` / ``database``, plus the latent scene of each row and
        the per-class view strengths.
    """
    root = np.random.SeedSequence(settings.seed)
    world_seq, split_seq, rows_seq = root.spawn(3)
    world = _make_world(settings, np.random.default_rng(world_seq))

    n_rows = settings.n_rows
    labels = np.empty((n_rows, settings.n_classes), dtype=np.uint8)
    scene = np.empty(n_rows, dtype=np.int64)
    image = np.empty((n_rows, settings.image_dim), dtype=np.float32)
    text = np.empty((n_rows, settings.text_dim), dtype=np.float32)
    shown = np.empty((n_rows, settings.n_classes, 2), dtype=bool)
    n_blocks = -(-n_rows // BLOCK_ROWS)
    for block, block_seq in enumerate(rows_seq.spawn(n_blocks)):
        # Always draw a full block and keep what is needed, so a row's values never depend on
        # n_rows (a larger dataset starts with the smaller one).
        rng = np.random.default_rng(block_seq)
        rows = slice(block * BLOCK_ROWS, min((block + 1) * BLOCK_ROWS, n_rows))
        keep = rows.stop - rows.start
        block_labels, block_scene = _draw_labels(rng, world, settings, BLOCK_ROWS)
        labels[rows], scene[rows] = block_labels[:keep], block_scene[:keep]
        for column, (view, features) in enumerate(((world.image, image), (world.text, text))):
            view_features, view_shown = _draw_view(rng, view, block_labels, block_scene, settings)
            features[rows], shown[rows, :, column] = view_features[:keep], view_shown[:keep]

    n_query, n_train, n_database = split_sizes(
        n_rows, settings.query_fraction, settings.train_fraction
    )
    split_names = np.array(
        ["query"] * n_query + ["train"] * n_train + ["database"] * n_database, dtype=object
    )
    split = split_names[np.random.default_rng(split_seq).permutation(n_rows)]

    return SyntheticData(
        ids=row_ids(n_rows),
        labels=labels,
        classes=class_names(settings.n_classes),
        image=image,
        text=text,
        split=split,
        scene=scene,
        view_strength=world.view_strength,
        shown=shown,
    )
