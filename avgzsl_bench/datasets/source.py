"""`DataSource`: where one benchmark's features come from, resolved once; and the reader registry.

A data source is part of every job's identity (it goes into the configuration hash), so it is
resolved when it is made: the dataset name is checked against the registry and the root becomes
an absolute path. A job shipped to another process or machine therefore names the same files, and
the per-process data cache, keyed by the source, hits for every job that shares it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from avgzsl_bench.datasets.layout import MANIFEST_NAME, read_manifest
from avgzsl_bench.datasets.locations import resolve_root
from avgzsl_bench.datasets.spec import DEFAULT_FEATURES, DatasetSpec, get_dataset
from avgzsl_bench.errors import BenchError
from avgzsl_bench.registry import Registry

if TYPE_CHECKING:  # the loaders import torch when they read, not when the CLI builds its options
    from avgzsl_bench.datasets.types import GZSLDataset

DEFAULT_DEMO_SAMPLES = 60

Reader = Callable[[DatasetSpec, "DataSource"], "GZSLDataset"]
READERS: Registry[Reader] = Registry("dataset reader")


@dataclass(frozen=True)
class DataSource:
    """Which dataset and feature set, where on disk, and the load options that change the data."""

    dataset: str
    root: str | None = None
    legacy_text_order: bool = False
    demo_samples_per_class: int = DEFAULT_DEMO_SAMPLES
    cache_dir: str | None = field(default=None, compare=False)
    features: str = DEFAULT_FEATURES

    def __post_init__(self) -> None:
        spec = get_dataset(self.dataset, self.features)
        object.__setattr__(self, "dataset", spec.name)
        if spec.synthetic:
            object.__setattr__(self, "root", None)
        else:
            object.__setattr__(self, "root", resolve_root(spec, self.root))

    @property
    def spec(self) -> DatasetSpec:
        return get_dataset(self.dataset, self.features)

    @property
    def label(self) -> str:
        """'ucf', or 'ucf/selavi' for a feature set other than the default."""
        return self.dataset if self.features == DEFAULT_FEATURES else f"{self.dataset}/{self.features}"

    def identity(self) -> dict[str, Any]:
        """What determines the data (part of every job's configuration hash)."""
        if self.spec.synthetic:
            identity: dict[str, Any] = {"dataset": self.dataset, "samples_per_class": self.demo_samples_per_class}
        else:
            identity = {"dataset": self.dataset, "root": self.root, "legacy_text_order": self.legacy_text_order}
        if self.features != DEFAULT_FEATURES:
            identity["features"] = self.features
        return identity

    @property
    def feature_set(self) -> str:
        """How tables and leaderboards name the features: the feature zoo's recipe, else the release's."""
        spec = self.spec
        label = spec.feature_label
        if self.root is not None:
            manifest = read_manifest(Path(self.root) / "features" / spec.feature_dir / MANIFEST_NAME)
            label = str(manifest.get("feature_recipe") or label)
        return label + (" (legacy text order)" if self.legacy_text_order else "")

    def load(self) -> GZSLDataset:
        """Read the data and refuse anything the protocol could not score honestly."""
        spec = self.spec
        dataset = READERS.get(spec.reader)(spec, self)
        dataset.validate()
        return dataset


@READERS.register("pickle-bundle")
def _read_pickle_bundle(spec: DatasetSpec, source: DataSource) -> GZSLDataset:
    """The released ClipClap bundle (and feature-zoo output): one pickle per class and stage."""
    from avgzsl_bench.datasets.loader import load_bundle

    assert source.root is not None  # resolved in DataSource.__post_init__
    return load_bundle(source.root, spec, legacy_text_order=source.legacy_text_order, cache_dir=source.cache_dir)


@READERS.register("h5-bundle")
def _read_h5_bundle(spec: DatasetSpec, source: DataSource) -> GZSLDataset:
    """The AVCA-GZSL benchmark's release: one .h5 file (`data`, `video_urls`) per class and stage.

    Everything but the per-file read is the pickle bundle's pipeline: class matching, split lists,
    cross-checks, text by name and the fast cache."""
    from avgzsl_bench.datasets.loader import load_bundle

    if spec.feature_suffix != ".h5":
        raise BenchError(
            f"dataset spec '{spec.key}' uses the h5-bundle reader but its files end in '{spec.feature_suffix}'"
        )
    assert source.root is not None
    return load_bundle(source.root, spec, legacy_text_order=source.legacy_text_order, cache_dir=source.cache_dir)


@READERS.register("tcaf-bundle")
def _read_tcaf_bundle(spec: DatasetSpec, source: DataSource) -> GZSLDataset:
    """The temporal benchmark's TCAF layout: one pickle per class and stage with one feature sequence
    per video. Split lists, class matching and text are the pickle bundle's; the features become
    `Sequences` (float16 steps stored flat, padded per batch)."""
    from avgzsl_bench.datasets.loader import load_bundle

    if not spec.temporal or spec.feature_suffix != ".pkl":
        raise BenchError(
            f"dataset spec '{spec.key}' uses the tcaf-bundle reader but declares no step durations (step_s) "
            f"or its files end in '{spec.feature_suffix}' instead of '.pkl'"
        )
    assert source.root is not None
    return load_bundle(source.root, spec, legacy_text_order=source.legacy_text_order, cache_dir=source.cache_dir)


@READERS.register("synthetic")
def _read_synthetic(spec: DatasetSpec, source: DataSource) -> GZSLDataset:
    from avgzsl_bench.datasets.demo import make_demo_dataset

    return make_demo_dataset(source.demo_samples_per_class)
