"""Stacked runs that compute, for every run, the bits the run computes when trained alone.

`vmap` batches a few layers differently from how one run computes them: a Linear becomes a
product plus a separate bias add (one run's `addmm` starts the sum from the bias), BatchNorm and
LayerNorm with per-run weights become a normalisation followed by a separate affine, and
cross-entropy averages in another order. The differences are rounding, but Adam amplifies rounding
(a bias in front of a BatchNorm has a gradient that is pure rounding noise, which Adam normalises
to a step of the full learning rate), so a stacked run would leave its one-run twin within steps.

While `ExactStacking` is active (the stacked trainer's step), these functions take batching rules
that keep one run's computation: Linear as one batched `baddbmm` (per run the same kernel and
operand layout as `addmm`, forward and backward), BatchNorm in training mode as one call over the
runs' channels side by side (the per-channel kernel of one run) when the channel count keeps the
CPU kernel's vector lanes in step, and otherwise each of these as one call per run. Outside vmap
they are the plain torch functions, so the one-run path is untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch.autograd import Function
from torch.overrides import TorchFunctionMode

# BatchNorm over the runs' channels side by side matches one run only if every run's channels
# start at the same position within the CPU kernel's vector lanes (and its unrolling).
LANES = 64
MIN_BATCHED_OUTPUTS = 8


def _front(tensor: Any, dim: int | None, runs: int) -> Any:
    """A vmapped argument's physical tensor with its run dimension first (None if not batched)."""
    if not isinstance(tensor, torch.Tensor) or dim is None:
        return None
    return tensor.movedim(dim, 0)


class _Unstack(Function):
    """`tensor.unbind(0)` whose backward lays the gradient out as each run's own call returned it.

    Plain slicing would gather the slices' gradients into a fresh contiguous tensor; a gradient
    one run's op returns transposed would then reach the earlier ops in another memory layout
    than alone, and a reduction over it would add in another order.
    """

    @staticmethod
    def forward(stacked: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return stacked.unbind(0)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Any) -> None:
        ctx.shape = inputs[0].shape

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor | None) -> torch.Tensor:
        first = next(g for g in grads if g is not None)
        # Dimensions ordered from the largest stride down: one run's layout, the runs outermost.
        strides = first.stride()
        order = sorted(range(first.dim()), key=lambda dim: -strides[dim])
        dense = torch.empty(
            (ctx.shape[0], *(first.shape[dim] for dim in order)), dtype=first.dtype, device=first.device
        )
        out = dense.permute(0, *(1 + order.index(dim) for dim in range(first.dim())))
        for run, grad in enumerate(grads):
            if grad is None:
                out[run].zero_()
            else:
                out[run].copy_(grad)
        return out


def _slices(tensor: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return _Unstack.apply(tensor) if tensor.requires_grad else tensor.unbind(0)


class _PerRun(Function):
    """`call(*tensors)`; batched: one call per run on its slices, results stacked.

    Ops inside the batching rule run on the physical tensors, where autograd records them, so
    gradients are those of the per-run calls; this Function's own backward is never used.
    """

    @staticmethod
    def forward(call: Callable[..., Any], *tensors: Any) -> Any:
        return call(*tensors)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Any) -> None:
        pass

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:
        raise RuntimeError("differentiated through the physical per-run calls, never here")

    @staticmethod
    def vmap(info: Any, in_dims: tuple, call: Callable[..., Any], *tensors: Any) -> Any:
        physical = [_front(t, d, info.batch_size) for t, d in zip(tensors, in_dims[1:])]
        slices = [None if p is None else _slices(p) for p in physical]
        outputs = [
            call(*(t if parts is None else parts[run] for t, parts in zip(tensors, slices)))
            for run in range(info.batch_size)
        ]
        if isinstance(outputs[0], tuple):
            return tuple(torch.stack(parts) for parts in zip(*outputs)), tuple(0 for _ in outputs[0])
        return torch.stack(outputs), 0


