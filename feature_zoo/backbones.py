"""Backbones behind a small registry: CLIP image/text (visual side) and CLAP audio/text (audio side).

Each backbone declares its output dim, (for audio) sample rate and clip length, and an
``identity`` string that goes into the feature-cache key: same identity = same weights and
therefore reusable embeddings. ``random_init=True`` builds the same architecture with seeded
random weights (tests and demos; the embeddings are meaningless). No weights are downloaded by
this module except through open_clip's own ``pretrained="openai"`` path on machines with
internet; every missing file ends in one :class:`WeightsMissingError` naming what to download
and where to put it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from unittest import mock

import numpy as np
import torch
import torch.nn.functional as F

from avgzsl_bench.registry import Registry
from feature_zoo._compat import ensure_torchvision_importable, import_clap_module
from feature_zoo.wavcaps import WavCapsHTSATBert
from feature_zoo.weights import (
    RANDOM_INIT_SEED,
    WeightsMissingError,
    encode_in_chunks,
    file_digest,
    resolve_checkpoint,
    seeded,
    weights_dir,
)


class VisualBackbone(Protocol):
    name: str
    display_name: str  # how tables and the manifest's feature_recipe name the encoder
    identity: str
    dim: int

    def preprocess(self, frame: np.ndarray) -> torch.Tensor:
        """(H, W, 3) uint8 RGB -> model input tensor (CPU; runs in decode workers)."""

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        """(B, ...) preprocessed batch -> (B, dim) L2-normalised float32 on CPU."""

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """Prompts -> (N, text_dim) L2-normalised float32 on CPU."""


class AudioBackbone(Protocol):
    name: str
    display_name: str
    text_file_prefix: str  # text file name = prefix + word_embeddings_<dataset>_normed.npy
    identity: str
    dim: int
    sample_rate: int
    clip_seconds: float

    def encode_audio(self, waveforms: torch.Tensor) -> torch.Tensor:
        """(B, sample_rate * clip_seconds) mono float32 -> (B, dim) L2-normalised float32 on CPU."""

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """Prompts -> (N, text_dim) L2-normalised float32 on CPU."""


# --------------------------------------------------------------------------------------------
# CLIP ViT-B/32 (open_clip)

CLIP_OPENAI_URL = (
    "https://openaipublic.azureedge.net/clip/models/"
    "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt"
)
CLIP_CHECKPOINT_NAME = "ViT-B-32.pt"


class OpenClipViTB32:
    """OpenAI CLIP ViT-B/32 through open_clip (QuickGELU architecture, as OpenAI trained it)."""

    name = "clip-vit-b32"
    display_name = "CLIP ViT-B/32"
    text_file_prefix = ""  # the released bundle's CLIP text file has no prefix
    dim = 512
    text_dim = 512

    def __init__(self, checkpoint: Path | str | None = None, random_init: bool = False, device: str = "cpu") -> None:
        ensure_torchvision_importable()
        import open_clip

        hint = (
            f"Download OpenAI's CLIP ViT-B/32 weights ({CLIP_OPENAI_URL}, or open_clip_pytorch_model.bin "
            "from https://huggingface.co/timm/vit_base_patch32_clip_224.openai) and pass "
            f"--visual-checkpoint PATH, or save it as {weights_dir() / CLIP_CHECKPOINT_NAME}."
        )
        arch = "ViT-B-32-quickgelu"
        if random_init:
            model, _, preprocess = seeded(lambda: open_clip.create_model_and_transforms(arch, pretrained=None))
            self.identity = f"{self.name}/random-init-seed{RANDOM_INIT_SEED}"
        else:
            path = resolve_checkpoint(checkpoint, CLIP_CHECKPOINT_NAME, hint)
            pretrained = str(path) if path is not None else "openai"
            try:
                model, _, preprocess = open_clip.create_model_and_transforms(arch, pretrained=pretrained)
            except Exception as error:  # open_clip raises assorted hub/IO errors when offline
                reason = str(error).rstrip(". ")
                raise WeightsMissingError(f"could not load CLIP ViT-B/32 ({pretrained}): {reason}. {hint}") from error
            self.identity = f"{self.name}/" + (f"sha256-{file_digest(path)}" if path else "openai")
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self._preprocess = preprocess
        self._tokenizer = open_clip.get_tokenizer(arch)
        self.random_init = random_init

    def preprocess(self, frame: np.ndarray) -> torch.Tensor:
        from PIL import Image

        return self._preprocess(Image.fromarray(frame))

    @torch.inference_mode()
    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        features = self.model.encode_image(images.to(self.device, non_blocking=True))
        return F.normalize(features.float(), dim=-1).cpu()

    @torch.inference_mode()
    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        return encode_in_chunks(texts, lambda chunk: self.model.encode_text(self._tokenizer(chunk).to(self.device)))


# --------------------------------------------------------------------------------------------
# LAION-CLAP HTSAT-tiny + RoBERTa (laion-clap)

CLAP_CHECKPOINT_NAME = "630k-audioset-best.pt"
CLAP_CHECKPOINT_URL = "https://huggingface.co/lukewys/laion_clap/resolve/main/630k-audioset-best.pt"
ROBERTA_DIR_NAME = "roberta-base"


def _roberta_config():  # the roberta-base architecture, built without touching the hub
    from transformers import RobertaConfig

    return RobertaConfig(
        vocab_size=50265,
        max_position_embeddings=514,
        type_vocab_size=1,
        layer_norm_eps=1e-5,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    )


class LaionClapHTSATTiny:
    """LAION-CLAP (HTSAT-tiny audio, RoBERTa text, non-fusion): 48 kHz mono, 10 s, 512-d.

    Built through ``laion_clap.clap_module.factory.create_model`` with RoBERTa constructed from its
    config, because the package's ``CLAP_Module`` downloads roberta-base weights that the
    checkpoint overwrites anyway. With ``random_init`` the text side uses laion-clap's bundled
    CLIP BPE tokenizer as a stand-in (ids fit RoBERTa's vocabulary): RoBERTa's vocabulary files
    are not on these machines, and with random weights the choice does not matter.
    """

    name = "laion-clap-htsat-tiny"
    display_name = "LAION-CLAP HTSAT-tiny-RoBERTa"
    text_file_prefix = "laion_clap_"  # never the released "wavcaps_" name: these are other vectors
    dim = 512
    text_dim = 512
    sample_rate = 48000
    clip_seconds = 10.0

    def __init__(
        self,
        checkpoint: Path | str | None = None,
        random_init: bool = False,
        device: str = "cpu",
        tokenizer_dir: Path | str | None = None,
    ) -> None:
        clap_module = import_clap_module()
        from transformers import RobertaModel

        hint = (
            f"Download the LAION-CLAP checkpoint {CLAP_CHECKPOINT_URL} and pass --audio-checkpoint PATH, "
            f"or save it as {weights_dir() / CLAP_CHECKPOINT_NAME}; its text side also needs the roberta-base "
            "tokenizer files (vocab.json, merges.txt from https://huggingface.co/FacebookAI/roberta-base) in "
            f"{weights_dir() / ROBERTA_DIR_NAME}/ (or --clap-tokenizer DIR)."
        )
        path = None
        if not random_init:
            path = resolve_checkpoint(checkpoint, CLAP_CHECKPOINT_NAME, hint)
            if path is None:
                raise WeightsMissingError(f"no LAION-CLAP checkpoint found. {hint}")
            self._tokenizer = self._load_roberta_tokenizer(tokenizer_dir, hint)

        config = _roberta_config()
        build = lambda: clap_module.create_model(  # noqa: E731
            "HTSAT-tiny", "roberta", precision="fp32", device=torch.device("cpu"), enable_fusion=False
        )[0]
        # create_model fetches pretrained roberta-base weights from the hub; building the same
        # architecture from its config needs no network, and the CLAP checkpoint overwrites it all.
        with mock.patch.object(RobertaModel, "from_pretrained", lambda *args, **kwargs: RobertaModel(config)):
            model = seeded(build) if random_init else build()
        if path is not None:
            self._load_weights(model, path, hint)
            self.identity = f"{self.name}/sha256-{file_digest(path)}"
        else:
            self.identity = f"{self.name}/random-init-seed{RANDOM_INIT_SEED}"
            self._tokenizer = None
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.random_init = random_init

    @staticmethod
    def _load_roberta_tokenizer(tokenizer_dir: Path | str | None, hint: str):
        from transformers import RobertaTokenizer

        source = Path(tokenizer_dir) if tokenizer_dir else weights_dir() / ROBERTA_DIR_NAME
        try:
            tokenizer = RobertaTokenizer.from_pretrained(str(source) if source.is_dir() else "roberta-base")
        except Exception as error:  # hub/IO errors when offline
            reason = str(error).rstrip(". ")
            raise WeightsMissingError(f"roberta-base tokenizer not found: {reason}. {hint}") from error
        if len(tokenizer) < 50000:  # offline hub fallbacks silently yield ~5-token vocabularies
            raise WeightsMissingError(f"roberta-base tokenizer has only {len(tokenizer)} tokens. {hint}")
        return tokenizer

    @staticmethod
    def _load_weights(model: torch.nn.Module, path: Path, hint: str) -> None:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
        state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else checkpoint
        state = {key.removeprefix("module."): value for key, value in state.items()}
        state.pop("text_branch.embeddings.position_ids", None)  # a buffer in old transformers only
        result = model.load_state_dict(state, strict=False)
        if result.missing_keys:
            raise WeightsMissingError(
                f"{path} is not a HTSAT-tiny/RoBERTa non-fusion LAION-CLAP checkpoint "
                f"(missing {result.missing_keys[:3]}...). {hint}"
            )

    @torch.inference_mode()
    def encode_audio(self, waveforms: torch.Tensor) -> torch.Tensor:
        # LAION-CLAP was trained on int16-quantised audio; reproduce that rounding.
        waveforms = (waveforms.clamp(-1.0, 1.0) * 32767.0).to(torch.int16).float() / 32767.0
        output = self.model.encode_audio({"waveform": waveforms.to(self.device, non_blocking=True)}, self.device)
        features = self.model.audio_projection(output["embedding"])
        return F.normalize(features.float(), dim=-1).cpu()

    def _tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        if self._tokenizer is None:
            from laion_clap.clap_module.tokenizer import tokenize

            ids = tokenize(texts)
            return {"input_ids": ids, "attention_mask": (ids != 0).long()}
        encoded = self._tokenizer(texts, padding="max_length", truncation=True, max_length=77, return_tensors="pt")
        return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}

    @torch.inference_mode()
    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        return encode_in_chunks(texts, lambda chunk: self.model.encode_text(self._tokenize(chunk), self.device))


# --------------------------------------------------------------------------------------------
# Registry


@dataclass(frozen=True)
class BackboneInfo:
    name: str
    modality: str  # "visual" | "audio"
    dim: int
    text_dim: int
    sample_rate: int | None
    description: str
    factory: Callable[..., object]


VISUAL_BACKBONES: Registry[BackboneInfo] = Registry("visual backbone", entry_point_group="feature_zoo.backbones")
AUDIO_BACKBONES: Registry[BackboneInfo] = Registry("audio backbone", entry_point_group="feature_zoo.backbones")
VISUAL_BACKBONES.add(
    "clip-vit-b32",
    BackboneInfo(
        "clip-vit-b32",
        "visual",
        512,
        512,
        None,
        "OpenAI CLIP ViT-B/32 via open_clip (the paper's visual model)",
        OpenClipViTB32,
    ),
)
AUDIO_BACKBONES.add(
    "laion-clap-htsat-tiny",
    BackboneInfo(
        "laion-clap-htsat-tiny",
        "audio",
        512,
        512,
        48000,
        "LAION-CLAP HTSAT-tiny + RoBERTa via laion-clap",
        LaionClapHTSATTiny,
    ),
)
AUDIO_BACKBONES.add(
    "wavcaps-htsat-bert",
    BackboneInfo(
        "wavcaps-htsat-bert",
        "audio",
        1024,
        1024,
        32000,
        "WavCaps CLAP HTSAT + BERT (the paper's audio model)",
        WavCapsHTSATBert,
    ),
)
DEFAULT_AUDIO_BACKBONE = "wavcaps-htsat-bert"  # the paper's


def build_visual(name: str = "clip-vit-b32", **kwargs: object) -> VisualBackbone:
    """Instantiate a registered visual backbone (kwargs: checkpoint, random_init, device)."""
    return VISUAL_BACKBONES.get(name).factory(**kwargs)  # type: ignore[return-value]


def build_audio(name: str = DEFAULT_AUDIO_BACKBONE, **kwargs: object) -> AudioBackbone:
    """Instantiate a registered audio backbone (kwargs: checkpoint, random_init, device, ...)."""
    return AUDIO_BACKBONES.get(name).factory(**kwargs)  # type: ignore[return-value]


@dataclass(frozen=True)
class BackboneConfig:
    """How to build both backbones: small and picklable, so sharded workers build their own copy."""

    visual: str = "clip-vit-b32"
    audio: str = DEFAULT_AUDIO_BACKBONE
    visual_checkpoint: Path | None = None
    audio_checkpoint: Path | None = None
    clap_tokenizer: Path | None = None
    random_init: bool = False
    device: str = "cpu"

    def build(self) -> tuple[VisualBackbone, AudioBackbone]:
        visual = build_visual(
            self.visual, checkpoint=self.visual_checkpoint, random_init=self.random_init, device=self.device
        )
        audio_kwargs: dict[str, object] = {
            "checkpoint": self.audio_checkpoint,
            "random_init": self.random_init,
            "device": self.device,
        }
        if self.clap_tokenizer is not None:
            audio_kwargs["tokenizer_dir"] = self.clap_tokenizer
        return visual, build_audio(self.audio, **audio_kwargs)
