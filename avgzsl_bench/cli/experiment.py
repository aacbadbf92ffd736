"""Command-line glue of experiment files: which options `run --config` and `validate` take from the
command line (those set to something other than their default), and the plan's summary."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from avgzsl_bench.cli import common
from avgzsl_bench.experiments.expand import CommandLine
from avgzsl_bench.experiments.schema import Experiment, load_experiment

# Options an experiment file can also set: the command line wins where it differs from the default.
FILE_OPTIONS = ("dataset", "root", "features", "seeds", "demo_samples")


def option_defaults(parser: argparse.ArgumentParser, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """The parser's defaults of the options a file can also set (and of `extra` ones)."""
    return {name: parser.get_default(name) for name in (*FILE_OPTIONS, *extra)}


def command_line(args: argparse.Namespace, defaults: Mapping[str, Any]) -> CommandLine:
    """What the command line adds to the file (an option left at its default leaves it to the file)."""

    def given(name: str) -> Any:
        value = getattr(args, name)
        return None if value == defaults[name] else value

    return CommandLine(
        datasets=(given("dataset"),) if given("dataset") else (),
        root=args.root,
        features=given("features"),
        seeds=tuple(given("seeds") or ()),
        overrides=common.overrides(args),
        legacy_text_order=args.legacy_text_order,
        demo_samples=given("demo_samples"),
        cache_dir=args.cache_dir,
        threads=args.threads,
    )


def load(path: str) -> Experiment:
    """An experiment file, checked; a reference table's `paper` ids must name published numbers."""
    from avgzsl_bench.reports.paper import check_table_file

    loaded = load_experiment(path)
    if loaded.table is not None:
        check_table_file(loaded)
    return loaded
