"""Where a released bundle's files are, and a check that they exist (no file content is read here).

Two releases share this layout: the ClipClap bundle (one pickle per class and stage) and the
AVCA-GZSL benchmark (one .h5 file per class and stage); the spec's `feature_suffix` says which.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avgzsl_bench.datasets.spec import STAGE_FOLDERS, DatasetSpec
from avgzsl_bench.errors import BenchError

MODALITIES = ("audio", "video")
# Written by the feature zoo next to the features it extracted: which encoders, which preprocessing.
MANIFEST_NAME = "feature_zoo_manifest.json"


@dataclass(frozen=True)
class BundleLayout:
    root: Path
    spec: DatasetSpec
    split: str  # the class-split sub-folder in use
    manifest: Mapping[str, Any] = field(default_factory=dict)  # the feature zoo's manifest, if any

    @property
    def class_split(self) -> Path:
        return self.root / "class-split"

    @property
    def all_class(self) -> Path:
        return self.class_split / "all_class.txt"

    @property
    def split_dir(self) -> Path:
        return self.class_split / self.split

    @property
    def name_csv(self) -> Path:
        return self.class_split / self.spec.name_csv

    @property
    def features(self) -> Path:
        return self.root / "features" / self.spec.feature_dir

    @property
    def text_dir(self) -> Path:
        return self.features / "text"

    def split_txt(self, stage: str) -> Path:
        return self.split_dir / f"{stage}.txt"

    def folder(self, modality: str, stage: str) -> Path:
        return self.features / modality / stage

    @property
    def suffix(self) -> str:
        """File-name ending of the per-class feature files (".pkl", ".h5")."""
        return self.spec.feature_suffix

    @property
    def text_files(self) -> Mapping[str, str]:
        """Text part -> file name: the manifest's (named for the encoder that made them), else the release's."""
        return self.manifest.get("text_files") or self.spec.text_files

    def text(self, part: str) -> Path:
        return self.text_dir / self.text_files[part]

    @property
    def feature_label(self) -> str:
        return str(self.manifest.get("feature_recipe") or self.spec.feature_label)


def read_manifest(path: Path) -> dict[str, Any]:
    """The feature zoo's manifest as a dict; {} when the bundle has none (the released bundle)."""
    if not path.is_file():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BenchError(
            f"cannot read the feature-zoo manifest '{path}' ({error}); re-run the extraction or delete the file"
        ) from error
    if not isinstance(manifest, dict):
        raise BenchError(f"feature-zoo manifest '{path}' is not a JSON object; re-run the extraction")
    return manifest


def feature_file_names(folder: Path, suffix: str) -> list[str]:
    """The per-class feature files of one stage folder, sorted (hidden files skipped)."""
    with os.scandir(folder) as entries:
        return sorted(e.name for e in entries if e.name.endswith(suffix) and not e.name.startswith("."))


def _require_dir(path: Path, message: str) -> None:
    if not path.is_dir():
        raise BenchError(message)


def locate(root: str | Path, spec: DatasetSpec, split: str | None = None) -> BundleLayout:
    """The bundle's layout, after checking that its folders and split files exist."""
    with _other_feature_sets_named(root, spec):
        return _locate(root, spec, split)


def _locate(root: str | Path, spec: DatasetSpec, split: str | None) -> BundleLayout:
    root_path = Path(root).expanduser()
    _require_dir(
        root_path,
        f"bundle root '{root_path}' does not exist or is not a folder; pass the {spec.folder} "
        "dataset folder of the released feature bundle (the one holding class-split/ and features/)",
    )
    root_path = root_path.resolve()
    manifest = read_manifest(root_path / "features" / spec.feature_dir / MANIFEST_NAME)
    layout = BundleLayout(root_path, spec, split or spec.class_split, manifest)
    _require_dir(
        layout.class_split,
        f"'{layout.class_split}' is missing; --root must be the {spec.folder} dataset "
        "folder of the released bundle (it contains class-split/ and features/), not its "
        "parent or the features folder",
    )
    if not layout.all_class.is_file():
        raise BenchError(f"'{layout.all_class}' is missing; restore class-split/ from the released bundle")
    if not layout.split_dir.is_dir():
        available = sorted(p.name for p in layout.class_split.iterdir() if p.is_dir())
        raise BenchError(
            f"class split folder '{layout.split_dir}' is missing (available: {available or 'none'}); "
            "restore it from the released bundle"
        )
    for stage in STAGE_FOLDERS:
        if not layout.split_txt(stage).is_file():
            raise BenchError(
                f"split file '{layout.split_txt(stage)}' is missing; restore class-split/{layout.split}/ "
                "from the released bundle"
            )
    _require_dir(
        layout.features,
        f"features folder '{layout.features}' is missing; unpack the bundle's "
        f"features/{spec.feature_dir}/ into '{layout.root}'",
    )
    for modality in MODALITIES:
        for stage in STAGE_FOLDERS:
            _require_dir(
                layout.folder(modality, stage),
                f"feature folder '{layout.folder(modality, stage)}' is missing; the bundle needs "
                f"{modality}/<stage>/<ClassName>{spec.feature_suffix} for every stage ({', '.join(STAGE_FOLDERS)}): "
                "re-download or re-extract it",
            )
    return layout


