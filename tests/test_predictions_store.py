"""Per-sample predictions in the results store: round trip, compact bytes, old stores, bad blobs."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from avgzsl_bench.errors import BenchError
from avgzsl_bench.store.packed import pack_predictions, same_predictions, unpack_predictions
from avgzsl_bench.store.predictions import Predictions
from avgzsl_bench.store.sqlite import ResultStore


def make_predictions(key: str = "clipclap-demo-x-seed1", samples: int = 30, classes: int = 5) -> Predictions:
    generator = np.random.default_rng(0)
    return Predictions(
        key=key,
        labels=generator.integers(0, classes, samples),
        predicted=generator.integers(0, classes, samples),
        sample_names=tuple(f"video_{index:04d}" for index in range(samples)),
        class_names=tuple(f"class_{index}" for index in range(classes)),
        beta=0.35,
        beta_grid=(0.0, 0.35, 0.7),
        val_hm=(10.0, 42.5, 30.25),
    )


def assert_same(a: Predictions, b: Predictions) -> None:
    assert (a.key, a.sample_names, a.class_names, a.beta, a.beta_grid, a.val_hm) == (
        b.key,
        b.sample_names,
        b.class_names,
        b.beta,
        b.beta_grid,
        b.val_hm,
    )
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.predicted, b.predicted)


def test_store_round_trip(tmp_path: Path, fake_record) -> None:
    store = ResultStore(tmp_path / "store.sqlite")
    predictions = make_predictions()
    store.save_run(fake_record(predictions.key), predictions)
    loaded = store.predictions(predictions.key)
    assert loaded is not None
    assert_same(loaded, predictions)
    assert loaded.labels.dtype == np.int64 and loaded.predicted.dtype == np.int64
    assert store.predictions("another-key") is None

    # A run and its predictions in one call (one transaction); a second save replaces both.
    record = fake_record("cjme-demo-y-seed2")
    store.save_run(record, make_predictions(record.key, samples=7))
    stored = store.predictions(record.key)
    assert stored is not None and len(stored.labels) == 7
    store.save_run(record, make_predictions(record.key, samples=9))
    again = store.predictions(record.key)
    assert again is not None and len(again.labels) == 9


def test_save_runs_is_all_or_nothing(tmp_path: Path, fake_record) -> None:
    store = ResultStore(tmp_path / "store.sqlite")
    good = fake_record("a-demo-x-seed1")
    broken = fake_record("b-demo-x-seed1")
    broken.created = None  # type: ignore[assignment]  # violates NOT NULL: the second insert fails
    with pytest.raises(sqlite3.IntegrityError):
        store.save_runs([(good, make_predictions(good.key)), (broken, None)])
    assert store.runs() == [] and store.predictions(good.key) is None


def test_packing_is_compact_and_deterministic() -> None:
    predictions = make_predictions(samples=2000, classes=300)
    data = pack_predictions(predictions)
    assert data == pack_predictions(make_predictions(samples=2000, classes=300))  # no clock in the bytes
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:  # a plain npz, readable without this package
        assert archive["labels"].dtype == np.dtype("<i2")
        assert archive["sample_names"].shape == (2000,)
    wide = make_predictions(samples=10, classes=40000)
    with np.load(io.BytesIO(pack_predictions(wide)), allow_pickle=False) as archive:
        assert archive["predicted"].dtype == np.dtype("<i4")  # ids past int16 are not truncated
    assert_same(unpack_predictions(pack_predictions(wide)), wide)
    assert same_predictions(predictions, unpack_predictions(data))
    assert not same_predictions(predictions, make_predictions(samples=2000, classes=301))


def test_unpack_refuses_foreign_bytes() -> None:
    with pytest.raises(ValueError, match="not a predictions archive"):
        unpack_predictions(b"not a zip at all")
    buffer = io.BytesIO()
    np.savez(buffer, labels=np.zeros(3, dtype=np.int16))
    with pytest.raises(ValueError, match="missing"):
        unpack_predictions(buffer.getvalue())
    out_of_range = make_predictions(classes=5)
    data = pack_predictions(
        Predictions(**{**out_of_range.__dict__, "class_names": out_of_range.class_names[:2]})  # ids 2..4 dangle
    )
    with pytest.raises(ValueError, match="outside the 2 classes"):
        unpack_predictions(data)


def test_old_store_gains_the_table_and_bad_blob_is_named(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as connection:  # a store from before predictions were kept
        connection.execute("CREATE TABLE runs (key TEXT PRIMARY KEY, created TEXT NOT NULL)")
    store = ResultStore(path)
    assert store.predictions("k") is None
    with sqlite3.connect(path) as connection:
        connection.execute("INSERT INTO predictions VALUES ('k', 3, x'00ff', 'now')")
    with pytest.raises(BenchError, match="predictions of run 'k' are unreadable"):
        store.predictions("k")
