"""`extract --temporal`: per-second CLIP/CLAP sequences in the TCAF layout, on tiny mp4 files with
random-init backbones, read back by the temporal reader (feature set `clip-clap-temporal`)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from avgzsl_bench.datasets import get_dataset, load_bundle
from avgzsl_bench.datasets.sequences import Sequences
from feature_zoo import backbones as bb
from feature_zoo.bundle_writer import MANIFEST_NAME, feature_root, text_paths
from feature_zoo.cache import FeatureCache
from feature_zoo.decode import audio_windows, frame_indices, window_count
from feature_zoo.extract import Extractor
from feature_zoo.pipeline import extract_dataset
from feature_zoo.preprocess import CLEAN
from feature_zoo.synthetic import sine, write_class_split, write_video
from feature_zoo.temporal import FEATURE_DIR

FPS = 25
CLASSES = ["bird chirping", "cat meowing", "dog barking", "rain falling"]
# video: (frames at 25 fps, seconds of audio); durations stay clear of the x.5 s rounding points
# (AAC adds a few ms), so the expected step counts below are unambiguous.
VIDEOS = {
    "v_short": (10, 0.4),  # shorter than half a step: one step, the middle frame
    "v_one": (25, 0.9),  # one step: the averaged recipe's frame (n // 2 = 12) and padded clip
    "v_two": (62, 2.2),
    "v_three": (75, 3.0),
    "v_static": (75, 3.0),  # every frame the same colour
    "v_unseen": (50, 1.8),
}
STEPS = {"v_short": (1, 1), "v_one": (1, 1), "v_two": (2, 2), "v_three": (3, 3), "v_static": (3, 3), "v_unseen": (2, 2)}
SPLITS = {
    "stage_1_train": [("v_short", "dog barking"), ("v_one", "cat meowing")],
    "stage_1_val_seen": [("v_three", "dog barking"), ("v_two", "cat meowing")],
    "stage_1_val_unseen": [("v_static", "rain falling")],
    "stage_2_test_seen": [("v_three", "dog barking"), ("v_two", "cat meowing"), ("v_static", "rain falling")],
    "stage_2_test_unseen": [("v_unseen", "bird chirping")],
}
SPLITS["stage_2_train"] = SPLITS["stage_1_train"] + SPLITS["stage_1_val_seen"] + SPLITS["stage_1_val_unseen"]


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("temporal")
    videos = root / "videos"
    videos.mkdir()
    for i, (name, (frames, seconds)) in enumerate(VIDEOS.items()):
        colour = (200, 40, 90) if name == "v_static" else None
        audio = sine(seconds, freq=330.0 * (i + 1))
        write_video(videos / f"{name}.mp4", num_frames=frames, fps=FPS, audio=audio, colour=colour)
    splits = root / "class-split"
    write_class_split(splits, CLASSES, SPLITS)
    return {"videos": videos, "splits": splits, "root": root}


@pytest.fixture(scope="module")
def temporal_bundle(media, visual, audio):
    out = media["root"] / "VGGSound"
    result = extract_dataset(
        media["videos"],
        media["splits"],
        out,
        "vggsound",
        visual,
        audio,
        cache_dir=media["root"] / "cache",
        batch_size=2,
        workers=2,
        temporal=True,
    )
    return out, result


@pytest.fixture(scope="module")
def averaged(media, visual, audio):
    """The averaged (clean) extraction of the same videos: one vector per modality."""
    paths = {name: media["videos"] / f"{name}.mp4" for name in VIDEOS}
    extractor = Extractor(visual, audio, FeatureCache(media["root"] / "averaged_cache"), batch_size=4, policy=CLEAN)
    return extractor.run(paths).features


def _pickle(out: Path, modality: str, split: str, label: str) -> dict:
    return pickle.loads((feature_root(out, FEATURE_DIR) / modality / split / f"{label}.pkl").read_bytes())


def _sequences(out: Path) -> dict[str, dict[str, np.ndarray]]:
    """video name -> {modality: (steps, dim) array}, from the written pickles."""
    found: dict[str, dict[str, np.ndarray]] = {}
    for split, rows in SPLITS.items():
        for label in {c for _, c in rows}:
            for modality in ("video", "audio"):
                payload = _pickle(out, modality, split, label)
                for name, sequence in zip(payload["video_names"], payload["features"]):
                    found.setdefault(name.decode(), {})[modality] = sequence
    return found


def test_step_rules_agree_on_the_step_counts() -> None:
    for fps in (12.5, 24.0, 25.0, 29.97, 30.0):
        for frames in range(1, 400, 7):
            indices = frame_indices(fps, 1.0, frames)
            assert len(indices) == window_count(frames / fps, 1.0), (fps, frames)
            assert all(0 <= i < frames for i in indices) and indices == sorted(set(indices))
    assert frame_indices(25, 1.0, 250) == [12 + 25 * k for k in range(10)]
    assert frame_indices(25, 1.0, 10) == [5]  # shorter than half a step: the middle frame
    signal = np.arange(1, 2.3 * 100 + 1, dtype=np.float32)  # 2.3 s at 100 Hz
    windows = audio_windows(signal, 100, 1.0, 10.0, 0, window_count(2.3, 1.0))
    assert windows.shape == (2, 1000)
    assert np.array_equal(windows[1, :100], signal[100:200]) and not windows[:, 100:].any()


def test_pickles_hold_one_sequence_per_video_with_the_tcaf_keys(temporal_bundle, media) -> None:
    out, result = temporal_bundle
    assert set(result.report.features) == set(VIDEOS) and not result.report.failures
    for split, rows in SPLITS.items():
        for label in {c for _, c in rows}:
            expected = [v for v, c in rows if c == label]
            video, sound = _pickle(out, "video", split, label), _pickle(out, "audio", split, label)
            for payload, dim in ((video, 512), (sound, 1024)):
                assert set(payload) == {"features", "video_names", "fps"}
                assert payload["video_names"] == [np.bytes_(v.encode()) for v in expected]
                assert payload["fps"] == [FPS] * len(expected)
                for name, sequence in zip(expected, payload["features"]):
                    steps = STEPS[name][0 if payload is video else 1]
                    assert sequence.shape == (steps, dim) and sequence.dtype == np.float16, (name, sequence.shape)
                    norms = np.linalg.norm(sequence.astype(np.float32), axis=1)
                    assert np.allclose(norms, 1.0, atol=2e-3)
    assert not (out / "features" / "cls_features_non_averaged").exists()  # the averaged folder is untouched


def test_manifest_and_text_sit_beside_the_sequences(temporal_bundle) -> None:
    out, _ = temporal_bundle
    root = feature_root(out, FEATURE_DIR)
    manifest = json.loads((root / MANIFEST_NAME).read_text())
    assert manifest["temporal"]["step_s"] == dict(get_dataset("vggsound", "clip-clap-temporal").step_s)
    assert manifest["temporal"]["step_s"] == {"video": 1.0, "audio": 1.0}
    assert manifest["preprocess"] == "clean" and manifest["feature_dtype"] == {"video": "float16", "audio": "float16"}
    clip_file, clap_file = text_paths(out, "vggsound", feature_dir=FEATURE_DIR)
    assert manifest["text_files"] == {"clip": clip_file.name, "clap": clap_file.name}
    for path, dim in ((clip_file, 512), (clap_file, 1024)):
        stored = np.load(path, allow_pickle=True).item()
        assert sorted(stored) == CLASSES and all(v.shape == (dim,) for v in stored.values())


def test_a_one_step_video_equals_the_averaged_extraction(temporal_bundle, averaged) -> None:
    """Up to one step the temporal recipe IS the averaged (clean) one: the same frame (n // 2) and
    the same zero-padded clip, so the single step equals the averaged vector (to float16)."""
    out, _ = temporal_bundle
    sequences = _sequences(out)
    for name in ("v_short", "v_one"):
        np.testing.assert_allclose(sequences[name]["video"][0], averaged[name].visual, atol=1e-3)
        np.testing.assert_allclose(sequences[name]["audio"][0], averaged[name].audio, atol=1e-3)
    # the comparison has power: another video's averaged vectors are farther off than the tolerance
    assert np.abs(sequences["v_one"]["video"][0] - averaged["v_two"].visual).max() > 1e-2
    assert np.abs(sequences["v_one"]["audio"][0] - averaged["v_two"].audio).max() > 5e-3


def test_the_mean_of_a_static_video_is_its_averaged_vector(temporal_bundle, averaged) -> None:
    """Every frame of a static video is the same image, so every CLIP step, and the re-normalised
    mean of the steps, equals the averaged extraction's (middle-frame) vector."""
    out, _ = temporal_bundle
    steps = _sequences(out)["v_static"]["video"].astype(np.float32)
    mean = steps.mean(axis=0)
    np.testing.assert_allclose(mean / np.linalg.norm(mean), averaged["v_static"].visual, atol=2e-3)
    np.testing.assert_allclose(steps, np.broadcast_to(averaged["v_static"].visual, steps.shape), atol=2e-3)
    moving = _sequences(out)["v_three"]["video"].astype(np.float32)  # its frames change colour
    assert np.abs(moving - moving[1]).max() > 1e-2


def test_the_temporal_reader_loads_the_output(temporal_bundle, tmp_path) -> None:
    out, _ = temporal_bundle
    dataset = load_bundle(out, get_dataset("vggsound", "clip-clap-temporal"), cache_dir=tmp_path)
    assert dataset.dims.video == 512 and dataset.dims.audio == 1024
    test = dataset.splits["test"]
    assert isinstance(test.video, Sequences) and isinstance(test.audio, Sequences)
    assert test.video.step_s == test.audio.step_s == 1.0
    lengths = {name: (int(v), int(a)) for name, v, a in zip(test.names, test.video.lengths, test.audio.lengths)}
    assert {name.strip("b'"): steps for name, steps in lengths.items()} == {
        name: STEPS[name] for name in ("v_two", "v_three", "v_static", "v_unseen")
    }


def test_cli_temporal_reuses_the_cache_and_refuses_reference(
    media, visual, audio, temporal_bundle, monkeypatch, capsys
):
    from feature_zoo import cli

    monkeypatch.setattr(bb.BackboneConfig, "build", lambda self: (visual, audio))
    out = media["root"] / "cli"
    argv = ["extract", "--videos", str(media["videos"]), "--splits", str(media["splits"]), "--out", str(out)]
    argv += ["--dataset", "vggsound", "--device", "cpu", "--random-init", "--cache-dir", str(media["root"] / "cache")]
    assert cli.main([*argv, "--temporal", "--no-text"]) == 0
    first, again = _sequences(temporal_bundle[0]), _sequences(out)
    for name in VIDEOS:
        for modality in ("video", "audio"):
            assert np.array_equal(first[name][modality], again[name][modality])
    manifest = json.loads((feature_root(out, FEATURE_DIR) / MANIFEST_NAME).read_text())
    assert manifest["counts"]["from_cache"] == len(VIDEOS)
    capsys.readouterr()
    assert cli.main([*argv, "--temporal", "--preprocess", "reference"]) == 2
    assert "clean preprocessing only" in capsys.readouterr().out


def test_clipclap_runs_on_the_zoo_sequences(temporal_bundle, tmp_path) -> None:
    """`bench.py --features clip-clap-temporal --root <out>`: a method built for vectors runs on the
    zoo's sequences through the mean pooling, with the zoo's CLIP/CLAP class text."""
    from avgzsl_bench.datasets import DataSource
    from avgzsl_bench.jobs.job import make_jobs
    from avgzsl_bench.jobs.run import run_jobs

    out, _ = temporal_bundle
    source = DataSource("vggsound", str(out), features="clip-clap-temporal", cache_dir=str(tmp_path))
    jobs = make_jobs(["clipclap"], source, [0], {"epochs": 1, "batches_per_epoch": 2, "batch_size": 4})
    assert jobs[0].config()["pooling"] == "mean"
    report = run_jobs(jobs, store=None, device="cpu")
    assert not report.failures, report.summary()
    (record,) = report.records
    assert all(0.0 <= value <= 100.0 for value in record.metrics.values()), record.metrics


def test_a_video_without_audio_is_skipped_or_gets_silent_steps(visual, audio, tmp_path) -> None:
    from feature_zoo.extract import NO_AUDIO
    from feature_zoo.temporal import TemporalExtractor

    path = write_video(tmp_path / "mute.mp4", num_frames=50, fps=FPS, audio=None)
    skipped = TemporalExtractor(visual, audio, FeatureCache(tmp_path / "a")).run({"mute": path})
    assert skipped.failures == {"mute": NO_AUDIO}
    kept = TemporalExtractor(visual, audio, FeatureCache(tmp_path / "b"), missing_audio="silence").run({"mute": path})
    features = kept.features["mute"]
    assert features.silent and features.visual.shape == (2, 512)
    assert features.audio.shape == (2, 1024)  # one silent window per second of video
    np.testing.assert_allclose(features.audio[0], features.audio[1], atol=1e-6)
