"""A synthetic GZSL benchmark with the real feature dimensions, generated offline in seconds.

Every class has a latent vector; text (CLIP- and CLAP-like), visual and audio features are fixed
random linear maps of it plus noise, L2-normalised like the real features. Because all modalities
share the class latent, a mapping learned on seen classes transfers to unseen ones. The class
structure mirrors UCF-GZSL^cls (30 stage-1 train, 12 val-unseen, 6 test-unseen classes).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from avgzsl_bench.datasets.fingerprint import generated_fingerprint
from avgzsl_bench.datasets.types import (
    AUDIO_DIM,
    CLAP_TEXT_DIM,
    CLIP_TEXT_DIM,
    DEFAULT_FEATURES,
    VIDEO_DIM,
    FeatureSplit,
    GZSLDataset,
    TextEmbeddings,
)

LATENT_DIM = 24
TEXT_ALIGNMENT = 0.04
TRAIN_CLASSES, VAL_UNSEEN_CLASSES, TEST_UNSEEN_CLASSES = 30, 12, 6
# (stage-1 train, val-unseen, test-unseen) classes of the real benchmarks, for benchmark-sized demos.
CLASS_STRUCTURE = {"ucf": (30, 12, 6), "activitynet": (99, 51, 48), "vggsound": (138, 69, 64)}
# Bump when the generator below produces other data for the same parameters (the data fingerprint
# of the demo hashes this version and the parameters).
GENERATOR_VERSION = 1
DEMO_NOTE = "SYNTHETIC demo data (random class latents); numbers say nothing about real benchmarks"


def _modality(
    latents: torch.Tensor, out_dim: int, sample_noise: float, feature_noise: float, generator: torch.Generator
) -> torch.Tensor:
    projection = torch.randn(LATENT_DIM, out_dim, generator=generator) / LATENT_DIM**0.5
    perturbed = latents + sample_noise * torch.randn(latents.shape, generator=generator)
    features = perturbed @ projection + feature_noise * torch.randn(latents.shape[0], out_dim, generator=generator)
    return F.normalize(features, dim=1)


def _sample_parts(
    labels: torch.Tensor,
    within: torch.Tensor,
    samples_per_class: int,
    train_ids: torch.Tensor,
    val_unseen_ids: torch.Tensor,
    test_unseen_ids: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """Which samples go where. Seen classes: 70% train, 10% val, 20% test; val-unseen classes: 80%
    val, 20% test (seen at test); test-unseen classes: all test."""
    share = within.float() / samples_per_class
    is_train_class = torch.isin(labels, train_ids)
    is_val_unseen_class = torch.isin(labels, val_unseen_ids)
    return {
        "train": is_train_class & (share < 0.7),
        "val_seen": is_train_class & (share >= 0.7) & (share < 0.8),
        "val_unseen": is_val_unseen_class & (share < 0.8),
        "test_seen": (is_train_class & (share >= 0.8)) | (is_val_unseen_class & (share >= 0.8)),
        "test_unseen": torch.isin(labels, test_unseen_ids),
    }


def make_demo_dataset(
    samples_per_class: int = 60,
    seed: int = 0,
    classes: tuple[int, int, int] = (TRAIN_CLASSES, VAL_UNSEEN_CLASSES, TEST_UNSEEN_CLASSES),
) -> GZSLDataset:
    """Build the demo benchmark; `samples_per_class=146` gives a UCF-sized set (~7k videos).

    `classes`: (stage-1 train, val-unseen, test-unseen) class counts, e.g. `CLASS_STRUCTURE["vggsound"]`
    for a set whose evaluation costs what VGGSound's does.
    """
    train_classes, val_unseen_classes, test_unseen_classes = classes
    generator = torch.Generator().manual_seed(seed)
    num_classes = train_classes + val_unseen_classes + test_unseen_classes
    class_latents = torch.randn(num_classes, LATENT_DIM, generator=generator)
    text = TextEmbeddings(
        clip=_modality(class_latents, CLIP_TEXT_DIM, 0.05, 0.02, generator),
        clap=_modality(class_latents, CLAP_TEXT_DIM, 0.05, 0.02, generator),
    )
    labels = torch.arange(num_classes).repeat_interleave(samples_per_class)
    # Audio and video see different noisy views of the latent so that fusing them helps; like
    # CLIP and CLAP, each shares a weak direction with its own text encoder's class embedding,
    # so the training-free zero-shot baseline is above chance but far from perfect.
    video = F.normalize(
        _modality(class_latents[labels], VIDEO_DIM, 1.1, 0.03, generator) + TEXT_ALIGNMENT * text.clip[labels], dim=1
    )
    audio = F.normalize(
        _modality(class_latents[labels], AUDIO_DIM, 1.3, 0.02, generator) + TEXT_ALIGNMENT * text.clap[labels], dim=1
    )

    train_ids = torch.arange(train_classes)
    val_unseen_ids = torch.arange(train_classes, train_classes + val_unseen_classes)
    test_unseen_ids = torch.arange(train_classes + val_unseen_classes, num_classes)
    within = torch.arange(len(labels)) % samples_per_class
    parts = _sample_parts(labels, within, samples_per_class, train_ids, val_unseen_ids, test_unseen_ids)
    empty = torch.empty(0, dtype=torch.long)

    def split(mask: torch.Tensor, seen: torch.Tensor, unseen: torch.Tensor) -> FeatureSplit:
        index = mask.nonzero().flatten()
        names = tuple(f"demo_c{int(labels[i]):02d}_{int(within[i]):03d}" for i in index)
        return FeatureSplit(video[index], audio[index], labels[index], seen, unseen, names)

    stage2_seen = torch.cat([train_ids, val_unseen_ids])
    splits = {
        "train": split(parts["train"], train_ids, empty),
        "val": split(parts["val_seen"] | parts["val_unseen"], train_ids, val_unseen_ids),
        "train_val": split(parts["train"] | parts["val_seen"] | parts["val_unseen"], stage2_seen, empty),
        "test": split(parts["test_seen"] | parts["test_unseen"], stage2_seen, test_unseen_ids),
    }
    return GZSLDataset(
        name="demo",
        class_names=tuple(f"synthetic_class_{i:02d}" for i in range(num_classes)),
        text=text,
        splits=splits,
        synthetic=True,
        source=f"generated: make_demo_dataset(samples_per_class={samples_per_class}, seed={seed}"
        + ("" if classes == (TRAIN_CLASSES, VAL_UNSEEN_CLASSES, TEST_UNSEEN_CLASSES) else f", classes={classes}")
        + ")",
        notes=(DEMO_NOTE,),
        fingerprint=generated_fingerprint(
            "make_demo_dataset",
            GENERATOR_VERSION,
            {"samples_per_class": samples_per_class, "seed": seed, "classes": list(classes)},
            DEFAULT_FEATURES,
        ),
    )
