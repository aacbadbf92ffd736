"""Training batches: one epoch's class-balanced draws, gathered from device tensors.

On a temporal split the draws also carry each batch's crop windows (row positions into the
shared step tensor and masks, `datasets.crop`), decided on the host for the whole epoch at once
with the sampler's generator; each step then gathers its `Padded` batches on the device.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from avgzsl_bench.api.batches import Features, SampleBatch, TrainBatch
from avgzsl_bench.datasets.crop import SequenceCrop, crop_windows
from avgzsl_bench.datasets.sequences import Sequences
from avgzsl_bench.datasets.types import FeatureSplit, TextEmbeddings
from avgzsl_bench.training.sampling import ClassBalancedSampler

# One step's draws: sample indices and class positions, of the positives and (if asked) negatives;
# on temporal splits also "<indices key>@<modality>" crop positions and "...@<modality>_mask" masks.
Draws = dict[str, torch.Tensor]
SAMPLE_KEYS = ("indices", "negatives")


def _features(features: torch.Tensor | Sequences, draws: Draws, key: str, modality: str) -> Features:
    if isinstance(features, Sequences):
        return features.gather(draws[f"{key}@{modality}"], draws[f"{key}@{modality}_mask"])
    return features[draws[key]]


def sample_batch(
    split: FeatureSplit,
    draws: Draws,
    key: str,
    positions: torch.Tensor,
    class_ids: torch.Tensor,
    class_text: TextEmbeddings,
) -> SampleBatch:
    """The samples `draws[key]` of `split` (padded sequences on a temporal split)."""
    return SampleBatch(
        video=_features(split.video, draws, key, "video"),
        audio=_features(split.audio, draws, key, "audio"),
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
        negative = sample_batch(split, draws, "negatives", draws["negative_positions"], split.seen, class_text)
    return TrainBatch(
        positive=sample_batch(split, draws, "indices", draws["positions"], split.seen, class_text),
        class_ids=split.seen,
        class_text=class_text,
        negative=negative,
    )


def sequence_draws(
    split: FeatureSplit, draws: Draws, crop: SequenceCrop, generator: torch.Generator
) -> tuple[Draws, dict[str, torch.Tensor]]:
    """The crop windows of an epoch's draws, and each step's padded length per windows key."""
    assert isinstance(split.video, Sequences) and isinstance(split.audio, Sequences)
    windows: Draws = {}
    steps: dict[str, torch.Tensor] = {}
    for key in SAMPLE_KEYS:
        if key not in draws:
            continue
        uniform = torch.rand(draws[key].shape, generator=generator)
        cut, lengths = crop_windows(split.video, split.audio, draws[key], crop, training=True, uniform=uniform)
        for modality, (positions, mask) in cut.items():
            windows[f"{key}@{modality}"], windows[f"{key}@{modality}_mask"] = positions, mask
            steps[f"{key}@{modality}"] = lengths[modality]
    return windows, steps


def _step_view(draws: Draws, steps: dict[str, torch.Tensor], step: int) -> Draws:
    """One step's draws; windows cut to that step's padded length (known on the host)."""
    view = {name: value[step] for name, value in draws.items()}
    for key, lengths in steps.items():
        length = int(lengths[step])
        view[key], view[f"{key}_mask"] = view[key][:, :length], view[f"{key}_mask"][:, :length]
    return view


def training_batches(
    split: FeatureSplit,
    class_text: TextEmbeddings,
    sampler: ClassBalancedSampler,
    num_batches: int,
    batch_size: int,
    with_negatives: bool,
    crop: SequenceCrop | None = None,
) -> Iterator[TrainBatch]:
    """One epoch of class-balanced batches; all indices (and, on sequences, all crops) are drawn up
    front, on the host, at once."""
    device = split.labels.device
    draws = epoch_draws(sampler, num_batches, batch_size, with_negatives)
    steps: dict[str, torch.Tensor] = {}
    if split.temporal:
        windows, steps = sequence_draws(split, draws, crop or SequenceCrop(), sampler.generator)
        draws.update(windows)
    draws = {name: value.to(device) for name, value in draws.items()}
    for step in range(num_batches):
        yield batch_of(split, class_text, _step_view(draws, steps, step))
