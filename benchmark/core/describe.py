"""What ``albench list <kind> -v`` shows of a registered component: its docstring, its parameters with
their defaults, and what a user needs to know to use it (a dataset's files on disk, a method's
version, what it asks the loop to compute and the space ``albench tune`` searches)."""
from __future__ import annotations

import inspect
import sys
import textwrap
from collections.abc import Callable
from typing import Any


def _doc(obj: Any) -> str:
    return inspect.cleandoc(getattr(obj, "__doc__", None) or "")


def constructor_signature(factory: Any) -> list[inspect.Parameter] | None:
    """Every parameter of a component's constructor but ``self`` (a ``+bal`` twin: its base method's, to
    which it passes them on); None when it cannot be introspected."""
    target = getattr(factory, "base_factory", None) or factory
    init = target.__init__ if inspect.isclass(target) else target
    try:
        return [p for p in inspect.signature(init).parameters.values() if p.name != "self"]
    except (TypeError, ValueError):
        return None


def constructor_defaults(factory: Any) -> dict[str, Any]:
    """The constructor's keyword parameters that have a default, with it."""
    return {p.name: p.default for p in constructor_signature(factory) or ()
            if p.default is not inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def parameters(factory: Callable[..., Any]) -> list[str]:
    """``name: type = default`` for each keyword parameter of a component's constructor."""
    out = []
    for p in constructor_signature(factory) or ():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        annotation = "" if p.annotation is inspect.Parameter.empty else f": {_annotation(p.annotation)}"
        default = "" if p.default is inspect.Parameter.empty else f" = {p.default!r}"
        out.append(f"{p.name}{annotation}{default}")
    return out


def _annotation(annotation: Any) -> str:
    return annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))


def module_section(factory: Callable[..., Any]) -> str:
    """The docstring of the plugin file that defines ``factory`` (a dataset file's layout on disk)."""
    module = sys.modules.get(getattr(factory, "__module__", "") or "")
    return _doc(module)


def describe(kind: str, name: str, factory: Callable[..., Any]) -> str:
    """The verbose listing of one component: name, docstring, parameters and kind-specific facts."""
    lines = [name]
    doc = _doc(factory)
    if doc:
        lines.append(textwrap.indent(doc, "    "))
    params = parameters(factory)
    lines.append("    parameters: " + (", ".join(params) if params else "(none)"))
    if kind == "methods":
        version = getattr(factory, "version", None)
        if version is not None:
            lines.append(f"    version: {version} (part of every cell id; bumped when its results change)")
        needs = _needs(factory)
        if needs:
            lines.append(f"    needs: {needs}")
        space = getattr(factory, "search_space", None)
        lines.append("    search space (albench tune): " + (", ".join(f"{k} {v!r}" for k, v in space.items())
                                                            if space else "(none declared)"))
    if kind == "datasets":
        layout = module_section(factory)
        if layout:
            lines.append("    on disk (under --data-root or $ALBENCH_DATA):")
            lines.append(textwrap.indent(layout, "        "))
    return "\n".join(lines) + "\n"


def _needs(factory: Callable[..., Any]) -> str:
    """The Needs a default instance declares (only the fields it sets)."""
    try:
        needs = factory().needs()
    except Exception:  # noqa: BLE001  (a method that needs parameters to build: nothing to show)
        return ""
    from dataclasses import fields

    wanted = [f"{f.name}={getattr(needs, f.name)!r}" for f in fields(needs) if getattr(needs, f.name) not in (False, 0, None)]
    return ", ".join(wanted) or "nothing beyond the labelled set"
