"""Video and audio decoding with PyAV (bundled FFmpeg; no ffmpeg binary needed).

Visual input: the middle decoded frame, 0-based index ``n // 2`` of the ``n`` frames that
actually decode, as correct RGB. The reference scripts differ in ways we do not replicate:
OpenCV BGR bytes were fed to CLIP as RGB (all datasets), UCF frames were additionally inverted
by a float->uint8 wrap, and the mp4 scripts took 0-based index ``n // 2 - 1``.

Audio input: all channels resampled to the backbone's rate, averaged to mono (a plain channel
mean like librosa's, because FFmpeg's own downmix is ~3 dB louder), then centre-cropped or
zero-padded at the end to a fixed length (10 s in the spec).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

CLIP_SECONDS = 10.0


class DecodeError(RuntimeError):
    """A video that cannot be used; the message says why (shown in the run summary)."""


@dataclass(frozen=True)
class DecodedVideo:
    frame: np.ndarray  # (H, W, 3) uint8 RGB, the middle frame
    frame_index: int  # 0-based index of that frame among the decoded frames
    num_frames: int
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


def decode_video(
    path: Path | str, sample_rate: int, clip_seconds: float = CLIP_SECONDS
) -> DecodedVideo:
    """Decode the middle RGB frame and the fixed-length mono audio of one video file.

    Raises :class:`DecodeError` for files that cannot be used (unreadable, no video frames).
    """
    path = Path(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DecodeError("no video stream")
            vstream = container.streams.video[0]
            vstream.thread_type = "AUTO"
            rate = vstream.average_rate or vstream.guessed_rate
            fps = float(rate) if rate else 0.0
            astream = container.streams.audio[0] if container.streams.audio else None
            mono = _MonoAccumulator(astream.layout, sample_rate) if astream is not None else None
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
        middle = len(pts) // 2
        unique_pts = len(set(pts)) == len(pts)
        frame = _frame_at(path, middle, pts[middle] if unique_pts else None)
    except (av.FFmpegError, OSError, ValueError, IndexError) as error:
        raise DecodeError(f"{type(error).__name__}: {error}") from error
    if audio is not None:
        audio = fit_length(audio, int(round(clip_seconds * sample_rate)))
    return DecodedVideo(frame=frame, frame_index=middle, num_frames=len(pts), fps=fps, audio=audio)
