"""Training batches: one epoch's class-balanced draws, gathered from device tensors."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from avgzsl_bench.api.batches import SampleBatch, TrainBatch
from avgzsl_bench.data import FeatureSplit, TextEmbeddings
from avgzsl_bench.sampling import ClassBalancedSampler


def sample_batch(
    split: FeatureSplit,
    indices: torch.Tensor,
    positions: torch.Tensor,
    class_ids: torch.Tensor,
    class_text: TextEmbeddings,
) -> SampleBatch:
    return SampleBatch(
        video=split.video[indices],
        audio=split.audio[indices],
        labels=class_ids[positions],
        targets=positions,
        text=class_text.rows(positions),
    )


def training_batches(
    split: FeatureSplit,
    class_text: TextEmbeddings,
    sampler: ClassBalancedSampler,
    num_batches: int,
    batch_size: int,
    with_negatives: bool,
) -> Iterator[TrainBatch]:
    """One epoch of class-balanced batches; all indices are drawn up front, on the host, at once."""
    device = split.labels.device
    indices, positions = sampler.epoch(num_batches, batch_size)
    negatives = negative_positions = None
    if with_negatives:
        negatives, negative_positions = sampler.negatives(positions)
        negatives, negative_positions = negatives.to(device), negative_positions.to(device)
    indices, positions = indices.to(device), positions.to(device)
    for step in range(num_batches):
        negative = None
        if negatives is not None and negative_positions is not None:
            negative = sample_batch(split, negatives[step], negative_positions[step], split.seen, class_text)
        yield TrainBatch(
            positive=sample_batch(split, indices[step], positions[step], split.seen, class_text),
            class_ids=split.seen,
            class_text=class_text,
            negative=negative,
        )
