"""TCAF (Mercea, Hummel et al., ECCV 2022): temporal cross-attention over audio and video sequences.

Each step of the two feature sequences goes through its encoder (A_enc, V_enc: Linear-BN-ReLU-
Dropout twice, to the 300-d transformer width). A token is the encoded step concatenated with a
64-d embedding (modality embedding + a learned projection of random Fourier features of the step's
time stamp, plus a learned padding embedding on padded steps), projected back to 300-d. A class
token and the audio and video tokens go through a pre-norm transformer whose attention is
*cross-modal only*: a token attends to the class token and to the other modality's real steps,
never to its own modality (the reference's best configurations switch self-attention off). The
class token's output gives θ_o = O_proj(c) (64-d); the class text w (300-d word2vec) gives
θ_w = W_proj(w). Loss: l_ce (cross-entropy of θ_o · W_proj(w_k) over the training classes) +
l_reg (MSE(θ_o, θ_w)) + l_rec (MSE(w, D_o(θ_o)) + MSE(w, D_w(θ_w))). Prediction: ‖θ_o − θ_w‖.

What is reproduced from the reference, beyond the architecture:

* inputs: audio steps are divided by 255 (VGGish's quantised range; the reference does this on
  every feature set), video sequences are L2-normalised *along time* per feature channel (the
  reference's `F.normalize` on a (B, T, D) tensor normalises dim 1); padded steps are zeros, as the
  reference's collator pads with zeros;
* train-mode BatchNorm in A_enc/V_enc sees every step of the padded batch, padded zeros
  included, as in the reference: the padding *values* never matter (they are replaced by zeros),
  the padded *length* of a training batch does. The data path cuts batches as the reference's
  collator does, from the schedule keys `batch_length` ("max": the batch's longest sequence;
  "fixed", ActivityNet: video cropped/padded to `train_steps`/`eval_steps`), `train_steps`,
  `eval_steps`. In eval mode no output depends on padding;
* time stamps: step index × the modality's step duration in training (the reference's collator:
  0.64 s per C3D step, 0.96 s per VGGish step, 1 for SeLaVi), but the step index alone when
  embeddings are computed for evaluation (the reference's `get_embeddings` passes no time stamps);
  `eval_time=seconds` uses the training time stamps there too;
* after each step, the reference's extra train-mode `get_embeddings` pass (moves BatchNorm statistics).

Checkpoints: the module and parameter names are the reference's (`Multimodal_Sequence_Transformer`),
so its released state dicts load with two renames (`artefacts.checkpoints.REFERENCE_KEY_RULES`):
`.fc.` is dropped inside the embedding nets (`A_enc.fc.0.weight` -> `A_enc.0.weight`), and the
reference's second name for the embedding block, `audiovisual_embeddings.*` (the same module as
`position_encoder_block.*`, so its state dict holds every tensor twice), maps onto
`position_encoder_block.*`. The token projections keep the reference's Conv1d (kernel 1) weight
shape (out, in, 1). The buffer `position_encoder_block.fourier_randn` (the random Fourier matrix)
is part of the state. See docs/temporal-methods.md for the full table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from avgzsl_bench.api import (
    AT_LEAST_ONE,
    POSITIVE,
    TEXT_CHOICES,
    FeatureDims,
    GZSLMethod,
    Padded,
    TextEmbeddings,
    TrainBatch,
    dropout,
    embedding_net,
    encode_sample_text,
    encoded_text_dim,
    register_method,
    select_text,
    text_encoder,
)
from methods._recipes import DEMO_SCHEDULE, W_ENC_DEFAULTS, WORD2VEC_TEXT

AUDIO_SCALE = 1.0 / 255.0  # the reference divides audio features by 255 (VGGish's uint8 range)
MODALITIES = 2  # audio, video: rows of the modality embedding
NEVER = 1_000_000  # lr_patience that never lowers the rate: the reference's `lr_scheduler: False`


def zeroed(x: Padded) -> torch.Tensor:
    """The values with every padded step set to zero (the reference's collator pads with zeros)."""
    return torch.where(x.mask.unsqueeze(-1), x.values, torch.zeros((), dtype=x.values.dtype, device=x.values.device))


def time_stamps(x: Padded, seconds: bool) -> torch.Tensor:
    """(T,) time stamp of each step: index × step duration, or the bare index."""
    steps = torch.arange(x.values.shape[1], device=x.values.device, dtype=torch.float32)
    return steps * x.step_s if seconds else steps


class TokenProjection(nn.Conv1d):
    """The reference's kernel-1 Conv1d over tokens, computed as a linear map of the last dim.

    The parameters keep the Conv1d shape and initialisation, so reference weights load unchanged.
    """

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__(in_dim, out_dim, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight.squeeze(-1), self.bias)


class TimeModalityEmbedding(nn.Module):
    """Tokens of one modality: [step ‖ modality + Fourier-time (+ padding) embedding] -> out_dim."""

    fourier_randn: torch.Tensor

    def __init__(self, audio_dim: int, video_dim: int, out_dim: int, embed_dim: int, scale: float, p: float) -> None:
        super().__init__()
        self.modal_embedding = nn.Embedding(MODALITIES, embed_dim)
        self.fourier_embeddings = nn.Linear(embed_dim, embed_dim)
        self.register_buffer("fourier_randn", scale * torch.randn(2, embed_dim // 2))
        self.pad_embedding = nn.Embedding(1, embed_dim)
        self.dropout = dropout(p)
        self.out_proj_audio = TokenProjection(audio_dim + embed_dim, out_dim)
        self.out_proj_video = TokenProjection(video_dim + embed_dim, out_dim)

    def fourier(self, times: torch.Tensor) -> torch.Tensor:
        """Random Fourier features of the time stamps (the reference duplicates t into both rows)."""
        projected = (2.0 * math.pi * torch.stack((times, times), dim=-1)) @ self.fourier_randn
        return self.fourier_embeddings(torch.cat([torch.sin(projected), torch.cos(projected)], dim=-1))

    def tokens(self, steps: torch.Tensor, mask: torch.Tensor, times: torch.Tensor, modality: int) -> torch.Tensor:
        embedding = self.modal_embedding.weight[modality] + self.fourier(times)  # (T, E), broadcast over the batch
        padding = torch.where(
            mask.unsqueeze(-1), torch.zeros_like(self.pad_embedding.weight[0]), self.pad_embedding.weight[0]
        )
        embedding = embedding + padding
        projection = self.out_proj_audio if modality == 0 else self.out_proj_video
        return self.dropout(projection(torch.cat([steps, embedding.to(steps.dtype)], dim=-1)))


class MaskedAttention(nn.Module):
    """Multi-head attention with bias-free q/k/v maps; `allowed` (B, N, N) says who attends to whom."""

    def __init__(self, dim: int, heads: int, dim_head: int, p: float) -> None:
        super().__init__()
        self.heads = heads
        inner = heads * dim_head
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_k = nn.Linear(dim, inner, bias=False)
        self.to_v = nn.Linear(dim, inner, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner, dim), dropout(p))

    def forward(self, x: torch.Tensor, allowed: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """Queries from `x`, keys and values from `context` (default `x`)."""
        source = x if context is None else context
        q, k, v = (self.split(t) for t in (self.to_q(x), self.to_k(source), self.to_v(source)))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed.unsqueeze(1))
        return self.to_out(out.transpose(1, 2).flatten(2))

    def split(self, t: torch.Tensor) -> torch.Tensor:
        return t.unflatten(-1, (self.heads, -1)).transpose(1, 2)


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int, p: float) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), dropout(p), nn.Linear(hidden, dim), dropout(p))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class TransformerLayer(nn.Module):
    """Pre-norm layer with ONE LayerNorm shared by the attention and the feed-forward (the reference's)."""

    def __init__(self, dim: int, heads: int, dim_head: int, mlp_dim: int, p: float) -> None:
        super().__init__()
        self.attn = MaskedAttention(dim, heads, dim_head, p)
        self.ff = FeedForward(dim, mlp_dim, p)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm(x), allowed)
        return x + self.ff(self.norm(x))


