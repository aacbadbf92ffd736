"""Write extraction results in the released ClipClap bundle layout (spec section 1).

``<out>/class-split/``                                       copy of the input split folder
``<out>/features/cls_features_non_averaged/{audio,video}/<split>/<Class>.pkl``
    dict: ``features`` (list of 1-D arrays: video float16 or float32 by recipe, audio float32),
    ``video_names`` (list of numpy.bytes_), ``fps`` (list of int); audio and video files list the
    same videos in the same order
``<out>/features/cls_features_non_averaged/text/<prefix>word_embeddings_<ds>_normed.npy``
    0-d object array of a dict class string -> float32 vector; the prefix names the text encoder
    ("" for CLIP, "wavcaps_" for WavCaps CLAP as released, "laion_clap_" for LAION-CLAP)
``<out>/features/cls_features_non_averaged/feature_zoo_manifest.json``
    recipe, backbones, dims, text file names, counts and the failed videos of the last run

Unlike the reference, ``video_names`` lists only videos that have features, so names and
features pair up one to one; classes left without any video get no file (they are listed in the
manifest under ``empty_classes``).
"""

from __future__ import annotations

import csv
import json
import pickle
import shutil
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from avgzsl_bench.datasets.spec import RELEASE_FEATURE_DIR
from feature_zoo.extract import VideoFeatures

MANIFEST_NAME = "feature_zoo_manifest.json"
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".flv", ".mpg", ".mpeg")


def read_split_lists(splits_dir: Path | str, zero_shot_split: str = "cls_split") -> dict[str, list[tuple[str, str]]]:
    """``{split: [(video name, class name), ...]}`` from ``<splits>/<zero_shot_split>/stage_*.csv``."""
    folder = Path(splits_dir) / zero_shot_split
    csv_files = sorted(folder.glob("stage_*.csv"))
    if not csv_files:
        raise FileNotFoundError(f"no stage_*.csv files in {folder}: --splits must be a class-split/ folder")
    splits: dict[str, list[tuple[str, str]]] = {}
    for path in csv_files:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = {"filename", "label"} - set(reader.fieldnames or ())
            if missing:
                raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
            splits[path.stem] = [(row["filename"], row["label"]) for row in reader]
    return splits


def find_videos(videos_dir: Path | str, names: set[str] | list[str]) -> dict[str, Path | None]:
    """Map each video name to ``<videos>/<name>.<ext>`` (None when absent); one directory scan, not a stat per name."""
    by_stem: dict[str, Path] = {}
    for path in sorted(Path(videos_dir).iterdir()):
        if path.suffix.lower() in VIDEO_EXTENSIONS and path.stem not in by_stem:
            by_stem[path.stem] = path
    return {name: by_stem.get(name) for name in names}


def feature_root(out_root: Path | str, feature_dir: str = RELEASE_FEATURE_DIR) -> Path:
    """``<out>/features/<feature_dir>``: the released ClipClap folder unless told otherwise (the
    temporal sequences have their own)."""
    return Path(out_root) / "features" / feature_dir


def copy_class_split(splits_dir: Path | str, out_root: Path | str) -> None:
    target = Path(out_root) / "class-split"
    if Path(splits_dir).resolve() != target.resolve():
        shutil.copytree(splits_dir, target, dirs_exist_ok=True)


def write_features(
    out_root: Path | str,
    splits: Mapping[str, list[tuple[str, str]]],
    features: Mapping[str, VideoFeatures],
    video_dtype: str = "float32",
    audio_dtype: str = "float32",
    feature_dir: str = RELEASE_FEATURE_DIR,
) -> list[str]:
    """Write the per-class pickles; returns ``"<split>/<class>"`` of classes that had no usable video.

    A video's features are one vector per modality, or (temporal) one (steps, dim) array each."""
    root = feature_root(out_root, feature_dir)
    dtypes = {"video": np.dtype(video_dtype), "audio": np.dtype(audio_dtype)}
    empty: list[str] = []
    for split, rows in splits.items():
        by_class: dict[str, list[str]] = {}
        for video, label in rows:
            by_class.setdefault(label, []).append(video)
        for label, videos in sorted(by_class.items()):
            kept = [video for video in videos if video in features]
            if not kept:
                empty.append(f"{split}/{label}")
                continue
            for modality, attribute in (("video", "visual"), ("audio", "audio")):
                payload = {
                    "features": [np.asarray(getattr(features[v], attribute), dtype=dtypes[modality]) for v in kept],
                    "video_names": [np.bytes_(v.encode("utf-8")) for v in kept],
                    "fps": [int(features[v].fps) for v in kept],
                }
                path = root / modality / split / f"{label}.pkl"
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("wb") as handle:
                    pickle.dump(payload, handle, protocol=4)
    return empty


def text_file_name(prefix: str, dataset: str) -> str:
    """``word_embeddings_<dataset>_normed.npy`` behind the encoder's prefix, as the released bundle names them."""
    return f"{prefix}word_embeddings_{dataset}_normed.npy"


def text_paths(
    out_root: Path | str,
    dataset: str,
    clip_prefix: str = "",
    clap_prefix: str = "wavcaps_",
    feature_dir: str = RELEASE_FEATURE_DIR,
) -> tuple[Path, Path]:
    """(CLIP-side file, CLAP-side file) for the encoders with these file prefixes."""
    text_dir = feature_root(out_root, feature_dir) / "text"
    return text_dir / text_file_name(clip_prefix, dataset), text_dir / text_file_name(clap_prefix, dataset)


def write_text(path: Path, embeddings: Mapping[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.array(dict(embeddings), dtype=object), allow_pickle=True)


def write_manifest(
    out_root: Path | str, manifest: Mapping[str, object], feature_dir: str = RELEASE_FEATURE_DIR
) -> Path:
    path = feature_root(out_root, feature_dir) / MANIFEST_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path
