"""The job layer: grouping, the one choice of trainer, the store (stored runs read back, claims
respected, each record saved), and the same records as running the jobs one by one."""

from __future__ import annotations

import pytest
import torch

from avgzsl_bench.datasets import DataSource
from avgzsl_bench.executors.local import LocalExecutor
from avgzsl_bench.jobs.execute import execute_group
from avgzsl_bench.jobs.groups import JobGroup, choose_trainer, group_jobs
from avgzsl_bench.jobs.job import make_jobs
from avgzsl_bench.jobs.run import map_jobs
from avgzsl_bench.store.leases import ClaimedElsewhere
from avgzsl_bench.store.sqlite import ResultStore
from avgzsl_bench.training.stacked import StackedTrainer
from avgzsl_bench.training.trainer import RunTrainer

SOURCE = DataSource("demo", demo_samples_per_class=12)
QUICK = {"epochs": 2, "batches_per_epoch": 4, "batch_size": 16}
CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def test_default_cpu_path_trains_each_run_alone_and_cuda_stacks_seeds():
    assert choose_trainer("clipclap", CPU, "auto", 1) is RunTrainer  # the default CPU run
    assert choose_trainer("clipclap", CUDA, "auto", 3) is StackedTrainer  # seeds of a configuration on CUDA
    assert choose_trainer("clipclap", CUDA, "auto", 1) is RunTrainer  # nothing to stack with
    assert choose_trainer("clipclap", CPU, "on", 1) is StackedTrainer  # asked for
    assert choose_trainer("clipclap", CUDA, "off", 1) is RunTrainer
    assert choose_trainer("zeroshot", CUDA, "on", 1) is RunTrainer  # nothing to train, so nothing to stack
    with pytest.raises(ValueError, match="not stacked"):
        choose_trainer("clipclap", CPU, "auto", 3)


def test_the_default_cpu_run_goes_through_the_one_run_trainer(monkeypatch):
    built = []
    original = RunTrainer.__init__

    def record(self, *args, **kwargs):
        built.append(type(self))
        original(self, *args, **kwargs)

    monkeypatch.setattr(RunTrainer, "__init__", record)
    monkeypatch.setattr(StackedTrainer, "__init__", lambda *a, **k: pytest.fail("the CPU default stacked"))
    jobs = make_jobs(["clipclap"], SOURCE, [1, 2], QUICK, threads=1)
    report = map_jobs(LocalExecutor(), jobs, None, "cpu")
    assert len(report.records) == 2 and built == [RunTrainer] * 4  # stage 1 and stage 2 of each run


def test_groups_are_configurations_and_unstackable_jobs_stay_alone():
    jobs = make_jobs(["clipclap", "zeroshot"], SOURCE, [1, 2, 3], threads=1)
    jobs += make_jobs(["clipclap"], SOURCE, [1, 2], {"text": "clip"}, threads=1)
    assert group_jobs(jobs, CPU) == [JobGroup((job,)) for job in jobs]  # CPU: auto does not stack
    groups = group_jobs(jobs, CPU, "on")
    assert [[job.seed for job in group.jobs] for group in groups] == [[1, 2, 3], [1], [2], [3], [1, 2]]
    assert str(groups[0]) == "clipclap on demo, seeds 1, 2, 3"
    assert group_jobs(jobs, CUDA)[0].jobs == groups[0].jobs  # auto: on for CUDA
    assert group_jobs(jobs, CUDA, "off") == [JobGroup((job,)) for job in jobs]


def test_group_uses_the_store_and_respects_claims(tmp_path):
    store_path = str(tmp_path / "runs.sqlite")
    jobs = make_jobs(["devise"], SOURCE, [1, 2, 3, 4], QUICK, threads=1)
    (stored,) = execute_group(JobGroup(jobs[:1]), store_path)  # finished before: read back, not trained again
    store = ResultStore(store_path)
    assert store.claim(jobs[1].key, "otherhost:4242:abcd", 60) is None  # a live process elsewhere
    (group,) = group_jobs(jobs, CPU, "on")
    results = execute_group(group, store_path, stack="on")
    assert results[0] == stored
    assert results[1] == ClaimedElsewhere(jobs[1].key, "otherhost:4242:abcd")
    alone = [execute_group(JobGroup((job,)), None)[0] for job in jobs[2:]]
    for record, single in zip(results[2:], alone):
        assert record.key == single.key and record.metrics == single.metrics  # one thread: bit-identical
        assert store.runs(key=record.key) == [record]
        assert store.stage1(record.key) is not None
    assert jobs[1].key not in {record.key for record in store.runs()}


