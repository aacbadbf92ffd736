"""The protocol on temporal feature sets: pooled methods, temporal methods, and padding that never
leaks into results.

Temporal methods are covered generically: every registered method with `temporal = True` (and a
small test method that pools by masked attention over time) is run with the padding filled with
0, NaN and 1e9, and must give identical numbers.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from tcaf_bundle_factory import write_tcaf_bundle
from torch import nn

import avgzsl_bench.datasets.sequences as sequences_module
from avgzsl_bench.api import METHODS, GZSLMethod, Padded, TrainBatch, get_method, list_methods, method_spec
from avgzsl_bench.datasets import DataSource
from avgzsl_bench.datasets.pooling import pool_dataset
from avgzsl_bench.datasets.types import FeatureDims, GZSLDataset, TextEmbeddings
from avgzsl_bench.errors import BenchError
from avgzsl_bench.jobs.job import make_jobs
from avgzsl_bench.jobs.run import method_names, run_jobs
from avgzsl_bench.protocol.stages import run_protocol, run_single
from avgzsl_bench.training.stackable import stack_reason
from avgzsl_bench.training.stacked import StackedTrainer
from avgzsl_bench.training.trainer import RunTrainer

FEATURES = "c3d-vggish-temporal"
SHORT = {"epochs": 1, "batches_per_epoch": 3, "batch_size": 16}
TOY = "toy-temporal"


class ToyTemporal(GZSLMethod):
    """Per-step projections pooled by attention over the real steps, plus a time feature."""

    temporal = True

    def __init__(self, dims: FeatureDims, hparams: dict) -> None:
        super().__init__(dims, hparams)
        self.video, self.audio = nn.Linear(dims.video, 16), nn.Linear(dims.audio, 16)
        self.score = nn.Linear(16, 1)
        self.text = nn.Linear(dims.text_dim("w2v"), 16)

    def _pool(self, project: nn.Module, batch: Padded) -> torch.Tensor:
        steps = project(batch.filled())
        scores = self.score(steps).squeeze(-1) + 0.01 * batch.times()
        weights = torch.softmax(scores.masked_fill(~batch.mask, float("-inf")), dim=1)
        return (weights.unsqueeze(-1) * steps).sum(1)

    def embed(self, video: Padded, audio: Padded) -> torch.Tensor:
        return self._pool(self.video, video) + self._pool(self.audio, audio)

    def loss(self, batch: TrainBatch) -> dict[str, torch.Tensor]:
        logits = -torch.cdist(
            self.embed(batch.positive.video, batch.positive.audio), self.text(batch.class_text.part("w2v"))
        )
        return {"ce": nn.functional.cross_entropy(logits, batch.positive.targets)}

    def distances(self, video: Padded, audio: Padded, class_text: TextEmbeddings) -> dict[str, torch.Tensor]:
        return {"both": torch.cdist(self.embed(video, audio), self.text(class_text.part("w2v")))}


TOY_SPEC = method_spec(
    TOY, ToyTemporal, schedule={"default": {"epochs": 1, "lr": 1e-2, "batch_size": 16, "batches_per_epoch": 3}}
)


@pytest.fixture(scope="module")
def toy() -> Iterator[None]:
    with METHODS.temporary(TOY, TOY_SPEC):
        yield


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("tcaf")
    info = write_tcaf_bundle(
        root / "UCF", "ucf", FEATURES, classes="synthetic", samples_per_class=6, video_dim=12, audio_dim=6
    )
    return DataSource("ucf", str(info.root), features=FEATURES, cache_dir=str(root / "cache"))


@pytest.fixture(scope="module")
def temporal_data(bundle) -> GZSLDataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return bundle.load()


def hparams_for(name: str, **extra) -> dict:
    spec = get_method(name)
    known = spec.hparams("ucf", features=FEATURES)
    overrides = {key: value for key, value in {**SHORT, **extra}.items() if key in known}
    return spec.hparams("ucf", overrides, FEATURES)


def numbers(result) -> tuple:
    return result.test, result.stage1.val, result.stage1.val_hm_per_epoch


def temporal_methods() -> list[str]:
    return [name for name in list_methods() if get_method(name).cls.temporal] + [TOY]


@pytest.mark.parametrize("name", temporal_methods())
@pytest.mark.parametrize("batch_length", ["max", "fixed"])
def test_padding_never_leaks_into_a_temporal_method(name, batch_length, temporal_data, toy, monkeypatch) -> None:
    spec = get_method(name)
    hparams = hparams_for(name, batch_length=batch_length, train_steps=4, eval_steps=6)
    results = []
    for pad in (0.0, float("nan"), 1e9):
        monkeypatch.setattr(sequences_module, "PAD_VALUE", pad)
        results.append(numbers(run_single(spec, temporal_data, hparams, seed=3, trainer=RunTrainer)))
    assert all(math.isfinite(value) for value in results[0][0].values())
    assert results[1] == results[0] and results[2] == results[0]


@pytest.mark.parametrize("name", ["cjme", "avca"])
def test_padding_never_leaks_into_a_pooled_method(name, temporal_data, monkeypatch) -> None:
    pooled = pool_dataset(temporal_data)
    results = []
    for pad in (0.0, float("nan")):
        monkeypatch.setattr(sequences_module, "PAD_VALUE", pad)
        results.append(numbers(run_single(get_method(name), pooled, hparams_for(name), seed=1, trainer=RunTrainer)))
    assert results[0] == results[1]


def test_temporal_methods_are_not_stacked_and_refuse_averaged_data(toy, tmp_path: Path) -> None:
    assert "sequences" in (stack_reason(get_method(TOY)) or "")
    defaults = get_method(TOY).hparams("ucf", features=FEATURES)  # the sequence-batch keys, declared or not
    assert (defaults["batch_length"], defaults["train_steps"], defaults["eval_steps"]) == ("max", 60, 300)
    with pytest.raises(BenchError, match="toy-temporal.*batch_length must be one of max, fixed"):
        get_method(TOY).hparams("ucf", {"batch_length": "longest"}, FEATURES)
    with pytest.raises(BenchError, match="consumes feature sequences"):
        make_jobs([TOY], DataSource("demo"), [1])
    assert TOY not in method_names("all", DataSource("demo"))


def test_pooled_methods_stack_on_temporal_data(temporal_data, one_thread) -> None:
    """Pooled data is averaged data: a stack of seeds matches the runs trained one by one."""
    spec, pooled, seeds = get_method("cjme"), pool_dataset(temporal_data), [0, 1]
    assert stack_reason(spec) is None
    alone = [numbers(run_single(spec, pooled, hparams_for("cjme"), seed, trainer=RunTrainer)) for seed in seeds]
    together = dict(run_protocol(spec, pooled, hparams_for("cjme"), seeds, trainer=StackedTrainer))
    assert [numbers(together[index]) for index in range(len(seeds))] == alone


def pooled_names() -> list[str]:
    return [name for name in list_methods() if not get_method(name).cls.temporal]


@pytest.mark.parametrize("name", pooled_names())
def test_every_method_runs_on_temporal_features_through_pooling(name, bundle) -> None:
    """Through the job layer, as `bench.py run --features c3d-vggish-temporal` runs them."""
    spec = get_method(name)
    if spec.text_problem(spec.defaults("ucf", FEATURES), ("w2v",)):  # CLIP/CLAP text only: refused up front
        with pytest.raises(BenchError, match="class-text embeddings"):
            make_jobs([name], bundle, [0])
        return
    overrides = {key: value for key, value in SHORT.items() if key in spec.defaults("ucf", FEATURES)}
    jobs = make_jobs([name], bundle, [0], overrides)
    assert jobs[0].config()["pooling"] == "mean"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        report = run_jobs(jobs, store=None, device="cpu")
    assert not report.failures, report.summary()
    (record,) = report.records
    assert all(math.isfinite(value) for value in record.metrics.values())


@pytest.mark.parametrize("batch_length", ["max", "fixed"])
def test_evaluation_in_batches_matches_one_batch(batch_length, temporal_data, toy, monkeypatch) -> None:
    """Sequences are evaluated in batches of EVAL_BATCH samples: the batching (and so each batch's
    padded length) changes no distance, and rows stay in sample order."""
    import avgzsl_bench.protocol.stages as stages

    spec = get_method(TOY)
    torch.manual_seed(0)
    model = spec.build(temporal_data.dims, hparams_for(TOY, batch_length=batch_length, eval_steps=5)).eval()
    split = temporal_data.splits["test"]
    text = temporal_data.text.rows(split.classes)
    with torch.no_grad():
        monkeypatch.setattr(stages, "EVAL_BATCH", 7)
        small = stages.split_distances(model, split, text)["both"]
        monkeypatch.setattr(stages, "EVAL_BATCH", 10_000)
        whole = stages.split_distances(model, split, text)["both"]
    assert small.shape == (len(split), len(split.classes)) and torch.allclose(small, whole, atol=1e-5)


def test_the_data_is_loaded_once_per_process_and_pooled_once(bundle, toy) -> None:
    from avgzsl_bench.jobs.environment import load_data, method_data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        raw = load_data(bundle, "cpu")
    assert method_data(TOY, bundle, "cpu") is raw  # a temporal method: the sequences as loaded
    pooled = method_data("cjme", bundle, "cpu")
    assert pooled is method_data("avca", bundle, "cpu") and not pooled.temporal
    assert pooled.splits["test"].video.shape == (len(raw.splits["test"]), raw.dims.video)
