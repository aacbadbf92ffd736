"""One generic registry for everything users extend: methods, datasets, executors, backbones.

A `Registry` maps names to entries of one kind. Entries are added with `register` (usable as a
decorator), checked by an optional `validate` callback at registration time (so a bad plugin fails
where it is declared, not in the middle of a benchmark), and looked up with `get`, whose error
lists what exists. Third-party packages add entries through an entry-point group: `discover`
imports every module of the group once; a module that fails to import is reported by name and
does not hide the others.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from avgzsl_bench.errors import BenchError, did_you_mean

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> entry, with clash errors, validation at registration and plugin discovery.

    `kind` names the entries in messages ("method", "dataset", ...); `builtins` is called once
    before the first lookup to import the built-in plugins; `entry_point_group` is where
    third-party packages declare theirs.
    """

    def __init__(
        self,
        kind: str,
        *,
        validate: Callable[[str, T], None] | None = None,
        builtins: Callable[[], None] | None = None,
        entry_point_group: str | None = None,
    ) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._entries: dict[str, T] = {}
        self._validate = validate
        self._builtins = builtins
        self._discovered = False
        self.plugin_errors: dict[str, str] = {}  # entry-point name -> why it failed to import

    # -- registration ------------------------------------------------------------------------
    def add(self, name: str, entry: T) -> T:
        if not isinstance(name, str) or not name:
            raise BenchError(f"a {self.kind} needs a non-empty string name, got {name!r}")
        if self._validate is not None:
            self._validate(name, entry)
        existing = self._entries.get(name)
        if existing is not None and existing is not entry:
            raise BenchError(f"two plugins register the {self.kind} name '{name}'; rename one of them")
        self._entries[name] = entry
        return entry

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form: `@REGISTRY.register("name")`."""

        def decorator(entry: T) -> T:
            return self.add(name, entry)

        return decorator

    @contextmanager
    def temporary(self, name: str, entry: T) -> Iterator[T]:
        """Register `entry` for the duration of a `with` block (tests, notebooks), then remove it."""
        self.discover()
        if name in self._entries:
            raise BenchError(f"{self.kind} '{name}' is already registered; pick another temporary name")
        self.add(name, entry)
        try:
            yield entry
        finally:
            self._entries.pop(name, None)

    # -- discovery ---------------------------------------------------------------------------
    def discover(self) -> None:
        """Import the built-in plugins and every entry-point module, once.

        Discovery counts as done only when it ran to the end; a third-party module that raises is
        recorded in `plugin_errors` (and warned about) while the remaining ones still load.
        """
        if self._discovered:
            return
        if self._builtins is not None:
            self._builtins()
        if self.entry_point_group:
            for entry_point in entry_points(group=self.entry_point_group):
                try:
                    entry_point.load()
                except Exception as error:  # noqa: BLE001 - one broken plugin must not hide the others
                    reason = f"{type(error).__name__}: {error}"
                    self.plugin_errors[entry_point.name] = f"{entry_point.value} failed to import ({reason})"
                    warnings.warn(
                        f"{self.kind} plugin '{entry_point.name}' ({entry_point.value}) failed to "
                        f"import and is skipped: {reason}",
                        RuntimeWarning,
                        stacklevel=2,
                    )
        self._discovered = True

    # -- lookup ------------------------------------------------------------------------------
    def names(self) -> list[str]:
        self.discover()
        return list(self._entries)

    def entries(self) -> list[T]:
        self.discover()
        return list(self._entries.values())

    def __contains__(self, name: object) -> bool:
        self.discover()
        return name in self._entries

    def get(self, name: str) -> T:
        self.discover()
        try:
            return self._entries[name]
        except KeyError:
            pass
        if name in self.plugin_errors:
            raise BenchError(f"{self.kind} plugin '{name}': {self.plugin_errors[name]}; fix or uninstall it")
        hint = (
            f" (third-party {self.kind}s register through the '{self.entry_point_group}' entry point)"
            if self.entry_point_group
            else ""
        )
        close = did_you_mean(name, self.names())
        raise BenchError(f"unknown {self.kind} '{name}'{close}; available: {', '.join(self.names())}{hint}")
