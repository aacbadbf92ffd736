"""Whether a difference in HM is real: confidence intervals and tests against the best row.

Leaderboards and tables compare every configuration with the best one (highest mean test HM):

* both ran the same seeds (at least two): a **paired t-test** on the per-seed HM differences; a
  seed fixes the initialisation and the batch order of both runs, so pairing removes that share
  of the noise;
* otherwise, at least two seeds each: **Welch's t-test** (no equal-variance assumption);
* one seed each: a paired **bootstrap over test classes** (the same resampled seen and unseen
  classes for both runs, HM recomputed from the per-class recalls), when both runs stored their
  per-class recall and the test split's unseen classes;
* anything else gets no test, and says why.

Tests are two-sided at α = 0.05, without a correction for the many rows of one board. The 95%
confidence interval of a mean over seeds uses the t-distribution with n − 1 degrees of freedom;
a single-seed run gets the bootstrap percentile interval over test classes instead, when it can.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

ALPHA = 0.05
CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
HM_EPSILON = 2.220446049250313e-16


@dataclass(frozen=True)
class RunGroup:
    """The runs of one configuration: test HM per seed, and per-class recall of a single-seed run."""

    seeds: tuple[int, ...]
    hm: tuple[float, ...]
    per_class: Mapping[str, float] | None = None  # test recall (percent) by class name
    unseen: tuple[str, ...] = ()  # names of the test split's unseen classes

    @property
    def mean(self) -> float:
        return float(np.mean(self.hm))

    def by_seed(self) -> dict[int, float]:
        return dict(zip(self.seeds, self.hm))


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    method: str  # "t" or "class bootstrap"

    def label(self) -> str:
        """The interval as shown: HM is a percentage, so a t-interval reaching past 0 or 100 (few
        seeds near a bound) is shown cut to [0, 100]."""
        low, high = max(self.low, 0.0), min(self.high, 100.0)
        return f"[{low:.2f}, {high:.2f}]" + ("" if self.method == "t" else f" ({self.method})")


@dataclass(frozen=True)
class Comparison:
    """A configuration against the best one: mean HM difference and the test that judged it."""

    difference: float  # mean HM of this row minus that of the best row
    test: str = ""  # "paired t", "Welch t", "class bootstrap"; "" when no test could be made
    p_value: float | None = None
    reason: str = ""  # why there is no test

    @property
    def significant(self) -> bool | None:
        return None if self.p_value is None else self.p_value < ALPHA

    def label(self) -> str:
        if self.p_value is None:
            return f"{self.difference:+.2f} (no test: {self.reason})"
        star = " *" if self.significant else ""
        return f"{self.difference:+.2f}, {_format_p(self.p_value)} ({self.test}){star}"


def _format_p(p: float) -> str:
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval | None:
    """Confidence interval of the mean of `values` (t-distribution); None below two values."""
    n = len(values)
    if n < 2:
        return None
    mean, sem = float(np.mean(values)), float(stats.sem(values))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sem
    return Interval(mean - half, mean + half, "t")


def _class_recalls(group: RunGroup, classes: list[str]) -> np.ndarray:
    assert group.per_class is not None
    return np.asarray([group.per_class[name] for name in classes], dtype=np.float64)


def _bootstrap_hm(
    group: RunGroup, seen_index: np.ndarray, unseen_index: np.ndarray, seen: list[str], unseen: list[str]
):
    s = _class_recalls(group, seen)[seen_index].mean(axis=1)
    u = _class_recalls(group, unseen)[unseen_index].mean(axis=1)
    return 2 * s * u / (s + u + HM_EPSILON)


def _bootstrap_classes(group: RunGroup) -> tuple[list[str], list[str]] | None:
    """(seen, unseen) class names of a single-seed run whose per-class recall reproduces its HM."""
    if len(group.hm) != 1 or not group.per_class or not group.unseen:
        return None
    unseen = [name for name in group.unseen if name in group.per_class]
    seen = sorted(set(group.per_class) - set(group.unseen))
    if len(unseen) != len(group.unseen) or not seen:
        return None
    s, u = float(np.mean(_class_recalls(group, seen))), float(np.mean(_class_recalls(group, unseen)))
    # The stored recalls must give the stored HM (they are rounded float32 percentages).
    if not math.isclose(2 * s * u / (s + u + HM_EPSILON), group.hm[0], abs_tol=0.05):
        return None
    return seen, unseen


def _resamples(seen: list[str], unseen: list[str]) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    return (
        rng.integers(0, len(seen), size=(BOOTSTRAP_RESAMPLES, len(seen))),
        rng.integers(0, len(unseen), size=(BOOTSTRAP_RESAMPLES, len(unseen))),
    )


def percentile_interval(values: np.ndarray, method: str, confidence: float = CONFIDENCE) -> Interval:
    """The bootstrap percentile interval of resampled `values`."""
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return Interval(float(low), float(high), method)


def bootstrap_p(deltas: np.ndarray) -> float:
    """Two-sided bootstrap p-value of "no difference" from resampled differences (at least 1/resamples)."""
    p_value = min(1.0, 2 * min(float(np.mean(deltas <= 0)), float(np.mean(deltas >= 0))))
    return max(p_value, 1 / len(deltas))


def bootstrap_interval(group: RunGroup, confidence: float = CONFIDENCE) -> Interval | None:
    """Percentile interval of a single run's HM under resampling of its test classes."""
    classes = _bootstrap_classes(group)
    if classes is None:
        return None
    seen, unseen = classes
    hm = _bootstrap_hm(group, *_resamples(seen, unseen), seen, unseen)
    return percentile_interval(hm, "class bootstrap", confidence)


