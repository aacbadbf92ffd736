"""A fresh read of a released bundle: class ids, split lists, per-stage feature folders, text.

The per-class feature files are ClipClap pickles or AVCA-GZSL .h5 files (`CLASS_FILE_READERS`);
everything else (class matching, split lists, cross-checks, text attachment) is shared.

Differences from the reference loader, all deliberate: files are read in sorted file-name order
(the reference uses filesystem order, which differs between machines); sample names are decoded
strings (`v_Archery_g01_c01`, not `"b'v_Archery_g01_c01'"`); and degenerate inputs (an empty
split list, a class without samples, NaN vectors, mismatched audio/video files) are refused with
the offending file named instead of producing a number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from avgzsl_bench.datasets.layout import MODALITIES, BundleLayout, feature_file_names
from avgzsl_bench.datasets.readers import CLASS_FILE_READERS, NAMES_FIELD, read_lines
from avgzsl_bench.datasets.spec import STAGE_FOLDERS
from avgzsl_bench.datasets.text import attach_text
from avgzsl_bench.errors import BenchError


@dataclass
class Folder:
    """The samples of one stage folder (both modalities, paired by position)."""

    video: Any  # (N, video_dim) numpy array, or a tensor when read back from the cache
    audio: Any  # (N, audio_dim)
    labels: Any  # (N,) global class ids
    names: list[str]


@dataclass
class Parsed:
    class_names: list[str]
    text: dict[str, Any]  # text part -> (num_classes, dim) matrix
    split_ids: dict[str, tuple[list[int], list[int]]]  # protocol split -> (seen ids, unseen ids)
    folders: dict[str, Folder]
    notes: list[str] = field(default_factory=list)
    video_dtype: str = "float32"
    fingerprint: str = ""  # sha256 of the files read (`datasets.fingerprint`); "" until computed


def class_index(layout: BundleLayout) -> tuple[list[str], dict[str, int]]:
    """Class names sorted case-sensitively (their position is the class id), and the lookup table."""
    names = read_lines(layout.all_class)
    if not names:
        raise BenchError(f"'{layout.all_class}' lists no classes; restore it from the released bundle")
    ordered = sorted(names)
    index: dict[str, int] = {}
    for class_id, name in enumerate(ordered):
        key = layout.spec.lookup_key(name)
        if key in index:
            rule = "case-insensitively" if layout.spec.lower_case else "exactly"
            raise BenchError(
                f"'{layout.all_class}' lists '{ordered[index[key]]}' and '{name}', which are the same class for "
                f"{layout.spec.folder} (class names are compared {rule}); remove the duplicate line"
            )
        index[key] = class_id
    return ordered, index


def read_split_lists(layout: BundleLayout, class_to_idx: Mapping[str, int]) -> dict[str, list[int]]:
    lists: dict[str, list[int]] = {}
    for stage in STAGE_FOLDERS:
        path = layout.split_txt(stage)
        ids = []
        for name in read_lines(path):
            class_id = class_to_idx.get(layout.spec.lookup_key(name))
            if class_id is None:
                raise BenchError(
                    f"split file '{path}' lists class '{name}', which '{layout.all_class}' does not "
                    "contain; use the class-split folder that came with the bundle"
                )
            ids.append(class_id)
        lists[stage] = sorted(set(ids))
    return lists


def split_class_ids(layout: BundleLayout, lists: Mapping[str, list[int]]) -> dict[str, tuple[list[int], list[int]]]:
    """(seen, unseen) ids of every protocol split; a list the protocol needs but that is empty is refused."""
    for name, recipe in layout.spec.splits.items():
        for stage in (*recipe.seen_lists, *recipe.unseen_lists):
            if not lists[stage]:
                role = "seen" if stage in recipe.seen_lists else "unseen"
                raise BenchError(
                    f"split file '{layout.split_txt(stage)}' lists no classes, so the '{name}' split "
                    f"has no {role} classes and its scores would be meaningless; restore the file from "
                    "the released bundle"
                )
    ids = {}
    for name, recipe in layout.spec.splits.items():
        seen = sorted(set().union(*(lists[s] for s in recipe.seen_lists)))
        unseen = sorted(set().union(*(lists[s] for s in recipe.unseen_lists))) if recipe.unseen_lists else []
        ids[name] = (seen, unseen)
    return ids


class DimCheck:
    """All files of one modality must have the same vector length."""

    def __init__(self) -> None:
        self.dims: dict[str, tuple[int, Path]] = {}

    def check(self, modality: str, array: np.ndarray, path: Path) -> None:
        dim = int(array.shape[1])
        expected, first = self.dims.setdefault(modality, (dim, path))
        if dim != expected:
            raise BenchError(
                f"feature file '{path}' has {dim}-d {modality} vectors, but '{first}' has {expected}-d; all {modality} "
                "features of one bundle must come from the same extractor: re-extract the odd file(s)"
            )


@dataclass
class _ClassFile:
    """The audio and video files of one class in one stage, read and cross-checked."""

    arrays: dict[str, np.ndarray]
    names: np.ndarray
    shifted: bool  # more names than vectors: videos skipped at extraction


def check_same_names(
    paths: Mapping[str, Path], video_names: np.ndarray, audio_names: np.ndarray, names_field: str
) -> None:
    """The audio and video files of a class must list the same videos in the same order."""
    if np.array_equal(video_names, audio_names):
        return
    if len(video_names) != len(audio_names):
        detail = f"{len(audio_names)} vs {len(video_names)} names"
    else:
        first = int(np.flatnonzero(video_names != audio_names)[0])
        detail = f"first difference at position {first}: '{audio_names[first]}' vs '{video_names[first]}'"
    raise BenchError(
        f"'{paths['audio']}' and '{paths['video']}' list different videos in '{names_field}' "
        f"({detail}); audio and video files of a class must list the same videos in the same "
        "order: re-extract them"
    )


def _read_class(paths: Mapping[str, Path], class_name: str, dims: DimCheck) -> _ClassFile | None:
    read = CLASS_FILE_READERS[paths["video"].suffix]
    loaded = {modality: read(paths[modality]) for modality in MODALITIES}
    arrays = {modality: vectors for modality, (vectors, _) in loaded.items()}
    video_names, audio_names = loaded["video"][1], loaded["audio"][1]
    names_field = NAMES_FIELD[paths["video"].suffix]
    check_same_names(paths, video_names, audio_names, names_field)
    counts = {modality: 0 if array is None else array.shape[0] for modality, array in arrays.items()}
    if counts["audio"] != counts["video"]:
        raise BenchError(
            f"'{paths['audio']}' holds {counts['audio']} vectors but '{paths['video']}' holds "
            f"{counts['video']}; audio and video must have one vector per video each: re-extract them"
        )
    count = counts["video"]
    if count == 0:
        return None
    if len(video_names) < count:
        raise BenchError(
            f"'{paths['video']}' has {count} vectors but only {len(video_names)} '{names_field}'; "
            "every vector needs a name: re-extract it"
        )
    present = {modality: array for modality, array in arrays.items() if array is not None}
    for modality, array in present.items():
        dims.check(modality, array, paths[modality])
        finite = np.isfinite(array).all(axis=1)
        if not finite.all():
            bad = np.flatnonzero(~finite)[:5]
            raise BenchError(
                f"feature file '{paths[modality]}' (class '{class_name}') has NaN/inf {modality} vectors for "
                f"{int((~finite).sum())} video(s), first: {[str(video_names[i]) for i in bad]}; "
                "re-extract those videos or remove them from the file"
            )
    return _ClassFile({m: a for m, a in arrays.items() if a is not None}, video_names[:count], len(video_names) > count)


def class_files(
    layout: BundleLayout, stage: str, keep: set[int], class_names: list[str], class_to_idx: Mapping[str, int]
) -> tuple[dict[int, str], list[str]]:
    """class id -> feature file name for the kept classes, and the stems of dropped out-of-split files."""
    files = {
        modality: set(feature_file_names(layout.folder(modality, stage), layout.suffix)) for modality in MODALITIES
    }
    owners: dict[int, str] = {}
    dropped: list[str] = []
    for file_name in sorted(files["audio"] | files["video"]):
        stem = file_name[: -len(layout.suffix)]
        class_id = class_to_idx.get(layout.spec.lookup_key(stem))
        some = layout.folder("audio" if file_name in files["audio"] else "video", stage) / file_name
        if class_id is None:
            raise BenchError(
                f"feature file '{some}' belongs to class '{stem}', which '{layout.all_class}' does not "
                "list; the features and the class-split folder come from different bundles: use "
                "matching ones"
            )
        if class_id not in keep:
            dropped.append(stem)
            continue
        if class_id in owners:
            raise BenchError(
                f"'{layout.folder('audio', stage)}' holds both '{owners[class_id]}' and '{file_name}' "
                f"for class '{class_names[class_id]}'; remove the duplicate"
            )
        for modality, other in (("audio", "video"), ("video", "audio")):
            if file_name not in files[modality]:
                raise BenchError(
                    f"class '{class_names[class_id]}' has '{layout.folder(other, stage) / file_name}' "
                    f"but no '{layout.folder(modality, stage) / file_name}'; every class needs both "
                    "audio and video files: re-extract it"
                )
        owners[class_id] = file_name
    return owners, dropped


def missing_classes_error(
    layout: BundleLayout, stage: str, missing: list[int], class_names: list[str], empty: set[int]
) -> BenchError:
    class_name = class_names[missing[0]]
    file = layout.folder("video", stage) / f"{class_name}{layout.suffix}"
    what = (
        f"holds no vectors in '{file}'" if missing[0] in empty else f"has no feature file '{file}' (nor its audio twin)"
    )
    more = f"; {len(missing) - 1} more classes lack samples too" if len(missing) > 1 else ""
    return BenchError(
        f"class '{class_name}' is listed in '{layout.split_txt(stage)}' but {what}{more}: its accuracy "
        "would be 0/0. Re-download/re-extract the features of this class, or remove it from the split file"
    )


def check_listed_classes(
    layout: BundleLayout,
    stage: str,
    listed: list[int],
    owners: Mapping[int, str],
    empty: set[int],
    class_names: list[str],
) -> None:
    """Every class the stage's split file lists needs a feature file with at least one video."""
    missing = [class_id for class_id in listed if class_id not in owners or class_id in empty]
    if missing:
        raise missing_classes_error(layout, stage, missing, class_names, empty)


