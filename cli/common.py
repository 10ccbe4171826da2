"""Pieces every command shares: options, error handling, output on stderr/stdout."""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import typer.core
from rich.console import Console
from typer.exceptions import TyperException

from auditor.dataset import ColumnNames, DataError

# Progress and status go to stderr; results go to stdout (so `--json` output can be piped).
status_console = Console(stderr=True)
result_console = Console()

F = TypeVar("F", bound=Callable[..., Any])


def _flag_type(self: typer.core.TyperOption, ctx: Any) -> str | None:
    """The type column of ``--help``: nothing for a flag (typer 0.29 shows ``<bool>``, as if
    ``--json`` took a value), the type otherwise."""
    if self.is_flag and self.metavar is None:
        return None
    return _typer_display_type_rich(self, ctx)


_typer_display_type_rich = typer.core.TyperOption.display_type_rich
typer.core.TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]

# Names the help texts list. The command line does not import the library modules that define
# them at start-up (they load torch); tests/cli/test_startup.py pins each to its source.
METHOD_NAMES = ("plain", "rshnl", "scbch", "nrch")
"""hashing.methods.METHODS: the hashers `audit train` and `audit bench` train."""
SCAN_HASHERS = ("rshnl", "scbch", "nrch")
"""auditor.detectors.HASHER_DETECTORS: the noise-robust hashers a scan trains."""
EXPORT_FORMATS = ("coco", "table", "hf")
"""auditor.export_formats.FORMATS: what `audit export --to` writes back."""
BITS_RANGE = (8, 256)
"""hashing.hasher.MIN_BITS, MAX_BITS."""

SeedOption = Annotated[int, typer.Option("--seed", help="Seed of every random choice.")]
SettingSeedOption = Annotated[
    int | None,
    typer.Option("--seed", help="Seed of every random choice.", show_default="0 or --config"),
]
"""``--seed`` of a command with ``--config``: None lets the file's value stand."""
QuietOption = Annotated[bool, typer.Option("-q", "--quiet", help="No progress or status lines.")]
DeviceOption = Annotated[
    str | None,
    typer.Option("--device", help="cpu or cuda.", show_default="cuda when present"),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print a machine-readable summary (JSON) on stdout.")
]
IdColumn = Annotated[str, typer.Option("--id-column", help="Column of unique row ids.")]
LabelsColumn = Annotated[
    str, typer.Option("--labels-column", help="Column of given labels (list of names or numbers).")
]
ImageColumn = Annotated[
    str, typer.Option("--image-embedding-column", help="Column of image embeddings.")
]
TextColumn = Annotated[
    str, typer.Option("--text-embedding-column", help="Column of text embeddings.")
]
SplitColumn = Annotated[
    str, typer.Option("--split-column", help="Column of splits: train / query / database.")
]
CleanColumn = Annotated[
    str, typer.Option("--clean-labels-column", help="Column of ground-truth labels, when known.")
]
ClassesOption = Annotated[
    str | None,
    typer.Option(
        "--classes",
        help="Class names in order, comma-separated or a text file with one per line; needed "
        "when labels are class numbers and the file's metadata has no class list.",
    ),
]


def column_names(
    id_column: str = "id",
    labels_column: str = "labels",
    image_column: str = "image_embedding",
    text_column: str = "text_embedding",
    split_column: str = "split",
    clean_column: str = "clean_labels",
) -> ColumnNames:
    return ColumnNames(
        id=id_column,
        labels=labels_column,
        image_embedding=image_column,
        text_embedding=text_column,
        split=split_column,
        clean_labels=clean_column,
    )


def options_given(ctx: typer.Context, **fields: tuple[str, Any]) -> dict[str, Any]:
    """``field=(parameter, value)`` pairs -> ``{field: value}`` for the parameters the user gave
    (on the command line or through the environment), so that a ``--config`` file's values
    stand unless an option overrides them while ``--help`` still shows the real defaults."""
    given = {}
    for field, (parameter, value) in fields.items():
        source = ctx.get_parameter_source(parameter)
        if source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP"):
            given[field] = value
    return given


def parse_classes(value: str | None) -> list[str] | None:
    """``--classes``: a file with one name per line, or a comma-separated list."""
    if value is None:
        return None
    path = Path(value)
    if path.is_file():
        names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    else:
        names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise DataError("--classes names no classes")
    return names


def handle_errors(command: F) -> F:
    """Bad input -> one line on stderr and exit 2; anything unexpected -> exit 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except DataError as error:
            # under torchrun every rank meets the same bad input: rank 0 alone says so
            if os.environ.get("RANK", "0") == "0":
                status_console.print(
                    f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True
                )
            raise typer.Exit(2) from None
        except (typer.Exit, TyperException):
            raise  # typer's own exits and usage errors (exit code 2) pass through
        except KeyboardInterrupt:
            status_console.print("interrupted")
            raise typer.Exit(130) from None
        except Exception as error:  # noqa: BLE001 - the last line of defence of the CLI
            logging.getLogger("cli").debug("unexpected failure", exc_info=True)
            status_console.print(
                f"[bold red]unexpected failure:[/] {type(error).__name__}: {error}",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def configure_logging(quiet: bool) -> None:
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(message)s",
        stream=sys.stderr,
        force=True,
    )


def status(message: str, quiet: bool) -> None:
    if not quiet:
        status_console.print(message, highlight=False, soft_wrap=True)


def emit_json(summary: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")


def read_toml_settings(path: Path | None, settings_class: type) -> dict[str, Any]:
    """Fields for a settings dataclass from a TOML file (``--config``); unknown keys are errors."""
    if path is None:
        return {}
    if not path.is_file():
        raise DataError("no such file", file=str(path))
    try:
        values = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise DataError(f"not valid TOML ({error})", file=str(path)) from error
    known = {f.name for f in dataclasses.fields(settings_class)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise DataError(
            f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
            file=str(path),
        )
    return values


# Options of the scan, shared by `audit scan` and `audit bench` (the loop's scans).
MethodsOption = Annotated[
    str | None,
    typer.Option(
        "--methods",
        help=f"Comma-separated hashers to train: {','.join(SCAN_HASHERS)}; 'none' runs the "
        "baselines only.",
        show_default="all three",
    ),
]
BitsOption = Annotated[
    int | None, typer.Option("--bits", help="Code length.", show_default="64 or --config")
]
EpochsOption = Annotated[
    int | None,
    typer.Option("--epochs", help="Epochs of every hasher.", show_default="each method's"),
]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="TOML file of ScanSettings fields.")
]
NoiseRateOption = Annotated[
    float | None,
    typer.Option("--noise-rate", help="Share of rows to flag.", show_default="the estimate"),
]


def parse_methods(value: str | None, option: str = "--methods") -> tuple[str, ...] | None:
    """``--methods`` text -> hasher names (None: the default; "none": baselines only)."""
    if value is None:
        return None
    if value.strip().lower() == "none":
        return ()
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    unknown = [name for name in names if name not in SCAN_HASHERS]
    if unknown:
        raise typer.BadParameter(
            f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(SCAN_HASHERS)}",
            param_hint=option,
        )
    return names
