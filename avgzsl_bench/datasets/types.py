"""In-memory benchmark data: features as device tensors, split class sets, text by class id."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import torch

from avgzsl_bench.errors import BenchError

SPLITS = ("train", "val", "train_val", "test")
SPLITS_WITH_UNSEEN = ("val", "test")  # the splits a GZSL score is computed on
# The feature set of the ClipClap benchmarks; runs on it keep the configuration hashes they always had.
DEFAULT_FEATURES = "clip-clap"
VIDEO_DIM = 512
AUDIO_DIM = 1024
CLIP_TEXT_DIM = 512
CLAP_TEXT_DIM = 1024


@dataclass(frozen=True)
class FeatureSplit:
    """One protocol split: per-sample features and labels (global class ids)."""

    video: torch.Tensor  # (N, video_dim) float32
    audio: torch.Tensor  # (N, audio_dim) float32
    labels: torch.Tensor  # (N,) int64 global class ids
    seen: torch.Tensor  # sorted global ids of the split's seen classes
    unseen: torch.Tensor  # sorted global ids of the split's unseen classes (empty for training splits)
    names: tuple[str, ...] = ()

    @cached_property
    def classes(self) -> torch.Tensor:
        """Candidate classes: sorted union of seen and unseen ids."""
        return torch.cat([self.seen, self.unseen]).sort().values

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def to(self, device: torch.device | str) -> FeatureSplit:
        return replace(
            self,
            video=self.video.to(device),
            audio=self.audio.to(device),
            labels=self.labels.to(device),
            seen=self.seen.to(device),
            unseen=self.unseen.to(device),
        )


# The ClipClap paper's dual class embedding: CLIP and CLAP text, concatenated in this order.
BOTH = "both"
DUAL_TEXT_PARTS = ("clip", "clap")


def text_parts_of(which: str) -> tuple[str, ...]:
    """The named text parts a method's `text` choice consumes: "both" is CLIP + CLAP, else one part."""
    return DUAL_TEXT_PARTS if which == BOTH else (which,)


class TextEmbeddings:
    """Class-label embeddings by global class id, as named parts of shape (num_classes, dim).

    The CLIP/CLAP benchmarks have the parts "clip" (512) and "clap" (1024); the AVCA-GZSL feature
    sets have one 300-d word2vec part, "w2v". `TextEmbeddings(clip, clap)` keeps the historical
    spelling; further parts are passed by name (`TextEmbeddings(w2v=matrix)`).
    """

    __slots__ = ("parts",)
    parts: dict[str, torch.Tensor]

    def __init__(self, clip: torch.Tensor | None = None, clap: torch.Tensor | None = None, **others: torch.Tensor):
        parts = {name: tensor for name, tensor in (("clip", clip), ("clap", clap)) if tensor is not None}
        parts.update(others)
        if not parts:
            raise ValueError("TextEmbeddings needs at least one named part")
        object.__setattr__(self, "parts", parts)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("TextEmbeddings is immutable")

    def __reduce__(self) -> tuple[object, tuple[dict[str, torch.Tensor]]]:
        return _text_from_parts, (dict(self.parts),)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{name}={tuple(tensor.shape)}" for name, tensor in self.parts.items())
        return f"TextEmbeddings({shapes})"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.parts)

    def part(self, name: str) -> torch.Tensor:
        try:
            return self.parts[name]
        except KeyError:
            raise KeyError(f"this dataset has no '{name}' text embeddings; it has {', '.join(self.parts)}") from None

    @property
    def clip(self) -> torch.Tensor:
        return self.part("clip")

    @property
    def clap(self) -> torch.Tensor:
        return self.part("clap")

    @property
    def both(self) -> torch.Tensor:
        """The paper's dual embedding: concat(CLIP, CLAP) per class (not re-normalised)."""
        return torch.cat([self.clip, self.clap], dim=1)

    def select(self, which: str) -> torch.Tensor:
        """One part by name, or "both" for the dual CLIP ‖ CLAP embedding."""
        return self.both if which == BOTH else self.part(which)

    @property
    def device(self) -> torch.device:
        return next(iter(self.parts.values())).device

    def rows(self, class_ids: torch.Tensor) -> TextEmbeddings:
        """The text of the given classes (or of a per-sample list of class positions)."""
        return TextEmbeddings(**{name: tensor[class_ids] for name, tensor in self.parts.items()})

    def to(self, device: torch.device | str) -> TextEmbeddings:
        return TextEmbeddings(**{name: tensor.to(device) for name, tensor in self.parts.items()})


