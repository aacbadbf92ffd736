"""The jobs the reference tables need, and the lookup that hands a table row its stored runs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from avgzsl_bench.datasets import DataSource
from avgzsl_bench.jobs.defaults import DEFAULT_THREADS
from avgzsl_bench.jobs.job import Job, make_jobs
from avgzsl_bench.reports.paper import TableRow, TableSpec
from avgzsl_bench.reports.tables import RowLookup, RowRuns, matching_sources
from avgzsl_bench.store.records import RunRecord


def row_jobs(
    row: TableRow,
    source: DataSource,
    seeds: Sequence[int],
    overrides: Mapping[str, Any] | None = None,
    threads: int = DEFAULT_THREADS,
) -> list[Job]:
    # The row's overrides define the table, so they win over the user's (--epochs, --set).
    return make_jobs([row.method], source, seeds, {**(overrides or {}), **dict(row.overrides)}, threads)


def table_jobs(
    specs: Iterable[TableSpec],
    sources: Sequence[DataSource],
    seeds: Sequence[int],
    overrides: Mapping[str, Any] | None = None,
    threads: int = DEFAULT_THREADS,
) -> list[Job]:
    """Every job the tables need, once: rows shared between tables (the full model) run once.
    A table runs on the sources with its feature set only."""
    unique: dict[str, Job] = {}
    for spec in specs:
        for source in matching_sources(spec, sources):
            for row in spec.rows:
                for job in row_jobs(row, source, seeds, overrides, threads):
                    unique.setdefault(job.key, job)
    return list(unique.values())


def row_lookup(
    records: Iterable[RunRecord], seeds: Sequence[int], overrides: Mapping[str, Any] | None = None
) -> RowLookup:
    """For `reports.tables.render_table`: a row's runs among `records` (matched by job key) and its
    resolved hyper-parameters (which evaluated rows must match)."""
    by_key = {record.key: record for record in records}

    def lookup(row: TableRow, source: DataSource) -> RowRuns:
        jobs = row_jobs(row, source, seeds, overrides)
        return RowRuns([by_key[job.key] for job in jobs if job.key in by_key], jobs[0].hparams())

    return lookup
