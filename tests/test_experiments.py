"""Experiment files: `run --config` makes the jobs the command line makes, `validate` refuses bad files
naming the key and runs nothing, and the reference tables are such files."""

from __future__ import annotations

from pathlib import Path

import pytest

from avgzsl_bench.cli import main
from avgzsl_bench.datasets import DataSource
from avgzsl_bench.errors import BenchError
from avgzsl_bench.experiments.expand import CommandLine, plan
from avgzsl_bench.experiments.schema import load_experiment
from avgzsl_bench.jobs.job import make_jobs
from avgzsl_bench.jobs.tables import table_jobs
from avgzsl_bench.reports.paper import TABLE_FILES, load_paper_reference
from avgzsl_bench.store.sqlite import ResultStore

TINY = "demo_samples = 12\n[overrides]\nepochs = 1\nbatches_per_epoch = 2\n"
EXAMPLE = Path(__file__).parents[1] / "experiments" / "clipclap-losses.toml"


def write(tmp_path: Path, text: str, name: str = "exp.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    return code, " ".join(capsys.readouterr().err.split())


def test_a_file_runs_the_jobs_of_the_equivalent_command_line(tmp_path: Path, capsys) -> None:
    config = write(tmp_path, 'methods = ["clipclap"]\ndatasets = ["demo"]\nseeds = [3, 4]\n' + TINY)
    store = tmp_path / "store.sqlite"
    assert main(["run", "--config", str(config), "--store", str(store), "--quiet", "--device", "cpu"]) == 0
    by_file = {record.key for record in ResultStore(store).runs()}
    source = DataSource("demo", demo_samples_per_class=12)
    by_hand = make_jobs(["clipclap"], source, [3, 4], {"epochs": 1, "batches_per_epoch": 2})
    assert by_file == {job.key for job in by_hand} and len(by_file) == 2
    # The same runs asked for on the command line are read back, not trained again.
    line = ["run", "--methods", "clipclap", "--seeds", "3", "4", "--demo-samples", "12", "--epochs", "1"]
    assert main([*line, "--set", "batches_per_epoch=2", "--store", str(store), "--device", "cpu"]) == 0
    assert "2 of 2 runs are already in the store" in " ".join(capsys.readouterr().err.split())
    assert {record.key for record in ResultStore(store).runs()} == by_file


def test_grid_rows_and_the_precedence_of_overrides(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        'datasets = ["demo"]\nseeds = [1]\n[overrides]\nepochs = 7\nlr = 0.5\n'
        '[grid.clipclap]\nlosses = ["reg", "reg+ce"]\nlr = [0.01, 0.02]\n'
        '[[runs]]\nmethod = "avca"\nlabel = "AVCA"\n',
    )
    experiment = load_experiment(config)
    assert [row.label for row in experiment.rows] == [
        "clipclap losses=reg lr=0.01",
        "clipclap losses=reg lr=0.02",
        "clipclap losses=reg+ce lr=0.01",
        "clipclap losses=reg+ce lr=0.02",
        "AVCA",
    ]
    _, jobs = plan(experiment, CommandLine(overrides={"epochs": 3, "lr": 0.9}))
    clipclap = [job.hparams() for job in jobs if job.method == "clipclap"]
    # The grid's own values beat the command line, which beats the file's [overrides].
    assert [(h["losses"], h["lr"], h["epochs"]) for h in clipclap] == [
        ("reg", 0.01, 3),
        ("reg", 0.02, 3),
        ("reg+ce", 0.01, 3),
        ("reg+ce", 0.02, 3),
    ]
    (avca,) = [job for job in jobs if job.method == "avca"]
    assert avca.hparams()["lr"] == 0.9 and avca.hparams()["epochs"] == 3
    _, jobs = plan(experiment, CommandLine())
    assert {job.hparams()["epochs"] for job in jobs} == {7}


def test_the_command_line_replaces_the_files_seeds_and_datasets_when_given(tmp_path: Path, capsys) -> None:
    config = write(tmp_path, 'methods = ["clipclap"]\nseeds = [5, 6]\ndatasets = ["demo"]\n')
    assert main(["validate", str(config)]) == 0
    assert "seeds 5, 6" in capsys.readouterr().out
    assert main(["validate", str(config), "--seeds", "9"]) == 0
    assert "seeds 9" in capsys.readouterr().out
    assert main(["validate", str(config), "--seeds", "42"]) == 0  # given, even at its default value
    assert "seeds 42" in capsys.readouterr().out
    assert main(["validate", str(config), "--dataset", "ucf"]) == 2  # replaces the file's demo: not fetched
    assert "--dataset: dataset 'ucf'" in " ".join(capsys.readouterr().err.split())


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            'datasets = ["demo"]\n[grid.clipclap]\nlrr = [1e-3]\n',
            "[grid.clipclap]: method 'clipclap' has no hyper-parameter 'lrr' (did you mean 'lr'?)",
        ),
        ('seed = [1]\nmethods = ["clipclap"]\n', "exp.toml: unknown key 'seed' (did you mean 'seeds'?)"),
        ('methods = ["clipclapp"]\n', "'methods': unknown method 'clipclapp' (did you mean 'clipclap'?)"),
        (
            '[[runs]]\nmethod = "clipclap"\noverides = {lr = 1}\n',
            "[[runs]] #1: unknown key 'overides' (did you mean 'overrides'?)",
        ),
        (
            'methods = ["clipclap"]\n[overrides]\ndropout = 2.0\n',
            "[overrides]: hyper-parameter 'dropout' of method 'clipclap' must lie in [0, 1)",
        ),
        (
            '[[runs]]\nlabel = "x"\nmethod = "clipclap"\noverrides = {losses = "reg+cee"}\n',
            "[[runs]] #1 ('x'): method 'clipclap': losses must join",
        ),
        (
            '[grid.clipclap]\nepochs = ["five"]\n',
            "[grid.clipclap]: hyper-parameter 'epochs' of method 'clipclap' expects an integer",
        ),
        ('methods = ["clipclap"]\nseeds = "42"\n', "'seeds': must be a list of integers"),
        (
            'methods = ["clipclap"]\nfeatures = ["selavii"]\n',
            "'features': unknown feature set 'selavii' (did you mean 'selavi'?)",
        ),
        ('methods = ["clipclap"]\ndatasets = ["ucff"]\n', "'datasets': unknown dataset 'ucff' (did you mean 'ucf'?)"),
        (
            'methods = ["clipclap"]\ndatasets = ["ucf"]\n',
            "'datasets': dataset 'ucf' (clip-clap features) is not downloaded yet",
        ),
        ('methods = ["clipclap"\n', "exp.toml: not a valid TOML experiment file"),
        ('name = "nothing"\n', "names nothing to run"),
        ('[table]\nnumber = 9\n[[runs]]\nmethod = "clipclap"\n', "[table]: needs a title"),
        (
            '[table]\nnumber = 9\ntitle = "t"\n[[runs]]\nmethod = "clipclap"\npaper = "clipclapp"\n',
            "Table 9 row 'clipclap' cites result id 'clipclapp'",
        ),
    ],
)
def test_a_bad_file_is_refused_naming_the_key(tmp_path: Path, capsys, monkeypatch, text: str, expected: str) -> None:
    monkeypatch.setenv("AVGZSL_DATA", str(tmp_path / "no-data"))
    config = write(tmp_path, text)
    for command in (["validate", str(config)], ["run", "--config", str(config), "--store", str(tmp_path / "s.db")]):
        code, err = run_cli([*command], capsys)
        assert code == 2 and expected in err and str(config) in err and "Traceback" not in err
    assert not (tmp_path / "s.db").exists()


