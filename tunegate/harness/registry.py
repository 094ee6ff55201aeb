"""The named registry every extension point uses (backends, metrics, judge providers), and plugins.

An entry is a descriptor: the factory plus the traits the rest of tunegate asks about (a judge
provider's key variable, a backend's capabilities), so adding one is one module.

Built-ins register by being imported by their package; third-party code registers the same way
from a module named in the ``tunegate.plugins`` entry-point group, loaded on the first lookup in
any registry::

    # pyproject.toml of a plugin distribution
    [project.entry-points."tunegate.plugins"]
    my-judge = "my_package.tunegate_judge"      # a module: importing it registers
    my-backend = "my_package.backend:register"  # or a function called with no arguments
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any, Generic, Self, TypeVar

from tunegate.harness.errors import ConfigError
from tunegate.harness.redact import watch_loggers

T = TypeVar("T")
R = TypeVar("R")

PLUGIN_GROUP = "tunegate.plugins"
BUILTIN = "tunegate"

_loaded = False
_by_kind: dict[str, Registry[Any]] = {}  # every registry, by what it holds ("backend", "judge provider")
_loading: list[str] = []  # the plugin being imported (where its registrations come from)
_lock = threading.RLock()


def load_plugins() -> None:
    """Import every ``tunegate.plugins`` entry point, once per process (thread-safe)."""
    global _loaded
    with _lock:
        if _loaded:
            return
        _loaded = True  # set first: a plugin that looks something up while loading does not recurse
        for ep in sorted(metadata.entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
            dist = ep.dist.name if ep.dist is not None else "?"
            _loading.append(f"{dist} ({ep.name})")
            try:
                obj = ep.load()
                if callable(obj) and not isinstance(obj, ModuleType):
                    obj()
            except ConfigError as exc:
                raise ConfigError(f"tunegate plugin {ep.name!r} from {dist}: {exc}") from None
            except Exception as exc:
                raise ConfigError(
                    f"tunegate plugin {ep.name!r} from {dist} ({ep.value}) failed to load: "
                    f"{type(exc).__name__}: {exc}; fix it, or uninstall it with: pip uninstall {dist}"
                ) from None
            finally:
                _loading.pop()


@dataclass(frozen=True)
class Entry(Generic[R]):
    """What every descriptor shares: the factory (calling the entry calls it) and ``loggers``, the
    logger names its SDK logs under, redacted like tunegate's own from registration on. An extension
    point subclasses it with the traits the rest of tunegate asks about (``BackendInfo``,
    ``ProviderInfo``); its registry takes the descriptor or a bare factory (``of``)."""

    factory: Callable[..., R]
    loggers: tuple[str, ...] = field(default=(), kw_only=True)

    def __post_init__(self) -> None:
        watch_loggers(*self.loggers)

    def __call__(self, *args: Any, **kwargs: Any) -> R:
        return self.factory(*args, **kwargs)

    @classmethod
    def of(cls, obj: Self | Callable[..., R]) -> Self:
        return obj if isinstance(obj, cls) else cls(obj)


class Registry(Generic[T]):
    """Maps names to descriptors. Duplicate names are rejected; failed lookups list known names.

    ``coerce`` turns what a caller registers (e.g. a bare factory) into the descriptor type.
    """

    def __init__(self, kind: str, coerce: Callable[[Any], T] | None = None) -> None:
        self.kind = kind
        self._coerce = coerce
        self._items: dict[str, T] = {}
        self._origins: dict[str, str] = {}
        _by_kind.setdefault(kind, self)  # the package's own (a second one of a kind is a private one)

    def register(self, name: str, obj: Any, *, replace: bool = False) -> T:
        if name in self._items and not replace:
            raise ConfigError(
                f"{self.kind} {name!r} is already registered (by {self._origins[name]}); pick another name"
            )
        entry: T = self._coerce(obj) if self._coerce is not None else obj
        self._items[name] = entry
        self._origins[name] = _loading[-1] if _loading else BUILTIN
        return entry

    def unregister(self, name: str) -> None:
        """Remove ``name`` (a test's temporary entry); unknown names are ignored."""
        self._items.pop(name, None)
        self._origins.pop(name, None)

    def decorator(self, name: str) -> Callable[[T], T]:
        def wrap(obj: T) -> T:
            self.register(name, obj)
            return obj

        return wrap

    def get(self, name: str) -> T:
        load_plugins()
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "(none)"
            raise ConfigError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def origin(self, name: str) -> str:
        """Who registered ``name``: 'tunegate' for built-ins, else the plugin's distribution."""
        self.get(name)
        return self._origins[name]

    def __contains__(self, name: object) -> bool:
        load_plugins()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def names(self, *, plugins: bool = True) -> list[str]:
        """The registered names; ``plugins=False``: without loading the plugins first (those
        registered so far, e.g. for help text built before any plugin is imported)."""
        if plugins:
            load_plugins()
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        load_plugins()
        return sorted(self._items.items())


def registry_of(kind: str) -> Registry[Any] | None:
    """The registry of ``kind`` ("backend", "judge provider", "metric"), None while the package
    that declares it has not been imported (a registry above the library: the shell imports it)."""
    return _by_kind.get(kind)
