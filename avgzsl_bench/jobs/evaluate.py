"""Evaluations of trained models as store rows: the job layer's side of `bench.py evaluate`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from avgzsl_bench.api import get_method
from avgzsl_bench.artefacts.checkpoints import TrainedModels
from avgzsl_bench.datasets import DataSource
from avgzsl_bench.jobs.environment import cpu_threads, load_data, record_context, resolve_device
from avgzsl_bench.jobs.predictions import test_predictions
from avgzsl_bench.protocol.trained import evaluate_models
from avgzsl_bench.store.predictions import Predictions
from avgzsl_bench.store.records import RunRecord, build_record

# The reference code fixes its seed to 42 (config default), so its released models come from it.
REFERENCE_SEED = 42


def evaluation_config(source: DataSource, hparams: Mapping[str, Any], models: TrainedModels) -> dict[str, Any]:
    """What determines an evaluation: method, data, hyper-parameters and the models' file hashes."""
    return {
        "method": models.method,
        "data": source.identity(),
        "hparams": dict(hparams),
        "models": {"origin": models.origin, "sha256": dict(models.sha256)},
    }


def evaluate_trained(
    source: DataSource, hparams: Mapping[str, Any], models: TrainedModels, device: str, threads: int
) -> tuple[RunRecord, Predictions | None]:
    """Score trained models on `source` by the reference rule; the row of the evaluation
    (`kind="evaluation"`, its key prefixed 'eval-') and its per-sample test predictions."""
    with cpu_threads(threads):
        torch_device = resolve_device(device)
        dataset = load_data(source, str(torch_device))
        result = evaluate_models(get_method(models.method), dataset, hparams, models)
        record = build_record(
            method=models.method,
            dataset=source.dataset,
            seed=int(models.saved.get("seed", REFERENCE_SEED)),
            config=evaluation_config(source, hparams, models),
            stage1=result.stage1,
            measured=result.measured,
            timings={"evaluation_s": result.seconds},
            context=record_context(source, dataset, torch_device, threads),
            kind="evaluation",
        )
        return record, test_predictions(record.key, dataset, result.stage1, result.measured)
