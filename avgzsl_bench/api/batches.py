"""What the protocol hands a method during training: one batch of samples and the class text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from avgzsl_bench.datasets.types import TextEmbeddings

# Features as a method receives them: a (B, dim) tensor, or for temporal methods a `Padded` batch of
# sequences. Typed Any so that each method annotates what it receives (torch.Tensor or Padded).
Features = Any


@dataclass(frozen=True)
class SampleBatch:
    video: Features  # (B, video_dim), or a `Padded` (B, T, video_dim) for temporal methods
    audio: Features  # (B, audio_dim), or a `Padded` (B, T', audio_dim)
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
