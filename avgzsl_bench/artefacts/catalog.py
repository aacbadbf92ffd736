"""The artefact catalogue: what each released archive is, where it comes from, what to find inside.

Artefacts are data, like a model zoo's pretrained tags: a name users type (`bench.py fetch
clipclap-features`), the archive's Google Drive id and file name, the folder of the data home its
contents go to, and one `FolderRule` per folder to take out of it. The archives' inner layouts are
not documented (a zip may nest everything under `data/` or under its own name), so a rule finds its
folder by what the folder holds, never by its path, and says how to verify it after unpacking.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from avgzsl_bench.datasets.locations import Release, register_release
from avgzsl_bench.errors import BenchError
from avgzsl_bench.registry import Registry

DRIVE_PAGE = "https://drive.google.com/file/d/{id}/view"
DRIVE_DOWNLOAD = "https://drive.google.com/uc?id={id}"


@dataclass(frozen=True)
class FolderRule:
    """One folder to take out of an archive: how to find it, where it goes, how to check it."""

    target: str  # its name under the artefact's sub-folder of the data home ("UCF"; "" = that sub-folder)
    description: str  # what it holds, for listings and messages
    find: Callable[[Path], list[Path]]  # every folder of the unpacked tree that is this one
    verify: Callable[[Path], None]  # raises BenchError naming what is missing and how to fix it
    provides: tuple[str, ...] = ()  # dataset registry keys ("ucf/clip-clap") whose data it is


@dataclass(frozen=True)
class Artefact:
    name: str  # what users type after `bench.py fetch`
    filename: str  # the archive's file name as published
    drive_id: str  # its Google Drive file id
    description: str
    publisher: str  # the repository whose README links it (where to look when the link dies)
    subdir: str  # where its folders go under the data home ("" = the data home itself)
    folders: tuple[FolderRule, ...]

    @property
    def page_url(self) -> str:
        """The page a person opens in a browser to download the archive by hand."""
        return DRIVE_PAGE.format(id=self.drive_id)

    @property
    def download_url(self) -> str:
        return DRIVE_DOWNLOAD.format(id=self.drive_id)

    def destination(self, home: Path, rule: FolderRule) -> Path:
        return home / self.subdir / rule.target if rule.target else home / self.subdir


def _validate(name: str, artefact: Artefact) -> None:
    if name != artefact.name:
        raise BenchError(f"artefact registered as '{name}' but named '{artefact.name}'")
    targets = [rule.target for rule in artefact.folders]
    if not targets or len(set(targets)) != len(targets):
        raise BenchError(f"artefact '{name}' needs at least one folder rule, with distinct targets")


def _import_builtin_artefacts() -> None:
    import avgzsl_bench.artefacts.builtin  # noqa: F401 - registers the released archives


ARTEFACTS: Registry[Artefact] = Registry(
    "artefact", validate=_validate, builtins=_import_builtin_artefacts, entry_point_group="avgzsl_bench.artefacts"
)


def register_artefact(artefact: Artefact) -> Artefact:
    """Add an archive to the catalogue; the datasets it provides learn where their fetched copy lives."""
    ARTEFACTS.add(artefact.name, artefact)
    for rule in artefact.folders:
        for key in rule.provides:
            register_release(Release(key, artefact.subdir, artefact.name, artefact.filename, artefact.page_url))
    return artefact


def get_artefact(name: str) -> Artefact:
    return ARTEFACTS.get(name)


def list_artefacts() -> list[str]:
    return ARTEFACTS.names()


def provider_of(dataset_key: str) -> Artefact | None:
    """The artefact whose archive holds the data of a dataset registry key ("ucf/clip-clap")."""
    for name in ARTEFACTS.names():
        artefact = ARTEFACTS.get(name)
        if any(dataset_key in rule.provides for rule in artefact.folders):
            return artefact
    return None
