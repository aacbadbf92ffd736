"""End-to-end: split CSVs + video folder -> cached embeddings -> released bundle layout."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from avgzsl_bench.datasets.spec import RELEASE_FEATURE_DIR
from avgzsl_bench.errors import BenchError
from avgzsl_bench.executors import Executor
from feature_zoo import __version__
from feature_zoo.backbones import AUDIO_BACKBONES, AudioBackbone, BackboneConfig, VisualBackbone
from feature_zoo.bundle_writer import (
    copy_class_split,
    find_videos,
    read_split_lists,
    text_file_name,
    text_paths,
    write_features,
    write_manifest,
    write_text,
)
from feature_zoo.cache import FeatureCache
from feature_zoo.extract import NOT_IN_FOLDER, UNREADABLE, WITHOUT_AUDIO, ExtractionReport, Extractor, failure_kind
from feature_zoo.preprocess import FramePolicy, default_preprocess, frame_policy
from feature_zoo.shards import map_shards
from feature_zoo.temporal import FEATURE_DIR as TEMPORAL_FEATURE_DIR
from feature_zoo.temporal import FEATURE_DTYPE as TEMPORAL_DTYPE
from feature_zoo.temporal import TEMPORAL_POLICY, TemporalExtractor, temporal_manifest
from feature_zoo.text import PROMPT_SETS, ensemble_embeddings, load_templates, prompt_class_names

TextProgress = Callable[[str, int, int], None]  # (label, prompts done, prompts in all)


@dataclass
class DatasetResult:
    report: ExtractionReport
    empty_classes: list[str]
    manifest_path: Path
    text_written: bool
    removed_text: list[Path] = field(default_factory=list)  # other encoders' CLAP text files, now stale


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


def _fill_cache(
    shard: list[tuple[str, Path]],
    *,
    backbones: BackboneConfig,
    cache_dir: str,
    batch_size: int,
    workers: int,
    missing_audio: str,
    policy: FramePolicy,
) -> list[str | None]:
    visual, audio = backbones.build()
    extractor = Extractor(
        visual,
        audio,
        FeatureCache(cache_dir, policy.cache_tag),
        batch_size=batch_size,
        workers=workers,
        missing_audio=missing_audio,
        policy=policy,
    )
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
    if hasattr(backbone, "text_tokenizer"):
        record["text_tokenizer"] = backbone.text_tokenizer
    return record


def feature_recipe(visual: VisualBackbone, audio: AudioBackbone, preprocess: str) -> str:
    """How tables name the features, e.g. "CLIP ViT-B/32 + WavCaps CLAP HTSAT-BERT, reference preprocessing"."""
    random_init = getattr(visual, "random_init", False) or getattr(audio, "random_init", False)
    return f"{visual.display_name} + {audio.display_name}, {preprocess} preprocessing" + (
        " (random init)" if random_init else ""
    )


def bundle_text_paths(
    out_root: Path | str,
    dataset: str,
    visual: VisualBackbone,
    audio: AudioBackbone,
    feature_dir: str = RELEASE_FEATURE_DIR,
) -> tuple[Path, Path]:
    """(CLIP text file, CLAP text file), each named for the encoder that writes it."""
    return text_paths(out_root, dataset, visual.text_file_prefix, audio.text_file_prefix, feature_dir)


def _remove_other_clap_text(clap_path: Path, dataset: str) -> list[Path]:
    # A bundle holds one CLAP text file: one left by another encoder would be read with these features.
    prefixes = {getattr(info.factory, "text_file_prefix", None) for info in AUDIO_BACKBONES.entries()} - {None}
    others = [clap_path.with_name(text_file_name(prefix, dataset)) for prefix in sorted(prefixes)]
    stale = [path for path in others if path != clap_path and path.is_file()]
    for path in stale:
        path.unlink()
    return stale


def write_text_embeddings(
    out_root: Path | str,
    splits_dir: Path | str,
    dataset: str,
    visual: VisualBackbone,
    audio: AudioBackbone,
    on_progress: TextProgress | None = None,
    feature_dir: str = RELEASE_FEATURE_DIR,
) -> list[Path]:
    """Both text files of the bundle: CLIP prompts through the visual backbone, CLAP prompts through the audio one.

    Returns the CLAP text files of other encoders that were removed from the folder.
    """
    names = prompt_class_names(splits_dir, dataset)
    prompt_set = PROMPT_SETS[dataset]
    clip_path, clap_path = bundle_text_paths(out_root, dataset, visual, audio, feature_dir)
    for path, encoder, backbone in ((clip_path, "clip", visual), (clap_path, "clap", audio)):
        label = f"text prompts ({encoder})"
        report = None if on_progress is None else (lambda done, total, label=label: on_progress(label, done, total))
        write_text(path, ensemble_embeddings(backbone.encode_texts, names, load_templates(encoder, prompt_set), report))
    return _remove_other_clap_text(clap_path, dataset)


def extract_dataset(
    videos_dir: Path | str,
    splits_dir: Path | str,
    out_root: Path | str,
    dataset: str,
    visual: VisualBackbone,
    audio: AudioBackbone,
    *,
    preprocess: str | None = None,
    cache_dir: Path | str | None = None,
    batch_size: int = 16,
    workers: int = 2,
    missing_audio: str = "skip",
    zero_shot_split: str = "cls_split",
    with_text: bool = True,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[str, str | None], None] | None = None,
    on_text_progress: TextProgress | None = None,
    shards: ShardedExtraction | None = None,
    temporal: bool = False,
    listing: VideoListing | None = None,
) -> DatasetResult:
    """Extract every video named in the split CSVs and write the bundle under ``out_root``.

    ``preprocess`` is "reference" or "clean" (``feature_zoo.preprocess``); None = the dataset's default.
    ``temporal``: one vector per second per modality in the TCAF layout (``feature_zoo.temporal``),
    under ``features/clip_clap_features_non_averaged/``; clean preprocessing only, no shards.
    ``listing``: what ``prepare_extraction`` returned for these same arguments (a caller that checks
    before building backbones); None: it is made here.
    """
    if dataset not in PROMPT_SETS:
        raise ValueError(f"unknown dataset {dataset!r}; known: {sorted(PROMPT_SETS)}")
    if listing is None:
        listing = prepare_extraction(
            videos_dir, splits_dir, zero_shot_split, temporal=temporal, preprocess=preprocess, local=shards is None
        )
    splits, videos, where = listing.splits, listing.videos, listing.where
    preprocess = "clean" if temporal else preprocess or default_preprocess(dataset)
    policy = TEMPORAL_POLICY if temporal else frame_policy(preprocess, dataset)
    feature_dir = TEMPORAL_FEATURE_DIR if temporal else RELEASE_FEATURE_DIR
    if on_start is not None:
        on_start(len(videos))
    cache = FeatureCache(cache_dir if cache_dir is not None else default_cache_dir(out_root), policy.cache_tag)
    if shards is not None:
        fill = functools.partial(
            _fill_cache,
            backbones=shards.backbones,
            cache_dir=str(cache.root),
            batch_size=batch_size,
            workers=workers,
            missing_audio=missing_audio,
            policy=policy,
        )
        with shards.executor as executor:
            map_shards(fill, sorted(videos.items()), executor, shard_size=shards.shard_size, description="video shards")
    extractor = (
        TemporalExtractor(visual, audio, cache, batch_size=batch_size, workers=workers, missing_audio=missing_audio)
        if temporal
        else Extractor(
            visual, audio, cache, batch_size=batch_size, workers=workers, missing_audio=missing_audio, policy=policy
        )
    )
    report = extractor.run(videos, on_progress=on_progress)
    _refuse_empty_splits(splits, report, where)

    copy_class_split(splits_dir, out_root)
    audio_dtype = TEMPORAL_DTYPE if temporal else "float32"
    empty = write_features(out_root, splits, report.features, policy.video_dtype, audio_dtype, feature_dir)
    removed = []
    if with_text:
        removed = write_text_embeddings(
            out_root, splits_dir, dataset, visual, audio, on_progress=on_text_progress, feature_dir=feature_dir
        )
    manifest = _manifest(dataset, zero_shot_split, policy, visual, audio, out_root, feature_dir)
    manifest["feature_dtype"] = {"video": policy.video_dtype, "audio": audio_dtype}
    if temporal:
        manifest["temporal"] = temporal_manifest()
    manifest.update(_outcome(len(videos), report, empty, with_text))
    path = write_manifest(out_root, manifest, feature_dir)
    return DatasetResult(
        report=report, empty_classes=empty, manifest_path=path, text_written=with_text, removed_text=removed
    )


@dataclass(frozen=True)
class SplitFiles:
    """Where the videos are and where the split lists are, to name them in messages."""

    videos: Path
    lists: Path

    def csv(self, split: str) -> Path:
        return self.lists / f"{split}.csv"


@dataclass(frozen=True)
class VideoListing:
    """The split lists and each listed video's file (None: not in the folder), found by one walk."""

    splits: dict[str, list[tuple[str, str]]]
    videos: dict[str, Path | None]
    where: SplitFiles


