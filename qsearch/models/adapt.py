"""Adapting a network to compression: a copy of a frozen classifier trained so that its output
on a compressed image matches the frozen network's output on the uncompressed image, and its
output on the uncompressed image stays the frozen one's (label-free; cross-entropy against
labels may be added). The compressed images are the real codec's files, decoded by the same
decoder every figure is measured with, at an IJG quality drawn per image from a range, or at
one of given tables (a run's front). Which parameters learn is a setting: the BatchNorm scales
and shifts (default, running statistics frozen), the classifier head, or every weight.

The epoch kept is the one with the lowest validation loss among those whose uncompressed
outputs stay the frozen network's (mean KL on the uncompressed validation images at most
``drift``): an epoch that buys compressed accuracy with uncompressed accuracy is never kept.
Each epoch ends with a checkpoint in the output folder, so an interruption loses at most one
epoch and the same call resumes
(refused when anything that decides the weights changed); the result is an adapter
(:mod:`qsearch.models.adapter`: the learned parameters only, beside the base model's identity),
its input declaration and a record of where it came from."""

from __future__ import annotations

import copy
import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qsearch.atomic import atomic_write, write_text
from qsearch.codecs.codec import EncoderSettings, decode, encode
from qsearch.errors import QSearchError
from qsearch.folders import check_identity, lock_folder
from qsearch.images import ImageSet
from qsearch.jsonfile import read_json_object
from qsearch.models.adapter import write_adapter
from qsearch.models.classifier import Classifier
from qsearch.models.learner import LEARNABLE, ClassifierLearner, Learner
from qsearch.models.runtime import file_digest
from qsearch.tables.qtable import QTable

CHECKPOINT, ADAPTER = "checkpoint.pt", "adapter.safetensors"
RECORD = "adapter.record.json"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Adaptation:
    """What a network adapts to and how it learns. ``tables`` (a run's front, a chosen table)
    replace the IJG ``qualities`` range when given; ``label_weight`` adds cross-entropy
    against the labels to the label-free loss. ``epochs`` is a budget: a larger one resumes."""

    learn: str = "batchnorm"
    epochs: int = 6
    learning_rate: float = 3e-4
    """AdamW's; 3e-4 over 6 epochs gave Lite0 a lower validation loss and uncompressed KL
    than 1e-3 over 3 (``benchmarks/adapt.py`` records both)."""
    batch_size: int = 16
    seed: int = 0
    qualities: tuple[int, int] = (10, 90)
    tables: tuple[QTable, ...] = ()
    settings: EncoderSettings = field(default_factory=EncoderSettings)
    label_weight: float = 0.0
    patience: int = 2
    """Epochs without a better validation loss before stopping early."""
    drift: float = 0.02
    """The most an epoch's outputs on the uncompressed validation images may diverge from the
    frozen network's (mean KL, nats) for it to be kept; a KL, not top-1 agreement, because it
    moves with every image where agreement on a few dozen images moves by whole images."""
    changed: float = 0.05
    """The largest share of the uncompressed validation images whose answer (a classifier's top
    class) an epoch may change for it to be kept, beside ``drift``: a few confident images can
    keep the mean KL low while others change their answer."""

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
        self._check_numbers()
        if not self.settings.encoder.takes_tables:
            raise QSearchError.about(f"{{codec}} {self.settings.codec}: adapt to a table codec")

    def _check_numbers(self) -> None:
        if not 0 <= self.changed <= 1:
            raise QSearchError.about(f"{{changed}} {self.changed!r} must be a share in 0..1")
        if not (self.drift >= 0 and math.isfinite(self.drift)):
            raise QSearchError.about(f"{{drift}} {self.drift!r} must be at least 0")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise QSearchError.about(f"{{learning_rate}} {self.learning_rate!r} must be above 0")

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
    """An adaptation's result: the adapter file (its input declaration ``.json`` and
    ``adapter.record.json`` beside it), the adapted network in memory (a :class:`Classifier`,
    or a module for a detector or segmenter), the validation figures of every epoch (epoch 0:
    the frozen one) and the epoch kept."""

    path: Path
    network: Any
    history: list[dict[str, float]]
    best_epoch: int


