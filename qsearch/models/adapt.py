"""Adapting a network to compression: a copy of a frozen classifier trained so that its output
on a compressed image matches the frozen network's output on the uncompressed image, and its
output on the uncompressed image stays the frozen one's (label-free; cross-entropy against
labels may be added). The compressed images are the real codec's files, decoded by the same
decoder every figure is measured with, at an IJG quality drawn per image from a range, or at
one of given tables (a run's front). Which parameters learn is a setting: the BatchNorm scales
and shifts (default: measured in ``benchmarks/adapt.py``, about 0.3% of EfficientNet-Lite0's
weights, running statistics frozen), the classifier head, or every weight.

Each epoch ends with a checkpoint in the output folder, so an interruption loses at most one
epoch and the same call resumes (refused when anything that decides the weights changed); the
result is a TorchScript file every command takes as a model file, its input declaration beside
it (``M.json``) and a record of where it came from (``M.record.json``)."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from qsearch.atomic import atomic_write, write_text
from qsearch.codecs.codec import EncoderSettings, decode, encode
from qsearch.errors import QSearchError
from qsearch.images import ImageSet
from qsearch.models.classifier import Classifier, file_digest
from qsearch.models.sidecar import write_sidecar
from qsearch.models.sources import OnnxModule
from qsearch.search.journal import check_identity
from qsearch.tables.qtable import QTable

LEARNABLE = ("batchnorm", "head", "all")
CHECKPOINT, MODEL = "checkpoint.pt", "adapted.pt"


@dataclass(frozen=True)
class Adaptation:
    """What a network adapts to and how it learns. ``tables`` (a run's front, a chosen table)
    replace the IJG ``qualities`` range when given; ``label_weight`` adds cross-entropy
    against the labels to the label-free loss. ``epochs`` is a budget: a larger one resumes."""

    learn: str = "batchnorm"
    epochs: int = 3
    learning_rate: float = 1e-3
    batch_size: int = 16
    seed: int = 0
    qualities: tuple[int, int] = (10, 90)
    tables: tuple[QTable, ...] = ()
    settings: EncoderSettings = field(default_factory=EncoderSettings)
    label_weight: float = 0.0
    patience: int = 2
    """Epochs without a better validation loss before stopping early."""

    def __post_init__(self) -> None:
        if self.learn not in LEARNABLE:
            raise QSearchError.about(
                f"{{learn}} {self.learn!r} is not one of {', '.join(LEARNABLE)}"
            )
        low, high = self.qualities
        if not 1 <= low <= high <= 100:
            raise QSearchError.about(f"{{qualities}} {low}..{high} is not a range within 1..100")
        for name in ("epochs", "batch_size", "patience"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise QSearchError.about(f"{{{name}}} {getattr(self, name)!r} must be at least 1")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise QSearchError.about(f"{{learning_rate}} {self.learning_rate!r} must be above 0")
        if not self.settings.encoder.takes_tables:
            raise QSearchError.about(f"{{codec}} {self.settings.codec}: adapt to a table codec")

    def identity(self) -> dict[str, str]:
        """Everything that decides the weights but the epoch budget, one string each."""
        kept = {k: v for k, v in asdict(self).items() if k not in ("epochs", "tables", "settings")}
        tables = ",".join(t.key[:12] for t in self.tables) or "none"
        return {
            "adaptation": json.dumps(kept, sort_keys=True, default=str),
            "adapted_to": f"tables {tables}" if self.tables else f"IJG {self.qualities}",
            "encoder": self.settings.describe(),
        }

    def setting(self, rng: np.random.Generator) -> QTable:
        """One image's table: one of the tables, or IJG at a quality drawn from the range."""
        if self.tables:
            return self.tables[int(rng.integers(len(self.tables)))]
        return QTable.from_quality(int(rng.integers(self.qualities[0], self.qualities[1] + 1)))


@dataclass
class Adapted:
    """An adaptation's result: the model file (with ``.json`` and ``.record.json`` beside it),
    the network in memory, and the validation figures of every epoch (epoch 0: the frozen one)."""

    path: Path
    classifier: Classifier
    history: list[dict[str, float]]


def trainable(module: torch.nn.Module, learn: str) -> list[torch.nn.Parameter]:
    """The parameters that learn: BatchNorm scales and shifts, the last linear layer, or all."""
    if learn == "all":
        return list(module.parameters())
    if learn == "head":
        linear = [m for m in module.modules() if isinstance(m, torch.nn.Linear)]
        return list(linear[-1].parameters()) if linear else []
    return [p for m in module.modules() if _is_norm(m) for p in m.parameters(recurse=False)]


def _is_norm(module: torch.nn.Module) -> bool:
    return isinstance(module, torch.nn.modules.batchnorm._BatchNorm)


def adapt(
    classifier: Classifier,
    images: ImageSet,
    directory: Path | str,
    adaptation: Adaptation = Adaptation(),
    validation: ImageSet | None = None,
    progress: bool = False,
) -> Adapted:
    """Adapt a copy of ``classifier`` on ``images`` (validated on ``validation``: early stopping
    and the check that uncompressed outputs hold), checkpointed in ``directory`` (the same call
    resumes); returns the model file written there."""
    directory = Path(directory)
    trainer = _Trainer(classifier, images, adaptation, validation or images)
    trainer.resume(directory, _identity(classifier, images, validation, adaptation))
    epochs = range(trainer.epoch + 1, adaptation.epochs + 1)
    for epoch in _bar(epochs, progress):
        if trainer.stalled >= adaptation.patience:
            break
        trainer.train_epoch(epoch)
        trainer.checkpoint(directory)
    return trainer.write(directory, images, validation)


def _bar(epochs: range, progress: bool):
    if not progress:
        return epochs
    from tqdm import tqdm

    return tqdm(epochs, desc="adapting", unit="epoch", disable=None)


def _identity(classifier, images, validation, adaptation: Adaptation) -> dict[str, str]:
    return {
        **classifier.identity(),
        **{f"images {k}": v for k, v in images.identity().items()},
        "validation": (validation.identity()["images"] if validation is not None else "the same"),
        **adaptation.identity(),
    }


class _Trainer:
    """The training state: the student, its optimiser, the best weights so far."""

    def __init__(self, classifier, images: ImageSet, adaptation: Adaptation, validation: ImageSet):
        if isinstance(classifier.module, OnnxModule) or not list(classifier.module.parameters()):
            raise QSearchError(
                f"{classifier.name}: adapt needs a trainable network (a PyTorch module with "
                "weights); an ONNX file or a network without parameters cannot learn"
            )
        self.frozen, self.adaptation = classifier, adaptation
        self.student = copy.deepcopy(classifier.module).eval()  # running statistics stay
        for parameter in self.student.parameters():
            parameter.requires_grad_(False)
        self.learning = trainable(self.student, adaptation.learn)
        for parameter in self.learning:
            parameter.requires_grad_(True)
        self.optimiser = torch.optim.AdamW(
            self.learning, lr=adaptation.learning_rate, weight_decay=0.0
        )
        self.train_set, self.validation = _Side(classifier, images), _Side(classifier, validation)
        self.epoch, self.stalled = 0, 0
        self.history = [self.validate()]
        self.best = (self.history[0]["loss"], copy.deepcopy(self.student.state_dict()))

    def resume(self, directory: Path, identity: dict[str, str]) -> None:
        """Continue from the folder's checkpoint (refused when made with other settings)."""
        path = directory / CHECKPOINT
        directory.mkdir(parents=True, exist_ok=True)
        record = directory / "identity.json"
        if record.exists():
            check_identity(directory, json.loads(record.read_text()), identity)
        else:
            write_text(record, json.dumps(identity, indent=2))
        if not path.exists():
            return
        state = torch.load(path, map_location="cpu", weights_only=True)
        self.student.load_state_dict(state["student"])
        self.optimiser.load_state_dict(state["optimiser"])
        self.epoch, self.stalled = int(state["epoch"]), int(state["stalled"])
        self.history = [dict(zip(state["history_keys"], row)) for row in state["history"].tolist()]
        self.best = (float(state["best_loss"]), state["best"])

    def train_epoch(self, epoch: int) -> None:
        """One pass over the images in an order and with tables drawn from (seed, epoch)."""
        rng = np.random.default_rng([self.adaptation.seed, epoch])
        order = rng.permutation(len(self.train_set))
        size = self.adaptation.batch_size
        for start in range(0, len(order), size):
            rows = order[start : start + size]
            tables = [self.adaptation.setting(rng) for _ in rows]
            loss = self.loss(self.train_set, rows, tables)
            self.optimiser.zero_grad()
            loss.backward()
            self.optimiser.step()
        self.epoch = epoch
        figures = self.validate()
        self.history.append(figures)
        if figures["loss"] < self.best[0]:
            self.best, self.stalled = (figures["loss"], copy.deepcopy(self.student.state_dict())), 0
        else:
            self.stalled += 1

    def loss(self, side: _Side, rows: np.ndarray, tables: list[QTable]) -> torch.Tensor:
        """KL from the frozen output on the uncompressed image, for the compressed image and
        for the uncompressed one (plus weighted cross-entropy against the labels)."""
        teacher = side.teacher[rows]
        compressed = self._log_probs(side.compressed(rows, tables, self.adaptation.settings))
        plain = self._log_probs(side.inputs[rows])
        loss = _kl(teacher, compressed) + _kl(teacher, plain)
        if self.adaptation.label_weight and side.labels is not None:
            labels = side.labels[rows]
            loss = loss + self.adaptation.label_weight * torch.nn.functional.nll_loss(
                compressed, labels
            )
        return loss

    def _log_probs(self, batch: np.ndarray) -> torch.Tensor:
        x = self.frozen.to_input(batch).contiguous(memory_format=torch.channels_last)
        return torch.log_softmax(self.student(x).float(), dim=1)

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """The validation loss (fixed draws of tables), the KL on uncompressed images alone,
        and top-1 uncompressed and compressed where there are labels."""
        side, rng = self.validation, np.random.default_rng([self.adaptation.seed, 1_000_003])
        tables = [self.adaptation.setting(rng) for _ in range(len(side))]
        total, plain_kl, hits, plain_hits = 0.0, 0.0, 0.0, 0.0
        for start in range(0, len(side), 50):
            rows = np.arange(start, min(start + 50, len(side)))
            chosen = [tables[i] for i in rows]
            compressed = self._log_probs(side.compressed(rows, chosen, self.adaptation.settings))
            plain = self._log_probs(side.inputs[rows])
            teacher = side.teacher[rows]
            total += float(_kl(teacher, compressed) + _kl(teacher, plain)) * len(rows)
            plain_kl += float(_kl(teacher, plain)) * len(rows)
            if side.labels is not None:
                hits += float((compressed.argmax(1) == side.labels[rows]).sum())
                plain_hits += float((plain.argmax(1) == side.labels[rows]).sum())
        figures = {"loss": total / len(side), "uncompressed_kl": plain_kl / len(side)}
        if side.labels is not None:
            figures.update(top1=hits / len(side), uncompressed_top1=plain_hits / len(side))
        return figures

    def checkpoint(self, directory: Path) -> None:
        """The state after this epoch, written atomically (tensors only: loaded without pickle)."""
        keys = sorted(self.history[0])
        state = {
            "student": self.student.state_dict(),
            "optimiser": self.optimiser.state_dict(),
            "epoch": self.epoch,
            "stalled": self.stalled,
            "best_loss": self.best[0],
            "best": self.best[1],
            "history_keys": keys,
            "history": torch.tensor([[row.get(k, math.nan) for k in keys] for row in self.history]),
        }
        with atomic_write(directory / CHECKPOINT, "wb") as handle:
            torch.save(state, handle)

    def write(self, directory: Path, images: ImageSet, validation: ImageSet | None) -> Adapted:
        """The best weights as a TorchScript file with its sidecar and its record."""
        self.student.load_state_dict(self.best[1])
        for parameter in self.student.parameters():
            parameter.requires_grad_(False)
        path = directory / MODEL
        example = torch.from_numpy(np.ascontiguousarray(self.train_set.inputs[:1]))
        with warnings.catch_warnings():  # TorchScript is deprecated, and what serving code takes
            warnings.simplefilter("ignore", FutureWarning)
            traced = torch.jit.trace(self.student.cpu(), self.frozen.to_input(example).cpu())
            with atomic_write(path, "wb") as handle:
                torch.jit.save(traced, handle)
        adapted = _adapted_classifier(self.frozen, path, self.student)
        write_sidecar(path, adapted)
        record = {
            "base_model": self.frozen.name,
            "base_weights_sha256": self.frozen.weights_digest,
            "images": images.identity(),
            "validation": validation.identity() if validation is not None else "the same images",
            "adapted_to": self.adaptation.identity(),
            "epochs_run": self.epoch,
            "best_epoch": int(np.argmin([row["loss"] for row in self.history])),
            "history": self.history,
            "sha256": file_digest(path),
        }
        write_text(path.with_name(path.name + ".record.json"), json.dumps(record, indent=2) + "\n")
        return Adapted(path, adapted, self.history)


def write_onnx(adapted: Adapted) -> Path:
    """The adapted network as ONNX too (``adapted.onnx`` and its sidecar beside the TorchScript
    file), for runtimes that take ONNX; qsearch runs it through ONNX Runtime as any ONNX file."""
    path = adapted.path.with_suffix(".onnx")
    size = adapted.classifier.preprocessing.input_size
    module = copy.deepcopy(adapted.classifier.module).cpu().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter is deprecated, exact here
        torch.onnx.export(
            module, (torch.zeros(1, 3, size, size),), str(path), input_names=["x"],
            output_names=["logits"], dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}}, dynamo=False,
        )  # fmt: skip
    write_sidecar(path, adapted.classifier)
    return path


