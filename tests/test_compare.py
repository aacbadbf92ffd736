"""`compare`: paired tests on constructed predictions, and the command's refusals on a store built here."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from avgzsl_bench.cli import main
from avgzsl_bench.datasets import DataSource
from avgzsl_bench.jobs.job import make_jobs
from avgzsl_bench.reports.compare import (
    SplitPredictions,
    check_paired,
    class_differences,
    compare_seed,
    mcnemar,
    sample_bootstrap_deltas,
)
from avgzsl_bench.store.predictions import Predictions
from avgzsl_bench.store.sqlite import ResultStore

CLASSES = ("s0", "s1", "s2", "u0", "u1")
UNSEEN = frozenset({"u0", "u1"})


def predictions(labels, predicted, key: str = "run") -> Predictions:
    return Predictions(
        key=key,
        labels=np.asarray(labels, dtype=np.int64),
        predicted=np.asarray(predicted, dtype=np.int64),
        sample_names=(),
        class_names=CLASSES,
        beta=0.5,
        beta_grid=(0.0, 0.5),
        val_hm=(10.0, 20.0),
    )


def split(labels, correct_mask, key: str = "run") -> SplitPredictions:
    """Predictions right where `correct_mask` is true, else the next class."""
    labels = np.asarray(labels)
    predicted = np.where(correct_mask, labels, (labels + 1) % len(CLASSES))
    return SplitPredictions(predictions(labels, predicted, key), UNSEEN)


LABELS = np.repeat(np.arange(5), 20)  # 20 test samples per class


def test_hm_is_the_protocols_mean_of_per_class_recall() -> None:
    correct = np.zeros(100, dtype=bool)
    correct[0:10] = True  # s0: 50 %
    correct[20:40] = True  # s1: 100 %
    correct[60:65] = True  # u0: 25 %, s2 and u1: 0 %
    run = split(LABELS, correct)
    seen, unseen = (50 + 100 + 0) / 3, (25 + 0) / 2
    assert math.isclose(run.hm(), 2 * seen * unseen / (seen + unseen), rel_tol=1e-9)
    assert run.recall() == {"s0": 50.0, "s1": 100.0, "s2": 0.0, "u0": 25.0, "u1": 0.0}


def test_mcnemar_exact_below_25_discordant_samples_else_chi_square() -> None:
    base = np.ones(100, dtype=bool)
    better = split(LABELS, base).predictions
    ten_worse = base.copy()
    ten_worse[:10] = False
    small = mcnemar(split(LABELS, ten_worse).predictions, better)
    assert (small.only_a, small.only_b, small.test) == (0, 10, "exact binomial")
    assert math.isclose(small.p_value, 2 * 0.5**10)
    a, b = base.copy(), base.copy()
    a[:10] = False  # 10 samples only B gets right
    b[10:40] = False  # 30 samples only A gets right
    large = mcnemar(split(LABELS, a).predictions, split(LABELS, b).predictions)
    statistic = (abs(30 - 10) - 1) ** 2 / 40
    assert (large.only_a, large.only_b) == (30, 10) and large.test.startswith("χ²")
    assert math.isclose(large.p_value, math.erfc(math.sqrt(statistic / 2)), rel_tol=1e-9)
    same = mcnemar(better, better)
    assert same.p_value is None and "no test" in same.label()


def test_paired_bootstraps_see_a_real_difference_and_no_difference() -> None:
    rng = np.random.default_rng(1)
    a_correct = rng.random(100) < 0.5
    b_correct = a_correct | (rng.random(100) < 0.5)  # B is right wherever A is, and more often
    a, b = split(LABELS, a_correct, "a"), split(LABELS, b_correct, "b")
    deltas = sample_bootstrap_deltas(a, b)
    assert deltas.shape == (2000,) and np.mean(deltas > 0) > 0.99
    result = compare_seed(42, a, b)
    assert result.difference == pytest.approx(b.hm() - a.hm())
    assert 0 < result.samples.low < result.difference < result.samples.high and result.samples_p < 0.01
    assert result.classes is not None and result.classes_p is not None and result.classes.high > 0
    assert result.mcnemar.only_a == 0 and result.mcnemar.only_b > 0
    same = compare_seed(42, a, split(LABELS, a_correct, "copy"))
    assert same.difference == 0 and same.samples.low == same.samples.high == 0 and same.samples_p == 1.0


def test_class_differences_are_means_over_seeds_largest_first() -> None:
    none, all_right = np.zeros(100, dtype=bool), np.ones(100, dtype=bool)
    u1_right = LABELS == 4
    pairs = [(split(LABELS, none), split(LABELS, u1_right)), (split(LABELS, none), split(LABELS, all_right))]
    rows = class_differences(pairs)
    assert rows[0].name == "u1" and rows[0].unseen and rows[0].difference == 100.0 and rows[0].samples == 20
    assert [row.difference for row in rows[1:]] == [50.0] * 4 and not rows[1].unseen


def test_runs_on_other_samples_cannot_be_paired() -> None:
    a = split(LABELS, np.ones(100, dtype=bool))
    assert check_paired(a, split(LABELS[:-1], np.ones(99, dtype=bool))).startswith("their test samples differ")
    assert check_paired(a, SplitPredictions(a.predictions, frozenset({"u0"}))) == "their unseen classes differ"
    assert check_paired(a, a) == ""


# ---- the command -------------------------------------------------------------------------------

DEMO = DataSource("demo", demo_samples_per_class=12)
ARGS = ["--dataset", "demo", "--demo-samples", "12"]


@pytest.fixture
def store_with(tmp_path: Path, fake_record):
    """`store_with(method, overrides, seed, correct, fingerprint=..., with_predictions=True)` adds a run."""
    store = ResultStore(tmp_path / "store.sqlite")

    def add(overrides, seed, correct, fingerprint="f" * 64, with_predictions=True):
        (job,) = make_jobs(["clipclap"], DEMO, [seed], overrides)
        run = split(LABELS, correct, job.key)
        record = fake_record(job.key, seed=seed, hm=run.hm())
        record.config_hash, record.config = job.config_hash, job.config()
        record.unseen_classes, record.data_fingerprint = sorted(UNSEEN), fingerprint
        store.save_run(record, run.predictions if with_predictions else None)
        return job.config_hash

    add.path = str(store.path)
    return add


def compare_cli(store_with, capsys, *extra: str) -> tuple[int, str, str]:
    code = main(["compare", "clipclap", "clipclap:losses=reg", *ARGS, "--store", store_with.path, *extra])
    captured = capsys.readouterr()
    return code, captured.out, " ".join(captured.err.split())


def test_compare_reports_per_seed_tests_and_classes(store_with, capsys) -> None:
    rng = np.random.default_rng(0)
    for seed in (42, 43, 44):
        store_with({}, seed, rng.random(100) < 0.6)
        store_with({"losses": "reg"}, seed, rng.random(100) < 0.4)
    store_with({}, 45, np.ones(100, dtype=bool))  # A only: not compared
    code, out, _ = compare_cli(store_with, capsys)
    assert code == 0 and "seeds 42, 43, 44" in out and "losses='reg+ce+rec'→'reg'" in out
    rows = [line for line in out.splitlines() if line.startswith("| 4") or line.startswith("| mean")]
    assert [row.split("|")[1].strip() for row in rows] == ["42", "43", "44", "mean"]
    assert "paired t over 3 seeds" in rows[-1] and "b=" in rows[0] and "class" in out
    config_a = make_jobs(["clipclap"], DEMO, [42])[0].config_hash
    # The same comparison by configuration-hash and run-key prefixes, one seed.
    config_b = make_jobs(["clipclap"], DEMO, [42], {"losses": "reg"})[0].config_hash
    argv = ["compare", config_a[:8], f"clipclap-demo-{config_b[:6]}", "--store", store_with.path, "--seeds", "43"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "seeds 43" in out and f"config {config_b}" in out
    assert main(["compare", "c", config_a[:8], "--store", store_with.path]) == 2  # 'c' prefixes both configs
    assert "matches 2 configurations" in capsys.readouterr().err


def test_compare_refuses_different_data_no_shared_seed_and_missing_predictions(store_with, capsys) -> None:
    right = np.ones(100, dtype=bool)
    store_with({}, 42, right)
    store_with({"losses": "reg"}, 43, right)
    code, _, err = compare_cli(store_with, capsys)
    assert code == 2 and "share no seed" in err and "A ran [42], B ran [43]" in err
    store_with({"losses": "reg"}, 42, right, fingerprint="e" * 64)
    code, _, err = compare_cli(store_with, capsys)
    assert code == 2 and "different data versions" in err
    store_with({}, 44, right)
    store_with({"losses": "reg"}, 44, right, with_predictions=False)
    code, _, err = compare_cli(store_with, capsys, "--seeds", "44")
    assert code == 2 and "has no stored per-sample predictions" in err and "--store NEW.sqlite" in err
    store_with({"losses": "reg"}, 42, right, fingerprint="")
    code, out, _ = compare_cli(store_with, capsys, "--seeds", "42")
    assert code == 0 and "warning: seed 42: a data fingerprint is unrecorded" in out
    code, _, err = compare_cli(store_with, capsys, "--seeds", "7")
    assert code == 2 and "share no seed among --seeds" in err
    code = main(["compare", "clipclap", "clipclap:lrr=1", *ARGS, "--store", store_with.path])
    assert code == 2 and "did you mean 'lr'" in capsys.readouterr().err
