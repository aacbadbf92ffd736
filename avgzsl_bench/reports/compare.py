"""Two configurations on the same test samples: is B's HM different from A's, and which classes drive it.

For each seed both ran, from their stored per-sample predictions (`store.predictions.Predictions`):

* **McNemar's test** on per-sample correctness: b = samples only A gets right, c = only B. With
  fewer than `EXACT_BELOW` discordant samples the exact binomial test (b of b + c at p = ½), else
  the χ² statistic with continuity correction. It tests accuracy over samples, not HM.
* a **paired bootstrap over test samples**: the same resampled samples for A and B, per-class
  recall and HM recomputed for both; the percentile interval of HM(B) − HM(A) and its p-value;
* a **paired bootstrap over test classes** (`reports.statistics`, as the leaderboards use it):
  the same resampled seen and unseen classes for both.

Over seeds: the per-seed HM differences and, with two or more seeds, the paired t-test of the
leaderboards. The per-class recall differences (mean over seeds) show which classes move HM.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats
from tabulate import tabulate

from avgzsl_bench.reports.statistics import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    HM_EPSILON,
    Interval,
    RunGroup,
    bootstrap_p,
    class_bootstrap_deltas,
    percentile_interval,
)
from avgzsl_bench.store.predictions import Predictions

EXACT_BELOW = 25  # discordant pairs under which McNemar's χ² approximation is poor: exact binomial
CHUNK = 100  # bootstrap resamples per vectorised batch (bounds memory at CHUNK × samples)


@dataclass(frozen=True)
class SplitPredictions:
    """A run's predictions with its test split's unseen class names (seen = the other test classes)."""

    predictions: Predictions
    unseen: frozenset[str]

    def class_ids(self) -> tuple[np.ndarray, np.ndarray]:
        """(seen, unseen) global ids of the classes with test samples."""
        present = np.unique(self.predictions.labels)
        names = self.predictions.class_names
        is_unseen = np.asarray([names[i] in self.unseen for i in present], dtype=bool)
        return present[~is_unseen], present[is_unseen]

    def recall(self) -> dict[str, float]:
        """Test recall (percent) of every class with test samples, by name."""
        labels, correct = self.predictions.labels, self.predictions.correct
        hits = np.bincount(labels, weights=correct, minlength=len(self.predictions.class_names))
        totals = np.bincount(labels, minlength=len(self.predictions.class_names))
        return {self.predictions.class_names[i]: 100 * float(hits[i] / totals[i]) for i in np.flatnonzero(totals)}

    def hm(self) -> float:
        """Test HM (percent) as the protocol computes it: per-class recall averaged within seen and unseen."""
        recall = self.recall()
        names = self.predictions.class_names
        seen, unseen = (np.mean([recall[names[i]] for i in ids]) if len(ids) else 0.0 for ids in self.class_ids())
        return float(2 * seen * unseen / (seen + unseen + HM_EPSILON))

    def group(self, seed: int) -> RunGroup:
        """This run as `reports.statistics` resamples a single seed's classes."""
        return RunGroup((seed,), (self.hm(),), self.recall(), tuple(sorted(self.unseen & set(self.recall()))))


@dataclass(frozen=True)
class McNemar:
    only_a: int  # samples A classifies correctly and B does not
    only_b: int
    test: str = ""  # "exact binomial" or "χ², continuity-corrected"; "" when no test
    p_value: float | None = None

    def label(self) -> str:
        counts = f"b={self.only_a}, c={self.only_b}"
        if self.p_value is None:
            return f"{counts}: no discordant sample, no test"
        return f"{counts}: {format_p(self.p_value)} ({self.test})"


@dataclass(frozen=True)
class SeedComparison:
    seed: int
    hm_a: float
    hm_b: float
    mcnemar: McNemar
    samples: Interval  # 95% interval of HM(B) − HM(A) over resampled samples
    samples_p: float
    classes: Interval | None  # over resampled classes (None when the classes cannot be resampled)
    classes_p: float | None

    @property
    def difference(self) -> float:
        return self.hm_b - self.hm_a


def format_p(p: float) -> str:
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


