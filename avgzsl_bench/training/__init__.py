"""Training: class-balanced sampling, batches of one epoch, the trainer of one run, and the trainer
of a stack of runs (imported on first use: a one-run job never needs the stacked machinery)."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "RunTrainer": "trainer",
    "StackedTrainer": "stacked",
    "stack_reason": "stackable",
    "sample_batch": "batches",
    "training_batches": "batches",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"avgzsl_bench.training.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'avgzsl_bench.training' has no attribute '{name}'")
