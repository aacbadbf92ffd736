"""Run files: export -> import round trip (the identical leaderboard), deduplication, and every bad
input refused with exit code 2, the file named, and nothing half-imported."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import avgzsl_bench
from avgzsl_bench.artefacts.checkpoints import load_saved
from avgzsl_bench.cli import main
from avgzsl_bench.datasets import DataSource
from avgzsl_bench.jobs.evaluate import evaluate_trained
from avgzsl_bench.store.packed import pack_predictions, same_predictions
from avgzsl_bench.store.predictions import Predictions
from avgzsl_bench.store.sqlite import ResultStore

SOURCE = DataSource("demo", demo_samples_per_class=12)
QUICK = {"epochs": 2, "batches_per_epoch": 4, "batch_size": 16}
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory) -> Path:
    """Trained runs (two seeds of devise, one zero-shot run) and an evaluation of saved models."""
    folder = tmp_path_factory.mktemp("demo-store")
    path, models = folder / "runs.sqlite", folder / "models"
    avgzsl_bench.run_benchmark("devise", SOURCE, seeds=[1, 2], overrides=QUICK, store=path, device="cpu")
    avgzsl_bench.run_benchmark(
        "zeroshot", SOURCE, seeds=[1], overrides=QUICK, store=path, device="cpu", models_dir=str(models)
    )
    saved = load_saved(next(models.glob("*.pt")))
    evaluated = evaluate_trained(SOURCE, saved.saved["config"]["hparams"], saved, "cpu", 1)
    record, predictions = evaluated.record, evaluated.predictions
    ResultStore(path).save_run(record, predictions)
    return path


@pytest.fixture(scope="module")
def exported(demo_store: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("exported") / "runs"
    assert main(["export", "--store", str(demo_store), "--out", str(out), "--quiet"]) == 0
    return out


def boards(store: Path, out: Path) -> dict[str, bytes]:
    assert main(["leaderboard", "--store", str(store), "--out", str(out), "--quiet"]) == 0
    return {path.name: path.read_bytes() for path in sorted(out.glob("*.md"))}


def test_round_trip_gives_the_identical_leaderboard(demo_store: Path, exported: Path, tmp_path: Path) -> None:
    original = ResultStore(demo_store)
    runs = original.runs()
    assert len(runs) == 4 and {run.kind for run in runs} == {"protocol", "evaluation"}
    assert len(list(exported.glob("*.json"))) == 4 and len(list(exported.glob("*.predictions.npz"))) == 4
    document = json.loads(next(exported.glob("devise-*.json")).read_text())
    assert document["schema_version"] == 1 and document["record"]["data_fingerprint"] == SOURCE.load().fingerprint
    assert {"torch", "numpy", "python"} <= set(document["record"]["software"])

    copy = tmp_path / "copy.sqlite"
    assert main(["import", str(exported), "--store", str(copy), "--quiet"]) == 0
    imported = ResultStore(copy)
    assert imported.runs() == runs  # every field of every row
    for run in runs:
        a, b = original.predictions(run.key), imported.predictions(run.key)
        assert a is not None and b is not None and same_predictions(a, b)
    before, after = boards(demo_store, tmp_path / "before"), boards(copy, tmp_path / "after")
    assert before and before == after  # byte for byte


def test_reimport_skips_identical_runs_and_export_is_deterministic(
    demo_store: Path, exported: Path, tmp_path: Path, capsys
) -> None:
    capsys.readouterr()
    one_file = sorted(exported.glob("*.json"))[0]  # a run named twice counts twice, is stored once
    assert main(["import", str(exported), str(one_file), "--store", str(demo_store)]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "5 run files read: 0 runs imported" in err and "5 already there (identical, skipped)" in err
    assert len(ResultStore(demo_store).runs()) == 4
    again = tmp_path / "again"
    assert main(["export", "--store", str(demo_store), "--out", str(again), "--quiet"]) == 0
    assert {p.name: p.read_bytes() for p in again.iterdir()} == {p.name: p.read_bytes() for p in exported.iterdir()}


def test_import_needs_no_torch(exported: Path, tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from avgzsl_bench.store.exchange import merge_runs, read_run_files; "
        "from avgzsl_bench.store.sqlite import ResultStore; "
        f"files = read_run_files([Path({str(exported)!r})]); "
        f"summary = merge_runs(ResultStore({str(tmp_path / 's.sqlite')!r}), files); "
        "assert summary.imported == 4, summary; assert 'torch' not in sys.modules, 'torch was imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


# -- bad input: each refused, exit 2, the file (and key) named, nothing imported ------------------------


def _first_run(folder: Path) -> tuple[Path, dict]:
    path = sorted(folder.glob("devise-*.json"))[0]
    return path, json.loads(path.read_text())


def _save(path: Path, document: dict) -> None:
    path.write_text(json.dumps(document, indent=2))


def _truncate_json(folder: Path) -> str:
    path, _ = _first_run(folder)
    path.write_text(path.read_text()[:200])
    return "is not valid JSON"


def _foreign_json(folder: Path) -> str:
    (folder / "package.json").write_text('{"name": "something-else", "version": "1.0.0"}')
    return "package.json' is not an avgzsl-bench run file"


def _unknown_schema(folder: Path) -> str:
    path, document = _first_run(folder)
    _save(path, {**document, "schema_version": 99})
    return "schema_version 99"


def _missing_field(folder: Path) -> str:
    path, document = _first_run(folder)
    del document["record"]["hm"]
    _save(path, document)
    return "record field 'hm' is missing"


def _wrong_type(folder: Path) -> str:
    path, document = _first_run(folder)
    document["record"]["seed"] = "one"
    _save(path, document)
    return "record field 'seed' is 'one', expected int"


def _edited_config(folder: Path) -> str:
    path, document = _first_run(folder)
    document["record"]["config"]["hparams"]["lr"] = 1.0
    _save(path, document)
    return "does not hash to its config_hash"


def _sample_count(folder: Path) -> str:
    path, document = _first_run(folder)
    document["predictions"]["samples"] += 1
    _save(path, document)
    return "test samples, the run file says"


def _damaged_predictions(folder: Path) -> str:
    path, document = _first_run(folder)
    npz = folder / document["predictions"]["file"]
    npz.write_bytes(npz.read_bytes()[:-40])
    return "does not match its sha256"


def _other_samples(folder: Path) -> str:
    """A consistent predictions file (hash and count updated) that is not this run's test set."""
    path, document = _first_run(folder)
    npz = folder / document["predictions"]["file"]
    with np.load(npz, allow_pickle=False) as archive:
        keep = archive["labels"] != archive["labels"][0]  # drop one class's samples
        short = Predictions(
            key=str(archive["key"]),
            labels=archive["labels"][keep].astype(np.int64),
            predicted=archive["predicted"][keep].astype(np.int64),
            sample_names=tuple(archive["sample_names"][keep].tolist()),
            class_names=tuple(archive["class_names"].tolist()),
            beta=float(archive["beta"]),
            beta_grid=tuple(archive["beta_grid"].tolist()),
            val_hm=tuple(archive["val_hm"].tolist()),
        )
    data = pack_predictions(short)
    npz.write_bytes(data)
    document["predictions"].update(sha256=hashlib.sha256(data).hexdigest(), samples=len(short.labels))
    _save(path, document)
    return "they are not this run's test samples"


