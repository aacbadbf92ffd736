"""Throughput of feature_zoo extraction (videos/s) with random-init backbones.

    python benchmarks/feature_zoo_throughput.py --videos 32 --batch-size 8 --device cpu
    python benchmarks/feature_zoo_throughput.py --videos 16 --size 320x240 --seconds 7   # UCF-like clips

Generates N mp4 files (default 64x48, 2 s, 25 fps, stereo AAC sine), then measures
  decode:  hashing + PyAV decode + CLIP preprocessing, on the worker threads alone
  encode:  CLIP image + CLAP audio encoders on pre-decoded batches
  end-to-end: Extractor.run on a cold cache (decode threads overlapped with encoding), then a warm-cache rerun.
Random weights cost the same FLOPs as the real ones, so the encoder numbers transfer; decode cost
grows with resolution and length (try --size/--seconds).
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

from feature_zoo.backbones import build_audio, build_visual
from feature_zoo.cache import FeatureCache
from feature_zoo.decode import decode_video
from feature_zoo.extract import Extractor
from feature_zoo.synthetic import sine, write_video


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0 = torch default)")
    parser.add_argument("--size", default="64x48", help="frame size WxH of the generated videos")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of the generated videos")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    print(
        f"device={args.device} torch threads={torch.get_num_threads()} cpus={os.cpu_count()} "
        f"videos={args.videos} ({args.size}, {args.seconds:g} s) batch={args.batch_size} workers={args.workers}"
    )
    started = time.perf_counter()
    visual = build_visual(random_init=True, device=args.device)
    audio = build_audio(random_init=True, device=args.device)
    print(f"backbones built in {time.perf_counter() - started:.1f}s (random init)")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "videos"
        folder.mkdir()
        width, height = (int(v) for v in args.size.lower().split("x"))
        videos = {
            f"clip{i:04d}": write_video(
                folder / f"clip{i:04d}.mp4",
                num_frames=int(args.seconds * 25),
                size=(width, height),
                audio=sine(args.seconds, freq=200.0 + i),
            )
            for i in range(args.videos)
        }

        def decode(path: Path):
            decoded = decode_video(path, audio.sample_rate, audio.clip_seconds)
            return visual.preprocess(decoded.frame), decoded.audio

        started = time.perf_counter()
        with ThreadPoolExecutor(args.workers) as pool:
            decoded = list(pool.map(decode, videos.values()))
        decode_s = time.perf_counter() - started

        # warm-up so one-off initialisation (kernels, lazy imports) is not charged to the first batch
        visual.encode_images(decoded[0][0][None])
        audio.encode_audio(torch.from_numpy(decoded[0][1][None]))
        visual_s = audio_s = 0.0
        for start in range(0, len(decoded), args.batch_size):
            chunk = decoded[start : start + args.batch_size]
            t0 = time.perf_counter()
            visual.encode_images(torch.stack([image for image, _ in chunk]))
            t1 = time.perf_counter()
            audio.encode_audio(torch.from_numpy(np.stack([wave for _, wave in chunk])))
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            audio_s += time.perf_counter() - t1
            visual_s += t1 - t0

        cache = FeatureCache(Path(tmp) / "cache")
        extractor = Extractor(visual, audio, cache, batch_size=args.batch_size, workers=args.workers)
        cold = extractor.run(videos)
        warm = extractor.run(videos)

    n = args.videos
    print(f"decode only    : {n / decode_s:8.2f} videos/s  ({decode_s:.2f}s, {args.workers} threads)")
    print(f"CLIP image enc : {n / visual_s:8.2f} videos/s  ({visual_s:.2f}s)")
    print(f"CLAP audio enc : {n / audio_s:8.2f} videos/s  ({audio_s:.2f}s)")
    print(f"encode total   : {n / (visual_s + audio_s):8.2f} videos/s")
    print(
        f"end-to-end cold: {n / cold.wall_seconds:8.2f} videos/s  ({cold.wall_seconds:.2f}s; "
        f"encode {cold.encode_seconds:.2f}s, decode thread-time {cold.decode_seconds:.2f}s)"
    )
    print(f"end-to-end warm: {n / warm.wall_seconds:8.2f} videos/s  (cache hits {warm.cached}/{n})")


if __name__ == "__main__":
    main()
