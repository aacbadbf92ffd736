"""The public contract for method plugins: everything a method module imports, in one package.

* the base class and what the protocol hands it: `GZSLMethod`, `TrainBatch`, `SampleBatch`,
  `FeatureDims` (input widths), `TextEmbeddings` (class text by named part);
* registration: `register_method`, `get_method`, `list_methods`, `MethodSpec`, `METHODS`;
* hyper-parameters: `Schedule`, `Range` and the common ranges (`PROBABILITY`, `POSITIVE`, ...);
* the shared building blocks (layers, text encoders, losses), `dropout` first among them: every
  dropout layer of a method must be this one, whose masks are keyed per run and step;
* `feature_sets_with_text`, for defaults that follow from the data (e.g. "every feature set
  whose only class text is word2vec").

A plugin that imports from here alone keeps working when the harness's internals move.
"""

from avgzsl_bench.api.batches import SampleBatch, TrainBatch
from avgzsl_bench.api.hparams import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE, PROBABILITY, Range, Schedule
from avgzsl_bench.api.method import GZSLMethod
from avgzsl_bench.api.spec import METHODS, MethodSpec, get_method, list_methods, method_spec, register_method
from avgzsl_bench.datasets.sequences import Padded
from avgzsl_bench.datasets.spec import feature_sets_with_text
from avgzsl_bench.datasets.types import FeatureDims, TextEmbeddings
from avgzsl_bench.nn.blocks import (
    ENCODED_TEXT,
    TEXT_CHOICES,
    dense_block,
    dense_stack,
    dropout,
    embedding_net,
    encode_sample_text,
    encoded_text_dim,
    euclidean_distance,
    gathered_linear,
    ranking_hinge,
    reconstruction_mse,
    select_text,
    text_dim,
    text_encoder,
    triplet,
    two_layer_net,
)

__all__ = [
    "AT_LEAST_ONE",
    "ENCODED_TEXT",
    "FeatureDims",
    "GZSLMethod",
    "METHODS",
    "MethodSpec",
    "NON_NEGATIVE",
    "POSITIVE",
    "PROBABILITY",
    "Padded",
    "Range",
    "SampleBatch",
    "Schedule",
    "TEXT_CHOICES",
    "TextEmbeddings",
    "TrainBatch",
    "dense_block",
    "dense_stack",
    "dropout",
    "embedding_net",
    "encode_sample_text",
    "encoded_text_dim",
    "euclidean_distance",
    "feature_sets_with_text",
    "gathered_linear",
    "get_method",
    "list_methods",
    "method_spec",
    "ranking_hinge",
    "reconstruction_mse",
    "register_method",
    "select_text",
    "text_dim",
    "text_encoder",
    "triplet",
    "two_layer_net",
]
