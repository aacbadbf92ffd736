"""`Job`: one run of one method on one data source with one seed, and the request that makes jobs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from avgzsl_bench.api import get_method
from avgzsl_bench.datasets import DataSource
from avgzsl_bench.errors import BenchError
from avgzsl_bench.jobs.defaults import DEFAULT_THREADS
from avgzsl_bench.nn.dropout import RNG_VERSION
from avgzsl_bench.store.records import config_hash, run_key


@dataclass(frozen=True)
class Job:
    method: str
    source: DataSource
    seed: int
    overrides: tuple[tuple[str, Any], ...] = ()
    threads: int = field(default=DEFAULT_THREADS, compare=False)

    def __str__(self) -> str:
        return f"{self.method} on {self.source.label}, seed {self.seed}"

    def hparams(self) -> dict[str, Any]:
        source = self.source
        return get_method(self.method).hparams(
            source.dataset, dict(self.overrides), source.features, source.spec.dims.text_names
        )

    def config(self) -> dict[str, Any]:
        """Everything that determines the result except the seed (`rng`: how dropout masks are drawn;
        `pooling`: how a method built for vectors sees a temporal feature set)."""
        config = {"method": self.method, "data": self.source.identity(), "hparams": self.hparams(), "rng": RNG_VERSION}
        pooling = pooling_of(self.method, self.source)
        if pooling is not None:
            config["pooling"] = pooling
        return config

    @property
    def config_hash(self) -> str:
        return config_hash(self.config())

    @property
    def key(self) -> str:
        return run_key(self.method, self.source.dataset, self.config(), self.seed)


def make_jobs(
    methods: Iterable[str],
    source: DataSource,
    seeds: Iterable[int],
    overrides: Mapping[str, Any] | None = None,
    threads: int = DEFAULT_THREADS,
) -> list[Job]:
    """One job per method and seed; unknown methods and bad hyper-parameter values fail here."""
    if threads < 1:
        raise BenchError(f"--threads must be at least 1, got {threads}")
    frozen = tuple(sorted((overrides or {}).items()))
    jobs = [Job(method, source, seed, frozen, threads) for method in methods for seed in seeds]
    for job in jobs:
        job.hparams()
        problem = data_problem(job.method, source)
        if problem:
            raise BenchError(problem)
    return jobs


def pooling_of(method: str, source: DataSource) -> str | None:
    """The temporal pooling `method` sees `source`'s sequences through; None when nothing is pooled."""
    cls = get_method(method).cls
    return cls.pooling if source.spec.temporal and not cls.temporal else None


def data_problem(method: str, source: DataSource) -> str:
    """Why `method` cannot run on `source`'s kind of features ("" when it can)."""
    return get_method(method).data_problem(source.spec.temporal, source.label)
