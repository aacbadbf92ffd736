"""The complete example of docs/adding-a-method.md works as written.

Its code block is executed as a module; the method it declares is registered only while these
tests run (other tests' `list_methods()` never see it) and is checked with the registry's own
conformance checks, the functions of `test_methods_registry` that check every built-in method.
Calling them, rather than the protocol, keeps one place to update when the protocol changes.
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import test_methods_registry as conformance

import avgzsl_bench.api
from avgzsl_bench.api import METHODS, GZSLMethod, MethodSpec, get_method, list_methods, method_spec
from avgzsl_bench.jobs.environment import cpu_threads

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "adding-a-method.md"
MARKER = "<!-- tested-example"  # the guide marks the block it promises works
MODULE = "adding_a_method_example"


def example_code() -> str:
    """The first python block after the guide's marker."""
    text = GUIDE.read_text(encoding="utf-8")
    assert MARKER in text, f"{GUIDE.name} lost its '{MARKER}' marker"
    block = re.search(r"```python\n(.*?)^```", text[text.index(MARKER) :], re.DOTALL | re.MULTILINE)
    assert block, f"no python block after the marker in {GUIDE.name}"
    return block.group(1)


def capturing(specs: list[MethodSpec]) -> Callable[..., Callable[[type[GZSLMethod]], type[GZSLMethod]]]:
    """A stand-in for `register_method` that builds the same spec but only collects it, so the
    example can be registered temporarily instead of for the rest of the session."""

    def register(name: str, **options: Any) -> Callable[[type[GZSLMethod]], type[GZSLMethod]]:
        def decorator(cls: type[GZSLMethod]) -> type[GZSLMethod]:
            specs.append(method_spec(name, cls, **options))
            return cls

        return decorator

    return register


@pytest.fixture(scope="module")
def example() -> Iterator[MethodSpec]:
    """The example's method, registered under its own name for this module's tests."""
    specs: list[MethodSpec] = []
    module = types.ModuleType(MODULE)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(avgzsl_bench.api, "register_method", capturing(specs))
        patch.setitem(sys.modules, MODULE, module)  # its classes resolve by module name (pickling)
        exec(compile(example_code(), f"{GUIDE.name} (example)", "exec"), module.__dict__)
        assert len(specs) == 1, f"the example should register one method, it registered {len(specs)}"
        with METHODS.temporary(specs[0].name, specs[0]) as spec:
            yield spec
    assert spec.name not in list_methods(), "the example's method outlived its tests"


def test_example_registers_with_defaults_per_feature_set(example):
    assert get_method(example.name) is example and example.name in list_methods()
    assert example.hparams("demo")["epochs"] < example.hparams("ucf")["epochs"]  # the short demo schedule
    assert example.hparams("ucf")["text"] == "both"
    for features in ("selavi", "c3d-vggish"):  # word2vec-only class text
        assert example.hparams("ucf", {}, features, ("w2v",))["text"] == "w2v"


def test_example_builds_on_the_demo_data(example, tiny_demo):
    model = example.build(tiny_demo.dims, conformance.short_hparams(example.name))
    assert sum(p.numel() for p in model.parameters()) > 0
    assert example.cls.has_embeddings() and not example.training_free


def test_example_trains_deterministically_through_the_protocol(example, tiny_demo):
    conformance.test_method_runs_through_protocol_deterministically(example.name, tiny_demo)


def test_example_loss_gradients_and_distances_are_finite(example, tiny_demo, make_batch):
    conformance.test_method_loss_and_gradients_are_finite(example.name, tiny_demo, make_batch)


def test_example_stacked_runs_match_single_runs(example, tiny_demo):
    with cpu_threads(1):
        conformance.test_method_stacked_runs_match_single_runs(example.name, tiny_demo, None)


def test_example_gradients_are_bitwise_reproducible(example, tiny_demo, make_batch):
    with cpu_threads(2):
        conformance.test_gradients_are_bitwise_reproducible_on_two_threads(example.name, tiny_demo, make_batch, None)
