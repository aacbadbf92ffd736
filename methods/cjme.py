"""CJME (Parida et al., WACV 2020) as implemented in AVCA-GZSL, adapted to CLIP/CLAP features.

On the AVCA-GZSL feature sets (`text=w2v`) it is the original model: word2vec enters f_t directly.

Audio, video and text (W_enc(CLIP ‖ CLAP) → 300-d, ClipClap Eq. 9) are embedded separately into a
64-d space (ReLU outputs). A gate g = σ(Linear(BN([a, v]))) ∈ (0,1) weights the text-anchored
triplets T(t, a, a⁻) and T(t, v, v⁻); L = gated triplets + MSE(a, v) + MSE(g, s) where the
entropy-based target s says which modality classifies the sample more confidently.
Prediction ("both"): (1−ĝ)·‖a−t‖ + ĝ·‖v−t‖ with the hard gate ĝ = 1[g ≥ 0.5]; the "audio" and
"video" views only contribute their val-optimal β to the test β mean (the reference's rule).

`legacy=True` reproduces the reference's broadcasting bug: the (B,1) gate times the (B,)
triplet losses gives a B×B matrix, i.e. mean(1−g)·mean(l_ta) + mean(g)·mean(l_tv). The default
is the intended per-sample gating mean_i[(1−g_i)·l_ta,i + g_i·l_tv,i].
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Categorical

from avgzsl_bench.api import (
    TEXT_CHOICES,
    FeatureDims,
    GZSLMethod,
    TextEmbeddings,
    TrainBatch,
    encode_sample_text,
    encoded_text_dim,
    register_method,
    select_text,
    text_encoder,
    triplet,
    two_layer_net,
)
from methods._recipes import AVCA_GZSL_SCHEDULE, DEMO_SCHEDULE, W_ENC_DEFAULTS, WORD2VEC_TEXT

ENTROPY_MARGIN = 0.1


def gated_triplet(gate: torch.Tensor, l_ta: torch.Tensor, l_tv: torch.Tensor, legacy: bool) -> torch.Tensor:
    """gate (B,1), per-sample triplet losses (B,). legacy: the reference's (B,1)×(B,) broadcast."""
    if legacy:
        return ((1 - gate) * l_ta + gate * l_tv).mean()
    g = gate.squeeze(1)
    return ((1 - g) * l_ta + g * l_tv).mean()


def attention_target(a: torch.Tensor, v: torch.Tensor, class_embeddings: torch.Tensor) -> torch.Tensor:
    """s = 1 (video), 0 if video's class posterior is >0.1 nats more uncertain, 0.5 if within 0.1.

    `torch.where`, not masked assignment, and no argument validation: the same values without a
    data-dependent shape or a host round-trip (so the step stays batchable and capturable).
    """
    entropy_a = Categorical(probs=F.softmax(a @ class_embeddings.T, dim=1), validate_args=False).entropy()
    entropy_v = Categorical(probs=F.softmax(v @ class_embeddings.T, dim=1), validate_args=False).entropy()
    gap = entropy_v - entropy_a
    target = torch.where(gap > ENTROPY_MARGIN, 0.0, 1.0)
    target = torch.where(gap.abs() <= ENTROPY_MARGIN, 0.5, target)
    return target.unsqueeze(1)


class CJME(GZSLMethod):
    needs_negatives = True

    def __init__(self, dims: FeatureDims, hparams: Mapping[str, Any]) -> None:
        super().__init__(dims, hparams)
        self.text, self.legacy, self.margin = hparams["text"], bool(hparams["legacy"]), hparams["margin"]
        hidden, out, p = hparams["hidden_dim"], hparams["embedding_dim"], hparams["dropout"]
        w_dim = encoded_text_dim(dims, self.text, hparams["text_dim"])
        self.W_enc = text_encoder(dims, self.text, hparams["text_dim"], hparams["text_dropout"])
        self.f_a = two_layer_net(dims.audio, hidden, out, p, output_relu=True)
        self.f_v = two_layer_net(dims.video, hidden, out, p, output_relu=True)
        self.f_t = two_layer_net(w_dim, w_dim, out, p, output_relu=True)
        self.gate = nn.Sequential(
            nn.BatchNorm1d(dims.audio + dims.video), nn.Linear(dims.audio + dims.video, 1), nn.Sigmoid()
        )

    def embed_text(self, text: TextEmbeddings) -> torch.Tensor:
        return self.f_t(self.W_enc(select_text(text, self.text)))

    def embed_sample_text(self, batch: TrainBatch, targets: torch.Tensor) -> torch.Tensor:
        """`embed_text` of each sample's class text (first layer on the class rows, bit-identical)."""
        return self.f_t(encode_sample_text(self.W_enc, batch.class_text, self.text, targets))

    def loss(self, batch: TrainBatch) -> dict[str, torch.Tensor]:
        pos, neg = batch.positive, batch.negatives
        # Call order as in the reference (it fixes the BatchNorm running statistics).
        a, v, t = self.f_a(pos.audio), self.f_v(pos.video), self.embed_sample_text(batch, pos.targets)
        a_neg, v_neg = self.f_a(neg.audio), self.f_v(neg.video)
        self.embed_sample_text(batch, neg.targets)  # t⁻: computed (BN statistics) but unused by the loss
        gate = self.gate(torch.cat([pos.audio, pos.video], dim=1))
        class_embeddings = self.embed_text(batch.class_text).detach()
        l_ta = triplet(t, a, a_neg, self.margin, reduction="none")
        l_tv = triplet(t, v, v_neg, self.margin, reduction="none")
        with torch.no_grad():
            target = attention_target(a, v, class_embeddings)
        return {
            "triplet": gated_triplet(gate, l_ta, l_tv, self.legacy),
            "av": F.mse_loss(a, v),
            "attention": F.mse_loss(gate, target),
        }

    def distances(
        self, video: torch.Tensor, audio: torch.Tensor, class_text: TextEmbeddings
    ) -> dict[str, torch.Tensor]:
        t = self.embed_text(class_text)
        d_audio, d_video = torch.cdist(self.f_a(audio), t), torch.cdist(self.f_v(video), t)
        hard_gate = (self.gate(torch.cat([audio, video], dim=1)) >= 0.5).float()
        return {"both": (1 - hard_gate) * d_audio + hard_gate * d_video, "audio": d_audio, "video": d_video}


register_method(
    "cjme",
    description="CJME: separate audio/video/text embeddings, entropy-supervised modality gate",
    paper_name="CJME",
    tags=("baseline", "triplet"),
    schedule={"default": AVCA_GZSL_SCHEDULE, "demo": DEMO_SCHEDULE},
    model={
        "default": {
            **W_ENC_DEFAULTS,
            "hidden_dim": 1024,
            "embedding_dim": 64,
            "dropout": 0.2,
            "margin": 1.0,
            "legacy": False,
        },
        "vggsound": {"dropout": 0.0},
        **WORD2VEC_TEXT,
    },
    choices={"text": TEXT_CHOICES},
)(CJME)
