"""Command line: ``python -m feature_zoo {extract,text,backbones} --help``."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from avgzsl_bench.cli.common import add_executor_arguments, executor_from_args, subparser
from avgzsl_bench.errors import BenchError, Interrupted
from avgzsl_bench.executors.progress import make_reporter
from feature_zoo.backbones import (
    AUDIO_BACKBONES,
    DEFAULT_AUDIO_BACKBONE,
    VISUAL_BACKBONES,
    BackboneConfig,
    WeightsMissingError,
    weights_dir,
)
from feature_zoo.extract import MISSING_AUDIO_POLICIES, NOT_FOUND, NOT_IN_FOLDER, UNREADABLE, WITHOUT_AUDIO
from feature_zoo.pipeline import ShardedExtraction
from feature_zoo.preprocess import DEFAULT_PREPROCESS, FALLBACK_PREPROCESS, PREPROCESS_MODES, default_preprocess
from feature_zoo.text import PROMPT_SETS

MAX_LISTED = 20
EXTRACT_EXAMPLES = """\
  python -m feature_zoo extract --videos UCF101/ --splits UCF/class-split --out my_bundle/UCF --dataset ucf
  python -m feature_zoo extract --videos clips/ --splits UCF/class-split --out out/UCF --dataset ucf \\
      --audio-backbone laion-clap-htsat-tiny --preprocess clean --device cuda --batch-size 32
  python -m feature_zoo extract ... --executor slurm --shard-size 512   # shards fill a shared cache
  python -m feature_zoo extract --videos UCF101/ --splits UCF/class-split --out my_bundle/UCF --dataset ucf \\
      --temporal                                     # per-second CLIP/CLAP sequences (TCAF layout)"""
TEXT_EXAMPLES = """\
  python -m feature_zoo text --splits UCF/class-split --out my_bundle/UCF --dataset ucf"""
RANDOM_INIT_BANNER = (
    "[bold yellow]RANDOM-INIT MODE[/]: backbones have random weights; the features are only good for "
    "tests and throughput measurements, never for results."
)


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _add_backbone_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--splits",
        type=Path,
        required=True,
        help="class-split/ folder (all_class.txt, name CSVs, cls_split/stage_*.csv)",
    )
    parser.add_argument("--out", type=Path, required=True, help="dataset root to write (e.g. .../UCF)")
    parser.add_argument("--dataset", choices=sorted(PROMPT_SETS), required=True, help="selects prompt set and name CSV")
    parser.add_argument(
        "--device", default=None, help="torch device for the encoders (default: cuda if available, else cpu)"
    )
    parser.add_argument("--visual-backbone", choices=sorted(VISUAL_BACKBONES.names()), default="clip-vit-b32")
    parser.add_argument(
        "--audio-backbone",
        choices=sorted(AUDIO_BACKBONES.names()),
        default=DEFAULT_AUDIO_BACKBONE,
        help=f"CLAP model for audio and its text prompts (default: {DEFAULT_AUDIO_BACKBONE}, the paper's)",
    )
    parser.add_argument(
        "--visual-checkpoint",
        type=Path,
        default=None,
        help="local CLIP ViT-B/32 weights (OpenAI ViT-B-32.pt or open_clip .bin)",
    )
    parser.add_argument(
        "--audio-checkpoint",
        type=Path,
        default=None,
        help="local CLAP checkpoint (default: HTSAT_BERT_zero_shot.pt for WavCaps, "
        "630k-audioset-best.pt for LAION-CLAP, in the weights dir)",
    )
    parser.add_argument(
        "--clap-tokenizer",
        type=Path,
        default=None,
        help="folder with the CLAP text tokenizer files: bert-base-uncased vocab.txt (WavCaps) or "
        "roberta-base vocab.json + merges.txt (LAION-CLAP)",
    )
    parser.add_argument(
        "--random-init",
        action="store_true",
        help="random weights, same architectures (tests/demos; the features are meaningless)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m feature_zoo",
        description="Extract CLIP (visual) and CLAP (audio) features and class-prompt text embeddings "
        "into the ClipClap-GZSL bundle layout.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    extract = subparser(
        sub, "extract", "videos -> per-class feature pickles + text embeddings + manifest", EXTRACT_EXAMPLES
    )
    extract.add_argument("--videos", type=Path, required=True, help="folder with <filename>.{mp4,avi,mkv,...} files")
    _add_backbone_args(extract)
    defaults = ", ".join(f"{name}: {mode}" for name, mode in sorted(DEFAULT_PREPROCESS.items()))
    extract.add_argument(
        "--preprocess",
        choices=PREPROCESS_MODES,
        default=None,
        help="reference: reproduce the released features' frame handling (BGR order, UCF pixel wrap, "
        "their middle frame, float16, fps 25); clean: true RGB, frame n//2, float32, real fps "
        f"(default per dataset: {defaults}; any other: {FALLBACK_PREPROCESS})",
    )
    extract.add_argument("--batch-size", type=int, default=16, help="videos per encoder batch")
    extract.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1), help="decoding threads")
    extract.add_argument(
        "--cache-dir", type=Path, default=None, help="feature cache (default: <out>/.feature_zoo_cache)"
    )
    extract.add_argument(
        "--missing-audio",
        choices=MISSING_AUDIO_POLICIES,
        default="skip",
        help="videos without an audio track: skip them (as the reference) or encode silence",
    )
    extract.add_argument("--zero-shot-split", default="cls_split", help="sub-folder of --splits holding stage_*.csv")
    extract.add_argument("--no-text", action="store_true", help="do not (re)compute the text embeddings")
    extract.add_argument(
        "--temporal",
        action="store_true",
        help="one CLIP vector per second (the frame at the middle of each second) and one CLAP vector per 1-s "
        "audio window, as (steps, dim) sequences in the TCAF layout under features/clip_clap_features_non_averaged/ "
        "(the clip-clap-temporal feature set); clean preprocessing, float16",
    )
    extract.add_argument(
        "--shard-size",
        type=int,
        default=512,
        help="with --executor ray/slurm: videos per shard (each shard fills the shared cache)",
    )
    add_executor_arguments(extract)

    text = subparser(sub, "text", "only the class-prompt text embeddings (two .npy files)", TEXT_EXAMPLES)
    _add_backbone_args(text)

    subparser(
        sub,
        "backbones",
        "list registered backbones and where their weights are expected",
        "  python -m feature_zoo backbones",
    )
    return parser


