"""Searchers that learn from the network's gradients through a differentiable JPEG
(qsearch.codecs.diffjpeg) placed in front of the frozen classifier. They propose tables; the study
scores every proposal with the real libjpeg evaluator, and only real scores enter the front.
"""

from __future__ import annotations

import numpy as np
import torch

from qsearch.codecs import diffjpeg
from qsearch.errors import QSearchError
from qsearch.search.searcher import Option, Searcher
from qsearch.searchers.baselines import sweep_order
from qsearch.tables.qtable import IJG_CHROMA, IJG_LUMA, QTable, quality_scale, scale_table


class _NetworkSearcher(Searcher):
    """Shared by searchers that learn from the evaluator's frozen network and search images,
    on the network's device (CPU or CUDA)."""

    needs_network = True
    default_space = "full"
    batch: int
    """Images per gradient step (an option of each subclass)."""

    def _setup(self) -> None:
        assert self.evaluator is not None  # setup refuses a needs_network searcher without one
        classifier, images = self.evaluator.network, self.evaluator.images
        self._seed = 0 if self.seed is None else self.seed
        self._device = classifier.device
        self._classifier = classifier
        self._images = torch.from_numpy(np.ascontiguousarray(images.network_inputs())).to(
            self._device
        )
        self._labels = (
            None if images.labels is None else torch.from_numpy(images.labels).to(self._device)
        )
        with torch.no_grad():
            self._reference = torch.cat(
                [
                    self._log_probs(self._images[i : i + 50].float())
                    for i in range(0, len(self._images), 50)
                ]
            )

    def _log_probs(self, decoded: torch.Tensor) -> torch.Tensor:
        """The network's log-probabilities of decoded (N, H, W, 3) pixels in 0..255, with
        gradients (normalised as the classifier normalises its inputs)."""
        x = self._classifier.to_input(decoded)
        return torch.log_softmax(
            self._classifier.module(x.contiguous(memory_format=torch.channels_last)), dim=1
        )

    def _fidelity(self, decoded: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Cross-entropy on labels, or KL divergence from the uncompressed outputs without labels."""
        log_probs = self._log_probs(decoded)
        if self._labels is not None:
            return torch.nn.functional.nll_loss(log_probs, self._labels[rows])
        reference = self._reference[rows]
        return (reference.exp() * (reference - log_probs)).sum(1).mean()

    def _rows(self, generator: torch.Generator) -> torch.Tensor:
        return torch.randperm(len(self._images), generator=generator)[: self.batch].to(self._device)

    def _propose_tables(self, tables: list[QTable]) -> np.ndarray:
        return np.stack([self.space.from_qtable(table) for table in tables])


class GradientSearcher(_NetworkSearcher):
    """Learns per-coefficient log-steps by backpropagation: fidelity + weight x rate proxy,
    over a sweep of weights (coarser tables as the weight grows) to trace a front. The default
    sweep, 0.5 to 500 nats per proxy bit per pixel, takes EfficientNet-Lite0 on 224x224 ImageNet
    crops from about 1.2 to 0.4 bpp in one pass (a sweep to 1.0 stayed above 1.1 bpp)."""

    name = "gradient"
    state_attributes = ("position", "theta", "_seed")
    weights = Option(
        float, many=True, length=2, help="[LOW, HIGH] nats per proxy bpp", default=(0.5, 500.0)
    )
    points = Option(int, 1, help="weights of the sweep (tables of one pass)", default=12)
    steps = Option(int, 1, help="gradient steps per table", default=20)
    learning_rate = Option(float, 0, help="Adam's step on the log-steps", default=0.05)
    batch = Option(int, 1, help="images per gradient step", default=16)
    rounding = Option(
        str, choices=diffjpeg.ROUNDINGS, help="how quantisation is rounded", default="ste"
    )
    start_quality = Option(int, 1, 100, help="the family's table each pass starts from", default=50)

    def _check_options(self) -> None:
        if not 0 < self.weights[0] <= self.weights[1]:
            raise QSearchError(
                f"searcher gradient: option weights={list(self.weights)!r} is not [LOW, HIGH] "
                "with 0 < LOW <= HIGH"
            )

    def _setup(self) -> None:
        super()._setup()
        self._weights = np.geomspace(self.weights[0], self.weights[1], self.points)
        self._order = sweep_order(0, self.points - 1, first=range(self.points))
        start = self.space.family.at(self.start_quality)
        self._start = torch.log(
            torch.tensor(
                np.stack([start.luma, start.chroma]), dtype=torch.float32, device=self._device
            )
        )
        self.theta = self._start.clone()
        self.position = 0

    def _optimise(self, weight: float, generator: torch.Generator) -> QTable:
        theta = self.theta.clone().requires_grad_(True)
        optimiser = torch.optim.Adam([theta], lr=self.learning_rate)
        for _ in range(self.steps):
            rows = self._rows(generator)
            steps = theta.exp().clamp(1.0, 255.0)
            decoded, bpp = diffjpeg.jpeg_roundtrip(
                self._images[rows], steps[0], steps[1], self.rounding
            )
            loss = self._fidelity(decoded, rows) + weight * bpp.mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        self.theta = theta.detach()
        learnt = self.theta.exp().clamp(1.0, 255.0).round().cpu().numpy()
        return QTable(learnt[0], learnt[1])

    def _propose(self, n: int) -> np.ndarray:
        tables = []
        for _ in range(n):
            index = self._order[self.position % len(self._order)]
            if self.position % len(self._order) == 0:
                self.theta = self._start.clone()  # each pass over the sweep starts afresh
            generator = torch.Generator().manual_seed(self._seed * 1_000_003 + self.position)
            tables.append(self._optimise(float(self._weights[index]), generator))
            self.position += 1
        return self._propose_tables(tables)


class SensitivitySearcher(_NetworkSearcher):
    """One-shot: the mean squared gradient of the loss with respect to each DCT coefficient
    (luma, chroma) at IJG q50 gives steps proportional to its inverse square root (equal
    marginal loss per step), a table family swept over IJG's quality scale."""

    name = "sensitivity"
    state_attributes = ("position", "base", "_seed")

    batch = Option(int, 1, help="images per gradient batch", default=16)
    rounding = Option(
        str, choices=diffjpeg.ROUNDINGS, help="how quantisation is rounded", default="ste"
    )
    images_used = Option(int, 1, help="images the sensitivity is measured on", default=128)

    def _setup(self) -> None:
        super()._setup()
        self.position = 0
        self.base: np.ndarray | None = None
        self._order = sweep_order()

    def sensitivity(self) -> np.ndarray:
        """Mean squared gradient per (table, row, column) of the fidelity loss."""
        start = QTable.from_quality(50)
        steps = [
            torch.tensor(t, dtype=torch.float32, device=self._device)
            for t in (start.luma, start.chroma)
        ]
        total = torch.zeros(2, 8, 8, device=self._device)
        generator = torch.Generator().manual_seed(self._seed)
        rows_all = torch.randperm(len(self._images), generator=generator)[: self.images_used].to(
            self._device
        )
        for first in range(0, len(rows_all), self.batch):
            rows = rows_all[first : first + self.batch]
            luma, chroma = diffjpeg.dct_planes(self._images[rows])
            luma_q, chroma_q = diffjpeg.quantise(luma, chroma, steps[0], steps[1], self.rounding)
            luma_q, chroma_q = (
                luma_q.detach().requires_grad_(True),
                chroma_q.detach().requires_grad_(True),
            )
            decoded = diffjpeg.reconstruct(luma_q, chroma_q, steps[0], steps[1])
            loss = self._fidelity(decoded, rows) * len(rows)
            luma_grad, chroma_grad = torch.autograd.grad(loss, [luma_q, chroma_q])
            total[0] += (luma_grad / steps[0]).pow(2).sum((0, 1, 2))
            total[1] += (chroma_grad / steps[1]).pow(2).sum((0, 1, 2, 3))
        return (total / len(rows_all)).cpu().numpy()

    def _base_table(self) -> np.ndarray:
        """Steps ~ sensitivity^-1/2, scaled to the geometric mean of the IJG q50 tables."""
        inverse = 1.0 / np.sqrt(np.maximum(self.sensitivity(), 1e-20))
        reference = np.stack([IJG_LUMA, IJG_CHROMA]).astype(float)
        return inverse * np.exp(np.log(reference).mean() - np.log(inverse).mean())

    def _propose(self, n: int) -> np.ndarray:
        if self.base is None:
            self.base = self._base_table()
        tables = []
        for _ in range(n):
            scale = quality_scale(self._order[self.position % len(self._order)])
            tables.append(
                QTable(
                    scale_table(np.rint(np.clip(self.base[0], 1, 255)), scale),
                    scale_table(np.rint(np.clip(self.base[1], 1, 255)), scale),
                )
            )
            self.position += 1
        return self._propose_tables(tables)
