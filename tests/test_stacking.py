"""Stacked execution of jobs: grouping, the store (stored runs read back, claims respected, each
record saved), and the same records as running the jobs one by one."""

from __future__ import annotations

import torch

from avgzsl_bench.datasets import DataSource
from avgzsl_bench.executors.local import LocalExecutor
from avgzsl_bench.jobs.runner import execute_job, make_jobs
from avgzsl_bench.jobs.stacking import execute_group, group_jobs, run_groups
from avgzsl_bench.store.leases import ClaimedElsewhere
from avgzsl_bench.store.sqlite import ResultStore

SOURCE = DataSource("demo", demo_samples_per_class=12)
QUICK = {"epochs": 2, "batches_per_epoch": 4, "batch_size": 16}
CPU = torch.device("cpu")


def test_groups_are_configurations_and_unstackable_jobs_stay_alone():
    jobs = make_jobs(["clipclap", "zeroshot"], SOURCE, [1, 2, 3], threads=1)
    jobs += make_jobs(["clipclap"], SOURCE, [1, 2], {"text": "clip"}, threads=1)
    assert group_jobs(jobs, CPU) == [type(group_jobs(jobs, CPU)[0])((job,)) for job in jobs]  # CPU: auto off
    groups = group_jobs(jobs, CPU, force=True)
    assert [[job.seed for job in group.jobs] for group in groups] == [[1, 2, 3], [1], [2], [3], [1, 2]]
    assert str(groups[0]) == "clipclap on demo, seeds 1, 2, 3"
    assert group_jobs(jobs, torch.device("cuda"))[0].jobs == groups[0].jobs  # auto: on for CUDA


def test_group_uses_the_store_and_respects_claims(tmp_path):
    store_path = str(tmp_path / "runs.sqlite")
    jobs = make_jobs(["devise"], SOURCE, [1, 2, 3, 4], QUICK, threads=1)
    stored = execute_job(jobs[0], store_path)  # finished before: read back, not trained again
    store = ResultStore(store_path)
    assert store.claim(jobs[1].key, "otherhost:4242:abcd", 60) is None  # a live process elsewhere
    (group,) = group_jobs(jobs, CPU, force=True)
    results = execute_group(group, store_path)
    assert results[0] == stored
    assert results[1] == ClaimedElsewhere(jobs[1].key, "otherhost:4242:abcd")
    alone = [execute_job(job, None) for job in jobs[2:]]
    for record, single in zip(results[2:], alone):
        assert record.key == single.key and record.metrics == single.metrics  # one thread: bit-identical
        assert store.runs(key=record.key) == [record]
        assert store.stage1(record.key) is not None
    assert jobs[1].key not in {record.key for record in store.runs()}


def test_run_groups_reports_per_job(tmp_path):
    jobs = make_jobs(["zeroshot", "clipclap"], SOURCE, [1, 2], QUICK, threads=1)
    jobs = [jobs[2], jobs[0], jobs[3], jobs[1]]  # interleaved: clipclap 1, zeroshot 1, clipclap 2, zeroshot 2
    report = run_groups(LocalExecutor(), jobs, str(tmp_path / "runs.sqlite"), "cpu", stack="on")
    assert [outcome.item for outcome in report.outcomes] == jobs  # job order, not group order
    assert not report.failures and len(report.records) == 4
