"""Results store: every finished stage 1 and every finished run is written at once to SQLite (WAL).

A run is identified by its job key (method, dataset, data source, seed and the fully resolved
hyper-parameters); a killed benchmark resumes by skipping keys that are already stored, and
continues at stage 2 when only stage 1 had finished. The `runs` table's columns are `RunRecord`'s
fields; a store written by an older version gains the newer columns when it is opened. A run's
per-sample test predictions sit beside its row in the `predictions` table (one `.npz` blob per run
key, see `avgzsl_bench.store.packed`); runs stored before predictions were kept have none.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from avgzsl_bench.errors import BenchError
from avgzsl_bench.store.packed import pack_predictions, unpack_predictions
from avgzsl_bench.store.predictions import Predictions
from avgzsl_bench.store.records import RunRecord, Stage1Result, column_names, sql_type, timestamp

# Where results go unless told otherwise (relative to the working directory, git-ignored).
DEFAULT_STORE = "results/avgzsl_bench.sqlite"

STAGE1_SCHEMA = """
CREATE TABLE IF NOT EXISTS stage1 (
    key TEXT PRIMARY KEY,
    payload TEXT NOT NULL,
    created TEXT NOT NULL
);
"""
# A job being trained is claimed by its process until `expires` (Unix time); the process renews the
# lease while it works, so a claim outlives its process by at most one lease.
CLAIMS_SCHEMA = """
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires REAL NOT NULL
);
"""

# A run's test predictions: the `.npz` bytes of `avgzsl_bench.store.packed`, keyed by run key.
PREDICTIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    key TEXT PRIMARY KEY,
    samples INTEGER NOT NULL,
    payload BLOB NOT NULL,
    created TEXT NOT NULL
);
"""


class _EmptyStore(Exception):
    """A store opened for reading lacks a table: nothing of that kind was ever written."""


def _runs_schema() -> str:
    columns = []
    for name in column_names():
        constraint = " PRIMARY KEY" if name == "key" else (" NOT NULL" if name == "created" else "")
        columns.append(f"    {name} {sql_type(name)}{constraint}")
    return "CREATE TABLE IF NOT EXISTS runs (\n" + ",\n".join(columns) + "\n);"


