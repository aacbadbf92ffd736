"""`bench.py leaderboard`: one markdown leaderboard per dataset in the store, ranked by test HM."""

from __future__ import annotations

import argparse
from typing import Any

from avgzsl_bench.cli import common
from avgzsl_bench.executors.progress import make_reporter
from avgzsl_bench.reports import DEFAULT_LEADERBOARD_DIR
from avgzsl_bench.store.sqlite import ResultStore

EXAMPLES = """\
  python bench.py leaderboard                                 # results/leaderboards/<dataset>.md
  python bench.py leaderboard --store runs/cluster.sqlite --out results/boards
  python bench.py leaderboard --out leaderboards              # update the committed boards"""


def add_parser(subparsers: Any) -> None:
    parser = common.subparser(
        subparsers,
        "leaderboard",
        "write <out>/<dataset>.md for every dataset with finished runs in the store, ranked by mean test HM",
        EXAMPLES,
    )
    parser.add_argument("--store", default=common.DEFAULT_STORE, help="the SQLite results store to read")
    parser.add_argument(
        "--out",
        "--leaderboard-dir",
        dest="out",
        default=DEFAULT_LEADERBOARD_DIR,
        help="folder the leaderboards are written to",
    )
    parser.add_argument(
        "--force", action="store_true", help="overwrite a board that lists more configurations than this store holds"
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    from avgzsl_bench.reports.leaderboard import write_leaderboards

    with make_reporter(args.quiet) as reporter:
        for path in write_leaderboards(ResultStore(args.store, read_only=True), args.out, force=args.force):
            reporter.note(f"leaderboard written to {path}")
    return 0
