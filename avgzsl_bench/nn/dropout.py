"""Dropout masks that are a pure function of (run seed, training step, position within the step).

A run trained alone and the same run trained inside a stack of runs (`torch.func.vmap` over the
runs' stacked weights) must see the same masks. torch's dropout draws from one global generator,
which a stack shares between its runs, so neither path could reproduce the other. Here a mask
element is a hash of a per-run, per-step key and of a counter that numbers every dropout element
of the step in call order; nothing is drawn from a generator, so the key can be a batched tensor
under `vmap` (one key per run), and the step's key is computed on the device from a step counter,
so the masks need no host round-trip and replay unchanged inside a CUDA graph.

The hash is integer arithmetic on int32 (exact on every device; multiplications wrap modulo
2**32, and right shifts are masked to be logical): the "lowbias32" finaliser applied to
`counter * golden ^ key`, up to its last multiplication, whose top 24 bits are the uniform draw.
An element is kept when its draw is at least round(p * 2**24) (one signed comparison of the
word with its sign bit flipped), then scaled by 1 / (1 - p), as torch's dropout scales.

Outside a `MaskStream` (a model called in train mode by hand, e.g. in a notebook) the masks come
from torch's global generator, as with `nn.Dropout`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

# Part of every job's configuration identity: results trained with other masks never mix with these.
RNG_VERSION = 2
UNIFORM_BITS = 24
_GOLDEN = -1640531535  # 0x9E3779B1 as a signed int32
_MIX_1 = 0x7FEB352D
_MIX_2 = -2073254261  # 0x846CA68B as a signed int32
_SEED_SALT = 0x2545F491
_SIGN = -(1 << 31)  # xor with it maps unsigned order onto signed order
# The counters of one step's dropout elements: 2**30 per run is ~10x the largest step we know of.
MAX_STEP_ELEMENTS = 1 << 30
CPU_PREFETCH_LIMIT = 1 << 20

_state = threading.local()
_tables: dict[torch.device, torch.Tensor] = {}


def _to_int32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def _mix_to_product(x: torch.Tensor) -> torch.Tensor:
    """lowbias32 up to its last multiplication: the top bits are well mixed (the draws use them)."""
    x = x ^ ((x >> 16) & 0xFFFF)
    x = x * _MIX_1
    x = x ^ ((x >> 15) & 0x1FFFF)
    return x * _MIX_2


def mix32(x: torch.Tensor) -> torch.Tensor:
    """The lowbias32 integer finaliser on an int32 tensor (a bijection of 32-bit words)."""
    x = _mix_to_product(x)
    return x ^ ((x >> 16) & 0xFFFF)


def seed_key(seed: int, device: torch.device | str | None = None) -> torch.Tensor:
    """A run's int32 key, from its seed (any Python int)."""
    return mix32(torch.tensor(_to_int32(seed ^ _SEED_SALT), dtype=torch.int32, device=device))


