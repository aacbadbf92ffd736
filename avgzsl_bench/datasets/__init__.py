"""Datasets: the registry of dataset/feature-set specs, their readers, and `DataSource`."""

from avgzsl_bench.datasets.loader import load_bundle
from avgzsl_bench.datasets.source import READERS, DataSource
from avgzsl_bench.datasets.spec import (
    DATASETS,
    DEFAULT_FEATURES,
    DatasetSpec,
    feature_sets,
    get_dataset,
    list_datasets,
    register_dataset,
)

__all__ = [
    "DATASETS",
    "DEFAULT_FEATURES",
    "DataSource",
    "DatasetSpec",
    "READERS",
    "feature_sets",
    "get_dataset",
    "list_datasets",
    "load_bundle",
    "register_dataset",
]
