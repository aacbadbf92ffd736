"""`bench.py leaderboard`: one markdown leaderboard per dataset in the store, ranked by test HM, or
with --html a static site of the same boards (sortable tables, provenance, figures)."""

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
  python bench.py leaderboard --out leaderboards              # update the committed boards
  python bench.py leaderboard --html results/site             # static site: open results/site/index.html"""


def add_parser(subparsers: Any) -> None:
    parser = common.subparser(
        subparsers,
        "leaderboard",
        "write <out>/<dataset>.md for every dataset with finished runs in the store, ranked by mean test HM "
        "(or, with --html DIR, an offline static site of the same boards with figures)",
        EXAMPLES,
    )
    parser.add_argument("--store", default=common.DEFAULT_STORE, help="the SQLite results store to read")
    target = parser.add_mutually_exclusive_group()  # markdown boards or the site, one per call
    target.add_argument(
        "--out",
        "--leaderboard-dir",
        dest="out",
        default=DEFAULT_LEADERBOARD_DIR,
        help="folder the leaderboards are written to",
    )
    parser.add_argument(
        "--force", action="store_true", help="overwrite a board that lists more configurations than this store holds"
    )
    target.add_argument(
        "--html",
        metavar="DIR",
        help="write a static HTML site (index.html and one page per board; no server or network needed) "
        "to DIR instead of the markdown boards",
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    from avgzsl_bench.reports.leaderboard import write_leaderboards

    if args.html:
        return _write_site(args)
    with make_reporter(args.quiet) as reporter:
        for path in write_leaderboards(ResultStore(args.store, read_only=True), args.out, force=args.force):
            reporter.note(f"leaderboard written to {path}")
    return 0


def _write_site(args: argparse.Namespace) -> int:
    from avgzsl_bench.reports.site import write_site

    with make_reporter(args.quiet) as reporter:
        written, removed = write_site(ResultStore(args.store, read_only=True), args.html)
        for path in removed:
            reporter.note(f"removed {path}: the store has no runs for that board any more")
        reporter.note(f"HTML leaderboard written to {written[0]} ({len(written) - 1} board pages)")
    return 0
