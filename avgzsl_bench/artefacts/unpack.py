"""Atomic unpacking: extract into a hidden folder beside the destination, verify, then rename into place.

Nothing under a dataset's final path exists until its folder was extracted whole and verified, so
a killed or failed unzip leaves at most the hidden staging folder, which the next fetch deletes and
which no dataset lookup ever reads.
"""

from __future__ import annotations

import errno
import os
import shutil
import zipfile
from pathlib import Path, PurePosixPath

from avgzsl_bench.artefacts.catalog import Artefact, FolderRule
from avgzsl_bench.errors import BenchError

# Errors of writing the unpacked files, which say nothing about the archive.
DESTINATION_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS}
STAGING_PREFIX = ".unpacking-"
RETIRED_PREFIX = ".replaced-"


class UnpackFailed(BenchError):
    """The archive could not be unpacked for a reason of the destination (disk full, no permission)."""


def staging_dir(home: Path, artefact: Artefact) -> Path:
    return home / f"{STAGING_PREFIX}{artefact.name}"


def extract(archive: Path, into: Path) -> None:
    """Extract a zip whole into `into` (which must not exist); a broken archive raises BenchError."""
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = bundle.infolist()
            for member in members:
                parts = PurePosixPath(member.filename.replace("\\", "/")).parts
                if member.filename.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                    raise BenchError(f"archive '{archive}' holds an unsafe path '{member.filename}'; not unpacking it")
            into.mkdir(parents=True)
            for member in members:
                bundle.extract(member, into)  # reading each member checks its CRC
    except OSError as error:
        shutil.rmtree(into, ignore_errors=True)
        if error.errno in DESTINATION_ERRORS:
            raise UnpackFailed(
                f"cannot unpack '{archive}' into '{into.parent}' ({error.strerror}); free disk space or make that "
                "folder writable, then fetch again (the archive is kept)"
            ) from error
        raise BenchError(f"archive '{archive}' is not a readable zip ({error}); it is incomplete or corrupt") from error
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as error:
        shutil.rmtree(into, ignore_errors=True)
        raise BenchError(f"archive '{archive}' is not a readable zip ({error}); it is incomplete or corrupt") from error
    except BaseException:
        shutil.rmtree(into, ignore_errors=True)
        raise


def find_folders(tree: Path, artefact: Artefact) -> dict[FolderRule, Path]:
    """The folder of every rule, found by contents and verified; any miss raises BenchError."""
    found: dict[FolderRule, Path] = {}
    for rule in artefact.folders:
        matches = rule.find(tree)
        if not matches:
            raise BenchError(
                f"archive of '{artefact.name}' holds no folder with {rule.description} "
                "(the archive is not the expected one, or is incomplete)"
            )
        if len(matches) > 1:
            listed = ", ".join(str(path.relative_to(tree)) for path in matches)
            raise BenchError(f"archive of '{artefact.name}' holds several candidates for {rule.target!r}: {listed}")
        rule.verify(matches[0])
        found[rule] = matches[0]
    return found


def install(found: dict[FolderRule, Path], home: Path, artefact: Artefact) -> dict[str, Path]:
    """Rename every verified folder into place (an older copy is replaced); returns target -> path."""
    placed = {}
    for rule, source in found.items():
        final = artefact.destination(home, rule)
        final.parent.mkdir(parents=True, exist_ok=True)
        retired = final.with_name(RETIRED_PREFIX + final.name)
        shutil.rmtree(retired, ignore_errors=True)
        if final.exists():
            os.replace(final, retired)
        os.replace(source, final)
        shutil.rmtree(retired, ignore_errors=True)
        placed[rule.target] = final
    return placed


def clear_leftovers(home: Path, artefact: Artefact) -> None:
    """Remove what an interrupted fetch of this artefact left: its staging and replaced folders."""
    shutil.rmtree(staging_dir(home, artefact), ignore_errors=True)
    for rule in artefact.folders:
        final = artefact.destination(home, rule)
        shutil.rmtree(final.with_name(RETIRED_PREFIX + final.name), ignore_errors=True)
