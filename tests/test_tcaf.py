"""TCAF: the reference's recipe and parameter counts per dataset × feature set, its checkpoint
layout, and, for TCAF and its two temporal baselines (Attention fusion, Perceiver), what sequences
must never change (padding values; eval-time padding length) and the harness's dropout."""

from __future__ import annotations

import pytest
import torch
from temporal_reference import reference_layout, reference_parameter_count
from torch import nn

from avgzsl_bench.api import Padded, SampleBatch, TextEmbeddings, TrainBatch, get_method
from avgzsl_bench.artefacts.checkpoints import load_reference_pair
from avgzsl_bench.datasets.types import FeatureDims
from avgzsl_bench.errors import BenchError
from avgzsl_bench.nn.dropout import CounterDropout, MaskStream, masks_from, seed_key
from avgzsl_bench.protocol.trained import build_trained
from methods.tcaf import cross_modal_mask

CLS, MAIN = "c3d-vggish-temporal", "selavi-temporal"
FEATURE_DIMS = {CLS: (128, 4096), MAIN: (512, 512)}  # (audio, video): VGGish/C3D, SeLaVi
# The reference's best configuration per dataset and feature split, the keys that shape the model.
COLUMNS = (
    "lr",
    "sched",
    "depth",
    "heads",
    "dim_head",
    "t_drop",
    "te_drop",
    "hidden",
    "e_drop",
    "d_drop",
    "a_drop",
    "length",
)
ROWS = {
    ("ucf", CLS): (7e-5, True, 6, 8, 64, 0.3, 0.2, 512, 0.3, 0.1, 0.1, "max"),
    ("activitynet", CLS): (7e-5, True, 6, 8, 64, 0.4, 0.2, 512, 0.3, 0.1, 0.1, "fixed"),
    ("vggsound", CLS): (6e-5, False, 8, 8, 64, 0.5, 0.1, 512, 0.2, 0.2, 0.1, "max"),
    ("ucf", MAIN): (5e-5, False, 5, 8, 64, 0.3, 0.2, 256, 0.4, 0.2, 0.1, "max"),
    ("activitynet", MAIN): (7e-5, True, 8, 3, 128, 0.3, 0.2, 128, 0.2, 0.1, 0.1, "fixed"),
    ("vggsound", MAIN): (7e-5, False, 8, 6, 128, 0.5, 0.2, 128, 0.2, 0.2, 0.2, "max"),
}
REFERENCE_CONFIGS = {case: dict(zip(COLUMNS, row)) for case, row in ROWS.items()}
# What the reference's `parameters()` hold with these configurations, from its model code.
REFERENCE_COUNTS = {
    ("ucf", CLS): 7_269_972,
    ("activitynet", CLS): 7_269_972,
    ("vggsound", CLS): 8_655_028,
    ("ucf", MAIN): 4_521_764,
    ("activitynet", MAIN): 5_161_908,
    ("vggsound", MAIN): 8_848_308,
}
CASES = sorted(REFERENCE_CONFIGS)
TEMPORAL = ("tcaf", "attention-fusion", "perceiver")


def reference_config(dataset: str, features: str) -> dict:
    c = REFERENCE_CONFIGS[(dataset, features)]
    return {
        "transformer_dim": 300,
        "transformer_depth": c["depth"],
        "transformer_heads": c["heads"],
        "transformer_dim_head": c["dim_head"],
        "embeddings_hidden_size": c["hidden"],
    }


def w2v_dims(features: str) -> FeatureDims:
    audio, video = FEATURE_DIMS[features]
    return FeatureDims(video=video, audio=audio, text_parts=(("w2v", 300),))


def build(dataset: str = "ucf", features: str = CLS, name: str = "tcaf", **overrides):
    spec = get_method(name)
    hparams = spec.hparams(dataset, overrides, features, ("w2v",))
    torch.manual_seed(0)
    return spec.build(w2v_dims(features), hparams), hparams


@pytest.mark.parametrize("case", CASES, ids=lambda case: "/".join(case))
def test_recipe_is_the_reference_best_configuration(case):
    c = REFERENCE_CONFIGS[case]
    hparams = get_method("tcaf").hparams(case[0], {}, case[1], ("w2v",))
    assert hparams["lr"] == c["lr"] and hparams["batch_size"] == 64 and hparams["batches_per_epoch"] == 300
    assert hparams["epochs"] == 50 and hparams["weight_decay"] == 1e-5
    assert (hparams["lr_patience"] == 3) == c["sched"]  # no scheduler: a patience that never runs out
    expected = {
        "transformer_depth": c["depth"],
        "transformer_heads": c["heads"],
        "transformer_dim_head": c["dim_head"],
        "transformer_dropout": c["t_drop"],
        "transformer_embedding_dropout": c["te_drop"],
        "embeddings_hidden_size": c["hidden"],
        "embedding_dropout": c["e_drop"],
        "decoder_dropout": c["d_drop"],
        "additional_dropout": c["a_drop"],
        "batch_length": c["length"],
        "text": "w2v",
        "train_steps": 60,
        "eval_steps": 300,
    }
    assert {key: hparams[key] for key in expected} == expected


