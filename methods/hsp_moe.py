"""HSP-MoE: hyperspherical semantic preservation with audio-visual mixture-of-experts routing.

The "full model" of the public research code `XPX-LQL/HSP-MoE-AVGZSL` (2025, built on the ClipClap
code; no peer-reviewed paper is cited there, so its numbers are README claims). It keeps ClipClap's
networks and its reconstruction and regression losses, and changes how samples meet classes:

* hyperspherical matching: the audio-visual embedding θ_o and the class embedding θ_w are
  compared by direction only; the cross-entropy uses cosine logits divided by `temperature`;
* AV-MoE routing: three experts (audio-visual, video-only, audio-only; Linear → LayerNorm → GELU
  → Dropout → Linear, unit outputs) are weighted by a router fed with unit projections of the
  raw video and audio features; the routed direction is mixed into θ_o's direction with weight
  `routing_weight` and re-normalised. This refined direction is the sample's embedding;
* preservation losses against the raw CLIP/CLAP space ("teacher"): DP, a KL divergence between the
  class posteriors of the embedding and of the raw features against the raw class text
  (temperature `distill_temperature`, scaled by its square); RP, the MSE between the off-diagonal
  cosine-similarity matrices of the embeddings and of the raw features; HUP, the log-mean of
  exp(−t·‖x_i − x_j‖²) over pairs of samples of different classes, shifted by 4t to be ≥ 0
  (a uniformity term that spreads the embeddings over the sphere);
* FAR at evaluation: the distance is `far_weight` · (adapted distance) + (1 − `far_weight`) ·
  (distance of the L2-normalised raw [video, audio] features to the normalised raw [CLIP, CLAP]
  class text, rescaled to the adapted distances' mean).

The raw video/audio features must live in the CLIP/CLAP text spaces, so the method needs both
text parts and features of the same widths (it does not run on the word2vec feature sets).
Defaults are the README's full-model settings: temperature 0.1, DP 0.001, RP 0.0002, HUP 0.0002
(t = 2), routing weight 0.5 (router temperature 1), FAR weight 0.5, ClipClap's schedule.
2,776,131 parameters at the CLIP/CLAP dims: ClipClap's 2,237,824 plus 538,307 for the routing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from avgzsl_bench.api import (
    NON_NEGATIVE,
    POSITIVE,
    PROBABILITY,
    FeatureDims,
    Range,
    TextEmbeddings,
    TrainBatch,
    dropout,
    register_method,
    select_text,
)
from methods.clipclap import CLIPCLAP_MODEL, CLIPCLAP_SCHEDULE, ClipClap


def _expert(in_dim: int, hidden: int, out_dim: int, p: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(in_dim, hidden), nn.LayerNorm(hidden), nn.GELU(), dropout(p), nn.Linear(hidden, out_dim)
    )


class ExpertRouting(nn.Module):
    """Refines a unit direction with a routed mixture of audio-visual, video and audio experts."""

    def __init__(self, video_dim: int, audio_dim: int, out_dim: int, p: float) -> None:
        super().__init__()
        hidden = max(2 * out_dim, 128)
        self.video_key = nn.Linear(video_dim, out_dim)
        self.audio_key = nn.Linear(audio_dim, out_dim)
        self.experts = nn.ModuleList(
            [
                _expert(video_dim + audio_dim, hidden, out_dim, p),
                _expert(video_dim, hidden, out_dim, p),
                _expert(audio_dim, hidden, out_dim, p),
            ]
        )
        self.router = nn.Sequential(
            nn.Linear(2 * out_dim, 128), nn.ReLU(), dropout(p), nn.Linear(128, 32), nn.ReLU(), nn.Linear(32, 3)
        )

    def forward(
        self, direction: torch.Tensor, video: torch.Tensor, audio: torch.Tensor, weight: float, temperature: float
    ) -> torch.Tensor:
        keys = torch.cat([F.normalize(self.video_key(video), dim=1), F.normalize(self.audio_key(audio), dim=1)], dim=1)
        routing = torch.softmax(self.router(keys) / temperature, dim=1)
        inputs = (torch.cat([video, audio], dim=1), video, audio)
        experts = torch.stack([F.normalize(e(x), dim=1) for e, x in zip(self.experts, inputs)], dim=1)
        routed = F.normalize((routing.unsqueeze(-1) * experts).sum(dim=1), dim=1)
        return F.normalize((1 - weight) * F.normalize(direction, dim=1) + weight * routed, dim=1)


def distribution_loss(
    embedding: torch.Tensor, classes: torch.Tensor, raw: torch.Tensor, raw_classes: torch.Tensor, temperature: float
) -> torch.Tensor:
    """DP: KL(teacher ‖ student) of the class posteriors, times temperature² (batch mean)."""
    student = F.normalize(embedding, dim=1) @ F.normalize(classes, dim=1).T / temperature
    with torch.no_grad():
        teacher = torch.softmax(F.normalize(raw, dim=1) @ F.normalize(raw_classes, dim=1).T / temperature, dim=1)
    # KL written out (as F.kl_div's "batchmean" computes it): vmap has a batching rule for these ops
    kl = torch.special.xlogy(teacher, teacher) - teacher * F.log_softmax(student, dim=1)
    return kl.sum() / embedding.shape[0] * temperature**2


def relation_loss(embedding: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
    """RP: MSE between the off-diagonal cosine-similarity matrices of the embeddings and raw features."""
    n = embedding.shape[0]
    if n < 2:
        return embedding.new_zeros(())
    student = F.normalize(embedding, dim=1)
    with torch.no_grad():
        teacher_unit = F.normalize(raw, dim=1)
        teacher = teacher_unit @ teacher_unit.T
    # a mask multiply, not boolean indexing: static shapes, so the stacked trainer can vmap it
    off_diagonal = 1 - torch.eye(n, dtype=embedding.dtype, device=embedding.device)
    return ((student @ student.T - teacher).square() * off_diagonal).sum() / (n * (n - 1))


def uniformity_loss(embedding: torch.Tensor, labels: torch.Tensor, temperature: float) -> torch.Tensor:
    """HUP: log-mean of exp(−t·‖x_i − x_j‖²) over pairs of different classes, shifted by 4t (≥ 0);
    0 for a batch of one class. Written with static shapes (masked, not selected) for vmap."""
    unit = F.normalize(embedding, dim=1)
    squared = (2 - 2 * unit @ unit.T).clamp_min(0)
    pairs = labels.unsqueeze(0) != labels.unsqueeze(1)  # also excludes the diagonal
    count = pairs.sum()
    # the lowest finite value: its exp is 0 beside any real pair, and no inf/nan reaches the gradient
    logits = torch.where(pairs, -temperature * squared, torch.finfo(squared.dtype).min)
    uniformity = torch.logsumexp(logits.flatten(), dim=0) - count.clamp_min(1).log()
    return torch.where(count > 0, (uniformity + 4 * temperature).clamp_min(0), 0.0)


class HSPMoE(ClipClap):
    required_text = ("clip", "clap")

    def __init__(self, dims: FeatureDims, hparams: Mapping[str, Any]) -> None:
        super().__init__(dims, hparams)
        if dims.video != dims.clip_text or dims.audio != dims.clap_text:
            raise ValueError(
                "hsp-moe compares raw features with raw class text: it needs video dim == CLIP text dim and "
                f"audio dim == CLAP text dim, got {dims}"
            )
        self.routing = ExpertRouting(dims.video, dims.audio, hparams["embedding_dim"], hparams["routing_dropout"])
        self.h = dict(hparams)

    def _refine(self, theta_o: torch.Tensor, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        return self.routing(
            theta_o, video.float(), audio.float(), self.h["routing_weight"], self.h["routing_temperature"]
        )

    def embed_inputs(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """The refined unit direction of θ_o (what is compared with the classes)."""
        return self._refine(super().embed_inputs(video, audio), video, audio)

    def embed_text(self, text: TextEmbeddings) -> torch.Tensor:
        return F.normalize(super().embed_text(text), dim=1)

    def loss(self, batch: TrainBatch) -> dict[str, torch.Tensor]:
        sample, h = batch.positive, self.h
        w = self._encode_sample_text(batch)
        theta_o = super().embed_inputs(sample.video, sample.audio)
        theta_w = self.W_proj(w)
        direction = self._refine(theta_o, sample.video, sample.audio)
        # the class matrix through W_enc/W_proj in train mode, as ClipClap's cross-entropy does
        classes = F.normalize(self.W_proj(self.W_enc(select_text(batch.class_text, self.text))), dim=1)
        raw = torch.cat([sample.video.float(), sample.audio], dim=1)
        terms = {}
        if "ce" in self.losses:
            terms["ce"] = F.cross_entropy(direction @ classes.T / h["temperature"], sample.targets)
        if "reg" in self.losses:
            terms["reg"] = F.mse_loss(theta_o, theta_w)
        if "rec" in self.losses:
            terms["rec"] = F.mse_loss(self.D_o(theta_o), w) + F.mse_loss(self.D_w(theta_w), w)
        raw_classes = select_text(batch.class_text, "both")
        terms["distribution"] = h["distribution_weight"] * distribution_loss(
            direction, classes, raw, raw_classes, h["distill_temperature"]
        )
        terms["relation"] = h["relation_weight"] * relation_loss(direction, raw)
        terms["uniformity"] = h["uniformity_weight"] * uniformity_loss(
            direction, sample.labels, h["uniformity_temperature"]
        )
        return terms

    def distances(
        self, video: torch.Tensor, audio: torch.Tensor, class_text: TextEmbeddings
    ) -> dict[str, torch.Tensor]:
        adapted = torch.cdist(self.embed_inputs(video, audio), self.embed_text(class_text))
        weight = self.h["far_weight"]
        if weight >= 1:
            return {"both": adapted}
        raw = torch.cdist(
            F.normalize(torch.cat([video.float(), audio], dim=1), dim=1), F.normalize(class_text.both, dim=1)
        )
        raw = raw * (adapted.mean().clamp_min(1e-6) / raw.mean().clamp_min(1e-6))
        return {"both": weight * adapted + (1 - weight) * raw}


HSP_MOE_MODEL: dict[str, Any] = {
    **CLIPCLAP_MODEL,
    "temperature": 0.1,
    "routing_weight": 0.5,
    "routing_temperature": 1.0,
    "routing_dropout": 0.1,
    "distill_temperature": 2.0,
    "distribution_weight": 0.001,
    "relation_weight": 0.0002,
    "uniformity_weight": 0.0002,
    "uniformity_temperature": 2.0,
    "far_weight": 0.5,
}

register_method(
    "hsp-moe",
    description="HSP-MoE (2025): ClipClap + hyperspherical matching, AV-MoE routing, DP/RP/HUP, FAR fusion",
    paper_name="HSP-MoE",
    tags=("post-2024",),
    schedule=CLIPCLAP_SCHEDULE,
    model={"default": HSP_MOE_MODEL},
    choices={"modality": ("both",), "text": ("both",)},
    ranges={
        "temperature": POSITIVE,
        "routing_temperature": POSITIVE,
        "distill_temperature": POSITIVE,
        "uniformity_temperature": POSITIVE,
        "routing_weight": Range(0, 1),
        "far_weight": Range(0, 1),
        "distribution_weight": NON_NEGATIVE,
        "relation_weight": NON_NEGATIVE,
        "uniformity_weight": NON_NEGATIVE,
        "routing_dropout": PROBABILITY,
    },
)(HSPMoE)
