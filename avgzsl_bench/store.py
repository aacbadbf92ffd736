"""Results store: every finished stage-1 and protocol run is written at once to SQLite (WAL).

A run is identified by its job key (method, dataset, data source, seed and the fully resolved
hyper-parameters); a killed benchmark resumes by skipping keys that are already stored, and
continues at stage 2 when only stage 1 had finished.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from avgzsl_bench.errors import BenchError
from avgzsl_bench.protocol import Stage1Result

SCHEMA = """
CREATE TABLE IF NOT EXISTS stage1 (
    key TEXT PRIMARY KEY,
    payload TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY,
    method TEXT NOT NULL,
    dataset TEXT NOT NULL,
    seed INTEGER NOT NULL,
    config_hash TEXT NOT NULL,
    config TEXT NOT NULL,
    seen REAL, unseen REAL, hm REAL, zsl REAL, beta REAL,
    best_epochs INTEGER,
    val TEXT, val_betas TEXT, val_hm_per_epoch TEXT, val_hm_vs_beta TEXT,
    per_class TEXT, timings TEXT,
    feature_set TEXT, synthetic INTEGER,
    version TEXT, git_revision TEXT, device TEXT,
    created TEXT NOT NULL
);
"""


JSON_COLUMNS = ("config", "val", "val_betas", "val_hm_per_epoch", "val_hm_vs_beta", "per_class", "timings")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class ResultStore:
    """A thin, process-safe wrapper around one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._connect() as connection:
                connection.executescript(SCHEMA)
        except sqlite3.DatabaseError as error:
            raise BenchError(
                f"results store {self.path} is not a readable SQLite database ({error}); "
                "move it aside or pass another --store path"
            ) from error

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # WAL lets readers (reports) run beside a writer; the busy timeout serialises writers.
        connection = sqlite3.connect(self.path, timeout=60)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.row_factory = sqlite3.Row
            with connection:
                yield connection
        finally:
            connection.close()

    def stage1(self, key: str) -> Stage1Result | None:
        with self._connect() as connection:
            row = connection.execute("SELECT payload FROM stage1 WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        payload = json.loads(row["payload"])
        payload["val_hm_vs_beta"] = [tuple(pair) for pair in payload["val_hm_vs_beta"]]
        return Stage1Result(**payload)

    def save_stage1(self, key: str, result: Stage1Result) -> None:
        with self._connect() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO stage1 (key, payload, created) VALUES (?, ?, ?)",
                (key, json.dumps(asdict(result)), _now()),
            )

    def has_run(self, key: str) -> bool:
        with self._connect() as connection:
            return connection.execute("SELECT 1 FROM runs WHERE key = ?", (key,)).fetchone() is not None

    def save_run(self, record: dict[str, Any]) -> None:
        """Insert one finished run; `record` maps column names to values (JSON columns as objects)."""
        row = {
            column: json.dumps(value, sort_keys=True) if column in JSON_COLUMNS else value
            for column, value in record.items()
        }
        row.setdefault("created", _now())
        columns = ", ".join(row)
        placeholders = ", ".join("?" for _ in row)
        with self._connect() as connection:
            connection.execute(f"INSERT OR REPLACE INTO runs ({columns}) VALUES ({placeholders})",
                               tuple(row.values()))

    def runs(self, **filters: Any) -> list[dict[str, Any]]:
        """Stored runs as dicts (JSON columns decoded), filtered by column equality."""
        where = " AND ".join(f"{column} = ?" for column in filters)
        query = "SELECT * FROM runs" + (f" WHERE {where}" if where else "") + " ORDER BY created, key"
        with self._connect() as connection:
            rows = connection.execute(query, tuple(filters.values())).fetchall()
        decoded = []
        for row in rows:
            record = dict(row)
            for column in JSON_COLUMNS:
                record[column] = json.loads(record[column])
            decoded.append(record)
        return decoded