def _check_writable(path: Path) -> None:
    """A store that cannot be written is refused up front, with the folder named."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BenchError(
            f"cannot create the results store folder '{folder}' ({error.strerror or error}); "
            "pass --store with a path in a writable folder"
        ) from None
    # SQLite's WAL mode writes two companion files next to the store, so the folder must be writable too.
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BenchError(
            f"the results store '{path}' is not writable (folder '{folder}' is not writable); pass --store "
            "with a path in a writable folder, or make that folder writable"
        )
    if path.exists() and not os.access(path, os.W_OK):
        raise BenchError(
            f"the results store '{path}' is not writable (the file is read-only); pass --store with another "
            "path, or make the file writable"
        )


class MissingStore(BenchError, FileNotFoundError):
    """A reading command named a store that does not exist (a `FileNotFoundError` for programs too)."""


def _check_readable(path: Path) -> None:
    """A store opened for reading must exist: reading never creates one."""
    if not path.is_file():
        what = "is a folder, not a store file" if path.is_dir() else "does not exist"
        raise MissingStore(
            f"no results store at '{path}' (the path {what}; reading commands never create one): run a "
            f"benchmark first (`python bench.py run --methods clipclap --dataset demo --store {path}` writes "
            "one), or pass --store with the path of an existing store"
        )


class ResultStore:
    """A thin, process-safe wrapper around one SQLite file.

    `read_only=True` is for commands that only read (leaderboards, tables' lookups, figures,
    `load_results`): the file must exist, nothing is created or migrated, and only `runs`, `stage1`,
    `has_run`, `predictions` and `claims` may be called.
    """

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        if read_only:
            _check_readable(self.path)
            return
        _check_writable(self.path)
        try:
            with self._connect() as connection:
                connection.executescript(STAGE1_SCHEMA + CLAIMS_SCHEMA + PREDICTIONS_SCHEMA + _runs_schema())
                present = {row["name"] for row in connection.execute("PRAGMA table_info(runs)")}
                for name in column_names():
                    if name not in present:
                        connection.execute(f"ALTER TABLE runs ADD COLUMN {name} {sql_type(name)}")
        except sqlite3.DatabaseError as error:
            raise BenchError(
                f"results store {self.path} is not a readable SQLite database ({error}); "
                "move it aside or pass another --store path"
            ) from error

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if self.read_only:
            # mode=rw never creates the file (a read-only file is opened for reading), and the last
            # connection to close removes SQLite's companion files, so reading leaves nothing behind.
            connection = sqlite3.connect(self.path.resolve().as_uri() + "?mode=rw", uri=True, timeout=60)
        else:
            # WAL lets readers (reports) run beside a writer; the busy timeout serialises writers.
            connection = sqlite3.connect(self.path, timeout=60)
        try:
            if not self.read_only:
                connection.execute("PRAGMA journal_mode=WAL")
            connection.row_factory = sqlite3.Row
            with connection:
                yield connection
        except sqlite3.DatabaseError as error:
            if self.read_only and "no such table" in str(error):
                raise _EmptyStore from None
            if self.read_only:
                raise BenchError(
                    f"results store {self.path} is not a readable SQLite database ({error}); "
                    "pass --store with the path of a store written by `bench.py run`"
                ) from None
            raise
        finally:
            connection.close()

    def _fetch(self, query: str, parameters: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Rows of a read query; none when a store opened for reading lacks the table."""
        try:
            with self._connect() as connection:
                return connection.execute(query, parameters).fetchall()
        except _EmptyStore:
            return []

    def stage1(self, key: str) -> Stage1Result | None:
        rows = self._fetch("SELECT payload FROM stage1 WHERE key = ?", (key,))
        return Stage1Result.from_json(rows[0]["payload"]) if rows else None

    def save_stage1(self, key: str, result: Stage1Result) -> None:
        with self._connect() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO stage1 (key, payload, created) VALUES (?, ?, ?)",
                (key, result.to_json(), timestamp()),
            )

    def has_run(self, key: str) -> bool:
        return bool(self._fetch("SELECT 1 FROM runs WHERE key = ?", (key,)))

    def save_run(self, record: RunRecord, predictions: Predictions | None = None) -> None:
        """Store a finished run, and its test predictions in the same transaction when given."""
        with self._connect() as connection:
            _insert_run(connection, record)
            if predictions is not None:
                _insert_predictions(connection, predictions)

    def save_runs(self, runs: list[tuple[RunRecord, Predictions | None]]) -> None:
        """Store many runs (and their predictions) in one transaction: all of them or none."""
        with self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")
            for record, predictions in runs:
                _insert_run(connection, record)
                if predictions is not None:
                    _insert_predictions(connection, predictions)

    def predictions(self, key: str) -> Predictions | None:
        """The stored test predictions of run `key`; None for runs stored without them."""
        rows = self._fetch("SELECT payload FROM predictions WHERE key = ?", (key,))
        if not rows:
            return None
        row = rows[0]
        try:
            return unpack_predictions(bytes(row["payload"]))
        except ValueError as error:
            raise BenchError(
                f"results store {self.path}: the stored predictions of run '{key}' are unreadable ({error}); "
                "rerun that configuration to store them again"
            ) from None

    # -- claims: one process trains a job at a time ------------------------------------------
    def claim(self, key: str, owner: str, lease_s: float) -> str | None:
        """Claim `key` for `owner` for `lease_s` seconds; returns None on success, else the live owner.

        An expired claim (its process died) is taken over; the claim of a finished run is refused by
        the caller, which checks the `runs` table first.
        """
        now = time.time()
        with self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")  # read-then-write without another writer in between
            row = connection.execute("SELECT owner, expires FROM claims WHERE key = ?", (key,)).fetchone()
            if row is not None and row["owner"] != owner and row["expires"] > now:
                return str(row["owner"])
            connection.execute(
                "INSERT OR REPLACE INTO claims (key, owner, expires) VALUES (?, ?, ?)", (key, owner, now + lease_s)
            )
        return None

    def renew(self, keys: list[str], owner: str, lease_s: float) -> None:
        with self._connect() as connection:
            connection.executemany(
                "UPDATE claims SET expires = ? WHERE key = ? AND owner = ?",
                [(time.time() + lease_s, key, owner) for key in keys],
            )

    def release(self, key: str, owner: str) -> None:
        with self._connect() as connection:
            connection.execute("DELETE FROM claims WHERE key = ? AND owner = ?", (key, owner))

    def claims(self) -> dict[str, tuple[str, float]]:
        """Every live or expired claim: key -> (owner, expiry time)."""
        rows = self._fetch("SELECT key, owner, expires FROM claims")
        return {row["key"]: (row["owner"], row["expires"]) for row in rows}

    def runs(self, **filters: Any) -> list[RunRecord]:
        """Stored runs, filtered by column equality, oldest first."""
        unknown = set(filters) - set(column_names())
        if unknown:
            raise ValueError(f"runs() filters on unknown columns {sorted(unknown)}")
        where = " AND ".join(f"{column} = ?" for column in filters)
        query = "SELECT * FROM runs" + (f" WHERE {where}" if where else "") + " ORDER BY created, key"
        rows = self._fetch(query, tuple(filters.values()))
        return [RunRecord.from_row(dict(row)) for row in rows]


def _insert_run(connection: sqlite3.Connection, record: RunRecord) -> None:
    row = record.to_row()
    columns = ", ".join(row)
    placeholders = ", ".join("?" for _ in row)
    connection.execute(f"INSERT OR REPLACE INTO runs ({columns}) VALUES ({placeholders})", tuple(row.values()))


def _insert_predictions(connection: sqlite3.Connection, predictions: Predictions) -> None:
    connection.execute(
        "INSERT OR REPLACE INTO predictions (key, samples, payload, created) VALUES (?, ?, ?, ?)",
        (predictions.key, len(predictions.labels), pack_predictions(predictions), timestamp()),
    )
