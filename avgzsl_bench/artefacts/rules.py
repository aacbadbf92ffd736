"""Folder rules: recognising a dataset or checkpoint folder inside an unpacked archive by its contents."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from avgzsl_bench.artefacts.catalog import FolderRule
from avgzsl_bench.datasets.layout import check_layout, locate
from avgzsl_bench.datasets.spec import DatasetSpec, get_dataset
from avgzsl_bench.errors import BenchError

SKIPPED_DIRS = {"__MACOSX"}  # resource forks a zip made on macOS carries


def _subdirs(folder: Path) -> list[Path]:
    with os.scandir(folder) as entries:
        return sorted(
            Path(entry.path)
            for entry in entries
            if entry.is_dir() and not entry.name.startswith(".") and entry.name not in SKIPPED_DIRS
        )


def find_by_contents(matches: Callable[[Path], bool]) -> Callable[[Path], list[Path]]:
    """Every folder of a tree that `matches`, breadth first; the search does not enter a match."""

    def find(tree: Path) -> list[Path]:
        found, queue = [], [tree]
        while queue:
            folder = queue.pop(0)
            if matches(folder):
                found.append(folder)
            else:
                queue.extend(_subdirs(folder))
        return found

    return find


# -- the ClipClap CLIP/CLAP bundle: one folder per dataset, read by the pickle-bundle reader ---------------


def _clip_clap_matches(spec: DatasetSpec) -> Callable[[Path], bool]:
    # The name CSV and the text files carry the dataset's name, so the folder's own name does not matter.
    def matches(folder: Path) -> bool:
        return (folder / "class-split" / spec.name_csv).is_file() and (folder / "features" / spec.feature_dir).is_dir()

    return matches


def _clip_clap_verify(spec: DatasetSpec) -> Callable[[Path], None]:
    def verify(folder: Path) -> None:
        layout = locate(folder, spec)  # split lists and feature folders, with the reader's own messages
        for path in (layout.name_csv, *(layout.text(part) for part in layout.text_files)):
            if not path.is_file():
                raise BenchError(f"'{path}' is missing from the {spec.folder} folder; re-download the archive")

    return verify


def clip_clap_dataset(spec: DatasetSpec) -> FolderRule:
    return FolderRule(
        target=spec.folder,
        description=f"{spec.paper_name}: class splits, {spec.feature_label} features",
        find=find_by_contents(_clip_clap_matches(spec)),
        verify=_clip_clap_verify(spec),
        provides=(spec.key,),
    )


# -- the AVCA-GZSL benchmark bundle: SeLaVi (main_*) and C3D/VGGish (cls_*) features in h5 files ---------

# (class split, feature folder) pairs of the AVCA-GZSL bundle's two feature sets.
AVCA_FEATURE_SETS = (("main_split", "main_features"), ("cls_split", "cls_features"))
SPLIT_FOLDER_NAMES = ("class-split", "class_split")  # the bundle's README spells it with an underscore


def _split_root(folder: Path) -> Path | None:
    return next((folder / name for name in SPLIT_FOLDER_NAMES if (folder / name).is_dir()), None)


def _avca_matches(folder_name: str) -> Callable[[Path], bool]:
    # The bundle carries no file named after its dataset, so the folder's name identifies it.
    def matches(folder: Path) -> bool:
        return (
            folder.name.lower() == folder_name.lower()
            and _split_root(folder) is not None
            and any((folder / "features" / features).is_dir() for _, features in AVCA_FEATURE_SETS)
        )

    return matches


def avca_dataset(folder_name: str, dataset: str, feature_sets: tuple[str, ...]) -> FolderRule:
    def verify(folder: Path) -> None:
        # The dataset reader says what a complete folder holds, for each feature set it provides.
        for features in feature_sets:
            check_layout(folder, get_dataset(dataset, features))

    return FolderRule(
        target=folder_name,
        description=f"{folder_name}: AVCA-GZSL class splits, SeLaVi and C3D/VGGish features (h5)",
        find=find_by_contents(_avca_matches(folder_name)),
        verify=verify,
        provides=tuple(f"{dataset}/{features}" for features in feature_sets),
    )


# -- trained models: a tree of reference checkpoints, kept as it is -----------------------------------------


def _checkpoint_tree(tree: Path) -> list[Path]:
    """The whole unpacked tree, if it holds checkpoints: its folder names tell the datasets' runs apart."""
    return [tree] if any(SKIPPED_DIRS.isdisjoint(path.parts) for path in tree.rglob("*.pt")) else []


def _verify_checkpoints(folder: Path) -> None:
    from avgzsl_bench.artefacts.checkpoints import find_reference_pairs

    if not find_reference_pairs(folder):
        raise BenchError(
            f"'{folder}' holds no stage-1 best model (*_score.pt) with its stage-2 checkpoint "
            "(checkpoints/*_ckpt_<epoch>.pt); re-download the model archive"
        )


def checkpoint_tree(description: str) -> FolderRule:
    return FolderRule(target="", description=description, find=_checkpoint_tree, verify=_verify_checkpoints)
