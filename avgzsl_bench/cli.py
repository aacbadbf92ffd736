"""`python bench.py`: run methods through the two-stage GZSL protocol and print the results."""

from __future__ import annotations

import argparse
import ast
import sys
from typing import Any

from rich.console import Console

from avgzsl_bench.errors import BenchError
from avgzsl_bench.registry import list_methods
from avgzsl_bench.executors import add_executor_arguments, executor_from_args
from avgzsl_bench.reports import ReportRequest, add_report_arguments, normalise_argv
from avgzsl_bench.runner import DATASETS, DataSource, check_inputs, make_jobs
from avgzsl_bench.summary import results_table

DEFAULT_STORE = "results/avgzsl_bench.sqlite"


def _override(text: str) -> tuple[str, Any]:
    key, separator, value = text.partition("=")
    if not separator:
        raise argparse.ArgumentTypeError(f"--set expects key=value, got '{text}'")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench.py",
        description="Benchmark audio-visual GZSL methods with the standard two-stage protocol "
                    "(stage 1: train, choose epoch and calibration on val; stage 2: retrain on "
                    "train+val, test).",
    )
    parser.add_argument("--methods", default="clipclap",
                        help="comma-separated method names, or 'all' (see --list-methods)")
    parser.add_argument("--dataset", default="demo", choices=DATASETS,
                        help="'demo' is synthetic data generated offline; the others need --root")
    parser.add_argument("--root", help="dataset folder of the released CLIP/CLAP feature bundle")
    parser.add_argument("--seeds", type=int, nargs="+",
                        help="seeds to run (default: 42; 42 43 44 for --table)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    parser.add_argument("--epochs", type=int, help="override the method's stage-1 epochs")
    parser.add_argument("--set", dest="overrides", type=_override, action="append", default=[],
                        metavar="KEY=VALUE", help="override any hyper-parameter, e.g. --set text=clip")
    parser.add_argument("--legacy-text-order", action="store_true",
                        help="attach text embeddings to classes by list position, as the reference "
                             "code does (reproduces its ActivityNet/VGGSound class mix-ups)")
    parser.add_argument("--demo-samples", type=int, default=60,
                        help="demo data: samples per class (146 gives a UCF-sized set)")
    parser.add_argument("--store", default=DEFAULT_STORE,
                        help=f"SQLite results store; finished runs are skipped (default: {DEFAULT_STORE})")
    parser.add_argument("--no-store", action="store_true", help="keep results in memory only")
    parser.add_argument("--cache-dir", help="where the released bundle's fast cache goes")
    parser.add_argument("--list-methods", action="store_true", help="print the registered methods")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_executor_arguments(parser)  # --executor {local,ray,slurm}, --ray-address, --slurm-*
    add_report_arguments(parser)  # --table/--tables, --roots, --leaderboard, --figure
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(normalise_argv(sys.argv[1:] if argv is None else argv))
    console = Console(stderr=True)
    try:
        if args.list_methods:
            print("\n".join(list_methods()))
            return 0
        methods = list_methods() if args.methods == "all" else [m.strip() for m in args.methods.split(",") if m.strip()]
        overrides = dict(args.overrides)
        if args.epochs is not None:
            overrides["epochs"] = args.epochs
        source = DataSource(args.dataset, args.root, args.legacy_text_order, args.demo_samples, args.cache_dir)
        reports = ReportRequest.from_args(args, source, overrides, methods, console)
        seeds = args.seeds or reports.default_seeds
        jobs = reports.jobs(seeds) if reports.active else make_jobs(methods, source, seeds, overrides)
        if jobs and any(job.source.dataset == "demo" for job in jobs):
            console.print("[yellow]Dataset 'demo' is SYNTHETIC: the numbers test the harness, not methods.[/]")
        store = None if args.no_store else args.store
        check_inputs(jobs, store, args.device)
        with executor_from_args(args) as executor:
            report = executor.run(jobs, store, args.device)
        records = report.records
        if report.failures or report.retried:
            console.print(report.summary(), style="red" if report.failures else "yellow", markup=False)
        output = reports.finish(records, seeds) if reports.active else results_table(records)
    except BenchError as error:
        console.print(f"[red]error:[/] {error}")
        return 2
    if output:
        print(output)
    return 1 if report.failures else 0  # the table still shows the jobs that finished


if __name__ == "__main__":
    sys.exit(main())
