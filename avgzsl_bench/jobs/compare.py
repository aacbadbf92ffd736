"""`compare`: find two configurations' stored runs, refuse pairs that are not comparable, and report.

A configuration is named by `METHOD[:KEY=VALUE,...]` (resolved like `run --methods METHOD --set ...`
on a data source, so it matches runs by configuration hash) or by a prefix of a configuration hash
or run key. Two configurations are compared only on seeds both ran, on the same data (fingerprint),
from per-sample predictions whose HM is the stored one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from avgzsl_bench.api import METHODS
from avgzsl_bench.datasets import DataSource
from avgzsl_bench.datasets.fingerprint import short_fingerprint
from avgzsl_bench.errors import BenchError
from avgzsl_bench.jobs.job import make_jobs
from avgzsl_bench.reports.compare import (
    SplitPredictions,
    check_paired,
    class_differences,
    compare_seed,
    render_comparison,
)
from avgzsl_bench.store.records import RunRecord
from avgzsl_bench.store.sqlite import ResultStore

HM_TOLERANCE = 0.05  # stored HM is float32 percent; recomputed from predictions it agrees to rounding


@dataclass(frozen=True)
class Selection:
    token: str
    runs: dict[int, RunRecord]  # by seed

    @property
    def first(self) -> RunRecord:
        return next(iter(self.runs.values()))

    def describe(self) -> str:
        run = self.first
        kind = ", an evaluation of trained models" if run.kind == "evaluation" else ""
        return f"`{self.token}`: {run.method}, config {run.config_hash}{kind}"


def _parse_settings(text: str) -> dict[str, Any]:
    from avgzsl_bench.cli.common import parse_override

    settings = {}
    for item in filter(None, text.split(",")):
        key, value = parse_override(item)
        settings[key] = value
    return settings


def select(
    token: str, records: Sequence[RunRecord], source: Callable[[], DataSource], overrides: Mapping[str, Any]
) -> Selection:
    """The stored runs of the configuration `token` names (see the module docstring); `overrides`
    go under a METHOD selector's own settings."""
    method, _, settings = token.partition(":")
    if method in METHODS or settings:
        (job,) = make_jobs([method], source(), [0], {**overrides, **_parse_settings(settings)})
        chosen = [record for record in records if record.config_hash == job.config_hash]
        where = f"config {job.config_hash} on {job.source.label}"
    else:
        chosen = [record for record in records if record.config_hash.startswith(token) or record.key.startswith(token)]
        where = "no configuration hash or run key starts with it"
        hashes = sorted({record.config_hash for record in chosen})
        if len(hashes) > 1:
            raise BenchError(f"'{token}' matches {len(hashes)} configurations ({', '.join(hashes)}); give more digits")
    if not chosen:
        raise BenchError(f"'{token}' names no stored run ({where}); run it first, or see `bench.py leaderboard`")
    return Selection(token, {record.seed: record for record in chosen})


def _common_seeds(a: Selection, b: Selection, wanted: Sequence[int] | None) -> list[int]:
    seeds = sorted(set(a.runs) & set(b.runs) & (set(wanted) if wanted else set(a.runs)))
    if not seeds:
        raise BenchError(
            f"A and B share no seed{' among --seeds' if wanted else ''}: A ran {sorted(a.runs)}, B ran "
            f"{sorted(b.runs)}; run both with the same --seeds"
        )
    return seeds


def _check_data(a: Selection, b: Selection, seeds: Sequence[int]) -> list[str]:
    """Refuse different data; the warnings for runs whose data version was not recorded."""
    ra, rb = a.first, b.first
    if (ra.dataset, ra.features) != (rb.dataset, rb.features):
        raise BenchError(f"A ran on {ra.dataset}/{ra.features}, B on {rb.dataset}/{rb.features}: not the same data")
    warnings = []
    for seed in seeds:
        fa, fb = a.runs[seed].data_fingerprint, b.runs[seed].data_fingerprint
        if fa and fb and fa != fb:
            raise BenchError(
                f"seed {seed}: A ({a.runs[seed].key}) and B ({b.runs[seed].key}) ran on different data versions "
                f"({short_fingerprint(fa)} vs {short_fingerprint(fb)}); compare runs of one data version"
            )
        if not (fa and fb):
            warnings.append(f"seed {seed}: a data fingerprint is unrecorded, the same data cannot be confirmed")
    return warnings


def _predictions(store: ResultStore, record: RunRecord) -> SplitPredictions:
    predictions = store.predictions(record.key)
    if predictions is None:
        raise BenchError(
            f"run {record.key} has no stored per-sample predictions (stored by an older version); rerun its "
            "configuration with this version into another store (--store NEW.sqlite: stored runs are read "
            "back, not retrained), then compare there"
        )
    split = SplitPredictions(predictions, frozenset(record.unseen_classes))
    if not record.unseen_classes or not math.isclose(split.hm(), record.hm, abs_tol=HM_TOLERANCE):
        raise BenchError(
            f"run {record.key}: its stored predictions give HM {split.hm():.2f}, its record {record.hm:.2f}; "
            "they do not belong together, rerun the configuration"
        )
    return split


def compare_configurations(
    a_token: str,
    b_token: str,
    store_path: str | Path,
    source: Callable[[], DataSource],
    overrides: Mapping[str, Any] | None = None,
    seeds: Sequence[int] | None = None,
    top: int = 10,
) -> str:
    """The markdown comparison of B against A; `BenchError` for pairs that cannot be compared."""
    if top < 1:
        raise BenchError(f"--top must be at least 1, got {top}")
    store = ResultStore(store_path, read_only=True)
    records = store.runs()
    a, b = (select(token, records, source, overrides or {}) for token in (a_token, b_token))
    if a.first.config_hash == b.first.config_hash:
        raise BenchError(f"A and B are the same configuration ({a.first.config_hash})")
    common = _common_seeds(a, b, seeds)
    warnings = _check_data(a, b, common)
    pairs = []
    for seed in common:
        pair = (_predictions(store, a.runs[seed]), _predictions(store, b.runs[seed]))
        problem = check_paired(*pair)
        if problem:
            raise BenchError(f"seed {seed}: {a.runs[seed].key} and {b.runs[seed].key} cannot be paired: {problem}")
        pairs.append(pair)
    run = a.first
    heading = [
        f"### compare on {run.dataset} ({run.feature_set}), seeds {', '.join(map(str, common))}",
        "",
        f"- A = {a.describe()}",
        f"- B = {b.describe()}, differing in {_differences(a.first, b.first)}",
        f"- data version {short_fingerprint(run.data_fingerprint) or 'unrecorded'}",
        *(f"- **warning: {warning}**" for warning in warnings),
        *(["- **SYNTHETIC demo data: the numbers test the harness, not methods.**"] if run.synthetic else []),
    ]
    results = [compare_seed(seed, *pair) for seed, pair in zip(common, pairs)]
    return render_comparison(heading, results, class_differences(pairs), top)


def _differences(a: RunRecord, b: RunRecord) -> str:
    if a.method != b.method:
        return f"method ({a.method} vs {b.method})"
    changed = [
        f"{key}={a.hparams.get(key)!r}→{b.hparams.get(key)!r}"
        for key in sorted(set(a.hparams) | set(b.hparams))
        if a.hparams.get(key) != b.hparams.get(key)
    ]
    return ", ".join(changed) or "nothing but the data source"
