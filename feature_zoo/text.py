"""Class-label text embeddings from prompt ensembles: each prompt embedding L2-normalised, averaged over
the prompts of a class, and the mean L2-normalised again (the released bundles' recipe)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from avgzsl_bench.datasets import get_dataset, list_datasets
from feature_zoo.weights import TEXT_BATCH

# Prompt ensemble per dataset, as for the released features: templates about a person doing an action for
# UCF and ActivityNet, about any sound for VGGSound.
# The name CSV and its prompt column come from the loader's dataset specs, so both sides agree.
PROMPT_SETS = {name: get_dataset(name).prompt_set for name in list_datasets() if not get_dataset(name).synthetic}


def load_templates(encoder: str, prompt_set: str) -> list[str]:
    """Templates for ``encoder`` in {"clip", "clap"} and ``prompt_set`` in {"person", "generic"}."""
    text = resources.files("feature_zoo.prompts").joinpath(f"{encoder}_{prompt_set}.txt").read_text("utf-8")
    return [line for line in text.splitlines() if line.strip()]


def prompt_class_names(splits_dir: Path | str, dataset: str) -> list[str]:
    """Class strings used in the prompts, one per row of the dataset's name CSV (the npy dict keys)."""
    spec = get_dataset(dataset)
    path = Path(splits_dir) / spec.name_csv
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the class-split folder must contain {spec.name_csv}")
    with path.open(newline="", encoding="utf-8") as handle:
        return [row[spec.prompt_column] for row in csv.DictReader(handle)]


def ensemble_embeddings(
    encode_texts: Callable[[Sequence[str]], torch.Tensor],
    class_names: Sequence[str],
    templates: Sequence[str],
    on_chunk: Callable[[int, int], None] | None = None,
) -> dict[str, np.ndarray]:
    """One unit-norm float32 prototype per class: mean of the L2-normalised prompt embeddings, renormalised.

    Prompts are encoded in chunks of ``TEXT_BATCH`` so that ``on_chunk(done, total)`` can report
    progress: thousands of prompts through BERT or RoBERTa take minutes on a CPU.
    """
    # str.replace, not str.format: class strings may contain braces.
    prompts = [template.replace("{}", name) for name in class_names for template in templates]
    parts = []
    for start in range(0, len(prompts), TEXT_BATCH):
        parts.append(encode_texts(prompts[start : start + TEXT_BATCH]).float())
        if on_chunk is not None:
            on_chunk(min(start + TEXT_BATCH, len(prompts)), len(prompts))
    embeddings = F.normalize(torch.cat(parts), dim=-1)
    per_class = embeddings.reshape(len(class_names), len(templates), -1).mean(dim=1)
    prototypes = F.normalize(per_class, dim=-1).numpy().astype(np.float32)
    return {name: prototypes[i] for i, name in enumerate(class_names)}