def _build_backbones(args: argparse.Namespace, console: Console):
    device = args.device or _default_device()
    if args.random_init:
        console.print(RANDOM_INIT_BANNER)
    config = BackboneConfig(
        args.visual_backbone,
        args.audio_backbone,
        args.visual_checkpoint,
        args.audio_checkpoint,
        args.clap_tokenizer,
        args.random_init,
        device,
    )
    with console.status(f"building backbones on {device} ..."):
        visual, audio = config.build()
    console.print(
        f"visual: {visual.identity} ({visual.dim}-d)   audio: {audio.identity} ({audio.dim}-d, {audio.sample_rate} Hz)"
    )
    return config, visual, audio


def _run_extract(args: argparse.Namespace, console: Console) -> int:
    from feature_zoo.pipeline import extract_dataset, prepare_extraction

    listing = prepare_extraction(  # bad flags or a wrong folder fail before any model loads
        args.videos,
        args.splits,
        args.zero_shot_split,
        temporal=args.temporal,
        preprocess=args.preprocess,
        local=args.executor == "local",
    )
    config, visual, audio = _build_backbones(args, console)
    preprocess = "clean" if args.temporal else args.preprocess or default_preprocess(args.dataset)
    default = "temporal features" if args.temporal else f"default for {args.dataset}"
    console.print(f"preprocessing: {preprocess}" + ("" if args.preprocess else f" ({default})"))
    with make_reporter(console=console) as progress:
        videos = {"done": 0, "total": 0}

        def on_start(total: int) -> None:
            videos["total"] = total
            progress.count("videos", 0, total, force=True)

        def on_progress(name: str, failure: str | None) -> None:
            # Missing files are summarised at the end: a partial download can mean thousands.
            if failure is not None and failure != NOT_FOUND:
                progress.note(f"skipped {name}: {failure}", "red")
            videos["done"] += 1
            progress.count("videos", videos["done"], videos["total"])

        result = extract_dataset(
            args.videos,
            args.splits,
            args.out,
            args.dataset,
            visual,
            audio,
            preprocess=preprocess,
            cache_dir=args.cache_dir,
            batch_size=args.batch_size,
            workers=args.workers,
            missing_audio=args.missing_audio,
            zero_shot_split=args.zero_shot_split,
            with_text=not args.no_text,
            temporal=args.temporal,
            listing=listing,
            on_start=on_start,
            on_progress=on_progress,
            on_text_progress=lambda label, n, total: progress.count(label, n, total, force=True),
            shards=None
            if args.executor == "local"
            else ShardedExtraction(config, executor_from_args(args, make_reporter(quiet=True)), args.shard_size),
        )
    _print_summary(args, result, console)
    return 0


