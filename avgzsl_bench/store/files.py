"""Run files: one stored run as a JSON document, with its test predictions in a sibling `.npz`.

The layout is documented in docs/run-files.md. A file is written from a `RunRecord` and read back
into exactly that record; reading checks everything before anything is stored (the JSON, the
schema version, every record field and its type, the configuration hash, the predictions' hash,
sample count and their agreement with the record's per-class recall) and refuses a bad file with a
`BenchError` naming the file and the key. Nothing here imports torch.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import types
import typing
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from avgzsl_bench.errors import BenchError
from avgzsl_bench.store.packed import pack_predictions, unpack_predictions
from avgzsl_bench.store.predictions import Predictions
from avgzsl_bench.store.records import METRICS, RUN_KINDS, RunRecord, config_hash

SCHEMA_VERSION = 1  # bump when a field changes meaning or a required field is added
FORMAT = "avgzsl-bench run"  # tells a run file from any other JSON
PREDICTIONS_SUFFIX = ".predictions.npz"
RECALL_TOLERANCE = 1e-3  # percent; the record's recall is float32, the recount float64


@dataclass(frozen=True)
class RunFile:
    """A run file read and checked: where it came from, its record and its predictions (if any)."""

    path: Path
    record: RunRecord
    predictions: Predictions | None


def file_stem(key: str) -> str:
    """A run key as a file name (keys are made of letters, digits, '-', '.', '_'; anything else is '_')."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", key)


def render_run(record: RunRecord, predictions: Predictions | None) -> tuple[str, bytes | None]:
    """The JSON text of a run file and the bytes of its predictions file (None without predictions)."""
    data = None if predictions is None else pack_predictions(predictions)
    document = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "record": {item.name: getattr(record, item.name) for item in fields(RunRecord)},
        "predictions": None
        if data is None or predictions is None
        else {
            "file": file_stem(record.key) + PREDICTIONS_SUFFIX,
            "sha256": hashlib.sha256(data).hexdigest(),
            "samples": len(predictions.labels),
        },
    }
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n", data


def read_run_file(path: Path) -> RunFile:
    """A run file, checked; a `BenchError` naming the file (and key) for anything wrong with it."""
    document = _load_json(path)
    record = _record(document, path)
    return RunFile(path, record, _predictions(document.get("predictions"), record, path))


def _load_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise BenchError(f"cannot read run file '{path}' ({error})") from None
    except json.JSONDecodeError as error:
        raise BenchError(f"run file '{path}' is not valid JSON ({error}); it is damaged: export it again") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise BenchError(
            f'\'{path}\' is not an avgzsl-bench run file (no "format": "{FORMAT}"); pass only folders or '
            "files written by `bench.py export`"
        )
    version = document.get("schema_version")
    if version != SCHEMA_VERSION:
        raise BenchError(
            f"run file '{path}' has schema_version {version!r}; this version of avgzsl-bench reads "
            f"schema_version {SCHEMA_VERSION}: upgrade avgzsl-bench (or export the runs again with this version)"
        )
    return document


def _record(document: dict[str, Any], path: Path) -> RunRecord:
    values = document.get("record")
    if not isinstance(values, dict):
        raise BenchError(f"run file '{path}' has no \"record\" object; it is damaged: export it again")
    key = values.get("key")
    where = f"run file '{path}' (run '{key}')"
    hints = typing.get_type_hints(RunRecord)
    unknown = sorted(set(values) - set(hints))
    if unknown:
        raise BenchError(f"{where}: unknown record field(s) {', '.join(unknown)}; upgrade avgzsl-bench to read it")
    for item in fields(RunRecord):
        required = item.default is MISSING and item.default_factory is MISSING
        if item.name not in values:
            if required:
                raise BenchError(f"{where}: record field '{item.name}' is missing; it is damaged: export it again")
            continue
        values[item.name] = _checked(item.name, hints[item.name], values[item.name], where)
    record = RunRecord(**values)
    _check_meaning(record, where)
    return record


