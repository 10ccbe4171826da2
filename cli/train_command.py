"""`audit train`: train one hasher on a dataset and report retrieval mAP in both directions."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from hashing.hasher import CrossModalHasher

from cli.common import (
    BITS_RANGE,
    METHOD_NAMES,
    ClassesOption,
    CleanColumn,
    DeviceOption,
    IdColumn,
    ImageColumn,
    JsonOption,
    LabelsColumn,
    QuietOption,
    SeedOption,
    SplitColumn,
    TextColumn,
    column_names,
    configure_logging,
    emit_json,
    handle_errors,
    parse_classes,
    result_console,
)
from cli.launch import NprocOption, relaunch_if_asked
from cli.progress import epoch_progress


@handle_errors
def train(
    ctx: typer.Context,
    data: Annotated[Path, typer.Argument(help="Dataset Parquet file with embeddings.")],
    method: Annotated[
        str, typer.Option("--method", help=f"Hashing method: {' | '.join(METHOD_NAMES)}.")
    ] = "nrch",
    bits: Annotated[
        int, typer.Option("--bits", help="Code length, {}..{}.".format(*BITS_RANGE))
    ] = 64,
    epochs: Annotated[
        int | None,
        typer.Option("--epochs", help="Training epochs.", show_default="the method's"),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "-o", "--out", help="Output folder.", show_default="DATA-stem.train-METHOD-BITS/"
        ),
    ] = None,
    device: DeviceOption = None,
    truth: Annotated[
        Path | None,
        typer.Option(
            "--truth",
            help="Parquet file with id and clean_labels for the query, train and database rows: "
            "relevance from these (training never sees them).",
        ),
    ] = None,
    holdout: Annotated[
        float | None,
        typer.Option(
            "--holdout",
            help="Stopping rule: hold out this share (0-0.5) of the train rows, pick the "
            "latest epoch whose retrieval among them, by their given labels, is within two "
            "standard errors of the best, then train again on every train row for that many "
            "epochs (0 = off: every row, last epoch).",
            show_default="the method's: rshnl, scbch, nrch 0.1 from 5,000 train rows; plain 0",
        ),
    ] = None,
    average_epochs: Annotated[
        float | None,
        typer.Option(
            "--average-epochs",
            help="Keep a moving average of the weights over about this many last epochs and "
            "end with it (0 = off: the last weights). Helps where retrieval peaks early and "
            "then fits the noise; lags where training still improves at its end.",
            show_default="the method's",
        ),
    ] = None,
    seed: SeedOption = 0,
    classes: ClassesOption = None,
    id_column: IdColumn = "id",
    labels_column: LabelsColumn = "labels",
    image_column: ImageColumn = "image_embedding",
    text_column: TextColumn = "text_embedding",
    split_column: SplitColumn = "split",
    clean_column: CleanColumn = "clean_labels",
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    nproc: NprocOption = 1,
) -> None:
    """Train one hasher on the train rows' labels; report mAP image->text and text->image
    (query rows against train + database rows; relevance from clean_labels when present)."""
    configure_logging(quiet)
    from auditor.io import check_output_folder, read_dataset

    if out is None:
        out = data.with_name(f"{data.stem}.train-{method}-{bits}")
    # before the slow imports (torch: seconds on a busy machine), so a refused -o is immediate
    check_output_folder(out, "train", data)
    from auditor.train import (
        check_trainable,
        fit_hasher,
        train_hasher,
        training_metrics,
        write_training,
    )
    from auditor.truth import read_truth
    from hashing.hasher import MAX_BITS, MIN_BITS
    from hashing.methods import METHODS
    from hashing.runtime.distributed import distributed_from_env

    if method not in METHODS:
        raise typer.BadParameter(
            f"unknown method {method!r}; choose one of {', '.join(METHODS)}", param_hint="--method"
        )
    if not MIN_BITS <= bits <= MAX_BITS:
        raise typer.BadParameter(
            f"must be in {MIN_BITS}..{MAX_BITS}, got {bits}", param_hint="--bits"
        )
    if epochs is not None and epochs < 1:
        raise typer.BadParameter(f"must be at least 1, got {epochs}", param_hint="--epochs")
    if holdout is not None and not 0.0 <= holdout <= 0.5:
        raise typer.BadParameter(f"must be in 0..0.5, got {holdout}", param_hint="--holdout")
    if average_epochs is not None and average_epochs < 0:
        raise typer.BadParameter(
            f"must be 0 (off) or more, got {average_epochs}", param_hint="--average-epochs"
        )
    relaunch_if_asked(ctx, nproc)
    with distributed_from_env(device) as world:
        # under torchrun every rank trains its shard; rank 0 alone evaluates, writes and prints
        if not world.is_main:
            configure_logging(quiet=True)
        columns = column_names(
            id_column, labels_column, image_column, text_column, split_column, clean_column
        )
        dataset = read_dataset(data, columns=columns, classes=parse_classes(classes))
        check_trainable(dataset)  # before any progress bar, and on every rank
        evaluated = dataset.query_mask | dataset.retrieval_database_mask
        truth_labels = (
            read_truth(truth, dataset, columns, rows=evaluated) if truth is not None else None
        )
        training: dict[str, Any] = {
            "bits": bits,
            "seed": seed,
            "epochs": epochs,
            "device": device,
            "holdout_fraction": holdout,
            "average_epochs": average_epochs,
        }
        if not world.is_main:
            fit_hasher(dataset, method, **training)
            return
        with epoch_progress(f"training {method} ({bits} bits)", quiet) as progress:
            hasher, scores, seconds = train_hasher(
                dataset,
                method,
                **training,
                progress=progress,
                truth=truth_labels,
                truth_source=f"truth:{truth}",
            )
        processes = world.world_size
    metrics = training_metrics(
        dataset,
        hasher,
        scores,
        method=method,
        bits=bits,
        seed=seed,
        seconds=seconds,
        processes=processes,
        input_path=data,
        truth=truth_labels,
        truth_path=truth,
    )
    write_training(out, hasher, metrics, data)
    if json_output:
        emit_json({key: value for key, value in metrics.items() if key != "provenance"})
        return
    result_console.print(
        f"{method} {bits} bits: mAP image→text {scores.map_i2t:.4f}, text→image "
        f"{scores.map_t2i:.4f} ({scores.n_queries} queries, {scores.n_database} database rows, "
        f"relevance from {scores.relevance_from}; random ranking "
        f"{metrics['map_random_ranking']:.4f}); {seconds:.1f} s. Model and metrics in {out}/",
        highlight=False,
        soft_wrap=True,
    )
    for line in training_notes(hasher, "relevance_note" in metrics):
        result_console.print(line, highlight=False, soft_wrap=True)


def training_notes(hasher: CrossModalHasher, noisy_relevance: bool) -> list[str]:
    """The lines after the scores: the epoch the stopping rule kept, averaged weights, and
    relevance from the noisy labels, each when it applies."""
    from auditor.train import NOISY_RELEVANCE_NOTE

    settings = hasher.settings
    notes = []
    if hasher.holdout_rows_:
        chosen = (
            f"stopping rule: epoch {hasher.selected_epoch_} of {settings.epochs} (the latest "
            f"within two standard errors of the best retrieval among {hasher.holdout_rows_} "
            f"held-out train rows, by their given labels)"
        )
        then = (
            f"; then trained again on every train row for {hasher.selected_epoch_} epochs"
            if hasher.selection_history_ is not None
            else "; the model is that epoch's, trained without the held-out rows"
        )
        notes.append(chosen + then)
    elif settings.holdout_fraction > 0:
        notes.append(
            f"stopping rule off: {settings.holdout_fraction:.0%} of the train rows is fewer than "
            f"{settings.holdout_min_rows} rows, too few to pick an epoch by (every row, last "
            f"epoch; --holdout F holds out F at any size)"
        )
    if settings.weight_average_epochs > 0:
        notes.append(
            f"weights: the moving average over about the last "
            f"{settings.weight_average_epochs:g} epochs (--average-epochs 0 keeps the last weights)"
        )
    if noisy_relevance:
        notes.append(f"Note: {NOISY_RELEVANCE_NOTE}.")
    return notes
