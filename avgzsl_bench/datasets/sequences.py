"""Feature sequences: one variable-length sequence per video, padded to a batch and masked.

The temporal benchmark stores one feature *sequence* per video instead of one averaged vector, and
the audio and video sequences of one video differ in length (each modality steps at its own rate).
`Padded` is how a batch of such sequences travels: the values padded to the longest sequence, a
mask of the real steps, and the duration of one step in seconds (from which a method derives time
stamps). Padding never carries information: every reduction goes through the mask.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch


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

    def mean(self) -> torch.Tensor:
        """(N, D) mean over each sequence's real steps (the padding is never read)."""
        weights = self.mask.to(self.values.dtype).unsqueeze(-1)
        total = torch.where(weights > 0, self.values, torch.zeros((), dtype=self.values.dtype)).mul(weights).sum(1)
        return total / weights.sum(dim=1).clamp_min(1.0)

    def rows(self, index: torch.Tensor) -> Padded:
        """The sequences at `index` (a batch's samples)."""
        return replace(self, values=self.values[index], mask=self.mask[index])

    def to(self, device: torch.device | str) -> Padded:
        return replace(self, values=self.values.to(device), mask=self.mask.to(device))
