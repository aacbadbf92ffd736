"""`bench.py evaluate`: score trained models (released reference checkpoints or `run --save-models`
files) on a dataset without training, by the reference rule, and store an evaluation row."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from avgzsl_bench.artefacts import get_artefact
from avgzsl_bench.artefacts.provenance import NEAR_CHANCE_FACTOR, UNVERIFIED_LABEL, check_source, near_chance
from avgzsl_bench.cli import common
from avgzsl_bench.datasets import DataSource, list_datasets, list_feature_sets
from avgzsl_bench.datasets.locations import data_home
from avgzsl_bench.datasets.source import DEFAULT_DEMO_SAMPLES
from avgzsl_bench.datasets.spec import DATASETS, DEFAULT_FEATURES
from avgzsl_bench.errors import BenchError
from avgzsl_bench.jobs.defaults import DEFAULT_THREADS
from avgzsl_bench.store.predictions import Predictions
from avgzsl_bench.store.records import RunRecord
from avgzsl_bench.store.sqlite import ResultStore

if TYPE_CHECKING:  # the handlers import torch's side when they run, not when the parser is built
    from avgzsl_bench.artefacts.checkpoints import TrainedModels
    from avgzsl_bench.jobs.evaluate import EvaluatedModels

RELEASED_MODELS = "clipclap-models"
EXAMPLES = """\
  python bench.py fetch clipclap-models && python bench.py evaluate --dataset ucf   # the paper's released models
  python bench.py evaluate --dataset ucf --stage1 s1/ClipClap_model_score.pt \\
      --stage2 s2/checkpoints/ClipClap_model_score_ckpt_19.pt
  python bench.py evaluate runs/ClipClap_UCF --dataset ucf --text-order name   # a tree of reference runs
  python bench.py evaluate TCAF_models/ --method tcaf --dataset ucf --features c3d-vggish-temporal
  python bench.py run --methods clipclap --dataset demo --save-models results/models
  python bench.py evaluate results/models                     # every model file saved there
