"""`bench.py methods`: the registered methods, one line each, with their size for a dataset's dims."""

from __future__ import annotations

import argparse
from typing import Any

from avgzsl_bench.cli import common
from avgzsl_bench.datasets import DEFAULT_FEATURES, get_dataset, list_datasets, list_feature_sets

EXAMPLES = """\
  python bench.py methods                                     # name, paper name, parameters, description
  python bench.py methods --dataset ucf --features selavi     # sizes on SeLaVi audio 512 / video 512
  python bench.py methods --dataset vggsound --names-only"""
NOT_APPLICABLE = "—"


def add_parser(subparsers: Any) -> None:
    parser = common.subparser(
        subparsers,
        "methods",
        "list the registered methods with their parameter count "
        "at a dataset's feature dims (built from its defaults, nothing is trained)",
        EXAMPLES,
    )
    parser.add_argument("--dataset", default="ucf", choices=list_datasets(), help="whose dims and defaults")
    parser.add_argument(
        "--features", default=DEFAULT_FEATURES, choices=list_feature_sets(), help="which of its feature sets"
    )
    parser.add_argument("--names-only", action="store_true", help="one method name per line")
    parser.set_defaults(handler=main)


def parameter_count(name: str, dataset: str, features: str = DEFAULT_FEATURES) -> int | None:
    """Parameters of `name` with its defaults for the dataset's feature set; None if it cannot run there."""
    import torch

    from avgzsl_bench.api import get_method

    spec, data = get_method(name), get_dataset(dataset, features)
    hparams = spec.defaults(dataset, features)
    if spec.text_problem(hparams, data.dims.text_names) or spec.data_problem(data.temporal, data.key):
        return None
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        model = spec.build(data.dims, hparams)
    return sum(parameter.numel() for parameter in model.parameters())


def main(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from avgzsl_bench.api import get_method, list_methods

    if args.names_only:
        print("\n".join(list_methods()))
        return 0
    data = get_dataset(args.dataset, args.features)  # refuses a feature set the dataset does not have
    rows = []
    for name in list_methods():
        count = parameter_count(name, args.dataset, args.features)
        size = NOT_APPLICABLE if count is None else f"{count:,}"
        rows.append([name, get_method(name).paper_name, size, get_method(name).description])
    dims = f"video {data.dims.video}, audio {data.dims.audio}, text {'+'.join(data.dims.text_names)}"
    header = f"parameters ({args.dataset}/{args.features}: {dims})"
    print(tabulate(rows, headers=["method", "paper name", header, "description"], tablefmt="github"))
    return 0
