"""Detection benchmark of `audit scan` on every noise protocol: fused score vs cleanlab, rows,
cells, flags, suggestions and the estimated noise rate (overall and per direction), with known
noise.

Datasets:
- ``mirflickr``: MIRFlickr-25K's real labels and tags (../shared/data, or --mirflickr DIR). The
  real image view (VGG features) is not available here, so a stand-in image view is built FROM
  THE CLEAN LABELS: each label is dropped with probability 0.3 (occlusion), the rest go through a
  fixed random nonlinear map into 512 dimensions with Gaussian noise. It sees the true labels
  imperfectly, as real image features do, but it is not real image data: read the numbers with
  that in mind. ``pairflip`` uses the papers' own noise files; the other protocols are injected
  into the clean labels with ``audit inject``'s code (seed 0; ``--seed S`` draws every protocol,
  pairflip included, with ``audit inject``'s code at seed S, and the stand-in view at seed S).
- ``synthetic``: `audit synth` defaults (10,000 rows, 5,000 train rows).
- ``wikipedia``: single-label (10 classes), so only ``pairflip`` and ``symmetric`` apply.

Protocols: pairflip, symmetric, classflip, missing, spurious, mixed (70 % of the noisy rows
missing labels, 30 % with spurious ones).

    python examples/bench_scan.py --dataset mirflickr --protocols missing mixed --rates 0.2 0.5
    python examples/bench_scan.py --dataset mirflickr --train-rows 3000 --epochs 10 \\
        --cache /tmp/scan-cache            # saves every detector's output per case (.npz)
    python examples/bench_scan.py --dataset mirflickr --train-rows 3000 --epochs 10 \\
        --cache /tmp/scan-cache --from-cache   # re-runs fusion and decisions only (seconds)

Prints one block per case; --json-out writes them all.

``--visible-truth`` (synthetic only) also scores every case against the *content-visible
truth*: synthetic data drops each label of each row from each view (``label_dropout``), so some
true labels show in no view where their class is clear (``auditor.synth.visible_labels``). Such
a *traceless* true label counts neither as a correct given label nor as a missing one: its cell
leaves every cell-level count (cell AUROC, suggestion precision and recall), and a row whose
only wrong cells are traceless missing labels leaves every row-level count (row AUROC / AUPRC,
flags). A row with a spurious label or a visible missing one is noisy; every other row is
clean, traceless given labels included. The block also gives the share of true labels that
are traceless, the share of missing labels with a trace, the share of removals that hit a
traceless given label, the share of excluded rows, and the row AUROC of a detector that ranks
exactly the rows with a visible wrong cell first and the rest at random, against the plain
truth (``0.5 + share / 2``, share = rows with a visible wrong cell among the noisy rows: the
ceiling of a detector that reads each label from its own content alone; one that also reads
which labels co-occur can pass it a little). Two diagnostics follow: the fused row AUROC
(visible truth) without the clean rows that carry a traceless given label, and the row AUROC
of the largest fused presence among a row's absent classes (a score that suspects no given
label; no truth in it).

    python examples/bench_scan.py --dataset synthetic --rows 6000 --epochs 10 \\
        --cache /tmp/scan-cache --from-cache --visible-truth

``--seed S`` (default 0) draws another instance of every case: the synthetic world and rows, the
injected noise, the MIRFlickr stand-in's image view and the scan's own seed (cache files are
named ``...-seedS-...``). The decisions were developed on seed 0; another seed says whether
they hold beyond the cases they were measured on.

``--spurious-after B`` adds, on top of each case's noise, ``spurious`` noise at rate B drawn
with seed S + 100: rows that gain a tag independently of the rows the protocol changed (with
``--protocols missing``: independent two-direction noise, whose spurious rows overlap the
missing ones only at chance; cache files ``...-thenspuriousB-...``). The truth is the labels
before both.

``--label-dropout P`` (synthetic only) draws the data with another ``label_dropout`` than
`audit synth`'s 0.3 (its cache files are named ``synthetic-dropoutP-...``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from auditor.dataset import AuditDataset  # noqa: E402
from auditor.detectors import DetectorOutput, run_detectors  # noqa: E402
from auditor.fusion import NOISE_PRIORS  # noqa: E402
from auditor.importers import import_mirflickr25k, import_wikipedia  # noqa: E402
from auditor.inject import with_noise  # noqa: E402
from auditor.metrics import auroc, detection_report, flag_report  # noqa: E402
from auditor.scanning import ScanSettings, fuse_outputs, scan_input  # noqa: E402
from auditor.synth import SynthSettings, make_synthetic, visible_labels  # noqa: E402
from cli.scan_command import parse_methods  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
PROTOCOLS = ("pairflip", "symmetric", "classflip", "missing", "spurious", "mixed")
SINGLE_LABEL_PROTOCOLS = ("pairflip", "symmetric")


def stand_in_image_view(clean: np.ndarray, seed: int = 0, dim: int = 512) -> np.ndarray:
    """(N, C) clean labels -> (N, dim) float32 image view that sees them imperfectly."""
    rng = np.random.default_rng(seed)
    seen = clean * (rng.random(clean.shape) > 0.3)
    hidden = seen @ rng.normal(size=(clean.shape[1], 256)) + rng.normal(size=(len(clean), 256))
    return (np.tanh(0.5 * hidden) @ rng.normal(size=(256, dim)) / 16.0).astype(np.float32)


def mirflickr(protocol: str, rate: float, folder: Path, seed: int = 0) -> AuditDataset:
    lall = folder / "mirflickr25k-lall.mat"
    clean = scipy.io.loadmat(lall)["LAll"].astype(np.uint8)
    papers_noise = folder / f"mirflickr25k-lall-noise_{rate}.h5"
    with tempfile.TemporaryDirectory() as scratch:
        xall = Path(scratch) / "xall.mat"
        scipy.io.savemat(xall, {"XAll": stand_in_image_view(clean, seed)})
        if protocol == "pairflip" and papers_noise.exists() and seed == 0:
            return import_mirflickr25k(lall, folder / "mirflickr25k-yall.mat", xall, papers_noise)
        dataset = import_mirflickr25k(lall, folder / "mirflickr25k-yall.mat", xall)
    return with_noise(dataset, protocol, rate, seed)[0]


def wikipedia(protocol: str, rate: float, folder: Path, seed: int = 0) -> AuditDataset:
    return with_noise(import_wikipedia(folder), protocol, rate, seed)[0]


def synthetic_settings(
    rows: int, label_dropout: float | None = None, seed: int = 0
) -> SynthSettings:
    """`audit synth` defaults with ``rows`` rows and ``seed`` (and another ``label_dropout``
    when given)."""
    settings = SynthSettings(n_rows=rows, seed=seed)
    if label_dropout is None:
        return settings
    return dataclasses.replace(settings, label_dropout=label_dropout)


def synthetic(
    protocol: str, rate: float, rows: int, label_dropout: float | None = None, seed: int = 0
) -> AuditDataset:
    clean = make_synthetic(synthetic_settings(rows, label_dropout, seed)).to_dataset()
    return with_noise(clean, protocol, rate, seed)[0]


def synthetic_visible(
    rows: int, label_dropout: float | None = None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(rows, C) bool twice: the true labels of ``synthetic(..., rows)`` that the content shows
    (in a view where their class is clear), and those that show in any view at all."""
    data = make_synthetic(synthetic_settings(rows, label_dropout, seed))
    return visible_labels(data.shown, data.view_strength), np.asarray(data.shown.any(axis=2))