def prepare_extraction(
    videos_dir: Path | str,
    splits_dir: Path | str,
    zero_shot_split: str = "cls_split",
    *,
    temporal: bool = False,
    preprocess: str | None = None,
    local: bool = True,
) -> VideoListing:
    """Everything an extraction checks before any model loads (building backbones and encoding a
    large dataset take long): the limits of ``temporal`` extraction, then the video folder, walked once."""
    if temporal:
        _check_temporal(preprocess, local)
    return _locate_videos(videos_dir, splits_dir, zero_shot_split)


def _locate_videos(videos_dir: Path | str, splits_dir: Path | str, zero_shot_split: str = "cls_split") -> VideoListing:
    """The split lists and each listed video's file. Refuses a split none of whose videos is there,
    which would make an unusable bundle."""
    splits = read_split_lists(splits_dir, zero_shot_split)
    videos = find_videos(videos_dir, sorted({video for rows in splits.values() for video, _ in rows}))
    where = SplitFiles(Path(videos_dir), Path(splits_dir) / zero_shot_split)
    for split, rows in splits.items():
        if rows and all(videos[name] is None for name, _ in rows):
            raise BenchError(
                f"none of the {len(rows)} video(s) listed for split '{split}' ({where.csv(split)}) is in "
                f"{where.videos}: --videos must be the folder holding <filename>.mp4 (or .avi, .mkv, ...) "
                "for the CSV's filename column"
            )
    return VideoListing(splits, videos, where)


