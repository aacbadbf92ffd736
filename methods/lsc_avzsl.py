"""LSC-AVZSL (Li, Yang et al., "Learning Semantic Consistency for Audio-Visual Zero-shot Learning",
Artificial Intelligence Review): ClipClap with a deeper audio-visual branch and two extra losses.

Re-implemented from the public code `ybyangjing/LSC-AVZSL` (MIT; the model of `src/lsc_model.py`
at HEAD 96eefe3, 2025-04-24, and `config/clipclap.yaml`, the config its README prescribes for all
three datasets). Everything ClipClap has is kept (O_enc, W_enc, O_proj, D_o, W_proj, D_w, the
cross-entropy, regression and reconstruction losses, the plain Euclidean distance to the class
embeddings θ_w at test time). Between O_enc and O_proj the audio-visual vector o (512-d) passes:

1. an autoencoder fusion block: the code c = ReLU(Linear(Tanh(Linear(o)))) (512 → 256 → 512) is
   passed on, and a decoder Linear(ReLU(Linear(c))) (512 → 256 → 512) reconstructs o;
   l_fusion = MSE(decoder(c), o) (o is not detached, as in the reference);
2. a learned position embedding (one 512-d vector, N(0, 1) init) is added, and the vector becomes
   a sequence of ONE token;
3. a pre-norm transformer (depth 6, 8 heads of 64, MLP 512 with GELU, dropout 0.2; the reference's
   `Transformer(512, 6, 8, 64, 512, dropout=0.2)`). With one token the attention weights are
   exactly 1, so each attention sub-layer is in effect LayerNorm → value projection → output
   projection; it is computed as written (query and key weights exist and get zero gradient);
4. an MLP-Mixer "communicator" (depth 1): a token-mixing MLP over the sequence axis (1 → 64 → 1)
   and a channel-mixing MLP over the features (512 → 64 → 512), each GELU with dropout 0.5 and a
   residual connection;

then O_proj gives θ_o as in ClipClap. The loss adds to ClipClap's l_ce + l_reg + l_rec:

* l_kl = KL(softmax(θ_w) ‖ softmax(θ_o)), summed over the 64 dimensions, mean over the batch
  (torch's `KLDivLoss(reduction="batchmean")` with input log softmax(θ_o) and target
  softmax(θ_w)); gradients reach both θ_o and θ_w, as torch's kl_div gives them (tested against it);
* 0.5 · l_fusion.

Training follows ClipClap's loop, which the reference keeps unchanged: class-balanced batches,
the class matrix through W_enc/W_proj in train mode for the cross-entropy, and after each step a
train-mode pass of the embeddings (the reference's logging `get_embeddings`, here `after_step`)
that moves the BatchNorm statistics.

Defaults (`config/clipclap.yaml`; the README runs every dataset with it and passes no overrides):
20 epochs, lr 4e-4, batch 64, 300 batches per epoch, Adam with weight decay 1e-5, LR cut ×0.1 on a
plateau of the validation HM (patience 3); dropouts 0.1 in ClipClap's layers as hard-coded there.

Parameters at the CLIP/CLAP dims (video 512, audio 1024, text 512 ‖ 1024; the same for UCF,
ActivityNet and VGGSound): 12,289,153 = ClipClap's 2,237,824 + fusion 525,824 + position 512 +
transformer 9,458,688 (6 × (LayerNorm 1,024 + qkv 786,432 + out 262,656 + LayerNorm 1,024 +
MLP 525,312)) + communicator 66,305 (193 + 66,112), counted from the module definitions of
`src/lsc_model.py` and confirmed by instantiating the reference model (also 11,764,865 with
`modality=audio`, 11,240,577 with `modality=video`). Layers are created in the reference's order
with PyTorch's default initialisations, so under the same torch seed the initial weights are the
reference's (checked once against the instantiated reference).

Departures from the reference, and why:

* Dropout layers are the harness's `dropout()` (counter-based masks, needed for stacked and
  reproducible runs) instead of `nn.Dropout`: same rate and scaling, different random masks.
* The token-mixing MLP (over a sequence of one token, so its layers are 1 → 64 and 64 → 1) is
  computed as a broadcast product and a sum (`BroadcastLinear`) rather than a matrix product: the
  same function and parameters, but the matrix-product kernels for width 1 differ by a rounding
  between a run alone and the run stacked under vmap, which breaks stacked = single.
* The KL term takes `log_softmax(θ_o)` where the reference takes `softmax(θ_o).log()`: the same
  value except where the softmax underflows (the reference would then give inf).
* The reference also computes a cosine loss between θ_o and θ_w but leaves it out of the total
  (as do its commented-out variants); it is not computed here.
* O_enc's input width follows the data (`video + audio`; the reference hard-codes 1536), so the
  method also runs on the word2vec feature sets with `text=w2v` like ClipClap (no reference exists
  there). The `modality` and `text` ablations of ClipClap are kept (the reference keeps them too).
* The config's `transformer_*` keys (dim 300, depth 3, ...) are the TCAF leftovers that the model
  ignores; the defaults here are the values the model hard-codes (`transformer_depth` 6, ...).
* The reference's `main.py` imports `src.clipclap_model`, which the repository does not contain
  (the model is `src/lsc_model.py`); we take `src/lsc_model.py` as the model (its class is still
  named `ClipClap_model`). An older root-level `lsc_model.py` (three O_enc branches, a shared
  transformer, no fusion block or communicator) was deleted from the repository and is not used.
* The paper could not be read offline: the description above is the code's, not the paper's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from avgzsl_bench.api import (
    AT_LEAST_ONE,
    NON_NEGATIVE,
    PROBABILITY,
    TEXT_CHOICES,
    FeatureDims,
    Range,
    TrainBatch,
    dropout,
    register_method,
)
from methods._recipes import WORD2VEC_TEXT
from methods.clipclap import CLIPCLAP_MODEL, MODALITIES, ClipClap


class AutoencoderFusion(nn.Module):
    """Compresses o through a 256-d tanh bottleneck back to 512-d (the code), and reconstructs o
    from the code; returns (code, MSE of the reconstruction)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        bottleneck = hidden // 2
        self.encode = nn.Sequential(nn.Linear(dim, bottleneck), nn.Tanh(), nn.Linear(bottleneck, dim), nn.ReLU())
        self.decode = nn.Sequential(nn.Linear(dim, bottleneck), nn.ReLU(), nn.Linear(bottleneck, dim))

    def forward(self, o: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        code = self.encode(o)
        return code, F.mse_loss(self.decode(code), o)


class SelfAttention(nn.Module):
    """Multi-head self-attention over (B, N, dim), bias-free q/k/v, with an output projection
    (and dropout) unless there is one head as wide as the input."""

    def __init__(self, dim: int, heads: int, dim_head: int, p: float) -> None:
        super().__init__()
        inner = heads * dim_head
        self.heads, self.scale = heads, dim_head**-0.5
        self.qkv = nn.Linear(dim, 3 * inner, bias=False)
        project = not (heads == 1 and dim_head == dim)
        self.out = nn.Sequential(nn.Linear(inner, dim), dropout(p)) if project else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, _ = x.shape
        q, k, v = (part.reshape(batch, tokens, self.heads, -1).transpose(1, 2) for part in self.qkv(x).chunk(3, dim=-1))
        attention = torch.softmax(q @ k.transpose(-1, -2) * self.scale, dim=-1)
        return self.out((attention @ v).transpose(1, 2).reshape(batch, tokens, -1))


class PreNormTransformer(nn.Module):
    """x += Attention(LayerNorm(x)); x += MLP(LayerNorm(x)), `depth` times (GELU MLP, dropout after
    both of its layers)."""

    def __init__(self, dim: int, depth: int, heads: int, dim_head: int, mlp_dim: int, p: float) -> None:
        super().__init__()
        self.attention, self.mlp = nn.ModuleList(), nn.ModuleList()
        for _ in range(depth):  # layer by layer, as the reference draws the initial weights
            self.attention.append(nn.Sequential(nn.LayerNorm(dim), SelfAttention(dim, heads, dim_head, p)))
            self.mlp.append(
                nn.Sequential(
                    nn.LayerNorm(dim),
                    nn.Linear(dim, mlp_dim),
                    nn.GELU(),
                    dropout(p),
                    nn.Linear(mlp_dim, dim),
                    dropout(p),
                )
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for attention, mlp in zip(self.attention, self.mlp):
            x = x + attention(x)
            x = x + mlp(x)
        return x


class BroadcastLinear(nn.Linear):
    """`nn.Linear` computed as a broadcast product and a sum. Used where an input or output width is
    1 (the token mixer of a one-token sequence): there the matrix-multiply kernels differ between a
    run alone and the same run stacked under vmap, by one rounding, which Adam then amplifies in the
    biases that precede BatchNorm; this form computes the same values in both paths."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.unsqueeze(-2) * self.weight).sum(-1) + self.bias


def _mixer_mlp(width: int, hidden: int, p: float) -> nn.Sequential:
    linear = BroadcastLinear if width == 1 else nn.Linear
    return nn.Sequential(linear(width, hidden), nn.GELU(), dropout(p), linear(hidden, width), dropout(p))


class MixerCommunicator(nn.Module):
    """MLP-Mixer over (B, tokens, channels): a residual MLP across the tokens, then one across the
    channels, `depth` times (the same layers each time, as in the reference)."""

    def __init__(self, tokens: int, channels: int, hidden: int, p: float, depth: int = 1) -> None:
        super().__init__()
        self.depth = depth
        self.token_mixer = _mixer_mlp(tokens, hidden, p)
        self.channel_mixer = _mixer_mlp(channels, hidden, p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _ in range(self.depth):
            x = x + self.token_mixer(x.transpose(1, 2)).transpose(1, 2)
            x = x + self.channel_mixer(x)
        return x


def kl_to_text(theta_o: torch.Tensor, theta_w: torch.Tensor) -> torch.Tensor:
    """KL(softmax(θ_w) ‖ softmax(θ_o)), summed over dimensions, mean over the batch; written out
    (the value and gradients of torch's kl_div) with ops that vmap batches."""
    target = torch.softmax(theta_w, dim=-1)
    pointwise = torch.special.xlogy(target, target) - target * F.log_softmax(theta_o, dim=-1)
    return pointwise.sum() / theta_o.shape[0]


class LSCAVZSL(ClipClap):
    def __init__(self, dims: FeatureDims, hparams: Mapping[str, Any]) -> None:
        super().__init__(dims, hparams)
        width = hparams["model_dim"]
        # Built in the reference's order (transformer, position, fusion, communicator), after ClipClap's layers.
        self.transformer = PreNormTransformer(
            width,
            hparams["transformer_depth"],
            hparams["transformer_heads"],
            hparams["transformer_dim_head"],
            hparams["transformer_mlp_dim"],
            hparams["transformer_dropout"],
        )
        self.position = nn.Parameter(torch.randn(1, width))
        self.fusion = AutoencoderFusion(width, hparams["fusion_hidden_dim"])
        self.communicator = MixerCommunicator(1, width, hparams["mixer_hidden_dim"], hparams["mixer_dropout"])
        self.kl_weight, self.fusion_weight = hparams["kl_weight"], hparams["fusion_weight"]

    def _encode(self, video: torch.Tensor, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(θ_o, the fusion block's reconstruction loss)."""
        code, fusion_loss = self.fusion(self.O_enc(self._inputs(video, audio)))
        token = (code + self.position).unsqueeze(1)  # a sequence of one token
        o = self.communicator(self.transformer(token)).squeeze(1)
        return self.O_proj(o), fusion_loss

    def embed_inputs(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """θ_o: the 64-d audio-visual embedding."""
        return self._encode(video, audio)[0]

    def loss(self, batch: TrainBatch) -> dict[str, torch.Tensor]:
        sample = batch.positive
        w = self._encode_sample_text(batch)
        theta_o, fusion_loss = self._encode(sample.video, sample.audio)
        theta_w = self.W_proj(w)
        terms = self.clipclap_terms(batch, w, theta_o, theta_w)
        terms["kl"] = self.kl_weight * kl_to_text(theta_o, theta_w)
        terms["fusion"] = self.fusion_weight * fusion_loss
        return terms


LSC_SCHEDULE: dict[str, dict[str, Any]] = {
    "default": {
        "epochs": 20,
        "lr": 4e-4,
        "batch_size": 64,
        "batches_per_epoch": 300,
        "weight_decay": 1e-5,
        "lr_patience": 3,
    },
    "demo": {"epochs": 3, "batches_per_epoch": 20},  # the synthetic data: a short run (the transformer is 9.5 M)
}
LSC_MODEL: dict[str, Any] = {
    **CLIPCLAP_MODEL,
    "fusion_hidden_dim": 512,
    "transformer_depth": 6,
    "transformer_heads": 8,
    "transformer_dim_head": 64,
    "transformer_mlp_dim": 512,
    "transformer_dropout": 0.2,
    "mixer_hidden_dim": 64,
    "mixer_dropout": 0.5,
    "kl_weight": 1.0,
    "fusion_weight": 0.5,
}


register_method(
    "lsc-avzsl",
    description="LSC-AVZSL: ClipClap + autoencoder fusion, one-token transformer, MLP-Mixer, KL to the text",
    paper_name="LSC-AVZSL",
    tags=("post-2024",),
    schedule=LSC_SCHEDULE,
    model={"default": LSC_MODEL, **WORD2VEC_TEXT},
    choices={"modality": MODALITIES, "text": TEXT_CHOICES},
    ranges={
        "fusion_hidden_dim": Range(2),  # its bottleneck is half of it
        "transformer_depth": AT_LEAST_ONE,
        "transformer_heads": AT_LEAST_ONE,
        "transformer_dim_head": AT_LEAST_ONE,
        "transformer_mlp_dim": AT_LEAST_ONE,
        "mixer_hidden_dim": AT_LEAST_ONE,
        "transformer_dropout": PROBABILITY,
        "mixer_dropout": PROBABILITY,
        "kl_weight": NON_NEGATIVE,
        "fusion_weight": NON_NEGATIVE,
    },
)(LSCAVZSL)
