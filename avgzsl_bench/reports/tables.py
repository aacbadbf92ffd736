"""The reference tables (the ClipClap paper's Tables 1-4, the AVCA-GZSL feature sets, newer methods):
our numbers beside the published ones as markdown.

A table is data (`reports.paper`): rows of (label, method, overrides, paper result id). The job
layer makes and runs the jobs a table needs (`jobs.tables`) and hands `render_table` a lookup that
gives each row its stored runs; this module only reads records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tabulate import tabulate

from avgzsl_bench.artefacts.provenance import UNVERIFIED_LABEL
from avgzsl_bench.datasets import DataSource, list_datasets
from avgzsl_bench.experiments.schema import Row
from avgzsl_bench.reports import data_version
from avgzsl_bench.reports.paper import PaperReference, TableSpec
from avgzsl_bench.reports.statistics import SIGNIFICANCE_COLUMNS, SIGNIFICANCE_NOTE, significance_cells
from avgzsl_bench.reports.summary import METRIC_COLUMNS, format_mean_std, mean_std, provenance_verified
from avgzsl_bench.store.frame import results_frame
from avgzsl_bench.store.records import RunRecord

MISSING = "—"


def order_sources(sources: Iterable[DataSource]) -> list[DataSource]:
    """The registry's order: the ClipClap paper's columns (VGGSound, UCF, ActivityNet), then the rest."""
    rank = {name: index for index, name in enumerate(list_datasets())}
    return sorted(sources, key=lambda source: rank.get(source.dataset, len(rank)))


@dataclass
class RowRuns:
    """What a table row shows for one data source: its stored runs, and its resolved
    hyper-parameters (evaluations of trained models appear under the row whose settings they match)."""

    runs: list[RunRecord]
    hparams: dict[str, Any]


RowLookup = Callable[[Row, DataSource], RowRuns]


def format_cell(values: list[float], paper: float | None, synthetic: bool) -> str:
    """'ours mean ± std (paper P, Δ ours−P)'; the paper part is '—' where there is none."""
    if not values:
        return MISSING
    ours = format_mean_std(values)
    if paper is None or synthetic:
        return f"{ours} (paper {MISSING})"
    return f"{ours} ({paper:.2f}, Δ {mean_std(values)[0] - paper:+.2f})"


def matching_sources(spec: TableSpec, sources: Sequence[DataSource]) -> list[DataSource]:
    """The sources a table runs on: those with the table's feature set."""
    return [source for source in sources if source.features == spec.features]


def _block(
    spec: TableSpec,
    reference: PaperReference,
    source: DataSource,
    seeds: Sequence[int],
    lookup: RowLookup,
    evaluations: Sequence[RunRecord],
) -> list[str]:
    """One dataset's block: our metrics beside the published ones (and rows of evaluated trained
    models under the table row they match), with the significance columns over all its rows."""
    synthetic = source.spec.synthetic
    entries: list[tuple[str, str, Row, list[RunRecord]]] = []
    for row in spec.rows:
        found = lookup(row, source)
        entries.append((row.label, f"{len(found.runs)}/{len(seeds)}", row, found.runs))
        for label, evaluated in _evaluated_rows(evaluations, row, source, found.hparams):
            entries.append((label, f"{len(evaluated)} eval.", row, evaluated))
    frames = [results_frame(runs) for *_, runs in entries]
    present = [index for index, frame in enumerate(frames) if not frame.empty]
    significance = dict(zip(present, significance_cells([frames[index] for index in present])))
    mixed = data_version.mixes_versions([runs for *_, runs in entries])
    rows = [
        [
            label,
            count,
            *([data_version.version_cell(runs) if runs else MISSING] if mixed else []),
            *_cells(runs, reference, row, source, synthetic),
            *significance.get(index, (MISSING, MISSING)),
        ]
        for index, (label, count, row, runs) in enumerate(entries)
    ]
    headers = ["method", "runs", *([data_version.COLUMN] if mixed else []), *METRIC_COLUMNS, *SIGNIFICANCE_COLUMNS]
    title = f"#### {source.spec.paper_name} (features: {source.feature_set})"
    note = ["", data_version.version_note([runs for *_, runs in entries])] if mixed else []
    return ["", title, *note, "", tabulate(rows, headers=headers, tablefmt="github")]


def render_table(
    spec: TableSpec,
    reference: PaperReference,
    sources: Sequence[DataSource],
    seeds: Sequence[int],
    lookup: RowLookup,
    overrides: Mapping[str, Any] | None = None,
    evaluations: Sequence[RunRecord] = (),
) -> str:
    """Markdown for one table, one block per dataset with the table's feature set; `lookup` gives a
    row its stored runs (`jobs.tables.row_lookup`); `overrides` are the user's settings, stated.

    `evaluations` (records of `bench.py evaluate`, e.g. the authors' released checkpoints) add a row
    under each table row whose method and settings they match, marked as evaluated, not trained here.
    """
    sources = matching_sources(spec, sources)
    seed_text = ", ".join(map(str, seeds))
    lines = [f"### Table {spec.number}: {spec.title}", ""]
    if any(source.spec.synthetic for source in sources):
        lines += [
            "**SYNTHETIC demo data: these numbers test the harness, not the methods; "
            "the paper has no numbers for it.**",
            "",
        ]
    citation = spec.citation or f"{reference.citation}, {reference.protocol}"
    lines.append(
        f"Cell: ours, mean ± std over seeds {seed_text} (the paper's number, Δ = ours − paper). Paper: {citation}."
    )
    lines.append(SIGNIFICANCE_NOTE)
    if spec.absent:
        lines.append(f"Not shown, their method plugins are not installed here: {', '.join(spec.absent)}.")
    if overrides:
        settings = ", ".join(f"{key}={value}" for key, value in sorted(overrides.items()))
        lines.append(f"Run with non-default settings: {settings} (the paper used the method defaults).")
    for source in order_sources(sources):
        lines += _block(spec, reference, source, seeds, lookup, evaluations)
    return "\n".join(lines) + "\n"


def _cells(
    runs: Sequence[RunRecord], reference: PaperReference, row: Row, source: DataSource, synthetic: bool
) -> list[str]:
    return [
        format_cell(
            [float(getattr(run, key)) for run in runs], reference.value(row.paper, source.dataset, column), synthetic
        )
        for column, key in METRIC_COLUMNS.items()
    ]


def _evaluated_rows(
    evaluations: Sequence[RunRecord], row: Row, source: DataSource, wanted: Mapping[str, Any]
) -> list[tuple[str, list[RunRecord]]]:
    """Evaluations of this row's method on this dataset with its hyper-parameters, one row per origin."""
    label = row.label
    matching = [
        record
        for record in evaluations
        if record.kind == "evaluation"
        and record.method == row.method
        and record.dataset == source.dataset
        and record.features == source.features
        and record.hparams == wanted
    ]
    by_origin: dict[str, list[RunRecord]] = {}
    for record in matching:
        origin = str(record.config.get("models", {}).get("origin", "saved models"))
        if not provenance_verified(record):
            origin += ", " + UNVERIFIED_LABEL
        by_origin.setdefault(origin, []).append(record)
    return [(f"{label} ({origin}, evaluated)", runs) for origin, runs in by_origin.items()]
