"""`local`: run the items in this process, one after another (the default)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from avgzsl_bench.executors.base import Executor, Failure, ProgressHook, StepHook, label


class _Call:
    """A call not made yet: it runs in `_wait`, so progress advances item by item."""

    __slots__ = ("fn", "item")

    def __init__(self, fn: Callable[[Any], Any], item: Any) -> None:
        self.fn, self.item = fn, item


class LocalExecutor(Executor):
    name = "local"

    def _start(self, fn: Callable[[Any], Any], item: Any) -> Any:
        return _Call(fn, item)

    def _wait(self, handles: list[Any]) -> Iterator[tuple[Any, Any]]:
        call = handles[0]
        self.reporter.item_started(label(call.item))
        try:
            value = call.fn(call.item)
        except Exception as error:  # noqa: BLE001 - any failure of one item is reported, not raised
            yield call, Failure.from_exception(error)
        else:
            yield call, value

    def progress_hook(self) -> ProgressHook | None:
        return self.reporter.item_progress

    def step_hook(self) -> StepHook | None:
        return self.reporter.item_steps