def step_key(run_key: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
    """The key of one training step of a run (both int32 tensors, any matching shape)."""
    return mix32(run_key ^ mix32(step))


def _counter_table(size: int, device: torch.device) -> torch.Tensor:
    """`arange(n) * golden` (int32), grown by doubling and kept per device: one slice per dropout call."""
    table = _tables.get(device)
    if table is None or table.numel() < size:
        if size > MAX_STEP_ELEMENTS:
            raise RuntimeError(
                f"one training step applies dropout to {size} elements per run; the mask counters "
                f"allow {MAX_STEP_ELEMENTS}. Use a smaller batch_size"
            )
        grown = max(size, 2 * (0 if table is None else table.numel()), 1 << 16)
        table = torch.arange(min(grown, MAX_STEP_ELEMENTS), dtype=torch.int32, device=device) * _GOLDEN
        _tables[device] = table
    return table


def _threshold(p: float) -> int:
    """Kept iff the 24-bit draw is at least this: round(p * 2**24), below 2**24."""
    return min(round(p * (1 << UNIFORM_BITS)), (1 << UNIFORM_BITS) - 1)


def _scaled(words: torch.Tensor, p: float) -> torch.Tensor:
    """The dropout mask of rate `p` from hash words: 1 / (1 - p) where kept, else 0 (float32)."""
    return torch.where(words >= (_threshold(p) << 8) + _SIGN, 1.0 / (1.0 - p), 0.0)


class MaskStream:
    """The dropout masks of one training step of one run (or of every run of a stack, under vmap).

    Calls number their elements consecutively from `offset` (0 at the start of a step), so the k-th
    dropout element of the step gets the same draw in either path. `masks`: the step's masks made
    up front by `step_masks`, one per dropout rate (a few large operations per step, then one
    multiplication per dropout call; the same values). `rates` collects the rates drawn with.
    """

    def __init__(self, key: torch.Tensor, masks: dict[float, torch.Tensor] | None = None, offset: int = 0) -> None:
        self.key = key
        self.offset = offset
        self.masks = masks or {}
        self.rates: set[float] = set()

    def _next(self, shape: torch.Size) -> tuple[int, int]:
        start, self.offset = self.offset, self.offset + shape.numel()
        return start, self.offset

    def draw(self, shape: torch.Size) -> torch.Tensor:
        """24-bit uniform integers (int32) of `shape`, the next ones of this step."""
        start, end = self._next(shape)
        words = _hash_counters(self.key, start, end - start) ^ _SIGN
        return (words >> 8).view(shape) & ((1 << UNIFORM_BITS) - 1)

    def mask(self, shape: torch.Size, p: float) -> torch.Tensor:
        """The next dropout mask of rate `p` and `shape`: 1 / (1 - p) where kept, else 0."""
        start, end = self._next(shape)
        self.rates.add(p)
        prepared = self.masks.get(p)
        if prepared is not None and end <= prepared.shape[-1]:
            return prepared[start:end].view(shape)
        return _scaled(_hash_counters(self.key, start, end - start), p).view(shape)


def _hash_counters(key: torch.Tensor, start: int, count: int) -> torch.Tensor:
    """Hash words with the sign bit flipped, so that signed comparison orders them as unsigned."""
    counters = _counter_table(start + count, key.device)[start : start + count]
    return _mix_to_product(counters ^ key.unsqueeze(-1)) ^ _SIGN


def step_masks(key: torch.Tensor, count: int, rates: Iterable[float]) -> dict[float, torch.Tensor]:
    """A step's first `count` dropout masks for each rate, for `MaskStream(key, masks)`; `key` may
    hold one run's key or a stack's, (R,) -> (R, count) per rate."""
    words = _hash_counters(key, 0, count)
    return {p: _scaled(words, p) for p in sorted(rates)}


def prefetch_count(elements: int, device: torch.device) -> int:
    """How many of a step's `elements` dropout draws to make up front (0: hash per call).

    On a GPU, up front always: a handful of launches per step instead of several per dropout call.
    On a CPU, only while a step's masks stay in cache; beyond, one pass per call is faster.
    """
    return elements if device.type != "cpu" or elements <= CPU_PREFETCH_LIMIT else 0


def active_stream() -> MaskStream | None:
    return getattr(_state, "stream", None)


@contextmanager
def masks_from(stream: MaskStream) -> Iterator[MaskStream]:
    """Dropout layers called inside take their masks from `stream`."""
    previous = active_stream()
    _state.stream = stream
    try:
        yield stream
    finally:
        _state.stream = previous


class CounterDropout(nn.Module):
    """`nn.Dropout(p)` with masks from the active `MaskStream`."""

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must lie in [0, 1), got {p}")
        self.p = p

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        stream = active_stream()
        if stream is None:
            return F.dropout(x, self.p, training=True)
        return x * stream.mask(x.shape, self.p)
