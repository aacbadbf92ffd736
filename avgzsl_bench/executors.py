"""Scale-out execution: run independent jobs (or any picklable work items) on an executor.

Every executor implements the same two calls:

* ``map(fn, items) -> list[Outcome]``: call ``fn(item)`` for every item, wherever the executor runs
  work (this process, Ray workers, SLURM jobs), in the items' order. A failed call is retried
  once; if it fails again its ``Outcome`` carries the error and the other items go on.
* ``run(jobs, store_path, device) -> RunReport``: ``map`` of ``runner.execute_job`` over benchmark
  jobs. Each job writes its stage 1 and its finished run to the SQLite store itself (WAL, safe for
  concurrent writers), so results land in the same store whichever executor ran them, and the
  records also come back in the report.

Executors: ``local`` (in-process, the default), ``ray`` (``ray.init()`` on loopback, or join a
cluster with ``address``), ``slurm`` (``submitit``; ``local=True`` uses submitit's local executor).
``map_shards`` splits a long list of work items (e.g. videos for feature extraction) into shards and
maps a per-shard function over an executor.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avgzsl_bench.errors import BenchError

MAX_ATTEMPTS = 2  # a failed item is retried once


# --------------------------------------------------------------------------------------------------
# Outcomes and reports


@dataclass
class Outcome:
    """What became of one item: its value, or the error of its last attempt."""

    item: Any
    value: Any = None
    error: str | None = None  # one-line summary of the last failure
    traceback: str | None = None  # full traceback of the last failure, when available
    attempts: int = 1
    errors: list[str] = field(default_factory=list)  # every failed attempt's summary

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class RunReport:
    """Records of the finished jobs (in job order) and the outcomes of all of them."""

    outcomes: list[Outcome]

    @property
    def records(self) -> list[dict[str, Any]]:
        return [outcome.value for outcome in self.outcomes if outcome.ok]

    @property
    def failures(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if not outcome.ok]

    @property
    def retried(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.ok and outcome.attempts > 1]

    def summary(self) -> str:
        lines = [f"{len(self.records)}/{len(self.outcomes)} jobs finished"
                 + (f", {len(self.retried)} after a retry" if self.retried else "")
                 + (f", {len(self.failures)} failed twice:" if self.failures else ".")]
        for outcome in self.failures:
            lines.append(f"  - {describe_item(outcome.item)}: {outcome.error}")
        return "\n".join(lines)


def describe_item(item: Any) -> str:
    """A short label for progress bars and failure reports (jobs get method/dataset/seed)."""
    method, source, seed = (getattr(item, name, None) for name in ("method", "source", "seed"))
    if method is not None and source is not None:
        return f"{method} on {source.dataset}, seed {seed}"
    text = repr(item)
    return text if len(text) <= 60 else text[:57] + "..."


def _summarise(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".splitlines()[0][:500]


class _Failure:
    """A failed attempt as it comes back from a backend."""

    def __init__(self, summary: str, trace: str | None = None) -> None:
        self.summary, self.trace = summary, trace

    @classmethod
    def from_exception(cls, error: BaseException) -> _Failure:
        return cls(_summarise(error), "".join(traceback.format_exception(error)))


# --------------------------------------------------------------------------------------------------
# The executor base: retry-once policy and progress, shared by every backend


class Executor:
    """Base class. A backend implements ``_start`` (submit one call, return a handle) and
    ``_wait`` (block until at least one handle is done; yield ``(handle, value | _Failure)``).
    """

    name = "base"

    def __init__(self, show_progress: bool = True, max_attempts: int = MAX_ATTEMPTS) -> None:
        self.show_progress = show_progress
        self.max_attempts = max_attempts
        self._progress: Any = None

    # -- backend hooks ------------------------------------------------------------------------
    def _start(self, fn: Callable[[Any], Any], item: Any) -> Any:
        raise NotImplementedError

    def _start_many(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        return [self._start(fn, item) for item in items]

    def _wait(self, handles: list[Any]) -> Iterator[tuple[Any, Any]]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the executor started (a Ray instance it started, ...)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the shared policy --------------------------------------------------------------------
    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], description: str = "jobs") -> list[Outcome]:
        """``fn(item)`` for every item; failures retried once, then reported in their Outcome."""
        from rich.markup import escape
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        items = list(items)
        outcomes: list[Outcome | None] = [None] * len(items)
        errors: list[list[str]] = [[] for _ in items]
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, disable=not self.show_progress, transient=True) as progress:
            self._progress = progress
            overall = progress.add_task(f"{description} ({self.name})", total=len(items))
            try:
                pending = dict(zip(self._start_many(fn, items), ((i, 1) for i in range(len(items)))))
                while pending:
                    for handle, result in self._wait(list(pending)):
                        index, attempt = pending.pop(handle)
                        if isinstance(result, _Failure):
                            errors[index].append(result.summary)
                            if attempt < self.max_attempts:
                                progress.console.print(
                                    f"[yellow]retrying[/] {escape(describe_item(items[index]))} "
                                    f"(attempt {attempt} failed: {escape(result.summary)})")
                                pending[self._start(fn, items[index])] = (index, attempt + 1)
                                continue
                            outcomes[index] = Outcome(items[index], None, result.summary, result.trace,
                                                      attempt, errors[index])
                            progress.console.print(
                                f"[red]failed[/] {escape(describe_item(items[index]))}: {escape(result.summary)}")
                        else:
                            outcomes[index] = Outcome(items[index], result, None, None, attempt, errors[index])
                        progress.update(overall, advance=1,
                                        description=f"{description} ({self.name}): last "
                                                    f"{describe_item(items[index])}")
            finally:
                self._progress = None
        return outcomes  # type: ignore[return-value]

    def run(self, jobs: Sequence[Any], store_path: str | None, device: str = "cpu") -> RunReport:
        """Run benchmark jobs (``runner.Job``) through ``runner.execute_job``."""
        from avgzsl_bench.runner import execute_job

        store = str(Path(store_path).resolve()) if store_path else None
        fn = functools.partial(execute_job, store_path=store, device=device, **self._job_options())
        return RunReport(self.map(fn, [_portable(job) for job in jobs], description="runs"))

    def _job_options(self) -> dict[str, Any]:
        """Extra keyword arguments of ``execute_job`` (must pickle for remote backends)."""
        return {}


def _portable(job: Any) -> Any:
    """The job with an absolute feature root, so a worker in another directory finds the data.

    The job key does not change: ``DataSource.identity`` already resolves the root.
    """
    root = getattr(getattr(job, "source", None), "root", None)
    if not root:
        return job
    return dataclasses.replace(job, source=dataclasses.replace(job.source, root=str(Path(root).resolve())))


# --------------------------------------------------------------------------------------------------
# local: in this process, one item after another


class LocalExecutor(Executor):
    name = "local"

    def _start(self, fn: Callable[[Any], Any], item: Any) -> Any:
        return _Thunk(fn, item)  # runs lazily in _wait, so progress advances job by job

    def _wait(self, handles: list[Any]) -> Iterator[tuple[Any, Any]]:
        handle = handles[0]
        try:
            yield handle, handle.fn(handle.item)
        except Exception as error:  # noqa: BLE001 - any failure of one job is reported, not raised
            yield handle, _Failure.from_exception(error)

    def _job_options(self) -> dict[str, Any]:
        """A per-epoch progress bar: the jobs run in this process, so a callback can reach it."""
        state: dict[str, Any] = {}

        def on_epoch(stage: str, epoch: int, total: int, hm: float) -> None:
            progress = self._progress
            if progress is None:
                return
            if state.get("progress") is not progress:
                state["progress"], state["task"] = progress, progress.add_task("", total=None)
            progress.update(state["task"], completed=epoch, total=total,
                            description=f"  {stage} epoch (val HM {hm:5.2f})")

        return {"on_epoch": on_epoch}


class _Thunk:
    __slots__ = ("fn", "item")

    def __init__(self, fn: Callable[[Any], Any], item: Any) -> None:
        self.fn, self.item = fn, item


# --------------------------------------------------------------------------------------------------
# ray: local loopback instance, or join a cluster


def _no_ray_usage_stats() -> None:
    """A local Ray must not phone home; read at ``import ray``, so set before it."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


