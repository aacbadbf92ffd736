"""What trained models were trained on, and whether the data they are evaluated on is the same.

The CLIP/CLAP (and word2vec) widths are the same for every dataset, so a model trained on one
benchmark loads without complaint on another and scores near zero there. `run --save-models` files
therefore carry `trained_on` (`data_provenance`): the dataset, the feature set, the text-attachment
rule, and the class list (names, and a sha256 over them in class-id order) with a sha256 over each
protocol split's seen/unseen class names. `bench.py evaluate` refuses such a file on data that
differs in any of these (`check_source` before loading, `check_classes` after).

Reference-format checkpoints (and model files saved before `trained_on` existed) record none of
this: their rows are stored marked "provenance not verifiable", and evaluate warns loudly when the
stage-1 model's validation HM is near chance. Near chance means below `NEAR_CHANCE_FACTOR` times the
HM of a uniform random guess among the val split's candidate classes (100/C %, C = seen + unseen
val classes, since every class then has expected recall 1/C); the margin is there because the
calibration β is chosen on val itself, which lifts a scorer that knows nothing above 100/C.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from avgzsl_bench.datasets.fingerprint import text_rule
from avgzsl_bench.errors import BenchError

if TYPE_CHECKING:
    from avgzsl_bench.datasets.source import DataSource
    from avgzsl_bench.datasets.types import FeatureSplit, GZSLDataset

VERIFIED = "verified"  # config["models"]["provenance"] of an evaluation whose models carry matching data
NOT_VERIFIABLE = "not verifiable"  # anything else: reference checkpoints, older saved files
UNVERIFIED_LABEL = "provenance not verifiable"  # how reports mark such a row
NEAR_CHANCE_FACTOR = 2.0


def text_order(legacy: bool) -> str:
    """The text-attachment rule's name, as `--text-order` spells it and data fingerprints hash it."""
    return text_rule(bool(legacy))


def class_fingerprint(names: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


def split_fingerprint(dataset: GZSLDataset) -> str:
    """sha256 over every protocol split's seen and unseen class names (the class-split lists)."""
    parts = []
    for name in sorted(dataset.splits):
        split = dataset.splits[name]
        for role, ids in (("seen", split.seen), ("unseen", split.unseen)):
            parts.append(f"{name}.{role}=" + "|".join(dataset.class_names[i] for i in ids.tolist()))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def data_provenance(source: DataSource, dataset: GZSLDataset) -> dict[str, Any]:
    """The `trained_on` entry of a saved-models file."""
    return {
        "dataset": source.dataset,
        "features": source.features,
        "text_order": text_order(source.legacy_text_order),
        "num_classes": dataset.num_classes,
        "class_names": list(dataset.class_names),
        "classes_sha256": class_fingerprint(dataset.class_names),
        "splits_sha256": split_fingerprint(dataset),
    }


def recorded_source(saved: Mapping[str, Any]) -> dict[str, Any]:
    """Dataset, features and text order a saved-models file records: its `trained_on`, or for a file
    saved before that existed, what its run configuration says (no class list)."""
    if "trained_on" in saved:
        return dict(saved["trained_on"])
    data = dict(saved.get("config", {}).get("data", {}))
    recorded = {"dataset": data.get("dataset"), "features": data.get("features", _default_features())}
    if "legacy_text_order" in data:
        recorded["text_order"] = text_order(data["legacy_text_order"])
    return {key: value for key, value in recorded.items() if value is not None}


def _default_features() -> str:
    from avgzsl_bench.datasets.dims import DEFAULT_FEATURES

    return DEFAULT_FEATURES


# What a difference is called in messages, and the option that caused it.
_SOURCE_FIELDS = {
    "dataset": ("dataset", "--dataset"),
    "features": ("feature set", "--features"),
    "text_order": ("text order", "--text-order"),
}


def check_source(file: str, saved: Mapping[str, Any], source: DataSource) -> None:
    """Refuse, before any data is read, to evaluate a saved-models file on another dataset, feature
    set or text-attachment rule than the one it records."""
    recorded = recorded_source(saved)
    current = {
        "dataset": source.dataset,
        "features": source.features,
        "text_order": text_order(source.legacy_text_order),
    }
    differ = [key for key in _SOURCE_FIELDS if key in recorded and recorded[key] != current[key]]
    if differ:
        what = "; ".join(
            f"{_SOURCE_FIELDS[key][0]}: trained on {recorded[key]}, asked for {current[key]}" for key in differ
        )
        options = [_SOURCE_FIELDS[key][1] for key in differ if _SOURCE_FIELDS[key][1]]
        raise BenchError(
            f"'{file}' does not fit this data ({what}): its scores would say nothing about the models. "
            + (f"Drop {' and '.join(options)} to evaluate it on the data it was trained on, or " if options else "")
            + "evaluate models trained on this data"
        )


def check_classes(file: str, saved: Mapping[str, Any], dataset: GZSLDataset, root: str | None) -> bool:
    """Refuse a saved-models file whose class list or class split differs from `dataset`'s; True when
    the file records them (the evaluation is then verified), False when it predates `trained_on`."""
    recorded = saved.get("trained_on")
    if not recorded:
        return False
    where = f"the data at '{root}'" if root else f"the {dataset.name} data"
    trained_root = saved.get("config", {}).get("data", {}).get("root")
    fix = f"point --root at the folder it was trained on ('{trained_root}')" if trained_root else "drop --root"
    if recorded["classes_sha256"] != class_fingerprint(dataset.class_names):
        trained, here = set(recorded["class_names"]), set(dataset.class_names)
        only_here = sorted(here - trained)
        raise BenchError(
            f"'{file}' was trained on another class list than {where} holds: "
            f"{recorded['num_classes']} classes (sha256 {recorded['classes_sha256'][:12]}) against "
            f"{dataset.num_classes} (sha256 {class_fingerprint(dataset.class_names)[:12]}), "
            f"{len(trained & here)} in common"
            + (f", e.g. not trained on: {', '.join(only_here[:5])}" if only_here else "")
            + f". Its scores would say nothing about the models: {fix}, or evaluate models trained on this data"
        )
    if recorded["splits_sha256"] != split_fingerprint(dataset):
        raise BenchError(
            f"'{file}' was trained on the same classes as {where} but with another seen/unseen "
            f"split (the class-split lists differ), so some classes scored as unseen may have been seen in "
            f"training: {fix}, or evaluate models trained on this split"
        )
    return True


def chance_hm(split: FeatureSplit) -> float:
    """HM (%) of a uniform random guess among the split's candidate classes."""
    return 100.0 / int(split.classes.numel())


def near_chance(hm: float, chance: float) -> bool:
    """Whether an HM is near the chance level `chance` (see the module docstring)."""
    return hm < NEAR_CHANCE_FACTOR * chance
