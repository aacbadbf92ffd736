"""The standard two-stage GZSL protocol, method-agnostic.

Stage 1 trains on `train`, evaluates `val` after every epoch (beta searched on the grid) and keeps
the epoch with the highest val HM (strict '>', so the earliest maximum wins). Stage 2 re-initialises
the model with the same seed, trains on `train_val` for that many epochs (the LR schedule still
follows val HM, as in the reference) and evaluates `test` once, at the beta chosen on val in stage 1.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from avgzsl_bench.api import GZSLMethod, MethodSpec
from avgzsl_bench.data import FeatureSplit, GZSLDataset, TextEmbeddings
from avgzsl_bench.metrics import GZSLScores, calibration_grid, gzsl_scores
from avgzsl_bench.training import RunTrainer

EpochCallback = Callable[[str, int, int, float], None]
BestCallback = Callable[[GZSLMethod], None]  # called with the model whenever stage 1 finds a new best epoch


@dataclass
class ViewEvaluation:
    """One view's beta search on a split: the whole HM curve and the chosen point."""

    curve: GZSLScores
    best: GZSLScores


@dataclass
class Stage1Result:
    """What stage 1 hands to stage 2; persisted so an interrupted run resumes at stage 2."""

    best_epochs: int  # epochs trained when val HM peaked (stage 2 trains this many)
    val: dict[str, float]  # val metrics of the primary view at the best epoch (percent)
    val_betas: dict[str, float]  # val-optimal beta of every view of model A
    val_hm_per_epoch: list[float]
    val_hm_vs_beta: list[tuple[float, float]]  # primary view, best epoch: (beta, HM in percent)
    seconds: float

    @property
    def test_beta(self) -> float:
        """The reference rule: the mean of the val-optimal betas of the views."""
        return sum(self.val_betas.values()) / len(self.val_betas)


@dataclass
class ProtocolResult:
    method: str
    dataset: str
    seed: int
    hparams: dict[str, Any]
    stage1: Stage1Result
    test: dict[str, float]  # seen/unseen/hm/zsl in percent, beta
    test_per_class: dict[str, float]  # class name -> recall in percent
    timings: dict[str, float] = field(default_factory=dict)
    model: GZSLMethod | None = None  # the stage-2 model, when asked for


def evaluate(
    model: GZSLMethod, split: FeatureSplit, text: TextEmbeddings, beta: float | None = None
) -> dict[str, ViewEvaluation]:
    """Evaluate every view of `model` on `split`; search the grid unless `beta` is given."""
    model.eval()
    classes = split.classes
    with torch.no_grad():
        views = model.distances(split.video, split.audio, text.rows(classes))
    betas = calibration_grid(split.labels.device) if beta is None else torch.tensor([beta])
    results = {}
    for view, distances in views.items():
        curve = gzsl_scores(distances, split.labels, classes, split.seen, split.unseen, betas)
        results[view] = ViewEvaluation(curve, curve.at(curve.best_index()))
    return results


def _primary(views: dict[str, ViewEvaluation]) -> ViewEvaluation:
    return next(iter(views.values()))


def run_stage1(
    spec: MethodSpec,
    dataset: GZSLDataset,
    hparams: Mapping[str, Any],
    seed: int,
    on_epoch: EpochCallback | None = None,
    on_best: BestCallback | None = None,
) -> Stage1Result:
    """Train on `train`, evaluate `val` each epoch, keep the first epoch with the best val HM."""
    notify = on_epoch or (lambda stage, epoch, total, hm: None)
    started = time.perf_counter()
    val_split = dataset.splits["val"]
    trainer = RunTrainer(spec, dataset, hparams, seed, "train")
    epochs = trainer.epochs
    best_views = evaluate(trainer.model, val_split, dataset.text) if epochs == 0 else None
    if epochs == 0 and on_best is not None:
        on_best(trainer.model)
    best_hm, best_epochs, hm_curve = None, 0, []
    for epoch in range(1, epochs + 1):
        trainer.train_epoch()
        views = evaluate(trainer.model, val_split, dataset.text)
        hm = float(_primary(views).best.hm)
        hm_curve.append(100 * hm)
        trainer.end_epoch(hm)
        if best_hm is None or hm > best_hm:
            best_hm, best_epochs, best_views = hm, epoch, views
            if on_best is not None:
                on_best(trainer.model)
        notify("stage 1", epoch, epochs, 100 * hm)
    assert best_views is not None
    return summarise_stage1(best_views, best_epochs, hm_curve, time.perf_counter() - started)


def summarise_stage1(
    best_views: dict[str, ViewEvaluation], best_epochs: int, hm_curve: list[float], seconds: float
) -> Stage1Result:
    """What stage 1 hands on, from the val evaluation of its best model."""
    primary = _primary(best_views)
    return Stage1Result(
        best_epochs=best_epochs,
        val=primary.best.as_dict(),
        val_betas={view: float(result.best.betas) for view, result in best_views.items()},
        val_hm_per_epoch=hm_curve,
        val_hm_vs_beta=[(float(b), 100 * float(h)) for b, h in zip(primary.curve.betas, primary.curve.hm)],
        seconds=seconds,
    )


def evaluate_test(model: GZSLMethod, dataset: GZSLDataset, beta: float) -> tuple[dict[str, float], dict[str, float]]:
    """The single test evaluation at the val-chosen beta: metrics and per-class recall (percent)."""
    test = _primary(evaluate(model, dataset.splits["test"], dataset.text, beta=beta)).best
    per_class = {dataset.class_names[int(c)]: 100 * float(r) for c, r in zip(test.classes.tolist(), test.per_class)}
    return test.as_dict(), per_class


def run_protocol(
    spec: MethodSpec,
    dataset: GZSLDataset,
    hparams: Mapping[str, Any],
    seed: int,
    on_epoch: EpochCallback | None = None,
    keep_model: bool = False,
    stage1: Stage1Result | None = None,
) -> ProtocolResult:
    """Stage 1 (unless its result is given), stage 2, and the single test evaluation."""
    notify = on_epoch or (lambda stage, epoch, total, hm: None)
    if stage1 is None:
        stage1 = run_stage1(spec, dataset, hparams, seed, on_epoch)
    val_split = dataset.splits["val"]

    started = time.perf_counter()
    trainer = RunTrainer(spec, dataset, hparams, seed, "train_val")
    for epoch in range(1, stage1.best_epochs + 1):
        trainer.train_epoch()
        hm = float(_primary(evaluate(trainer.model, val_split, dataset.text)).best.hm)
        trainer.end_epoch(hm)
        notify("stage 2", epoch, stage1.best_epochs, 100 * hm)
    stage2_seconds = time.perf_counter() - started

    started = time.perf_counter()
    test, per_class = evaluate_test(trainer.model, dataset, stage1.test_beta)
    return ProtocolResult(
        method=spec.name,
        dataset=dataset.name,
        seed=seed,
        hparams=dict(hparams),
        stage1=stage1,
        test=test,
        test_per_class=per_class,
        timings={"stage1_s": stage1.seconds, "stage2_s": stage2_seconds, "test_s": time.perf_counter() - started},
        model=trainer.model if keep_model else None,
    )
