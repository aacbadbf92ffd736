"""The paper's Tables 1-4: which runs they need, and our numbers beside the paper's as markdown.

A table is data (`leaderboards/paper_reference.toml`): rows of (label, method, overrides, paper
result id). `table_jobs` turns it into runner jobs for the chosen data sources and seeds; the
caller runs them through any executor (stored runs are skipped) and `render_table` reads the
finished records back by job key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tabulate import tabulate

from avgzsl_bench.errors import BenchError
from avgzsl_bench.runner import DataSource, Job, make_jobs
from avgzsl_bench.summary import METRIC_COLUMNS, format_mean_std, mean_std

PAPER_REFERENCE = Path(__file__).resolve().parent.parent / "leaderboards" / "paper_reference.toml"
TABLE_NUMBERS = (1, 2, 3, 4)
DEFAULT_TABLE_SEEDS = (42, 43, 44)
MISSING = "—"


@dataclass(frozen=True)
class TableRow:
    label: str
    method: str
    overrides: tuple[tuple[str, Any], ...] = ()
    paper: str | None = None  # id under [results] in the reference file


@dataclass(frozen=True)
class TableSpec:
    number: int
    title: str
    rows: tuple[TableRow, ...]


@dataclass(frozen=True)
class PaperReference:
    citation: str
    protocol: str
    dataset_order: tuple[str, ...]
    dataset_names: Mapping[str, str]
    results: Mapping[str, Mapping[str, Mapping[str, float]]]  # id -> dataset -> metric -> value
    tables: Mapping[int, TableSpec]

    def value(self, result_id: str | None, dataset: str, metric: str) -> float | None:
        if result_id is None:
            return None
        return self.results[result_id].get(dataset, {}).get(metric)

    def dataset_name(self, dataset: str) -> str:
        return self.dataset_names.get(dataset, dataset)

    def table(self, number: int) -> TableSpec:
        try:
            return self.tables[number]
        except KeyError:
            raise BenchError(f"no Table {number} in the paper reference; known: "
                             f"{', '.join(map(str, sorted(self.tables)))}") from None


def load_paper_reference(path: str | Path = PAPER_REFERENCE) -> PaperReference:
    """Parse and cross-check the reference file, so a typo fails here and not mid-benchmark."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise BenchError(f"cannot read the paper reference {path}: {error}") from error
    meta, results = data.get("meta", {}), data.get("results", {})
    tables = {}
    for table in data.get("tables", []):
        rows = []
        for row in table["rows"]:
            paper = row.get("paper")
            if paper is not None and paper not in results:
                raise BenchError(f"{path}: Table {table['number']} row '{row['label']}' cites "
                                 f"unknown result id '{paper}'")
            rows.append(TableRow(row["label"], row["method"],
                                 tuple(sorted(row.get("overrides", {}).items())), paper))
        tables[int(table["number"])] = TableSpec(int(table["number"]), table["title"], tuple(rows))
    return PaperReference(
        citation=meta.get("citation", ""), protocol=meta.get("protocol", ""),
        dataset_order=tuple(meta.get("dataset_order", ())), dataset_names=meta.get("dataset_names", {}),
        results=results, tables=tables,
    )


def order_sources(sources: Iterable[DataSource], reference: PaperReference) -> list[DataSource]:
    """The paper's column order (VGGSound, UCF, ActivityNet); others (demo) after it."""
    rank = {name: index for index, name in enumerate(reference.dataset_order)}
    return sorted(sources, key=lambda source: rank.get(source.dataset, len(rank)))


def row_jobs(row: TableRow, source: DataSource, seeds: Sequence[int],
             overrides: Mapping[str, Any] | None = None) -> list[Job]:
    # The row's overrides define the table, so they win over the user's (--epochs, --set).
    return make_jobs([row.method], source, seeds, {**(overrides or {}), **dict(row.overrides)})


def table_jobs(specs: Iterable[TableSpec], sources: Sequence[DataSource], seeds: Sequence[int],
               overrides: Mapping[str, Any] | None = None) -> list[Job]:
    """Every job the tables need, once: rows shared between tables (the full model) run once."""
    unique: dict[str, Job] = {}
    for spec in specs:
        for source in sources:
            for row in spec.rows:
                for job in row_jobs(row, source, seeds, overrides):
                    unique.setdefault(job.key, job)
    return list(unique.values())


def format_cell(values: list[float], paper: float | None, synthetic: bool) -> str:
    """'ours mean ± std (paper P, Δ ours−P)'; the paper part is '—' where there is none."""
    if not values:
        return MISSING
    ours = format_mean_std(values)
    if paper is None or synthetic:
        return f"{ours} (paper {MISSING})"
    return f"{ours} ({paper:.2f}, Δ {mean_std(values)[0] - paper:+.2f})"


def render_table(spec: TableSpec, reference: PaperReference, sources: Sequence[DataSource],
                 seeds: Sequence[int], records: Mapping[str, Mapping[str, Any]],
                 overrides: Mapping[str, Any] | None = None) -> str:
    """Markdown for one table, one block per dataset; `records` maps job keys to stored runs."""
    seed_text = ", ".join(map(str, seeds))
    lines = [f"### Table {spec.number}: {spec.title}", ""]
    if any(source.dataset == "demo" for source in sources):
        lines += ["**SYNTHETIC demo data: these numbers test the harness, not the methods; "
                  "the paper has no numbers for it.**", ""]
    lines.append(f"Cell: ours, mean ± std over seeds {seed_text} (the paper's number, "
                 f"Δ = ours − paper). Paper: {reference.citation}, {reference.protocol}.")
    if overrides:
        settings = ", ".join(f"{key}={value}" for key, value in sorted(overrides.items()))
        lines.append(f"Run with non-default settings: {settings} (the paper used the method defaults).")
    for source in order_sources(sources, reference):
        synthetic = source.dataset == "demo"
        rows = []
        for row in spec.rows:
            found = [records[job.key] for job in row_jobs(row, source, seeds, overrides) if job.key in records]
            cells = [
                format_cell([float(run[key]) for run in found], reference.value(row.paper, source.dataset, column),
                            synthetic)
                for column, key in METRIC_COLUMNS.items()
            ]
            rows.append([row.label, f"{len(found)}/{len(seeds)}", *cells])
        lines += ["", f"#### {reference.dataset_name(source.dataset)} (features: {source.feature_set})", "",
                  tabulate(rows, headers=["method", "seeds", *METRIC_COLUMNS], tablefmt="github")]
    return "\n".join(lines) + "\n"


def records_by_key(records: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {record["key"]: record for record in records}


def parse_table_numbers(values: Iterable[str]) -> list[int]:
    """'1', '3' or 'all' (repeatable) -> sorted unique table numbers."""
    numbers: set[int] = set()
    for value in values:
        if value == "all":
            numbers.update(TABLE_NUMBERS)
        elif value.isdigit() and int(value) in TABLE_NUMBERS:
            numbers.add(int(value))
        else:
            raise BenchError(f"unknown table '{value}'; choose {', '.join(map(str, TABLE_NUMBERS))} or all")
    return sorted(numbers)
