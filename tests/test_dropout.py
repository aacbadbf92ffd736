"""Counter-based dropout: exact integer hash, the right drop rate, per-run keys that batch under vmap."""

from __future__ import annotations

import pytest
import torch
from torch.func import vmap

from avgzsl_bench.nn.dropout import (
    UNIFORM_BITS,
    CounterDropout,
    MaskStream,
    masks_from,
    mix32,
    seed_key,
    step_key,
    step_masks,
)


def reference_mix32(value: int) -> int:
    """lowbias32 on unsigned 32-bit words, in exact Python integers."""
    x = value & 0xFFFFFFFF
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    return x ^ (x >> 16)


def test_hash_is_exact_32_bit_arithmetic():
    values = torch.randint(-(2**31), 2**31 - 1, (2000,), dtype=torch.int32, generator=torch.Generator().manual_seed(0))
    values = torch.cat([values, torch.tensor([0, -1, 2**31 - 1, -(2**31)], dtype=torch.int32)])
    hashed = mix32(values)
    assert hashed.dtype == torch.int32
    for value, result in zip(values.tolist(), hashed.tolist()):
        assert result & 0xFFFFFFFF == reference_mix32(value)


def key(seed: int, step: int) -> torch.Tensor:
    return step_key(seed_key(seed), torch.tensor(step, dtype=torch.int32))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_drop_rate_and_scale(p):
    layer = CounterDropout(p).train()
    x = torch.ones(400, 500)
    with masks_from(MaskStream(key(7, 3))):
        out = layer(x)
    dropped = (out == 0).float().mean().item()
    assert abs(dropped - p) < 4 * (p * (1 - p) / x.numel()) ** 0.5 + 1e-3
    assert torch.allclose(out[out != 0], torch.full_like(out[out != 0], 1 / (1 - p)))


def test_masks_depend_on_seed_and_step_and_position_only():
    shape = torch.Size([64, 96])

    def draws(seed: int, step: int, sizes: list[int]) -> torch.Tensor:
        stream = MaskStream(key(seed, step))
        return torch.cat([stream.draw(torch.Size([n])) for n in sizes])

    whole = draws(1, 5, [shape.numel()])
    assert torch.equal(whole, draws(1, 5, [1000, 2000, shape.numel() - 3000]))  # split calls: same draws

    def expected(p: float, draws: torch.Tensor) -> torch.Tensor:
        return torch.where(draws >= round(p * 2**UNIFORM_BITS), 1 / (1 - p), 0.0)

    prefetched = MaskStream(key(1, 5), step_masks(key(1, 5), 5000, [0.25]))  # made up front: the same masks
    assert torch.equal(
        torch.cat([prefetched.mask(torch.Size([n]), 0.25) for n in (3000, 2000)]), expected(0.25, whole[:5000])
    )
    beyond = prefetched.mask(torch.Size([shape.numel() - 5000]), 0.25)  # past the prepared ones: hashed
    assert torch.equal(beyond, expected(0.25, whole[5000:]))
    assert torch.equal(MaskStream(key(1, 5), prefetched.masks).mask(shape, 0.5).flatten(), expected(0.5, whole))
    assert prefetched.rates == {0.25}
    assert not torch.equal(whole, draws(2, 5, [shape.numel()]))  # another seed
    assert not torch.equal(whole, draws(1, 6, [shape.numel()]))  # another step
    assert int(whole.min()) >= 0 and int(whole.max()) < 2**UNIFORM_BITS
    # uniform: every eighth of the range holds about an eighth of the draws
    counts = torch.bincount(whole >> (UNIFORM_BITS - 3), minlength=8).float() / whole.numel()
    assert torch.allclose(counts, torch.full((8,), 1 / 8), atol=0.01)


def test_runs_under_vmap_get_their_own_masks():
    layer = CounterDropout(0.5).train()
    x = torch.randn(3, 16, 32)
    keys = torch.stack([key(seed, 0) for seed in (10, 11, 12)])

    def one_run(run_key: torch.Tensor, run_x: torch.Tensor) -> torch.Tensor:
        with masks_from(MaskStream(run_key)):
            return layer(run_x)

    stacked = vmap(one_run)(keys, x)
    for run in range(3):
        assert torch.equal(stacked[run], one_run(keys[run], x[run]))
    assert not torch.equal(stacked[0] != 0, stacked[1] != 0)


def test_eval_mode_and_no_stream():
    layer = CounterDropout(0.3)
    x = torch.randn(8, 8)
    assert torch.equal(layer.eval()(x), x)
    layer.train()
    torch.manual_seed(0)
    outside = layer(x)  # no stream: torch's own dropout, from the global generator
    torch.manual_seed(0)
    assert torch.equal(outside, torch.nn.functional.dropout(x, 0.3, training=True))
    with pytest.raises(ValueError, match="dropout probability"):
        CounterDropout(1.0)