def check_paired(a: SplitPredictions, b: SplitPredictions) -> str:
    """Why two runs' predictions cannot be compared sample by sample ("" when they can)."""
    pa, pb = a.predictions, b.predictions
    if pa.class_names != pb.class_names:
        return "their class lists differ"
    if pa.labels.shape != pb.labels.shape or not np.array_equal(pa.labels, pb.labels):
        return f"their test samples differ ({len(pa.labels)} vs {len(pb.labels)} samples, or another order)"
    if pa.sample_names and pb.sample_names and pa.sample_names != pb.sample_names:
        return "their test samples have different names"
    if a.unseen != b.unseen:
        return "their unseen classes differ"
    if not len(a.class_ids()[0]) or not len(a.class_ids()[1]):
        return "the test split lacks seen or unseen samples"
    return ""


def mcnemar(a: Predictions, b: Predictions) -> McNemar:
    """McNemar's test of per-sample correctness of two classifiers on the same samples."""
    only_a = int(np.sum(a.correct & ~b.correct))
    only_b = int(np.sum(~a.correct & b.correct))
    discordant = only_a + only_b
    if discordant == 0:
        return McNemar(only_a, only_b)
    if discordant < EXACT_BELOW:
        return McNemar(only_a, only_b, "exact binomial", float(stats.binomtest(only_a, discordant, 0.5).pvalue))
    statistic = (abs(only_a - only_b) - 1) ** 2 / discordant
    return McNemar(only_a, only_b, "χ², continuity-corrected", float(stats.chi2.sf(statistic, 1)))


def _resampled_hm(
    classes: np.ndarray, correct: np.ndarray, is_unseen: np.ndarray, index: np.ndarray, count: int
) -> np.ndarray:
    """HM (percent) of each row of resampled sample indices; a class absent from a resample is left
    out of that resample's means, as the protocol leaves out classes without test samples."""
    rows = index.shape[0]
    flat = (classes[index] + count * np.arange(rows)[:, None]).ravel()
    totals = np.bincount(flat, minlength=rows * count).reshape(rows, count)
    hits = np.bincount(flat, weights=correct[index].ravel(), minlength=rows * count).reshape(rows, count)
    present = totals > 0
    recall = np.divide(hits, totals, out=np.zeros_like(hits), where=present)

    def mean(mask: np.ndarray) -> np.ndarray:
        return (recall * (present & mask)).sum(axis=1) / np.maximum((present & mask).sum(axis=1), 1)

    seen, unseen = mean(~is_unseen), mean(is_unseen)
    return 100 * 2 * seen * unseen / (seen + unseen + HM_EPSILON)


def sample_bootstrap_deltas(
    a: SplitPredictions, b: SplitPredictions, resamples: int = BOOTSTRAP_RESAMPLES
) -> np.ndarray:
    """HM(B) − HM(A) over paired bootstrap resamples of the test samples."""
    names = a.predictions.class_names
    present, classes = np.unique(a.predictions.labels, return_inverse=True)
    is_unseen = np.asarray([names[i] in a.unseen for i in present], dtype=bool)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    n, deltas = len(classes), []
    for start in range(0, resamples, CHUNK):
        index = rng.integers(0, n, size=(min(CHUNK, resamples - start), n))
        hm_a = _resampled_hm(classes, a.predictions.correct.astype(np.float64), is_unseen, index, len(present))
        hm_b = _resampled_hm(classes, b.predictions.correct.astype(np.float64), is_unseen, index, len(present))
        deltas.append(hm_b - hm_a)
    return np.concatenate(deltas)


def compare_seed(seed: int, a: SplitPredictions, b: SplitPredictions) -> SeedComparison:
    """Every paired test of one seed's two runs (whose predictions `check_paired` accepted)."""
    samples = sample_bootstrap_deltas(a, b)
    classes = class_bootstrap_deltas(b.group(seed), a.group(seed))
    return SeedComparison(
        seed,
        a.hm(),
        b.hm(),
        mcnemar(a.predictions, b.predictions),
        percentile_interval(samples, "sample bootstrap"),
        bootstrap_p(samples),
        None if classes is None else percentile_interval(classes, "class bootstrap"),
        None if classes is None else bootstrap_p(classes),
    )


