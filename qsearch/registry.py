"""Name registries for searchers, evaluators and search spaces. A name clash is an error;
third-party packages add entries through entry points of the same group name."""

from __future__ import annotations

import re
from importlib.metadata import entry_points

from qsearch.errors import QSearchError


class Registry:
    """Named entries of one kind, plus those other packages declare under the entry-point group."""

    def __init__(self, group: str):
        self.group = group
        self._entries: dict[str, object] = {}

    def register(self, name: str | None = None):
        """Class decorator: ``@registry.register()`` uses the class's ``name`` attribute."""

        def decorator(obj):
            key = name or obj.name
            if key in self._entries and self._entries[key] is not obj:
                raise QSearchError(f"{self.group}: the name {key!r} is already registered")
            self._entries[key] = obj
            return obj

        return decorator

    def _load_plugins(self, name: str | None = None) -> None:
        """Load the entry points of the group (only ``name``'s when given) not loaded yet; the
        installed packages are read each time, so a plugin installed later is found."""
        points = (
            entry_points(group=self.group, name=name) if name else entry_points(group=self.group)
        )
        for point in points:
            if point.name not in self._entries:
                self.register(point.name)(point.load())

    def __getitem__(self, name: str):
        """The entry ``name``; only its own entry point is loaded (a plugin's dependencies are
        imported when it is used, not when another is)."""
        if name not in self._entries:
            self._load_plugins(name)
        if name not in self._entries:
            self._load_plugins()
            choices = ", ".join(sorted(self._entries))
            raise QSearchError(
                f"unknown {self.group.split('.')[-1][:-1]} {name!r}; choose from {choices}"
            )
        return self._entries[name]

    def __iter__(self):
        """The names, plugins included, sorted."""
        return iter(name for name, _ in self.items())

    def names(self) -> list[str]:
        """Every name, plugins' included, without loading a plugin (for help texts)."""
        return sorted({*self._entries, *(p.name for p in entry_points(group=self.group))})

    def __contains__(self, name: str) -> bool:
        self._load_plugins()
        return name in self._entries

    def items(self):
        """Every (name, entry), plugins included, sorted by name."""
        self._load_plugins()
        return sorted(self._entries.items())

    def describe(self) -> list[tuple[str, str]]:
        """(name, first sentence of its docstring, whole) of every entry."""
        return [(name, first_sentence(obj.__doc__ or "")) for name, obj in self.items()]


def first_sentence(doc: str) -> str:
    """The first sentence of a docstring's first paragraph, on one line, as plain text (reST
    roles and literals shown as their text: ``sampler="gp"`` reads sampler="gp")."""
    paragraph = " ".join(doc.strip().split("\n\n")[0].split())
    paragraph = re.sub(r":[a-z]+:`~?([^`]*)`", r"\1", paragraph).replace("``", "")
    end = paragraph.find(". ")
    return paragraph if end < 0 else paragraph[: end + 1]
