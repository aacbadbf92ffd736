"""Executors: local, Ray (loopback) and submitit's local executor give bit-identical numbers; a
failed job is retried once, and a job that fails twice is reported while the others finish."""

from __future__ import annotations

import os
import socket

import pytest

from avgzsl_bench.api import METHODS, MethodSpec, get_method
from avgzsl_bench.datasets import DataSource
from avgzsl_bench.executors import get_executor
from avgzsl_bench.executors.local import LocalExecutor
from avgzsl_bench.jobs.job import Job, make_jobs
from avgzsl_bench.jobs.run import RunReport, map_jobs
from avgzsl_bench.store.sqlite import ResultStore
from feature_zoo.shards import ShardError, map_shards
from methods.clipclap import ClipClap

SOURCE = DataSource("demo", demo_samples_per_class=12)
# Big enough steps that the numbers are not degenerate and differ between seeds (~1 s a job).
OVERRIDES = {"epochs": 2, "batches_per_epoch": 4, "lr": 1e-2}
METRICS = ("seen", "unseen", "hm", "zsl", "beta", "best_epochs")


# Two threads per run, as by default: the workers must apply the job's count, not their own.
THREADS = 2


def _grid() -> list[Job]:
    return make_jobs(["clipclap"], SOURCE, [1, 2], OVERRIDES, threads=THREADS)


def _bogus_job() -> Job:
    # Fails inside the worker on every attempt: the method does not exist there either.
    return Job("no_such_method", SOURCE, 1, tuple(sorted(OVERRIDES.items())), THREADS)


def _numbers(records) -> dict[str, tuple]:
    return {r.key: (*(getattr(r, m) for m in METRICS), *r.val_hm_per_epoch, r.threads) for r in records}


def _assert_same(records, reference) -> None:
    assert _numbers(records) == _numbers(reference)  # bit-identical, not approximately equal


@pytest.fixture(scope="module")
def reference():
    report = map_jobs(LocalExecutor(), _grid(), None, "cpu")
    assert not report.failures
    assert report.records[0].hm != report.records[1].hm  # the seeds really differ
    return report.records


# -- test methods: a ClipClap whose loss raises once, and one whose loss always raises ----------


class FlakyOnce(ClipClap):
    calls = 0

    def loss(self, batch):
        FlakyOnce.calls += 1
        if FlakyOnce.calls == 1:
            raise RuntimeError("transient failure (first loss call)")
        return super().loss(batch)


class AlwaysBroken(ClipClap):
    def loss(self, batch):
        raise RuntimeError("broken loss")


@pytest.fixture
def failing_methods():
    """Registered for one test only, so registry-wide tests never see them."""
    clipclap = get_method("clipclap")
    FlakyOnce.calls = 0
    with (
        METHODS.temporary(
            "test_flaky_once", MethodSpec("test_flaky_once", FlakyOnce, clipclap.schedule, clipclap.model)
        ),
        METHODS.temporary(
            "test_always_broken", MethodSpec("test_always_broken", AlwaysBroken, clipclap.schedule, clipclap.model)
        ),
    ):
        yield


def test_local_retry_once_then_report(tmp_path, failing_methods):
    store_path = tmp_path / "runs.sqlite"
    jobs = make_jobs(["test_flaky_once", "test_always_broken", "clipclap"], SOURCE, [1], OVERRIDES)
    report = map_jobs(LocalExecutor(), jobs, str(store_path), "cpu")

    flaky, broken, clipclap = report.outcomes
    assert flaky.ok and flaky.attempts == 2 and "transient failure" in flaky.errors[0]
    assert not broken.ok and broken.attempts == 2 and "RuntimeError: broken loss" in broken.error
    assert "broken loss" in broken.traceback
    assert clipclap.ok and clipclap.attempts == 1
    # The retried run is a plain ClipClap run: same numbers as the clean one with the same seed.
    assert flaky.value.hm == clipclap.value.hm and flaky.value.seen == clipclap.value.seen
    assert [o.item.method for o in report.failures] == ["test_always_broken"]
    assert "2/3 jobs finished, 1 after a retry, 1 failed twice" in report.summary()
    assert "test_always_broken on demo, seed 1: RuntimeError: broken loss" in report.summary()
    stored = ResultStore(store_path).runs()
    assert sorted(r.method for r in stored) == ["clipclap", "test_flaky_once"]