@dataclass(frozen=True)
class ClassDifference:
    name: str
    unseen: bool
    samples: int
    recall_a: float  # mean over seeds, percent
    recall_b: float

    @property
    def difference(self) -> float:
        return self.recall_b - self.recall_a


def class_differences(pairs: Sequence[tuple[SplitPredictions, SplitPredictions]]) -> list[ClassDifference]:
    """Per-class recall of A and B (mean over the seeds' pairs), largest |difference| first."""
    first = pairs[0][0]
    recalls_a = [a.recall() for a, _ in pairs]
    recalls_b = [b.recall() for _, b in pairs]
    counts = np.bincount(first.predictions.labels, minlength=len(first.predictions.class_names))
    rows = [
        ClassDifference(
            name,
            name in first.unseen,
            int(counts[first.predictions.class_names.index(name)]),
            float(np.mean([recall[name] for recall in recalls_a])),
            float(np.mean([recall[name] for recall in recalls_b])),
        )
        for name in recalls_a[0]
    ]
    return sorted(rows, key=lambda row: (-abs(row.difference), row.name))


def seeds_test(differences: Sequence[SeedComparison]) -> str:
    """The paired t-test over seeds of the HM differences (the leaderboards' test), as text."""
    if len(differences) < 2:
        return "one seed: no test over seeds"
    deltas = [one.difference for one in differences]
    if np.ptp(deltas) == 0:
        return "the per-seed differences do not vary: no t-test"
    result = stats.ttest_rel([one.hm_b for one in differences], [one.hm_a for one in differences])
    p_value = float(result.pvalue)
    return f"paired t over {len(deltas)} seeds: {format_p(p_value)}" if math.isfinite(p_value) else "no t-test"


def _interval(interval: Interval | None, p_value: float | None) -> str:
    if interval is None or p_value is None:
        return "—"
    return f"[{interval.low:+.2f}, {interval.high:+.2f}], {format_p(p_value)}"


def render_comparison(
    heading: Sequence[str], seeds: Sequence[SeedComparison], classes: Sequence[ClassDifference], top: int = 10
) -> str:
    """The markdown report: `heading` lines, HM per seed with every paired test, the top classes."""
    rows = [
        [
            one.seed,
            f"{one.hm_a:.2f}",
            f"{one.hm_b:.2f}",
            f"{one.difference:+.2f}",
            _interval(one.samples, one.samples_p),
            _interval(one.classes, one.classes_p),
            one.mcnemar.label(),
        ]
        for one in seeds
    ]
    mean_a, mean_b = (float(np.mean([getattr(one, name) for one in seeds])) for name in ("hm_a", "hm_b"))
    rows.append(["mean", f"{mean_a:.2f}", f"{mean_b:.2f}", f"{mean_b - mean_a:+.2f}", seeds_test(seeds), "", ""])
    headers = ["seed", "HM A", "HM B", "Δ HM (B − A)", "95% CI of Δ, samples", "95% CI of Δ, classes", "McNemar"]
    class_rows = [
        [
            row.name,
            "unseen" if row.unseen else "seen",
            row.samples,
            f"{row.recall_a:.2f}",
            f"{row.recall_b:.2f}",
            f"{row.difference:+.2f}",
        ]
        for row in classes[:top]
    ]
    class_headers = ["class", "split", "test samples", "recall A", "recall B", "Δ (B − A)"]
    return "\n".join(
        [
            *heading,
            "",
            "#### Test HM per seed",
            "",
            tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True),
            "",
            NOTE,
            "",
            f"#### Per-class test recall: the {min(top, len(classes))} largest differences (mean over seeds)",
            "",
            tabulate(class_rows, headers=class_headers, tablefmt="github", disable_numparse=True),
        ]
    )


NOTE = (
    f"Percentages. CIs: {BOOTSTRAP_RESAMPLES} paired bootstrap resamples of the test samples, or of the test "
    "classes (seen and unseen drawn separately), the same resamples for A and B; p: two-sided bootstrap p-value "
    "of Δ = 0. McNemar: b = samples only A classifies correctly, c = only B; exact binomial test below "
    f"{EXACT_BELOW} discordant samples, else χ² with continuity correction (it tests per-sample accuracy, not HM). "
    "Mean row: paired t-test of the per-seed HM differences."
)
