"""Feature sequences: one variable-length sequence per video, stored flat, padded per batch and masked.

The temporal benchmark stores one feature *sequence* per video instead of one averaged vector, and
the audio and video sequences of one video differ in length (each modality steps at its own rate).

* `Sequences` is how a split holds them: every step of every sequence in one flat (steps, D) tensor
  (float16 by default: VGGSound's C3D sequences are ~11 GiB at half precision), with the first row
  and length of each sequence. The splits of one dataset share that tensor; a split only selects
  rows of the (start, length) table, so no split copies features. Nothing is padded at rest.
* `Padded` is how a batch of them travels: the values padded to the batch's length, a mask of the
  real steps, and the duration of one step in seconds (from which a method derives time stamps).
  Padding never carries information: every reduction goes through the mask, and what padded
  positions hold (`PAD_VALUE`) must not change any result (the tests fill it with NaN and 1e9).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

# What padded positions hold. Results must not depend on it: the tests set it to NaN and 1e9.
PAD_VALUE = 0.0
# Sequences pooled per chunk in `Sequences.mean` (bounds the float32 copy of the steps it reads).
POOL_CHUNK = 2048


@dataclass(frozen=True)
class Padded:
    """A batch of sequences: `values` (N, T, D), `mask` (N, T) bool (True = a real step)."""

    values: torch.Tensor
    mask: torch.Tensor
    step_s: float  # seconds covered by one step of this modality

    def __post_init__(self) -> None:
        if self.values.ndim != 3 or self.mask.shape != self.values.shape[:2]:
            raise ValueError(f"Padded: values {tuple(self.values.shape)} and mask {tuple(self.mask.shape)} disagree")

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def lengths(self) -> torch.Tensor:
        """(N,) number of real steps per sequence."""
        return self.mask.sum(dim=1)

    def filled(self, value: float = 0.0) -> torch.Tensor:
        """(N, T, D) values with every padded position set to `value`. Use this, not `values`, before
        any op that mixes positions or whose backward multiplies by the input (a linear layer): a
        NaN in padding would otherwise turn gradients into NaN even where the output is masked."""
        return torch.where(self.mask.unsqueeze(-1), self.values, torch.full((), value, dtype=self.values.dtype))

    def times(self) -> torch.Tensor:
        """(T,) start time in seconds of each step of the batch, counted from its first kept step (the
        reference's time stamps: a cropped sequence starts at 0 s too)."""
        steps = torch.arange(self.values.shape[1], device=self.values.device, dtype=torch.float32)
        return steps * self.step_s

    def mean(self) -> torch.Tensor:
        """(N, D) mean over each sequence's real steps (the padding is never read)."""
        weights = self.mask.to(self.values.dtype).unsqueeze(-1)
        return self.filled().sum(1) / weights.sum(dim=1).clamp_min(1.0)

    def rows(self, index: torch.Tensor) -> Padded:
        """The sequences at `index` (a batch's samples)."""
        return replace(self, values=self.values[index], mask=self.mask[index])

    def to(self, device: torch.device | str) -> Padded:
        return replace(self, values=self.values.to(device), mask=self.mask.to(device))


@dataclass(frozen=True)
class Sequences:
    """The sequences of one split and modality: rows `starts[i] : starts[i] + lengths[i]` of `values`.

    `values` lives on the compute device; `starts` and `lengths` always stay on the host, so batch
    shapes and crops are decided there without waiting for the device.
    """

    values: torch.Tensor  # (steps, D), shared with the dataset's other splits
    starts: torch.Tensor  # (N,) int64, host
    lengths: torch.Tensor  # (N,) int64, host, every entry >= 1
    step_s: float

    def __post_init__(self) -> None:
        if self.values.ndim != 2 or self.starts.shape != self.lengths.shape or self.starts.ndim != 1:
            raise ValueError(
                f"Sequences: values {tuple(self.values.shape)}, starts {tuple(self.starts.shape)} and "
                f"lengths {tuple(self.lengths.shape)} disagree"
            )

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    @property
    def dim(self) -> int:
        return int(self.values.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        """(N, D): what the averaged features of the same split would have."""
        return len(self), self.dim

    @property
    def device(self) -> torch.device:
        return self.values.device

    def select(self, index: torch.Tensor) -> Sequences:
        """The sequences at `index` (host indices); the values are shared, not copied."""
        return replace(self, starts=self.starts[index], lengths=self.lengths[index])

    def to(self, device: torch.device | str) -> Sequences:
        return replace(self, values=self.values.to(device))

    def gather(self, positions: torch.Tensor, mask: torch.Tensor) -> Padded:
        """A float32 `Padded` of the rows `positions` (N, T) where `mask` is set, `PAD_VALUE` elsewhere."""
        device = self.values.device
        positions, mask = positions.to(device, non_blocking=True), mask.to(device, non_blocking=True)
        rows = self.values[positions.clamp(0, self.values.shape[0] - 1)].float()
        values = torch.where(mask.unsqueeze(-1), rows, torch.full((), PAD_VALUE, device=device))
        return Padded(values, mask, self.step_s)

    def mean(self) -> torch.Tensor:
        """(N, D) float32 mean of each sequence's steps, in chunks of sequences (never padded)."""
        out = torch.empty((len(self), self.dim), dtype=torch.float32, device=self.values.device)
        for first in range(0, len(self), POOL_CHUNK):
            starts, lengths = self.starts[first : first + POOL_CHUNK], self.lengths[first : first + POOL_CHUNK]
            owner = torch.repeat_interleave(torch.arange(len(starts)), lengths)
            offset = torch.arange(int(lengths.sum())) - torch.repeat_interleave(
                torch.cumsum(lengths, 0) - lengths, lengths
            )
            rows = (starts[owner] + offset).to(self.values.device)
            total = torch.zeros((len(starts), self.dim), dtype=torch.float32, device=self.values.device)
            total.index_add_(0, owner.to(self.values.device), self.values[rows].float())
            out[first : first + len(starts)] = total / lengths.to(total).unsqueeze(1)
        return out

    def all_finite(self, prefix: torch.Tensor | None = None) -> torch.Tensor:
        """(N,) bool: the sequence has no NaN/inf step; `prefix` is `non_finite_prefix(values)` if known."""
        counts = non_finite_prefix(self.values) if prefix is None else prefix
        return (counts[self.starts + self.lengths] - counts[self.starts]) == 0


def non_finite_prefix(values: torch.Tensor) -> torch.Tensor:
    """(steps + 1,) host int64: how many of the first i steps hold a NaN/inf (scanned in chunks)."""
    bad = torch.zeros(values.shape[0], dtype=torch.int64)
    chunk = POOL_CHUNK * 16
    for first in range(0, values.shape[0], chunk):
        part = values[first : first + chunk]
        bad[first : first + part.shape[0]] = (~torch.isfinite(part)).any(dim=1).cpu()
    return torch.cat([torch.zeros(1, dtype=torch.int64), torch.cumsum(bad, 0)])
