"""Progress output: live bars on a terminal, timestamped plain lines anywhere else."""

from __future__ import annotations

import io
import re

from rich.console import Console

from feature_zoo.progress import ProgressReporter
from feature_zoo.text import ensemble_embeddings

STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"


def test_plain_lines_are_throttled_unless_forced_or_finished():
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    with ProgressReporter(console, interval_s=3600) as progress:
        progress.update("videos", 0, 3)
        progress.advance("videos")  # within the interval: no line
        progress.update("text prompts (clap)", 256, 600, force=True)
        progress.advance("videos", 2)  # finished: always a line
    lines = out.getvalue().splitlines()
    assert [re.sub(STAMP + " ", "", line) for line in lines] == [
        "videos: 0/3",
        "text prompts (clap): 256/600",
        "videos: 3/3",
    ]
    assert all(re.match(STAMP, line) for line in lines)


def test_terminal_gets_bars_not_timestamped_lines():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    with ProgressReporter(console) as progress:
        progress.update("text prompts (clip)", 1, 2, force=True)
        progress.update("text prompts (clip)", 2, 2, force=True)
    assert "text prompts (clip)" in out.getvalue() and not re.search(STAMP, out.getvalue())


def test_prompt_ensembles_report_every_chunk(monkeypatch):
    import torch

    monkeypatch.setattr("feature_zoo.text.TEXT_BATCH", 4)
    calls: list[tuple[int, int]] = []
    ensemble_embeddings(
        lambda prompts: torch.ones(len(prompts), 3),
        ["a", "b", "c"],
        ["{} x", "{} y", "{} z"],
        on_chunk=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(4, 9), (8, 9), (9, 9)]