def source_files(layout: BundleLayout) -> list[str]:
    """Every file a fresh load may read, relative to the root (the cache key covers exactly these)."""
    fixed = [layout.all_class, layout.name_csv, *(layout.text(part) for part in layout.text_files)]
    fixed += [layout.split_txt(stage) for stage in STAGE_FOLDERS]
    if layout.manifest:
        fixed.append(layout.features / MANIFEST_NAME)
    files = [os.path.relpath(path, layout.root) for path in fixed]
    for modality in MODALITIES:
        for stage in STAGE_FOLDERS:
            prefix = os.path.relpath(layout.folder(modality, stage), layout.root)
            names = feature_file_names(layout.folder(modality, stage), layout.suffix)
            files += [os.path.join(prefix, name) for name in names]
    return files


def check_layout(root: str | Path, spec: DatasetSpec) -> BundleLayout:
    """Check that `root` is a complete dataset folder of `spec`'s release, reading no feature file.

    Beyond `locate` (folders and split lists), the class-name table and every text file must exist
    and every stage folder must hold at least one per-class feature file. Raises `BenchError`
    naming the first missing piece; a download/unpack step calls this before declaring success.
    """
    with _other_feature_sets_named(root, spec):
        return _check_complete(_locate(root, spec, None))


def _check_complete(layout: BundleLayout) -> BundleLayout:
    spec = layout.spec
    if not layout.name_csv.is_file():
        raise BenchError(
            f"class-name table '{layout.name_csv}' is missing; restore class-split/ from the released bundle"
        )
    for part in layout.text_files:
        if not layout.text(part).is_file():
            raise BenchError(
                f"{part} text embeddings '{layout.text(part)}' are missing; unpack the bundle's "
                f"features/{spec.feature_dir}/text/ folder"
            )
    for modality in MODALITIES:
        for stage in STAGE_FOLDERS:
            if not feature_file_names(layout.folder(modality, stage), layout.suffix):
                raise BenchError(
                    f"feature folder '{layout.folder(modality, stage)}' holds no <ClassName>{layout.suffix} "
                    "file; the archive was not unpacked completely: unpack it again"
                )
    return layout


def feature_sets_held(root: str | Path, dataset: str) -> list[str]:
    """The registered feature sets of `dataset` whose complete layout `root` holds (as `check_layout`
    sees it), in registration order."""
    from avgzsl_bench.datasets.spec import feature_sets, get_dataset

    held = []
    for features in feature_sets(dataset):
        spec = get_dataset(dataset, features)
        if spec.synthetic:
            continue
        try:
            layout = _check_complete(_locate(root, spec, None))
        except BenchError:
            continue
        if spec.temporal and not _holds_sequences(layout):
            continue
        held.append(features)
    return held


def _holds_sequences(layout: BundleLayout) -> bool:
    """Whether a folder laid out like a temporal bundle really holds sequences: the ClipClap bundle
    uses the same folder names for one vector per video, so one feature file is read to tell."""
    from avgzsl_bench.datasets.temporal import read_sequences

    folder = layout.folder(MODALITIES[0], STAGE_FOLDERS[0])
    try:
        read_sequences(folder / feature_file_names(folder, layout.suffix)[0])
    except (BenchError, KeyError, IndexError):
        return False
    return True


@contextmanager
def _other_feature_sets_named(root: str | Path, spec: DatasetSpec) -> Iterator[None]:
    """A folder that lacks `spec`'s feature set but holds another one says so, with the option to pass."""
    try:
        yield
    except BenchError as error:
        others = [] if spec.synthetic else [f for f in feature_sets_held(root, spec.name) if f != spec.features]
        if not others:
            raise
        raise BenchError(
            f"'{Path(root).expanduser()}' holds {' and '.join(others)} features, not {spec.features} "
            f"({spec.feature_label}): use --features {others[0]} (for {spec.features}: {error})"
        ) from None
