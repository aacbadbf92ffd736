"""Training: batches of one epoch, the trainer of one run, and the trainer of a stack of runs."""

from avgzsl_bench.training.batches import sample_batch, training_batches
from avgzsl_bench.training.stacked import StackedTrainer, stack_reason
from avgzsl_bench.training.trainer import RunTrainer

__all__ = ["RunTrainer", "StackedTrainer", "sample_batch", "stack_reason", "training_batches"]
