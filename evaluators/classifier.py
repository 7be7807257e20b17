"""The frozen-CNN evaluator: encode, decode and classify every image with one table."""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from qsearch.codecs.codec import EncoderSettings
from qsearch.errors import QSearchError
from qsearch.images import ImageSet
from qsearch.models import Classifier
from qsearch.models.classifier import class_namer
from qsearch.models.forward_choice import choose_forward
from qsearch.search.evaluator import Annotation, CodecEvaluator, Evaluation, Metrics
from qsearch.search.metrics import MetricSpec, metric_sign
from qsearch.search.pruning import Rejection
from qsearch.tables.qtable import QTable

log = logging.getLogger(__name__)


def _processes(classifier: Classifier, asked: int | str) -> int:
    """Encoder processes: ``auto`` is one per core but one (at most 15) on a CUDA machine of 8
    cores or more, where the GIL-bound encoder is the cost; none elsewhere."""
    if asked != "auto":
        return int(asked)
    cores = os.cpu_count() or 1
    return min(cores - 1, 15) if classifier.device.type == "cuda" and cores >= 8 else 0


def _sized(settings: EncoderSettings, images: ImageSet, classifier: Classifier) -> EncoderSettings:
    """``--size network`` as this network reads: its short side before the crop. Sent sizes
    apply to stored images (network-sized crops are already the smallest)."""
    if settings.size == "stored":
        return settings
    if images.compress_at != "source":
        raise QSearchError(
            f"--size {settings.size} shrinks the stored images: give --compress-at source (the "
            "network-sized crops are compressed as they are)"
        )
    if settings.size == "network":
        return settings.with_size(classifier.preprocessing.sent_size())
    return settings


Batch = np.ndarray | torch.Tensor
"""Decoded (N, H, W, 3) uint8 images: an array, or a page-locked tensor on CUDA machines."""


