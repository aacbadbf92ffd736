"""Significance of HM differences, confidence intervals, results as a DataFrame, boards that use them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import avgzsl_bench
from avgzsl_bench.datasets import DataSource
from avgzsl_bench.jobs.job import make_jobs
from avgzsl_bench.reports.leaderboard import write_leaderboards
from avgzsl_bench.reports.statistics import (
    BOOTSTRAP_RESAMPLES,
    RunGroup,
    bootstrap_interval,
    compare,
    compare_to_best,
    t_interval,
)
from avgzsl_bench.store.sqlite import ResultStore


def test_t_interval_matches_scipy() -> None:
    values = [50.0, 52.0, 55.0]
    low, high = stats.t.interval(0.95, 2, loc=np.mean(values), scale=stats.sem(values))
    interval = t_interval(values)
    assert interval is not None and interval.low == pytest.approx(low) and interval.high == pytest.approx(high)
    assert t_interval([50.0]) is None
    near_the_top = t_interval([99.0, 100.0, 95.0])
    assert near_the_top is not None and near_the_top.high > 100  # the statistic itself is not cut
    assert near_the_top.label().endswith(", 100.00]")  # what a table shows is


def test_paired_test_when_seeds_match_else_welch() -> None:
    best = RunGroup((1, 2, 3), (60.0, 62.0, 61.0))
    same_seeds = RunGroup((1, 2, 3), (55.0, 57.5, 55.8))
    result = compare(same_seeds, best)
    assert result.test == "paired t"
    assert result.p_value == pytest.approx(stats.ttest_rel([55.0, 57.5, 55.8], [60.0, 62.0, 61.0]).pvalue)
    assert result.difference == pytest.approx(np.mean([55.0, 57.5, 55.8]) - 61.0)
    other_seeds = RunGroup((4, 5, 6), (55.0, 57.5, 55.8))
    welch = compare(other_seeds, best)
    assert welch.test == "Welch t"
    assert welch.p_value == pytest.approx(stats.ttest_ind([55.0, 57.5, 55.8], [60, 62, 61], equal_var=False).pvalue)
    assert welch.significant and "Welch t" in welch.label() and welch.label().endswith("*")
    close = compare(RunGroup((1, 2, 3), (59.0, 63.0, 60.5)), best)
    assert close.p_value is not None and not close.significant and not close.label().endswith("*")
    assert compare(RunGroup((1,), (50.0,)), best).p_value is None  # 1 seed vs 3: no test, said so
    assert "no test" in compare(RunGroup((1,), (50.0,)), best).label()


def test_compare_to_best_marks_the_best_row() -> None:
    groups = [RunGroup((1, 2), (40.0, 41.0)), RunGroup((1, 2), (60.0, 62.0)), RunGroup((1, 2), (30.0, 30.5))]
    results = compare_to_best(groups)
    assert results[1] is None and results[0] is not None and results[0].difference == pytest.approx(-20.5)


def _single(hm_seen: list[float], hm_unseen: list[float]) -> RunGroup:
    seen = {f"s{i}": value for i, value in enumerate(hm_seen)}
    unseen = {f"u{i}": value for i, value in enumerate(hm_unseen)}
    s, u = np.mean(hm_seen), np.mean(hm_unseen)
    return RunGroup((42,), (2 * s * u / (s + u),), {**seen, **unseen}, tuple(unseen))


def test_class_bootstrap_for_single_seed_rows() -> None:
    rng = np.random.default_rng(1)
    strong = _single(list(rng.uniform(70, 90, 20)), list(rng.uniform(50, 70, 10)))
    weak = _single(list(rng.uniform(20, 40, 20)), list(rng.uniform(10, 30, 10)))
    result = compare(weak, strong)
    assert result.test == "class bootstrap" and result.significant
    assert result.p_value == pytest.approx(1 / BOOTSTRAP_RESAMPLES)
    assert result.label().endswith(", p<0.001 (class bootstrap) *")
    interval = bootstrap_interval(strong)
    assert interval is not None and interval.low < strong.hm[0] < interval.high
    same = compare(strong, strong)
    assert same.p_value == 1.0 and not same.significant
    # Recalls that do not give the stored HM are not resampled.
    inconsistent = RunGroup((42,), (99.0,), strong.per_class, strong.unseen)
    assert compare(inconsistent, strong).p_value is None and bootstrap_interval(inconsistent) is None


@pytest.fixture
def stored(tmp_path: Path, fake_record):
    store = ResultStore(tmp_path / "store.sqlite")
    demo = DataSource("demo", demo_samples_per_class=12)
    hm = {("clipclap", 1): 80.0, ("clipclap", 2): 82.0, ("clipclap", 3): 81.0}
    hm |= {("avca", 1): 60.0, ("avca", 2): 61.5, ("avca", 3): 60.8, ("cjme", 9): 70.0}
    seeds = {"clipclap": [1, 2, 3], "avca": [1, 2, 3], "cjme": [9]}
    for method, method_seeds in seeds.items():
        for job in make_jobs([method], demo, method_seeds):
            record = fake_record(job.key, seed=job.seed, method=method, dataset="demo", hm=hm[(method, job.seed)])
            record.config_hash, record.config = job.config_hash, job.config()
            store.save_run(record)
    return store


def test_load_results_has_a_row_per_run_and_every_hparam(stored) -> None:
    frame = avgzsl_bench.load_results(stored.path)
    assert len(frame) == 7 and set(frame["method"]) == {"clipclap", "avca", "cjme"}
    assert {"hm", "seed", "features", "config_hash", "lr", "text", "bn_momentum", "per_class"} <= set(frame.columns)
    avca = frame[frame["method"] == "avca"]
    assert set(avca["bn_momentum"]) == {0.99} and frame[frame["method"] == "clipclap"]["bn_momentum"].isna().all()
    assert set(frame["features"]) == {"clip-clap"}
    grouped = frame.groupby("method")["hm"].mean()
    assert grouped["clipclap"] == pytest.approx(81.0)
    with pytest.raises(FileNotFoundError):
        avgzsl_bench.load_results(stored.path.parent / "absent.sqlite")


def test_leaderboard_has_significance_columns(stored, tmp_path: Path) -> None:
    (path,) = write_leaderboards(stored, tmp_path / "boards")
    board = path.read_text()
    rows = {line.split("|")[2].strip(): line for line in board.splitlines() if line.startswith("|") and "`" in line}
    assert "HM vs best" in board and "HM 95% CI" in board and "paired t-test" in board
    assert "| best " in rows["clipclap"]
    assert "paired t" in rows["avca"] and rows["avca"].rstrip().count("*") >= 1
    low, high = stats.t.interval(0.95, 2, loc=81.0, scale=stats.sem([80.0, 82.0, 81.0]))
    assert f"[{low:.2f}, {high:.2f}]" in rows["clipclap"]
    assert "no test: needs at least two seeds" in rows["cjme"]