def class_bootstrap_deltas(group: RunGroup, other: RunGroup) -> np.ndarray | None:
    """HM of `group` minus HM of `other` over paired resamples of the test classes (the same seen
    and unseen classes drawn for both single-seed runs); None when they cannot be resampled alike."""
    classes, other_classes = _bootstrap_classes(group), _bootstrap_classes(other)
    if classes is None or other_classes is None or classes != other_classes:
        return None
    seen, unseen = classes
    index = _resamples(seen, unseen)
    return _bootstrap_hm(group, *index, seen, unseen) - _bootstrap_hm(other, *index, seen, unseen)


def interval(group: RunGroup) -> Interval | None:
    """The 95% interval of a configuration's HM: over seeds, else over test classes."""
    return t_interval(group.hm) or bootstrap_interval(group)


def _t_comparison(group: RunGroup, best: RunGroup, difference: float) -> Comparison:
    ours, theirs = group.by_seed(), best.by_seed()
    if set(ours) == set(theirs):
        seeds = sorted(ours)
        deltas = [ours[seed] - theirs[seed] for seed in seeds]
        if np.ptp(deltas) == 0:
            return Comparison(difference, reason="the per-seed differences do not vary")
        result = stats.ttest_rel([ours[s] for s in seeds], [theirs[s] for s in seeds])
        return Comparison(difference, "paired t", float(result.pvalue))
    if np.ptp(group.hm) == 0 and np.ptp(best.hm) == 0:
        return Comparison(difference, reason="no variance over seeds in either row")
    result = stats.ttest_ind(group.hm, best.hm, equal_var=False)
    return Comparison(difference, "Welch t", float(result.pvalue))


def _bootstrap_comparison(group: RunGroup, best: RunGroup, difference: float) -> Comparison:
    deltas = class_bootstrap_deltas(group, best)
    if deltas is None:
        return Comparison(difference, reason="one seed, and no matching per-class recall to resample")
    return Comparison(difference, "class bootstrap", bootstrap_p(deltas))


def compare(group: RunGroup, best: RunGroup) -> Comparison:
    """Test `group`'s HM against `best`'s with the strongest test the runs allow."""
    difference = group.mean - best.mean
    if len(group.hm) >= 2 and len(best.hm) >= 2:
        return _t_comparison(group, best, difference)
    if len(group.hm) == 1 and len(best.hm) == 1:
        return _bootstrap_comparison(group, best, difference)
    return Comparison(difference, reason="needs at least two seeds in both rows")


def compare_to_best(groups: Sequence[RunGroup]) -> list[Comparison | None]:
    """For each group, its comparison with the group of highest mean HM (None for that one)."""
    if not groups:
        return []
    best = max(range(len(groups)), key=lambda index: groups[index].mean)
    return [None if index == best else compare(group, groups[best]) for index, group in enumerate(groups)]


def run_group(runs: pd.DataFrame) -> RunGroup:
    """One configuration's runs (rows of a `load_results` frame) as the statistics need them."""
    first = runs.iloc[0]
    single = len(runs) == 1
    return RunGroup(
        seeds=tuple(int(seed) for seed in runs["seed"]),
        hm=tuple(float(hm) for hm in runs["hm"]),
        per_class=first["per_class"] if single else None,
        unseen=tuple(first["unseen_classes"]) if single else (),
    )


NO_VALUE = "—"


def significance(configurations: Sequence[pd.DataFrame]) -> list[tuple[Interval | None, Comparison | None]]:
    """The 95% interval of each configuration's HM and its comparison with the best one (None for
    that one), in order."""
    groups = [run_group(runs) for runs in configurations]
    return [(interval(group), comparison) for group, comparison in zip(groups, compare_to_best(groups))]


def interval_label(bounds: Interval | None) -> str:
    return bounds.label() if bounds else NO_VALUE


def versus_label(comparison: Comparison | None) -> str:
    return "best" if comparison is None else comparison.label()


def significance_cells(configurations: Sequence[pd.DataFrame]) -> list[tuple[str, str]]:
    """('HM 95% CI', 'HM vs best') cells for each configuration's runs, in order."""
    return [(interval_label(bounds), versus_label(versus)) for bounds, versus in significance(configurations)]


SIGNIFICANCE_COLUMNS = ("HM 95% CI", "HM vs best")
SIGNIFICANCE_NOTE = (
    "`HM 95% CI`: t-interval of the mean over seeds, cut to [0, 100] (single seed: percentile interval "
    "over bootstrap resamples of the test classes). `HM vs best`: difference of mean test HM to the best row, with "
    "the two-sided test named in the cell: paired t-test when both rows ran the same seeds, Welch's "
    "t-test otherwise, a paired bootstrap over test classes for single-seed rows; * = p < 0.05 "
    "(no correction for the number of rows)."
)
