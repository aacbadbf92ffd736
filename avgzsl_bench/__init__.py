"""avgzsl-bench: a benchmark harness for audio-visual generalized zero-shot learning.

The two calls a program or notebook needs:

    import avgzsl_bench
    report = avgzsl_bench.run_benchmark("clipclap", "demo", seeds=[42, 43, 44])  # -> report.records
    runs = avgzsl_bench.load_results("results/avgzsl_bench.sqlite")               # a pandas DataFrame
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "load_results", "run_benchmark"]


def __getattr__(name: str) -> Any:
    # Imported on first use: torch and pandas are only needed by whoever runs or reads results.
    if name == "load_results":
        from avgzsl_bench.store.frame import load_results

        return load_results
    if name == "run_benchmark":
        from avgzsl_bench.jobs.run import run_benchmark

        return run_benchmark
    raise AttributeError(f"module 'avgzsl_bench' has no attribute '{name}'")
