"""Progress of an evaluation: rich spinners and bars on stderr, or nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress


class Steps:
    """Rich progress on stderr for :func:`evaluate`, or nothing when progress is off."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress

    @contextmanager
    def step(self, description: str) -> Iterator[None]:
        """A spinner while one step of unknown length runs."""
        if self.progress is None:
            yield
            return
        task_id = self.progress.add_task(description, total=None)
        try:
            yield
        finally:
            self.progress.remove_task(task_id)

    def counter(self, description: str, total: int) -> Callable[[], None]:
        """A bar over ``total`` items; call the returned function once per item."""
        progress = self.progress
        if progress is None:
            return lambda: None
        task_id = progress.add_task(description, total=total)
        return lambda: progress.advance(task_id)


@contextmanager
def progress_steps(enabled: bool) -> Iterator[Steps]:
    if not enabled:
        yield Steps(None)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=Console(stderr=True), transient=True) as progress:
        yield Steps(progress)
