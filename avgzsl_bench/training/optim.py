"""Adam and ReduceLROnPlateau, per run, for one run's parameters or R runs stacked along a leading dimension.

The update is `torch.optim.Adam(fused=True)`'s: the same fused kernel with the same arguments,
after the same step increment, called once per run on that run's tensors (for a stack, contiguous
views of its slices) with that run's step count and learning rate. Adam is elementwise, so a run
sees exactly the arithmetic of a one-run `torch.optim.Adam` over its own tensors. Each run's rate
follows its own plateau schedule, `Plateau`: `torch.optim.lr_scheduler.ReduceLROnPlateau`'s rule
for the one setting the protocol uses, on a plain float.

Why not the torch classes themselves: the first `torch.optim.Optimizer` a process builds imports
torch's compiler stack (about a second, before any work), and `Optimizer.step` adds Python
wrappers to every step; a run needs neither (tests check both rules against torch's classes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from avgzsl_bench.api import Schedule

BETAS = (0.9, 0.999)
EPS = 1e-8
LR_FACTOR = 0.1  # the rate is divided by ten when the validation HM stalls
THRESHOLD = 1e-4  # relative: an HM counts as better if above best * (1 + THRESHOLD)
MIN_LR_STEP = 1e-8  # a reduction smaller than this is skipped, as torch's `eps`


class Plateau:
    """ReduceLROnPlateau(mode="max", factor=0.1, patience, threshold=1e-4 relative, no cooldown,
    no minimum rate) on one learning rate."""

    def __init__(self, lr: float, patience: int) -> None:
        self.lr = lr
        self.patience = patience
        self.best = -math.inf
        self.bad_epochs = 0

    def step(self, metric: float) -> None:
        current = float(metric)
        if current > self.best * (1.0 + THRESHOLD):
            self.best, self.bad_epochs = current, 0
        else:
            self.bad_epochs += 1
        if self.bad_epochs > self.patience:
            reduced = max(self.lr * LR_FACTOR, 0.0)
            if self.lr - reduced > MIN_LR_STEP:
                self.lr = reduced
            self.bad_epochs = 0


class RunAdam:
    """Adam for the trainable parameters of R runs.

    `stacked`: the parameters are (R, ...) leaf tensors, run r's slice is its parameter; otherwise
    they are one run's own tensors (R = 1). `lr_on_device`: pass each run's rate to the kernel as
    a device tensor, refreshed from the host once per epoch, so that a captured CUDA graph picks
    up a reduced rate.
    """

    def __init__(
        self,
        params: Sequence[torch.Tensor],
        schedule: Schedule,
        runs: int = 1,
        stacked: bool = False,
        lr_on_device: bool = False,
    ) -> None:
        if not stacked and runs != 1:
            raise ValueError("unstacked parameters belong to one run")
        self.params = list(params)
        self.runs, self.stacked = runs, stacked
        self.weight_decay = schedule.weight_decay
        self.exp_avgs = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sqs = [torch.zeros_like(p) for p in self.params]
        device = self.params[0].device if self.params else torch.device("cpu")
        self.steps = torch.zeros(runs, dtype=torch.float32, device=device)
        self.plateaus = [Plateau(schedule.lr, schedule.lr_patience) for _ in range(runs)]
        self.lr_tensor = torch.full((runs,), schedule.lr, dtype=torch.float32, device=device) if lr_on_device else None

    def lr(self, run: int) -> float:
        return self.plateaus[run].lr

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def _of(self, tensor: torch.Tensor, run: int) -> torch.Tensor:
        return tensor[run] if self.stacked else tensor

    def step(self) -> None:
        index = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not index:
            return
        self.steps.add_(1)
        for run in range(self.runs):
            step = self.steps[run]
            lr: float | torch.Tensor = self.lr(run) if self.lr_tensor is None else self.lr_tensor[run]
            torch._fused_adam_(
                [self._of(self.params[i].detach(), run) for i in index],
                [self._of(self.params[i].grad, run) for i in index],  # type: ignore[arg-type]
                [self._of(self.exp_avgs[i], run) for i in index],
                [self._of(self.exp_avg_sqs[i], run) for i in index],
                [],
                [step] * len(index),
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
        for run, (plateau, hm) in enumerate(zip(self.plateaus, val_hms)):
            if hm is not None:
                plateau.step(hm)
                if self.lr_tensor is not None:
                    self.lr_tensor[run] = plateau.lr
