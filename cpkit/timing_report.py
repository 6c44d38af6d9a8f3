"""Numbers, tables and figures of the timing-and-depth chapter.

:class:`WindowStudy` holds the rows of :meth:`Runner.window_sweep` for
several LR schedules over seeds: a deficit window at each onset against a
sham branch from the same checkpoint with the same data order, both
followed by the same recovery. :class:`DepthStudy` holds one
:class:`~cpkit.removal_report.RemovalStudy` per All-CNN depth (paper Fig.
5-centre): blur removal and a sham main run without deficit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import numpy as np
import plotly.graph_objects as go

from cpkit import reference, workers
from cpkit.errors import ConfigError
from cpkit.figures import slider_figure
from cpkit.models import count_parameters
from cpkit.protocols import Runner
from cpkit.removal_report import (
    COLORS,
    Protocol,
    RemovalStudy,
    beyond_noise,
    fmt,
    mean_sd,
)
from cpkit.training import TrainConfig

logger = logging.getLogger(__name__)


def _verdict(values: Sequence[float]) -> str:
    """Whether paired values clear twice their standard error."""
    clear = beyond_noise(values)
    if clear is None:
        return "one seed"
    return "beyond 2 SE" if clear else "within 2 SE"


def _mean_trace(
    x: Sequence[float],
    stats: Sequence[tuple[float, float]],
    name: str,
    color: str,
) -> go.Scatter:
    """Means with sample-sd error bars (none where one seed gives NaN)."""
    return go.Scatter(
        x=list(x),
        y=[m for m, _ in stats],
        error_y={"array": [0 if np.isnan(d) else d for _, d in stats]},
        mode="lines+markers",
        name=name,
        line={"color": color},
    )


def fig8_traces(supervised: str, masked: str) -> list[go.Scatter]:
    """The paper's digitized Fig. 8 curves (grey), named as given."""
    paper = reference.digitized()["fig8_video_accuracy_decrease"]
    return [
        go.Scatter(
            x=paper[key]["normalized_onset"],
            y=paper[key]["decrease"],
            mode="lines+markers",
            name=label,
            line={"color": "#999", "dash": dash},
            marker={"symbol": "x"},
        )
        for key, label, dash in (
            ("supervised", supervised, "dash"),
            ("masked_pretraining", masked, "dot"),
        )
    ]


