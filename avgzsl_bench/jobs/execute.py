"""The one unit of work: a job group is claimed, read back or resumed, trained, recorded and stored.

`execute_group` is self-contained and picklable, so any executor (in-process, Ray, SLURM) maps it
over groups. With a store, every job of the group is claimed first: a finished job is read back, a
job another live process is training is skipped (`ClaimedElsewhere`), and only the claimed jobs are
trained, their stored stage 1 reused, each run's record written as soon as its stage 2 ends, so an
interrupted benchmark resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from avgzsl_bench.api import GZSLMethod, get_method
from avgzsl_bench.artefacts.checkpoints import State, save_models, snapshot
from avgzsl_bench.artefacts.provenance import data_provenance
from avgzsl_bench.datasets.types import GZSLDataset
from avgzsl_bench.executors import ProgressHook, StepHook
from avgzsl_bench.executors.base import label
from avgzsl_bench.jobs.environment import cpu_threads, method_data, record_context, resolve_device
from avgzsl_bench.jobs.groups import JobGroup, choose_trainer
from avgzsl_bench.jobs.job import Job
from avgzsl_bench.jobs.predictions import test_predictions
from avgzsl_bench.protocol.stages import EpochCallback, ProtocolResult, StepProgress, run_protocol
from avgzsl_bench.store.leases import ClaimedElsewhere, JobLease
from avgzsl_bench.store.records import RunRecord, Stage1Result, build_record
from avgzsl_bench.store.sqlite import ResultStore

Result = RunRecord | ClaimedElsewhere


@dataclass
class Trained:
    """A trained run: its record, and its stage-2 model when it was asked for."""

    record: RunRecord
    model: GZSLMethod | None = None


def models_file(models_dir: str, job: Job) -> Path:
    """Where `--save-models` puts a job's models (format: `avgzsl_bench.artefacts.checkpoints`)."""
    return Path(models_dir) / f"{job.key}.pt"


def execute_group(
    group: JobGroup,
    store_path: str | None,
    device: str = "cpu",
    stack: str = "auto",
    progress: ProgressHook | None = None,
    models_dir: str | None = None,
    steps: StepHook | None = None,
) -> list[Result]:
    """Run a group's jobs to the end and persist them; their results in job order.

    With `models_dir`, each run's stage-1 best-epoch model and stage-2 model are saved there too; a
    stored run without its saved models is then trained again, since only training makes models.
    """
    store = ResultStore(store_path) if store_path else None
    results: dict[int, Result] = {}
    with ExitStack() as claims:
        claimed = []
        for index, job in enumerate(group.jobs):
            known = _claim(job, store, claims, models_dir)
            if known is None:
                claimed.append(index)
            else:
                results[index] = known
        if claimed:
            jobs = [group.jobs[index] for index in claimed]
            trained = train_jobs(jobs, store, device, stack, progress, models_dir=models_dir, steps=steps)
            results.update(zip(claimed, (run.record for run in trained)))
    return [results[index] for index in range(len(group.jobs))]


def _claim(job: Job, store: ResultStore | None, claims: ExitStack, models_dir: str | None) -> Result | None:
    """The job's stored record (read back), its claim by another live process, or None: this
    process holds the claim (until `claims` closes) and trains it. A skipped job is said once, by
    the executor's line for its group (`jobs.run.group_outcome`)."""
    if store is None:
        return None
    if not store.runs(key=job.key):
        lease = claims.enter_context(JobLease(store, job.key))
        if lease.held_by is not None:
            return ClaimedElsewhere(job.key, lease.held_by)
    # Also catches a run finished by another process between the two looks.
    return stored_record(job, store, models_dir)


def stored_record(job: Job, store: ResultStore, models_dir: str | None = None) -> RunRecord | None:
    """The job's stored run, if it is there (with its saved models, when models are being saved)."""
    stored = store.runs(key=job.key)
    if stored and (models_dir is None or models_file(models_dir, job).is_file()):
        return stored[0]
    return None