class RayExecutor(Executor):
    """Runs each item as a Ray task.

    ``address=None`` uses an already initialised Ray, or starts a local one bound to loopback
    (and shuts it down in ``close``); ``address="ray://host:10001"`` or ``"host:6379"`` joins a
    cluster. ``num_cpus``/``num_gpus`` are the resources each task reserves; with ``num_gpus``,
    Ray sets ``CUDA_VISIBLE_DEVICES`` so ``device="cuda"`` lands on the reserved GPU.
    """

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: float = 1, num_gpus: float = 0,
                 init_options: dict[str, Any] | None = None, **base: Any) -> None:
        super().__init__(**base)
        self.address, self.num_cpus, self.num_gpus = address, num_cpus, num_gpus
        self.init_options = dict(init_options or {})
        self._started = False
        self._task: Any = None
        self._fn: tuple[Any, Any] | None = None

    def _ray(self) -> Any:
        if self.address is None:
            _no_ray_usage_stats()
        try:
            import ray
        except ImportError as error:
            raise BenchError("--executor ray needs the 'ray' package: pip install 'ray[default]'") from error
        if not ray.is_initialized():
            options = {"include_dashboard": False, "log_to_driver": False, **self.init_options}
            if self.address is None:
                options.setdefault("_node_ip_address", "127.0.0.1")
            ray.init(address=self.address, **options)
            self._started = True
        return ray

    def _start(self, fn: Callable[[Any], Any], item: Any) -> Any:
        ray = self._ray()
        if self._task is None:
            self._task = ray.remote(_apply).options(
                num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_retries=0)  # retries are ours
        if self._fn is None or self._fn[0] is not fn:
            self._fn = (fn, ray.put(fn))  # ship the (partial) function once per map
        return self._task.remote(self._fn[1], item)

    def _wait(self, handles: list[Any]) -> Iterator[tuple[Any, Any]]:
        ray = self._ray()
        ready, _ = ray.wait(handles, num_returns=1)
        for ref in ready:
            try:
                yield ref, ray.get(ref)
            except ray.exceptions.RayTaskError as error:
                cause = error.cause if isinstance(getattr(error, "cause", None), BaseException) else error
                yield ref, _Failure(_summarise(cause), str(error))
            except ray.exceptions.RayError as error:  # worker crashed, object lost, ...
                yield ref, _Failure.from_exception(error)

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], description: str = "jobs") -> list[Outcome]:
        try:
            return super().map(fn, items, description)
        finally:
            self._fn = None

    def close(self) -> None:
        self._task, self._fn = None, None
        if self._started:
            import ray

            ray.shutdown()
            self._started = False


