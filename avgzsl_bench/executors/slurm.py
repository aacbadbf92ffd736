"""`slurm`: each item is a SLURM job submitted through submitit (or submitit's local executor)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from avgzsl_bench.errors import BenchError
from avgzsl_bench.executors.base import Executor, Failure, summarise


class SlurmExecutor(Executor):
    """Submits each item as a SLURM job through ``submitit`` (the first round as one job array).

    ``local=True`` uses ``submitit.LocalExecutor`` (sub-processes on this machine) instead, which is
    how the tests exercise this path. ``folder`` holds submitit's pickles and logs.
    """

    name = "slurm"

    def __init__(
        self,
        folder: str | Path = "results/submitit",
        partition: str | None = None,
        timeout_min: int = 120,
        gpus: int = 0,
        cpus: int = 1,
        mem_gb: float | None = None,
        array_parallelism: int = 64,
        local: bool = False,
        slurm_options: dict[str, Any] | None = None,
        poll_s: float = 1.0,
        cluster: str = "slurm",
        **base: Any,
    ) -> None:
        super().__init__(**base)
        try:
            import submitit
        except ImportError as error:
            raise BenchError("--executor slurm needs the 'submitit' package: pip install submitit") from error
        self.poll_s = poll_s
        self._executor: Any
        if local:
            self.name = "slurm (submitit local)"
            self._executor = submitit.LocalExecutor(folder=str(folder))
            self._executor.update_parameters(timeout_min=timeout_min, gpus_per_node=gpus)
        else:
            try:
                self._executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
            except RuntimeError as error:  # submitit: 'Could not detect "srun"'
                raise BenchError(
                    f"--executor slurm: no SLURM cluster here ({error}); "
                    "add --slurm-local to run the jobs as local sub-processes"
                ) from error
            parameters: dict[str, Any] = {
                "timeout_min": timeout_min,
                "gpus_per_node": gpus,
                "cpus_per_task": cpus,
                "tasks_per_node": 1,
                "nodes": 1,
                "slurm_array_parallelism": array_parallelism,
                "name": "avgzsl-bench",
            }
            if partition:
                parameters["slurm_partition"] = partition
            if mem_gb is not None:
                parameters["mem_gb"] = mem_gb
            parameters.update(
                {f"slurm_{k}" if not k.startswith("slurm_") else k: v for k, v in (slurm_options or {}).items()}
            )
            self._executor.update_parameters(**parameters)

    def _start(self, fn: Callable[[Any], Any], item: Any) -> Any:
        return self._executor.submit(fn, item)

    def _start_many(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        if len(items) <= 1:
            return [self._start(fn, item) for item in items]
        return list(self._executor.map_array(fn, items))

    def _wait(self, handles: list[Any]) -> Iterator[tuple[Any, Any]]:
        while True:
            done = [job for job in handles if job.done()]
            if done:
                break
            time.sleep(self.poll_s)
        for job in done:
            try:
                yield job, job.result()
            except Exception as error:  # noqa: BLE001 - FailedJobError carries the remote traceback
                yield job, Failure(_remote_summary(error), str(error))


_EXCEPTION_LINE = re.compile(r"^\s*[A-Za-z_][\w.]*(?:Error|Exception):.*$", re.MULTILINE)


def _remote_summary(error: BaseException) -> str:
    """submitit's FailedJobError embeds the remote traceback; keep its last 'Type: message' line."""
    matches = list(_EXCEPTION_LINE.finditer(str(error)))
    return matches[-1].group(0).strip()[:500] if matches else summarise(error)
