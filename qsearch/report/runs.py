"""A finished run folder, read back: ``Run(directory)`` gives its front, curves, operating
points and summary, and exports them, without rebuilding a searcher or loading a network
(:func:`qsearch.experiment.run` is what fills the folder)."""

from __future__ import annotations

import json
import re
from functools import cached_property
from pathlib import Path

import pandas as pd

from qsearch.atomic import write_text
from qsearch.errors import QSearchError
from qsearch.jsonfile import read_json_object
from qsearch.report.curves import (
    IJG_SEARCH,
    IJG_TEST,
    REFERENCE,
    TEST_SCORES,
    curve_summary,
    frame_figures,
    trials_frame,
    verdict,
    write_csv,
)
from qsearch.report.operating import (
    TARGETS,
    Curve,
    ImageSide,
    describe,
    operating_points,
    share_references,
)
from qsearch.report.plots import curves_figure, save_figure
from qsearch.search.front import non_dominated
from qsearch.search.journal import Journal


class Run:
    """A run folder read back: the front, its figures on both image sets, and what the
    exports say, as Python objects (nothing is recomputed on a network)."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.trials, self.objective, self.identity = Journal.read(self.directory)
        if not self.trials:
            raise QSearchError(f"{self.directory}: the run has no trials yet; run its search first")
        if not (self.directory / IJG_SEARCH).exists():
            raise QSearchError(
                f"{self.directory}: has no IJG reference curve yet; resume the same search"
            )
        self.ijg = pd.read_csv(self.directory / IJG_SEARCH)
        path = self.directory / REFERENCE
        self.references = (
            read_json_object(path, "the run's reference figures") if path.exists() else {}
        )
        scores, ijg_test = self.directory / TEST_SCORES, self.directory / IJG_TEST
        self.held_out = scores.exists() and ijg_test.exists() and "test" in self.references
        self.test_scores = pd.read_csv(scores) if self.held_out else None
        self.ijg_test = pd.read_csv(ijg_test) if self.held_out else None
        self._sides: dict[str, ImageSide] = {}

    @property
    def metric(self) -> str:
        """The accuracy figure the front was chosen by."""
        return self.objective.metric

    # -- the front --------------------------------------------------------------------------
    @cached_property
    def front(self) -> pd.DataFrame:
        """The non-dominated complete trials by (rate, accuracy) on the searched images, in
        increasing rate: number, every metric, key, table file and, with a held-out split,
        ``test_`` columns."""
        complete = [t for t in self.trials if t.state == "complete"]
        kept = non_dominated(
            [t.metrics[self.objective.rate] for t in complete],
            [self.objective.accuracy(t.metrics) for t in complete],
        )
        front = trials_frame([complete[i] for i in kept])
        front = front.sort_values([self.objective.rate, "number"]).reset_index(drop=True)
        front["table"] = [table_file(n) for n in front["number"]]
        if self.held_out:
            tested = self._test_rows(front)
            for column in (self.metric, self.objective.rate, "ratio", "bytes", "top1"):
                if column in tested:
                    front[f"test_{column}"] = tested[column].to_numpy()
        return front.drop(columns=["state"])

    def _test_rows(self, front: pd.DataFrame) -> pd.DataFrame:
        if self.test_scores is None or self.ijg_test is None:
            raise QSearchError(f"{self.directory}: the run has no held-out split")
        scores = self.test_scores.drop_duplicates("key").set_index("key")
        missing = [k for k in front["key"] if k not in scores.index]
        if missing:
            raise QSearchError(
                f"{self.directory}: {len(missing)} front table(s) are not scored on the held-out "
                "images; resume the same search to score them"
            )
        rows = scores.loc[front["key"]].reset_index()
        return rows.assign(table=front["table"].to_numpy(), number=front["number"].to_numpy())

    def side(self, split: str = "search") -> ImageSide:
        """The front, the IJG curve and the uncompressed figures on one image set (read once)."""
        if split not in self._sides:
            self._sides[split] = self._side(split)
        return self._sides[split]

    def _side(self, split: str) -> ImageSide:
        per_image = self.references.get("per_image", {}).get(split)
        ijg = self.ijg if split == "search" else self.ijg_test
        uncompressed = share_references(self.references.get(split, {}), ijg)
        per_image = _kept_references(per_image, uncompressed, self.references.get(split, {}))
        if split == "search":
            by_key = {t.qtable.key: t for t in self.trials}
            pixels = frame_figures(self.ijg)
            found = [
                search_figures(by_key[k], self.metric, pixels[0]["pixels"]) if pixels else None
                for k in self.front["key"]
            ]
            known = [f for f in found if f is not None]
            front = Curve(self.front, known if len(known) == len(found) else None)
            return ImageSide(front, Curve.from_frame(self.ijg), uncompressed, per_image)
        if not self.held_out:
            raise QSearchError(f"{self.directory}: the run has no held-out split")
        tested = self._test_rows(self.front)
        return ImageSide(
            Curve.from_frame(tested), Curve.from_frame(self.ijg_test), uncompressed, per_image
        )

    # -- what the summary says ----------------------------------------------------------------
    @property
    def judged_split(self) -> str:
        """Where tables are judged: the held-out split when there is one."""
        return "test" if self.held_out else "search"

    def curve_summary(self, split: str, metric: str | None = None) -> dict:
        """BD-rates (whole range and from IJG quality 50 up, with paired intervals) and
        hypervolumes of the front on ``split`` against IJG on the same images."""
        metric = metric or self.metric
        side = self.side(split)
        return curve_summary(
            side.front.frame,
            side.ijg.frame,
            metric,
            self.objective.rate,
            side.front.points(metric),
            uncompressed=self.references.get(split, {}).get(metric),
        )

    def bd_rate(self, range: str = "all", split: str | None = None, metric: str | None = None):
        """The BD-rate of the front against IJG (% bits at equal accuracy, negative = fewer)
        with its 95% paired interval: over the whole range (``"all"``) or from IJG quality 50
        up (``"high"``), on the held-out split by default."""
        if range not in ("all", "high"):
            raise QSearchError(f"range {range!r} is not 'all' or 'high'")
        result = self.curve_summary(split or self.judged_split, metric)
        prefix = "bd_rate_vs_ijg_percent" if range == "all" else "bd_rate_high_accuracy_percent"
        stem = "bd_rate" if range == "all" else "bd_rate_high_accuracy"
        return {
            "bits_vs_ijg_percent": result.get(prefix),
            "ci95_low": result.get(f"{stem}_ci95_low"),
            "ci95_high": result.get(f"{stem}_ci95_high"),
            "split": split or self.judged_split,
            "metric": metric or self.metric,
        }

    def operating_points(self, metric: str | None = None, fractions=TARGETS) -> list[dict]:
        """For each fraction of the uncompressed ``metric``: the tables chosen on the searched
        images and judged on the held-out ones (:mod:`qsearch.report.operating`)."""
        metric = metric or self.metric
        searched = self.side("search")
        if metric not in searched.uncompressed:
            return []
        judged = self.side(self.judged_split)
        return operating_points(metric, searched, judged, self.judged_split, fractions)

    def operating_point(self, fraction: float, metric: str | None = None) -> dict:
        """The table to take at ``fraction`` of the uncompressed accuracy (see
        :meth:`operating_points`)."""
        if not 0 < fraction <= 1:
            raise QSearchError(
                f"target {fraction} is a fraction of the uncompressed accuracy in (0, 1]"
            )
        metric = metric or self.metric
        if metric not in self.references.get("search", {}):
            raise QSearchError(
                f"{self.directory}: no uncompressed {metric} recorded; resume the same search"
            )
        known = [
            p for p in self.summary["operating_points"].get(metric, []) if p["fraction"] == fraction
        ]
        return known[0] if known else self.operating_points(metric, (fraction,))[0]

    def describe_operating_point(self, fraction: float, metric: str | None = None) -> str:
        """The lines ``qsearch front --target`` prints."""
        point = self.operating_point(fraction, metric)
        where = (
            "held-out test images"
            if point["judged_on"] == "test"
            else "searched images themselves (no held-out split: in-sample figures)"
        )
        crossing = point.get("front_crossing_bits_vs_ijg_percent")
        crossing_text = "does not reach it" if crossing is None else f"{crossing:+.1f}% bits vs IJG"
        return "\n".join(
            [
                f"at {100 * fraction:g}% of the {point.get('reference', 'uncompressed')} "
                f"{point['metric']}: tables chosen on "
                f"the searched images, judged on the {where}",
                f"  table: {describe(point, 'table')}",
                f"  table reaching it with 95% confidence: {describe(point, 'confident_table')}",
                f"  the front's envelope where it crosses the target: {crossing_text} (a figure "
                "of the whole front, not of one table)",
            ]
        )

    @cached_property
    def summary(self) -> dict:
        """What ``summary.json`` holds."""
        complete = [t for t in self.trials if t.state == "complete"]
        summary = {
            "searcher": self.identity.get("searcher", ""),
            "space": self.identity.get("space", ""),
            "settings": self.settings,
            "trials": len(self.trials),
            "pruned": len(self.trials) - len(complete),
            "front_size": len(self.front),
            "images_scored": int(sum(t.metrics.get("images", 0) for t in self.trials)),
            "metric": self.metric,
            "rate": self.objective.rate,
            "judged_on": self.judged_split,
            "search": self.curve_summary("search"),
        }
        if self.ijg_test is not None:
            summary["test"] = self.curve_summary("test")
            if self.metric != "top1" and "top1" in self.ijg_test:  # searched on a smoother score
                summary["test_top1"] = self.curve_summary("test", "top1")
        metrics = [self.metric] + (["top1"] if self.metric != "top1" and "top1" in self.ijg else [])
        summary["operating_points"] = {m: self.operating_points(m) for m in metrics}
        summary["identity"] = self.identity
        return summary

    @property
    def settings(self) -> str:
        """The encoder settings every table was compared under."""
        return self.identity.get("encoder", "")

    # -- exports -------------------------------------------------------------------------------
    def plot(self):
        """The front against the IJG curve on both image sets, the chosen tables at 98% and 95%
        marked with their own bits against IJG (a matplotlib Figure)."""
        curves = {"front": self.front, "IJG quality": self.ijg}
        if self.held_out:
            curves["front re-scored on the test split"] = self._test_rows(self.front)
            curves["IJG quality, test split"] = self.ijg_test
        marks = []
        for point in self.summary["operating_points"][self.metric]:
            table = point["table"]
            if (
                point["fraction"] in (0.98, 0.95)
                and table
                and table["bits_vs_ijg_percent"] is not None
            ):
                label = (
                    f"table for {100 * point['fraction']:.0f}%: trial {table['number']}, "
                    f"{table['bits_vs_ijg_percent']:+.1f}% bits vs IJG"
                )
                marks.append((table["bpp"], table[self.metric], label))
        summary = self.summary
        images = max(int(t.metrics.get("images", 0)) for t in self.trials)
        title = (
            f"{summary['searcher']} search, {_space_words(summary['space'])}, {self.settings}; "
            f"{self.metric} on {images} images; stars: the tables chosen for 98% and 95% of the "
            f"uncompressed {self.metric}\n"
            + verdict(summary.get("test", summary["search"]), self.held_out)
        )
        return curves_figure(curves, self.metric, title=title, marks=marks)

    def export(self) -> dict:
        """Write trials.csv, front.csv, one cjpeg table file per front table, front.png and
        summary.json (each atomically); returns the summary."""
        write_csv(trials_frame(self.trials), self.directory / "trials.csv")
        self._write_tables()
        write_csv(self.front, self.directory / "front.csv")
        save_figure(self.plot(), self.directory / "front.png")
        write_text(self.directory / "summary.json", json.dumps(self.summary, indent=2))
        return self.summary

    def report(self, evaluator=None) -> Path:
        """Write ``report.html`` (:func:`qsearch.report.html.write_report`): the plot, the
        operating points and the identity, and with ``evaluator`` (the one the tables are
        judged with) crops of the chosen tables' images; returns its path."""
        from qsearch.report.html import write_report

        return write_report(self, evaluator)

    def _write_tables(self) -> None:
        folder = self.directory / "tables"
        folder.mkdir(exist_ok=True)
        for stale in folder.glob("*.txt"):
            stale.unlink()
        by_number = {t.number: t for t in self.trials}
        rate = self.objective.rate
        for _, row in self.front.iterrows():
            trial = by_number[int(row["number"])]
            trial.qtable.save(
                self.directory / row["table"],
                comment=f"qsearch trial {trial.number} ({trial.searcher}): {self.metric}="
                f"{row[self.metric]:.4f}, {rate}={row[rate]:.4f} on the searched images, "
                f"{self.settings}",
            )


