"""`RunTrainer`: one freshly built model of one run, its optimiser and LR schedule, on one split.

Built like `StackedTrainer` (from a list of seeds, here of one), and driven by the protocol through the
same interface: `runs`, `epochs`,
`model_of(run)`, `snapshot(run)`, `train_epoch()` and `end_epoch(val_hms)`; here there is one run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from avgzsl_bench.api import GZSLMethod, MethodSpec, Schedule
from avgzsl_bench.datasets.types import GZSLDataset
from avgzsl_bench.nn.dropout import MaskStream, masks_from, prefetch_count, seed_key, step_key, step_masks
from avgzsl_bench.training.batches import training_batches
from avgzsl_bench.training.graphs import StepCallback
from avgzsl_bench.training.optim import RunAdam
from avgzsl_bench.training.sampling import ClassBalancedSampler

MaskPlan = tuple[int, tuple[float, ...]]  # a step's dropout elements and rates, when made up front


class RunTrainer:
    """Builds the model right after seeding (so a seed fixes the initial weights), then trains it
    epoch by epoch with Adam and ReduceLROnPlateau on the validation HM."""

    runs = 1

    def __init__(
        self,
        spec: MethodSpec,
        dataset: GZSLDataset,
        hparams: Mapping[str, Any],
        seeds: Sequence[int],
        split_name: str,
    ) -> None:
        if len(seeds) != 1:
            raise ValueError(f"RunTrainer trains one run, got seeds {list(seeds)}; StackedTrainer trains several")
        (seed,) = seeds
        torch.manual_seed(seed)
        device = dataset.text.device
        self.model: GZSLMethod = spec.build(dataset.dims, hparams).to(device)
        self.schedule = Schedule.from_hparams(hparams)
        self.split = dataset.splits[split_name]
        self.class_text = dataset.text.rows(self.split.seen)
        self.sampler = ClassBalancedSampler(self.split.labels, torch.Generator().manual_seed(seed))
        self.run_key = seed_key(seed, device)
        self.step_count = torch.zeros((), dtype=torch.int32, device=device)
        self.mask_plan: MaskPlan = (0, ())  # dropout masks to make up front, known after the first step
        self.losses: list[torch.Tensor] = []  # per step, the total loss, when recording
        parameters = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = RunAdam(parameters, self.schedule) if parameters and not spec.training_free else None

    @property
    def epochs(self) -> int:
        """Stage-1 epochs: 0 for a model with nothing to train."""
        return self.schedule.epochs if self.optimizer is not None else 0

    def model_of(self, run: int = 0) -> GZSLMethod:
        return self.model

    def snapshot(self, run: int = 0) -> GZSLMethod:
        return self.model

    def train_epoch(self, record_losses: bool = False, on_step: StepCallback | None = None) -> None:
        assert self.optimizer is not None, "a model with nothing to train has no epochs"
        self.model.train()
        batches = training_batches(
            self.split,
            self.class_text,
            self.sampler,
            self.schedule.batches_per_epoch,
            self.schedule.batch_size,
            self.model.needs_negatives,
            self.model.sequence_crop,
        )
        steps = self.schedule.batches_per_epoch
        for index, batch in enumerate(batches):
            # One mask stream per step: the loss and after_step draw consecutive masks from it.
            key = step_key(self.run_key, self.step_count)
            elements, rates = self.mask_plan
            stream = MaskStream(key, step_masks(key, elements, rates) if elements else None)
            with masks_from(stream):
                loss = sum(self.model.loss(batch).values())
                self.optimizer.zero_grad()
                loss.backward()  # type: ignore[union-attr]
                self.optimizer.step()
                with torch.no_grad():
                    self.model.after_step(batch)
            # every step draws as many masks with the same rates
            self.mask_plan = (prefetch_count(stream.offset, self.step_count.device), tuple(stream.rates))
            self.step_count.add_(1)
            if record_losses:
                self.losses.append(loss.detach())  # type: ignore[union-attr]
            if on_step is not None:
                on_step(index + 1, steps)

    def end_epoch(self, val_hms: Sequence[float | None]) -> None:
        """The LR schedule follows the validation HM (stage 2 too, as in the reference)."""
        if self.optimizer is not None:
            self.optimizer.end_epoch(val_hms)
