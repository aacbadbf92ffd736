"""Stacked benchmark jobs: the seeds of one configuration trained as one model.

`group_jobs` groups jobs that differ only in the seed (same method, data source, hyper-parameters
and thread count). `execute_group` claims each job of a group in the results store, trains the
claimed ones as one stacked model (`protocol.run_group`) and writes each run's record as soon as
its stage 2 ends; like `runner.execute_job` it is self-contained and picklable, so any executor
maps it over groups. `run_groups` does that and reports per job, as `runner.run_jobs` does.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from avgzsl_bench.api import get_method
from avgzsl_bench.executors import Executor, Outcome, ProgressHook
from avgzsl_bench.jobs.runner import (
    Job,
    RunReport,
    cpu_threads,
    execute_job,
    load_data,
    resolve_device,
    run_jobs,
    run_record,
)
from avgzsl_bench.protocol.stages import GroupEpochCallback, Stage1Result, run_group
from avgzsl_bench.store.leases import ClaimedElsewhere, JobLease
from avgzsl_bench.store.records import RunRecord
from avgzsl_bench.store.sqlite import ResultStore
from avgzsl_bench.training import stack_reason

STACK_CHOICES = ("auto", "on", "off")
Result = RunRecord | ClaimedElsewhere


@dataclass(frozen=True)
class JobGroup:
    """Jobs that differ only in the seed; `execute_group` trains them as one stacked model."""

    jobs: tuple[Job, ...]

    def __str__(self) -> str:
        first = self.jobs[0]
        if len(self.jobs) == 1:
            return str(first)
        return f"{first.method} on {first.source.dataset}, seeds {', '.join(str(job.seed) for job in self.jobs)}"


def stacks_on(method: str, device: torch.device, force: bool = False) -> bool:
    """Whether `--stack auto` (or `--stack on`: `force`) stacks `method`'s seeds on `device`.

    auto stacks on CUDA only: on CPU a step is bound by its arithmetic, which stacking does not
    reduce, and the stacked step measured slower than the runs one after another for every
    built-in method (`benchmarks/table1_speed.py`).
    """
    return stack_reason(get_method(method)) is None and (force or device.type == "cuda")


def group_jobs(jobs: Iterable[Job], device: torch.device, force: bool = False) -> list[JobGroup]:
    """The jobs grouped by configuration, in first-seen order; a job whose method is not stacked on
    `device` is a group of its own."""
    groups: dict[Any, list[Job]] = {}
    for index, job in enumerate(jobs):
        key = (job.config_hash, job.threads) if stacks_on(job.method, device, force) else ("alone", index)
        groups.setdefault(key, []).append(job)
    return [JobGroup(tuple(members)) for members in groups.values()]


def _group_callback(group: JobGroup, progress: ProgressHook | None) -> GroupEpochCallback | None:
    if progress is None:
        return None
    label = str(group)

    def on_epoch(stage: str, epoch: int, total: int, hms: Sequence[float | None]) -> None:
        shown = ", ".join("-" if hm is None else f"{hm:.2f}" for hm in hms)
        progress(label, f"{stage} epoch {epoch}/{total}, val HM {shown}", epoch, total)

    return on_epoch


def _train(
    jobs: Sequence[Job], store: ResultStore | None, device: str, progress: ProgressHook | None
) -> list[RunRecord]:
    """Train `jobs` (one configuration, several seeds) as one stacked model; records in job order."""
    first = jobs[0]
    records: dict[int, RunRecord] = {}
    with cpu_threads(first.threads):
        torch_device = resolve_device(device)
        dataset = load_data(first.source, str(torch_device))

        def save_stage1(position: int, result: Stage1Result) -> None:
            if store is not None:
                store.save_stage1(jobs[position].key, result)

        results = run_group(
            get_method(first.method),
            dataset,
            first.hparams(),
            [job.seed for job in jobs],
            stage1=[store.stage1(job.key) if store is not None else None for job in jobs],
            on_epoch=_group_callback(JobGroup(tuple(jobs)), progress),
            on_stage1=save_stage1,
        )
        for position, result in results:
            record = run_record(jobs[position], result, dataset, torch_device)
            if store is not None:
                store.save_run(record)
            records[position] = record
    return [records[position] for position in range(len(jobs))]


def execute_group(
    group: JobGroup, store_path: str | None, device: str = "cpu", progress: ProgressHook | None = None
) -> list[Result]:
    """Run a group's jobs as one stacked model, resuming stored stages; results in job order.

    With a store, every job is claimed first, as `execute_job` claims one: a finished job is read
    back, a job another live process is training is skipped (`ClaimedElsewhere`), and only the
    claimed jobs are stacked. A method that cannot be stacked runs through `execute_job`.
    """
    if stack_reason(get_method(group.jobs[0].method)) is not None:
        return [execute_job(job, store_path, device, progress) for job in group.jobs]
    if store_path is None:
        return list(_train(group.jobs, None, device, progress))
    store = ResultStore(store_path)
    results: dict[int, Result] = {}
    with ExitStack() as claims:
        claimed = []
        for index, job in enumerate(group.jobs):
            stored = store.runs(key=job.key)
            if not stored:
                lease = claims.enter_context(JobLease(store, job.key))
                if lease.held_by is not None:
                    results[index] = ClaimedElsewhere(job.key, lease.held_by)
                    if progress is not None:
                        progress(str(job), f"skipped: being trained by another process ({lease.held_by})", None, None)
                    continue
                stored = store.runs(key=job.key)  # finished by another process between the two looks
            if stored:
                results[index] = stored[0]
            else:
                claimed.append(index)
        if claimed:
            trained = _train([group.jobs[index] for index in claimed], store, device, progress)
            results.update(zip(claimed, trained))
    return [results[index] for index in range(len(group.jobs))]


def _per_job(outcome: Outcome) -> list[Outcome]:
    """A group's outcome as one outcome per job (a failed group fails each of its jobs)."""
    group: JobGroup = outcome.item
    if outcome.ok:
        return [
            Outcome(job, value, None, None, outcome.attempts, outcome.errors)
            for job, value in zip(group.jobs, outcome.value)
        ]
    return [
        Outcome(job, None, outcome.error, outcome.traceback, outcome.attempts, outcome.errors) for job in group.jobs
    ]


def run_groups(
    executor: Executor,
    jobs: Sequence[Job],
    store_path: str | None,
    device: str = "cpu",
    stack: str = "auto",
    models_dir: str | None = None,
) -> RunReport:
    """`runner.run_jobs`, with the seeds of each configuration stacked where `stack` says so.

    Saving models (`models_dir`) trains one run at a time: its stage-1 snapshots are per run.
    """
    if stack == "off" or models_dir is not None:
        return run_jobs(executor, jobs, store_path, device, models_dir)
    groups = group_jobs(jobs, resolve_device(device), force=stack == "on")
    store = str(Path(store_path).resolve()) if store_path else None
    fn = functools.partial(execute_group, store_path=store, device=device, progress=executor.progress_hook())
    by_job = {
        id(one.item): one for outcome in executor.map(fn, groups, description="runs") for one in _per_job(outcome)
    }
    return RunReport([by_job[id(job)] for job in jobs])  # in job order, as run_jobs reports
