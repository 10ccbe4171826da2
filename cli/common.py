"""Pieces every command shares: options, error handling, output on stderr/stdout."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import os
import signal
import sys
import tomllib
import types
import typing
import warnings
from collections.abc import Callable, Iterator
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
T = TypeVar("T")

MAX_SEED = 2**32 - 1  # numpy's and torch's seeds are 32-bit


def check_seed(value: int | None) -> int | None:
    """``--seed`` callback: a seed must be in 0..2**32-1 (numpy refuses others deep inside)."""
    if value is not None and not 0 <= value <= MAX_SEED:
        raise typer.BadParameter(f"must be in 0..{MAX_SEED}, got {value}")
    return value


def check_device(value: str | None) -> str | None:
    """``--device`` callback: auto, cpu, cuda or cuda:N, and cuda only where CUDA is present."""
    if value is None or value in ("auto", "cpu"):
        return value
    kind, _, index = value.partition(":")
    if kind != "cuda" or (index and not index.isdigit()):
        raise typer.BadParameter(f"unknown device {value!r}: choose auto, cpu, cuda or cuda:N")
    import torch  # only here: the option check must not slow down every start

    if not torch.cuda.is_available():
        raise typer.BadParameter(f"{value} asked for, but CUDA is not available here: use cpu")
    if index and int(index) >= torch.cuda.device_count():
        raise typer.BadParameter(
            f"{value}: this machine has {torch.cuda.device_count()} CUDA device(s)"
        )
    return value


SeedOption = Annotated[
    int, typer.Option("--seed", help="Seed of every random choice.", callback=check_seed)
]


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

SettingSeedOption = Annotated[
    int | None,
    typer.Option(
        "--seed",
        help="Seed of every random choice.",
        show_default="0 or --config",
        callback=check_seed,
    ),
]
"""``--seed`` of a command with ``--config``: None lets the file's value stand."""
QuietOption = Annotated[bool, typer.Option("-q", "--quiet", help="No progress or status lines.")]
DeviceOption = Annotated[
    str | None,
    typer.Option(
        "--device", help="cpu or cuda.", show_default="cuda when present", callback=check_device
    ),
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
    id_column: str,
    labels_column: str,
    image_column: str,
    text_column: str,
    split_column: str,
    clean_column: str,
) -> ColumnNames:
    """The column options' values (defaults: ``ColumnNames``') as a ``ColumnNames``."""
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


CLASS_FILE_SUFFIXES = (".txt", ".csv", ".tsv", ".list", ".names")


