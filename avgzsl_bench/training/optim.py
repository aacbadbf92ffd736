"""Per-run Adam and ReduceLROnPlateau over parameters stacked along a leading run dimension.

Each run's update is `torch.optim.Adam(fused=True)`'s: the same fused kernel, called once per run
on that run's slices (contiguous views of the stacked tensors), with that run's step count and
learning rate, after the same step increment. Adam is elementwise, so a run's slice sees exactly
the arithmetic of a one-run optimiser over its own tensors. Each run's learning rate follows its
own `ReduceLROnPlateau`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from avgzsl_bench.api import Schedule

BETAS = (0.9, 0.999)
EPS = 1e-8


def plateau(optimizer: torch.optim.Optimizer, schedule: Schedule) -> torch.optim.lr_scheduler.ReduceLROnPlateau:
    """The learning-rate schedule of every run: divide by 10 when the validation HM stalls."""
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="max", factor=0.1, patience=schedule.lr_patience, threshold=1e-4
    )


class StackedAdam:
    """Adam for R runs whose parameters are stacked as (R, ...) leaf tensors.

    `lr_on_device`: pass each run's learning rate to the kernel as a device tensor, refreshed from
    the host once per epoch, so that a captured CUDA graph picks up a reduced rate.
    """

    def __init__(
        self, params: Sequence[torch.Tensor], runs: int, schedule: Schedule, lr_on_device: bool = False
    ) -> None:
        self.params = list(params)
        self.runs = runs
        self.weight_decay = schedule.weight_decay
        self.exp_avgs = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sqs = [torch.zeros_like(p) for p in self.params]
        device = self.params[0].device if self.params else torch.device("cpu")
        self.steps = torch.zeros(runs, dtype=torch.float32, device=device)
        # ReduceLROnPlateau needs an optimiser to hold the rate; these hold one each and never step.
        self.holders = [torch.optim.SGD([torch.zeros(0)], lr=schedule.lr) for _ in range(runs)]
        self.schedulers = [plateau(holder, schedule) for holder in self.holders]
        self.lr_tensor = torch.full((runs,), schedule.lr, dtype=torch.float32, device=device) if lr_on_device else None

    def lr(self, run: int) -> float:
        return float(self.holders[run].param_groups[0]["lr"])

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        params = [p for p in self.params if p.grad is not None]
        if not params:
            return
        index = [i for i, p in enumerate(self.params) if p.grad is not None]
        self.steps.add_(1)
        for run in range(self.runs):
            step = self.steps[run]
            lr: float | torch.Tensor = self.lr(run) if self.lr_tensor is None else self.lr_tensor[run]
            torch._fused_adam_(
                [p.detach()[run] for p in params],
                [p.grad[run] for p in params],  # type: ignore[index]
                [self.exp_avgs[i][run] for i in index],
                [self.exp_avg_sqs[i][run] for i in index],
                [],
                [step] * len(params),
                lr=lr,
                beta1=BETAS[0],
                beta2=BETAS[1],
                weight_decay=self.weight_decay,
                eps=EPS,
                amsgrad=False,
                maximize=False,
            )

    def end_epoch(self, val_hms: Sequence[float | None]) -> None:
        """Each run's schedule follows its own validation HM; `None` leaves a finished run alone."""
        for run, (scheduler, hm) in enumerate(zip(self.schedulers, val_hms)):
            if hm is not None:
                scheduler.step(hm)
                if self.lr_tensor is not None:
                    self.lr_tensor[run] = self.lr(run)
