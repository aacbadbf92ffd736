import torch

from avgzsl_bench.protocol.metrics import HM_EPSILON, calibration_grid, gzsl_scores


def _spec_example():
    """A hand-made toy problem whose expected values were obtained from the reference evaluation code."""
    classes = torch.tensor([1, 2, 3, 4, 7, 8])
    seen, unseen = torch.tensor([1, 3, 4, 7]), torch.tensor([2, 8])
    prototypes = torch.tensor([[0, 0], [1, 0], [0, 1], [1, 1], [2, 0], [0, 2]], dtype=torch.float32)
    labels = torch.tensor([1, 1, 2, 2, 2, 3, 4, 7, 8, 8])
    embeddings = torch.tensor(
        [[0.1, 0], [0.6, 0], [0.55, 0.1], [1, 0.1], [0.2, 0.3], [0, 0.9], [1, 1], [1.9, 0], [0, 1.6], [0.1, 1.4]]
    )
    return torch.cdist(embeddings, prototypes), labels, classes, seen, unseen


def test_grid_is_the_reference_grid():
    grid = calibration_grid()
    assert grid.numel() == 76 and grid[0] == 0 and grid[-1] == 5
    assert torch.allclose(grid[1], torch.tensor(1 / 15))


def test_spec_test_vector():
    scores = gzsl_scores(*_spec_example(), calibration_grid())
    best = scores.at(scores.best_index())
    assert abs(float(best.seen) - 0.875) < 1e-6
    assert float(best.unseen) == 1.0
    assert abs(float(best.hm) - 0.93333334) < 1e-6
    assert float(best.zsl) == 1.0
    assert abs(float(best.betas) - 8 / 15) < 1e-6


def test_beta_zero_by_hand():
    distances, labels, classes, seen, unseen = _spec_example()
    scores = gzsl_scores(distances, labels, classes, seen, unseen, torch.tensor([0.0]))
    # beta 0, wrong predictions: (0.6,0) of class 1 -> 2, (0.2,0.3) of class 2 -> 1,
    # (0.1,1.4) of class 8 -> 3. Seen: 1/2, 1, 1, 1 -> 0.875; unseen: 2/3 and 1/2.
    s, u = 0.875, (2 / 3 + 1 / 2) / 2
    assert abs(float(scores.seen[0]) - s) < 1e-6
    assert abs(float(scores.unseen[0]) - u) < 1e-6
    assert abs(float(scores.hm[0]) - 2 * s * u / (s + u + HM_EPSILON)) < 1e-6


def test_large_beta_predicts_only_unseen_and_zsl_is_beta_free():
    distances, labels, classes, seen, unseen = _spec_example()
    scores = gzsl_scores(distances, labels, classes, seen, unseen, torch.tensor([0.0, 100.0]))
    assert float(scores.seen[1]) == 0.0
    assert float(scores.hm[1]) == 0.0
    assert float(scores.unseen[1]) == 1.0
    assert scores.zsl.ndim == 0 and float(scores.zsl) == 1.0


def test_ties_go_to_the_lowest_class_id():
    classes, seen, unseen = torch.tensor([0, 1]), torch.tensor([0]), torch.tensor([1])
    distances = torch.tensor([[1.0, 1.0], [1.0, 1.0]])
    labels = torch.tensor([0, 1])
    scores = gzsl_scores(distances, labels, classes, seen, unseen, torch.tensor([0.0, 0.5]))
    assert scores.per_class[0].tolist() == [1.0, 0.0]  # tie at beta 0 -> class 0 (first index)
    assert scores.per_class[1].tolist() == [0.0, 1.0]


def test_first_maximal_hm_wins():
    classes, seen, unseen = torch.tensor([0, 1]), torch.tensor([0]), torch.tensor([1])
    distances = torch.tensor([[1.0, 3.0], [1.0, 1.5]])
    labels = torch.tensor([0, 1])
    scores = gzsl_scores(distances, labels, classes, seen, unseen, calibration_grid())
    # every beta in (0.5, 2) gives S = U = 1; the first such grid value is 8/15
    assert abs(float(scores.betas[scores.best_index()]) - 8 / 15) < 1e-6


def test_mean_class_accuracy_is_unweighted():
    classes, seen, unseen = torch.tensor([0, 1, 2]), torch.tensor([0, 1]), torch.tensor([2])
    # class 0 has 3 samples all right, class 1 has 1 sample wrong -> seen = (1 + 0) / 2
    distances = torch.tensor([[0.0, 1, 1], [0.0, 1, 1], [0.0, 1, 1], [0.0, 1, 1], [1, 1, 0.0]])
    labels = torch.tensor([0, 0, 0, 1, 2])
    scores = gzsl_scores(distances, labels, classes, seen, unseen, torch.tensor([0.0]))
    assert float(scores.seen[0]) == 0.5
    assert float(scores.unseen[0]) == 1.0


def test_chunked_and_single_pass_agree(monkeypatch):
    generator = torch.Generator().manual_seed(0)
    distances = torch.rand(300, 20, generator=generator) * 3
    labels = torch.randint(20, (300,), generator=generator)
    classes, seen, unseen = torch.arange(20), torch.arange(12), torch.arange(12, 20)
    whole = gzsl_scores(distances, labels, classes, seen, unseen, calibration_grid())
    monkeypatch.setattr("avgzsl_bench.protocol.metrics.MAX_SCORE_ELEMENTS", 1000)
    chunked = gzsl_scores(distances, labels, classes, seen, unseen, calibration_grid())
    assert torch.equal(whole.hm, chunked.hm) and torch.equal(whole.per_class, chunked.per_class)


def test_batched_grid_matches_one_beta_at_a_time():
    generator = torch.Generator().manual_seed(1)
    distances = torch.rand(200, 15, generator=generator) * 2
    labels = torch.randint(15, (200,), generator=generator)
    classes, seen, unseen = torch.arange(15), torch.arange(10), torch.arange(10, 15)
    grid = calibration_grid()
    batched = gzsl_scores(distances, labels, classes, seen, unseen, grid)
    for index in (0, 7, 40, 75):
        single = gzsl_scores(distances, labels, classes, seen, unseen, grid[index : index + 1])
        assert torch.equal(batched.hm[index : index + 1], single.hm)
