"""Method registry: plugins register a `MethodSpec` by name; third parties via entry points."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
import pkgutil
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

from torch import nn

from avgzsl_bench.errors import BenchError

ENTRY_POINT_GROUP = "avgzsl_bench.methods"


@dataclass(frozen=True)
class MethodSpec:
    """What the protocol needs to know about a method, and nothing about its internals.

    `build(dims, hparams)` returns an `nn.Module` implementing `methods.base.GZSLModel`.
    `defaults` maps a dataset name (or "default") to hyper-parameters; dataset entries override
    the "default" entry key by key.
    """

    name: str
    build: Callable[[Any, Mapping[str, Any]], nn.Module]
    defaults: Mapping[str, Mapping[str, Any]]
    description: str = ""
    paper_name: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)

    def hparams(self, dataset: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        merged = dict(self.defaults.get("default", {}))
        merged.update(self.defaults.get(dataset, {}))
        for key, value in (overrides or {}).items():
            if key not in merged:
                raise BenchError(
                    f"method '{self.name}' has no hyper-parameter '{key}'; "
                    f"known: {', '.join(sorted(merged))}"
                )
            merged[key] = value
        return merged


_REGISTRY: dict[str, MethodSpec] = {}
_discovered = False


def register_method(
    name: str,
    *,
    defaults: Mapping[str, Mapping[str, Any]],
    description: str = "",
    paper_name: str = "",
    tags: tuple[str, ...] = (),
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Class or factory decorator: `@register_method("clipclap", defaults={...})`."""

    def decorator(build: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        existing = _REGISTRY.get(name)
        if existing is not None and existing.build is not build:
            raise BenchError(f"two plugins register the method name '{name}'; rename one of them")
        _REGISTRY[name] = MethodSpec(name, build, defaults, description, paper_name or name, tags)
        return build

    return decorator


def discover_methods() -> None:
    """Import the built-in plugins and every module named in the entry-point group, once."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    import methods

    for module in pkgutil.iter_modules(methods.__path__):
        if not module.name.startswith("_"):
            import_module(f"methods.{module.name}")
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            entry_point.load()
        except Exception as error:  # a broken third-party plugin must not hide the others
            raise BenchError(
                f"method plugin '{entry_point.name}' ({entry_point.value}) failed to import: {error}"
            ) from error


def list_methods() -> list[str]:
    discover_methods()
    return sorted(_REGISTRY)


def get_method(name: str) -> MethodSpec:
    discover_methods()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise BenchError(
            f"unknown method '{name}'; available: {', '.join(list_methods())} "
            f"(third-party methods register through the '{ENTRY_POINT_GROUP}' entry point)"
        ) from None