def _apply(fn: Callable[[Any], Any], item: Any) -> Any:
    return fn(item)


# --------------------------------------------------------------------------------------------------
# slurm: submitit (a SLURM cluster, or submitit's local executor for tests)


class SlurmExecutor(Executor):
    """Submits each item as a SLURM job through ``submitit`` (the first round as one job array).

    ``local=True`` uses ``submitit.LocalExecutor`` (sub-processes on this machine) instead, which is
    how the tests exercise this path. ``folder`` holds submitit's pickles and logs.
    """

    name = "slurm"

    def __init__(self, folder: str | Path = "results/submitit", partition: str | None = None,
                 timeout_min: int = 120, gpus: int = 0, cpus: int = 1, mem_gb: float | None = None,
                 array_parallelism: int = 64, local: bool = False,
                 slurm_options: dict[str, Any] | None = None, poll_s: float = 1.0,
                 cluster: str = "slurm", **base: Any) -> None:
        super().__init__(**base)
        try:
            import submitit
        except ImportError as error:
            raise BenchError("--executor slurm needs the 'submitit' package: pip install submitit") from error
        self.poll_s = poll_s
        if local:
            self.name = "slurm (submitit local)"
            self._executor = submitit.LocalExecutor(folder=str(folder))
            self._executor.update_parameters(timeout_min=timeout_min, gpus_per_node=gpus)
        else:
            try:
                self._executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
            except RuntimeError as error:  # submitit: 'Could not detect "srun"'
                raise BenchError(f"--executor slurm: no SLURM cluster here ({error}); "
                                 "add --slurm-local to run the jobs as local sub-processes") from error
            parameters: dict[str, Any] = {
                "timeout_min": timeout_min, "gpus_per_node": gpus, "cpus_per_task": cpus,
                "tasks_per_node": 1, "nodes": 1, "slurm_array_parallelism": array_parallelism,
                "name": "avgzsl-bench",
            }
            if partition:
                parameters["slurm_partition"] = partition
            if mem_gb is not None:
                parameters["mem_gb"] = mem_gb
            parameters.update({f"slurm_{k}" if not k.startswith("slurm_") else k: v
                               for k, v in (slurm_options or {}).items()})
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
                yield job, _Failure(_remote_summary(error), str(error))


_EXCEPTION_LINE = re.compile(r"^\s*[A-Za-z_][\w.]*(?:Error|Exception):.*$", re.MULTILINE)


def _remote_summary(error: BaseException) -> str:
    """submitit's FailedJobError embeds the remote traceback; keep its last 'Type: message' line."""
    matches = list(_EXCEPTION_LINE.finditer(str(error)))
    return matches[-1].group(0).strip()[:500] if matches else _summarise(error)


# --------------------------------------------------------------------------------------------------
# registry and sharding


_REGISTRY: dict[str, type[Executor]] = {"local": LocalExecutor, "ray": RayExecutor, "slurm": SlurmExecutor}


def get_executor(name: str = "local", **options: Any) -> Executor:
    """``get_executor("ray", address=None, num_gpus=1)``; options go to the executor's constructor."""
    try:
        cls = _REGISTRY[name]
    except KeyError:
        raise BenchError(f"unknown executor '{name}'; choose one of {', '.join(_REGISTRY)}") from None
    return cls(**options)


