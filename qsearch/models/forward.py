"""Forward paths: the ways one frozen network can run, and how to build each. ``auto`` takes
the fastest path whose top-1 stays within half a point of fp32 on the images at hand
(``benchmarks/forward_paths.py`` measures them all)."""

from __future__ import annotations

import copy
import importlib.util
import io
import warnings
from collections.abc import Callable

import torch

from qsearch.errors import QSearchError

Runner = Callable[[torch.Tensor], torch.Tensor]

FORWARD_PATHS = {
    "fp32": "eager PyTorch, fp32, channels-last (the exact reference)",
    "bf16": "eager PyTorch, bf16 weights (CPUs with AVX512-BF16/AMX)",
    "fp16": "eager PyTorch, fp16 weights (CUDA)",
    "onnx": "ONNX Runtime, fp32 (CPU)",
    "compile": "torch.compile, fp32 (compiles first)",
    "compile-bf16": "torch.compile, bf16 weights (compiles first)",
}
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "compile-bf16": torch.bfloat16}


def auto_candidates(device: torch.device) -> list[str]:
    """Faster-than-fp32 paths worth trying on this device, fastest first."""
    if device.type == "cuda":
        return ["fp16"]
    candidates = ["onnx"] if importlib.util.find_spec("onnxruntime") is not None else []
    if torch.ops.mkldnn._is_mkldnn_bf16_supported():
        candidates.append("bf16")
    return candidates


def build_runner(module: torch.nn.Module, path: str, example: torch.Tensor) -> Runner:
    """A function from a normalised fp32 batch to logits, running ``module`` the ``path`` way."""
    if path not in FORWARD_PATHS:
        raise QSearchError(f"forward path {path!r} is not one of {', '.join(FORWARD_PATHS)}")
    if path == "onnx":
        return _onnx_runner(module, example)
    dtype = DTYPES.get(path, torch.float32)
    model: Callable[[torch.Tensor], torch.Tensor] = (
        copy.deepcopy(module).to(dtype) if dtype != torch.float32 else module
    )
    if path.startswith("compile"):
        model = torch.compile(model)
    return lambda x: model(x.to(dtype))


def _onnx_runner(module: torch.nn.Module, example: torch.Tensor) -> Runner:
    import onnxruntime

    if example.device.type != "cpu":
        raise QSearchError("the onnx forward path runs on the CPU only")
    exported = io.BytesIO()
    try:
        with warnings.catch_warnings():  # the TorchScript exporter is deprecated but exact here
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.filterwarnings("ignore", "no signature found", UserWarning)  # scripted models
            torch.onnx.export(
                module,
                (example[:1].contiguous(),),
                exported,  # type: ignore[arg-type]  # a file object is accepted, as documented
                input_names=["x"],
                output_names=["y"],
                dynamic_axes={"x": {0: "n"}, "y": {0: "n"}},
                dynamo=False,
            )
    except Exception as error:  # exporters fail in many ways on exotic models
        raise QSearchError(
            f"this model cannot be exported to ONNX ({type(error).__name__}); use --forward fp32"
        ) from None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = onnxruntime.InferenceSession(
        exported.getvalue(), options, providers=["CPUExecutionProvider"]
    )
    return lambda x: torch.from_numpy(session.run(None, {"x": x.contiguous().numpy()})[0])
