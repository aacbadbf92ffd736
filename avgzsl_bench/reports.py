"""The reporting side of `bench.py`: --table/--tables, --leaderboard and --figure.

`ReportRequest.from_args` reads the report flags; the CLI runs `request.jobs(seeds)` through its
executor (the store skips finished runs) and prints `request.finish(records)`, which renders the
tables and writes leaderboards and figures. The pieces live in `tables`, `leaderboard`, `figures`.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from rich.console import Console

from avgzsl_bench.errors import BenchError
from avgzsl_bench.runner import DATASETS, DataSource, Job, make_jobs
from avgzsl_bench.store import ResultStore
from avgzsl_bench.tables import (
    DEFAULT_TABLE_SEEDS, PAPER_REFERENCE, PaperReference, load_paper_reference, parse_table_numbers,
    records_by_key, render_table, table_jobs,
)

LEADERBOARD_COMMAND = "leaderboard"
FIGURES = ("3", "beta", "all")


def normalise_argv(argv: Sequence[str]) -> list[str]:
    """`bench.py leaderboard [...]` is spelled `bench.py --leaderboard [...]` internally."""
    argv = list(argv)
    return ["--leaderboard", *argv[1:]] if argv[:1] == [LEADERBOARD_COMMAND] else argv


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    from avgzsl_bench.leaderboard import DEFAULT_LEADERBOARD_DIR

    group = parser.add_argument_group(
        "reports", "paper tables, leaderboards and figures; tables run what the store lacks first")
    group.add_argument("--table", dest="tables", action="append", default=[], metavar="N",
                       help="render the paper's Table N as markdown: 1 all methods, 2 label embedding "
                            "(CLIP/CLAP/both), 3 modality (audio/visual/both), 4 loss terms; 'all' = 1-4; "
                            "repeatable. Default seeds for tables: "
                            + " ".join(map(str, DEFAULT_TABLE_SEEDS)))
    group.add_argument("--tables", dest="tables", action="append", metavar="all",
                       help="same as --table (e.g. --tables all)")
    group.add_argument("--roots", nargs="+", default=[], metavar="DATASET=PATH",
                       help="several datasets for the tables at once, e.g. ucf=/data/UCF "
                            "activitynet=/data/ActivityNet vggsound=/data/VGGSound (replaces --dataset/--root; "
                            "'demo' needs no path)")
    group.add_argument("--tables-out", metavar="FILE",
                       help="also write the rendered tables to this markdown file")
    group.add_argument("--paper-reference", default=str(PAPER_REFERENCE),
                       help="TOML file with the paper's numbers and table layouts (default: %(default)s)")
    group.add_argument("--leaderboard", action="store_true",
                       help="write <leaderboard-dir>/<dataset>.md for every dataset in the store, "
                            "ranked by mean HM (also: `bench.py leaderboard`)")
    group.add_argument("--leaderboard-dir", default=DEFAULT_LEADERBOARD_DIR,
                       help="where --leaderboard writes (default: %(default)s)")
    group.add_argument("--figure", dest="figures", action="append", default=[], choices=FIGURES,
                       help="'3': the paper's Figure 3 (t-SNE of input audio, input visual and learned "
                            "embeddings; trains the first --methods entry, default clipclap, with the first "
                            "seed); 'beta': validation HM vs calibration β from the stored runs; 'all': both")
    group.add_argument("--figures-dir", default="figures", help="where figures go (default: %(default)s)")


def _sources(args: argparse.Namespace, default: DataSource) -> list[DataSource]:
    sources = []
    for entry in args.roots:
        dataset, _, root = entry.partition("=")
        if dataset not in DATASETS:
            raise BenchError(f"--roots: unknown dataset '{dataset}' in '{entry}'; choose from {', '.join(DATASETS)}")
        sources.append(DataSource(dataset, root or None, args.legacy_text_order, args.demo_samples, args.cache_dir))
    return sources or [default]


@dataclass
class ReportRequest:
    tables: list[int]
    sources: list[DataSource]
    overrides: dict[str, Any]
    figure_method: str
    store_path: str | None
    device: str = "cpu"
    reference_path: str = str(PAPER_REFERENCE)
    tables_out: str | None = None
    leaderboard_dir: str | None = None  # None: no leaderboard asked for
    figures: set[str] = field(default_factory=set)
    figures_dir: str = "figures"
    console: Console = field(default_factory=lambda: Console(stderr=True))

    @classmethod
    def from_args(cls, args: argparse.Namespace, source: DataSource, overrides: Mapping[str, Any],
                  methods: Sequence[str], console: Console) -> ReportRequest:
        figures = set(args.figures)
        if "all" in figures:
            figures = {"3", "beta"}
        return cls(
            tables=parse_table_numbers(args.tables), sources=_sources(args, source), overrides=dict(overrides),
            figure_method=methods[0] if methods else "clipclap",
            store_path=None if args.no_store else args.store, device=args.device,
            reference_path=args.paper_reference, tables_out=args.tables_out,
            leaderboard_dir=args.leaderboard_dir if args.leaderboard else None,
            figures=figures, figures_dir=args.figures_dir, console=console,
        )

    @property
    def active(self) -> bool:
        return bool(self.tables or self.leaderboard_dir or self.figures)

    @property
    def default_seeds(self) -> list[int]:
        return list(DEFAULT_TABLE_SEEDS) if self.tables else [42]

    @cached_property
    def reference(self) -> PaperReference:
        return load_paper_reference(self.reference_path)

    def jobs(self, seeds: Sequence[int]) -> list[Job]:
        """The runs the tables need; leaderboards and figures alone run nothing through the store."""
        return table_jobs([self.reference.table(n) for n in self.tables], self.sources, seeds, self.overrides)

    def finish(self, records: Sequence[Mapping[str, Any]], seeds: Sequence[int]) -> str:
        """Render the tables (returned as markdown) and write leaderboards and figures."""
        reference = self.reference
        found = records_by_key(records)
        markdown = "\n".join(
            render_table(reference.table(n), reference, self.sources, seeds, found, self.overrides)
            for n in self.tables
        )
        if markdown and self.tables_out:
            Path(self.tables_out).parent.mkdir(parents=True, exist_ok=True)
            Path(self.tables_out).write_text(markdown, encoding="utf-8")
            self.console.print(f"tables written to {self.tables_out}")
        if self.leaderboard_dir:
            from avgzsl_bench.leaderboard import write_leaderboards

            for path in write_leaderboards(self._store("--leaderboard"), self.leaderboard_dir, reference):
                self.console.print(f"leaderboard written to {path}")
        if "beta" in self.figures:
            self._beta_figures(records, reference)
        if "3" in self.figures:
            self._figure3(seeds[0])
        return markdown

    def _store(self, flag: str) -> ResultStore:
        if self.store_path is None:
            raise BenchError(f"{flag} reads the results store; drop --no-store")
        return ResultStore(self.store_path)

    def _beta_figures(self, records: Sequence[Mapping[str, Any]], reference: PaperReference) -> None:
        from avgzsl_bench.figures import hm_vs_beta_figure

        for source in self.sources:
            # This invocation's table runs if there were any, else everything stored for the dataset.
            runs = [r for r in records if r["dataset"] == source.dataset] or \
                self._store("--figure beta").runs(dataset=source.dataset)
            title = f"HM vs calibration β on {reference.dataset_name(source.dataset)} val (stage 1, best epoch)"
            if source.dataset == "demo":
                title += " — SYNTHETIC"
            path = hm_vs_beta_figure(runs, Path(self.figures_dir) / f"hm_vs_beta_{source.dataset}.png", title)
            self.console.print(f"figure written to {path}")

    def _figure3(self, seed: int) -> None:
        from avgzsl_bench.figures import figure3, train_figure3_model

        for source in self.sources:
            job = make_jobs([self.figure_method], source, [seed], self.overrides)[0]
            with self.console.status(f"Figure 3: training {job.method} on {source.dataset}") as status:
                def on_epoch(stage: str, epoch: int, total: int, hm: float) -> None:
                    status.update(f"Figure 3: {job.method} on {source.dataset}, {stage} epoch "
                                  f"{epoch}/{total} (val HM {hm:5.2f})")

                model, dataset = train_figure3_model(job, self.store_path, self.device, on_epoch)
                status.update("Figure 3: t-SNE")
                path = figure3(model, dataset, Path(self.figures_dir) / f"figure3_{source.dataset}.png", seed)
            self.console.print(f"figure written to {path}")
