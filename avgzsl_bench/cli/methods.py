"""`bench.py methods`: the registered methods, one line each, with their size for a dataset's dims."""

from __future__ import annotations

import argparse
from typing import Any

import torch
from tabulate import tabulate

from avgzsl_bench.api import get_method, list_methods
from avgzsl_bench.cli import common
from avgzsl_bench.datasets import get_dataset, list_datasets

EXAMPLES = """\
  python bench.py methods                                     # name, paper name, parameters, description
  python bench.py methods --dataset vggsound --names-only"""


def add_parser(subparsers: Any) -> None:
    parser = common.subparser(
        subparsers,
        "methods",
        "list the registered methods with their parameter count "
        "at a dataset's feature dims (built from its defaults, nothing is trained)",
        EXAMPLES,
    )
    parser.add_argument("--dataset", default="ucf", choices=list_datasets(), help="whose dims and defaults")
    parser.add_argument("--names-only", action="store_true", help="one method name per line")
    parser.set_defaults(handler=main)


def parameter_count(name: str, dataset: str) -> int:
    spec = get_method(name)
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        model = spec.build(get_dataset(dataset).dims, spec.defaults(dataset))
    return sum(parameter.numel() for parameter in model.parameters())


def main(args: argparse.Namespace) -> int:
    if args.names_only:
        print("\n".join(list_methods()))
        return 0
    rows = [
        [name, get_method(name).paper_name, f"{parameter_count(name, args.dataset):,}", get_method(name).description]
        for name in list_methods()
    ]
    print(
        tabulate(
            rows, headers=["method", "paper name", f"parameters ({args.dataset})", "description"], tablefmt="github"
        )
    )
    return 0
