"""A model file's input declaration, ``M.json`` beside ``M``: mean, std, input size, resize
and interpolation, checked key by key, never guessed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qsearch.atomic import write_text
from qsearch.errors import QSearchError

if TYPE_CHECKING:
    from qsearch.models.classifier import Classifier


SIDECAR_KEYS = {"mean", "std", "input_size", "resize", "interpolation"}


def sidecar_path(model_file: Path) -> Path:
    """Where a model file's input declaration lives: ``M.json`` beside ``M``."""
    return model_file.with_name(model_file.name + ".json")


def read_sidecar(model_file: Path) -> dict:
    """The input declaration beside a model file, checked key by key (empty when absent)."""
    path = sidecar_path(model_file)
    if not path.exists():
        return {}
    declared = read_json_object(path, f"a JSON object with keys {', '.join(sorted(SIDECAR_KEYS))}")
    unknown = sorted(set(declared) - SIDECAR_KEYS)
    if unknown:
        raise QSearchError(
            f"{path}: unknown key {unknown[0]!r} (keys: {', '.join(sorted(SIDECAR_KEYS))})"
        )
    for key, value in declared.items():
        problem = _SIDECAR_CHECKS[key](value)
        if problem:
            raise QSearchError(f"{path}: {key} {problem}")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in declared.items()}


def read_json_object(path: Path, what: str = "a JSON object", where: str | None = None) -> dict:
    """A JSON file that must hold an object, refused in one line naming ``where`` (the path)."""
    where = where or str(path)
    try:
        found = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise QSearchError(f"{where}: not a readable JSON file ({error})") from None
    if not isinstance(found, dict):
        raise QSearchError(f"{where}: must be {what}")
    return found


def _three_numbers(value: Any) -> str | None:
    numbers = isinstance(value, list) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
    )
    return None if numbers and len(value) == 3 else "must be three numbers [R, G, B]"


def _pixels(value: Any) -> str | None:
    whole = isinstance(value, int) and not isinstance(value, bool)
    return None if whole and value >= 8 else "must be a whole number of pixels, at least 8"


def _interpolation(value: Any) -> str | None:
    from qsearch.images import INTERPOLATIONS

    return None if value in INTERPOLATIONS else f"must be one of {', '.join(INTERPOLATIONS)}"


_SIDECAR_CHECKS = {
    "mean": _three_numbers,
    "std": _three_numbers,
    "input_size": _pixels,
    "resize": _pixels,
    "interpolation": _interpolation,
}


def write_sidecar(model_file: Path, classifier: Classifier) -> Path:
    """Write the input declaration a classifier uses beside its model file."""
    path = sidecar_path(model_file)
    pre = classifier.preprocessing
    write_text(
        path,
        json.dumps(
            {
                "mean": list(classifier.mean),
                "std": list(classifier.std),
                "input_size": pre.input_size,
                "resize": pre.resize_size,
                "interpolation": pre.interpolation,
            },
            indent=2,
        )
        + "\n",
    )
    return path
