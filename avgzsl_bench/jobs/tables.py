"""The jobs the reference tables need, and the lookup that hands a table row its stored runs.

A table is an experiment file (`reports/experiments/table<N>.toml`); its jobs are made the way
`run --config` makes them (`experiments.expand`), so a table row and the same configuration run
by hand share their run keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from avgzsl_bench.datasets import DataSource
from avgzsl_bench.experiments.expand import experiment_jobs, row_jobs
from avgzsl_bench.experiments.schema import Row
from avgzsl_bench.jobs.defaults import DEFAULT_THREADS
from avgzsl_bench.jobs.job import Job
from avgzsl_bench.reports.paper import TableSpec
from avgzsl_bench.reports.tables import RowLookup, RowRuns, matching_sources
from avgzsl_bench.store.records import RunRecord


def table_jobs(
    specs: Iterable[TableSpec],
    sources: Sequence[DataSource],
    seeds: Sequence[int],
    overrides: Mapping[str, Any] | None = None,
    threads: int = DEFAULT_THREADS,
) -> list[Job]:
    """Every job the tables need, once: rows shared between tables (the full model) run once.
    A table runs on the sources with its feature set only."""
    pairs = [(row, source) for spec in specs for source in matching_sources(spec, sources) for row in spec.rows]
    return experiment_jobs(pairs, seeds, overrides, threads)


def row_lookup(
    records: Iterable[RunRecord], seeds: Sequence[int], overrides: Mapping[str, Any] | None = None
) -> RowLookup:
    """For `reports.tables.render_table`: a row's runs among `records` (matched by job key) and its
    resolved hyper-parameters (which evaluated rows must match)."""
    by_key = {record.key: record for record in records}

    def lookup(row: Row, source: DataSource) -> RowRuns:
        jobs = row_jobs(row, source, seeds, overrides)
        return RowRuns([by_key[job.key] for job in jobs if job.key in by_key], jobs[0].hparams())

    return lookup
