"""`GZSLMethod`: the base class every method plugin subclasses; the protocol relies on nothing else.

A method is an `nn.Module` built as `Method(dims, hparams)` that implements

* `loss(batch) -> {name: scalar}`: named loss terms; the protocol minimises their sum;
* `distances(video, audio, class_text) -> {view: (N, K) distances}` to each candidate class, one
  matrix per *view* ("both", "audio", "video", ...). The first view drives model selection and the
  learning-rate schedule; the test calibration β is the mean of the validation-optimal βs of all
  views (the rule of the AVCA-GZSL code base for CJME/AVGZSLNet; a no-op for one-view methods).

and may override

* `after_step(batch)`: runs under `no_grad` after every optimiser step (the reference code bases
  run an extra train-mode forward there, which only moves BatchNorm running statistics);
* `needs_negatives = True`: each batch item also gets a sample of another class;
* `training_free = True`: the method has nothing to train (epochs are ignored);
* `required_text = ("clip", "clap")`: class-text parts it needs whatever its `text` choice
  (a method that compares features with text in the encoders' own spaces);
* `stackable = False` (with `stack_note` saying why): its runs cannot be trained as one stacked
  model under `torch.func.vmap` (e.g. a loss with data-dependent shapes), so they run one at a time;
* `temporal = True`: the method consumes feature sequences: `video`/`audio` (in `SampleBatch` and
  in `distances`) are `Padded` batches (values, mask, step duration) rather than (N, D) vectors;
* `check_hparams(hparams)`: raise `ValueError` for a combination of values the declared types,
  choices and ranges cannot express (called when jobs are made, before anything runs);
* `embed_inputs(video, audio)` / `embed_text(class_text)`: the learned embedding spaces, used by
  the Figure 3 t-SNE plot.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import nn

from avgzsl_bench.api.batches import TrainBatch
from avgzsl_bench.datasets.types import FeatureDims, TextEmbeddings


class GZSLMethod(nn.Module, metaclass=ABCMeta):
    needs_negatives: ClassVar[bool] = False
    training_free: ClassVar[bool] = False
    required_text: ClassVar[tuple[str, ...]] = ()
    stackable: ClassVar[bool] = True
    stack_note: ClassVar[str] = ""
    temporal: ClassVar[bool] = False

    def __init__(self, dims: FeatureDims, hparams: Mapping[str, Any]) -> None:
        super().__init__()

    @abstractmethod
    def loss(self, batch: TrainBatch) -> dict[str, torch.Tensor]:
        """Named scalar loss terms of one training batch."""

    @abstractmethod
    def distances(
        self, video: torch.Tensor, audio: torch.Tensor, class_text: TextEmbeddings
    ) -> dict[str, torch.Tensor]:
        """(N, K) distances from each sample to each candidate class, per view."""

    @classmethod
    def check_hparams(cls, hparams: Mapping[str, Any]) -> None:
        """Reject invalid hyper-parameter values with a `ValueError`; nothing to check by default."""

    def after_step(self, batch: TrainBatch) -> None:
        """Called after each optimiser step, under `no_grad`; nothing by default."""

    def embed_inputs(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not expose an audio-visual embedding")

    def embed_text(self, class_text: TextEmbeddings) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not expose a class-text embedding")

    @classmethod
    def has_embeddings(cls) -> bool:
        """Both embedding spaces are exposed (what Figure 3 plots)."""
        return cls.embed_inputs is not GZSLMethod.embed_inputs and cls.embed_text is not GZSLMethod.embed_text
