"""Benchmark jobs: a request (methods x data x seeds x overrides) becomes jobs, jobs become records.

`execute_job` is a self-contained, picklable unit of work: it applies the job's thread count,
loads the data (cached per process and data source), runs the protocol and writes every finished
stage to the results store at once, so any executor (in-process, Ray, SLURM) can run it and an
interrupted benchmark resumes where it stopped. `run_jobs` maps it over an executor; with
stacking it maps `execute_group` over groups of jobs that differ only in the seed instead.
"""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

import avgzsl_bench
from avgzsl_bench.api import get_method
from avgzsl_bench.data import GZSLDataset
from avgzsl_bench.datasets import DataSource
from avgzsl_bench.dropout import RNG_VERSION
from avgzsl_bench.errors import BenchError
from avgzsl_bench.executors import Executor, Outcome, ProgressHook
from avgzsl_bench.protocol import (
    EpochCallback,
    GroupEpochCallback,
    ProtocolResult,
    Stage1Result,
    run_group,
    run_protocol,
    run_stage1,
)
from avgzsl_bench.records import RunRecord
from avgzsl_bench.store import ResultStore
from avgzsl_bench.training import stack_reason

# CPU threads of every run, whichever executor runs it. Float reductions are ordered by the thread
# count, so the same seed gives bit-identical numbers only with the same count; 2 is what these
# small models use well, and what a laptop has at least.
DEFAULT_THREADS = 2


@dataclass(frozen=True)
class Job:
    method: str
    source: DataSource
    seed: int
    overrides: tuple[tuple[str, Any], ...] = ()
    threads: int = field(default=DEFAULT_THREADS, compare=False)

    def __str__(self) -> str:
        return f"{self.method} on {self.source.dataset}, seed {self.seed}"

    def hparams(self) -> dict[str, Any]:
        return get_method(self.method).hparams(self.source.dataset, dict(self.overrides))

    def config(self) -> dict[str, Any]:
        """Everything that determines the result except the seed (`rng`: how dropout masks are drawn)."""
        return {"method": self.method, "data": self.source.identity(), "hparams": self.hparams(), "rng": RNG_VERSION}

    @property
    def config_hash(self) -> str:
        encoded = json.dumps(self.config(), sort_keys=True, default=str).encode()
        return hashlib.sha256(encoded).hexdigest()[:12]

    @property
    def key(self) -> str:
        return f"{self.method}-{self.source.dataset}-{self.config_hash}-seed{self.seed}"


def make_jobs(
    methods: Iterable[str],
    source: DataSource,
    seeds: Iterable[int],
    overrides: Mapping[str, Any] | None = None,
    threads: int = DEFAULT_THREADS,
) -> list[Job]:
    """One job per method and seed; unknown methods and bad hyper-parameter values fail here."""
    if threads < 1:
        raise BenchError(f"--threads must be at least 1, got {threads}")
    frozen = tuple(sorted((overrides or {}).items()))
    jobs = [Job(method, source, seed, frozen, threads) for method in methods for seed in seeds]
    for job in jobs:
        job.hparams()
    return jobs


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BenchError(f"--device {device} asked for, but torch sees no CUDA device; use --device cpu")
    try:
        return torch.device(device)
    except RuntimeError as error:
        raise BenchError(f"--device {device!r} is not a device torch knows ({error}); use auto, cpu or cuda") from None


