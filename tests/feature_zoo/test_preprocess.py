"""The reference vs clean visual preprocessing rules, step by step, on synthetic frames and tiny videos."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from feature_zoo.cache import FeatureCache
from feature_zoo.decode import decode_video
from feature_zoo.extract import Extractor
from feature_zoo.preprocess import (
    CLEAN,
    DEFAULT_PREPROCESS,
    REFERENCE,
    NoFrame,
    bgr_as_rgb,
    default_preprocess,
    float_to_pil_wrap,
    frame_policy,
    middle_declared,
    middle_decoded_one_based,
)
from feature_zoo.synthetic import BLUE, COLOUR_STEP, frame_colour, sine, write_video


def _frame(rgb: tuple[int, int, int], size: tuple[int, int] = (6, 4)) -> np.ndarray:
    width, height = size
    pixels = np.empty((height, width, 3), np.uint8)
    pixels[:] = rgb
    return pixels


# ---------------------------------------------------------------------------------------------- pixels


def test_reference_swaps_red_and_blue_like_bgr_read_as_rgb():
    frame = _frame((200, 100, 30))
    frame[0, 0] = (1, 2, 3)
    swapped = bgr_as_rgb(frame)
    assert swapped[1, 1].tolist() == [30, 100, 200] and swapped[0, 0].tolist() == [3, 2, 1]
    assert swapped.flags["C_CONTIGUOUS"] and frame[1, 1].tolist() == [200, 100, 30]  # input untouched


def test_ucf_wrap_has_the_exact_values_of_255p_mod_256():
    values = np.arange(256, dtype=np.uint8)
    wrapped = float_to_pil_wrap(values)
    assert wrapped.dtype == np.uint8
    assert wrapped[[0, 1, 2, 127, 128, 129, 254, 255]].tolist() == [0, 255, 254, 129, 128, 127, 2, 1]
    assert np.array_equal(wrapped.astype(np.int64), (255 * np.arange(256)) % 256)


def test_ucf_wrap_matches_to_pil_image_on_the_float_tensor_the_reference_built():
    """The reference path: a float32 tensor of 0..255 pixel values, CHW, through ToPILImage."""
    from torchvision.transforms import ToPILImage

    pixels = np.arange(256, dtype=np.uint8).reshape(16, 16)[..., None].repeat(3, axis=2)  # HWC, every value
    as_reference = np.asarray(ToPILImage()(torch.from_numpy(pixels).float().permute(2, 0, 1)))
    assert np.array_equal(as_reference, float_to_pil_wrap(pixels))


def test_policies_apply_swap_and_wrap_per_dataset():
    frame = _frame((10, 20, 250))
    assert REFERENCE["ucf"].pixels(frame)[0, 0].tolist() == [6, 236, 246]  # swapped, then 256 - p
    for dataset in ("activitynet", "vggsound"):
        assert REFERENCE[dataset].pixels(frame)[0, 0].tolist() == [250, 20, 10]
    assert CLEAN.pixels(frame)[0, 0].tolist() == [10, 20, 250]


# ---------------------------------------------------------------------------------------------- frame index


@pytest.mark.parametrize(("decoded", "clean", "mp4"), [(10, 5, 4), (11, 5, 4), (2, 1, 0), (3, 1, 0), (1, 0, None)])
def test_middle_frame_index_for_odd_and_even_counts(decoded, clean, mp4):
    assert CLEAN.frame_rule(decoded, decoded) == clean
    assert middle_decoded_one_based(decoded, decoded) == mp4  # the (n // 2)-th frame counted from 1
    assert middle_declared(decoded, decoded) == decoded // 2  # UCF: declared count // 2


def test_reference_rules_use_the_declared_count_as_opencv_reports_it():
    assert middle_declared(decoded=10, declared=40) == 20  # past the decoded frames: a black slot
    assert middle_declared(decoded=10, declared=0) is None
    assert middle_decoded_one_based(decoded=40, declared=10) == 4  # counting stops at the declared count
    assert middle_decoded_one_based(decoded=40, declared=0) is None


@pytest.mark.parametrize(("dataset", "expected"), [("ucf", 5), ("activitynet", 4), ("vggsound", 4)])
@pytest.mark.parametrize("num_frames", [10, 11])
def test_decoded_frame_is_the_one_each_rule_picks(tmp_path, dataset, expected, num_frames):
    path = write_video(tmp_path / "colours.mp4", num_frames=num_frames, audio=sine(0.5))
    decoded = decode_video(path, 32000, frame_rule=REFERENCE[dataset].frame_rule)
    assert (decoded.num_frames, decoded.declared_frames, decoded.frame_index) == (num_frames, num_frames, expected)
    assert round(decoded.frame.reshape(-1, 3).mean(axis=0)[0] / COLOUR_STEP) == expected  # index encoded in red


def test_declared_count_falls_back_to_duration_times_fps(tmp_path):
    # Matroska stores no frame count; OpenCV then reports round(duration * fps), and so do we.
    decoded = decode_video(write_video(tmp_path / "clip.mkv", num_frames=25), 32000, frame_rule=middle_declared)
    assert (decoded.num_frames, decoded.declared_frames, decoded.frame_index) == (25, 25, 12)


def test_index_past_the_decoded_frames_gives_no_frame(tmp_path):
    path = write_video(tmp_path / "short.mp4", num_frames=4)
    decoded = decode_video(path, 32000, frame_rule=lambda decoded, declared: decoded + 3)
    assert decoded.frame is None and decoded.frame_index == 7 and decoded.size == (64, 48)


# ---------------------------------------------------------------------------------------------- model input


def _recording_preprocess(seen: list[np.ndarray]):
    def preprocess(frame: np.ndarray) -> torch.Tensor:
        seen.append(frame)
        return torch.from_numpy(frame.astype(np.float32)).permute(2, 0, 1) + 1.0  # nonzero even for black

    return preprocess


def test_missing_frames_become_black_zero_input_or_a_drop():
    seen: list[np.ndarray] = []
    preprocess = _recording_preprocess(seen)
    black = REFERENCE["ucf"].image(None, 20, (6, 4), preprocess)  # UCF: an unfilled slot of its buffer
    assert seen[-1].shape == (4, 6, 3) and not seen[-1].any() and black.eq(1.0).all()
    zero = REFERENCE["vggsound"].image(None, None, (6, 4), preprocess)  # one frame: all-zero model input
    assert zero.shape == (3, 4, 6) and not zero.any()
    with pytest.raises(NoFrame, match="dropped"):
        REFERENCE["activitynet"].image(None, None, (6, 4), preprocess)
    with pytest.raises(NoFrame):
        REFERENCE["ucf"].image(None, None, (6, 4), preprocess)  # no declared count: the reference failed


def test_storage_fps_and_cache_tags():
    for policy in REFERENCE.values():
        assert (policy.mode, policy.video_dtype, policy.fps(29.97)) == ("reference", "float16", 25)
    assert (CLEAN.mode, CLEAN.video_dtype, CLEAN.fps(29.97), CLEAN.fps(0.0)) == ("clean", "float32", 30, 25)
    tags = [CLEAN.cache_tag, *(policy.cache_tag for policy in REFERENCE.values())]
    assert len(set(tags)) == len(tags)


def test_default_recipe_per_dataset_and_unknown_requests():
    assert DEFAULT_PREPROCESS == {"ucf": "reference", "activitynet": "reference", "vggsound": "reference"}
    assert default_preprocess("ucf") == "reference" and default_preprocess("my_new_videos") == "clean"
    assert frame_policy("reference", "ucf") is REFERENCE["ucf"] and frame_policy("clean", "anything") is CLEAN
    with pytest.raises(ValueError, match="released features"):
        frame_policy("reference", "my_new_videos")
    with pytest.raises(ValueError, match="unknown preprocessing"):
        frame_policy("pretty", "ucf")


class _FrameRecorder:
    """A visual backbone stand-in that records the frames it is asked to preprocess."""

    name = display_name = "recorder"
    identity = "recorder/v1"
    text_file_prefix = ""
    dim = text_dim = 3

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []
        self.preprocess = _recording_preprocess(self.frames)

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.normalize(images.mean(dim=(2, 3)), dim=-1)


@pytest.mark.parametrize("dataset", ["ucf", "activitynet", "vggsound"])
def test_extractor_feeds_the_reference_frame_and_writes_fps_25(tmp_path, dataset, audio):
    path = write_video(tmp_path / "clip.mp4", num_frames=11, fps=30, audio=sine(0.5))
    recorder = _FrameRecorder()
    policy = frame_policy("reference", dataset)
    report = Extractor(recorder, audio, FeatureCache(tmp_path / "cache"), policy=policy).run({"clip": path})
    index = policy.frame_rule(11, 11)
    red, green, _ = frame_colour(index)
    expected = [BLUE, green, red] if dataset != "ucf" else [(256 - v) % 256 for v in (BLUE, green, red)]
    assert np.allclose(recorder.frames[0].reshape(-1, 3).mean(axis=0), expected, atol=4)
    assert report.features["clip"].fps == 25
