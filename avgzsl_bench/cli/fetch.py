"""`bench.py fetch`: download, unpack and verify a released archive into the data folder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from avgzsl_bench.artefacts import list_artefacts
from avgzsl_bench.cli import common
from avgzsl_bench.datasets.locations import data_home
from avgzsl_bench.errors import BenchError

if TYPE_CHECKING:
    from avgzsl_bench.artefacts.fetch import FetchResult

EXAMPLES = """\
  python bench.py fetch clipclap-features                     # then: python bench.py --methods all --dataset ucf
  python bench.py fetch clipclap-models                       # then: python bench.py evaluate --dataset ucf
  python bench.py fetch avca-gzsl-features --dest /data/avgzsl
  python bench.py fetch clipclap-features --url https://mirror.example.org/data.zip
  python bench.py fetch clipclap-features --archive ~/Downloads/data.zip   # downloaded by hand
  python bench.py fetch --list
An interrupted download resumes on the next fetch. Offline or failed: the manual steps are printed, exit 2."""


def add_parser(subparsers: Any) -> None:
    parser = common.subparser(
        subparsers,
        "fetch",
        "download a released archive (features or trained models), unpack it atomically, verify its "
        "folders and record its sha256; the data folder is $AVGZSL_DATA or the platform's data folder",
        EXAMPLES,
    )
    parser.add_argument("name", nargs="?", choices=list_artefacts(), help="the artefact to fetch")
    parser.add_argument("--list", action="store_true", help="list the artefacts and what is fetched")
    parser.add_argument("--url", help="download from this mirror (plain HTTP/HTTPS) instead of Google Drive")
    parser.add_argument("--dest", help="data folder to unpack into (default: $AVGZSL_DATA or the platform's)")
    parser.add_argument("--archive", help="unpack this already downloaded archive instead of downloading")
    parser.add_argument(
        "--force",
        action="store_true",
        help="download and unpack again (a kept archive is not reused), accepting an archive whose sha256 "
        "differs from the one recorded before",
    )
    parser.add_argument("--remove-archive", action="store_true", help="delete the archive after unpacking it")
    parser.add_argument("--retries", type=int, default=3, help="reconnect this often after a dropped connection")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for the server between bytes")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or log lines")
    parser.set_defaults(handler=main)


def report(result: FetchResult, console: Console) -> None:
    if result.already_present:
        console.print(f"{result.artefact.name}: already fetched and unchanged in {result.home}", highlight=False)
    else:
        timing = ", ".join(f"{stage} {seconds:.2f} s" for stage, seconds in result.seconds.items())
        size = f", {result.downloaded_bytes / 1e6:.1f} MB downloaded" if result.downloaded_bytes else ""
        console.print(f"{result.artefact.name}: fetched into {result.home} ({timing}{size})", highlight=False)
        console.print(f"  archive sha256 {result.sha256} (recorded)", highlight=False)
    for target, folder in result.folders.items():
        console.print(f"  {target or result.artefact.subdir}: {folder} (verified)", highlight=False)


def main(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    # Imported here: the download stack (gdown, requests) is not needed to build the parser.
    from avgzsl_bench.artefacts.fetch import fetch
    from avgzsl_bench.artefacts.status import artefact_rows

    if args.list:
        home, origin = data_home()
        print(f"data folder: {home} (from {origin})\n")
        headers = ["artefact", "archive", "folders", "archive state", "fetched", "contents"]
        print(tabulate(artefact_rows(), headers=headers, tablefmt="github"))
        return 0
    if not args.name:
        raise BenchError(f"name the artefact to fetch ({', '.join(list_artefacts())}) or pass --list")
    if args.retries < 0 or args.timeout <= 0:
        raise BenchError("--retries must be >= 0 and --timeout > 0")
    console = Console(stderr=True)
    result = fetch(
        args.name,
        Path(args.dest) if args.dest else None,
        url=args.url,
        archive=Path(args.archive) if args.archive else None,
        force=args.force,
        keep_archive=not args.remove_archive,
        retries=args.retries,
        timeout=args.timeout,
        console=console,
        quiet=args.quiet,
    )
    report(result, Console(soft_wrap=True))
    return 0
