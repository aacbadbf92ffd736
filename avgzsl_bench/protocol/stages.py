"""The standard two-stage GZSL protocol, method-agnostic.

Stage 1 trains on `train`, evaluates `val` after every epoch (beta searched on the grid) and keeps
the epoch with the highest val HM (strict '>', so the earliest maximum wins). Stage 2 re-initialises
the model with the same seed, trains on `train_val` for that many epochs (the LR schedule still
follows val HM, as in the reference) and evaluates `test` once, at the beta chosen on val in stage 1.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from avgzsl_bench.api import GZSLMethod, MethodSpec
from avgzsl_bench.datasets.types import FeatureSplit, GZSLDataset, TextEmbeddings
from avgzsl_bench.protocol.metrics import GZSLScores, calibration_grid, gzsl_scores
from avgzsl_bench.training import RunTrainer, StackedTrainer

EpochCallback = Callable[[str, int, int, float], None]
# A group's progress: stage, epoch, epochs, and each run's val HM (None: not trained this epoch).
GroupEpochCallback = Callable[[str, int, int, Sequence["float | None"]], None]
BestCallback = Callable[[GZSLMethod], None]  # called with the model whenever stage 1 finds a new best epoch
GroupBestCallback = Callable[[int, GZSLMethod], None]  # the same, with the run's index in the group


class Trainer(Protocol):
    """What the protocol needs of a trainer of one or more runs (`RunTrainer`, `StackedTrainer`)."""

    runs: int

    @property
    def epochs(self) -> int: ...

    def model_of(self, run: int) -> GZSLMethod: ...

    def snapshot(self, run: int) -> GZSLMethod: ...

    def train_epoch(self) -> None: ...

    def end_epoch(self, val_hms: Sequence[float | None]) -> None: ...


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


def _val_hm(trainer: Trainer, run: int, dataset: GZSLDataset) -> float:
    return float(_primary(evaluate(trainer.model_of(run), dataset.splits["val"], dataset.text)).best.hm)


def _train_stage1(
    trainer: Trainer, dataset: GZSLDataset, notify: GroupEpochCallback, on_best: GroupBestCallback | None = None
) -> list[Stage1Result]:
    """Stage 1 of every run of `trainer`: each keeps the first epoch with its best val HM."""
    started = time.perf_counter()
    val_split, runs, epochs = dataset.splits["val"], trainer.runs, trainer.epochs
    best_views: list[dict[str, ViewEvaluation] | None] = [None] * runs
    if epochs == 0:
        best_views = [evaluate(trainer.model_of(run), val_split, dataset.text) for run in range(runs)]
        for run in range(runs):
            if on_best is not None:
                on_best(run, trainer.model_of(run))
    best_hm: list[float | None] = [None] * runs
    best_epochs = [0] * runs
    curves: list[list[float]] = [[] for _ in range(runs)]
    for epoch in range(1, epochs + 1):
        trainer.train_epoch()
        hms = []
        for run in range(runs):
            views = evaluate(trainer.model_of(run), val_split, dataset.text)
            hm = float(_primary(views).best.hm)
            hms.append(hm)
            curves[run].append(100 * hm)
            previous = best_hm[run]
            if previous is None or hm > previous:
                best_hm[run], best_epochs[run], best_views[run] = hm, epoch, views
                if on_best is not None:
                    on_best(run, trainer.model_of(run))
        trainer.end_epoch(hms)
        notify("stage 1", epoch, epochs, [100 * hm for hm in hms])
    seconds = (time.perf_counter() - started) / runs  # each run's share of the stacked wall time
    results = []
    for chosen, best, curve in zip(best_views, best_epochs, curves):
        assert chosen is not None
        results.append(summarise_stage1(chosen, best, curve, seconds))
    return results


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


def _train_stage2(
    trainer: Trainer, dataset: GZSLDataset, stage1: Sequence[Stage1Result], notify: GroupEpochCallback
) -> Iterator[tuple[int, GZSLMethod, float]]:
    """Stage 2 of every run: yields (run, its final model, seconds) as each run's epochs are done.

    Runs with fewer best epochs finish first; the stack keeps its shapes (a finished run's slice
    trains on, unused), so a captured step stays valid.
    """
    started = time.perf_counter()
    total = max(result.best_epochs for result in stage1)
    for epoch in range(1, total + 1):
        trainer.train_epoch()
        active = [epoch <= result.best_epochs for result in stage1]
        hms = [_val_hm(trainer, run, dataset) if active[run] else None for run in range(trainer.runs)]
        trainer.end_epoch(hms)
        notify("stage 2", epoch, total, [None if hm is None else 100 * hm for hm in hms])
        for run, result in enumerate(stage1):
            if result.best_epochs == epoch:
                yield run, trainer.snapshot(run), time.perf_counter() - started
    for run, result in enumerate(stage1):
        if result.best_epochs == 0:  # nothing trained: the initial model is tested
            yield run, trainer.snapshot(run), time.perf_counter() - started


def _test(
    spec: MethodSpec,
    dataset: GZSLDataset,
    hparams: Mapping[str, Any],
    seed: int,
    stage1: Stage1Result,
    model: GZSLMethod,
    timings: dict[str, float],
    keep_model: bool,
) -> ProtocolResult:
    """The single test evaluation, at the beta chosen on val in stage 1."""
    started = time.perf_counter()
    test, per_class = evaluate_test(model, dataset, stage1.test_beta)
    return ProtocolResult(
        method=spec.name,
        dataset=dataset.name,
        seed=seed,
        hparams=dict(hparams),
        stage1=stage1,
        test=test,
        test_per_class=per_class,
        timings={"stage1_s": stage1.seconds, **timings, "test_s": time.perf_counter() - started},
        model=model if keep_model else None,
    )


def _single(on_epoch: EpochCallback | None) -> GroupEpochCallback:
    if on_epoch is None:
        return lambda stage, epoch, total, hms: None
    return lambda stage, epoch, total, hms: on_epoch(stage, epoch, total, hms[0] or 0.0)


def run_stage1(
    spec: MethodSpec,
    dataset: GZSLDataset,
    hparams: Mapping[str, Any],
    seed: int,
    on_epoch: EpochCallback | None = None,
    on_best: BestCallback | None = None,
) -> Stage1Result:
    """Train on `train`, evaluate `val` each epoch, keep the first epoch with the best val HM."""
    trainer = RunTrainer(spec, dataset, hparams, seed, "train")
    on_run_best = None if on_best is None else (lambda run, model: on_best(model))
    return _train_stage1(trainer, dataset, _single(on_epoch), on_run_best)[0]


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
    if stage1 is None:
        stage1 = run_stage1(spec, dataset, hparams, seed, on_epoch)
    trainer = RunTrainer(spec, dataset, hparams, seed, "train_val")
    for _, model, seconds in _train_stage2(trainer, dataset, [stage1], _single(on_epoch)):
        return _test(spec, dataset, hparams, seed, stage1, model, {"stage2_s": seconds}, keep_model)
    raise AssertionError("stage 2 finishes every run")


def run_group(
    spec: MethodSpec,
    dataset: GZSLDataset,
    hparams: Mapping[str, Any],
    seeds: Sequence[int],
    stage1: Sequence[Stage1Result | None] | None = None,
    on_epoch: GroupEpochCallback | None = None,
    on_stage1: Callable[[int, Stage1Result], None] | None = None,
    keep_model: bool = False,
) -> Iterator[tuple[int, ProtocolResult]]:
    """The protocol for runs of one configuration that differ only in the seed, trained as one
    stacked model (`StackedTrainer`); yields (index into `seeds`, result) as each run finishes.

    Runs whose stage 1 is given skip it; the others train stage 1 together first.
    """
    notify = on_epoch or (lambda stage, epoch, total, hms: None)
    known: list[Stage1Result | None] = list(stage1) if stage1 is not None else [None] * len(seeds)
    missing = [index for index, result in enumerate(known) if result is None]
    if missing:
        trainer = StackedTrainer(spec, dataset, hparams, [seeds[i] for i in missing], "train")
        for index, result in zip(missing, _train_stage1(trainer, dataset, _subset(notify, missing, len(seeds)))):
            known[index] = result
            if on_stage1 is not None:
                on_stage1(index, result)
    results = [result for result in known if result is not None]
    trainer = StackedTrainer(spec, dataset, hparams, seeds, "train_val")
    for run, model, seconds in _train_stage2(trainer, dataset, results, notify):
        timings = {"stage2_s": seconds / len(seeds)}  # each run's share of the stacked wall time
        yield run, _test(spec, dataset, hparams, seeds[run], results[run], model, timings, keep_model)


def _subset(notify: GroupEpochCallback, members: list[int], size: int) -> GroupEpochCallback:
    """A callback of some runs of a group, reported at their places in the whole group."""

    def forward(stage: str, epoch: int, total: int, hms: Sequence[float | None]) -> None:
        full: list[float | None] = [None] * size
        for index, hm in zip(members, hms):
            full[index] = hm
        notify(stage, epoch, total, full)

    return forward
