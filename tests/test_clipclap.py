import math

import pytest
import torch

from avgzsl_bench.api import SampleBatch, TrainBatch, get_method
from avgzsl_bench.datasets.types import FeatureDims
from avgzsl_bench.nn.blocks import select_text
from avgzsl_bench.protocol.stages import run_single
from avgzsl_bench.training.trainer import RunTrainer

QUICK = {"epochs": 1, "batches_per_epoch": 15, "batch_size": 32}


def test_clipclap_parameter_counts():
    spec = get_method("clipclap")

    def count(**overrides):
        model = spec.build(FeatureDims(), spec.hparams("ucf", overrides))
        return sum(p.numel() for p in model.parameters() if p.requires_grad)

    assert count() == 2_237_824
    assert count(modality="audio") == 1_713_536
    assert count(modality="video") == 1_189_248
    assert count(text="clip") == 1_713_536
    assert count(text="clap") == 1_975_680


def test_clipclap_paper_defaults():
    spec = get_method("clipclap")
    ucf, vgg = spec.hparams("ucf"), spec.hparams("vggsound")
    assert (ucf["epochs"], ucf["lr"], ucf["batch_size"], ucf["batches_per_epoch"]) == (20, 7e-5, 64, 300)
    assert (vgg["epochs"], vgg["lr"], vgg["weight_decay"]) == (15, 1e-4, 1e-5)


@pytest.mark.parametrize(
    "overrides",
    [
        {"losses": "reg"},
        {"losses": "reg+ce"},
        {"modality": "audio"},
        {"modality": "video"},
        {"text": "clip"},
        {"text": "clap"},
    ],
)
def test_clipclap_ablations_run(tiny_demo, overrides):
    spec = get_method("clipclap")
    result = run_single(spec, tiny_demo, spec.hparams("demo", {**QUICK, **overrides}), seed=0, trainer=RunTrainer)
    assert all(math.isfinite(result.test[m]) for m in ("seen", "unseen", "hm", "zsl"))


def test_gathered_text_encoding_equals_per_sample_encoding(tiny_demo):
    spec = get_method("clipclap")
    model = spec.build(tiny_demo.dims, spec.hparams("demo")).eval()  # eval: no dropout noise
    train = tiny_demo.splits["train"]
    class_ids = train.seen
    class_text = type(tiny_demo.text)(tiny_demo.text.clip[class_ids], tiny_demo.text.clap[class_ids])
    # 32 samples: a product over fewer than ~16 rows may take a small-matrix kernel whose rows round
    # differently from a larger product's (see nn_blocks.encode_sample_text)
    targets = torch.randint(0, len(class_ids), (32,), generator=torch.Generator().manual_seed(0))
    sample_text = type(tiny_demo.text)(class_text.clip[targets], class_text.clap[targets])
    batch = TrainBatch(
        SampleBatch(train.video[:32], train.audio[:32], class_ids[targets], targets, sample_text), class_ids, class_text
    )
    gathered = model._encode_sample_text(batch)
    direct = model.W_enc(select_text(sample_text, model.text))
    assert torch.equal(gathered, direct)