class WindowStudy:
    """Sliding-window rows (one per schedule, seed and onset)."""

    def __init__(
        self, rows: list[dict], deficit: str, length: int, recovery: int
    ) -> None:
        self.rows = rows
        self.deficit, self.length, self.recovery = deficit, length, recovery
        self.schedules = list(dict.fromkeys(r["schedule"] for r in rows))
        self.onsets = sorted({r["onset"] for r in rows})
        self.seconds: dict[str, float] = {}

    @classmethod
    def run(
        cls,
        runner: Runner,
        configs: dict[str, TrainConfig],
        seeds: Sequence[int],
        deficit: str,
        onsets: Sequence[int],
        length: int,
        recovery: int,
        log: Callable[[str], None] = logger.info,
    ) -> WindowStudy:
        """Every schedule's sweep for every seed (finished runs reused)."""
        rows, seconds = [], {}
        for name, config in configs.items():
            start = time.perf_counter()
            sweeps = workers.per_seed(
                seeds,
                lambda seed, config=config: runner.window_sweep(
                    seed, deficit, onsets, length, recovery, config
                ),
            )
            for sweep in sweeps:
                rows.extend({"schedule": name, **row} for row in sweep)
            seconds[name] = time.perf_counter() - start
            log(f"{name}: {seconds[name]:.0f} s")
        study = cls(rows, deficit, length, recovery)
        study.seconds = seconds
        return study

    def select(self, schedule: str, onset: int | None = None) -> list[dict]:
        """Rows of one schedule (and one onset), in seed order."""
        if schedule not in self.schedules:
            raise ConfigError(
                f"schedule {schedule!r} is not one of: "
                f"{', '.join(self.schedules)}"
            )
        return [
            r
            for r in self.rows
            if r["schedule"] == schedule
            and (onset is None or r["onset"] == onset)
        ]

    def values(self, schedule: str, onset: int, field: str) -> np.ndarray:
        return np.array(
            [float(r[field]) for r in self.select(schedule, onset)]
        )

    def early_minus_late(self, schedule: str) -> np.ndarray:
        """Per seed: drop of the first onset minus drop of the last."""
        first, last = self.onsets[0], self.onsets[-1]
        return self.values(schedule, first, "drop") - self.values(
            schedule, last, "drop"
        )

    def drop_figure(self, title: str) -> go.Figure:
        """Drop (sham minus window) against the normalised onset.

        The paper's Fig. 8 (video transformer, supervised and masked
        pre-training) shares the normalised axis: onset / last onset.
        """
        fig = go.Figure()
        last = max(self.onsets[-1], 1)
        for i, name in enumerate(self.schedules):
            stats = [
                mean_sd(self.values(name, s, "drop")) for s in self.onsets
            ]
            fig.add_trace(
                _mean_trace(
                    [s / last for s in self.onsets],
                    stats,
                    f"ours, {name}",
                    COLORS[i % len(COLORS)],
                ).update(text=[f"onset {s}" for s in self.onsets])
            )
        fig.add_traces(
            fig8_traces(
                "paper Fig. 8, supervised (video)",
                "paper Fig. 8, masked pre-training",
            )
        )
        fig.add_hline(y=0, line={"color": "#ccc"})
        fig.update_layout(
            title=title,
            xaxis_title="window onset / last onset",
            yaxis_title="sham minus window accuracy (points)",
            height=460,
        )
        return fig

    def curve_slider(self, schedule: str) -> go.Figure:
        """Slider over the onset: mean test accuracy of window and sham."""
        rows = self.select(schedule)
        low = min(min(r["curve"] + r["sham_curve"]) for r in rows)
        high = max(max(r["curve"] + r["sham_curve"]) for r in rows)
        first = min(r["epochs"][0] for r in rows)
        stop = max(r["epochs"][-1] for r in rows)

        def traces(onset: float) -> list:
            chosen = self.select(schedule, int(onset))
            epochs = chosen[0]["epochs"]
            hit = np.mean([r["curve"] for r in chosen], axis=0)
            sham = np.mean([r["sham_curve"] for r in chosen], axis=0)
            end = onset + self.length
            return [
                go.Scatter(
                    x=[onset - 0.5, end - 0.5, end - 0.5, onset - 0.5],
                    y=[low, low, high, high],
                    fill="toself",
                    fillcolor="rgba(255,127,14,0.15)",
                    line={"width": 0},
                    name="deficit window",
                    hoverinfo="skip",
                ),
                go.Scatter(
                    x=epochs,
                    y=sham.tolist(),
                    mode="lines+markers",
                    name="sham (no deficit)",
                    line={"color": "#7f7f7f"},
                ),
                go.Scatter(
                    x=epochs,
                    y=hit.tolist(),
                    mode="lines+markers",
                    name=f"{self.deficit} window",
                    line={"color": COLORS[0]},
                ),
            ]

        return slider_figure(
            self.onsets,
            traces,
            "window onset (epoch)",
            layout={
                "title": f"Test accuracy after a window, {schedule}",
                "xaxis": {
                    "title": {"text": "epoch"},
                    "range": [first - 0.7, stop + 0.7],
                },
                "yaxis": {
                    "title": {"text": "test accuracy (%), mean of seeds"},
                    "range": [low - 2, high + 2],
                },
                "height": 480,
            },
            fmt="{:d}",
        )

    def table(self) -> str:
        """Markdown: per schedule and onset, paired drop and the views."""
        lines = [
            "| schedule | onset | window acc | sham acc | drop (paired) "
            "| | view a alone | view b alone | mean \\|RSV\\| |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name in self.schedules:
            for s in self.onsets:
                drop = self.values(name, s, "drop")
                cells = [
                    fmt(mean_sd(self.values(name, s, "acc"))),
                    fmt(mean_sd(self.values(name, s, "sham_acc"))),
                    fmt(mean_sd(drop), sign=True),
                    _verdict(drop),
                    fmt(mean_sd(self.values(name, s, "acc_a")), 1),
                    fmt(mean_sd(self.values(name, s, "acc_b")), 1),
                    fmt(mean_sd(self.values(name, s, "rsv_abs_mean"))),
                ]
                lines.append(f"| {name} | {s} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def summary(self) -> str:
        """Markdown list: early against late window, per schedule."""
        first, last = self.onsets[0], self.onsets[-1]
        lines = []
        for name in self.schedules:
            diff = self.early_minus_late(name)
            early = mean_sd(self.values(name, first, "drop"))
            late = mean_sd(self.values(name, last, "drop"))
            lines.append(
                f"- {name}: window at epoch {first} costs "
                f"**{fmt(early, sign=True)}** points, at epoch {last} "
                f"**{fmt(late, sign=True)}**; early minus late, paired by "
                f"seed: **{fmt(mean_sd(diff), sign=True)}** "
                f"({_verdict(diff)})."
            )
        return "\n".join(lines)


class DepthStudy:
    """One blur-removal study per All-CNN depth n (paper Fig. 5-centre)."""

    BLUR, SHAM = "blur", "sham"

    def __init__(
        self, studies: dict[int, RemovalStudy], parameters: dict[int, int]
    ) -> None:
        self.studies, self.parameters = studies, parameters
        self.depths = sorted(studies)
        self.E = max(s.E for s in studies.values())

    @classmethod
    def run(
        cls,
        runners: dict[int, Runner],
        removal_epochs: Sequence[int],
        clean_epochs: int,
        seeds: Sequence[int],
        log: Callable[[str], None] = logger.info,
    ) -> DepthStudy:
        """Blur at every k and a sham at k = 0 and the last k, per depth."""
        ks = tuple(sorted(set(removal_epochs)))
        protocols = {
            cls.BLUR: Protocol("blur", ks),
            cls.SHAM: Protocol("none", (0, ks[-1])),
        }
        studies, parameters = {}, {}
        for n, runner in runners.items():
            studies[n] = RemovalStudy.run(
                runner, protocols, seeds, clean_epochs, log=log
            )
            parameters[n] = count_parameters(runner.new_model(seeds[0]))
        return cls(studies, parameters)

    def figure(self, title: str) -> go.Figure:
        """acc(k) - acc(0) against k / last k, ours and the paper's."""
        fig = go.Figure()
        paper = reference.digitized()["fig5_center_depth_relative_acc"]
        for i, n in enumerate(self.depths):
            study = self.studies[n]
            ks = study.ks(self.BLUR)
            stats = [mean_sd(study.paired_change(self.BLUR, k)) for k in ks]
            color = COLORS[i % len(COLORS)]
            fig.add_trace(
                _mean_trace(
                    [k / self.E for k in ks], stats, f"ours, n = {n}", color
                )
            )
            key = f"n{n}"
            if key in paper:
                fig.add_trace(
                    go.Scatter(
                        x=[k / paper["k"][-1] for k in paper["k"]],
                        y=paper[key],
                        mode="lines",
                        name=f"paper Fig. 5-centre, n = {n}",
                        line={"color": color, "dash": "dash"},
                    )
                )
        fig.add_hline(y=0, line={"color": "#ccc"})
        fig.update_layout(
            title=title,
            xaxis_title="deficit length k / longest k",
            yaxis_title="acc(k) − acc(0) (points)",
            height=460,
        )
        return fig

    def remaining(self, n: int) -> np.ndarray:
        """Per seed: the blur drop at the last k minus the sham's."""
        return self.studies[n].paired_drop(self.BLUR, self.E, minus=self.SHAM)

    def table(self) -> str:
        """Markdown: per depth, accuracies, drops and what survives."""
        E = self.E
        paper = reference.digitized()["fig5_center_depth_relative_acc"]
        lines = [
            f"| n | parameters | acc, k = 0 | blur, k = {E} | drop | "
            f"sham drop | drop minus sham drop | | paper drop, k = 280 |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for n in self.depths:
            s = self.studies[n]
            rest = self.remaining(n)
            key = f"n{n}"
            ref = f"{-paper[key][-1]:+.2f}" if key in paper else "—"
            cells = [
                f"{self.parameters[n]:,}",
                fmt(mean_sd(s.values(self.BLUR, 0, "acc"))),
                fmt(mean_sd(s.values(self.BLUR, E, "acc"))),
                fmt(mean_sd(s.paired_drop(self.BLUR, E)), sign=True),
                fmt(mean_sd(s.paired_drop(self.SHAM, E)), sign=True),
                fmt(mean_sd(rest), sign=True),
                _verdict(rest),
                ref,
            ]
            lines.append(f"| {n} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def trend(self) -> tuple[np.ndarray, str]:
        """Per seed: what survives at the deepest minus the shallowest."""
        deep, shallow = self.depths[-1], self.depths[0]
        diff = self.remaining(deep) - self.remaining(shallow)
        return diff, _verdict(diff)
