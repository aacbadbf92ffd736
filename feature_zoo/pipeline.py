"""End-to-end: split CSVs + video folder -> cached embeddings -> released bundle layout."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from feature_zoo import __version__
from avgzsl_bench.executors import Executor
from feature_zoo.shards import map_shards
from feature_zoo.backbones import AudioBackbone, BackboneConfig, VisualBackbone
from feature_zoo.bundle_writer import (
    copy_class_split,
    find_videos,
    read_split_lists,
    text_paths,
    write_features,
    write_manifest,
    write_text,
)
from feature_zoo.cache import PREPROCESS_VERSION, FeatureCache
from feature_zoo.extract import ExtractionReport, Extractor
from feature_zoo.text import PROMPT_SETS, ensemble_embeddings, load_templates, prompt_class_names


@dataclass
class DatasetResult:
    report: ExtractionReport
    empty_classes: list[str]
    manifest_path: Path
    text_written: bool


@dataclass(frozen=True)
class ShardedExtraction:
    """Fill the feature cache in shards on an executor (Ray, SLURM) before the bundle is written.

    Each shard builds its own backbones from `backbones` and writes to the shared cache (atomic
    per entry); the final local pass then only reads the cache. The cache folder and the videos
    must be on a filesystem every worker sees.
    """

    backbones: BackboneConfig
    executor: Executor
    shard_size: int = 512


def _fill_cache(shard: list[tuple[str, Path]], *, backbones: BackboneConfig, cache_dir: str, batch_size: int,
                workers: int, missing_audio: str) -> list[str | None]:
    visual, audio = backbones.build()
    extractor = Extractor(visual, audio, FeatureCache(cache_dir), batch_size=batch_size, workers=workers,
                          missing_audio=missing_audio)
    report = extractor.run(dict(shard))
    return [report.failures.get(name) for name, _ in shard]


def default_cache_dir(out_root: Path | str) -> Path:
    return Path(out_root) / ".feature_zoo_cache"


def backbone_record(backbone: VisualBackbone | AudioBackbone) -> dict[str, object]:
    record: dict[str, object] = {
        "name": backbone.name,
        "identity": backbone.identity,
        "dim": backbone.dim,
        "text_dim": getattr(backbone, "text_dim", None),
        "random_init": bool(getattr(backbone, "random_init", False)),
    }
    if hasattr(backbone, "sample_rate"):
        record["sample_rate"] = backbone.sample_rate
        record["clip_seconds"] = backbone.clip_seconds
    return record


def write_text_embeddings(
    out_root: Path | str, splits_dir: Path | str, dataset: str, visual: VisualBackbone, audio: AudioBackbone
) -> None:
    """Both text files of the bundle: CLIP prompts through the visual backbone, CLAP prompts through the audio one."""
    names = prompt_class_names(splits_dir, dataset)
    prompt_set = PROMPT_SETS[dataset]
    clip_path, clap_path = text_paths(out_root, dataset)
    write_text(clip_path, ensemble_embeddings(visual.encode_texts, names, load_templates("clip", prompt_set)))
    write_text(clap_path, ensemble_embeddings(audio.encode_texts, names, load_templates("clap", prompt_set)))


def extract_dataset(
    videos_dir: Path | str,
    splits_dir: Path | str,
    out_root: Path | str,
    dataset: str,
    visual: VisualBackbone,
    audio: AudioBackbone,
    *,
    cache_dir: Path | str | None = None,
    batch_size: int = 16,
    workers: int = 2,
    missing_audio: str = "skip",
    zero_shot_split: str = "cls_split",
    with_text: bool = True,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[str, str | None], None] | None = None,
    shards: ShardedExtraction | None = None,
) -> DatasetResult:
    """Extract every video named in the split CSVs and write the bundle under ``out_root``."""
    if dataset not in PROMPT_SETS:
        raise ValueError(f"unknown dataset {dataset!r}; known: {sorted(PROMPT_SETS)}")
    splits = read_split_lists(splits_dir, zero_shot_split)
    names = sorted({video for rows in splits.values() for video, _ in rows})
    videos = find_videos(videos_dir, names)
    if on_start is not None:
        on_start(len(videos))
    cache = FeatureCache(cache_dir if cache_dir is not None else default_cache_dir(out_root))
    if shards is not None:
        fill = functools.partial(_fill_cache, backbones=shards.backbones, cache_dir=str(cache.root),
                                 batch_size=batch_size, workers=workers, missing_audio=missing_audio)
        with shards.executor as executor:
            map_shards(fill, sorted(videos.items()), executor, shard_size=shards.shard_size,
                       description="video shards")
    extractor = Extractor(visual, audio, cache, batch_size=batch_size, workers=workers, missing_audio=missing_audio)
    report = extractor.run(videos, on_progress=on_progress)

    copy_class_split(splits_dir, out_root)
    empty = write_features(out_root, splits, report.features)
    if with_text:
        write_text_embeddings(out_root, splits_dir, dataset, visual, audio)
    manifest = {
        "feature_zoo_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "dataset": dataset,
        "zero_shot_split": zero_shot_split,
        "preprocess_version": PREPROCESS_VERSION,
        "visual": backbone_record(visual),
        "audio": backbone_record(audio),
        "dims": {"video": visual.dim, "audio": audio.dim, "clip_text": visual.text_dim, "clap_text": audio.text_dim},
        "random_init": bool(getattr(visual, "random_init", False) or getattr(audio, "random_init", False)),
        "feature_dtype": "float32",
        "counts": {
            "videos": len(videos),
            "extracted": len(report.features),
            "from_cache": report.cached,
            "encoded": report.encoded,
            "failed": len(report.failures),
        },
        "failed_videos": dict(sorted(report.failures.items())),
        "silent_audio_videos": sorted(report.silent_audio),
        "empty_classes": empty,
    }
    path = write_manifest(out_root, manifest)
    return DatasetResult(report=report, empty_classes=empty, manifest_path=path, text_written=with_text)
