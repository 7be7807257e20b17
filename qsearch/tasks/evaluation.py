"""The evaluator of a detector or segmenter: each stored image compressed at its own
resolution (``--compress-at source``), decoded and placed on the network's input as declared,
the network run, its output read as boxes or masks, and pooled figures against labels and
against the network's own output on the uncompressed image."""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from qsearch.codecs.codec import EncoderSettings, decode, encode
from qsearch.codecs.sizes import sent_shape
from qsearch.errors import QSearchError, one_line
from qsearch.images import ImageSet
from qsearch.search.evaluator import Annotation, CodecEvaluator, Evaluation, Metrics
from qsearch.search.pruning import Rejection
from qsearch.tables.qtable import QTable
from qsearch.tasks.annotations import Annotations
from qsearch.tasks.declaration import TaskModel


def _sent(settings: EncoderSettings, model: TaskModel) -> EncoderSettings:
    """``--size network`` resolved to the side the model's declaration reads."""
    if settings.size == "network":
        return settings.with_size(model.spec.sent_size())
    return settings


class TaskEvaluator(CodecEvaluator):
    """Pooled figures of a network's outputs on compressed stored images. Subclasses read one
    image's output (:meth:`read`) and turn outputs into per-image records and pooled figures."""

    task = ""
    takes_sent_sizes = True

    def __init__(
        self,
        images: ImageSet,
        model: TaskModel,
        annotations: Annotations | None = None,
        settings: EncoderSettings = EncoderSettings(),
        batch_size: int = 16,
        threads: int | None = None,
    ):
        """``annotations``: the images' labels (boxes or masks, from
        :mod:`qsearch.tasks.annotations`), or None for the label-free figures only."""
        if images.compress_at != "source":
            raise QSearchError(
                f"--compress-at {images.compress_at}: a {self.task} network letterboxes or resizes "
                "the stored image itself, so its images are compressed at their stored size "
                "(--compress-at source)"
            )
        if model.task != self.task:
            raise QSearchError(f"{model.runtime.path}: declared for {model.task}, not {self.task}")
        super().__init__(images, _sent(settings, model), threads)
        self.model = model
        self.batch_size = batch_size
        self.annotations = annotations
        self._places = [model.spec.placement(*image.shape[:2]) for image in images.images]
        self._pixels_each = [int(image.shape[0] * image.shape[1]) for image in images.images]
        self._uncompressed = self._outputs(self._batches(images.images.__getitem__))
        self.accuracy_metrics = self._accuracy_metrics()
        records = self.records(self._uncompressed)
        self.reference = self.pooled(records)
        self.reference_per_image = records
        self.check_reference()
        self._place_sent()

    def use_encoder(self, settings: EncoderSettings) -> None:
        """Other settings from now on, images placed as sent at their size."""
        super().use_encoder(settings)
        self._place_sent()

    def _place_sent(self) -> None:
        """Compressed images are read as sent, their outputs placed back on the stored pixels."""
        size, spec = self.settings.size, self.model.spec
        self._places = [
            spec.placement_sent(h, w, sent_shape(h, w, size))
            for h, w in (image.shape[:2] for image in self.images.images)
        ]

    # -- what a task defines --------------------------------------------------------------------
    def sent(self, settings: EncoderSettings) -> EncoderSettings:
        """``network``: the side the declared letterbox or stretch reads."""
        return _sent(settings, self.model)

    @abstractmethod
    def read(self, output: np.ndarray, index: int) -> Any:
        """Image ``index``'s output row, read (boxes, a mask)."""

    @abstractmethod
    def records(self, outputs: list) -> dict[str, list]:
        """Per-image records of every pooled figure, for read outputs of every image."""

    @abstractmethod
    def pooled(self, records: dict[str, list]) -> Metrics:
        """The figures of the records, each pooled over the images."""

    def annotation(self, read: Any) -> Annotation:
        """What a report draws of one read output (boxes, a mask); nothing by default."""
        return Annotation()

    kept_from: str = ""
    """The label-free pooled figure (against the network's own uncompressed output) whose value
    on one image alone is the per-image figure rate control keeps; empty: no per-image control."""

    @property
    def fidelity_metric(self) -> str:  # type: ignore[override]
        """``kept`` where the task names a label-free figure to read image by image."""
        return "kept" if self.kept_from else ""

    def evaluate_each(self, tables, indices) -> dict[str, Any]:
        """Image ``indices[k]`` with ``tables[k]``: its records of every pooled figure (the other
        images read as uncompressed, so that records compare alike), and ``kept``, the
        label-free figure on the image alone (1 where the uncompressed output has nothing to
        keep)."""
        if not self.kept_from:
            return super().evaluate_each(tables, indices)
        from qsearch.search.metrics import pool

        indices, tables = list(indices), list(tables)
        files: list[bytes] = [b""] * len(indices)

        def roundtrip(k: int) -> np.ndarray:
            files[k] = encode(self.images.images[indices[k]], tables[k], self.settings)
            return decode(files[k], settings=self.settings)

        outputs = list(self._uncompressed)
        read = self._outputs(self._batches(roundtrip, len(indices)), indices)
        for index, output in zip(indices, read):
            outputs[index] = output
        records = {
            name: [values[i] for i in indices] for name, values in self.records(outputs).items()
        }
        kept = [
            pool(self.kept_from, {k: [v[j]] for k, v in records.items()})()
            for j in range(len(indices))
        ]
        return {
            **records,
            "kept": np.nan_to_num(np.array(kept, dtype=np.float64), nan=1.0),
            "bytes": np.array([len(f) for f in files], dtype=np.int64),
            "pixels": np.array([self._pixels_each[i] for i in indices]),
        }

    def another_receiver(self) -> tuple[str, TaskEvaluator] | None:
        """The same network placing the decoded images on its input with the other resize
        filter (bicubic for bilinear)."""
        import dataclasses

        other = "bicubic" if self.model.spec.interpolation == "bilinear" else "bilinear"
        spec = dataclasses.replace(self.model.spec, interpolation=other)
        model = dataclasses.replace(self.model, spec=spec)
        found = type(self)(self.images, model, self.annotations, self.settings, self.batch_size,
                           self.codec.threads)  # fmt: skip
        return f"a receiver resizing {other}", found

    def on_images(self, images: ImageSet) -> TaskEvaluator:
        """The same network and settings on other (unlabelled) images."""
        return type(self)(
            images, self.model, None, self.settings, self.batch_size, self.codec.threads
        )

    def annotate(self, pictures: list[np.ndarray], indices: list[int]) -> list[Annotation]:
        """The network's read output on each picture (stored images ``indices``, decoded)."""
        spec = self.model.spec
        batch = spec.tensor(np.stack([spec.canvas(p) for p in pictures]))
        rows = self.model.runtime(batch)
        return [self.annotation(self.read(row, k)) for row, k in zip(rows, indices)]

    def check_reference(self) -> None:
        """Refuse figures that cannot be right by construction (the uncompressed images
        judged against their own outputs), before any table is judged."""

    def _accuracy_metrics(self) -> tuple[str, ...]:
        """The accuracy figures reported: every declared one here; tasks whose figures need
        labels report those only where there are labels."""
        return tuple(spec.name for spec in self.metric_specs)

    # -- the pipeline ---------------------------------------------------------------------------
    def _batches(
        self, source: Callable[[int], np.ndarray], count: int | None = None
    ) -> Iterator[np.ndarray]:
        """Network batches of ``count`` images (every image by default; ``source(k)``: image k
        as the network sees it stored), each prepared on the prefetch thread while the network
        runs on the one before: compressing a full-size image costs about what the network
        does."""
        spec, size = self.model.spec, self.batch_size
        count = len(self.images) if count is None else count

        def prepare(batch: int) -> np.ndarray:
            images = range(batch * size, min((batch + 1) * size, count))
            return spec.tensor(np.stack([spec.canvas(source(k)) for k in images]))

        return self.prefetched(prepare, -(-count // size))

    def _outputs(self, batches: Iterator[np.ndarray], indices: list[int] | None = None) -> list:
        """The network's read output for every image (or images ``indices``), batch after
        batch."""
        outputs: list = []
        place = (lambda k: k) if indices is None else indices.__getitem__
        for batch in batches:
            try:
                rows = self.model.runtime(batch)
            except Exception as error:  # runtimes raise their own types for a wrong input
                raise QSearchError(
                    f"{self.model.runtime.path}: refused the declared input "
                    f"{'x'.join(map(str, batch.shape))} ({one_line(error)})"
                ) from None
            outputs += [self.read(row, place(len(outputs) + k)) for k, row in enumerate(rows)]
        return outputs

    def evaluate(
        self, qtable: QTable, rejection: Rejection | None = None, per_image: bool = False
    ) -> Evaluation:
        """Encode every stored image with ``qtable``, decode it, run the network, and pool.
        Early rejection reads per-image means, which pooled figures are not: refused."""
        if rejection is not None:
            raise QSearchError(
                f"early rejection needs figures that are means over images; {self.task} figures "
                "are pooled over images: run without --early-rejection"
            )
        start = time.perf_counter()
        files: list[bytes] = [b""] * len(self.images)
        coding = [0.0]

        def roundtrip(k: int) -> np.ndarray:
            began = time.perf_counter()
            files[k] = encode(self.images.images[k], qtable, self.settings)
            coding[0] += time.perf_counter() - began
            return decode(files[k], settings=self.settings)

        outputs = self._outputs(self._batches(roundtrip))
        sizes = np.array([len(f) for f in files], dtype=np.int64)
        records = self.records(outputs)
        metrics = {
            **self.size_metrics(sizes),
            **self.pooled(records),
            "encode_ms_per_image": 1000 * coding[0] / len(files),
            "seconds": time.perf_counter() - start,
        }
        figures = None
        if per_image:
            figures = {**records, "bytes": sizes.tolist(), "pixels": self._pixels_each}
        return Evaluation(metrics, figures)

    def describe(self) -> str:
        """One line for reports, with the network and its declared input and output."""
        return f"{super().describe()}, {self.model.describe()}"

    def identity(self) -> dict[str, str]:
        """The images, the labels' contents, the task, the model and every declared step."""
        found = super().identity()
        found.pop("preprocessing", None)  # the declared input, said in full below
        return {
            **found,
            "task": self.task,
            "annotations": "none" if self.annotations is None else self.annotations.describe(),
            **self.model.identity(),
        }


def task_evaluator(
    task: str,
    model,
    images,
    annotations=None,
    *,
    declared: dict | None = None,
    class_map: dict[int, int] | None = None,
    settings: EncoderSettings = EncoderSettings(),
    batch_size: int = 16,
    adapter: Path | str | None = None,
) -> TaskEvaluator:
    """The evaluator of ``task`` (``detect``, ``segment`` or a plugin's) for ``model`` (a model
    file, its declaration in its sidecar and ``declared``) on ``images`` (a folder, or an
    :class:`ImageSet` loaded with ``compress_at="source"``), labelled by ``annotations`` (what
    the task reads: YOLO files or a COCO JSON file to detect, PNG masks to segment; None:
    label-free figures only),
    with an ``adapter`` of the model applied where given. What ``qsearch run --task`` builds,
    for notebooks."""
    from qsearch.images import load_images
    from qsearch.search.evaluator import EVALUATORS
    from qsearch.tasks.declaration import load_task_model
    from qsearch.tasks.task import TASKS

    kind = TASKS[task]
    loaded = load_task_model(Path(model), task, declared)
    if adapter is not None:
        loaded = _with_adapter(loaded, Path(adapter))
    if not isinstance(images, ImageSet):
        images = load_images(images, compress_at="source", labels="none")
    labels = None
    if annotations is not None:
        sizes = [image.shape[:2] for image in images.images]
        labels = kind.read_labels(Path(annotations), images.names, sizes, loaded.head, class_map)
    return EVALUATORS[kind.evaluator](images, loaded, labels, settings, batch_size)


def _with_adapter(loaded: TaskModel, adapter: Path) -> TaskModel:
    """The declared model with an adapter's tensors in place, run as a PyTorch module."""
    import dataclasses

    from qsearch.models.adapter import AdapterFile, adapted_digest
    from qsearch.models.runtime import Runtime
    from qsearch.tasks.export import adapted_task_module

    base = loaded.runtime
    module = adapted_task_module(AdapterFile.read(adapter), base.path, loaded.task)
    digest = adapted_digest(base.sha256, adapter)
    runtime = Runtime.of_module(module, base.path, digest, f"{base.kind} + adapter {adapter.name}")
    return dataclasses.replace(loaded, runtime=runtime)


__all__ = ["TaskEvaluator", "task_evaluator"]
