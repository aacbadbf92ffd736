"""Vectorised class-balanced batch sampling with replacement, and negatives of other classes.

Reference semantics: each draw picks a class uniformly among the split's classes, then a sample
uniformly within it; an "epoch" is a fixed number of batches, independent of the dataset size.
A negative is a uniform sample of a uniformly chosen *other* class.
"""

from __future__ import annotations

import torch


class ClassBalancedSampler:
    def __init__(self, labels: torch.Tensor, generator: torch.Generator) -> None:
        self.generator = generator
        self.classes, inverse, counts = torch.unique(labels.cpu(), return_inverse=True, return_counts=True)
        self.order = torch.argsort(inverse, stable=True)  # sample indices grouped by class
        self.offsets = torch.cumsum(counts, 0) - counts
        self.counts = counts

    @property
    def num_classes(self) -> int:
        return int(self.classes.numel())

    def _draw_within(self, class_positions: torch.Tensor) -> torch.Tensor:
        uniform = torch.rand(class_positions.shape, generator=self.generator)
        within = (uniform * self.counts[class_positions]).long().clamp_max(self.counts[class_positions] - 1)
        return self.order[self.offsets[class_positions] + within]

    def epoch(self, num_batches: int, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample indices (num_batches, batch_size) and class positions of the draws."""
        positions = torch.randint(self.num_classes, (num_batches, batch_size), generator=self.generator)
        return self._draw_within(positions), positions

    def negatives(self, positive_positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """For each draw, a sample of a uniformly chosen different class, and that class's position."""
        if self.num_classes < 2:
            raise ValueError("negative sampling needs at least two classes")
        shift = torch.randint(1, self.num_classes, positive_positions.shape, generator=self.generator)
        positions = (positive_positions + shift) % self.num_classes
        return self._draw_within(positions), positions
