"""A model file's input declaration, ``M.json`` beside ``M``: mean, std and the input geometry
every task declares alike (input size, resize, pad, interpolation), checked key by key, never
guessed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

from qsearch.atomic import write_text
from qsearch.errors import QSearchError
from qsearch.images.geometry import GEOMETRY_KEYS, InputGeometry
from qsearch.jsonfile import read_json_object

CLASSIFY = "classify"
"""The task of the classifiers of :mod:`qsearch.models`: what their sidecars and adapters
record (a declaration or an adapter of another task is refused on this path)."""
SIDECAR_KEYS = {"mean", "std", "input_size", "resize", "pad", "interpolation"}


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
    return checked_inputs(declared, str(path))


def checked_inputs(declared: dict, where: str) -> dict:
    """A classifier's declared inputs (a sidecar's, or those given with a model), checked key
    by key and refused in one line naming ``where``: the geometry keys every task declares
    alike, and mean and std (one number or three, made three)."""
    unknown = sorted(set(declared) - SIDECAR_KEYS)
    if unknown:
        raise QSearchError(
            f"{where}: unknown key {unknown[0]!r} for a classifier (keys: "
            f"{', '.join(sorted(SIDECAR_KEYS))})"
        )
    checked = dict(declared)
    for key in ("mean", "std"):
        if key in checked:
            checked[key] = three_numbers(checked[key], f"{where}: {key}")
    given = {key: checked[key] for key in GEOMETRY_KEYS if key in checked}
    try:  # keys absent take placeholders any value fits: the network's configuration fills them
        InputGeometry.from_declared({"input_size": 8, "resize": "stretch", **given})
    except (QSearchError, TypeError, ValueError) as error:
        raise QSearchError(f"{where}: {error}") from None
    return checked


def three_numbers(value: Any, where: str) -> tuple[float, float, float]:
    """A per-channel value declared as one number or three (refused in one line otherwise)."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    numbers = isinstance(value, (list, tuple)) and len(value) == 3
    if numbers and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return float(value[0]), float(value[1]), float(value[2])
    if number:
        return float(value), float(value), float(value)
    raise QSearchError(
        f"{where} {value!r} must be a number or three, in the network's channel order"
    )


class DeclaresInput(Protocol):
    """What a declaration is written from: a classifier's normalisation and preprocessing."""

    mean: Any
    std: Any
    preprocessing: Any


def write_sidecar(model_file: Path, classifier: DeclaresInput) -> Path:
    """Write the input declaration a classifier uses beside its model file."""
    path = sidecar_path(model_file)
    declared = {
        "task": CLASSIFY,
        "mean": list(classifier.mean),
        "std": list(classifier.std),
        **classifier.preprocessing.declared(),
    }
    write_text(path, json.dumps(declared, indent=2) + "\n")
    return path
