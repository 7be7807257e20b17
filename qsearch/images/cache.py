"""The prepared-image cache: plain arrays (``.npz``, loaded without pickle) and a JSON index
entry per prepared set, keyed by everything the set depends on, least recently used first
out when the cache outgrows its limit. A cache folder that cannot be used degrades to no
cache with one warning: a cache must never stop a run."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qsearch.atomic import atomic_write

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 8 * 2**30
"""Bytes kept by default (``QSEARCH_CACHE_LIMIT`` overrides): about 60 sets of 800 224x224 crops."""


def default_cache_dir() -> Path:
    """``QSEARCH_CACHE``, else ``~/.cache/qsearch``."""
    return Path(os.environ.get("QSEARCH_CACHE", Path.home() / ".cache" / "qsearch"))


def default_limit() -> int:
    """``QSEARCH_CACHE_LIMIT`` in bytes (suffixes K, M, G allowed), else :data:`DEFAULT_LIMIT`."""
    text = os.environ.get("QSEARCH_CACHE_LIMIT", "").strip().upper()
    if not text:
        return DEFAULT_LIMIT
    factor = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1], 1)
    try:
        limit = int(float(text.rstrip("KMG")) * factor)
    except ValueError:
        limit = 0
    if limit <= 0:
        log.warning(
            "QSEARCH_CACHE_LIMIT=%r is not a positive size in bytes; using %d", text, DEFAULT_LIMIT
        )
        return DEFAULT_LIMIT
    return limit


def checksums(arrays: dict[str, np.ndarray]) -> dict[str, str]:
    """Each array's sha1 over its dtype, shape and bytes: what an index entry vouches for."""
    found = {}
    for name, array in sorted(arrays.items()):
        digest = hashlib.sha1(f"{array.dtype.str}{array.shape}".encode())
        digest.update(np.ascontiguousarray(array).data)
        found[name] = digest.hexdigest()
    return found


@dataclass(frozen=True)
class Entry:
    """One prepared set in the cache: its key, size on disk, last use and index entry."""

    key: str
    bytes: int
    last_used: float
    index: dict


class ImageCache:
    """Prepared image sets on disk: ``images-KEY.npz`` (arrays) and ``images-KEY.json`` (index)."""

    _warned: set[str] = set()

    def __init__(self, folder: Path | str | None = None, limit: int | None = None):
        self.folder = Path(folder) if folder is not None else default_cache_dir()
        self.limit = default_limit() if limit is None else limit

    def _paths(self, key: str) -> tuple[Path, Path]:
        return self.folder / f"images-{key}.npz", self.folder / f"images-{key}.json"

    def _unusable(self, error: OSError) -> None:
        if str(self.folder) not in self._warned:
            self._warned.add(str(self.folder))
            log.warning(
                "image cache %s is unusable (%s): working without a cache",
                self.folder,
                error.strerror or error,
            )

    def read(self, key: str) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        """The arrays and index entry stored under ``key``, or None (missing or damaged)."""
        arrays_path, index_path = self._paths(key)
        if not (arrays_path.exists() and index_path.exists()):
            return None
        try:
            index = json.loads(index_path.read_text())
            with np.load(arrays_path, allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
            if not isinstance(index, dict) or index.get("arrays") != checksums(arrays):
                raise ValueError("its arrays are not the ones its index entry records")
            os.utime(arrays_path)
        except (OSError, ValueError, KeyError) as error:
            log.warning(
                "%s: damaged cache entry (%s), preparing the images again", arrays_path, error
            )
            self.remove(key)
            return None
        return arrays, index

    def write(self, key: str, arrays: dict[str, np.ndarray], index: dict[str, Any]) -> None:
        """Store a prepared set (atomically), then trim the cache to its limit."""
        arrays_path, index_path = self._paths(key)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with atomic_write(arrays_path, "wb") as handle:
                np.savez(handle, **arrays)  # type: ignore[arg-type]  # the stub fears a key named allow_pickle
            with atomic_write(index_path, "w") as handle:
                json.dump({**index, "arrays": checksums(arrays), "created": time.time()}, handle)
            self.trim(keep=key)
        except OSError as error:
            self._unusable(error)

    def entries(self) -> list[Entry]:
        """Every complete entry, least recently used first."""
        if not self.folder.is_dir():
            return []
        found = []
        for arrays_path in self.folder.glob("images-*.npz"):
            key = arrays_path.stem[len("images-") :]
            index_path = self._paths(key)[1]
            try:
                index = json.loads(index_path.read_text())
                stat = arrays_path.stat()
            except (OSError, ValueError):
                continue
            found.append(Entry(key, stat.st_size + index_path.stat().st_size, stat.st_mtime, index))
        return sorted(found, key=lambda entry: entry.last_used)

    def trim(self, keep: str | None = None) -> int:
        """Remove least recently used entries until the cache fits its limit; returns how many."""
        entries = self.entries()
        total, removed = sum(e.bytes for e in entries), 0
        for entry in entries:
            if total <= self.limit:
                break
            if entry.key != keep:
                self.remove(entry.key)
                total -= entry.bytes
                removed += 1
        return removed

    def remove(self, key: str) -> None:
        """Delete one entry."""
        for path in self._paths(key):
            path.unlink(missing_ok=True)

    def clear(self) -> int:
        """Delete every entry (and any leftover temporary file); returns how many entries."""
        entries = self.entries()
        for entry in entries:
            self.remove(entry.key)
        for leftover in self.folder.glob("images-*.tmp*") if self.folder.is_dir() else ():
            leftover.unlink(missing_ok=True)
        return len(entries)
