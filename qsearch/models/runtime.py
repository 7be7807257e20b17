"""A detector's or segmenter's model file run as it is: ONNX (ONNX Runtime), TorchScript,
``torch.export`` (.pt2) or TFLite (``ai-edge-litert``). It takes the declared float32 batch and
returns the first output as an array; none of these is trained here."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from qsearch.errors import QSearchError, one_line

SUFFIXES = {
    ".onnx": "ONNX",
    ".pt": "TorchScript",
    ".pth": "TorchScript",
    ".pt2": "torch.export",
    ".tflite": "TFLite",
}


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes, read in chunks: which weights a model file holds, whatever
    its name."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Runtime:
    """A frozen network in a file: ``runtime(batch) -> first output``, batch by batch (a file
    exported for one image at a time is run one image at a time)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        kind = SUFFIXES.get(self.path.suffix.lower())
        if kind is None:
            raise QSearchError(
                f"{self.path}: not a model file qsearch runs (suffixes: {', '.join(SUFFIXES)})"
            )
        if not self.path.is_file():
            raise QSearchError(f"{self.path}: no such model file")
        self.kind = kind
        try:
            self._run, self.fixed_batch = _LOADERS[kind](self.path)
        except QSearchError:
            raise
        except Exception as error:  # loaders raise many types for a damaged or foreign file
            raise QSearchError(
                f"{self.path}: not a loadable {kind} file ({one_line(error)})"
            ) from None
        self.sha256 = file_digest(self.path)

    @classmethod
    def of_module(cls, module, path: Path, sha256: str, kind: str) -> Runtime:
        """A PyTorch module run in place of the file ``path`` (an adapter applied to it),
        identified by ``sha256`` (the base's and the adapter's bytes together)."""
        runtime = cls.__new__(cls)
        runtime.path, runtime.kind, runtime.sha256 = Path(path), kind, sha256
        runtime._run, runtime.fixed_batch = _torch_runner(module), None
        return runtime

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """The first output for a float32 batch, one row per image."""
        if self.fixed_batch is None:
            return self._run(batch)
        size = self.fixed_batch
        parts = []
        for start in range(0, len(batch), size):
            chunk = batch[start : start + size]
            padded = np.concatenate([chunk, np.repeat(chunk[-1:], size - len(chunk), 0)])
            parts.append(self._run(padded)[: len(chunk)])
        return np.concatenate(parts)

    def describe(self) -> str:
        """One line: the file and its digest."""
        return f"{self.path.name} ({self.kind}, sha256 {self.sha256[:16]})"


Loaded = tuple[Callable[[np.ndarray], np.ndarray], int | None]


def _onnx(path: Path) -> Loaded:
    import onnxruntime

    providers = [
        p
        for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
        if p in onnxruntime.get_available_providers()
    ]
    session = onnxruntime.InferenceSession(str(path), providers=providers)
    first = session.get_inputs()[0]
    batch = first.shape[0] if first.shape else None
    fixed = batch if isinstance(batch, int) and batch > 0 else None
    return (lambda x: session.run(None, {first.name: x})[0]), fixed


def _torchscript(path: Path) -> Loaded:
    import torch

    with warnings.catch_warnings():  # torch.jit is deprecated, TorchScript files are still common
        warnings.simplefilter("ignore", FutureWarning)
        module = torch.jit.load(str(path), map_location="cpu").eval()
    return _torch_runner(module), None


def _exported(path: Path) -> Loaded:
    import torch

    return _torch_runner(torch.export.load(str(path)).module()), None


def _torch_runner(module) -> Callable[[np.ndarray], np.ndarray]:
    import torch

    def run(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            output = module(torch.from_numpy(batch))
        first = output[0] if isinstance(output, (tuple, list)) else output
        return first.float().numpy()

    return run


def _tflite(path: Path) -> Loaded:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise QSearchError(
            f"{path}: a TFLite model needs the ai-edge-litert package (pip install ai-edge-litert)"
        ) from None
    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    source = interpreter.get_input_details()[0]["index"]
    target = interpreter.get_output_details()[0]["index"]

    def run(batch: np.ndarray) -> np.ndarray:
        interpreter.set_tensor(source, batch)
        interpreter.invoke()
        return interpreter.get_tensor(target).copy()

    return run, int(interpreter.get_input_details()[0]["shape"][0])


_LOADERS: dict[str, Callable[[Path], Loaded]] = {
    "ONNX": _onnx,
    "TorchScript": _torchscript,
    "torch.export": _exported,
    "TFLite": _tflite,
}

__all__ = ["SUFFIXES", "Runtime", "file_digest"]
