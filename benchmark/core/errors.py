"""User-facing errors: one paragraph that says what was wrong and what would be right."""
from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping


class AlbenchError(Exception):
    """An error caused by the user's input (suite, names, data). The CLI prints it and exits 2."""


class UnknownNameError(AlbenchError, KeyError):
    """A registry lookup for a name that is not registered."""

    def __init__(self, kind: str, name: str, known: Iterable[str]):
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        msg = (
            f"Unknown {kind} {name!r}.{hint} Registered {kind}s: {', '.join(known) or '(none)'}. "
            f"Run `albench list {kind}s` to see them, or add a plugin file (see docs/adding-a-method.md)."
        )
        super().__init__(msg)
        self.kind, self.name, self.close = kind, name, close

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class DataError(AlbenchError):
    """A dataset file is missing, malformed or fails its checksum."""


class SuiteError(AlbenchError):
    """A suite file cannot be read or does not describe a valid grid."""


def reject_unknown_keys(d: Mapping[str, object], recipe: type, where: str, what: str) -> None:
    """SuiteError naming the keys of ``d`` that the dataclass ``recipe`` has no field for.

    ``where`` is the suite path of the mapping (``learner``, ``scenario.target``); ``what`` says what
    takes the keys (``a learner recipe``).
    """
    from dataclasses import fields

    names = {f.name for f in fields(recipe)}
    unknown = set(d) - names
    if unknown:
        raise SuiteError(f"Unknown {where} key(s) {sorted(unknown)}; {what} takes {sorted(names)}.")