def with_independent_spurious(dataset: AuditDataset, rate: float, seed: int) -> AuditDataset:
    """``dataset`` (its noise already injected, truth in ``clean_labels``) with ``spurious`` noise
    at ``rate`` added on its train rows, drawn with ``seed`` independently of the first noise;
    the truth stays the labels before both (:func:`with_noise` keeps an existing truth)."""
    return with_noise(dataset, "spurious", rate, seed)[0]


def first_train_rows(dataset: AuditDataset, n_rows: int | None) -> AuditDataset:
    """The dataset with only its first ``n_rows`` train rows audited (a faster development set)."""
    if n_rows is None:
        return dataset
    split = dataset.split.copy()
    split[np.flatnonzero(dataset.train_mask)[n_rows:]] = "database"
    return dataclasses.replace(dataset, split=split)


def save_outputs(path: Path, outputs: dict[str, DetectorOutput]) -> None:
    arrays: dict[str, np.ndarray] = {}
    for name, output in outputs.items():
        arrays[f"{name}/seconds"] = np.array(output.seconds)
        if output.presence is not None:
            arrays[f"{name}/presence"] = output.presence
        for signal, values in output.signals.items():
            arrays[f"{name}/signal/{signal}"] = values
    # numpy's stubs match **arrays against the allow_pickle flag (numpy >= 2.1 only)
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]


