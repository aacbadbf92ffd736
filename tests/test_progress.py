"""Progress output: live bars in a terminal, timestamped plain lines anywhere else (logs, CI, SLURM)."""

from __future__ import annotations

import io
import re

from rich.console import Console
from rich.progress import Progress

from avgzsl_bench.executors.progress import LiveReporter, LogReporter, _StepRate, make_reporter

STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"


def test_log_lines_name_the_running_item_and_every_finished_step():
    out = io.StringIO()
    with LogReporter(Console(file=out, width=200)) as progress:
        progress.start("runs", 2)
        progress.item_progress("clipclap on demo, seed 1", "stage 1 epoch 1/3, val HM 40.00", 1, 3)
        progress.item_finished("clipclap on demo, seed 1", "done")
    lines = out.getvalue().splitlines()
    assert all(re.match(STAMP, line) for line in lines)
    assert [re.sub(STAMP + " ", "", line) for line in lines] == [
        "runs: 2 in all",
        "[0/2] clipclap on demo, seed 1: stage 1 epoch 1/3, val HM 40.00",
        "[1/2] clipclap on demo, seed 1: done",
    ]


def test_counts_are_throttled_in_logs_unless_first_forced_or_finished():
    out = io.StringIO()
    with LogReporter(Console(file=out, width=200), interval_s=3600) as progress:
        progress.count("videos", 0, 3)
        progress.count("videos", 1, 3)  # within the interval: no line
        progress.count("text prompts (clap)", 256, 600, force=True)
        progress.count("videos", 3, 3)  # finished: always a line
    assert [re.sub(STAMP + " ", "", line) for line in out.getvalue().splitlines()] == [
        "videos: 0/3",
        "text prompts (clap): 256/600",
        "videos: 3/3",
    ]


def test_a_terminal_gets_a_live_display_and_quiet_gets_nothing():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    reporter = make_reporter(console=console)
    assert isinstance(reporter, LiveReporter)
    with reporter:
        reporter.count("text prompts (clip)", 2, 2)
    assert "text prompts (clip)" in out.getvalue() and not re.search(STAMP, out.getvalue())
    quiet = io.StringIO()
    with make_reporter(quiet=True, console=Console(file=quiet)) as silent:
        silent.start("runs", 1)
        silent.item_finished("x", "done")
    assert quiet.getvalue() == ""


class _Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_log_shows_steps_within_a_long_epoch_at_most_every_interval_and_none_for_a_short_one(monkeypatch):
    clock, out = _Clock(), io.StringIO()
    monkeypatch.setattr("avgzsl_bench.executors.progress.time.monotonic", clock)
    with LogReporter(Console(file=out, width=200), step_interval_s=30) as progress:
        progress.start("runs", 1)
        progress.item_steps("avca on ucf, seed 1", "stage 1 epoch 1/2", 5, 500)  # the phase begins
        clock.now += 10
        progress.item_steps("avca on ucf, seed 1", "stage 1 epoch 1/2", 55, 500)  # 10 s: too soon
        clock.now += 20
        progress.item_steps("avca on ucf, seed 1", "stage 1 epoch 1/2", 155, 500)  # 30 s: a line
        clock.now += 29
        progress.item_steps("avca on ucf, seed 1", "stage 1 epoch 1/2", 300, 500)  # 29 s after it: none
        for step in range(5, 501, 5):  # a whole epoch within 25 s: no line at all
            clock.now += 0.05
            progress.item_steps("avca on ucf, seed 1", "stage 1 epoch 2/2", step, 500)
    assert [re.sub(STAMP + " ", "", line) for line in out.getvalue().splitlines()] == [
        "runs: 1 in all",
        "[0/1] avca on ucf, seed 1: stage 1 epoch 1/2: step 155/500, 5.00 steps/s, ETA 1:09",
    ]


def test_a_terminal_counts_the_steps_of_the_epoch_with_their_rate():
    console = Console(file=io.StringIO(), force_terminal=True, width=160)
    with LiveReporter(console) as reporter:
        reporter.start("runs", 1)
        reporter.item_started("avca on ucf, seed 1")
        reporter.item_steps("avca on ucf, seed 1", "stage 1 epoch 1/2", 100, 500)
        reporter.item_steps("avca on ucf, seed 1", "stage 1 epoch 2/2", 20, 500)  # a new epoch: counted anew
        (steps,) = [task for task in reporter._progress.tasks if task.fields.get("steps")]
        assert (steps.completed, steps.total, steps.description) == (20, 500, "    stage 1 epoch 2/2: steps")
        reporter.item_finished("avca on ucf, seed 1", "done")
        assert not [task for task in reporter._progress.tasks if task.fields.get("steps")]


def test_the_step_rate_column_shows_steps_per_second_on_step_counters_only():
    clock = _Clock()
    progress = Progress(get_time=clock)
    steps, other = progress.add_task("steps", total=500, steps=True), progress.add_task("videos", total=500)
    for task in (steps, other):
        progress.update(task, completed=10)
    clock.now += 4
    for task in (steps, other):
        progress.update(task, completed=30)
    assert _StepRate().render(progress.tasks[steps]).plain == "5.0 steps/s"
    assert _StepRate().render(progress.tasks[other]).plain == ""
