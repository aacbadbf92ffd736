"""Per-sample test predictions of one stored run: what `compare` and the exported run files read.

A run's record keeps aggregate metrics; this keeps, beside it, the class each test sample was
assigned at the β the run used (and the validation HM over the β grid that chose it), so two
configurations can be compared sample by sample (McNemar, paired bootstrap) without retraining.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Predictions:
    """One run's test predictions, in the order of the test split's samples.

    `labels` and `predicted` hold global class ids (positions in `class_names`); `predicted` is
    the calibrated-stacking GZSL prediction at `beta`. `beta_grid`/`val_hm` are stage 1's
    validation HM (percent) over the calibration grid at the best epoch.
    """

    key: str  # the run key this belongs to
    labels: np.ndarray  # (N,) int64 global class id of each test sample
    predicted: np.ndarray  # (N,) int64 predicted global class id at `beta`
    sample_names: tuple[str, ...]  # (N,) video names, when the bundle has them (else empty)
    class_names: tuple[str, ...]  # global class id -> name
    beta: float
    beta_grid: tuple[float, ...]
    val_hm: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.labels.shape != self.predicted.shape or self.labels.ndim != 1:
            raise ValueError(
                f"predictions of {self.key}: labels {self.labels.shape} and predicted {self.predicted.shape} "
                "must be two vectors of one length"
            )
        if self.sample_names and len(self.sample_names) != len(self.labels):
            raise ValueError(
                f"predictions of {self.key}: {len(self.sample_names)} sample names for {len(self.labels)} samples"
            )
        if len(self.beta_grid) != len(self.val_hm):
            raise ValueError(f"predictions of {self.key}: β grid and val HM curve differ in length")

    @property
    def correct(self) -> np.ndarray:
        """(N,) bool: was each test sample classified correctly."""
        return self.labels == self.predicted
