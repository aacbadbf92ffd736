"""Feature-set names and input widths: plain values, no torch, so the CLI can build its options fast."""

from __future__ import annotations

from dataclasses import dataclass

# The feature set of the ClipClap benchmarks; runs on it keep the configuration hashes they always had.
DEFAULT_FEATURES = "clip-clap"
VIDEO_DIM = 512
AUDIO_DIM = 1024
CLIP_TEXT_DIM = 512
CLAP_TEXT_DIM = 1024

# The ClipClap paper's dual class embedding: CLIP and CLAP text, concatenated in this order.
BOTH = "both"
DUAL_TEXT_PARTS = ("clip", "clap")


def text_parts_of(which: str) -> tuple[str, ...]:
    """The named text parts a method's `text` choice consumes: "both" is CLIP + CLAP, else one part."""
    return DUAL_TEXT_PARTS if which == BOTH else (which,)


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
