"""`bench.py datasets`: which datasets and artefacts are in the data folder, and their verification state."""

from __future__ import annotations

import argparse
from typing import Any

from avgzsl_bench.cli import common
from avgzsl_bench.datasets.locations import DATA_ENV, data_home

DAMAGED = ("changed since fetch", "layout broken")

EXAMPLES = """\
  python bench.py datasets                                    # where each dataset is looked for, and its state
  python bench.py datasets --verify                           # also re-hash the kept archives
  AVGZSL_DATA=/data/avgzsl python bench.py datasets"""


def add_parser(subparsers: Any) -> None:
    parser = common.subparser(
        subparsers,
        "datasets",
        "show the data folder, every released dataset (present, verified, changed since fetch, missing) "
        "and every fetchable artefact with its archive's sha256 state",
        EXAMPLES,
    )
    parser.add_argument("--verify", action="store_true", help="re-hash kept archives against the recorded sha256")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from avgzsl_bench.artefacts.state import state_path
    from avgzsl_bench.artefacts.status import artefact_rows, dataset_rows

    home, origin = data_home()
    print(f"data folder: {home} (from {origin}; set ${DATA_ENV} to use another)")
    print(f"fetch state: {state_path(home)}\n")
    datasets = dataset_rows()
    print(tabulate(datasets, headers=["dataset", "features", "folder", "state", "how to fix"], tablefmt="github"))
    print()
    artefacts = artefact_rows(rehash=args.verify)
    headers = ["artefact", "archive", "folders", "archive state", "fetched", "contents"]
    print(tabulate(artefacts, headers=headers, tablefmt="github"))
    damaged = [row for row in datasets if row[3] in DAMAGED] + [row for row in artefacts if "MISMATCH" in row[3]]
    return 1 if damaged else 0
