"""Hyper-multiple (Hong et al., ICCV 2023, Hyper-AVZSL) = AVCA + 1e-3 · hyperbolic alignment.

A curvature net c = c_max · σ(Linear([φ_v, φ_a])) ∈ (0, c_max)^K gives K per-sample curvatures,
computed separately for the positive and the negative batch. The alignment loss compares the
B×B structure of the 300-d encoder outputs φ_v and φ_a, averaged over the K curvatures, for the
positive and the negative batch. Inference is AVCA's (‖θ_v − θ_w‖; no hyperbolic operation).

Two alignments:

* default (`legacy=False`, geometry-aware, NOT the official code): every row i is mapped into the
  Poincaré ball of its own curvature c_i with expmap0_c(u) = tanh(√c‖u‖) u / (√c‖u‖), and S is the
  matrix of Poincaré distances d_{c_i}(exp_{c_i}(u_i), exp_{c_i}(u_j)) =
  arcosh(1 + 2c‖x−y‖² / ((1−c‖x‖²)(1−c‖y‖²))) / √c (row i measured in sample i's geometry).
  L = mean_k [MSE(S_k(φ_v), S_k(φ_a)) + MSE(S_k(φ_v⁻), S_k(φ_a⁻))]. The curvature changes the
  distances non-uniformly, so both the loss and the curvature net's gradient depend on it.
* `legacy=True` (the Hyper-AVZSL code): h_c(x) = logmap0_c(project_c(x)) and S is the cosine
  similarity Gram matrix of h_c(x). Both maps only rescale each vector along its radius, and the
  cosine ignores that scale, so the loss is the same for every curvature: Hyper-multiple then
  behaves as AVCA + 1e-3 · cosine-Gram alignment and the curvature net gets no gradient (only
  weight decay). An ε = 1e-8 in the cosine avoids 0/0 on all-zero rows (ReLU + dropout).

K = `num_curvatures` (default 1: 2,417,553 parameters at the paper's dims, as the ClipClap paper's
≈2.4 M; each extra curvature adds 601). c_max = `curvature` = 0.01, the only curvature value in
the released Hyper-AVZSL scripts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from avgzsl_bench.api import TEXT_CHOICES, FeatureDims, Range, TrainBatch, register_method
from methods.avca import AVCA, AVCA_MODEL, AVCA_SCHEDULE, TOKEN_DIM

BALL_EPS = 1e-3  # hyptorch's boundary margin
MIN_NORM = 1e-5


def _artanh(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(-1 + 1e-5, 1 - 1e-5)
    return 0.5 * (torch.log1p(x) - torch.log1p(-x))


def legacy_hyperbolic_features(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Hyper-AVZSL's `logmap0(project(x, c), c)` with per-row curvatures c (B,1): a radial rescaling only."""
    sqrt_c = c.sqrt()
    norm = x.norm(dim=-1, keepdim=True).clamp_min(MIN_NORM)
    max_norm = (1 - BALL_EPS) / sqrt_c
    y = torch.where(norm > max_norm, x / norm * max_norm, x)
    y_norm = y.norm(dim=-1, keepdim=True).clamp_min(MIN_NORM)
    return y / (sqrt_c * y_norm) * _artanh(sqrt_c * y_norm)


def cosine_gram(x: torch.Tensor) -> torch.Tensor:
    x = x / (x.norm(dim=1, keepdim=True) + 1e-8)
    return x @ x.T


def poincare_distance_matrix(u: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """(B,B) Poincaré distances, row i in the ball of curvature c_i (c: (B,1)); vectorised.

    expmap0 is radial, so x_j in ball i is r_ij·û_j with r_ij = tanh(√c_i‖u_j‖)/√c_i and
    ‖x_i − x_j‖² = r_ii² + r_ij² − 2 r_ii r_ij cos(u_i, u_j).
    """
    sqrt_c = c.sqrt()  # (B,1)
    norm = u.norm(dim=1).clamp_min(MIN_NORM)  # (B,)
    # Keep points strictly inside the ball (hyptorch's project): |x| ≤ (1 − 1e-3)/√c.
    scaled = torch.tanh(sqrt_c * norm.unsqueeze(0)).clamp_max(1 - BALL_EPS)  # (B,B): √c_i · r_ij
    direction = u / norm.unsqueeze(1)
    cos = (direction @ direction.T).clamp(-1, 1)
    own = scaled.diagonal().unsqueeze(1)  # √c_i · r_ii
    sq_dist = (own.square() + scaled.square() - 2 * own * scaled * cos).clamp_min(1e-9)  # c_i‖x_i−x_j‖²
    denominator = (1 - own.square()) * (1 - scaled.square())
    z = 2 * sq_dist / denominator
    distance = torch.log1p(z + torch.sqrt(z * (z + 2))) / sqrt_c  # arcosh(1 + z) / √c
    # d(x, x) = 0 exactly (float32 rounding of cos_ii near the boundary would leave ~0.1–1).
    return distance.masked_fill(torch.eye(u.shape[0], dtype=torch.bool, device=u.device), 0.0)


class HyperMultiple(AVCA):
    def __init__(self, dims: FeatureDims, hparams: Mapping[str, Any]) -> None:
        super().__init__(dims, hparams)
        self.max_curvature, self.weight = hparams["curvature"], hparams["alignment_weight"]
        self.fusenet = nn.Linear(2 * TOKEN_DIM, hparams["num_curvatures"])

    def curvatures(self, phi_v: torch.Tensor, phi_a: torch.Tensor) -> torch.Tensor:
        """(B, K) per-sample curvatures in (0, c_max), from [φ_v, φ_a] (video first, as the reference)."""
        return self.max_curvature * torch.sigmoid(self.fusenet(torch.cat([phi_v, phi_a], dim=1)))

    def alignment(self, phi_v: torch.Tensor, phi_a: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Mean over the K curvature columns of MSE(S_c(φ_v), S_c(φ_a))."""
        terms = []
        for k in range(c.shape[1]):  # K is a small constant (number of curvatures), not per sample
            ck = c[:, k : k + 1]
            if self.legacy:
                s_v, s_a = (cosine_gram(legacy_hyperbolic_features(x, ck)) for x in (phi_v, phi_a))
            else:
                s_v, s_a = poincare_distance_matrix(phi_v, ck), poincare_distance_matrix(phi_a, ck)
            terms.append(F.mse_loss(s_v, s_a))
        return torch.stack(terms).mean()

    def loss(self, batch: TrainBatch) -> dict[str, torch.Tensor]:
        f = self.forward_pair(batch)
        terms = self.avca_terms(f)
        c = self.curvatures(f["phi_v"], f["phi_a"])
        c_neg = self.curvatures(f["phi_v_neg"], f["phi_a_neg"])
        terms["hyper"] = self.weight * (
            self.alignment(f["phi_v"], f["phi_a"], c) + self.alignment(f["phi_v_neg"], f["phi_a_neg"], c_neg)
        )
        return terms


register_method(
    "hyper-multiple",
    description="Hyper-multiple: AVCA + hyperbolic alignment with learned per-sample curvatures",
    paper_name="Hyper-multiple",
    tags=("baseline", "triplet"),
    schedule=AVCA_SCHEDULE,
    model={
        **AVCA_MODEL,
        "default": {**AVCA_MODEL["default"], "curvature": 0.01, "num_curvatures": 1, "alignment_weight": 1e-3},
    },
    choices={"text": TEXT_CHOICES},
    ranges={"curvature": Range(0, include_low=False), "num_curvatures": Range(1)},
)(HyperMultiple)
