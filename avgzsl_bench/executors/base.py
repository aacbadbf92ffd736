"""The executor base: run a function over work items somewhere, retry a failure once, report.

A backend implements `_start` (submit one call, return a handle) and `_wait` (block until at least
one handle is done; yield `(handle, value or _Failure)`). The base owns the policy every backend
shares: items come back in order as `Outcome`s, a failed call is retried once and then reported
while the other items go on, and progress goes to a `Reporter`. Executors know nothing about what
the items are; `str(item)` labels them.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from avgzsl_bench.executors.progress import Reporter

MAX_ATTEMPTS = 2  # a failed item is retried once
ProgressHook = Callable[[str, str, "float | None", "float | None"], None]
StepHook = Callable[[str, str, int, int], None]  # (item label, phase, steps done, steps in the phase)


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


def summarise(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".splitlines()[0][:500]


class Failure:
    """A failed attempt as it comes back from a backend."""

    def __init__(self, summary: str, trace: str | None = None) -> None:
        self.summary, self.trace = summary, trace

    @classmethod
    def from_exception(cls, error: BaseException) -> Failure:
        return cls(summarise(error), "".join(traceback.format_exception(error)))


def label(item: Any) -> str:
    text = str(item)
    return text if len(text) <= 80 else text[:77] + "..."


class Executor:
    name = "base"

    def __init__(self, reporter: Reporter | None = None, max_attempts: int = MAX_ATTEMPTS) -> None:
        self.reporter = reporter or Reporter()
        self.max_attempts = max_attempts

    # -- backend hooks ------------------------------------------------------------------------
    def _start(self, fn: Callable[[Any], Any], item: Any) -> Any:
        raise NotImplementedError

    def _start_many(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        return [self._start(fn, item) for item in items]

    def _wait(self, handles: list[Any]) -> Iterator[tuple[Any, Any]]:
        raise NotImplementedError

    def _end_map(self) -> None:
        """Called when a `map` ends, even by an exception: drop what was kept for its items."""

    def progress_hook(self) -> ProgressHook | None:
        """A callback the work may call with `(item label, description, completed, total)` to report
        sub-progress; only where the work runs in this process (None elsewhere)."""
        return None

    def step_hook(self) -> StepHook | None:
        """A callback the work may call with `(item label, phase, steps done, steps)` for progress
        within a long phase (an epoch); only where the work runs in this process (None elsewhere)."""
        return None

    def close(self) -> None:
        """Release what the executor started (a Ray instance it started, ...)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the shared policy --------------------------------------------------------------------
    def map(
        self,
        fn: Callable[[Any], Any],
        items: Sequence[Any],
        description: str = "items",
        describe: Callable[[Any], str] | None = None,
    ) -> list[Outcome]:
        """`fn(item)` for every item, in order; failures retried once, then reported in their Outcome.
        `describe(value)` is the line a finished item's value earns (default "done"): only the caller
        knows that a value can mean the work was skipped."""
        items = list(items)
        outcomes: list[Outcome | None] = [None] * len(items)
        errors: list[list[str]] = [[] for _ in items]
        self.reporter.start(f"{description} ({self.name})", len(items))
        try:
            pending = dict(zip(self._start_many(fn, items), ((i, 1) for i in range(len(items)))))
            while pending:
                for handle, result in self._wait(list(pending)):
                    index, attempt = pending.pop(handle)
                    name = label(items[index])
                    if not isinstance(result, Failure):
                        outcomes[index] = Outcome(items[index], result, None, None, attempt, errors[index])
                        self.reporter.item_finished(name, describe(result) if describe else "done")
                        continue
                    errors[index].append(result.summary)
                    if attempt < self.max_attempts:
                        self.reporter.item_finished(name, f"retrying (attempt {attempt} failed: {result.summary})")
                        pending[self._start(fn, items[index])] = (index, attempt + 1)
                        continue
                    outcomes[index] = Outcome(items[index], None, result.summary, result.trace, attempt, errors[index])
                    self.reporter.item_finished(name, f"failed: {result.summary}", ok=False)
            return outcomes  # type: ignore[return-value]
        finally:
            self._end_map()