def train_jobs(
    jobs: Sequence[Job],
    store: ResultStore | None,
    device: str,
    stack: str,
    progress: ProgressHook | None,
    models_dir: str | None = None,
    keep_models: bool = False,
    persist: bool = True,
    steps: StepHook | None = None,
) -> list[Trained]:
    """Train `jobs` (one configuration, one or more seeds) through the protocol, with the trainer
    `choose_trainer` picks; a stored stage 1 is reused (and said so) unless models are saved (whose
    stage-1 model only training makes). With `persist`, stage 1 and each record go to `store` as
    they finish. `steps` hears of the steps within each epoch."""
    first = jobs[0]
    with cpu_threads(first.threads):
        torch_device = resolve_device(device)
        dataset = method_data(first.method, first.source, str(torch_device))
        saving = models_dir is not None
        best: dict[int, State] = {}

        def save_stage1(position: int, result: Stage1Result) -> None:
            if store is not None and persist:
                store.save_stage1(jobs[position].key, result)

        group = JobGroup(tuple(jobs))
        stage1 = [store.stage1(job.key) if store is not None and not saving else None for job in jobs]
        _announce_stored_stage1(group, stage1, progress)
        runs = run_protocol(
            get_method(first.method),
            dataset,
            first.hparams(),
            [job.seed for job in jobs],
            choose_trainer(first.method, torch_device, stack, len(jobs)),
            stage1=stage1,
            on_epoch=_epoch_callback(group, progress),
            on_stage1=save_stage1,
            on_best=(lambda run, model: best.__setitem__(run, snapshot(model))) if saving else None,
            keep_model=saving or keep_models,
            on_step=_step_callback(group, steps),
        )
        context = record_context(first.source, dataset, torch_device, first.threads)
        trained: dict[int, Trained] = {}
        for position, result in runs:
            job = jobs[position]
            record = run_record(job, result, context)
            if models_dir is not None:
                assert result.model is not None
                info = _saved_info(job, result, record, dataset)
                save_models(models_file(models_dir, job), info, best[position], result.model.state_dict())
            if store is not None and persist:  # one transaction: a stored run has its predictions
                store.save_run(record, test_predictions(record.key, dataset, result.stage1, result.measured))
            trained[position] = Trained(record, result.model if keep_models else None)
    return [trained[position] for position in range(len(jobs))]


def run_record(job: Job, result: ProtocolResult, context: dict[str, Any]) -> RunRecord:
    """The row a finished run leaves in the results store."""
    return build_record(
        method=job.method,
        dataset=job.source.dataset,
        seed=job.seed,
        config=job.config(),
        stage1=result.stage1,
        measured=result.measured,
        timings=result.timings,
        context=context,
    )


def _announce_stored_stage1(
    group: JobGroup, stage1: Sequence[Stage1Result | None], progress: ProgressHook | None
) -> None:
    """A run resumed after an interruption says that its stage 1 is not trained again."""
    for job, result in zip(group.jobs, stage1):
        if result is not None and progress is not None:
            which = f"seed {job.seed}: " if len(group.jobs) > 1 else ""
            progress(
                label(group),
                f"{which}stage 1 read back from the store (best epoch {result.best_epochs}, "
                f"val HM {result.val['hm']:.2f}); training stage 2",
                None,
                None,
            )


def _epoch_callback(group: JobGroup, progress: ProgressHook | None) -> EpochCallback | None:
    if progress is None:
        return None
    name = label(group)

    def on_epoch(stage: str, epoch: int, total: int, hms: Sequence[float | None]) -> None:
        shown = ", ".join("-" if hm is None else f"{hm:.2f}" for hm in hms)
        progress(name, f"{stage} epoch {epoch}/{total}, val HM {shown}", epoch, total)

    return on_epoch


STEP_REPORTS_PER_EPOCH = 100  # the reporter (which looks at the clock) hears of every N-th step only


def _step_callback(group: JobGroup, steps: StepHook | None) -> StepProgress | None:
    if steps is None:
        return None
    name = label(group)

    def on_step(stage: str, epoch: int, epochs: int, step: int, total: int) -> None:
        if step % max(1, total // STEP_REPORTS_PER_EPOCH) and step != total:
            return
        steps(name, f"{stage} epoch {epoch}/{epochs}", step, total)

    return on_step


def _saved_info(job: Job, result: ProtocolResult, record: RunRecord, dataset: GZSLDataset) -> dict[str, Any]:
    dims = dataset.dims
    return {
        "method": job.method,
        "dataset": job.source.dataset,
        "key": job.key,
        "seed": job.seed,
        "threads": job.threads,
        "config": job.config(),
        "dims": {"video": dims.video, "audio": dims.audio, "clip_text": dims.clip_text, "clap_text": dims.clap_text},
        "trained_on": data_provenance(job.source, dataset),
        "best_epochs": result.stage1.best_epochs,
        "val_betas": result.stage1.val_betas,
        "beta": result.stage1.test_beta,
        "test": record.metrics,
        "version": record.version,
        "git_revision": record.git_revision,
    }
