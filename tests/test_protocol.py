import pytest
import torch

from avgzsl_bench.api import GZSLMethod, MethodSpec, get_method
from avgzsl_bench.protocol.stages import run_single
from avgzsl_bench.training.trainer import RunTrainer

QUICK = {"epochs": 3, "batches_per_epoch": 15, "batch_size": 32}


def test_protocol_end_to_end_and_stage_bookkeeping(tiny_demo):
    spec = get_method("clipclap")
    stages = []
    result = run_single(
        spec,
        tiny_demo,
        spec.hparams("demo", QUICK),
        seed=0,
        on_epoch=lambda stage, epoch, total, hm: stages.append(stage),
        trainer=RunTrainer,
    )
    stage1 = result.stage1
    assert len(stage1.val_hm_per_epoch) == 3
    curve = stage1.val_hm_per_epoch
    assert stage1.best_epochs == curve.index(max(curve)) + 1  # earliest maximum
    assert stages.count("stage 1") == 3 and stages.count("stage 2") == stage1.best_epochs
    assert result.test["beta"] == pytest.approx(stage1.val["beta"])
    for metric in ("seen", "unseen", "hm", "zsl"):
        assert 0 <= result.test[metric] <= 100
    assert result.test["hm"] > 20  # the demo is learnable: far above chance (1/48 classes)
    assert len(result.test_per_class) == tiny_demo.splits["test"].classes.numel()


def test_same_seed_same_numbers_different_seed_different_numbers(tiny_demo):
    spec = get_method("clipclap")
    hparams = spec.hparams("demo", {**QUICK, "epochs": 2})
    first = run_single(spec, tiny_demo, hparams, seed=3, trainer=RunTrainer)
    again = run_single(spec, tiny_demo, hparams, seed=3, trainer=RunTrainer)
    other = run_single(spec, tiny_demo, hparams, seed=4, trainer=RunTrainer)
    assert first.test == again.test and first.stage1.val_hm_per_epoch == again.stage1.val_hm_per_epoch
    assert first.stage1.val_hm_per_epoch != other.stage1.val_hm_per_epoch


class _TwoViewCosine(GZSLMethod):
    """Training-free: a video view and an audio view with deliberately different calibrations."""

    training_free = True

    def distances(self, video, audio, class_text):
        video_view = 1 - torch.nn.functional.normalize(video, dim=1) @ class_text.clip.T
        audio_view = 1 - torch.nn.functional.normalize(audio, dim=1) @ class_text.clap.T
        return {"video": video_view, "audio": audio_view + 0.3}

    def loss(self, batch):  # pragma: no cover - never trained
        raise AssertionError("a training-free model must not be trained")


def test_training_free_model_and_mean_of_view_betas(tiny_demo):
    spec = MethodSpec(
        "probe", _TwoViewCosine, {"default": {"epochs": 5, "lr": 1e-3, "batch_size": 8, "batches_per_epoch": 2}}
    )
    result = run_single(spec, tiny_demo, spec.hparams("demo"), seed=0, trainer=RunTrainer)
    assert result.stage1.best_epochs == 0 and result.stage1.val_hm_per_epoch == []
    betas = result.stage1.val_betas
    assert set(betas) == {"video", "audio"}
    assert result.test["beta"] == pytest.approx((betas["video"] + betas["audio"]) / 2)
    assert result.stage1.val["beta"] == pytest.approx(betas["video"])  # first view drives selection
