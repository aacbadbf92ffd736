"""Loader for the released ClipClap CLIP/CLAP feature bundle (spec sections 1, 2.1-2.3).

`load_bundle(root, "ucf")` reads one dataset folder of the released `data.zip`::

    <root>/class-split/all_class.txt, <split>/stage_*.txt, <ds> name CSV
    <root>/features/cls_features_non_averaged/{audio,video}/<stage folder>/<ClassName>.pkl
    <root>/features/cls_features_non_averaged/text/{word_embeddings,wavcaps_word_embeddings}_<ds>_normed.npy

and returns a `GZSLDataset` with the four protocol splits (train / val / train_val / test).

Differences from the reference loader, all deliberate:

* files are read in sorted file-name order (the reference uses filesystem order);
* text embeddings are attached to classes by *name* (npy key -> name CSV -> class id); the reference's
  positional attachment, which gives 8 ActivityNet and 205 VGGSound classes another class's text,
  is available as ``legacy_text_order=True`` (spec 1.6);
* sample names are the decoded video names (``v_Archery_g01_c01``), not ``str(bytes)``;
* the fast cache (one ``torch.save`` file, see `default_cache_dir`) is keyed by the size and mtime of
  every source file and by the load options, so a changed bundle is never silently shadowed by a
  stale cache (the reference's ``_features_processed`` cache ignores both, spec 1.7).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import pickle
import tempfile
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from avgzsl_bench.data import (
    AUDIO_DIM, CLAP_TEXT_DIM, CLIP_TEXT_DIM, VIDEO_DIM, FeatureSplit, GZSLDataset, TextEmbeddings,
)
from avgzsl_bench.errors import BenchError

LOADER_VERSION = 1
CACHE_FORMAT = "avgzsl_bench.bundle-cache"
CACHE_ENV = "AVGZSL_BENCH_CACHE"
FEATURE_METHOD = "cls_features_non_averaged"
MODALITIES = ("audio", "video")


@dataclass(frozen=True)
class DatasetSpec:
    """Per-dataset naming rules of the release (spec 1.3-1.5, 1.8)."""

    key: str  # "ucf", "activitynet", "vggsound"
    display: str  # folder name of the release: UCF, ActivityNet, VGGSound
    name_csv: str  # class-split/<name_csv>
    prompt_column: str  # column of name_csv holding the npy dict keys
    lower_case: bool  # class lookups are lower-cased (UCF, ActivityNet)

    @property
    def clip_text_file(self) -> str:
        return f"word_embeddings_{self.key}_normed.npy"

    @property
    def clap_text_file(self) -> str:
        return f"wavcaps_word_embeddings_{self.key}_normed.npy"

    def lookup_key(self, name: str) -> str:
        return name.lower() if self.lower_case else name


DATASET_SPECS: dict[str, DatasetSpec] = {
    "ucf": DatasetSpec("ucf", "UCF", "ucf_clip_class_names.csv", "clip_class_name", True),
    "activitynet": DatasetSpec("activitynet", "ActivityNet", "activitynet_w2v_class_names.csv", "manual", True),
    "vggsound": DatasetSpec("vggsound", "VGGSound", "vggsound_w2v_class_names.csv", "manual", False),
}

# Stage folders the loader reads (stage_2_train is never read: spec 1.1 / 2.1).
STAGE_FOLDERS = ("stage_1_train", "stage_1_val_seen", "stage_1_val_unseen", "stage_2_test_seen", "stage_2_test_unseen")


@dataclass(frozen=True)
class SplitRecipe:
    folders: tuple[str, ...]
    seen_lists: tuple[str, ...]
    unseen_lists: tuple[str, ...]


# Spec 2.1: which stage folders make which protocol split, and which .txt lists define its classes.
SPLIT_RECIPES: dict[str, SplitRecipe] = {
    "train": SplitRecipe(("stage_1_train",), ("stage_1_train",), ()),
    "val": SplitRecipe(("stage_1_val_seen", "stage_1_val_unseen"), ("stage_1_val_seen",), ("stage_1_val_unseen",)),
    "train_val": SplitRecipe(("stage_1_train", "stage_1_val_seen", "stage_1_val_unseen"),
                             ("stage_1_train", "stage_1_val_unseen"), ()),
    "test": SplitRecipe(("stage_2_test_seen", "stage_2_test_unseen"), ("stage_2_test_seen",), ("stage_2_test_unseen",)),
}


def default_cache_dir() -> Path:
    """`$AVGZSL_BENCH_CACHE` if set, else `~/.cache/avgzsl_bench`."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "avgzsl_bench"


def dataset_spec(dataset: str) -> DatasetSpec:
    key = str(dataset).strip().lower()
    if key not in DATASET_SPECS:
        raise BenchError(
            f"unknown released dataset '{dataset}'; choose one of {', '.join(DATASET_SPECS)} "
            "(case does not matter)"
        )
    return DATASET_SPECS[key]