def _print_summary(args: argparse.Namespace, result, console: Console) -> None:
    report = result.report
    absent, unreadable, silent = (report.failed(kind) for kind in (NOT_IN_FOLDER, UNREADABLE, WITHOUT_AUDIO))
    table = Table(title="feature_zoo extraction summary")
    columns = ("listed", NOT_IN_FOLDER, "extracted", "from cache", "encoded", UNREADABLE, "no audio (skipped)")
    for column in (*columns, "wall s", "files/s"):
        table.add_column(column, justify="right")
    listed = len(report.features) + len(report.failures)
    read = listed - len(absent)  # files that were there: what the wall time was spent on
    rate = read / report.wall_seconds if report.wall_seconds else 0.0
    counts = (listed, len(absent), len(report.features), report.cached, report.encoded, len(unreadable), len(silent))
    table.add_row(*map(str, counts), f"{report.wall_seconds:.1f}", f"{rate:.2f}")
    console.print(table)
    if absent:
        shown = ", ".join(list(absent)[:MAX_LISTED])
        more = f" and {len(absent) - MAX_LISTED} more" if len(absent) > MAX_LISTED else ""
        console.print(
            f"[yellow]{len(absent)} listed video(s) not in {escape(str(args.videos))}[/]: {escape(shown)}{more}"
        )
    headers = (f"[red]{len(unreadable)} unreadable video(s)[/]:", f"{len(silent)} video(s) without audio, skipped:")
    for header, failures in zip(headers, (unreadable, silent)):
        if not failures:
            continue
        console.print(header)
        for name, reason in list(failures.items())[:MAX_LISTED]:
            console.print(f"  {escape(name)}: {escape(reason)}")
        if len(failures) > MAX_LISTED:
            console.print(f"  ... and {len(failures) - MAX_LISTED} more")
    if report.failures:
        console.print(f"every video without features and why: {result.manifest_path} (not_in_folder, failed_videos)")
    if result.empty_classes:
        console.print(
            f"[yellow]{len(result.empty_classes)} split/class pair(s) without any video[/] (no pickle written)"
        )
    for path in result.removed_text:
        console.print(f"removed {path.name}: written by another CLAP text encoder")
    if args.random_init:
        console.print(RANDOM_INIT_BANNER)
    console.print(f"bundle written to {args.out} (manifest: {result.manifest_path})")


def _run_text(args: argparse.Namespace, console: Console) -> int:
    from feature_zoo.pipeline import write_text_embeddings

    _, visual, audio = _build_backbones(args, console)
    with make_reporter(console=console) as progress:
        removed = write_text_embeddings(
            args.out,
            args.splits,
            args.dataset,
            visual,
            audio,
            on_progress=lambda label, n, total: progress.count(label, n, total, force=True),
        )
    for path in removed:
        console.print(f"removed {path.name}: written by another CLAP text encoder")
    console.print(f"text embeddings written under {args.out}")
    return 0


def _run_backbones(console: Console) -> int:
    table = Table(title=f"registered backbones (weights dir: {weights_dir()}; set FEATURE_ZOO_WEIGHTS to change)")
    for column in ("name", "modality", "dim", "text dim", "sample rate", "description"):
        table.add_column(column)
    for info in [*VISUAL_BACKBONES.entries(), *AUDIO_BACKBONES.entries()]:
        table.add_row(
            info.name, info.modality, str(info.dim), str(info.text_dim), str(info.sample_rate or "-"), info.description
        )
    console.print(table)
    return 0


def main(argv: list[str] | None = None) -> int:
    # Offline machines must fail fast on hub look-ups instead of retrying for minutes.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    args = build_parser().parse_args(argv)
    console = Console()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)  # a cluster's pre-emption stops like Ctrl-C
    try:
        if args.command == "extract":
            return _run_extract(args, console)
        if args.command == "text":
            return _run_text(args, console)
        return _run_backbones(console)
    except (WeightsMissingError, FileNotFoundError, ValueError, BenchError) as error:
        console.print(f"[bold red]error:[/] {escape(str(error))}", soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        kept = "every finished encoder batch is in the feature cache" if args.command == "extract" else "nothing kept"
        console.print(f"interrupted; {kept}; rerun the same command to resume", style="yellow", soft_wrap=True)
        return Interrupted.EXIT_CODE


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
