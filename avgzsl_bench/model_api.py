"""The contract between the protocol and a method's module.

A method module is an `nn.Module` with:
  * `loss(batch: TrainBatch) -> dict[str, Tensor]`: named loss terms; the protocol minimises their sum.
  * `distances(video, audio, class_text) -> dict[str, Tensor]`: (N, K) distances to each candidate
    class, one matrix per *view* (e.g. "both", "audio", "video"). The first view drives model
    selection and the LR schedule; the test beta is the mean of the val-optimal betas of all views
    (the reference rule for CJME/AVGZSLNet, a no-op for single-view methods).
  * optional `after_step(batch)`: runs after each optimiser step (e.g. the reference's extra
    train-mode pass that only updates BatchNorm statistics).
  * optional class attribute `needs_negatives = True` to receive a negative sample per item.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from avgzsl_bench.data import TextEmbeddings


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


class GZSLModel(Protocol):
    def loss(self, batch: TrainBatch) -> dict[str, torch.Tensor]: ...

    def distances(
        self, video: torch.Tensor, audio: torch.Tensor, class_text: TextEmbeddings
    ) -> dict[str, torch.Tensor]: ...
