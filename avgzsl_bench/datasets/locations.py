"""Where data lives: the data folder, and where each released dataset's fetched copy goes.

Datasets and the artefact catalogue both read locations here, so neither imports the other: an
artefact that ships a dataset's folder registers a `Release` for it (`artefacts.catalog` does so
for every folder rule that provides dataset keys), and the datasets look a release up by their
registry key. The releases are plugins like the artefacts themselves: the first lookup imports
the artefact catalogue's built-ins and third-party entry points.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path

from avgzsl_bench.datasets.spec import DatasetSpec
from avgzsl_bench.errors import BenchError
from avgzsl_bench.registry import Registry

# Names the folder that holds the dataset folders (UCF/, ActivityNet/, VGGSound/), as the archives do.
DATA_ENV = "AVGZSL_DATA"
APP_NAME = "avgzsl-bench"


@dataclass(frozen=True)
class Release:
    """A released archive's copy of one dataset: where it is unpacked and how to get it."""

    dataset_key: str  # the dataset registry key ("ucf/clip-clap")
    subdir: str  # the folder under the data home that the archive's folders go to ("" = the data home)
    archive: str  # what `bench.py fetch` calls it
    filename: str  # the archive's file name as published
    page_url: str  # where a person downloads it by hand


def _discover_artefacts() -> None:
    # By name, as the method registry imports its plugin package: the catalogue registers releases.
    importlib.import_module("avgzsl_bench.artefacts.catalog").ARTEFACTS.discover()


RELEASES: Registry[Release] = Registry("released dataset", builtins=_discover_artefacts)


def register_release(release: Release) -> Release:
    return RELEASES.add(release.dataset_key, release)


def release_of(spec: DatasetSpec) -> Release | None:
    return RELEASES.get(spec.key) if spec.key in RELEASES else None


def data_home() -> tuple[Path, str]:
    """The data folder `bench.py fetch` unpacks into, and where that choice came from.

    `$AVGZSL_DATA` if set, else the platform's per-user data folder (e.g. ~/.local/share/avgzsl-bench).
    """
    configured = os.environ.get(DATA_ENV, "").strip()
    if configured:
        return Path(configured).expanduser().resolve(), f"${DATA_ENV}"
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)), "the default data folder"


def default_root(spec: DatasetSpec) -> Path:
    """Where a fetched dataset lives: <data home>/<the providing archive's folder>/<dataset folder>."""
    home, _ = data_home()
    release = release_of(spec)
    return home / (release.subdir if release else "") / spec.folder


def resolve_root(spec: DatasetSpec, root: str | None) -> str:
    """The absolute dataset folder of a released dataset: `root` if given, else the fetched copy."""
    if root:
        return str(Path(root).expanduser().resolve())
    candidate = default_root(spec)
    if candidate.is_dir():
        return str(candidate)
    raise BenchError(missing_data_message(spec, candidate))


def missing_data_message(spec: DatasetSpec, candidate: Path) -> str:
    """Which command (or manual download) gives the dataset, and where it is looked for."""
    home, origin = data_home()
    where = f"'{candidate}' does not exist (data folder: {home}, from {origin}; set ${DATA_ENV} to move it)"
    release = release_of(spec)
    if release is None:
        return (
            f"dataset '{spec.name}' ({spec.features} features) has no local copy: {where}. No artefact of "
            f"`bench.py fetch --list` provides it; pass --root pointing at its {spec.folder} folder"
        )
    return (
        f"dataset '{spec.name}' ({spec.features} features) is not downloaded yet: {where}. Run "
        f"`python bench.py fetch {release.archive}`, or download {release.filename} from {release.page_url} "
        f"yourself and unzip it so that '{candidate / 'class-split'}' exists, or pass --root pointing at the "
        f"{spec.folder} folder of an unzipped copy; --dataset demo needs no data"
    )
