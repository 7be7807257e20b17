"""What a task's model file expects and gives, declared in the sidecar ``M.json`` beside it
(``"task": "detect"``, ``"segment"`` or a plugin task's name) or on the command line
(``--declare key=value``, which wins), checked key by key. A missing key the task needs is one
line naming the sidecar and the key: nothing about a network's input or output is guessed."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qsearch.errors import QSearchError
from qsearch.images.geometry import InputGeometry
from qsearch.jsonfile import read_json_object
from qsearch.models.runtime import Runtime
from qsearch.models.sidecar import read_declaration, sidecar_path, three_numbers
from qsearch.tasks.inputs import InputSpec
from qsearch.tasks.task import TASKS

INPUT_KEYS = ("input_size", "resize", "channels", "scale", "mean", "std", "layout")
OPTIONAL = {"task", "pad", "interpolation"}


@dataclass
class TaskModel:
    """A model file with its declared input and output: ``spec`` prepares its batch, ``head``
    reads its output (the task's reader, such as :class:`~qsearch.tasks.boxes.DetectorHead`)."""

    runtime: Runtime
    task: str
    spec: InputSpec
    head: Any

    def describe(self) -> str:
        """One line: the file, its input and its output."""
        return f"{self.runtime.describe()}; input {self.spec.describe()}; output {self.head.describe()}"

    def identity(self) -> dict[str, str]:
        """The model's contents and every declared step before and after it."""
        return {
            "model": self.runtime.describe(),
            "input": self.spec.describe(),
            "output": self.head.describe(),
        }


def parse_declarations(pairs: list[str] | None) -> dict:
    """``key=value`` pairs from the command line, values read as JSON where they parse
    (``classes=80``, ``mean=[0,0,0]``) and as text otherwise (``resize=letterbox``); ``@FILE``
    reads a whole declaration (a JSON object), pairs after it winning."""
    declared: dict = {}
    for pair in pairs or ():
        if pair.startswith("@"):
            declared.update(_declaration_file(Path(pair[1:])))
            continue
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise QSearchError(f"--declare {pair!r}: expected key=value")
        try:
            declared[key.strip()] = json.loads(text)
        except ValueError:
            declared[key.strip()] = text.strip()
    return declared


def _declaration_file(path: Path) -> dict:
    return read_json_object(path, "a JSON object of declared keys", f"--declare @{path}")


def load_task_model(model: Path, task: str, declared: dict | None = None) -> TaskModel:
    """The model file ``model`` for ``task``, its sidecar overridden by ``declared``."""
    spec, head = declared_steps(model, task, declared)
    return TaskModel(Runtime(Path(model)), task, spec, head)


def declared_steps(model: Path, task: str, declared: dict | None = None) -> tuple:
    """The declared input and output of ``model`` (its sidecar overridden by ``declared``),
    checked before anything is loaded: the file first, then every key and value."""
    model = Path(model)
    if not model.is_file():
        raise QSearchError(f"{model}: no such model file")
    given = {**read_declaration(model), **(declared or {})}
    where = f"{sidecar_path(model)} (or --declare)"
    _check_keys(given, task, where)
    try:
        return _input_spec(given), TASKS[task].head(given)
    except (TypeError, ValueError, QSearchError) as error:
        raise QSearchError(f"{where}: {error}") from None


def _check_keys(given: dict, task: str, where: str) -> None:
    """Refuse an unknown key, another task, or a missing key the task needs."""
    kind = TASKS[task]
    known = set(INPUT_KEYS) | set(kind.head_keys) | kind.optional_keys | OPTIONAL
    unknown = sorted(set(given) - known)
    if unknown:
        raise QSearchError(
            f"{where}: unknown key {unknown[0]!r} (keys: {', '.join(sorted(known))})"
        )
    if given.get("task", task) != task:
        raise QSearchError(f"{where}: declares task {given['task']!r}, not {task!r}")
    needed = [*INPUT_KEYS, *kind.needed_keys(given)]
    if str(given.get("resize", "")).startswith("letterbox"):
        needed.append("pad")
    absent = [key for key in needed if key not in given]
    if absent:
        raise QSearchError(
            f"{where}: no {absent[0]!r}, which a {task} model must declare (needs: "
            f"{', '.join(needed)}); nothing about a network's input or output is guessed"
        )


def _input_spec(given: dict) -> InputSpec:
    geometry = InputGeometry.from_declared(given)
    return InputSpec(
        **dataclasses.asdict(geometry), channels=str(given["channels"]).lower(),
        scale=float(given["scale"]), mean=three_numbers(given["mean"], "mean"),
        std=three_numbers(given["std"], "std"), layout=str(given["layout"]).lower(),
    )  # fmt: skip


__all__ = [
    "TaskModel",
    "declared_steps",
    "load_task_model",
    "parse_declarations",
]
