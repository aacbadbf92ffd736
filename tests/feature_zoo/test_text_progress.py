"""Text prompts report their progress chunk by chunk (the display itself is tested with the core)."""

from __future__ import annotations

from feature_zoo.text import ensemble_embeddings


def test_prompt_ensembles_report_every_chunk(monkeypatch):
    import torch

    monkeypatch.setattr("feature_zoo.text.TEXT_BATCH", 4)
    calls: list[tuple[int, int]] = []
    ensemble_embeddings(
        lambda prompts: torch.ones(len(prompts), 3),
        ["a", "b", "c"],
        ["{} x", "{} y", "{} z"],
        on_chunk=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(4, 9), (8, 9), (9, 9)]
