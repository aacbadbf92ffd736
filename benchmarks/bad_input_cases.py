"""Reproduce the bad-input cases of the second bad-input round and print case -> exit code -> first line.

Runs `bench.py` of a checkout (default: this one) in subprocesses on small synthetic data written by
the tests' bundle factory, with a loopback HTTP server for `fetch`; nothing leaves the machine.
Compare two checkouts by running it twice:

    python benchmarks/bad_input_cases.py --repo /path/to/main > before.md
    python benchmarks/bad_input_cases.py > after.md

About two minutes on 2 CPU cores (it trains two tiny demo models).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import io
import os
import subprocess
import sys
import tempfile
import threading
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE / "tests"))

from bundle_factory import write_bundle  # noqa: E402

FOLDERS = {"ucf": "UCF", "activitynet": "ActivityNet", "vggsound": "VGGSound"}


class Bench:
    def __init__(self, repo: Path, work: Path) -> None:
        self.repo, self.work = repo, work
        self.env = {**os.environ, "AVGZSL_DATA": str(work / "home"), "OMP_NUM_THREADS": "1"}

    def __call__(self, *args: str, pick: str = "") -> tuple[int, str]:
        """Exit code and the first line of output (the first containing `pick`, if one does)."""
        done = subprocess.run(
            [sys.executable, str(self.repo / "bench.py"), *args],
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        lines = [line.strip() for line in (done.stderr + "\n" + done.stdout).splitlines() if line.strip()]
        picked = [line for line in lines if pick and pick in line]
        return done.returncode, (picked or lines or [""])[0]


def zip_tree(root: Path, skip: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root).as_posix()
            if path.is_file() and not (skip and relative.startswith(skip)):
                archive.write(path, "data/" + relative)
    return buffer.getvalue()


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, list[str]]:
    log: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            log.append(self.requestline)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, log


def reference_checkpoint(folder: Path) -> tuple[Path, Path]:
    """A reference-format ClipClap pair that learnt nothing (freshly initialised)."""
    import torch

    from avgzsl_bench.api import get_method
    from avgzsl_bench.datasets.types import FeatureDims

    spec = get_method("clipclap")
    model = spec.build(FeatureDims(), spec.hparams("demo"))
    state = {key.replace(".", ".fc.", 1): value for key, value in model.state_dict().items()}
    (folder / "checkpoints").mkdir(parents=True)
    first, second = folder / "ClipClap_model_score.pt", folder / "checkpoints" / "ClipClap_model_score_ckpt_0.pt"
    torch.save({"epoch": 1, "model": state, "optimizer": {}, "metric": "score"}, first)
    torch.save({"epoch": 1, "model": state, "optimizer": {}, "metric": "score"}, second)
    return first, second


def cases(bench: Bench, work: Path) -> list[tuple[str, int, str]]:
    rows = []
    bundles = work / "bundles"
    for dataset, folder in FOLDERS.items():
        write_bundle(bundles / folder, dataset, classes="synthetic", samples_per_class=3)
    ucf = bundles / "UCF"
    demo = ["--dataset", "demo", "--demo-samples", "12", "--threads", "1"]
    train = ["--methods", "clipclap", *demo, "--epochs", "1", "--set", "batches_per_epoch=5", "--quiet"]
    bench(*train, "--no-store", "--save-models", str(work / "models"))
    (saved,) = (work / "models").glob("*.pt")
    rows.append(
        (
            "1 saved demo model evaluated on UCF",
            *bench("evaluate", str(saved), "--dataset", "ucf", "--root", str(ucf), "--store", "s.sqlite"),
        )
    )
    first, second = reference_checkpoint(work / "reference")
    rows.append(
        (
            "1 reference checkpoint near chance",
            *bench(
                "evaluate",
                "--stage1",
                str(first),
                "--stage2",
                str(second),
                *demo[:4],
                "--store",
                "s.sqlite",
                pick="near chance",
            ),
        )
    )

    served = work / "served"
    served.mkdir()
    (served / "bad.zip").write_bytes(zip_tree(bundles, skip="VGGSound/"))
    (served / "data.zip").write_bytes(zip_tree(bundles))
    server, log = serve(served)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    fetch = ["fetch", "clipclap-features", "--quiet", "--retries", "0"]
    rows.append(("2 fetch of an archive with a wrong layout", *bench(*fetch, "--url", f"{url}/bad.zip")))
    before = len(log)
    code, line = bench(*fetch, "--url", f"{url}/data.zip")
    rows.append((f"2 rerun with a correct --url ({len(log) - before} GET)", code, line))
    server.shutdown()

    missing = work / "csv" / "UCF"
    write_bundle(missing, "ucf", classes="synthetic", samples_per_class=3)
    table = missing / "class-split" / "ucf_clip_class_names.csv"
    lines = table.read_text().splitlines()
    table.write_text("\n".join([lines[0], *lines[2:]]) + "\n")
    run = ["--methods", "clipclap", "--dataset", "ucf", "--epochs", "1", "--no-store", "--quiet"]
    rows.append(("3 class row missing from the name CSV", *bench(*run, "--root", str(missing))))

    clip = work / "clip" / "UCF"
    write_bundle(clip, "ucf", classes="synthetic", samples_per_class=3)
    for stale in sorted((clip / "class-split" / "main_split").iterdir()):
        stale.unlink()
    (clip / "class-split" / "main_split").rmdir()
    rows.append(
        ("4 --features selavi on a CLIP/CLAP bundle", *bench(*run, "--root", str(clip), "--features", "selavi"))
    )

    bogus = work / "bogus.pt"
    bogus.write_bytes(os.urandom(4096))
    rows.append(("5 random-bytes checkpoint", *bench("evaluate", str(bogus), "--no-store")))
    rows.append(("8 leaderboard --store on a missing path", *bench("leaderboard", "--store", "absent/x.sqlite")))
    rows.append(("  ... and was a file created?", int((work / "absent" / "x.sqlite").exists()), ""))
    done = subprocess.run(
        [sys.executable, str(bench.repo / "bench.py"), *train[:-1], "--store", "t.sqlite"],
        cwd=work,
        env=bench.env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    header = next((line for line in done.stdout.splitlines() if line.startswith("| method")), "")
    rows.append(("seeds: the run table's count column", done.returncode, " ".join(header.split())[:60]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=str(HERE), help="checkout whose bench.py runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        rows = cases(Bench(Path(args.repo).resolve(), work), work)
    print("| case | exit | first line of output |\n|---|---|---|")
    for case, code, line in rows:
        print(f"| {case} | {code} | {line[:300].replace('|', '/')} |")


if __name__ == "__main__":
    main()
