import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from avgzsl_bench.cli import SUBCOMMANDS, main, normalise_argv
from avgzsl_bench.errors import BenchError

REPO = Path(__file__).resolve().parents[1]


def test_demo_run_prints_a_markdown_table(capsys, tmp_path):
    code = main(
        [
            "--methods",
            "clipclap",
            "--dataset",
            "demo",
            "--demo-samples",
            "12",
            "--quiet",
            "--epochs",
            "1",
            "--set",
            "batches_per_epoch=5",
            "--store",
            str(tmp_path / "r.sqlite"),
        ]
    )
    out = capsys.readouterr()
    assert code == 0
    assert "| clipclap | demo" in out.out and "HM" in out.out
    assert "SYNTHETIC" in out.err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--methods", "no-such-method"], "unknown method 'no-such-method'"),
        (["--dataset", "ucf"], "python bench.py fetch clipclap-features"),
        (["--dataset", "ucf", "--root", "/nonexistent/UCF"], "/nonexistent/UCF"),
        (["--set", "no_such_hparam=1"], "no hyper-parameter 'no_such_hparam'"),
        (["--device", "cuda:7"] if not torch.cuda.is_available() else ["--methods", "x"], ""),
    ],
)
def test_bad_input_gives_one_clear_error(capsys, monkeypatch, tmp_path, argv, message):
    monkeypatch.setenv("AVGZSL_DATA", str(tmp_path))  # an empty data folder: nothing fetched
    code = main([*argv, "--quiet", "--no-store"])
    err = capsys.readouterr().err
    assert code == 2
    assert "error:" in err and message in " ".join(err.split())
    assert "Traceback" not in err


def test_bench_py_help_and_exit_codes():
    help_run = subprocess.run([sys.executable, "bench.py", "--help"], cwd=REPO, capture_output=True, text=True)
    assert help_run.returncode == 0
    assert all(name in help_run.stdout for name in SUBCOMMANDS)
    bad = subprocess.run(
        [sys.executable, "bench.py", "--methods", "nope", "--no-store"], cwd=REPO, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "unknown method" in bad.stderr


@pytest.mark.parametrize("subcommand", list(SUBCOMMANDS))
def test_every_subcommand_has_help_with_an_example(subcommand, capsys):
    with pytest.raises(SystemExit) as done:
        main([subcommand, "--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0
    assert "examples:" in out and f"bench.py {subcommand}" in out.split("examples:")[1].replace(
        "bench.py --", "bench.py run --"
    )


@pytest.mark.parametrize(
    "argv, subcommand",
    [
        (["--methods", "all", "--dataset", "ucf"], ["run", "--methods", "all", "--dataset", "ucf"]),
        ([], ["run"]),
        (["--tables", "all", "--dataset", "demo"], ["tables", "all", "--dataset", "demo"]),
        (["--table", "1", "--table=3", "--quiet"], ["tables", "1", "3", "--quiet"]),
        (["--figure", "beta", "--dataset", "demo"], ["figure", "beta", "--dataset", "demo"]),
        (["--leaderboard", "--store", "x.sqlite"], ["leaderboard", "--store", "x.sqlite"]),
        (["leaderboard", "--store", "x.sqlite"], ["leaderboard", "--store", "x.sqlite"]),
    ],
)
def test_run_is_inserted_and_first_version_flags_map_to_subcommands(argv, subcommand):
    assert normalise_argv(argv) == subcommand


def test_nan_features_are_refused_with_the_sample_named(tiny_demo):
    train = tiny_demo.splits["train"]
    poisoned_video = train.video.clone()
    poisoned_video[3, 0] = float("nan")
    broken = replace(tiny_demo, splits={**tiny_demo.splits, "train": replace(train, video=poisoned_video)})
    with pytest.raises(BenchError, match=train.names[3]):
        broken.validate()


def test_list_methods(capsys):
    assert main(["--list-methods"]) == 0
    assert "clipclap" in capsys.readouterr().out.split()
    assert main(["methods", "--dataset", "ucf"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("| clipclap "))
    assert "2,237,824" in row  # the parameter count at the paper's dims