def _refuse_empty_splits(splits: dict[str, list[tuple[str, str]]], report: ExtractionReport, where: SplitFiles):
    """A split with no extracted video would make an unusable bundle: say why each of its videos failed."""
    for split, rows in splits.items():
        if not rows or any(name in report.features for name, _ in rows):
            continue
        reasons = [report.failures[name] for name, _ in rows]
        kinds = [failure_kind(reason) for reason in reasons]
        counts = ", ".join(
            f"{kinds.count(kind)} {kind}" for kind in (NOT_IN_FOLDER, UNREADABLE, WITHOUT_AUDIO) if kind in kinds
        )
        example = next(f"{name}: {reason}" for (name, _), reason in zip(rows, reasons))
        raise BenchError(
            f"nothing was extracted for split '{split}' ({len(rows)} videos listed in {where.csv(split)}, "
            f"looked up in {where.videos}): {counts} (e.g. {example}); no bundle was written"
        )


def _manifest(
    dataset: str,
    zero_shot_split: str,
    policy: FramePolicy,
    visual: VisualBackbone,
    audio: AudioBackbone,
    out_root: Path | str,
    feature_dir: str = RELEASE_FEATURE_DIR,
) -> dict[str, object]:
    """What produced the bundle: the recipe, the backbones, and which file holds which text embeddings."""
    clip_path, clap_path = bundle_text_paths(out_root, dataset, visual, audio, feature_dir)
    return {
        "feature_zoo_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "dataset": dataset,
        "zero_shot_split": zero_shot_split,
        "preprocess": policy.mode,
        "preprocess_version": policy.cache_tag,
        "feature_recipe": feature_recipe(visual, audio, policy.mode),
        "visual": backbone_record(visual),
        "audio": backbone_record(audio),
        "dims": {"video": visual.dim, "audio": audio.dim, "clip_text": visual.text_dim, "clap_text": audio.text_dim},
        "random_init": bool(getattr(visual, "random_init", False) or getattr(audio, "random_init", False)),
        "fps": policy.fixed_fps if policy.fixed_fps is not None else "stream frame rate, rounded",
        "text_files": {"clip": clip_path.name, "clap": clap_path.name},
    }


def _check_temporal(preprocess: str | None, local: bool) -> None:
    if preprocess not in (None, "clean"):
        raise BenchError(
            f"--temporal extracts with clean preprocessing only, not --preprocess {preprocess}: the reference "
            "quirks reproduce the released averaged features, and no temporal CLIP/CLAP features were released"
        )
    if not local:
        raise BenchError("--temporal runs on the local machine only: drop --executor (or use --executor local)")


def _outcome(videos: int, report: ExtractionReport, empty: list[str], with_text: bool) -> dict[str, object]:
    absent = report.failed(NOT_IN_FOLDER)
    return {
        "counts": {
            "videos": videos,
            "extracted": len(report.features),
            "from_cache": report.cached,
            "encoded": report.encoded,
            "not_in_folder": len(absent),
            "unreadable": len(report.failed(UNREADABLE)),
            "no_audio": len(report.failed(WITHOUT_AUDIO)),
        },
        "not_in_folder": sorted(absent),
        # Files that were there but gave no features (unreadable, no audio track), with the reason.
        "failed_videos": {name: reason for name, reason in sorted(report.failures.items()) if name not in absent},
        "silent_audio_videos": sorted(report.silent_audio),
        "empty_classes": empty,
        "text_written": with_text,
    }
