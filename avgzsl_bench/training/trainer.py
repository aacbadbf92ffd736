"""`RunTrainer`: one freshly built model of one run, its optimiser and LR schedule, on one split."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from avgzsl_bench.api import GZSLMethod, MethodSpec, Schedule
from avgzsl_bench.data import GZSLDataset
from avgzsl_bench.sampling import ClassBalancedSampler
from avgzsl_bench.training.batches import training_batches


class RunTrainer:
    """Builds the model right after seeding (so a seed fixes the initial weights), then trains it
    epoch by epoch with Adam and ReduceLROnPlateau on the validation HM."""

    def __init__(
        self, spec: MethodSpec, dataset: GZSLDataset, hparams: Mapping[str, Any], seed: int, split_name: str
    ) -> None:
        torch.manual_seed(seed)
        self.model: GZSLMethod = spec.build(dataset.dims, hparams).to(dataset.text.device)
        self.schedule = Schedule.from_hparams(hparams)
        self.split = dataset.splits[split_name]
        self.class_text = dataset.text.rows(self.split.seen)
        self.sampler = ClassBalancedSampler(self.split.labels, torch.Generator().manual_seed(seed))
        parameters = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = None
        self.scheduler = None
        if parameters and not spec.training_free:
            # The fused kernel is the same Adam update, ~7x faster than the per-tensor loop on CPU.
            self.optimizer = torch.optim.Adam(
                parameters, lr=self.schedule.lr, weight_decay=self.schedule.weight_decay, fused=True
            )
            self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                self.optimizer, mode="max", factor=0.1, patience=self.schedule.lr_patience, threshold=1e-4
            )

    @property
    def epochs(self) -> int:
        """Stage-1 epochs: 0 for a model with nothing to train."""
        return self.schedule.epochs if self.optimizer is not None else 0

    def train_epoch(self) -> None:
        assert self.optimizer is not None, "a model with nothing to train has no epochs"
        self.model.train()
        batches = training_batches(
            self.split,
            self.class_text,
            self.sampler,
            self.schedule.batches_per_epoch,
            self.schedule.batch_size,
            self.model.needs_negatives,
        )
        for batch in batches:
            loss = sum(self.model.loss(batch).values())
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[union-attr]
            self.optimizer.step()
            with torch.no_grad():
                self.model.after_step(batch)

    def end_epoch(self, val_hm: float) -> None:
        """The LR schedule follows the validation HM (stage 2 too, as in the reference)."""
        if self.scheduler is not None:
            self.scheduler.step(val_hm)
