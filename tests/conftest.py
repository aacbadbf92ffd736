"""Shared fixtures: the one demo dataset, training batches, and made-up run records."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

# Offline: a missing hub file would otherwise cost tens of seconds of retries.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
# The test models are tiny: one intra-op thread per process is as fast as two, and it keeps the
# parallel Ray / submitit workers of the executor tests from oversubscribing the cores.
os.environ["OMP_NUM_THREADS"] = "1"

from collections.abc import Callable

import pytest
import torch

from avgzsl_bench.api import TrainBatch
from avgzsl_bench.datasets.types import GZSLDataset
from avgzsl_bench.store.records import RunRecord
from avgzsl_bench.store.sqlite import ResultStore
from avgzsl_bench.training.batches import training_batches
from avgzsl_bench.training.sampling import ClassBalancedSampler

torch.set_num_threads(1)

# In CI a test skipped because a component the project ships cannot be imported (the feature zoo's
# laion-clap/open_clip/av, Ray, submitit) is a failure: a green run must have run those tests.
STRICT_SKIPS = os.environ.get("AVGZSL_STRICT_SKIPS") == "1"
MISSING_COMPONENT = "could not import"  # the reason pytest.importorskip gives


def _missing_components(session: pytest.Session) -> list[str]:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    reasons = []
    for report in getattr(reporter, "stats", {}).get("skipped", []):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if MISSING_COMPONENT in reason:
            reasons.append(f"{report.nodeid or report.fspath}: {reason}")
    return reasons


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    missing = _missing_components(session) if STRICT_SKIPS else []
    if missing:
        print(
            "\nFAILED: tests were skipped because a shipped component could not be imported "
            "(AVGZSL_STRICT_SKIPS=1):\n  " + "\n  ".join(missing)
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def one_thread():
    """Stacked and single runs agree bit for bit on one CPU thread (with more, the two paths split
    reductions across threads differently); whatever an earlier test left set."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def tiny_demo() -> GZSLDataset:
    """The demo benchmark with 12 samples per class: every test that needs data uses this one."""
    from avgzsl_bench.datasets.demo import make_demo_dataset

    return make_demo_dataset(samples_per_class=12)


@pytest.fixture(scope="session")
def bench_command() -> Callable[..., list[str]]:
    """`bench_command(store, seeds, *extra, batches=5)`: argv of a short ClipClap run of `bench.py` on
    the demo data in a subprocess (one epoch of `batches` steps per stage, one thread, CPU)."""
    script = Path(__file__).resolve().parent.parent / "bench.py"

    def command(store: Path, seeds: list[str], *extra: str, batches: int = 5) -> list[str]:
        options = "--methods clipclap --dataset demo --demo-samples 12 --epochs 1 --threads 1 --device cpu"
        return [
            sys.executable,
            str(script),
            *options.split(),
            "--set",
            f"batches_per_epoch={batches}",
            "--store",
            str(store),
            "--seeds",
            *seeds,
            *extra,
        ]

    return command


@pytest.fixture
def signal_after_first_run(bench_command) -> Callable[..., tuple[int, str]]:
    """`signal_after_first_run(store, seeds, signum, *extra, batches=5, env=None)`: `bench_command`'s run
    in a subprocess until its first run is in the store, then `signum` sent to it; its exit code and stderr."""
    repo = Path(__file__).resolve().parent.parent

    def run(
        store: Path, seeds: list[str], signum: int, *extra: str, batches: int = 5, env: dict | None = None
    ) -> tuple[int, str]:
        process = subprocess.Popen(
            bench_command(store, seeds, *extra, batches=batches),
            cwd=repo,
            env=env or {**os.environ, "OMP_NUM_THREADS": "1"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 120
            while not (store.exists() and ResultStore(store).runs()):
                if process.poll() is not None:
                    pytest.fail(f"bench.py ended before the signal: {process.stderr.read() if process.stderr else ''}")
                assert time.monotonic() < deadline, "no run reached the store in time"
                time.sleep(0.2)
            process.send_signal(signum)
            _, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
        return process.returncode, err

    return run


@pytest.fixture(scope="session")
def make_batch(tiny_demo: GZSLDataset) -> Callable[..., TrainBatch]:
    """`make_batch(batch_size=16, seed=0)`: a training batch of the demo `train` split, with negatives,
    drawn the way the protocol draws them."""

    def make(batch_size: int = 16, seed: int = 0) -> TrainBatch:
        split = tiny_demo.splits["train"]
        sampler = ClassBalancedSampler(split.labels, torch.Generator().manual_seed(seed))
        return next(training_batches(split, tiny_demo.text.rows(split.seen), sampler, 1, batch_size, True))

    return make


@pytest.fixture(scope="session")
def fake_record() -> Callable[..., RunRecord]:
    """`fake_record(key, seed=1, method="clipclap", dataset="demo", hm=50.0)`: a complete record with
    made-up numbers (S = HM + 10, U = HM - 10, ZSL = HM - 5)."""

    def make(key: str, seed: int = 1, method: str = "clipclap", dataset: str = "demo", hm: float = 50.0) -> RunRecord:
        return RunRecord(
            key=key,
            method=method,
            dataset=dataset,
            seed=seed,
            config_hash="abc123def456",
            config={"method": method, "data": {"dataset": dataset}, "hparams": {"epochs": 1}},
            seen=hm + 10,
            unseen=hm - 10,
            hm=hm,
            zsl=hm - 5,
            beta=0.4,
            best_epochs=1,
            val={"seen": 1.0, "unseen": 2.0, "hm": 1.5, "zsl": 2.5},
            val_betas={"both": 0.4},
            val_hm_per_epoch=[hm],
            val_hm_vs_beta=[[0.0, hm - 1], [0.4, hm], [0.8, hm - 2]],
            per_class={"class_a": 12.5, "class_b": 80.0},
            timings={"stage1_s": 1.0, "stage2_s": 2.0},
            feature_set="synthetic",
            synthetic=True,
            version="0.1.0",
            git_revision="abc1234",
            device="cpu",
            threads=1,
        )

    return make
