"""Byte progress of one download: a live `rich` bar in a terminal, a line per tenth when piped."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

ByteCallback = Callable[[int, "int | None"], None]
LOG_STEPS = 10  # lines per download when the output is not a terminal
LOG_UNKNOWN_SIZE_BYTES = 256 << 20  # without a known size: one line per this many bytes


def _size(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.1f} {unit}" if unit != "B" else f"{int(count)} B"
        count /= 1024
    return f"{count:.1f} GB"


@contextmanager
def transfer_progress(label: str, console: Console | None = None, quiet: bool = False) -> Iterator[ByteCallback]:
    """Yields `update(bytes_so_far, bytes_total_or_None)`, to be called after every chunk."""
    console = console or Console(stderr=True)
    if quiet:
        yield lambda done, total: None
    elif console.is_terminal:
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
        with Progress(*columns, TimeRemainingColumn(), console=console) as progress:
            task = progress.add_task(label, total=None)
            yield lambda done, total: progress.update(task, completed=done, total=total)
    else:
        yield _log_lines(label, console)


def _log_lines(label: str, console: Console) -> ByteCallback:
    started, next_mark = time.monotonic(), [0]

    def update(done: int, total: int | None) -> None:
        step = total / LOG_STEPS if total else LOG_UNKNOWN_SIZE_BYTES
        if done < next_mark[0] and not (total and done >= total):
            return
        next_mark[0] = done + max(1, int(step))
        rate = done / max(time.monotonic() - started, 1e-9)
        share = f" ({100 * done / total:.0f}%)" if total else ""
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        console.print(f"{stamp} {label}: {_size(done)}{share}, {_size(rate)}/s", highlight=False, soft_wrap=True)

    return update
