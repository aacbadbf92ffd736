"""Table 8: the TCAF README's numbers on the temporal benchmark beside ours, whichever of its
methods' plugins are installed."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import pytest
from test_temporal_protocol import ToyTemporal

from avgzsl_bench.api import METHODS, list_methods, method_spec
from avgzsl_bench.cli import main
from avgzsl_bench.datasets import DataSource
from avgzsl_bench.jobs.tables import row_lookup, table_jobs
from avgzsl_bench.reports.paper import load_paper_reference
from avgzsl_bench.reports.tables import render_table
from avgzsl_bench.store.sqlite import ResultStore

SEEDS = (1, 2)
OPTIONAL = {"attention-fusion": "Attention fusion", "perceiver": "Perceiver", "tcaf": "TCAF"}


@pytest.fixture
def fill_store(fake_record):
    def fill(store: ResultStore, jobs) -> None:
        for job in jobs:
            record = fake_record(
                job.key, seed=job.seed, method=job.method, dataset=job.source.dataset, hm=30.0 + job.seed
            )
            record.config_hash, record.config = job.config_hash, job.config()
            record.feature_set, record.synthetic = job.source.feature_set, job.source.spec.synthetic
            store.save_run(record)

    return fill


def test_table8_holds_the_tcaf_readme_numbers() -> None:
    reference = load_paper_reference()
    table = reference.table(8)
    assert table.features == "c3d-vggish-temporal" and "TCAF repository README" in table.citation
    published = {  # HM, ZSL: VGGSound / UCF / ActivityNet
        "tcaf-readme-tcaf": ((8.77, 50.78, 12.20), (7.41, 44.64, 7.96)),
        "tcaf-readme-attention-fusion": ((4.95, 24.97, 5.18), (3.37, 20.21, 4.88)),
        "tcaf-readme-perceiver": ((4.93, 34.11, 6.92), (3.44, 28.12, 4.47)),
        "avca-gzsl-c3d-vggish-cjme": ((3.68, 28.65, 7.32), (3.72, 29.01, 6.29)),
        "avca-gzsl-c3d-vggish-avgzslnet": ((5.26, 36.51, 8.30), (4.81, 31.51, 6.39)),
        "avca-gzsl-c3d-vggish-avca": ((8.31, 41.34, 9.92), (6.91, 37.72, 7.58)),
    }
    for result_id, (hm, zsl) in published.items():
        for index, dataset in enumerate(("vggsound", "ucf", "activitynet")):
            assert reference.value(result_id, dataset, "HM") == hm[index]
            assert reference.value(result_id, dataset, "ZSL") == zsl[index]
            assert reference.value(result_id, dataset, "S") is None
    shown = {row.method for row in table.rows}
    for method, label in OPTIONAL.items():  # the rows of plugins not installed are left out, and named
        assert (method in shown) == (method in list_methods()) and (label in table.absent) != (method in shown)


def test_table8_renders_beside_our_numbers_with_an_optional_plugin(tmp_path: Path, fill_store) -> None:
    registered = "tcaf" in METHODS
    spec = method_spec(
        "tcaf", ToyTemporal, schedule={"default": {"epochs": 1, "lr": 0.01, "batch_size": 8, "batches_per_epoch": 2}}
    )
    context = METHODS.temporary("tcaf", spec) if not registered else nullcontext()
    with context:
        reference = load_paper_reference()
        table = reference.table(8)
        source = DataSource("ucf", root=str(tmp_path / "UCF"), features="c3d-vggish-temporal")
        jobs = table_jobs(
            [table], [source, DataSource("ucf", root=str(tmp_path / "UCF"), features="c3d-vggish")], SEEDS
        )
        assert {job.source.features for job in jobs} == {"c3d-vggish-temporal"}
        assert {job.config().get("pooling") for job in jobs if job.method == "cjme"} == {"mean"}
        assert all("pooling" not in job.config() for job in jobs if job.method == "tcaf")
        store = ResultStore(tmp_path / "store.sqlite")
        fill_store(store, jobs)
        markdown = render_table(table, reference, [source], SEEDS, row_lookup(store.runs(), SEEDS))
        lines = {line.split("|")[1].strip(): line for line in markdown.splitlines() if line.startswith("| ")}
        assert "(50.78, Δ" in lines["TCAF"] and "(41.34, Δ" in lines["AVCA (mean-pooled)"]
        assert "ALE (mean-pooled)" in lines and "TCAF repository README" in markdown
        out = tmp_path / "t8.md"
        args = ["tables", "8", "--roots", f"ucf={source.root}", "--features", "c3d-vggish-temporal"]
        args += ["--seeds", *map(str, SEEDS), "--store", str(store.path), "--quiet", "--tables-out", str(out)]
        assert main(args) == 0 and out.read_text() == markdown
