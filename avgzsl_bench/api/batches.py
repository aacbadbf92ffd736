"""What the protocol hands a method during training: one batch of samples and the class text."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from avgzsl_bench.datasets.types import TextEmbeddings


@dataclass(frozen=True)
class SampleBatch:
    video: torch.Tensor  # (B, video_dim)
    audio: torch.Tensor  # (B, audio_dim)
    labels: torch.Tensor  # (B,) global class ids
    targets: torch.Tensor  # (B,) position of each label in `TrainBatch.class_ids`
    text: TextEmbeddings  # (B, ...) text embedding of each sample's class


@dataclass(frozen=True)
class TrainBatch:
    positive: SampleBatch
    class_ids: torch.Tensor  # (K,) sorted training classes
    class_text: TextEmbeddings  # (K, ...) text of the training classes, row k = class_ids[k]
    negative: SampleBatch | None = None  # a sample of another class per item, if requested

    @property
    def negatives(self) -> SampleBatch:
        """The negative samples; only methods that declare `needs_negatives = True` receive them."""
        if self.negative is None:
            raise ValueError("this batch has no negative samples: the method must declare needs_negatives = True")
        return self.negative
