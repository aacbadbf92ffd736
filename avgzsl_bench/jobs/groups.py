"""Job groups, and the one place that decides how a group's runs are trained.

A group is the unit of work: the jobs of one configuration that differ only in the seed (or one
job alone). `choose_trainer` picks the trainer of the runs a group actually trains: the stacked
trainer (the runs as one vmapped model) for several runs on CUDA under `--stack auto`, or
whenever `--stack on`; the plain one-run trainer otherwise. On a CPU a step is bound by its
arithmetic, which stacking does not reduce: the stacked step measured slower than the runs one
after another for every built-in method (`benchmarks/table1_speed.py`), so `auto` stacks on CUDA
only. A method that cannot be stacked (`training.stack_reason`) always trains alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch

from avgzsl_bench.api import get_method
from avgzsl_bench.jobs.defaults import STACK_CHOICES
from avgzsl_bench.jobs.job import Job
from avgzsl_bench.protocol.stages import TrainerFactory


@dataclass(frozen=True)
class JobGroup:
    """Jobs that differ only in the seed, trained together (one job: a group of one)."""

    jobs: tuple[Job, ...]

    def __str__(self) -> str:
        first = self.jobs[0]
        if len(self.jobs) == 1:
            return str(first)
        return f"{first.method} on {first.source.dataset}, seeds {', '.join(str(job.seed) for job in self.jobs)}"


def stacks(method: str, device: torch.device, stack: str) -> bool:
    """Whether `method`'s seeds are grouped into one stacked model on `device` under `--stack`."""
    if stack not in STACK_CHOICES:
        raise ValueError(f"stack must be one of {STACK_CHOICES}, got {stack!r}")
    if stack == "off" or (stack == "auto" and device.type != "cuda"):
        return False
    from avgzsl_bench.training.stackable import stack_reason

    return stack_reason(get_method(method)) is None


def choose_trainer(method: str, device: torch.device, stack: str, runs: int) -> TrainerFactory:
    """The trainer of `runs` runs of `method`: stacked where `stacks` says so and either there are
    several runs or `--stack on` asks for it; the one-run trainer otherwise."""
    # Imported on use: the stacked trainer's machinery (torch.func) is not needed for one run.
    if stacks(method, device, stack) and (runs > 1 or stack == "on"):
        from avgzsl_bench.training.stacked import StackedTrainer

        return StackedTrainer
    if runs != 1:
        raise ValueError(f"{runs} runs of '{method}' are not stacked on {device} under --stack {stack}")
    from avgzsl_bench.training.trainer import RunTrainer

    return RunTrainer


def group_jobs(jobs: Iterable[Job], device: torch.device, stack: str = "auto") -> list[JobGroup]:
    """The jobs grouped by configuration, in first-seen order; a job whose method is not stacked on
    `device` is a group of its own."""
    groups: dict[Any, list[Job]] = {}
    for index, job in enumerate(jobs):
        key = (job.config_hash, job.threads) if stacks(job.method, device, stack) else ("alone", index)
        groups.setdefault(key, []).append(job)
    return [JobGroup(tuple(members)) for members in groups.values()]