def test_validate_runs_nothing_and_creates_no_store(tmp_path: Path, monkeypatch, capsys) -> None:
    import avgzsl_bench.jobs.execute as execute

    def no_training(*args, **kwargs):
        raise AssertionError("validate trained something")

    monkeypatch.setattr(execute, "execute_group", no_training)
    monkeypatch.chdir(tmp_path)
    assert main(["validate", str(EXAMPLE), "--seeds", "1", "2"]) == 0
    out = capsys.readouterr().out
    assert "8 runs" in out and "losses=reg+rec" in out and "clipclap-losses" in out
    assert list(tmp_path.iterdir()) == []  # no store, no results folder


def test_run_config_refuses_methods_on_both_sides_and_one_root_for_many_datasets(tmp_path: Path, capsys) -> None:
    config = write(tmp_path, 'methods = ["clipclap"]\ndatasets = ["ucf", "vggsound"]\n')
    for methods in ("avca", "clipclap"):  # even the default method, typed, is refused
        code, err = run_cli(["run", "--config", str(config), "--methods", methods, "--no-store"], capsys)
        assert code == 2 and "--methods and --config both name methods" in err
    code, err = run_cli(["validate", str(config), "--root", str(tmp_path)], capsys)
    assert code == 2 and "--root names one dataset's folder" in err


