"""Benchmark jobs: a request (methods x data x seeds x overrides) becomes jobs, jobs become records.

`execute_job` is a self-contained, picklable unit of work: it applies the job's thread count,
loads the data (cached per process and data source), runs the protocol and writes every finished
stage to the results store at once, so any executor (in-process, Ray, SLURM) can run it and an
interrupted benchmark resumes where it stopped. `run_jobs` maps it over an executor.
"""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

import avgzsl_bench
from avgzsl_bench.api import get_method
from avgzsl_bench.artefacts.checkpoints import State, save_models, snapshot
from avgzsl_bench.datasets import DataSource
from avgzsl_bench.datasets.types import GZSLDataset
from avgzsl_bench.errors import BenchError
from avgzsl_bench.executors import Executor, Outcome, ProgressHook
from avgzsl_bench.nn.dropout import RNG_VERSION
from avgzsl_bench.protocol.stages import EpochCallback, ProtocolResult, Stage1Result, run_protocol, run_stage1
from avgzsl_bench.store.leases import ClaimedElsewhere, JobLease
from avgzsl_bench.store.records import RunRecord
from avgzsl_bench.store.sqlite import ResultStore

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
        return f"{self.method} on {self.source.label}, seed {self.seed}"

    def hparams(self) -> dict[str, Any]:
        source = self.source
        return get_method(self.method).hparams(
            source.dataset, dict(self.overrides), source.features, source.spec.dims.text_names
        )

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


def measured_fields(
    test: Mapping[str, float],
    per_class: Mapping[str, float],
    stage1: Stage1Result,
    dataset: GZSLDataset,
    device: torch.device,
) -> dict[str, Any]:
    """The measured part of a store row, shared by trained runs and evaluations of trained models:
    test metrics, validation choices, per-class recall, and where and with what code it ran."""
    return {
        "seen": test["seen"],
        "unseen": test["unseen"],
        "hm": test["hm"],
        "zsl": test["zsl"],
        "beta": test["beta"],
        "val": stage1.val,
        "val_betas": stage1.val_betas,
        "val_hm_vs_beta": [list(pair) for pair in stage1.val_hm_vs_beta],
        "per_class": per_class,
        "unseen_classes": [dataset.class_names[int(i)] for i in dataset.splits["test"].unseen.tolist()],
        "synthetic": dataset.synthetic,
        "version": avgzsl_bench.__version__,
        "git_revision": git_revision(),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
    }


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
        best_epochs=stage1.best_epochs,
        val_hm_per_epoch=stage1.val_hm_per_epoch,
        timings=result.timings,
        feature_set=job.source.feature_set,
        threads=job.threads,
        **measured_fields(result.test, result.test_per_class, stage1, dataset, device),
    )


def _epoch_callback(job: Job, progress: ProgressHook | None) -> EpochCallback | None:
    if progress is None:
        return None
    label = str(job)

    def on_epoch(stage: str, epoch: int, total: int, hm: float) -> None:
        progress(label, f"{stage} epoch {epoch}/{total}, val HM {hm:.2f}", epoch, total)

    return on_epoch


def models_file(models_dir: str, job: Job) -> Path:
    """Where `--save-models` puts a job's models (format: `avgzsl_bench.artefacts.checkpoints`)."""
    return Path(models_dir) / f"{job.key}.pt"


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
        "best_epochs": result.stage1.best_epochs,
        "val_betas": result.stage1.val_betas,
        "beta": result.stage1.test_beta,
        "test": record.metrics,
        "version": record.version,
        "git_revision": record.git_revision,
    }


def execute_job(
    job: Job,
    store_path: str | None,
    device: str = "cpu",
    progress: ProgressHook | None = None,
    models_dir: str | None = None,
) -> RunRecord | ClaimedElsewhere:
    """Run one job to the end (resuming a stored stage 1) and persist it; returns its record.

    With a store, the job is claimed first: a job another live process is training is skipped
    (`ClaimedElsewhere`), and a finished one is read back instead of being trained again. With
    `models_dir`, the stage-1 best-epoch model and the stage-2 model are saved there too; a stored
    run without its saved models is then trained again, since only training makes the models.
    """
    models_path = models_file(models_dir, job) if models_dir else None
    if store_path is None:
        return _train(job, None, device, progress, models_path)
    store = ResultStore(store_path)
    stored = store.runs(key=job.key)
    if stored and _has_models(models_path):
        return stored[0]
    with JobLease(store, job.key) as lease:
        if lease.held_by is not None:
            if progress is not None:
                progress(str(job), f"skipped: being trained by another process ({lease.held_by})", None, None)
            return ClaimedElsewhere(job.key, lease.held_by)
        stored = store.runs(key=job.key)  # finished by another process between the two looks
        if stored and _has_models(models_path):
            return stored[0]
        return _train(job, store, device, progress, models_path)


def _has_models(models_path: Path | None) -> bool:
    return models_path is None or models_path.is_file()


@contextmanager
def cpu_threads(count: int) -> Iterator[None]:
    """Run with `count` intra-op CPU threads, then restore the caller's setting (in-process executors
    share the process with their caller)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _train(
    job: Job, store: ResultStore | None, device: str, progress: ProgressHook | None, models_path: Path | None
) -> RunRecord:
    with cpu_threads(job.threads):
        return _train_with_threads(job, store, device, progress, models_path)


def _train_with_threads(
    job: Job, store: ResultStore | None, device: str, progress: ProgressHook | None, models_path: Path | None
) -> RunRecord:
    torch_device = resolve_device(device)
    dataset = load_data(job.source, str(torch_device))
    spec, hparams = get_method(job.method), job.hparams()
    on_epoch = _epoch_callback(job, progress)
    best: dict[str, State] = {}
    on_best = (lambda model: best.__setitem__("stage1", snapshot(model))) if models_path else None
    stage1 = store.stage1(job.key) if store is not None and models_path is None else None
    if stage1 is None:
        stage1 = run_stage1(spec, dataset, hparams, job.seed, on_epoch, on_best)
        if store is not None:
            store.save_stage1(job.key, stage1)
    result = run_protocol(spec, dataset, hparams, job.seed, on_epoch, keep_model=models_path is not None, stage1=stage1)
    record = run_record(job, result, dataset, torch_device)
    if models_path is not None:
        assert result.model is not None
        save_models(models_path, _saved_info(job, result, record, dataset), best["stage1"], result.model.state_dict())
    if store is not None:
        store.save_run(record)
    return record


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


def run_jobs(
    executor: Executor,
    jobs: Sequence[Job],
    store_path: str | None,
    device: str = "cpu",
    models_dir: str | None = None,
) -> RunReport:
    """Every job through `execute_job` on `executor`; records also land in the store as they finish."""
    store = str(Path(store_path).resolve()) if store_path else None
    models = str(Path(models_dir).resolve()) if models_dir else None
    fn = functools.partial(
        execute_job, store_path=store, device=device, progress=executor.progress_hook(), models_dir=models
    )
    return RunReport(executor.map(fn, list(jobs), description="runs"))
