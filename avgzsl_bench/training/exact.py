"""Stacked runs that compute, for every run, the bits the run computes when trained alone.

`vmap` batches a few operations differently from how one run computes them: a Linear becomes a
product plus a separate bias add (one run's `addmm` starts its sums from the bias), BatchNorm and
LayerNorm with per-run weights become a normalisation followed by a separate affine, cross-entropy
averages in another order, and a product with a transposed operand returns its gradient in
another memory layout (so a later reduction adds in another order). The differences are rounding,
but Adam amplifies rounding (a bias in front of a BatchNorm has a gradient that is pure rounding
noise, which Adam normalises to a step of the full learning rate), so a stacked run would leave
its one-run twin within a few steps.

While `ExactStacking` is active (the stacked trainer's step), these functions take batching rules
that keep one run's computation. They work on the physical tensors (the runs stacked along the
first dimension), where autograd records them as usual:

* Linear: one `baddbmm`/`bmm` over the runs, per run the kernel and operand layout of `addmm`/`mm`
  (forward and backward); a product with very few outputs, which one run computes with a
  matrix-vector kernel, goes per run.
* BatchNorm in training mode: one call over the runs' channels side by side, (N, R, C) -> (N, R*C),
  which is one run's per-channel kernel, when C keeps every run's channels at the same position
  within the CPU kernel's vector lanes; otherwise one call per run.
* LayerNorm, cross-entropy, `matmul` and `nn_blocks.gathered_linear`: one call per run, on
  slices whose gradients are laid out as that run's call returns them.

Outside vmap these are the plain torch functions, so the one-run path is untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch._C import _functorch as functorch
from torch._functorch.pyfunctorch import temporarily_pop_interpreter_stack
from torch.autograd import Function
from torch.overrides import TorchFunctionMode

from avgzsl_bench.nn.blocks import gathered_linear

# BatchNorm over the runs' channels side by side matches one run only if every run's channels
# start at the same position within the CPU kernel's vector lanes (and its unrolling).
LANES = 64
# Fewer outputs than this: one run's product is a matrix-vector kernel, which a batch does not use.
MIN_BATCHED_OUTPUTS = 8

Physical = tuple[torch.Tensor | None, int | None]  # (runs-first tensor or None, vmap level)


def _unwrap(value: Any) -> Physical:
    """A vmapped tensor's physical tensor, runs first, and its vmap level; (None, None) otherwise."""
    if not isinstance(value, torch.Tensor) or not functorch.is_batchedtensor(value):
        return None, None
    level = functorch.maybe_get_level(value)
    physical, dim = functorch._unwrap_batched(value, level)
    assert dim is not None  # a batched tensor has a batch dimension
    return physical.movedim(dim, 0), level


class _Unstack(Function):
    """`tensor.unbind(0)` whose backward lays the gradient out as each run's own op returned it.

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
        first = next(grad for grad in grads if grad is not None)
        strides = first.stride()
        # Dimensions ordered from the largest stride down: one run's layout, the runs outermost.
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


def _per_run(call: Callable[..., Any], args: Sequence[Any], physical: Sequence[Physical], runs: int) -> Any:
    """`call` once per run on the runs' slices (unbatched arguments shared), outputs stacked."""
    slices = [
        None if tensor is None else (_Unstack.apply(tensor) if tensor.requires_grad else tensor.unbind(0))
        for tensor, _ in physical
    ]
    outputs = [call(*(arg if parts is None else parts[run] for arg, parts in zip(args, slices))) for run in range(runs)]
    if isinstance(outputs[0], tuple):
        return tuple(torch.stack(parts) for parts in zip(*outputs))
    return torch.stack(outputs)


def _linear(physical: Sequence[Physical], args: Sequence[Any], runs: int) -> torch.Tensor:
    (x, _), (weight, _), (bias, _) = physical
    # One run takes `addmm` on a contiguous 2-d input, and on a contiguous 3-d input flattened to rows.
    if (
        x is None
        or weight is None
        or (args[2] is not None and bias is None)
        or x.dim() not in (3, 4)
        or not x[0].is_contiguous()
        or weight.shape[1] < MIN_BATCHED_OUTPUTS
    ):
        return _per_run(F.linear, args, physical, runs)
    rows = x.reshape(runs, -1, x.shape[-1])
    transposed = weight.transpose(1, 2)
    out = torch.bmm(rows, transposed) if bias is None else torch.baddbmm(bias.unsqueeze(1), rows, transposed)
    return out.reshape(*x.shape[:-1], weight.shape[1])


