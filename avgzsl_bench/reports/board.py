"""The leaderboard's row model: what a board of one dataset and feature set shows, computed once.

The markdown board (`reports.leaderboard`) and the HTML site (`reports.site`) are two renderers of
the same `Board`: its ranked rows (one per configuration, best mean test HM first) with their 95%
interval and test against the best row (`reports.statistics`), and, for the site, the published
numbers of the reference file as unranked rows. Every row says where its numbers come from
(`PROVENANCE`) and which data they were computed from (the runs' data fingerprints).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from avgzsl_bench.api import get_method
from avgzsl_bench.datasets import get_dataset
from avgzsl_bench.datasets.types import DEFAULT_FEATURES
from avgzsl_bench.errors import BenchError
from avgzsl_bench.reports.paper import PaperReference
from avgzsl_bench.reports.statistics import Comparison, Interval, interval_label, significance, versus_label
from avgzsl_bench.reports.summary import METRIC_COLUMNS, format_mean_std, method_label, provenance_verified
from avgzsl_bench.store.records import RunRecord

TRAINED = "trained here"
EVALUATED_RELEASED = "evaluated released checkpoint"
EVALUATED_SAVED = "evaluated saved checkpoint"
PUBLISHED = "published number"
CLAIM = "unpublished claim"
PROVENANCE = (TRAINED, EVALUATED_RELEASED, EVALUATED_SAVED, PUBLISHED, CLAIM)
MISSING = "—"


def settings_label(record: RunRecord) -> str:
    """The hyper-parameters that differ from the method's current defaults, e.g. 'text=clip'.

    Distinguishes ablation variants of one method on the board; '?' when the method that made
    the run is no longer registered, 'defaults' when nothing differs.
    """
    try:
        defaults = get_method(record.method).defaults(record.dataset, record.features)
    except BenchError:
        return "?"
    used = record.hparams
    changed = [f"{key}={value}" for key, value in sorted(used.items()) if defaults.get(key) != value]
    return ", ".join(changed) or "defaults"


def config_groups(runs: pd.DataFrame) -> list[pd.DataFrame]:
    """Runs grouped by configuration (all seeds), best mean test HM first."""
    groups = [group for _, group in runs.groupby("config_hash", sort=False)]
    return sorted(groups, key=lambda group: float(group["hm"].mean()), reverse=True)


def board_name(dataset: str, features: str) -> str:
    """File stem of a board: 'ucf' for the CLIP/CLAP features, 'ucf-selavi' for another feature set."""
    return dataset if features == DEFAULT_FEATURES else f"{dataset}-{features}"


def board_title(dataset: str, features: str) -> str:
    try:
        spec = get_dataset(dataset, features)
    except BenchError:  # a dataset whose plugin is no longer installed
        return dataset if features == DEFAULT_FEATURES else f"{dataset} ({features} features)"
    return spec.paper_name if features == DEFAULT_FEATURES else f"{spec.paper_name}, {spec.feature_label} features"


def provenance(record: RunRecord) -> str:
    """Where a stored run's numbers come from: trained by this harness, or an evaluation of models
    it did not train (the authors' released checkpoints, or checkpoints saved by another run)."""
    if record.kind != "evaluation":
        return TRAINED
    origin = str(record.config.get("models", {}).get("origin", ""))
    return EVALUATED_RELEASED if origin == "reference checkpoint" else EVALUATED_SAVED


@dataclass(frozen=True)
class BoardRow:
    """One row: a configuration's runs (ranked), or a number from the reference file (rank None)."""

    rank: int | None
    provenance: str  # one of PROVENANCE
    method: str  # as shown, e.g. 'clipclap (evaluated)'
    settings: str
    config: str  # the configuration hash; "" for a reference row
    features: str
    values: Mapping[str, tuple[float, ...]]  # metric -> one value per seed (a reference: one, or none)
    seeds: tuple[int, ...] = ()
    interval: Interval | None = None
    comparison: Comparison | None = None  # None for the best row and for reference rows
    date: str = ""
    git: str = ""
    records: tuple[RunRecord, ...] = ()
    source: str = ""  # where a reference row's number is published or claimed

    @property
    def ranked(self) -> bool:
        return self.rank is not None

    def cell(self, metric: str) -> str:
        values = self.values.get(metric, ())
        return format_mean_std(list(values)) if values else MISSING

    def mean(self, metric: str) -> float | None:
        values = self.values.get(metric, ())
        return sum(values) / len(values) if values else None

    @property
    def ci_cell(self) -> str:
        return interval_label(self.interval) if self.ranked else MISSING

    @property
    def versus_cell(self) -> str:
        return versus_label(self.comparison) if self.ranked else MISSING


@dataclass(frozen=True)
class Board:
    dataset: str
    features: str
    title: str
    synthetic: bool
    rows: tuple[BoardRow, ...]  # ranked, best first
    references: tuple[BoardRow, ...] = field(default=())  # published numbers and claims, by HM

    @property
    def name(self) -> str:
        return board_name(self.dataset, self.features)

    @property
    def evaluated(self) -> bool:
        """Whether any run scored models this harness did not train."""
        return any(record.kind == "evaluation" for row in self.rows for record in row.records)

    @property
    def unverified(self) -> bool:
        """Whether any evaluated row's models could not be shown to be trained on this data."""
        return not all(provenance_verified(record) for row in self.rows for record in row.records)


def _ranked_row(rank: int, group: pd.DataFrame, bounds: Interval | None, versus: Comparison | None) -> BoardRow:
    records: list[RunRecord] = list(group["record"])
    first = records[0]
    return BoardRow(
        rank=rank,
        provenance=provenance(first),
        method=method_label(first),
        settings=settings_label(first),
        config=first.config_hash,
        features=first.feature_set,
        values={metric: tuple(float(value) for value in group[metric]) for metric in METRIC_COLUMNS.values()},
        seeds=tuple(sorted({int(seed) for seed in group["seed"]})),
        interval=bounds,
        comparison=versus,
        date=str(group["created"].max())[:10],
        git=", ".join(sorted(set(group["git_revision"]))),
        records=tuple(records),
    )


def reference_rows(reference: PaperReference, dataset: str, features: str) -> list[BoardRow]:
    """The reference file's numbers for this dataset and feature set, once per result id (the first
    table citing an id names its source), highest HM first."""
    rows: dict[str, BoardRow] = {}
    for number in reference.numbers:
        table = reference.table(number)
        for row in table.rows:
            published = reference.results.get(row.paper or "", {}).get(dataset)
            if table.features != features or row.paper is None or not published or row.paper in rows:
                continue
            claim = reference.claims.get(row.paper)
            rows[row.paper] = BoardRow(
                rank=None,
                provenance=CLAIM if claim else PUBLISHED,
                method=row.method,
                settings=", ".join(f"{key}={value}" for key, value in row.overrides) or "defaults",
                config="",
                features=features,
                values={
                    key: (float(published[column]),) for column, key in METRIC_COLUMNS.items() if column in published
                },
                source=claim or table.citation or f"{reference.citation}, {reference.protocol}",
            )
    return sorted(rows.values(), key=lambda row: -(row.mean("hm") or 0.0))


def build_board(
    runs: pd.DataFrame, dataset: str, features: str, title: str = "", reference: PaperReference | None = None
) -> Board:
    """The board of one dataset and feature set from its runs (a `load_results` frame); with a
    reference, its published numbers join as unranked rows (never on synthetic data)."""
    groups = config_groups(runs)
    rows = tuple(
        _ranked_row(rank, group, bounds, versus)
        for rank, (group, (bounds, versus)) in enumerate(zip(groups, significance(groups)), start=1)
    )
    synthetic = bool(runs["synthetic"].any())
    references = () if reference is None or synthetic else tuple(reference_rows(reference, dataset, features))
    return Board(dataset, features, title or board_title(dataset, features), synthetic, rows, references)


def build_boards(runs: pd.DataFrame, reference: PaperReference | None = None) -> list[Board]:
    """One board per dataset and feature set with runs, in (dataset, feature set) order."""
    groups = sorted(runs.groupby(["dataset", "features"], sort=False), key=lambda item: item[0])
    return [
        build_board(board, str(dataset), str(features), reference=reference) for (dataset, features), board in groups
    ]
