"""Each sample's class text through a text encoder, first layer on the class rows: the values and
gradients of running it per sample, bit for bit, at the benchmarks' batch sizes and class counts."""

from __future__ import annotations

import pytest
import torch

from avgzsl_bench.datasets.types import FeatureDims, TextEmbeddings
from avgzsl_bench.nn.blocks import encode_sample_text, select_text, text_encoder


def encode(gathered: bool, class_text: TextEmbeddings, which: str, targets: torch.Tensor) -> tuple:
    torch.manual_seed(0)
    encoder = text_encoder(FeatureDims(), which, 300, 0.0).train()
    if gathered:
        out = encode_sample_text(encoder, class_text, which, targets)
    else:
        out = encoder(select_text(class_text.rows(targets), which))
    (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
    return out, [p.grad for p in encoder.parameters()], [b.clone() for b in encoder.buffers()]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("which", ["both", "clip"])
@pytest.mark.parametrize("classes, batch", [(30, 64), (42, 64), (99, 256), (207, 256)])
def test_class_rows_then_gather_is_the_per_sample_encoder(threads, which, classes, batch):
    generator = torch.Generator().manual_seed(classes)
    class_text = TextEmbeddings(
        torch.randn(classes, 512, generator=generator), torch.randn(classes, 1024, generator=generator)
    )
    targets = torch.randint(0, classes, (batch,), generator=generator)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        (out, grads, buffers), (gathered_out, gathered_grads, gathered_buffers) = (
            encode(gathered, class_text, which, targets) for gathered in (False, True)
        )
    finally:
        torch.set_num_threads(previous)
    assert torch.equal(out, gathered_out)
    assert all(torch.equal(a, b) for a, b in zip(grads, gathered_grads))
    assert all(torch.equal(a, b) for a, b in zip(buffers, gathered_buffers))
    assert grads[0].abs().sum() > 0
