"""LSC-AVZSL: its size against the reference code, its defaults, and its two extra loss terms."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from avgzsl_bench.api import get_method
from avgzsl_bench.cli.methods import parameter_count
from avgzsl_bench.datasets.types import FeatureDims
from avgzsl_bench.errors import BenchError
from methods.lsc_avzsl import SelfAttention, kl_to_text

# Counted from the module definitions of the reference's src/lsc_model.py at the CLIP/CLAP dims:
# ClipClap's layers (the ClipClap spec's 2,237,824), then
#   AutoFusion(512, 512): fuse_in 512·256+256 + 256·512+512, fuse_out the same  = 525,824
#   pos_emb1D (1, 512)                                                           =     512
#   Transformer(512, 6, 8, 64, 512): per layer LayerNorm 1,024 + to_qkv 512·1536 (no bias)
#     + to_out 512·512+512 + LayerNorm 1,024 + FeedForward 2·(512·512+512) = 1,576,448, ×6 = 9,458,688
#   MLP_Communicator(token=512, channel=1, hidden 64): MLP_block(1, 64) 64+64 + 64+1 = 193,
#     MLP_block(512, 64) 512·64+64 + 64·512+512 = 66,112                         =  66,305
LSC_EXTRA = 525_824 + 512 + 9_458_688 + 66_305
CLIPCLAP = {"both": 2_237_824, "audio": 1_713_536, "video": 1_189_248}


@pytest.mark.parametrize("dataset", ["ucf", "activitynet", "vggsound"])
def test_parameter_count_matches_the_reference(dataset: str) -> None:
    assert LSC_EXTRA == 10_051_329
    assert parameter_count("lsc-avzsl", dataset) == CLIPCLAP["both"] + LSC_EXTRA == 12_289_153


@pytest.mark.parametrize("modality", ["audio", "video"])
def test_parameter_count_of_the_modality_ablations(modality: str) -> None:
    spec = get_method("lsc-avzsl")
    with torch.device("meta"):
        model = spec.build(FeatureDims(), spec.hparams("ucf", {"modality": modality}))
    assert sum(p.numel() for p in model.parameters()) == CLIPCLAP[modality] + LSC_EXTRA


def test_defaults_are_the_reference_config_for_every_dataset() -> None:
    spec = get_method("lsc-avzsl")
    for dataset in ("ucf", "activitynet", "vggsound"):
        h = spec.hparams(dataset)
        assert (h["epochs"], h["lr"], h["batch_size"], h["batches_per_epoch"]) == (20, 4e-4, 64, 300)
        assert (h["weight_decay"], h["lr_patience"], h["dropout"]) == (1e-5, 3, 0.1)
        assert (h["transformer_depth"], h["transformer_heads"], h["transformer_dim_head"]) == (6, 8, 64)
        assert (h["kl_weight"], h["fusion_weight"], h["mixer_dropout"]) == (1.0, 0.5, 0.5)


def test_kl_term_equals_torch_kl_div_in_value_and_gradients() -> None:
    torch.manual_seed(0)
    theta_o = torch.randn(8, 64, dtype=torch.float64, requires_grad=True)
    theta_w = torch.randn(8, 64, dtype=torch.float64, requires_grad=True)
    ours = kl_to_text(theta_o, theta_w)
    grads = torch.autograd.grad(ours, (theta_o, theta_w))
    # the reference's form: KLDivLoss(batchmean)(softmax(θ_o).log(), softmax(θ_w))
    reference = F.kl_div(torch.softmax(theta_o, -1).log(), torch.softmax(theta_w, -1), reduction="batchmean")
    expected = torch.autograd.grad(reference, (theta_o, theta_w))
    torch.testing.assert_close(ours, reference)
    for got, want in zip(grads, expected):
        torch.testing.assert_close(got, want)
    assert kl_to_text(theta_o, theta_o).abs() < 1e-12


def test_one_token_attention_is_the_value_path() -> None:
    """With one token the attention weights are 1: the output is out(v), and q/k get no gradient."""
    torch.manual_seed(0)
    attention = SelfAttention(16, heads=4, dim_head=8, p=0.0)
    x = torch.randn(5, 1, 16)
    value = x @ attention.qkv.weight[64:].T
    torch.testing.assert_close(attention(x), attention.out(value))
    attention(x).square().sum().backward()
    gradient = attention.qkv.weight.grad
    assert gradient is not None
    assert gradient[:64].abs().max() == 0 and gradient[64:].abs().max() > 0


def test_loss_has_the_extra_terms_with_their_weights(tiny_demo, make_batch) -> None:
    spec = get_method("lsc-avzsl")

    def terms(**overrides):
        torch.manual_seed(0)
        model = spec.build(tiny_demo.dims, spec.hparams("demo", overrides))
        model.train()
        return model.loss(make_batch())

    default = terms()
    assert set(default) == {"ce", "reg", "rec", "kl", "fusion"}
    assert all(value > 0 for value in default.values())
    doubled = terms(kl_weight=2.0, fusion_weight=1.0)
    torch.testing.assert_close(doubled["kl"], 2 * default["kl"])
    torch.testing.assert_close(doubled["fusion"], 2 * default["fusion"])
    assert set(terms(losses="reg")) == {"reg", "kl", "fusion"}


def test_fusion_hidden_dim_below_two_is_refused() -> None:
    spec = get_method("lsc-avzsl")
    with pytest.raises(BenchError, match="fusion_hidden_dim"):
        spec.hparams("ucf", {"fusion_hidden_dim": 1})
