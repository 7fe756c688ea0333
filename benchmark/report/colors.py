"""One colour per method, the same in every figure and every page of a suite's reports.

A method's colour comes from its name alone, never from which methods a figure happens to show:

- the baseline (``random``) is always near-black;
- every other method prefers the palette slot indexed by a stable hash (MD5) of its name, so the
  same name gets the same colour in every suite where it does not collide;
- within one suite's set of methods (the *universe*: pass all methods the suite reports), names
  are placed in sorted order and a name whose slot is taken moves to the next free slot, so two
  methods of a suite never share a colour while the palette lasts. Past the palette's 20 colours,
  colours repeat with a different marker (``o``, ``s``, ``^``, ...), still one style per method.

The table marks († oracle, ‡ labels outside the budget) are not part of the name for this purpose:
``pfk‡`` and ``pfk`` are one method. Oracle ablations are drawn dashed (:meth:`MethodPalette.linestyle`).
"""
from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable

# Same characters as leaderboard.ORACLE_MARK and EXTRA_LABELS_MARK (leaderboard imports this module).
_MARKS = "†‡"
_ORACLE = "†"

BASELINE_COLOR = "#222222"
# Twenty colours that read on white (none pale: a hash may give any of them to a main method):
# tab10 without its grey (close to the baseline's), five dark tab20b colours, five more.
PALETTE: tuple[str, ...] = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
    "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173",
    "#00a087", "#f0027f", "#e6ab02", "#fb8072", "#b15928", "#5f9ea0",
)
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X")


def method_key(name: str) -> str:
    """The name a colour belongs to: the table marks removed."""
    return name.rstrip(_MARKS).strip()


def preferred_slot(name: str) -> int:
    """The palette slot a method prefers: a stable hash of its name (the same in every process)."""
    digest = hashlib.md5(method_key(name).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % len(PALETTE)


class MethodPalette:
    """Colour, marker and line style per method over a universe of method names (a suite's)."""

    def __init__(self, methods: Iterable[str] = (), baseline: str = "random") -> None:
        self.baseline = method_key(baseline)
        self._slots: dict[str, int] = {}  # method key → slot index over layers (slot // len(PALETTE) = layer)
        taken: set[int] = set()
        n = len(PALETTE)
        for key in sorted({method_key(m) for m in methods} - {self.baseline}):
            pref = preferred_slot(key)
            candidates = (layer * n + (pref + s) % n for layer in itertools.count() for s in range(n))
            slot = next(c for c in candidates if c not in taken)
            taken.add(slot)
            self._slots[key] = slot

    def _slot(self, method: str) -> int:
        key = method_key(method)
        return self._slots.get(key, preferred_slot(key))  # outside the universe: the hash alone

    def color(self, method: str) -> str:
        if method_key(method) == self.baseline:
            return BASELINE_COLOR
        return PALETTE[self._slot(method) % len(PALETTE)]

    def marker(self, method: str) -> str:
        if method_key(method) == self.baseline:
            return MARKERS[0]
        return MARKERS[(self._slot(method) // len(PALETTE)) % len(MARKERS)]

    def linestyle(self, method: str) -> str:
        """Dashed for oracle ablations (†), solid otherwise."""
        return "--" if _ORACLE in method else "-"

    def __contains__(self, method: object) -> bool:
        return isinstance(method, str) and (method_key(method) in self._slots or method_key(method) == self.baseline)


def method_color(method: str, universe: Iterable[str] = (), baseline: str = "random") -> str:
    """A method's colour; pass the suite's methods as ``universe`` to keep them distinct."""
    return MethodPalette(universe, baseline).color(method)
