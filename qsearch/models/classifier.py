"""A frozen classifier in eval mode with its input normalisation and geometry, and how to load
one: the embedded EfficientNet-Lite0 default, a torchvision or timm architecture with a local
weights file, or a model file."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from qsearch.errors import QSearchError, one_line
from qsearch.images.geometry import GEOMETRY_KEYS, InputGeometry
from qsearch.models.forward import build_runner
from qsearch.models.runtime import file_digest
from qsearch.models.sidecar import checked_inputs
from qsearch.models.sources import RuntimeModule, module_and_config

DEFAULT_MODEL = "efficientnet_lite0"


@dataclass
class Classifier:
    """A frozen network in eval mode with its input normalisation and geometry."""

    name: str
    module: torch.nn.Module
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    preprocessing: InputGeometry
    device: torch.device
    forward: str = "fp32"
    runner: Callable[[torch.Tensor], torch.Tensor] | None = None
    weights_digest: str = ""
    """sha256 of the file the weights came from: which network this is, whatever its name."""
    fixed_forward: bool = False
    """The model file brings its own runtime (ONNX): no other forward path applies."""

    def describe(self) -> str:
        """One line: name, forward path, device."""
        return f"{self.name}, forward {self.forward} on {self.device.type}"

    def identity(self) -> dict[str, str]:
        """What decides this network's outputs: the model and its weights, its normalisation."""
        return {
            "model": f"{self.name}, weights sha256 {self.weights_digest[:16]}",
            "normalisation": f"mean {_numbers(self.mean)}, std {_numbers(self.std)}",
        }

    def with_forward(self, path: str) -> Classifier:
        """A copy that runs its forward pass the ``path`` way (see qsearch.models.forward)."""
        if self.fixed_forward:
            if path not in ("fp32", "auto"):
                raise QSearchError(
                    f"{self.name} runs in ONNX Runtime: --forward {path} does not apply"
                )
            return self
        example = torch.zeros(
            1, 3, self.preprocessing.height, self.preprocessing.width, device=self.device
        )
        return dataclasses.replace(
            self, forward=path, runner=build_runner(self.module, path, example)
        )

    def to_input(self, batch_uint8) -> torch.Tensor:
        """(N, H, W, 3) uint8 array to a normalised float tensor (channels-last memory)."""
        batch = (
            batch_uint8 if isinstance(batch_uint8, torch.Tensor) else torch.from_numpy(batch_uint8)
        )
        x = batch.to(self.device, non_blocking=True).permute(0, 3, 1, 2).float()
        scale = torch.tensor([1 / (255 * s) for s in self.std], device=self.device).view(1, 3, 1, 1)
        shift = torch.tensor(
            [-m / s for m, s in zip(self.mean, self.std)], device=self.device
        ).view(1, 3, 1, 1)
        return x * scale + shift

    @torch.inference_mode()
    def log_probs(self, batch_uint8, on_device: bool = False) -> torch.Tensor:
        """Log-probabilities of a (N, H, W, 3) uint8 batch, on the CPU (or left on the network's
        device with ``on_device``, so that a GPU runs on while the caller prepares the next batch)."""
        x = self.to_input(batch_uint8)
        try:
            output = self.module(x) if self.runner is None else self.runner(x)
        except (RuntimeError, AssertionError, ValueError) as error:
            raise QSearchError(
                f"{self.name}: the network failed on a batch of {tuple(x.shape)} inputs; was it "
                f"exported for another input size? ({one_line(error)})"
            ) from None
        logits = checked_logits(self.name, output)
        log_probs = torch.log_softmax(logits.float(), dim=1)
        return log_probs if on_device else log_probs.cpu()


def _first_output(name: str, output: Any) -> Any:
    """The first of several outputs (a tuple or list), or the one value of a dict."""
    if isinstance(output, dict):
        if len(output) != 1:
            raise QSearchError(
                f"{name}: the network returned a dict of {len(output)} outputs "
                f"({', '.join(map(str, output))}); export it with its logits as the one output"
            )
        return next(iter(output.values()))
    if isinstance(output, (tuple, list)) and output:
        return output[0]
    return output