@lru_cache(maxsize=1)
def git_revision() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(avgzsl_bench.__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@lru_cache(maxsize=4)
def load_data(source: DataSource, device: str) -> GZSLDataset:
    """The source's data on `device`, loaded and validated once per process."""
    return source.load().to(device)


def check_inputs(jobs: Iterable[Job], store_path: str | None, device: str) -> None:
    """Fail fast, before any job is dispatched: the device exists and the data of every job that
    still has to run loads. In this process the data stays cached, so local jobs reuse it."""
    torch_device = resolve_device(device)
    store = ResultStore(store_path) if store_path else None
    pending = [job for job in jobs if store is None or not store.has_run(job.key)]
    for source in dict.fromkeys(job.source for job in pending):
        load_data(source, str(torch_device))


def run_record(job: Job, result: ProtocolResult, dataset: GZSLDataset, device: torch.device) -> RunRecord:
    """The row a finished run leaves in the results store."""
    stage1 = result.stage1
    return RunRecord(
        key=job.key,
        method=job.method,
        dataset=job.source.dataset,
        seed=job.seed,
        config_hash=job.config_hash,
        config=job.config(),
        seen=result.test["seen"],
        unseen=result.test["unseen"],
        hm=result.test["hm"],
        zsl=result.test["zsl"],
        beta=result.test["beta"],
        best_epochs=stage1.best_epochs,
        val=stage1.val,
        val_betas=stage1.val_betas,
        val_hm_per_epoch=stage1.val_hm_per_epoch,
        val_hm_vs_beta=[list(pair) for pair in stage1.val_hm_vs_beta],
        per_class=result.test_per_class,
        timings=result.timings,
        feature_set=job.source.feature_set,
        synthetic=dataset.synthetic,
        version=avgzsl_bench.__version__,
        git_revision=git_revision(),
        device=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        threads=job.threads,
    )


def _epoch_callback(job: Job, progress: ProgressHook | None) -> EpochCallback | None:
    if progress is None:
        return None
    label = str(job)

    def on_epoch(stage: str, epoch: int, total: int, hm: float) -> None:
        progress(label, f"{stage} epoch {epoch}/{total}, val HM {hm:.2f}", epoch, total)

    return on_epoch


def execute_job(
    job: Job, store_path: str | None, device: str = "cpu", progress: ProgressHook | None = None
) -> RunRecord:
    """Run one job to the end (resuming a stored stage 1) and persist it; returns its record."""
    store = ResultStore(store_path) if store_path else None
    if store is not None:
        stored = store.runs(key=job.key)
        if stored:
            return stored[0]
    torch.set_num_threads(job.threads)
    torch_device = resolve_device(device)
    dataset = load_data(job.source, str(torch_device))
    spec, hparams = get_method(job.method), job.hparams()
    on_epoch = _epoch_callback(job, progress)
    stage1 = store.stage1(job.key) if store is not None else None
    if stage1 is None:
        stage1 = run_stage1(spec, dataset, hparams, job.seed, on_epoch)
        if store is not None:
            store.save_stage1(job.key, stage1)
    result = run_protocol(spec, dataset, hparams, job.seed, on_epoch, stage1=stage1)
    record = run_record(job, result, dataset, torch_device)
    if store is not None:
        store.save_run(record)
    return record


@dataclass
class RunReport:
    """Records of the finished jobs (in job order) and the outcomes of all of them."""

    outcomes: list[Outcome]

    @property
    def records(self) -> list[RunRecord]:
        return [outcome.value for outcome in self.outcomes if outcome.ok]

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
            + (f", {len(self.failures)} failed twice:" if self.failures else ".")
        ]
        lines += [f"  - {outcome.item}: {outcome.error}" for outcome in self.failures]
        return "\n".join(lines)


def run_jobs(
    executor: Executor, jobs: Sequence[Job], store_path: str | None, device: str = "cpu", stack: str = "off"
) -> RunReport:
    """Every job through `execute_job` on `executor` (or, stacking, every group of jobs through
    `execute_group`); records also land in the store as they finish."""
    store = str(Path(store_path).resolve()) if store_path else None
    progress = executor.progress_hook()
    if stack == "off":
        fn = functools.partial(execute_job, store_path=store, device=device, progress=progress)
        return RunReport(executor.map(fn, list(jobs), description="runs"))
    groups = group_jobs(jobs, resolve_device(device), force=stack == "on")
    group_fn = functools.partial(execute_group, store_path=store, device=device, progress=progress)
    outcomes = executor.map(group_fn, groups, description="runs (seeds stacked)")
    return RunReport([per_job for outcome in outcomes for per_job in outcome_per_job(outcome)])


# --- stacked runs: the seeds of one configuration trained as one model --------------------------

STACK_CHOICES = ("auto", "on", "off")


