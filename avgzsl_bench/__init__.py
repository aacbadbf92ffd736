"""avgzsl-bench: a benchmark harness for audio-visual generalized zero-shot learning."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "load_results"]


def __getattr__(name: str) -> Any:
    # Imported on first use: pandas is only needed by whoever asks for a DataFrame.
    if name == "load_results":
        from avgzsl_bench.store.frame import load_results

        return load_results
    raise AttributeError(f"module 'avgzsl_bench' has no attribute '{name}'")
