"""Every stored test evaluation keeps its per-sample predictions and its data fingerprint, and the
predictions reproduce the stored metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from test_metrics import _spec_example

import avgzsl_bench
from avgzsl_bench.artefacts.checkpoints import load_saved
from avgzsl_bench.datasets import DataSource
from avgzsl_bench.jobs.evaluate import evaluate_trained
from avgzsl_bench.protocol.metrics import HM_EPSILON, calibration_grid, gzsl_scores
from avgzsl_bench.store.predictions import Predictions
from avgzsl_bench.store.records import RunRecord
from avgzsl_bench.store.sqlite import ResultStore

SOURCE = DataSource("demo", demo_samples_per_class=12)
QUICK = {"epochs": 2, "batches_per_epoch": 4, "batch_size": 16}


def recomputed_metrics(predictions: Predictions, unseen: list[str]) -> tuple[dict[str, float], dict[str, float]]:
    """Per-class recall and S/U/HM (percent) counted from the predictions alone."""
    classes = np.unique(predictions.labels)
    total = np.bincount(predictions.labels, minlength=len(predictions.class_names))
    hits = np.bincount(predictions.labels[predictions.correct], minlength=len(predictions.class_names))
    recall = {predictions.class_names[c]: 100 * hits[c] / total[c] for c in classes}
    seen = np.mean([value for name, value in recall.items() if name not in unseen])
    unseen_acc = np.mean([value for name, value in recall.items() if name in unseen])
    hm = 2 * seen * unseen_acc / (seen + unseen_acc + 100 * HM_EPSILON)
    return recall, {"seen": float(seen), "unseen": float(unseen_acc), "hm": float(hm)}


def assert_consistent(record: RunRecord, predictions: Predictions | None) -> None:
    assert predictions is not None, f"run {record.key} has no stored predictions"
    test = SOURCE.load().splits["test"]
    assert predictions.key == record.key and len(predictions.labels) == len(test)
    np.testing.assert_array_equal(predictions.labels, test.labels.numpy())
    assert predictions.sample_names == test.names and predictions.beta == record.beta
    assert list(map(list, zip(predictions.beta_grid, predictions.val_hm))) == record.val_hm_vs_beta
    recall, metrics = recomputed_metrics(predictions, record.unseen_classes)
    assert recall.keys() == record.per_class.keys()
    for name, value in recall.items():
        assert value == pytest.approx(record.per_class[name], abs=1e-4), name
    for metric, value in metrics.items():
        assert value == pytest.approx(getattr(record, metric), abs=1e-3), metric
    assert 0 < record.hm < 100  # a real mix of right and wrong predictions, not a degenerate run


def test_scores_keep_the_predictions_they_count_only_when_asked() -> None:
    distances, labels, classes, seen, unseen = _spec_example()
    scores = gzsl_scores(distances, labels, classes, seen, unseen, torch.tensor([0.0]), keep_predicted=True)
    assert scores.predicted is not None
    # β = 0 by hand: (0.6, 0) of class 1 -> 2, (0.2, 0.3) of class 2 -> 1, (0.1, 1.4) of class 8 -> 3
    assert scores.at(0).predicted.tolist() == [1, 2, 2, 2, 1, 3, 4, 7, 8, 3]
    assert gzsl_scores(distances, labels, classes, seen, unseen, calibration_grid()).predicted is None


@pytest.mark.parametrize("stack", ["off", "on"])
def test_trained_runs_store_predictions_that_reproduce_their_metrics(tmp_path: Path, stack: str) -> None:
    store_path = tmp_path / "runs.sqlite"
    report = avgzsl_bench.run_benchmark(
        "devise", SOURCE, seeds=[1, 2], overrides=QUICK, store=store_path, stack=stack, device="cpu"
    )
    store = ResultStore(store_path)
    assert len(report.records) == 2
    for record in store.runs():
        assert_consistent(record, store.predictions(record.key))
        assert record.data_fingerprint == SOURCE.load().fingerprint != ""


def test_an_evaluation_stores_the_predictions_its_trained_run_made(tmp_path: Path) -> None:
    store_path, models = tmp_path / "runs.sqlite", tmp_path / "models"
    (trained,) = avgzsl_bench.run_benchmark(
        "devise", SOURCE, seeds=[3], overrides=QUICK, store=store_path, models_dir=str(models), device="cpu"
    ).records
    saved = load_saved(next(models.glob("*.pt")))
    evaluated = evaluate_trained(SOURCE, saved.saved["config"]["hparams"], saved, "cpu", 1)
    record, predictions = evaluated.record, evaluated.predictions
    assert record.kind == "evaluation" and record.data_fingerprint == trained.data_fingerprint
    assert_consistent(record, predictions)
    stored = ResultStore(store_path).predictions(trained.key)
    assert stored is not None and predictions is not None
    np.testing.assert_array_equal(predictions.predicted, stored.predicted)  # same model B, same β
