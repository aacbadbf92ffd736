"""Training: class-balanced sampling, batches of one epoch, per-run Adam and plateau schedule, the
trainer of one run (`trainer.RunTrainer`) and the trainer of a stack of runs (`stacked.StackedTrainer`).

Import the modules themselves: this file imports nothing, so that a one-run job never imports the
stacked machinery (torch.func, the exact batching rules).
"""
