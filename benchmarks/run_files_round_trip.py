"""Export -> import round trip of a results store through run files, timed, with the boards byte-compared.

    python benchmarks/run_files_round_trip.py [--store results/avgzsl_bench.sqlite] [--repeats 3]

Without --store, a demo store is trained first (untimed) into a temporary folder: devise, ale, sje
and zeroshot on the demo data, seeds 42-44, 2 epochs (12 runs, each with its predictions). Then,
`--repeats` times: `bench.py export --out DIR` of the store, `bench.py import DIR` into an empty
store, and `bench.py leaderboard` of both, whose markdown must be identical byte for byte. Prints
the wall seconds of each command (a fresh process each, so Python and import start-up included),
their medians, `bench.py --help` as the start-up floor, the same export and import in this process
(`store.exchange`, no start-up), the number of files, and the 1-minute load average at the start.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = str(REPO / "bench.py")
DEMO = "--methods devise,ale,sje,zeroshot --dataset demo --seeds 42 43 44 --epochs 2 --device cpu --quiet"


def bench(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, BENCH, *args], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def in_process(store: Path, work: Path) -> tuple[float, float]:
    work.mkdir()
    sys.path.insert(0, str(REPO))  # this checkout's package, as `bench.py` uses
    from avgzsl_bench.store.exchange import export_runs, merge_runs, read_run_files
    from avgzsl_bench.store.sqlite import ResultStore

    started = time.perf_counter()
    export_runs(ResultStore(store), work / "runs")
    exported = time.perf_counter() - started
    started = time.perf_counter()
    merge_runs(ResultStore(work / "copy.sqlite"), read_run_files([work / "runs"]))
    return exported, time.perf_counter() - started


def round_trip(store: Path, work: Path) -> tuple[float, float]:
    work.mkdir()
    out, copy = work / "runs", work / "copy.sqlite"
    exported = bench("export", "--store", str(store), "--out", str(out), "--quiet")
    imported = bench("import", str(out), "--store", str(copy), "--quiet")
    bench("leaderboard", "--store", str(store), "--out", str(work / "before"), "--quiet")
    bench("leaderboard", "--store", str(copy), "--out", str(work / "after"), "--quiet")
    names = sorted(path.name for path in (work / "before").glob("*.md"))
    match, mismatch, errors = filecmp.cmpfiles(work / "before", work / "after", names, shallow=False)
    if mismatch or errors or not match:
        raise SystemExit(f"the boards differ after the round trip: {mismatch or errors or 'no boards'}")
    return exported, imported


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, help="the store to round-trip (default: a demo store trained first)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"1-minute load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as folder:
        store = args.store
        if store is None:
            store = Path(folder) / "demo.sqlite"
            bench(*DEMO.split(), "--store", str(store))
        times = []
        for repeat in range(args.repeats):
            work = Path(folder) / f"trip{repeat}"
            times.append(round_trip(store, work))
            print(f"round {repeat + 1}: export {times[-1][0]:.2f} s, import {times[-1][1]:.2f} s, boards identical")
        files = len(list((Path(folder) / "trip0" / "runs").iterdir()))
        exports, imports = zip(*times)
        startup = statistics.median(bench("--help") for _ in range(args.repeats))
        inside = [in_process(store, Path(folder) / f"inside{repeat}") for repeat in range(args.repeats)]
        print(
            f"{files} files; median export {statistics.median(exports):.2f} s, "
            f"median import {statistics.median(imports):.2f} s (wall, fresh processes); "
            f"`bench.py --help` {startup:.2f} s; in process: export "
            f"{statistics.median(e for e, _ in inside):.3f} s, import {statistics.median(i for _, i in inside):.3f} s"
        )


if __name__ == "__main__":
    main()