class Transformer(nn.Module):
    def __init__(self, dim: int, depth: int, heads: int, dim_head: int, mlp_dim: int, p: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList(TransformerLayer(dim, heads, dim_head, mlp_dim, p) for _ in range(depth))

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, allowed)
        return x


def cross_modal_mask(real_a: torch.Tensor, real_v: torch.Tensor) -> torch.Tensor:
    """(B, N, N) attention pattern of [cls, audio steps, video steps], N = 1 + T_a + T_v.

    Real tokens attend to the class token and to the other modality's real steps (cross-attention
    only); the class token attends to every real token. Padded tokens attend to the class token
    alone: no real token ever reads them, and a query with no key at all would give NaN.
    """
    batch = real_a.shape[0]
    cls = torch.ones(batch, 1, dtype=torch.bool, device=real_a.device)
    real = torch.cat([cls, real_a, real_v], dim=1)
    modality = torch.cat(
        [
            torch.zeros(1, dtype=torch.long, device=real_a.device),
            torch.ones(real_a.shape[1], dtype=torch.long, device=real_a.device),
            torch.full((real_v.shape[1],), 2, dtype=torch.long, device=real_a.device),
        ]
    )
    same = (modality[:, None] == modality[None, :]) & (modality[:, None] > 0)
    allowed = real[:, :, None] & real[:, None, :] & ~same
    return allowed | (~real[:, :, None] & (modality == 0))


