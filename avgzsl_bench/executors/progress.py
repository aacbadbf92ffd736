"""Feedback for long work: a live display in a terminal, timestamped log lines everywhere else.

Work is a list of *items* (benchmark runs, video shards, ...), each known by a label. Whoever runs
the items reports `item_started`, sub-progress of the running item (`item_progress`: "stage 1
epoch 3/20, val HM 41.2"), and `item_finished`. In a terminal this drives a `rich` display with
an overall bar and ETA plus a line for the running item; when output is piped to a file (cluster
logs), every finished sub-step and item becomes one timestamped line, so a log is never silent.
Long counts of small steps (videos decoded, prompts encoded) use `count`, which a log shows at
most every `interval_s` seconds per label, plus the first and the last step. The steps within a
long phase of an item (the batches of an epoch) use `item_steps`: a live counter with steps/s and
ETA in a terminal; in a log, a line at most every `step_interval_s` seconds, so a short phase
leaves no line at all.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

STEP_INTERVAL_S = 30.0  # a log's longest silence within a long phase


class Reporter:
    """Silent base: every hook is a no-op."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)

    def __enter__(self) -> Reporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, description: str, total: int) -> None:
        """A batch of `total` items begins."""

    def item_started(self, label: str) -> None:
        """An item begins (where the executor knows it; remote backends may not)."""

    def item_progress(
        self, label: str, description: str, completed: float | None = None, total: float | None = None
    ) -> None:
        """A running item reports a finished sub-step."""

    def item_finished(self, label: str, outcome: str, ok: bool = True) -> None:
        """An item ended: `outcome` says how ("done", "failed: ...", "retrying: ...")."""

    def item_steps(self, label: str, phase: str, done: int, total: int) -> None:
        """`done` of the `total` steps of a running item's current `phase` ("stage 1 epoch 3/20")
        are finished; called often, so it must stay cheap."""

    def count(self, label: str, done: int, total: int | None = None, force: bool = False) -> None:
        """`done` of `total` small steps of `label` are finished."""

    def note(self, text: str, style: str = "") -> None:
        """A message that must be seen whatever the display mode."""
        self.console.print(escape(text), style=style or None, highlight=False, soft_wrap=True)

    def close(self) -> None:
        """End the display."""


