"""`StackedTrainer`: R runs of one method and configuration (different seeds) trained as one model.

The runs' weights and BatchNorm statistics are stacked along a leading run dimension and the
method's own `loss`/`after_step` run once per step under `torch.func.vmap` over that dimension,
so R small models cost about as many kernel launches as one. Everything that makes a run that run
stays per run: its initial weights (built right after seeding, as alone), its batch draws (its own
sampler generator), its dropout masks (keyed by its seed), its Adam state and learning rate
(`RunAdam`), its BatchNorm running statistics (stacked buffers updated in place).

On a CPU the step runs under `ExactStacking` (`training/exact.py`), which makes each stacked run
bit-identical to the same run trained alone (on one thread); on a GPU vmap's own batching rules
launch fewer kernels, and the runs agree in distribution.

Evaluation goes through `model_of(run)`: a module of the method whose parameters and buffers are
views of that run's slices, so it always shows the run's current state without copies.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, vmap

from avgzsl_bench.api import GZSLMethod, MethodSpec, Schedule
from avgzsl_bench.datasets.types import GZSLDataset, TextEmbeddings
from avgzsl_bench.nn.dropout import MaskStream, masks_from, prefetch_count, seed_key, step_key, step_masks
from avgzsl_bench.training.batches import Draws, batch_of, epoch_draws
from avgzsl_bench.training.exact import ExactStacking
from avgzsl_bench.training.graphs import StepCallback, StepRunner
from avgzsl_bench.training.optim import RunAdam
from avgzsl_bench.training.sampling import ClassBalancedSampler
from avgzsl_bench.training.trainer import MaskPlan

Text = dict[str, torch.Tensor]  # each named text part (CLIP, CLAP, word2vec) of the training classes
Masks = tuple[torch.Tensor, dict[float, torch.Tensor]]  # a step's mask keys, and its masks made up front


class _MethodCall(nn.Module):
    """`functional_call` calls `forward`; this routes it to a named method of the wrapped model."""

    def __init__(self, model: GZSLMethod) -> None:
        super().__init__()
        self.model = model

    def forward(self, name: str, *args: Any) -> Any:
        return getattr(self.model, name)(*args)


def _alias(model: nn.Module, stacked: Mapping[str, torch.Tensor], run: int, buffers: bool) -> None:
    """Make `model`'s parameters (or buffers) views of run `run`'s slices of the stacked tensors."""
    for name, tensor in stacked.items():
        owner_name, _, attribute = name.rpartition(".")
        owner = model.get_submodule(owner_name)
        view = tensor.detach()[run]
        if buffers:
            owner._buffers[attribute] = view
        else:
            owner._parameters[attribute] = nn.Parameter(view, requires_grad=tensor.requires_grad)


def stack_models(models: Sequence[nn.Module]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The models' parameters and buffers stacked along a new first (run) dimension; each model's
    own tensors become views of its slices (so it always shows that run's current state)."""
    params = {
        name: torch.stack([dict(m.named_parameters())[name].detach() for m in models]).requires_grad_(p.requires_grad)
        for name, p in models[0].named_parameters()
    }
    buffers = {
        name: torch.stack([dict(m.named_buffers())[name] for m in models]) for name, _ in models[0].named_buffers()
    }
    for run, model in enumerate(models):
        _alias(model, params, run, buffers=False)
        _alias(model, buffers, run, buffers=True)
    return params, buffers


