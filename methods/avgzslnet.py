"""AVGZSLNet (Mazumder et al., WACV 2021) as implemented in AVCA-GZSL, adapted to CLIP/CLAP features.

Audio, video and text (W_enc(CLIP ‖ CLAP) → 300-d, ClipClap Eq. 9) are embedded separately into a
64-d space; a shared cross-modal decoder maps embeddings back to the (L2-normalised) W_enc output.
L = l_rec + T(D(t), D(a), D(a⁻)) + T(D(t), D(v), D(v⁻)) + T(t,a,a⁻) + T(a,t,t⁻) + T(t,v,v⁻) + T(v,t,t⁻),
with l_rec the mean non-squared L2 distances of D(t), D(a), D(v) to x_t.
Prediction ("both"): ‖a−t‖ + ‖v−t‖; the "audio"/"video" views enter the test β mean (the
reference's rule). The reconstruction target is L2-normalised: the original target was a unit-norm
word2vec vector, and W_enc's raw output has no fixed scale. On the AVCA-GZSL feature sets
(`text=w2v`) it is the original model: no W_enc, and the target is the unit-norm word2vec vector
(normalising it again changes it by rounding only).
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
    encode_sample_text,
    encoded_text_dim,
    euclidean_distance,
    register_method,
    select_text,
    text_encoder,
    triplet,
    two_layer_net,
)
from methods._recipes import AVCA_GZSL_SCHEDULE, DEMO_SCHEDULE, W_ENC_DEFAULTS, WORD2VEC_TEXT


class AVGZSLNet(GZSLMethod):
    needs_negatives = True

    def __init__(self, dims: FeatureDims, hparams: Mapping[str, Any]) -> None:
        super().__init__(dims, hparams)
        self.text, self.margin = hparams["text"], hparams["margin"]
        hidden, out, p = hparams["hidden_dim"], hparams["embedding_dim"], hparams["dropout"]
        w_dim = encoded_text_dim(dims, self.text, hparams["text_dim"])
        self.W_enc = text_encoder(dims, self.text, hparams["text_dim"], hparams["text_dropout"])
        self.f_a = two_layer_net(dims.audio, hidden, out, p)
        self.f_v = two_layer_net(dims.video, hidden, out, p)
        self.f_t = two_layer_net(w_dim, w_dim, out, p)
        self.decoder = two_layer_net(out, hparams["decoder_hidden_dim"], w_dim, hparams["decoder_dropout"])

    def embed_text(self, text: TextEmbeddings) -> torch.Tensor:
        return self.f_t(self.W_enc(select_text(text, self.text)))

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.decoder(x), dim=1)  # --normalize_decoder_outputs

    def loss(self, batch: TrainBatch) -> dict[str, torch.Tensor]:
        pos, neg, m = batch.positive, batch.negatives, self.margin
        # Each sample's text through W_enc, first layer on the class rows (bit-identical, cheaper).
        w = encode_sample_text(self.W_enc, batch.class_text, self.text, pos.targets)
        a, v, t = self.f_a(pos.audio), self.f_v(pos.video), self.f_t(w)
        a_neg, v_neg = self.f_a(neg.audio), self.f_v(neg.video)
        t_neg = self.f_t(encode_sample_text(self.W_enc, batch.class_text, self.text, neg.targets))
        d_a, d_v, d_t = self.decode(a), self.decode(v), self.decode(t)
        d_a_neg, d_v_neg = self.decode(a_neg), self.decode(v_neg)
        x_t = F.normalize(w, dim=1)  # reconstruction target: unit norm like the original word2vec
        return {
            "rec": euclidean_distance(d_t, x_t).mean()
            + euclidean_distance(d_a, x_t).mean()
            + euclidean_distance(d_v, x_t).mean(),
            "cross_triplet": triplet(d_t, d_a, d_a_neg, m) + triplet(d_t, d_v, d_v_neg, m),
            "triplet": triplet(t, a, a_neg, m)
            + triplet(a, t, t_neg, m)
            + triplet(t, v, v_neg, m)
            + triplet(v, t, t_neg, m),
        }

    def distances(
        self, video: torch.Tensor, audio: torch.Tensor, class_text: TextEmbeddings
    ) -> dict[str, torch.Tensor]:
        t = self.embed_text(class_text)
        d_audio, d_video = torch.cdist(self.f_a(audio), t), torch.cdist(self.f_v(video), t)
        return {"both": d_audio + d_video, "audio": d_audio, "video": d_video}


register_method(
    "avgzslnet",
    description="AVGZSLNet: separate embeddings, shared cross-modal decoder, composite triplets",
    paper_name="AVGZSLNet",
    tags=("baseline", "triplet"),
    schedule={"default": AVCA_GZSL_SCHEDULE, "demo": DEMO_SCHEDULE},
    model={
        "default": {
            **W_ENC_DEFAULTS,
            # 0.8: the AVCA-GZSL default --embedding_dropout, which its AVGZSLNet scripts never override.
            "hidden_dim": 1024,
            "embedding_dim": 64,
            "dropout": 0.8,
            "decoder_hidden_dim": 64,
            "decoder_dropout": 0.5,
            "margin": 1.0,
        },
        **WORD2VEC_TEXT,
    },
    choices={"text": TEXT_CHOICES},
)(AVGZSLNet)