BAD_INPUTS: dict[str, Callable[[Path], str]] = {
    "truncated JSON": _truncate_json,
    "foreign JSON": _foreign_json,
    "unknown schema version": _unknown_schema,
    "missing field": _missing_field,
    "wrong type": _wrong_type,
    "edited config": _edited_config,
    "sample count": _sample_count,
    "damaged predictions": _damaged_predictions,
    "predictions of other samples": _other_samples,
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_refused_and_nothing_is_imported(case: str, exported: Path, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "runs"
    shutil.copytree(exported, folder)
    needle = BAD_INPUTS[case](folder)
    store = tmp_path / "store.sqlite"
    capsys.readouterr()
    assert main(["import", str(folder), "--store", str(store)]) == 2
    error = " ".join(capsys.readouterr().err.split())
    assert needle in error and str(folder) in error, error
    if case not in ("truncated JSON", "foreign JSON", "unknown schema version"):
        assert "devise-demo-" in error  # the run's key
    assert not store.exists()  # nothing imported, not even the valid files; no store created


def test_a_conflicting_run_is_refused(demo_store: Path, exported: Path, tmp_path: Path, capsys) -> None:
    store = tmp_path / "store.sqlite"
    shutil.copy(demo_store, store)
    folder = tmp_path / "runs"
    shutil.copytree(exported, folder)
    path, document = _first_run(folder)
    document["record"]["created"] = "2020-01-01T00:00:00+0000"  # same key, different content
    _save(path, document)
    before = ResultStore(store).runs()
    capsys.readouterr()
    assert main(["import", str(folder), "--store", str(store)]) == 2
    error = " ".join(capsys.readouterr().err.split())
    assert f"run file '{path}'" in error and "same key, different created" in error
    assert ResultStore(store).runs() == before
    # Two files of one import that disagree are refused the same way.
    copy = tmp_path / "more"
    shutil.copytree(exported, copy)
    assert main(["import", str(copy), str(folder), "--store", str(tmp_path / "fresh.sqlite")]) == 2
    assert "conflicts with run file" in capsys.readouterr().err
