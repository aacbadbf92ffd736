"""`bench.py figure`: the paper's Figure 3 (t-SNE) and validation HM against the calibration β."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from avgzsl_bench.cli import common
from avgzsl_bench.datasets import DataSource
from avgzsl_bench.errors import BenchError
from avgzsl_bench.executors.progress import Reporter, make_reporter
from avgzsl_bench.store.sqlite import ResultStore

FIGURES = ("3", "beta", "all")
EXAMPLES = """\
  python bench.py figure all --dataset demo                   # both figures on synthetic data
  python bench.py figure 3 --dataset ucf --root /data/UCF --seeds 42
  python bench.py figure beta --roots ucf=/data/UCF activitynet=/data/ActivityNet"""


def add_parser(subparsers: Any) -> None:
    parser = common.subparser(
        subparsers,
        "figure",
        "'3': the paper's Figure 3, a t-SNE of input audio, input "
        "visual and learned embeddings (trains --method with the first seed, reusing a "
        "stored stage 1); 'beta': validation HM against the calibration β of the runs in "
        "the store; 'all': both",
        EXAMPLES,
    )
    parser.add_argument("which", choices=FIGURES, help="which figure")
    parser.add_argument("--method", default="clipclap", help="the method Figure 3 trains")
    parser.add_argument("--figures-dir", default="results/figures", help="where figures go")
    common.add_data_arguments(parser)
    common.add_roots_argument(parser)
    common.add_training_arguments(parser, default_seeds=[42])
    common.add_store_arguments(parser)
    parser.set_defaults(handler=main)


def _beta_figure(source: DataSource, args: argparse.Namespace, reporter: Reporter) -> None:
    from avgzsl_bench.reports.figures import hm_vs_beta_figure

    store = common.store_path(args)
    if store is None:
        raise BenchError("figure beta reads the results store; drop --no-store")
    title = f"HM vs calibration β on {source.spec.paper_name} val (stage 1, best epoch)"
    if source.spec.synthetic:
        title += " — SYNTHETIC"
    runs = ResultStore(store, read_only=True).runs(dataset=source.dataset)
    path = hm_vs_beta_figure(runs, Path(args.figures_dir) / f"hm_vs_beta_{source.dataset}.png", title)
    reporter.note(f"figure written to {path}")


def _figure3(source: DataSource, args: argparse.Namespace, reporter: Reporter) -> None:
    from avgzsl_bench.jobs.figure import figure3_model
    from avgzsl_bench.jobs.job import make_jobs
    from avgzsl_bench.reports.figures import figure3

    job = make_jobs([args.method], source, args.seeds[:1], common.overrides(args), args.threads)[0]
    label = f"Figure 3: {job}"
    reporter.start("figure 3", 1)
    model, dataset = figure3_model(
        job,
        common.store_path(args),
        args.device,
        args.stack,
        lambda item, text, done, total: reporter.item_progress(label, text, done, total),
    )
    reporter.item_progress(label, "t-SNE")
    path = figure3(model, dataset, Path(args.figures_dir) / f"figure3_{source.dataset}.png", job.seed)
    reporter.item_finished(label, "done")
    reporter.note(f"figure written to {path}")


def main(args: argparse.Namespace) -> int:
    which = {"3", "beta"} if args.which == "all" else {args.which}
    with make_reporter(args.quiet) as reporter:
        for source in common.data_sources(args):
            if "beta" in which:
                _beta_figure(source, args, reporter)
            if "3" in which:
                _figure3(source, args, reporter)
    return 0