def _batch_norm(physical: Sequence[Physical], args: Sequence[Any], runs: int) -> torch.Tensor:
    x, mean, var, weight, bias = (tensor for tensor, _ in physical[:5])
    training, momentum, eps = args[5:8]
    if (
        not training
        or x is None
        or mean is None
        or var is None
        or weight is None
        or bias is None
        or x.dim() != 3
        or x.shape[-1] % LANES
        or not mean.is_contiguous()  # the running statistics are updated in place: they must flatten as views
        or not var.is_contiguous()
    ):

        def call(x: Any, mean: Any, var: Any, weight: Any, bias: Any) -> Any:
            return F.batch_norm(x, mean, var, weight, bias, training, momentum, eps)

        return _per_run(call, args[:5], physical[:5], runs)
    _, rows, channels = x.shape
    flat = x.transpose(0, 1).reshape(rows, runs * channels)
    out = F.batch_norm(flat, mean.view(-1), var.view(-1), weight.reshape(-1), bias.reshape(-1), training, momentum, eps)
    return out.reshape(rows, runs, channels).transpose(0, 1)


def _layer_norm(physical: Sequence[Physical], args: Sequence[Any], runs: int) -> torch.Tensor:
    shape, eps = args[1], args[4]
    return _per_run(
        lambda x, w, b: F.layer_norm(x, shape, w, b, eps), (args[0], *args[2:4]), (physical[0], *physical[2:4]), runs
    )


# function -> (its parameter names in call order with defaults, the exact batched rule)
_ROUTES: dict[Any, tuple[tuple[tuple[str, Any], ...], Callable[[Sequence[Physical], Sequence[Any], int], Any]]] = {
    F.linear: ((("input", None), ("weight", None), ("bias", None)), _linear),
    F.batch_norm: (
        (
            ("input", None),
            ("running_mean", None),
            ("running_var", None),
            ("weight", None),
            ("bias", None),
            ("training", False),
            ("momentum", 0.1),
            ("eps", 1e-5),
        ),
        _batch_norm,
    ),
    F.layer_norm: (
        (("input", None), ("normalized_shape", None), ("weight", None), ("bias", None), ("eps", 1e-5)),
        _layer_norm,
    ),
}
# Functions that go per run as they are (their tensor arguments first, the rest passed through).
_PER_RUN = {F.cross_entropy: 2, torch.matmul: 2, torch.Tensor.matmul: 2, gathered_linear: 4}


def _bind(names: tuple[tuple[str, Any], ...], args: tuple, kwargs: dict) -> list[Any]:
    values = list(args) + [kwargs.get(name, default) for name, default in names[len(args) :]]
    return values


class ExactStacking(TorchFunctionMode):
    """Routes the functions above to their exact batched rules (active only in the stacked step)."""

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        route = _ROUTES.get(func)
        tensors = _PER_RUN.get(func)
        if route is None and tensors is None:
            return func(*args, **kwargs)
        if route is not None:
            values = _bind(route[0], args, kwargs)
        else:
            values = list(args[:tensors])
        physical = [_unwrap(value) for value in values]
        levels = {level for _, level in physical if level is not None}
        if not levels:
            return func(*args, **kwargs)
        (level,) = levels  # one vmap, one level
        runs = next(tensor.shape[0] for tensor, _ in physical if tensor is not None)
        with temporarily_pop_interpreter_stack():  # the physical tensors' level: plain autograd
            if route is not None:
                out = route[1](physical, values, runs)
            else:
                rest_args, rest_kwargs = args[tensors:], kwargs
                out = _per_run(lambda *t: func(*t, *rest_args, **rest_kwargs), values, physical, runs)
        if isinstance(out, tuple):
            return tuple(functorch._add_batch_dim(part, 0, level) for part in out)
        return functorch._add_batch_dim(out, 0, level)
