"""Temporal poolings: how a method built for one vector per video sees a temporal feature set.

A method that does not declare `temporal = True` receives, on a temporal feature set, each
sequence pooled to one vector by the pooling it declares (`GZSLMethod.pooling`, default "mean":
the mean over the sequence's real steps). The pooled dataset is computed once per split and data
source, never per batch, and is an ordinary averaged dataset from then on: sampling, stacking and
evaluation are the averaged protocol's. A new pooling is one `POOLINGS.add(name, function)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import torch

from avgzsl_bench.datasets.sequences import Sequences
from avgzsl_bench.datasets.types import FeatureSplit, GZSLDataset
from avgzsl_bench.registry import Registry

Pooling = Callable[[Sequences], torch.Tensor]  # (N sequences) -> (N, D) float32
POOLINGS: Registry[Pooling] = Registry("temporal pooling")
DEFAULT_POOLING = "mean"  # also `GZSLMethod.pooling`'s default


@POOLINGS.register("mean")
def _mean(sequences: Sequences) -> torch.Tensor:
    """The mean over each sequence's real steps (what the averaged benchmark's features are)."""
    return sequences.mean()


def pool_split(split: FeatureSplit, pooling: Pooling) -> FeatureSplit:
    assert isinstance(split.video, Sequences) and isinstance(split.audio, Sequences)
    return replace(split, video=pooling(split.video), audio=pooling(split.audio))


def pool_dataset(dataset: GZSLDataset, pooling: str = DEFAULT_POOLING) -> GZSLDataset:
    """`dataset` with every split's sequences pooled to one vector per sample (itself if averaged)."""
    if not dataset.temporal:
        return dataset
    function = POOLINGS.get(pooling)
    splits = {name: pool_split(split, function) for name, split in dataset.splits.items()}
    note = f"sequences pooled to one vector per video by '{pooling}' pooling, once per split"
    return replace(dataset, splits=splits, notes=(*dataset.notes, note))
