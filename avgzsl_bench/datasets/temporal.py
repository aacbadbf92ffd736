"""The TCAF layout's reader: one pickle per class and stage holding one feature *sequence* per video.

Each pickle is a dict with `features` (a list of (T_i, D) arrays, T_i varying), `video_names` and
`fps`; audio and video files of a class list the same videos in the same order but their sequences
differ in length. Class matching, split lists, text attachment and the missing-class checks are
the averaged readers' (`parse`); what differs is the per-file read and the storage.

Storage: the steps of all sequences of one modality go into ONE flat (steps, D) float16 array for
the whole dataset (all stage folders), and each stage folder keeps an (N, 2) int64 table of
(first row, length) per video. While the pickles are read, each class's steps are appended to a
spill file (next to the loader's cache) and read back into the flat array once at the end: a
fresh read then peaks near one copy of the features plus one class file, instead of twice the
features (small per-class arrays freed on the heap are not given back to the system).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from avgzsl_bench.datasets.layout import MODALITIES, BundleLayout
from avgzsl_bench.datasets.parse import (
    DimCheck,
    Folder,
    check_listed_classes,
    check_same_names,
    class_files,
    class_index,
    note_dropped,
    read_split_lists,
    split_class_ids,
)
from avgzsl_bench.datasets.readers import decode_names, read_pickle
from avgzsl_bench.datasets.spec import STAGE_FOLDERS
from avgzsl_bench.datasets.text import attach_text
from avgzsl_bench.errors import BenchError

STORAGE_DTYPE = np.float16


@dataclass
class Ragged:
    """One file's sequences: their steps stacked (steps, D) and each sequence's length."""

    steps: np.ndarray
    lengths: np.ndarray


@dataclass
class TemporalParsed:
    class_names: list[str]
    text: dict[str, Any]
    split_ids: dict[str, tuple[list[int], list[int]]]
    folders: dict[str, Folder]  # video/audio: (N, 2) int64 (first row, length) into `values`
    values: dict[str, Any]  # modality -> (steps, D) float16, all stage folders
    notes: list[str] = field(default_factory=list)
    stored_dtype: str = "float32"
    fingerprint: str = ""  # sha256 of the files read (`datasets.fingerprint`); "" until computed


def read_sequences(path: Path) -> tuple[Ragged, np.ndarray, str]:
    """One TCAF per-class pickle: its sequences, video names and the dtype they were stored in."""
    raw = read_pickle(path)
    items = raw["features"]
    if not isinstance(items, (list, tuple)) and not (isinstance(items, np.ndarray) and items.dtype == object):
        raise BenchError(
            f"feature file '{path}': 'features' is a {type(items).__name__}, expected a list with one (steps, dim) "
            "array per video (the TCAF layout); is this an averaged bundle? use its averaged feature set"
        )
    names = decode_names(raw["video_names"], path)
    arrays, stored = [], "float32"
    for position, item in enumerate(items):
        array = np.asarray(item)
        if array.ndim == 1:
            raise BenchError(
                f"feature file '{path}': video {position} has one {array.shape[0]}-d vector, not a (steps, dim) "
                "sequence; this is an averaged bundle (e.g. ClipClap's): load it with its averaged feature set"
            )
        if array.ndim != 2 or array.dtype.kind not in "fiu" or array.shape[1] == 0:
            raise BenchError(
                f"feature file '{path}': sequence {position} has shape {array.shape} (dtype {array.dtype}), expected "
                "a (steps, dim) float array per video; re-extract it"
            )
        if array.shape[0] == 0:
            label = names[position] if position < len(names) else f"#{position}"
            raise BenchError(
                f"feature file '{path}': the sequence of video '{label}' has length 0; every video needs at least "
                "one step: re-extract it or remove it from the file"
            )
        stored = str(array.dtype)
        arrays.append(array)
    widths = {array.shape[1] for array in arrays}
    if len(widths) > 1:
        odd = next(i for i, array in enumerate(arrays) if array.shape[1] != arrays[0].shape[1])
        raise BenchError(
            f"feature file '{path}': sequence {odd} is {arrays[odd].shape[1]}-d but sequence 0 is "
            f"{arrays[0].shape[1]}-d; every step of a bundle must have the same width: re-extract this file"
        )
    if not arrays:
        return Ragged(np.zeros((0, 0), STORAGE_DTYPE), np.zeros(0, np.int64)), names, stored
    steps = np.concatenate(arrays, dtype=STORAGE_DTYPE)
    return Ragged(steps, np.asarray([len(a) for a in arrays], dtype=np.int64)), names, stored


def _check_finite(ragged: Ragged, path: Path, modality: str, names: np.ndarray) -> None:
    if ragged.steps.size == 0 or np.isfinite(ragged.steps).all():
        return
    bad_steps = ~np.isfinite(ragged.steps).all(axis=1)
    owner = np.repeat(np.arange(len(ragged.lengths)), ragged.lengths)
    bad = np.unique(owner[bad_steps])
    raise BenchError(
        f"feature file '{path}' has NaN/inf (or, stored at half precision, beyond ±65504) {modality} steps in "
        f"{len(bad)} video(s), first: {[str(names[i]) for i in bad[:5]]}; re-extract those videos or remove them"
    )


def read_class_sequences(paths: Mapping[str, Path], dims: DimCheck) -> tuple[dict[str, Ragged], np.ndarray, str]:
    """The audio and video files of one class in one stage, read and cross-checked."""
    loaded = {modality: read_sequences(paths[modality]) for modality in MODALITIES}
    video_names, audio_names = loaded["video"][1], loaded["audio"][1]
    counts = {modality: len(ragged.lengths) for modality, (ragged, _, _) in loaded.items()}
    if counts["audio"] != counts["video"]:
        raise BenchError(
            f"'{paths['audio']}' holds {counts['audio']} sequences but '{paths['video']}' holds {counts['video']}; "
            "audio and video must have one sequence per video each, in the same order: re-extract them"
        )
    check_same_names(paths, video_names, audio_names, "video_names")
    if len(video_names) != counts["video"]:
        raise BenchError(
            f"'{paths['video']}' has {counts['video']} sequences but {len(video_names)} 'video_names'; every "
            "sequence needs exactly one name: re-extract it"
        )
    for modality, (ragged, names, _) in loaded.items():
        if ragged.steps.size:
            dims.check(modality, ragged.steps, paths[modality])
            _check_finite(ragged, paths[modality], modality, names)
    return {m: ragged for m, (ragged, _, _) in loaded.items()}, video_names, loaded["video"][2]


class FlatSteps:
    """Collects one modality's steps class by class in a spill file; `finish` reads them back as one
    flat array. The file is anonymous (removed when closed, or when the process dies)."""

    def __init__(self, spill_dir: Path | None) -> None:
        self.file = _spill_file(spill_dir)
        self.rows = 0

    def add(self, steps: np.ndarray) -> int:
        """Append a file's steps; returns the flat row where they start."""
        first = self.rows
        np.ascontiguousarray(steps, dtype=STORAGE_DTYPE).tofile(self.file)
        self.rows += steps.shape[0]
        return first

    def finish(self, width: int) -> np.ndarray:
        with self.file:
            self.file.seek(0)
            flat = np.fromfile(self.file, dtype=STORAGE_DTYPE, count=self.rows * width)
        return flat.reshape(self.rows, width)


