"""A run's per-sample test predictions as the store keeps them, from what the protocol measured."""

from __future__ import annotations

import numpy as np

from avgzsl_bench.datasets.types import GZSLDataset
from avgzsl_bench.store.predictions import Predictions
from avgzsl_bench.store.records import Measured, Stage1Result


def test_predictions(key: str, dataset: GZSLDataset, stage1: Stage1Result, measured: Measured) -> Predictions | None:
    """The predictions of run `key` on `dataset`'s test split; None when the measurement has none."""
    if not measured.predicted:
        return None
    split = dataset.splits["test"]
    curve = stage1.val_hm_vs_beta
    return Predictions(
        key=key,
        labels=split.labels.cpu().numpy().astype(np.int64, copy=False),
        predicted=np.asarray(measured.predicted, dtype=np.int64),
        sample_names=tuple(split.names),
        class_names=tuple(dataset.class_names),
        beta=float(measured.test["beta"]),
        beta_grid=tuple(float(beta) for beta, _ in curve),
        val_hm=tuple(float(hm) for _, hm in curve),
    )
