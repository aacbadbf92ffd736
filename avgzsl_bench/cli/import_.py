"""`bench.py import`: run files written by `bench.py export` merged into a results store."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from avgzsl_bench.cli import common
from avgzsl_bench.store.sqlite import ResultStore

EXAMPLES = """\
  python bench.py import shared/runs                              # into results/avgzsl_bench.sqlite
  python bench.py import lab-a/runs lab-b/runs --store results/merged.sqlite
  python bench.py import shared/runs/clipclap-ucf-0123456789ab-seed42.json
Folders are searched recursively for *.json run files. A run already in the store with the same
content is skipped; one whose content differs, an unknown schema_version, a damaged or foreign
file, or predictions that do not match their run stop the import with exit code 2 before anything
is written (one transaction). The format is described in docs/run-files.md."""


def add_parser(subparsers: Any) -> None:
    parser = common.subparser(
        subparsers, "import", "merge run files (from `bench.py export`) into a results store", EXAMPLES
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="DIR_OR_FILE", help="folders or run files")
    parser.add_argument("--store", default=common.DEFAULT_STORE, help="the SQLite results store to merge into")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    from avgzsl_bench.store.exchange import import_runs

    summary = import_runs(ResultStore(args.store), args.paths)
    if not args.quiet:
        gained = summary.predictions_added
        Console(stderr=True).print(
            f"{summary.files} run files read: {summary.imported} runs imported into {args.store}, "
            f"{summary.identical} already there (identical, skipped)"
            + (f", {gained} stored runs gained their predictions" if gained else ""),
            highlight=False,
            soft_wrap=True,
        )
    return 0
