"""Throughput of feature_zoo extraction (videos/s) with random-init backbones.

    python benchmarks/feature_zoo_throughput.py --videos 32 --batch-size 8 --device cpu
    python benchmarks/feature_zoo_throughput.py --audio-backbone wavcaps-htsat-bert laion-clap-htsat-tiny
    python benchmarks/feature_zoo_throughput.py --videos 16 --size 320x240 --seconds 7   # UCF-like clips

Generates N mp4 files (default 64x48, 2 s, 25 fps, stereo AAC sine), then, for each audio backbone
given (in one process, on the same files), measures
  decode:  hashing + PyAV decode + CLIP preprocessing, on the worker threads alone
  encode:  CLIP image + CLAP audio encoders on pre-decoded batches
  end-to-end: Extractor.run on a cold cache (decode threads overlapped with encoding), then a warm-cache rerun;
  text:    one chunk of class prompts through each text encoder (prompts/s).
``--preprocess`` picks the visual recipe (reference rules of ``--dataset``, or clean). Random weights
cost the same FLOPs as the real ones, so the encoder numbers transfer; decode cost grows with
resolution and length (try --size/--seconds).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import torch

from feature_zoo.backbones import AUDIO_BACKBONES, DEFAULT_AUDIO_BACKBONE, build_audio, build_visual
from feature_zoo.cache import FeatureCache
from feature_zoo.decode import decode_video
from feature_zoo.extract import Extractor
from feature_zoo.preprocess import PREPROCESS_MODES, REFERENCE, frame_policy
from feature_zoo.synthetic import sine, write_video
from feature_zoo.text import load_templates
from feature_zoo.weights import TEXT_BATCH

PROMPT_CLASSES = ("Apply Eye Makeup", "Playing Guitar", "Rock Climbing Indoor", "Walking With Dog")


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0 = torch default)")
    parser.add_argument("--size", default="64x48", help="frame size WxH of the generated videos")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of the generated videos")
    parser.add_argument(
        "--audio-backbone",
        nargs="+",
        choices=sorted(AUDIO_BACKBONES.names()),
        default=[DEFAULT_AUDIO_BACKBONE],
        help="one or more audio backbones, measured one after the other",
    )
    parser.add_argument("--preprocess", choices=PREPROCESS_MODES, default="reference")
    parser.add_argument(
        "--dataset",
        choices=sorted(REFERENCE),
        default="ucf",
        help="whose reference rules --preprocess reference applies",
    )
    return parser.parse_args()


def _write_videos(folder: Path, count: int, size: str, seconds: float) -> dict[str, Path]:
    folder.mkdir()
    width, height = (int(v) for v in size.lower().split("x"))
    return {
        f"clip{i:04d}": write_video(
            folder / f"clip{i:04d}.mp4",
            num_frames=int(seconds * 25),
            size=(width, height),
            audio=sine(seconds, freq=200.0 + i),
        )
        for i in range(count)
    }


def _measure(args, visual, audio, policy, videos: dict[str, Path], cache_root: Path) -> dict[str, float]:
    def decode(path: Path):
        decoded = decode_video(path, audio.sample_rate, audio.clip_seconds, policy.frame_rule)
        return policy.image(decoded.frame, decoded.frame_index, decoded.size, visual.preprocess), decoded.audio

    started = time.perf_counter()
    with ThreadPoolExecutor(args.workers) as pool:
        decoded = list(pool.map(decode, videos.values()))
    seconds = {"decode": time.perf_counter() - started, "visual": 0.0, "audio": 0.0}

    # warm-up so one-off initialisation (kernels, lazy imports) is not charged to the first batch
    visual.encode_images(decoded[0][0][None])
    audio.encode_audio(torch.from_numpy(decoded[0][1][None]))
    for start in range(0, len(decoded), args.batch_size):
        chunk = decoded[start : start + args.batch_size]
        t0 = time.perf_counter()
        visual.encode_images(torch.stack([image for image, _ in chunk]))
        t1 = time.perf_counter()
        audio.encode_audio(torch.from_numpy(np.stack([wave for _, wave in chunk])))
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds["audio"] += time.perf_counter() - t1
        seconds["visual"] += t1 - t0

    extractor = Extractor(
        visual, audio, FeatureCache(cache_root), batch_size=args.batch_size, workers=args.workers, policy=policy
    )
    cold = extractor.run(videos)
    warm = extractor.run(videos)
    seconds.update(
        cold=cold.wall_seconds,
        cold_encode=cold.encode_seconds,
        cold_decode=cold.decode_seconds,
        warm=warm.wall_seconds,
        warm_hits=warm.cached,
    )
    for encoder, backbone in (("clip", visual), ("clap", audio)):
        templates = load_templates(encoder, "person")
        prompts = ([t.replace("{}", c) for c in PROMPT_CLASSES for t in templates] * TEXT_BATCH)[:TEXT_BATCH]
        backbone.encode_texts(prompts[:2])  # warm-up
        started = time.perf_counter()
        backbone.encode_texts(prompts)
        seconds[f"{encoder}_text"] = time.perf_counter() - started
    return seconds


def _report(name: str, n: int, s: dict[str, float], workers: int) -> None:
    print(f"--- {name}")
    print(f"decode only    : {n / s['decode']:8.2f} videos/s  ({s['decode']:.2f}s, {workers} threads)")
    print(f"CLIP image enc : {n / s['visual']:8.2f} videos/s  ({s['visual']:.2f}s)")
    print(f"CLAP audio enc : {n / s['audio']:8.2f} videos/s  ({s['audio']:.2f}s)")
    print(f"encode total   : {n / (s['visual'] + s['audio']):8.2f} videos/s")
    print(
        f"end-to-end cold: {n / s['cold']:8.2f} videos/s  ({s['cold']:.2f}s; "
        f"encode {s['cold_encode']:.2f}s, decode thread-time {s['cold_decode']:.2f}s)"
    )
    print(f"end-to-end warm: {n / s['warm']:8.2f} videos/s  (cache hits {int(s['warm_hits'])}/{n})")
    for encoder in ("clip", "clap"):
        rate = TEXT_BATCH / s[f"{encoder}_text"]
        print(f"{encoder.upper()} text      : {rate:8.1f} prompts/s ({TEXT_BATCH} prompts)")


def main() -> None:
    args = _parse()
    if args.threads:
        torch.set_num_threads(args.threads)
    policy = frame_policy(args.preprocess, args.dataset)
    print(
        f"device={args.device} torch threads={torch.get_num_threads()} cpus={os.cpu_count()} "
        f"videos={args.videos} ({args.size}, {args.seconds:g} s) batch={args.batch_size} workers={args.workers} "
        f"preprocess={args.preprocess}" + (f" ({args.dataset} rules)" if args.preprocess == "reference" else "")
    )
    visual = build_visual(random_init=True, device=args.device)
    with tempfile.TemporaryDirectory() as tmp:
        videos = _write_videos(Path(tmp) / "videos", args.videos, args.size, args.seconds)
        for name in args.audio_backbone:
            started = time.perf_counter()
            audio = build_audio(name, random_init=True, device=args.device)
            print(f"{name} built in {time.perf_counter() - started:.1f}s (random init)")
            seconds = _measure(args, visual, audio, policy, videos, Path(tmp) / f"cache-{name}")
            _report(f"CLIP ViT-B/32 + {audio.display_name}", args.videos, seconds, args.workers)
            del audio


if __name__ == "__main__":
    main()
