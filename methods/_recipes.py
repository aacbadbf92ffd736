"""Recipes shared by the baseline re-implementations: schedules and per-feature-set defaults.

Plain data, declared beside the methods that use them (the building blocks hold code only).
Each method merges these into its own `schedule=`/`model=` tables. A leading underscore keeps
this module out of plugin discovery: it registers nothing.
"""

from __future__ import annotations

from typing import Any

from avgzsl_bench.api import feature_sets_with_text

# The AVCA-GZSL code base trains every baseline with the same schedule (its run scripts, cls split).
AVCA_GZSL_SCHEDULE: dict[str, Any] = {
    "epochs": 50,
    "lr": 1e-3,
    "batch_size": 256,
    "batches_per_epoch": 500,
    "weight_decay": 0.0,
    "lr_patience": 3,
}
# The short schedule every baseline uses on the synthetic demo data.
DEMO_SCHEDULE: dict[str, Any] = {"epochs": 3, "batch_size": 64, "batches_per_epoch": 20}
# W_enc in front of a baseline's text branch: CLIP ‖ CLAP -> the 300-d slot word2vec used to fill.
W_ENC_DEFAULTS: dict[str, Any] = {"text": "both", "text_dim": 300, "text_dropout": 0.1}

# The feature sets whose only class text is word2vec (the AVCA-GZSL benchmark's SeLaVi and
# C3D + VGGish sets), read off the dataset registry so a new such feature set needs no edit here.
WORD2VEC_FEATURES: tuple[str, ...] = feature_sets_with_text(("w2v",))


def word2vec_defaults(**extra: Any) -> dict[str, dict[str, Any]]:
    """Defaults-table entries for every word2vec-only feature set: the baselines consume word2vec
    in their original form there (`text=w2v`: no W_enc, so `text_dim` and `text_dropout` have no
    effect), plus a method's own `extra` settings for that form."""
    return {f"*/{features}": {"text": "w2v", **extra} for features in WORD2VEC_FEATURES}


WORD2VEC_TEXT: dict[str, dict[str, Any]] = word2vec_defaults()
