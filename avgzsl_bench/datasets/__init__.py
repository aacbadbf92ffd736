"""Datasets: the registry of dataset/feature-set specs, their readers, and `DataSource`."""

from avgzsl_bench.datasets.layout import check_layout
from avgzsl_bench.datasets.loader import load_bundle
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
