"""`fetch`: one artefact from its archive to verified folders in the data home, recorded in the state.

Steps: take a lock (one fetch per artefact and data home at a time); stop early when the artefact is
already unpacked and unchanged; download the archive into `<home>/.downloads/` (resuming a partial
download) unless it is there already or given with `archive=`; check its sha256 against the one
recorded by an earlier fetch; unpack and verify in a staging folder; rename into place; record.
Every failure is a `BenchError` whose message ends with the manual route. A downloaded archive that
fails to unpack or verify is moved to `<home>/.downloads/rejected/` (and the message says so), so the
next fetch downloads it again rather than failing on the same file; `force` always downloads again.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from rich.console import Console

from avgzsl_bench.artefacts.catalog import Artefact, get_artefact
from avgzsl_bench.artefacts.download import DownloadFailed, download, partial_files
from avgzsl_bench.artefacts.state import DOWNLOADS, fingerprint, read_state, sha256_file, write_state
from avgzsl_bench.artefacts.unpack import (
    UnpackFailed,
    clear_leftovers,
    extract,
    find_folders,
    install,
    staging_dir,
)
from avgzsl_bench.datasets.locations import data_home
from avgzsl_bench.errors import BenchError

REJECTED = "rejected"  # <downloads>/rejected/: the last archive that failed verification


@dataclass
class FetchResult:
    artefact: Artefact
    home: Path
    folders: dict[str, Path]  # rule target -> final folder
    sha256: str = ""
    downloaded_bytes: int = 0
    already_present: bool = False
    seconds: dict[str, float] = field(default_factory=dict)  # download / unpack


def archive_path(home: Path, artefact: Artefact) -> Path:
    return home / DOWNLOADS / artefact.filename


def manual_steps(artefact: Artefact, home: Path) -> str:
    """How to do by hand what fetch does: where to download, where to put or unzip the archive."""
    folders = ", ".join(f"'{artefact.destination(home, rule)}'" for rule in artefact.folders)
    return (
        f"Manual route: (1) open {artefact.page_url} in a browser (linked from {artefact.publisher}) and "
        f"download {artefact.filename}; (2) move it to '{archive_path(home, artefact)}' and run `python bench.py "
        f"fetch {artefact.name}` again, or run `python bench.py fetch {artefact.name} --archive PATH` (both unpack "
        f"and verify it); or unzip it yourself so that {folders} exist."
    )


def fetch(
    name: str,
    home: Path | None = None,
    *,
    url: str | None = None,
    archive: Path | None = None,
    force: bool = False,
    keep_archive: bool = True,
    retries: int = 3,
    timeout: float = 60,
    console: Console | None = None,
    quiet: bool = False,
) -> FetchResult:
    artefact = get_artefact(name)
    home = (home or data_home()[0]).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(home / f".fetch-{artefact.name}.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise BenchError(f"another `bench.py fetch {artefact.name}` is running on '{home}'; wait for it") from None
    try:
        return _fetch_locked(artefact, home, url, archive, force, keep_archive, retries, timeout, console, quiet)
    finally:
        lock.release()


def _fetch_locked(
    artefact: Artefact,
    home: Path,
    url: str | None,
    archive: Path | None,
    force: bool,
    keep_archive: bool,
    retries: int,
    timeout: float,
    console: Console | None,
    quiet: bool,
) -> FetchResult:
    clear_leftovers(home, artefact)
    state = read_state(home)
    if not force and archive is None and unchanged(artefact, home, state.get(artefact.name)):
        folders = {rule.target: artefact.destination(home, rule) for rule in artefact.folders}
        return FetchResult(artefact, home, folders, state[artefact.name]["sha256"], already_present=True)
    result = FetchResult(artefact, home, {})
    path, source = _obtain_archive(artefact, home, url, archive, force, retries, timeout, console, quiet, result)
    recorded = state.get(artefact.name, {}).get("sha256")
    if recorded and recorded != result.sha256 and not force:
        raise BenchError(
            f"archive '{path}' has sha256 {result.sha256}, but the {artefact.name} archive fetched before had "
            f"{recorded}: it was modified, or the source serves another file. Delete '{path}', or pass --force "
            "to download it again and accept what the source serves"
        )
    started = time.perf_counter()
    staging = staging_dir(home, artefact)
    try:
        extract(path, staging)
        result.folders = install(find_folders(staging, artefact), home, artefact)
    except UnpackFailed:
        raise  # the destination's fault: the archive is kept
    except BenchError as error:
        raise BenchError(_rejected(artefact, home, path, given=archive is not None, error=error)) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    result.seconds["unpack"] = time.perf_counter() - started
    state[artefact.name] = _record(artefact, result, source, path)
    write_state(home, state)
    if not keep_archive and archive is None:
        path.unlink(missing_ok=True)
    return result


def _obtain_archive(
    artefact: Artefact,
    home: Path,
    url: str | None,
    archive: Path | None,
    force: bool,
    retries: int,
    timeout: float,
    console: Console | None,
    quiet: bool,
    result: FetchResult,
) -> tuple[Path, str]:
    """The archive on disk (given, already downloaded, or downloaded now) and where it came from."""
    if archive is not None:
        archive = archive.expanduser().resolve()
        if not archive.is_file():
            raise BenchError(f"--archive '{archive}' is not a file")
        result.sha256 = sha256_file(archive)
        return archive, str(archive)
    path = archive_path(home, artefact)
    source = url or artefact.download_url
    if force:  # download again from the start: a kept archive or partial download is not reused
        for stale in (path, *partial_files(path)):
            stale.unlink(missing_ok=True)
    if path.is_file():  # downloaded before (and kept), or put there by hand
        result.sha256 = sha256_file(path)
        return path, source
    started = time.perf_counter()
    try:
        result.sha256 = download(source, path, retries=retries, timeout=timeout, console=console, quiet=quiet)
    except DownloadFailed as error:
        kept = " The partial download is kept; the next fetch resumes it." if partial_files(path) else ""
        raise BenchError(
            f"could not download {artefact.name} ({artefact.filename}) from {source}: {error}.{kept} "
            f"{manual_steps(artefact, home)}"
        ) from None
    result.seconds["download"] = time.perf_counter() - started
    result.downloaded_bytes = path.stat().st_size
    return path, source


def rejected_path(home: Path, artefact: Artefact) -> Path:
    """Where an archive that failed verification goes: out of the way of the next fetch, one kept."""
    return home / DOWNLOADS / REJECTED / artefact.filename


def _rejected(artefact: Artefact, home: Path, path: Path, *, given: bool, error: BenchError) -> str:
    """The message of an archive that failed to unpack or verify; a downloaded one is moved aside
    first, so that the next fetch downloads it again instead of failing on the same file."""
    if given:
        return f"{error}. '{path}' was left where it is: check that it is the {artefact.filename} of {artefact.name}"
    aside = rejected_path(home, artefact)
    aside.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, aside)
    return (
        f"{error}. The archive '{path}' was moved aside to '{aside}' (delete it when you no longer need it); "
        f"`python bench.py fetch {artefact.name}` downloads it again (add --url to use another source). "
        f"{manual_steps(artefact, home)}"
    )


def _record(artefact: Artefact, result: FetchResult, source: str, path: Path) -> dict[str, Any]:
    return {
        "archive": artefact.filename,
        "sha256": result.sha256,
        "bytes": path.stat().st_size,
        "source": source,
        "fetched": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "folders": {target: fingerprint(folder) for target, folder in result.folders.items()},
    }


def unchanged(artefact: Artefact, home: Path, record: dict[str, Any] | None) -> bool:
    """Every folder of a recorded fetch is still there with the same files and sizes."""
    if not record or "sha256" not in record:
        return False
    folders = record.get("folders", {})
    for rule in artefact.folders:
        folder = artefact.destination(home, rule)
        if rule.target not in folders or not folder.is_dir() or fingerprint(folder) != folders[rule.target]:
            return False
    return True