def _double(xs):
    return [2 * x for x in xs]


def _fail_on_seven(xs):
    if 7 in xs:
        raise ValueError("seven")
    return xs


def test_map_shards_local():
    assert map_shards(_double, list(range(10)), shard_size=3) == [2 * x for x in range(10)]
    assert map_shards(_double, list(range(5)), num_shards=2) == [0, 2, 4, 6, 8]
    with pytest.raises(ShardError) as caught:
        map_shards(_fail_on_seven, list(range(10)), LocalExecutor(), shard_size=4)
    outcomes = caught.value.outcomes
    assert [o.ok for o in outcomes] == [True, False, True] and outcomes[1].attempts == 2
    assert outcomes[2].value == [8, 9]


def test_get_executor_rejects_unknown():
    from avgzsl_bench.errors import BenchError

    with pytest.raises(BenchError, match="unknown executor"):
        get_executor("dask")


def _check_report(report: RunReport, reference: list[dict], store_path) -> None:
    assert [o.item.method for o in report.failures] == ["no_such_method"]
    assert report.failures[0].attempts == 2 and "unknown method 'no_such_method'" in report.failures[0].error
    _assert_same(report.records, reference)
    _assert_same(ResultStore(store_path).runs(), reference)


def test_submitit_local_matches_local(reference, tmp_path):
    pytest.importorskip("submitit")
    store_path = tmp_path / "runs.sqlite"
    executor = get_executor("slurm", folder=tmp_path / "submitit", local=True, timeout_min=5, poll_s=0.2)
    report = map_jobs(executor, _grid() + [_bogus_job()], str(store_path), "cpu")
    _check_report(report, reference, store_path)


@pytest.fixture
def loopback_ray():
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        pytest.skip("a Ray instance is already running in this process")
    saved = os.environ.pop("RAY_ADDRESS", None)  # never join someone else's cluster
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
        yield ray
    finally:
        ray.shutdown()
        if saved is not None:
            os.environ["RAY_ADDRESS"] = saved


def test_ray_matches_local(reference, tmp_path, loopback_ray):
    gcs_host = loopback_ray.get_runtime_context().gcs_address.rsplit(":", 1)[0]
    assert gcs_host in ("127.0.0.1", "localhost", socket.gethostbyname("localhost")), gcs_host
    store_path = tmp_path / "runs.sqlite"
    executor = get_executor("ray", num_cpus=1)
    report = map_jobs(executor, _grid() + [_bogus_job()], str(store_path), "cpu")
    executor.close()  # it joined the fixture's instance, so this must not shut it down
    assert loopback_ray.is_initialized()
    _check_report(report, reference, store_path)
    # a builtin, so the Ray workers need not import this test module
    assert map_shards(sorted, [5, 4, 3, 2, 1, 0, 6], executor, shard_size=2) == [4, 5, 2, 3, 0, 1, 6]


def test_slurm_parameters_are_valid_submitit_options(tmp_path):
    pytest.importorskip("submitit")
    from avgzsl_bench.executors.slurm import SlurmExecutor

    # submitit's debug cluster validates the same slurm_* names without needing srun.
    SlurmExecutor(
        folder=tmp_path, partition="gpu", gpus=1, cpus=4, mem_gb=32, cluster="debug", slurm_options={"qos": "high"}
    )
    with pytest.raises(Exception, match="bogus"):
        SlurmExecutor(folder=tmp_path, cluster="debug", slurm_options={"bogus": 1})