def adapt(
    network: Classifier | Learner,
    images: ImageSet,
    directory: Path | str,
    adaptation: Adaptation = Adaptation(),
    validation: ImageSet | None = None,
    progress: bool = False,
) -> Adapted:
    """Adapt a copy of ``network`` (a classifier, or a :class:`Learner`) on ``images``
    (validated on ``validation``: early stopping and the check that uncompressed outputs
    hold), checkpointed in ``directory`` (the same call resumes; a second process adapting
    there is refused); returns the adapter written there. Refused, writing no adapter, when
    no epoch beat the frozen network on the validation images."""
    learner = network if isinstance(network, Learner) else ClassifierLearner(network)
    if validation is None:
        log.warning(
            "no validation images: the epoch kept is chosen on the %d images adapted on, whose "
            "figures flatter it; give a validation split to choose it on others",
            len(images),
        )
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with lock_folder(directory):
        trainer = _Trainer(learner, images, adaptation, validation or images)
        trainer.resume(directory, _identity(learner, images, validation, adaptation))
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


def _identity(learner: Learner, images, validation, adaptation: Adaptation) -> dict[str, str]:
    return {
        **learner.identity(),
        **{f"adapted on, {k}": v for k, v in images.identity().items()},
        "validation": (validation.identity()["images"] if validation is not None else "none"),
        **adaptation.identity(),
    }


class _Trainer:
    """The training state: the student, its optimiser, the best weights so far."""

    def __init__(self, learner: Learner, images: ImageSet, adaptation: Adaptation,
                 validation: ImageSet):  # fmt: skip
        self.learner, self.adaptation = learner, adaptation
        self.student = copy.deepcopy(learner.module).eval()  # running statistics stay
        for parameter in self.student.parameters():
            parameter.requires_grad_(False)
        self.learning = learner.trainable(self.student, adaptation.learn)
        if not self.learning:
            raise QSearchError(
                f"{learner.name}: has no parameters to learn under --learn {adaptation.learn} "
                "(a TorchScript file hides its layers' kinds); choose --learn all"
            )
        for parameter in self.learning:
            parameter.requires_grad_(True)
        self.optimiser = torch.optim.AdamW(
            self.learning, lr=adaptation.learning_rate, weight_decay=0.0
        )
        self.train_set, self.validation = _Side(learner, images), _Side(learner, validation)
        self.drift_key = f"uncompressed_{learner.divergence_name}"
        self.epoch, self.stalled = 0, 0
        self.history = [self.validate()]
        self.best = (self.history[0]["loss"], copy.deepcopy(self.student.state_dict()))
        self.best_epoch = 0

    def resume(self, directory: Path, identity: dict[str, str]) -> None:
        """Continue from the folder's checkpoint (refused when made with other settings)."""
        path = directory / CHECKPOINT
        record = directory / "identity.json"
        if record.exists():
            check_identity(
                directory, read_json_object(record, "an adaptation's identity"), identity
            )
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
        self.best_epoch = int(state["best_epoch"])

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
        changed = 1.0 - figures.get("uncompressed_agreement", 1.0)
        holds = figures[self.drift_key] <= self.adaptation.drift and (
            changed <= self.adaptation.changed
        )
        if holds and figures["loss"] < self.best[0]:
            self.best, self.stalled = (figures["loss"], copy.deepcopy(self.student.state_dict())), 0
            self.best_epoch = epoch
        else:
            self.stalled += 1

    def loss(self, side: _Side, rows: np.ndarray, tables: list[QTable]) -> torch.Tensor:
        """The divergence from the frozen output on the uncompressed image, for the compressed
        image and for the uncompressed one (plus weighted cross-entropy against labels)."""
        learner, teacher = self.learner, side.teacher[rows]
        compressed = learner.output(self.student, side.compressed(rows, tables, self.adaptation))
        plain = learner.output(self.student, side.inputs[rows])
        loss = learner.divergence(teacher, compressed) + learner.divergence(teacher, plain)
        if self.adaptation.label_weight and side.labels is not None:
            labelled = learner.label_loss(compressed, side.labels[rows])
            if labelled is not None:
                loss = loss + self.adaptation.label_weight * labelled
        return loss

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """The validation loss (fixed draws of tables), the divergence on uncompressed images
        alone, and what the learner counts beside it (agreement, top-1 where there are labels)."""
        side, rng = self.validation, np.random.default_rng([self.adaptation.seed, 1_000_003])
        learner = self.learner
        tables = [self.adaptation.setting(rng) for _ in range(len(side))]
        sums: dict[str, float] = {"loss": 0.0, self.drift_key: 0.0}
        for start in range(0, len(side), 50):
            rows = np.arange(start, min(start + 50, len(side)))
            chosen = [tables[i] for i in rows]
            compressed = learner.output(
                self.student, side.compressed(rows, chosen, self.adaptation)
            )
            plain = learner.output(self.student, side.inputs[rows])
            teacher = side.teacher[rows]
            drift = float(learner.divergence(teacher, plain))
            sums["loss"] += (float(learner.divergence(teacher, compressed)) + drift) * len(rows)
            sums[self.drift_key] += drift * len(rows)
            labels = None if side.labels is None else side.labels[rows]
            for key, count in learner.figures(teacher, plain, compressed, labels).items():
                sums[key] = sums.get(key, 0.0) + count
        return {key: value / len(side) for key, value in sums.items()}

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
            "best_epoch": self.best_epoch,
            "history_keys": keys,
            "history": torch.tensor(
                [[row.get(k, math.nan) for k in keys] for row in self.history], dtype=torch.float64
            ),
        }
        with atomic_write(directory / CHECKPOINT, "wb") as handle:
            torch.save(state, handle)

    def write(self, directory: Path, images: ImageSet, validation: ImageSet | None) -> Adapted:
        """The best weights' learned parameters as an adapter, with the base's declaration and
        the record of what it was adapted to, from which images, how."""
        if self.best_epoch == 0:
            raise QSearchError(self._nothing_kept(directory))
        self.student.load_state_dict(self.best[1])
        names = _parameter_names(self.student, self.learning)
        learner = self.learner
        path = write_adapter(
            directory / ADAPTER, self.student, names, learner, self.adaptation.learn
        )
        network = learner.written(path, self.student)
        record = {
            "base_model": learner.name,
            "base_weights_sha256": learner.digest,
            "task": learner.task,
            "learned": f"{len(names)} tensors, {sum(p.numel() for p in self.learning)} of "
            f"{sum(p.numel() for p in self.student.parameters())} parameters",
            "images": images.identity(),
            "validation": validation.identity()
            if validation is not None
            else "none: the epoch was chosen on the images adapted on",
            "adapted_to": self.adaptation.identity(),
            "epochs_run": self.epoch,
            "best_epoch": self.best_epoch,
            "history": self.history,
            "sha256": file_digest(path),
        }
        write_text(directory / RECORD, json.dumps(record, indent=2) + "\n")
        return Adapted(path, network, self.history, self.best_epoch)

    def _nothing_kept(self, directory: Path) -> str:
        later = self.history[1:]
        return (
            f"{directory}: no epoch of {self.epoch} lowered the validation loss "
            f"({self.history[0]['loss']:.4f} frozen; then "
            + ", ".join(f"{r['loss']:.4f}" for r in later)
            + f") with {self.drift_key} at most {self.adaptation.drift:g} (then "
            + ", ".join(f"{r[self.drift_key]:.4f}" for r in later)
            + ")"
            + (
                f" and at most {100 * self.adaptation.changed:g}% of the uncompressed answers "
                "changed (then "
                + ", ".join(f"{100 * (1 - r['uncompressed_agreement']):.1f}%" for r in later)
                + ")"
                if "uncompressed_agreement" in self.history[0]
                else ""
            )
            + "; no adapter written (give more images, a validation split or more epochs)"
        )


