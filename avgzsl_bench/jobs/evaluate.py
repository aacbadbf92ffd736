"""Evaluations of trained models as store rows: the job layer's side of `bench.py evaluate`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from avgzsl_bench.api import get_method
from avgzsl_bench.artefacts.checkpoints import TrainedModels
from avgzsl_bench.artefacts.provenance import NOT_VERIFIABLE, VERIFIED, chance_hm, check_classes
from avgzsl_bench.datasets import DataSource
from avgzsl_bench.jobs.environment import cpu_threads, method_data, record_context, resolve_device
from avgzsl_bench.jobs.job import pooling_of
from avgzsl_bench.jobs.predictions import test_predictions
from avgzsl_bench.protocol.trained import evaluate_models
from avgzsl_bench.store.predictions import Predictions
from avgzsl_bench.store.records import RunRecord, build_record

# The reference code fixes its seed to 42 (config default), so its released models come from it.
REFERENCE_SEED = 42


@dataclass(frozen=True)
class EvaluatedModels:
    """The row of an evaluation, and what tells whether its number can be trusted."""

    record: RunRecord
    verified: bool  # the models record what they were trained on, and it is this data
    val_chance_hm: float  # val HM (%) of a uniform random guess among the val split's classes
    val_classes: int
    predictions: Predictions | None = None  # the class each test sample was given, at the test β


def evaluation_config(
    source: DataSource, hparams: Mapping[str, Any], models: TrainedModels, verified: bool = False
) -> dict[str, Any]:
    """What determines an evaluation: method, data, hyper-parameters, the models' file hashes, and
    whether what they were trained on was verified to be this data (and, as for trained runs, the
    pooling through which a method built for vectors saw a temporal feature set)."""
    config: dict[str, Any] = {
        "method": models.method,
        "data": source.identity(),
        "hparams": dict(hparams),
        "models": {
            "origin": models.origin,
            "sha256": dict(models.sha256),
            "provenance": VERIFIED if verified else NOT_VERIFIABLE,
        },
    }
    pooling = pooling_of(models.method, source)
    if pooling is not None:
        config["pooling"] = pooling
    return config


def evaluate_trained(
    source: DataSource, hparams: Mapping[str, Any], models: TrainedModels, device: str, threads: int
) -> EvaluatedModels:
    """Score trained models on `source` by the reference rule; the row of the evaluation
    (`kind="evaluation"`, its key prefixed 'eval-'). Saved models recording another class list or
    split than `source`'s are refused before they are scored. The per-sample test predictions come with it."""
    with cpu_threads(threads):
        torch_device = resolve_device(device)
        dataset = method_data(models.method, source, str(torch_device))
        verified = not models.is_reference and check_classes(models.files["stage1"], models.saved, dataset, source.root)
        result = evaluate_models(get_method(models.method), dataset, hparams, models)
        record = build_record(
            method=models.method,
            dataset=source.dataset,
            seed=int(models.saved.get("seed", REFERENCE_SEED)),
            config=evaluation_config(source, hparams, models, verified),
            stage1=result.stage1,
            measured=result.measured,
            timings={"evaluation_s": result.seconds},
            context=record_context(source, dataset, torch_device, threads),
            kind="evaluation",
        )
        val = dataset.splits["val"]
        predictions = test_predictions(record.key, dataset, result.stage1, result.measured)
        return EvaluatedModels(record, verified, chance_hm(val), int(val.classes.numel()), predictions)
