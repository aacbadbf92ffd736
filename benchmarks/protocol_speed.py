"""Time the ClipClap protocol on a UCF-sized synthetic set (~7k videos) at the paper's UCF setting.

    python benchmarks/protocol_speed.py [--device cpu|cuda] [--epochs N] [--methods clipclap,...]

Prints a markdown table: seconds per training epoch (300 batches of 64 for ClipClap), per val
evaluation (76-point calibration grid), and for the whole two-stage protocol.
"""

from __future__ import annotations

import argparse
import time

import torch
from tabulate import tabulate

from avgzsl_bench.api import get_method
from avgzsl_bench.datasets.demo import make_demo_dataset
from avgzsl_bench.jobs.environment import resolve_device
from avgzsl_bench.protocol.stages import evaluate, run_single
from avgzsl_bench.training.trainer import RunTrainer

UCF_SIZED_SAMPLES_PER_CLASS = 146


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(method: str, device: torch.device, epochs: int | None, seed: int = 42) -> list:
    dataset = make_demo_dataset(UCF_SIZED_SAMPLES_PER_CLASS).to(device)
    spec = get_method(method)
    hparams = spec.hparams("ucf", {} if epochs is None else {"epochs": epochs})
    trainer = RunTrainer(spec, dataset, hparams, [seed], "train")
    trainer.train_epoch()  # warm-up: allocator, kernels
    _synchronize(device)
    started = time.perf_counter()
    trainer.train_epoch()
    _synchronize(device)
    epoch_seconds = time.perf_counter() - started
    started = time.perf_counter()
    evaluate(trainer.model, dataset.splits["val"], dataset.text)
    _synchronize(device)
    eval_seconds = time.perf_counter() - started
    started = time.perf_counter()
    result = run_single(spec, dataset, hparams, seed, RunTrainer)
    _synchronize(device)
    total = time.perf_counter() - started
    steps = hparams["batches_per_epoch"] * (hparams["epochs"] + result.stage1.best_epochs)
    return [
        method,
        str(device),
        len(dataset.splits["train_val"]) + len(dataset.splits["test"]),
        hparams["epochs"],
        result.stage1.best_epochs,
        f"{epoch_seconds:.2f}",
        f"{1000 * epoch_seconds / hparams['batches_per_epoch']:.1f}",
        f"{eval_seconds * 1000:.0f}",
        f"{total:.1f}",
        steps,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--methods", default="clipclap")
    parser.add_argument("--epochs", type=int, help="stage-1 epochs (default: the method's UCF setting)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    rows = [measure(method, device, args.epochs) for method in args.methods.split(",")]
    headers = [
        "method",
        "device",
        "videos",
        "stage-1 epochs",
        "stage-2 epochs",
        "s / epoch",
        "ms / step",
        "ms / val eval",
        "protocol s",
        "train steps",
    ]
    print(tabulate(rows, headers=headers, tablefmt="github"))


if __name__ == "__main__":
    main()
