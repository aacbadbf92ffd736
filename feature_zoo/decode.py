"""Video and audio decoding with PyAV (bundled FFmpeg; no ffmpeg binary needed).

Visual input: one RGB frame, chosen by a rule from the number of frames that actually decode and
the number the container declares (``feature_zoo.preprocess`` holds the rules; by default the
0-based ``n // 2`` of the decoded frames). Decoding stays faithful; every deliberate deviation
(channel order, pixel wrap) is applied later by the preprocessing policy.

Audio input: all channels resampled to the backbone's rate, averaged to mono (a plain channel
mean like librosa's, because FFmpeg's own downmix is ~3 dB louder), then centre-cropped or
zero-padded at the end to a fixed length (10 s in the spec).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

CLIP_SECONDS = 10.0


class DecodeError(RuntimeError):
    """A video that cannot be used; the message says why (shown in the run summary)."""


FrameRule = Callable[[int, int], "int | None"]  # (decoded frames, declared frames) -> 0-based index or None


def middle_frame(decoded: int, declared: int) -> int | None:
    return decoded // 2


@dataclass(frozen=True)
class DecodedVideo:
    frame: np.ndarray | None  # (H, W, 3) uint8 RGB; None when the rule chose no index or one past the decoded frames
    frame_index: int | None  # 0-based index among the decoded frames that the rule chose
    num_frames: int  # frames that decode
    declared_frames: int  # frames the container declares (what OpenCV reports as the frame count)
    size: tuple[int, int]  # (width, height)
    fps: float
    audio: np.ndarray | None  # (num_samples,) float32 mono at the requested rate; None = no audio track


def fit_length(signal: np.ndarray, num_samples: int) -> np.ndarray:
    """Centre-crop ``[len//2 - n//2, len//2 - n//2 + n)`` or zero-pad at the end, as the reference does."""
    length = signal.shape[0]
    if length >= num_samples:
        start = length // 2 - num_samples // 2
        return np.ascontiguousarray(signal[start : start + num_samples], dtype=np.float32)
    out = np.zeros(num_samples, dtype=np.float32)
    out[:length] = signal
    return out


class _MonoAccumulator:
    """Resamples audio frames to ``rate`` and collects a mono float32 signal."""

    def __init__(self, layout: av.AudioLayout, rate: int) -> None:
        # Keep the source layout so the channel mean is ours, not FFmpeg's louder downmix.
        self._resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        self._chunks: list[np.ndarray] = []

    def add(self, frame: av.AudioFrame | None) -> None:
        for out in self._resampler.resample(frame):
            self._chunks.append(out.to_ndarray())

    def finish(self) -> np.ndarray:
        self.add(None)  # flush the resampler's delay line
        if not self._chunks:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(self._chunks, axis=1).mean(axis=0).astype(np.float32)


def _frame_at(path: Path, target_index: int, target_pts: int | None) -> np.ndarray:
    """Second pass: seek close to the wanted frame instead of decoding the first half again."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if target_pts is not None:
            try:
                container.seek(target_pts, stream=stream, backward=True, any_frame=False)
                for frame in container.decode(stream):
                    if frame.pts is None or frame.pts > target_pts:
                        break
                    if frame.pts == target_pts:
                        return frame.to_ndarray(format="rgb24")
            except av.FFmpegError:
                pass
    # Containers with unreliable timestamps (some AVIs): count frames from the start.
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for index, frame in enumerate(container.decode(stream)):
            if index == target_index:
                return frame.to_ndarray(format="rgb24")
    raise DecodeError(f"frame {target_index} decoded in the first pass but not in the second")


def _open_streams(
    container: av.container.InputContainer, sample_rate: int
) -> tuple[av.VideoStream, float, av.AudioStream | None, _MonoAccumulator | None]:
    """The first video stream and its frame rate (0.0 where it declares none), and the first audio
    stream, if any, with a mono accumulator at `sample_rate` for it."""
    if not container.streams.video:
        raise DecodeError("no video stream")
    vstream = container.streams.video[0]
    vstream.thread_type = "AUTO"
    rate = vstream.average_rate or vstream.guessed_rate
    fps = float(rate) if rate else 0.0
    astream = container.streams.audio[0] if container.streams.audio else None
    mono = _MonoAccumulator(astream.layout, sample_rate) if astream is not None else None
    return vstream, fps, astream, mono


def _refetch_frame(path: Path, pts: list[int | None], index: int) -> np.ndarray:
    """Frame `index` of the first pass's `pts`, decoded again; seeking by time stamp only where the
    time stamps tell frames apart."""
    unique_pts = len(set(pts)) == len(pts)
    return _frame_at(path, index, pts[index] if unique_pts else None)


def declared_frame_count(container: av.container.InputContainer, stream: av.VideoStream, fps: float) -> int:
    """The container's frame count; without one, duration x fps rounded, the estimate OpenCV falls back to."""
    if stream.frames > 0:
        return int(stream.frames)
    if container.duration:
        seconds = container.duration / av.time_base
    elif stream.duration and stream.time_base:
        seconds = float(stream.duration * stream.time_base)
    else:
        return 0
    return int(math.floor(seconds * fps + 0.5))


def decode_video(
    path: Path | str, sample_rate: int, clip_seconds: float = CLIP_SECONDS, frame_rule: FrameRule = middle_frame
) -> DecodedVideo:
    """Decode one RGB frame (chosen by ``frame_rule``) and the fixed-length mono audio of one video file.

    Raises :class:`DecodeError` for files that cannot be used (unreadable, no video frames).
    """
    path = Path(path)
    try:
        with av.open(str(path)) as container:
            vstream, fps, astream, mono = _open_streams(container, sample_rate)
            declared = declared_frame_count(container, vstream, fps)
            size = (vstream.codec_context.width, vstream.codec_context.height)
            # One demux pass: count the video frames that really decode (container metadata can
            # lie; only timestamps are kept, no pixel conversion) and collect the audio.
            pts: list[int | None] = []
            streams = [vstream] if astream is None else [vstream, astream]
            for packet in container.demux(*streams):
                for decoded in packet.decode():
                    if packet.stream.index == vstream.index:
                        pts.append(decoded.pts)
                    else:
                        mono.add(decoded)
            audio = mono.finish() if mono is not None else None
        if not pts:
            raise DecodeError("no decodable video frames")
        index = frame_rule(len(pts), declared)
        frame = None
        if index is not None and 0 <= index < len(pts):
            frame = _refetch_frame(path, pts, index)
    except (av.FFmpegError, OSError, ValueError, IndexError) as error:
        raise DecodeError(f"{type(error).__name__}: {error}") from error
    if audio is not None:
        audio = fit_length(audio, int(round(clip_seconds * sample_rate)))
    return DecodedVideo(
        frame=frame, frame_index=index, num_frames=len(pts), declared_frames=declared, size=size, fps=fps, audio=audio
    )


def window_count(duration_s: float, step_s: float) -> int:
    """Steps of `step_s` whose centre lies inside `duration_s` seconds; at least one (a video
    shorter than half a step still gets one step)."""
    return max(1, math.ceil(duration_s / step_s - 0.5))


def frame_indices(fps: float, step_s: float, decoded: int) -> list[int]:
    """0-based indices of the frames at the centres of consecutive `step_s` windows, among
    `decoded` frames at `fps`: floor((k + 0.5) · step_s · fps) for every k that still decodes;
    [decoded // 2] (the averaged recipe's frame) when no centre does."""
    indices = []
    while (index := math.floor((len(indices) + 0.5) * step_s * fps)) < decoded:
        indices.append(index)
    return indices or [decoded // 2]


@dataclass(frozen=True)
class DecodedSequence:
    frames: list[np.ndarray]  # (H, W, 3) uint8 RGB, one per step (frame_indices)
    num_frames: int  # frames that decode
    fps: float
    audio: np.ndarray | None  # (num_samples,) float32 mono at the requested rate, uncut; None = no audio track


def decode_sequence(path: Path | str, sample_rate: int, step_s: float) -> DecodedSequence:
    """Decode the frame at the centre of every `step_s` window (`frame_indices`) and the whole mono
    audio track of one video file, in one pass. Raises :class:`DecodeError` like `decode_video`."""
    path = Path(path)
    try:
        with av.open(str(path)) as container:
            vstream, fps, astream, mono = _open_streams(container, sample_rate)
            if fps <= 0:
                raise DecodeError("the video stream declares no frame rate: its frames have no time stamps")
            frames: list[np.ndarray] = []
            pts: list[int | None] = []
            streams = [vstream] if astream is None else [vstream, astream]
            for packet in container.demux(*streams):
                for decoded in packet.decode():
                    if packet.stream.index != vstream.index:
                        mono.add(decoded)
                        continue
                    # convert only the frames at window centres (the next one wanted is the k-th)
                    if len(pts) == math.floor((len(frames) + 0.5) * step_s * fps):
                        frames.append(decoded.to_ndarray(format="rgb24"))
                    pts.append(decoded.pts)
            audio = mono.finish() if mono is not None else None
        if not pts:
            raise DecodeError("no decodable video frames")
        if not frames:  # shorter than half a step: the middle frame, as the averaged recipe takes
            frames = [_refetch_frame(path, pts, len(pts) // 2)]
    except (av.FFmpegError, OSError, ValueError, IndexError) as error:
        raise DecodeError(f"{type(error).__name__}: {error}") from error
    return DecodedSequence(frames=frames, num_frames=len(pts), fps=fps, audio=audio)


def audio_windows(
    signal: np.ndarray, sample_rate: int, step_s: float, clip_seconds: float, first: int, count: int
) -> np.ndarray:
    """(count, clip samples) float32: windows `first` .. `first + count - 1` of `step_s` seconds of
    `signal` (consecutive, not overlapping), each zero-padded at the end to the encoder's
    `clip_seconds` input, as the averaged recipe pads a short clip. Made a chunk at a time: a long
    video's padded windows would not fit in memory at once."""
    step = int(round(step_s * sample_rate))
    windows = np.zeros((count, int(round(clip_seconds * sample_rate))), dtype=np.float32)
    for row, k in enumerate(range(first, first + count)):
        piece = signal[k * step : (k + 1) * step]
        windows[row, : piece.shape[0]] = piece
    return windows
