"""A non-editable install carries what the code reads at run time (the paper's reference numbers)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGED = ("pyproject.toml", "README.md", "avgzsl_bench", "methods", "feature_zoo")


def test_tables_find_the_paper_numbers_in_a_non_editable_install(tmp_path):
    # A copy of what the package is built from: building writes build/ and *.egg-info beside the sources.
    source, target = tmp_path / "source", tmp_path / "site"
    source.mkdir()
    for name in PACKAGED:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(REPO / name, source / name)
    # --no-build-isolation: build with this environment's setuptools, offline.
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
    subprocess.run([*install, "--target", target, source], check=True, capture_output=True, cwd=tmp_path, timeout=300)
    assert (target / "avgzsl_bench" / "reports" / "paper_reference.toml").is_file()
    # The reference tables are experiment files: every one of them is installed.
    tables = sorted(path.name for path in (target / "avgzsl_bench" / "reports" / "experiments").glob("*.toml"))
    assert tables and tables == sorted(path.name for path in (REPO / "avgzsl_bench/reports/experiments").glob("*.toml"))
    run = tmp_path / "elsewhere"
    run.mkdir()
    script = (
        "import sys, avgzsl_bench; from avgzsl_bench.cli import main; "
        "assert avgzsl_bench.__file__.startswith(sys.argv[1]), avgzsl_bench.__file__; "
        "sys.exit(main(sys.argv[2:]))"
    )
    args = ["tables", "1", "--dataset", "demo", "--demo-samples", "12", "--seeds", "1", "--epochs", "1"]
    env = {**os.environ, "PYTHONPATH": str(target)}
    done = subprocess.run(
        [sys.executable, "-c", script, str(target), *args, "--no-store", "--quiet", "--device", "cpu"],
        capture_output=True,
        text=True,
        cwd=run,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Table 1" in done.stdout and "ClipClap" in done.stdout
