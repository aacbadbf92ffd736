"""ClipClap (Kurzendörfer et al., CVPRW 2024): a feed-forward audio-visual/text embedding model.

Audio-visual input o = O_enc([v, a]); text w = W_enc([CLIP ‖ CLAP]); both projected to 64-d
(θ_o, θ_w) and decoded back to 512-d. Loss = CE(θ_o·Θᵀ) + MSE(θ_o, θ_w) + MSE(w, ρ_o) + MSE(w, ρ_w).
Prediction: nearest class prototype θ_w in plain Euclidean distance. On the AVCA-GZSL feature sets
it runs with their single class embedding (`text=w2v`, 300-d into W_enc).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from avgzsl_bench.api import (
    TEXT_CHOICES,
    FeatureDims,
    GZSLMethod,
    TextEmbeddings,
    TrainBatch,
    embedding_net,
    encode_sample_text,
    register_method,
    select_text,
    text_dim,
)
from methods._recipes import WORD2VEC_TEXT

LOSS_TERMS = ("reg", "ce", "rec")
MODALITIES = ("both", "audio", "video")


def loss_terms(spelling: str) -> set[str]:
    """'reg+ce+rec' -> {'reg', 'ce', 'rec'}; any non-empty '+'-combination of LOSS_TERMS."""
    terms = {term.strip() for term in spelling.split("+")}
    if not terms or not terms <= set(LOSS_TERMS):
        raise ValueError(f"losses must join one or more of {', '.join(LOSS_TERMS)} with '+', got {spelling!r}")
    return terms


class ClipClap(GZSLMethod):
    def __init__(self, dims: FeatureDims, hparams: Mapping[str, Any]) -> None:
        super().__init__(dims, hparams)
        self.modality = hparams["modality"]
        # Single-modality ablations pair each modality with its own text encoder's embedding (when
        # the data has it: the AVCA-GZSL feature sets have only word2vec).
        own = {"both": hparams["text"], "audio": "clap", "video": "clip"}[self.modality]
        self.text = own if own in (*dims.text_names, "both") else hparams["text"]
        self.losses = loss_terms(hparams["losses"])
        input_dim = {"both": dims.video + dims.audio, "audio": dims.audio, "video": dims.video}[self.modality]
        hidden, out, d_model = hparams["hidden_dim"], hparams["embedding_dim"], hparams["model_dim"]
        dropout, bn = hparams["dropout"], hparams["hidden_batch_norm"]
        self.O_enc = embedding_net(input_dim, d_model, dropout)
        self.W_enc = embedding_net(text_dim(dims, self.text), d_model, dropout)
        self.O_proj = embedding_net(d_model, out, dropout, hidden=hidden, hidden_batch_norm=bn)
        self.D_o = embedding_net(out, d_model, dropout, hidden=hidden, hidden_batch_norm=bn)
        self.W_proj = embedding_net(d_model, out, dropout)
        self.D_w = embedding_net(out, d_model, dropout)

    def _inputs(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        if self.modality == "audio":
            return audio
        if self.modality == "video":
            return video.float()
        return torch.cat([video.float(), audio], dim=1)

    def embed_inputs(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """θ_o: the 64-d audio-visual embedding."""
        return self.O_proj(self.O_enc(self._inputs(video, audio)))

    def embed_text(self, text: TextEmbeddings) -> torch.Tensor:
        """θ_w: the 64-d class-label embedding."""
        return self.W_proj(self.W_enc(select_text(text, self.text)))

    def _encode_sample_text(self, batch: TrainBatch) -> torch.Tensor:
        """W_enc of each sample's text (its class's row), as the reference computes it per sample.

        The first Linear runs on the K class rows and is gathered per sample, with the gradient of
        the per-sample product: the same values and gradients, bit for bit, with fewer FLOPs.
        BatchNorm still sees the per-sample batch, as in the reference.
        """
        return encode_sample_text(self.W_enc, batch.class_text, self.text, batch.positive.targets)

    def loss(self, batch: TrainBatch) -> dict[str, torch.Tensor]:
        sample = batch.positive
        w = self._encode_sample_text(batch)
        theta_o = self.embed_inputs(sample.video, sample.audio)
        return self.clipclap_terms(batch, w, theta_o, self.W_proj(w))

    def clipclap_terms(
        self, batch: TrainBatch, w: torch.Tensor, theta_o: torch.Tensor, theta_w: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """The selected terms of ClipClap's loss from one pass's w (W_enc of each sample's text),
        θ_o and θ_w; methods built on ClipClap add their own terms to these."""
        sample = batch.positive
        terms = {}
        if "ce" in self.losses:
            # The class matrix goes through W_enc/W_proj in train mode, as in the reference.
            class_embeddings = self.W_proj(self.W_enc(select_text(batch.class_text, self.text)))
            terms["ce"] = F.cross_entropy(theta_o @ class_embeddings.T, sample.targets)
        if "reg" in self.losses:
            terms["reg"] = F.mse_loss(theta_o, theta_w)
        if "rec" in self.losses:
            terms["rec"] = F.mse_loss(self.D_o(theta_o), w) + F.mse_loss(self.D_w(theta_w), w)
        return terms

    def after_step(self, batch: TrainBatch) -> None:
        # The reference logs embeddings after each step in train mode; that pass moves the
        # BatchNorm running statistics, which the eval-mode numbers depend on.
        self.embed_inputs(batch.positive.video, batch.positive.audio)
        self.W_proj(self._encode_sample_text(batch))

    def distances(
        self, video: torch.Tensor, audio: torch.Tensor, class_text: TextEmbeddings
    ) -> dict[str, torch.Tensor]:
        return {"both": torch.cdist(self.embed_inputs(video, audio), self.embed_text(class_text))}

    @classmethod
    def check_hparams(cls, hparams: Mapping[str, Any]) -> None:
        loss_terms(hparams["losses"])


# The paper's schedule and model settings (HSP-MoE, built on this model, starts from them too).
CLIPCLAP_SCHEDULE: dict[str, dict[str, Any]] = {
    "default": {
        "epochs": 15,
        "lr": 1e-4,
        "batch_size": 64,
        "batches_per_epoch": 300,
        "weight_decay": 1e-5,
        "lr_patience": 3,
    },
    "ucf": {"epochs": 20, "lr": 7e-5},
    "demo": {"epochs": 6, "batches_per_epoch": 60},
}
CLIPCLAP_MODEL: dict[str, Any] = {
    "modality": "both",
    "text": "both",
    "losses": "reg+ce+rec",
    "model_dim": 512,
    "hidden_dim": 512,
    "embedding_dim": 64,
    "dropout": 0.1,
    "hidden_batch_norm": True,
}

register_method(
    "clipclap",
    description="ClipClap: CLIP+CLAP features, dual text embeddings, CE+regression+reconstruction",
    paper_name="ClipClap",
    schedule=CLIPCLAP_SCHEDULE,
    model={"default": CLIPCLAP_MODEL, **WORD2VEC_TEXT},
    choices={"modality": MODALITIES, "text": TEXT_CHOICES},
)(ClipClap)
