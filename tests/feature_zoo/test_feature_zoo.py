"""feature_zoo tests: random-init backbones of the real architectures, tiny mp4 files made with PyAV.

The shared bundle is extracted with the default audio backbone (WavCaps CLAP) and ``clean``
preprocessing; the reference recipe has its own tests (test_preprocess.py, and the CLI test below).
"""

from __future__ import annotations

import csv
import inspect
import json
import pickle
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from feature_zoo import backbones as bb
from feature_zoo import pipeline
from feature_zoo.bundle_writer import MANIFEST_NAME, feature_root, text_paths
from feature_zoo.cache import FeatureCache
from feature_zoo.decode import DecodeError, decode_video, fit_length
from feature_zoo.extract import Extractor
from feature_zoo.pipeline import ShardedExtraction, extract_dataset, find_videos
from feature_zoo.synthetic import COLOUR_STEP, frame_colour, sine, write_class_split, write_video
from feature_zoo.text import ensemble_embeddings, load_templates

CLASSES = ["bird chirping", "cat meowing", "dog barking", "rain falling"]
SPLITS = {  # split -> [(video, class)]; every split/class has a video, as the protocol requires
    "stage_1_train": [
        ("v00", "dog barking"),
        ("v01", "cat meowing"),
        ("corrupt_clip", "dog barking"),
        ("silent_clip", "dog barking"),
        ("ghost_clip", "cat meowing"),
    ],
    "stage_1_val_seen": [("v02", "dog barking"), ("v03", "cat meowing")],
    "stage_1_val_unseen": [("v04", "rain falling")],
    "stage_2_test_seen": [("v05", "dog barking"), ("v06", "cat meowing"), ("v07", "rain falling")],
    "stage_2_test_unseen": [("v08", "bird chirping")],
}
SPLITS["stage_2_train"] = SPLITS["stage_1_train"] + SPLITS["stage_1_val_seen"] + SPLITS["stage_1_val_unseen"]
GOOD = [f"v{i:02d}" for i in range(9)]
FAILING = {"corrupt_clip", "silent_clip", "ghost_clip"}


class Counting:
    """Wraps a backbone, counting encoded items; ``fail_on_call`` raises to simulate an interruption."""

    def __init__(self, inner, fail_on_call: int | None = None) -> None:
        self.inner, self.fail_on_call = inner, fail_on_call
        self.images = self.clips = self.calls = 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def _tick(self) -> None:
        self.calls += 1
        if self.fail_on_call is not None and self.calls == self.fail_on_call:
            raise KeyboardInterrupt("simulated interruption")

    def encode_images(self, images):
        self._tick()
        self.images += len(images)
        return self.inner.encode_images(images)

    def encode_audio(self, waveforms):
        self._tick()
        self.clips += len(waveforms)
        return self.inner.encode_audio(waveforms)


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("media")
    videos = root / "videos"
    videos.mkdir()
    for i, name in enumerate(GOOD):
        write_video(videos / f"{name}.mp4", num_frames=20 + 2 * i, audio=sine(1.0, freq=220.0 * (i + 1)))
    write_video(videos / "silent_clip.mp4", num_frames=10, audio=None)
    (videos / "corrupt_clip.mp4").write_bytes(np.random.default_rng(0).bytes(4096))

    splits = root / "class-split"
    write_class_split(splits, CLASSES, SPLITS)
    return {"videos": videos, "splits": splits, "root": root}


@pytest.fixture(scope="session")
def bundle(media, visual, audio):
    out = media["root"] / "out"
    result = extract_dataset(
        media["videos"],
        media["splits"],
        out,
        "vggsound",
        visual,
        audio,
        preprocess="clean",
        cache_dir=media["root"] / "cache",
        batch_size=4,
        workers=2,
    )
    return out, result


# ---------------------------------------------------------------------------------------------- data files


