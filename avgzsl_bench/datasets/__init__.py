"""Datasets: the registry of dataset/feature-set specs, their readers, and `DataSource`.

The registry imports no torch (the CLI builds its options from it); `load_bundle`, which does, is
imported on first use.
"""

from typing import TYPE_CHECKING, Any

from avgzsl_bench.datasets.layout import check_layout
from avgzsl_bench.datasets.source import READERS, DataSource
from avgzsl_bench.datasets.spec import (
    DATASETS,
    DEFAULT_FEATURES,
    DatasetSpec,
    feature_sets,
    get_dataset,
    list_datasets,
    list_feature_sets,
    register_dataset,
)

if TYPE_CHECKING:
    from avgzsl_bench.datasets.loader import load_bundle


def __getattr__(name: str) -> Any:
    if name == "load_bundle":
        from avgzsl_bench.datasets.loader import load_bundle

        return load_bundle
    raise AttributeError(f"module 'avgzsl_bench.datasets' has no attribute '{name}'")


__all__ = [
    "DATASETS",
    "DEFAULT_FEATURES",
    "DataSource",
    "DatasetSpec",
    "READERS",
    "check_layout",
    "feature_sets",
    "get_dataset",
    "list_datasets",
    "list_feature_sets",
    "load_bundle",
    "register_dataset",
]
