"""Where checkpoints are looked up, the one error that says what to download, and seeded random init.

Shared by every backbone module so that each can live in its own file without importing the
registry (which imports them).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import torch
import torch.nn.functional as F

from feature_zoo.cache import file_sha256

T = TypeVar("T")

RANDOM_INIT_SEED = 0
TEXT_BATCH = 256


class WeightsMissingError(RuntimeError):
    """Pretrained weights are not on this machine; the message tells the user what to fetch."""


def weights_dir() -> Path:
    """Where default checkpoints are looked up: ``$FEATURE_ZOO_WEIGHTS`` or ``~/.cache/feature_zoo/weights``."""
    env = os.environ.get("FEATURE_ZOO_WEIGHTS")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "feature_zoo" / "weights"


def file_digest(path: Path) -> str:
    return file_sha256(path)[:16]


def resolve_checkpoint(explicit: Path | str | None, default_name: str, hint: str) -> Path | None:
    """Explicit path (must exist) > file in the weights dir > None (let the library try its cache)."""
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise WeightsMissingError(f"checkpoint {path} does not exist. {hint}")
        return path
    candidate = weights_dir() / default_name
    return candidate if candidate.is_file() else None


def seeded(build: Callable[[], T]) -> T:
    # Same seed -> same random weights -> random-init cache entries stay valid across runs.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_INIT_SEED)
        return build()


def encode_in_chunks(texts: Sequence[str], encode: Callable[[list[str]], torch.Tensor]) -> torch.Tensor:
    parts = [encode(list(texts[i : i + TEXT_BATCH])) for i in range(0, len(texts), TEXT_BATCH)]
    return F.normalize(torch.cat(parts).float(), dim=-1).cpu()