def _spill_file(spill_dir: Path | None) -> BinaryIO:
    if spill_dir is not None:
        try:
            spill_dir.mkdir(parents=True, exist_ok=True)
            return tempfile.TemporaryFile(dir=spill_dir, prefix=".tcaf-steps-")
        except OSError:
            pass  # an unwritable cache folder: the system's temporary folder instead
    return tempfile.TemporaryFile(prefix="avgzsl-tcaf-steps-")


def _table(first: int, lengths: np.ndarray) -> np.ndarray:
    """(n, 2) int64: each sequence's first flat row and length."""
    starts = first + np.cumsum(lengths) - lengths
    return np.stack([starts, lengths], axis=1).astype(np.int64)


def read_sequence_folder(
    layout: BundleLayout,
    stage: str,
    keep: set[int],
    listed: list[int],
    class_names: list[str],
    class_to_idx: Mapping[str, int],
    dims: DimCheck,
    flat: Mapping[str, FlatSteps],
    notes: list[str],
) -> tuple[Folder, set[str]]:
    """One stage folder: its (first row, length) tables per modality, labels and names."""
    owners, dropped = class_files(layout, stage, keep, class_names, class_to_idx)
    tables: dict[str, list[np.ndarray]] = {modality: [] for modality in MODALITIES}
    labels: list[np.ndarray] = []
    names: list[str] = []
    empty: set[int] = set()
    dtypes: set[str] = set()
    for class_id, file_name in sorted(owners.items(), key=lambda item: item[1]):
        paths = {modality: layout.folder(modality, stage) / file_name for modality in MODALITIES}
        sequences, video_names, dtype = read_class_sequences(paths, dims)
        if len(video_names) == 0:
            empty.add(class_id)
            continue
        dtypes.add(dtype)
        for modality in MODALITIES:
            ragged = sequences[modality]
            tables[modality].append(_table(flat[modality].add(ragged.steps), ragged.lengths))
        labels.append(np.full(len(video_names), class_id, dtype=np.int64))
        names.extend(video_names.tolist())
    check_listed_classes(layout, stage, listed, owners, empty, class_names)
    note_dropped(stage, dropped, notes)

    def join(parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.int64)

    folder = Folder(
        video=join(tables["video"]),
        audio=join(tables["audio"]),
        labels=np.concatenate(labels) if labels else np.zeros(0, dtype=np.int64),
        names=names,
    )
    return folder, dtypes


def parse_temporal(layout: BundleLayout, legacy_text_order: bool, spill_dir: Path | None = None) -> TemporalParsed:
    """A fresh read of a TCAF-layout bundle; `spill_dir` holds the steps while the files are read."""
    class_names, class_to_idx = class_index(layout)
    lists = read_split_lists(layout, class_to_idx)
    split_ids = split_class_ids(layout, lists)
    used = set().union(*(set(s) | set(u) for s, u in split_ids.values()))
    notes: list[str] = []
    dims = DimCheck()
    flat = {modality: FlatSteps(spill_dir) for modality in MODALITIES}
    folders: dict[str, Folder] = {}
    dtypes: set[str] = set()
    for stage in STAGE_FOLDERS:
        keep: set[int] = set()
        for split_name, recipe in layout.spec.splits.items():
            if stage in recipe.folders:
                keep |= set(split_ids[split_name][0]) | set(split_ids[split_name][1])
        folders[stage], stage_dtypes = read_sequence_folder(
            layout, stage, keep, lists[stage], class_names, class_to_idx, dims, flat, notes
        )
        dtypes |= stage_dtypes
    text = attach_text(layout, class_names, class_to_idx, used, legacy_text_order, notes)
    values = {modality: flat[modality].finish(dims.dims[modality][0]) for modality in MODALITIES}
    return TemporalParsed(
        class_names=class_names,
        text=text,
        split_ids=split_ids,
        folders=folders,
        values=values,
        notes=notes,
        stored_dtype="/".join(sorted(dtypes)) or "float32",
    )
