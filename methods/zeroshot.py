"""Zero-shot sanity baseline: no training, classify by cosine similarity of the raw features.

video ↔ CLIP text (the CLIP image and text towers share one space) and audio ↔ CLAP text (likewise
for CLAP). Distance = 1 − cosine per modality; "both" sums the two (2 − cos_v − cos_a).
This is the leakage/sanity floor the paper lacks: whatever a trained method gains over it is
learned, and its unseen accuracy shows how much the pre-trained encoders already know.

`modality` picks the single view returned ("both", "video", "audio"). Only that view is returned,
so the test β is the val-optimal β of that view; averaging βs over views with different distance
scales (the "both" sum spans [0, 4], the single views [0, 2]) would not be meaningful here.
The method is training-free: the protocol evaluates it without training, and its schedule entries
exist only so that every method's configuration has the same shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from avgzsl_bench.api import FeatureDims, GZSLMethod, TextEmbeddings, TrainBatch, register_method

MODALITIES = ("both", "video", "audio")


def cosine_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(N, K) matrix of 1 − cos(x_n, y_k)."""
    return 1 - F.normalize(x.float(), dim=1) @ F.normalize(y.float(), dim=1).T


class ZeroShot(GZSLMethod):
    training_free = True
    required_text = ("clip", "clap")

    def __init__(self, dims: FeatureDims, hparams: Mapping[str, Any]) -> None:
        super().__init__(dims, hparams)
        self.modality = hparams["modality"]
        if dims.video != dims.clip_text or dims.audio != dims.clap_text:
            raise ValueError(
                "zeroshot compares features with text in the same encoder space: it needs video dim == "
                f"CLIP text dim and audio dim == CLAP text dim, got {dims}"
            )

    def loss(self, batch: TrainBatch) -> dict[str, torch.Tensor]:
        return {}  # nothing to train

    def distances(
        self, video: torch.Tensor, audio: torch.Tensor, class_text: TextEmbeddings
    ) -> dict[str, torch.Tensor]:
        if self.modality == "video":
            return {"video": cosine_distance(video, class_text.clip)}
        if self.modality == "audio":
            return {"audio": cosine_distance(audio, class_text.clap)}
        return {"both": cosine_distance(video, class_text.clip) + cosine_distance(audio, class_text.clap)}


register_method(
    "zeroshot",
    description="Zero-shot cosine classifier on raw CLIP/CLAP features (no training; sanity floor)",
    paper_name="Zero-shot CLIP+CLAP",
    tags=("baseline", "no-training"),
    schedule={"default": {"epochs": 0, "lr": 0.0, "batch_size": 1, "batches_per_epoch": 0}},
    model={"default": {"modality": "both"}},
    choices={"modality": MODALITIES},
)(ZeroShot)
