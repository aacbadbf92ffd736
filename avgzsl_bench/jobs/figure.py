"""The trained model Figure 3 plots, trained through the job layer like every run."""

from __future__ import annotations

from pathlib import Path

from avgzsl_bench.api import GZSLMethod, get_method
from avgzsl_bench.datasets.types import GZSLDataset
from avgzsl_bench.errors import BenchError
from avgzsl_bench.executors import ProgressHook
from avgzsl_bench.jobs.environment import method_data, resolve_device
from avgzsl_bench.jobs.execute import train_jobs
from avgzsl_bench.jobs.job import Job
from avgzsl_bench.store.sqlite import ResultStore


def figure3_model(
    job: Job, store_path: str | None, device: str = "cpu", stack: str = "auto", progress: ProgressHook | None = None
) -> tuple[GZSLMethod, GZSLDataset]:
    """`job`'s stage-2 model (which the store does not keep, so it is trained again, reusing a stored
    stage 1) with the data it saw; nothing is written to the store. What the figure cannot plot is
    refused here, before the model trains."""
    method = get_method(job.method).cls
    if not method.has_embeddings():
        raise BenchError(
            f"Figure 3 plots the learned audio-visual and text embeddings; '{job.method}' does not "
            "expose them (embed_inputs/embed_text): use --methods clipclap"
        )
    if method.temporal:  # it sees feature sequences, never pooled
        raise BenchError(
            f"Figure 3 plots one input vector per video; '{job.method}' consumes sequences and has none: "
            "use --methods clipclap"
        )
    # Only read (a stored stage 1 is reused): a store that does not exist is not created.
    store = ResultStore(store_path, read_only=True) if store_path and Path(store_path).is_file() else None
    (trained,) = train_jobs([job], store, device, stack, progress, keep_models=True, persist=False)
    assert trained.model is not None
    return trained.model.eval(), method_data(job.method, job.source, str(resolve_device(device)))
