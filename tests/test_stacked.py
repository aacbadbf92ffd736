"""The stacked trainer reproduces single runs: per-step losses, weights, BatchNorm statistics,
Adam, learning-rate schedules and the protocol's choices (on one CPU thread: bit for bit)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from avgzsl_bench.api import Schedule, get_method, list_methods
from avgzsl_bench.datasets.types import TextEmbeddings
from avgzsl_bench.protocol.stages import run_protocol, run_single
from avgzsl_bench.training.optim import Plateau, RunAdam
from avgzsl_bench.training.stackable import stack_reason
from avgzsl_bench.training.stacked import StackedTrainer
from avgzsl_bench.training.trainer import RunTrainer

SEEDS = (0, 1, 2)
STEPS = 100
LOSS_SEEDS = (0, 1)  # two runs keep the 100-step comparison of the slowest method under ~10 s
LOSS_TOLERANCE = 1e-5  # relative, per step and run


# bit-for-bit agreement holds on one CPU thread (the one_thread fixture of conftest.py)
pytestmark = pytest.mark.usefixtures("one_thread")


def stackable() -> list[str]:
    return [name for name in list_methods() if stack_reason(get_method(name)) is None]


def small_hparams(name: str, **schedule: int) -> dict:
    """The demo configuration with every `*_dim` hyper-parameter shrunk (a fast model of the same
    structure) and the given schedule."""
    spec = get_method(name)
    defaults = spec.hparams("demo")
    shrunk = {key: 32 for key, value in defaults.items() if key.endswith("_dim") and isinstance(value, int)}
    return spec.hparams("demo", {**shrunk, **schedule})


def test_every_trainable_builtin_method_is_stackable():
    assert set(stackable()) >= {
        "clipclap",
        "cjme",
        "avgzslnet",
        "avca",
        "hyper-multiple",
        "devise",
        "ale",
        "sje",
        "hsp-moe",
    }
    assert stack_reason(get_method("zeroshot")) == "it has nothing to train"


@pytest.mark.parametrize("name", stackable())
def test_stacked_losses_match_single_runs_over_100_steps(name, tiny_demo):
    spec = get_method(name)
    hparams = small_hparams(name, epochs=1, batches_per_epoch=STEPS, batch_size=8)
    single = []
    for seed in LOSS_SEEDS:
        trainer = RunTrainer(spec, tiny_demo, hparams, [seed], "train")
        trainer.train_epoch(record_losses=True)
        single.append(trainer)
    stacked = StackedTrainer(spec, tiny_demo, hparams, LOSS_SEEDS, "train")
    stacked.train_epoch(record_losses=True)
    assert len(stacked.losses) == STEPS
    for run, trainer in enumerate(single):
        alone = torch.stack(trainer.losses)
        together = torch.stack([losses[run] for losses in stacked.losses])
        relative = ((together - alone).abs() / alone.abs().clamp_min(1e-12)).max().item()
        assert relative <= LOSS_TOLERANCE, f"{name}, seed {LOSS_SEEDS[run]}: losses differ by {relative:.2e}"
        state = trainer.model.state_dict()
        for key, value in stacked.model_of(run).state_dict().items():  # weights and BatchNorm statistics
            assert torch.allclose(value.double(), state[key].double(), rtol=1e-4, atol=1e-6), (name, key)
    # the runs are different runs: different seeds, different trajectories
    assert not torch.equal(torch.stack(single[0].losses), torch.stack(single[1].losses))


@pytest.mark.parametrize("name", ["clipclap", "cjme", "avgzslnet", "avca"])
def test_stacked_runs_on_word2vec_text_match_single_runs(name, tiny_demo):
    """The original-form path (one 300-d word2vec part, no W_enc) stacks as exactly as CLIP/CLAP text."""
    w2v = torch.randn(tiny_demo.num_classes, 300, generator=torch.Generator().manual_seed(0))
    dataset = replace(tiny_demo, text=TextEmbeddings(w2v=w2v))
    spec = get_method(name)
    hparams = {**small_hparams(name, epochs=1, batches_per_epoch=20, batch_size=8), "text": "w2v"}
    alone = RunTrainer(spec, dataset, hparams, [LOSS_SEEDS[1]], "train")
    alone.train_epoch(record_losses=True)
    stacked = StackedTrainer(spec, dataset, hparams, LOSS_SEEDS, "train")
    stacked.train_epoch(record_losses=True)
    expected = torch.stack(alone.losses)
    together = torch.stack([losses[1] for losses in stacked.losses])
    assert torch.allclose(together, expected, rtol=LOSS_TOLERANCE, atol=0), name


@pytest.mark.parametrize("name", ["clipclap", "devise"])
def test_stacked_protocol_selects_the_same_epochs_and_betas(name, tiny_demo):
    spec = get_method(name)
    hparams = small_hparams(name, epochs=3, batches_per_epoch=10, batch_size=16)
    alone = [run_single(spec, tiny_demo, hparams, seed, trainer=RunTrainer) for seed in SEEDS]
    together = dict(run_protocol(spec, tiny_demo, hparams, SEEDS, trainer=StackedTrainer))
    assert sorted(together) == [0, 1, 2]
    for run, result in enumerate(alone):
        other = together[run]
        assert other.seed == SEEDS[run]
        assert other.stage1.best_epochs == result.stage1.best_epochs
        assert other.stage1.val_betas == result.stage1.val_betas
        assert other.stage1.val_hm_per_epoch == pytest.approx(result.stage1.val_hm_per_epoch, abs=1e-9)
        assert other.test == pytest.approx(result.test, abs=1e-9)


def test_stage2_retires_runs_with_fewer_best_epochs(tiny_demo):
    """Runs whose stage 1 peaked earlier finish stage 2 first, each with the numbers of a single run."""
    spec = get_method("devise")
    hparams = small_hparams("devise", epochs=3, batches_per_epoch=5, batch_size=16)
    stage1 = [run_single(spec, tiny_demo, hparams, seed, trainer=RunTrainer).stage1 for seed in SEEDS]
    for result, best in zip(stage1, (3, 1, 2)):
        result.best_epochs = best
    finished = []
    for run, result in run_protocol(spec, tiny_demo, hparams, SEEDS, stage1=stage1, trainer=StackedTrainer):
        finished.append(run)
        alone = run_single(spec, tiny_demo, hparams, SEEDS[run], stage1=stage1[run], trainer=RunTrainer)
        assert result.test == pytest.approx(alone.test, abs=1e-9), run
    assert finished == [1, 2, 0]


def torch_plateau(optimizer: torch.optim.Optimizer, plan: Schedule) -> torch.optim.lr_scheduler.ReduceLROnPlateau:
    """The schedule `Plateau` reproduces, as torch implements it."""
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="max", factor=0.1, patience=plan.lr_patience, threshold=1e-4
    )


def test_plateau_is_torchs_reduce_lr_on_plateau():
    generator = torch.Generator().manual_seed(0)
    for patience in (0, 1, 3):
        ours = Plateau(1e-3, patience)
        theirs = torch_plateau(
            torch.optim.SGD([torch.zeros(1)], lr=1e-3), Schedule(1, 1e-3, 1, 1, lr_patience=patience)
        )
        # stalls, ties, values within the relative threshold, zeros, and enough epochs for many cuts
        hms = [0.0, 0.0, 0.3, 0.3, 0.30001, 0.29, 0.5] + torch.rand(60, generator=generator).tolist()
        for hm in hms:
            ours.step(hm)
            theirs.step(hm)
            assert ours.lr == theirs.optimizer.param_groups[0]["lr"], (patience, hm)
        assert ours.lr < 1e-5  # it did cut the rate, down to where a cut is skipped


def test_one_run_adam_is_torchs_fused_adam():
    torch.manual_seed(0)
    plan = Schedule(epochs=1, lr=1e-2, batch_size=1, batches_per_epoch=1, weight_decay=1e-3, lr_patience=0)
    ours = [
        torch.randn(5, 7, requires_grad=True),
        torch.randn(7, requires_grad=True),
        torch.randn(3, requires_grad=True),
    ]
    theirs = [p.detach().clone().requires_grad_() for p in ours]
    adam, reference = RunAdam(ours, plan), torch.optim.Adam(theirs, lr=1e-2, weight_decay=1e-3, fused=True)
    schedule = torch_plateau(reference, plan)
    for epoch, hm in enumerate([0.5, 0.4, 0.6, 0.3]):
        for _ in range(3):
            grads = [torch.randn_like(p) for p in ours[:2]]  # the last parameter gets no gradient
            adam.zero_grad()
            reference.zero_grad(set_to_none=True)
            for p, q, g in zip(ours, theirs, grads):
                p.grad, q.grad = g.clone(), g.clone()
            adam.step()
            reference.step()
        adam.end_epoch([hm])
        schedule.step(hm)
        assert adam.lr(0) == reference.param_groups[0]["lr"], epoch
    assert adam.lr(0) < 1e-2
    for p, q in zip(ours, theirs):
        assert torch.equal(p.detach(), q.detach())


@pytest.mark.parametrize("lr_on_device", [False, True])  # True: the learning rate as the CUDA path passes it
def test_stacked_adam_is_fused_adam_per_run(lr_on_device):
    """Each run's slice gets `torch.optim.Adam(fused=True)`'s update and its own plateau schedule."""
    torch.manual_seed(0)
    shapes = [(5, 7), (7,), (3, 2, 4)]
    plan = Schedule(epochs=1, lr=1e-2, batch_size=1, batches_per_epoch=1, weight_decay=1e-3, lr_patience=1)
    stacked = [torch.randn(2, *shape, requires_grad=True) for shape in shapes]
    single = [[p[run].detach().clone().requires_grad_() for p in stacked] for run in range(2)]
    optimizers = [torch.optim.Adam(params, lr=1e-2, weight_decay=1e-3, fused=True) for params in single]
    schedulers = [torch_plateau(optimizer, plan) for optimizer in optimizers]
    adam = RunAdam(stacked, plan, 2, stacked=True, lr_on_device=lr_on_device)
    hms = [[0.5, 0.5], [0.6, 0.4], [0.7, 0.3], [0.8, None], [0.9, 0.2]]  # run 1 stalls, then finishes
    for epoch_hms in hms:
        for _ in range(3):
            grads = [torch.randn(2, *shape) for shape in shapes]
            adam.zero_grad()
            for p, g in zip(stacked, grads):
                p.grad = g.clone()
            adam.step()
            for run, optimizer in enumerate(optimizers):
                for p, g in zip(single[run], grads):
                    p.grad = g[run].clone()
                optimizer.step()
        adam.end_epoch(epoch_hms)
        for scheduler, hm in zip(schedulers, epoch_hms):
            if hm is not None:
                scheduler.step(hm)
    assert adam.lr(0) == 1e-2 and adam.lr(1) < 1e-2  # run 1's rate dropped on its own plateau
    for run in range(2):
        assert adam.lr(run) == optimizers[run].param_groups[0]["lr"]
        for p, q in zip(stacked, single[run]):
            if lr_on_device:  # a float32 rate, not Python's double: equal up to the rate's rounding
                assert torch.allclose(p[run].detach(), q.detach(), rtol=1e-5, atol=1e-7)
            else:
                assert torch.equal(p[run].detach(), q.detach())
