"""The AVCA-GZSL feature sets as datasets: h5 bundles in the release layout, errors, cache, layout check."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from avgzsl_bench.cli import main
from avgzsl_bench.datasets import DataSource, check_layout, get_dataset, list_feature_sets
from avgzsl_bench.datasets.types import DEFAULT_FEATURES
from avgzsl_bench.errors import BenchError
from avgzsl_bench.jobs.job import make_jobs

from avca_bundle_factory import reference_class_split, write_avca_bundle, write_h5
from bundle_factory import decode_class

SMALL = {"video_dim": 8, "audio_dim": 6}  # release widths only matter for the dims note


def load(info, tmp_path: Path, **options):
    source = DataSource(
        info.dataset, str(info.root), features=info.features, cache_dir=str(tmp_path / "cache"), **options
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # widths differ from the release's on purpose
        return source.load()


def raises(info, tmp_path: Path, *fragments: str) -> None:
    with pytest.raises(BenchError) as error:
        load(info, tmp_path)
    for fragment in fragments:
        assert fragment in str(error.value), str(error.value)


def test_registry_has_both_feature_sets_for_every_dataset() -> None:
    assert list_feature_sets()[:3] == [DEFAULT_FEATURES, "selavi", "c3d-vggish"]
    for name in ("ucf", "activitynet", "vggsound"):
        selavi, c3d = get_dataset(name, "selavi"), get_dataset(name, "c3d-vggish")
        assert (selavi.class_split, selavi.feature_dir, selavi.dims.video, selavi.dims.audio) == (
            "main_split",
            "main_features",
            512,
            512,
        )
        assert (c3d.class_split, c3d.feature_dir, c3d.dims.video, c3d.dims.audio) == (
            "cls_split",
            "cls_features",
            4096,
            128,
        )
        for spec in (selavi, c3d):
            assert spec.reader == "h5-bundle" and spec.dims.text_parts == (("w2v", 300),)
        assert get_dataset(name).features == DEFAULT_FEATURES  # the default stays CLIP/CLAP
    assert get_dataset("activitynet", "selavi").text_files == {"w2v": "word_embeddings_activity_normed.npy"}


@pytest.mark.parametrize("features", ["selavi", "c3d-vggish"])
def test_h5_bundle_loads_with_samples_aligned(tmp_path: Path, features: str) -> None:
    info = write_avca_bundle(tmp_path / "UCF", "ucf", features, classes="synthetic", code=True, **SMALL)
    dataset = load(info, tmp_path)
    assert dataset.dims.video == 8 and dataset.dims.audio == 6 and dataset.text.names == ("w2v",)
    for split in dataset.splits.values():
        assert torch.equal(split.video[:, :3], split.audio[:, :3])  # audio and video of one video together
        decoded = [decode_class(row) for row in split.video]
        assert decoded == split.labels.tolist()
    for class_id in range(dataset.num_classes):  # text attached by name, through the w2v name CSV
        assert decode_class(dataset.text.part("w2v")[class_id]) == class_id
    # 2 test-unseen classes, seen test classes = stage-1 train + val-unseen classes.
    test = dataset.splits["test"]
    assert len(test.unseen) == 2 and len(test.seen) == 6
    assert len(dataset.splits["train_val"]) == 3 * (
        4 + 4 + 2
    )  # 3 videos: train and val-seen of 4 classes, val-unseen of 2


def test_case_insensitive_matching_and_name_table(tmp_path: Path) -> None:
    # The synthetic UCF pool writes HandStandPushups in the split files and as the file stem,
    # HandstandPushups in all_class.txt, as the real release does.
    info = write_avca_bundle(tmp_path / "UCF", "ucf", "selavi", classes="synthetic", code=True, **SMALL)
    dataset = load(info, tmp_path)
    assert "HandstandPushups" in dataset.class_names
    class_id = dataset.class_names.index("HandstandPushups")
    assert class_id in dataset.splits["train"].labels.tolist()
    # VGGSound names are compared exactly, as in the reference.
    assert not get_dataset("vggsound", "selavi").lower_case and get_dataset("ucf", "c3d-vggish").lower_case


def test_legacy_text_order_reproduces_the_positional_rule(tmp_path: Path) -> None:
    # VGGSound's word2vec names sort differently from its class names ("auto racing" vs "race car, ...").
    info = write_avca_bundle(tmp_path / "VGGSound", "vggsound", "selavi", classes="synthetic", code=True, **SMALL)
    by_name = load(info, tmp_path)
    legacy = load(info, tmp_path, legacy_text_order=True)
    keys = sorted(info.prompt_of.values())
    for class_id in range(legacy.num_classes):  # class id i gets the i-th sorted key's vector
        owner = next(owner for owner, key in info.prompt_of.items() if key == keys[class_id])
        assert decode_class(legacy.text.part("w2v")[class_id]) == owner
    assert not torch.equal(legacy.text.part("w2v"), by_name.text.part("w2v"))


@pytest.mark.skipif(reference_class_split("ucf") is None, reason="reference splits absent")
@pytest.mark.parametrize("dataset", ["ucf", "activitynet", "vggsound"])
@pytest.mark.parametrize("features", ["selavi", "c3d-vggish"])
def test_real_splits_resolve(tmp_path: Path, dataset: str, features: str) -> None:
    info = write_avca_bundle(tmp_path / dataset, dataset, features, classes="reference", samples_per_class=1, **SMALL)
    loaded = load(info, tmp_path)
    expected = {"ucf": 101, "activitynet": 200, "vggsound": 309}[dataset]
    assert loaded.num_classes == expected
    assert len(loaded.splits["test"].unseen) == len(info.stage_classes["stage_2_test_unseen"])
    if dataset == "ucf":  # the split files spell HandStandPushups; all_class.txt HandstandPushups
        assert "HandStandPushups" in info.stage_classes["stage_1_train"]
        assert loaded.class_names.index("HandstandPushups") in loaded.splits["train"].labels.tolist()
        assert any("79 of 101" in note for note in loaded.notes)  # the reference's positional mix-up


def test_cache_is_used_and_invalidated(tmp_path: Path) -> None:
    info = write_avca_bundle(tmp_path / "UCF", "ucf", "selavi", classes="synthetic", code=True, **SMALL)
    first = load(info, tmp_path)
    assert len(list((tmp_path / "cache").glob("ucf-*.pt"))) == 1
    stem = info.stage_classes["stage_1_train"][0]
    path = info.feature_path("video", "stage_1_train", stem)
    with h5py.File(path, "r") as handle:
        data, names = handle["data"][()], [n.decode() for n in handle["video_urls"][()]]
    data[:, 3] = 7.0
    write_h5(path, data, names)
    second = load(info, tmp_path)
    assert not torch.equal(first.splits["train"].video, second.splits["train"].video)
    assert (second.splits["train"].video[:, 3] == 7.0).any()


def test_bad_h5_files_are_refused_with_the_file_named(tmp_path: Path) -> None:
    info = write_avca_bundle(tmp_path / "UCF", "ucf", "c3d-vggish", classes="synthetic", code=True, **SMALL)
    stem = info.stage_classes["stage_1_train"][0]
    video, audio = info.feature_path("video", "stage_1_train", stem), info.feature_path("audio", "stage_1_train", stem)
    original = video.read_bytes()

    video.write_bytes(b"not an h5 file")
    raises(info, tmp_path, str(video), "truncated or corrupt")

    with h5py.File(video, "w") as handle:
        handle.create_dataset("data", data=np.zeros((3, 8), np.float32))
    raises(info, tmp_path, str(video), "lacks dataset(s) ['video_urls']")

    write_h5(video, np.full((3, 8), np.nan, np.float32), [f"{stem}_0_{j:03d}" for j in range(3)])
    raises(info, tmp_path, str(video), "NaN/inf")

    write_h5(video, np.zeros((3, 8), np.float32), ["a", "b", "c"])
    raises(info, tmp_path, str(audio), "'video_urls'")

    video.write_bytes(original)
    write_h5(audio, np.zeros((3, 9), np.float32), [f"{stem}_0_{j:03d}" for j in range(3)])
    raises(info, tmp_path, str(audio), "has 9-d", "same extractor")


def test_missing_pieces_are_named(tmp_path: Path) -> None:
    info = write_avca_bundle(tmp_path / "UCF", "ucf", "selavi", classes="synthetic", **SMALL)
    spec = get_dataset("ucf", "selavi")
    assert check_layout(info.root, spec).suffix == ".h5"
    with pytest.raises(BenchError, match="features folder .*other_features"):
        check_layout(info.root, dataclasses.replace(spec, feature_dir="other_features"))
    info.text_path.unlink()
    with pytest.raises(BenchError, match="word_embeddings_ucf_normed.npy"):
        check_layout(info.root, spec)
    raises(info, tmp_path, "word_embeddings_ucf_normed.npy", "missing")
    write_avca_bundle(tmp_path / "UCF", "ucf", "selavi", classes="synthetic", **SMALL)
    stem = info.stage_classes["stage_2_test_unseen"][0]
    for modality in ("audio", "video"):
        info.feature_path(modality, "stage_2_test_unseen", stem).unlink()
    raises(info, tmp_path, f"class '{stem}'", "stage_2_test_unseen.txt", ".h5")
    for path in (info.feature_root / "video" / "stage_2_test_unseen").iterdir():
        path.unlink()
    with pytest.raises(BenchError, match="holds no <ClassName>.h5 file"):
        check_layout(info.root, spec)


def test_features_option_and_identity(tmp_path: Path) -> None:
    info = write_avca_bundle(tmp_path / "UCF", "ucf", "selavi", classes="synthetic", **SMALL)
    clip_clap = DataSource("ucf", str(info.root))
    selavi = DataSource("ucf", str(info.root), features="selavi")
    assert "features" not in clip_clap.identity() and selavi.identity()["features"] == "selavi"
    (clip_job,), (selavi_job,) = make_jobs(["avca"], clip_clap, [1]), make_jobs(["avca"], selavi, [1])
    assert clip_job.config_hash != selavi_job.config_hash and selavi_job.hparams()["text"] == "w2v"
    with pytest.raises(BenchError, match="no feature set 'selavi'"):
        DataSource("demo", features="selavi")
    store = tmp_path / "store.sqlite"
    args = ["--methods", "avca", "--dataset", "ucf", "--features", "selavi", "--root", str(info.root), "--quiet"]
    args += ["--epochs", "1", "--set", "batches_per_epoch=2", "--set", "batch_size=8", "--store", str(store)]
    args += ["--cache-dir", str(tmp_path / "cache"), "--device", "cpu"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert main(args) == 0