def test_map_jobs_reports_per_job(tmp_path):
    jobs = make_jobs(["zeroshot", "clipclap"], SOURCE, [1, 2], QUICK, threads=1)
    jobs = [jobs[2], jobs[0], jobs[3], jobs[1]]  # interleaved: clipclap 1, zeroshot 1, clipclap 2, zeroshot 2
    report = map_jobs(LocalExecutor(), jobs, str(tmp_path / "runs.sqlite"), "cpu", stack="on")
    assert [outcome.item for outcome in report.outcomes] == jobs  # job order, not group order
    assert not report.failures and len(report.records) == 4


def test_run_benchmark_is_the_entry_point_for_programs(tmp_path):
    import avgzsl_bench

    store = tmp_path / "runs.sqlite"
    report = avgzsl_bench.run_benchmark("devise,zeroshot", SOURCE, seeds=[1, 2], overrides=QUICK, store=store)
    assert [(record.method, record.seed) for record in report.records] == [
        ("devise", 1),
        ("devise", 2),
        ("zeroshot", 1),
        ("zeroshot", 2),
    ]
    assert {record.key for record in ResultStore(store).runs()} == {record.key for record in report.records}
    again = avgzsl_bench.run_benchmark(["devise"], [SOURCE], seeds=[1], overrides=QUICK, store=store)
    assert again.records == report.records[:1]  # read back from the store, not trained again


@pytest.mark.parametrize("trainer", [RunTrainer, StackedTrainer])
def test_trainers_tell_every_step_of_the_epoch(trainer, tiny_demo):
    from avgzsl_bench.api import get_method

    spec = get_method("clipclap")
    hparams = spec.hparams("demo", {"batches_per_epoch": 7, "batch_size": 8})
    told: list[tuple[int, int]] = []
    trainer(spec, tiny_demo, hparams, [1] if trainer is RunTrainer else [1, 2], "train").train_epoch(
        on_step=lambda step, steps: told.append((step, steps))
    )
    assert told == [(step, 7) for step in range(1, 8)]


def test_a_log_shows_steps_within_epochs_and_a_resumed_run_says_its_stage1_was_read_back(tmp_path):
    import io
    import re
    import sqlite3

    from rich.console import Console

    from avgzsl_bench.executors.progress import LogReporter
    from avgzsl_bench.jobs.run import _resumed, run_jobs

    store = tmp_path / "runs.sqlite"
    (job,) = make_jobs(["clipclap"], SOURCE, [7], {"epochs": 1, "batches_per_epoch": 30, "batch_size": 16}, threads=1)
    first = io.StringIO()
    run_jobs([job], store, device="cpu", reporter=LogReporter(Console(file=first, width=300), step_interval_s=0))
    for stage in ("stage 1", "stage 2"):
        assert re.search(rf"\] {job}: {stage} epoch 1/1: step \d+/30, \d+\.\d\d steps/s", first.getvalue()), stage
    with sqlite3.connect(store) as connection:  # as if killed between its stage 1 and its record
        connection.execute("DELETE FROM runs WHERE key = ?", (job.key,))
    ResultStore(store).claim(job.key, "otherhost:4242:abcd", 60)  # another process is in its stage 2
    assert _resumed([job], str(store)) == []  # so nothing was interrupted
    ResultStore(store).release(job.key, "otherhost:4242:abcd")
    second = io.StringIO()
    run_jobs([job], store, device="cpu", reporter=LogReporter(Console(file=second, width=300)))
    log = second.getvalue()
    assert f"stage 1 read back from the store for 1 interrupted run(s): {job}; only their stage 2 is trained" in log
    assert f"{job}: stage 1 read back from the store (best epoch 1, val HM" in log
    assert "stage 1 epoch" not in log and "stage 2 epoch 1/1, val HM" in log
    assert ": step " not in log  # a short epoch leaves no step line at the default interval