def _kept_references(per_image: dict | None, shares_of: dict, uncompressed: dict) -> dict | None:
    """The uncompressed per-image figures of the metrics whose shares are still taken of the
    uncompressed images (a self-referenced figure's are of the finest IJG quality instead)."""
    if per_image is None:
        return None
    return {
        k: v for k, v in per_image.items() if k in shares_of and shares_of[k] == uncompressed.get(k)
    }


def _space_words(space: str) -> str:
    """``BandSpace(dim=12, family=mozjpeg-4)`` as ``bands space around mozjpeg-4 tables``."""
    match = re.match(r"(\w+?)Space\(.*?(?:family=([^,)]+))?\)$", space)
    if match is None:
        return space
    name, family = match.group(1).lower(), match.group(2) or "ijg"
    return f"{name} space around {family} tables"


def table_file(number: int) -> str:
    """Where a front table is written in its run folder: named by its trial number for ever."""
    return f"tables/trial-{int(number):04d}.txt"


def search_figures(trial, metric: str, pixels) -> dict | None:
    """A trial's per-image figures in the shape of the re-scored ones (None where not kept)."""
    if trial.per_image is None:
        return None
    figures = {metric: trial.per_image["accuracy"], "bytes": trial.per_image["bytes"]}
    if "top1" in trial.per_image:
        figures["top1"] = trial.per_image["top1"]
    return {**figures, "pixels": pixels}


__all__ = ["Run", "table_file"]
