"""Running a benchmark: jobs are checked, grouped, mapped over an executor and reported per job.

`run_benchmark` is the entry point for programs (the CLI calls it too):

    import avgzsl_bench
    report = avgzsl_bench.run_benchmark("clipclap,avca", "demo", seeds=[42, 43], overrides={"epochs": 2})
    report.records  # one RunRecord per finished run, in job order
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from avgzsl_bench.api import get_method, list_methods
from avgzsl_bench.datasets import DataSource
from avgzsl_bench.errors import BenchError, Interrupted
from avgzsl_bench.executors import Executor, Outcome, get_executor
from avgzsl_bench.executors.progress import Reporter
from avgzsl_bench.jobs.defaults import DEFAULT_THREADS
from avgzsl_bench.jobs.environment import check_inputs, resolve_device
from avgzsl_bench.jobs.execute import Result, execute_group, stored_record
from avgzsl_bench.jobs.groups import JobGroup, group_jobs
from avgzsl_bench.jobs.job import Job, data_problem, make_jobs
from avgzsl_bench.store.leases import ClaimedElsewhere, live_claims
from avgzsl_bench.store.records import RunRecord
from avgzsl_bench.store.sqlite import DEFAULT_STORE, ResultStore


@dataclass
class RunReport:
    """Records of the finished jobs (in job order) and the outcomes of all of them."""

    outcomes: list[Outcome]

    @property
    def records(self) -> list[RunRecord]:
        return [outcome.value for outcome in self.outcomes if outcome.ok and isinstance(outcome.value, RunRecord)]

    @property
    def elsewhere(self) -> list[ClaimedElsewhere]:
        """Jobs skipped because another live process was training them."""
        return [outcome.value for outcome in self.outcomes if isinstance(outcome.value, ClaimedElsewhere)]

    @property
    def failures(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if not outcome.ok]

    @property
    def retried(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.ok and outcome.attempts > 1]

    def summary(self) -> str:
        lines = [
            f"{len(self.records)}/{len(self.outcomes)} jobs finished"
            + (f", {len(self.retried)} after a retry" if self.retried else "")
            + (f", {len(self.elsewhere)} being trained by another process" if self.elsewhere else "")
            + (f", {len(self.failures)} failed twice:" if self.failures else ".")
        ]
        lines += [f"  - {outcome.item}: {outcome.error}" for outcome in self.failures]
        if self.elsewhere:
            owners = ", ".join(sorted({claim.owner for claim in self.elsewhere}))
            lines.append(f"  jobs claimed by {owners} are not in this table; rerun the same command once they finish")
        return "\n".join(lines)


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


def map_jobs(
    executor: Executor,
    jobs: Sequence[Job],
    store_path: str | None,
    device: str = "cpu",
    stack: str = "auto",
    models_dir: str | None = None,
) -> RunReport:
    """Every job through `execute_group` on `executor`, grouped as `--stack` says; reported per job,
    in job order. Records also land in the store as they finish."""
    groups = group_jobs(jobs, resolve_device(device), stack)
    fn = functools.partial(
        execute_group,
        store_path=str(Path(store_path).resolve()) if store_path else None,
        device=device,
        stack=stack,
        progress=executor.progress_hook(),
        steps=executor.step_hook(),
        models_dir=str(Path(models_dir).resolve()) if models_dir else None,
    )
    outcomes = executor.map(fn, groups, description="runs", describe=group_outcome)
    by_job = {id(one.item): one for outcome in outcomes for one in _per_job(outcome)}
    return RunReport([by_job[id(job)] for job in jobs])


def group_outcome(results: Sequence[Result]) -> str:
    """The one line a finished group earns: "done", or which of its jobs another process holds."""
    elsewhere = [result for result in results if isinstance(result, ClaimedElsewhere)]
    if not elsewhere:
        return "done"
    owners = ", ".join(sorted({claim.owner for claim in elsewhere}))
    skipped = f"skipped: being trained by another process ({owners})"
    finished = len(results) - len(elsewhere)
    return f"{finished} done, {len(elsewhere)} {skipped}" if finished else skipped


def read_back_finished_elsewhere(
    report: RunReport, path: str | None, models_dir: str | None, reporter: Reporter
) -> RunReport:
    """Jobs skipped for another process's claim whose run that process has stored since: read back,
    so the summary and the table count what the store holds when the command ends."""
    if path is None or not report.elsewhere:
        return report
    store, outcomes = ResultStore(path), []
    for outcome in report.outcomes:
        record = stored_record(outcome.item, store, models_dir) if isinstance(outcome.value, ClaimedElsewhere) else None
        if record is not None:
            reporter.note(f"{outcome.item}: finished by the other process meanwhile; read back from the store")
            outcome = Outcome(outcome.item, record, None, None, outcome.attempts, outcome.errors)
        outcomes.append(outcome)
    return RunReport(outcomes)


def run_jobs(
    jobs: Sequence[Job],
    store: str | Path | None = DEFAULT_STORE,
    device: str = "auto",
    stack: str = "auto",
    executor: Executor | Callable[[], Executor] | None = None,
    models_dir: str | None = None,
    reporter: Reporter | None = None,
) -> RunReport:
    """Check every input (device, data, store) before any work, then run the jobs (stored runs are
    read back) on `executor` (default: in this process; a function is called to make one only once
    the inputs are checked). Ctrl-C stops after what is finished and raises `Interrupted` saying
    what is stored."""
    reporter = reporter or Reporter()
    path = str(store) if store is not None else None
    if any(job.source.spec.synthetic for job in jobs):
        reporter.note("Dataset 'demo' is SYNTHETIC: the numbers test the harness, not methods.", "yellow")
    check_inputs(jobs, path, device)
    already = _stored_count(jobs, path)
    if already:
        reporter.note(f"{already} of {len(jobs)} runs are already in the store: read back, not retrained")
    resumed = _resumed(jobs, path) if models_dir is None else []  # saving models retrains stage 1
    if resumed:
        named = ", ".join(str(job) for job in resumed)
        reporter.note(
            f"stage 1 read back from the store for {len(resumed)} interrupted run(s): {named}; "
            "only their stage 2 is trained"
        )
    try:
        if executor is None:
            executor = get_executor("local", reporter=reporter)
        with executor if isinstance(executor, Executor) else executor() as running:
            report = map_jobs(running, jobs, path, device, stack, models_dir)
    except KeyboardInterrupt:
        raise Interrupted(_interrupted_message(jobs, path)) from None
    report = read_back_finished_elsewhere(report, path, models_dir, reporter)
    if report.failures or report.retried or report.elsewhere:
        reporter.note(report.summary(), "red" if report.failures else "yellow")
    return report


def run_benchmark(
    methods: str | Sequence[str] = "clipclap",
    datasets: str | DataSource | Sequence[str | DataSource] = "demo",
    seeds: Sequence[int] = (42,),
    overrides: Mapping[str, Any] | None = None,
    *,
    store: str | Path | None = DEFAULT_STORE,
    threads: int = DEFAULT_THREADS,
    **options: Any,
) -> RunReport:
    """Every method (names, comma-separated names, or "all": every method that can run on the data)
    on every dataset (registry names, read from the data folder, or `DataSource`s) with every seed,
    through the two-stage protocol; `overrides` set hyper-parameters (e.g. {"epochs": 5}).

    `options` go to `run_jobs`: device, stack, executor, models_dir, reporter. `store=None` keeps
    results in memory only.
    """
    sources = [datasets] if isinstance(datasets, str | DataSource) else list(datasets)
    reporter = options["reporter"] = options.get("reporter") or Reporter()
    jobs = []
    for source in sources:
        source = source if isinstance(source, DataSource) else DataSource(source)
        if _named(methods) == ["all"]:  # say what "all" leaves out, before any work
            for name, reason in methods_left_out(source).items():
                reporter.note(f"--methods all: {name} left out on {source.label}: {reason}")
        jobs += make_jobs(method_names(methods, source), source, seeds, overrides, threads)
    return run_jobs(jobs, store, **options)


def method_names(methods: str | Sequence[str], source: DataSource | None = None) -> list[str]:
    """The methods named; "all" means every method that can run on `source`'s data."""
    names = _named(methods)
    if names == ["all"]:
        left_out = methods_left_out(source) if source is not None else {}
        names = [name for name in list_methods() if name not in left_out]
    if not names:
        raise BenchError("--methods names no method; pass e.g. --methods clipclap or --methods all")
    return names


