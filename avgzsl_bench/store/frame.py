"""Finished runs as a pandas DataFrame: one row per run, every hyper-parameter a column.

    import avgzsl_bench
    runs = avgzsl_bench.load_results("results/avgzsl_bench.sqlite")
    runs.groupby(["dataset", "features", "method", "config_hash"])["hm"].agg(["mean", "std", "count"])

Leaderboards and tables read runs through this frame too, so a notebook sees exactly what they do.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from avgzsl_bench.store.records import METRICS, RunRecord
from avgzsl_bench.store.sqlite import ResultStore

# Columns taken from each record as they are (the metrics in percent).
RECORD_COLUMNS = (
    "key",
    "method",
    "dataset",
    "seed",
    "config_hash",
    "kind",
    *METRICS,
    "beta",
    "best_epochs",
    "feature_set",
    "synthetic",
    "threads",
    "device",
    "version",
    "git_revision",
    "data_fingerprint",
    "created",
)
# Columns that hold a Python object per run rather than a number or a string.
OBJECT_COLUMNS = ("per_class", "unseen_classes", "record")


def _row(record: RunRecord) -> dict[str, Any]:
    row: dict[str, Any] = {name: getattr(record, name) for name in RECORD_COLUMNS}
    row["features"] = record.features
    row["seconds"] = float(sum(record.timings.values()))
    row.update({f"val_{metric}": record.val.get(metric) for metric in METRICS})
    row["per_class"] = dict(record.per_class)
    row["unseen_classes"] = list(record.unseen_classes)
    row["record"] = record
    for name, value in record.hparams.items():
        # A hyper-parameter never shadows a record column: it gets a prefix if the names clash.
        row[name if name not in row else f"hparam.{name}"] = value
    return row


def results_frame(records: Iterable[RunRecord]) -> pd.DataFrame:
    """The runs as a DataFrame (oldest first, as given); hyper-parameters a method lacks are NaN."""
    rows = [_row(record) for record in records]
    if not rows:
        columns = [*RECORD_COLUMNS, "features", "seconds", *(f"val_{m}" for m in METRICS), *OBJECT_COLUMNS]
        return pd.DataFrame(columns=columns)
    return pd.DataFrame(rows)


def load_results(store: ResultStore | str | Path) -> pd.DataFrame:
    """Every finished run in `store` (a `ResultStore` or the path of its SQLite file) as a DataFrame.

    One row per run. Columns: key, method, dataset, features, seed, config_hash (method, data and
    every hyper-parameter), kind, the test metrics seen/unseen/hm/zsl (percent) and beta,
    best_epochs, val_seen/val_unseen/val_hm/val_zsl, seconds, feature_set, synthetic, threads,
    device, version, git_revision, data_fingerprint (sha256 of the input files; "" for older rows),
    created; per_class (test recall by class name), unseen_classes
    and record (the `RunRecord` itself) hold objects; then one column per hyper-parameter ("lr",
    "text", "dropout", ...; NaN for methods without it, prefixed "hparam." if it clashes).
    """
    if not isinstance(store, ResultStore):
        path = Path(store)
        if not path.is_file():
            raise FileNotFoundError(f"no results store at '{path}'")
        store = ResultStore(path)
    return results_frame(store.runs())
