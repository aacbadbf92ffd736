import os

# Before anything imports transformers/huggingface_hub: offline look-ups must fail at once.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest  # noqa: E402

pytest.importorskip("av")
pytest.importorskip("feature_zoo")  # declares torchvision's operators before open_clip imports it
pytest.importorskip("open_clip")
pytest.importorskip("laion_clap")