def _text_from_parts(parts: dict[str, torch.Tensor]) -> TextEmbeddings:
    return TextEmbeddings(**parts)


@dataclass(frozen=True)
class GZSLDataset:
    """A whole benchmark: all classes, text per class, and the four protocol splits."""

    name: str
    class_names: tuple[str, ...]
    text: TextEmbeddings
    splits: dict[str, FeatureSplit]
    synthetic: bool = False
    source: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    # sha256 over the exact inputs (`datasets.fingerprint`): what every record says it was computed from
    fingerprint: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def dims(self) -> FeatureDims:
        any_split = self.splits["train"]
        return FeatureDims(
            video=int(any_split.video.shape[1]),
            audio=int(any_split.audio.shape[1]),
            text_parts=tuple((name, int(tensor.shape[1])) for name, tensor in self.text.parts.items()),
        )

    def to(self, device: torch.device | str) -> GZSLDataset:
        return replace(
            self,
            text=self.text.to(device),
            splits={name: split.to(device) for name, split in self.splits.items()},
        )

    def validate(self) -> None:
        """Refuse data the protocol cannot score honestly: empty splits or class sets, classes
        without samples, NaNs, bad shapes. Readers name the offending file; this is the last line."""
        for split_name in SPLITS:
            if split_name not in self.splits:
                raise BenchError(f"dataset '{self.name}' has no '{split_name}' split")
            self._validate_split(split_name, self.splits[split_name])
        for part, tensor in self.text.parts.items():
            if not torch.isfinite(tensor).all():
                raise BenchError(f"dataset '{self.name}': {part} text embeddings contain NaN/inf")

    def _validate_split(self, split_name: str, split: FeatureSplit) -> None:
        where = f"dataset '{self.name}', split '{split_name}'"
        if len(split) == 0:
            raise BenchError(f"{where} has no samples; its split files list no videos with features")
        if split.seen.numel() == 0:
            raise BenchError(f"{where} has no seen classes; check its split files")
        if split_name in SPLITS_WITH_UNSEEN and split.unseen.numel() == 0:
            raise BenchError(
                f"{where} has no unseen classes, so its unseen accuracy and HM would be 0 by "
                "construction; check its split files"
            )
        for field_name in ("video", "audio"):
            tensor = getattr(split, field_name)
            if tensor.ndim != 2 or tensor.shape[0] != len(split):
                raise BenchError(
                    f"{where}: {field_name} features have shape {tuple(tensor.shape)}, expected ({len(split)}, dim)"
                )
            if not torch.isfinite(tensor).all():
                rows = (~torch.isfinite(tensor)).any(dim=1).nonzero().flatten()[:5].tolist()
                samples = [split.names[i] for i in rows] if split.names else rows
                raise BenchError(
                    f"{where}: {field_name} features contain NaN/inf (first samples: {samples}); "
                    "re-extract those videos or drop them"
                )
        missing = set(split.classes.tolist()) - set(torch.unique(split.labels).tolist())
        if missing:
            names = sorted(self.class_names[i] for i in missing)
            raise BenchError(
                f"{where}: classes without samples: {names}; their accuracy would be 0/0. Remove "
                "them from the split files or add features"
            )


@dataclass(frozen=True)
class FeatureDims:
    """Input widths: video, audio, and each named class-text part (what a method is built for)."""

    video: int = VIDEO_DIM
    audio: int = AUDIO_DIM
    text_parts: tuple[tuple[str, int], ...] = (("clip", CLIP_TEXT_DIM), ("clap", CLAP_TEXT_DIM))

    @property
    def text_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.text_parts)

    def text_dim(self, which: str) -> int:
        """Width of a text choice: one named part, or "both" (CLIP + CLAP)."""
        widths = dict(self.text_parts)
        missing = [part for part in text_parts_of(which) if part not in widths]
        if missing:
            raise ValueError(
                f"text '{which}' needs the {' and '.join(missing)} text embeddings; these features have "
                f"{', '.join(widths) or 'none'}"
            )
        return sum(widths[part] for part in text_parts_of(which))

    @property
    def clip_text(self) -> int:
        """CLIP text width (0 when the features have none)."""
        return dict(self.text_parts).get("clip", 0)

    @property
    def clap_text(self) -> int:
        """CLAP text width (0 when the features have none)."""
        return dict(self.text_parts).get("clap", 0)

    @property
    def text(self) -> int:
        """Width of the dual CLIP ‖ CLAP embedding."""
        return self.clip_text + self.clap_text
