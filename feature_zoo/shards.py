"""Sharding long lists of work items (videos) over an executor, for feature extraction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from avgzsl_bench.errors import BenchError
from avgzsl_bench.executors.base import Executor, Outcome, label
from avgzsl_bench.executors.local import LocalExecutor


def shard(items: Sequence[Any], shard_size: int) -> list[list[Any]]:
    """Consecutive chunks of at most ``shard_size`` items."""
    if shard_size < 1:
        raise ValueError("shard_size must be at least 1")
    items = list(items)
    return [items[start : start + shard_size] for start in range(0, len(items), shard_size)]


class ShardError(BenchError):
    """Some shards failed twice; ``outcomes`` has every shard's outcome (the others' values too)."""

    def __init__(self, message: str, outcomes: list[Outcome]) -> None:
        super().__init__(message)
        self.outcomes = outcomes


def map_shards(
    fn: Callable[[list[Any]], Sequence[Any]],
    items: Sequence[Any],
    executor: Executor | None = None,
    shard_size: int | None = None,
    num_shards: int | None = None,
    description: str = "shards",
) -> list[Any]:
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
        first = ", ".join(f"shard of {len(o.item)} starting at {label(o.item[0])}: {o.error}" for o in failed[:3])
        raise ShardError(f"{len(failed)}/{len(shards)} shards failed twice ({first})", outcomes)
    results: list[Any] = []
    for outcome, chunk in zip(outcomes, shards):
        values = list(outcome.value)
        if len(values) != len(chunk):
            raise BenchError(f"{description}: a shard of {len(chunk)} items returned {len(values)} results")
        results.extend(values)
    return results