class TCAF(GZSLMethod):
    temporal = True
    stackable = False
    stack_note = (
        "a training batch is as long as its longest sequence and train-mode BatchNorm counts its padded "
        "steps, so seeds' batches differ in shape and cannot be padded to one shape without changing results"
    )

    def __init__(self, dims: FeatureDims, hparams: Mapping[str, Any]) -> None:
        super().__init__(dims, hparams)
        self.text, self.eval_seconds = hparams["text"], hparams["eval_time"] == "seconds"
        width, hidden, out = hparams["transformer_dim"], hparams["embeddings_hidden_size"], hparams["embedding_dim"]
        self.W_enc = text_encoder(dims, self.text, hparams["text_dim"], hparams["text_dropout"])
        word_dim = encoded_text_dim(dims, self.text, hparams["text_dim"])
        self.A_enc = embedding_net(dims.audio, width, hparams["embedding_dropout"], hidden=hidden)
        self.V_enc = embedding_net(dims.video, width, hparams["embedding_dropout"], hidden=hidden)
        self.W_proj = embedding_net(word_dim, out, hparams["additional_dropout"])
        self.D_w = embedding_net(out, word_dim, hparams["additional_dropout"])
        self.build_tokens(hparams)
        self.position_encoder_block = TimeModalityEmbedding(
            width,
            width,
            width,
            hparams["transformer_embedding_dim"],
            hparams["fourier_scale"],
            hparams["transformer_embedding_dropout"],
        )
        self.build_fusion(hparams)
        decoder = hparams["decoder_hidden_size"]
        self.O_proj = embedding_net(width, out, hparams["decoder_dropout"], hidden=decoder)
        self.D_o = embedding_net(out, word_dim, hparams["decoder_dropout"], hidden=decoder)

    @classmethod
    def check_hparams(cls, hparams: Mapping[str, Any]) -> None:
        if hparams["transformer_embedding_dim"] % 2:
            raise ValueError(
                f"transformer_embedding_dim must be even (sine and cosine halves of the time embedding); "
                f"got {hparams['transformer_embedding_dim']}"
            )

    # --- what the two baselines replace: the learned tokens and the fusion of the two sequences ---

    def build_tokens(self, hparams: Mapping[str, Any]) -> None:
        self.cls_token = nn.Parameter(torch.randn(1, 1, hparams["transformer_dim"]))

    def build_fusion(self, hparams: Mapping[str, Any]) -> None:
        self.Audio_visual_transformer = transformer_of(hparams)

    def fuse(
        self, audio: torch.Tensor, video: torch.Tensor, real_a: torch.Tensor, real_v: torch.Tensor
    ) -> torch.Tensor:
        """(B, width) audio-visual summary of the token sequences: the class token's output."""
        cls = self.cls_token.expand(audio.shape[0], -1, -1).to(audio.dtype)
        tokens = torch.cat([cls, audio, video], dim=1)
        return self.Audio_visual_transformer(tokens, cross_modal_mask(real_a, real_v))[:, 0]

    # --- the reference's forward pass ---

    def encode(self, video: Padded, audio: Padded, seconds: bool) -> torch.Tensor:
        """θ_o (B, embedding_dim) of a batch of sequences; `seconds`: time stamps in seconds."""
        a = zeroed(audio) * AUDIO_SCALE
        v = F.normalize(zeroed(video), dim=1)  # along time, as the reference's F.normalize(v)
        a = self.A_enc(a.flatten(0, 1)).unflatten(0, a.shape[:2])
        v = self.V_enc(v.flatten(0, 1)).unflatten(0, v.shape[:2])
        embed = self.position_encoder_block
        tokens_a = embed.tokens(a, audio.mask, time_stamps(audio, seconds), 0)
        tokens_v = embed.tokens(v, video.mask, time_stamps(video, seconds), 1)
        return self.O_proj(self.fuse(tokens_a, tokens_v, audio.mask, video.mask))

    def loss(self, batch: TrainBatch) -> dict[str, torch.Tensor]:
        sample = batch.positive
        theta_o = self.encode(sample.video, sample.audio, seconds=True)
        rho_o = self.D_o(theta_o)
        w = encode_sample_text(self.W_enc, batch.class_text, self.text, sample.targets)
        theta_w = self.W_proj(w)
        rho_w = self.D_w(theta_w)
        classes = self.embed_text(batch.class_text)
        return {
            "ce": F.cross_entropy(theta_o @ classes.T, sample.targets),
            "reg": F.mse_loss(theta_o, theta_w),
            "rec": F.mse_loss(rho_o, w) + F.mse_loss(rho_w, w),
        }

    def after_step(self, batch: TrainBatch) -> None:
        # The reference's train-mode get_embeddings after each step (step-index time stamps): it
        # moves the BatchNorm statistics of A_enc, V_enc, O_proj and W_proj.
        sample = batch.positive
        self.encode(sample.video, sample.audio, seconds=False)
        self.W_proj(encode_sample_text(self.W_enc, batch.class_text, self.text, sample.targets))

    def embed_text(self, class_text: TextEmbeddings) -> torch.Tensor:
        return self.W_proj(self.W_enc(select_text(class_text, self.text)))

    def distances(self, video: Padded, audio: Padded, class_text: TextEmbeddings) -> dict[str, torch.Tensor]:
        theta_o = self.encode(video, audio, seconds=self.eval_seconds)
        return {"both": torch.cdist(theta_o, self.embed_text(class_text))}


