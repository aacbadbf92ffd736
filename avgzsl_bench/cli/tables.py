"""`bench.py tables`: the reference tables beside our numbers; runs what the store lacks first."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from avgzsl_bench.cli import common
from avgzsl_bench.errors import BenchError
from avgzsl_bench.executors.progress import make_reporter
from avgzsl_bench.reports.paper import (
    DEFAULT_TABLE_SEEDS,
    PAPER_REFERENCE,
    TABLE_FILES,
    PaperReference,
    TableSpec,
    load_paper_reference,
    parse_table_numbers,
)
from avgzsl_bench.store.sqlite import ResultStore

EXAMPLES = """\
  python bench.py tables all --dataset demo                   # Tables 1-4 on synthetic data (3 seeds)
  python bench.py tables 1 --roots ucf=/data/UCF activitynet=/data/ActivityNet vggsound=/data/VGGSound
  python bench.py tables 2 3 --dataset ucf --root /data/UCF --tables-out results/tables.md
  python bench.py tables 5 --features selavi --roots ucf=/data/avgzsl_benchmark_datasets/UCF
  python bench.py tables 8 --features c3d-vggish-temporal --roots ucf=/data/avgzsl_benchmark_non_averaged_datasets/UCF
(`all` means every table on the chosen feature set: 1-4 and 7 on clip-clap, 5 on selavi, 6 on c3d-vggish,
8 on c3d-vggish-temporal.)"""


def add_parser(subparsers: Any) -> None:
    parser = common.subparser(
        subparsers,
        "tables",
        "render the reference tables (the ClipClap paper's 1: all methods, 2: label "
        "embedding, 3: input modality, 4: loss terms; 5/6: the AVCA-GZSL SeLaVi/C3D-VGGish features; "
        "7: a newer method; 8: the temporal benchmark, TCAF's README) with our numbers beside the "
        "published ones; runs the jobs the store does not hold yet",
        EXAMPLES,
    )
    parser.add_argument("numbers", nargs="*", default=["all"], metavar="N", help="table numbers, or all")
    common.add_data_arguments(parser)
    common.add_roots_argument(parser)
    parser.add_argument("--tables-out", metavar="FILE", help="also write the rendered tables to this file")
    parser.add_argument(
        "--paper-reference",
        default=str(PAPER_REFERENCE),
        help="TOML file with the published numbers; each table's rows are an experiment file in "
        f"{TABLE_FILES} (validate or run one alone with `bench.py validate`/`run --config`)",
    )
    common.add_training_arguments(parser, default_seeds=DEFAULT_TABLE_SEEDS)
    common.add_store_arguments(parser)
    common.add_executor_arguments(parser)
    parser.set_defaults(handler=main)


def chosen_tables(reference: PaperReference, numbers: list[str], features: set[str]) -> list[TableSpec]:
    """The tables asked for; "all" keeps those on the sources' feature sets, a named one must match."""
    specs = [reference.table(number) for number in parse_table_numbers(numbers, reference.numbers)]
    if "all" in numbers:
        specs = [spec for spec in specs if spec.features in features]
    for spec in specs:
        if spec.features not in features:
            raise BenchError(
                f"Table {spec.number} runs on the '{spec.features}' features; pass --features {spec.features}"
            )
    if not specs:
        raise BenchError(f"no table runs on the features {', '.join(sorted(features))}")
    return specs


def main(args: argparse.Namespace) -> int:
    from avgzsl_bench.jobs.run import run_jobs
    from avgzsl_bench.jobs.tables import row_lookup, table_jobs
    from avgzsl_bench.reports.tables import render_table

    reference = load_paper_reference(args.paper_reference)
    sources, overrides = common.data_sources(args), common.overrides(args)
    specs = chosen_tables(reference, list(args.numbers), {source.features for source in sources})
    jobs = table_jobs(specs, sources, args.seeds, overrides, args.threads)
    with make_reporter(args.quiet) as reporter:
        report = run_jobs(jobs, **common.run_options(args, reporter))
        lookup = row_lookup(report.records, args.seeds, overrides)
        path = common.store_path(args)
        evaluations = ResultStore(path, read_only=True).runs(kind="evaluation") if path else []
        markdown = "\n".join(
            render_table(spec, reference, sources, args.seeds, lookup, overrides, evaluations) for spec in specs
        )
        if args.tables_out:
            Path(args.tables_out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.tables_out).write_text(markdown, encoding="utf-8")
            reporter.note(f"tables written to {args.tables_out}")
    print(markdown)
    return 1 if report.failures else 0
