"""The bundle readers: a released dataset folder (ClipClap pickles, AVCA-GZSL .h5 files, or a
feature-zoo output) -> `GZSLDataset`.

A load reads the fast cache when it matches the bundle's files, else parses the bundle and writes
the cache; either way the four protocol splits are assembled from the per-stage folders.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from avgzsl_bench.datasets.cache import cache_key, cache_path, default_cache_dir, read_cache, write_cache
from avgzsl_bench.datasets.fingerprint import files_fingerprint
from avgzsl_bench.datasets.layout import MANIFEST_NAME, BundleLayout, locate, source_files
from avgzsl_bench.datasets.parse import Folder, Parsed, parse_bundle
from avgzsl_bench.datasets.sequences import Sequences
from avgzsl_bench.datasets.spec import DatasetSpec, get_dataset
from avgzsl_bench.datasets.temporal import TemporalParsed, parse_temporal
from avgzsl_bench.datasets.types import FeatureDims, FeatureSplit, GZSLDataset, TextEmbeddings


def _split(parsed: Parsed, folders: dict[str, Folder], name: str, recipe_folders: tuple[str, ...]) -> FeatureSplit:
    seen_ids, unseen_ids = parsed.split_ids[name]
    wanted = np.asarray([*seen_ids, *unseen_ids], dtype=np.int64)
    video, audio, labels, names = [], [], [], []
    for stage in recipe_folders:
        folder = folders[stage]
        mask = np.isin(folder.labels, wanted)
        if mask.all():  # the common case: no copy
            video.append(folder.video)
            audio.append(folder.audio)
            labels.append(folder.labels)
            names.extend(folder.names)
        else:
            video.append(folder.video[mask])
            audio.append(folder.audio[mask])
            labels.append(folder.labels[mask])
            names.extend(name for name, keep in zip(folder.names, mask.tolist()) if keep)

    def join(parts: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(parts[0] if len(parts) == 1 else np.concatenate(parts))

    return FeatureSplit(
        video=join(video),
        audio=join(audio),
        labels=join(labels),
        seen=torch.tensor(seen_ids, dtype=torch.int64),
        unseen=torch.tensor(unseen_ids, dtype=torch.int64),
        names=tuple(names),
    )


def _text_and_dims(parts: Mapping[str, Any], video_dim: int, audio_dim: int) -> tuple[TextEmbeddings, FeatureDims]:
    """The class-text matrices as float32 tensors, and the dims of everything a method is built for."""
    text = TextEmbeddings(**{part: torch.as_tensor(matrix, dtype=torch.float32) for part, matrix in parts.items()})
    return text, FeatureDims(video_dim, audio_dim, tuple((part, int(m.shape[1])) for part, m in text.parts.items()))


def _dims_note(dims: FeatureDims, expected: FeatureDims, video_dtype: str, root: Path) -> str:
    text = ", ".join(f"{part.upper()} text {dim}" for part, dim in dims.text_parts)
    note = f"feature dims: video {dims.video} (stored {video_dtype}, cast to float32), audio {dims.audio}, {text}"
    if dims != expected:
        paper = (expected.video, expected.audio, *(dim for _, dim in expected.text_parts))
        note += f" (differs from the release's {'/'.join(map(str, paper))})"
        warnings.warn(f"bundle '{root}': {note}; methods must be built for these dims", UserWarning, stacklevel=4)
    return note


def assemble(parsed: Parsed, layout: BundleLayout) -> GZSLDataset:
    """The four protocol splits from the per-folder arrays (numpy: single-threaded and predictable)."""
    folders = {
        stage: Folder(
            video=np.asarray(f.video).astype(np.float32, copy=False),  # float16 video: cast once
            audio=np.asarray(f.audio).astype(np.float32, copy=False),
            labels=np.asarray(f.labels, dtype=np.int64),
            names=f.names,
        )
        for stage, f in parsed.folders.items()
    }
    splits = {name: _split(parsed, folders, name, recipe.folders) for name, recipe in layout.spec.splits.items()}
    text, dims = _text_and_dims(parsed.text, int(splits["train"].video.shape[1]), int(splits["train"].audio.shape[1]))
    return GZSLDataset(
        name=layout.spec.name,
        class_names=tuple(parsed.class_names),
        text=text,
        splits=splits,
        synthetic=False,
        source=f"released bundle {layout.root} (class split '{layout.split}', {layout.spec.feature_dir})",
        notes=(*parsed.notes, _dims_note(dims, layout.spec.dims, parsed.video_dtype, layout.root)),
        fingerprint=parsed.fingerprint,
    )


def assemble_temporal(parsed: TemporalParsed, layout: BundleLayout) -> GZSLDataset:
    """The four protocol splits as `Sequences` over one shared step tensor per modality."""
    folders = {
        stage: Folder(
            video=np.asarray(f.video, dtype=np.int64),
            audio=np.asarray(f.audio, dtype=np.int64),
            labels=np.asarray(f.labels, dtype=np.int64),
            names=f.names,
        )
        for stage, f in parsed.folders.items()
    }
    values = {modality: torch.as_tensor(steps) for modality, steps in parsed.values.items()}
    step_s = layout.spec.step_s
    splits = {}
    for name, recipe in layout.spec.splits.items():
        tables = _split(parsed, folders, name, recipe.folders)  # type: ignore[arg-type]
        sequences = {}
        for modality, table in (("video", tables.video), ("audio", tables.audio)):
            assert isinstance(table, torch.Tensor)  # (N, 2): first row, length
            starts, lengths = table[:, 0].contiguous(), table[:, 1].contiguous()
            sequences[modality] = Sequences(values[modality], starts, lengths, step_s[modality])
        splits[name] = replace(tables, video=sequences["video"], audio=sequences["audio"])
    text, dims = _text_and_dims(parsed.text, int(values["video"].shape[1]), int(values["audio"].shape[1]))
    steps = ", ".join(f"{m} {step_s[m]:g} s per step" for m in ("video", "audio"))
    return GZSLDataset(
        name=layout.spec.name,
        class_names=tuple(parsed.class_names),
        text=text,
        splits=splits,
        synthetic=False,
        source=f"TCAF-layout bundle {layout.root} (class split '{layout.split}', {layout.spec.feature_dir})",
        notes=(
            *parsed.notes,
            _dims_note(dims, layout.spec.dims, f"{parsed.stored_dtype}, kept as float16", layout.root),
            f"sequences: {steps}; padded per batch, never at rest",
        ),
        fingerprint=parsed.fingerprint,
    )


def bundle_fingerprint(layout: BundleLayout, legacy_text_order: bool) -> str:
    """The data fingerprint of a bundle: every file a load reads, the feature set and the text rule.

    The feature zoo's manifest is read but not hashed: it records when and how fast the features
    were extracted, so a re-extraction of byte-identical features must not make a new data version
    (what it decides, which file holds which text, is hashed through those files)."""
    hashed = [name for name in source_files(layout) if Path(name).name != MANIFEST_NAME]
    return files_fingerprint(layout.root, hashed, layout.spec.features, legacy_text_order)


def load_bundle(
    root: str | Path,
    dataset: str | DatasetSpec,
    *,
    legacy_text_order: bool = False,
    cache_dir: str | Path | None = None,
    split: str | None = None,
) -> GZSLDataset:
    """Load one dataset folder of a released feature bundle as a `GZSLDataset`.

    root: the dataset folder (holding `class-split/` and `features/`); dataset: a registered name
    ("ucf", any case; its CLIP/CLAP feature set) or spec (e.g. `get_dataset("ucf", "selavi")`);
    legacy_text_order: attach text by sorted-key position like the reference code instead of by name;
    cache_dir: where the fast cache goes (default `$AVGZSL_BENCH_CACHE` or `~/.cache/avgzsl_bench`);
    split: the class-split folder (default: the spec's). Raises `BenchError` with the offending file
    and the fix on any malformed input.
    """
    spec = dataset if isinstance(dataset, DatasetSpec) else get_dataset(dataset)
    layout = locate(root, spec, split)
    directory = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    key = cache_key(layout, legacy_text_order)
    path = cache_path(directory, layout, legacy_text_order, key)
    parsed = read_cache(path, key)
    if parsed is None or not parsed.fingerprint:  # a cache from before fingerprints gains one, once
        if parsed is None:
            parsed = (
                parse_temporal(layout, legacy_text_order, spill_dir=directory)
                if spec.temporal
                else parse_bundle(layout, legacy_text_order)
            )
        parsed = replace(parsed, fingerprint=bundle_fingerprint(layout, legacy_text_order))
        write_cache(path, layout, legacy_text_order, parsed, key)
    if isinstance(parsed, TemporalParsed):
        return assemble_temporal(parsed, layout)
    return assemble(parsed, layout)
