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
* `temporal = True`: it consumes feature *sequences*. On a temporal feature set it then receives
  `Padded` batches (values, mask, step duration) wherever an averaged method receives tensors:
  `SampleBatch.video/.audio` and `distances(video, audio, class_text)` (evaluated in batches of
  `EVAL_BATCH` samples); the schedule keys `batch_length`, `train_steps`, `eval_steps` set how
  batches are cut (`datasets.crop`). Temporal methods train one run at a time (not stacked);
* `pooling = "mean"`: how a method that is not temporal sees a temporal feature set: each
  sequence pooled to one vector by this entry of `datasets.pooling.POOLINGS`, once per split;
* `stackable = False` (with `stack_note` saying why): its runs cannot be trained as one stacked
  model under `torch.func.vmap` (e.g. a loss with data-dependent shapes), so they run one at a time;
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

from avgzsl_bench.api.batches import Features, TrainBatch
from avgzsl_bench.datasets.crop import SequenceCrop
from avgzsl_bench.datasets.pooling import DEFAULT_POOLING
from avgzsl_bench.datasets.types import FeatureDims, TextEmbeddings


class GZSLMethod(nn.Module, metaclass=ABCMeta):
    needs_negatives: ClassVar[bool] = False
    training_free: ClassVar[bool] = False
    required_text: ClassVar[tuple[str, ...]] = ()
    stackable: ClassVar[bool] = True
    stack_note: ClassVar[str] = ""
    temporal: ClassVar[bool] = False
    pooling: ClassVar[str] = DEFAULT_POOLING
    # How this instance's evaluation batches of sequences are cut (set from the schedule at build).
    sequence_crop: SequenceCrop = SequenceCrop()

    def __init__(self, dims: FeatureDims, hparams: Mapping[str, Any]) -> None:
        super().__init__()

    @abstractmethod
    def loss(self, batch: TrainBatch) -> dict[str, torch.Tensor]:
        """Named scalar loss terms of one training batch."""

    @abstractmethod
    def distances(self, video: Features, audio: Features, class_text: TextEmbeddings) -> dict[str, torch.Tensor]:
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
