"""`bench.py export`: the runs of a results store as run files (JSON + predictions), one per run."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from avgzsl_bench.cli import common
from avgzsl_bench.store.sqlite import ResultStore

EXAMPLES = """\
  python bench.py export --out shared/runs                        # every run of results/avgzsl_bench.sqlite
  python bench.py export --out shared/ucf --dataset ucf --method clipclap
  python bench.py export --store runs/cluster.sqlite --out shared/runs --force
Each run becomes <key>.json (record, resolved configuration, versions, device, data fingerprint,
metrics, per-class recall) and <key>.predictions.npz (the class predicted for every test sample);
the format is described in docs/run-files.md. Merge the folder into any store with `bench.py import`."""


def add_parser(subparsers: Any) -> None:
    parser = common.subparser(
        subparsers, "export", "write one run file (JSON + predictions .npz) per stored run into a folder", EXAMPLES
    )
    parser.add_argument("--out", required=True, type=Path, help="folder the run files are written to")
    parser.add_argument("--store", default=common.DEFAULT_STORE, help="the SQLite results store to read")
    parser.add_argument("--method", help="export only this method's runs")
    parser.add_argument("--dataset", help="export only the runs on this dataset")
    parser.add_argument("--force", action="store_true", help="overwrite files in --out that hold other content")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    from avgzsl_bench.store.exchange import export_runs

    filters = {name: getattr(args, name) for name in ("method", "dataset") if getattr(args, name)}
    summary = export_runs(ResultStore(args.store, read_only=True), args.out, force=args.force, **filters)
    if not args.quiet:
        Console(stderr=True).print(
            f"exported {summary.runs} runs ({summary.with_predictions} with predictions) to {args.out}: "
            f"{summary.written} files written"
            + (f", {summary.unchanged} already up to date" if summary.unchanged else ""),
            highlight=False,
            soft_wrap=True,
        )
    return 0
