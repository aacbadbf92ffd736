"""Progress of long steps: live bars on a terminal, timestamped plain lines otherwise (logs, CI, SLURM).

Rich redraws bars in place, which a log file cannot show; with output going anywhere but a
terminal each step prints ``<time> <label>: <done>/<total>`` instead, at most every
``interval_s`` seconds per label (and always on its last step or when forced).
"""

from __future__ import annotations

import time

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


def timestamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


class ProgressReporter:
    """Context manager; ``update(label, done, total)`` creates the label's bar on first use."""

    def __init__(self, console: Console, interval_s: float = 10.0) -> None:
        self.console = console
        self.interval_s = interval_s
        self._live = console.is_terminal
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._last_line: dict[str, float] = {}
        self._state: dict[str, tuple[int, int | None]] = {}  # label -> (done, total)

    def __enter__(self) -> ProgressReporter:
        if self._live:
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
            )
            self._progress = Progress(*columns, console=self.console)
            self._progress.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc_info)
            self._progress = None

    def advance(self, label: str, step: int = 1) -> None:
        done, total = self._state.get(label, (0, None))
        self.update(label, done + step, total)

    def update(self, label: str, done: int, total: int | None = None, force: bool = False) -> None:
        self._state[label] = (done, total)
        if self._progress is not None:
            if label not in self._tasks:
                self._tasks[label] = self._progress.add_task(label, total=total)
            self._progress.update(self._tasks[label], completed=done, total=total)
            return
        now = time.monotonic()
        finished = total is not None and done >= total
        if force or finished or now - self._last_line.get(label, -float("inf")) >= self.interval_s:
            self._last_line[label] = now
            self.console.print(
                f"{timestamp()} {label}: {done}/{total if total is not None else '?'}", markup=False, highlight=False
            )

    def note(self, message: str) -> None:
        """A message above the bars (or a plain line)."""
        target = self._progress.console if self._progress is not None else self.console
        target.print(message)
