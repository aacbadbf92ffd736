"""Two git revisions side by side on this machine's CPU: the default protocol, start-up, and the step floor.

    python benchmarks/cpu_protocol.py protocol [--a 97dbb89] [--b worktree|REV] [--repeats 3] [--threads 2]
        [--epochs 1] [--samples-per-class N] [--data bundle|demo] [--data-dir DIR] [--force]
    python benchmarks/cpu_protocol.py startup [--b worktree|REV] [--a REV] [--repeats 5] [--importtime]
    python benchmarks/cpu_protocol.py floor [--samples-per-class 146] [--steps N] [--repeats 3] [--show-plan]

protocol: `bench.py --methods clipclap --dataset ucf --root R --epochs 1 --no-store --quiet` (one stage-1
epoch, then stage 2) for revision A and revision B, alternating A, B, A, B ..., each run a fresh
subprocess. R is a UCF-sized bundle in the released CLIP/CLAP layout, written once with the test
suite's bundle writer (the real UCF class split and per-class counts when the reference copy is
present; `--data demo`, or a revision that cannot read the bundle: the same-sized demo set on the UCF
schedule). Each revision gets its own bundle cache, warmed by one untimed run. Prints the seconds of
every round, the medians and the ratio B/A.

startup: wall time of `bench.py --help`, `bench.py run --help`, `bench.py methods` and a bare
`python -c "import torch"` (B, and A when given), alternating; `--importtime` adds the top entries of `-X importtime`.

floor: in-process on the working tree: one ClipClap training step (`RunTrainer.train_epoch` per batch)
against the same sequence of matrix products (forward and backward of each Linear) on random
tensors, the floor no framework overhead can go below.

`worktree` is the checkout this file lives in, uncommitted edits included; any other revision is
checked out with `git worktree add --detach` under a temporary folder, run with PYTHONPATH and cwd
there, and removed afterwards. Every mode refuses to start when the 1-minute load is above 1.0
(`--force` runs anyway): the numbers compare revisions only on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import inspect
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from tabulate import tabulate

REPO = Path(__file__).resolve().parents[1]
WORKTREE = "worktree"
PREVIOUS_RELEASE = "97dbb89"
DEFAULT_THREADS = 2  # the harness's default per run
MAX_LOAD = 1.0
UCF_SIZED_SAMPLES_PER_CLASS = 146  # the demo's UCF-sized set, as in protocol_speed.py
# UCF-GZSL^cls: 30 stage-1 train, 12 val-unseen and 6 test-unseen classes; all_class.txt lists 51 in
# the synthetic fallback. A train class has a file in 3 stage folders, a val-unseen class in 2, a
# test-unseen class in 1: 120 files hold the ~7k videos.
UCF_CLASSES = {"train": 30, "val_unseen": 12, "test_unseen": 6, "extra": 0, "unused": 3}
UCF_STAGE_FILES = 30 * 3 + 12 * 2 + 6 * 1
SAMPLES_PER_FILE = round(UCF_SIZED_SAMPLES_PER_CLASS * 48 / UCF_STAGE_FILES)
# The demo's own ClipClap schedule trains 60 batches an epoch; the UCF one (both revisions) 300 at lr 7e-5.
UCF_SCHEDULE_ON_DEMO = ("--set", "batches_per_epoch=300", "--set", "lr=7e-05")


# ---------------------------------------------------------------------------------------------------------------------
# Revisions


@dataclass
class Revision:
    label: str  # "A" or "B"
    name: str  # as given: "worktree" or a git revision
    path: Path  # the checkout bench.py runs in
    commit: str
    threads_flag: bool = False  # the CLI takes --threads
    cache_dir_flag: bool = False  # the CLI takes --cache-dir
    methods_argv: tuple[str, ...] = ("methods",)

    def env(self, threads: int, cache: Path | None = None) -> dict[str, str]:
        """The same thread count for every revision: a CLI without --threads leaves torch at its
        default, which OMP_NUM_THREADS sets at start-up."""
        env = {**os.environ, "PYTHONPATH": str(self.path), "OMP_NUM_THREADS": str(threads)}
        env["MKL_NUM_THREADS"] = str(threads)
        if cache is not None:
            env["AVGZSL_BENCH_CACHE"] = str(cache)
        return env

    def bench(self, *args: str) -> list[str]:
        return [sys.executable, str(self.path / "bench.py"), *args]


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, check=True, capture_output=True, text=True).stdout.strip()


def _commit_of(name: str) -> str:
    if name != WORKTREE:
        return _git("rev-parse", "--short", f"{name}^{{commit}}")
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    return _git("rev-parse", "--short", "HEAD") + (" + uncommitted edits" if dirty else "")


@contextlib.contextmanager
def checkouts(names: dict[str, str]) -> Iterator[dict[str, Revision]]:
    """label -> Revision, each non-worktree revision in its own detached git worktree (removed on exit)."""
    base = Path(tempfile.mkdtemp(prefix="cpu_protocol-"))
    added: list[Path] = []
    try:
        revisions = {}
        for label, name in names.items():
            path = REPO
            if name != WORKTREE:
                path = base / f"{label}-{_commit_of(name)}"
                _git("worktree", "add", "--detach", str(path), name)
                added.append(path)
            revisions[label] = Revision(label, name, path, _commit_of(name))
        yield revisions
    finally:
        for path in added:
            subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=REPO, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
        subprocess.run(["git", "worktree", "prune"], cwd=REPO, capture_output=True)


def probe(revision: Revision, threads: int) -> Revision:
    """What the revision's CLI accepts (read from its --help), after checking that its own package is
    the one imported (an editable install of another checkout must not shadow it)."""
    env = revision.env(threads)
    where = subprocess.run(
        [sys.executable, "-c", "import avgzsl_bench; print(avgzsl_bench.__file__)"],
        cwd=revision.path, env=env, capture_output=True, text=True,
    )  # fmt: skip
    imported = Path(where.stdout.strip() or "?").resolve()
    if where.returncode != 0 or revision.path.resolve() not in imported.parents:
        raise SystemExit(f"revision {revision.name}: avgzsl_bench imports from {imported}, not {revision.path}")

    def help_text(*args: str) -> str:
        done = subprocess.run(revision.bench(*args), cwd=revision.path, env=env, capture_output=True, text=True)
        return done.stdout if done.returncode == 0 else ""

    top = help_text("--help")
    legacy = "--list-methods" in top  # the first CLI: flags only, no subcommands
    run = top if legacy else help_text("run", "--help")
    revision.threads_flag = "--threads" in run
    revision.cache_dir_flag = "--cache-dir" in run
    revision.methods_argv = ("--list-methods",) if legacy else ("methods",)
    return revision


def timed(command: Sequence[str], revision: Revision, env: dict[str, str]) -> float:
    """Wall seconds of one subprocess; a failed run stops the benchmark with its error output."""
    started = time.perf_counter()
    done = subprocess.run(list(command), cwd=revision.path, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RunFailed(revision, command, done)
    return seconds


class RunFailed(RuntimeError):
    def __init__(self, revision: Revision, command: Sequence[str], done: subprocess.CompletedProcess) -> None:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        super().__init__(f"{revision.label} ({revision.name}) exited {done.returncode}: {' '.join(command)}\n{tail}")


def check_load(force: bool) -> tuple[float, float, float]:
    load = os.getloadavg()
    if load[0] > MAX_LOAD:
        print(f"warning: 1-minute load average {load[0]:.2f} > {MAX_LOAD}: timings would measure the other work")
        if not force:
            raise SystemExit("not started (pass --force to run anyway)")
    return load


def _loads(load: Sequence[float]) -> str:
    return " / ".join(f"{value:.2f}" for value in load)


def _header(revisions: dict[str, Revision], threads: int) -> None:
    for revision in revisions.values():
        flags = "--threads" if revision.threads_flag else f"no --threads: OMP_NUM_THREADS={threads}"
        print(f"{revision.label}: {revision.name} ({revision.commit}) at {revision.path}; {flags}")


# ---------------------------------------------------------------------------------------------------------------------
# protocol


def _bundle_factory() -> ModuleType:
    """The test suite's writer of the released on-disk layout (tests/ is not a package)."""
    spec = importlib.util.spec_from_file_location("bundle_factory", REPO / "tests" / "bundle_factory.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def ucf_bundle(data_dir: Path, samples: int | None) -> Path:
    """A UCF-sized bundle, written once per size: the real class split and per-video counts when the
    reference class split is present (samples=None), else synthetic UCF-like classes."""
    factory = _bundle_factory()
    real = samples is None and factory.reference_class_split("ucf") is not None
    root = data_dir / ("UCF-real" if real else f"UCF-{samples or SAMPLES_PER_FILE}")
    if (root / ".complete").is_file():
        return root
    shutil.rmtree(root, ignore_errors=True)
    if real:
        info = factory.write_bundle(root, "ucf", samples_per_class="csv", classes="reference")
    else:
        per_file = samples or SAMPLES_PER_FILE
        info = factory.write_bundle(root, "ucf", UCF_CLASSES, per_file, classes="synthetic")
    videos = sum(info.expected_count(split) for split in ("train_val", "test"))
    (root / ".complete").write_text(f"{videos} videos, {len(info.class_names)} classes\n")
    return root


def protocol_argv(revision: Revision, data: list[str], cache: Path, args: argparse.Namespace) -> list[str]:
    argv = ["--methods", "clipclap", *data, "--epochs", str(args.epochs), "--no-store", "--quiet", "--device", "cpu"]
    if revision.threads_flag:
        argv += ["--threads", str(args.threads)]
    if revision.cache_dir_flag:
        argv += ["--cache-dir", str(cache)]
    return revision.bench(*argv)


def warm_up(revisions: dict[str, Revision], data: list[str], caches: dict[str, Path], args: argparse.Namespace) -> dict:
    """One untimed run per revision: builds its tensor cache and bytecode; returns its results tables."""
    tables = {}
    for label, revision in revisions.items():
        command = protocol_argv(revision, data, caches[label], args)
        done = subprocess.run(
            command, cwd=revision.path, env=revision.env(args.threads, caches[label]), capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RunFailed(revision, command, done)
        tables[label] = done.stdout.strip()
    return tables


def _prepare_data(revisions: dict[str, Revision], caches: dict[str, Path], args: argparse.Namespace) -> tuple:
    """(data arguments, warm-up tables): the bundle, or the same-sized demo where a revision cannot read it."""
    demo = ["--dataset", "demo", "--demo-samples", str(UCF_SIZED_SAMPLES_PER_CLASS), *UCF_SCHEDULE_ON_DEMO]
    if args.data == "bundle":
        root = ucf_bundle(Path(args.data_dir), args.samples_per_class)
        print(f"bundle: {root} ({(root / '.complete').read_text().strip()})")
        data = ["--dataset", "ucf", "--root", str(root)]
        try:
            return data, warm_up(revisions, data, caches, args)
        except RunFailed as failure:
            print(f"the bundle run failed, so both revisions run --dataset demo instead:\n{failure}\n")
    return demo, warm_up(revisions, demo, caches, args)


def protocol(args: argparse.Namespace) -> None:
    load_before = check_load(args.force)
    with checkouts({"A": args.a, "B": args.b}) as revisions, tempfile.TemporaryDirectory() as scratch:
        for revision in revisions.values():
            probe(revision, args.threads)
        _header(revisions, args.threads)
        caches = {label: Path(scratch) / f"cache-{label}" for label in revisions}
        data, tables = _prepare_data(revisions, caches, args)
        for label, table in tables.items():
            print(f"\n{label}'s results (warm-up run):\n{table}")
        seconds: dict[str, list[float]] = {label: [] for label in revisions}
        for _ in range(args.repeats):
            for label, revision in revisions.items():
                command = protocol_argv(revision, data, caches[label], args)
                seconds[label].append(timed(command, revision, revision.env(args.threads, caches[label])))
        load_after = os.getloadavg()
    rows = [[index + 1, f"{a:.2f}", f"{b:.2f}"] for index, (a, b) in enumerate(zip(seconds["A"], seconds["B"]))]
    print(f"\n`bench.py {' '.join(data)} --epochs {args.epochs}` wall seconds, {args.threads} threads:\n")
    print(tabulate(rows, headers=["round", f"A {args.a} s", f"B {args.b} s"], tablefmt="github"))
    median_a, median_b = statistics.median(seconds["A"]), statistics.median(seconds["B"])
    print(f"\nmedian A {median_a:.2f} s, median B {median_b:.2f} s, ratio B/A {median_b / median_a:.3f}")
    print(f"load average (1/5/15 min): before {_loads(load_before)}, after {_loads(load_after)}")


# ---------------------------------------------------------------------------------------------------------------------
# startup


def _startup_commands(revision: Revision) -> dict[str, list[str]]:
    return {
        "bench.py --help": revision.bench("--help"),
        "bench.py run --help": revision.bench("run", "--help"),
        f"bench.py {' '.join(revision.methods_argv)}": revision.bench(*revision.methods_argv),
    }


def importtime_top(revision: Revision, threads: int, count: int) -> list[list[Any]]:
    """The `count` largest cumulative entries of `python -X importtime bench.py --help`."""
    command = [sys.executable, "-X", "importtime", str(revision.path / "bench.py"), "--help"]
    done = subprocess.run(command, cwd=revision.path, env=revision.env(threads), capture_output=True, text=True)
    entries = []
    for line in done.stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) == 3 and fields[0].strip().isdigit():
            entries.append((int(fields[1]), int(fields[0]), fields[2].rstrip()))
    entries.sort(reverse=True)
    return [[f"{cumulative / 1000:.1f}", f"{own / 1000:.1f}", name] for cumulative, own, name in entries[:count]]


def startup(args: argparse.Namespace) -> None:
    load_before = check_load(args.force)
    names = {"B": args.b, **({"A": args.a} if args.a else {})}
    with checkouts(names) as revisions:
        for revision in revisions.values():
            probe(revision, args.threads)
        _header(revisions, args.threads)
        bare = ("python -c 'import torch'", [sys.executable, "-c", "import torch"])
        runs = [(r, name, cmd) for r in revisions.values() for name, cmd in [*_startup_commands(r).items(), bare]]
        times: dict[tuple[str, str], list[float]] = {(r.label, name): [] for r, name, _ in runs}
        for revision, _, command in runs:  # untimed: bytecode of a fresh worktree, the OS file cache
            timed(command, revision, revision.env(args.threads))
        for _ in range(args.repeats):
            for revision, name, command in runs:
                times[(revision.label, name)].append(timed(command, revision, revision.env(args.threads)))
        top = importtime_top(revisions["B"], args.threads, 15) if args.importtime else []
        load_after = os.getloadavg()
    rows = [[label, name, f"{statistics.median(t):.3f}", f"{min(t):.3f}"] for (label, name), t in times.items()]
    print(f"\nstart-up wall seconds, {args.repeats} alternating repeats:\n")
    print(tabulate(rows, headers=["rev", "command", "median s", "min s"], tablefmt="github"))
    for label in revisions:
        help_s = statistics.median(times[(label, "bench.py --help")])
        torch_s = statistics.median(times[(label, bare[0])])
        print(f"{label}: bench.py --help / bare import torch = {help_s / torch_s:.2f}")
    if top:
        print("\n`python -X importtime bench.py --help` of B, largest cumulative (ms):\n")
        print(tabulate(top, headers=["cumulative ms", "self ms", "module"], tablefmt="github"))
    print(f"\nload average (1/5/15 min): before {_loads(load_before)}, after {_loads(load_after)}")


# ---------------------------------------------------------------------------------------------------------------------
# floor


@dataclass(frozen=True)
class MatMul:
    """(m x k) @ (k x n) [+ bias]; a_t / b_t: the operand is a transposed view, as torch passes it."""

    m: int
    k: int
    n: int
    bias: bool = False
    a_t: bool = False
    b_t: bool = False

    @property
    def flops(self) -> int:
        return 2 * self.m * self.k * self.n


def _forward(layer: Any, rows: int) -> MatMul:
    return MatMul(rows, layer.in_features, layer.out_features, bias=True, b_t=True)  # addmm(b, x, W.t())


def _backward(layer: Any, rows: int, input_grad: bool) -> list[MatMul]:
    """grad @ W for the input (not for data), and grad.t() @ x for the weight: torch takes the weight
    gradient in the transposed form because W.t() is a column-major operand."""
    products = [MatMul(layer.out_features, rows, layer.in_features, a_t=True)]
    if input_grad:
        products.insert(0, MatMul(rows, layer.out_features, layer.in_features))
    return products


def _chain(forward: list, backward: list, layers: list, rows: int, data_input: bool) -> None:
    for index, layer in enumerate(layers):
        forward.append(_forward(layer, rows))
        backward.append(_backward(layer, rows, input_grad=not (data_input and index == 0)))


def clipclap_plan(model: Any, batch: int, classes: int) -> list[tuple[str, MatMul]]:
    """The matrix products of one ClipClap step (loss, backward, after_step), shapes from the model.

    Which layer runs on which rows follows `ClipClap.loss` and `after_step`: W_enc's first Linear runs
    on the K class rows and is gathered per sample (its weight gradient over the B samples); the CE
    term sends the K class rows through W_enc and W_proj again; an encoder's first Linear gets no input
    gradient since its input is data.
    """
    from torch import nn

    linears = {name: module for name, module in model.named_modules() if isinstance(module, nn.Linear)}

    def layers(*prefixes: str) -> list:
        return [module for prefix in prefixes for name, module in linears.items() if name.startswith(prefix + ".")]

    (text_in,) = layers("W_enc")  # one dense block: the gathered product covers all of W_enc's products
    forward = [_forward(text_in, classes)]
    backward = [[MatMul(text_in.out_features, batch, text_in.in_features, a_t=True)]]
    _chain(forward, backward, layers("O_enc", "O_proj"), batch, data_input=True)
    _chain(forward, backward, layers("W_proj"), batch, data_input=False)
    _chain(forward, backward, layers("W_enc"), classes, data_input=True)
    _chain(forward, backward, layers("W_proj"), classes, data_input=False)
    embedding = layers("W_proj")[-1].out_features
    forward.append(MatMul(batch, embedding, classes, b_t=True))  # theta_o @ class_embeddings.T
    backward.append([MatMul(batch, classes, embedding), MatMul(classes, batch, embedding, a_t=True)])
    _chain(forward, backward, layers("D_o"), batch, data_input=False)
    _chain(forward, backward, layers("D_w"), batch, data_input=False)
    after_step: list[MatMul] = []
    _chain(after_step, [], layers("O_enc", "O_proj"), batch, data_input=True)
    _chain(after_step, [], layers("W_enc"), classes, data_input=True)
    _chain(after_step, [], layers("W_proj"), batch, data_input=False)
    backward_flat = [product for products in reversed(backward) for product in products]
    return [
        *(("forward", p) for p in forward),
        *(("backward", p) for p in backward_flat),
        *(("after_step", p) for p in after_step),
    ]


def traced_products(step: Callable[[], None]) -> list[MatMul]:
    """The mm/addmm calls torch dispatches while `step` runs (autograd's backward included)."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    def transposed(t: torch.Tensor) -> bool:
        return t.dim() == 2 and t.stride(0) == 1 and t.stride(1) != 1

    products: list[MatMul] = []

    class Recorder(TorchDispatchMode):
        def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
            packet = func.overloadpacket
            if packet in (torch.ops.aten.mm, torch.ops.aten.addmm):
                a, b = args[-2:]
                bias = packet is torch.ops.aten.addmm
                products.append(MatMul(a.shape[0], a.shape[1], b.shape[1], bias, transposed(a), transposed(b)))
            return func(*args, **(kwargs or {}))

    with Recorder():
        step()
    return products


def replay_seconds(plan: Sequence[MatMul], steps: int) -> float:
    """Seconds of `steps` steps of the plan's products on random operands of the same shapes and layouts."""
    import torch

    def operand(rows: int, cols: int, transposed: bool) -> torch.Tensor:
        return torch.randn(cols, rows).t() if transposed else torch.randn(rows, cols)

    calls = []
    for p in plan:
        a, b, out = operand(p.m, p.k, p.a_t), operand(p.k, p.n, p.b_t), torch.empty(p.m, p.n)
        bias = torch.randn(p.n) if p.bias else None
        calls.append((a, b, out, bias))
    started = time.perf_counter()
    for _ in range(steps):
        for a, b, out, bias in calls:
            if bias is None:
                torch.mm(a, b, out=out)
            else:
                torch.addmm(bias, a, b, out=out)
    return time.perf_counter() - started


def run_trainer(spec: Any, dataset: Any, hparams: dict[str, Any], seed: int) -> Any:
    """`RunTrainer` of one run, whether its constructor takes `seed` or a one-element `seeds` list."""
    from avgzsl_bench.training.trainer import RunTrainer

    parameters = inspect.signature(RunTrainer).parameters
    return RunTrainer(spec, dataset, hparams, [seed] if "seeds" in parameters else seed, "train")


def _compare_plan(plan: Sequence[MatMul], traced: Sequence[MatMul]) -> None:
    if Counter(plan) == Counter(traced):
        print(f"module plan matches the traced step: {len(plan)} products")
        return
    missing, extra = Counter(traced) - Counter(plan), Counter(plan) - Counter(traced)
    print(f"warning: module plan ({len(plan)} products, {sum(p.flops for p in plan) / 1e6:.1f} MFLOP) differs from")
    print(f"  the traced step ({len(traced)} products, {sum(p.flops for p in traced) / 1e6:.1f} MFLOP)")
    print(f"  traced, not planned: {dict(missing)}\n  planned, not traced: {dict(extra)}")


def floor(args: argparse.Namespace) -> None:
    load_before = check_load(args.force)
    import torch

    from avgzsl_bench.api import get_method
    from avgzsl_bench.datasets.demo import make_demo_dataset

    torch.set_num_threads(args.threads)
    dataset = make_demo_dataset(args.samples_per_class or UCF_SIZED_SAMPLES_PER_CLASS)
    spec = get_method("clipclap")
    hparams = spec.hparams("ucf", {"batches_per_epoch": args.steps} if args.steps else None)
    steps, batch = hparams["batches_per_epoch"], hparams["batch_size"]
    trainer = run_trainer(spec, dataset, hparams, seed=42)
    trainer.train_epoch()  # allocator, first-call set-up
    labelled = clipclap_plan(trainer.model, batch, len(trainer.split.seen))
    plan = [product for _, product in labelled]
    one_step = run_trainer(spec, dataset, {**hparams, "batches_per_epoch": 1}, seed=42)
    one_step.train_epoch()
    _compare_plan(plan, traced_products(one_step.train_epoch))
    replay_seconds(plan, 1)
    epochs, floors = [], []
    for _ in range(args.repeats):  # alternating, so that a drift of the machine's speed hits both alike
        started = time.perf_counter()
        trainer.train_epoch()
        epochs.append(time.perf_counter() - started)
        floors.append(replay_seconds(plan, steps))
    load_after = os.getloadavg()
    if args.show_plan:
        rows = [[phase, f"({p.m}x{p.k})@({p.k}x{p.n})", p.bias, p.a_t, p.b_t] for phase, p in labelled]
        print(tabulate(rows, headers=["phase", "product", "bias", "A.t()", "B.t()"], tablefmt="github"))
    step_ms = 1000 * statistics.median(epochs) / steps
    floor_ms = 1000 * statistics.median(floors) / steps
    gflop = sum(p.flops for p in plan) / 1e9
    train = len(dataset.splits["train"])
    print(f"\nClipClap on demo data ({train} train samples), batch {batch}, {steps} steps/epoch,")
    print(f"{args.threads} threads, median of {args.repeats}:\n")
    rows = [
        ["training step (RunTrainer.train_epoch / steps)", f"{step_ms:.2f}"],
        [f"matmul floor ({len(plan)} products, {gflop:.3f} GFLOP)", f"{floor_ms:.2f}"],
    ]
    print(tabulate(rows, headers=["", "ms / step"], tablefmt="github"))
    print(f"\nratio step/floor {step_ms / floor_ms:.2f}; floor rate {gflop / floor_ms * 1000:.1f} GFLOP/s")
    print(f"load average (1/5/15 min): before {_loads(load_before)}, after {_loads(load_after)}")


# ---------------------------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    modes = parser.add_subparsers(dest="mode", required=True)
    for name, function, repeats in (("protocol", protocol, 3), ("startup", startup, 5), ("floor", floor, 3)):
        sub = modes.add_parser(name, help=function.__name__)
        sub.set_defaults(handler=function)
        sub.add_argument("--repeats", type=int, default=repeats, help="alternating rounds (default: %(default)s)")
        sub.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="CPU threads (default: %(default)s)")
        sub.add_argument("--force", action="store_true", help=f"run even when the 1-minute load is above {MAX_LOAD}")
        if name != "floor":
            sub.add_argument("--b", default=WORKTREE, help="revision B: 'worktree' (default) or a git revision")
        if name != "startup":
            sub.add_argument(
                "--samples-per-class",
                type=int,
                help="protocol: vectors per class file of the bundle (default: the real UCF counts, else "
                f"{SAMPLES_PER_FILE}); floor: demo samples per class (default: {UCF_SIZED_SAMPLES_PER_CLASS})",
            )
    protocol_mode, startup_mode, floor_mode = (modes.choices[name] for name in ("protocol", "startup", "floor"))
    protocol_mode.add_argument("--a", default=PREVIOUS_RELEASE, help="revision A (default: %(default)s)")
    protocol_mode.add_argument("--epochs", type=int, default=1, help="stage-1 epochs (default: %(default)s)")
    protocol_mode.add_argument(
        "--data",
        choices=("bundle", "demo"),
        default="bundle",
        help="bundle: the UCF-sized released layout; demo: the UCF-sized synthetic set on the UCF schedule, also "
        "used when a revision cannot read the bundle (default: %(default)s)",
    )
    protocol_mode.add_argument(
        "--data-dir",
        default=str(Path(tempfile.gettempdir()) / "avgzsl_cpu_protocol"),
        help="where the UCF-sized bundle is written once (default: %(default)s)",
    )
    startup_mode.add_argument("--a", help="also time this revision")
    startup_mode.add_argument("--importtime", action="store_true", help="top 15 of -X importtime, revision B")
    floor_mode.add_argument("--steps", type=int, help="steps per epoch (default: the UCF schedule's)")
    floor_mode.add_argument("--show-plan", action="store_true", help="print every matrix product of a step")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except RunFailed as failure:
        print(f"error: {failure}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as failure:  # git: an unknown revision, a worktree that cannot be added
        print(f"error: {' '.join(failure.cmd)}: {(failure.stderr or '').strip()}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