class ClassifierEvaluator(CodecEvaluator):
    """Accuracy of a frozen classifier (top-1/top-5, log-prob, agreement, similarity, KL) against size.

    Without labels: ``agreement`` is top-1 agreement with the uncompressed prediction (coarse
    on few images); ``kl`` the divergence of the output from the uncompressed output; and
    ``similarity`` its smooth, bounded companion, the mean of exp(-KL) over images (1 where the
    outputs are identical), which rises with bits even on a handful of uncertain photographs."""

    name = "classifier"
    takes_sent_sizes = True
    metric_specs = (
        MetricSpec("top1", bounds=(0, 1), description="share of images whose top class is the label"),
        MetricSpec("top5", bounds=(0, 1), description="share with the label among the top five"),
        MetricSpec("logprob", log_scale=True, description="mean log-probability of the label"),
        MetricSpec("agreement", bounds=(0, 1), self_referenced=True,
                   description="top-1 agreement with the uncompressed image"),
        MetricSpec("similarity", bounds=(0, 1), self_referenced=True,
                   description="mean exp(-KL) from the uncompressed output"),
        MetricSpec(
            "kl", higher_is_better=False, bounds=(0, float("inf")), log_scale=True,
            self_referenced=True,
            description="mean KL divergence from the uncompressed output",
        ),
    )  # fmt: skip

    def __init__(
        self,
        images: ImageSet,
        classifier: Classifier,
        settings: EncoderSettings = EncoderSettings(),
        batch_size: int = 50,
        threads: int | None = None,
        forward: str = "auto",
        encoder_processes: int | str = "auto",
    ):
        """``forward="auto"`` takes the fastest forward path of this device (qsearch.models.forward)
        whose top-1 on the uncompressed images (or, without labels, its agreement with fp32)
        stays within half a point of eager fp32; ``"fp32"`` forces the exact path.
        ``encoder_processes="auto"`` encodes in worker processes on a CUDA machine of 8 cores or
        more (where the network is fast enough for the GIL-bound encoder to be the cost), and on
        threads elsewhere."""
        settings = _sized(settings, images, classifier)
        super().__init__(images, settings, threads, _processes(classifier, encoder_processes))
        self._pinned = None
        if self._processes is not None and classifier.device.type == "cuda":
            self._processes.pin()
        elif self._processes is None:
            self._pinned = self._pinned_buffers(classifier, images, batch_size)
        self.batch_size = batch_size
        self._transform = images.preprocessing if images.compress_at == "source" else None
        self._labels = None if images.labels is None else torch.from_numpy(images.labels)
        self._uncompressed = images.network_inputs()
        self._image_pixels = [int(image.shape[0] * image.shape[1]) for image in images.images]
        self._forward_asked = forward
        self.classifier, self._reference_log_probs = choose_forward(
            classifier, forward, self._uncompressed, self._batches(), self._labels
        )
        self._classes = int(self._reference_log_probs.shape[1])
        self._check_labels()
        self.accuracy_metrics = self._accuracy_metrics()
        uncompressed = self._per_image(self._reference_log_probs)
        self.reference = self._mean(uncompressed)
        self._warn_at_chance()
        self.reference_per_image = {
            name: [round(float(v), 6) for v in values] for name, values in uncompressed.items()
        }

    def _check_labels(self) -> None:
        """Refuse labels that cannot mean what the network predicts: beyond its outputs, or
        class folders numbered by sorted position for a network of another number of classes
        (the ImageNet network on folders that are not synsets)."""
        labels = self._labels
        if labels is None or not len(labels):
            return
        if int(labels.max()) >= self._classes:
            worst = int(labels.argmax())
            raise QSearchError(
                f"{self.images.names[worst]}: label {int(labels[worst])} is beyond the network's "
                f"{self._classes} outputs; give --class-map FILE or --labels none"
            )
        folders = len(torch.unique(labels))
        if self.images.label_rule == "folders (sorted position)" and folders != self._classes:
            raise QSearchError(
                f"the {folders} class folders are numbered by sorted position, but the network "
                f"has {self._classes} outputs: their labels cannot mean what it predicts; give "
                "--class-map FILE (folder -> output), folders named by ImageNet synsets, or "
                "--labels none"
            )

    def _warn_at_chance(self) -> None:
        """A network at or below chance on the uncompressed images: the labels are suspect."""
        labels, reference = self._labels, self.reference or {}
        if labels is None or "top1" not in reference:
            return
        chance = 1.0 / len(torch.unique(labels))
        if reference["top1"] <= chance:
            log.warning(
                "the network's uncompressed top-1 is %.3f, at or below chance (%.3f) for %d "
                "classes: are the labels what the network predicts?",
                reference["top1"],
                chance,
                len(torch.unique(labels)),
            )

    @property
    def network(self) -> Classifier:
        """The frozen network on its chosen forward path."""
        return self.classifier

    def describe(self) -> str:
        """One line for reports, with the network and its forward path."""
        return f"{super().describe()}, {self.classifier.describe()}"

    def annotate(self, pictures: list[np.ndarray], indices: list[int]) -> list[Annotation]:
        """Each picture's top class and its probability (ImageNet names for 1000 classes),
        and the image's label where it has one."""
        log_probs = self.classifier.log_probs(np.stack(pictures)).float().cpu()
        name = class_namer(log_probs.shape[1])
        found = []
        for index, row in zip(indices, log_probs):
            top = int(row.argmax())
            caption = f"{name(top)} ({float(row[top].exp()):.2f})"
            if self._labels is not None:
                caption += f"; label {name(int(self._labels[index]))}"
            found.append(Annotation(caption=caption))
        return found

    def identity(self) -> dict[str, str]:
        """The images and settings, the network, and the forward path asked for."""
        return {**super().identity(), **self.classifier.identity(), "forward": self._forward_asked}

    # -- metrics --------------------------------------------------------------------------------
    def _accuracy_metrics(self) -> tuple[str, ...]:
        """With labels top-1, top-5 (5 classes or more), log-probability; always agreement,
        similarity, KL."""
        labelled = (
            ("top1", *(("top5",) if self._classes >= 5 else ()), "logprob")
            if self._labels is not None
            else ()
        )
        return (*labelled, "agreement", "similarity", "kl")

    def _batches(self) -> list[slice]:
        n = len(self.images)
        return [
            slice(start, min(start + self.batch_size, n)) for start in range(0, n, self.batch_size)
        ]

    def _per_image(
        self, log_probs: torch.Tensor, indices: slice | torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Per-image figures of images ``indices`` (default: the first ``len(log_probs)``)."""
        indices = slice(0, len(log_probs)) if indices is None else indices
        reference = self._reference_log_probs[indices]
        kl = (reference.exp() * (reference - log_probs)).sum(1)
        values = {
            "agreement": (log_probs.argmax(1) == reference.argmax(1)).float(),
            "similarity": torch.exp(-kl),
            "kl": kl,
        }
        if self._labels is not None:
            labels = self._labels[indices]
            top = log_probs.topk(min(5, self._classes), dim=1).indices
            values["top1"] = (top[:, 0] == labels).float()
            if self._classes >= 5:
                values["top5"] = (top == labels[:, None]).any(1).float()
            values["logprob"] = log_probs.gather(1, labels[:, None])[:, 0]
        return values

    @staticmethod
    def _mean(figures: dict[str, torch.Tensor]) -> Metrics:
        return {name: float(values.mean()) for name, values in figures.items()}

    # -- evaluation -------------------------------------------------------------------------------
    def sent(self, settings: EncoderSettings) -> EncoderSettings:
        """``network``: the short side this network resizes to before its crop."""
        return _sized(settings, self.images, self.classifier)

    @staticmethod
    def _pinned_buffers(
        classifier: Classifier, images: ImageSet, batch_size: int
    ) -> list[torch.Tensor] | None:
        """Two page-locked batch buffers on CUDA (decoded into, copied to the GPU asynchronously,
        alternating so that a copy in flight is never overwritten); None elsewhere."""
        if classifier.device.type != "cuda" or images.compress_at != "input":
            return None
        shape = (min(batch_size, len(images)), *images.network_inputs().shape[1:])
        return [torch.empty(shape, dtype=torch.uint8).pin_memory() for _ in range(2)]

    def _pipeline(
        self, qtable: QTable, batches: list[slice], sizes_first: bool
    ) -> tuple[list[bytes], Iterator[Batch]]:
        """(every image's file, the decoded batches in order). With worker processes the files
        arrive chunk by chunk, decoded, and the network starts on the first batch while the rest
        are coded (``sizes_first`` waits for them all: early rejection needs every size);
        on threads, all files are encoded first and batch k+1 is decoded on the prefetch thread
        while the network runs on batch k (into alternating page-locked buffers on CUDA)."""
        if self._processes is None:
            files = self.encode_all(qtable)
            return files, self.prefetched(
                lambda k: self._decode(files, batches[k], k % 2), len(batches)
            )
        chunks, files = self._processes.roundtrip(qtable), []
        decoded = self._processes.decoded

        def arrived(k: int) -> Batch:
            while len(files) < batches[k].stop:
                files.extend(next(chunks))
            return decoded[batches[k]]

        if sizes_first:
            arrived(len(batches) - 1)
        return files, map(arrived, range(len(batches)))

    def _decode(self, files: list[bytes], batch: slice, slot: int = 0) -> Batch:
        if self._pinned is None:
            return self.codec.decode_all(
                files[batch], self._uncompressed.shape[1:], self._transform
            )
        buffer = self._pinned[slot][: batch.stop - batch.start]
        self.codec.decode_all(files[batch], out=buffer.numpy())
        return buffer

    def evaluate(
        self, qtable: QTable, rejection: Rejection | None = None, per_image: bool = False
    ) -> Evaluation:
        """Encode, decode and classify every image in batches, the codec's work overlapping the
        network's (see :meth:`_pipeline`); with ``rejection``, stop as soon as the table provably
        cannot matter. With ``per_image``, the evaluation holds each figure image by image."""
        start = time.perf_counter()
        batches = self._batches()
        files, decoded = self._pipeline(qtable, batches, sizes_first=rejection is not None)
        if rejection is None:  # one synchronisation at the end
            log_probs = [self.classifier.log_probs(batch, on_device=True) for batch in decoded]
            pruned = False
        else:
            log_probs, pruned = self._until_hopeless(files, decoded, len(batches), rejection)
        sizes = np.array([len(f) for f in files], dtype=np.int64)  # every file is there by now
        metrics = self.size_metrics(sizes)
        figures = self._per_image(torch.cat(log_probs).cpu())
        metrics.update(
            self._mean(figures),
            images=len(figures["agreement"]),
            seconds=time.perf_counter() - start,
        )
        images = None
        if per_image:  # accuracy figures of the scored images; bytes and pixels of every image
            images = {name: values.tolist() for name, values in figures.items()}
            images.update(bytes=sizes.tolist(), pixels=self._image_pixels)
        return Evaluation(metrics, images, pruned)

    fidelity_metric = "kept"
    """Per image: its similarity where the network keeps the uncompressed top class, else 0."""

    def evaluate_each(
        self, tables: Sequence[QTable], indices: Sequence[int] | np.ndarray
    ) -> dict[str, np.ndarray]:
        """Image ``indices[k]`` with ``tables[k]`` (see :meth:`Evaluator.evaluate_each`); ``kept``
        is the per-image figure rate control reads."""
        chosen = torch.as_tensor(list(indices), dtype=torch.long)
        images = [self.images.images[i] for i in chosen.tolist()]
        files = self.codec.encode_each(images, list(tables))
        log_probs = []
        for start in range(0, len(files), self.batch_size):
            part = files[start : start + self.batch_size]
            decoded = self.codec.decode_all(part, self._uncompressed.shape[1:], self._transform)
            log_probs.append(self.classifier.log_probs(decoded))
        joined = torch.cat(log_probs) if log_probs else self._reference_log_probs[:0]
        figures = {k: v.numpy() for k, v in self._per_image(joined, chosen).items()}
        figures["kept"] = figures["agreement"] * figures["similarity"]
        figures["bytes"] = np.array([len(f) for f in files], dtype=np.int64)
        figures["pixels"] = np.array([self._image_pixels[i] for i in chosen.tolist()])
        return figures

    def another_receiver(self) -> tuple[str, ClassifierEvaluator] | None:
        """The same network resizing the decoded stored images with the other filter (bilinear
        for bicubic); None where the crops are compressed as they are."""
        if self.images.compress_at != "source":
            return None
        given = self.images.preprocessing
        other = "bilinear" if given.interpolation == "bicubic" else "bicubic"
        images = dataclasses.replace(
            self.images, preprocessing=dataclasses.replace(given, interpolation=other)
        )
        return f"a receiver resizing {other}", self.on_images(images)

    def on_images(self, images: ImageSet) -> ClassifierEvaluator:
        """The same network, on its chosen forward path, and settings on other images."""
        return ClassifierEvaluator(
            images, self.classifier, self.settings, self.batch_size, self.codec.threads,
            forward=self.classifier.forward, encoder_processes=0,
        )  # fmt: skip

    def _until_hopeless(
        self,
        files: list[bytes],
        decoded: Iterator[Batch],
        count: int,
        rejection: Rejection,
    ) -> tuple[list[torch.Tensor], bool]:
        """Classify batch after batch until ``rejection`` shows that the table cannot matter
        (every file is written first, so its rate is known); whether it stopped early."""
        rate = self.size_metrics(np.array([len(f) for f in files], dtype=np.int64))[rejection.rate]
        log_probs: list[torch.Tensor] = []
        for k, batch in enumerate(decoded):
            log_probs.append(self.classifier.log_probs(batch))
            if k + 1 < count:
                values = self._per_image(torch.cat(log_probs))[rejection.metric].numpy()
                if rejection.hopeless(
                    rate, metric_sign(rejection.metric) * values, len(self.images)
                ):
                    return log_probs, True
        return log_probs, False
