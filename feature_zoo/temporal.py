"""Temporal extraction (`extract --temporal`): one CLIP vector per second of video and one CLAP
vector per second of audio, written in the TCAF layout (one (steps, dim) sequence per video).

Steps (`CLIP_CLAP_TEMPORAL_STEP_S` of the dataset registry, which the reader uses too):

* video: the frame at the centre of every 1-s window, 0-based index floor((k + 0.5) · fps) for each
  k whose frame decodes, i.e. round-half-down(duration) steps; a video shorter than half a second
  gets its middle frame (the averaged recipe's). Clean preprocessing (true RGB), as for any new
  features: the `reference` quirks reproduce the released averaged vectors, and no temporal CLIP
  features were ever released to reproduce.
* audio: the whole track (not the averaged recipe's central 10 s) cut into consecutive 1-s windows,
  as many as the duration rounded half down (at least one), each zero-padded at the end to the
  encoder's 10-s input, exactly as the averaged recipe pads a clip shorter than 10 s. One second
  matches the video step, so both modalities step together, and is close to VGGish's 0.96 s, the
  audio step of TCAF's own features.

So a video of at most one second gets one step per modality, and that step is the averaged
recipe's vector (clean) for it. A CLAP window costs one full encoder pass, so audio costs about ten
times the averaged extraction per 10 s of video. Features are stored as float16 (the temporal
reader keeps float16 in memory anyway); `fps` is the stream's rounded frame rate.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from avgzsl_bench.datasets.builtin import CLIP_CLAP_TEMPORAL_DIR, CLIP_CLAP_TEMPORAL_STEP_S
from feature_zoo.backbones import AudioBackbone, VisualBackbone
from feature_zoo.cache import FeatureCache
from feature_zoo.decode import DecodedSequence, audio_windows, decode_sequence, window_count
from feature_zoo.extract import ExtractionReport, Extractor, VideoFeatures, _Pending
from feature_zoo.preprocess import CLEAN

STEP_S = CLIP_CLAP_TEMPORAL_STEP_S
FEATURE_DIR = CLIP_CLAP_TEMPORAL_DIR
FEATURE_DTYPE = "float16"
TEMPORAL_POLICY = replace(
    CLEAN,
    video_dtype=FEATURE_DTYPE,
    cache_tag=f"{CLEAN.cache_tag}-temporal-video{STEP_S['video']:g}s-audio{STEP_S['audio']:g}s",
)


def temporal_manifest() -> dict[str, object]:
    """What the manifest records about the steps (time stamp of step k = (k + 0.5) · step_s)."""
    return {
        "step_s": dict(STEP_S),
        "video_frame": "the frame at the centre of each step: index floor((k + 0.5) * step_s * fps)",
        "audio_window_s": STEP_S["audio"],
        "audio_hop_s": STEP_S["audio"],
        "audio_window_padding": "zero-padded at the end to the encoder's clip length",
        "steps": "duration / step_s rounded half down, at least 1, per modality",
    }


class TemporalExtractor(Extractor):
    """`Extractor` that encodes every step of a video; cache entries hold (steps, dim) arrays."""

    def __init__(
        self,
        visual: VisualBackbone,
        audio: AudioBackbone,
        cache: FeatureCache,
        batch_size: int = 16,
        workers: int = 2,
        missing_audio: str = "skip",
    ) -> None:
        super().__init__(visual, audio, cache, batch_size, workers, missing_audio, TEMPORAL_POLICY)

    @property
    def videos_per_encode(self) -> int:
        # one video's steps fill the encoder batches; a long video holds many decoded frames
        return 1

    @property
    def look_ahead(self) -> int:
        # ... so only about one decoded video per decoding thread waits for the encoders
        return self.workers + 1

    def _decode(self, path: Path) -> DecodedSequence:
        return decode_sequence(path, self.audio.sample_rate, STEP_S["video"])

    def _image(self, decoded: DecodedSequence) -> torch.Tensor:
        return torch.stack([self.visual.preprocess(f) for f in decoded.frames])

    def _waveform(self, decoded: DecodedSequence) -> np.ndarray:
        if decoded.audio is not None:
            return decoded.audio
        seconds = decoded.num_frames / decoded.fps
        return np.zeros(int(round(seconds * self.audio.sample_rate)), np.float32)

    def _encode_frames(self, images: torch.Tensor) -> np.ndarray:
        chunks = [
            self.visual.encode_images(images[i : i + self.batch_size]) for i in range(0, len(images), self.batch_size)
        ]
        return torch.cat(chunks).numpy().astype(np.float32)

    def _encode_windows(self, signal: np.ndarray) -> np.ndarray:
        rate, clip = self.audio.sample_rate, self.audio.clip_seconds
        steps = window_count(signal.shape[0] / rate, STEP_S["audio"])
        chunks = []
        for first in range(0, steps, self.batch_size):
            windows = audio_windows(signal, rate, STEP_S["audio"], clip, first, min(self.batch_size, steps - first))
            chunks.append(self.audio.encode_audio(torch.from_numpy(windows)))
        return torch.cat(chunks).numpy().astype(np.float32)

    def _encode(self, batch: list[_Pending], report: ExtractionReport) -> None:
        started = time.perf_counter()
        for item in batch:
            if item.visual is None:
                assert item.image is not None
                item.visual = self._encode_frames(item.image)
                self.cache.store(
                    "visual", item.file_hash, self.visual.identity, embedding=item.visual, fps=np.int64(item.fps)
                )
            if item.audio is None:
                assert item.waveform is not None
                item.audio = self._encode_windows(item.waveform)
                self.cache.store(
                    "audio", item.file_hash, self.audio.identity, embedding=item.audio, silent=np.bool_(item.silent)
                )
            item.image = item.waveform = None  # release the decoded inputs
            report.features[item.name] = VideoFeatures(item.visual, item.audio, item.fps, item.silent)
        report.encoded += len(batch)
        report.encode_seconds += time.perf_counter() - started