def _checked(name: str, hint: Any, value: Any, where: str) -> Any:
    """`value` if it has the field's type (an int where a float is expected becomes a float)."""
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    options = list(typing.get_args(hint)) if union else [hint]
    for option in options:
        base = typing.get_origin(option) or option
        if value is None and option is type(None):
            return value
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if base is float and number and math.isfinite(value):
            return float(value)
        plain = base in (str, bool, dict, list) or (base is int and not isinstance(value, bool))
        if plain and isinstance(value, base):
            return value
    expected = " or ".join(getattr(option, "__name__", str(option)) for option in options)
    raise BenchError(f"{where}: record field '{name}' is {value!r}, expected {expected}; it is damaged")


def _check_meaning(record: RunRecord, where: str) -> None:
    if record.kind not in RUN_KINDS:
        raise BenchError(f"{where}: record field 'kind' is {record.kind!r}, expected one of {', '.join(RUN_KINDS)}")
    if record.config_hash != config_hash(record.config) or record.config_hash not in record.key:
        raise BenchError(
            f"{where}: its config does not hash to its config_hash {record.config_hash!r} (edited by hand?); "
            "export the run again"
        )
    for metric in METRICS:
        if not 0 <= getattr(record, metric) <= 100:
            raise BenchError(f"{where}: record field '{metric}' is {getattr(record, metric)}, not a percentage")
    bad = [name for name, value in record.per_class.items() if not isinstance(value, int | float)]
    if bad:
        raise BenchError(f"{where}: per_class holds non-numbers for {', '.join(bad[:5])}")


def _predictions(entry: Any, record: RunRecord, path: Path) -> Predictions | None:
    if entry is None:
        return None
    where = f"run file '{path}' (run '{record.key}')"
    if not isinstance(entry, dict) or not {"file", "sha256", "samples"} <= set(entry):
        raise BenchError(f'{where}: "predictions" must be null or name its file, sha256 and samples')
    if not isinstance(entry["file"], str) or Path(entry["file"]).name != entry["file"]:
        raise BenchError(f"{where}: predictions file {entry['file']!r} must be a file name beside the run file")
    sibling = path.parent / entry["file"]
    try:
        data = sibling.read_bytes()
    except OSError as error:
        raise BenchError(f"{where}: cannot read its predictions file '{sibling}' ({error.strerror or error})") from None
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise BenchError(f"{where}: predictions file '{sibling}' does not match its sha256: it was changed or damaged")
    try:
        predictions = unpack_predictions(data)
    except ValueError as error:
        raise BenchError(f"{where}: predictions file '{sibling}': {error}") from None
    if predictions.key != record.key:
        raise BenchError(f"{where}: predictions file '{sibling}' holds the predictions of run '{predictions.key}'")
    if len(predictions.labels) != entry["samples"]:
        raise BenchError(
            f"{where}: predictions file '{sibling}' holds {len(predictions.labels)} test samples, "
            f"the run file says {entry['samples']}"
        )
    _check_recall(predictions, record, f"{where}: predictions file '{sibling}'")
    return predictions


def _check_recall(predictions: Predictions, record: RunRecord, where: str) -> None:
    """The predictions must reproduce the record's per-class recall (same run, same test samples)."""
    classes = len(predictions.class_names)
    totals = np.bincount(predictions.labels, minlength=classes)
    hits = np.bincount(predictions.labels[predictions.correct], minlength=classes)
    present = np.flatnonzero(totals)
    recall = {predictions.class_names[c]: 100.0 * hits[c] / totals[c] for c in present.tolist()}
    if set(recall) != set(record.per_class):
        raise BenchError(
            f"{where}: its {len(predictions.labels)} test samples cover {len(recall)} classes, the record's "
            f"per-class recall {len(record.per_class)}: they are not this run's test samples"
        )
    off = [name for name, value in recall.items() if abs(value - record.per_class[name]) > RECALL_TOLERANCE]
    if off:
        raise BenchError(f"{where}: the predictions do not reproduce the record's recall of {', '.join(off[:5])}")
