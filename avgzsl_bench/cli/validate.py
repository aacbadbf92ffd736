"""`bench.py validate`: check experiment files without running anything; list what they would run."""

from __future__ import annotations

import argparse
from typing import Any

from avgzsl_bench.cli import common, experiment

EXAMPLES = """\
  python bench.py validate experiments/clipclap-losses.toml
  python bench.py validate my-exp.toml --dataset ucf --root /data/UCF --seeds 42 43 44
  python bench.py validate avgzsl_bench/reports/experiments/table[1-4].toml --dataset demo
A file with a typo'd key, a value a method refuses, an unknown method/dataset/feature set or data that is
not there exits with code 2 and a message naming the file and the key; nothing is trained or stored.
Options are those of `run --config`: they change what is checked the way they change what runs."""


def add_parser(subparsers: Any) -> None:
    parser = common.subparser(
        subparsers,
        "validate",
        "check experiment files (keys, hyper-parameter values, methods, datasets, feature sets, data on "
        "disk) without training or storing anything, and list the runs each would make",
        EXAMPLES,
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="experiment files (TOML)")
    common.add_data_arguments(parser)
    common.add_training_arguments(parser, default_seeds=[42])
    experiment.mark_defaults(parser)
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from avgzsl_bench.experiments.expand import (
        check_data,
        experiment_seeds,
        experiment_sources,
        plan,
        row_jobs,
        rows_on,
    )

    line = experiment.command_line(args)
    for path in args.files:
        loaded = experiment.load(path)
        sources, jobs = plan(loaded, line)
        check_data(sources)
        seeds = experiment_seeds(loaded, line)
        rows = []
        for source in experiment_sources(loaded, line):
            for row in rows_on(loaded, source):
                first = row_jobs(row, source, seeds[:1], line.overrides)[0]
                settings = ", ".join(f"{key}={value}" for key, value in first.overrides) or "defaults"
                rows.append([row.label, row.method, source.label, settings, first.config_hash])
        print(
            f"{path}: valid. Experiment '{loaded.name}' (sha256 {loaded.sha256[:12]}): {len(jobs)} runs, "
            f"seeds {', '.join(map(str, seeds))}"
        )
        print(tabulate(rows, headers=["row", "method", "data", "settings", "config"], tablefmt="github"))
    return 0