# ---------------------------------------------------------------------------------------------------------------------
# Layout


@dataclass(frozen=True)
class _Layout:
    root: Path
    spec: DatasetSpec
    split: str
    class_split: Path
    all_class: Path
    split_dir: Path
    name_csv: Path
    features: Path
    text_dir: Path

    def split_txt(self, stage: str) -> Path:
        return self.split_dir / f"{stage}.txt"

    def folder(self, modality: str, stage: str) -> Path:
        return self.features / modality / stage

    @property
    def clip_text(self) -> Path:
        return self.text_dir / self.spec.clip_text_file

    @property
    def clap_text(self) -> Path:
        return self.text_dir / self.spec.clap_text_file


def _locate(root: str | Path, spec: DatasetSpec, split: str) -> _Layout:
    """Check that the bundle's folders and split files exist; no file content is read here."""
    root_path = Path(root).expanduser()
    if not root_path.is_dir():
        raise BenchError(
            f"bundle root '{root_path}' does not exist or is not a folder; pass the {spec.display} dataset folder "
            "of the released feature bundle (the one holding class-split/ and features/)"
        )
    root_path = root_path.resolve()
    class_split = root_path / "class-split"
    if not class_split.is_dir():
        raise BenchError(
            f"'{class_split}' is missing; --root must be the {spec.display} dataset folder of the released bundle "
            "(it contains class-split/ and features/), not its parent or the features folder"
        )
    all_class = class_split / "all_class.txt"
    if not all_class.is_file():
        raise BenchError(f"'{all_class}' is missing; restore class-split/ from the released bundle")
    split_dir = class_split / split
    if not split_dir.is_dir():
        available = sorted(p.name for p in class_split.iterdir() if p.is_dir())
        raise BenchError(
            f"class split folder '{split_dir}' is missing (available: {available or 'none'}); "
            "restore it from the released bundle or pass split= one of the available folders"
        )
    for stage in STAGE_FOLDERS:
        txt = split_dir / f"{stage}.txt"
        if not txt.is_file():
            raise BenchError(f"split file '{txt}' is missing; restore class-split/{split}/ from the released bundle")
    features = root_path / "features" / FEATURE_METHOD
    if not features.is_dir():
        raise BenchError(
            f"features folder '{features}' is missing; unpack the bundle's features/{FEATURE_METHOD}/ "
            f"into '{root_path}'"
        )
    for modality in MODALITIES:
        for stage in STAGE_FOLDERS:
            folder = features / modality / stage
            if not folder.is_dir():
                raise BenchError(
                    f"feature folder '{folder}' is missing; the bundle needs {modality}/<stage>/<ClassName>.pkl for "
                    f"every stage ({', '.join(STAGE_FOLDERS)}): re-download or re-extract it"
                )
    text_dir = features / "text"
    return _Layout(root_path, spec, split, class_split, all_class, split_dir, class_split / spec.name_csv,
                   features, text_dir)


def _pkl_names(folder: Path) -> list[str]:
    with os.scandir(folder) as entries:
        return sorted(e.name for e in entries if e.name.endswith(".pkl") and not e.name.startswith("."))


def _source_files(layout: _Layout) -> list[str]:
    """Every file a fresh load may read, relative to the root (the cache key covers exactly these)."""
    root = layout.root
    fixed = [layout.all_class, layout.name_csv, layout.clip_text, layout.clap_text]
    fixed += [layout.split_txt(stage) for stage in STAGE_FOLDERS]
    files = [os.path.relpath(path, root) for path in fixed]
    for modality in MODALITIES:
        for stage in STAGE_FOLDERS:
            prefix = os.path.join("features", FEATURE_METHOD, modality, stage)
            files += [os.path.join(prefix, name) for name in _pkl_names(layout.folder(modality, stage))]
    return files


