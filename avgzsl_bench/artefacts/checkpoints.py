"""Trained models on disk: the reference repositories' checkpoints and the harness's own saved models.

Reference format (ClipClap-GZSL, AVCA-GZSL, TCAF-GZSL): one `torch.save`d dict per model with `epoch` (epochs
trained), `model` (the state dict), `optimizer` and `metric`. A run leaves the stage-1 best model as
`<stage-1 folder>/<Model>_score.pt` and one stage-2 checkpoint per epoch as `<stage-2
folder>/checkpoints/<Model>_score_ckpt_<epoch index>.pt`; the reference evaluation pairs the stage-1
file whose `epoch` is E with the stage-2 checkpoint of index E - 1 (stage 2's last epoch). Stage-1
folders keep no per-epoch checkpoints, which tells the two stages apart. The reference sub-networks
are modules whose layers sit in a `.fc` Sequential (`O_enc.fc.0.weight`); ours are the Sequential
itself (`O_enc.0.weight`). `REFERENCE_KEY_RULES` says so per method.

Saved-models format (`bench.py run --save-models DIR` writes `DIR/<job key>.pt`): one `torch.save`d
dict, loadable with `weights_only=True`:

    format "avgzsl-bench-models", format_version 2, method, dataset, key (the job key), seed,
    threads, config (method, data source identity, every hyper-parameter), dims {video, audio, clip_text,
    clap_text}, trained_on {dataset, features, text_order, num_classes, class_names, classes_sha256,
    splits_sha256} (what the models were trained on: `artefacts.provenance`), best_epochs, val_betas
    {view: beta}, beta (the test calibration), test {seen, unseen, hm, zsl} (what the run measured),
    stage1 (state dict of the stage-1 best-epoch model), stage2 (state dict of the stage-2 model),
    version, git_revision

Version 1 files (without trained_on) are still read; like reference checkpoints, what they were
trained on cannot be verified beyond the dataset, feature set and text order of their config.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from avgzsl_bench.artefacts.state import sha256_file
from avgzsl_bench.errors import BenchError

SAVED_FORMAT = "avgzsl-bench-models"
SAVED_FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)  # version 1: no `trained_on`
# Method -> (pattern, replacement) rules that turn a reference state-dict key into ours.
# TCAF-GZSL registers its embedding block under two names (`audiovisual_embeddings` is
# `position_encoder_block`), so its state dict holds those tensors twice: both map onto one key.
# Its two baselines (Attention fusion, Perceiver) have no released code or models.
REFERENCE_KEY_RULES: dict[str, tuple[tuple[str, str], ...]] = {
    "clipclap": ((r"\.fc\.", "."),),
    "tcaf": ((r"\.fc\.", "."), (r"^audiovisual_embeddings\.", "position_encoder_block.")),
}
STAGE1_PATTERN = "*_score.pt"
STAGE2_PATTERN = re.compile(r"_score_ckpt_(\d+)\.pt$")
ZIP_MAGIC = b"PK\x03\x04"
PICKLE_PROTO = 0x80  # the opcode a pickle of protocol 2 or later begins with
# How the safe loader names an object it refused (torch 2.4 onwards).
UNSUPPORTED_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")

State = dict[str, torch.Tensor]


@dataclass
class TrainedModels:
    """The two models the reference evaluation needs, with our key layout, and where they came from."""

    method: str
    origin: str  # "reference checkpoint" or "saved by avgzsl-bench"
    stage1: State  # the stage-1 best-epoch model: chooses the calibration on val
    stage2: State  # the stage-2 model: evaluated on test
    files: dict[str, str]  # stage -> file
    sha256: dict[str, str]  # stage -> sha256 of the file (what identifies the models)
    best_epochs: int
    saved: dict[str, Any] = field(default_factory=dict)  # the saved-models dict without its state dicts

    @property
    def is_reference(self) -> bool:
        return self.origin == "reference checkpoint"


def read_checkpoint(path: Path) -> dict[str, Any]:
    """A torch checkpoint as a dict; tensors, numbers and strings only (no code runs on load).

    torch's own message for a refused file advises turning the safe loader off; that advice is not
    relayed (a checkpoint from the internet could run code), the file and what is wrong with it are named.
    """
    if not path.is_file():
        raise BenchError(f"checkpoint '{path}' does not exist" + (" (it is a folder)" if path.is_dir() else ""))
    if not _written_by_torch_save(path):
        raise BenchError(
            f"'{path}' is not a PyTorch checkpoint (it does not begin like a file written by torch.save); "
            "check the path, or download or save the file again"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about odd pickle protocols of damaged files
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises many kinds for a bad file; all mean the same
        raise BenchError(_unreadable(path, error)) from None
    if not isinstance(payload, dict):
        raise BenchError(f"checkpoint '{path}' holds a {type(payload).__name__}, not a dict")
    return payload


def _written_by_torch_save(path: Path) -> bool:
    """torch.save writes a zip archive, or (the legacy format) a pickle of protocol 2 or later."""
    with path.open("rb") as handle:
        head = handle.read(4)
    return head.startswith(ZIP_MAGIC) or (len(head) >= 2 and head[0] == PICKLE_PROTO and 2 <= head[1] <= 5)


def _unreadable(path: Path, error: Exception) -> str:
    refused = UNSUPPORTED_GLOBAL.search(str(error))
    if refused:
        return (
            f"checkpoint '{path}' holds a Python object of type {refused.group(1)}, which is not loaded: only "
            "tensors, numbers, strings and containers of them are read from checkpoints, so that loading one "
            "runs no code. Save the state dicts alone (torch.save({'epoch': E, 'model': model.state_dict()}, path))"
        )
    return (
        f"'{path}' is not a readable PyTorch checkpoint: it is truncated, damaged or another kind of file "
        f"({type(error).__name__}); download or save it again"
    )


def from_reference_keys(state: Mapping[str, torch.Tensor], method: str) -> State:
    """A reference state dict with our key names (a DataParallel `module.` prefix is dropped too)."""
    rules = REFERENCE_KEY_RULES.get(method, ())
    renamed = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        for pattern, replacement in rules:
            key = re.sub(pattern, replacement, key)
        renamed[key] = value
    return renamed


def _reference_state(payload: dict[str, Any], path: Path, method: str) -> State:
    state = payload.get("model")
    if not isinstance(state, dict) or not state:
        raise BenchError(f"checkpoint '{path}' has no 'model' state dict; is it a reference checkpoint?")
    return from_reference_keys(state, method)


def load_reference_pair(stage1: Path, stage2: Path, method: str = "clipclap") -> TrainedModels:
    first, second = read_checkpoint(stage1), read_checkpoint(stage2)
    epoch = first.get("epoch")
    if not isinstance(epoch, int) or epoch < 0:
        raise BenchError(f"checkpoint '{stage1}' has no integer 'epoch'; is it a stage-1 best model?")
    return TrainedModels(
        method=method,
        origin="reference checkpoint",
        stage1=_reference_state(first, stage1, method),
        stage2=_reference_state(second, stage2, method),
        files={"stage1": str(stage1), "stage2": str(stage2)},
        sha256={"stage1": sha256_file(stage1), "stage2": sha256_file(stage2)},
        best_epochs=epoch,
    )


@dataclass(frozen=True)
class ReferencePair:
    stage1: Path
    stage2: Path
    epoch: int  # epochs of the stage-1 best model (= stage-2 epochs)

    def tag(self, tags: Mapping[str, str]) -> str | None:
        return _tag(self.stage1, tags)


def _tag(path: Path, tags: Mapping[str, str]) -> str | None:
    """The first dataset named by a folder of `path` (`tags`: lower-case fragment -> dataset)."""
    for part in path.parts:
        for fragment, dataset in tags.items():
            if fragment in part.lower():
                return dataset
    return None


def folder_dataset(path: Path, tags: Mapping[str, str]) -> str | None:
    """The dataset named by the folder closest to the file `path` (None when no folder names one):
    the one thing a reference checkpoint says about the data it was trained on."""
    for part in reversed(path.parent.parts):
        named = {dataset for fragment, dataset in tags.items() if fragment in part.lower()}
        if len(named) == 1:
            return named.pop()
    return None


def find_reference_pairs(tree: Path) -> list[ReferencePair]:
    """Every (stage-1 best model, matching stage-2 checkpoint) pair under `tree`, found by contents."""
    stage2 = [(path, int(m.group(1))) for path in tree.rglob("*.pt") if (m := STAGE2_PATTERN.search(path.name))]
    stage2_dirs = {path.parent.parent for path, _ in stage2 if path.parent.name == "checkpoints"}
    pairs = []
    for first in sorted(tree.rglob(STAGE1_PATTERN)):
        if first.parent in stage2_dirs or first.parent.name == "checkpoints":
            continue  # a stage-2 folder's own best file: the reference evaluation ignores it
        epoch = read_checkpoint(first).get("epoch")
        if not isinstance(epoch, int):
            continue
        matches = [path for path, index in stage2 if index == epoch - 1]
        if matches:
            # The stage-2 run sitting closest to the stage-1 file (same dataset folder) is its partner.
            best = max(matches, key=lambda path: len(_common(path, first)))
            pairs.append(ReferencePair(first, best, epoch))
    return pairs


def _common(a: Path, b: Path) -> tuple[str, ...]:
    shared = []
    for x, y in zip(a.parts, b.parts):
        if x != y:
            break
        shared.append(x)
    return tuple(shared)


def select_pair(tree: Path, dataset: str, tags: Mapping[str, str]) -> ReferencePair:
    """The one pair of `dataset` in a tree of released models (tagged by folder names)."""
    pairs = find_reference_pairs(tree)
    if not pairs:
        raise BenchError(
            f"'{tree}' holds no reference stage-1 model (*_score.pt) with its stage-2 checkpoint "
            "(checkpoints/*_score_ckpt_<epoch-1>.pt); pass --stage1 FILE --stage2 FILE"
        )
    tagged = [pair for pair in pairs if pair.tag(tags) == dataset]
    if not tagged and len(pairs) == 1 and pairs[0].tag(tags) is None:
        tagged = pairs  # a tree with a single, unnamed run
    if len(tagged) != 1:
        listed = "; ".join(f"{pair.stage1} + {pair.stage2}" for pair in pairs)
        raise BenchError(
            f"found {len(tagged)} reference model pairs for dataset '{dataset}' under '{tree}' (all pairs: "
            f"{listed}); pass --stage1 FILE --stage2 FILE"
        )
    return tagged[0]


def save_models(path: Path, info: Mapping[str, Any], stage1: State, stage2: State) -> None:
    """Write the saved-models file (see the module docstring); state dicts go to the CPU."""
    payload = {
        "format": SAVED_FORMAT,
        "format_version": SAVED_FORMAT_VERSION,
        **info,
        "stage1": {key: value.detach().cpu() for key, value in stage1.items()},
        "stage2": {key: value.detach().cpu() for key, value in stage2.items()},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    torch.save(payload, temporary)
    temporary.replace(path)


def load_saved(path: Path) -> TrainedModels:
    payload = read_checkpoint(path)
    if payload.get("format") != SAVED_FORMAT:
        raise BenchError(f"'{path}' is not a model file saved by `bench.py run --save-models`")
    if payload.get("format_version") not in READABLE_VERSIONS:
        raise BenchError(
            f"'{path}' has saved-models format version {payload.get('format_version')}; this version of "
            f"avgzsl-bench reads {', '.join(map(str, READABLE_VERSIONS))}: upgrade avgzsl-bench"
        )
    sha = sha256_file(path)
    info = {key: value for key, value in payload.items() if key not in ("stage1", "stage2")}
    return TrainedModels(
        method=str(payload["method"]),
        origin="saved by avgzsl-bench",
        stage1=payload["stage1"],
        stage2=payload["stage2"],
        files={"stage1": str(path), "stage2": str(path)},
        sha256={"stage1": sha, "stage2": sha},
        best_epochs=int(payload["best_epochs"]),
        saved=info,
    )


def is_saved_models(path: Path) -> bool:
    return path.is_file() and path.suffix == ".pt" and read_checkpoint(path).get("format") == SAVED_FORMAT


def snapshot(model: torch.nn.Module) -> State:
    """A copy of the model's state on its own device (no host transfer, so no sync per epoch)."""
    return {key: value.detach().clone() for key, value in model.state_dict().items()}
