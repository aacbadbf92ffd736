"""Results store: round trip, concurrent writers, and resuming a benchmark killed mid-way."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import threading
from pathlib import Path

from avgzsl_bench.store.records import Stage1Result
from avgzsl_bench.store.sqlite import ResultStore

REPO = Path(__file__).resolve().parent.parent


def test_run_round_trip(tmp_path: Path, fake_record) -> None:
    store = ResultStore(tmp_path / "store.sqlite")
    record = fake_record("clipclap-demo-x-seed1")
    store.save_run(record)
    store.save_run(fake_record("cjme-demo-y-seed1", method="cjme", hm=20.0))

    assert store.has_run("clipclap-demo-x-seed1") and not store.has_run("missing")
    (loaded,) = store.runs(method="clipclap")
    assert loaded == record  # every field, JSON columns and the bool included, comes back as written
    assert loaded.created
    assert {run.method for run in store.runs(dataset="demo")} == {"clipclap", "cjme"}
    with sqlite3.connect(store.path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persistent per file


def test_stage1_round_trip(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "store.sqlite")
    stage1 = Stage1Result(
        best_epochs=3,
        val={"hm": 42.0},
        val_betas={"both": 0.2},
        val_hm_per_epoch=[10.0, 40.0, 42.0],
        val_hm_vs_beta=[(0.0, 30.0), (0.2, 42.0)],
        seconds=1.5,
    )
    store.save_stage1("k", stage1)
    assert store.stage1("k") == stage1
    assert store.stage1("other") is None


def _write_rows(path: str, writer: int, count: int, fake_record) -> None:
    store = ResultStore(path)
    for index in range(count):
        store.save_run(fake_record(f"w{writer}-r{index}", seed=index))


def test_concurrent_writers(tmp_path: Path, fake_record) -> None:
    """Processes and threads writing different keys at once: every row lands, none is lost."""
    path = str(tmp_path / "store.sqlite")
    processes = [
        multiprocessing.get_context("fork").Process(target=_write_rows, args=(path, w, 15, fake_record))
        for w in range(4)
    ]
    threads = [threading.Thread(target=_write_rows, args=(path, w, 15, fake_record)) for w in range(4, 8)]
    for worker in (*processes, *threads):
        worker.start()
    for worker in (*processes, *threads):
        worker.join(timeout=60)
    assert all(process.exitcode == 0 for process in processes)
    keys = {run.key for run in ResultStore(path).runs()}
    assert keys == {f"w{w}-r{i}" for w in range(8) for i in range(15)}


def test_killed_benchmark_resumes_without_recomputing(tmp_path: Path, bench_command, signal_after_first_run) -> None:
    db = tmp_path / "store.sqlite"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # SIGKILL: no chance to clean up, like a crash or a pre-emption
    signal_after_first_run(db, ["1", "2", "3"], signal.SIGKILL, "--quiet", env=env)
    store = ResultStore(db)
    before = {run.key: run for run in store.runs()}
    with sqlite3.connect(db) as connection:
        stage1_keys = {key for (key,) in connection.execute("SELECT key FROM stage1")}
    assert 1 <= len(before) < 3, "the run should have been killed mid-way"
    first_key = next(key for key, run in before.items() if run.seed == 1)

    # Rerun seeds 1 and 2 only (keeps the test short): seed 1 must be skipped, seed 2 finished.
    rerun = subprocess.run(
        bench_command(db, ["1", "2"], "--quiet"), cwd=REPO, env=env, capture_output=True, text=True, timeout=180
    )
    assert rerun.returncode == 0, rerun.stderr
    already = sum(run.seed in (1, 2) for run in before.values())
    assert f"{already} of 2 runs are already in the store: read back, not retrained" in rerun.stderr
    after = {run.key: run for run in store.runs()}
    assert set(before) <= set(after)
    assert {run.seed for run in after.values()} >= {1, 2}
    # Identical created stamp and timings: the finished run was read back, not recomputed.
    assert after[first_key].created == before[first_key].created
    assert after[first_key].timings == before[first_key].timings
    # A run killed after its stage 1 was stored resumes at stage 2 with that stage 1.
    for key in (stage1_keys - set(before)) & set(after):
        assert after[key].timings["stage1_s"] == store.stage1(key).seconds
        assert "stage 1 read back from the store for 1 interrupted run(s)" in rerun.stderr, rerun.stderr


def test_reading_commands_never_create_a_store(tmp_path: Path, capsys, fake_record) -> None:
    import pytest

    import avgzsl_bench
    from avgzsl_bench.cli import main
    from avgzsl_bench.errors import BenchError

    absent = tmp_path / "nowhere" / "absent.sqlite"
    assert main(["leaderboard", "--store", str(absent), "--out", str(tmp_path / "boards"), "--quiet"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"no results store at '{absent}'" in err and "bench.py run" in err
    with pytest.raises(BenchError, match="does not exist"):
        avgzsl_bench.load_results(absent)
    assert not absent.parent.exists() and not (tmp_path / "boards").exists()

    # An existing store is read without touching it: no schema added, no companion file left.
    path = tmp_path / "s.sqlite"
    ResultStore(path).save_run(fake_record("k1"))
    before = sorted(p.name for p in tmp_path.iterdir())
    reader = ResultStore(path, read_only=True)
    assert [run.key for run in reader.runs()] == ["k1"] and reader.has_run("k1") and reader.stage1("k1") is None
    assert sorted(p.name for p in tmp_path.iterdir()) == before

    # A valid SQLite file no run was written to reads as empty, and is not given tables.
    empty = tmp_path / "empty.sqlite"
    sqlite3.connect(empty).close()
    assert ResultStore(empty, read_only=True).runs() == []
    assert sqlite3.connect(empty).execute("SELECT name FROM sqlite_master").fetchall() == []