@dataclass
class _Phase:
    """Where a log stands in an item's phase: its name, when and at which step it was first heard
    of, and when its last line was written."""

    name: str
    started: float
    first_step: int
    last_line: float

    def rate(self, done: int, now: float) -> float:
        return (done - self.first_step) / (now - self.started) if now > self.started else 0.0


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class LogReporter(Reporter):
    """One timestamped line per finished sub-step and per finished item (for non-terminals)."""

    def __init__(
        self, console: Console | None = None, interval_s: float = 10.0, step_interval_s: float = STEP_INTERVAL_S
    ) -> None:
        super().__init__(console)
        self._done, self._total, self._description = 0, 0, ""
        self.interval_s, self.step_interval_s = interval_s, step_interval_s
        self._last_count: dict[str, float] = {}
        self._phases: dict[str, _Phase] = {}

    def _line(self, text: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self.console.print(f"{stamp} {escape(text)}", highlight=False, soft_wrap=True)
        self.console.file.flush()

    def start(self, description: str, total: int) -> None:
        self._done, self._total, self._description = 0, total, description
        self._line(f"{description}: {total} in all")

    def item_progress(
        self, label: str, description: str, completed: float | None = None, total: float | None = None
    ) -> None:
        self._line(f"[{self._done}/{self._total}] {label}: {description}")

    def item_steps(self, label: str, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        state = self._phases.get(label)
        if state is None or state.name != phase:
            self._phases[label] = _Phase(phase, now, done, now)
            return
        if now - state.last_line < self.step_interval_s:
            return
        state.last_line = now
        rate = state.rate(done, now)
        eta = f", ETA {_clock((total - done) / rate)}" if rate > 0 else ""
        self._line(f"[{self._done}/{self._total}] {label}: {phase}: step {done}/{total}, {rate:.2f} steps/s{eta}")

    def item_finished(self, label: str, outcome: str, ok: bool = True) -> None:
        self._phases.pop(label, None)
        if ok:
            self._done += 1
        self._line(f"[{self._done}/{self._total}] {label}: {outcome}")

    def count(self, label: str, done: int, total: int | None = None, force: bool = False) -> None:
        now = time.monotonic()
        first = label not in self._last_count
        finished = total is not None and done >= total
        if force or first or finished or now - self._last_count[label] >= self.interval_s:
            self._last_count[label] = now
            self._line(f"{label}: {done}/{total if total is not None else '?'}")


class _StepRate(ProgressColumn):
    """Steps per second, on the step counters only."""

    def render(self, task: Task) -> Text:
        speed = task.speed if task.fields.get("steps") else None
        return Text("" if speed is None else f"{speed:.1f} steps/s")


class LiveReporter(Reporter):
    """A `rich` display: overall bar with ETA, the running item's description and sub-bar, and a
    step counter with steps/s and ETA within the running item's current phase."""

    def __init__(self, console: Console | None = None) -> None:
        super().__init__(console)
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            _StepRate(),
            console=self.console,
            transient=True,
        )
        self._progress.start()
        self._overall: Any = None
        self._items: dict[str, Any] = {}
        self._steps: dict[str, tuple[Any, str]] = {}  # label -> (its step task, the phase it counts)
        self._description = ""

    def start(self, description: str, total: int) -> None:
        self._description = description
        self._overall = self._progress.add_task(escape(description), total=total)

    def item_started(self, label: str) -> None:
        if label not in self._items:
            self._items[label] = self._progress.add_task(f"  {escape(label)}", total=None)

    def item_progress(
        self, label: str, description: str, completed: float | None = None, total: float | None = None
    ) -> None:
        self.item_started(label)
        self._progress.update(
            self._items[label],
            completed=completed,
            total=total,
            description=f"  {escape(label)}: {escape(description)}",
        )

    def item_steps(self, label: str, phase: str, done: int, total: int) -> None:
        task, counting = self._steps.get(label, (None, ""))
        description = f"    {escape(phase)}: steps"
        if task is None:
            task = self._progress.add_task(description, total=total, completed=done, steps=True)
        elif counting != phase:  # a new epoch: its own rate and ETA
            self._progress.reset(task, total=total, completed=done, description=description)
        else:
            self._progress.update(task, completed=done)
        self._steps[label] = (task, phase)

    def item_finished(self, label: str, outcome: str, ok: bool = True) -> None:
        steps, _ = self._steps.pop(label, (None, ""))
        if steps is not None:
            self._progress.remove_task(steps)
        task = self._items.pop(label, None)
        if task is not None:
            self._progress.remove_task(task)
        if ok and self._overall is not None:
            self._progress.advance(self._overall)
        if not ok or outcome != "done":
            self._progress.console.print(
                f"{escape(label)}: {escape(outcome)}", style=None if ok else "yellow", highlight=False
            )

    def count(self, label: str, done: int, total: int | None = None, force: bool = False) -> None:
        if label not in self._items:
            self._items[label] = self._progress.add_task(escape(label), total=total)
        self._progress.update(self._items[label], completed=done, total=total)

    def note(self, text: str, style: str = "") -> None:
        self._progress.console.print(escape(text), style=style or None, highlight=False, soft_wrap=True)

    def close(self) -> None:
        self._progress.stop()


def make_reporter(quiet: bool = False, console: Console | None = None) -> Reporter:
    """Live display on a terminal, log lines otherwise, nothing with `quiet`."""
    console = console or Console(stderr=True)
    if quiet:
        return Reporter(console)
    if console.is_terminal:
        return LiveReporter(console)
    return LogReporter(console)
