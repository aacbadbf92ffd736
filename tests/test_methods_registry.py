"""Registry-wide smoke test: every registered method trains one short epoch through the protocol,
alone and (if it can be stacked) with its seeds stacked into one model.

Adding a method plugin adds it here automatically (parametrised over `list_methods()`).
"""

from __future__ import annotations

import math

import pytest
import torch

from avgzsl_bench.api import TrainBatch, get_method, list_methods
from avgzsl_bench.protocol.stages import run_protocol, run_single
from avgzsl_bench.training.stackable import stack_reason
from avgzsl_bench.training.stacked import StackedTrainer
from avgzsl_bench.training.trainer import RunTrainer

SHORT = {"epochs": 1, "batches_per_epoch": 3, "batch_size": 32}
EXPECTED = {"cjme", "avgzslnet", "avca", "hyper-multiple", "ale", "devise", "sje", "zeroshot"}


@pytest.fixture(scope="module")
def dataset(tiny_demo):
    return tiny_demo


# These tests run on the averaged demo data; the methods that consume sequences run on temporal
# data in tests/test_temporal_protocol.py (padding, determinism) instead.
AVERAGED = [name for name in list_methods() if not get_method(name).cls.temporal]


def short_hparams(name: str) -> dict:
    spec = get_method(name)
    known = spec.hparams("demo")
    return spec.hparams("demo", {key: value for key, value in SHORT.items() if key in known})


def test_all_paper_baselines_are_registered():
    assert set(list_methods()) >= EXPECTED


@pytest.mark.parametrize("name", AVERAGED)
def test_method_runs_through_protocol_deterministically(name, dataset):
    spec = get_method(name)
    hparams = short_hparams(name)
    first = run_single(spec, dataset, hparams, seed=0, trainer=RunTrainer)
    second = run_single(spec, dataset, hparams, seed=0, trainer=RunTrainer)
    for key in ("seen", "unseen", "hm", "zsl"):
        value = first.test[key]
        assert math.isfinite(value) and 0.0 <= value <= 100.0, (key, value)
    assert first.test == second.test
    assert first.stage1.val == second.stage1.val
    assert first.stage1.val_hm_per_epoch == second.stage1.val_hm_per_epoch


@pytest.mark.parametrize("name", AVERAGED)
def test_method_stacked_runs_match_single_runs(name, dataset, one_thread):
    """Conformance of the stacked path: the same selected epochs, betas and test numbers per seed
    (a method that cannot be stacked must say why)."""
    spec = get_method(name)
    reason = stack_reason(spec)
    if reason is not None:
        assert spec.training_free or spec.cls.stack_note, f"{name} is not stackable and does not say why"
        return
    hparams, seeds = short_hparams(name), [0, 1]
    alone = [run_single(spec, dataset, hparams, seed, trainer=RunTrainer) for seed in seeds]
    together = dict(run_protocol(spec, dataset, hparams, seeds, trainer=StackedTrainer))
    for index, result in enumerate(alone):
        stacked = together[index]
        assert stacked.stage1.best_epochs == result.stage1.best_epochs
        assert stacked.stage1.val_betas == result.stage1.val_betas
        assert stacked.test == result.test
        assert stacked.test_per_class == result.test_per_class


@pytest.mark.parametrize("name", AVERAGED)
def test_method_loss_and_gradients_are_finite(name, dataset, make_batch):
    spec = get_method(name)
    torch.manual_seed(0)
    model = spec.build(dataset.dims, short_hparams(name))
    parameters = [p for p in model.parameters() if p.requires_grad]
    if not parameters:  # e.g. zeroshot: evaluated without training
        return
    model.train()
    batch = make_batch()
    assert (batch.negative.labels != batch.positive.labels).all()
    if not getattr(model, "needs_negatives", False):
        batch = TrainBatch(batch.positive, batch.class_ids, batch.class_text)
    terms = model.loss(batch)
    assert terms and all(torch.isfinite(t) and t.ndim == 0 for t in terms.values()), terms
    sum(terms.values()).backward()
    grads = [p.grad for p in parameters if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0
    model.eval()
    with torch.no_grad():
        split = dataset.splits["val"]
        text = dataset.text.rows(split.classes)
        views = model.distances(split.video, split.audio, text)
    assert views
    for view, distances in views.items():
        assert distances.shape == (len(split), len(split.classes)), view
        assert torch.isfinite(distances).all(), view


@pytest.fixture
def two_threads():
    """Parallel CPU kernels are where run-to-run differences come from (e.g. scatter-add races)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


def one_step_gradients(name: str, dataset, batch: TrainBatch) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = get_method(name).build(dataset.dims, short_hparams(name))
    model.train()
    sum(model.loss(batch).values()).backward()
    return {key: p.grad for key, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("name", AVERAGED)
def test_gradients_are_bitwise_reproducible_on_two_threads(name, dataset, make_batch, two_threads):
    if not any(p.requires_grad for p in get_method(name).build(dataset.dims, short_hparams(name)).parameters()):
        return
    batch = make_batch(batch_size=64)
    reference = one_step_gradients(name, dataset, batch)
    for _ in range(4):
        again = one_step_gradients(name, dataset, batch)
        assert again.keys() == reference.keys()
        for key, gradient in again.items():
            assert torch.equal(gradient, reference[key]), f"{name}: gradient of {key} differs between runs"