class _Linear(Function):
    """`F.linear`; batched with per-run weights: `baddbmm`/`bmm`, one run's `addmm`/`mm` per slice."""

    @staticmethod
    def forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        return F.linear(x, weight, bias)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Any) -> None:
        pass

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:
        raise RuntimeError("differentiated through the physical batched product, never here")

    @staticmethod
    def vmap(info: Any, in_dims: tuple, x: Any, weight: Any, bias: Any) -> Any:
        runs = info.batch_size
        px, pw, pb = (_front(t, d, runs) for t, d in zip((x, weight, bias), in_dims))
        # One run takes `addmm` on a contiguous 2-d input, and on a contiguous 3-d input flattened
        # to rows; a product with very few outputs takes a matrix-vector kernel alone, not in a batch.
        # Anything else goes per run.
        plain = px is not None and pw is not None and (bias is None or pb is not None)
        if not (plain and px.dim() in (3, 4) and px[0].is_contiguous() and pw.shape[1] >= MIN_BATCHED_OUTPUTS):
            return _PerRun.vmap(info, (None, *in_dims), F.linear, x, weight, bias)
        rows = px.reshape(runs, -1, px.shape[-1])
        transposed = pw.transpose(1, 2)
        out = torch.bmm(rows, transposed) if pb is None else torch.baddbmm(pb.unsqueeze(1), rows, transposed)
        return out.reshape(*px.shape[:-1], pw.shape[1]), 0


def _batch_norm_side_by_side(info: Any, in_dims: tuple, x: Any, mean: Any, var: Any, w: Any, b: Any, *rest: Any) -> Any:
    """Training-mode BatchNorm of every run as one call over (N, runs * C); None if it cannot be."""
    runs = info.batch_size
    px, pm, pv, pw, pb = (_front(t, d, runs) for t, d in zip((x, mean, var, w, b), in_dims))
    if any(t is None for t in (px, pm, pv, pw, pb)) or px.dim() != 3 or px.shape[-1] % LANES:
        return None
    if not (in_dims[1] == 0 and in_dims[2] == 0 and pm.is_contiguous() and pv.is_contiguous()):
        return None  # the running statistics are updated in place: they must flatten as views
    _, rows, channels = px.shape
    flat = px.transpose(0, 1).reshape(rows, runs * channels)
    out = F.batch_norm(flat, pm.view(-1), pv.view(-1), pw.reshape(-1), pb.reshape(-1), *rest)
    return out.reshape(rows, runs, channels).transpose(0, 1), 0


class _BatchNorm(Function):
    """`F.batch_norm`; batched in training mode: side by side when exact, else per run."""

    @staticmethod
    def forward(x, mean, var, weight, bias, training, momentum, eps):
        return F.batch_norm(x, mean, var, weight, bias, training, momentum, eps)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Any) -> None:
        pass

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:
        raise RuntimeError("differentiated through the physical calls, never here")

    @staticmethod
    def vmap(info: Any, in_dims: tuple, x, mean, var, weight, bias, training, momentum, eps):
        if training:
            side_by_side = _batch_norm_side_by_side(
                info, in_dims[:5], x, mean, var, weight, bias, training, momentum, eps
            )
            if side_by_side is not None:
                return side_by_side

        def call(x: Any, mean: Any, var: Any, weight: Any, bias: Any) -> Any:
            return F.batch_norm(x, mean, var, weight, bias, training, momentum, eps)

        return _PerRun.vmap(info, (None, *in_dims[:5]), call, x, mean, var, weight, bias)


def _linear(input: Any, weight: Any, bias: Any = None) -> Any:
    return _Linear.apply(input, weight, bias)


def _batch_norm(
    input: Any,
    running_mean: Any,
    running_var: Any,
    weight: Any = None,
    bias: Any = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Any:
    return _BatchNorm.apply(input, running_mean, running_var, weight, bias, training, momentum, eps)


def _layer_norm(input: Any, normalized_shape: Any, weight: Any = None, bias: Any = None, eps: float = 1e-5) -> Any:
    return _PerRun.apply(lambda x, w, b: F.layer_norm(x, normalized_shape, w, b, eps), input, weight, bias)


def _cross_entropy(input: Any, target: Any, *args: Any, **kwargs: Any) -> Any:
    return _PerRun.apply(lambda x, t: F.cross_entropy(x, t, *args, **kwargs), input, target)


def _matmul(a: Any, b: Any) -> Any:
    return _PerRun.apply(torch.matmul, a, b)


_ROUTES: dict[Callable[..., Any], Callable[..., Any]] = {
    F.linear: _linear,
    F.batch_norm: _batch_norm,
    F.layer_norm: _layer_norm,
    F.cross_entropy: _cross_entropy,
}
# `a @ b` is not a product of a layer: one run's backward picks the operand layouts from the
# operands' strides (a transposed operand gets a transposed gradient), which later reductions see.
for _matmul_function in (torch.matmul, torch.Tensor.matmul, torch.Tensor.__matmul__):
    _ROUTES[_matmul_function] = _matmul


class ExactStacking(TorchFunctionMode):
    """Routes the functions above to their exact batching rules (active only inside the stacked step)."""

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        route = _ROUTES.get(func)
        return (route or func)(*args, **(kwargs or {}))
