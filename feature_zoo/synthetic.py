"""Tiny synthetic videos encoded with PyAV, for tests and the throughput benchmark.

Frame ``i`` is a flat colour with R = ``i * COLOUR_STEP`` and G = 255 - R, B = ``BLUE``, so the
decoded middle frame reveals both its index and whether channels were swapped.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

import av
import numpy as np

COLOUR_STEP = 5
BLUE = 64


def frame_colour(index: int) -> tuple[int, int, int]:
    red = (index * COLOUR_STEP) % 256
    return red, 255 - red, BLUE


def write_video(
    path: Path | str,
    num_frames: int = 50,
    fps: int = 25,
    size: tuple[int, int] = (64, 48),
    audio: np.ndarray | None = None,
    audio_rate: int = 44100,
    codec: str = "h264",
    colour: tuple[int, int, int] | None = None,
) -> Path:
    """Write an mp4 of colour-coded frames plus, if given, an AAC track of ``audio``.

    ``audio`` is a (channels, n) float array in [-1, 1]; ``colour`` paints every frame the same
    (a static video) instead of coding each frame's index.
    """
    path = Path(path)
    width, height = size
    with av.open(str(path), mode="w") as container:
        vstream = container.add_stream(codec, rate=fps)
        vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
        astream = None
        if audio is not None:
            layout = "stereo" if audio.shape[0] == 2 else "mono"
            astream = container.add_stream("aac", rate=audio_rate, layout=layout)
        for index in range(num_frames):
            pixels = np.empty((height, width, 3), dtype=np.uint8)
            pixels[:] = frame_colour(index) if colour is None else colour
            for packet in vstream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in vstream.encode():
            container.mux(packet)
        if astream is not None:
            samples = np.ascontiguousarray(audio, dtype=np.float32)
            chunk = 1024  # AAC frame size
            for start in range(0, samples.shape[1], chunk):
                block = samples[:, start : start + chunk]
                frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=astream.layout.name)
                frame.sample_rate = audio_rate
                for packet in astream.encode(frame):
                    container.mux(packet)
            for packet in astream.encode():
                container.mux(packet)
    return path


def sine(
    seconds: float, rate: int = 44100, freq: float = 440.0, amplitude: float = 0.5, channels: int = 2
) -> np.ndarray:
    """(channels, n) float32 sine wave, identical in every channel."""
    t = np.arange(int(round(seconds * rate))) / rate
    wave = (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.repeat(wave[None], channels, axis=0)


def write_class_split(folder: Path, classes: Sequence[str], splits: Mapping[str, Sequence[tuple[str, str]]]) -> None:
    """Write a VGGSound-style ``class-split/`` folder: ``all_class.txt``, the name CSV (every class
    named as itself) and, per split, ``cls_split/<split>.csv`` rows of (video, class) and the
    split's sorted class list ``cls_split/<split>.txt``."""
    (folder / "cls_split").mkdir(parents=True)
    (folder / "all_class.txt").write_text("\n".join(classes) + "\n")
    with (folder / "vggsound_w2v_class_names.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["original", "manual", "category"])
        writer.writerows([c, c, "misc"] for c in classes)
    for split, rows in splits.items():
        with (folder / "cls_split" / f"{split}.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["youtube_id", "start_seconds", "label", "split", "filename", "label_code", "category"])
            writer.writerows([v, 0, c, "x", v, classes.index(c), "misc"] for v, c in rows)
        (folder / "cls_split" / f"{split}.txt").write_text("\n".join(sorted({c for _, c in rows})) + "\n")