def _parameter_names(module: torch.nn.Module, learning: list[torch.nn.Parameter]) -> list[str]:
    """The state-dict names of the parameters that learn."""
    ids = {id(p) for p in learning}
    return [name for name, p in module.named_parameters() if id(p) in ids]


class _Side:
    """One image set as the trainer reads it: network inputs, what the frozen network says
    of them uncompressed, labels, and how to compress a batch."""

    def __init__(self, learner: Learner, images: ImageSet):
        self.learner, self.images = learner, images
        self.inputs = learner.inputs(images)
        with torch.no_grad():
            self.teacher = torch.cat(
                [learner.output(learner.module, self.inputs[s : s + 50])
                 for s in range(0, len(images), 50)]
            )  # fmt: skip
        self.labels = None if images.labels is None else torch.from_numpy(images.labels)

    def __len__(self) -> int:
        return len(self.inputs)

    def compressed(
        self, rows: np.ndarray, tables: list[QTable], adaptation: Adaptation
    ) -> np.ndarray:
        """The images at ``rows``, each through the real codec with its table, as the network
        sees them (placed after decoding where images are compressed at their stored size)."""
        settings, source = adaptation.settings, self.images.images
        return np.stack([
            self.learner.placed(self.images, decode(encode(source[int(row)], table, settings),
                                                    settings=settings))
            for row, table in zip(rows, tables)
        ])  # fmt: skip


__all__ = ["ADAPTER", "RECORD", "Adaptation", "Adapted", "adapt"]
