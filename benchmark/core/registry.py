"""Registries by decorator and creation by name (timm style), plus plugin discovery by path.

``methods/`` and ``datasets/`` are plugin *folders*, not packages: every ``*.py`` file in them is
imported by path under a private module name, and registers its components with the decorators
below. Extra plugin folders come from ``ALBENCH_PLUGINS`` (``os.pathsep``-separated) or
``discover(extra=[...])`` (the CLI's ``--plugins``).
"""
from __future__ import annotations

import fnmatch
import hashlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Generic, TypeVar

from benchmark.core.errors import AlbenchError, UnknownNameError

T = TypeVar("T")
REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_ROOT = Path(__file__).resolve().parents[1]
ENTRY_POINT_GROUP = "albench.plugins"
# Engine modules that register components when imported (architectures, the +bal wrapper, the
# scenarios). They sit above this layer, so they are imported by name, like any plugin.
BUILTIN_MODULES = ("benchmark.learn.models", "benchmark.select.balancing", "benchmark.scenarios.iterative",
                   "benchmark.scenarios.oneshot", "benchmark.scenarios.coldstart")


def builtin_folder(name: str) -> Path:
    """A built-in plugin folder (``methods``, ``datasets``, ``suites``): the source checkout's, else the
    copy an installed wheel carries under ``benchmark/_builtin/``."""
    checkout = REPO_ROOT / name
    in_checkout = (REPO_ROOT / "pyproject.toml").is_file() and checkout.is_dir()  # not a site-packages neighbour
    return checkout if in_checkout else PACKAGE_ROOT / "_builtin" / name


class Registry(Generic[T]):
    """A name → factory table. ``register`` is a decorator; ``create`` builds by name."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Callable[..., T]] = {}
        self._sources: dict[str, str] = {}
        self._suffixes: dict[str, Callable[[str, Callable[..., T]], Callable[..., T]]] = {}
        self._applies: dict[str, Callable[[Callable[..., T]], bool]] = {}

    def register_suffix(self, suffix: str, wrap: Callable[[str, Callable[..., T]], Callable[..., T]],
                        applies: Callable[[Callable[..., T]], bool] = lambda factory: True) -> None:
        """``<name><suffix>`` resolves to ``wrap(name, factory_of_name)`` for every registered name
        that ``applies`` accepts (the WACV balancing step: ``entropy+bal``)."""
        self._suffixes[suffix] = wrap
        self._applies[suffix] = applies

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def deco(factory: Callable[..., T]) -> Callable[..., T]:
            source = getattr(factory, "__module__", "?")
            if name in self._entries and self._sources[name] != source:
                raise AlbenchError(
                    f"{self.kind} {name!r} is registered twice: by {self._sources[name]} and by "
                    f"{source}. Rename one of them."
                )
            self._entries[name] = factory
            self._sources[name] = source
            factory.registered_name = name  # type: ignore[attr-defined]
            return factory

        return deco

    def get(self, name: str) -> Callable[..., T]:
        discover()
        if name in self._entries:
            return self._entries[name]
        for suffix, wrap in self._suffixes.items():
            base = name[: -len(suffix)]
            if name.endswith(suffix) and base in self._entries:
                if not self._applies[suffix](self._entries[base]):
                    raise AlbenchError(f"{self.kind} {name!r}: {suffix!r} does not apply to {base!r}.")
                return wrap(base, self._entries[base])
        raise UnknownNameError(self.kind, name, self._entries)

    def create(self, name: str, **params: Any) -> T:
        factory = self.get(name)
        try:
            return factory(**params)
        except TypeError as exc:
            raise AlbenchError(
                f"Cannot create {self.kind} {name!r} with parameters {params}: {exc}. "
                f"Check the parameter names against its docstring (`albench list {self.kind}s -v`)."
            ) from exc

    def names(self, pattern: str = "*", variants: bool = False) -> list[str]:
        """Registered names matching ``pattern``; with ``variants``, every ``<name><suffix>`` twin too
        (``entropy+bal``)."""
        discover()
        names = list(self._entries)
        if variants:
            names += [n + sfx for sfx in self._suffixes for n in self._entries if self._applies[sfx](self._entries[n])]
        return sorted(n for n in names if fnmatch.fnmatch(n, pattern))

    def __contains__(self, name: str) -> bool:
        discover()
        return name in self._entries or any(
            name.endswith(sfx) and name[: -len(sfx)] in self._entries for sfx in self._suffixes)


METHODS: Registry[Any] = Registry("method")
DATASETS: Registry[Any] = Registry("dataset")
IMBALANCES: Registry[Any] = Registry("imbalance")
MODELS: Registry[Any] = Registry("model")
SCENARIOS: Registry[Any] = Registry("scenario")

register_method = METHODS.register
register_dataset = DATASETS.register
register_imbalance = IMBALANCES.register
register_model = MODELS.register
register_scenario = SCENARIOS.register

_loaded: set[Path] = set()


def plugin_dirs(extra: Iterable[str | Path] = ()) -> list[Path]:
    dirs = [builtin_folder("methods"), builtin_folder("datasets")]
    env = os.environ.get("ALBENCH_PLUGINS", "")
    dirs += [Path(p) for p in env.split(os.pathsep) if p]
    dirs += [Path(p) for p in extra]
    return dirs


def _load_entry_points() -> None:
    """Third-party plugins: modules named in the ``albench.plugins`` entry-point group register
    their components on import (``[project.entry-points."albench.plugins"] mine = "my_pkg.al"``)."""
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as exc:
            raise AlbenchError(f"Plugin entry point {ep.name!r} ({ep.value}) failed to import: "
                               f"{type(exc).__name__}: {exc}") from exc


_entry_points_loaded = False


def discover(extra: Iterable[str | Path] = ()) -> None:
    """Import every plugin once (idempotent and cheap after the first call): the engine's built-in
    modules, the plugin folders, and the ``albench.plugins`` entry points."""
    global _entry_points_loaded
    for name in BUILTIN_MODULES:
        importlib.import_module(name)
    builtin = {builtin_folder("methods").resolve(), builtin_folder("datasets").resolve()}
    for folder in plugin_dirs(extra):
        folder = folder.resolve()
        if not folder.is_dir():
            if folder in builtin:
                continue
            raise AlbenchError(f"Plugin folder {folder} does not exist (from --plugins or ALBENCH_PLUGINS).")
        for file in sorted(folder.glob("*.py")):
            if file in _loaded or file.name.startswith("_"):
                continue
            _loaded.add(file)
            tag = hashlib.sha1(str(file).encode()).hexdigest()[:8]
            mod_name = f"albench_plugins.{folder.name}.{file.stem}_{tag}"
            spec = importlib.util.spec_from_file_location(mod_name, file)
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            sys.modules[mod_name] = module
            try:
                spec.loader.exec_module(module)
            except AlbenchError:
                raise
            except Exception as exc:
                _loaded.discard(file)
                raise AlbenchError(f"Plugin {file} failed to import: {type(exc).__name__}: {exc}") from exc
    if not _entry_points_loaded:
        _entry_points_loaded = True
        _load_entry_points()
