"""A declared network's adapter applied: the base model file made trainable with the adapted
tensors in place (what evaluation runs), and written back as an ONNX file with the base's graph,
input and output names, shapes and opset, its declaration beside it (what serving code loads).
Below the task registry and the declarations, so that every task can export its adapters."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from qsearch.atomic import write_text
from qsearch.errors import QSearchError
from qsearch.models.adapter import AdapterFile, adapted_module
from qsearch.models.runtime import loaded, model_format
from qsearch.models.sidecar import sidecar_path


def trainable_module(path: Path) -> torch.nn.Module:
    """A model file as a module that can learn, where its format declares it can (refused in
    one line otherwise, and for a graph the converter does not take)."""
    found = model_format(path)
    if not found.trains:
        return found.trainable(path)  # the format's own refusal
    return loaded(path, "cannot be made trainable", lambda: found.trainable(path))


def adapted_task_module(adapter: AdapterFile, model: Path | str, task: str) -> torch.nn.Module:
    """The ``task`` network's model file made trainable, with the adapter's tensors in place
    (refused as :func:`~qsearch.models.adapter.adapted_module` says: the base's bytes must be
    those the adapter was made from)."""
    from qsearch.models.runtime import Runtime

    path = Path(model)
    module = trainable_module(path)
    return adapted_module(module, adapter, task, str(path), Runtime(path).sha256).eval()


def export_task_model(adapter_path: Path | str, out: Path, model: Path | str | None = None) -> Path:
    """The adapted detector or segmenter as ONNX: the base file itself with the adapted
    tensors written into its initializers (the same graph, input and output names, shapes and
    opset), its declaration beside it. Only ONNX bases are written back this way."""
    import onnx

    adapter = AdapterFile.read(adapter_path)
    base = Path(model or adapter.base_model)
    if not base.is_file():
        raise QSearchError(
            f"{adapter.path}: its base model {base} is not here; give --model BASE (the same file)"
        )
    if out.suffix != ".onnx" or base.suffix.lower() != ".onnx":
        raise QSearchError.about(
            f"{{out}} {out}: a {adapter.task} network is exported from an ONNX base as FILE.onnx"
        )
    adapted_task_module(adapter, base, adapter.task)  # checked as at evaluation: the base's bytes
    proto = onnx.load(str(base))
    _write_initializers(proto, adapter)
    temporary = out.with_name(f"{out.name}.tmp{os.getpid()}")
    onnx.save(proto, str(temporary))
    temporary.replace(out)
    declaration = sidecar_path(Path(adapter.path))
    if declaration.exists():
        write_text(sidecar_path(out), declaration.read_text())
    return out


WRITABLE = {"Conv": ("weight", "bias"), "ConvTranspose": ("weight", "bias"),
            "BatchNormalization": ("weight", "bias")}  # fmt: skip
"""ONNX operators whose initializers an adapter's tensors go back into, by the position of
each input after the first (onnx2torch names a node's module as it names the node)."""


def _write_initializers(proto, adapter: AdapterFile) -> None:
    """Each adapted tensor written over the initializer it was converted from; an initializer
    several nodes share (a head applied at every stride) is given to each node as its own copy,
    since the converted module learned one tensor a node."""
    from onnx import numpy_helper
    from onnx2torch.onnx_graph import OnnxGraph

    initializers = {item.name: item for item in proto.graph.initializer}
    targets: dict[str, tuple] = {}
    users: dict[str, int] = {}
    for name, node in OnnxGraph(proto.graph).nodes.items():
        for position, kind in enumerate(WRITABLE.get(node.operation_type, ()), 1):
            if position < len(node.input_values):
                source = node.input_values[position]
                targets[f"{name}.{kind}"] = (node.proto, position, source, name)
                users[source] = users.get(source, 0) + 1
    for key, tensor in adapter.tensors.items():
        node, position, source, node_name = targets.get(key, (None, 0, "", ""))
        if source not in initializers:
            raise QSearchError(
                f"{adapter.path}: its tensor {key!r} has no initializer in the base ONNX graph "
                f"to be written into (writable: {', '.join(WRITABLE)} weights and biases)"
            )
        values = tensor.numpy().astype(np.float32)
        if users[source] == 1:
            initializers[source].CopyFrom(numpy_helper.from_array(values, source))
            continue
        own = f"{source}/adapted/{node_name}"
        proto.graph.initializer.append(numpy_helper.from_array(values, own))
        node.input[position] = own


__all__ = ["adapted_task_module", "export_task_model", "trainable_module"]