def checked_logits(name: str, output: Any) -> torch.Tensor:
    """A network's output as (batch, classes) logits, checked before any figure is computed
    from it: the first tensor of a tuple or list (or the one value of a dict), finite, and not
    already probabilities (rows of non-negative numbers summing to 1), each refused in one line
    naming the model."""
    output = _first_output(name, output)
    if not isinstance(output, torch.Tensor):
        raise QSearchError(f"{name}: the network returned a {type(output).__name__}, not a tensor")
    if output.ndim != 2:
        raise QSearchError(
            f"{name}: the network returned shape {tuple(output.shape)}, not (batch, classes)"
        )
    if not bool(torch.isfinite(output).all()):
        raise QSearchError(
            f"{name}: the network output NaN or infinite values; no figure can be computed from it"
        )
    rows = output.float().sum(1)
    if (
        output.shape[1] > 1
        and bool((output >= 0).all())
        and bool(torch.allclose(rows, torch.ones_like(rows), atol=1e-3))
    ):
        raise QSearchError(
            f"{name}: the network outputs probabilities (each row sums to 1), not logits; "
            "export it without its final softmax"
        )
    return output


def _numbers(values) -> str:
    return ",".join(f"{v:g}" for v in values)


def default_device() -> torch.device:
    """CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_classifier(
    model: str | None = None, weights=None, device=None, declared: dict | None = None
) -> Classifier:
    """Load a frozen classifier.

    ``model`` is ``efficientnet_lite0`` (the default, embedded), ``efficientnet_lite1`` or
    ``efficientnet_lite2`` (the ``lite`` extra), ``timm/ARCH`` or ``torchvision/ARCH`` (with
    ``weights``, a local state-dict file), or the path of a model file: TorchScript, a
    ``torch.export`` program (``.pt2``) or ONNX, whose inputs a sidecar ``M.json`` declares.
    ``declared`` (mean, std, and the geometry keys every task declares alike: input_size,
    resize, pad, interpolation) overrides any of it.
    """
    model = model or DEFAULT_MODEL
    weights = Path(weights) if weights else None
    declared = checked_inputs(declared or {}, "the declared inputs")
    module, cfg = module_and_config(model, weights, declared)
    cfg = {**cfg, **declared}
    source = cfg.get("file", weights if weights is not None else Path(model))
    chosen = _device(device)
    module = _frozen(module, chosen)
    given = {key: cfg[key] for key in GEOMETRY_KEYS if key in cfg}
    if "resize" not in given:  # the short side timm's crop fraction gives
        canvas = InputGeometry.from_declared({**given, "resize": "stretch"})
        given["resize"] = round(max(canvas.height, canvas.width) / cfg["crop_pct"])
    preprocessing = InputGeometry.from_declared(given, interpolation="bicubic")
    return Classifier(
        model,
        module,
        tuple(cfg["mean"]),
        tuple(cfg["std"]),
        preprocessing,
        chosen,
        weights_digest=file_digest(source),
        fixed_forward=isinstance(module, RuntimeModule),
    )


def _device(name: str | None) -> torch.device:
    """The torch device ``name`` names (CUDA when present by default), refused in one line."""
    try:
        device = torch.device(name) if name else default_device()
    except RuntimeError:
        raise QSearchError.about(
            f"{{device}} {name!r} is not a device (cpu, cuda or cuda:N)"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise QSearchError(f"--device {device}: CUDA is not available on this machine")
    return device


def _frozen(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Inference mode on ``device``, channels-last where the module allows, no gradients kept."""
    try:
        module = module.eval()
    except (NotImplementedError, RuntimeError):  # torch.export modules refuse train/eval switches
        pass
    if not isinstance(module, RuntimeModule):
        module = module.to(device)
        try:
            module = module.to(memory_format=torch.channels_last)
        except (RuntimeError, TypeError):
            pass
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    return module


def class_namer(classes: int) -> Callable[[int], str]:
    """Class index -> a name: the ImageNet synset's words for a 1000-class network, else the
    index."""
    if classes != 1000:
        return lambda k: f"class {k}"
    from importlib import resources

    text = resources.files("qsearch").joinpath("data/imagenet_synsets.txt").read_text()
    words = dict(line.split(maxsplit=1) for line in text.splitlines() if line.strip())
    names = [words[synset].replace("_", " ") for synset in sorted(words)]
    return lambda k: f"{names[k]} ({k})"
