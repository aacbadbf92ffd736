"""Boards and paper tables never mix data versions under one heading unannounced."""

from __future__ import annotations

from pathlib import Path

from avgzsl_bench.datasets import DataSource
from avgzsl_bench.jobs.job import make_jobs
from avgzsl_bench.jobs.tables import row_lookup, table_jobs
from avgzsl_bench.reports.board import build_board
from avgzsl_bench.reports.data_version import UNRECORDED
from avgzsl_bench.reports.leaderboard import render_markdown
from avgzsl_bench.reports.paper import load_paper_reference
from avgzsl_bench.reports.tables import render_table
from avgzsl_bench.store.frame import results_frame
from avgzsl_bench.store.records import RunRecord

OLD, NEW = "a" * 64, "b" * 64


def records(fake_record, tmp_path: Path, fingerprints: dict[str, str]) -> list[RunRecord]:
    """One made-up run per method on UCF, with the given data fingerprint."""
    ucf = DataSource("ucf", root=str(tmp_path / "UCF"))
    out = []
    for index, (method, fingerprint) in enumerate(fingerprints.items()):
        (job,) = make_jobs([method], ucf, [1])
        record = fake_record(job.key, method=method, dataset="ucf", hm=30.0 + index)
        record.config_hash, record.config, record.synthetic = job.config_hash, job.config(), False
        record.data_fingerprint = fingerprint
        out.append(record)
    return out


def board(runs: list[RunRecord]) -> str:
    return render_markdown(build_board(results_frame(runs), "ucf", runs[0].feature_set, "UCF"))


def test_one_data_version_renders_as_before(fake_record, tmp_path: Path) -> None:
    unrecorded = board(records(fake_record, tmp_path, {"clipclap": "", "cjme": ""}))
    uniform = board(records(fake_record, tmp_path, {"clipclap": NEW, "cjme": NEW}))
    partly = board(records(fake_record, tmp_path, {"clipclap": NEW, "cjme": ""}))
    assert uniform == unrecorded == partly  # no column, no note: nothing is mixed that could be told apart
    assert "| data " not in uniform and "data versions" not in uniform


def test_two_data_versions_get_a_column_and_a_note(fake_record, tmp_path: Path) -> None:
    markdown = board(records(fake_record, tmp_path, {"clipclap": NEW, "cjme": OLD, "avca": ""}))
    assert "computed from 2 different data versions (`aaaaaaaa`, `bbbbbbbb`" in markdown
    table = [[cell.strip() for cell in line.strip("|").split("|")] for line in markdown.splitlines() if line[:1] == "|"]
    header, rows = table[0], table[2:]
    assert header[4:6] == ["features", "data"]
    cells = {row[1]: row[5] for row in rows}
    assert cells == {"clipclap": "bbbbbbbb", "cjme": "aaaaaaaa", "avca": UNRECORDED}


def test_paper_table_block_names_its_data_versions(fake_record, tmp_path: Path) -> None:
    reference = load_paper_reference()
    spec = reference.table(1)
    ucf = DataSource("ucf", root=str(tmp_path / "UCF"))
    runs = []
    for job in table_jobs([spec], [ucf], [1]):
        record = fake_record(job.key, seed=job.seed, method=job.method, dataset="ucf", hm=40.0)
        record.config_hash, record.config, record.synthetic = job.config_hash, job.config(), False
        record.data_fingerprint = OLD if job.method == "cjme" else NEW
        runs.append(record)
    mixed = render_table(spec, reference, [ucf], [1], row_lookup(runs, [1]))
    assert "2 different data versions" in mixed and "| data " in mixed
    for record in runs:
        record.data_fingerprint = NEW
    assert "| data " not in render_table(spec, reference, [ucf], [1], row_lookup(runs, [1]))
