"""A model file's input declaration, ``M.json`` beside ``M``: mean, std, input size, resize
and interpolation, checked key by key, never guessed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

from qsearch.atomic import write_text
from qsearch.errors import QSearchError
from qsearch.jsonfile import read_json_object

CLASSIFY = "classify"
"""The task of the classifiers of :mod:`qsearch.models`: what their sidecars and adapters
record (a declaration or an adapter of another task is refused on this path)."""
SIDECAR_KEYS = {"mean", "std", "input_size", "resize", "interpolation"}


def sidecar_path(model_file: Path) -> Path:
    """Where a model file's input declaration lives: ``M.json`` beside ``M``."""
    return model_file.with_name(model_file.name + ".json")


def read_declaration(model_file: Path) -> dict:
    """The declaration beside a model file as written (empty when absent): the one reader of
    every task's ``M.json``, whose ``task`` key (``classify`` when absent, as in sidecars
    written before it existed) says which keys it holds."""
    path = sidecar_path(model_file)
    return read_json_object(path, "a JSON object of declared keys") if path.exists() else {}


def read_sidecar(model_file: Path) -> dict:
    """A classifier's input declaration beside its model file, checked key by key (empty when
    absent); a declaration of another task is refused, naming it."""
    path = sidecar_path(model_file)
    declared = read_declaration(model_file)
    task = declared.pop("task", CLASSIFY)
    if task != CLASSIFY:
        raise QSearchError(f"{path}: declares a {task} model: give --task {task}")
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


class DeclaresInput(Protocol):
    """What a declaration is written from: a classifier's normalisation and preprocessing."""

    mean: Any
    std: Any
    preprocessing: Any


def write_sidecar(model_file: Path, classifier: DeclaresInput) -> Path:
    """Write the input declaration a classifier uses beside its model file."""
    path = sidecar_path(model_file)
    pre = classifier.preprocessing
    write_text(
        path,
        json.dumps(
            {
                "task": CLASSIFY,
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
