"""Training: batches of one epoch, and the trainer of one run."""

from avgzsl_bench.training.batches import sample_batch, training_batches
from avgzsl_bench.training.trainer import RunTrainer

__all__ = ["RunTrainer", "sample_batch", "training_batches"]
