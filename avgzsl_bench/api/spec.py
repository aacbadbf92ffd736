"""The method registry: `@register_method` turns a `GZSLMethod` subclass into a named `MethodSpec`.

Registration checks the contract (a concrete `GZSLMethod` subclass with a complete schedule), so
a broken plugin fails with a message naming what is missing. Built-in plugins live in the
top-level `methods` package; third-party packages expose a module in the entry-point group
`avgzsl_bench.methods`.
"""

from __future__ import annotations

import inspect
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from importlib import import_module
from typing import Any

from avgzsl_bench.api.hparams import (
    REQUIRED_SCHEDULE,
    SCHEDULE_RANGES,
    Range,
    Schedule,
    check_value,
    coerce,
)
from avgzsl_bench.api.method import GZSLMethod
from avgzsl_bench.datasets.crop import SequenceCrop
from avgzsl_bench.datasets.dims import DEFAULT_FEATURES, FeatureDims, text_parts_of
from avgzsl_bench.errors import BenchError, did_you_mean
from avgzsl_bench.registry import Registry

ENTRY_POINT_GROUP = "avgzsl_bench.methods"
PerDataset = Mapping[str, Mapping[str, Any]]


def defaults_keys(dataset: str, features: str = DEFAULT_FEATURES) -> tuple[str, ...]:
    """The entries of a defaults table that apply, weakest first: "default", "*/<features>" (every
    dataset with that feature set), "<dataset>", "<dataset>/<features>"."""
    if features == DEFAULT_FEATURES:
        return ("default", dataset)
    return ("default", f"*/{features}", dataset, f"{dataset}/{features}")


@dataclass(frozen=True)
class MethodSpec:
    """What the protocol needs to know about a method, and nothing about its internals.

    `schedule` and `model` map a dataset name (or "default") to defaults; a dataset's entry
    overrides the "default" entry key by key. Feature sets other than CLIP/CLAP add entries
    "*/<features>" (all datasets) and "<dataset>/<features>" (see `defaults_keys`).
    `choices`/`ranges` constrain values users supply.
    """

    name: str
    cls: type[GZSLMethod]
    schedule: PerDataset
    model: PerDataset = field(default_factory=dict)
    choices: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    ranges: Mapping[str, Range] = field(default_factory=dict)
    description: str = ""
    paper_name: str = ""
    tags: tuple[str, ...] = ()

    @property
    def training_free(self) -> bool:
        return bool(self.cls.training_free)

    def build(self, dims: FeatureDims, hparams: Mapping[str, Any]) -> GZSLMethod:
        model = self.cls(dims, hparams)
        if self.cls.temporal:
            model.sequence_crop = SequenceCrop.from_hparams(hparams)
        return model

    def defaults(self, dataset: str, features: str = DEFAULT_FEATURES) -> dict[str, Any]:
        """Schedule and model defaults for `dataset` with `features`, as one flat dict (a temporal
        method's schedule always has the sequence-batch keys, `datasets.crop.SequenceCrop`'s defaults
        unless it sets them)."""
        merged: dict[str, Any] = asdict(SequenceCrop()) if self.cls.temporal else {}
        for table in (self.schedule, self.model):
            for key in defaults_keys(dataset, features):
                merged.update(table.get(key, {}))
        return merged

    def hparams(
        self,
        dataset: str,
        overrides: Mapping[str, Any] | None = None,
        features: str = DEFAULT_FEATURES,
        text_parts: tuple[str, ...] | None = None,
    ) -> dict[str, Any]:
        """The resolved hyper-parameters; every override is type-, choice- and range-checked, and,
        given the dataset's `text_parts`, the class text the method would consume must exist."""
        merged = self.defaults(dataset, features)
        owner = f"method '{self.name}'"
        for key, value in (overrides or {}).items():
            if key not in merged:
                hint = did_you_mean(key, merged)
                raise BenchError(f"{owner} has no hyper-parameter '{key}'{hint}; known: {', '.join(sorted(merged))}")
            value = coerce(key, value, merged[key], owner)
            check_value(key, value, owner, self.choices, self._ranges())
            merged[key] = value
        try:
            self.cls.check_hparams(merged)
        except ValueError as error:
            raise BenchError(f"{owner}: {error}") from None
        if self.cls.temporal:  # an unknown batch_length fails here, before any job runs
            try:
                SequenceCrop.from_hparams(merged)
            except BenchError as error:
                raise BenchError(f"{owner}: {error}") from None
        if text_parts is not None:
            problem = self.text_problem(merged, text_parts)
            if problem:
                raise BenchError(f"{owner} on '{dataset}' with features '{features}': {problem}")
        return merged

    def text_needed(self, hparams: Mapping[str, Any]) -> tuple[str, ...]:
        """The named class-text parts a configuration consumes (its `text` choice and fixed needs)."""
        needed = list(self.cls.required_text)
        if isinstance(hparams.get("text"), str):
            needed += text_parts_of(hparams["text"])
        return tuple(dict.fromkeys(needed))

    def text_problem(self, hparams: Mapping[str, Any], text_parts: tuple[str, ...]) -> str:
        """Why this configuration cannot run on data with `text_parts` ("" when it can)."""
        missing = [part for part in self.text_needed(hparams) if part not in text_parts]
        if not missing:
            return ""
        fix = f"; pass --set text={text_parts[0]}" if "text" in hparams and len(text_parts) == 1 else ""
        return (
            f"it needs the {' and '.join(missing)} class-text embeddings, but the data has only "
            f"{', '.join(text_parts)}{fix}"
        )

    def data_problem(self, temporal_data: bool, where: str) -> str:
        """Why this method cannot run on the features `where` names ("" when it can): a method built
        for sequences has nothing to read in one vector per video (the reverse is pooled)."""
        if self.cls.temporal and not temporal_data:
            return (
                f"method '{self.name}' consumes feature sequences, but '{where}' has one vector per video; use "
                "a temporal feature set (--features c3d-vggish-temporal, selavi-temporal or clip-clap-temporal)"
            )
        return ""

    def _ranges(self) -> dict[str, Range]:
        return dict(self.ranges) if self.training_free else {**SCHEDULE_RANGES, **self.ranges}