@pytest.mark.parametrize("case", CASES, ids=lambda case: "/".join(case))
def test_parameter_count_is_the_reference_count(case):
    model, _ = build(*case)
    audio, video = FEATURE_DIMS[case[1]]
    counted = reference_parameter_count(reference_config(*case), audio, video)
    assert counted == REFERENCE_COUNTS[case]
    assert sum(p.numel() for p in model.parameters()) == counted


def reference_state(case: tuple[str, str], generator: torch.Generator) -> dict[str, torch.Tensor]:
    """A state dict in the reference's layout (its key names, both aliases), random values."""
    audio, video = FEATURE_DIMS[case[1]]
    state: dict[str, torch.Tensor] = {}
    for key, (shape, _) in reference_layout(reference_config(*case), audio, video).items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7)
        elif key.startswith("audiovisual_embeddings."):
            continue  # filled from its alias below: one module, two names
        else:
            state[key] = torch.rand(shape, generator=generator) + 0.5  # positive: valid BatchNorm variances
    for key in [key for key in state if key.startswith("position_encoder_block.")]:
        state[key.replace("position_encoder_block.", "audiovisual_embeddings.", 1)] = state[key]
    return state


@pytest.mark.parametrize("case", [("ucf", CLS), ("vggsound", MAIN)], ids=lambda case: "/".join(case))
def test_reference_checkpoints_load_with_the_documented_key_mapping(case, tmp_path):
    generator = torch.Generator().manual_seed(1)
    states = [reference_state(case, generator) for _ in range(2)]
    stage1, stage2 = tmp_path / "Multimodal_Sequence_Transformer_score.pt", tmp_path / "ckpt.pt"
    for path, state in zip((stage1, stage2), states):
        torch.save({"epoch": 5, "model": state, "optimizer": {}, "metric": "score"}, path)
    models = load_reference_pair(stage1, stage2, "tcaf")
    _, hparams = build(*case)
    model = build_trained(get_method("tcaf"), w2v_dims(case[1]), hparams, models.stage2, "stage 2")
    ours = model.state_dict()
    assert torch.equal(ours["A_enc.0.weight"], states[1]["A_enc.fc.0.weight"])
    assert torch.equal(ours["D_o.5.running_var"], states[1]["D_o.fc.5.running_var"])
    assert torch.equal(ours["position_encoder_block.fourier_randn"], states[1]["audiovisual_embeddings.fourier_randn"])
    assert torch.equal(ours["cls_token"], states[1]["cls_token"])
    assert len(ours) == len(states[1]) - sum(key.startswith("audiovisual_embeddings.") for key in states[1])


def sequences(batch: int, steps: int, dim: int, step_s: float, generator: torch.Generator) -> Padded:
    lengths = torch.randint(1, steps + 1, (batch,), generator=generator)
    lengths[0] = steps  # the batch is as long as its longest sequence
    mask = torch.arange(steps)[None] < lengths[:, None]
    return Padded(torch.randn(batch, steps, dim, generator=generator), mask, step_s)


def with_garbage(x: Padded, value: float) -> Padded:
    return Padded(torch.where(x.mask.unsqueeze(-1), x.values, torch.full_like(x.values, value)), x.mask, x.step_s)


def with_extra_padding(x: Padded, steps: int) -> Padded:
    values = torch.cat([x.values, torch.randn(len(x), steps, x.values.shape[2])], dim=1)
    mask = torch.cat([x.mask, torch.zeros(len(x), steps, dtype=torch.bool)], dim=1)
    return Padded(values, mask, x.step_s)


def train_batch(video: Padded, audio: Padded, classes: int = 5, seed: int = 0) -> TrainBatch:
    generator = torch.Generator().manual_seed(seed)
    targets = torch.arange(len(video)) % classes
    text = TextEmbeddings(w2v=torch.randn(classes, 300, generator=generator))
    return TrainBatch(SampleBatch(video, audio, targets, targets, text.rows(targets)), torch.arange(classes), text)


def losses(model: nn.Module, batch: TrainBatch, seed: int = 3) -> dict[str, torch.Tensor]:
    with masks_from(MaskStream(seed_key(seed))):
        return model.loss(batch)


@pytest.fixture
def data():
    generator = torch.Generator().manual_seed(0)
    return sequences(6, 9, 4096, 0.64, generator), sequences(6, 7, 128, 0.96, generator)


@pytest.mark.parametrize("name", TEMPORAL)
def test_every_dropout_is_the_harness_dropout(name):
    model, _ = build(name=name)
    kinds = {type(module) for module in model.modules()}
    assert CounterDropout in kinds
    assert not any(isinstance(module, nn.Dropout) for module in model.modules())


