"""Name registries for searchers, evaluators and search spaces. A name clash is an error;
third-party packages add entries through entry points of the same group name."""

from __future__ import annotations

from importlib.metadata import entry_points

from qsearch.errors import QSearchError


class Registry:
    """Named entries of one kind, plus those other packages declare under the entry-point group."""

    def __init__(self, group: str):
        self.group = group
        self._entries: dict[str, object] = {}
        self._plugins_loaded = False

    def register(self, name: str | None = None):
        """Class decorator: ``@registry.register()`` uses the class's ``name`` attribute."""

        def decorator(obj):
            key = name or obj.name
            if key in self._entries and self._entries[key] is not obj:
                raise QSearchError(f"{self.group}: the name {key!r} is already registered")
            self._entries[key] = obj
            return obj

        return decorator

    def _load_plugins(self) -> None:
        if not self._plugins_loaded:
            self._plugins_loaded = True
            for point in entry_points(group=self.group):
                self.register(point.name)(point.load())

    def __getitem__(self, name: str):
        """The entry ``name``; only its own entry point is loaded (a plugin's dependencies are
        imported when it is used, not when another is)."""
        if name not in self._entries and not self._plugins_loaded:
            for point in entry_points(group=self.group, name=name):
                self.register(point.name)(point.load())
        if name not in self._entries:
            self._load_plugins()
        if name not in self._entries:
            raise QSearchError(
                f"unknown {self.group.split('.')[-1][:-1]} {name!r}; choose from {', '.join(sorted(self._entries))}"
            )
        return self._entries[name]

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
    """The first sentence of a docstring's first paragraph, on one line."""
    paragraph = " ".join(doc.strip().split("\n\n")[0].split())
    end = paragraph.find(". ")
    return paragraph if end < 0 else paragraph[: end + 1]
