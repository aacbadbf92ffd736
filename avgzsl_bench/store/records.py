"""The record schema: what a finished stage 1 and a finished run leave behind, and the one builder
of a stored row.

`RunRecord` is the one schema of a finished run (trained through the protocol, or an evaluation of
trained models), shared by the store, the job layer and every report: the store's columns are
derived from its fields (JSON for dicts and lists), `build_record` fills every row, and tables,
leaderboards, figures and `load_results` read records by attribute, never by string key.
`Stage1Result` is what stage 1 hands to stage 2, persisted so that an interrupted run resumes at
stage 2. Keys, config hashes and timestamps are made here only.
"""

from __future__ import annotations

import hashlib
import json
import time
import typing
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

METRICS = ("seen", "unseen", "hm", "zsl")  # test metrics in percent, as the papers report them
RUN_KINDS = ("protocol", "evaluation")  # trained through the two stages, or only evaluated
KEY_PREFIX = {"protocol": "", "evaluation": "eval-"}  # an evaluation never shares a key with a trained run


def timestamp() -> str:
    """The one timestamp format of stored rows (local time with its UTC offset)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def config_hash(config: Mapping[str, Any]) -> str:
    """The short hash of everything that determines a result except the seed."""
    encoded = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()[:12]


def run_key(method: str, dataset: str, config: Mapping[str, Any], seed: int, kind: str = "protocol") -> str:
    """A run's identity in the store: method-dataset-confighash-seedN (evaluations prefixed 'eval-')."""
    return f"{KEY_PREFIX[kind]}{method}-{dataset}-{config_hash(config)}-seed{seed}"


@dataclass
class Stage1Result:
    """What stage 1 hands to stage 2; persisted so an interrupted run resumes at stage 2."""

    best_epochs: int  # epochs trained when val HM peaked (stage 2 trains this many)
    val: dict[str, float]  # val metrics of the primary view at the best epoch (percent)
    val_betas: dict[str, float]  # val-optimal beta of every view of model A
    val_hm_per_epoch: list[float]
    val_hm_vs_beta: list[tuple[float, float]]  # primary view, best epoch: (beta, HM in percent)
    seconds: float

    @property
    def test_beta(self) -> float:
        """The reference rule: the mean of the val-optimal betas of the views."""
        return sum(self.val_betas.values()) / len(self.val_betas)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Stage1Result:
        payload = json.loads(text)
        payload["val_hm_vs_beta"] = [tuple(pair) for pair in payload["val_hm_vs_beta"]]
        return cls(**payload)


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
    created: str = field(default_factory=timestamp)
    # Names of the test split's unseen classes (what a bootstrap over test classes needs to
    # recompute S, U and HM from `per_class`); empty for runs stored before it was recorded.
    unseen_classes: list[str] = field(default_factory=list)
    # sha256 (hex) over the exact input files the run read (features, split lists, class text)
    # plus the feature set and the text-attachment rule; "" for rows stored before it was recorded.
    data_fingerprint: str = ""
    # Versions of the software that computed it: python, torch, numpy (and cuda on a GPU); {} for
    # rows stored before they were recorded.
    software: dict[str, str] = field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, float]:
        return {metric: getattr(self, metric) for metric in METRICS}

    @property
    def hparams(self) -> dict[str, Any]:
        return dict(self.config.get("hparams", {}))

    @property
    def features(self) -> str:
        """The feature set of the run's data (the default one is not written into the config)."""
        # Imported here: records are read (reports, `bench.py import`) without loading torch.
        from avgzsl_bench.datasets.types import DEFAULT_FEATURES

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
        values["data_fingerprint"] = values.get("data_fingerprint") or ""
        values["software"] = values.get("software") or {}
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


@dataclass(frozen=True)
class Measured:
    """What a scored model measured: the test metrics at the val-chosen β, its per-class recall and
    the class it predicted for each test sample."""

    test: Mapping[str, float]  # seen/unseen/hm/zsl in percent, and beta
    per_class: Mapping[str, float]  # class name -> test recall in percent
    unseen_classes: Sequence[str]  # the test split's unseen class names
    # Predicted global class id of every test sample at that β, in the test split's order.
    predicted: tuple[int, ...] = ()


def build_record(
    *,
    method: str,
    dataset: str,
    seed: int,
    config: Mapping[str, Any],
    stage1: Stage1Result,
    measured: Measured,
    timings: Mapping[str, float],
    context: Mapping[str, Any],
    kind: str = "protocol",
) -> RunRecord:
    """The one builder of a stored row, for trained runs and evaluations alike.

    `context` says what ran it and on what: feature_set, synthetic, threads, version, git_revision,
    device, data_fingerprint and software.
    """
    test = measured.test
    return RunRecord(
        key=run_key(method, dataset, config, seed, kind),
        method=method,
        dataset=dataset,
        seed=seed,
        config_hash=config_hash(config),
        config=dict(config),
        seen=test["seen"],
        unseen=test["unseen"],
        hm=test["hm"],
        zsl=test["zsl"],
        beta=test["beta"],
        best_epochs=stage1.best_epochs,
        val=stage1.val,
        val_betas=stage1.val_betas,
        val_hm_per_epoch=stage1.val_hm_per_epoch,
        val_hm_vs_beta=[list(pair) for pair in stage1.val_hm_vs_beta],
        per_class=dict(measured.per_class),
        unseen_classes=list(measured.unseen_classes),
        timings=dict(timings),
        kind=kind,
        **{name: context[name] for name in CONTEXT_FIELDS},
    )


# The fields of a row that say what ran it and on what (filled from the job's environment).
CONTEXT_FIELDS = (
    "feature_set",
    "synthetic",
    "threads",
    "version",
    "git_revision",
    "device",
    "data_fingerprint",
    "software",
)