class StackedTrainer:
    """Trains R runs as one; the same interface as `RunTrainer` (which is R = 1, unstacked)."""

    def __init__(
        self,
        spec: MethodSpec,
        dataset: GZSLDataset,
        hparams: Mapping[str, Any],
        seeds: Sequence[int],
        split_name: str,
        graphs: bool | None = None,
        exact: bool | None = None,
    ) -> None:
        device = dataset.text.device
        self.models: list[GZSLMethod] = []
        for seed in seeds:
            torch.manual_seed(seed)  # as alone: the seed fixes the initial weights
            self.models.append(spec.build(dataset.dims, hparams).to(device))
        self.runs, self.needs_negatives = len(seeds), self.models[0].needs_negatives
        self.schedule = Schedule.from_hparams(hparams)
        self.split = dataset.splits[split_name]
        self.class_text = dataset.text.rows(self.split.seen)
        # Every run gets its own copy of the class text: a layer applied to an input shared by the
        # runs would be batched as one wider matrix product, whose rounding differs from one run's.
        self.run_text: Text = {
            name: part.unsqueeze(0).repeat(self.runs, 1, 1) for name, part in self.class_text.parts.items()
        }
        self.samplers = [ClassBalancedSampler(self.split.labels, torch.Generator().manual_seed(s)) for s in seeds]
        self.template = copy.deepcopy(self.models[0])
        self.call = _MethodCall(self.template)
        self.params, self.buffers = stack_models(self.models)
        self.run_keys = torch.stack([seed_key(seed, device) for seed in seeds])
        self.step_count = torch.zeros((), dtype=torch.int32, device=device)
        trainable = [p for p in self.params.values() if p.requires_grad]
        self.optimizer = RunAdam(trainable, self.schedule, self.runs, stacked=True, lr_on_device=device.type == "cuda")
        self.graphs = StepRunner(device, graphs)
        # Exact batching rules where they buy bit-identical runs: on a CPU. A GPU's matrix kernels
        # differ between batched and single products anyway, so there vmap's own (fewer) kernels.
        self.exact = device.type == "cpu" if exact is None else exact
        self._loss = vmap(self._run_loss)
        self._after = vmap(self._run_after_step, out_dims=None)
        self._loss_elements = self._step_elements = 0  # dropout draws per run: by the loss, by the step
        self._rates: set[float] = set()  # dropout rates the step draws with
        self.mask_plan: MaskPlan = (0, ())  # dropout masks to make up front, known after the first step
        self.losses: list[torch.Tensor] = []  # per step, (R,) total loss of every run, when recording

    @property
    def epochs(self) -> int:
        return self.schedule.epochs

    def model_of(self, run: int) -> GZSLMethod:
        """Run `run`'s model, viewing its current slices (for evaluation)."""
        return self.models[run]

    def snapshot(self, run: int) -> GZSLMethod:
        """An independent copy of run `run`'s model as it is now."""
        model = copy.deepcopy(self.template)
        state = {name: tensor[run] for name, tensor in {**self.params, **self.buffers}.items()}
        model.load_state_dict(state)
        return model

    def _state(self, params: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {f"model.{name}": tensor for name, tensor in {**params, **buffers}.items()}

    def _run_loss(self, params: dict, buffers: dict, masks: Masks, text: Text, draws: Draws) -> torch.Tensor:
        stream = MaskStream(*masks)
        with masks_from(stream):
            batch = batch_of(self.split, TextEmbeddings(**text), draws)
            terms = functional_call(self.call, self._state(params, buffers), ("loss", batch))
        self._loss_elements, self._rates = stream.offset, stream.rates
        return sum(terms.values())

    def _run_after_step(self, params: dict, buffers: dict, masks: Masks, text: Text, draws: Draws) -> None:
        # after_step continues the step's masks where the loss left them, as in one run
        stream = MaskStream(*masks, offset=self._loss_elements)
        stream.rates = self._rates
        with masks_from(stream):
            batch = batch_of(self.split, TextEmbeddings(**text), draws)
            functional_call(self.call, self._state(params, buffers), ("after_step", batch))
        self._step_elements = stream.offset
        self._rates = stream.rates

    def _step(self, draws: Draws) -> torch.Tensor:
        keys = step_key(self.run_keys, self.step_count)
        elements, rates = self.mask_plan
        masks: Masks = (keys, step_masks(keys, elements, rates) if elements else {})
        self.optimizer.zero_grad()
        with ExactStacking() if self.exact else contextlib.nullcontext():
            losses = self._loss(self.params, self.buffers, masks, self.run_text, draws)
        losses.sum().backward()
        self.optimizer.step()
        with torch.no_grad(), ExactStacking() if self.exact else contextlib.nullcontext():
            self._after(self.params, self.buffers, masks, self.run_text, draws)
        # every step draws as many masks with the same rates
        self.mask_plan = (prefetch_count(self._step_elements, keys.device), tuple(self._rates))
        self.step_count.add_(1)
        return losses.detach()

    def _epoch_draws(self) -> Draws:
        """(num_batches, R, batch_size) per name: every run's draws from its own sampler."""
        schedule = self.schedule
        per_run = [
            epoch_draws(sampler, schedule.batches_per_epoch, schedule.batch_size, self.needs_negatives)
            for sampler in self.samplers
        ]
        device = self.split.labels.device
        return {name: torch.stack([d[name] for d in per_run], dim=1).to(device) for name in per_run[0]}

    def train_epoch(self, record_losses: bool = False, on_step: StepCallback | None = None) -> None:
        self.template.train()
        draws = self._epoch_draws()
        step: Callable[[Draws], torch.Tensor] = self._step
        self.graphs.run_epoch(step, draws, self.losses if record_losses else None, on_step)

    def end_epoch(self, val_hms: Sequence[float | None]) -> None:
        """Each run's learning rate follows its own validation HM (`None`: a finished run)."""
        self.optimizer.end_epoch(val_hms)
