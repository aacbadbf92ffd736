"""Milliseconds per TCAF training step (or its baselines'), on synthetic sequences of the reference's sizes.

    python benchmarks/tcaf_step.py [--methods tcaf,attention-fusion,perceiver] [--dataset ucf]
        [--features c3d-vggish-temporal] [--batch-size 64] [--video-steps 60] [--steps 3]
        [--repeats 3] [--threads 2] [--device cpu]

One step is what the trainer does per batch: the loss under the harness's dropout masks, backward,
Adam (the trainer's `RunAdam`), then `after_step` (the reference's extra train-mode pass) under
no_grad. The batch is `--batch-size` sequences of exactly `--video-steps` video steps and the
matching audio steps (video steps × video step / audio step, e.g. 60 C3D steps = 40 VGGish steps),
with the method's hyper-parameters for `--dataset`/`--features` (UCF cls: depth 6, 8 heads of 64).
Reported: the median of `--repeats` measurements of `--steps` steps each, after as many warm-up steps.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from tabulate import tabulate

from avgzsl_bench.api import Padded, SampleBatch, Schedule, TextEmbeddings, TrainBatch, get_method
from avgzsl_bench.datasets.types import FeatureDims
from avgzsl_bench.jobs.environment import resolve_device
from avgzsl_bench.nn.dropout import MaskStream, masks_from, seed_key, step_key
from avgzsl_bench.training.optim import RunAdam

# features: (video dim, audio dim, video s/step, audio s/step), as the TCAF layout stores them
FEATURES = {"c3d-vggish-temporal": (4096, 128, 0.64, 0.96), "selavi-temporal": (512, 512, 1.0, 1.0)}
TRAINING_CLASSES = 30  # UCF's stage-2 training classes (the K of the cross-entropy)


def synthetic_batch(features: str, batch: int, video_steps: int, device: torch.device) -> TrainBatch:
    video_dim, audio_dim, step_v, step_a = FEATURES[features]
    audio_steps = max(1, round(video_steps * step_v / step_a))
    generator = torch.Generator().manual_seed(0)
    video = torch.randn(batch, video_steps, video_dim, generator=generator).abs()
    audio = torch.rand(batch, audio_steps, audio_dim, generator=generator) * 255
    real_v, real_a = (torch.ones(batch, steps, dtype=torch.bool) for steps in (video_steps, audio_steps))
    targets = torch.arange(batch) % TRAINING_CLASSES
    text = TextEmbeddings(w2v=torch.randn(TRAINING_CLASSES, 300, generator=generator))
    sample = SampleBatch(
        Padded(video, real_v, step_v).to(device),
        Padded(audio, real_a, step_a).to(device),
        targets.to(device),
        targets.to(device),
        TextEmbeddings(w2v=text.parts["w2v"][targets].to(device)),
    )
    return TrainBatch(
        sample, torch.arange(TRAINING_CLASSES, device=device), TextEmbeddings(w2v=text.parts["w2v"].to(device))
    )


def ms_per_step(method: str, args: argparse.Namespace, batch: TrainBatch, device: torch.device) -> list[float]:
    spec = get_method(method)
    hparams = spec.hparams(args.dataset, {"batch_size": args.batch_size}, args.features, ("w2v",))
    video_dim, audio_dim, _, _ = FEATURES[args.features]
    torch.manual_seed(0)
    model = spec.build(FeatureDims(video=video_dim, audio=audio_dim, text_parts=(("w2v", 300),)), hparams).to(device)
    model.train()
    optimiser = RunAdam([p for p in model.parameters() if p.requires_grad], Schedule.from_hparams(hparams))
    key = seed_key(0, device)
    counter = torch.zeros((), dtype=torch.int32, device=device)

    def step() -> None:
        with masks_from(MaskStream(step_key(key, counter))):
            optimiser.zero_grad()
            sum(model.loss(batch).values()).backward()
            optimiser.step()
            with torch.no_grad():
                model.after_step(batch)
        counter.add_(1)

    times = []
    for _ in range(args.repeats):
        for _ in range(args.steps):
            step()  # warm-up
        synchronize(device)
        started = time.perf_counter()
        for _ in range(args.steps):
            step()
        synchronize(device)
        times.append(1000 * (time.perf_counter() - started) / args.steps)
    return times


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default="tcaf")
    parser.add_argument("--dataset", default="ucf", choices=("ucf", "activitynet", "vggsound"))
    parser.add_argument("--features", default="c3d-vggish-temporal", choices=sorted(FEATURES))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--video-steps", type=int, default=60)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per measurement (after as many warm-up)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    batch = synthetic_batch(args.features, args.batch_size, args.video_steps, device)
    rows = []
    for method in args.methods.split(","):
        times = ms_per_step(method, args, batch, device)
        rows.append([method, f"{statistics.median(times):.1f}", " ".join(f"{t:.1f}" for t in times)])
    print(
        f"ms per training step, {args.dataset}/{args.features}, batch {args.batch_size} x {args.video_steps} video "
        f"steps, {device}, {args.threads} threads; median of {args.repeats} x {args.steps} steps"
    )
    print(tabulate(rows, headers=["method", "median ms", "each measurement"], tablefmt="github"))


if __name__ == "__main__":
    main()