def test_methods_all_follows_the_data(tmp_path: Path) -> None:
    config = write(tmp_path, 'methods = "all"\nseeds = [1]\n')
    _, jobs = plan(load_experiment(config), CommandLine())
    assert {job.method for job in jobs} >= {"clipclap", "avca", "cjme"}
    assert len({job.key for job in jobs}) == len(jobs)


def test_table_files_make_the_jobs_of_the_command_line(tmp_path: Path) -> None:
    """Each table row's runs are those of `run --methods <method> --set <its overrides>`."""
    reference = load_paper_reference()
    files = sorted(path.name for path in TABLE_FILES.glob("*.toml"))
    assert files == sorted(f"table{number}.toml" for number in reference.numbers) and len(files) >= 7
    assert [(row.label, dict(row.overrides)) for row in reference.table(4).rows] == [
        ("l_reg", {"losses": "reg"}),
        ("l_reg + l_ce", {"losses": "reg+ce"}),
        ("l_reg + l_ce + l_rec", {"losses": "reg+ce+rec"}),
    ]
    sources = [DataSource("demo", demo_samples_per_class=12), DataSource("ucf", root=str(tmp_path), features="selavi")]
    for number in reference.numbers:
        spec = reference.table(number)
        (source,) = [source for source in sources if source.features == spec.features] or [None]
        if source is None:
            continue
        by_hand = [
            job.key
            for row in spec.rows
            for job in make_jobs([row.method], source, [1, 2], {"epochs": 3, **dict(row.overrides)})
        ]
        from_file = [job.key for job in table_jobs([spec], sources, [1, 2], {"epochs": 3})]
        assert from_file == list(dict.fromkeys(by_hand)), number


def test_table_files_are_cross_checked_against_the_published_numbers(tmp_path: Path) -> None:
    tables = tmp_path / "tables"
    tables.mkdir()
    write(tables, '[table]\nnumber = 1\ntitle = "t"\n[[runs]]\nmethod = "clipclap"\npaper = "no-such-id"\n', "t.toml")
    with pytest.raises(BenchError, match=r"t\.toml: Table 1 row 'clipclap' cites result id 'no-such-id'"):
        load_paper_reference(tables=tables)
    write(tables, '[table]\nnumber = 1\ntitle = "u"\n[[runs]]\nmethod = "avca"\n', "u.toml")
    (tables / "t.toml").write_text('[table]\nnumber = 1\ntitle = "t"\n[[runs]]\nmethod = "cjme"\n')
    with pytest.raises(BenchError, match="Table 1 is also"):
        load_paper_reference(tables=tables)
    old_style = write(tmp_path, '[meta]\ncitation = "x"\n[[tables]]\nnumber = 1\n', "reference.toml")
    with pytest.raises(BenchError, match=r"\[\[tables\]\] are experiment files now"):
        load_paper_reference(old_style)


def test_an_optional_run_whose_plugin_is_absent_is_left_out_and_named(tmp_path: Path) -> None:
    tables = tmp_path / "tables"
    tables.mkdir()
    text = (
        '[table]\nnumber = 1\ntitle = "t"\n[[runs]]\nlabel = "Plugin"\nmethod = "not-installed"\noptional = true\n'
        '[[runs]]\nmethod = "clipclap"\n'
    )
    write(tables, text, "t.toml")
    spec = load_paper_reference(tables=tables).table(1)
    assert [row.method for row in spec.rows] == ["clipclap"] and spec.absent == ("Plugin",)
    with pytest.raises(BenchError, match="unknown method 'not-installed'"):
        load_experiment(write(tmp_path, text.replace("optional = true\n", "")))
    claims = write(tmp_path, '[results.x]\nucf = { HM = 1.0 }\n[claims]\ny = "somewhere"\n', "reference.toml")
    with pytest.raises(BenchError, match=r"\[claims\] names unknown result id\(s\) \['y'\]"):
        load_paper_reference(claims, tables=tables)
