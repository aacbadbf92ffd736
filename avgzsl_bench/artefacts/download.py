"""Downloading one archive, resumably, with gdown (Google Drive's large-file confirmation included).

gdown writes into `<archive><random>.part` next to the archive and, with `resume=True`, continues
such a partial file with an HTTP Range request, so an interrupted download goes on where it
stopped, in this fetch (`retries`) or in the next one. Plain HTTP(S) mirrors go through the same
code path. The sha256 is computed from the bytes as they arrive (resumed bytes included), so the
archive is not read back.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import gdown
import requests
from rich.console import Console

from avgzsl_bench.artefacts.transfer import transfer_progress


class DownloadFailed(Exception):
    """The archive could not be downloaded; the reason in words, the partial file kept for resuming."""


def download(
    url: str,
    output: Path,
    *,
    retries: int = 3,
    timeout: float = 60,
    console: Console | None = None,
    quiet: bool = False,
) -> str:
    """Download `url` to `output` (resuming a partial file); returns the archive's sha256."""
    output.parent.mkdir(parents=True, exist_ok=True)
    hasher = hashlib.sha256()
    try:
        with transfer_progress(f"downloading {output.name}", console, quiet) as progress:
            gdown.download(
                url=url,
                output=str(output),
                quiet=True,
                resume=True,
                use_cookies=False,  # nothing is written to the user's home
                progress=progress,
                hasher=hasher,
                retries=retries,
                timeout=timeout,
            )
    except (requests.RequestException, gdown.exceptions.DownloadError, OSError) as error:
        raise DownloadFailed(_reason(error)) from error
    return hasher.hexdigest()


def partial_files(output: Path) -> list[Path]:
    """gdown's partial downloads of `output` (what a resumed download continues)."""
    return sorted(output.parent.glob(f"{output.name}*.part")) if output.parent.is_dir() else []


def _reason(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) < 400 else text[:400] + "..."
