"""A searcher's options, each declared once as a class attribute: kind, range or choices,
default and help, checked on every value and described in ``qsearch list``."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

from qsearch.errors import QSearchError


@dataclass(frozen=True)
class Option:
    """A searcher option, declared once as a class attribute (``step = Option(int, 1, 50,
    default=7, help=...)``): its type, its range or choices, whether it is a list of such
    values, its default and what it does. Declarations check every value
    (:meth:`Searcher.configure`) and describe the options in ``qsearch list``; ``get_params``
    reports them for the run's identity. On a searcher the attribute reads the value it was
    configured with."""

    kind: type = int
    """int, float, bool or str (an int is a float too; a bool is neither)."""
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] | None = None
    many: bool = False
    """A non-empty list of such values (a tuple once configured)."""
    length: int | None = None
    """With ``many``: exactly this many values."""
    optional: bool = False
    """None is allowed (the searcher then decides, e.g. from the evaluator)."""
    help: str = ""
    default: Any = None
    name: str = ""
    """The attribute's name (set when the class is made)."""

    def __set_name__(self, owner: type, name: str) -> None:
        object.__setattr__(self, "name", name)

    def __get__(self, searcher: Any, owner: type | None = None) -> Any:
        """On the class, the declaration; on a searcher, its value (the default until set)."""
        if searcher is None:
            return self
        return searcher.__dict__.get(self.name, self.default)

    def check(self, where: str, value: Any) -> Any:
        """``value`` as the searcher keeps it (a list as a tuple), or a one-line error."""
        if value is None and self.optional:
            return None
        if not self.many:
            self._check_one(where, value)
            return value
        if not isinstance(value, (list, tuple)) or not value:
            raise QSearchError(f"{where}={value!r} is not a non-empty list")
        if self.length is not None and len(value) != self.length:
            raise QSearchError(f"{where}={value!r} is not a list of {self.length} values")
        for item in value:
            self._check_one(where, item)
        return tuple(value)

    def _check_one(self, where: str, value: Any) -> None:
        if self.choices is not None and value not in self.choices:
            raise QSearchError(
                f"{where}={value!r} is not one of {', '.join(map(str, self.choices))}"
            )
        if not _is_kind(value, self.kind):
            raise QSearchError(f"{where}={value!r} is not {_KIND_NAMES[self.kind]}")
        if self.low is not None and float(value) < self.low:
            raise QSearchError(f"{where}={value!r} must be at least {self.low:g}")
        if self.high is not None and float(value) > self.high:
            raise QSearchError(f"{where}={value!r} must be at most {self.high:g}")

    def describe(self) -> str:
        """One phrase: type, range or choices."""
        if self.choices is not None:
            kind = "one of " + "|".join(map(str, self.choices))
        else:
            kind = f"a list of {_PLURALS[self.kind]}" if self.many else _KIND_NAMES[self.kind]
        if self.low is not None and self.high is not None:
            kind += f" in {self.low:g}..{self.high:g}"
        elif self.low is not None:
            kind += f" >= {self.low:g}"
        return kind + (", or null" if self.optional else "")


_KIND_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a name"}
_PLURALS = {int: "integers", float: "numbers", bool: "switches", str: "names"}


def _is_kind(value: Any, kind: type) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind is int:
        return isinstance(value, numbers.Integral)
    if kind is float:
        return isinstance(value, numbers.Real)
    return isinstance(value, kind)


__all__ = ["Option"]
