"""Building blocks shared by method plugins (written once here, composed in `methods/`)."""

from __future__ import annotations

import torch
from torch import nn

from avgzsl_bench.data import TextEmbeddings

TEXT_CHOICES = ("clip", "clap", "both")


def dense_block(in_dim: int, out_dim: int, dropout: float, batch_norm: bool = True,
                bn_momentum: float = 0.1) -> list[nn.Module]:
    """Linear -> [BatchNorm] -> ReLU -> Dropout, the unit every reference model stacks."""
    layers: list[nn.Module] = [nn.Linear(in_dim, out_dim)]
    if batch_norm:
        layers.append(nn.BatchNorm1d(out_dim, momentum=bn_momentum))
    layers += [nn.ReLU(), nn.Dropout(dropout)]
    return layers


def embedding_net(in_dim: int, out_dim: int, dropout: float, hidden: int | None = None,
                  hidden_batch_norm: bool = True) -> nn.Sequential:
    """ClipClap/AVCA `EmbeddingNet`: one dense block, or two with a hidden layer.

    The output block always has BatchNorm; `hidden_batch_norm` only affects the hidden one.
    """
    if hidden is None:
        return nn.Sequential(*dense_block(in_dim, out_dim, dropout))
    return nn.Sequential(
        *dense_block(in_dim, hidden, dropout, batch_norm=hidden_batch_norm),
        *dense_block(hidden, out_dim, dropout),
    )


def select_text(text: TextEmbeddings, which: str) -> torch.Tensor:
    """The class-label embedding a method consumes: CLIP, CLAP, or their concatenation (Eq. 9)."""
    if which == "clip":
        return text.clip
    if which == "clap":
        return text.clap
    if which == "both":
        return text.both
    raise ValueError(f"text must be one of {TEXT_CHOICES}, got {which!r}")


def text_dim(dims, which: str) -> int:
    return {"clip": dims.clip_text, "clap": dims.clap_text, "both": dims.text}[which]


def text_encoder(dims, which: str = "both", out_dim: int = 300, dropout: float = 0.1) -> nn.Sequential:
    """W_enc of paper Eq. 9 for the baselines: it replaces their 300-d word2vec input."""
    return embedding_net(text_dim(dims, which), out_dim, dropout)


# --- Shared pieces of the baseline re-implementations (CJME, AVGZSLNet, AVCA, Hyper, DEVISE...) ---


def two_layer_net(in_dim: int, hidden: int, out_dim: int, dropout: float, batch_norm: bool = True,
                  output_relu: bool = False) -> nn.Sequential:
    """AVCA-GZSL `EmbeddingNet` of CJME/AVGZSLNet: Linear→[BN]→ReLU→Dropout→Linear[→ReLU].

    Unlike `embedding_net`, the output layer is a bare Linear (CJME adds a final ReLU).
    """
    layers = [*dense_block(in_dim, hidden, dropout, batch_norm=batch_norm), nn.Linear(hidden, out_dim)]
    if output_relu:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def dense_stack(in_dim: int, hidden: int, out_dim: int, dropout: float,
                out_bn_momentum: float = 0.1) -> nn.Sequential:
    """AVCA encoder/projector: two dense blocks; only the output BN uses `out_bn_momentum` (Q5)."""
    return nn.Sequential(
        *dense_block(in_dim, hidden, dropout),
        *dense_block(hidden, out_dim, dropout, bn_momentum=out_bn_momentum),
    )


def triplet(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
            margin: float = 1.0, reduction: str = "mean") -> torch.Tensor:
    """`nn.TripletMarginLoss(margin, p=2, eps=1e-6)` as the reference uses it (Q27)."""
    return torch.nn.functional.triplet_margin_loss(
        anchor, positive, negative, margin=margin, p=2, eps=1e-6, reduction=reduction
    )


def reconstruction_mse(decoded: list[torch.Tensor] | tuple[torch.Tensor, ...],
                       target: torch.Tensor) -> torch.Tensor:
    """Sum of element-mean MSEs of several decodings against one (non-detached) target."""
    return sum(torch.nn.functional.mse_loss(x, target) for x in decoded)


def euclidean_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Row-wise non-squared L2 distance (the reference `L2Loss`), shape (B,)."""
    return (x - y).pow(2).sum(1).pow(0.5)


def ranking_hinge(scores: torch.Tensor, targets: torch.Tensor, kind: str, margin: float = 0.1) -> torch.Tensor:
    """The reference `ClsContrastiveLoss` (DEVISE: 'sum', SJE: max violation, ALE: 'weighted').

    cost_ij = max(0, margin + s_ij - s_iy) for j != y; DEVISE sums them, SJE keeps the largest,
    ALE weights every cost by H_r / r with r the number of violating classes (WARP-style rank
    weight, H_r the r-th harmonic number). All are divided by the batch size.
    """
    batch_size, num_classes = scores.shape
    positive = scores.gather(1, targets.unsqueeze(1))
    cost = (margin + scores - positive).clamp(min=0)
    cost = cost.masked_fill(torch.nn.functional.one_hot(targets, num_classes).bool(), 0)
    if kind == "sje":
        cost = cost.max(dim=1).values
    elif kind == "ale":
        ranks = (cost > 0).sum(1, keepdim=True)
        harmonic = torch.cat([scores.new_zeros(1), torch.cumsum(1 / torch.arange(
            1, num_classes + 1, device=scores.device, dtype=scores.dtype), 0)])
        cost = cost * harmonic[ranks] / (ranks + 1e-8)
    elif kind != "devise":
        raise ValueError(f"ranking loss kind must be 'devise', 'sje' or 'ale', got {kind!r}")
    return cost.sum() / batch_size


# The AVCA-GZSL code base trains every baseline with the same recipe (its run scripts, cls split);
# W_enc (paper Eq. 9) maps CLIP ‖ CLAP to the 300-d slot word2vec used to fill.
AVCA_GZSL_RECIPE = {
    "epochs": 50, "lr": 1e-3, "batch_size": 256, "batches_per_epoch": 500,
    "weight_decay": 0.0, "lr_patience": 3,
    "text": "both", "text_dim": 300, "text_dropout": 0.1,
}
