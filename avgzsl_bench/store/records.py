"""`RunRecord`: the one schema of a finished run, shared by the store, the runner and every report.

The store's columns are derived from the fields (JSON for dicts and lists), the runner fills one
record per finished run, and tables, leaderboards, figures and `load_results` read records by
attribute, never by string key.
"""

from __future__ import annotations

import json
import time
import typing
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from avgzsl_bench.datasets.types import DEFAULT_FEATURES

METRICS = ("seen", "unseen", "hm", "zsl")  # test metrics in percent, as the papers report them
RUN_KINDS = ("protocol", "evaluation")  # trained through the two stages, or only evaluated


@dataclass
class RunRecord:
    key: str  # method-dataset-confighash-seedN: unique per run
    method: str
    dataset: str
    seed: int
    config_hash: str  # hash of `config`: method, data source and every hyper-parameter
    config: dict[str, Any]
    seen: float
    unseen: float
    hm: float
    zsl: float
    beta: float  # calibration used on test
    best_epochs: int  # stage-1 epochs at the best validation HM (stage 2 trains this many)
    val: dict[str, float]  # validation metrics at the best epoch
    val_betas: dict[str, float]  # validation-optimal β of every view
    val_hm_per_epoch: list[float]
    val_hm_vs_beta: list[list[float]]  # [β, validation HM] at the best epoch
    per_class: dict[str, float]  # test recall per class name
    timings: dict[str, float]  # seconds per stage (stacked runs: each run's share of the wall time)
    feature_set: str  # how the features are named in reports
    synthetic: bool  # demo data: numbers test the harness, not methods
    version: str
    git_revision: str
    device: str
    threads: int | None = None  # CPU threads the run used (None: stored before this was recorded)
    kind: str = "protocol"  # one of RUN_KINDS
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    # Names of the test split's unseen classes (what a bootstrap over test classes needs to
    # recompute S, U and HM from `per_class`); empty for runs stored before it was recorded.
    unseen_classes: list[str] = field(default_factory=list)

    @property
    def metrics(self) -> dict[str, float]:
        return {metric: getattr(self, metric) for metric in METRICS}

    @property
    def hparams(self) -> dict[str, Any]:
        return dict(self.config.get("hparams", {}))

    @property
    def features(self) -> str:
        """The feature set of the run's data (the default one is not written into the config)."""
        return str(self.config.get("data", {}).get("features", DEFAULT_FEATURES))

    def to_row(self) -> dict[str, Any]:
        """Column -> SQLite value (JSON text for dicts and lists)."""
        row = asdict(self)
        for name in json_columns():
            row[name] = json.dumps(row[name], sort_keys=True)
        row["synthetic"] = int(self.synthetic)
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RunRecord:
        values: dict[str, Any] = {name: row.get(name) for name in column_names() if name in row}
        for name in json_columns():
            if isinstance(values.get(name), str):
                values[name] = json.loads(values[name])
        values["synthetic"] = bool(values.get("synthetic"))
        values["kind"] = values.get("kind") or "protocol"
        values["unseen_classes"] = values.get("unseen_classes") or []
        return cls(**values)


def column_names() -> list[str]:
    return [f.name for f in fields(RunRecord)]


def _field_types() -> dict[str, Any]:
    return typing.get_type_hints(RunRecord)


def json_columns() -> list[str]:
    return [name for name, hint in _field_types().items() if typing.get_origin(hint) in (dict, list)]


def sql_type(name: str) -> str:
    hint = _field_types()[name]
    base = next((arg for arg in typing.get_args(hint) if arg is not type(None)), hint)
    return {str: "TEXT", int: "INTEGER", float: "REAL", bool: "INTEGER"}.get(base, "TEXT")
