"""TCAF and its two baselines end to end through `bench.py` on a bundle in the TCAF layout: they
train on sequences, their saved models re-evaluate to the same numbers, and a TCAF run written
in the reference's checkpoint format (its key names) evaluates to the numbers of the run."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from tcaf_bundle_factory import write_tcaf_bundle

from avgzsl_bench.cli import main
from avgzsl_bench.store.sqlite import ResultStore

FEATURES = "c3d-vggish-temporal"
SMALL = ["--set", "batches_per_epoch=3", "--set", "batch_size=16", "--set", "transformer_depth=1"]
REFERENCE_NETS = ("A_enc.", "V_enc.", "W_proj.", "D_w.", "O_proj.", "D_o.")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tcaf") / "UCF"
    write_tcaf_bundle(root, "ucf", FEATURES, classes="synthetic", samples_per_class=4, max_steps=10)
    return root


def data_args(root: Path, tmp_path: Path) -> list[str]:
    return ["--dataset", "ucf", "--features", FEATURES, "--root", str(root), "--cache-dir", str(tmp_path / "cache")]


def as_reference(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our TCAF state dict with the reference's key names (the inverse of the documented mapping)."""
    renamed = {}
    for key, value in state.items():
        if key.startswith(REFERENCE_NETS):
            net, rest = key.split(".", 1)
            key = f"{net}.fc.{rest}"
        renamed[key] = value
        if key.startswith("position_encoder_block."):
            renamed[key.replace("position_encoder_block.", "audiovisual_embeddings.", 1)] = value
    return renamed


def test_temporal_methods_train_and_saved_models_reevaluate(bundle, tmp_path, capsys):
    store, models = tmp_path / "r.sqlite", tmp_path / "models"
    run = ["--methods", "tcaf,attention-fusion,perceiver", *data_args(bundle, tmp_path), "--epochs", "1", *SMALL]
    common = ["--store", str(store), "--quiet", "--threads", "1", "--device", "cpu"]
    assert main([*run, *common, "--save-models", str(models)]) == 0
    trained = {record.method: record for record in ResultStore(store).runs()}
    assert set(trained) == {"tcaf", "attention-fusion", "perceiver"}
    assert all(math.isfinite(record.hm) for record in trained.values())
    saved = models / f"{trained['tcaf'].key}.pt"
    assert main(["evaluate", str(saved), "--store", str(store), "--threads", "1"]) == 0
    assert "identical" in capsys.readouterr().err


def test_reference_format_tcaf_checkpoints_evaluate_to_the_run(bundle, tmp_path):
    store, models = tmp_path / "r.sqlite", tmp_path / "models"
    run = ["--methods", "tcaf", *data_args(bundle, tmp_path), "--epochs", "2", *SMALL]
    common = ["--store", str(store), "--quiet", "--threads", "1", "--device", "cpu"]
    assert main([*run, *common, "--save-models", str(models)]) == 0
    (trained,) = ResultStore(store).runs()
    payload = torch.load(models / f"{trained.key}.pt", weights_only=True)
    stage1 = tmp_path / "s1" / "Multimodal_Sequence_Transformer_score.pt"
    stage2 = (
        tmp_path / "s2" / "checkpoints" / f"Multimodal_Sequence_Transformer_score_ckpt_{trained.best_epochs - 1}.pt"
    )
    for path, stage in ((stage1, "stage1"), (stage2, "stage2")):
        path.parent.mkdir(parents=True)
        model = {
            "epoch": trained.best_epochs,
            "model": as_reference(payload[stage]),
            "optimizer": {},
            "metric": "score",
        }
        torch.save(model, path)
    evaluate = ["evaluate", "--stage1", str(stage1), "--stage2", str(stage2), "--method", "tcaf"]
    evaluate += [*data_args(bundle, tmp_path), "--text-order", "name", "--set", "transformer_depth=1"]
    assert main([*evaluate, "--store", str(store), "--threads", "1", "--device", "cpu"]) == 0
    (evaluated,) = ResultStore(store).runs(kind="evaluation")
    assert evaluated.config["models"]["origin"] == "reference checkpoint"
    assert evaluated.metrics == trained.metrics and evaluated.beta == trained.beta
