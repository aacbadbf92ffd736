"""Batched extraction: decode on CPU worker threads, encode in batches on the device, cache per video.

PyAV and hashlib release the GIL, so a thread pool keeps several videos decoding while the main
thread runs the encoders; a bounded look-ahead keeps memory flat on large datasets.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from feature_zoo.backbones import AudioBackbone, VisualBackbone
from feature_zoo.cache import FeatureCache, file_sha256
from feature_zoo.decode import DecodeError, decode_video
from feature_zoo.preprocess import CLEAN, FramePolicy, NoFrame

T = TypeVar("T")
MISSING_AUDIO_POLICIES = ("skip", "silence")
NOT_FOUND = "video file not found"
NO_AUDIO = "no audio track (skipped like the reference; use --missing-audio silence to keep it)"
# Why a listed video has no features, as reports count them: absent, skipped by policy, or broken.
NOT_IN_FOLDER, WITHOUT_AUDIO, UNREADABLE = "not in folder", "no audio", "unreadable"


def failure_kind(reason: str) -> str:
    """The report category of a failure reason: NOT_IN_FOLDER, WITHOUT_AUDIO or UNREADABLE."""
    if reason == NOT_FOUND:
        return NOT_IN_FOLDER
    return WITHOUT_AUDIO if reason == NO_AUDIO else UNREADABLE


@dataclass(frozen=True)
class VideoFeatures:
    visual: (
        np.ndarray
    )  # (visual dim,) float32, L2-normalised (the bundle may store it as float16); temporal: (steps, dim)
    audio: np.ndarray
    fps: int
    silent: bool = False  # no audio track; ``audio`` is the embedding of 10 s of silence


@dataclass
class ExtractionReport:
    features: dict[str, VideoFeatures] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # video name -> reason (missing, corrupt, no audio)
    encoded: int = 0  # videos that needed at least one encoder call
    cached: int = 0  # videos served entirely from the cache
    decode_seconds: float = 0.0  # summed over worker threads
    encode_seconds: float = 0.0
    wall_seconds: float = 0.0

    def failed(self, kind: str) -> dict[str, str]:
        """The failures of one `failure_kind` (name -> reason)."""
        return {name: reason for name, reason in sorted(self.failures.items()) if failure_kind(reason) == kind}

    @property
    def silent_audio(self) -> list[str]:
        """Videos without an audio track that were kept (``missing_audio="silence"``)."""
        return sorted(name for name, item in self.features.items() if item.silent)


@dataclass
class _Pending:
    """A decoded video waiting for the next encoder batch; None = that modality is already cached."""

    name: str
    file_hash: str
    fps: int
    image: torch.Tensor | None
    waveform: np.ndarray | None
    visual: np.ndarray | None = None
    audio: np.ndarray | None = None
    silent: bool = False


def _bounded_map(pool: ThreadPoolExecutor, fn: Callable[..., T], items: Iterable[tuple], ahead: int) -> Iterator[T]:
    """Like ``pool.map`` but with at most ``ahead`` tasks in flight, results in input order."""
    queue: deque[Future[T]] = deque()
    for item in items:
        queue.append(pool.submit(fn, *item))
        if len(queue) >= ahead:
            yield queue.popleft().result()
    while queue:
        yield queue.popleft().result()


class Extractor:
    """Turns video files into (visual, audio) embeddings, reusing and filling a :class:`FeatureCache`.

    ``policy`` is the visual preprocessing recipe (``feature_zoo.preprocess``); cache entries are
    keyed by its tag, so a cache folder can hold both recipes without mixing them.
    """

    def __init__(
        self,
        visual: VisualBackbone,
        audio: AudioBackbone,
        cache: FeatureCache,
        batch_size: int = 16,
        workers: int = 2,
        missing_audio: str = "skip",
        policy: FramePolicy = CLEAN,
    ) -> None:
        if missing_audio not in MISSING_AUDIO_POLICIES:
            raise ValueError(f"missing_audio must be one of {MISSING_AUDIO_POLICIES}")
        if cache.version != policy.cache_tag:
            cache = FeatureCache(cache.root, policy.cache_tag)
        self.visual, self.audio, self.cache, self.policy = visual, audio, cache, policy
        self.batch_size, self.workers, self.missing_audio = max(1, batch_size), max(1, workers), missing_audio
        self._clip_samples = int(round(audio.clip_seconds * audio.sample_rate))

    @property
    def videos_per_encode(self) -> int:
        """Decoded videos collected before the encoders run on them."""
        return self.batch_size

    @property
    def look_ahead(self) -> int:
        """Videos decoded ahead of the encoders (bounds the memory of decoded inputs)."""
        return 2 * self.batch_size

    def _prepare(self, name: str, path: Path | None) -> tuple[VideoFeatures | _Pending | str, float]:
        """Worker thread: hash, look up the cache, decode only what is missing.

        Returns (result, seconds spent); a ``str`` result is the reason the video failed.
        """
        started = time.perf_counter()
        result = self._prepare_one(name, path)
        return result, time.perf_counter() - started

    def _prepare_one(self, name: str, path: Path | None) -> VideoFeatures | _Pending | str:
        if path is None or not path.is_file():
            return NOT_FOUND
        try:
            file_hash = file_sha256(path)
            visual = self.cache.load("visual", file_hash, self.visual.identity)
            audio = self.cache.load("audio", file_hash, self.audio.identity)
            if audio is not None and bool(audio["silent"]) and self.missing_audio == "skip":
                return NO_AUDIO
            if visual is not None and audio is not None:
                silent = bool(audio["silent"])
                return VideoFeatures(visual["embedding"], audio["embedding"], int(visual["fps"]), silent)
            decoded = self._decode(path)
            silent = decoded.audio is None
            if silent and self.missing_audio == "skip":
                return NO_AUDIO
            return _Pending(
                name=name,
                file_hash=file_hash,
                fps=self.policy.fps(decoded.fps),
                image=None if visual is not None else self._image(decoded),
                waveform=None if audio is not None else self._waveform(decoded),
                visual=None if visual is None else visual["embedding"],
                audio=None if audio is None else audio["embedding"],
                silent=silent,
            )
        except DecodeError as error:
            return f"unreadable video: {error}"
        except NoFrame as error:
            return str(error)
        except OSError as error:
            return f"cannot read file: {error}"

    # -- what a subclass decodes and feeds the encoders (decoding runs in the worker threads) -----
    def _decode(self, path: Path) -> Any:
        """Decode one video file: the result has ``fps`` and ``audio`` (None: no audio track)."""
        return decode_video(path, self.audio.sample_rate, self.audio.clip_seconds, self.policy.frame_rule)

    def _image(self, decoded: Any) -> torch.Tensor:
        """The visual encoder's input from ``_decode``'s result."""
        return self.policy.image(decoded.frame, decoded.frame_index, decoded.size, self.visual.preprocess)

    def _waveform(self, decoded: Any) -> np.ndarray:
        """The audio encoder's input from ``_decode``'s result; silence where the video has no audio."""
        return np.zeros(self._clip_samples, np.float32) if decoded.audio is None else decoded.audio

    def _encode(self, batch: list[_Pending], report: ExtractionReport) -> None:
        started = time.perf_counter()
        need_visual = [item for item in batch if item.visual is None]
        if need_visual:
            embeddings = self.visual.encode_images(torch.stack([item.image for item in need_visual]))
            for item, embedding in zip(need_visual, embeddings.numpy().astype(np.float32)):
                item.visual = embedding
                self.cache.store(
                    "visual", item.file_hash, self.visual.identity, embedding=embedding, fps=np.int64(item.fps)
                )
        need_audio = [item for item in batch if item.audio is None]
        if need_audio:
            waveforms = torch.from_numpy(np.stack([item.waveform for item in need_audio]))
            embeddings = self.audio.encode_audio(waveforms)
            for item, embedding in zip(need_audio, embeddings.numpy().astype(np.float32)):
                item.audio = embedding
                self.cache.store(
                    "audio", item.file_hash, self.audio.identity, embedding=embedding, silent=np.bool_(item.silent)
                )
        for item in batch:
            report.features[item.name] = VideoFeatures(item.visual, item.audio, item.fps, item.silent)
        report.encoded += len(batch)
        report.encode_seconds += time.perf_counter() - started

    def run(
        self,
        videos: Mapping[str, Path | None],
        on_progress: Callable[[str, str | None], None] | None = None,
    ) -> ExtractionReport:
        """Extract every video in ``videos`` (name -> path, None = not found).

        Failing videos are recorded in ``report.failures`` and never stop the run;
        ``on_progress(name, failure_reason_or_None)`` is called once per video.
        """
        report = ExtractionReport()
        started = time.perf_counter()
        names = sorted(videos)
        pending: list[_Pending] = []
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="feature-zoo-decode") as pool:
            items = ((name, videos[name]) for name in names)
            results = _bounded_map(pool, self._prepare, items, ahead=self.look_ahead)
            for name, (result, seconds) in zip(names, results):
                report.decode_seconds += seconds
                if isinstance(result, str):
                    report.failures[name] = result
                elif isinstance(result, VideoFeatures):
                    report.features[name] = result
                    report.cached += 1
                else:
                    pending.append(result)
                    if len(pending) >= self.videos_per_encode:
                        self._encode(pending, report)
                        pending = []
                if on_progress is not None:
                    on_progress(name, report.failures.get(name))
            if pending:
                self._encode(pending, report)
        report.wall_seconds = time.perf_counter() - started
        return report
