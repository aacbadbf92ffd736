"""Milliseconds per training step of each method (one run, one device), code variants side by side.

    python benchmarks/step_speed.py [--methods cjme,avgzslnet,avca,hyper-multiple,clipclap]
        [--dataset ucf] [--steps 10] [--repeats 3] [--threads 2] [--device cpu]
        [--variants current,torch-dropout,per-sample-text]

Each method trains with its hyper-parameters for `--dataset` (batch size included) on synthetic data
of that dataset's size. Variants are timed in turn, `--repeats` times each, and the median is
reported, so a change of machine load affects them alike:

  current          the code as it is
  torch-dropout    torch's own dropout masks (`F.dropout`, global generator) instead of the
                   counter-based masks of `avgzsl_bench.nn.dropout`
  per-sample-text  each sample's class text through the whole text encoder, instead of its first
                   Linear on the K class rows and gathered (`nn_blocks.encode_sample_text`)

A step is what `RunTrainer.train_epoch` does per batch: loss, backward, Adam, after_step.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Iterator
from unittest import mock

import torch
import torch.nn.functional as F
from tabulate import tabulate

import methods.avca
import methods.avgzslnet
import methods.cjme
import methods.clipclap
from avgzsl_bench.api import get_method
from avgzsl_bench.datasets.demo import CLASS_STRUCTURE, make_demo_dataset
from avgzsl_bench.datasets.types import GZSLDataset, TextEmbeddings
from avgzsl_bench.jobs.environment import resolve_device
from avgzsl_bench.nn.blocks import select_text
from avgzsl_bench.nn.dropout import CounterDropout
from avgzsl_bench.training.trainer import RunTrainer

TABLE1 = "cjme,avgzslnet,avca,hyper-multiple,clipclap"
# Samples per class giving each benchmark's size (UCF ~6.4k videos, ActivityNet ~20k, VGGSound ~30k).
SAMPLES_PER_CLASS = {"ucf": 146, "activitynet": 105, "vggsound": 155}
VARIANTS = ("current", "torch-dropout", "per-sample-text")


def _torch_dropout(self: CounterDropout, x: torch.Tensor) -> torch.Tensor:
    return F.dropout(x, self.p, training=self.training)


def _per_sample_text(encoder: torch.nn.Sequential, class_text: TextEmbeddings, which: str, targets: torch.Tensor):
    return encoder(select_text(class_text.rows(targets), which))


@contextlib.contextmanager
def variant(name: str) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        if name == "torch-dropout":
            stack.enter_context(mock.patch.object(CounterDropout, "forward", _torch_dropout))
        elif name == "per-sample-text":
            for module in (methods.avca, methods.avgzslnet, methods.cjme, methods.clipclap):
                stack.enter_context(mock.patch.object(module, "encode_sample_text", _per_sample_text))
        elif name != "current":
            raise SystemExit(f"unknown variant {name!r}; choose from {', '.join(VARIANTS)}")
        yield


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def ms_per_step(method: str, dataset: GZSLDataset, benchmark: str, steps: int, device: torch.device) -> float:
    spec = get_method(method)
    hparams = spec.hparams(benchmark, {"batches_per_epoch": steps})
    trainer = RunTrainer(spec, dataset, hparams, [0], "train")
    trainer.train_epoch()  # warm-up: allocator, kernels, lazy state
    synchronize(device)
    started = time.perf_counter()
    trainer.train_epoch()
    synchronize(device)
    return 1000 * (time.perf_counter() - started) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default=TABLE1)
    parser.add_argument("--dataset", default="ucf", choices=sorted(SAMPLES_PER_CLASS))
    parser.add_argument("--steps", type=int, default=10, help="timed steps per measurement (after as many warm-up)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    names = args.variants.split(",")
    dataset = make_demo_dataset(SAMPLES_PER_CLASS[args.dataset], classes=CLASS_STRUCTURE[args.dataset]).to(device)
    rows = []
    for method in args.methods.split(","):
        times: dict[str, list[float]] = {name: [] for name in names}
        for _ in range(args.repeats):
            for name in names:
                with variant(name):
                    times[name].append(ms_per_step(method, dataset, args.dataset, args.steps, device))
        medians = {name: statistics.median(values) for name, values in times.items()}
        batch = get_method(method).hparams(args.dataset)["batch_size"]
        rows.append([method, batch, *(f"{medians[name]:.1f}" for name in names)])
        if "current" in medians:
            rows[-1] += [f"{medians[name] / medians['current']:.2f}" for name in names if name != "current"]
    others = [f"{name} / current" for name in names if name != "current"] if "current" in names else []
    print(
        f"ms per training step, median of {args.repeats} x {args.steps} steps, {device}, {args.threads} threads, "
        f"{args.dataset}-sized synthetic data"
    )
    print(tabulate(rows, headers=["method", "batch", *names, *others], tablefmt="github"))


if __name__ == "__main__":
    main()
