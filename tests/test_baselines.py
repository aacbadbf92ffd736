"""Baseline specifics: parameter counts at the paper's setting, legacy switches, loss formulas."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from avgzsl_bench.api import get_method
from avgzsl_bench.datasets.types import FeatureDims, FeatureSplit, GZSLDataset, TextEmbeddings
from avgzsl_bench.nn.blocks import ranking_hinge, triplet
from avgzsl_bench.protocol.stages import run_single
from avgzsl_bench.training.trainer import RunTrainer
from methods.cjme import gated_triplet
from methods.hyper_multiple import legacy_hyperbolic_features, poincare_distance_matrix

PAPER = FeatureDims()  # CLIP 512 video, CLAP 1024 audio, 512 + 1024 text


@pytest.fixture(scope="module")
def dataset(tiny_demo):
    return tiny_demo


def build(name: str, dataset: str = "ucf", seed: int = 0, dims: FeatureDims = PAPER, **overrides):
    spec = get_method(name)
    torch.manual_seed(seed)
    return spec.build(dims, spec.hparams(dataset, overrides))


def count(model, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


# --- parameter counts (W_enc = Linear(1536→300)+BN in front of the 300-d text input: the ClipClap
# paper's ≈2.3 M / ≈2.4 M baselines) ---


@pytest.mark.parametrize(
    "name, expected",
    [
        ("cjme", 2_286_681),
        ("avgzslnet", 2_305_860),
        ("avca", 2_416_952),
        ("hyper-multiple", 2_417_553),
        ("devise", 922_500),
        ("ale", 922_500),
        ("sje", 922_500),
        ("zeroshot", 0),
    ],
)
def test_parameter_counts_at_paper_setting(name, expected):
    for dataset in ("ucf", "activitynet", "vggsound"):
        assert count(build(name, dataset)) == expected


def test_hyper_multiple_adds_601_parameters_per_curvature():
    assert count(build("hyper-multiple", num_curvatures=3)) == 2_417_553 + 2 * 601
    assert count(build("hyper-multiple", num_curvatures=5)) == 2_417_553 + 4 * 601


def test_avca_position_embedding_trainable_unless_legacy():
    default, legacy = build("avca"), build("avca", legacy=True)
    assert default.pos_emb.requires_grad and not legacy.pos_emb.requires_grad
    assert count(default, trainable_only=True) == 2_416_952
    assert count(legacy, trainable_only=True) == 2_416_952 - 600  # the reference's optimizer


@pytest.mark.parametrize("legacy", [False, True])
def test_avca_position_embedding_moves_only_by_default(dataset, legacy):
    name, seed = "avca", 3
    spec = get_method(name)
    hparams = spec.hparams("demo", {"epochs": 1, "batches_per_epoch": 2, "batch_size": 16, "legacy": legacy})
    result = run_single(spec, dataset, hparams, seed=seed, keep_model=True, trainer=RunTrainer)
    torch.manual_seed(seed)  # the protocol builds the model right after seeding
    initial = spec.build(dataset.dims, hparams).pos_emb
    trained = result.model.pos_emb
    assert torch.equal(trained, initial) == legacy


# --- CJME gate: the reference's (B,1)×(B,) broadcast ---


def test_cjme_gated_triplet_legacy_is_batch_mean_default_is_per_sample():
    torch.manual_seed(0)
    gate, l_ta, l_tv = torch.rand(8, 1), torch.rand(8), torch.rand(8)
    g = gate.squeeze(1)
    legacy = gated_triplet(gate, l_ta, l_tv, legacy=True)
    default = gated_triplet(gate, l_ta, l_tv, legacy=False)
    assert torch.allclose(legacy, (1 - g).mean() * l_ta.mean() + g.mean() * l_tv.mean())
    assert torch.allclose(default, ((1 - g) * l_ta + g * l_tv).mean())
    assert not torch.allclose(legacy, default)


def test_cjme_legacy_switch_changes_only_the_triplet_term(dataset, make_batch):
    batch = make_batch()
    terms = {}
    for legacy in (False, True):
        model = build("cjme", "demo", dims=dataset.dims, legacy=legacy).train()
        torch.manual_seed(1)  # same dropout masks
        terms[legacy] = model.loss(batch)
    assert torch.allclose(terms[False]["av"], terms[True]["av"])
    assert torch.allclose(terms[False]["attention"], terms[True]["attention"])
    assert not torch.allclose(terms[False]["triplet"], terms[True]["triplet"])


def test_cjme_distance_uses_hard_gate(dataset):
    model = build("cjme", "demo", dims=dataset.dims).eval()
    split = dataset.splits["val"]
    text = TextEmbeddings(dataset.text.clip[split.classes], dataset.text.clap[split.classes])
    with torch.no_grad():
        views = model.distances(split.video, split.audio, text)
        video_rows = (model.gate(torch.cat([split.audio, split.video], 1)) >= 0.5).squeeze(1)
    assert list(views) == ["both", "audio", "video"]
    assert torch.equal(views["both"][video_rows], views["video"][video_rows])
    assert torch.equal(views["both"][~video_rows], views["audio"][~video_rows])


# --- Hyper-multiple curvature: without effect in the reference's alignment ---


def _phi(seed: int = 0, batch: int = 12):
    generator = torch.Generator().manual_seed(seed)
    phi_v = torch.relu(torch.randn(batch, 300, generator=generator)) * 2
    phi_a = torch.relu(torch.randn(batch, 300, generator=generator)) * 2
    return phi_v, phi_a


@pytest.mark.parametrize("legacy", [False, True])
def test_hyper_alignment_depends_on_curvature_only_by_default(legacy):
    model = build("hyper-multiple", legacy=legacy)
    phi_v, phi_a = _phi()
    losses = [model.alignment(phi_v, phi_a, torch.full((12, 1), c)) for c in (1e-3, 1e-2, 1e-1)]
    if legacy:  # radial maps + cosine Gram: curvature-independent
        assert all(torch.allclose(loss, losses[0], rtol=1e-5, atol=1e-7) for loss in losses)
    else:
        assert not torch.allclose(losses[0], losses[1]) and not torch.allclose(losses[1], losses[2])


@pytest.mark.parametrize("legacy", [False, True])
def test_hyper_curvature_net_gradient(legacy):
    model = build("hyper-multiple", legacy=legacy, num_curvatures=3)
    phi_v, phi_a = _phi()
    model.alignment(phi_v, phi_a, model.curvatures(phi_v, phi_a)).backward()
    gradient = model.fusenet.weight.grad.abs().max()
    assert (gradient < 1e-7) if legacy else (gradient > 1e-5)


def test_hyper_loss_term_changes_with_max_curvature_by_default(dataset, make_batch):
    batch = make_batch()
    values = {}
    for legacy in (False, True):
        for c_max in (0.01, 1.0):
            model = build("hyper-multiple", "demo", dims=dataset.dims, legacy=legacy, curvature=c_max).train()
            torch.manual_seed(1)
            values[legacy, c_max] = model.loss(batch)["hyper"]
    assert torch.allclose(values[True, 0.01], values[True, 1.0], rtol=1e-4)
    assert not torch.allclose(values[False, 0.01], values[False, 1.0], rtol=1e-2)


def test_legacy_hyperbolic_features_are_radial():
    phi_v, _ = _phi()
    h = legacy_hyperbolic_features(phi_v, torch.full((12, 1), 0.05))
    assert torch.allclose(F.cosine_similarity(h, phi_v, dim=1), torch.ones(12), atol=1e-5)


def test_poincare_distance_matrix_matches_mobius_formula():
    torch.manual_seed(0)
    u = torch.randn(5, 7, dtype=torch.float64)
    c = torch.rand(5, 1, dtype=torch.float64) * 0.5 + 0.1
    got = poincare_distance_matrix(u, c)
    for i in range(5):
        sc = c[i].sqrt()
        x = torch.tanh(sc * u.norm(dim=1, keepdim=True)) * u / (sc * u.norm(dim=1, keepdim=True))
        a, b = -x[i].expand_as(x), x  # Möbius addition (−x_i) ⊕_c x_j
        ab, a2, b2 = (a * b).sum(1, keepdim=True), (a * a).sum(1, keepdim=True), (b * b).sum(1, keepdim=True)
        cc = c[i]
        mobius = ((1 + 2 * cc * ab + cc * b2) * a + (1 - cc * a2) * b) / (1 + 2 * cc * ab + cc**2 * a2 * b2)
        expected = 2 / sc * torch.atanh((sc * mobius.norm(dim=1)).clamp_max(1 - 1e-12))
        off = torch.arange(5) != i
        assert torch.allclose(got[i, off], expected[off], rtol=1e-6)
    assert torch.equal(got.diagonal(), torch.zeros(5, dtype=torch.float64))


# --- DEVISE / ALE / SJE ranking losses ---


def test_ranking_hinge_matches_reference_formulas():
    scores = torch.tensor([[0.5, 0.45, 0.9, 0.1], [0.2, 0.3, 0.25, 0.26]])
    targets = torch.tensor([0, 3])
    cost = torch.zeros(2, 4)
    for i in range(2):
        for j in range(4):
            if j != int(targets[i]):
                cost[i, j] = max(0.0, 0.1 + float(scores[i, j] - scores[i, targets[i]]))
    assert torch.allclose(ranking_hinge(scores, targets, "devise"), cost.sum() / 2)
    assert torch.allclose(ranking_hinge(scores, targets, "sje"), cost.max(1).values.sum() / 2)
    weighted = 0.0
    for i in range(2):
        r = int((cost[i] > 0).sum())
        weighted += float(cost[i].sum()) * sum(1 / k for k in range(1, r + 1)) / r
    assert torch.allclose(ranking_hinge(scores, targets, "ale"), torch.tensor(weighted / 2))


def test_triplet_is_torch_triplet_margin_loss():
    torch.manual_seed(0)
    a, p, n = torch.randn(3, 6, 4).unbind(0)
    assert torch.allclose(triplet(a, p, n), torch.nn.TripletMarginLoss(margin=1.0)(a, p, n))


# --- zeroshot ---


def _aligned_dataset() -> GZSLDataset:
    """Features equal to a noisy copy of their class text: a cosine classifier must be perfect."""
    generator = torch.Generator().manual_seed(0)
    clip = F.normalize(torch.randn(6, 512, generator=generator), dim=1)
    clap = F.normalize(torch.randn(6, 1024, generator=generator), dim=1)
    labels = torch.arange(6).repeat_interleave(4)
    video = clip[labels] + 0.01 * torch.randn(24, 512, generator=generator)
    audio = clap[labels] + 0.01 * torch.randn(24, 1024, generator=generator)
    split = FeatureSplit(video, audio, labels, torch.arange(4), torch.arange(4, 6))
    return GZSLDataset(
        "aligned",
        tuple(f"c{i}" for i in range(6)),
        TextEmbeddings(clip, clap),
        {"train": split, "val": split, "train_val": split, "test": split},
    )


def test_zeroshot_is_a_cosine_classifier():
    dataset = _aligned_dataset()
    split = dataset.splits["test"]
    for modality in ("both", "video", "audio"):
        model = build("zeroshot", "demo", modality=modality)
        assert not list(model.parameters())
        views = model.distances(split.video, split.audio, dataset.text)
        assert list(views) == [modality]
        cos_v = F.cosine_similarity(split.video[:, None], dataset.text.clip[None], dim=2)
        cos_a = F.cosine_similarity(split.audio[:, None], dataset.text.clap[None], dim=2)
        expected = {"both": 2 - cos_v - cos_a, "video": 1 - cos_v, "audio": 1 - cos_a}[modality]
        assert torch.allclose(views[modality], expected, atol=1e-5)
    spec = get_method("zeroshot")
    result = run_single(spec, dataset, spec.hparams("demo"), seed=0, trainer=RunTrainer)
    assert result.stage1.best_epochs == 0
    assert result.test["seen"] == result.test["unseen"] == result.test["zsl"] == 100.0
