"""Aggregate run records over seeds and render them as a markdown table."""

from __future__ import annotations

import statistics
from collections.abc import Iterable

from tabulate import tabulate

from avgzsl_bench.artefacts.provenance import UNVERIFIED_LABEL, VERIFIED
from avgzsl_bench.store.records import METRICS, RunRecord

# Column name of the paper -> attribute of a run record.
METRIC_COLUMNS = dict(zip(("S", "U", "HM", "ZSL"), METRICS))


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def format_mean_std(values: list[float]) -> str:
    mean, std = mean_std(values)
    return f"{mean:.2f} ± {std:.2f}" if len(values) > 1 else f"{mean:.2f}"


def provenance_verified(record: RunRecord) -> bool:
    """Whether an evaluated row's models were shown to be trained on its data (trained rows always are)."""
    return record.kind != "evaluation" or record.config.get("models", {}).get("provenance") == VERIFIED


def method_label(record: RunRecord) -> str:
    """The method's name, marked when the row evaluated trained models instead of training them, and
    when what those models were trained on could not be verified."""
    if record.kind != "evaluation":
        return record.method
    return f"{record.method} (evaluated{'' if provenance_verified(record) else ', ' + UNVERIFIED_LABEL})"


def group_by_config(records: Iterable[RunRecord]) -> dict[str, list[RunRecord]]:
    """Records of the same configuration (all seeds), in first-seen order."""
    groups: dict[str, list[RunRecord]] = {}
    for record in records:
        groups.setdefault(record.config_hash, []).append(record)
    return groups


def results_table(records: Iterable[RunRecord]) -> str:
    rows = []
    for group in group_by_config(records).values():
        first = group[0]
        rows.append(
            [
                method_label(first),
                first.dataset,
                len(group),
                *(format_mean_std([getattr(record, metric) for record in group]) for metric in METRICS),
                format_mean_std([float(record.best_epochs) for record in group]),
                format_mean_std([sum(record.timings.values()) for record in group]),
            ]
        )
    headers = ["method", "dataset", "runs", *METRIC_COLUMNS, "best epoch", "seconds"]
    return tabulate(rows, headers=headers, tablefmt="github")
