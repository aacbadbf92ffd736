"""AVCA (Mercea et al., CVPR 2022) as implemented in AVCA-GZSL, adapted to CLIP/CLAP features.

φ_a = A_enc(a), φ_v = V_enc(v) (300-d) go, with position embeddings, through a 1-layer pre-norm
transformer over the 2 tokens [audio, video]; the reference adds the input once more after the
transformer's own residuals (φ' = φ + Y). θ_a = A_proj(φ_a'), θ_v = V_proj(φ_v'), θ_w = W_proj(w)
with w = W_enc(CLIP ‖ CLAP) (the ClipClap paper's Eq. 9). A shared decoder D and the A_rec/V_rec
heads give the reconstruction and regularisation terms: L = l_rec + l_ct + l_w + l_t + l_reg.
Prediction: ‖θ_v − θ_w‖ only (the reference's "both" slot holds this video-head evaluation, so the
test β is the validation β). On the AVCA-GZSL feature sets (`text=w2v`) it is the original model:
w is the 300-d word2vec vector itself, with the reference's per-dataset recipe for those features.

`legacy=True` reproduces the reference's position embeddings that never train (they are missing
from the model's own optimiser, so they stay at their N(0,1) initialisation); by default they
train like every other parameter. Either way they are a parameter of the module (2 × 300 = 600
values), so the total count is the same; only `requires_grad` differs. BatchNorm momentum 0.99
(PyTorch semantics) on the output BN of the encoders/projectors and the reference's train-mode
call order (including the unused A_proj(φ̂_a), V_proj(φ̂_v) calls and the extra embedding pass
after each step) are replicated: they decide the evaluation-time BatchNorm statistics.
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
    dense_stack,
    dropout,
    embedding_net,
    encode_sample_text,
    encoded_text_dim,
    reconstruction_mse,
    register_method,
    select_text,
    text_encoder,
    triplet,
)
from methods._recipes import AVCA_GZSL_SCHEDULE, DEMO_SCHEDULE, W_ENC_DEFAULTS, WORD2VEC_TEXT

TOKEN_DIM = 300  # hard-coded internal dimension of the reference


class Attention(nn.Module):
    """Multi-head self-attention with a bias-free qkv projection (vit-pytorch style)."""

    def __init__(self, dim: int, heads: int, dim_head: int, p: float) -> None:
        super().__init__()
        self.heads, self.scale = heads, dim_head**-0.5
        self.to_qkv = nn.Linear(dim, 3 * heads * dim_head, bias=False)
        self.to_out = nn.Sequential(nn.Linear(heads * dim_head, dim), dropout(p))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, _ = x.shape
        q, k, v = (t.reshape(batch, tokens, self.heads, -1).transpose(1, 2) for t in self.to_qkv(x).chunk(3, dim=-1))
        attention = torch.softmax(q @ k.transpose(-1, -2) * self.scale, dim=-1)
        return self.to_out((attention @ v).transpose(1, 2).reshape(batch, tokens, -1))


class TransformerBlock(nn.Module):
    """One pre-norm layer: x + Attn(LN(x)), then x + FF(LN(x))."""

    def __init__(self, dim: int, heads: int, dim_head: int, mlp_dim: int, p: float) -> None:
        super().__init__()
        self.norm_attention, self.attention = nn.LayerNorm(dim), Attention(dim, heads, dim_head, p)
        self.norm_ff = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), dropout(p), nn.Linear(mlp_dim, dim), dropout(p))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm_attention(x))
        return x + self.ff(self.norm_ff(x))


class AVCA(GZSLMethod):
    needs_negatives = True

    def __init__(self, dims: FeatureDims, hparams: Mapping[str, Any]) -> None:
        super().__init__(dims, hparams)
        self.text, self.legacy, self.margin = hparams["text"], bool(hparams["legacy"]), hparams["margin"]
        r_enc, r_proj, r_dec = hparams["encoder_dropout"], hparams["projector_dropout"], hparams["decoder_dropout"]
        momentum, out = hparams["bn_momentum"], hparams["embedding_dim"]
        enc_hidden, proj_hidden = hparams["encoder_hidden_dim"], hparams["projector_hidden_dim"]
        self.W_enc = text_encoder(dims, self.text, TOKEN_DIM, hparams["text_dropout"])
        self.A_enc = dense_stack(dims.audio, enc_hidden, TOKEN_DIM, r_enc, momentum)
        self.V_enc = dense_stack(dims.video, enc_hidden, TOKEN_DIM, r_enc, momentum)
        self.cross_attention = nn.Sequential(
            *(
                TransformerBlock(TOKEN_DIM, heads=3, dim_head=100, mlp_dim=64, p=r_enc)
                for _ in range(hparams["transformer_depth"])
            )
        )
        w_dim = encoded_text_dim(dims, self.text, TOKEN_DIM)  # 300 either way: W_enc's output or word2vec
        self.W_proj = embedding_net(w_dim, out, r_dec)
        self.D = embedding_net(out, w_dim, r_dec)
        self.A_proj = dense_stack(TOKEN_DIM, proj_hidden, out, r_proj, momentum)
        self.V_proj = dense_stack(TOKEN_DIM, proj_hidden, out, r_proj, momentum)
        self.A_rec = embedding_net(out, TOKEN_DIM, r_dec)
        self.V_rec = embedding_net(out, TOKEN_DIM, r_dec)
        self.pos_emb = nn.Parameter(torch.randn(2, TOKEN_DIM), requires_grad=not self.legacy)

    def attend(self, phi_a: torch.Tensor, phi_v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """φ + Transformer([φ_a + p_0, φ_v + p_1]) per token (the reference's double residual)."""
        y = self.cross_attention(torch.stack([phi_a + self.pos_emb[0], phi_v + self.pos_emb[1]], dim=1))
        return phi_a + y[:, 0], phi_v + y[:, 1]

    def embed_text(self, text: TextEmbeddings) -> torch.Tensor:
        return self.W_proj(self.W_enc(select_text(text, self.text)))

    def forward_pair(self, batch: TrainBatch) -> dict[str, torch.Tensor]:
        """The reference `forward` (same module call order), returning every intermediate.

        Each sample's text goes through W_enc with its first layer on the class rows (bit-identical
        to the per-sample product, and cheaper).
        """
        pos, neg = batch.positive, batch.negatives
        f: dict[str, torch.Tensor] = {}
        f["phi_a"], f["phi_v"] = self.A_enc(pos.audio), self.V_enc(pos.video)
        f["phi_a_neg"], f["phi_v_neg"] = self.A_enc(neg.audio), self.V_enc(neg.video)
        f["w"] = encode_sample_text(self.W_enc, batch.class_text, self.text, pos.targets)
        w_neg = encode_sample_text(self.W_enc, batch.class_text, self.text, neg.targets)
        f["theta_w"], f["theta_w_neg"] = self.W_proj(f["w"]), self.W_proj(w_neg)
        f["rho_w"] = self.D(f["theta_w"])
        self.D(f["theta_w_neg"])  # unused, as in the reference (BN statistics)
        attended_a, attended_v = self.attend(f["phi_a"], f["phi_v"])
        attended_a_neg, attended_v_neg = self.attend(f["phi_a_neg"], f["phi_v_neg"])
        f["theta_v"], f["theta_v_neg"] = self.V_proj(attended_v), self.V_proj(attended_v_neg)
        f["theta_a"], f["theta_a_neg"] = self.A_proj(attended_a), self.A_proj(attended_a_neg)
        f["phi_v_rec"], f["phi_a_rec"] = self.V_rec(f["theta_v"]), self.A_rec(f["theta_a"])
        self.A_proj(f["phi_a_rec"]), self.V_proj(f["phi_v_rec"])  # unused, as in the reference (BN statistics)
        f["rho_a"], f["rho_a_neg"] = self.D(f["theta_a"]), self.D(f["theta_a_neg"])
        f["rho_v"], f["rho_v_neg"] = self.D(f["theta_v"]), self.D(f["theta_v_neg"])
        return f

    def avca_terms(self, f: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        m = self.margin
        t_a, t_v, t_w = f["theta_a"], f["theta_v"], f["theta_w"]
        t_a_neg, t_v_neg, t_w_neg = f["theta_a_neg"], f["theta_v_neg"], f["theta_w_neg"]
        return {
            "rec": reconstruction_mse((f["rho_v"], f["rho_a"], f["rho_w"]), f["w"]),
            "ct": triplet(f["rho_w"], f["rho_a"], f["rho_a_neg"], m)
            + triplet(f["rho_w"], f["rho_v"], f["rho_v_neg"], m),
            "w": triplet(t_w, t_a, t_a_neg, m)
            + triplet(t_w, t_v, t_v_neg, m)
            + triplet(t_a, t_w, t_w_neg, m)
            + triplet(t_v, t_w, t_w_neg, m),
            "t": triplet(t_a, t_w, t_a_neg, m)
            + triplet(t_v, t_w, t_v_neg, m)
            + triplet(t_w, t_a, t_w_neg, m)
            + triplet(t_w, t_v, t_w_neg, m),
            "reg": F.mse_loss(f["phi_v_rec"], f["phi_v"])
            + F.mse_loss(f["phi_a_rec"], f["phi_a"])
            + F.mse_loss(t_v, t_w)
            + F.mse_loss(t_a, t_w),
        }

    def loss(self, batch: TrainBatch) -> dict[str, torch.Tensor]:
        return self.avca_terms(self.forward_pair(batch))

    def embeddings(self, video: torch.Tensor, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(θ_a, θ_v): the reference `get_embeddings` without the text."""
        attended_a, attended_v = self.attend(self.A_enc(audio), self.V_enc(video))
        return self.A_proj(attended_a), self.V_proj(attended_v)

    def after_step(self, batch: TrainBatch) -> None:
        # The reference calls get_embeddings(a, v, w) in train mode after each step, which moves
        # the BatchNorm running statistics; call order A_enc, V_enc, W_proj, transformer, V_proj, A_proj.
        sample = batch.positive
        phi_a, phi_v = self.A_enc(sample.audio), self.V_enc(sample.video)
        self.W_proj(encode_sample_text(self.W_enc, batch.class_text, self.text, sample.targets))
        attended_a, attended_v = self.attend(phi_a, phi_v)
        self.V_proj(attended_v), self.A_proj(attended_a)

    def distances(
        self, video: torch.Tensor, audio: torch.Tensor, class_text: TextEmbeddings
    ) -> dict[str, torch.Tensor]:
        _, theta_v = self.embeddings(video, audio)
        return {"both": torch.cdist(theta_v, self.embed_text(class_text))}


AVCA_SCHEDULE: dict[str, dict[str, Any]] = {
    "default": {**AVCA_GZSL_SCHEDULE, "weight_decay": 1e-5},  # AVCA sets weight decay inside its model
    "demo": DEMO_SCHEDULE,
    "vggsound/selavi": {"batch_size": 64},  # the only main-split script that changes the batch size
}
AVCA_MODEL: dict[str, dict[str, Any]] = {
    "default": {
        **W_ENC_DEFAULTS,
        "encoder_hidden_dim": 512,
        "projector_hidden_dim": 512,
        "embedding_dim": 64,
        "encoder_dropout": 0.2,
        "projector_dropout": 0.3,
        "decoder_dropout": 0.5,
        "bn_momentum": 0.99,
        "transformer_depth": 1,
        "margin": 1.0,
        "legacy": False,
    },
    "activitynet": {"projector_dropout": 0.2, "decoder_dropout": 0.1},
    "vggsound": {"encoder_dropout": 0.0, "projector_dropout": 0.0, "decoder_dropout": 0.0},
    **WORD2VEC_TEXT,
    # The reference's main-split (SeLaVi) scripts; its cls-split ones are the defaults above.
    "ucf/selavi": {"bn_momentum": 0.1},
    "vggsound/selavi": {"decoder_dropout": 0.1, "bn_momentum": 0.1},
}

register_method(
    "avca",
    description="AVCA: cross-attention over audio/video tokens, reconstruction + triplet losses",
    paper_name="AVCA",
    tags=("baseline", "triplet"),
    schedule=AVCA_SCHEDULE,
    model=AVCA_MODEL,
    choices={"text": TEXT_CHOICES},
)(AVCA)
