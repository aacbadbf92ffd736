"""Hyper-parameters: the protocol's `Schedule`, and checking user-supplied values at the boundary.

A method declares two dicts of defaults: the *schedule* (what the protocol consumes: epochs,
learning rate, batch size, ...) and its *model* hyper-parameters. A value a user supplies
(`--set key=value`, `--epochs N`, a table row's overrides) is checked when jobs are made, before
anything runs: its type must match the default's type (an int is accepted where a float is
expected), it must be one of the declared choices, and it must lie in its range. Names ending in
`dropout` are probabilities in [0, 1) unless the method declares another range.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from avgzsl_bench.errors import BenchError


@dataclass(frozen=True)
class Range:
    """An interval of allowed numbers; `None` leaves a side open."""

    low: float | None = None
    high: float | None = None
    include_low: bool = True
    include_high: bool = True

    def contains(self, value: float) -> bool:
        if self.low is not None and (value < self.low or (value == self.low and not self.include_low)):
            return False
        return not (self.high is not None and (value > self.high or (value == self.high and not self.include_high)))

    def __str__(self) -> str:
        low = "(-inf" if self.low is None else f"{'[' if self.include_low else '('}{self.low:g}"
        high = "inf)" if self.high is None else f"{self.high:g}{']' if self.include_high else ')'}"
        return f"{low}, {high}"


AT_LEAST_ONE = Range(1)
NON_NEGATIVE = Range(0)
POSITIVE = Range(0, include_low=False)
PROBABILITY = Range(0, 1, include_high=False)


@dataclass(frozen=True)
class Schedule:
    """The hyper-parameters the protocol itself consumes; everything else goes to the method."""

    epochs: int
    lr: float
    batch_size: int
    batches_per_epoch: int
    weight_decay: float = 0.0
    lr_patience: int = 3

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(field.name for field in fields(cls))

    @classmethod
    def from_hparams(cls, hparams: Mapping[str, Any]) -> Schedule:
        return cls(**{key: hparams[key] for key in cls.field_names() if key in hparams})


REQUIRED_SCHEDULE = ("epochs", "lr", "batch_size", "batches_per_epoch")
# Ranges of the schedule keys for methods that train; a training-free method's schedule is unused.
SCHEDULE_RANGES = {
    "epochs": AT_LEAST_ONE,
    "lr": POSITIVE,
    "batch_size": AT_LEAST_ONE,
    "batches_per_epoch": AT_LEAST_ONE,
    "weight_decay": NON_NEGATIVE,
    "lr_patience": NON_NEGATIVE,
}


def _type_name(value: Any) -> str:
    return {bool: "a bool (True/False)", int: "an integer", float: "a number", str: "a string"}.get(
        type(value), type(value).__name__
    )


def coerce(key: str, value: Any, default: Any, owner: str) -> Any:
    """`value` converted to the type of `default`, or a `BenchError` naming the parameter."""

    def wrong() -> BenchError:
        return BenchError(
            f"hyper-parameter '{key}' of {owner} expects {_type_name(default)} (default {default!r}), got {value!r}"
        )

    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise wrong()
    if isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise wrong()
    if isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        raise wrong()
    if isinstance(default, str):
        if isinstance(value, str):
            return value
        raise wrong()
    return value


def check_value(
    key: str, value: Any, owner: str, choices: Mapping[str, tuple[Any, ...]], ranges: Mapping[str, Range]
) -> None:
    if key in choices and value not in choices[key]:
        raise BenchError(
            f"hyper-parameter '{key}' of {owner} must be one of {', '.join(map(repr, choices[key]))}; got {value!r}"
        )
    allowed = ranges.get(key) or (PROBABILITY if key.endswith("dropout") else None)
    if (
        allowed is not None
        and isinstance(value, (int, float))
        and not isinstance(value, bool)
        and not allowed.contains(value)
    ):
        raise BenchError(f"hyper-parameter '{key}' of {owner} must lie in {allowed}; got {value!r}")
