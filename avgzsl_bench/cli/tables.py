"""`bench.py tables`: the paper's Tables 1-4 beside our numbers; runs what the store lacks first."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from avgzsl_bench.cli import common
from avgzsl_bench.progress import make_reporter
from avgzsl_bench.reports.paper import PAPER_REFERENCE, load_paper_reference, parse_table_numbers
from avgzsl_bench.reports.tables import DEFAULT_TABLE_SEEDS, records_by_key, render_table, table_jobs
from avgzsl_bench.store import ResultStore

EXAMPLES = """\
  python bench.py tables all --dataset demo                   # Tables 1-4 on synthetic data (3 seeds)
  python bench.py tables 1 --roots ucf=/data/UCF activitynet=/data/ActivityNet vggsound=/data/VGGSound
  python bench.py tables 2 3 --dataset ucf --root /data/UCF --tables-out results/tables.md"""


def add_parser(subparsers: Any) -> None:
    parser = common.subparser(
        subparsers,
        "tables",
        "render the paper's tables (1: all methods, 2: label "
        "embedding, 3: input modality, 4: loss terms) with our numbers beside the "
        "paper's; runs the jobs the store does not hold yet",
        EXAMPLES,
    )
    parser.add_argument("numbers", nargs="*", default=["all"], metavar="N", help="table numbers 1-4, or all")
    common.add_data_arguments(parser)
    common.add_roots_argument(parser)
    parser.add_argument("--tables-out", metavar="FILE", help="also write the rendered tables to this file")
    parser.add_argument(
        "--paper-reference", default=str(PAPER_REFERENCE), help="TOML file with the paper's numbers and table layouts"
    )
    common.add_training_arguments(parser, default_seeds=DEFAULT_TABLE_SEEDS)
    common.add_store_arguments(parser)
    common.add_executor_arguments(parser)
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    reference = load_paper_reference(args.paper_reference)
    specs = [reference.table(number) for number in parse_table_numbers(args.numbers)]
    sources, overrides = common.data_sources(args), common.overrides(args)
    jobs = table_jobs(specs, sources, args.seeds, overrides, args.threads)
    with make_reporter(args.quiet) as reporter:
        report = common.execute(args, jobs, reporter)
        found = records_by_key(report.records)
        path = common.store_path(args)
        evaluations = ResultStore(path).runs(kind="evaluation") if path else []
        markdown = "\n".join(
            render_table(spec, reference, sources, args.seeds, found, overrides, evaluations) for spec in specs
        )
        if args.tables_out:
            Path(args.tables_out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.tables_out).write_text(markdown, encoding="utf-8")
            reporter.note(f"tables written to {args.tables_out}")
    print(markdown)
    return 1 if report.failures else 0