def test_prompt_files_match_spec():
    counts = {("clip", "person"): 48, ("clap", "person"): 30, ("clip", "generic"): 8, ("clap", "generic"): 9}
    for (encoder, prompt_set), count in counts.items():
        templates = load_templates(encoder, prompt_set)
        assert len(templates) == count and all(t.count("{}") == 1 for t in templates)
    assert load_templates("clip", "person")[8] == "a photo of a person using {}."
    assert load_templates("clip", "generic")[4] == "a photo of the person {}."
    assert load_templates("clap", "person")[-1] == "a demonstration of the person practicing {} can be heard."


# ---------------------------------------------------------------------------------------------- decoding


def test_fit_length_crops_centre_and_pads_end():
    signal = np.arange(10, dtype=np.float32)
    assert fit_length(signal, 4).tolist() == [3, 4, 5, 6]  # [len//2 - 2, len//2 + 2)
    padded = fit_length(signal, 14)
    assert padded.shape == (14,) and padded[:10].tolist() == signal.tolist() and not padded[10:].any()


def test_middle_frame_is_index_n_over_2_in_rgb(tmp_path):
    path = write_video(tmp_path / "colours.mp4", num_frames=51, audio=sine(0.5))
    decoded = decode_video(path, sample_rate=48000)
    assert decoded.num_frames == 51 and decoded.frame_index == 25 and decoded.fps == pytest.approx(25)
    observed = decoded.frame.reshape(-1, 3).mean(axis=0)
    assert round(observed[0] / COLOUR_STEP) == 25  # frame index encoded in red
    assert np.allclose(observed, frame_colour(25), atol=4)  # RGB, not BGR


