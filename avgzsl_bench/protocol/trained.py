"""Evaluating trained models without training, by the reference rule.

The stage-1 best model (model A) is evaluated on `val` with the calibration searched on the grid;
its val-optimal β (the mean over its views, as in training) is the test calibration; the stage-2
model (model B) is evaluated once on `test` at that β. The protocol's own `evaluate` does the
scoring, so an evaluated model gives exactly the numbers the protocol gave when it trained it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from avgzsl_bench.api import GZSLMethod, MethodSpec
from avgzsl_bench.artefacts.checkpoints import State, TrainedModels
from avgzsl_bench.datasets.types import FeatureDims, GZSLDataset
from avgzsl_bench.errors import BenchError
from avgzsl_bench.protocol.stages import evaluate, evaluate_test, summarise_stage1
from avgzsl_bench.store.records import Measured, Stage1Result


@dataclass
class Evaluation:
    stage1: Stage1Result  # model A on val: the metrics and the β chosen there
    measured: Measured  # model B on test at that β
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
    measured = evaluate_test(model_b.to(device), dataset, stage1.test_beta)
    return Evaluation(stage1, measured, time.perf_counter() - started)
