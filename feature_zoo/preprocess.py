"""Visual preprocessing rules: ``reference`` reproduces how the released features were made, ``clean`` is correct.

The released ClipClap features were extracted with OpenCV, and its quirks are baked into them:

* OpenCV hands over frames in BGR order and they reached CLIP as if they were RGB (red and blue
  swapped), for all three datasets;
* UCF frames were stored in a float32 tensor holding 0..255 before ``ToPILImage``, which scales
  floats by 255 and casts to uint8; that cast wraps, so pixel ``p`` became ``(255 * p) mod 256``,
  i.e. ``(256 - p) mod 256``: near-negative images;
* the "middle frame" of UCF's .avi files is index ``header_count // 2`` of a zero-filled buffer of
  the container's declared frame count (a black frame when fewer frames decode); for the .mp4
  files of ActivityNet and VGGSound it is the ``n // 2``-th decoded frame counted from 1, i.e.
  0-based ``n // 2 - 1``, with ``n`` the frames that decode (counting stops at the declared
  count). With ``n // 2 == 0`` ActivityNet dropped the video and VGGSound encoded an all-zero
  model input;
* visual features were stored as float16 (CLIP ran in half precision) and every ``fps`` is 25.

``reference`` reproduces each rule (frame choice, channel order, wrap, storage dtype, fps 25);
what it cannot reproduce bit for bit is OpenCV's own YUV->RGB conversion and the half-precision
CLIP arithmetic. ``clean`` takes frame ``n // 2`` of the decoded frames in true RGB, stores
float32 and the stream's real fps: right for new work, but not comparable with models trained on
the released features. Audio is preprocessed identically in both modes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from feature_zoo.cache import PREPROCESS_VERSION
from feature_zoo.decode import middle_frame

PREPROCESS_MODES = ("reference", "clean")
# The three benchmark datasets default to the recipe of their released features; anything else to clean.
DEFAULT_PREPROCESS: dict[str, str] = {"ucf": "reference", "activitynet": "reference", "vggsound": "reference"}
FALLBACK_PREPROCESS = "clean"
REFERENCE_FPS = 25


class NoFrame(ValueError):
    """The rule selects no frame and the reference dropped such videos; the message says why."""


def default_preprocess(dataset: str) -> str:
    return DEFAULT_PREPROCESS.get(dataset, FALLBACK_PREPROCESS)


# -------------------------------------------------------------------------------------------- frame choice
# Each rule maps (frames that decode, frame count the container declares) to a 0-based index among
# the decoded frames, or None when it selects no frame at all; clean uses decode.middle_frame (n // 2).


def middle_declared(decoded: int, declared: int) -> int | None:
    # An index at or past `decoded` is a slot the reference's buffer never filled: a black frame.
    return declared // 2 if declared > 0 else None


def middle_decoded_one_based(decoded: int, declared: int) -> int | None:
    counted = min(decoded, declared) if declared > 0 else 0
    return counted // 2 - 1 if counted // 2 > 0 else None


# -------------------------------------------------------------------------------------------- pixels


def bgr_as_rgb(frame: np.ndarray) -> np.ndarray:
    """RGB frame -> the array an OpenCV (BGR) frame read as RGB would be: red and blue swapped."""
    return np.ascontiguousarray(frame[..., ::-1])


def float_to_pil_wrap(frame: np.ndarray) -> np.ndarray:
    """uint8 ``p`` -> ``(255 * p) mod 256``: what ``ToPILImage`` made of a float tensor holding 0..255."""
    return ((256 - frame.astype(np.int16)) % 256).astype(np.uint8)


@dataclass(frozen=True)
class FramePolicy:
    """One preprocessing recipe for the visual side: which frame, which pixels, how it is stored."""

    mode: str
    frame_rule: Callable[[int, int], int | None]
    swap_channels: bool
    wrap_pixels: bool
    no_frame: str  # when frame_rule gives None: "drop" the video or encode a "zero-input"
    video_dtype: str  # storage dtype of the visual features in the pickles
    fixed_fps: int | None  # fps written for every video; None = the stream's rounded rate
    cache_tag: str  # part of the feature-cache key: entries of different recipes never mix

    def pixels(self, frame: np.ndarray) -> np.ndarray:
        if self.swap_channels:
            frame = bgr_as_rgb(frame)
        return float_to_pil_wrap(frame) if self.wrap_pixels else frame

    def image(
        self,
        frame: np.ndarray | None,
        frame_index: int | None,
        size: tuple[int, int],
        preprocess: Callable[[np.ndarray], torch.Tensor],
    ) -> torch.Tensor:
        """Model input for the chosen frame; ``frame`` None = the index was past the decoded frames or absent."""
        width, height = size
        if frame is None and frame_index is not None:
            frame = np.zeros((height, width, 3), np.uint8)
        if frame is not None:
            return preprocess(self.pixels(frame))
        if self.no_frame == "zero-input":
            return torch.zeros_like(preprocess(np.zeros((height, width, 3), np.uint8)))
        raise NoFrame("too few frames for the reference's middle-frame rule (the reference dropped this video)")

    def fps(self, stream_fps: float) -> int:
        if self.fixed_fps is not None:
            return self.fixed_fps
        return int(round(stream_fps)) if stream_fps > 0 else REFERENCE_FPS


CLEAN = FramePolicy("clean", middle_frame, False, False, "drop", "float32", None, PREPROCESS_VERSION)
_REFERENCE_TAG = "fz1-reference-{}-bgr{}-f16-fps25-mono-mean-centre10s"
REFERENCE: dict[str, FramePolicy] = {
    "ucf": FramePolicy(
        "reference",
        middle_declared,
        True,
        True,
        "drop",
        "float16",
        REFERENCE_FPS,
        _REFERENCE_TAG.format("declared//2", "-wrap"),
    ),
    "activitynet": FramePolicy(
        "reference",
        middle_decoded_one_based,
        True,
        False,
        "drop",
        "float16",
        REFERENCE_FPS,
        _REFERENCE_TAG.format("n//2-1-drop", ""),
    ),
    "vggsound": FramePolicy(
        "reference",
        middle_decoded_one_based,
        True,
        False,
        "zero-input",
        "float16",
        REFERENCE_FPS,
        _REFERENCE_TAG.format("n//2-1-zero", ""),
    ),
}


def frame_policy(mode: str, dataset: str) -> FramePolicy:
    """The policy for ``mode`` on ``dataset``; ``reference`` exists only for the released datasets."""
    if mode == "clean":
        return CLEAN
    if mode != "reference":
        raise ValueError(f"unknown preprocessing {mode!r}; choose one of {PREPROCESS_MODES}")
    if dataset not in REFERENCE:
        raise ValueError(
            f"reference preprocessing reproduces the released features of {sorted(REFERENCE)} only; "
            f"use clean for {dataset!r}"
        )
    return REFERENCE[dataset]
