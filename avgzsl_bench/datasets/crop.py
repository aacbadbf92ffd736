"""How a batch of sequences is cut and padded: the reference's (TCAF's) collation, vectorised.

Two batch-length modes, set per method and dataset by the schedule keys `batch_length`,
`train_steps` and `eval_steps` (defaults: "max", 60, 300). `SequenceCrop` is their one home: it
declares the keys, their defaults and allowed values, checks them, and is the one way a model's
crop is made from resolved hyper-parameters (`SequenceCrop.from_hparams`, called by `MethodSpec`):

* "max": every sequence is kept whole and the batch is padded to its longest sequence (per modality);
  the step caps are not used (UCF and VGGSound in the reference's best configurations).
* "fixed": video batches are exactly `train_steps` (training) or `eval_steps` (evaluation) long, audio
  batches `round(steps * video_step_s * audio_step_s)` long (the reference's rule, kept as is). A
  longer video sequence is cropped: at a uniformly random start when training, centred when
  evaluating; the audio crop starts at the same time (video start converted to audio steps, capped
  so it fits). Shorter sequences are padded (ActivityNet's best configurations).

Everything here runs on the host on (start, length) tables: a window is a tensor of row positions
into the shared step tensor and a mask, so no per-sample Python loop runs and the device is never
waited on to learn a batch's shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import torch

from avgzsl_bench.datasets.sequences import Sequences
from avgzsl_bench.errors import BenchError

BATCH_LENGTHS = ("max", "fixed")
Window = tuple[torch.Tensor, torch.Tensor]  # positions (..., B, T) into the step tensor, mask (..., B, T)


@dataclass(frozen=True)
class SequenceCrop:
    """The batch-length mode and the step caps of training and evaluation batches."""

    batch_length: str = "max"
    train_steps: int = 60
    eval_steps: int = 300

    def __post_init__(self) -> None:
        if self.batch_length not in BATCH_LENGTHS:
            raise BenchError(
                f"batch_length must be one of {', '.join(BATCH_LENGTHS)}; got {self.batch_length!r} "
                "(pass --set batch_length=max or --set batch_length=fixed)"
            )
        for name in ("train_steps", "eval_steps"):
            if int(getattr(self, name)) < 1:
                raise BenchError(f"{name} must be at least 1; got {getattr(self, name)!r}")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The schedule keys of a temporal method that set how its batches are cut."""
        return tuple(field.name for field in fields(cls))

    @classmethod
    def from_hparams(cls, hparams: Mapping[str, Any]) -> SequenceCrop:
        """The crop of resolved hyper-parameters (defaults for the keys they lack); a bad value raises."""
        return cls(**{key: hparams[key] for key in cls.field_names() if key in hparams})


def crop_windows(
    video: Sequences,
    audio: Sequences,
    index: torch.Tensor,
    crop: SequenceCrop,
    training: bool,
    uniform: torch.Tensor | None = None,
) -> tuple[dict[str, Window], dict[str, torch.Tensor]]:
    """The windows of the sequences at `index` (host, shape (rows, B): one batch per row) and each
    row's padded length per modality. `uniform` (same shape, in [0, 1)) places random crops."""
    lengths_v, lengths_a = video.lengths[index], audio.lengths[index]
    zeros = torch.zeros_like(lengths_v)
    if crop.batch_length == "max":
        steps = {"video": lengths_v.amax(dim=-1), "audio": lengths_a.amax(dim=-1)}
        starts = {"video": zeros, "audio": torch.zeros_like(lengths_a)}
    else:
        cap_v = crop.train_steps if training else crop.eval_steps
        cap_a = max(1, round(cap_v * video.step_s * audio.step_s))
        spare_v, spare_a = (lengths_v - cap_v).clamp_min(0), lengths_a - cap_a
        if training:
            if uniform is None:
                raise ValueError("random crops need `uniform` draws")
            start_v = (uniform * spare_v).floor().long()
        else:
            start_v = spare_v // 2
        aligned = (start_v * (video.step_s / audio.step_s)).round().long()
        start_a = torch.where((start_v > 0) & (spare_a > 0), torch.minimum(aligned, spare_a.clamp_min(0)), zeros)
        rows = index.shape[0]
        steps = {"video": torch.full((rows,), cap_v), "audio": torch.full((rows,), cap_a)}
        starts = {"video": start_v, "audio": start_a}
    windows = {
        "video": _window(video, index, starts["video"], int(steps["video"].max())),
        "audio": _window(audio, index, starts["audio"], int(steps["audio"].max())),
    }
    return windows, steps


def _window(sequences: Sequences, index: torch.Tensor, start: torch.Tensor, steps: int) -> Window:
    offsets = torch.arange(steps)
    positions = (sequences.starts[index] + start).unsqueeze(-1) + offsets
    mask = offsets < (sequences.lengths[index] - start).unsqueeze(-1)
    return positions, mask


def padded_batch(video: Sequences, audio: Sequences, index: torch.Tensor, crop: SequenceCrop) -> tuple[Any, Any]:
    """The evaluation batch of the samples `index` (host, 1-D): centre crops, padded per modality."""
    windows, _ = crop_windows(video, audio, index.unsqueeze(0), crop, training=False)
    (positions_v, mask_v), (positions_a, mask_a) = windows["video"], windows["audio"]
    return video.gather(positions_v[0], mask_v[0]), audio.gather(positions_a[0], mask_a[0])
