"""Exchanging runs as files: a store exported to a folder of run files, run files merged into a store.

Export writes every selected run (and its predictions) as `avgzsl_bench.store.files` describes,
refusing, before anything is written, to overwrite a file that holds something else. Import reads
and checks every file first, then compares each run with the store by key: a new run is added, an
identical one skipped and counted, one that differs refused (the store keeps one row per key); the
runs are then written in one transaction, so a refused import leaves the store as it was.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from avgzsl_bench.errors import BenchError
from avgzsl_bench.store.files import PREDICTIONS_SUFFIX, RunFile, file_stem, read_run_file, render_run
from avgzsl_bench.store.packed import same_predictions
from avgzsl_bench.store.predictions import Predictions
from avgzsl_bench.store.records import RunRecord
from avgzsl_bench.store.sqlite import ResultStore


@dataclass(frozen=True)
class ExportSummary:
    runs: int
    with_predictions: int
    written: int  # files written
    unchanged: int  # files that already held the same bytes, left alone


@dataclass(frozen=True)
class ImportSummary:
    files: int
    imported: int  # runs new to the store
    identical: int  # runs the store (or an earlier file of this import) already held, skipped
    predictions_added: int  # stored runs without predictions that gained them from a file


def export_runs(store: ResultStore, out: Path, force: bool = False, **filters: Any) -> ExportSummary:
    """Write `<out>/<key>.json` (and `<key>.predictions.npz`) for every stored run matching `filters`."""
    records = store.runs(**filters)
    if not records:
        which = ", ".join(f"{name}={value}" for name, value in filters.items()) or "any"
        raise BenchError(f"the results store {store.path} holds no runs ({which}) to export")
    planned: dict[Path, bytes] = {}
    with_predictions = 0
    for record in records:
        try:
            text, data = render_run(record, store.predictions(record.key))
        except ValueError as error:  # NaN or infinity in a stored row: JSON cannot hold it
            raise BenchError(f"run '{record.key}' in {store.path} cannot be exported ({error})") from None
        path = out / f"{file_stem(record.key)}.json"
        if path in planned:
            raise BenchError(f"runs '{record.key}' and another share the file name {path.name}; export them apart")
        planned[path] = text.encode("utf-8")
        if data is not None:
            planned[out / f"{file_stem(record.key)}{PREDICTIONS_SUFFIX}"] = data
            with_predictions += 1
    changed = {path: content for path, content in planned.items() if not _holds(path, content)}
    clashing = [path for path in changed if path.exists()]
    if clashing and not force:
        raise BenchError(
            f"{len(clashing)} file(s) in {out} hold other content under the same name (e.g. '{clashing[0]}'); "
            "pass --out an empty folder, or --force to overwrite them"
        )
    out.mkdir(parents=True, exist_ok=True)
    for path, content in changed.items():
        _write_atomically(path, content)
    return ExportSummary(len(records), with_predictions, len(changed), len(planned) - len(changed))


def _holds(path: Path, content: bytes) -> bool:
    return path.is_file() and path.stat().st_size == len(content) and path.read_bytes() == content


def _write_atomically(path: Path, content: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def run_file_paths(paths: Iterable[Path]) -> list[Path]:
    """The run files named: files as given, folders searched (recursively) for `*.json`."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(path.rglob("*.json"))
        elif path.is_file():
            found.append(path)
        else:
            raise BenchError(f"'{path}' does not exist; pass folders or files written by `bench.py export`")
    if not found:
        raise BenchError(
            f"no run files (*.json) in {', '.join(map(str, paths))}; pass a folder `bench.py export` wrote"
        )
    return found


def read_run_files(paths: Sequence[Path]) -> list[RunFile]:
    """Every run file under `paths`, read and checked (a `BenchError` for the first bad one)."""
    return [read_run_file(path) for path in run_file_paths(paths)]


def merge_runs(store: ResultStore, files: list[RunFile]) -> ImportSummary:
    """Checked run files into `store`, in one transaction, unless one conflicts with a stored run."""
    writes, identical, added = _plan(store, files)
    if writes:
        store.save_runs(writes)
    return ImportSummary(len(files), len(writes) - added, identical, added)


def _plan(store: ResultStore, files: list[RunFile]) -> tuple[list[tuple[RunRecord, Predictions | None]], int, int]:
    """What to write; a `BenchError` for a run that differs from the stored one (or another file's) by key."""
    stored = {record.key: record for record in store.runs()}
    first: dict[str, RunFile] = {}
    writes: list[tuple[RunRecord, Predictions | None]] = []
    identical = added = 0
    for run in files:
        key = run.record.key
        if key in first:
            _require_same(run, first[key].record, first[key].predictions, f"run file '{first[key].path}'")
            identical += 1
            continue
        first[key] = run
        if key not in stored:
            writes.append((run.record, run.predictions))
            continue
        have = store.predictions(key)
        _require_same(run, stored[key], have, f"the stored run in {store.path}")
        if have is None and run.predictions is not None:
            writes.append((run.record, run.predictions))
            added += 1
        else:
            identical += 1
    return writes, identical, added


def _require_same(run: RunFile, record: RunRecord, predictions: Predictions | None, other: str) -> None:
    differing = [
        item.name for item in fields(RunRecord) if getattr(run.record, item.name) != getattr(record, item.name)
    ]
    if predictions is not None and run.predictions is not None and not same_predictions(predictions, run.predictions):
        differing.append("predictions")
    if differing:
        raise BenchError(
            f"run file '{run.path}' (run '{run.record.key}') conflicts with {other}: same key, different "
            f"{', '.join(differing[:6])}. A store keeps one row per key, so nothing was imported; import it into "
            "another store (--store) to compare the two"
        )
