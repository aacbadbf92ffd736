"""Processes sharing one store: jobs are claimed (one trainer each), dead claims are taken over, and
an interrupted command stops cleanly with what it kept and how to resume."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from avgzsl_bench.executors.progress import Reporter
from avgzsl_bench.store.leases import JobLease
from avgzsl_bench.store.sqlite import ResultStore

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}


def test_claims_exclude_other_owners_until_released_or_expired(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "store.sqlite")
    assert store.claim("job", "host-a:1:x", 30) is None
    assert store.claim("job", "host-b:2:y", 30) == "host-a:1:x"
    assert store.claim("job", "host-a:1:x", 30) is None  # the owner may re-claim (renew)
    store.release("job", "host-b:2:y")  # only the owner releases
    assert store.claim("job", "host-b:2:y", 30) == "host-a:1:x"
    store.release("job", "host-a:1:x")
    assert store.claim("job", "host-b:2:y", 0.2) is None
    time.sleep(0.3)  # the lease ran out: its process is presumed dead
    assert store.claim("job", "host-a:1:x", 30) is None


def test_a_lease_is_renewed_while_held_and_released_after(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "store.sqlite")
    with JobLease(store, "job", lease_s=0.3) as lease:
        assert lease.held_by is None
        time.sleep(0.6)  # two lease lengths: only the renewals keep the claim alive
        assert store.claim("job", "host-b:2:y", 30) == lease.owner
    assert "job" not in store.claims()


def test_a_dead_process_on_this_host_loses_its_claim_at_once(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "store.sqlite")
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )

    store.claim("job", f"{socket.gethostname()}:{finished.stdout.strip()}:dead", 300)
    with JobLease(store, "job", lease_s=30) as lease:
        assert lease.held_by is None


def _trained(log: str, seed: int) -> bool:
    return f"clipclap on demo, seed {seed}: stage 1 epoch" in log


def test_two_processes_on_one_store_train_every_job_once(tmp_path: Path, bench_command) -> None:
    db, seeds = tmp_path / "store.sqlite", ["1", "2", "3", "4"]
    ResultStore(db)  # created once, before the two writers race
    processes = [
        subprocess.Popen(
            bench_command(db, seeds), cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    logs = []
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        logs.append(err)
    assert sorted(run.seed for run in ResultStore(db).runs()) == [1, 2, 3, 4]
    for seed in map(int, seeds):
        assert sum(_trained(log, seed) for log in logs) == 1, f"seed {seed}:\n" + "\n---\n".join(logs)
    for log in logs:  # one line per job outcome: a skipped job is never also "done"
        assert ": step " not in log  # epochs of 5 steps: no step lines in a log
        skipped = re.findall(r"\] (.+?): skipped: being trained by another process", log)
        assert all(f"{label}: done" not in log for label in skipped), log
    assert not ResultStore(db).claims()  # every claim released


def test_a_live_claim_elsewhere_is_skipped_and_taken_over_after_its_lease(tmp_path: Path, bench_command) -> None:
    db = tmp_path / "store.sqlite"
    (job_key,) = _keys(db, ["7"])
    ResultStore(db).claim(job_key, "another-host:4242:abcd", 6.0)  # a live process on another machine
    first = subprocess.run(
        bench_command(db, ["7"], batches=30), cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300
    )
    assert first.returncode == 0, first.stderr
    assert "being trained by another process (another-host:4242:abcd)" in first.stderr
    assert not ResultStore(db).runs()
    time.sleep(max(0.0, ResultStore(db).claims()[job_key][1] - time.time()) + 0.2)
    second = subprocess.run(
        bench_command(db, ["7"], batches=30), cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300
    )
    assert second.returncode == 0 and _trained(second.stderr, 7), second.stderr
    assert [run.seed for run in ResultStore(db).runs()] == [7]


class _OtherProcessFinishes(Reporter):
    """Records the outcome lines; when a skipped job's line comes, the other process stores its run."""

    def __init__(self, finish: Callable[[], None]) -> None:
        super().__init__()
        self.finish, self.lines, self.notes = finish, [], []

    def item_finished(self, label: str, outcome: str, ok: bool = True) -> None:
        self.lines.append(f"{label}: {outcome}")
        if outcome.startswith("skipped"):
            self.finish()

    def note(self, text: str, style: str = "") -> None:
        self.notes.append(text)


def test_a_job_finished_elsewhere_during_the_run_is_read_back_before_the_summary(tmp_path: Path, fake_record) -> None:
    from avgzsl_bench.datasets import DataSource
    from avgzsl_bench.jobs.job import make_jobs
    from avgzsl_bench.jobs.run import run_jobs

    db = tmp_path / "store.sqlite"
    source = DataSource("demo", demo_samples_per_class=12)
    (job,) = make_jobs(["clipclap"], source, [7], {"epochs": 1, "batches_per_epoch": 30}, threads=1)
    ResultStore(db).claim(job.key, "another-host:4242:abcd", 30)
    reporter = _OtherProcessFinishes(lambda: ResultStore(db).save_run(fake_record(job.key, seed=7)))
    report = run_jobs([job], db, device="cpu", reporter=reporter)
    assert reporter.lines == [f"{job}: skipped: being trained by another process (another-host:4242:abcd)"]
    assert [record.key for record in report.records] == [job.key] and not report.elsewhere
    assert any("finished by the other process meanwhile" in note for note in reporter.notes), reporter.notes
    assert not any("being trained by another process" in note for note in reporter.notes), reporter.notes


def _keys(db: Path, seeds: list[str]) -> list[str]:
    from avgzsl_bench.datasets import DataSource
    from avgzsl_bench.jobs.job import make_jobs

    source = DataSource("demo", demo_samples_per_class=12)
    jobs = make_jobs(["clipclap"], source, [int(s) for s in seeds], {"epochs": 1, "batches_per_epoch": 30}, threads=1)
    return [job.key for job in jobs]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_stores_what_finished_and_says_how_to_resume(
    tmp_path: Path, signum: int, signal_after_first_run
) -> None:
    db = tmp_path / "store.sqlite"
    code, err = signal_after_first_run(db, ["1", "2", "3", "4", "5"], signum, batches=30, env=ENV)
    assert code == 130, err
    assert "Traceback" not in err
    match = re.search(r"interrupted; (\d) of 5 runs stored; rerun the same command to resume", err)
    assert match, err
    assert int(match.group(1)) == len(ResultStore(db).runs()) >= 1
    assert not ResultStore(db).claims()  # the interrupted job's claim was released
