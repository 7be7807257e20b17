"""A third-party package written into a folder as pip would install it: the module and a
``dist-info`` folder whose ``entry_points.txt`` registers it, found through ``importlib.metadata``
once the folder is on ``sys.path``."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def write_plugin_package(root: Path, module: str, source: str, entry_points: str) -> Path:
    """``root/module/__init__.py`` holding ``source``, registered by ``entry_points`` (the
    text of an ``entry_points.txt``); returns ``root``, to put on ``sys.path``."""
    (root / module).mkdir()
    (root / module / "__init__.py").write_text(textwrap.dedent(source))
    info = root / f"{module}-0.1.dist-info"
    info.mkdir()
    name = module.replace("_", "-")
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)
    importlib.invalidate_caches()
    return root


@contextmanager
def installed_plugin(root: Path, module: str, source: str, entry_points: str) -> Iterator[Path]:
    """The package written into ``root`` and importable (``root`` on ``sys.path``) while the
    block runs."""
    write_plugin_package(root, module, source, entry_points)
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        yield root
    finally:
        sys.path.remove(str(root))
