"""Reports: paper reference data, table rendering from a store built here, leaderboards, figures."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from avgzsl_bench.cli import main
from avgzsl_bench.datasets import DataSource
from avgzsl_bench.jobs.execute import execute_group
from avgzsl_bench.jobs.figure import figure3_model
from avgzsl_bench.jobs.groups import JobGroup
from avgzsl_bench.jobs.job import make_jobs
from avgzsl_bench.jobs.tables import row_lookup, table_jobs
from avgzsl_bench.reports.figures import figure3, hm_vs_beta_figure
from avgzsl_bench.reports.leaderboard import write_leaderboards
from avgzsl_bench.reports.paper import TABLE_NUMBERS, load_paper_reference, parse_table_numbers
from avgzsl_bench.reports.tables import format_cell, render_table
from avgzsl_bench.store.sqlite import ResultStore

SEEDS = (1, 2, 3)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def reference():
    return load_paper_reference()


@pytest.fixture
def fill_store(fake_record):
    """`fill_store(store, jobs, hm_of)`: a made-up finished run for every job, HM = hm_of(job)."""

    def fill(store: ResultStore, jobs, hm_of) -> None:
        for job in jobs:
            record = fake_record(job.key, seed=job.seed, method=job.method, dataset=job.source.dataset, hm=hm_of(job))
            record.config_hash, record.config = job.config_hash, job.config()
            record.feature_set, record.synthetic = job.source.feature_set, job.source.spec.synthetic
            store.save_run(record)

    return fill


def test_reference_holds_every_table(reference) -> None:
    assert set(TABLE_NUMBERS) <= set(reference.tables) and reference.numbers[:7] == [1, 2, 3, 4, 5, 6, 7]
    assert [reference.table(n).features for n in (1, 5, 6, 7)] == ["clip-clap", "selavi", "c3d-vggish", "clip-clap"]
    # Published numbers only where they could be verified: the AVCA-GZSL README gives HM and ZSL.
    assert reference.value("avca-gzsl-selavi-avca", "ucf", "HM") == 27.15
    assert reference.value("avca-gzsl-c3d-vggish-avca", "vggsound", "ZSL") == 6.91
    assert reference.value("avca-gzsl-selavi-avca", "ucf", "S") is None
    assert (
        reference.table(7).rows[1].label == "HSP-MoE (README claim)" and "README claim" in reference.table(7).citation
    )
    assert [row.method for row in reference.table(1).rows] == [
        "cjme",
        "avgzslnet",
        "avca",
        "hyper-multiple",
        "clipclap",
    ]
    assert reference.value("clipclap", "ucf", "HM") == 55.97
    assert reference.value("clipclap-loss-reg", "activitynet", "ZSL") == 7.11
    for number in (2, 3, 4):  # the full model's row is the Table 1 row, stored once
        assert reference.table(number).rows[-1].paper == "clipclap"
    assert parse_table_numbers(["all"]) == [1, 2, 3, 4] and parse_table_numbers(["3", "1", "3"]) == [1, 3]
    assert parse_table_numbers(["all"], reference.numbers) == reference.numbers


def test_format_cell() -> None:
    assert format_cell([50.0, 52.0], 55.0, synthetic=False) == "51.00 ± 1.41 (55.00, Δ -4.00)"
    assert format_cell([50.0], 55.0, synthetic=True) == "50.00 (paper —)"
    assert format_cell([], 55.0, synthetic=False) == "—"


def test_table1_from_store(tmp_path: Path, reference, fill_store) -> None:
    ucf = DataSource("ucf", root=str(tmp_path / "UCF"))  # never loaded: every run is in the store
    spec = reference.table(1)
    jobs = table_jobs([spec], [ucf], SEEDS)
    assert len(jobs) == 5 * len(SEEDS)
    store = ResultStore(tmp_path / "store.sqlite")
    # ClipClap has HM 40, 41, 42 over the seeds; AVCA gets only one seed; the rest 30.
    fill_store(
        store,
        [job for job in jobs if job.method != "avca" or job.seed == 1],
        lambda job: 39.0 + job.seed if job.method == "clipclap" else 30.0,
    )

    markdown = render_table(spec, reference, [ucf], SEEDS, row_lookup(store.runs(), SEEDS))
    lines = {line.split("|")[1].strip(): line for line in markdown.splitlines() if line.startswith("| ")}
    clipclap = lines["ClipClap"]
    assert "3/3" in clipclap
    hm = statistics.fmean([40.0, 41.0, 42.0])
    assert f"{hm:.2f} ± 1.00 (55.97, Δ {hm - 55.97:+.2f})" in clipclap
    assert f"{hm + 10:.2f} ± 1.00 (77.14, Δ {hm + 10 - 77.14:+.2f})" in clipclap  # S
    assert "1/3" in lines["AVCA"] and "30.00 (36.69, Δ -6.69)" in lines["AVCA"]
    assert "SYNTHETIC" not in markdown and "UCF-GZSL^cls" in markdown

    # Once every run is stored the CLI runs nothing (the UCF root does not even exist) and renders.
    fill_store(store, [job for job in jobs if job.method == "avca" and job.seed != 1], lambda job: 30.0)
    markdown = render_table(spec, reference, [ucf], SEEDS, row_lookup(store.runs(), SEEDS))
    out = tmp_path / "table1.md"
    code = main(
        [
            "--table",
            "1",
            "--roots",
            f"ucf={ucf.root}",
            "--seeds",
            *map(str, SEEDS),
            "--store",
            str(store.path),
            "--quiet",
            "--device",
            "cpu",
            "--tables-out",
            str(out),
        ]
    )
    assert code == 0 and out.read_text() == markdown


def test_demo_table_is_labelled_synthetic(tmp_path: Path, reference, fill_store) -> None:
    demo = DataSource("demo", demo_samples_per_class=12)
    spec = reference.table(3)
    store = ResultStore(tmp_path / "store.sqlite")
    fill_store(store, table_jobs([spec], [demo], [1]), lambda job: 60.0)
    markdown = render_table(spec, reference, [demo], [1], row_lookup(store.runs(), [1]))
    assert "SYNTHETIC" in markdown and "60.00 (paper —)" in markdown and "Δ" not in markdown.split("####")[1]


def test_leaderboards(tmp_path: Path, fill_store) -> None:
    store = ResultStore(tmp_path / "store.sqlite")
    ucf, demo = DataSource("ucf", root=str(tmp_path / "UCF")), DataSource("demo", demo_samples_per_class=12)
    ranking = {"avca": 35.0, "clipclap": 50.0, "cjme": 20.0}
    fill_store(store, make_jobs(list(ranking), ucf, [1, 2]), lambda job: ranking[job.method] + job.seed)
    fill_store(store, make_jobs(["clipclap"], demo, [1], {"text": "clip"}), lambda job: 70.0)

    assert main(["leaderboard", "--store", str(store.path), "--leaderboard-dir", str(tmp_path / "boards")]) == 0
    board = (tmp_path / "boards" / "ucf.md").read_text()
    rows = [line for line in board.splitlines() if line.split("|")[1:2] and line.split("|")[1].strip().isdigit()]
    assert [row.split("|")[2].strip() for row in rows] == ["clipclap", "avca", "cjme"]  # by HM
    clipclap_hash = make_jobs(["clipclap"], ucf, [1])[0].config_hash
    assert clipclap_hash in rows[0] and "1, 2" in rows[0] and "51.50 ± 0.71" in rows[0]
    demo_board = (tmp_path / "boards" / "demo.md").read_text()
    assert "SYNTHETIC" in demo_board.splitlines()[0] and "text=clip" in demo_board
    # A new method's runs add its row the next time the boards are written.
    fill_store(store, make_jobs(["avgzslnet"], ucf, [1]), lambda job: 99.0)
    write_leaderboards(store, tmp_path / "boards")
    top = next(line for line in (tmp_path / "boards" / "ucf.md").read_text().splitlines() if "avgzslnet" in line)
    assert top.split("|")[1].strip() == "1"


def test_figures_from_a_tiny_real_run(tmp_path: Path) -> None:
    store_path = str(tmp_path / "store.sqlite")
    (job,) = make_jobs(
        ["clipclap"], DataSource("demo", demo_samples_per_class=12), [0], {"epochs": 1, "batches_per_epoch": 5}
    )
    execute_group(JobGroup((job,)), store_path, "cpu")  # stores stage 1 too, which the Figure 3 model reuses
    model, dataset = figure3_model(job, store_path, "cpu")
    paths = [
        figure3(model, dataset, tmp_path / "fig" / "figure3.png"),
        hm_vs_beta_figure(ResultStore(store_path).runs(), tmp_path / "fig" / "beta.png"),
    ]
    for path in paths:
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000


def test_figure3_refuses_a_sequence_method_before_training(monkeypatch) -> None:
    from types import SimpleNamespace

    from avgzsl_bench.api import get_method
    from avgzsl_bench.errors import BenchError
    from avgzsl_bench.jobs import figure

    tcaf = get_method("tcaf").cls
    monkeypatch.setattr(tcaf, "has_embeddings", classmethod(lambda cls: True))  # a plugin that exposes them
    monkeypatch.setattr(figure, "train_jobs", lambda *args, **kwargs: pytest.fail("trained before refusing"))
    with pytest.raises(BenchError, match="'tcaf' consumes sequences"):
        figure3_model(SimpleNamespace(method="tcaf"), None)  # type: ignore[arg-type]


def test_feature_set_tables_run_on_matching_sources_only(tmp_path: Path, reference, fill_store) -> None:
    ucf, selavi = (
        DataSource("ucf", root=str(tmp_path / "UCF")),
        DataSource("ucf", root=str(tmp_path), features="selavi"),
    )
    jobs = table_jobs([reference.table(5)], [ucf, selavi], SEEDS)
    assert {job.source.features for job in jobs} == {"selavi"} and len(jobs) == 8 * len(SEEDS)
    assert all(job.hparams()["text"] == "w2v" for job in jobs)
    store = ResultStore(tmp_path / "store.sqlite")
    fill_store(store, jobs, lambda job: 20.0 + job.seed + (5.0 + 0.3 * job.seed**2 if job.method == "avca" else 0.0))
    markdown = render_table(reference.table(5), reference, [ucf, selavi], SEEDS, row_lookup(store.runs(), SEEDS))
    lines = {line.split("|")[1].strip(): line for line in markdown.splitlines() if line.startswith("| ")}
    assert "UCF-GZSL^main" in markdown and "UCF-GZSL^cls" not in markdown and "AVCA-GZSL repository README" in markdown
    assert "(27.15, Δ" in lines["AVCA"] and "(paper —)" in lines["AVCA"]  # HM published, S not
    assert "best" in lines["AVCA"] and "paired t" in lines["CJME"]
    out = tmp_path / "t.md"
    args = ["tables", "5", "--roots", f"ucf={selavi.root}", "--features", "selavi", "--seeds", *map(str, SEEDS)]
    assert main([*args, "--store", str(store.path), "--quiet", "--device", "cpu", "--tables-out", str(out)]) == 0
    assert out.read_text() == markdown
    assert main(["tables", "5", "--roots", f"ucf={ucf.root}", "--store", str(store.path), "--quiet"]) == 2


def test_a_leaderboard_is_never_shrunk_silently(tmp_path: Path, fill_store, capsys) -> None:
    ucf = DataSource("ucf", root=str(tmp_path / "UCF"))
    full, partial = ResultStore(tmp_path / "full.sqlite"), ResultStore(tmp_path / "partial.sqlite")
    fill_store(full, make_jobs(["avca", "clipclap", "cjme"], ucf, [1]), lambda job: 40.0)
    fill_store(partial, make_jobs(["clipclap"], ucf, [1]), lambda job: 50.0)
    boards = tmp_path / "boards"
    assert main(["leaderboard", "--store", str(full.path), "--out", str(boards)]) == 0
    before = (boards / "ucf.md").read_text()
    assert main(["leaderboard", "--store", str(partial.path), "--out", str(boards)]) == 2
    assert "lists 3 configurations but the store" in " ".join(capsys.readouterr().err.split())
    assert (boards / "ucf.md").read_text() == before  # refused before anything was written
    assert main(["leaderboard", "--store", str(partial.path), "--out", str(boards), "--force"]) == 0
    assert "cjme" not in (boards / "ucf.md").read_text()


def test_evaluated_checkpoints_get_their_own_row_in_paper_tables(tmp_path: Path, reference, fake_record) -> None:
    ucf = DataSource("ucf", root=str(tmp_path / "UCF"))
    (clipclap_job,) = make_jobs(["clipclap"], ucf, [42])
    evaluated = fake_record("eval-clipclap-ucf-abc-seed42", seed=42, dataset="ucf", hm=55.0)
    evaluated.kind = "evaluation"
    evaluated.config = {
        "method": "clipclap",
        "data": ucf.identity(),
        "hparams": clipclap_job.hparams(),
        "models": {"origin": "reference checkpoint", "sha256": {}},
    }
    other = fake_record("eval-cjme-ucf-def-seed42", method="cjme", dataset="ucf", hm=10.0)
    other.kind = "evaluation"
    markdown = render_table(
        reference.table(1), reference, [ucf], [42], row_lookup([], [42]), evaluations=[evaluated, other]
    )
    # A reference checkpoint records nothing of its data: its row says so.
    label = "ClipClap (reference checkpoint, provenance not verifiable, evaluated)"
    row = next(line for line in markdown.splitlines() if label in line)
    assert row.split("|")[1].strip() == label
    assert "55.00 (55.97, Δ -0.97)" in row  # HM beside the paper's
    assert "CJME (" not in markdown  # its hyper-parameters are not the table's: no row
