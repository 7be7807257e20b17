"""Atomic file writes: a reader (or a crash) never sees half a file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_write(path: Path | str, mode: str = "w") -> Iterator[IO[Any]]:
    """Write to a temporary file beside ``path``, flush it to disk, then rename it over ``path``."""
    path = Path(path)
    temporary = path.with_name(f"{path.name}.tmp{os.getpid()}")
    try:
        with open(temporary, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


def write_text(path: Path | str, text: str) -> None:
    """``Path.write_text``, atomically."""
    with atomic_write(path, "w") as handle:
        handle.write(text)


def write_bytes(path: Path | str, data: bytes) -> None:
    """``Path.write_bytes``, atomically."""
    with atomic_write(path, "wb") as handle:
        handle.write(data)


def check_new_file(path: Path, overwrite: bool = False) -> None:
    """Refuse, before any work, to replace a file the user has unless ``overwrite`` is given."""
    from qsearch.errors import QSearchError

    if path.is_dir():
        raise QSearchError.about(f"{{out}} {path}: a folder, not a file")
    if path.exists() and not overwrite:
        raise QSearchError.about(
            f"{{out}} {path}: already exists; give {{overwrite}} to replace it, or another name"
        )


def check_output_folder(folder: Path, marker: str, kind: str) -> None:
    """Refuse, before any work, a folder that holds files but not ``marker`` (what qsearch
    writes there first): a user's own files are never overwritten."""
    from qsearch.errors import QSearchError

    if folder.exists() and not folder.is_dir():
        raise QSearchError.about(f"{{out}} {folder}: a file, not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / marker).exists():
        raise QSearchError.about(
            f"{{out}} {folder}: holds files but no {kind} ({marker} missing); choose an empty or "
            "new folder"
        )
