"""An experiment file and the command line -> data sources and jobs, checked before anything runs.

Precedence, weakest first: a method's defaults, the file's `[overrides]`, the command line's `--set`
and `--epochs`, a row's own overrides (a grid point or a `[[runs]]` entry: they define the row, as a
table row defines the table). Datasets, feature sets and seeds given on the command line replace
the file's. Every hyper-parameter is checked by the method's spec, the one checker of `--set`
values; a failure names the file and the section (or the option) that supplied the value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from avgzsl_bench.api import get_method
from avgzsl_bench.datasets import DEFAULT_FEATURES, DataSource, check_layout
from avgzsl_bench.errors import BenchError
from avgzsl_bench.experiments.schema import Experiment, Row
from avgzsl_bench.jobs.defaults import DEFAULT_THREADS
from avgzsl_bench.jobs.job import Job, make_jobs

DEFAULT_SEEDS = (42,)
DEFAULT_DATASET = "demo"


@dataclass(frozen=True)
class CommandLine:
    """What the command line sets beside an experiment file; empty/None leaves the choice to the file."""

    datasets: tuple[str, ...] = ()
    root: str | None = None
    features: str | None = None
    seeds: tuple[int, ...] = ()
    overrides: Mapping[str, Any] = field(default_factory=dict)
    legacy_text_order: bool = False
    demo_samples: int | None = None
    cache_dir: str | None = None
    threads: int = DEFAULT_THREADS


def experiment_sources(experiment: Experiment, line: CommandLine) -> list[DataSource]:
    """The data sources the experiment runs on: every dataset with every feature set."""
    datasets = line.datasets or experiment.datasets or (DEFAULT_DATASET,)
    features = (line.features,) if line.features else experiment.features or (DEFAULT_FEATURES,)
    where = f"{experiment.path}: 'datasets'" if experiment.datasets and not line.datasets else "--dataset"
    if line.root and len(datasets) > 1:
        raise BenchError(
            f"--root names one dataset's folder, but {experiment.path} runs on {', '.join(datasets)}; "
            "give each dataset's folder under [roots] in the file"
        )
    samples = line.demo_samples or experiment.demo_samples
    sources = []
    for dataset in datasets:
        for feature_set in features:
            options = {"demo_samples_per_class": samples} if samples else {}
            try:
                sources.append(
                    DataSource(
                        dataset,
                        line.root or experiment.roots.get(dataset),
                        line.legacy_text_order or experiment.legacy_text_order,
                        cache_dir=line.cache_dir,
                        features=feature_set,
                        **options,
                    )
                )
            except BenchError as error:
                raise BenchError(f"{where}: {error}") from None
    return sources


def experiment_seeds(experiment: Experiment, line: CommandLine) -> tuple[int, ...]:
    return line.seeds or experiment.seeds or DEFAULT_SEEDS


def check_data(sources: Iterable[DataSource]) -> None:
    """Every released dataset's folder is complete (reading no feature file: cheap, for `validate`)."""
    for source in sources:
        if source.root is not None:
            check_layout(source.root, source.spec)


def rows_on(experiment: Experiment, source: DataSource) -> list[Row]:
    """The experiment's rows on one source (`methods = "all"`: those that can run on its data)."""
    if not experiment.all_methods:
        return list(experiment.rows)
    from avgzsl_bench.jobs.run import method_names

    names = method_names("all", source)
    return [Row(name, name, (), None, experiment.shared, experiment.path, "'methods'") for name in names] + list(
        experiment.rows
    )


def _check_row(row: Row, source: DataSource, overrides: Mapping[str, Any]) -> None:
    """Check the row's values layer by layer, so that a failure names who supplied the value."""
    spec = get_method(row.method)
    layers = (
        (f"{row.file}: [overrides]", dict(row.shared)),
        ("--set/--epochs", dict(overrides)),
        (f"{row.file}: {row.section}", dict(row.overrides)),
    )
    merged: dict[str, Any] = {}
    for index, (where, values) in enumerate(layers):
        merged.update(values)
        last = index == len(layers) - 1
        try:
            spec.hparams(source.dataset, merged, source.features, source.spec.dims.text_names if last else None)
        except BenchError as error:
            raise BenchError(f"{where}: {error}") from None


def row_jobs(
    row: Row,
    source: DataSource,
    seeds: Sequence[int],
    overrides: Mapping[str, Any] | None = None,
    threads: int = DEFAULT_THREADS,
) -> list[Job]:
    """One row's jobs on one source; `overrides` are the command line's."""
    overrides = overrides or {}
    _check_row(row, source, overrides)
    return make_jobs([row.method], source, seeds, {**dict(row.shared), **overrides, **dict(row.overrides)}, threads)


def experiment_jobs(
    rows: Iterable[tuple[Row, DataSource]],
    seeds: Sequence[int],
    overrides: Mapping[str, Any] | None = None,
    threads: int = DEFAULT_THREADS,
) -> list[Job]:
    """The jobs of (row, source) pairs, each run once: rows that resolve to the same configuration
    (e.g. a table's full model and a grid point at the defaults) share their jobs."""
    unique: dict[str, Job] = {}
    for row, source in rows:
        for job in row_jobs(row, source, seeds, overrides, threads):
            unique.setdefault(job.key, job)
    return list(unique.values())


def plan(experiment: Experiment, line: CommandLine) -> tuple[list[DataSource], list[Job]]:
    """The sources and jobs of `run --config`, every value checked."""
    sources = experiment_sources(experiment, line)
    pairs = [(row, source) for source in sources for row in rows_on(experiment, source)]
    return sources, experiment_jobs(pairs, experiment_seeds(experiment, line), line.overrides, line.threads)
