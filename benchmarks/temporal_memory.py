"""Peak memory of the temporal benchmark at VGGSound size: does it fit a 24 GiB machine?

    python benchmarks/temporal_memory.py --root /data/vggsound_tcaf_synthetic            # full size
    python benchmarks/temporal_memory.py --root /tmp/small --scale 0.02                  # a quick check
    python benchmarks/temporal_memory.py --root ... --temporal-method tcaf               # + temporal steps

Writes (once; reused when present) a synthetic VGGSound-GZSL^cls bundle in the TCAF layout: the
real class split (copied from `--class-split`, the AVCA-GZSL VGGSound class-split folder), one
pickle per class and stage with one C3D (4096-d, ~15 steps for a 10 s clip at 0.64 s per step)
and one VGGish (128-d, ~10 steps at 0.96 s) sequence per video, and 300-d word2vec text. Videos
per stage folder: the reference CSVs' counts (val seen 7,817, val unseen 3,102, test seen 9,032,
test unseen 3,450); stage_1_train's CSV is not public, so `--train-videos` (default 70,000, an
upper estimate) sets it. Then, each phase in a fresh process, it reports the peak RSS of:

* parse: the first load (pickles -> flat float16 steps + the loader's cache file);
* cached: a load from that cache (what every later run does);
* pooled: cached load + mean pooling of every split + a few training steps and one val
  evaluation of a pooled method (`--pooled-method`, default cjme);
* temporal: cached load + a few steps and one val evaluation of `--temporal-method`, if given.

Disk: ~11.5 GiB for the pickles at float16 (`--dtype float32` doubles it) plus ~11.5 GiB of cache.
"""

from __future__ import annotations

import argparse
import csv
import json
import pickle
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

STAGE_VIDEOS = {  # from the reference split CSVs (VGGSound-GZSL^cls); stage_1_train: --train-videos
    "stage_1_val_seen": 7817,
    "stage_1_val_unseen": 3102,
    "stage_2_test_seen": 9032,
    "stage_2_test_unseen": 3450,
}
STAGES = ("stage_1_train", *STAGE_VIDEOS, "stage_2_train")
DIMS = {"video": 4096, "audio": 128}
FEATURES = "c3d-vggish-temporal"
FEATURE_DIR = "cls_features_non_averaged"
DEFAULT_CLASS_SPLIT = "/work/shared/reference/AVCA-GZSL/VGGSound/class-split"


def _lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_bundle(args: argparse.Namespace) -> None:
    root = Path(args.root)
    if (root / "features" / FEATURE_DIR / "text").is_dir():
        print(f"bundle present at {root}: reused")
        return
    source = Path(args.class_split)
    if not (source / "cls_split" / "stage_1_train.txt").is_file():
        sys.exit(f"--class-split {source} is not the AVCA-GZSL VGGSound class-split folder")
    import shutil

    shutil.copytree(source, root / "class-split", dirs_exist_ok=True)
    rng = np.random.default_rng(0)
    counts = {"stage_1_train": args.train_videos, **STAGE_VIDEOS}
    dtype = np.dtype(args.dtype)
    for stage, total in counts.items():
        classes = _lines(source / "cls_split" / f"{stage}.txt")
        per_class = max(1, round(total * args.scale / len(classes)))
        for stem in classes:
            steps = {"video": rng.integers(args.video_steps - 1, args.video_steps + 2, per_class)}
            steps["audio"] = np.maximum(1, np.round(steps["video"] * 0.64 / 0.96)).astype(int)
            names = [f"{stem}_{stage}_{j}" for j in range(per_class)]
            for modality, dim in DIMS.items():
                block = rng.random((int(steps[modality].sum()), dim), dtype=np.float32).astype(dtype)
                sequences = np.split(block, np.cumsum(steps[modality])[:-1])
                payload = {"features": sequences, "video_names": np.asarray(names), "fps": [25.0] * per_class}
                path = root / "features" / FEATURE_DIR / modality / stage / f"{stem}.pkl"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(pickle.dumps(payload, protocol=4))
        print(f"wrote {stage}: {len(classes)} classes x {per_class} videos", flush=True)
    for stage in ("stage_2_train",):  # never read by the protocol, but the layout has it
        for modality in DIMS:
            (root / "features" / FEATURE_DIR / modality / stage).mkdir(parents=True, exist_ok=True)
    with (source / "vggsound_w2v_class_names.csv").open(newline="", encoding="utf-8") as handle:
        keys = [row["manual"] for row in csv.DictReader(handle)]
    table = {key: (v / np.linalg.norm(v)).astype(np.float32) for key in keys for v in [rng.standard_normal(300)]}
    text = np.empty((), dtype=object)
    text[()] = table
    folder = root / "features" / FEATURE_DIR / "text"
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "word_embeddings_vggsound_normed.npy", text, allow_pickle=True)


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB


def _load(args: argparse.Namespace):
    import warnings

    from avgzsl_bench.datasets import DataSource

    source = DataSource("vggsound", args.root, features=FEATURES, cache_dir=args.cache_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return source.load().to(args.device)


def _train_steps(args: argparse.Namespace, dataset, method: str) -> None:
    from avgzsl_bench.api import get_method
    from avgzsl_bench.protocol.stages import evaluate
    from avgzsl_bench.training.trainer import RunTrainer

    spec = get_method(method)
    hparams = spec.hparams("vggsound", {"batches_per_epoch": args.steps}, FEATURES)
    trainer = RunTrainer(spec, dataset, hparams, [42], "train")
    trainer.train_epoch()
    evaluate(trainer.model, dataset.splits["val"], dataset.text)


def run_phase(args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    dataset = _load(args)
    loaded = time.perf_counter() - started
    if args.phase == "pooled":
        from avgzsl_bench.datasets.pooling import pool_dataset

        _train_steps(args, pool_dataset(dataset), args.pooled_method)
    elif args.phase == "temporal":
        _train_steps(args, dataset, args.temporal_method)
    steps = {m: int(dataset.splits["train_val"].__getattribute__(m).values.shape[0]) for m in DIMS}
    return {"phase": args.phase, "peak_rss_gib": round(_peak_gib(), 2), "load_s": round(loaded, 1), "steps": steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True, help="where the synthetic bundle is (or goes)")
    parser.add_argument("--cache-dir", help="loader cache folder (default: <root>/../<name>-cache)")
    parser.add_argument("--class-split", default=DEFAULT_CLASS_SPLIT)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the VGGSound video counts")
    parser.add_argument("--train-videos", type=int, default=70_000)
    parser.add_argument("--video-steps", type=int, default=15)
    parser.add_argument("--dtype", default="float16", choices=["float16", "float32"], help="of the pickled steps")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=20, help="training steps per measured method")
    parser.add_argument("--pooled-method", default="cjme")
    parser.add_argument("--temporal-method", default="")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.cache_dir = args.cache_dir or str(Path(args.root).resolve().parent / f"{Path(args.root).name}-cache")
    if args.phase:
        print(json.dumps(run_phase(args)))
        return
    write_bundle(args)
    phases = ["parse", "cached", "pooled"] + (["temporal"] if args.temporal_method else [])
    for phase in phases:
        if phase == "parse":
            for stale in Path(args.cache_dir).glob("*.pt"):
                stale.unlink()
        command = [sys.executable, __file__, *sys.argv[1:], "--phase", phase]
        output = subprocess.run(command, capture_output=True, text=True, check=False)
        if output.returncode != 0:
            sys.exit(f"phase {phase} failed:\n{output.stderr[-3000:]}")
        print(output.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
