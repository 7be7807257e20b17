"""Folders qsearch owns (a run, an adaptation): one writer at a time, and resumed only with the
settings they were started with."""

from __future__ import annotations

import fcntl
from pathlib import Path

from qsearch.errors import QSearchError

LOCK = ".lock"

SPEC = "spec.json"
"""The options a run was made with, as the command line gave them (``qsearch.cli.spec``)."""


def lock_folder(directory: Path):
    """Hold ``directory`` for this process (released when the handle closes): a second writer
    of the same run or adaptation is refused in one line."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle = open(directory / LOCK, "a+")
    except OSError as error:
        raise QSearchError(f"{directory}: cannot write the run here ({error.strerror})") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise QSearchError(f"{directory}: another qsearch process is writing here") from None
    return handle


def check_identity(directory: Path, recorded: dict[str, str], current: dict[str, str]) -> None:
    """Refuse to resume a run with anything that decides its numbers changed, naming each change."""
    changed = [
        f"{key}: {recorded.get(key, 'unset')} -> {current.get(key, 'unset')}"
        for key in sorted(set(recorded) | set(current))
        if recorded.get(key) != current.get(key)
    ]
    if changed:
        raise QSearchError(
            f"{directory}: was started with other settings ({'; '.join(changed)}); "
            "use a new --out or the original settings"
        )


__all__ = ["LOCK", "check_identity", "lock_folder"]
