"""Published numbers and the layout of the tables that compare against them, read from a TOML file.

`paper_reference.toml` beside this module (package data, installed with the code) holds, for each
result id, the published S/U/HM/ZSL per dataset (missing metrics print as "—"), and for each table
the feature set it runs on, its source when it is not the ClipClap paper, and the rows to run
(label, method, overrides, result id). Loading cross-checks it against the method and dataset
registries, so a typo fails here and not mid-benchmark. A row marked `optional = true` names a
method that a plugin may provide (e.g. TCAF): without that plugin the row is left out, and the
table says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from avgzsl_bench.datasets import DEFAULT_FEATURES, list_datasets, list_feature_sets
from avgzsl_bench.errors import BenchError

# The seeds every table runs unless told otherwise: a ranking needs at least three.
DEFAULT_TABLE_SEEDS = (42, 43, 44)

PAPER_REFERENCE = Path(__file__).with_name("paper_reference.toml")
TABLE_NUMBERS = (1, 2, 3, 4)  # the ClipClap paper's own tables


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
    features: str = DEFAULT_FEATURES  # the feature set every row runs on
    citation: str = ""  # where its published numbers come from, when not the reference's citation
    protocol: str = ""
    absent: tuple[str, ...] = ()  # labels of optional rows whose method is not registered here


@dataclass(frozen=True)
class PaperReference:
    citation: str
    protocol: str
    results: Mapping[str, Mapping[str, Mapping[str, float]]]  # id -> dataset -> metric -> value
    tables: Mapping[int, TableSpec]
    claims: Mapping[str, str] = field(default_factory=dict)  # id -> where an unreviewed claim is made

    def value(self, result_id: str | None, dataset: str, metric: str) -> float | None:
        if result_id is None:
            return None
        return self.results[result_id].get(dataset, {}).get(metric)

    @property
    def numbers(self) -> list[int]:
        return sorted(self.tables)

    def table(self, number: int) -> TableSpec:
        try:
            return self.tables[number]
        except KeyError:
            raise BenchError(
                f"no Table {number} in the paper reference; known: {', '.join(map(str, sorted(self.tables)))}"
            ) from None


def _check(path: Path, results: Mapping[str, Any], tables: Mapping[int, TableSpec], claims: Mapping[str, Any]) -> None:
    from avgzsl_bench.api import METHODS  # the methods' modules import torch: only when a file is checked

    datasets, feature_sets = set(list_datasets()), set(list_feature_sets())
    unknown_claims = sorted(set(claims) - set(results))
    if unknown_claims:
        raise BenchError(f"{path}: [claims] names unknown result id(s) {unknown_claims}")
    for table in tables.values():
        if table.features not in feature_sets:
            raise BenchError(f"{path}: Table {table.number} names unknown feature set '{table.features}'")
    for result_id, per_dataset in results.items():
        unknown = set(per_dataset) - datasets
        if unknown:
            raise BenchError(f"{path}: result '{result_id}' names unregistered dataset(s) {sorted(unknown)}")
    for table in tables.values():
        for row in table.rows:
            if row.paper is not None and row.paper not in results:
                raise BenchError(
                    f"{path}: Table {table.number} row '{row.label}' cites unknown result id '{row.paper}'"
                )
            if row.method not in METHODS:
                raise BenchError(
                    f"{path}: Table {table.number} row '{row.label}' uses unregistered method '{row.method}'"
                )


def load_paper_reference(path: str | Path = PAPER_REFERENCE) -> PaperReference:
    """Parse and cross-check the reference file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise BenchError(f"cannot read the paper reference {path}: {error}") from error
    meta, results = data.get("meta", {}), data.get("results", {})
    from avgzsl_bench.api import METHODS  # the methods' modules import torch: only when the file is read

    tables = {}
    for table in data.get("tables", []):
        present = [row for row in table["rows"] if not row.get("optional") or row["method"] in METHODS]
        rows = tuple(
            TableRow(row["label"], row["method"], tuple(sorted(row.get("overrides", {}).items())), row.get("paper"))
            for row in present
        )
        tables[int(table["number"])] = TableSpec(
            int(table["number"]),
            table["title"],
            rows,
            features=table.get("features", DEFAULT_FEATURES),
            citation=table.get("citation", ""),
            protocol=table.get("protocol", ""),
            absent=tuple(row["label"] for row in table["rows"] if row not in present),
        )
    claims = data.get("claims", {})
    _check(path, results, tables, claims)
    return PaperReference(
        citation=meta.get("citation", ""),
        protocol=meta.get("protocol", ""),
        results=results,
        tables=tables,
        claims={key: str(value) for key, value in claims.items()},
    )


def parse_table_numbers(values: Iterable[str], known: Iterable[int] = TABLE_NUMBERS) -> list[int]:
    """'1', '3' or 'all' (repeatable) -> sorted unique table numbers among `known`."""
    available = sorted(set(known))
    numbers: set[int] = set()
    for value in values:
        if value == "all":
            numbers.update(available)
        elif value.isdigit() and int(value) in available:
            numbers.add(int(value))
        else:
            raise BenchError(f"unknown table '{value}'; choose {', '.join(map(str, available))} or all")
    return sorted(numbers)
