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
from avgzsl_bench.store.records import Measured, Stage1Result

# Progress of the runs being trained: stage, epoch, epochs, and each run's val HM in percent (None:
# that run trained no epoch this time).
EpochCallback = Callable[[str, int, int, Sequence["float | None"]], None]
# Called with a run's index and its model whenever stage 1 finds a new best epoch for it.
BestCallback = Callable[[int, GZSLMethod], None]


class Trainer(Protocol):
    """What the protocol needs of a trainer of one or more runs (`training.RunTrainer`,
    `training.StackedTrainer`); which one trains a job is decided by the job layer."""

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
class ProtocolResult:
    method: str
    dataset: str
    seed: int
    hparams: dict[str, Any]
    stage1: Stage1Result
    measured: Measured  # the single test evaluation
    timings: dict[str, float] = field(default_factory=dict)
    model: GZSLMethod | None = None  # the stage-2 model, when asked for

    @property
    def test(self) -> dict[str, float]:
        """seen/unseen/hm/zsl in percent, and beta."""
        return dict(self.measured.test)

    @property
    def test_per_class(self) -> dict[str, float]:
        """class name -> test recall in percent."""
        return dict(self.measured.per_class)


def evaluate(
    model: GZSLMethod, split: FeatureSplit, text: TextEmbeddings, beta: float | None = None
) -> dict[str, ViewEvaluation]:
    """Evaluate every view of `model` on `split`; search the grid unless `beta` is given (then each
    view's scores also hold the class predicted for every sample)."""
    model.eval()
    classes = split.classes
    with torch.no_grad():
        views = model.distances(split.video, split.audio, text.rows(classes))
    betas = calibration_grid(split.labels.device) if beta is None else torch.tensor([beta])
    results = {}
    for view, distances in views.items():
        curve = gzsl_scores(distances, split.labels, classes, split.seen, split.unseen, betas, beta is not None)
        results[view] = ViewEvaluation(curve, curve.at(curve.best_index()))
    return results


def _primary(views: dict[str, ViewEvaluation]) -> ViewEvaluation:
    return next(iter(views.values()))


def _val_hm(trainer: Trainer, run: int, dataset: GZSLDataset) -> float:
    return float(_primary(evaluate(trainer.model_of(run), dataset.splits["val"], dataset.text)).best.hm)


def _train_stage1(
    trainer: Trainer, dataset: GZSLDataset, notify: EpochCallback, on_best: BestCallback | None = None
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


def evaluate_test(model: GZSLMethod, dataset: GZSLDataset, beta: float) -> Measured:
    """The single test evaluation at the val-chosen beta: metrics, per-class recall (percent) and
    the class predicted for every test sample (the same argmin the recall counts)."""
    split = dataset.splits["test"]
    test = _primary(evaluate(model, split, dataset.text, beta=beta)).best
    per_class = {dataset.class_names[int(c)]: 100 * float(r) for c, r in zip(test.classes.tolist(), test.per_class)}
    unseen = [dataset.class_names[int(i)] for i in split.unseen.tolist()]
    assert test.predicted is not None  # kept: a β was given
    return Measured(test.as_dict(), per_class, unseen, tuple(test.predicted.tolist()))


def _train_stage2(
    trainer: Trainer, dataset: GZSLDataset, stage1: Sequence[Stage1Result], notify: EpochCallback
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
    measured = evaluate_test(model, dataset, stage1.test_beta)
    return ProtocolResult(
        method=spec.name,
        dataset=dataset.name,
        seed=seed,
        hparams=dict(hparams),
        stage1=stage1,
        measured=measured,
        timings={"stage1_s": stage1.seconds, **timings, "test_s": time.perf_counter() - started},
        model=model if keep_model else None,
    )


class TrainerFactory(Protocol):
    """Builds the trainer of some runs (their seeds) of one configuration on one split."""

    def __call__(
        self, spec: MethodSpec, dataset: GZSLDataset, hparams: Mapping[str, Any], seeds: Sequence[int], split: str, /
    ) -> Trainer: ...


def _quiet(stage: str, epoch: int, total: int, hms: Sequence[float | None]) -> None:
    return None


def run_stage1(
    spec: MethodSpec,
    dataset: GZSLDataset,
    hparams: Mapping[str, Any],
    seeds: Sequence[int],
    trainer: TrainerFactory,
    on_epoch: EpochCallback | None = None,
    on_best: BestCallback | None = None,
) -> list[Stage1Result]:
    """Train on `train`, evaluate `val` each epoch; every run keeps its first epoch with the best val HM."""
    runs = trainer(spec, dataset, hparams, seeds, "train")
    return _train_stage1(runs, dataset, on_epoch or _quiet, on_best)


def run_protocol(
    spec: MethodSpec,
    dataset: GZSLDataset,
    hparams: Mapping[str, Any],
    seeds: Sequence[int],
    trainer: TrainerFactory,
    stage1: Sequence[Stage1Result | None] | None = None,
    on_epoch: EpochCallback | None = None,
    on_stage1: Callable[[int, Stage1Result], None] | None = None,
    on_best: BestCallback | None = None,
    keep_model: bool = False,
) -> Iterator[tuple[int, ProtocolResult]]:
    """The protocol for runs of one configuration that differ only in the seed (one run or many,
    as `trainer` trains them); yields (index into `seeds`, result) as each run finishes.

    Runs whose stage 1 is given skip it; the others train stage 1 together first, then every run
    trains stage 2 and is tested once at the β its stage 1 chose.
    """
    notify = on_epoch or _quiet
    known: list[Stage1Result | None] = list(stage1) if stage1 is not None else [None] * len(seeds)
    missing = [index for index, result in enumerate(known) if result is None]
    if missing:
        best = None if on_best is None else (lambda run, model: on_best(missing[run], model))
        subset = [seeds[i] for i in missing]
        trained = run_stage1(spec, dataset, hparams, subset, trainer, _subset(notify, missing, len(seeds)), best)
        for index, result in zip(missing, trained):
            known[index] = result
            if on_stage1 is not None:
                on_stage1(index, result)
    results = [result for result in known if result is not None]
    runs = trainer(spec, dataset, hparams, seeds, "train_val")
    for run, model, seconds in _train_stage2(runs, dataset, results, notify):
        timings = {"stage2_s": seconds / len(seeds)}  # each run's share of the wall time
        yield run, _test(spec, dataset, hparams, seeds[run], results[run], model, timings, keep_model)


def run_single(
    spec: MethodSpec,
    dataset: GZSLDataset,
    hparams: Mapping[str, Any],
    seed: int,
    trainer: TrainerFactory,
    stage1: Stage1Result | None = None,
    on_epoch: EpochCallback | None = None,
    keep_model: bool = False,
) -> ProtocolResult:
    """`run_protocol` for one seed: its result."""
    runs = run_protocol(spec, dataset, hparams, [seed], trainer, [stage1], on_epoch, keep_model=keep_model)
    for _, result in runs:
        return result
    raise AssertionError("the protocol finishes every run")


def _subset(notify: EpochCallback, members: list[int], size: int) -> EpochCallback:
    """A callback of some runs of a group, reported at their places in the whole group."""

    def forward(stage: str, epoch: int, total: int, hms: Sequence[float | None]) -> None:
        full: list[float | None] = [None] * size
        for index, hm in zip(members, hms):
            full[index] = hm
        notify(stage, epoch, total, full)

    return forward
