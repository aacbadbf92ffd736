"""Evaluating trained models without training, by the reference rule.

The stage-1 best model (model A) is evaluated on `val` with the calibration searched on the grid;
its val-optimal β (the mean over its views, as in training) is the test calibration; the stage-2
model (model B) is evaluated once on `test` at that β. The protocol's own `evaluate` does the
scoring, so an evaluated model gives exactly the numbers the protocol gave when it trained it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from avgzsl_bench.api import GZSLMethod, MethodSpec
from avgzsl_bench.artefacts.checkpoints import State, TrainedModels
from avgzsl_bench.datasets import DataSource
from avgzsl_bench.datasets.types import FeatureDims, GZSLDataset
from avgzsl_bench.errors import BenchError
from avgzsl_bench.jobs.runner import measured_fields
from avgzsl_bench.protocol.stages import Stage1Result, evaluate, evaluate_test, summarise_stage1
from avgzsl_bench.store.records import RunRecord

# The reference code fixes its seed to 42 (config default), so its released models come from it.
REFERENCE_SEED = 42


@dataclass
class Evaluation:
    stage1: Stage1Result  # model A on val: the metrics and the β chosen there
    test: dict[str, float]  # model B on test at that β (percent), and the β
    per_class: dict[str, float]
    seconds: float


def build_trained(
    spec: MethodSpec, dims: FeatureDims, hparams: Mapping[str, Any], state: State, what: str
) -> GZSLMethod:
    """The method's model with the given weights; a checkpoint that does not fit is a BenchError."""
    model = spec.build(dims, hparams)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        detail = " ".join(str(error).split())
        raise BenchError(
            f"{what} does not fit method '{spec.name}' built with these hyper-parameters and feature dims "
            f"({detail[:600]}); pass the hyper-parameters it was trained with via --set (e.g. --set modality=audio)"
        ) from None
    return model


def evaluate_models(
    spec: MethodSpec, dataset: GZSLDataset, hparams: Mapping[str, Any], models: TrainedModels
) -> Evaluation:
    device = dataset.text.device
    started = time.perf_counter()
    model_a = build_trained(spec, dataset.dims, hparams, models.stage1, f"stage-1 model {models.files['stage1']}")
    model_b = build_trained(spec, dataset.dims, hparams, models.stage2, f"stage-2 model {models.files['stage2']}")
    views = evaluate(model_a.to(device), dataset.splits["val"], dataset.text)
    stage1 = summarise_stage1(views, models.best_epochs, [], time.perf_counter() - started)
    test, per_class = evaluate_test(model_b.to(device), dataset, stage1.test_beta)
    return Evaluation(stage1, test, per_class, time.perf_counter() - started)


def evaluation_config(source: DataSource, hparams: Mapping[str, Any], models: TrainedModels) -> dict[str, Any]:
    """What determines an evaluation: method, data, hyper-parameters and the models' file hashes."""
    return {
        "method": models.method,
        "data": source.identity(),
        "hparams": dict(hparams),
        "models": {"origin": models.origin, "sha256": dict(models.sha256)},
    }


def evaluation_record(
    source: DataSource,
    hparams: Mapping[str, Any],
    models: TrainedModels,
    result: Evaluation,
    dataset: GZSLDataset,
    device: torch.device,
    threads: int,
) -> RunRecord:
    """The store row of an evaluation (`kind="evaluation"`, key prefixed with 'eval-')."""
    config = evaluation_config(source, hparams, models)
    config_hash = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:12]
    seed = int(models.saved.get("seed", REFERENCE_SEED))
    return RunRecord(
        key=f"eval-{models.method}-{source.dataset}-{config_hash}-seed{seed}",
        method=models.method,
        dataset=source.dataset,
        seed=seed,
        config_hash=config_hash,
        config=config,
        best_epochs=models.best_epochs,
        val_hm_per_epoch=[],
        timings={"evaluation_s": result.seconds},
        feature_set=source.feature_set,
        threads=threads,
        kind="evaluation",
        **measured_fields(result.test, result.per_class, result.stage1, dataset, device),
    )
