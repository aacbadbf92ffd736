"""avgzsl-bench: a benchmark harness for audio-visual generalized zero-shot learning."""

__version__ = "0.1.0"
