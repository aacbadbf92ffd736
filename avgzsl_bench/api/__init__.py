"""The public contract for method plugins: base class, batches, hyper-parameters, registration."""

from avgzsl_bench.api.batches import SampleBatch, TrainBatch
from avgzsl_bench.api.hparams import PROBABILITY, Range, Schedule
from avgzsl_bench.api.method import GZSLMethod
from avgzsl_bench.api.spec import METHODS, MethodSpec, get_method, list_methods, register_method

__all__ = [
    "GZSLMethod",
    "METHODS",
    "MethodSpec",
    "PROBABILITY",
    "Range",
    "SampleBatch",
    "Schedule",
    "TrainBatch",
    "get_method",
    "list_methods",
    "register_method",
]
