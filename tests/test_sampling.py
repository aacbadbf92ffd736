import torch

from avgzsl_bench.training.sampling import ClassBalancedSampler


def test_draws_are_class_balanced_and_within_class_uniform():
    # class 0 has 90 samples, class 1 has 10: draws must still be ~50/50 per class
    labels = torch.tensor([0] * 90 + [1] * 10)
    sampler = ClassBalancedSampler(labels, torch.Generator().manual_seed(0))
    indices, positions = sampler.epoch(200, 100)
    assert torch.equal(labels[indices], sampler.classes[positions])
    share = (labels[indices] == 1).float().mean()
    assert abs(float(share) - 0.5) < 0.02
    counts = torch.bincount(indices[labels[indices] == 1].flatten() - 90, minlength=10).float()
    assert counts.min() > 0.8 * counts.mean()


def test_negatives_come_from_other_classes_uniformly():
    labels = torch.arange(5).repeat_interleave(4)
    sampler = ClassBalancedSampler(labels, torch.Generator().manual_seed(1))
    indices, positions = sampler.epoch(100, 50)
    negatives, negative_positions = sampler.negatives(positions)
    assert torch.equal(labels[negatives], sampler.classes[negative_positions])
    assert not (labels[negatives] == labels[indices]).any()
    shares = torch.bincount(labels[negatives].flatten(), minlength=5).float() / negatives.numel()
    assert torch.allclose(shares, torch.full((5,), 0.2), atol=0.02)


def test_same_seed_same_batches():
    labels = torch.arange(3).repeat_interleave(7)
    first = ClassBalancedSampler(labels, torch.Generator().manual_seed(5)).epoch(4, 8)[0]
    second = ClassBalancedSampler(labels, torch.Generator().manual_seed(5)).epoch(4, 8)[0]
    assert torch.equal(first, second)
