"""`bench.py` / `avgzsl-bench`: one subcommand per module of this package.

`run` is inserted when no subcommand is given, so `python bench.py --methods all --dataset ucf`
is `python bench.py run --methods all --dataset ucf`. The report flags of the first version
(`--table N`, `--tables all`, `--figure X`, `--leaderboard`, `--list-methods`) are read as their
subcommands.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape

from avgzsl_bench.cli import (
    compare,
    datasets,
    evaluate,
    export,
    fetch,
    figure,
    import_,
    leaderboard,
    methods,
    run,
    tables,
    validate,
)
from avgzsl_bench.errors import BenchError, Interrupted

SUBCOMMANDS = {
    "run": run,
    "tables": tables,
    "leaderboard": leaderboard,
    "figure": figure,
    "methods": methods,
    "fetch": fetch,
    "datasets": datasets,
    "evaluate": evaluate,
    "validate": validate,
    "compare": compare,
    "export": export,
    "import": import_,
}
DEFAULT_SUBCOMMAND = "run"
# Flags of the first version -> the subcommand they meant.
LEGACY_FLAGS = {
    "--table": "tables",
    "--tables": "tables",
    "--figure": "figure",
    "--leaderboard": "leaderboard",
    "--list-methods": "methods",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench.py",
        description="Benchmark audio-visual generalized zero-shot learning methods with the two-stage GZSL "
        "protocol. Without a subcommand, `run` is assumed.",
        epilog="run `bench.py SUBCOMMAND --help` for a subcommand's options and examples",
    )
    subparsers = parser.add_subparsers(dest="subcommand", metavar="{" + ",".join(SUBCOMMANDS) + "}")
    for module in SUBCOMMANDS.values():
        module.add_parser(subparsers)
    return parser


def _legacy(argv: list[str]) -> list[str]:
    """`--tables all --dataset demo` -> `tables all --dataset demo`, and likewise for the other flags."""
    flag = next((arg for arg in argv if arg.split("=", 1)[0] in LEGACY_FLAGS), None)
    if flag is None:
        return argv
    subcommand = LEGACY_FLAGS[flag.split("=", 1)[0]]
    values, rest, index = [], [], 0
    while index < len(argv):
        arg = argv[index]
        name, _, inline = arg.partition("=")
        if name in LEGACY_FLAGS:
            if inline:
                values.append(inline)
            elif name not in ("--leaderboard", "--list-methods") and index + 1 < len(argv):
                values.append(argv[index + 1])
                index += 1
        else:
            rest.append(arg)
        index += 1
    if subcommand == "methods":
        rest = [*rest, "--names-only"]
        rest = [arg for arg in rest if arg not in ("--quiet", "--no-store")]
    return [subcommand, *values, *rest]


def normalise_argv(argv: Sequence[str]) -> list[str]:
    argv = list(argv)
    if argv and (argv[0] in SUBCOMMANDS or argv[0] in ("-h", "--help")):
        return argv
    argv = _legacy(argv)
    if argv and argv[0] in SUBCOMMANDS:
        return argv
    return [DEFAULT_SUBCOMMAND, *argv]


def _stop_on_sigterm() -> None:
    """SIGTERM (a cluster's pre-emption, `kill`) ends the work like Ctrl-C: finished runs stay stored."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(normalise_argv(sys.argv[1:] if argv is None else argv))
    console = Console(stderr=True)
    _stop_on_sigterm()
    try:
        return int(args.handler(args))
    except BenchError as error:
        console.print(f"[red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
        return 2
    except Interrupted as stop:
        console.print(escape(str(stop)), style="yellow", highlight=False, soft_wrap=True)
        return Interrupted.EXIT_CODE
    except KeyboardInterrupt:
        console.print("interrupted (nothing to resume)", style="yellow", highlight=False)
        return Interrupted.EXIT_CODE
