"""The loader's fast cache: one `torch.save` file per (bundle, options, state of its source files).

The key covers the size and modification time of every file a fresh load reads, and the load
options, so a changed bundle is never shadowed by a stale cache (the reference's own cache ignores
both). The cache also keeps the bundle's data fingerprint, so it is hashed once per state of the
files, not once per load. Writes are atomic (temporary file + rename), a damaged cache is rebuilt, never fatal, and an
unwritable cache folder only costs speed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from avgzsl_bench.datasets.layout import BundleLayout, source_files
from avgzsl_bench.datasets.parse import Folder, Parsed

LOADER_VERSION = 2
CACHE_FORMAT = "avgzsl_bench.bundle-cache"
CACHE_ENV = "AVGZSL_BENCH_CACHE"


def default_cache_dir() -> Path:
    """`$AVGZSL_BENCH_CACHE` if set, else `~/.cache/avgzsl_bench`."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "avgzsl_bench"


def cache_key(layout: BundleLayout, legacy_text_order: bool) -> str:
    entries: list[list[Any]] = []
    root = str(layout.root)
    for relative in source_files(layout):
        try:
            stat = os.stat(os.path.join(root, relative))
            entries.append([relative, stat.st_size, stat.st_mtime_ns])
        except FileNotFoundError:
            entries.append([relative, None, None])
    identity = {
        "format": CACHE_FORMAT,
        "loader_version": LOADER_VERSION,
        "root": root,
        "dataset": layout.spec.key,
        "split": layout.split,
        "legacy_text_order": bool(legacy_text_order),
        "files": entries,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def cache_path(directory: Path, layout: BundleLayout, legacy_text_order: bool, key: str) -> Path:
    return directory / f"{_prefix(layout, legacy_text_order)}{key[:20]}.pt"


def _prefix(layout: BundleLayout, legacy_text_order: bool) -> str:
    identity = json.dumps([str(layout.root), layout.spec.key, layout.split, bool(legacy_text_order)])
    return f"{layout.spec.name}-{hashlib.sha256(identity.encode()).hexdigest()[:12]}-"


def _payload(parsed: Parsed, key: str) -> dict[str, Any]:
    return {
        "format": CACHE_FORMAT,
        "loader_version": LOADER_VERSION,
        "key": key,
        "class_names": list(parsed.class_names),
        "notes": list(parsed.notes),
        "video_dtype": parsed.video_dtype,
        "fingerprint": parsed.fingerprint,
        # as_tensor: a freshly parsed bundle holds arrays, one read back from the cache tensors
        "text": {part: torch.as_tensor(matrix) for part, matrix in parsed.text.items()},
        "split_ids": {name: [list(seen), list(unseen)] for name, (seen, unseen) in parsed.split_ids.items()},
        "folders": {
            stage: {
                "video": torch.as_tensor(np.ascontiguousarray(folder.video)),
                "audio": torch.as_tensor(np.ascontiguousarray(folder.audio)),
                "labels": torch.as_tensor(folder.labels),
                "names": json.dumps(list(folder.names)),  # one string: fast under weights_only loading
            }
            for stage, folder in parsed.folders.items()
        },
    }


def _from_payload(payload: dict[str, Any]) -> Parsed:
    return Parsed(
        class_names=list(payload["class_names"]),
        text=dict(payload["text"]),
        split_ids={name: (list(ids[0]), list(ids[1])) for name, ids in payload["split_ids"].items()},
        folders={
            stage: Folder(data["video"], data["audio"], data["labels"], json.loads(data["names"]))
            for stage, data in payload["folders"].items()
        },
        notes=list(payload["notes"]),
        video_dtype=str(payload["video_dtype"]),
        fingerprint=str(payload.get("fingerprint", "")),  # absent in caches written before fingerprints
    )


def read_cache(path: Path, key: str) -> Parsed | None:
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if (
            not isinstance(payload, dict)
            or payload.get("format") != CACHE_FORMAT
            or payload.get("loader_version") != LOADER_VERSION
            or payload.get("key") != key
        ):
            raise ValueError("cache file does not match this bundle/loader")
        return _from_payload(payload)
    except Exception as error:  # noqa: BLE001 - a bad cache is rebuilt, never fatal
        warnings.warn(
            f"ignoring unreadable bundle cache '{path}' ({type(error).__name__}: {error}); rebuilding it",
            RuntimeWarning,
            stacklevel=3,
        )
        return None


def write_cache(path: Path, layout: BundleLayout, legacy_text_order: bool, parsed: Parsed, key: str) -> None:
    """Atomic write; stale caches of the same bundle and options are removed."""
    directory, temp_name = path.parent, None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        with os.fdopen(handle, "wb") as stream:
            torch.save(_payload(parsed, key), stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, path)
        temp_name = None
        for stale in directory.glob(f"{_prefix(layout, legacy_text_order)}*.pt"):
            if stale != path:
                stale.unlink(missing_ok=True)
    except OSError as error:
        warnings.warn(
            f"could not write the bundle cache to '{directory}' ({error}); loading works but stays slow. "
            f"Pass cache_dir= or set ${CACHE_ENV} to a writable folder",
            RuntimeWarning,
            stacklevel=3,
        )
    finally:
        if temp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp_name)
