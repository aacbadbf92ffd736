"""`bench.py compare A B`: two stored configurations, sample by sample, on the seeds both ran."""

from __future__ import annotations

import argparse
from typing import Any

from avgzsl_bench.cli import common

EXAMPLES = """\
  python bench.py compare clipclap clipclap:losses=reg --dataset demo          # defaults vs the l_reg ablation
  python bench.py compare clipclap clipclap:losses=reg --dataset demo --epochs 3   # runs made with --epochs 3
  python bench.py compare clipclap avca --dataset ucf --seeds 42 43 44
  python bench.py compare 05804c677e2e a9f1c7a22878 --top 20                    # configuration hashes (leaderboard)
  python bench.py compare clipclap-ucf-05804c clipclap-ucf-a9f1c7              # run-key prefixes
A and B name a configuration: METHOD[:KEY=VALUE,...] (the method's defaults with those --set-style overrides,
on --dataset/--features/--root, with --set/--epochs under both), or a prefix of a configuration hash or of a
run key, as `bench.py leaderboard` and `bench.py validate` show them. Both need stored per-sample predictions
(runs made by this version)."""


def add_parser(subparsers: Any) -> None:
    parser = common.subparser(
        subparsers,
        "compare",
        "compare two stored configurations on the same seeds and data: HM difference per seed and on "
        "average, McNemar's test and paired bootstraps over test samples and classes, and the per-class "
        "recall differences that drive it",
        EXAMPLES,
    )
    parser.add_argument("a", metavar="A", help="the baseline configuration")
    parser.add_argument("b", metavar="B", help="the configuration compared with it (differences are B − A)")
    common.add_data_arguments(parser)
    parser.add_argument("--seeds", type=int, nargs="+", help="only these seeds (default: every seed both ran)")
    parser.add_argument("--epochs", type=int, help="METHOD selectors: the runs were made with this --epochs")
    common.add_set_argument(
        parser, "METHOD selectors: a --set both runs were made with (a selector's own KEY=VALUE wins)"
    )
    parser.add_argument("--top", type=int, default=10, help="how many classes to list, largest |Δ recall| first")
    parser.add_argument("--store", default=common.DEFAULT_STORE, help="SQLite results store to read")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    from avgzsl_bench.jobs.compare import compare_configurations

    source = lambda: common.data_source(args)  # noqa: E731 - only hash selectors need no data source
    report = compare_configurations(args.a, args.b, args.store, source, common.overrides(args), args.seeds, args.top)
    print(report)
    return 0
