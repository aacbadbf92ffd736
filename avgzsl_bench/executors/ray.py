"""`ray`: each item is a Ray task, on a loopback-only local instance or on a cluster."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

from avgzsl_bench.errors import BenchError
from avgzsl_bench.executors.base import Executor, Failure, summarise


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

    def __init__(
        self,
        address: str | None = None,
        num_cpus: float = 1,
        num_gpus: float = 0,
        init_options: dict[str, Any] | None = None,
        **base: Any,
    ) -> None:
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
                num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_retries=0
            )  # retries are ours
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
                yield ref, Failure(summarise(cause), str(error))
            except ray.exceptions.RayError as error:  # worker crashed, object lost, ...
                yield ref, Failure.from_exception(error)

    def _end_map(self) -> None:
        self._fn = None

    def close(self) -> None:
        self._task, self._fn = None, None
        if self._started:
            import ray

            ray.shutdown()
            self._started = False


def _apply(fn: Callable[[Any], Any], item: Any) -> Any:
    return fn(item)