def test_audio_is_resampled_mono_and_zero_padded(tmp_path):
    path = write_video(tmp_path / "short.mp4", num_frames=25, audio=sine(2.0, amplitude=0.5))
    audio = decode_video(path, sample_rate=48000).audio
    assert audio.shape == (480000,) and audio.dtype == np.float32
    # plain channel mean of two identical channels keeps the amplitude (FFmpeg's downmix would not)
    assert np.sqrt(np.mean(audio[1000:90000] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.05)
    assert not audio[2 * 48000 + 2000 :].any()


def test_long_audio_is_centre_cropped(tmp_path):
    signal = np.concatenate([sine(1.0, amplitude=0.1), sine(10.0, amplitude=0.6), sine(1.0, amplitude=0.1)], axis=1)
    audio = decode_video(write_video(tmp_path / "long.mp4", num_frames=25, audio=signal), sample_rate=32000).audio
    assert audio.shape == (320000,)
    for part in (audio[1000:16000], audio[-16000:-1000]):  # both ends come from the loud middle 10 s
        assert np.sqrt(np.mean(part**2)) == pytest.approx(0.6 / np.sqrt(2), rel=0.05)


def test_corrupt_and_silent_files(tmp_path):
    corrupt = tmp_path / "bad.mp4"
    corrupt.write_bytes(b"\x00not a video" * 100)
    with pytest.raises(DecodeError):
        decode_video(corrupt, 48000)
    assert decode_video(write_video(tmp_path / "mute.mp4", num_frames=5), 48000).audio is None


# ---------------------------------------------------------------------------------------------- backbones


def test_backbones_declare_dims_and_preprocess(visual, audio, laion):
    # Output shapes and L2 norms of the encoders are checked on real extraction output below.
    image = visual.preprocess(np.zeros((48, 64, 3), dtype=np.uint8))
    assert image.shape == (3, 224, 224) and image.dtype == torch.float32
    assert (visual.dim, visual.text_dim, audio.dim, audio.text_dim) == (512, 512, 1024, 1024)
    assert (audio.name, audio.sample_rate, audio.clip_seconds) == ("wavcaps-htsat-bert", 32000, 10.0)
    assert (laion.dim, laion.text_dim, laion.sample_rate, laion.clip_seconds) == (512, 512, 48000, 10.0)
    assert all("random-init" in b.identity for b in (visual, audio, laion))
    for info in [*bb.VISUAL_BACKBONES.entries(), *bb.AUDIO_BACKBONES.entries()]:
        assert info.factory.dim == info.dim and info.factory.text_dim == info.text_dim  # registry agrees
    # every encoder writes its text under its own name; only WavCaps may use the released "wavcaps_" one
    assert (visual.text_file_prefix, audio.text_file_prefix, laion.text_file_prefix) == ("", "wavcaps_", "laion_clap_")


def test_ensemble_is_mean_of_normalised_prompts_renormalised():
    def fake_encode(prompts):
        return torch.tensor([[float(len(p)), 1.0, 0.0] if "x" in p else [0.0, 3.0, 4.0] for p in prompts])

    result = ensemble_embeddings(fake_encode, ["x", "y"], ["{} one", "{} two"])
    assert set(result) == {"x", "y"} and result["x"].dtype == np.float32
    expected_y = np.array([0.0, 0.6, 0.8], dtype=np.float32)
    assert np.allclose(result["y"], expected_y) and np.isclose(np.linalg.norm(result["x"]), 1.0)


def test_missing_weights_give_actionable_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("FEATURE_ZOO_WEIGHTS", str(tmp_path))
    with pytest.raises(bb.WeightsMissingError, match="--visual-checkpoint"):
        bb.build_visual(checkpoint=tmp_path / "nope.pt")
    with pytest.raises(bb.WeightsMissingError, match="630k-audioset-best.pt"):
        bb.build_audio("laion-clap-htsat-tiny")
    with pytest.raises(bb.WeightsMissingError, match="HTSAT_BERT_zero_shot.pt.*--audio-checkpoint"):
        bb.build_audio()  # the default is the paper's WavCaps CLAP
    with pytest.raises(bb.WeightsMissingError, match="does not exist"):
        bb.build_audio(checkpoint=tmp_path / "HTSAT_BERT_zero_shot.pt")


# ---------------------------------------------------------------------------------------------- pipeline


def test_bundle_layout_and_pickle_format(bundle, media):
    out, result = bundle
    assert set(result.report.features) == set(GOOD)
    assert set(result.report.failures) == FAILING
    assert "unreadable" in result.report.failures["corrupt_clip"]
    assert "no audio" in result.report.failures["silent_clip"]
    assert "not found" in result.report.failures["ghost_clip"]
    assert (out / "class-split" / "cls_split" / "stage_1_train.csv").is_file()
    root = feature_root(out)
    for split, rows in SPLITS.items():
        for cls in {c for _, c in rows}:
            expected = [v for v, c in rows if c == cls and v in GOOD]
            video = pickle.loads((root / "video" / split / f"{cls}.pkl").read_bytes())
            sound = pickle.loads((root / "audio" / split / f"{cls}.pkl").read_bytes())
            assert set(video) == {"features", "video_names", "fps"}
            assert video["video_names"] == sound["video_names"] == [np.bytes_(v.encode()) for v in expected]
            assert all(isinstance(n, np.bytes_) for n in video["video_names"]) and video["fps"] == [25] * len(expected)
            for payload, dim in ((video, 512), (sound, 1024)):
                assert all(f.shape == (dim,) and f.dtype == np.float32 for f in payload["features"])
                assert np.allclose([np.linalg.norm(f) for f in payload["features"]], 1.0, atol=1e-5)
    clip_file, clap_file = text_paths(out, "vggsound")
    assert (clip_file.name, clap_file.name) == (
        "word_embeddings_vggsound_normed.npy",
        "wavcaps_word_embeddings_vggsound_normed.npy",
    )
    for path, dim in ((clip_file, 512), (clap_file, 1024)):
        stored = np.load(path, allow_pickle=True)
        assert stored.shape == () and sorted(stored.item()) == CLASSES
        assert all(v.shape == (dim,) and np.isclose(np.linalg.norm(v), 1.0) for v in stored.item().values())
    manifest = json.loads((root / MANIFEST_NAME).read_text())
    assert not (out / MANIFEST_NAME).exists()  # it lives beside the features, as the README says
    assert manifest["random_init"] is True and manifest["dims"] == {
        "video": 512,
        "audio": 1024,
        "clip_text": 512,
        "clap_text": 1024,
    }
    assert manifest["preprocess"] == "clean" and manifest["feature_dtype"] == {"video": "float32", "audio": "float32"}
    assert manifest["text_files"] == {"clip": clip_file.name, "clap": clap_file.name}
    assert manifest["feature_recipe"] == ("CLIP ViT-B/32 + WavCaps CLAP HTSAT-BERT, clean preprocessing (random init)")
    assert manifest["audio"]["text_tokenizer"].startswith("bert-base-uncased vocab.txt")
    assert manifest["not_in_folder"] == ["ghost_clip"] and set(manifest["failed_videos"]) == FAILING - {"ghost_clip"}
    assert manifest["counts"]["not_in_folder"] == manifest["counts"]["unreadable"] == 1
    assert manifest["counts"]["no_audio"] == 1 and manifest["counts"]["extracted"] == len(GOOD)


def test_second_run_is_served_from_cache(bundle, media, visual, audio):
    out, _ = bundle
    counting_visual, counting_audio = Counting(visual), Counting(audio)
    result = extract_dataset(
        media["videos"],
        media["splits"],
        out,
        "vggsound",
        counting_visual,
        counting_audio,
        preprocess="clean",
        cache_dir=media["root"] / "cache",
        batch_size=4,
        with_text=False,
    )
    assert counting_visual.calls == counting_audio.calls == 0
    assert result.report.cached == len(GOOD) and set(result.report.failures) == FAILING


def test_reference_and_clean_cache_entries_never_mix(bundle, media, visual, audio, tmp_path):
    counting_visual, counting_audio = Counting(visual), Counting(audio)
    result = extract_dataset(
        media["videos"],
        media["splits"],
        tmp_path / "ref",
        "vggsound",
        counting_visual,
        counting_audio,
        preprocess="reference",
        cache_dir=media["root"] / "cache",
        batch_size=4,
        with_text=False,
    )
    assert result.report.cached == 0 and counting_visual.images == counting_audio.clips == len(GOOD)


def test_interrupted_run_resumes(media, visual, audio, tmp_path):
    names = ["silent_clip", "v00", "v01", "v02", "v03"]
    videos = {name: media["videos"] / f"{name}.mp4" for name in names}
    cache = FeatureCache(tmp_path / "cache")
    interrupted = Counting(audio, fail_on_call=2)  # dies in the audio encoder of the second batch
    with pytest.raises(KeyboardInterrupt):
        Extractor(visual, interrupted, cache, batch_size=2, missing_audio="silence").run(videos)
    counting_visual, counting_audio = Counting(visual), Counting(audio)
    report = Extractor(counting_visual, counting_audio, cache, batch_size=2, missing_audio="silence").run(videos)
    assert counting_audio.clips == 3  # the first batch survived the interruption
    assert counting_visual.images == 1  # visual entries of the second batch were written before the crash
    assert report.cached == 2 and len(report.features) == 5 and not report.failures
    assert report.silent_audio == ["silent_clip"]  # remembered by the cache entry
    skipping = Extractor(visual, audio, cache, missing_audio="skip").run(videos)
    assert "no audio" in skipping.failures["silent_clip"] and len(skipping.features) == 4


def extract_argv(media: dict, out: Path, batch_size: str, *extra: str) -> list[str]:
    """`feature_zoo extract` on the test videos and splits, random weights, on the CPU."""
    return [
        "extract",
        "--videos",
        str(media["videos"]),
        "--splits",
        str(media["splits"]),
        "--out",
        str(out),
        "--dataset",
        "vggsound",
        "--device",
        "cpu",
        "--batch-size",
        batch_size,
        "--random-init",
        *extra,
    ]


def test_cli_extract_writes_bundle(media, visual, audio, bundle, monkeypatch, tmp_path, capsys):
    from feature_zoo import cli

    monkeypatch.setattr(bb.BackboneConfig, "build", lambda self: (visual, audio))
    walks = []
    monkeypatch.setattr(pipeline, "find_videos", lambda *args: walks.append(args) or find_videos(*args))
    out = tmp_path / "VGGSound"
    code = cli.main(
        extract_argv(media, out, "2", "--no-text", "--preprocess", "clean", "--cache-dir", str(media["root"] / "cache"))
    )
    printed = " ".join(capsys.readouterr().out.split())  # whatever the console's width
    assert code == 0 and "RANDOM-INIT" in printed
    assert len(walks) == 1  # the video folder is walked once, before the backbones are built
    # missing files are not called failures: each kind is said apart, with the names
    assert f"1 listed video(s) not in {media['videos']}: ghost_clip" in printed
    assert re.search(r"1 unreadable video\(s\):\s+corrupt_clip: unreadable video", printed), printed
    assert re.search(r"1 video\(s\) without audio, skipped:\s+silent_clip: no audio track", printed), printed
    assert (feature_root(out) / "video" / "stage_1_train" / "dog barking.pkl").is_file()


def _videos_without(media: dict, folder: Path, name: str, corrupt: bool = False) -> Path:
    """A copy of the test videos with `name` left out, or (`corrupt`) replaced by random bytes."""
    shutil.copytree(media["videos"], folder)
    (folder / f"{name}.mp4").unlink()
    if corrupt:
        (folder / f"{name}.mp4").write_bytes(np.random.default_rng(1).bytes(4096))
    return folder


def test_a_split_with_none_of_its_videos_in_the_folder_stops_before_any_model_loads(
    media, visual, audio, monkeypatch, tmp_path, capsys
):
    from feature_zoo import cli

    videos = _videos_without(media, tmp_path / "videos", "v08")  # stage_2_test_unseen's only video
    built = []
    monkeypatch.setattr(bb.BackboneConfig, "build", lambda self: built.append(self) or (visual, audio))
    argv = extract_argv(media, tmp_path / "out", "4", "--no-text", "--cache-dir", str(tmp_path / "cache"))
    code = cli.main([*argv[:2], str(videos), *argv[3:]])
    printed = " ".join(capsys.readouterr().out.split())
    assert code == 2 and not built
    csv_file = media["splits"] / "cls_split" / "stage_2_test_unseen.csv"
    assert f"none of the 1 video(s) listed for split 'stage_2_test_unseen' ({csv_file}) is in {videos}" in printed
    assert not (tmp_path / "out").exists()


def test_a_split_whose_videos_are_all_unreadable_fails_with_the_reason(bundle, media, visual, audio, tmp_path):
    from avgzsl_bench.errors import BenchError

    videos = _videos_without(media, tmp_path / "videos", "v08", corrupt=True)
    with pytest.raises(BenchError) as error:
        extract_dataset(
            videos,
            media["splits"],
            tmp_path / "out",
            "vggsound",
            visual,
            audio,
            preprocess="clean",
            cache_dir=media["root"] / "cache",
            with_text=False,
        )
    message = str(error.value)
    assert "nothing was extracted for split 'stage_2_test_unseen'" in message and str(videos) in message, message
    assert "1 unreadable (e.g. v08: unreadable video" in message and "no bundle was written" in message, message
    assert not (tmp_path / "out").exists()


def test_sharded_extraction_fills_the_cache_then_writes_the_same_bundle(
    bundle, media, visual, audio, monkeypatch, tmp_path
):
    from avgzsl_bench.executors.local import LocalExecutor

    monkeypatch.setattr(bb.BackboneConfig, "build", lambda self: (visual, audio))  # what each shard builds
    shards = ShardedExtraction(bb.BackboneConfig(random_init=True), LocalExecutor(), shard_size=2)
    counting_visual, counting_audio = Counting(visual), Counting(audio)
    out = tmp_path / "sharded"
    result = extract_dataset(
        media["videos"],
        media["splits"],
        out,
        "vggsound",
        counting_visual,
        counting_audio,
        preprocess="clean",
        cache_dir=tmp_path / "cache",
        batch_size=2,
        with_text=False,
        shards=shards,
    )
    assert counting_visual.calls == counting_audio.calls == 0  # the shards did all the encoding
    assert result.report.cached == len(GOOD) and set(result.report.failures) == FAILING
    reference_out, _ = bundle
    for pickle_path in sorted(feature_root(reference_out).glob("*/*/*.pkl")):
        ours = pickle.loads((feature_root(out) / pickle_path.relative_to(feature_root(reference_out))).read_bytes())
        theirs = pickle.loads(pickle_path.read_bytes())
        assert ours["video_names"] == theirs["video_names"]
        # batch size 2 here vs 4 in the fixture: the same embeddings up to float32 summation order
        assert np.allclose(np.stack(ours["features"]), np.stack(theirs["features"]), atol=1e-5)


def _load_with_core(out: Path, cache_dir: Path):
    from avgzsl_bench.datasets import load_bundle

    parameters = inspect.signature(load_bundle).parameters
    kwargs = {"dataset": "vggsound"} if "dataset" in parameters else {}
    if "cache_dir" in parameters:
        kwargs["cache_dir"] = cache_dir
    return load_bundle(out, **kwargs)


def test_core_loader_reads_output(bundle, recwarn):
    out, _ = bundle
    dataset = _load_with_core(out, out.parent / "loader_cache")
    assert dataset.dims.video == 512 and dataset.dims.audio == 1024  # the paper's dims: no dims warning
    assert not [w for w in recwarn if "feature dims" in str(w.message)]
    assert len(dataset.splits["test"]) == 4  # stage_2_test_seen (3) + stage_2_test_unseen (1)


def test_cli_wavcaps_reference_end_to_end(media, tmp_path, capsys):
    """The real CLI path: WavCaps + CLIP built with random weights, the dataset's default (reference) recipe."""
    from feature_zoo import cli

    out = tmp_path / "VGGSound"
    code = cli.main(
        extract_argv(media, out, "4", "--audio-backbone", "wavcaps-htsat-bert", "--cache-dir", str(tmp_path / "cache"))
    )
    printed = capsys.readouterr().out
    assert code == 0 and "preprocessing: reference (default for vggsound)" in printed
    # captured output is no terminal: progress comes as timestamped lines, one per prompt chunk at least
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
    assert re.search(stamp + r" text prompts \(clip\): 32/32", printed)  # 4 classes x 8 templates
    assert re.search(stamp + r" text prompts \(clap\): 36/36", printed)  # 4 classes x 9 templates
    assert re.search(stamp + rf" videos: {len(GOOD) + len(FAILING)}/{len(GOOD) + len(FAILING)}", printed)
    manifest = json.loads((feature_root(out) / MANIFEST_NAME).read_text())
    assert manifest["preprocess"] == "reference" and manifest["fps"] == 25
    assert manifest["feature_dtype"] == {"video": "float16", "audio": "float32"}
    assert manifest["feature_recipe"].startswith("CLIP ViT-B/32 + WavCaps CLAP HTSAT-BERT, reference preprocessing")
    video = pickle.loads((feature_root(out) / "video" / "stage_1_train" / "dog barking.pkl").read_bytes())
    sound = pickle.loads((feature_root(out) / "audio" / "stage_1_train" / "dog barking.pkl").read_bytes())
    assert {f.dtype for f in video["features"]} == {np.dtype(np.float16)} and video["fps"] == [25]  # v00 only
    assert {(f.dtype, f.shape) for f in sound["features"]} == {(np.dtype(np.float32), (1024,))}
    dataset = _load_with_core(out, tmp_path / "loader_cache")
    assert (dataset.dims.video, dataset.dims.audio) == (512, 1024)
    assert (dataset.text.clip.shape[1], dataset.text.clap.shape[1]) == (512, 1024)


def test_laion_text_gets_its_own_name_and_replaces_stale_clap_text(bundle, media, visual, laion, tmp_path):
    from feature_zoo.pipeline import write_text_embeddings

    out, _ = bundle
    copy = tmp_path / "copy"
    (feature_root(copy) / "text").mkdir(parents=True)
    wavcaps_file = feature_root(copy) / "text" / "wavcaps_word_embeddings_vggsound_normed.npy"
    wavcaps_file.write_bytes((feature_root(out) / "text" / wavcaps_file.name).read_bytes())
    removed = write_text_embeddings(copy, media["splits"], "vggsound", visual, laion)
    laion_file = feature_root(copy) / "text" / "laion_clap_word_embeddings_vggsound_normed.npy"
    assert removed == [wavcaps_file] and not wavcaps_file.exists()
    assert {v.shape for v in np.load(laion_file, allow_pickle=True).item().values()} == {(512,)}


@pytest.mark.filterwarnings("ignore:bundle .*feature dims:UserWarning")  # 512-d audio: warned by design
def test_core_reads_a_laion_bundle_through_its_manifest(media, visual, laion, tmp_path):
    from avgzsl_bench.datasets import DataSource

    out = tmp_path / "laion"
    extract_dataset(
        media["videos"],
        media["splits"],
        out,
        "vggsound",
        visual,
        laion,
        preprocess="clean",
        cache_dir=tmp_path / "cache",
        batch_size=4,
        workers=2,
    )
    assert not (feature_root(out) / "text" / "wavcaps_word_embeddings_vggsound_normed.npy").exists()
    dataset = _load_with_core(out, tmp_path / "loader_cache")  # text file named in the manifest
    assert (dataset.dims.audio, dataset.dims.clap_text) == (512, 512)
    label = DataSource("vggsound", root=str(out)).feature_set
    assert "LAION" in label and "clean" in label  # tables name the recipe the manifest records


def test_an_interrupted_extraction_exits_130_with_one_line_and_resumes(media, tmp_path):
    """SIGINT mid-extraction: exit 130, one readable line, no traceback; finished batches stay cached."""
    import os
    import signal
    import subprocess
    import sys
    import time

    videos = tmp_path / "videos"
    shutil.copytree(media["videos"], videos)  # every split keeps its videos: the run starts
    rows = [(f"x{i:03d}", CLASSES[i % len(CLASSES)]) for i in range(60)]
    for i, (name, _) in enumerate(rows):  # distinct files: identical bytes would share one cache entry
        write_video(videos / f"{name}.mp4", num_frames=10, audio=sine(0.5, freq=200.0 + i))
    splits = tmp_path / "class-split"
    shutil.copytree(media["splits"], splits)
    with (splits / "cls_split" / "stage_1_train.csv").open("a", newline="") as handle:
        csv.writer(handle).writerows([v, 0, c, "x", v, CLASSES.index(c), "misc"] for v, c in rows)
    command = [
        sys.executable,
        "-m",
        "feature_zoo",
        "extract",
        "--videos",
        str(videos),
        "--splits",
        str(splits),
        "--out",
        str(tmp_path / "out"),
        "--dataset",
        "vggsound",
        "--random-init",
        "--device",
        "cpu",
        "--batch-size",
        "2",
        "--workers",
        "1",
        "--no-text",
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    log = tmp_path / "log.txt"
    with log.open("w") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 300
        while not list((tmp_path / "cache").rglob("*.npz")):  # the first encoder batch is cached
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)
    text = log.read_text()
    assert process.returncode == 130, text
    assert "Traceback" not in text
    assert "interrupted; every finished encoder batch is in the feature cache; rerun the same command" in text
    assert "extraction summary" not in text  # it stopped before the end
