"""Command-line glue of experiment files: which options `run --config` and `validate` take from the
command line (those given on it, even at their default value), and loading a checked file."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from avgzsl_bench.cli import common

if TYPE_CHECKING:  # the experiments package checks values with the method registry (torch): handlers only
    from avgzsl_bench.experiments.expand import CommandLine
    from avgzsl_bench.experiments.schema import Experiment

# Options an experiment file can also set: given on the command line, they win over the file.
FILE_OPTIONS = ("methods", "dataset", "features", "seeds", "demo_samples")


# A default left in place is one of these: equal to the plain value (so every other use of it is
# unchanged), but told apart from the same value typed on the command line.
class _DefaultStr(str):
    pass


class _DefaultInt(int):
    pass


class _DefaultList(list):
    pass


_MARKED = {str: _DefaultStr, int: _DefaultInt, list: _DefaultList}


def mark_defaults(parser: argparse.ArgumentParser) -> None:
    """Make the defaults of `FILE_OPTIONS` recognisable as "not given" (see `given`)."""
    for name in FILE_OPTIONS:
        value = parser.get_default(name)
        if type(value) in _MARKED:
            parser.set_defaults(**{name: _MARKED[type(value)](value)})


def given(args: argparse.Namespace, name: str) -> Any:
    """The option's value when the command line gave it, else None."""
    value = getattr(args, name, None)
    return None if isinstance(value, tuple(_MARKED.values())) else value


def unmark(args: argparse.Namespace) -> None:
    """Plain values again, once `given` has been asked (nothing downstream sees the marker types)."""
    for name in FILE_OPTIONS:
        value = getattr(args, name, None)
        for plain, marked in _MARKED.items():
            if isinstance(value, marked):
                setattr(args, name, plain(value))


def command_line(args: argparse.Namespace) -> CommandLine:
    """What the command line adds to an experiment file."""
    from avgzsl_bench.experiments.expand import CommandLine

    return CommandLine(
        datasets=(args.dataset,) if given(args, "dataset") else (),
        root=args.root,
        features=given(args, "features"),
        seeds=tuple(given(args, "seeds") or ()),
        overrides=common.overrides(args),
        legacy_text_order=args.legacy_text_order,
        demo_samples=given(args, "demo_samples"),
        cache_dir=args.cache_dir,
        threads=args.threads,
    )


def load(path: str) -> Experiment:
    """An experiment file, checked; a reference table's `paper` ids must name published numbers."""
    from avgzsl_bench.experiments.schema import load_experiment
    from avgzsl_bench.reports.paper import check_table_file

    loaded = load_experiment(path)
    if loaded.table is not None:
        check_table_file(loaded)
    return loaded