def _named(methods: str | Sequence[str]) -> list[str]:
    if isinstance(methods, str):
        return [name.strip() for name in methods.split(",") if name.strip()]
    return list(methods)


def methods_left_out(source: DataSource) -> dict[str, str]:
    """The registered methods that cannot run on `source`'s data with their defaults, and why."""
    parts = source.spec.dims.text_names
    reasons = {}
    for name in list_methods():
        spec = get_method(name)
        reason = spec.text_problem(spec.defaults(source.dataset, source.features), parts) or data_problem(name, source)
        if reason:
            reasons[name] = reason
    return reasons


def _stored_count(jobs: Sequence[Job], path: str | None) -> int:
    if path is None or not Path(path).exists():
        return 0
    store = ResultStore(path)
    return sum(store.has_run(job.key) for job in jobs)


def _resumed(jobs: Sequence[Job], path: str | None) -> list[Job]:
    """Jobs an interruption stopped after their stage 1 was stored: they resume at stage 2 (not
    those another live process is in the middle of)."""
    if path is None or not Path(path).exists():
        return []
    store = ResultStore(path)
    busy = live_claims(store)
    return [
        job for job in jobs if job.key not in busy and not store.has_run(job.key) and store.stage1(job.key) is not None
    ]


def _interrupted_message(jobs: Sequence[Job], path: str | None) -> str:
    if path is None:
        return "interrupted; nothing was stored (--no-store)"
    return f"interrupted; {_stored_count(jobs, path)} of {len(jobs)} runs stored; rerun the same command to resume"
