"""DEVISE (Frome et al., NeurIPS 2013) as implemented in AVCA-GZSL (`DeviseModel`), adapted to CLIP/CLAP.

Shared by `ale` and `sje`: x = L2-normalise([v, a]) (`--norm_inputs`, video first),
φ(x) = W·x with W = Linear(1536 → 300, no bias); class rows T = L2-normalise(W_enc(CLIP ‖ CLAP))
(ClipClap Eq. 9; `normalize_text`, see below).
Training scores s = φ(x)·Tᵀ (dropout on x and on T) against the training classes with the
reference `ClsContrastiveLoss` (margin 0.1): DEVISE sums the hinge costs, SJE keeps the largest,
ALE weights them WARP-style. Prediction: Euclidean distance ‖φ(x) − T_c‖ (trained with dot
products, evaluated with distances, as in the reference).

`normalize_text=True` (adaptation decision, like AVGZSLNet's normalised target): the reference's
class rows are fixed unit-norm word2vec vectors; with a trainable W_enc the dot-product loss
instead inflates the seen classes' rows (norm ≈ 11 vs ≈ 9 for unseen after 60 demo steps, with
‖φ(x)‖ ≈ 0.7), and the Euclidean evaluation then always predicts the smallest-norm (unseen)
rows: seen accuracy 0. Normalising the rows restores the original geometry; `False` keeps the
raw W_enc output. On the AVCA-GZSL feature sets (`text=w2v`) the model is the original one: no
W_enc, the word2vec rows as given, inputs normalised only for C3D/VGGish (as the reference's
scripts do).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from avgzsl_bench.api import (
    TEXT_CHOICES,
    FeatureDims,
    GZSLMethod,
    TextEmbeddings,
    TrainBatch,
    dropout,
    encoded_text_dim,
    ranking_hinge,
    register_method,
    select_text,
    text_encoder,
)
from methods._recipes import AVCA_GZSL_SCHEDULE, DEMO_SCHEDULE, W_ENC_DEFAULTS, word2vec_defaults


class LinearCompatibility(GZSLMethod):
    """The DEVISE/ALE/SJE model; the subclass's `ranking` picks the loss ('devise', 'ale' or 'sje')."""

    ranking = "devise"

    def __init__(self, dims: FeatureDims, hparams: Mapping[str, Any]) -> None:
        super().__init__(dims, hparams)
        self.text = hparams["text"]
        self.normalize, self.margin = bool(hparams["normalize_inputs"]), hparams["margin"]
        self.normalize_text = bool(hparams["normalize_text"])
        self.W_enc = text_encoder(dims, self.text, hparams["text_dim"], hparams["text_dropout"])
        text_width = encoded_text_dim(dims, self.text, hparams["text_dim"])
        self.W = nn.Linear(dims.video + dims.audio, text_width, bias=False)
        self.dropout = dropout(hparams["dropout"])

    def project(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        x = torch.cat([video, audio], dim=1)
        return self.W(self.dropout(F.normalize(x, dim=1) if self.normalize else x))

    def class_rows(self, text: TextEmbeddings) -> torch.Tensor:
        rows = self.W_enc(select_text(text, self.text))
        return self.dropout(F.normalize(rows, dim=1) if self.normalize_text else rows)

    def loss(self, batch: TrainBatch) -> dict[str, torch.Tensor]:
        sample = batch.positive
        scores = self.project(sample.video, sample.audio) @ self.class_rows(batch.class_text).T
        return {self.ranking: ranking_hinge(scores, sample.targets, self.ranking, self.margin)}

    def distances(
        self, video: torch.Tensor, audio: torch.Tensor, class_text: TextEmbeddings
    ) -> dict[str, torch.Tensor]:
        return {"both": torch.cdist(self.project(video, audio), self.class_rows(class_text))}


def register_compatibility(cls: type[LinearCompatibility], name: str, paper_name: str, description: str) -> None:
    register_method(
        name,
        description=description,
        paper_name=paper_name,
        tags=("baseline", "extra"),
        schedule={"default": AVCA_GZSL_SCHEDULE, "demo": DEMO_SCHEDULE},
        model={
            "default": {
                **W_ENC_DEFAULTS,
                "dropout": 0.2,
                "normalize_inputs": True,
                "normalize_text": True,
                "margin": 0.1,
            },
            "vggsound": {"dropout": 0.0},
            # The original form on word2vec: its (unit-norm) rows enter as given; only the
            # C3D/VGGish (cls) scripts of the reference normalise the inputs, not the SeLaVi ones.
            **word2vec_defaults(normalize_text=False),
            "*/selavi": {"text": "w2v", "normalize_text": False, "normalize_inputs": False},
        },
        choices={"text": TEXT_CHOICES},
    )(cls)


class DEVISE(LinearCompatibility):
    ranking = "devise"


register_compatibility(DEVISE, "devise", "DEVISE", "DEVISE: linear compatibility, summed ranking hinge (margin 0.1)")