@dataclass(frozen=True)
class JobGroup:
    """Jobs that differ only in the seed; `execute_group` trains them as one stacked model."""

    jobs: tuple[Job, ...]

    def __str__(self) -> str:
        first = self.jobs[0]
        if len(self.jobs) == 1:
            return str(first)
        return f"{first.method} on {first.source.dataset}, seeds {', '.join(str(job.seed) for job in self.jobs)}"


def stacks_on(spec_name: str, device: torch.device, force: bool) -> bool:
    """Whether `--stack auto` (or `on`, with `force`) stacks this method's seeds on `device`.

    auto stacks on CUDA only: on CPU the stacked step measured slower than one run after another
    for every built-in method (see benchmarks/table1_speed.py), since a CPU step is bound by its
    arithmetic, which stacking does not reduce.
    """
    if stack_reason(get_method(spec_name)) is not None:
        return False
    return force or device.type == "cuda"


def group_jobs(jobs: Iterable[Job], device: torch.device, force: bool = False) -> list[JobGroup]:
    """The jobs grouped by configuration (method, data, hyper-parameters, threads), in first-seen
    order; a job whose method is not stacked on `device` is a group of its own."""
    groups: dict[Any, list[Job]] = {}
    for index, job in enumerate(jobs):
        key = (job.config_hash, job.threads) if stacks_on(job.method, device, force) else ("alone", index)
        groups.setdefault(key, []).append(job)
    return [JobGroup(tuple(members)) for members in groups.values()]


def outcome_per_job(outcome: Outcome) -> list[Outcome]:
    """A group's outcome as one outcome per job (a failed group fails each of its jobs)."""
    group: JobGroup = outcome.item
    if outcome.ok:
        return [
            Outcome(job, record, None, None, outcome.attempts, outcome.errors)
            for job, record in zip(group.jobs, outcome.value)
        ]
    return [
        Outcome(job, None, outcome.error, outcome.traceback, outcome.attempts, outcome.errors) for job in group.jobs
    ]


def _group_callback(group: JobGroup, progress: ProgressHook | None) -> GroupEpochCallback | None:
    if progress is None:
        return None
    label = str(group)

    def on_epoch(stage: str, epoch: int, total: int, hms: Sequence[float | None]) -> None:
        shown = ", ".join("-" if hm is None else f"{hm:.2f}" for hm in hms)
        progress(label, f"{stage} epoch {epoch}/{total}, val HM {shown}", epoch, total)

    return on_epoch


def execute_group(
    group: JobGroup, store_path: str | None, device: str = "cpu", progress: ProgressHook | None = None
) -> list[RunRecord]:
    """Run a group's jobs as one stacked model (resuming stored stages), persisting each run's
    record as its stage 2 ends; returns the records in job order."""
    store = ResultStore(store_path) if store_path else None
    records: dict[int, RunRecord] = {}
    for index, job in enumerate(group.jobs):
        stored = store.runs(key=job.key) if store is not None else []
        if stored:
            records[index] = stored[0]
    pending = [index for index in range(len(group.jobs)) if index not in records]
    if len(pending) == 1:
        records[pending[0]] = execute_job(group.jobs[pending[0]], store_path, device, progress)
    elif pending:
        jobs = [group.jobs[index] for index in pending]
        torch.set_num_threads(jobs[0].threads)
        torch_device = resolve_device(device)
        dataset = load_data(jobs[0].source, str(torch_device))

        def save_stage1(position: int, result: Stage1Result) -> None:
            if store is not None:
                store.save_stage1(jobs[position].key, result)

        results = run_group(
            get_method(jobs[0].method),
            dataset,
            jobs[0].hparams(),
            [job.seed for job in jobs],
            stage1=[store.stage1(job.key) if store is not None else None for job in jobs],
            on_epoch=_group_callback(JobGroup(tuple(jobs)), progress),
            on_stage1=save_stage1,
        )
        for position, result in results:
            record = run_record(jobs[position], result, dataset, torch_device)
            if store is not None:
                store.save_run(record)
            records[pending[position]] = record
    return [records[index] for index in range(len(group.jobs))]
