"""Content-addressed per-video feature cache.

Key = sha256(file bytes) + backbone identity + preprocessing version, so renamed or moved videos
still hit, while edited files, other weights or another decoding rule (a changed rule, or the
reference vs clean recipe of ``feature_zoo.preprocess``) miss. One small ``.npz``
per (video, modality): swapping the audio backbone re-encodes audio only. Entries are written
atomically, which is what makes an interrupted run resumable: an entry exists completely or not
at all.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path

import numpy as np

# The clean recipe's version. Bump when decoding/preprocessing changes in a way that changes
# embeddings (frame choice, colour handling, resampling, crop/pad rule); the reference recipes
# carry their own tags (feature_zoo.preprocess).
PREPROCESS_VERSION = "fz1-middle-n//2-rgb-mono-mean-centre10s"


def file_sha256(path: Path | str) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class FeatureCache:
    """Directory of ``<modality>/<kk>/<key>.npz`` files."""

    def __init__(self, root: Path | str, version: str = PREPROCESS_VERSION) -> None:
        self.root = Path(root)
        self.version = version

    def path(self, modality: str, file_hash: str, identity: str) -> Path:
        key = hashlib.sha256(f"{file_hash}|{identity}|{self.version}".encode()).hexdigest()
        return self.root / modality / key[:2] / f"{key}.npz"

    def load(self, modality: str, file_hash: str, identity: str) -> dict[str, np.ndarray] | None:
        path = self.path(modality, file_hash, identity)
        try:
            with np.load(path, allow_pickle=False) as data:
                return {name: data[name] for name in data.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError):
            return None  # absent, or damaged: a miss either way, and the entry gets rewritten

    def store(self, modality: str, file_hash: str, identity: str, **arrays: np.ndarray) -> None:
        path = self.path(modality, file_hash, identity)
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(buffer.getvalue())
        os.replace(tmp, path)
