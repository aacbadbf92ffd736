"""Training batches: one epoch's class-balanced draws, gathered from device tensors."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from avgzsl_bench.api.batches import SampleBatch, TrainBatch
from avgzsl_bench.datasets.types import FeatureSplit, TextEmbeddings
from avgzsl_bench.training.sampling import ClassBalancedSampler

# One step's draws: sample indices and class positions, of the positives and (if asked) negatives.
Draws = dict[str, torch.Tensor]


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


def epoch_draws(sampler: ClassBalancedSampler, num_batches: int, batch_size: int, with_negatives: bool) -> Draws:
    """All of one epoch's draws, (num_batches, batch_size) each, drawn on the host at once."""
    indices, positions = sampler.epoch(num_batches, batch_size)
    draws = {"indices": indices, "positions": positions}
    if with_negatives:
        draws["negatives"], draws["negative_positions"] = sampler.negatives(positions)
    return draws


def batch_of(split: FeatureSplit, class_text: TextEmbeddings, draws: Draws) -> TrainBatch:
    """The training batch of one step's draws (also traced per run under `vmap`)."""
    negative = None
    if "negatives" in draws:
        negative = sample_batch(split, draws["negatives"], draws["negative_positions"], split.seen, class_text)
    return TrainBatch(
        positive=sample_batch(split, draws["indices"], draws["positions"], split.seen, class_text),
        class_ids=split.seen,
        class_text=class_text,
        negative=negative,
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
    draws = {
        name: value.to(device) for name, value in epoch_draws(sampler, num_batches, batch_size, with_negatives).items()
    }
    for step in range(num_batches):
        yield batch_of(split, class_text, {name: value[step] for name, value in draws.items()})
