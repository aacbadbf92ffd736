"""Attention fusion (Fayek & Kumar, IJCAI 2020), the temporal baseline of TCAF's tables.

TCAF-GZSL reports this baseline but its repository has only the `--attention_fusion` flag, not the
model, so this is a reconstruction from the two papers, with everything but the fusion taken from
TCAF (`methods/tcaf.py`): the same encoders, time and modality embeddings, heads, losses, schedule
and per-dataset configurations. Fusion: each modality's tokens go, with a class token of their own,
through a transformer that attends within that modality only (`transformer_depth` layers each);
the two class-token outputs c_a, c_v are fused by attention over the modalities, as Fayek & Kumar
fuse their unimodal outputs: α = softmax_m(W [c_a ‖ c_v]) per channel, c = α_a ⊙ c_a + α_v ⊙ c_v,
and θ_o = O_proj(c). Everything else (time stamps, padding, BatchNorm) is TCAF's; no trained models were released.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from avgzsl_bench.api import register_method
from methods.tcaf import TCAF, TCAF_CHOICES, TCAF_MODEL, TCAF_RANGES, TCAF_SCHEDULE, transformer_of


def within_modality_mask(real: torch.Tensor) -> torch.Tensor:
    """(B, 1 + T, 1 + T) attention pattern of [cls, steps] of one modality: every real token attends
    to every real token; padded tokens attend to the class token alone (never read by real ones)."""
    cls = torch.ones(real.shape[0], 1, dtype=torch.bool, device=real.device)
    tokens = torch.cat([cls, real], dim=1)
    allowed = tokens[:, :, None] & tokens[:, None, :]
    allowed[:, :, 0] = True
    return allowed


class AttentionFusion(TCAF):
    def build_tokens(self, hparams: Mapping[str, Any]) -> None:
        self.cls_tokens = nn.Parameter(torch.randn(1, 2, hparams["transformer_dim"]))  # audio, video

    def build_fusion(self, hparams: Mapping[str, Any]) -> None:
        width = hparams["transformer_dim"]
        self.audio_transformer = transformer_of(hparams)
        self.video_transformer = transformer_of(hparams)
        self.modality_attention = nn.Linear(2 * width, 2 * width)

    def fuse(
        self, audio: torch.Tensor, video: torch.Tensor, real_a: torch.Tensor, real_v: torch.Tensor
    ) -> torch.Tensor:
        cls = self.cls_tokens.expand(audio.shape[0], -1, -1).to(audio.dtype)
        c_a = self.audio_transformer(torch.cat([cls[:, :1], audio], dim=1), within_modality_mask(real_a))[:, 0]
        c_v = self.video_transformer(torch.cat([cls[:, 1:], video], dim=1), within_modality_mask(real_v))[:, 0]
        unimodal = torch.stack([c_a, c_v], dim=1)  # (B, 2, width)
        weights = torch.softmax(self.modality_attention(unimodal.flatten(1)).unflatten(1, (2, -1)), dim=1)
        return (weights * unimodal).sum(dim=1)


register_method(
    "attention-fusion",
    description="Attention fusion: unimodal transformers over each sequence, fused by attention over modalities",
    paper_name="Attention fusion",
    tags=("temporal", "baseline"),
    schedule=TCAF_SCHEDULE,
    model=TCAF_MODEL,
    choices=TCAF_CHOICES,
    ranges=TCAF_RANGES,
)(AttentionFusion)