Reference checkpoints are evaluated with the reference's position-based text mapping (they were trained
with it) unless --text-order name is given; saved models use the mapping of the run that made them.
Saved models record the dataset, feature set, text mapping and classes they were trained on and are refused
on other data; rows of reference checkpoints are stored marked "provenance not verifiable"."""


def add_parser(subparsers: Any) -> None:
    parser = common.subparser(
        subparsers,
        "evaluate",
        "evaluate trained models without training: the stage-1 model chooses the calibration on val, "
        "the stage-2 model is scored on test at it (S/U/HM/ZSL); the row is stored as an evaluation",
        EXAMPLES,
    )
    parser.add_argument(
        "models",
        nargs="*",
        metavar="PATH",
        help=f"saved-model files or folders, or a folder of reference runs (default: the fetched {RELEASED_MODELS})",
    )
    parser.add_argument("--stage1", help="reference stage-1 best model (*_score.pt)")
    parser.add_argument("--stage2", help="reference stage-2 checkpoint (checkpoints/*_score_ckpt_<epoch-1>.pt)")
    parser.add_argument("--method", default="clipclap", help="the method of reference checkpoints")
    group = parser.add_argument_group("data")
    group.add_argument("--dataset", choices=list_datasets(), help="needed for reference checkpoints")
    group.add_argument(
        "--features",
        choices=list_feature_sets(),
        help=f"feature set (default: the saved run's, else {DEFAULT_FEATURES}); e.g. c3d-vggish-temporal for "
        "TCAF's released models",
    )
    group.add_argument("--root", help="dataset folder (default: the saved run's, else the fetched copy)")
    group.add_argument(
        "--text-order",
        choices=("name", "position"),
        help="attach text embeddings to classes by name or by the reference's list position (default: see below)",
    )
    group.add_argument("--demo-samples", type=int, help="demo data: samples per class (default: the saved run's)")
    group.add_argument("--cache-dir", help="where the released bundle's fast cache goes")
    common.add_set_argument(parser, "hyper-parameters reference checkpoints were trained with")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--threads", type=int, help=f"CPU threads (default: the saved run's, else {DEFAULT_THREADS})")
    common.add_store_arguments(parser)
    parser.set_defaults(handler=main)


def _model_sets(args: argparse.Namespace) -> list[TrainedModels]:
    from avgzsl_bench.artefacts.checkpoints import is_saved_models, load_reference_pair, load_saved, select_pair

    if bool(args.stage1) != bool(args.stage2):
        raise BenchError("--stage1 and --stage2 go together")
    if args.stage1:
        return [load_reference_pair(Path(args.stage1), Path(args.stage2), args.method)]
    paths = [Path(path).expanduser() for path in args.models]
    if not paths:
        home, _ = data_home()
        artefact = get_artefact(RELEASED_MODELS)
        folder = home / artefact.subdir
        if not folder.is_dir():
            raise BenchError(
                f"no models given and the released models are not fetched ('{folder}' is missing): run "
                f"`python bench.py fetch {RELEASED_MODELS}`, or pass model files or --stage1/--stage2"
            )
        paths = [folder]
    sets = []
    for path in paths:
        if not path.exists():
            raise BenchError(f"'{path}' does not exist")
        saved = [path] if path.is_file() else sorted(p for p in path.glob("*.pt") if is_saved_models(p))
        if saved:
            sets += [load_saved(file) for file in saved]
        elif path.is_file():
            raise BenchError(f"'{path}' is a reference checkpoint: pass it as --stage1 or --stage2 with its partner")
        else:
            if not args.dataset:
                raise BenchError("reference checkpoints need --dataset (which dataset's models to evaluate)")
            pair = select_pair(path, args.dataset, _dataset_tags())
            sets.append(load_reference_pair(pair.stage1, pair.stage2, args.method))
    return sets


def _dataset_tags() -> dict[str, str]:
    """Folder-name fragment -> dataset, for telling the datasets' runs apart in a tree of models."""
    specs = [DATASETS.get(key) for key in DATASETS.names()]
    return {spec.name: spec.name for spec in specs if not spec.synthetic}


def _source(args: argparse.Namespace, models: TrainedModels, console: Console) -> DataSource:
    identity: dict[str, Any] = dict(models.saved.get("config", {}).get("data", {}))
    dataset = args.dataset or identity.get("dataset")
    if not dataset:
        raise BenchError("reference checkpoints need --dataset")
    if args.text_order:
        legacy = args.text_order == "position"
    elif models.is_reference:
        legacy = True
        console.print(
            "note: reference checkpoints are evaluated with the reference's position-based text mapping "
            "(the released models were trained with it); --text-order name overrides",
            style="yellow",
            highlight=False,
        )
    else:
        legacy = bool(identity.get("legacy_text_order", False))
    saved_root = identity.get("root") if dataset == identity.get("dataset") else None
    root = args.root or (saved_root if saved_root and Path(saved_root).is_dir() else None)
    samples = args.demo_samples or int(identity.get("samples_per_class", DEFAULT_DEMO_SAMPLES))
    features = args.features or identity.get("features", DEFAULT_FEATURES)
    return DataSource(dataset, root, legacy, samples, args.cache_dir, features)


def _hparams(args: argparse.Namespace, models: TrainedModels, source: DataSource) -> dict[str, Any]:
    from avgzsl_bench.api import get_method

    if models.is_reference:
        return get_method(models.method).hparams(
            source.dataset, dict(args.overrides), source.features, source.spec.dims.text_names
        )
    if args.overrides:
        raise BenchError("--set applies to reference checkpoints; a saved model carries its hyper-parameters")
    return dict(models.saved["config"]["hparams"])


