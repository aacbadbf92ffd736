"""Published numbers, and the reference tables that compare against them.

`paper_reference.toml` beside this module (package data, installed with the code) holds, for each
result id, the published S/U/HM/ZSL per dataset (missing metrics print as "—"). Each table is an
experiment file in `experiments/` (`table<N>.toml`, with a `[table]` section): the feature set it
runs on, its source when it is not the ClipClap paper, and the rows to run (label, method,
overrides, result id). Loading cross-checks the two, so a typo fails here and not mid-benchmark.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avgzsl_bench.datasets import list_datasets
from avgzsl_bench.errors import BenchError
from avgzsl_bench.experiments.schema import Experiment, Row, load_experiment, table_features
from avgzsl_bench.tomlfile import read_toml

# The seeds every table runs unless told otherwise: a ranking needs at least three.
DEFAULT_TABLE_SEEDS = (42, 43, 44)

PAPER_REFERENCE = Path(__file__).with_name("paper_reference.toml")
TABLE_FILES = Path(__file__).with_name("experiments")  # table<N>.toml: one experiment file per table
TABLE_NUMBERS = (1, 2, 3, 4)  # the ClipClap paper's own tables


@dataclass(frozen=True)
class TableSpec:
    number: int
    title: str
    rows: tuple[Row, ...]
    features: str  # the feature set every row runs on
    citation: str = ""  # where its published numbers come from, when not the reference's citation
    protocol: str = ""
    path: str = ""  # the experiment file it was read from
    absent: tuple[str, ...] = ()  # labels of optional rows whose method is not registered here


def table_spec(experiment: Experiment) -> TableSpec:
    """The reference table an experiment file with a `[table]` section describes."""
    table = experiment.table
    if table is None:
        raise experiment.error("", "has no [table] section (number, title) and is not a reference table")
    return TableSpec(
        table.number,
        table.title,
        experiment.rows,
        table_features(experiment),
        table.citation,
        table.protocol,
        experiment.path,
        experiment.absent,
    )


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


def _check(
    path: Path, results: Mapping[str, Any], tables: Mapping[int, TableSpec], claims: Mapping[str, Any] | None = None
) -> None:
    datasets = set(list_datasets())
    unknown_claims = sorted(set(claims or {}) - set(results))
    if unknown_claims:
        raise BenchError(f"{path}: [claims] names unknown result id(s) {unknown_claims}")
    for result_id, per_dataset in results.items():
        unknown = set(per_dataset) - datasets
        if unknown:
            raise BenchError(f"{path}: result '{result_id}' names unregistered dataset(s) {sorted(unknown)}")
    for table in tables.values():
        for row in table.rows:
            if row.paper is not None and row.paper not in results:
                raise BenchError(
                    f"{table.path}: Table {table.number} row '{row.label}' cites result id '{row.paper}', "
                    f"which {path} does not hold"
                )


def load_tables(folder: str | Path = TABLE_FILES) -> dict[int, TableSpec]:
    """Every reference table: the experiment files in `folder`, by table number."""
    tables: dict[int, TableSpec] = {}
    for file in sorted(Path(folder).glob("*.toml")):
        spec = table_spec(load_experiment(file))
        if spec.number in tables:
            raise BenchError(f"{file}: Table {spec.number} is also {tables[spec.number].path}; renumber one")
        tables[spec.number] = spec
    return tables


def load_paper_reference(path: str | Path = PAPER_REFERENCE, tables: str | Path = TABLE_FILES) -> PaperReference:
    """Parse the published numbers and the table files, and cross-check them."""
    path = Path(path)
    data = read_toml(path, "paper reference")
    if "tables" in data:
        raise BenchError(
            f"{path}: [[tables]] are experiment files now (one per table, with a [table] section; see "
            "docs/experiment-files.md); keep only [meta], [results] and [claims] here"
        )
    meta, results, claims = data.get("meta", {}), data.get("results", {}), data.get("claims", {})
    specs = load_tables(tables)
    _check(path, results, specs, claims)
    return PaperReference(
        citation=meta.get("citation", ""),
        protocol=meta.get("protocol", ""),
        results=results,
        tables=specs,
        claims={key: str(value) for key, value in claims.items()},
    )


def check_table_file(experiment: Experiment, path: str | Path = PAPER_REFERENCE) -> TableSpec:
    """A reference-table experiment file, its result ids checked against the published numbers."""
    spec = table_spec(experiment)
    _check(Path(path), read_toml(path, "paper reference").get("results", {}), {spec.number: spec})
    return spec


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