def parse_classes(value: str | None) -> list[str] | None:
    """``--classes``: a file with one name per line, or a comma-separated list."""
    if value is None:
        return None
    path = Path(value)
    if path.is_file():
        names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    elif path.is_dir():
        raise DataError("--classes names a folder, not a file of class names", file=value)
    elif "," not in value and (
        "/" in value or os.sep in value or path.suffix.lower() in CLASS_FILE_SUFFIXES
    ):
        # a missing file would otherwise be read silently as one class with a file's name
        raise DataError(
            "--classes: no such file (give a text file with one class name per line, or the "
            "names separated by commas)",
            file=value,
        )
    else:
        names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise DataError("--classes names no classes")
    return names


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``timeout``, batch schedulers), raised like Ctrl-C so that every
    atomic writer removes what it had started."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated()


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` while a command runs (main thread only)."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread: signals cannot be handled here
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def usage_errors(
    kinds: tuple[type[Exception], ...] = (ValueError,), option: str | None = None
) -> Iterator[None]:
    """Inside: a ValueError (or one of ``kinds``) the library raises on an option's value becomes
    typer's usage error: one line, exit code 2, naming ``option`` when the block reads one."""
    try:
        yield
    except kinds as error:
        raise typer.BadParameter(str(error), param_hint=option) from None


def handle_errors(command: F) -> F:
    """Bad input -> one line on stderr and exit 2; Ctrl-C -> exit 130, SIGTERM -> exit 143
    (nothing left behind either way); anything unexpected -> exit 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with sigterm_as_interrupt():
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
        except KeyboardInterrupt as interrupt:
            status_console.print("interrupted")
            raise typer.Exit(143 if isinstance(interrupt, Terminated) else 130) from None
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
    # Python warnings (numpy's RuntimeWarnings on degenerate data, libraries' notices) become
    # one status line each, and none with -q, instead of raw source excerpts on the terminal.
    warnings.showwarning = _warning_as_note
    logging.getLogger(WARNINGS_LOGGER).setLevel(logging.ERROR if quiet else logging.INFO)
    # faiss logs which of its builds it tried at INFO (eight lines of failed AVX imports): a
    # library's internals, not the user's status.
    logging.getLogger("faiss").setLevel(logging.WARNING)


WARNINGS_LOGGER = "hashaudit.warnings"


def _warning_as_note(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    text = str(message).strip().splitlines()[0] if str(message).strip() else ""
    hint = " (the data may be degenerate)" if issubclass(category, RuntimeWarning) else ""
    logging.getLogger(WARNINGS_LOGGER).warning("note: %s: %s%s", category.__name__, text, hint)


def status(message: str, quiet: bool) -> None:
    if not quiet:
        status_console.print(message, highlight=False, soft_wrap=True)


def emit_json(summary: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")


def emit_summary(summary: dict[str, Any], line: str, json_output: bool, quiet: bool) -> None:
    """A command's closing word: with ``--json`` the summary on stdout, otherwise ``line`` as a
    status line on stderr (none with ``-q``)."""
    if json_output:
        emit_json(summary)
    else:
        status(line, quiet)


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
    hints = typing.get_type_hints(settings_class)
    for key, value in values.items():
        if not value_matches(value, hints[key]):
            raise DataError(
                f"setting {key} = {value!r} has the wrong type: expected {type_name(hints[key])}",
                file=str(path),
            )
    return values


def settings_from_sources(
    settings_class: type[T],
    from_file: dict[str, Any],
    given: dict[str, Any],
    config: Path | None,
    options: dict[str, str] | None = None,
) -> T:
    """``settings_class`` from a --config file's fields (``from_file``) overridden by the options
    given on the command line (``given``: field -> value; each field's option is its name with
    dashes unless ``options`` names another). A value the settings refuse is reported where it
    came from: the option (``Invalid value for --noise-rate: must be in [0, 1], got 2.0``) or
    the config file (named, as any bad input); either way exit code 2."""
    try:
        return settings_class(**{**from_file, **given})
    except (ValueError, TypeError) as error:
        message = str(error)
        field, _, rest = message.partition(" ")
        if field in given and rest:
            option = (options or {}).get(field, "--" + field.replace("_", "-"))
            raise typer.BadParameter(rest, param_hint=option) from None
        if config is not None and field in from_file:
            raise DataError(f"setting {message}", file=str(config)) from None
        raise typer.BadParameter(message) from None


def value_matches(value: Any, hint: Any) -> bool:
    """Whether a TOML value fits a settings field's type hint (lists stand for tuples, strings
    for paths, integers for floats; a hint this does not know accepts anything)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(value_matches(value, arg) for arg in args)
    if origin is typing.Literal:
        return value in args
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(value_matches(item, args[0]) for item in value)
        if args:
            return len(args) == len(value) and all(map(value_matches, value, args))
        return True
    if origin is dict:
        return isinstance(value, dict)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is Path:
        return isinstance(value, str)
    if isinstance(hint, type) and origin is None:
        return isinstance(value, hint)
    return True


def type_name(hint: Any) -> str:
    """A settings field's type in words: ``int``, ``float or none``, ``list of str``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(arg) for arg in args if arg is not type(None))
    if origin in (tuple, list):
        return f"a list of {type_name(args[0])}" if args else "a list"
    if origin is typing.Literal:
        return " or ".join(repr(arg) for arg in args)
    if hint is Path:
        return "a path (string)"
    return getattr(hint, "__name__", str(hint))


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
RateResamplesOption = Annotated[
    int | None,
    typer.Option(
        "--rate-resamples",
        help="Resamples of the rows the noise rate's spread (± two standard deviations) is "
        "read from; 0 = no spread.",
        show_default="20",
    ),
]
NoiseDirectionOption = Annotated[
    str | None,
    typer.Option(
        "--noise",
        help="Direction of the noise when you know it: missing (tags only ever left out), "
        "spurious (tags only ever added), both (tags left out and added: removals even when "
        "most noise is missing tags). Use it when you know how the labels were made or the "
        "scan says the noise is not identifiable.",
        show_default="the estimate",
    ),
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
