"""The temporal feature sets (TCAF layout): loading, storage, cache, crops, and degenerate input."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from tcaf_bundle_factory import TEMPORAL_SETS, write_class_pickle, write_tcaf_bundle

from avgzsl_bench.cli import main
from avgzsl_bench.datasets import DataSource, get_dataset
from avgzsl_bench.datasets.crop import SequenceCrop, crop_windows
from avgzsl_bench.datasets.sequences import Sequences
from avgzsl_bench.errors import BenchError

from bundle_factory import STAGES

SMALL = {"video_dim": 8, "audio_dim": 6}


def load(info, tmp_path: Path):
    source = DataSource(info.dataset, str(info.root), features=info.features, cache_dir=str(tmp_path / "cache"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # widths differ from the release's on purpose
        return source.load()


@pytest.fixture
def bundle(tmp_path: Path):
    return write_tcaf_bundle(tmp_path / "UCF", "ucf", classes="synthetic", code=True, **SMALL)


def test_registry_has_the_temporal_sets_beside_their_averaged_twins() -> None:
    for name in ("ucf", "activitynet", "vggsound"):
        for features, twin in (("c3d-vggish-temporal", "c3d-vggish"), ("selavi-temporal", "selavi")):
            spec, averaged = get_dataset(name, features), get_dataset(name, twin)
            assert spec.temporal and not averaged.temporal and spec.reader == "tcaf-bundle"
            assert (spec.class_split, spec.dims, spec.text_files) == (
                averaged.class_split,
                averaged.dims,
                averaged.text_files,
            )
            assert spec.feature_dir == TEMPORAL_SETS[features][1]
        assert get_dataset(name, "c3d-vggish-temporal").step_s == {"video": 0.64, "audio": 0.96}


@pytest.mark.parametrize("features", list(TEMPORAL_SETS))
def test_sequences_load_aligned_with_their_lengths(tmp_path: Path, features: str) -> None:
    info = write_tcaf_bundle(tmp_path / "UCF", "ucf", features, classes="synthetic", code=True, **SMALL)
    dataset = load(info, tmp_path)
    assert dataset.temporal and dataset.dims.video == 8 and dataset.dims.audio == 6
    values = dataset.splits["train"].video.values
    assert values.dtype == torch.float16
    for split in dataset.splits.values():
        assert split.video.values is values  # the splits share one step tensor, nothing copied
        for modality in ("video", "audio"):
            sequences = getattr(split, modality)
            assert isinstance(sequences, Sequences) and len(sequences) == len(split)
            assert sequences.step_s == TEMPORAL_SETS[features][4 if modality == "video" else 5]
            ends = sequences.starts + sequences.lengths
            for i in range(len(split)):  # codes: class id + 1, stage, video index, step index
                steps = sequences.values[int(sequences.starts[i]) : int(ends[i])].float()
                assert steps[:, 0].eq(split.labels[i] + 1).all()
                assert torch.equal(steps[:, 3], torch.arange(int(sequences.lengths[i])).float())
        expected = []
        for name in split.names:  # "<stem>_<stage index>_<video index>"
            stem, stage, video = name.rsplit("_", 2)
            expected.append(info.lengths[STAGES[int(stage)]][stem]["video"][int(video)])
        assert split.video.lengths.tolist() == expected
    train = dataset.splits["train"]
    if features == "c3d-vggish-temporal":  # audio steps are longer, so audio sequences are shorter
        assert (train.audio.lengths <= train.video.lengths).all() and (train.audio.lengths < train.video.lengths).any()


def test_cache_round_trip_gives_the_same_sequences(bundle, tmp_path: Path) -> None:
    first = load(bundle, tmp_path)
    assert list((tmp_path / "cache").glob("*.pt"))
    second = load(bundle, tmp_path)
    for name, split in first.splits.items():
        other = second.splits[name]
        for modality in ("video", "audio"):
            a, b = getattr(split, modality), getattr(other, modality)
            assert torch.equal(a.starts, b.starts) and torch.equal(a.lengths, b.lengths)
            assert torch.equal(a.values, b.values)
        assert split.names == other.names and torch.equal(split.labels, other.labels)


def test_pooled_mean_is_the_mean_of_each_sequence(bundle, tmp_path: Path) -> None:
    split = load(bundle, tmp_path).splits["test"]
    pooled = split.video.mean()
    for i in range(len(split)):
        start, length = int(split.video.starts[i]), int(split.video.lengths[i])
        assert torch.allclose(pooled[i], split.video.values[start : start + length].float().mean(0), atol=1e-5)


def test_crops_follow_the_reference_collation() -> None:
    values = torch.arange(200, dtype=torch.float16).unsqueeze(1)
    video = Sequences(values, torch.tensor([0, 100]), torch.tensor([100, 5]), 0.64)
    audio = Sequences(values, torch.tensor([0, 100]), torch.tensor([66, 3]), 0.96)
    index = torch.tensor([[0, 1]])
    # "max": whole sequences, padded to the batch's longest per modality
    windows, steps = crop_windows(video, audio, index, SequenceCrop("max"), training=True, uniform=torch.rand(1, 2))
    assert steps["video"].tolist() == [100] and steps["audio"].tolist() == [66]
    assert windows["video"][1].sum(-1).tolist() == [[100, 5]]
    # "fixed", evaluation: centred video crop of 30; audio round(30 * 0.64 * 0.96) = 18 steps, same start time
    crop = SequenceCrop("fixed", train_steps=10, eval_steps=30)
    windows, steps = crop_windows(video, audio, index, crop, training=False)
    positions, mask = windows["video"]
    assert steps["video"].tolist() == [30] and positions[0, 0, 0] == 35 and mask[0].sum(-1).tolist() == [30, 5]
    audio_positions, audio_mask = windows["audio"]
    assert steps["audio"].tolist() == [18] and audio_positions[0, 0, 0] == round(35 * 0.64 / 0.96)
    assert audio_mask[0].sum(-1).tolist() == [18, 3]
    # "fixed", training: random starts inside the sequence, never past its end
    uniform = torch.tensor([[0.999, 0.5]])
    windows, _ = crop_windows(video, audio, index, crop, training=True, uniform=uniform)
    assert windows["video"][0][0, 0, 0] == 89  # floor(0.999 * (100 - 10))
    padded = video.gather(*(w[0] for w in windows["video"]))
    assert padded.values.shape == (2, 10, 1) and padded.mask[1].sum() == 5


def write_pair(info, stem: str, video: list, audio: list, names_v: list, names_a: list) -> None:
    write_class_pickle(info.feature_path("video", "stage_1_train", stem), video, names_v)
    write_class_pickle(info.feature_path("audio", "stage_1_train", stem), audio, names_a)


def bad_input_cases(info) -> dict:
    stem = info.first_file()
    seq = lambda steps, dim: np.ones((steps, dim), np.float32)  # noqa: E731
    return {
        "empty sequence": (
            lambda: write_pair(info, stem, [seq(3, 8), seq(0, 8)], [seq(2, 6)] * 2, ["a", "b"], ["a", "b"]),
            "has length 0",
        ),
        "counts differ": (
            lambda: write_pair(info, stem, [seq(3, 8)] * 2, [seq(2, 6)], ["a", "b"], ["a"]),
            "holds 1 sequences",
        ),
        "names differ": (
            lambda: write_pair(info, stem, [seq(3, 8)] * 2, [seq(2, 6)] * 2, ["a", "b"], ["a", "c"]),
            "list different videos",
        ),
        "wrong dim": (
            lambda: write_pair(info, stem, [seq(3, 9)] * 2, [seq(2, 6)] * 2, ["a", "b"], ["a", "b"]),
            "has 9-d",
        ),
        "missing keys": (
            lambda: info.feature_path("video", "stage_1_train", stem).write_bytes(pickle.dumps({"feats": []})),
            "lacks key(s)",
        ),
    }


@pytest.mark.parametrize("case", ["empty sequence", "counts differ", "names differ", "wrong dim", "missing keys"])
def test_bad_input_is_one_error_naming_the_file_exit_2(bundle, tmp_path: Path, capsys, case: str) -> None:
    write, fragment = bad_input_cases(bundle)[case]
    write()
    with pytest.raises(BenchError) as error:
        load(bundle, tmp_path)
    stem = bundle.first_file()
    assert fragment in str(error.value) and f"{stem}.pkl" in str(error.value), str(error.value)
    args = ["--methods", "cjme", "--dataset", "ucf", "--features", bundle.features, "--root", str(bundle.root)]
    args += ["--cache-dir", str(tmp_path / "cache"), "--no-store", "--quiet", "--device", "cpu"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert main(args) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert fragment in err and f"{stem}.pkl" in err, err


def test_an_averaged_bundle_under_a_temporal_name_is_refused(bundle, tmp_path: Path) -> None:
    stem = bundle.first_file()
    path = bundle.feature_path("video", "stage_1_train", stem)
    path.write_bytes(pickle.dumps({"features": np.ones((2, 8), np.float32), "video_names": ["a", "b"], "fps": 25}))
    with pytest.raises(BenchError, match="one \\(steps, dim\\) array per video"):
        load(bundle, tmp_path)