def load_outputs(path: Path) -> dict[str, DetectorOutput]:
    stored = np.load(path)
    names = list(dict.fromkeys(key.split("/")[0] for key in stored.files))
    return {
        name: DetectorOutput(
            signals={
                key.split("/", 2)[2]: stored[key]
                for key in stored.files
                if key.startswith(f"{name}/signal/")
            },
            presence=stored[f"{name}/presence"] if f"{name}/presence" in stored.files else None,
            seconds=float(stored[f"{name}/seconds"]),
        )
        for name in names
    }


def suggestion_quality(suggested: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Precision and recall of suggested cell changes (N, C) against the true changes (N, C)."""
    n_suggested, n_true = int(suggested.sum()), int(truth.sum())
    correct = int((suggested & truth).sum())
    return {
        "n": n_suggested,
        "precision": correct / n_suggested if n_suggested else float("nan"),
        "recall": correct / n_true if n_true else float("nan"),
    }


def case_report(labels: np.ndarray, clean: np.ndarray, fused: dict[str, Any]) -> dict[str, Any]:
    """Every number of one case: fused and cleanlab detection, flags, suggestions, rates."""
    given, truth = labels.astype(bool), clean.astype(bool)
    truth_cells = given != truth
    truth_rows = truth_cells.any(axis=1)
    missing_cells, spurious_cells = truth & ~given, given & ~truth
    suspicion = 1.0 - fused["label_quality"]
    error = np.where(given, 1.0 - fused["presence"], fused["presence"])
    report = {
        "fused": detection_report(truth_rows, suspicion, truth_cells, error),
        "flag": flag_report(truth_rows, fused["is_issue"]),
        "remove": suggestion_quality(fused["remove"], spurious_cells),
        "add": suggestion_quality(fused["add"], missing_cells),
        "rate": {
            "estimated": fused["estimated_noise_rate"],
            "true": float(truth_rows.mean()),
            "estimated_missing": fused["noise_model"].missing_row_rate,
            "true_missing": float(missing_cells.any(axis=1).mean()),
            "estimated_spurious": fused["noise_model"].spurious_row_rate,
            "true_spurious": float(spurious_cells.any(axis=1).mean()),
            "regime": fused["noise_model"].regime,
            "identifiable": fused["noise_model"].identifiable,
        },
    }
    if fused["rate_spread"] is not None:
        spread = fused["rate_spread"]
        report["rate"].update(sd=spread[0], sd_missing=spread[1], sd_spurious=spread[2])
    if "cleanlab_quality" in fused["signals"]:
        report["cleanlab"] = detection_report(truth_rows, -fused["signals"]["cleanlab_quality"])
    return report


def content_visible_truth(
    given: np.ndarray, truth: np.ndarray, visible: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The content-visible truth of one case (the module docstring defines it).

    Parameters
    ----------
    given, truth : (N, C) bool
        Given and true labels.
    visible : (N, C) bool
        True labels the content shows (:func:`auditor.synth.visible_labels`); only read where
        ``truth`` is True.

    Returns
    -------
    wrong : (N, C) bool
        Spurious given labels and missing labels that show in the content.
    scored_cells : (N, C) bool
        Every cell but the traceless true labels (given or missing).
    noisy_rows : (N,) bool
        Rows with a wrong cell.
    scored_rows : (N,) bool
        Every row but those whose only wrong cells are traceless missing labels.
    """
    traceless = truth & ~visible
    wrong = (given & ~truth) | (truth & ~given & ~traceless)
    noisy_rows = wrong.any(axis=1)
    hidden_rows = (truth & ~given & traceless).any(axis=1) & ~noisy_rows
    return wrong, ~traceless, noisy_rows, ~hidden_rows


def visible_truth_report(
    labels: np.ndarray,
    clean: np.ndarray,
    visible: np.ndarray,
    fused: dict[str, Any],
    shown_anywhere: np.ndarray | None = None,
) -> dict[str, Any]:
    """The case scored against :func:`content_visible_truth`, with the shares behind it.

    ``labels``, ``clean``: (N, C) given and true labels of the audited rows; ``visible``: (N, C)
    bool as in :func:`content_visible_truth`; ``fused``: the case's
    :func:`auditor.scanning.fuse_outputs`; ``shown_anywhere``: (N, C) bool, the true labels
    that show in any view, faint ones included (adds the shares of labels with no trace at all).
    """
    given, truth = labels.astype(bool), clean.astype(bool)
    wrong, cells, noisy_rows, rows = content_visible_truth(given, truth, visible.astype(bool))
    traceless, spurious, missing = truth & ~cells, given & ~truth, truth & ~given
    suspicion = 1.0 - fused["label_quality"]
    error = np.where(given, 1.0 - fused["presence"], fused["presence"])
    removed, added = fused["remove"].astype(bool), fused["add"].astype(bool)
    plain_rows = (given != truth).any(axis=1)
    n_plain_noisy = int(plain_rows.sum())
    visible_share = int(noisy_rows.sum()) / n_plain_noisy if n_plain_noisy else float("nan")
    report = {
        "fused": {
            **detection_report(noisy_rows[rows], suspicion[rows]),
            "cell_auroc": auroc(wrong[cells], error[cells]),
        },
        "flag": flag_report(noisy_rows[rows], fused["is_issue"][rows]),
        "remove": suggestion_quality(removed & cells, spurious),
        "add": suggestion_quality(added & cells, missing & ~traceless),
        "traceless_share_of_true_labels": float(traceless.sum() / max(truth.sum(), 1)),
        "traceless_share_of_given_true_labels": float(
            (traceless & given).sum() / max((truth & given).sum(), 1)
        ),
        "missing_with_trace_share": (
            float((missing & ~traceless).sum() / missing.sum()) if missing.any() else float("nan")
        ),
        "removals_on_traceless_share": (
            float((removed & traceless).sum() / removed.sum()) if removed.any() else float("nan")
        ),
        "excluded_row_share": float(1.0 - rows.mean()),
        "excluded_share_of_noisy_rows": 1.0 - visible_share if n_plain_noisy else float("nan"),
        "ceiling_auroc": 0.5 + visible_share / 2,
    }
    # Where the fused row score loses: clean rows carrying a traceless given label (read as
    # spurious), and a row score read from the absent classes alone (no given label suspected).
    clean_with_traceless = rows & ~noisy_rows & (traceless & given).any(axis=1)
    quiet_rows = rows & ~clean_with_traceless
    absent_presence = np.where(given, 0.0, fused["presence"]).max(axis=1)
    report["diagnostics"] = {
        "clean_rows_with_traceless_given_share": float(clean_with_traceless.mean()),
        "fused_auroc_without_them": auroc(noisy_rows[quiet_rows], suspicion[quiet_rows]),
        "absent_presence_auroc_plain": auroc(plain_rows, absent_presence),
        "absent_presence_auroc_visible": auroc(noisy_rows[rows], absent_presence[rows]),
    }
    if shown_anywhere is not None:
        untraced = truth & ~shown_anywhere.astype(bool)
        report["no_trace_share_of_true_labels"] = float(untraced.sum() / max(truth.sum(), 1))
        report["missing_with_any_trace_share"] = (
            float((missing & ~untraced).sum() / missing.sum()) if missing.any() else float("nan")
        )
    if "cleanlab_quality" in fused["signals"]:
        cleanlab = -fused["signals"]["cleanlab_quality"]
        report["cleanlab"] = detection_report(noisy_rows[rows], cleanlab[rows])
    return report


def print_visible(report: dict[str, Any]) -> None:
    fused, diagnostics = report["fused"], report["diagnostics"]
    cleanlab = report.get("cleanlab", {"auroc": float("nan")})
    print(
        f"  visible truth: fused AUROC {fused['auroc']:.3f} AUPRC {fused['auprc']:.3f} cell AUROC "
        f"{fused['cell_auroc']:.3f} | cleanlab AUROC {cleanlab['auroc']:.3f} | flagged P "
        f"{report['flag']['precision']:.3f} R {report['flag']['recall']:.3f} | remove n "
        f"{report['remove']['n']} P {report['remove']['precision']:.3f} | add n "
        f"{report['add']['n']} P {report['add']['precision']:.3f} R "
        f"{report['add']['recall']:.3f}\n"
        f"  traceless: {report['traceless_share_of_true_labels']:.3f} of true labels (in no "
        f"view at all {report.get('no_trace_share_of_true_labels', float('nan')):.3f}), "
        f"{report['traceless_share_of_given_true_labels']:.3f} of given true ones | missing with "
        f"a trace {report['missing_with_trace_share']:.3f} (any trace "
        f"{report.get('missing_with_any_trace_share', float('nan')):.3f}) | removals on traceless "
        f"{report['removals_on_traceless_share']:.3f} | excluded rows "
        f"{report['excluded_row_share']:.3f} ({report['excluded_share_of_noisy_rows']:.3f} of "
        f"noisy) | ceiling AUROC {report['ceiling_auroc']:.3f}\n"
        f"  diagnostics: clean rows with a traceless given label "
        f"{diagnostics['clean_rows_with_traceless_given_share']:.3f}, fused AUROC without them "
        f"{diagnostics['fused_auroc_without_them']:.3f} | max presence of absent classes AUROC "
        f"{diagnostics['absent_presence_auroc_plain']:.3f} (visible truth "
        f"{diagnostics['absent_presence_auroc_visible']:.3f})",
        flush=True,
    )


def print_case(title: str, report: dict[str, Any]) -> None:
    fused, rate = report["fused"], report["rate"]
    cleanlab = report.get("cleanlab", {"auroc": float("nan"), "auprc": float("nan")})
    print(
        f"{title}\n"
        f"  fused AUROC {fused['auroc']:.3f} AUPRC {fused['auprc']:.3f} cell AUROC "
        f"{fused['cell_auroc']:.3f} | cleanlab AUROC {cleanlab['auroc']:.3f} AUPRC "
        f"{cleanlab['auprc']:.3f}\n"
        f"  flagged P {report['flag']['precision']:.3f} R {report['flag']['recall']:.3f} | "
        f"remove n {report['remove']['n']} P {report['remove']['precision']:.3f} R "
        f"{report['remove']['recall']:.3f} | add n {report['add']['n']} P "
        f"{report['add']['precision']:.3f} R {report['add']['recall']:.3f}\n"
        f"  rate est {rate['estimated']:.3f} true {rate['true']:.3f} | missing est "
        f"{rate['estimated_missing']:.3f} true {rate['true_missing']:.3f} | spurious est "
        f"{rate['estimated_spurious']:.3f} true {rate['true_spurious']:.3f} | "
        f"{rate['regime']}{'' if rate['identifiable'] else ' (UNIDENTIFIABLE)'}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("synthetic", "mirflickr", "wikipedia"))
    parser.add_argument("--protocols", nargs="+", choices=PROTOCOLS, default=list(PROTOCOLS))
    parser.add_argument("--rates", type=float, nargs="+", default=[0.2, 0.5, 0.8])
    parser.add_argument("--rows", type=int, default=10_000, help="synthetic rows")
    parser.add_argument("--train-rows", type=int, help="audit only the first N train rows")
    parser.add_argument("--epochs", type=int, help="epochs of every hasher (default: scan's)")
    parser.add_argument("--methods", help="comma-separated hashers, 'none' (default: all)")
    parser.add_argument("--data", type=Path, default=SHARED)
    parser.add_argument("--cache", type=Path, help="folder of per-case detector outputs (.npz)")
    parser.add_argument("--from-cache", action="store_true", help="fusion only, from --cache")
    parser.add_argument("--cache-only", action="store_true", help="run and save detectors only")
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--seed", type=int, default=0, help="instance of every case (see above)")
    parser.add_argument(
        "--spurious-after",
        type=float,
        help="also add spurious noise at this rate, drawn independently (see above)",
    )
    parser.add_argument(
        "--label-dropout",
        type=float,
        help="synthetic only: the generator's label_dropout (default: audit synth's, 0.3)",
    )
    parser.add_argument(
        "--visible-truth",
        action="store_true",
        help="synthetic only: also score against the labels the content shows (see above)",
    )
    parser.add_argument(
        "--noise", choices=NOISE_PRIORS, help="direction prior, as `audit scan --noise`"
    )
    args = parser.parse_args()
    if args.visible_truth and args.dataset != "synthetic":
        parser.error("--visible-truth needs --dataset synthetic (only it knows what shows)")
    if args.label_dropout is not None and args.dataset != "synthetic":
        parser.error("--label-dropout needs --dataset synthetic")
    visible_all, shown_all = (
        synthetic_visible(args.rows, args.label_dropout, args.seed)
        if args.visible_truth
        else (None, None)
    )
    settings = ScanSettings(epochs=args.epochs, noise=args.noise, seed=args.seed)
    if args.methods is not None:
        settings = dataclasses.replace(settings, methods=parse_methods(args.methods) or ())
    results = []
    for protocol in args.protocols:
        if args.dataset == "wikipedia" and protocol not in SINGLE_LABEL_PROTOCOLS:
            continue
        for rate in args.rates:
            if args.dataset == "mirflickr":
                dataset = mirflickr(protocol, rate, args.data / "mirflickr25k", args.seed)
            elif args.dataset == "wikipedia":
                dataset = wikipedia(protocol, rate, args.data / "wikipedia", args.seed)
            else:
                dataset = synthetic(protocol, rate, args.rows, args.label_dropout, args.seed)
            if args.spurious_after is not None:
                dataset = with_independent_spurious(dataset, args.spurious_after, args.seed + 100)
            dataset = first_train_rows(dataset, args.train_rows)
            assert dataset.clean_labels is not None
            data = scan_input(dataset, settings)
            clean = dataset.clean_labels[dataset.train_mask]
            names = [*settings.methods, *settings.baselines]
            cached = None
            if args.cache is not None:
                args.cache.mkdir(parents=True, exist_ok=True)
                dropout = "" if args.label_dropout is None else f"-dropout{args.label_dropout}"
                seed = "" if args.seed == 0 else f"-seed{args.seed}"
                then = "" if args.spurious_after is None else f"-thenspurious{args.spurious_after}"
                cached = args.cache / (
                    f"{args.dataset}{dropout}{seed}-{protocol}{then}-{rate}-{len(clean)}-"
                    f"{args.methods}.npz"
                )
            started, cpu_started = time.perf_counter(), time.process_time()
            if args.from_cache and cached is not None:
                outputs = load_outputs(cached)
            else:
                outputs = run_detectors(names, data)
                if cached is not None:
                    save_outputs(cached, outputs)
                if args.cache_only:
                    print(f"cached {cached}", flush=True)
                    continue
            fused = fuse_outputs(data.labels, outputs, names, settings)
            seconds = time.perf_counter() - started
            cpu_seconds = time.process_time() - cpu_started
            report = case_report(data.labels, clean, fused)
            title = (
                f"{args.dataset} {protocol} {rate}: {len(clean)} rows, {seconds:.0f} s wall, "
                f"{cpu_seconds:.0f} s CPU; detectors "
                f"{ {name: round(output.seconds) for name, output in outputs.items()} }"
            )
            print_case(title, report)
            if visible_all is not None and shown_all is not None:
                train = dataset.train_mask
                report["visible"] = visible_truth_report(
                    data.labels, clean, visible_all[train], fused, shown_all[train]
                )
                print_visible(report["visible"])
            results.append(
                {
                    "dataset": args.dataset,
                    "seed": args.seed,
                    "spurious_after": args.spurious_after,
                    "protocol": protocol,
                    "noise_rate": rate,  # the injected rate; "rate" holds the estimates
                    "rows": len(clean),
                    "epochs": args.epochs,
                    "seconds": seconds,
                    "cpu_seconds": cpu_seconds,
                    **report,
                }
            )
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2, default=float))


if __name__ == "__main__":
    main()
