"""HSP-MoE: size, hyperspherical embeddings, routing, preservation losses, FAR fusion, protocol."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from avgzsl_bench.api import get_method
from avgzsl_bench.datasets.types import FeatureDims
from avgzsl_bench.errors import BenchError
from avgzsl_bench.protocol.stages import run_single
from avgzsl_bench.training.trainer import RunTrainer
from methods.hsp_moe import distribution_loss, relation_loss, uniformity_loss

# ClipClap's 2,237,824 plus the routing module as the reference defines it: two key projections
# (512→64, 1024→64), three experts Linear→LayerNorm(128)→GELU→Dropout→Linear(128→64) on
# [v, a] (1536), v (512) and a (1024), and the router 128→128→32→3.
ROUTING = (512 * 64 + 64) + (1024 * 64 + 64)
ROUTING += sum(d * 128 + 128 + 256 + 128 * 64 + 64 for d in (1536, 512, 1024))
ROUTING += (128 * 128 + 128) + (128 * 32 + 32) + (32 * 3 + 3)


def build(**overrides):
    spec = get_method("hsp-moe")
    torch.manual_seed(0)
    return spec.build(FeatureDims(), spec.hparams("ucf", overrides))


def test_parameter_count() -> None:
    model = build()
    assert ROUTING == 538_307
    assert sum(p.numel() for p in model.routing.parameters()) == ROUTING
    assert sum(p.numel() for p in model.parameters()) == 2_237_824 + ROUTING == 2_776_131


def test_embeddings_are_unit_directions_and_routing_mixes(tiny_demo) -> None:
    model = build().eval()
    split = tiny_demo.splits["test"]
    with torch.no_grad():
        embedded = model.embed_inputs(split.video, split.audio)
        text = model.embed_text(tiny_demo.text.rows(split.classes))
        no_routing = build(routing_weight=0.0).eval().embed_inputs(split.video, split.audio)
        base = F.normalize(super(type(model), model).embed_inputs(split.video, split.audio), dim=1)
    assert torch.allclose(embedded.norm(dim=1), torch.ones(len(split))) and torch.allclose(
        text.norm(dim=1), torch.ones(len(text))
    )
    assert torch.allclose(no_routing, base, atol=1e-6)  # weight 0: θ_o's own direction
    assert not torch.allclose(embedded, base, atol=1e-3)


def test_far_mixes_raw_and_adapted_distances(tiny_demo) -> None:
    split = tiny_demo.splits["test"]
    text = tiny_demo.text.rows(split.classes)
    adapted_only = build(far_weight=1.0).eval()
    fused = build(far_weight=0.5).eval()
    with torch.no_grad():
        adapted = adapted_only.distances(split.video, split.audio, text)["both"]
        mixed = fused.distances(split.video, split.audio, text)["both"]
    raw = torch.cdist(F.normalize(torch.cat([split.video, split.audio], 1), dim=1), F.normalize(text.both, dim=1))
    expected = 0.5 * adapted + 0.5 * raw * (adapted.mean() / raw.mean())
    assert torch.allclose(mixed, expected, atol=1e-5)


def test_preservation_losses() -> None:
    torch.manual_seed(0)
    raw, raw_classes = torch.randn(6, 10), torch.randn(4, 10)
    # A student whose geometry equals the teacher's preserves it perfectly.
    assert relation_loss(raw * 3.0, raw).item() == pytest.approx(0.0, abs=1e-6)
    assert distribution_loss(raw, raw_classes, raw, raw_classes, 2.0).item() == pytest.approx(0.0, abs=1e-6)
    assert distribution_loss(torch.randn(6, 10), raw_classes, raw, raw_classes, 2.0).item() > 0
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    collapsed = uniformity_loss(torch.ones(6, 5), labels, 2.0)  # all on one point: log-mean exp(0) + 4t
    assert collapsed.item() == pytest.approx(8.0)
    spread = uniformity_loss(torch.eye(6), labels, 2.0)  # orthogonal: distance² 2 between all pairs
    assert spread.item() == pytest.approx(max(0.0, -2.0 * 2 + 8.0))
    assert uniformity_loss(torch.randn(3, 5), torch.zeros(3, dtype=torch.long), 2.0).item() == 0.0  # no pairs
    assert math.isfinite(relation_loss(torch.randn(1, 4), torch.randn(1, 4)).item())


def test_loss_terms_and_gradients(make_batch) -> None:
    model = build().train()
    batch = make_batch(batch_size=16)
    terms = model.loss(batch)
    assert set(terms) == {"ce", "reg", "rec", "distribution", "relation", "uniformity"}
    total = sum(terms.values())
    total.backward()
    assert all(torch.isfinite(t) for t in terms.values())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.routing.parameters())


def test_refuses_word2vec_features_and_other_modalities() -> None:
    spec = get_method("hsp-moe")
    with pytest.raises(BenchError, match="clip and clap"):
        spec.hparams("ucf", features="selavi", text_parts=("w2v",))
    with pytest.raises(BenchError, match="modality"):
        spec.hparams("ucf", {"modality": "audio"})
    with pytest.raises(ValueError, match="video dim == CLIP text dim"):
        spec.build(FeatureDims(video=256), spec.hparams("ucf"))


def test_runs_through_the_protocol(tiny_demo) -> None:
    spec = get_method("hsp-moe")
    hparams = spec.hparams("demo", {"epochs": 2, "batches_per_epoch": 4, "batch_size": 16})
    first = run_single(spec, tiny_demo, hparams, seed=3, trainer=RunTrainer)
    second = run_single(spec, tiny_demo, hparams, seed=3, trainer=RunTrainer)
    assert first.test == second.test and 0 <= first.test["hm"] <= 100
