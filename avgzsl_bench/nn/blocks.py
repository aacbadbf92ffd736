"""Building blocks shared by method plugins: layers, text encoders and losses, written once here.

Plugins import them through `avgzsl_bench.api`. Only code lives here; method recipes (schedules,
per-dataset and per-feature-set defaults) are declared with the methods that use them.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn
from torch.overrides import handle_torch_function, has_torch_function

from avgzsl_bench.datasets.types import FeatureDims, TextEmbeddings
from avgzsl_bench.nn.dropout import CounterDropout

TEXT_CHOICES = ("clip", "clap", "both", "w2v")
# W_enc, the ClipClap paper's adaptation layer (its Eq. 9), exists for CLIP/CLAP class text only: the
# original models consume the 300-d word2vec vector of the AVCA-GZSL benchmark directly.
ENCODED_TEXT = ("clip", "clap", "both")


def dropout(p: float) -> nn.Module:
    """The dropout layer of every method: one place decides where dropout masks come from (a
    counter-based hash keyed per run and step, so a stacked run draws the masks it draws alone)."""
    return CounterDropout(p)


def dense_block(
    in_dim: int, out_dim: int, p: float, batch_norm: bool = True, bn_momentum: float = 0.1
) -> list[nn.Module]:
    """Linear -> [BatchNorm] -> ReLU -> Dropout, the unit every reference model stacks."""
    layers: list[nn.Module] = [nn.Linear(in_dim, out_dim)]
    if batch_norm:
        layers.append(nn.BatchNorm1d(out_dim, momentum=bn_momentum))
    layers += [nn.ReLU(), dropout(p)]
    return layers


def embedding_net(
    in_dim: int, out_dim: int, p: float, hidden: int | None = None, hidden_batch_norm: bool = True
) -> nn.Sequential:
    """ClipClap/AVCA `EmbeddingNet`: one dense block, or two with a hidden layer.

    The output block always has BatchNorm; `hidden_batch_norm` only affects the hidden one.
    """
    if hidden is None:
        return nn.Sequential(*dense_block(in_dim, out_dim, p))
    return nn.Sequential(
        *dense_block(in_dim, hidden, p, batch_norm=hidden_batch_norm),
        *dense_block(hidden, out_dim, p),
    )


def select_text(text: TextEmbeddings, which: str) -> torch.Tensor:
    """The class-label embedding a method consumes: one named part (CLIP, CLAP, word2vec), or
    "both", the concatenation CLIP ‖ CLAP of the ClipClap paper."""
    return text.select(which)


def text_dim(dims: FeatureDims, which: str) -> int:
    return dims.text_dim(which)


def text_encoder(dims: FeatureDims, which: str = "both", out_dim: int = 300, p: float = 0.1) -> nn.Module:
    """W_enc of the ClipClap paper's Eq. 9 for the baselines: Linear -> BN -> ReLU -> Dropout from the
    class text (CLIP, CLAP or both) to 300-d, the slot the original 300-d word2vec input filled.
    For word2vec text (the original form of the baselines) there is no W_enc: the identity."""
    if which not in ENCODED_TEXT:
        return nn.Identity()
    return embedding_net(text_dim(dims, which), out_dim, p)


def encoded_text_dim(dims: FeatureDims, which: str, out_dim: int) -> int:
    """Width of what `text_encoder` returns: W_enc's output, or the raw word2vec width."""
    return out_dim if which in ENCODED_TEXT else text_dim(dims, which)


