"""Options shared by the subcommands, and the objects they describe (data sources, executors).

Imported to build the parser, so it imports nothing heavy: the job layer and the reports are
imported by the subcommands' handlers, when they run.
"""

from __future__ import annotations

import argparse
import ast
import functools
from collections.abc import Sequence
from typing import Any

from avgzsl_bench.datasets import DEFAULT_FEATURES, DataSource, list_datasets, list_feature_sets
from avgzsl_bench.datasets.source import DEFAULT_DEMO_SAMPLES
from avgzsl_bench.errors import BenchError
from avgzsl_bench.executors import EXECUTORS, Executor, get_executor
from avgzsl_bench.executors.progress import Reporter
from avgzsl_bench.jobs.defaults import DEFAULT_THREADS, STACK_CHOICES
from avgzsl_bench.store.sqlite import DEFAULT_STORE


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the examples' line breaks and shows every option's default."""


def subparser(subparsers: Any, name: str, help_text: str, examples: str) -> argparse.ArgumentParser:
    return subparsers.add_parser(
        name, help=help_text, description=help_text, epilog="examples:\n" + examples, formatter_class=HelpFormatter
    )


def parse_override(text: str) -> tuple[str, Any]:
    """'lr=1e-3' -> ('lr', 0.001); values are Python literals where they parse, else strings."""
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"--set expects key=value, got '{text}'")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def add_set_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup, help_text: str) -> None:
    """`--set KEY=VALUE`, repeatable, collected as (key, value) pairs in `args.overrides`."""
    parser.add_argument(
        "--set", dest="overrides", type=parse_override, action="append", default=[], metavar="KEY=VALUE", help=help_text
    )


def add_data_arguments(parser: argparse.ArgumentParser, dataset_required: bool = False) -> None:
    group = parser.add_argument_group("data")
    group.add_argument(
        "--dataset",
        default=None if dataset_required else "demo",
        required=dataset_required,
        choices=list_datasets(),
        help="'demo' is synthetic data generated offline; the others are read from --root, else from the "
        "data folder `bench.py fetch` fills (see `bench.py datasets`)",
    )
    group.add_argument(
        "--features",
        default=DEFAULT_FEATURES,
        choices=list_feature_sets(),
        help="feature set: clip-clap (the ClipClap release), or the AVCA-GZSL benchmark's selavi "
        "(SeLaVi, main split) and c3d-vggish (C3D video + VGGish audio, cls split), whose class text "
        "is word2vec; *-temporal: the same with one feature sequence per video (TCAF's layout)",
    )
    group.add_argument(
        "--root",
        help="dataset folder of a released feature bundle (holding class-split/ and features/); default: "
        "the fetched copy under $AVGZSL_DATA or the platform's data folder",
    )
    group.add_argument(
        "--legacy-text-order",
        action="store_true",
        help="attach text embeddings to classes by list position, as the reference code does "
        "(reproduces its ActivityNet/VGGSound class mix-ups)",
    )
    group.add_argument(
        "--demo-samples",
        type=int,
        default=DEFAULT_DEMO_SAMPLES,
        help="demo data: samples per class (146 gives a UCF-sized set)",
    )
    group.add_argument(
        "--cache-dir",
        help="where the released bundle's fast cache goes (default: $AVGZSL_BENCH_CACHE or ~/.cache/avgzsl_bench)",
    )


def data_source(args: argparse.Namespace, dataset: str | None = None, root: str | None = None) -> DataSource:
    return DataSource(
        dataset or args.dataset,
        root if dataset else args.root,
        args.legacy_text_order,
        args.demo_samples,
        args.cache_dir,
        args.features,
    )


def add_training_arguments(parser: argparse.ArgumentParser, default_seeds: Sequence[int]) -> None:
    group = parser.add_argument_group("training")
    group.add_argument("--seeds", type=int, nargs="+", default=list(default_seeds), help="seeds to run")
    group.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    group.add_argument("--epochs", type=int, help="override every trainable method's stage-1 epochs")
    add_set_argument(group, "override any hyper-parameter, e.g. --set text=clip")
    group.add_argument(
        "--stack",
        choices=STACK_CHOICES,
        default="auto",
        help="train the seeds of one configuration as one stacked model (each run gets the numbers it gets "
        "alone: bit-identical on one CPU thread, equal up to rounding elsewhere; much faster on a GPU). "
        "auto: on for CUDA, off for CPU (measured slower there); methods that cannot be stacked run alone",
    )
    group.add_argument(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        help="CPU threads per run, the same on every executor; the same seed and thread count "
        "give bit-identical numbers",
    )


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    values = dict(args.overrides)
    if args.epochs is not None:
        values["epochs"] = args.epochs
    return values


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("results store")
    group.add_argument("--store", default=DEFAULT_STORE, help="SQLite results store; finished runs are skipped")
    group.add_argument("--no-store", action="store_true", help="keep results in memory only")
    group.add_argument("--quiet", action="store_true", help="no progress display or log lines")


def store_path(args: argparse.Namespace) -> str | None:
    return None if args.no_store else args.store


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("execution (where the jobs run; results go to the same --store)")
    group.add_argument(
        "--executor",
        choices=EXECUTORS.names(),
        default="local",
        help="local: in this process; ray: Ray tasks, on a loopback-only local instance or the "
        "cluster at --ray-address; slurm: SLURM jobs via submitit. A failed job is retried "
        "once, then reported; the rest go on",
    )
    group.add_argument(
        "--ray-address", help="join this Ray cluster (e.g. ray://head:10001) instead of starting a local instance"
    )
    group.add_argument("--cpus-per-job", type=float, default=1, help="ray/slurm: CPUs per job")
    group.add_argument(
        "--gpus-per-job", type=float, default=0, help="ray/slurm: GPUs per job (use with --device auto or cuda)"
    )
    group.add_argument(
        "--slurm-folder", default="results/submitit", help="slurm: submitit's folder for job pickles and logs"
    )
    group.add_argument("--slurm-partition", help="slurm: partition to submit to")
    group.add_argument("--slurm-timeout", type=int, default=120, help="slurm: minutes per job")
    group.add_argument("--slurm-mem-gb", type=float, help="slurm: memory per job in GB")
    group.add_argument(
        "--slurm-local",
        action="store_true",
        help="slurm: run the jobs as local sub-processes (submitit's LocalExecutor)",
    )


def executor_from_args(args: argparse.Namespace, reporter: Reporter) -> Executor:
    """The executor chosen by `add_executor_arguments`' options."""
    name = args.executor
    if args.ray_address and name != "ray":
        raise BenchError("--ray-address needs --executor ray")
    if name == "ray":
        return get_executor(
            "ray", address=args.ray_address, num_cpus=args.cpus_per_job, num_gpus=args.gpus_per_job, reporter=reporter
        )
    if name == "slurm":
        if args.gpus_per_job != int(args.gpus_per_job):
            raise BenchError("--executor slurm needs a whole number of --gpus-per-job")
        return get_executor(
            "slurm",
            folder=args.slurm_folder,
            partition=args.slurm_partition,
            timeout_min=args.slurm_timeout,
            gpus=int(args.gpus_per_job),
            cpus=max(1, int(args.cpus_per_job)),
            mem_gb=args.slurm_mem_gb,
            local=args.slurm_local,
            reporter=reporter,
        )
    return get_executor(name, reporter=reporter)


def run_options(args: argparse.Namespace, reporter: Reporter) -> dict[str, Any]:
    """The `jobs.run_jobs` options the training and executor arguments describe."""
    return {
        "store": store_path(args),
        "device": args.device,
        "stack": args.stack,
        "executor": functools.partial(executor_from_args, args, reporter),  # made once the inputs check out
        "models_dir": getattr(args, "save_models", None),
        "reporter": reporter,
    }


def add_roots_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--roots",
        nargs="+",
        default=[],
        metavar="DATASET=PATH",
        help="several datasets at once, e.g. ucf=/data/UCF activitynet=/data/ActivityNet "
        "vggsound=/data/VGGSound (replaces --dataset/--root; 'demo' needs no path)",
    )


def data_sources(args: argparse.Namespace) -> list[DataSource]:
    """`--roots` if given, else the one `--dataset`/`--root` source."""
    sources = []
    for entry in args.roots:
        dataset, _, root = entry.partition("=")
        if dataset not in list_datasets():
            raise BenchError(
                f"--roots: unknown dataset '{dataset}' in '{entry}'; choose from {', '.join(list_datasets())}"
            )
        sources.append(data_source(args, dataset, root or None))
    return sources or [data_source(args)]
