"""Every progress display of the command line: rich bars on stderr, driven by the callbacks the
library takes (``progress(epoch, n_epochs, logs)`` for training, ``start``/``advance`` for
embedding)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

from rich import progress as rich_progress
from rich.console import Console

from cli.common import status_console

if TYPE_CHECKING:  # hashing imports torch; the command line loads it only when a command runs
    from hashing.hasher import ProgressCallback

ProgressFactory = Callable[[str], "ProgressCallback | None"]


def bars(
    description: str, *extra: rich_progress.ProgressColumn, **options: Any
) -> rich_progress.Progress:
    """rich progress bars on stderr: the task's description (in the ``description`` format), the
    bar, steps done of all, time elapsed, then the ``extra`` columns; ``options`` go to
    ``rich.progress.Progress``."""
    return rich_progress.Progress(
        rich_progress.TextColumn(description),
        rich_progress.BarColumn(),
        rich_progress.MofNCompleteColumn(),
        rich_progress.TimeElapsedColumn(),
        *extra,
        console=status_console,
        **options,
    )


@contextlib.contextmanager
def epoch_progress(
    description: str, quiet: bool
) -> Iterator[Callable[[int, int, dict[str, float]], None]]:
    """A rich progress bar on stderr, driven by a ``progress(epoch, n_epochs, logs)`` callback."""
    if quiet:
        yield lambda epoch, n_epochs, logs: None
        return
    loss_column = rich_progress.TextColumn("{task.fields[loss]}")
    with bars("{task.description}", loss_column, transient=False) as bar:
        task = bar.add_task(description, total=None, loss="")

        def update(epoch: int, n_epochs: int, logs: dict[str, float]) -> None:
            loss = logs.get("loss")
            bar.update(
                task,
                completed=epoch,
                total=n_epochs,
                loss=f"loss {loss:.4f}" if loss is not None else "",
            )

        yield update


@contextlib.contextmanager
def stage_progress(quiet: bool) -> Iterator[ProgressFactory | None]:
    """One rich progress bar per detector (epochs for hashers, one step for baselines): yields
    ``progress_for(name)``, or None when quiet."""
    if quiet:
        yield None
        return
    with bars("{task.description:<10}") as bar:

        def progress_for(name: str) -> ProgressCallback:
            task = bar.add_task(name, total=None)

            def update(epoch: int, n_epochs: int, logs: dict[str, float]) -> None:
                bar.update(task, completed=epoch, total=n_epochs)

            return update

        yield progress_for


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
        self._progress = bars(
            "{task.description:<16}", rich_progress.TimeRemainingColumn(), disable=quiet
        )
        self._tasks: dict[str, rich_progress.TaskID] = {}

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