def add_executor_arguments(parser: Any) -> None:
    """The ``--executor`` options of ``bench.py`` (kept here so the CLI needs one line)."""
    group = parser.add_argument_group("execution (where the jobs run; results go to the same --store)")
    group.add_argument("--executor", choices=list(_REGISTRY), default="local",
                       help="local: in this process (default); ray: Ray tasks, on a loopback-only "
                            "local instance or the cluster at --ray-address; slurm: SLURM jobs via "
                            "submitit. A failed job is retried once, then reported; the rest go on")
    group.add_argument("--ray-address", help="join this Ray cluster (e.g. ray://head:10001) instead "
                                             "of starting a local instance")
    group.add_argument("--cpus-per-job", type=float, default=1, help="ray/slurm: CPUs per job (default 1)")
    group.add_argument("--gpus-per-job", type=float, default=0,
                       help="ray/slurm: GPUs per job (default 0; use with --device auto or cuda)")
    group.add_argument("--slurm-folder", default="results/submitit",
                       help="slurm: submitit's folder for job pickles and logs (default results/submitit)")
    group.add_argument("--slurm-partition", help="slurm: partition to submit to")
    group.add_argument("--slurm-timeout", type=int, default=120, help="slurm: minutes per job (default 120)")
    group.add_argument("--slurm-mem-gb", type=float, help="slurm: memory per job in GB")
    group.add_argument("--slurm-local", action="store_true",
                       help="slurm: run the jobs as local sub-processes (submitit's LocalExecutor)")


def executor_from_args(args: Any) -> Executor:
    """Build the executor chosen by ``add_executor_arguments``' options."""
    show_progress = not getattr(args, "quiet", False)
    name = args.executor
    if args.ray_address and name != "ray":
        raise BenchError("--ray-address needs --executor ray")
    if name == "ray":
        return RayExecutor(address=args.ray_address, num_cpus=args.cpus_per_job,
                           num_gpus=args.gpus_per_job, show_progress=show_progress)
    if name == "slurm":
        if args.gpus_per_job != int(args.gpus_per_job):
            raise BenchError("--executor slurm needs a whole number of --gpus-per-job")
        return SlurmExecutor(folder=args.slurm_folder, partition=args.slurm_partition,
                             timeout_min=args.slurm_timeout, gpus=int(args.gpus_per_job),
                             cpus=max(1, int(args.cpus_per_job)), mem_gb=args.slurm_mem_gb,
                             local=args.slurm_local, show_progress=show_progress)
    return get_executor(name, show_progress=show_progress)


def shard(items: Sequence[Any], shard_size: int) -> list[list[Any]]:
    """Consecutive chunks of at most ``shard_size`` items."""
    if shard_size < 1:
        raise ValueError("shard_size must be at least 1")
    items = list(items)
    return [items[start:start + shard_size] for start in range(0, len(items), shard_size)]


class ShardError(BenchError):
    """Some shards failed twice; ``outcomes`` has every shard's outcome (the others' values too)."""

    def __init__(self, message: str, outcomes: list[Outcome]) -> None:
        super().__init__(message)
        self.outcomes = outcomes


def map_shards(fn: Callable[[list[Any]], Sequence[Any]], items: Sequence[Any],
               executor: Executor | None = None, shard_size: int | None = None,
               num_shards: int | None = None, description: str = "shards") -> list[Any]:
    """Split ``items`` into shards, run ``fn(shard) -> list`` (one result per item) on the executor
    and return the concatenated results in the items' order.

    ``fn`` must be picklable (a module-level function or a ``functools.partial`` of one) and should
    be idempotent: a failed shard is run once more. If a shard fails twice, ``ShardError`` is raised
    after all the other shards have finished.
    """
    items = list(items)
    if not items:
        return []
    if shard_size is None:
        shard_size = -(-len(items) // max(1, num_shards or 1))
    shards = shard(items, shard_size)
    outcomes = (executor or LocalExecutor()).map(fn, shards, description=description)
    failed = [o for o in outcomes if not o.ok]
    if failed:
        first = ", ".join(f"shard of {len(o.item)} starting at {describe_item(o.item[0])}: {o.error}"
                          for o in failed[:3])
        raise ShardError(f"{len(failed)}/{len(shards)} shards failed twice ({first})", outcomes)
    results: list[Any] = []
    for outcome, chunk in zip(outcomes, shards):
        values = list(outcome.value)
        if len(values) != len(chunk):
            raise BenchError(f"{description}: a shard of {len(chunk)} items returned {len(values)} results")
        results.extend(values)
    return results
