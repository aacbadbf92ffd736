"""Running an epoch's training steps: eagerly, or (on CUDA) as replays of one captured CUDA graph.

The models are small, so on a GPU a step costs its kernel launches, not its arithmetic. A step
with static shapes and no host round-trip (draws already on the device, dropout keys and Adam
step counts computed on the device) can be captured once and replayed: one host call per step.
The step is the same function either way; in a graph it finds its draws through a device-side
step counter, because a replay re-reads the addresses it was captured with. The first steps run
eagerly on a side stream (CUDA's documented warm-up before capture: lazy state, allocator pools);
they are real training steps. If capture fails, the reason is reported once and training goes on
eagerly, with the same values.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch

from avgzsl_bench.training.batches import Draws

WARMUP_STEPS = 3
StepFn = Callable[[Draws], torch.Tensor]
# Told (steps done, steps in the epoch) after each step: plain integers, never a device value, so
# calling it costs no host sync. On CUDA the count is of steps queued, which run shortly after.
StepCallback = Callable[[int, int], None]


def graphs_available(device: torch.device) -> bool:
    return device.type == "cuda" and torch.cuda.is_available()


class StepRunner:
    """Runs the steps of each epoch; `graphs=None` captures wherever CUDA graphs exist."""

    def __init__(self, device: torch.device, graphs: bool | None = None) -> None:
        self.enabled = graphs_available(device) if graphs is None else graphs and graphs_available(device)
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static: Draws = {}
        self.output: torch.Tensor | None = None
        self.counter = torch.zeros(1, dtype=torch.long, device=device) if self.enabled else None
        self.steps_done = 0
        self.failure: str | None = None

    def run_epoch(
        self,
        step: StepFn,
        draws: Draws,
        losses: list[torch.Tensor] | None = None,
        on_step: StepCallback | None = None,
    ) -> None:
        num_steps = next(iter(draws.values())).shape[0]
        if not self.enabled:
            for index in range(num_steps):
                out = step({name: value[index] for name, value in draws.items()})
                if losses is not None:
                    losses.append(out)
                if on_step is not None:
                    on_step(index + 1, num_steps)
            return
        self._load(draws)
        for index in range(num_steps):
            out = self._graph_step(step, index)
            if losses is not None:
                losses.append(out.clone())
            if on_step is not None:
                on_step(index + 1, num_steps)

    def _load(self, draws: Draws) -> None:
        if not self.static:
            self.static = {name: value.clone() for name, value in draws.items()}
        else:
            for name, value in draws.items():
                self.static[name].copy_(value)
        assert self.counter is not None
        self.counter.zero_()

    def _select_and_step(self, step: StepFn) -> torch.Tensor:
        assert self.counter is not None
        current = {name: value.index_select(0, self.counter)[0] for name, value in self.static.items()}
        out = step(current)
        self.counter.add_(1)
        return out

    def _graph_step(self, step: StepFn, index: int) -> torch.Tensor:
        if self.graph is not None:
            self.graph.replay()
            assert self.output is not None
            return self.output
        if self.failure is None and self.steps_done >= WARMUP_STEPS:
            self._capture(step)  # records the step without running it; a replay runs it
            if self.graph is not None:
                return self._graph_step(step, index)
        self.steps_done += 1
        return self._warm_step(step) if self.failure is None else self._select_and_step(step)

    def _warm_step(self, step: StepFn) -> torch.Tensor:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            out = self._select_and_step(step)
        torch.cuda.current_stream().wait_stream(side)
        return out

    def _capture(self, step: StepFn) -> None:
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                self.output = self._select_and_step(step)
        except Exception as error:  # noqa: BLE001 - any capture failure falls back to eager steps
            self.failure = f"{type(error).__name__}: {error}".splitlines()[0]
            warnings.warn(f"CUDA graph capture failed, training eagerly: {self.failure}", stacklevel=2)
            return
        self.graph = graph
