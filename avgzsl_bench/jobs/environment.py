"""Where a job runs: its device, its CPU threads, its data (loaded once per process, pooled once
for methods built for vectors), and the context its record states (harness version, git revision,
device name, software versions, data fingerprint)."""

from __future__ import annotations

import platform
import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

import avgzsl_bench
from avgzsl_bench.datasets import DataSource
from avgzsl_bench.datasets.types import GZSLDataset
from avgzsl_bench.errors import BenchError
from avgzsl_bench.jobs.job import Job, pooling_of
from avgzsl_bench.store.sqlite import ResultStore


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


def record_context(source: DataSource, dataset: GZSLDataset, device: torch.device, threads: int) -> dict[str, Any]:
    """What a record says about how it was computed (see `store.records.CONTEXT_FIELDS`)."""
    return {
        "feature_set": source.feature_set,
        "synthetic": dataset.synthetic,
        "threads": threads,
        "version": avgzsl_bench.__version__,
        "git_revision": git_revision(),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "data_fingerprint": dataset.fingerprint,
        "software": software_versions(device),
    }


def software_versions(device: torch.device) -> dict[str, str]:
    """The versions a record states it was computed with."""
    versions = {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__}
    if device.type == "cuda" and torch.version.cuda:
        versions["cuda"] = str(torch.version.cuda)
    return versions


@lru_cache(maxsize=4)
def load_data(source: DataSource, device: str, pooling: str | None = None) -> GZSLDataset:
    """The source's data on `device`, loaded and validated once per process; with `pooling`, a
    temporal source's sequences pooled to one vector per sample (once per split, then cached)."""
    if pooling is not None:
        from avgzsl_bench.datasets.pooling import pool_dataset

        return pool_dataset(load_data(source, device), pooling)
    return source.load().to(device)


def method_data(method: str, source: DataSource, device: str) -> GZSLDataset:
    """The data as `method` sees it: pooled by its declared pooling when it is built for vectors
    and the source is temporal, else as loaded."""
    pooling = pooling_of(method, source)
    # Two arguments when nothing is pooled: the cache key of every other caller (check_inputs).
    return load_data(source, device) if pooling is None else load_data(source, device, pooling)


def check_inputs(jobs: Iterable[Job], store_path: str | None, device: str) -> None:
    """Fail fast, before any job is dispatched: the device exists and the data of every job that
    still has to run loads. In this process the data stays cached, so local jobs reuse it."""
    torch_device = resolve_device(device)
    store = ResultStore(store_path) if store_path else None
    pending = [job for job in jobs if store is None or not store.has_run(job.key)]
    for source in dict.fromkeys(job.source for job in pending):
        load_data(source, str(torch_device))


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
