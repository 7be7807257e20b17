"""Name registries for searchers, evaluators and search spaces. A name clash is an error;
third-party packages add entries through entry points of the same group name."""
from __future__ import annotations

from importlib.metadata import entry_points

from qsearch.errors import QSearchError


class Registry:
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
        self._load_plugins()
        if name not in self._entries:
            raise QSearchError(f"unknown {self.group.split('.')[-1][:-1]} {name!r}; choose from {', '.join(sorted(self._entries))}")
        return self._entries[name]

    def __contains__(self, name: str) -> bool:
        self._load_plugins()
        return name in self._entries

    def items(self):
        self._load_plugins()
        return sorted(self._entries.items())

    def describe(self) -> list[tuple[str, str]]:
        """(name, first docstring line) of every entry."""
        return [(name, (obj.__doc__ or "").strip().splitlines()[0] if obj.__doc__ else "") for name, obj in self.items()]
