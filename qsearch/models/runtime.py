"""Model files, one format class each, found by suffix (the ``qsearch.model_formats`` registry):
how a file runs as it is (ONNX Runtime, TorchScript, ``torch.export``, TFLite), as a frozen
torch module (a classifier's), and as a module that can learn (``qsearch adapt``). What a format
cannot do it refuses in one line naming the file; a package adds a format with one class and an
entry point."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from qsearch.errors import QSearchError, one_line
from qsearch.registry import Registry

Loaded = tuple[Callable[[np.ndarray], np.ndarray], int | None]
"""(float32 batch -> first output, the batch size the file was exported for or None)."""

FORMATS = Registry("qsearch.model_formats")


class ModelFormat:
    """One model file format: its suffixes, how a file runs, and what else it can be. A format
    declares its abilities: ``module`` (the file as a frozen torch module; None where a module
    wraps the file's runtime) and ``trains`` (the file as a module whose parameters learn)."""

    name: ClassVar[str] = ""
    suffixes: ClassVar[tuple[str, ...]] = ()
    trains: ClassVar[bool] = False

    def run(self, path: Path) -> Loaded:
        """The file run as it is."""
        raise NotImplementedError

    def module(self, path: Path) -> Any:
        """The file as a frozen torch module, or None where it runs only as it is."""
        return None

    def trainable(self, path: Path) -> Any:
        """The file as a torch module whose parameters can learn (formats that declare
        ``trains``)."""
        able = ", ".join(found.name for _, found in FORMATS.items() if found.trains)
        raise QSearchError(
            f"{path}: a {self.name} model cannot be trained here; give the same network as one "
            f"of {able}"
        )


def model_format(path: Path | str) -> ModelFormat:
    """The format of a model file, by its suffix (refused in one line naming the suffixes)."""
    found = _by_suffix(path)
    if found is None:
        known = ", ".join(s for _, each in FORMATS.items() for s in each.suffixes)
        raise QSearchError(f"{path}: not a model file qsearch runs (suffixes: {known})")
    return found


def names_a_model_file(name: str) -> bool:
    """Whether ``name`` ends as a model file of a registered format does."""
    return _by_suffix(name) is not None


def _by_suffix(path: Path | str) -> ModelFormat | None:
    suffix = Path(path).suffix.lower()
    return next((f for _, f in FORMATS.items() if suffix in f.suffixes), None)


def loaded(path: Path, failure: str, load: Callable[[], Any]) -> Any:
    """``load()``, a failure of the format's library (many types, for a damaged or foreign
    file) said in one line naming the file: ``PATH: FAILURE (what the library said)``."""
    try:
        return load()
    except QSearchError:
        raise
    except Exception as error:
        raise QSearchError(f"{path}: {failure} ({one_line(error)})") from None


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
        found = model_format(self.path)
        if not self.path.is_file():
            raise QSearchError(f"{self.path}: no such model file")
        self.kind = found.name
        self._run, self.fixed_batch = loaded(
            self.path, f"not a loadable {found.name} file", lambda: found.run(self.path)
        )
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


class Onnx(ModelFormat):
    """ONNX, run by ONNX Runtime (CUDA where installed); learns once converted by onnx2torch."""

    name, suffixes, trains = "ONNX", (".onnx",), True

    def run(self, path: Path) -> Loaded:
        return _onnx(path)

    def trainable(self, path: Path) -> Any:
        from onnx2torch import convert

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return convert(str(path)).eval()


class TorchScript(ModelFormat):
    """TorchScript (``torch.jit.save``)."""

    name, suffixes, trains = "TorchScript", (".pt", ".pth"), True

    def run(self, path: Path) -> Loaded:
        return _torch_runner(self.module(path)), None

    def module(self, path: Path) -> Any:
        import torch

        with warnings.catch_warnings():  # torch.jit is deprecated, its files are still common
            warnings.simplefilter("ignore", FutureWarning)
            return torch.jit.load(str(path), map_location="cpu").eval()

    def trainable(self, path: Path) -> Any:
        return self.module(path)


class TorchExport(ModelFormat):
    """``torch.export`` programs (.pt2)."""

    name, suffixes, trains = "torch.export", (".pt2",), True

    def run(self, path: Path) -> Loaded:
        return _torch_runner(self.module(path)), None

    def module(self, path: Path) -> Any:
        import torch

        return torch.export.load(str(path)).module()

    def trainable(self, path: Path) -> Any:
        return self.module(path)


class TFLite(ModelFormat):
    """TensorFlow Lite, run by ``ai-edge-litert`` as a --task model (its layout declared)."""

    name, suffixes = "TFLite", (".tflite",)

    def run(self, path: Path) -> Loaded:
        return _tflite(path)

    def module(self, path: Path) -> Any:
        raise QSearchError(
            f"{path}: a TFLite file runs as a --task model, whose declaration gives its layout; "
            "for a classifier give ONNX, TorchScript or .pt2"
        )


for _format in (Onnx(), TorchScript(), TorchExport(), TFLite()):
    FORMATS.register(_format.name)(_format)

__all__ = [
    "FORMATS", "Loaded", "ModelFormat", "Runtime", "file_digest", "loaded", "model_format",
    "names_a_model_file",
]  # fmt: skip
