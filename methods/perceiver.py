"""Perceiver (Jaegle et al., ICML 2021), the temporal baseline of TCAF's tables.

TCAF-GZSL reports this baseline but its repository has only the `--perceiver` flag, not the model,
so this is a reconstruction from the two papers, with everything but the fusion taken from TCAF
(`methods/tcaf.py`): the same encoders, time and modality embeddings, heads, losses, schedule and
per-dataset configurations. Fusion: a learned latent array (`num_latents` × 300) cross-attends to
all real audio and video tokens, then attends to itself (`latent_layers` pre-norm layers); this
block repeats `transformer_depth` times (unshared weights: the Perceiver's weight sharing across
repeats is left out, so depth means what it means for TCAF). The mean of the latents gives
θ_o = O_proj(mean). Everything else (time stamps, padding, BatchNorm) is TCAF's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from avgzsl_bench.api import AT_LEAST_ONE, register_method
from methods.tcaf import (
    TCAF,
    TCAF_CHOICES,
    TCAF_MODEL,
    TCAF_RANGES,
    TCAF_SCHEDULE,
    FeedForward,
    MaskedAttention,
    transformer_of,
)

LATENT_INIT_STD = 0.02  # the Perceiver's latent array initialisation


class CrossAttentionLayer(nn.Module):
    """Latents attend to the tokens: pre-norm on both sides, residual attention and feed-forward."""

    def __init__(self, hparams: Mapping[str, Any]) -> None:
        super().__init__()
        width, p = hparams["transformer_dim"], hparams["transformer_dropout"]
        self.attn = MaskedAttention(width, hparams["transformer_heads"], hparams["transformer_dim_head"], p)
        self.ff = FeedForward(width, hparams["transformer_mlp_dim"], p)
        self.norm_latents, self.norm_tokens, self.norm_ff = (
            nn.LayerNorm(width),
            nn.LayerNorm(width),
            nn.LayerNorm(width),
        )

    def forward(self, latents: torch.Tensor, tokens: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        latents = latents + self.attn(self.norm_latents(latents), allowed, context=self.norm_tokens(tokens))
        return latents + self.ff(self.norm_ff(latents))


class Perceiver(TCAF):
    def build_tokens(self, hparams: Mapping[str, Any]) -> None:
        self.latents = nn.Parameter(torch.randn(hparams["num_latents"], hparams["transformer_dim"]) * LATENT_INIT_STD)

    def build_fusion(self, hparams: Mapping[str, Any]) -> None:
        depth = hparams["transformer_depth"]
        self.cross_layers = nn.ModuleList(CrossAttentionLayer(hparams) for _ in range(depth))
        self.latent_transformers = nn.ModuleList(
            transformer_of(hparams, hparams["latent_layers"]) for _ in range(depth)
        )

    def fuse(
        self, audio: torch.Tensor, video: torch.Tensor, real_a: torch.Tensor, real_v: torch.Tensor
    ) -> torch.Tensor:
        tokens = torch.cat([audio, video], dim=1)
        latents = self.latents.expand(audio.shape[0], -1, -1).to(audio.dtype)
        count = latents.shape[1]
        to_tokens = torch.cat([real_a, real_v], dim=1)[:, None, :].expand(-1, count, -1)
        everywhere = torch.ones(audio.shape[0], count, count, dtype=torch.bool, device=audio.device)
        for cross, latent in zip(self.cross_layers, self.latent_transformers):
            latents = latent(cross(latents, tokens, to_tokens), everywhere)
        return latents.mean(dim=1)


register_method(
    "perceiver",
    description="Perceiver: a latent array cross-attends to the audio and video sequences, then to itself",
    paper_name="Perceiver",
    tags=("temporal", "baseline"),
    schedule=TCAF_SCHEDULE,
    model={**TCAF_MODEL, "default": {**TCAF_MODEL["default"], "num_latents": 16, "latent_layers": 1}},
    choices=TCAF_CHOICES,
    ranges={**TCAF_RANGES, "num_latents": AT_LEAST_ONE, "latent_layers": AT_LEAST_ONE},
)(Perceiver)
