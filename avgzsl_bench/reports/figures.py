"""Figures: the paper's Figure 3 (t-SNE of inputs and learned embeddings) and HM vs calibration β.

Figure 3 plots a trained stage-2 model, which the store does not keep: the job layer trains it
(`jobs.figure`) and hands it here. Plots use matplotlib's object API (no pyplot), so nothing
depends on a display or global backend state.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from avgzsl_bench.api import GZSLMethod
from avgzsl_bench.datasets.types import FeatureSplit, GZSLDataset
from avgzsl_bench.errors import BenchError
from avgzsl_bench.reports.board import settings_label
from avgzsl_bench.reports.summary import group_by_config
from avgzsl_bench.store.records import RunRecord

FIGURE3_SEEN, FIGURE3_UNSEEN = 4, 2

LINE_STYLES = ("-", "--", ":", "-.")


def _spread(ids: torch.Tensor, count: int) -> list[int]:
    """`count` ids evenly spaced over the sorted list: deterministic, and not just neighbours."""
    ordered: list[int] = ids.sort().values.tolist()
    if len(ordered) < count:
        raise BenchError(f"Figure 3 needs {count} classes of this kind in the test split, found {len(ordered)}")
    return [ordered[round(i * (len(ordered) - 1) / max(count - 1, 1))] for i in range(count)]


def figure3_classes(
    split: FeatureSplit, seen: int = FIGURE3_SEEN, unseen: int = FIGURE3_UNSEEN
) -> tuple[list[int], list[int]]:
    return _spread(split.seen.cpu(), seen), _spread(split.unseen.cpu(), unseen)


def _tsne(points: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.manifold import TSNE

    # Perplexity must stay below the number of points; tiny test sets need a small one.
    perplexity = float(min(30, max(2, (len(points) - 1) // 3)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(points)


def _panel(
    ax: Any,
    samples: torch.Tensor,
    text: torch.Tensor,
    labels: torch.Tensor,
    class_ids: list[int],
    seen_ids: list[int],
    seed: int,
) -> bool:
    """One t-SNE panel; class text joins it only where it lives in the same space (same width)."""
    with_text = text.shape[1] == samples.shape[1]
    points = torch.cat([samples, text.float()]) if with_text else samples
    xy = _tsne(points.cpu().numpy().astype(np.float32), seed)
    sample_xy, text_xy = xy[: len(samples)], xy[len(samples) :]
    colours = [f"C{i}" for i in range(len(class_ids))]
    for colour, class_id in zip(colours, class_ids):
        mask = (labels == class_id).numpy()
        marker = "o" if class_id in seen_ids else "^"
        ax.scatter(sample_xy[mask, 0], sample_xy[mask, 1], s=14, c=colour, alpha=0.7, marker=marker)
    if with_text:
        ax.scatter(text_xy[:, 0], text_xy[:, 1], s=170, c=colours, marker="D", edgecolors="black", linewidths=1.4)
    ax.set_xticks([])
    ax.set_yticks([])
    return with_text


def _legend(figure: Figure, ax: Any, dataset: GZSLDataset, class_ids: list[int], seen_ids: list[int]) -> None:
    handles = [
        ax.scatter(
            [],
            [],
            c=f"C{i}",
            marker="o" if class_id in seen_ids else "^",
            label=f"{dataset.class_names[class_id]} ({'seen' if class_id in seen_ids else 'UNSEEN'})",
        )
        for i, class_id in enumerate(class_ids)
    ]
    handles.append(ax.scatter([], [], c="white", marker="D", edgecolors="black", s=80, label="class text embedding"))
    figure.legend(handles=handles, loc="outside lower center", ncols=4, fontsize=9)


def figure3(model: GZSLMethod, dataset: GZSLDataset, path: str | Path, seed: int = 0) -> Path:
    """Three t-SNE panels over the same test samples of FIGURE3_SEEN seen + FIGURE3_UNSEEN unseen
    classes: input audio (with CLAP text), input visual (with CLIP text), learned embeddings θ_o (with θ_w)."""
    if not {"clip", "clap"} <= set(dataset.text.names):
        raise BenchError("Figure 3 plots the CLIP and CLAP input spaces with their class text; use CLIP/CLAP features")
    split = dataset.splits["test"]
    # `jobs.figure.figure3_model` refuses methods that consume sequences: these are vectors.
    assert isinstance(split.video, torch.Tensor) and isinstance(split.audio, torch.Tensor)
    seen_ids, unseen_ids = figure3_classes(split)
    class_ids = seen_ids + unseen_ids
    chosen = torch.isin(split.labels, torch.tensor(class_ids, device=split.labels.device))
    video, audio, labels = split.video[chosen].float(), split.audio[chosen].float(), split.labels[chosen].cpu()
    class_text = dataset.text.rows(torch.tensor(class_ids, device=dataset.text.device))
    with torch.no_grad():
        learned, learned_text = model.embed_inputs(video, audio), model.embed_text(class_text)
    panels = [
        ("input audio features (CLAP)", audio, class_text.clap, "CLAP text"),
        ("input visual features (CLIP)", video, class_text.clip, "CLIP text"),
        ("learned audio-visual embeddings θ_o", learned, learned_text, "θ_w of class text"),
    ]
    figure = Figure(figsize=(16, 5.4), layout="constrained")
    axes = figure.subplots(1, 3)
    for ax, (title, samples, text, text_name) in zip(axes, panels):
        shown = _panel(ax, samples, text, labels, class_ids, seen_ids, seed)
        ax.set_title(title + ("" if shown else f"\n({text_name} has another width: not shown)"))
    _legend(figure, axes[0], dataset, class_ids, seen_ids)
    suffix = " — SYNTHETIC demo data" if dataset.synthetic else ""
    figure.suptitle(
        f"t-SNE of {dataset.name} test samples: {len(seen_ids)} seen and {len(unseen_ids)} unseen "
        f"classes (circles seen, triangles unseen, diamonds class text){suffix}"
    )
    return _save(figure, path)


def hm_vs_beta_figure(records: Sequence[RunRecord], path: str | Path, title: str = "") -> Path:
    """Validation HM against β at the best stage-1 epoch, one line per configuration (mean over
    seeds); the dot marks the β used at test time (mean of the seeds' choices)."""
    if not records:
        raise BenchError("no stored runs to plot HM vs β from; run some first")
    figure = Figure(figsize=(8, 5), layout="constrained")
    ax = figure.subplots()
    for index, runs in enumerate(group_by_config(records).values()):
        curves = [np.asarray(run.val_hm_vs_beta, dtype=float) for run in runs]
        betas = curves[0][:, 0]
        hm = np.mean([curve[:, 1] for curve in curves if np.array_equal(curve[:, 0], betas)], axis=0)
        chosen = statistics.fmean(run.beta for run in runs)
        label = f"{runs[0].method} [{settings_label(runs[0])}] ({len(runs)} seed{'s' * (len(runs) > 1)})"
        # Ten colours, then the next line style, so every configuration stays distinguishable.
        line = ax.plot(
            betas, hm, color=f"C{index % 10}", linestyle=LINE_STYLES[index // 10 % len(LINE_STYLES)], label=label
        )[0]
        ax.plot(
            [chosen], [np.interp(chosen, betas, hm)], "o", color=line.get_color(), markersize=8, markeredgecolor="black"
        )
    ax.set_xlabel("calibration β (added to the distances of seen classes)")
    ax.set_ylabel("validation HM (%)")
    ax.set_title(title or "HM vs calibration β (stage 1, best epoch); dots: chosen β")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(figure, path)


def _save(figure: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    return path
