"""The dataset registry: one `DatasetSpec` per (dataset, feature set), the single source of truth.

Everything that needs to know about a dataset (the loader, the runner, tables, leaderboards, the
paper-reference cross-check, the feature zoo) reads it from here. A new dataset or feature set is
one `register_dataset(DatasetSpec(...))`; if its on-disk format is new, also one reader in
`datasets.readers` registered under the spec's `reader` name.

The released ClipClap bundle and the AVCA-GZSL benchmark have one folder per dataset::

    <root>/class-split/all_class.txt, <class_split>/stage_*.txt, <name_csv>
    <root>/features/<feature_dir>/{audio,video}/<stage folder>/<ClassName>.pkl  (AVCA-GZSL: .h5)
    <root>/features/<feature_dir>/text/<text file per part>
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from avgzsl_bench.datasets.dims import DEFAULT_FEATURES, FeatureDims
from avgzsl_bench.errors import BenchError
from avgzsl_bench.registry import Registry

RELEASE_FEATURE_DIR = "cls_features_non_averaged"  # features/<this>/ in the released ClipClap bundle


@dataclass(frozen=True)
class SplitRecipe:
    """Which stage folders make a protocol split, and which class lists define its classes."""

    folders: tuple[str, ...]
    seen_lists: tuple[str, ...]
    unseen_lists: tuple[str, ...] = ()


# The two-stage protocol's splits. stage_2_train is never read: stage 2 trains on the three
# stage-1 folders (the same videos), and stage_2_train's class list is their union.
PROTOCOL_SPLITS: dict[str, SplitRecipe] = {
    "train": SplitRecipe(("stage_1_train",), ("stage_1_train",)),
    "val": SplitRecipe(("stage_1_val_seen", "stage_1_val_unseen"), ("stage_1_val_seen",), ("stage_1_val_unseen",)),
    "train_val": SplitRecipe(
        ("stage_1_train", "stage_1_val_seen", "stage_1_val_unseen"), ("stage_1_train", "stage_1_val_unseen")
    ),
    "test": SplitRecipe(("stage_2_test_seen", "stage_2_test_unseen"), ("stage_2_test_seen",), ("stage_2_test_unseen",)),
}
STAGE_FOLDERS = ("stage_1_train", "stage_1_val_seen", "stage_1_val_unseen", "stage_2_test_seen", "stage_2_test_unseen")


@dataclass(frozen=True)
class DatasetSpec:
    """Everything the harness knows about one dataset with one feature set."""

    name: str  # "ucf": what users type after --dataset
    paper_name: str  # "UCF-GZSL^cls": how tables name it
    reader: str  # key of the reader that loads it ("pickle-bundle", "synthetic", ...)
    feature_label: str  # how tables and leaderboards name the features
    features: str = DEFAULT_FEATURES  # what users type after --features
    folder: str = ""  # the dataset's folder in the released archive ("UCF")
    class_split: str = "cls_split"  # sub-folder of class-split/ with the stage lists
    feature_dir: str = RELEASE_FEATURE_DIR  # sub-folder of features/
    feature_suffix: str = ".pkl"  # per-class feature files: ".pkl" (ClipClap release), ".h5" (AVCA-GZSL)
    name_csv: str = ""  # class-split/<name_csv>: maps text-embedding keys to class names
    prompt_column: str = ""  # the name CSV's column holding the text-embedding keys
    lower_case: bool = False  # class names are compared case-insensitively
    text_files: Mapping[str, str] = field(default_factory=dict)  # text part ("clip", "clap") -> file name
    dims: FeatureDims = field(default_factory=FeatureDims)  # the feature dims of the release
    prompt_set: str = "generic"  # the feature zoo's prompt ensemble ("person" for human actions)
    splits: Mapping[str, SplitRecipe] = field(default_factory=lambda: PROTOCOL_SPLITS)
    synthetic: bool = False
    # Temporal feature sets: seconds covered by one step of each modality ({} = one vector per video).
    step_s: Mapping[str, float] = field(default_factory=dict)

    @property
    def temporal(self) -> bool:
        """Each sample is a sequence of steps per modality (the TCAF layout), not one vector."""
        return bool(self.step_s)

    @property
    def key(self) -> str:
        return registry_key(self.name, self.features)

    def lookup_key(self, class_name: str) -> str:
        """The spelling under which class names are compared."""
        return class_name.lower() if self.lower_case else class_name


def registry_key(name: str, features: str = DEFAULT_FEATURES) -> str:
    return f"{name}/{features}"


def _validate(key: str, spec: DatasetSpec) -> None:
    if key != spec.key:
        raise BenchError(f"dataset spec registered as '{key}' but its name/features give '{spec.key}'")
    if not spec.synthetic and not spec.folder:
        raise BenchError(f"dataset '{spec.name}' ({spec.features}): a released dataset needs its archive folder")


def _import_builtin_datasets() -> None:
    import avgzsl_bench.datasets.builtin  # noqa: F401 - registers the built-in specs


DATASETS: Registry[DatasetSpec] = Registry(
    "dataset", validate=_validate, builtins=_import_builtin_datasets, entry_point_group="avgzsl_bench.datasets"
)


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    return DATASETS.add(spec.key, spec)


def get_dataset(name: str, features: str | None = None) -> DatasetSpec:
    """The spec of `name` (any case) with `features` (default: the dataset's first feature set)."""
    name = str(name).strip().lower()
    known = list_datasets()
    if name not in known:
        raise BenchError(f"unknown dataset '{name}'; choose one of {', '.join(known)}")
    if features is None:
        return next(DATASETS.get(key) for key in DATASETS.names() if key.startswith(f"{name}/"))
    key = registry_key(name, features)
    if key not in DATASETS:
        raise BenchError(
            f"dataset '{name}' has no feature set '{features}'; choose one of {', '.join(feature_sets(name))}"
        )
    return DATASETS.get(key)


def list_datasets() -> list[str]:
    """Dataset names in registration order (the built-ins in the ClipClap paper's column order)."""
    return list(dict.fromkeys(key.split("/", 1)[0] for key in DATASETS.names()))


def feature_sets(name: str) -> list[str]:
    return [key.split("/", 1)[1] for key in DATASETS.names() if key.split("/", 1)[0] == name]


def list_feature_sets() -> list[str]:
    """Every registered feature set name, the default first."""
    return list(dict.fromkeys([DEFAULT_FEATURES, *(key.split("/", 1)[1] for key in DATASETS.names())]))


def feature_sets_with_text(text_names: tuple[str, ...]) -> tuple[str, ...]:
    """The feature sets (in registration order) whose class text is exactly `text_names` for every
    dataset registered with them, e.g. `("w2v",)`: the AVCA-GZSL feature sets.

    Method recipes derive their per-feature-set defaults ("*/<features>") from this rather than
    from a list of names, so a new feature set with the same class text gets the same defaults.
    Every dataset must agree, since a "*/<features>" entry applies to all datasets with those
    features. The answer reflects the specs registered when it is called.
    """
    text_of: dict[str, set[tuple[str, ...]]] = {}
    for spec in DATASETS.entries():
        text_of.setdefault(spec.features, set()).add(spec.dims.text_names)
    return tuple(features for features, texts in text_of.items() if texts == {tuple(text_names)})
