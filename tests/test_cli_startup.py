"""`bench.py --help` and argument errors stay fast: they import none of the heavy libraries (torch,
pandas, scipy, matplotlib), which only the subcommands' handlers need."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HEAVY = {"torch", "pandas", "scipy", "matplotlib"}


def imported_packages(*argv: str) -> tuple[int, set[str]]:
    """Exit code of `bench.py argv` in a fresh interpreter, and the top-level packages it imported."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", str(REPO / "bench.py"), *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    names = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return done.returncode, names


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["--help"], 0),
        (["run", "--help"], 0),
        (["tables", "--help"], 0),
        (["evaluate", "--help"], 0),
        (["methods", "--help"], 0),
        (["--bogus-option"], 2),
        (["run", "--dataset", "no-such-dataset"], 2),
        (["--methods", "clipclap", "--seeds", "x"], 2),
    ],
)
def test_help_and_argument_errors_import_no_heavy_library(argv: list[str], code: int) -> None:
    exit_code, imported = imported_packages(*argv)
    assert exit_code == code
    assert {"argparse", "avgzsl_bench"} <= imported  # the measurement sees the imports at all
    assert not imported & HEAVY, f"bench.py {' '.join(argv)} imported {sorted(imported & HEAVY)}"