class _GatheredLinear(torch.autograd.Function):
    """`linear(rows, weight, bias).index_select(0, index)`, differentiated as `linear(rows[index], ...)`.

    Forward: the K class rows through the layer, then one row per sample (each output row of a
    matrix product is computed alone, so the values are those of the per-sample product). Backward:
    torch's own gradient of the per-sample product (weight: grad^T @ samples, bias: grad summed
    over the batch), so the gradients are bit-identical too; summing each class's sample gradients
    first (the plain backward of the gather) would add in another order.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(
        rows: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, index: torch.Tensor
    ) -> torch.Tensor:
        return nn.functional.linear(rows, weight, bias).index_select(0, index)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: torch.Tensor) -> None:
        rows, weight, _, index = inputs
        ctx.save_for_backward(rows, weight, index)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple:
        rows, weight, index = ctx.saved_tensors
        samples = rows.index_select(0, index)
        grad_rows = torch.zeros_like(rows).index_add(0, index, grad.mm(weight)) if ctx.needs_input_grad[0] else None
        grad_weight = grad.t().mm(samples) if ctx.needs_input_grad[1] else None
        grad_bias = grad.sum(0) if ctx.needs_input_grad[2] else None
        return grad_rows, grad_weight, grad_bias, None


def gathered_linear(
    rows: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, index: torch.Tensor
) -> torch.Tensor:
    """`linear(rows, weight, bias)[index]` with the gradient of `linear(rows[index], weight, bias)`.

    A torch function (it takes part in `__torch_function__`), so the stacked trainer can give it
    its exact batching rule: one call per run.
    """
    if has_torch_function((rows, weight, bias, index)):
        return handle_torch_function(gathered_linear, (rows, weight, bias, index), rows, weight, bias, index)
    return _GatheredLinear.apply(rows, weight, bias, index)


def encode_sample_text(
    encoder: nn.Module, class_text: TextEmbeddings, which: str, targets: torch.Tensor
) -> torch.Tensor:
    """`encoder(select_text(class_text.rows(targets), which))`: each sample's class text through a
    text encoder. One that starts with a Linear runs that Linear on the K class rows instead of the
    B samples (fewer operations; the same values and gradients, bit for bit); the identity encoder
    of word2vec text (no W_enc) just picks each sample's row."""
    text = select_text(class_text, which)
    if isinstance(encoder, nn.Identity):
        return text.index_select(0, targets)
    assert isinstance(encoder, nn.Sequential) and isinstance(encoder[0], nn.Linear), (
        "a text encoder is the identity or starts with a Linear"
    )
    first = encoder[0]
    rows = gathered_linear(text, first.weight, first.bias, targets)
    return encoder[1:](rows)


# --- Shared pieces of the baseline re-implementations (CJME, AVGZSLNet, AVCA, Hyper, DEVISE...) ---


def two_layer_net(
    in_dim: int, hidden: int, out_dim: int, p: float, batch_norm: bool = True, output_relu: bool = False
) -> nn.Sequential:
    """AVCA-GZSL `EmbeddingNet` of CJME/AVGZSLNet: Linear→[BN]→ReLU→Dropout→Linear[→ReLU].

    Unlike `embedding_net`, the output layer is a bare Linear (CJME adds a final ReLU).
    """
    layers = [*dense_block(in_dim, hidden, p, batch_norm=batch_norm), nn.Linear(hidden, out_dim)]
    if output_relu:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def dense_stack(in_dim: int, hidden: int, out_dim: int, p: float, out_bn_momentum: float = 0.1) -> nn.Sequential:
    """AVCA encoder/projector: two dense blocks; only the output BatchNorm uses `out_bn_momentum`
    (AVCA-GZSL sets 0.99 there, which in PyTorch's convention makes the running statistics follow
    the last batch almost entirely)."""
    return nn.Sequential(
        *dense_block(in_dim, hidden, p),
        *dense_block(hidden, out_dim, p, bn_momentum=out_bn_momentum),
    )


def triplet(
    anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, margin: float = 1.0, reduction: str = "mean"
) -> torch.Tensor:
    """`nn.TripletMarginLoss(margin, p=2, eps=1e-6)`: the eps is added inside the difference.

    Written out (torch's own formula) rather than calling the fused op: `vmap` has no batching
    rule for that op, and its per-run fallback sums the anchor's two gradients in another order
    than one run does; these ops batch exactly.
    """
    positive_distance = (anchor - positive + 1e-6).norm(p=2, dim=-1)
    negative_distance = (anchor - negative + 1e-6).norm(p=2, dim=-1)
    losses = (margin + positive_distance - negative_distance).clamp_min(0)
    if reduction == "none":
        return losses
    if reduction == "mean":
        return losses.mean()
    raise ValueError(f"triplet reduction must be 'mean' or 'none', got {reduction!r}")


def reconstruction_mse(decoded: list[torch.Tensor] | tuple[torch.Tensor, ...], target: torch.Tensor) -> torch.Tensor:
    """Sum of element-mean MSEs of several decodings against one (non-detached) target."""
    return cast(torch.Tensor, sum(torch.nn.functional.mse_loss(x, target) for x in decoded))


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
        harmonic = torch.cat(
            [
                scores.new_zeros(1),
                torch.cumsum(1 / torch.arange(1, num_classes + 1, device=scores.device, dtype=scores.dtype), 0),
            ]
        )
        cost = cost * harmonic[ranks] / (ranks + 1e-8)
    elif kind != "devise":
        raise ValueError(f"ranking loss kind must be 'devise', 'sje' or 'ale', got {kind!r}")
    return cost.sum() / batch_size
