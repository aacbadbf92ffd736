"""Experiment files: what to run (methods, grids, labelled runs) on what (datasets, feature sets,
seeds), as a TOML file that `bench.py run --config` runs and `bench.py validate` checks.

This module reads a file into an `Experiment` and refuses what the file itself gets wrong: unknown
keys (with the closest known one), values of the wrong type, unknown methods, datasets and feature
sets. Whether hyper-parameter values are allowed is decided where every `--set` is decided, by the
method's spec when jobs are made (`experiments.expand`), so there is one validator of values.
The reference tables are experiment files with a `[table]` section (`reports/experiments/`).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avgzsl_bench.datasets import DEFAULT_FEATURES, list_datasets, list_feature_sets
from avgzsl_bench.errors import BenchError, did_you_mean
from avgzsl_bench.tomlfile import read_toml

TOP_KEYS = (
    "name",
    "description",
    "methods",
    "datasets",
    "features",
    "seeds",
    "roots",
    "legacy_text_order",
    "demo_samples",
    "overrides",
    "grid",
    "runs",
    "table",
)
RUN_KEYS = ("method", "label", "overrides", "paper", "optional")
TABLE_KEYS = ("number", "title", "citation", "protocol")
ALL_METHODS = "all"


def _method_names() -> list[str]:
    # Imported when a file is read: the method registry imports torch, which `--help` must not.
    from avgzsl_bench.api import METHODS

    return list(METHODS.names())


Overrides = tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Row:
    """One configuration of an experiment: a method with hyper-parameter overrides (a row of a table).

    `shared` are the file's `[overrides]` (for every row); the user's `--set` goes over them and the
    row's own `overrides` over both, since they define the row. `file`/`section` say where the row
    was declared, for messages."""

    label: str
    method: str
    overrides: Overrides = ()
    paper: str | None = None  # result id of the published number (reference tables)
    shared: Overrides = ()
    file: str = field(default="", compare=False)
    section: str = field(default="", compare=False)


@dataclass(frozen=True)
class TableMeta:
    number: int
    title: str
    citation: str = ""
    protocol: str = ""


@dataclass(frozen=True)
class Experiment:
    """A parsed experiment file; empty `datasets`/`features`/`seeds` leave the choice to the command line."""

    path: str
    name: str
    sha256: str  # of the file's bytes: which version of the file a run came from
    rows: tuple[Row, ...]  # in file order: `methods`, then `[grid.*]`, then `[[runs]]`
    absent: tuple[str, ...] = ()  # labels of optional runs whose method no installed plugin registers
    all_methods: bool = False  # `methods = "all"`: every method that can run on each dataset
    datasets: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    seeds: tuple[int, ...] = ()
    roots: Mapping[str, str] = field(default_factory=dict)
    legacy_text_order: bool = False
    demo_samples: int | None = None
    shared: Overrides = ()
    table: TableMeta | None = None
    description: str = ""

    def error(self, where: str, message: str) -> BenchError:
        return BenchError(f"{self.path}: {where}{': ' if where else ''}{message}")


def _describe(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


class _Reader:
    """Typed access to a parsed file; every complaint names the file and the key."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, where: str, message: str) -> BenchError:
        return BenchError(f"{self.path}: {where}{': ' if where else ''}{message}")

    def keys(self, table: Mapping[str, Any], allowed: Sequence[str], where: str = "") -> None:
        for key in table:
            if key not in allowed:
                raise self.fail(
                    where, f"unknown key '{key}'{did_you_mean(key, allowed)}; allowed: {', '.join(allowed)}"
                )

    def table(self, data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(where, f"must be a table (key = value lines), got {_describe(value)}")
        return value

    def text(self, data: Mapping[str, Any], key: str, where: str, default: str = "") -> str:
        value = data.get(key, default)
        if not isinstance(value, str):
            raise self.fail(where, f"must be a string, got {_describe(value)}")
        return value

    def names(self, data: Mapping[str, Any], key: str, known: Sequence[str], kind: str) -> tuple[str, ...]:
        """A string or a list of strings, each one of `known`."""
        value = data.get(key, [])
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not all(isinstance(item, str) for item in values):
            raise self.fail(f"'{key}'", f"must be a list of {kind} names, got {_describe(value)}")
        for item in values:
            if item not in known:
                raise self.fail(
                    f"'{key}'", f"unknown {kind} '{item}'{did_you_mean(item, known)}; known: {', '.join(known)}"
                )
        return tuple(dict.fromkeys(values))

    def method(self, name: Any, where: str) -> str:
        known = _method_names()
        if not isinstance(name, str):
            raise self.fail(where, f"a method name must be a string, got {_describe(name)}")
        if name not in known:
            raise self.fail(where, f"unknown method '{name}'{did_you_mean(name, known)}; known: {', '.join(known)}")
        return name

    def seeds(self, data: Mapping[str, Any]) -> tuple[int, ...]:
        value = data.get("seeds", [])
        if not isinstance(value, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in value):
            raise self.fail("'seeds'", f"must be a list of integers, e.g. seeds = [42, 43, 44]; got {_describe(value)}")
        if len(set(value)) != len(value):
            raise self.fail("'seeds'", f"lists a seed twice: {value}")
        return tuple(value)


def _label(method: str, overrides: Overrides) -> str:
    return " ".join([method, *(f"{key}={value}" for key, value in overrides)])


def _grid_rows(reader: _Reader, grid: Mapping[str, Any], shared: Overrides) -> list[Row]:
    """`[grid.<method>]`: every combination of the listed values, in the order the keys are written."""
    rows = []
    for method, axes in grid.items():
        section = f"[grid.{method}]"
        reader.method(method, section)
        if not isinstance(axes, dict) or not axes:
            raise reader.fail(section, "must list hyper-parameters with their values, e.g. losses = ['reg', 'reg+ce']")
        values = []
        for key, options in axes.items():
            options = options if isinstance(options, list) else [options]
            if not options:
                raise reader.fail(section, f"'{key}' lists no value")
            values.append([(key, option) for option in options])
        for combination in itertools.product(*values):
            overrides = tuple(combination)
            rows.append(Row(_label(method, overrides), method, overrides, None, shared, reader.path, section))
    return rows


def _run_rows(reader: _Reader, runs: Any, shared: Overrides) -> tuple[list[Row], list[str]]:
    """`[[runs]]`: one configuration each, with an optional label and published-result id; and the
    labels of `optional = true` runs left out because no installed plugin registers their method."""
    if not isinstance(runs, list) or not all(isinstance(run, dict) for run in runs):
        raise reader.fail("'runs'", "must be an array of tables: write each one as [[runs]]")
    rows, absent = [], []
    for index, run in enumerate(runs, start=1):
        section = f"[[runs]] #{index}" + (f" ('{run['label']}')" if isinstance(run.get("label"), str) else "")
        reader.keys(run, RUN_KEYS, section)
        if "method" not in run:
            raise reader.fail(section, "names no method: add method = '<name>' (see `bench.py methods`)")
        optional = run.get("optional", False)
        if not isinstance(optional, bool):
            raise reader.fail(f"{section} 'optional'", f"must be true or false, got {_describe(optional)}")
        if optional and run["method"] not in _method_names():
            absent.append(reader.text(run, "label", f"{section} 'label'", str(run["method"])))
            continue
        method = reader.method(run["method"], section)
        overrides = tuple(reader.table(run, "overrides", f"{section} 'overrides'").items())
        label = reader.text(run, "label", f"{section} 'label'", _label(method, overrides))
        paper = run.get("paper")
        if paper is not None and not isinstance(paper, str):
            raise reader.fail(f"{section} 'paper'", f"must be a result id (a string), got {_describe(paper)}")
        rows.append(Row(label, method, overrides, paper, shared, reader.path, section))
    return rows, absent


def _table_meta(reader: _Reader, data: Mapping[str, Any]) -> TableMeta | None:
    if "table" not in data:
        return None
    table = reader.table(data, "table", "[table]")
    reader.keys(table, TABLE_KEYS, "[table]")
    number = table.get("number")
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise reader.fail("[table] 'number'", f"must be a positive integer, got {_describe(number)}")
    title = reader.text(table, "title", "[table] 'title'")
    if not title:
        raise reader.fail("[table]", "needs a title = '...'")
    citation, protocol = (reader.text(table, key, f"[table] '{key}'") for key in ("citation", "protocol"))
    return TableMeta(number, title, citation, protocol)


def _data_options(reader: _Reader, data: Mapping[str, Any], folder: Path) -> dict[str, Any]:
    roots = reader.table(data, "roots", "[roots]")
    for dataset, root in roots.items():
        if dataset not in list_datasets():
            raise reader.fail("[roots]", f"unknown dataset '{dataset}'{did_you_mean(dataset, list_datasets())}")
        if not isinstance(root, str) or not root:
            raise reader.fail(f"[roots] '{dataset}'", f"must be a folder path, got {_describe(root)}")
    legacy = data.get("legacy_text_order", False)
    if not isinstance(legacy, bool):
        raise reader.fail("'legacy_text_order'", f"must be true or false, got {_describe(legacy)}")
    samples = data.get("demo_samples")
    if samples is not None and (not isinstance(samples, int) or isinstance(samples, bool) or samples < 2):
        raise reader.fail("'demo_samples'", f"must be an integer of at least 2, got {_describe(samples)}")
    return {
        # Relative roots are relative to the file, so a file and its data can move together.
        "roots": {name: str((folder / Path(root).expanduser()).resolve()) for name, root in roots.items()},
        "legacy_text_order": legacy,
        "demo_samples": samples,
    }


def parse_experiment(data: Mapping[str, Any], path: str, content: bytes = b"") -> Experiment:
    """An `Experiment` from a parsed file (`path` names it in messages)."""
    reader = _Reader(path)
    reader.keys(data, TOP_KEYS)
    shared = tuple(reader.table(data, "overrides", "[overrides]").items())
    methods = reader.names(data, "methods", [*_method_names(), ALL_METHODS], "method")
    all_methods = ALL_METHODS in methods
    if all_methods and len(methods) > 1:
        raise reader.fail("'methods'", 'is either "all" or a list of method names, not both')
    rows = [] if all_methods else [Row(method, method, (), None, shared, path, "'methods'") for method in methods]
    rows += _grid_rows(reader, reader.table(data, "grid", "[grid]"), shared)
    runs, absent = _run_rows(reader, data.get("runs", []), shared)
    rows += runs
    if not rows and not all_methods:
        raise reader.fail("", "names nothing to run: add methods = [...], a [grid.<method>] or [[runs]] entries")
    table = _table_meta(reader, data)
    if table is not None and all_methods:
        raise reader.fail("[table]", 'a table lists its rows: replace methods = "all" by the method names')
    stem = Path(path).stem
    return Experiment(
        path=path,
        name=reader.text(data, "name", "'name'", stem) or stem,
        sha256=hashlib.sha256(content).hexdigest(),
        rows=tuple(rows),
        absent=tuple(absent),
        all_methods=all_methods,
        datasets=reader.names(data, "datasets", list_datasets(), "dataset"),
        features=reader.names(data, "features", list_feature_sets(), "feature set"),
        seeds=reader.seeds(data),
        shared=shared,
        table=table,
        description=reader.text(data, "description", "'description'"),
        **_data_options(reader, data, Path(path).parent),
    )


def load_experiment(path: str | Path) -> Experiment:
    """Read and check an experiment file (see `docs/experiment-files.md` for the format)."""
    data = read_toml(path, "experiment file")
    return parse_experiment(data, str(path), Path(path).read_bytes())


def table_features(experiment: Experiment) -> str:
    """The one feature set a reference table runs on."""
    if len(experiment.features) > 1:
        raise experiment.error("'features'", "a table runs on one feature set; split it into one file per set")
    return experiment.features[0] if experiment.features else DEFAULT_FEATURES