def note_dropped(stage: str, dropped: list[str], notes: list[str]) -> None:
    if dropped:
        notes.append(f"{stage}: dropped feature files of {len(dropped)} out-of-split class(es): {', '.join(dropped)}")


def read_folder(
    layout: BundleLayout,
    stage: str,
    keep: set[int],
    listed: list[int],
    class_names: list[str],
    class_to_idx: Mapping[str, int],
    dims: DimCheck,
    notes: list[str],
) -> Folder:
    owners, dropped = class_files(layout, stage, keep, class_names, class_to_idx)
    parts: dict[str, list[np.ndarray]] = {modality: [] for modality in MODALITIES}
    labels: list[np.ndarray] = []
    names: list[str] = []
    empty: set[int] = set()
    shifted = 0
    for class_id, file_name in sorted(owners.items(), key=lambda item: item[1]):
        paths = {modality: layout.folder(modality, stage) / file_name for modality in MODALITIES}
        read = _read_class(paths, class_names[class_id], dims)
        if read is None:
            empty.add(class_id)
            continue
        shifted += read.shifted
        for modality in MODALITIES:
            parts[modality].append(read.arrays[modality])
        labels.append(np.full(len(read.names), class_id, dtype=np.int64))
        names.extend(read.names.tolist())
    check_listed_classes(layout, stage, listed, owners, empty, class_names)
    note_dropped(stage, dropped, notes)
    if shifted:
        notes.append(
            f"{stage}: {shifted} file(s) list more video_names than vectors (videos skipped at extraction); "
            "names were paired by position as in the reference, so some sample names may be off"
        )

    def concat(arrays: list[np.ndarray], modality: str) -> np.ndarray:
        if arrays:
            return np.concatenate(arrays)
        return np.zeros((0, dims.dims.get(modality, (0, None))[0]), dtype=np.float32)

    return Folder(
        video=concat(parts["video"], "video"),
        audio=concat(parts["audio"], "audio"),
        labels=np.concatenate(labels) if labels else np.zeros(0, dtype=np.int64),
        names=names,
    )


def parse_bundle(layout: BundleLayout, legacy_text_order: bool) -> Parsed:
    class_names, class_to_idx = class_index(layout)
    lists = read_split_lists(layout, class_to_idx)
    split_ids = split_class_ids(layout, lists)
    used = set().union(*(set(s) | set(u) for s, u in split_ids.values()))
    notes: list[str] = []
    dims = DimCheck()
    folders: dict[str, Folder] = {}
    for stage in STAGE_FOLDERS:
        keep: set[int] = set()
        for split_name, recipe in layout.spec.splits.items():
            if stage in recipe.folders:
                keep |= set(split_ids[split_name][0]) | set(split_ids[split_name][1])
        folders[stage] = read_folder(layout, stage, keep, lists[stage], class_names, class_to_idx, dims, notes)
    text = attach_text(layout, class_names, class_to_idx, used, legacy_text_order, notes)
    video_dtypes = {str(f.video.dtype) for f in folders.values() if f.video.shape[0]}
    return Parsed(
        class_names=class_names,
        text=text,
        split_ids=split_ids,
        folders=folders,
        notes=notes,
        video_dtype="/".join(sorted(video_dtypes)) or "float32",
    )
