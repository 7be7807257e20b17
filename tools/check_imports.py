"""Architecture checks run by `make lint`: packages import downward only (:data:`LAYERS`), no
import cycle among the modules of qsearch/, searchers/ and evaluators/, the core never imports a
plugin (a plugin is found through its registry and entry point), and `import qsearch` loads
neither torch, optuna nor pymoo. Every import counts, deferred and type-only ones included."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "qsearch": ROOT / "qsearch",
    "qsearch.searchers": ROOT / "searchers",
    "qsearch.evaluators": ROOT / "evaluators",
}
PLUGINS = ("qsearch.searchers", "qsearch.evaluators")
LAYERS = [
    {"errors", "registry", "atomic", "folders", "jsonfile", "data"},
    {"tables", "images"},
    {"codecs"},
    {"models", "transforms"},
    {"search"},
    {"tasks", "searchers", "evaluators", "rate"},
    {"report"},
    {"experiment", "testing", "__init__"},
    {"cli"},
]
"""The package order, lowest first: a package imports its own layer's and lower ones only."""


def layer(module: str) -> tuple[str, int]:
    """The room a module of ours is in (``qsearch.tasks.coco`` -> tasks) and its layer."""
    parts = module.split(".")
    room = parts[1] if len(parts) > 1 else "__init__"
    found = [i for i, rooms in enumerate(LAYERS) if room in rooms]
    if not found:
        raise SystemExit(f"{module}: its package {room!r} is in no layer of LAYERS: place it there")
    return room, found[0]


def upward_imports(found: dict[str, Path]) -> list[str]:
    """Every import, at any depth of a module, of a package above the importer's."""
    problems = []
    for name, path in found.items():
        room, level = layer(name)
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module]
            for target in (t for t in targets if t.split(".")[0] == "qsearch"):
                other, above = layer(target)
                if above > level and other != room:
                    problems.append(
                        f"{name} ({room}) imports {target} ({other}), a package above it"
                    )
    return problems


def modules() -> dict[str, Path]:
    found = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            if package == "qsearch" and path.parent.name in ("searchers", "evaluators"):
                continue
            parts = path.relative_to(folder).with_suffix("").parts
            name = ".".join((package, *parts)).removesuffix(".__init__")
            found[name] = path
    return found


def module_imports(path: Path, known: set[str]) -> set[str]:
    """Modules of ours that ``path`` imports anywhere: at module level, inside functions
    (deferred) and under ``TYPE_CHECKING`` (a cycle behind a deferred import is still one)."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        imported.update(name for name in names if name in known)
    return imported


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return stack[stack.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def main() -> int:
    found = modules()
    graph = {name: module_imports(path, set(found)) - {name} for name, path in found.items()}
    problems = upward_imports(found)
    cycle = find_cycle(graph)
    if cycle:
        problems.append("import cycle: " + " -> ".join(cycle))
    for name, targets in graph.items():
        if not name.startswith(PLUGINS):
            for target in targets:
                if target.startswith(PLUGINS):
                    problems.append(f"the core module {name} imports the plugin {target}")
    heavy = subprocess.run(
        [
            sys.executable,
            "-c",
            "import qsearch, qsearch.cli, sys; "
            "print(' '.join(m for m in ('torch', 'optuna', 'pymoo') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if heavy:
        problems.append(f"`import qsearch` loads {', '.join(heavy)}")
    for problem in problems:
        print(problem)
    print(
        f"{len(found)} modules checked: {'ok' if not problems else f'{len(problems)} problem(s)'}"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