def transformer_of(hparams: Mapping[str, Any], depth: int | None = None) -> Transformer:
    return Transformer(
        hparams["transformer_dim"],
        hparams["transformer_depth"] if depth is None else depth,
        hparams["transformer_heads"],
        hparams["transformer_dim_head"],
        hparams["transformer_mlp_dim"],
        hparams["transformer_dropout"],
    )


# --- the reference recipe: its best configuration per dataset and feature split (cls = C3D/VGGish, main = SeLaVi) ---

CLS, MAIN = "c3d-vggish-temporal", "selavi-temporal"
TCAF_SCHEDULE: dict[str, dict[str, Any]] = {
    "default": {
        "epochs": 50,
        "lr": 7e-5,
        "batch_size": 64,
        "batches_per_epoch": 300,
        "weight_decay": 1e-5,  # set inside the reference model's Adam
        "lr_patience": 3,  # ReduceLROnPlateau('max', patience=3) on the validation HM
        # How batches are cut keeps `datasets.crop.SequenceCrop`'s defaults ("max": padded to the
        # batch's longest sequence, 60/300 step caps) except on ActivityNet ("fixed", below).
    },
    "demo": DEMO_SCHEDULE,
    f"activitynet/{CLS}": {"batch_length": "fixed"},
    f"vggsound/{CLS}": {"lr": 6e-5, "lr_patience": NEVER},
    f"ucf/{MAIN}": {"lr": 5e-5, "lr_patience": NEVER},
    f"activitynet/{MAIN}": {"batch_length": "fixed"},
    f"vggsound/{MAIN}": {"lr_patience": NEVER},
}
TCAF_MODEL: dict[str, dict[str, Any]] = {
    "default": {
        **W_ENC_DEFAULTS,
        "transformer_dim": 300,
        "transformer_depth": 6,
        "transformer_heads": 8,
        "transformer_dim_head": 64,
        "transformer_mlp_dim": 128,
        "transformer_dropout": 0.3,
        "transformer_embedding_dim": 64,
        "transformer_embedding_dropout": 0.2,
        "fourier_scale": 10.0,
        "embeddings_hidden_size": 512,
        "embedding_dropout": 0.3,
        "decoder_hidden_size": 512,
        "decoder_dropout": 0.1,
        "additional_dropout": 0.1,
        "embedding_dim": 64,
        "eval_time": "index",
    },
    **WORD2VEC_TEXT,  # the feature sets whose class text is word2vec only: the reference's 300-d input
    f"*/{CLS}": {"text": "w2v"},
    f"*/{MAIN}": {"text": "w2v"},
    f"activitynet/{CLS}": {"transformer_dropout": 0.4},
    f"vggsound/{CLS}": {
        "transformer_depth": 8,
        "transformer_dropout": 0.5,
        "transformer_embedding_dropout": 0.1,
        "embedding_dropout": 0.2,
        "decoder_dropout": 0.2,
    },
    f"ucf/{MAIN}": {
        "transformer_depth": 5,
        "embeddings_hidden_size": 256,
        "embedding_dropout": 0.4,
        "decoder_dropout": 0.2,
    },
    f"activitynet/{MAIN}": {
        "transformer_depth": 8,
        "transformer_heads": 3,
        "transformer_dim_head": 128,
        "embeddings_hidden_size": 128,
        "embedding_dropout": 0.2,
    },
    f"vggsound/{MAIN}": {
        "transformer_depth": 8,
        "transformer_heads": 6,
        "transformer_dim_head": 128,
        "transformer_dropout": 0.5,
        "embeddings_hidden_size": 128,
        "embedding_dropout": 0.2,
        "decoder_dropout": 0.2,
        "additional_dropout": 0.2,
    },
}
TCAF_CHOICES: dict[str, tuple[Any, ...]] = {
    "text": TEXT_CHOICES,
    "eval_time": ("index", "seconds"),
}

WIDTHS = (
    "transformer_dim",
    "transformer_depth",
    "transformer_heads",
    "transformer_dim_head",
    "transformer_mlp_dim",
    "transformer_embedding_dim",
    "embeddings_hidden_size",
    "decoder_hidden_size",
    "embedding_dim",
)
TCAF_RANGES = {**dict.fromkeys(WIDTHS, AT_LEAST_ONE), "fourier_scale": POSITIVE}

register_method(
    "tcaf",
    description="TCAF: cross-modal-only attention over audio/video feature sequences with time embeddings",
    paper_name="TCAF",
    tags=("temporal",),
    schedule=TCAF_SCHEDULE,
    model=TCAF_MODEL,
    choices=TCAF_CHOICES,
    ranges=TCAF_RANGES,
)(TCAF)
