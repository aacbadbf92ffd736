import subprocess
import sys
from pathlib import Path

import pytest
import torch

from avgzsl_bench.cli import main
from avgzsl_bench.errors import BenchError

REPO = Path(__file__).resolve().parents[1]


def test_demo_run_prints_a_markdown_table(capsys, tmp_path):
    code = main(["--methods", "clipclap", "--dataset", "demo", "--demo-samples", "12", "--quiet",
                 "--epochs", "1", "--set", "batches_per_epoch=5", "--store", str(tmp_path / "r.sqlite")])
    out = capsys.readouterr()
    assert code == 0
    assert "| clipclap | demo" in out.out and "HM" in out.out
    assert "SYNTHETIC" in out.err


@pytest.mark.parametrize("argv, message", [
    (["--methods", "no-such-method"], "unknown method 'no-such-method'"),
    (["--dataset", "ucf"], "needs --root"),
    (["--dataset", "ucf", "--root", "/nonexistent/UCF"], "/nonexistent/UCF"),
    (["--set", "no_such_hparam=1"], "no hyper-parameter 'no_such_hparam'"),
    (["--device", "cuda:7"] if not torch.cuda.is_available() else ["--methods", "x"], ""),
])
def test_bad_input_gives_one_clear_error(capsys, argv, message):
    code = main([*argv, "--quiet", "--no-store"])
    err = capsys.readouterr().err
    assert code == 2
    assert "error:" in err and message in " ".join(err.split())
    assert "Traceback" not in err


def test_bench_py_help_and_exit_codes():
    help_run = subprocess.run([sys.executable, "bench.py", "--help"], cwd=REPO, capture_output=True, text=True)
    assert help_run.returncode == 0 and "--methods" in help_run.stdout
    bad = subprocess.run([sys.executable, "bench.py", "--methods", "nope", "--no-store"], cwd=REPO,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown method" in bad.stderr


def test_nan_features_are_refused_with_the_sample_named(tiny_demo):
    train = tiny_demo.splits["train"]
    poisoned_video = train.video.clone()
    poisoned_video[3, 0] = float("nan")
    broken = type(tiny_demo)(**{**tiny_demo.__dict__, "splits": {
        **tiny_demo.splits, "train": type(train)(**{**train.__dict__, "video": poisoned_video})}})
    with pytest.raises(BenchError, match=train.names[3]):
        broken.validate()


def test_list_methods(capsys):
    assert main(["--list-methods"]) == 0
    assert "clipclap" in capsys.readouterr().out.split()
