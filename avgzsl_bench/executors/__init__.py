"""Executors: where work items run (this process, Ray tasks, SLURM jobs), behind one registry.

`get_executor("ray", address=None, num_gpus=1)` builds one; options go to its constructor. Every
executor has the same `map(fn, items) -> list[Outcome]`: items come back in order, a failure is
retried once and then reported in its `Outcome` while the others go on. Nothing here knows what
the items are.
"""

from __future__ import annotations

from typing import Any

from avgzsl_bench.executors.base import Executor, Outcome, ProgressHook, StepHook
from avgzsl_bench.registry import Registry


def _import_builtin_executors() -> None:
    from avgzsl_bench.executors.local import LocalExecutor
    from avgzsl_bench.executors.ray import RayExecutor
    from avgzsl_bench.executors.slurm import SlurmExecutor

    for cls in (LocalExecutor, RayExecutor, SlurmExecutor):
        EXECUTORS.add(cls.name, cls)


EXECUTORS: Registry[type[Executor]] = Registry(
    "executor", builtins=_import_builtin_executors, entry_point_group="avgzsl_bench.executors"
)


def get_executor(name: str = "local", **options: Any) -> Executor:
    return EXECUTORS.get(name)(**options)


__all__ = ["EXECUTORS", "Executor", "Outcome", "ProgressHook", "StepHook", "get_executor"]
