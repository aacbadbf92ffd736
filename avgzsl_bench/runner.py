"""Turns a request (methods x data x seeds x overrides) into independent jobs and runs them.

`execute_job` is a self-contained, picklable unit of work: it loads the data, runs the protocol
and writes every finished stage to the results store at once, so any executor (in-process,
Ray, SLURM) can run it and an interrupted benchmark resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

import avgzsl_bench
from avgzsl_bench.data import GZSLDataset
from avgzsl_bench.errors import BenchError
from avgzsl_bench.protocol import EpochCallback, ProtocolResult, run_protocol, run_stage1
from avgzsl_bench.registry import get_method
from avgzsl_bench.store import ResultStore

DATASETS = ("demo", "ucf", "activitynet", "vggsound")
DEFAULT_DEMO_SAMPLES = 60


@dataclass(frozen=True)
class DataSource:
    """Where a benchmark's features come from; part of every job's identity."""

    dataset: str
    root: str | None = None
    legacy_text_order: bool = False
    demo_samples_per_class: int = DEFAULT_DEMO_SAMPLES
    cache_dir: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise BenchError(f"unknown dataset '{self.dataset}'; choose one of {', '.join(DATASETS)}")
        if self.dataset != "demo" and not self.root:
            raise BenchError(
                f"dataset '{self.dataset}' needs --root pointing at the released feature bundle's "
                f"dataset folder (the one holding class-split/ and features/), or use --dataset demo"
            )

    def identity(self) -> dict[str, Any]:
        if self.dataset == "demo":
            return {"dataset": "demo", "samples_per_class": self.demo_samples_per_class}
        return {"dataset": self.dataset, "root": str(Path(self.root).resolve()),
                "legacy_text_order": self.legacy_text_order}

    @property
    def feature_set(self) -> str:
        if self.dataset == "demo":
            return "synthetic demo (CLIP/CLAP dims)"
        return "CLIP ViT-B/32 + CLAP" + (" (legacy text order)" if self.legacy_text_order else "")

    def load(self) -> GZSLDataset:
        if self.dataset == "demo":
            from avgzsl_bench.demo import make_demo_dataset

            dataset = make_demo_dataset(self.demo_samples_per_class)
        else:
            from avgzsl_bench.bundle import load_bundle

            dataset = load_bundle(self.root, self.dataset, legacy_text_order=self.legacy_text_order,
                                  cache_dir=self.cache_dir)
        dataset.validate()
        return dataset


@dataclass(frozen=True)
class Job:
    method: str
    source: DataSource
    seed: int
    overrides: tuple[tuple[str, Any], ...] = ()

    def hparams(self) -> dict[str, Any]:
        return get_method(self.method).hparams(self.source.dataset, dict(self.overrides))

    def config(self) -> dict[str, Any]:
        """Everything that determines the result except the seed."""
        return {"method": self.method, "data": self.source.identity(), "hparams": self.hparams()}

    @property
    def config_hash(self) -> str:
        encoded = json.dumps(self.config(), sort_keys=True, default=str).encode()
        return hashlib.sha256(encoded).hexdigest()[:12]

    @property
    def key(self) -> str:
        return f"{self.method}-{self.source.dataset}-{self.config_hash}-seed{self.seed}"


def make_jobs(methods: Iterable[str], source: DataSource, seeds: Iterable[int],
              overrides: Mapping[str, Any] | None = None) -> list[Job]:
    frozen = tuple(sorted((overrides or {}).items()))
    jobs = [Job(method, source, seed, frozen) for method in methods for seed in seeds]
    for job in jobs:
        job.hparams()  # fail early on unknown methods or hyper-parameters
    return jobs


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BenchError(f"--device {device} asked for, but torch sees no CUDA device; use --device cpu")
    return torch.device(device)


@lru_cache(maxsize=1)
def git_revision() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=Path(avgzsl_bench.__file__).parent,
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@lru_cache(maxsize=4)
def _loaded(source: DataSource, device: str) -> GZSLDataset:
    return source.load().to(device)


def check_inputs(jobs: Iterable[Job], store_path: str | None, device: str) -> None:
    """Fail fast, before any job is dispatched: the device exists and the data of every job that
    still has to run loads. In this process the data stays cached, so local jobs reuse it."""
    torch_device = resolve_device(device)
    store = ResultStore(store_path) if store_path else None
    pending = [job for job in jobs if store is None or not store.has_run(job.key)]
    for source in dict.fromkeys(job.source for job in pending):
        _loaded(source, str(torch_device))


def run_record(job: Job, result: ProtocolResult, dataset: GZSLDataset, device: torch.device) -> dict[str, Any]:
    """The row a finished run leaves in the results store."""
    stage1 = result.stage1
    return {
        "key": job.key, "method": job.method, "dataset": job.source.dataset, "seed": job.seed,
        "config_hash": job.config_hash, "config": job.config(),
        **{metric: result.test[metric] for metric in ("seen", "unseen", "hm", "zsl", "beta")},
        "best_epochs": stage1.best_epochs, "val": stage1.val, "val_betas": stage1.val_betas,
        "val_hm_per_epoch": stage1.val_hm_per_epoch, "val_hm_vs_beta": stage1.val_hm_vs_beta,
        "per_class": result.test_per_class, "timings": result.timings,
        "feature_set": job.source.feature_set, "synthetic": int(dataset.synthetic),
        "version": avgzsl_bench.__version__, "git_revision": git_revision(),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
    }


def execute_job(job: Job, store_path: str | None, device: str = "cpu",
                on_epoch: EpochCallback | None = None) -> dict[str, Any]:
    """Run one job to the end (resuming a stored stage 1) and persist it; returns its record."""
    store = ResultStore(store_path) if store_path else None
    if store is not None:
        stored = store.runs(key=job.key)
        if stored:
            return stored[0]
    torch_device = resolve_device(device)
    dataset = _loaded(job.source, str(torch_device))
    spec, hparams = get_method(job.method), job.hparams()
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
