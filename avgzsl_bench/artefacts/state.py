"""What `fetch` left in the data home: archive hashes and folder fingerprints, in one small JSON file.

The sha256 of an archive is recorded the first time it unpacks and verifies, and every later fetch
of the same artefact is checked against it (trust on first use: the publishers give no hashes). A
folder's fingerprint is the list of its files with their sizes, so a file deleted, added or cut
short since the fetch is noticed without reading gigabytes back.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from avgzsl_bench.datasets.fingerprint import sha256_file
from avgzsl_bench.errors import BenchError

__all__ = ["DOWNLOADS", "STATE_FILE", "fingerprint", "read_state", "sha256_file", "state_path", "write_state"]

STATE_FILE = "avgzsl_fetch_state.json"
DOWNLOADS = ".downloads"  # archives being downloaded, and kept after unpacking


def state_path(home: Path) -> Path:
    return home / STATE_FILE


def read_state(home: Path) -> dict[str, Any]:
    path = state_path(home)
    if not path.is_file():
        return {}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BenchError(f"cannot read the fetch state '{path}' ({error}); delete it and fetch again") from error
    if not isinstance(state, dict):
        raise BenchError(f"fetch state '{path}' is not a JSON object; delete it and fetch again")
    return state


def write_state(home: Path, state: dict[str, Any]) -> None:
    """Write the whole state at once: a crash leaves the old file or the new one, never half of one."""
    home.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=home, prefix=".state-", suffix=".json")
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        json.dump(state, file, indent=2, sort_keys=True)
    os.replace(temporary, state_path(home))


def fingerprint(folder: Path) -> dict[str, Any]:
    """Number of files, their total size, and a hash of every relative path with its size."""
    lines, total = [], 0
    for directory, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(directory, name)
            size = os.path.getsize(path)
            total += size
            lines.append(f"{os.path.relpath(path, folder)}\t{size}")
    digest = hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()
    return {"files": len(lines), "bytes": total, "digest": digest}
