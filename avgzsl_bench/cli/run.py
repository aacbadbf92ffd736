"""`bench.py run`: methods through the two-stage protocol on one dataset; a markdown results table."""

from __future__ import annotations

import argparse
from typing import Any

from avgzsl_bench.cli import common, experiment
from avgzsl_bench.errors import BenchError
from avgzsl_bench.executors.progress import make_reporter

EXAMPLES = """\
  python bench.py run --methods all --dataset demo            # every method on synthetic data
  python bench.py fetch clipclap-features && python bench.py --methods all --dataset ucf
  python bench.py --methods clipclap --dataset ucf --root /data/UCF --seeds 42 43 44
  python bench.py run --methods clipclap --dataset demo --save-models results/models
  python bench.py run --methods clipclap --set modality=audio --set lr=1e-3 --epochs 5
  python bench.py run --methods avca,cjme --executor ray --device cuda --gpus-per-job 0.2
  python bench.py run --methods all --dataset ucf --features selavi --root /data/avgzsl_benchmark_datasets/UCF
  python bench.py run --config experiments/clipclap-losses.toml --seeds 42 43 --epochs 2   # an experiment file
(`run` is the default subcommand: `python bench.py --methods ...` is the same command.)"""


def add_parser(subparsers: Any) -> None:
    parser = common.subparser(
        subparsers,
        "run",
        "run methods through the two-stage GZSL protocol "
        "(stage 1: train, choose epoch and calibration on val; stage 2: retrain on "
        "train+val, test) and print a results table",
        EXAMPLES,
    )
    parser.add_argument(
        "--methods", default="clipclap", help="comma-separated method names, or 'all' (see `bench.py methods`)"
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="an experiment file (TOML: methods, grids, datasets, feature sets, seeds, overrides; see "
        "docs/experiment-files.md and `bench.py validate`) instead of --methods; --dataset, --features, "
        "--seeds given here replace the file's, --set/--epochs go over its [overrides]",
    )
    common.add_data_arguments(parser)
    common.add_training_arguments(parser, default_seeds=[42])
    common.add_store_arguments(parser)
    parser.add_argument(
        "--save-models",
        metavar="DIR",
        help="also save each run's stage-1 best-epoch and stage-2 models as DIR/<run key>.pt "
        "(read by `bench.py evaluate`); stored runs without saved models are trained again",
    )
    common.add_executor_arguments(parser)
    experiment.mark_defaults(parser)
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    from avgzsl_bench.jobs.run import run_benchmark, run_jobs
    from avgzsl_bench.reports.summary import results_table

    if args.config:
        jobs, summary = _config_jobs(args)
    experiment.unmark(args)
    with make_reporter(args.quiet) as reporter:
        if args.config:
            reporter.note(summary)
            report = run_jobs(jobs, **common.run_options(args, reporter))
        else:
            report = run_benchmark(
                args.methods,
                common.data_source(args),
                args.seeds,
                common.overrides(args),
                threads=args.threads,
                **common.run_options(args, reporter),
            )
    print(results_table(report.records))
    return 1 if report.failures else 0  # the table still shows the jobs that finished


def _config_jobs(args: argparse.Namespace) -> tuple[list[Any], str]:
    """The experiment file's jobs, and the line that says which file (name and content hash) made them."""
    from avgzsl_bench.experiments.expand import plan

    if experiment.given(args, "methods"):
        raise BenchError(f"--methods and --config both name methods; list them in {args.config} instead")
    loaded = experiment.load(args.config)
    _, jobs = plan(loaded, experiment.command_line(args))
    return jobs, f"experiment '{loaded.name}' ({args.config}, sha256 {loaded.sha256[:12]}): {len(jobs)} runs"
