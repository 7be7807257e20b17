"""Adapters: the parameters an adaptation changed, kept apart from the base model they change
(the PEFT convention). An adapter file is ``safetensors`` (tensors only, loaded without pickle)
whose metadata names its base model and the sha256 of the base's weights; applying it to any
other base is refused, so that a figure is never computed with weights the user did not mean.
A full model file for serving code is materialised on request (:func:`export_model`)."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import os
import warnings
from pathlib import Path

import torch

from qsearch.atomic import atomic_write
from qsearch.errors import QSearchError
from qsearch.models.classifier import Classifier
from qsearch.models.runtime import file_digest, names_a_model_file
from qsearch.models.sidecar import CLASSIFY, write_sidecar

FORMAT = "qsearch-adapter/1"


@dataclasses.dataclass(frozen=True)
class AdapterFile:
    """An adapter as stored: its tensors by parameter name and what it was made from."""

    path: Path
    tensors: dict[str, torch.Tensor]
    base_model: str
    base_sha256: str
    learn: str
    task: str = CLASSIFY

    @classmethod
    def read(cls, path: Path | str) -> AdapterFile:
        """Read an adapter, refused in one line when it is not one."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file, safe_open

        path = Path(path)
        if not path.is_file():
            raise QSearchError(f"{path}: no such adapter file")
        try:
            with safe_open(str(path), framework="pt") as handle:
                metadata = handle.metadata() or {}
            tensors = load_file(str(path))
        except (SafetensorError, OSError, ValueError) as error:
            raise QSearchError(f"{path}: not a safetensors adapter ({error})") from None
        missing = [k for k in ("base_model", "base_sha256", "learn") if k not in metadata]
        if metadata.get("format") != FORMAT or missing:
            raise QSearchError(f"{path}: not a qsearch adapter (no {FORMAT!r} in its metadata)")
        return cls(
            path, tensors, metadata["base_model"], metadata["base_sha256"], metadata["learn"],
            metadata.get("task", CLASSIFY),
        )  # fmt: skip


def write_adapter(path: Path, module: torch.nn.Module, names: list[str], base, learn: str) -> Path:
    """The parameters ``names`` of ``module`` as an adapter of ``base`` (anything with the
    base's ``name``, weights ``digest`` and ``task``), written atomically."""
    from safetensors.torch import save

    state = module.state_dict()
    tensors = {name: state[name].detach().cpu().contiguous() for name in names}
    metadata = {
        "format": FORMAT,
        "base_model": base.name,
        "base_sha256": base.digest,
        "task": base.task,
        "learn": learn,
    }
    with atomic_write(path, "wb") as handle:
        handle.write(save(tensors, metadata=metadata))
    return path


def adapted_module(
    module: torch.nn.Module, adapter: AdapterFile, task: str, name: str, digest: str
) -> torch.nn.Module:
    """``module`` (the base ``name`` of a ``task`` network, its weights hashing to ``digest``)
    with the adapter's tensors in place: the one place an adapter is applied, for every task.
    Refused in one line when the adapter adapts another task or other weights, or when a
    tensor names no parameter of the base or has another shape."""
    if adapter.task != task:
        raise QSearchError(
            f"{adapter.path}: adapts a {adapter.task} network, not a {task} one; give it with "
            f"--task {adapter.task}"
        )
    if adapter.base_sha256 != digest:
        raise QSearchError(
            f"{adapter.path}: adapts {adapter.base_model} (weights sha256 "
            f"{adapter.base_sha256[:16]}), not {name} (sha256 {digest[:16]})"
        )
    state = module.state_dict()
    for key, tensor in adapter.tensors.items():
        if key not in state or state[key].shape != tensor.shape:
            raise QSearchError(
                f"{adapter.path}: its tensor {key!r} {tuple(tensor.shape)} fits no parameter "
                f"of {name}"
            )
    module.load_state_dict(adapter.tensors, strict=False)
    return module


def apply_adapter(base: Classifier, path: Path | str) -> Classifier:
    """``base`` with the adapter's parameters in place of its own (a copy; ``base`` is kept),
    refused as :func:`adapted_module` says."""
    adapter = AdapterFile.read(path)
    module = adapted_module(
        copy.deepcopy(base.module), adapter, CLASSIFY, base.name, base.weights_digest
    )
    return dataclasses.replace(
        base, name=f"{base.name} + adapter {adapter.path}", module=module, runner=None,
        weights_digest=adapted_digest(base.weights_digest, adapter.path),
    )  # fmt: skip


def adapted_digest(base_digest: str, adapter: Path | str) -> str:
    """Which network a base with an adapter is: its weights' and the adapter's bytes together
    (a run's identity tells adapted from frozen, and one adapter from another)."""
    return hashlib.sha256((base_digest + file_digest(Path(adapter))).encode()).hexdigest()


def load_adapted(adapter: Path | str, model: str | None = None, weights=None, device=None,
                 declared: dict | None = None) -> Classifier:  # fmt: skip
    """The base network with the adapter applied: ``model`` (and ``weights``), or the base the
    adapter names where ``model`` is not given; refused in one line when that base is not here."""
    from qsearch.models.classifier import load_classifier

    base = model or AdapterFile.read(adapter).base_model
    if model is None and names_a_model_file(base) and not Path(base).exists():
        raise QSearchError(
            f"{adapter}: its base model {base} is not here; give --model BASE (the same weights)"
        )
    return apply_adapter(load_classifier(base, weights, device, declared), adapter)


def export_model(classifier: Classifier, out: Path) -> Path:
    """``classifier`` as a model file serving code loads: TorchScript for ``.pt``, ONNX for
    ``.onnx``, with its input declaration beside it (``out.json``)."""
    module = copy.deepcopy(classifier.module).cpu().eval()
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    geometry = classifier.preprocessing
    example = torch.zeros(1, 3, geometry.height, geometry.width)
    with warnings.catch_warnings():  # both exporters warn of deprecation; both are exact here
        warnings.simplefilter("ignore")
        if out.suffix == ".onnx":
            temporary = out.with_name(f"{out.name}.tmp{os.getpid()}")
            torch.onnx.export(
                module, (example,), str(temporary), input_names=["x"], output_names=["logits"],
                dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}}, dynamo=False,
            )  # fmt: skip
            temporary.replace(out)
        else:
            traced = torch.jit.trace(module, example)
            with atomic_write(out, "wb") as handle:
                torch.jit.save(traced, handle)
    write_sidecar(out, classifier)
    return out


__all__ = [
    "FORMAT",
    "AdapterFile",
    "adapted_digest",
    "adapted_module",
    "apply_adapter",
    "export_model",
    "load_adapted",
    "write_adapter",
]
