"""The job layer's defaults that the CLI shows in `--help`: plain values, so building the parser
imports no torch."""

# CPU threads of every run, whichever executor runs it. Float reductions are ordered by the thread
# count, so the same seed gives bit-identical numbers only with the same count; 2 is what these
# small models use well, and what a laptop has at least.
DEFAULT_THREADS = 2

# `--stack`: train the seeds of one configuration as one stacked model (auto: on for CUDA only).
STACK_CHOICES = ("auto", "on", "off")
