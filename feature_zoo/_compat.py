"""Import-time workarounds for the CPU torch + PyPI torchvision pairing and laion-clap's side effects.

PyPI's torchvision wheel is built against a CUDA torch; beside a ``+cpu`` torch its C extension
fails to load, and the pure-Python part then dies with ``operator torchvision::nms does not
exist`` (which also breaks open_clip, timm and laion_clap). Declaring the operator schemas that
torchvision's unconditional fake-kernel registrations need (``nms``, ``qnms``; ``roi_align`` for
older releases) makes the import succeed; the ops themselves stay
unusable, which is fine: nothing here calls them (images go through PIL, media through PyAV).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types
from pathlib import Path

import torch

_SHIM_LIBRARY: torch.library.Library | None = None  # must stay referenced or the schemas vanish

_SHIM_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "roi_align(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, "
    "SymInt pooled_width, int sampling_ratio, bool aligned) -> Tensor",
)


def _torchvision_extension_loads() -> bool:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return True  # nothing to fix
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    candidates = sorted(package_dir.glob("_C*.so")) + sorted(package_dir.glob("_C*.pyd"))
    if not candidates:
        return False
    try:
        torch.ops.load_library(str(candidates[0]))
    except (OSError, RuntimeError):
        return False
    return True


def ensure_torchvision_importable() -> None:
    """Declare torchvision's missing operator schemas once, only when its C extension cannot load."""
    global _SHIM_LIBRARY
    if _SHIM_LIBRARY is not None or "torchvision" in sys.modules:
        return
    if _torchvision_extension_loads():
        return
    library = torch.library.Library("torchvision", "FRAGMENT")
    for schema in _SHIM_SCHEMAS:
        library.define(schema)
    _SHIM_LIBRARY = library


def import_clap_module() -> types.ModuleType:
    """Import ``laion_clap.clap_module`` without running ``laion_clap/__init__.py``.

    The package's top-level import builds RoBERTa/BERT/BART tokenizers from the Hugging Face hub;
    offline it waits on retries and then silently yields 5-token tokenizers. Registering a bare
    package object first lets Python import the submodule without executing that ``__init__``.
    """
    ensure_torchvision_importable()
    # Offline runs must fail fast instead of retrying hub downloads for minutes.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if "laion_clap" not in sys.modules:
        spec = importlib.util.find_spec("laion_clap")
        if spec is None or not spec.submodule_search_locations:
            raise ModuleNotFoundError(
                "laion-clap is not installed: pip install --no-deps laion-clap==1.1.7 "
                "(see the [zoo] extra of avgzsl-bench)"
            )
        package = types.ModuleType("laion_clap")
        package.__path__ = list(spec.submodule_search_locations)
        package.__spec__ = spec
        sys.modules["laion_clap"] = package
    import laion_clap.clap_module as clap_module

    return clap_module