@pytest.mark.parametrize("name", TEMPORAL)
def test_loss_terms_shapes_and_finite_gradients(name, data):
    model, _ = build(name=name)
    terms = losses(model.train(), train_batch(*data))
    assert set(terms) == {"ce", "reg", "rec"} and all(t.ndim == 0 and torch.isfinite(t) for t in terms.values())
    sum(terms.values()).backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert all(torch.isfinite(g).all() for g in grads)
    assert model.V_enc[0].weight.grad.abs().sum() > 0 and model.A_enc[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("name", TEMPORAL)
def test_padding_values_never_change_losses_or_distances(name, data):
    video, audio = data
    model, _ = build(name=name)
    clean = losses(model.train(), train_batch(video, audio))
    dirty = losses(model, train_batch(with_garbage(video, 1e4), with_garbage(audio, float("nan"))))
    assert all(torch.equal(clean[key], dirty[key]) for key in clean)
    model.eval()
    text = train_batch(video, audio).class_text
    with torch.no_grad():
        reference = model.distances(video, audio, text)["both"]
        garbage = model.distances(with_garbage(video, -7.0), with_garbage(audio, 1e6), text)["both"]
        longer = model.distances(with_extra_padding(video, 5), with_extra_padding(audio, 3), text)["both"]
    assert torch.equal(reference, garbage)
    torch.testing.assert_close(longer, reference, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", TEMPORAL)
def test_losses_are_deterministic_under_the_harness_dropout(name, data):
    model, _ = build(name=name)
    batch = train_batch(*data)
    first, second, other = losses(model.train(), batch), losses(model, batch), losses(model, batch, seed=4)
    assert all(torch.equal(first[key], second[key]) for key in first)
    assert not torch.equal(first["ce"], other["ce"])  # the masks do depend on the run


def test_attention_is_cross_modal_only():
    real_a = torch.tensor([[True, True, False]])
    real_v = torch.tensor([[True, False]])
    allowed = cross_modal_mask(real_a, real_v)[0].int()
    # rows: queries [cls, a0, a1, a2(pad), v0, v1(pad)]; columns: keys in the same order
    expected = torch.tensor(
        [
            [1, 1, 1, 0, 1, 0],
            [1, 0, 0, 0, 1, 0],
            [1, 0, 0, 0, 1, 0],
            [1, 0, 0, 0, 0, 0],
            [1, 1, 1, 0, 0, 0],
            [1, 0, 0, 0, 0, 0],
        ]
    )
    assert torch.equal(allowed, expected)


def test_evaluation_time_stamps_are_step_indices_unless_asked(data):
    video, audio = data
    text = train_batch(video, audio).class_text
    index, _ = build()
    seconds, _ = build(eval_time="seconds")
    with torch.no_grad():
        by_index = index.eval().distances(video, audio, text)["both"]
        by_seconds = seconds.eval().distances(video, audio, text)["both"]
        one_second = Padded(video.values, video.mask, 1.0), Padded(audio.values, audio.mask, 1.0)
        same = seconds.distances(*one_second, text)["both"]
    assert not torch.allclose(by_index, by_seconds)
    torch.testing.assert_close(same, by_index)


def layer_count(width: int, inner: int, mlp: int = 128) -> int:
    """One pre-norm transformer layer: q, k, v (no bias), out, feed-forward, one LayerNorm."""
    return 3 * width * inner + (inner * width + width) + (width * mlp + mlp) + (mlp * width + width) + 2 * width


@pytest.mark.parametrize("case", CASES, ids=lambda case: "/".join(case))
def test_baselines_replace_only_the_fusion(case):
    """The baselines are TCAF with another fusion: their counts differ by exactly the fusion's."""
    c, width = REFERENCE_CONFIGS[case], 300
    layer = layer_count(width, c["heads"] * c["dim_head"])
    tcaf_fusion = width + c["depth"] * layer  # class token + cross-modal transformer
    count = {name: sum(p.numel() for p in build(*case, name=name)[0].parameters()) for name in TEMPORAL}
    fusion = {
        "attention-fusion": 2 * width + 2 * c["depth"] * layer + (2 * width) ** 2 + 2 * width,
        "perceiver": 16 * width + c["depth"] * (layer + 4 * width) + c["depth"] * layer,  # latents, cross, latent
    }
    for name, own in fusion.items():
        assert count[name] == count["tcaf"] - tcaf_fusion + own, name


def test_odd_time_embedding_width_is_refused_when_jobs_are_made():
    spec = get_method("tcaf")
    with pytest.raises(BenchError, match="transformer_embedding_dim must be even"):
        spec.hparams("ucf", {"transformer_embedding_dim": 63}, CLS, ("w2v",))
