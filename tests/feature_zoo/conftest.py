import importlib
import os

# Before anything imports transformers/huggingface_hub: offline look-ups must fail at once.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest  # noqa: E402


def _require(what: str, load) -> None:
    """Skip the feature-zoo tests where the [zoo] extra is missing, but never under CI.

    CI installs it, so a failed import there is a broken install that must not pass as "skipped".
    """
    try:
        load()
    except ImportError as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"feature_zoo needs {what}: {error}", allow_module_level=True)


_require("PyAV", lambda: importlib.import_module("av"))
_require("feature_zoo", lambda: importlib.import_module("feature_zoo"))  # declares torchvision's operators first
_require("open_clip", lambda: importlib.import_module("open_clip"))
# The zoo imports laion_clap.clap_module only; the package's own __init__ needs packages a
# `--no-deps` install leaves out (braceexpand, webdataset, ...), so importing it would always fail.
_require("laion-clap", lambda: importlib.import_module("feature_zoo._compat").import_clap_module())

