"""Progress output: live bars in a terminal, timestamped plain lines anywhere else (logs, CI, SLURM)."""

from __future__ import annotations

import io
import re

from rich.console import Console

from avgzsl_bench.executors.progress import LiveReporter, LogReporter, make_reporter

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
