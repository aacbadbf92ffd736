"""Whether a method's runs can be trained as one stack (kept apart from the stacked trainer, whose
machinery a one-run job never imports)."""

from __future__ import annotations

from avgzsl_bench.api import MethodSpec


def stack_reason(spec: MethodSpec) -> str | None:
    """Why `spec`'s runs cannot be trained as a stack, or None when they can."""
    if spec.training_free:
        return "it has nothing to train"
    if spec.cls.temporal:
        return (
            "it consumes sequences, whose batches change shape from step to step (padded to each batch's "
            "longest sequence), which one stacked graph cannot trace"
        )
    if not spec.cls.stackable:
        return spec.cls.stack_note or "the method says so"
    return None