def _validate(name: str, spec: MethodSpec) -> None:
    cls = spec.cls
    if not (inspect.isclass(cls) and issubclass(cls, GZSLMethod)):
        raise BenchError(
            f"method '{name}': {cls!r} is not a subclass of avgzsl_bench.api.GZSLMethod; "
            "subclass it and implement loss() and distances()"
        )
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(cls.__abstractmethods__))
        raise BenchError(f"method '{name}': {cls.__name__} does not implement {missing}")
    defaults = {**spec.schedule.get("default", {})}
    absent = [key for key in REQUIRED_SCHEDULE if key not in defaults]
    if absent:
        raise BenchError(
            f"method '{name}': its schedule defaults lack {', '.join(absent)} "
            f"(the protocol needs {', '.join(REQUIRED_SCHEDULE)})"
        )
    keys = Schedule.field_names() + (SequenceCrop.field_names() if cls.temporal else ())
    unknown = set(defaults) - set(keys)
    if unknown:
        raise BenchError(
            f"method '{name}': {', '.join(sorted(unknown))} are not schedule keys "
            f"({', '.join(keys)}); put model hyper-parameters under model="
        )
    clash = set(defaults) & set(spec.model.get("default", {}))
    if clash:
        raise BenchError(f"method '{name}': {', '.join(sorted(clash))} appear in both schedule and model defaults")


def _import_builtin_methods() -> None:
    import methods

    for module in pkgutil.iter_modules(methods.__path__):
        if not module.name.startswith("_"):
            import_module(f"methods.{module.name}")


METHODS: Registry[MethodSpec] = Registry(
    "method", validate=_validate, builtins=_import_builtin_methods, entry_point_group=ENTRY_POINT_GROUP
)


def method_spec(
    name: str,
    cls: type[GZSLMethod],
    *,
    schedule: PerDataset,
    model: PerDataset | None = None,
    choices: Mapping[str, tuple[Any, ...]] | None = None,
    ranges: Mapping[str, Range] | None = None,
    description: str = "",
    paper_name: str = "",
    tags: tuple[str, ...] = (),
) -> MethodSpec:
    """The `MethodSpec` that `register_method` registers, without registering it (for
    `METHODS.temporary(name, spec)` in tests and notebooks)."""
    return MethodSpec(
        name, cls, schedule, model or {}, choices or {}, ranges or {}, description, paper_name or name, tags
    )


def register_method(name: str, **options: Any) -> Callable[[type[GZSLMethod]], type[GZSLMethod]]:
    """Class decorator: `@register_method("clipclap", schedule={...}, model={...})`; `options` are
    `method_spec`'s keyword arguments (schedule, model, choices, ranges, description, paper_name, tags)."""

    def decorator(cls: type[GZSLMethod]) -> type[GZSLMethod]:
        spec = method_spec(name, cls, **options)
        METHODS.add(name, spec)
        return cls

    return decorator


def get_method(name: str) -> MethodSpec:
    return METHODS.get(name)


def list_methods() -> list[str]:
    return sorted(METHODS.names())
