"""Data fingerprints: which exact inputs a result was computed from, as one sha256.

A bundle's fingerprint hashes the content of every file a load reads (feature files, split lists,
class-name table, text embeddings, the feature zoo's manifest), each under its path relative to the
dataset folder, together with the feature set and the rule that attaches text to classes (by name,
or by the reference's sorted-key position). The absolute location is left out, so the same files
give the same fingerprint on every machine, and a changed byte, a renamed or added class file, or
the other text rule gives another. The loader computes it once per bundle and keeps it in its cache.

The synthetic demo data is defined by its generator: its fingerprint hashes the generator's version
and parameters, not float bits that may differ in the last place between BLAS builds.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

HASH_CHUNK = 1 << 20
FINGERPRINT_VERSION = 1  # bump when what goes into a fingerprint changes
SHORT = 8  # hex digits by which reports name a data version


def sha256_file(path: Path | str) -> str:
    """The sha256 (hex) of a file's content, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(HASH_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def text_rule(legacy_text_order: bool) -> str:
    """How class text is attached: by class name, or by the reference's sorted-key position."""
    return "position" if legacy_text_order else "name"


def _digest(identity: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def files_fingerprint(root: Path | str, relative_paths: Iterable[str], features: str, legacy_text_order: bool) -> str:
    """The fingerprint of the files `relative_paths` under `root` (a path that is no file counts as absent)."""
    files: dict[str, str | None] = {}
    for relative in relative_paths:
        path = os.path.join(root, relative)
        files[Path(relative).as_posix()] = sha256_file(path) if os.path.isfile(path) else None
    identity = {
        "fingerprint": FINGERPRINT_VERSION,
        "features": features,
        "text_rule": text_rule(legacy_text_order),
        "files": files,
    }
    return _digest(identity)


def generated_fingerprint(generator: str, version: int, parameters: Mapping[str, Any], features: str) -> str:
    """The fingerprint of generated data: its generator, the generator's version and its parameters."""
    identity = {
        "fingerprint": FINGERPRINT_VERSION,
        "features": features,
        "text_rule": text_rule(False),
        "generator": {"name": generator, "version": version, "parameters": dict(parameters)},
    }
    return _digest(identity)


def short_fingerprint(fingerprint: str) -> str:
    """How reports name a data version: the fingerprint's first hex digits ("" stays "")."""
    return fingerprint[:SHORT]