def checked_source(args: argparse.Namespace, models: TrainedModels, console: Console) -> DataSource:
    """The data to evaluate on; saved models recording other data are refused here, before any is read."""
    from avgzsl_bench.jobs.job import data_problem

    source = _source(args, models, console)
    problem = data_problem(models.method, source)
    if problem:  # e.g. TCAF's models on averaged features: say so before anything is read
        raise BenchError(f"cannot evaluate {models.files['stage1']}: {problem}")
    if not models.is_reference:
        check_source(models.files["stage1"], models.saved, source)
    return source


def evaluate_one(
    args: argparse.Namespace, models: TrainedModels, source: DataSource, console: Console
) -> tuple[RunRecord, Predictions | None]:
    from avgzsl_bench.jobs.evaluate import evaluate_trained

    hparams = _hparams(args, models, source)
    threads = args.threads or int(models.saved.get("threads", DEFAULT_THREADS))
    evaluated = evaluate_trained(source, hparams, models, args.device, threads)
    record = evaluated.record
    console.print(
        f"{models.method} on {source.dataset} ({models.origin}: {models.files['stage2']}): "
        f"β = {record.beta:.4f} chosen on val (val HM {record.val['hm']:.2f})",
        highlight=False,
        soft_wrap=True,
    )
    for warning in [] if evaluated.verified else unverified_warnings(models, evaluated, source):
        console.print(f"WARNING: {warning}", style="bold red", highlight=False, soft_wrap=True)
    if models.saved.get("test"):
        same = all(models.saved["test"][metric] == value for metric, value in record.metrics.items())
        console.print(
            f"  the run that saved it measured {models.saved['test']}: "
            + ("identical" if same else "DIFFERENT (another device, thread count or data?)"),
            highlight=False,
        )
    return record, evaluated.predictions


def unverified_warnings(models: TrainedModels, evaluated: EvaluatedModels, source: DataSource) -> list[str]:
    """What to say about an evaluation whose models do not record what they were trained on (its row
    is stored, but never silently): that, a checkpoint folder named for another dataset, and a val HM
    near chance."""
    why = (
        "a reference-format checkpoint records no dataset or class list"
        if models.is_reference
        else "it was saved before avgzsl-bench recorded the class list in model files"
    )
    warnings = [
        f"what {models.files['stage1']} was trained on cannot be verified ({why}); "
        f"the row is stored marked '{UNVERIFIED_LABEL}'"
    ]
    from avgzsl_bench.artefacts.checkpoints import folder_dataset

    for file in dict.fromkeys(models.files.values()) if models.is_reference else ():
        named = folder_dataset(Path(file), _dataset_tags())
        if named is not None and named != source.dataset:
            warnings.append(
                f"{file} sits in a folder named for {named} but is evaluated on {source.dataset}: "
                f"pass --dataset {named}, or the {source.dataset} checkpoints"
            )
    hm, chance = evaluated.record.val["hm"], evaluated.val_chance_hm
    if near_chance(hm, chance):
        warnings.append(
            f"the stage-1 model's val HM {hm:.2f} is near chance: a uniform random guess among the "
            f"{evaluated.val_classes} val classes scores {chance:.2f}, and near chance is below "
            f"{NEAR_CHANCE_FACTOR * chance:.2f}. These models were most likely trained on another dataset or "
            f"class split than {source.label}: check --dataset and the checkpoint files"
        )
    return warnings


def main(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    if args.threads is not None and args.threads < 1:
        raise BenchError(f"--threads must be at least 1, got {args.threads}")
    model_sets = _model_sets(args)
    sources = [checked_source(args, models, console) for models in model_sets]
    evaluated = [evaluate_one(args, models, source, console) for models, source in zip(model_sets, sources)]
    records = [record for record, _ in evaluated]
    path = common.store_path(args)
    if path:
        ResultStore(path).save_runs(evaluated)
    from avgzsl_bench.reports.summary import results_table

    print(results_table(records))
    return 0
