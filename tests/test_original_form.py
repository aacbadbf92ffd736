"""The baselines in their original form on the AVCA-GZSL feature sets (word2vec text, no W_enc)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

from avgzsl_bench.api import get_method, list_methods
from avgzsl_bench.cli import main
from avgzsl_bench.cli.methods import parameter_count
from avgzsl_bench.datasets import DATASETS, DataSource, get_dataset
from avgzsl_bench.errors import BenchError
from avgzsl_bench.jobs.job import make_jobs
from avgzsl_bench.jobs.run import method_names
from avgzsl_bench.protocol.stages import run_single
from avgzsl_bench.training.trainer import RunTrainer

from avca_bundle_factory import write_avca_bundle

# Counted by instantiating the AVCA-GZSL reference classes (`CJME`, `AVGZSLNet`, `DeviseModel` of
# its src/model.py, `AVCA` of src/model_improvements.py; Hyper-AVZSL's `Hyper_AVCA` with
# 'Hyper-multiple' and one curvature) with the run scripts' input sizes and flags.
REFERENCE_COUNTS = {
    "selavi": {
        "cjme": 1_299_157,
        "avgzslnet": 1_319_872,
        "avca": 1_693_108,
        "hyper-multiple": 1_693_709,
        "ale": 307_200,
        "devise": 307_200,
        "sje": 307_200,
    },
    "c3d-vggish": {
        "cjme": 4_585_557,
        "avgzslnet": 4_596_672,
        "avca": 3_331_508,
        "hyper-multiple": 3_332_109,
        "ale": 1_267_200,
        "devise": 1_267_200,
        "sje": 1_267_200,
    },
}
# ClipClap on word2vec has no reference: O_enc (v‖a → 512), W_enc (300 → 512), its projectors and decoders.
CLIPCLAP_W2V = {"selavi": 1_342_848, "c3d-vggish": 2_981_248}
W2V_ONLY = ("zeroshot", "hsp-moe")  # compare features with CLIP/CLAP text: not for word2vec features


@pytest.mark.parametrize("dataset", ["ucf", "activitynet", "vggsound"])
@pytest.mark.parametrize("features", ["selavi", "c3d-vggish"])
def test_parameter_counts_match_the_reference_code(dataset: str, features: str) -> None:
    for method, count in {**REFERENCE_COUNTS[features], "clipclap": CLIPCLAP_W2V[features]}.items():
        assert parameter_count(method, dataset, features) == count, method
    for method in W2V_ONLY:
        assert parameter_count(method, dataset, features) is None


def test_no_text_encoder_on_word2vec() -> None:
    dims = get_dataset("ucf", "selavi").dims
    for name in ("cjme", "avgzslnet", "avca", "hyper-multiple", "devise"):
        spec = get_method(name)
        model = spec.build(dims, spec.hparams("ucf", features="selavi"))
        assert isinstance(model.W_enc, nn.Identity), name
        clip_clap = spec.build(get_dataset("ucf").dims, spec.hparams("ucf"))
        assert not isinstance(clip_clap.W_enc, nn.Identity), name


def test_recipes_follow_the_reference_scripts() -> None:
    avca = get_method("avca")
    # Main split (SeLaVi): UCF BN momentum 0.1; VGGSound batch 64, decoder dropout 0.1, momentum 0.1.
    assert avca.defaults("ucf", "selavi")["bn_momentum"] == 0.1
    assert avca.defaults("ucf", "c3d-vggish")["bn_momentum"] == 0.99
    vgg = avca.defaults("vggsound", "selavi")
    assert (vgg["batch_size"], vgg["decoder_dropout"], vgg["bn_momentum"], vgg["encoder_dropout"]) == (
        64,
        0.1,
        0.1,
        0.0,
    )
    assert avca.defaults("vggsound", "c3d-vggish")["batch_size"] == 256
    assert avca.defaults("activitynet", "selavi")["projector_dropout"] == 0.2
    assert get_method("hyper-multiple").defaults("ucf", "selavi")["bn_momentum"] == 0.1
    devise = get_method("devise")  # --norm_inputs only in the cls (C3D/VGGish) scripts
    assert not devise.defaults("ucf", "selavi")["normalize_inputs"]
    assert devise.defaults("ucf", "c3d-vggish")["normalize_inputs"]
    assert not devise.defaults("ucf", "selavi")["normalize_text"]
    assert get_method("cjme").defaults("vggsound", "selavi")["dropout"] == 0.0
    # The CLIP/CLAP defaults are what they were.
    assert avca.defaults("ucf") == avca.defaults("ucf", "clip-clap") and avca.defaults("ucf")["text"] == "both"


def test_every_method_resolves_on_every_registered_feature_set() -> None:
    for key in DATASETS.names():
        spec = DATASETS.get(key)
        source_parts = spec.dims.text_names
        for name in list_methods():
            method = get_method(name)
            problem = method.text_problem(method.defaults(spec.name, spec.features), source_parts)
            assert bool(problem) == (name in W2V_ONLY and "clip" not in source_parts), (key, name, problem)


def test_text_choice_is_checked_against_the_data(tmp_path: Path) -> None:
    selavi = DataSource("ucf", str(tmp_path), features="selavi")
    with pytest.raises(BenchError, match="needs the clip and clap class-text embeddings.*--set text=w2v"):
        make_jobs(["avca"], selavi, [1], {"text": "both"})
    with pytest.raises(BenchError, match="needs the w2v"):
        make_jobs(["avca"], DataSource("demo"), [1], {"text": "w2v"})
    with pytest.raises(BenchError, match="zeroshot"):
        make_jobs(["zeroshot"], selavi, [1])
    assert "zeroshot" not in method_names("all", selavi) and "hsp-moe" not in method_names("all", selavi)
    averaged = {name for name in list_methods() if not get_method(name).cls.temporal}  # sequences only
    assert set(method_names("all", DataSource("demo"))) == averaged


def test_methods_all_says_which_methods_it_leaves_out_and_runs_the_rest(tmp_path: Path, capsys) -> None:
    info = write_avca_bundle(tmp_path / "UCF", "ucf", "selavi", classes="synthetic", video_dim=8, audio_dim=6)
    args = ["--methods", "all", "--dataset", "ucf", "--features", "selavi", "--root", str(info.root), "--quiet"]
    args += ["--epochs", "1", "--set", "batches_per_epoch=1", "--set", "batch_size=8", "--no-store"]
    args += ["--cache-dir", str(tmp_path / "cache"), "--device", "cpu", "--threads", "1"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert main(args) == 0
    captured = capsys.readouterr()
    said = [line for line in captured.err.splitlines() if line.startswith("--methods all:")]
    temporal = {name for name in list_methods() if get_method(name).cls.temporal}
    assert sorted(line.split()[2] for line in said) == sorted({*W2V_ONLY, *temporal}), captured.err
    assert captured.err.splitlines()[: len(said)] == said  # before anything else is said
    for line in said:
        why = "consumes feature sequences" if line.split()[2] in temporal else "it needs the clip"
        assert why in line, line
    ran = {line.split("|")[1].strip() for line in captured.out.splitlines() if line.startswith("| ")}
    assert ran - {"method"} == set(list_methods()) - set(W2V_ONLY) - temporal


def test_methods_command_lists_sizes_for_a_feature_set(capsys) -> None:
    assert main(["methods", "--dataset", "ucf", "--features", "selavi"]) == 0
    out = capsys.readouterr().out
    lines = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| ")}
    assert "1,693,108" in lines["avca"] and "—" in lines["zeroshot"] and "video 512, audio 512" in out
    assert main(["methods", "--dataset", "vggsound", "--features", "c3d-vggish"]) == 0
    assert "3,331,508" in capsys.readouterr().out
    assert main(["methods", "--dataset", "demo", "--features", "selavi"]) == 2


@pytest.fixture(scope="module")
def tiny_selavi(tmp_path_factory):
    root = tmp_path_factory.mktemp("avca") / "UCF"
    info = write_avca_bundle(
        root, "ucf", "selavi", classes="synthetic", samples_per_class=4, video_dim=16, audio_dim=12
    )
    source = DataSource("ucf", str(info.root), features="selavi", cache_dir=str(root.parent / "cache"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return source, source.load()


@pytest.mark.parametrize("name", ["cjme", "avgzslnet", "avca", "hyper-multiple", "ale", "devise", "sje", "clipclap"])
def test_every_method_runs_the_protocol_on_word2vec(tiny_selavi, name: str) -> None:
    source, dataset = tiny_selavi
    spec = get_method(name)
    hparams = spec.hparams("ucf", {"epochs": 2, "batches_per_epoch": 3, "batch_size": 8}, "selavi", ("w2v",))
    result = run_single(spec, dataset, hparams, seed=0, trainer=RunTrainer)
    for metric in ("seen", "unseen", "hm", "zsl"):
        assert 0.0 <= result.test[metric] <= 100.0
    assert all(torch.isfinite(torch.tensor(list(result.stage1.val.values()))))


def test_clipclap_single_modality_uses_word2vec() -> None:
    spec = get_method("clipclap")
    dims = get_dataset("ucf", "selavi").dims
    model = spec.build(dims, spec.hparams("ucf", {"modality": "audio"}, "selavi", dims.text_names))
    assert model.text == "w2v" and model.W_enc[0].in_features == 300 and model.O_enc[0].in_features == 512