def _adapted_classifier(frozen: Classifier, path: Path, module: torch.nn.Module) -> Classifier:
    """The frozen classifier's inputs and device, with the adapted module and its file's name."""
    return dataclasses.replace(
        frozen, name=str(path), module=module.to(frozen.device), runner=None, forward="fp32",
        weights_digest=file_digest(path),
    )  # fmt: skip


class _Side:
    """One image set as the trainer reads it: network inputs, what the frozen network says
    of them uncompressed, labels, and how to compress a batch."""

    def __init__(self, classifier: Classifier, images: ImageSet):
        self.images = images
        self.inputs = images.network_inputs()
        self.teacher = torch.cat(
            [classifier.log_probs(self.inputs[s : s + 50]) for s in range(0, len(images), 50)]
        )
        self.labels = None if images.labels is None else torch.from_numpy(images.labels)

    def __len__(self) -> int:
        return len(self.inputs)

    def compressed(
        self, rows: np.ndarray, tables: list[QTable], settings: EncoderSettings
    ) -> np.ndarray:
        """The images at ``rows``, each through the real codec with its table, as the network
        sees them (resized after decoding where images are compressed at their stored size)."""
        source = self.images.images
        decoded = []
        for row, table in zip(rows, tables):
            image = decode(encode(source[int(row)], table, settings), settings=settings)
            stored = self.images.compress_at == "source"
            decoded.append(self.images.preprocessing(image) if stored else image)
        return np.stack(decoded)


def _kl(teacher: torch.Tensor, student: torch.Tensor) -> torch.Tensor:
    """Mean over images of KL(teacher || student), both log-probabilities."""
    return (teacher.exp() * (teacher - student)).sum(1).mean()


__all__ = ["LEARNABLE", "Adaptation", "Adapted", "adapt", "trainable", "write_onnx"]
