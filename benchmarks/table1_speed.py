"""Wall time of the paper's Table 1 (5 methods x 3 datasets x N seeds, both stages): the runs one
after another ("one-run") vs the seeds of each configuration stacked into one model ("stacked"),
on the CPU and, when present, CUDA.

    python benchmarks/table1_speed.py [--devices cpu,cuda] [--seeds 3] [--steps 5] [--threads 2]
        [--methods cjme,avgzslnet,avca,hyper-multiple,clipclap] [--datasets ucf,activitynet,vggsound]
        [--stage2-fraction 1.0] [--profile | --profile-only]

A whole Table 1 takes hours on a CPU, so this MEASURES a few steps and EXTRAPOLATES. Per method
and dataset it times `--steps` training steps after as many warm-up steps (on CUDA the stacked
steps are CUDA-graph replays) and one validation and one test evaluation, on synthetic data of
the dataset's size and class counts, then counts what the protocol does with the method's
schedule for that dataset: stage 1 is epochs x batches_per_epoch steps and one val evaluation
per epoch; stage 2 trains the best epoch's count again (unknown before training: the full count
times `--stage2-fraction`, 1.0 being the upper bound) with a val evaluation per epoch; then one
test evaluation. One-run does that once per seed; stacked trains the steps once for all seeds
and evaluates each seed's model.

`--profile` adds, per method (UCF sizes), the operations a training step would launch as GPU
kernels (leaf ATen operators on tensors with elements, counted with torch.profiler on this device,
with the GPU's settings: dropout masks made up front, vmap's own batching rules), its matrix FLOPs
(torch.utils.flop_counter), and from them a launch-bound estimate of a step on an H100 under CUDA
graphs: kernels x LAUNCH_US + FLOPs / EFFECTIVE_TFLOPS (assumptions printed).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from unittest import mock

import torch
from tabulate import tabulate

from avgzsl_bench import dropout
from avgzsl_bench.api import get_method
from avgzsl_bench.datasets.demo import CLASS_STRUCTURE, make_demo_dataset
from avgzsl_bench.datasets.types import GZSLDataset
from avgzsl_bench.protocol.stages import evaluate
from avgzsl_bench.training.stacked import StackedTrainer
from avgzsl_bench.training.trainer import RunTrainer

TABLE1 = "cjme,avgzslnet,avca,hyper-multiple,clipclap"
# Samples per class giving each benchmark's size (UCF ~6.4k videos, ActivityNet ~20k, VGGSound ~30k).
SAMPLES_PER_CLASS = {"ucf": 146, "activitynet": 105, "vggsound": 155}
# GPU estimate: a small kernel replayed from a CUDA graph costs about this much device time on an
# H100 (launch within the graph plus the ramp of a grid of a few blocks), and float32 matrix
# products of these sizes reach about this rate (a fraction of the 67 TFLOP/s FP32 peak).
LAUNCH_US = 2.5
EFFECTIVE_TFLOPS = 25.0
# ATen operators that never launch a kernel (views, metadata, allocation without a fill).
NO_KERNEL = {
    "aten::view", "aten::reshape", "aten::_reshape_alias", "aten::as_strided", "aten::transpose",
    "aten::t", "aten::permute", "aten::expand", "aten::squeeze", "aten::unsqueeze", "aten::select",
    "aten::slice", "aten::detach", "aten::detach_", "aten::alias", "aten::_unsafe_view", "aten::unbind",
    "aten::split", "aten::chunk", "aten::narrow", "aten::empty", "aten::empty_like", "aten::empty_strided",
    "aten::resize_", "aten::lift_fresh", "aten::movedim", "aten::diagonal", "aten::result_type",
    "aten::set_", "aten::view_as", "aten::expand_as", "aten::numpy_T", "aten::_has_compatible_shallow_copy_type",
    "aten::is_nonzero", "aten::size", "aten::stride", "aten::dim", "aten::_to_copy_noop", "aten::conj",
    "aten::resolve_conj", "aten::resolve_neg", "aten::_neg_view", "aten::split_with_sizes", "aten::unflatten",
    "aten::flatten", "aten::contiguous", "aten::to", "aten::align_to", "aten::_unwrap_batched",
}  # fmt: skip


@dataclass
class Costs:
    """Measured seconds of one (method, dataset, device, path)."""

    step: float  # one training step (all stacked runs)
    val: float  # one val evaluation of one run
    test: float  # one test evaluation of one run


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device) -> float:
    synchronize(device)
    started = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - started


def measure(method: str, dataset: GZSLDataset, benchmark: str, seeds: int, steps: int, stacked: bool) -> Costs:
    spec = get_method(method)
    device = dataset.text.device
    hparams = spec.hparams(benchmark, {"batches_per_epoch": steps})
    if stacked:
        trainer: RunTrainer | StackedTrainer = StackedTrainer(spec, dataset, hparams, list(range(seeds)), "train")
    else:
        trainer = RunTrainer(spec, dataset, hparams, [0], "train")
    trainer.train_epoch()  # warm-up (on CUDA, the stacked steps are captured here)
    seconds = timed(trainer.train_epoch, device)
    model = trainer.model_of(0)
    evaluate(model, dataset.splits["val"], dataset.text)
    val = timed(lambda: evaluate(model, dataset.splits["val"], dataset.text), device)
    test = timed(lambda: evaluate(model, dataset.splits["test"], dataset.text, beta=1.0), device)
    return Costs(seconds / steps, val, test)


def protocol_seconds(costs: Costs, method: str, benchmark: str, seeds: int, stacked: bool, fraction: float) -> tuple:
    """Extrapolated seconds of a whole two-stage protocol of `seeds` runs, and its training steps."""
    hparams = get_method(method).hparams(benchmark)
    epochs = hparams["epochs"] * (1 + fraction)
    steps = epochs * hparams["batches_per_epoch"]
    evaluations = seeds * (epochs * costs.val + costs.test)
    train = steps * costs.step * (1 if stacked else seeds)
    return train + evaluations, steps * seeds


def kernels_and_flops(method: str, dataset: GZSLDataset, seeds: int, stacked: bool) -> tuple[float, float]:
    """Kernels launched and matrix FLOPs of one training step (all stacked runs), as on a GPU: the
    step's dropout draws hashed up front, and vmap's own batching rules (the GPU defaults)."""
    from torch.profiler import ProfilerActivity, profile
    from torch.utils.flop_counter import FlopCounterMode

    spec = get_method(method)
    steps = 3
    hparams = spec.hparams("ucf", {"batches_per_epoch": steps})
    with mock.patch.object(dropout, "CPU_PREFETCH_LIMIT", 1 << 62):
        if stacked:
            trainer: RunTrainer | StackedTrainer = StackedTrainer(
                spec, dataset, hparams, list(range(seeds)), "train", graphs=False, exact=False
            )
        else:
            trainer = RunTrainer(spec, dataset, hparams, [0], "train")
        trainer.train_epoch()
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            trainer.train_epoch()
        flops = FlopCounterMode(display=False)
        with flops:
            trainer.train_epoch()
    return sum(launches(event) for event in prof.events()) / steps, flops.get_total_flops() / steps


def launches(event: object) -> int:
    """1 if a profiled CPU operator would be one GPU kernel: a leaf ATen operator that touches a
    tensor with elements (not a view, an allocation, or the host-side handling of a Python scalar);
    a fused Adam call counts once (on a GPU one multi-tensor launch, on a CPU a loop of its own)."""
    name = getattr(event, "name", "")
    ancestors = []
    parent = getattr(event, "cpu_parent", None)
    while parent is not None:
        ancestors.append(parent.name)
        parent = parent.cpu_parent
    if "aten::_fused_adam_" in ancestors:
        return 0
    if name == "aten::_fused_adam_":
        return 1
    if not name.startswith("aten::") or name in NO_KERNEL:
        return 0
    if any(child.name.startswith("aten::") for child in getattr(event, "cpu_children", [])):
        return 0
    shapes = [shape for shape in getattr(event, "input_shapes", []) if isinstance(shape, list)]
    return int(any(len(shape) > 0 for shape in shapes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", default="cpu,cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--methods", default=TABLE1)
    parser.add_argument("--datasets", default="ucf,activitynet,vggsound")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5, help="timed training steps per measurement")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--stage2-fraction", type=float, default=1.0)
    parser.add_argument("--paths", default="one-run,stacked")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--profile-only", action="store_true", help="only the kernel/FLOP profile (no timing)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.profile_only:
        estimates = print_profile(args.methods.split(","), args.seeds, args.devices.split(",")[0])
        print_gpu_table1(estimates, args.datasets.split(","), args.seeds, args.stage2_fraction)
        return
    methods, benchmarks, paths = args.methods.split(","), args.datasets.split(","), args.paths.split(",")
    rows, totals = [], {}
    for device_name in args.devices.split(","):
        device = torch.device(device_name)
        for benchmark in benchmarks:
            data = make_demo_dataset(SAMPLES_PER_CLASS[benchmark], classes=CLASS_STRUCTURE[benchmark]).to(device)
            for method in methods:
                row = [device_name, benchmark, method, get_method(method).hparams(benchmark)["batch_size"]]
                for path in paths:
                    stacked = path == "stacked"
                    costs = measure(method, data, benchmark, args.seeds, args.steps, stacked)
                    seconds, steps = protocol_seconds(
                        costs, method, benchmark, args.seeds, stacked, args.stage2_fraction
                    )
                    totals[device_name, path] = [
                        a + b for a, b in zip(totals.get((device_name, path), [0, 0]), (seconds, steps))
                    ]
                    row += [f"{1000 * costs.step:.1f}", f"{1000 * costs.val:.0f}", f"{seconds / 60:.1f}"]
                rows.append(row)
                print(" ".join(str(cell) for cell in row), file=sys.stderr, flush=True)  # progress
    headers = ["device", "dataset", "method", "batch"]
    for path in paths:
        headers += [f"{path} ms/step", f"{path} ms/val eval", f"{path} min (extrapolated)"]
    print(
        f"\n## Table 1 cost per configuration ({args.seeds} seeds; stacked ms/step covers all {args.seeds} runs; "
        f"{args.threads} CPU threads; stage 2 = {args.stage2_fraction} x stage 1 epochs)\n"
    )
    print(tabulate(rows, headers=headers, tablefmt="github"))
    summary = [
        [device, path, f"{seconds / 60:.1f}", f"{steps / seconds:.0f}"]
        for (device, path), (seconds, steps) in totals.items()
    ]
    print(f"\n## Table 1 wall time, EXTRAPOLATED from {args.steps} timed steps per configuration\n")
    print(tabulate(summary, headers=["device", "path", "minutes", "run-steps/s"], tablefmt="github"))
    if args.profile:
        estimates = print_profile(methods, args.seeds, args.devices.split(",")[0])
        print_gpu_table1(estimates, benchmarks, args.seeds, args.stage2_fraction)


def print_gpu_table1(
    estimates: dict[str, tuple[float, float]], benchmarks: list[str], seeds: int, fraction: float
) -> None:
    """The profile's per-step GPU estimates times the steps Table 1 trains (its schedules per
    dataset): the training part of Table 1 on one H100, one-run vs stacked. Evaluations are left
    out (a few batched matrix products per epoch), and the UCF-size step stands for every dataset
    (the models have the same input sizes; only the class count differs)."""
    minutes = [0.0, 0.0]
    for method, per_step in estimates.items():
        for benchmark in benchmarks:
            hparams = get_method(method).hparams(benchmark)
            steps = hparams["epochs"] * (1 + fraction) * hparams["batches_per_epoch"]
            minutes[0] += steps * seeds * per_step[0] / 60e3
            minutes[1] += steps * per_step[1] / 60e3
    print(f"\n## Table 1 training on one H100, ESTIMATED from the profile ({seeds} seeds, evaluations excluded)\n")
    rows = [["one-run", f"{minutes[0]:.1f}"], ["stacked", f"{minutes[1]:.1f}"]]
    print(tabulate(rows, headers=["path", "minutes (estimate)"], tablefmt="github"))


def print_profile(methods: list[str], seeds: int, device_name: str) -> dict[str, tuple[float, float]]:
    """Print the per-step kernel/FLOP profile; returns each method's estimated GPU ms per step
    (one run, and all stacked runs)."""
    device = torch.device(device_name)
    data = make_demo_dataset(SAMPLES_PER_CLASS["ucf"], classes=CLASS_STRUCTURE["ucf"]).to(device)
    rows, estimates = [], {}
    for method in methods:
        kernels_one, flops = kernels_and_flops(method, data, seeds, stacked=False)
        kernels_stacked, flops_stacked = kernels_and_flops(method, data, seeds, stacked=True)
        estimate = [
            1e3 * (k * LAUNCH_US * 1e-6 + f / (EFFECTIVE_TFLOPS * 1e12))
            for k, f in ((kernels_one, flops), (kernels_stacked, flops_stacked))
        ]
        estimates[method] = (estimate[0], estimate[1])
        rows.append(
            [
                method,
                f"{kernels_one:.0f}",
                f"{kernels_stacked:.0f}",
                f"{flops / 1e9:.1f}",
                f"{flops_stacked / 1e9:.1f}",
                f"{estimate[0]:.2f}",
                f"{estimate[1]:.2f}",
            ]
        )
    print(
        f"\n## Per training step (UCF sizes), counted on {device_name}; GPU estimate = kernels x {LAUNCH_US} us "
        f"+ FLOPs / {EFFECTIVE_TFLOPS} TFLOP/s (H100, CUDA graphs, float32)\n"
    )
    headers = ["method", "kernels one-run", f"kernels stacked x{seeds}", "GFLOP one-run", f"GFLOP stacked x{seeds}",
               "est. ms one-run", f"est. ms stacked x{seeds}"]  # fmt: skip
    print(tabulate(rows, headers=headers, tablefmt="github"))
    return estimates


if __name__ == "__main__":
    main()
