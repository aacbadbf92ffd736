"""Benchmark jobs: a request becomes jobs (`job`), jobs become groups of R >= 1 runs of one
configuration (`groups`, where `choose_trainer` is the one place that picks how a group's runs
train), and a group is claimed, read back or resumed, trained, recorded and stored (`execute`) on
any executor (`run`: `run_jobs`, `run_benchmark`).

Import the modules themselves: this file imports nothing, so that the CLI's parser, which needs a
few constants, does not import the whole layer.
"""
