"""Benchmark jobs: a request becomes jobs, jobs become groups (R >= 1 runs of one configuration),
and a group is claimed, read back or resumed, trained, recorded and stored (`execute.execute_group`)
on any executor. `groups.choose_trainer` is the one place that picks how a group's runs train.

The names below are imported on first use, so that importing one module of the package (the CLI's
parser needs a few constants) does not import them all.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DEFAULT_THREADS": "job",
    "STACK_CHOICES": "groups",
    "Job": "job",
    "JobGroup": "groups",
    "RunReport": "run",
    "choose_trainer": "groups",
    "group_jobs": "groups",
    "make_jobs": "job",
    "method_names": "run",
    "run_benchmark": "run",
    "run_jobs": "run",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"avgzsl_bench.jobs.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'avgzsl_bench.jobs' has no attribute '{name}'")
