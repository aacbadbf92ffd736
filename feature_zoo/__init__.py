"""feature_zoo: extract CLIP/CLAP features from raw videos into the ClipClap bundle layout.

Importing the package makes torchvision importable beside a CPU-only torch (see ``_compat``)
before anything pulls in open_clip, timm or laion-clap.
"""

from feature_zoo._compat import ensure_torchvision_importable

__version__ = "0.1.0"

ensure_torchvision_importable()

__all__ = ["__version__"]
