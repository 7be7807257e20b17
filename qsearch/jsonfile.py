"""The one reader of a JSON file that must hold an object (split files, declarations, class
maps): unreadable or not an object is one line naming the file."""

from __future__ import annotations

import json
from pathlib import Path

from qsearch.errors import QSearchError


def read_json_object(
    path: Path | str, what: str = "a JSON object", where: str | None = None
) -> dict:
    """The object in ``path``, refused in one line naming ``where`` (default the path) and
    ``what`` it must be."""
    where = where or str(path)
    try:
        found = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise QSearchError(f"{where}: not a readable JSON file ({error})") from None
    if not isinstance(found, dict):
        raise QSearchError(f"{where}: must be {what}")
    return found


__all__ = ["read_json_object"]
