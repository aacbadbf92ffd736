"""GZSL metrics exactly as the reference defines them, batched over the calibration grid.

Calibrated stacking adds beta to the (non-squared) distances of seen classes and predicts the
argmin (first index on ties). Seen/unseen accuracies are unweighted means of per-class recall
over the split's seen/unseen classes, in float32; HM = 2SU/(S+U+eps); ZSL restricts the
candidates to unseen classes and does not depend on beta.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

HM_EPSILON = 2.220446049250313e-16
# Elements of the (betas x samples x classes) score tensor evaluated at once; bounds memory on
# VGGSound-sized test sets while staying a single batched operation on UCF-sized ones.
MAX_SCORE_ELEMENTS = 1 << 25


def calibration_grid(device: torch.device | str | None = None) -> torch.Tensor:
    """The reference grid: 76 points from 0 to 5 (step 1/15), float32."""
    return torch.linspace(0, 5, 76, device=device)


@dataclass(frozen=True)
class GZSLScores:
    """Metrics for one or more beta values (tensors of shape (G,) or scalars)."""

    seen: torch.Tensor
    unseen: torch.Tensor
    hm: torch.Tensor
    zsl: torch.Tensor
    betas: torch.Tensor
    per_class: torch.Tensor  # (G, K) recall per candidate class
    classes: torch.Tensor  # (K,) candidate class ids
    # (G, N) predicted global class id of every sample (the recall's own argmin), when asked for:
    # kept for the test evaluation, not for grid searches, whose G copies would outlive the call.
    predicted: torch.Tensor | None = None

    def best_index(self) -> int:
        """First beta with maximal HM (`torch.argmax` returns the first maximum)."""
        return int(torch.argmax(self.hm).item())

    def at(self, index: int) -> GZSLScores:
        return GZSLScores(
            self.seen[index],
            self.unseen[index],
            self.hm[index],
            self.zsl,
            self.betas[index],
            self.per_class[index],
            self.classes,
            None if self.predicted is None else self.predicted[index],
        )

    def as_dict(self) -> dict[str, float]:
        """Scalar metrics in percent, as the paper reports them (requires a single beta)."""
        return {
            "seen": 100 * float(self.seen),
            "unseen": 100 * float(self.unseen),
            "hm": 100 * float(self.hm),
            "zsl": 100 * float(self.zsl),
            "beta": float(self.betas),
        }


def _per_class_recall(pred: torch.Tensor, labels: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """Recall of each candidate class for every row of `pred` (G, N) -> (G, K), float32."""
    onehot = (labels.unsqueeze(1) == classes.unsqueeze(0)).float()  # (N, K)
    correct = (pred == labels.unsqueeze(0)).float() @ onehot  # (G, K)
    totals = onehot.sum(dim=0)
    return correct / totals


def gzsl_scores(
    distances: torch.Tensor,
    labels: torch.Tensor,
    classes: torch.Tensor,
    seen: torch.Tensor,
    unseen: torch.Tensor,
    betas: torch.Tensor,
    keep_predicted: bool = False,
) -> GZSLScores:
    """Scores of every beta in `betas` for one distance matrix.

    distances: (N, K) distances to the candidate `classes` (sorted global ids);
    labels: (N,) global ids; seen/unseen: global ids partitioning `classes`; keep_predicted: also
    return the predicted class of every sample at every beta.
    """
    distances = distances.float()
    betas = betas.to(distances.device, torch.float32).reshape(-1)
    is_seen = torch.isin(classes, seen)
    is_unseen = torch.isin(classes, unseen)
    bias = is_seen.float()  # beta multiplies seen columns only

    chunk = max(1, MAX_SCORE_ELEMENTS // max(1, distances.numel()))
    predictions = []
    for start in range(0, betas.numel(), chunk):
        block = betas[start : start + chunk]
        scores = distances.unsqueeze(0) + block[:, None, None] * bias  # (g, N, K)
        predictions.append(classes[scores.argmin(dim=2)])
    pred = torch.cat(predictions)  # (G, N)

    recall = _per_class_recall(pred, labels, classes)
    acc_seen = recall[:, is_seen].mean(dim=1)
    acc_unseen = recall[:, is_unseen].mean(dim=1) if bool(is_unseen.any()) else torch.zeros_like(acc_seen)
    hm = 2 * acc_unseen * acc_seen / (acc_unseen + acc_seen + HM_EPSILON)

    zsl = torch.zeros((), device=distances.device)
    if bool(is_unseen.any()):
        unseen_classes = classes[is_unseen]
        zsl_pred = unseen_classes[distances[:, is_unseen].argmin(dim=1)]
        zsl = _per_class_recall(zsl_pred.unsqueeze(0), labels, unseen_classes)[0].mean()
    return GZSLScores(acc_seen, acc_unseen, hm, zsl, betas, recall, classes, pred if keep_predicted else None)