def _cache_key(layout: _Layout, legacy_text_order: bool) -> str:
    entries = []
    root = str(layout.root)
    for relative in _source_files(layout):
        try:
            stat = os.stat(os.path.join(root, relative))
            entries.append([relative, stat.st_size, stat.st_mtime_ns])
        except FileNotFoundError:
            entries.append([relative, None, None])
    identity = {
        "format": CACHE_FORMAT, "loader_version": LOADER_VERSION, "root": root,
        "dataset": layout.spec.key, "split": layout.split, "legacy_text_order": bool(legacy_text_order),
        "files": entries,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


# ---------------------------------------------------------------------------------------------------------------------
# Small readers


def _read_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise BenchError(f"cannot read '{path}' ({error}); restore it from the released bundle") from error
    return [line.strip() for line in text.splitlines() if line.strip()]


def _read_name_csv(path: Path, column: str) -> dict[str, str]:
    """prompt name (npy key) -> original class name."""
    if not path.is_file():
        raise BenchError(
            f"name table '{path}' is missing; it maps the text-embedding keys to class names. Restore it from the "
            "released class-split/ folder (or pass legacy_text_order=True to attach text by position)"
        )
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            fields = list(reader.fieldnames or [])
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise BenchError(f"cannot read name table '{path}' ({error}); restore it from the released bundle") from error
    for needed in ("original", column):
        if not fields or needed not in fields:
            raise BenchError(
                f"name table '{path}' has no column '{needed}' (columns: {fields or 'none'}); restore the file "
                "from the released class-split/ folder"
            )
    mapping: dict[str, str] = {}
    for row in rows:
        prompt, original = (row[column] or "").strip(), (row["original"] or "").strip()
        if not prompt or not original:
            continue
        if prompt in mapping and mapping[prompt] != original:
            raise BenchError(
                f"name table '{path}': prompt name '{prompt}' (column '{column}') maps to both "
                f"'{mapping[prompt]}' and '{original}'; each prompt name must name one class"
            )
        mapping[prompt] = original
    return mapping


def _read_pickle(path: Path) -> dict:
    try:
        with path.open("rb") as handle, warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # numpy-1.x pickles refer to numpy.core
            obj = pickle.load(handle)
    except Exception as error:  # noqa: BLE001 - any unpickling failure means a broken file
        raise BenchError(
            f"cannot read feature file '{path}' ({type(error).__name__}: {error}); the file is truncated or "
            "corrupt: re-download or re-extract it"
        ) from error
    if not isinstance(obj, dict):
        raise BenchError(
            f"feature file '{path}' holds a {type(obj).__name__}, expected a dict with keys 'features', "
            "'video_names', 'fps'; re-extract it with the release's feature-extraction scripts"
        )
    missing = [key for key in ("features", "video_names") if key not in obj]
    if missing:
        raise BenchError(
            f"feature file '{path}' lacks key(s) {missing} (has {sorted(map(str, obj))}); each per-class pickle "
            "needs 'features' (list of vectors) and 'video_names'; re-extract it"
        )
    return obj


def _read_text_dict(path: Path, what: str) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise BenchError(
            f"{what} text embeddings '{path}' are missing; unpack the bundle's features/{FEATURE_METHOD}/text/ folder"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            loaded = np.load(path, allow_pickle=True)
    except Exception as error:  # noqa: BLE001
        raise BenchError(
            f"cannot read {what} text embeddings '{path}' ({type(error).__name__}: {error}); re-download the file"
        ) from error
    obj = loaded.item() if isinstance(loaded, np.ndarray) and loaded.shape == () and loaded.dtype == object else loaded
    if not isinstance(obj, dict):
        raise BenchError(
            f"{what} text embeddings '{path}' hold {type(obj).__name__} "
            f"{getattr(obj, 'shape', '')}, expected a 0-d object array wrapping a dict "
            "{class prompt name: vector} (np.save(path, np.array(d, dtype=object))); re-export the file"
        )
    out: dict[str, np.ndarray] = {}
    dim = None
    for key, value in obj.items():
        try:
            vector = np.asarray(value, dtype=np.float32)
        except (TypeError, ValueError) as error:
            raise BenchError(f"{what} text embeddings '{path}': value of key '{key}' is not numeric") from error
        if vector.ndim == 2 and vector.shape[0] == 1:
            vector = vector[0]
        if vector.ndim != 1 or vector.size == 0:
            raise BenchError(
                f"{what} text embeddings '{path}': key '{key}' has shape {vector.shape}, expected one vector"
            )
        if dim is None:
            dim = vector.shape[0]
        elif vector.shape[0] != dim:
            raise BenchError(
                f"{what} text embeddings '{path}': key '{key}' is {vector.shape[0]}-d but others are {dim}-d; "
                "all class vectors of one file must have the same length; re-export the file"
            )
        if not np.isfinite(vector).all():
            raise BenchError(f"{what} text embeddings '{path}': key '{key}' contains NaN/inf; re-export the file")
        out[str(key)] = vector
    if not out:
        raise BenchError(f"{what} text embeddings '{path}' hold an empty dict; re-export the file")
    return out


def _decode_names(raw, path: Path) -> np.ndarray:
    try:
        names = np.asarray(raw)
        if names.ndim != 1:
            names = names.reshape(-1)
        if names.dtype.kind == "S":
            return np.char.decode(names, "utf-8", errors="replace")
        if names.dtype.kind == "U":
            return names
        return np.asarray([n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in names], dtype=str)
    except Exception as error:  # noqa: BLE001
        raise BenchError(f"feature file '{path}': 'video_names' is not a list of names ({error}); re-extract it") \
            from error


def _stack_features(raw, path: Path) -> np.ndarray | None:
    """(n, dim) array of the file's vectors; None when the file holds no vectors."""
    if isinstance(raw, np.ndarray) and raw.dtype != object:
        array = raw
    else:
        if not isinstance(raw, (list, tuple, np.ndarray)):
            raise BenchError(
                f"feature file '{path}': 'features' is a {type(raw).__name__}, expected a list of 1-D vectors; "
                "re-extract it"
            )
        items = list(raw)
        if not items:
            return None
        try:
            array = np.stack([np.asarray(item) for item in items])
        except ValueError:
            shapes = [np.shape(item) for item in items]
            odd = next(i for i, shape in enumerate(shapes) if shape != shapes[0])
            raise BenchError(
                f"feature file '{path}': ragged 'features': vector {odd} has shape {shapes[odd]} but vector 0 has "
                f"{shapes[0]}; every vector of a bundle must have the same length: re-extract this file"
            ) from None
    if array.ndim == 3 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 2 or array.shape[1] == 0:
        raise BenchError(
            f"feature file '{path}': 'features' has shape {array.shape}, expected a list of 1-D vectors; re-extract it"
        )
    if array.dtype.kind not in "fiu":
        raise BenchError(f"feature file '{path}': 'features' has dtype {array.dtype}, expected floats; re-extract it")
    if array.dtype.kind != "f":
        array = array.astype(np.float32)
    return array


# ---------------------------------------------------------------------------------------------------------------------
# Text attachment


def legacy_misaligned(class_names: Sequence[str], keys: Iterable[str],
                      key_to_class: Mapping[str, int]) -> dict[int, str]:
    """Classes whose id receives another class's text under the reference's positional rule (spec 1.6).

    `class_names`: names by id (sorted all_class.txt); `keys`: the npy dict keys; `key_to_class`: the correct
    class id of each key (via the name CSV). Returns {class id: key it wrongly receives}.
    """
    ordered = sorted(keys)
    wrong: dict[int, str] = {}
    for class_id in range(min(len(class_names), len(ordered))):
        key = ordered[class_id]
        if key_to_class.get(key) != class_id:
            wrong[class_id] = key
    return wrong


def _key_to_class(keys: Iterable[str], name_map: Mapping[str, str], class_to_idx: Mapping[str, int],
                  spec: DatasetSpec) -> tuple[dict[str, int], list[str]]:
    """Correct class id per npy key: key -> name CSV -> original -> class id; unknown keys listed apart."""
    resolved: dict[str, int] = {}
    unknown: list[str] = []
    for key in keys:
        original = name_map.get(key)
        class_id = class_to_idx.get(spec.lookup_key(original)) if original is not None else None
        if class_id is None:  # tolerate bundles whose keys are the class names themselves
            class_id = class_to_idx.get(spec.lookup_key(key))
        if class_id is None:
            unknown.append(key)
        else:
            resolved[key] = class_id
    return resolved, unknown


def _text_matrix(table: dict[str, np.ndarray], path: Path, what: str, num_classes: int, legacy: bool,
                 key_to_class: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """(num_classes, dim) matrix and a bool mask of the rows that received a vector."""
    dim = next(iter(table.values())).shape[0]
    matrix = np.zeros((num_classes, dim), dtype=np.float32)
    filled = np.zeros(num_classes, dtype=bool)
    if legacy:
        for class_id, key in enumerate(sorted(table)[:num_classes]):
            matrix[class_id] = table[key]
            filled[class_id] = True
        return matrix, filled
    owner: dict[int, str] = {}
    for key, vector in table.items():
        class_id = key_to_class.get(key)
        if class_id is None:
            continue
        if class_id in owner:
            raise BenchError(
                f"{what} text embeddings '{path}': keys '{owner[class_id]}' and '{key}' both name class id {class_id}; "
                "the file or the name table is inconsistent: re-export the file or fix the name table"
            )
        owner[class_id] = key
        matrix[class_id] = vector
        filled[class_id] = True
    return matrix, filled


# ---------------------------------------------------------------------------------------------------------------------
# Fresh parse


@dataclass
class _Folder:
    video: np.ndarray
    audio: np.ndarray
    labels: np.ndarray
    names: list[str]


@dataclass
class _Parsed:
    class_names: list[str]
    text_clip: np.ndarray
    text_clap: np.ndarray
    split_ids: dict[str, tuple[list[int], list[int]]]
    folders: dict[str, _Folder]
    notes: list[str] = field(default_factory=list)
    video_dtype: str = "float32"


def _class_index(layout: _Layout) -> tuple[list[str], dict[str, int]]:
    names = _read_lines(layout.all_class)
    if not names:
        raise BenchError(f"'{layout.all_class}' lists no classes; restore it from the released bundle")
    ordered = sorted(names)  # case-sensitive, as the reference (spec 1.5)
    index: dict[str, int] = {}
    for class_id, name in enumerate(ordered):
        key = layout.spec.lookup_key(name)
        if key in index:
            rule = "case-insensitively" if layout.spec.lower_case else "exactly"
            raise BenchError(
                f"'{layout.all_class}' lists '{ordered[index[key]]}' and '{name}', which are the same class for "
                f"{layout.spec.display} (class names are compared {rule}); remove the duplicate line"
            )
        index[key] = class_id
    return ordered, index


def _read_split_lists(layout: _Layout, class_to_idx: Mapping[str, int]) -> dict[str, list[int]]:
    lists: dict[str, list[int]] = {}
    for stage in STAGE_FOLDERS:
        path = layout.split_txt(stage)
        ids = []
        for name in _read_lines(path):
            class_id = class_to_idx.get(layout.spec.lookup_key(name))
            if class_id is None:
                raise BenchError(
                    f"split file '{path}' lists class '{name}', which '{layout.all_class}' does not contain; "
                    "use the class-split folder that came with the bundle"
                )
            ids.append(class_id)
        lists[stage] = sorted(set(ids))
    return lists


class _DimCheck:
    def __init__(self) -> None:
        self.dims: dict[str, tuple[int, Path]] = {}

    def check(self, modality: str, array: np.ndarray, path: Path) -> None:
        dim = int(array.shape[1])
        if modality not in self.dims:
            self.dims[modality] = (dim, path)
            return
        expected, first = self.dims[modality]
        if dim != expected:
            raise BenchError(
                f"feature file '{path}' has {dim}-d {modality} vectors, but '{first}' has {expected}-d; all {modality} "
                "features of one bundle must come from the same extractor: re-extract the odd file(s)"
            )


def _read_folder(layout: _Layout, stage: str, keep: set[int], listed: list[int], class_names: list[str],
                 class_to_idx: Mapping[str, int], dims: _DimCheck, notes: list[str]) -> _Folder:
    files = {modality: _pkl_names(layout.folder(modality, stage)) for modality in MODALITIES}
    owners: dict[int, str] = {}
    dropped: list[str] = []
    shifted = 0
    parts: dict[str, list[np.ndarray]] = {"video": [], "audio": []}
    labels: list[np.ndarray] = []
    names: list[str] = []
    for file_name in sorted(set(files["audio"]) | set(files["video"])):
        stem = file_name[: -len(".pkl")]
        class_id = class_to_idx.get(layout.spec.lookup_key(stem))
        some = layout.folder("audio" if file_name in files["audio"] else "video", stage) / file_name
        if class_id is None:
            raise BenchError(
                f"feature file '{some}' belongs to class '{stem}', which '{layout.all_class}' does not list; "
                "the features and the class-split folder come from different bundles: use matching ones"
            )
        if class_id not in keep:
            dropped.append(stem)
            continue
        if class_id in owners and owners[class_id] != file_name:
            raise BenchError(
                f"'{layout.folder('audio', stage)}' holds both '{owners[class_id]}' and '{file_name}' for class "
                f"'{class_names[class_id]}'; remove the duplicate"
            )
        owners[class_id] = file_name
        paths = {modality: layout.folder(modality, stage) / file_name for modality in MODALITIES}
        for modality in MODALITIES:
            if file_name not in files[modality]:
                raise BenchError(
                    f"class '{class_names[class_id]}' has '{paths['audio' if modality == 'video' else 'video']}' "
                    f"but no '{paths[modality]}'; every class needs both audio and video files: re-extract it"
                )
        raw = {modality: _read_pickle(paths[modality]) for modality in MODALITIES}
        arrays = {modality: _stack_features(raw[modality]["features"], paths[modality]) for modality in MODALITIES}
        video_names = _decode_names(raw["video"]["video_names"], paths["video"])
        audio_names = _decode_names(raw["audio"]["video_names"], paths["audio"])
        if not np.array_equal(video_names, audio_names):
            if len(video_names) != len(audio_names):
                detail = f"{len(audio_names)} vs {len(video_names)} names"
            else:
                first = int(np.flatnonzero(video_names != audio_names)[0])
                detail = f"first difference at position {first}: '{audio_names[first]}' vs '{video_names[first]}'"
            raise BenchError(
                f"'{paths['audio']}' and '{paths['video']}' list different videos in 'video_names' ({detail}); "
                "audio and video files of a class must list the same videos in the same order: re-extract them"
            )
        counts = {modality: 0 if arrays[modality] is None else arrays[modality].shape[0] for modality in MODALITIES}
        if counts["audio"] != counts["video"]:
            raise BenchError(
                f"'{paths['audio']}' holds {counts['audio']} vectors but '{paths['video']}' holds {counts['video']}; "
                "audio and video must have one vector per video each: re-extract them"
            )
        count = counts["video"]
        if count == 0:
            continue
        if len(video_names) < count:
            raise BenchError(
                f"'{paths['video']}' has {count} vectors but only {len(video_names)} 'video_names'; "
                "every vector needs a name: re-extract it"
            )
        if len(video_names) > count:  # videos skipped at extraction (ActivityNet); the reference pairs by position
            shifted += 1
        for modality in MODALITIES:
            array = arrays[modality]
            dims.check(modality, array, paths[modality])
            finite = np.isfinite(array).all(axis=1)
            if not finite.all():
                bad = np.flatnonzero(~finite)[:5]
                raise BenchError(
                    f"feature file '{paths[modality]}' (class '{class_names[class_id]}') has NaN/inf {modality} "
                    f"vectors for {int((~finite).sum())} video(s), first: {[str(video_names[i]) for i in bad]}; "
                    "re-extract those videos or remove them from the file"
                )
            parts[modality].append(array)
        labels.append(np.full(count, class_id, dtype=np.int64))
        names.extend(video_names[:count].tolist())
    missing = [class_id for class_id in listed if class_id not in owners]
    if missing:
        class_name = class_names[missing[0]]
        raise BenchError(
            f"class '{class_name}' is listed in '{layout.split_txt(stage)}' but has no feature file "
            f"'{layout.folder('video', stage) / (class_name + '.pkl')}' (nor its audio twin)"
            + (f"; {len(missing) - 1} more classes are missing too" if len(missing) > 1 else "")
            + ": re-download/re-extract the features of this class, or remove it from the split file"
        )
    if dropped:
        notes.append(f"{stage}: dropped feature files of {len(dropped)} out-of-split class(es): {', '.join(dropped)}")
    if shifted:
        notes.append(
            f"{stage}: {shifted} file(s) list more video_names than vectors (videos skipped at extraction); "
            "names were paired by position as in the reference, so some sample names may be off"
        )

    def concat(arrays: list[np.ndarray], modality: str) -> np.ndarray:
        if arrays:
            return np.concatenate(arrays)
        dim = dims.dims.get(modality, (0, None))[0]
        return np.zeros((0, dim), dtype=np.float32)

    return _Folder(
        video=concat(parts["video"], "video"),
        audio=concat(parts["audio"], "audio"),
        labels=np.concatenate(labels) if labels else np.zeros(0, dtype=np.int64),
        names=names,
    )


def _parse(layout: _Layout, legacy_text_order: bool) -> _Parsed:
    spec = layout.spec
    class_names, class_to_idx = _class_index(layout)
    lists = _read_split_lists(layout, class_to_idx)
    split_ids: dict[str, tuple[list[int], list[int]]] = {}
    for split_name, recipe in SPLIT_RECIPES.items():
        seen = sorted(set().union(*(lists[s] for s in recipe.seen_lists)))
        unseen = sorted(set().union(*(lists[s] for s in recipe.unseen_lists))) if recipe.unseen_lists else []
        split_ids[split_name] = (seen, unseen)
    used = set().union(*(set(s) | set(u) for s, u in split_ids.values()))

    notes: list[str] = []
    dims = _DimCheck()
    folders: dict[str, _Folder] = {}
    for stage in STAGE_FOLDERS:
        keep: set[int] = set()
        for split_name, recipe in SPLIT_RECIPES.items():
            if stage in recipe.folders:
                keep |= set(split_ids[split_name][0]) | set(split_ids[split_name][1])
        folders[stage] = _read_folder(layout, stage, keep, lists[stage], class_names, class_to_idx, dims, notes)

    # Text: by name (default) or by the reference's sorted-key position (legacy).
    clip_table = _read_text_dict(layout.clip_text, "CLIP")
    clap_table = _read_text_dict(layout.clap_text, "CLAP")
    name_map: dict[str, str] | None
    if legacy_text_order and not layout.name_csv.is_file():
        name_map = None
    else:
        name_map = _read_name_csv(layout.name_csv, spec.prompt_column)
    matrices = {}
    for what, table, path in (("CLIP", clip_table, layout.clip_text), ("CLAP", clap_table, layout.clap_text)):
        key_to_class, unknown = _key_to_class(table, name_map or {}, class_to_idx, spec)
        if unknown and not legacy_text_order:
            notes.append(
                f"{path.name}: {len(unknown)} key(s) match no class via {spec.name_csv} and were ignored: "
                f"{', '.join(sorted(unknown)[:10])}"
            )
        matrix, filled = _text_matrix(table, path, what, len(class_names), legacy_text_order, key_to_class)
        lacking_used = [class_names[i] for i in sorted(used) if not filled[i]]
        if lacking_used:
            how = ("position (legacy_text_order: the file has fewer keys than all_class.txt has classes)"
                   if legacy_text_order else f"name via '{layout.name_csv}' (column '{spec.prompt_column}')")
            raise BenchError(
                f"{what} text embeddings '{path}' have no vector for class '{lacking_used[0]}'"
                + (f" (and {len(lacking_used) - 1} more used class(es))" if len(lacking_used) > 1 else "")
                + f", which a split uses; matched by {how}. Add the class to the file and the name table, "
                "or use the text files that came with the bundle"
            )
        unfilled = int((~filled).sum())
        if unfilled:
            notes.append(f"{path.name}: {unfilled} class(es) no split uses have no vector; their rows are zeros")
        if legacy_text_order and name_map is not None:
            wrong = legacy_misaligned(class_names, table, key_to_class)
            if what == "CLIP":
                example = ", ".join(f"{class_names[i]}<-'{k}'" for i, k in list(wrong.items())[:6])
                notes.append(
                    f"text order: legacy (reference): class id i gets the vector of sorted(npy keys)[i]; "
                    f"{len(wrong)} of {len(class_names)} classes get another class's text"
                    + (f" ({len(set(wrong) & used)} used by a split; e.g. {example})" if wrong else "")
                )
        matrices[what] = matrix
    if legacy_text_order and name_map is None:
        notes.append(
            f"text order: legacy (reference): class id i gets the vector of sorted(npy keys)[i]; "
            f"misalignment not checked ('{layout.name_csv.name}' missing)"
        )
    if not legacy_text_order:
        key_to_class, _ = _key_to_class(clip_table, name_map or {}, class_to_idx, spec)
        wrong = legacy_misaligned(class_names, clip_table, key_to_class)
        notes.append(
            f"text order: by class name (npy key -> {spec.name_csv} '{spec.prompt_column}' -> class id); "
            f"the reference's positional order would give {len(wrong)} of {len(class_names)} classes another "
            "class's text (legacy_text_order=True reproduces it)"
        )
    video_dtypes = {str(f.video.dtype) for f in folders.values() if f.video.shape[0]}
    return _Parsed(
        class_names=class_names,
        text_clip=matrices["CLIP"],
        text_clap=matrices["CLAP"],
        split_ids=split_ids,
        folders=folders,
        notes=notes,
        video_dtype="/".join(sorted(video_dtypes)) or "float32",
    )


# ---------------------------------------------------------------------------------------------------------------------
# Cache (one torch.save file per (bundle, options, source-file state))


def _cache_payload(parsed: _Parsed, key: str) -> dict:
    return {
        "format": CACHE_FORMAT,
        "loader_version": LOADER_VERSION,
        "key": key,
        "class_names": list(parsed.class_names),
        "notes": list(parsed.notes),
        "video_dtype": parsed.video_dtype,
        "text_clip": torch.from_numpy(parsed.text_clip),
        "text_clap": torch.from_numpy(parsed.text_clap),
        "split_ids": {name: [list(seen), list(unseen)] for name, (seen, unseen) in parsed.split_ids.items()},
        "folders": {
            stage: {
                "video": torch.from_numpy(np.ascontiguousarray(folder.video)),
                "audio": torch.from_numpy(np.ascontiguousarray(folder.audio)),
                "labels": torch.from_numpy(folder.labels),
                "names": json.dumps(list(folder.names)),  # one string: fast under weights_only loading
            }
            for stage, folder in parsed.folders.items()
        },
    }


def _from_payload(payload: dict) -> _Parsed:
    return _Parsed(
        class_names=list(payload["class_names"]),
        text_clip=payload["text_clip"],
        text_clap=payload["text_clap"],
        split_ids={name: (list(ids[0]), list(ids[1])) for name, ids in payload["split_ids"].items()},
        folders={
            stage: _Folder(data["video"], data["audio"], data["labels"], json.loads(data["names"]))
            for stage, data in payload["folders"].items()
        },
        notes=list(payload["notes"]),
        video_dtype=str(payload["video_dtype"]),
    )


def _cache_prefix(layout: _Layout, legacy_text_order: bool) -> str:
    identity = json.dumps([str(layout.root), layout.spec.key, layout.split, bool(legacy_text_order)])
    return f"{layout.spec.key}-{hashlib.sha256(identity.encode()).hexdigest()[:12]}-"


def _read_cache(path: Path, key: str) -> _Parsed | None:
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if (not isinstance(payload, dict) or payload.get("format") != CACHE_FORMAT
                or payload.get("loader_version") != LOADER_VERSION or payload.get("key") != key):
            raise ValueError("cache file does not match this bundle/loader")
        return _from_payload(payload)
    except Exception as error:  # noqa: BLE001 - a bad cache is rebuilt, never fatal
        warnings.warn(f"ignoring unreadable bundle cache '{path}' ({type(error).__name__}: {error}); rebuilding it",
                      RuntimeWarning, stacklevel=3)
        return None


def _write_cache(directory: Path, path: Path, prefix: str, parsed: _Parsed, key: str) -> None:
    """Atomic write (temp file in the same folder + rename); stale caches of the same bundle are removed."""
    temp_name = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        with os.fdopen(handle, "wb") as stream:
            torch.save(_cache_payload(parsed, key), stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, path)
        temp_name = None
        for stale in directory.glob(f"{prefix}*.pt"):
            if stale != path:
                stale.unlink(missing_ok=True)
    except OSError as error:
        warnings.warn(f"could not write the bundle cache to '{directory}' ({error}); loading works but stays slow. "
                      f"Pass cache_dir= or set ${CACHE_ENV} to a writable folder", RuntimeWarning, stacklevel=3)
    finally:
        if temp_name is not None:
            try:
                os.unlink(temp_name)
            except OSError:
                pass


# ---------------------------------------------------------------------------------------------------------------------
# Assembly (shared by the fresh and the cached path)


def _assemble(parsed: _Parsed, layout: _Layout) -> GZSLDataset:
    """Build the four splits from the per-folder arrays (numpy: single-threaded and predictable)."""
    folders = {
        stage: _Folder(video=np.asarray(f.video).astype(np.float32, copy=False),  # float16 video: cast once
                       audio=np.asarray(f.audio).astype(np.float32, copy=False),
                       labels=np.asarray(f.labels, dtype=np.int64), names=f.names)
        for stage, f in parsed.folders.items()
    }
    splits: dict[str, FeatureSplit] = {}
    for split_name, recipe in SPLIT_RECIPES.items():
        seen_ids, unseen_ids = parsed.split_ids[split_name]
        wanted = np.asarray([*seen_ids, *unseen_ids], dtype=np.int64)
        video, audio, labels, names = [], [], [], []
        for stage in recipe.folders:
            folder = folders[stage]
            mask = np.isin(folder.labels, wanted)
            if mask.all():
                video.append(folder.video), audio.append(folder.audio), labels.append(folder.labels)
                names.extend(folder.names)
            else:
                video.append(folder.video[mask]), audio.append(folder.audio[mask]), labels.append(folder.labels[mask])
                names.extend(name for name, keep in zip(folder.names, mask.tolist()) if keep)
        def join(parts: list[np.ndarray]) -> torch.Tensor:
            return torch.from_numpy(parts[0] if len(parts) == 1 else np.concatenate(parts))

        splits[split_name] = FeatureSplit(
            video=join(video),
            audio=join(audio),
            labels=join(labels),
            seen=torch.tensor(seen_ids, dtype=torch.int64),
            unseen=torch.tensor(unseen_ids, dtype=torch.int64),
            names=tuple(names),
        )
    text = TextEmbeddings(
        clip=torch.as_tensor(parsed.text_clip, dtype=torch.float32),
        clap=torch.as_tensor(parsed.text_clap, dtype=torch.float32),
    )
    video_dim = int(splits["train"].video.shape[1])
    audio_dim = int(splits["train"].audio.shape[1])
    clip_dim, clap_dim = int(text.clip.shape[1]), int(text.clap.shape[1])
    dims_note = (f"feature dims: video {video_dim} (stored {parsed.video_dtype}, cast to float32), audio {audio_dim}, "
                 f"CLIP text {clip_dim}, CLAP text {clap_dim}")
    paper = (VIDEO_DIM, AUDIO_DIM, CLIP_TEXT_DIM, CLAP_TEXT_DIM)
    if (video_dim, audio_dim, clip_dim, clap_dim) != paper:
        dims_note += f" (differs from the paper's {'/'.join(map(str, paper))})"
        warnings.warn(f"bundle '{layout.root}': {dims_note}; methods must be built for these dims",
                      UserWarning, stacklevel=3)
    return GZSLDataset(
        name=layout.spec.key,
        class_names=tuple(parsed.class_names),
        text=text,
        splits=splits,
        synthetic=False,
        source=f"released bundle {layout.root} (class split '{layout.split}', {FEATURE_METHOD})",
        notes=tuple([*parsed.notes, dims_note]),
    )


# ---------------------------------------------------------------------------------------------------------------------
# Public entry point


def load_bundle(root: str | Path, dataset: str, *, legacy_text_order: bool = False,
                cache_dir: str | Path | None = None, split: str = "cls_split") -> GZSLDataset:
    """Load one dataset folder of the released ClipClap feature bundle as a `GZSLDataset`.

    root: the dataset folder (holding `class-split/` and `features/`); dataset: "ucf", "activitynet" or
    "vggsound" (any case); legacy_text_order: attach text by sorted-key position like the reference code
    (reproduces its class mix-ups, spec 1.6) instead of by name; cache_dir: where the fast cache goes
    (default `$AVGZSL_BENCH_CACHE` or `~/.cache/avgzsl_bench`); split: the class-split folder to use.
    Raises `BenchError` with the offending file and the fix on any malformed input.
    """
    spec = dataset_spec(dataset)
    layout = _locate(root, spec, split)
    directory = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    key = _cache_key(layout, legacy_text_order)
    prefix = _cache_prefix(layout, legacy_text_order)
    path = directory / f"{prefix}{key[:20]}.pt"
    parsed = _read_cache(path, key)
    if parsed is not None:
        return _assemble(parsed, layout)
    parsed = _parse(layout, legacy_text_order)
    _write_cache(directory, path, prefix, parsed, key)
    return _assemble(parsed, layout)
