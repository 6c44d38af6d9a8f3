"""Numbers, tables and figures of deficit-removal studies (stereo chapters).

A :class:`RemovalStudy` holds the result rows of several protocols (the
paper's, and its controls) run over seeds by
:meth:`cpkit.protocols.Runner.removal_sweep`, and answers the chapter's
questions: accuracy at each k paired by seed with k = 0, what remains of
a drop after the controls, how RSV and the probe moved. Figures put the
paper's digitized curves on the same relative scale.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cpkit import reference, workers
from cpkit.deficits import blur
from cpkit.errors import ConfigError
from cpkit.figures import slider_figure
from cpkit.metrics.rsv import PAPER_BIN_EDGES
from cpkit.protocols import Runner
from cpkit.training import TrainConfig

logger = logging.getLogger(__name__)
CENTRES = (PAPER_BIN_EDGES[:-1] + PAPER_BIN_EDGES[1:]) / 2
COLORS = ("#1f77b4", "#ff7f0e", "#7f7f7f", "#9467bd", "#2ca02c")


@dataclass(frozen=True)
class Protocol:
    """One removal protocol: deficit of the main run, its k, branch LR."""

    deficit: str
    removal_epochs: tuple[int, ...]
    branch_lr: str = "absolute"
    config: TrainConfig | None = None  # None: the runner's
    both_head: str = "as_trained"


def views_figure(data, deficit: str) -> go.Figure:
    """Test image 0 as the pathways see it: view a, b, b in the deficit.

    ``deficit``: ``blur`` (view b blurred) or ``dissociation`` (view b
    taken from test image 1).
    """
    images = data.x_test[:2].cpu()
    cols = np.arange(data.image_size)
    keep_a = cols < data.view_size
    keep_b = cols >= data.image_size - data.view_size
    other = blur(images[:1])[0, 0] if deficit == "blur" else images[1, 0]
    panels = {
        "view a": images[0, 0].numpy() * keep_a,
        "view b": images[0, 0].numpy() * keep_b,
        f"view b, {deficit}": other.numpy() * keep_b,
    }
    fig = make_subplots(rows=1, cols=3, subplot_titles=list(panels))
    low = min(float(v.min()) for v in panels.values())
    high = max(float(v.max()) for v in panels.values())
    for i, values in enumerate(panels.values()):
        fig.add_trace(
            go.Heatmap(
                z=values[::-1],
                colorscale="gray",
                showscale=False,
                zmin=low,
                zmax=high,
            ),
            row=1,
            col=i + 1,
        )
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False, scaleanchor="x")
    fig.update_layout(title="What each pathway sees", height=330)
    return fig


def beyond_noise(values: Sequence[float]) -> bool | None:
    """Whether a mean exceeds twice its standard error (None: one value)."""
    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return None
    stderr = v.std(ddof=1) / np.sqrt(len(v))
    return bool(abs(v.mean()) > 2 * stderr)


def paper_abs_rsv(figure: str, panel: str) -> float:
    """Mean |RSV| of a digitized paper histogram (bin centres)."""
    centres, frac = reference.rsv_histogram(figure, panel)
    return float((frac * np.abs(centres)).sum() / frac.sum())


def paper_mean_rsv(figure: str, panel: str) -> float:
    """Mean RSV of a digitized paper histogram (bin centres, cpkit sign)."""
    centres, frac = reference.rsv_histogram(figure, panel)
    return float((frac * centres).sum() / frac.sum())


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (NaN for one value)."""
    v = np.asarray(values, dtype=float)
    sd = float(v.std(ddof=1)) if len(v) > 1 else float("nan")
    return float(v.mean()), sd


def fmt(pair: tuple[float, float], digits: int = 2, sign: bool = False) -> str:
    """'m ± s' of a (mean, sd) pair; 'm' alone when s is NaN (one seed)."""
    m = f"{pair[0]:+.{digits}f}" if sign else f"{pair[0]:.{digits}f}"
    if np.isnan(pair[1]):
        return m
    return f"{m} ± {pair[1]:.{digits}f}"


class RemovalStudy:
    """Rows of named protocols over seeds, and the comparisons on them."""

    def __init__(self, rows: list[dict], main_epochs: int) -> None:
        self.rows = rows
        self.E = main_epochs
        self.protocols = list(dict.fromkeys(r["protocol"] for r in rows))
        self.seconds: dict[str, float] = {}

    @classmethod
    def run(
        cls,
        runner: Runner,
        protocols: dict[str, Protocol],
        seeds: Sequence[int],
        clean_epochs: int,
        log: Callable[[str], None] = logger.info,
    ) -> RemovalStudy:
        """Run every protocol for every seed (finished runs are reused).

        ``study.seconds`` keeps each protocol's wall time.
        """
        rows, seconds = [], {}
        # main runs with the same deficit and schedule are shared
        shared = sorted(
            {k for p in protocols.values() for k in p.removal_epochs}
        )
        for name, p in protocols.items():
            start = time.perf_counter()
            # workers sharing a results folder start on different seeds
            sweeps = workers.per_seed(
                seeds,
                lambda seed, p=p: runner.removal_sweep(
                    seed,
                    p.deficit,
                    p.removal_epochs,
                    clean_epochs,
                    p.branch_lr,
                    p.config,
                    p.both_head,
                    [k for k in shared if k <= max(p.removal_epochs)],
                ),
            )
            for sweep in sweeps:
                rows.extend({"protocol": name, **row} for row in sweep)
            seconds[name] = time.perf_counter() - start
            log(f"{name}: {seconds[name]:.0f} s")
        main = max(max(p.removal_epochs) for p in protocols.values())
        study = cls(rows, main)
        study.seconds = seconds
        return study

    def select(self, protocol: str, k: int | None = None) -> list[dict]:
        """Rows of one protocol (and one k), in seed order."""
        if protocol not in self.protocols:
            raise ConfigError(
                f"protocol {protocol!r} is not one of: "
                f"{', '.join(self.protocols)}"
            )
        return [
            r
            for r in self.rows
            if r["protocol"] == protocol and (k is None or r["k"] == k)
        ]

    def ks(self, protocol: str) -> list[int]:
        return sorted({r["k"] for r in self.select(protocol)})

    def values(self, protocol: str, k: int, field: str) -> list[float]:
        return [float(r[field]) for r in self.select(protocol, k)]

    def paired_change(
        self, protocol: str, k: int, field: str = "acc"
    ) -> np.ndarray:
        """Per seed: field at k minus field at k = 0."""
        zero = {r["seed"]: r[field] for r in self.select(protocol, 0)}
        return np.array(
            [r[field] - zero[r["seed"]] for r in self.select(protocol, k)]
        )

    def paired_drop(
        self, protocol: str, k: int, minus: str | None = None
    ) -> np.ndarray:
        """Per seed: acc(0) - acc(k), less ``minus``'s drop if given."""
        drop = -self.paired_change(protocol, k)
        if minus is not None:
            drop = drop - self.paired_drop(minus, k)
        return drop

    # ---- figures -------------------------------------------------------

    def accuracy_figure(
        self, paper: Sequence[tuple[str, int, str]], title: str
    ) -> go.Figure:
        """acc(k) - acc(0) against k / main-run length, with paper curves.

        ``paper``: (digitized curve name, its main-run length, label).
        """
        fig = go.Figure(layout={"title": title})
        for i, name in enumerate(self.protocols):
            ks = self.ks(name)
            stats = [mean_sd(self.paired_change(name, k)) for k in ks]
            fig.add_trace(
                go.Scatter(
                    x=np.array(ks) / self.E,
                    y=[m for m, _ in stats],
                    error_y={"type": "data", "array": [s for _, s in stats]},
                    mode="lines+markers",
                    name=f"ours: {name}",
                    line={"color": COLORS[i % len(COLORS)]},
                )
            )
        for j, (curve, total, label) in enumerate(paper):
            k_paper, acc_paper = reference.accuracy_curve(curve)
            fig.add_trace(
                go.Scatter(
                    x=k_paper / total,
                    y=acc_paper - acc_paper[0],
                    mode="lines",
                    name=label,
                    line={
                        "dash": "dash",
                        "color": ("black", "#9467bd")[j % 2],
                    },
                )
            )
        fig.update_layout(
            xaxis_title="deficit removal k / length of the main run",
            yaxis_title="acc(k) − acc(0), percentage points",
            height=460,
        )
        return fig

    def rsv_slider(
        self,
        protocols: Sequence[str],
        paper_figure: str,
        paper_panels: dict[int, str],
        paper_total: int = 180,
        title: str = "RSV of the fused units after the deficit is removed",
    ) -> go.Figure:
        """Mean RSV histograms over seeds, one slider step per k."""
        ks = sorted({r["k"] for r in self.rows})

        def traces(k: float) -> list:
            k = int(k)
            out = []
            for name in protocols:
                chosen = self.select(name, k)
                y = (
                    np.mean([r["rsv_hist"] for r in chosen], axis=0)
                    if chosen
                    else np.full(len(CENTRES), np.nan)
                )
                color = COLORS[self.protocols.index(name) % len(COLORS)]
                out.append(
                    go.Bar(
                        x=CENTRES,
                        y=y,
                        name=f"ours: {name}",
                        marker={"color": color},
                        opacity=0.6,
                    )
                )
            n = min(
                paper_panels, key=lambda n: abs(n / paper_total - k / self.E)
            )
            _, frac = reference.rsv_histogram(paper_figure, paper_panels[n])
            out.append(
                go.Scatter(
                    x=CENTRES,
                    y=frac,
                    mode="lines",
                    line={"shape": "hvh", "color": "black"},
                    name=f"paper, {n} of {paper_total} deficit epochs",
                )
            )
            return out

        return slider_figure(
            ks,
            traces,
            label="deficit epochs k",
            fmt="{:d}",
            active=len(ks) - 1,
            layout={
                "title": title,
                "xaxis": {"title": "RSV (+1: view a only, −1: view b only)"},
                "yaxis": {"title": "fraction of units (mean over seeds)"},
                "barmode": "overlay",
                "height": 480,
            },
        )

    # ---- tables (Markdown) ---------------------------------------------

    def accuracy_table(self, paper: Sequence[tuple[str, str, int]]) -> str:
        """acc at k = 0 and k = E, paired drop; paper rows appended.

        ``paper``: (label, digitized curve name, number of runs).
        """
        E = self.E
        lines = [
            f"| protocol | acc, k = 0 | acc, k = {E} | drop (paired) "
            "| seeds |",
            "|---|---|---|---|---|",
        ]
        for name in self.protocols:
            lines.append(
                f"| {name} | {fmt(mean_sd(self.values(name, 0, 'acc')))} | "
                f"{fmt(mean_sd(self.values(name, E, 'acc')))} | "
                f"{fmt(mean_sd(self.paired_drop(name, E)), sign=True)} | "
                f"{len(self.select(name, E))} |"
            )
        for label, curve, runs in paper:
            _, acc = reference.accuracy_curve(curve)
            lines.append(
                f"| {label} | {acc[0]:.2f} | {acc[-1]:.2f} | "
                f"{acc[0] - acc[-1]:+.2f} | {runs} |"
            )
        return "\n".join(lines)

    def controls_summary(
        self,
        paper: str,
        restart: str,
        sham: str,
        constant: str | None = None,
    ) -> tuple[str, float, float]:
        """Markdown list of the drops; (text, remaining mean, its sd).

        The number that speaks for a critical period is the drop with the
        LR restarted minus the sham's drop, paired by seed.
        """
        E = self.E
        remaining = self.paired_drop(restart, E, minus=sham)
        remain = mean_sd(remaining)
        n = len(remaining)
        clear = beyond_noise(remaining)
        if clear is None:
            verdict = "one seed cannot say whether it exceeds the seed spread"
        elif clear and remain[0] > 0:
            verdict = (
                "more than twice its standard error over seeds: a drop "
                "that the controls do not explain"
            )
        else:
            verdict = (
                "not a drop beyond twice its standard error over seeds: "
                "at this scale the controls explain the drop"
            )
        lines = [
            f"- {paper}: the branch at k = {E} loses "
            f"**{fmt(mean_sd(self.paired_drop(paper, E)), sign=True)}** "
            "points against k = 0;",
            f"- {restart}: **"
            f"{fmt(mean_sd(self.paired_drop(restart, E)), sign=True)}**; "
            f"{sham}: {fmt(mean_sd(self.paired_drop(sham, E)), sign=True)};",
            f"- deficit minus sham, both restarted, per seed: "
            f"**{fmt(remain, sign=True)}** points ({n} seeds), {verdict};",
        ]
        if constant is not None:
            lines.append(
                f"- {constant}: **"
                f"{fmt(mean_sd(self.paired_drop(constant, E)), sign=True)}**."
            )
        return "\n".join(lines), remain[0], remain[1]

    def rsv_table(self, paper: Sequence[tuple[str, str, str]]) -> str:
        """RSV mean, mean |RSV| and pole fractions per protocol and k.

        ``paper``: (label, figure, panel) rows of digitized histograms.
        """
        lines = [
            "| protocol | k | mean RSV | mean \\|RSV\\| | fraction > +0.8 "
            "(view a) | fraction < −0.8 (view b) |",
            "|---|---|---|---|---|---|",
        ]
        for name in self.protocols:
            for k in self.ks(name):
                chosen = self.select(name, k)
                h = np.mean([r["rsv_hist"] for r in chosen], axis=0)
                mean_rsv = mean_sd(self.values(name, k, "rsv_mean"))
                abs_rsv = mean_sd(self.values(name, k, "rsv_abs_mean"))
                lines.append(
                    f"| {name} | {k} | {fmt(mean_rsv, sign=True)}"
                    f" | {fmt(abs_rsv)} "
                    f"| {h[CENTRES > 0.8].sum():.2f} | "
                    f"{h[CENTRES < -0.8].sum():.2f} |"
                )
        for label, figure, panel in paper:
            _, frac = reference.rsv_histogram(figure, panel)
            frac = frac / frac.sum()
            lines.append(
                f"| {label} | | {(frac * CENTRES).sum():+.2f} | "
                f"{(frac * np.abs(CENTRES)).sum():.2f} | "
                f"{frac[CENTRES > 0.8].sum():.2f} | "
                f"{frac[CENTRES < -0.8].sum():.2f} |"
            )
        return "\n".join(lines)

    def probe_table(self) -> str:
        """Head, probe and single-view accuracies per protocol and k."""
        lines = [
            "| protocol | k | head | probe | view a alone | view b alone |",
            "|---|---|---|---|---|---|",
        ]
        for name in self.protocols:
            for k in self.ks(name):
                cells = [
                    fmt(mean_sd(self.values(name, k, f)), 1)
                    for f in ("acc", "probe", "acc_a", "acc_b")
                ]
                lines.append(f"| {name} | {k} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def gap(self, protocol: str, sham: str, field: str) -> np.ndarray:
        """Per seed: the change of field (k = 0 to E) minus the sham's."""
        return self.paired_change(protocol, self.E, field) - (
            self.paired_change(sham, self.E, field)
        )

    def headlines(
        self,
        deficit: str,
        curve: str,
        rsv: tuple[str, str, float],
    ) -> list:
        """The chapter's headlines: the paper's protocol's drop at the last
        k beside the digitized ``curve``'s, what remains after the controls
        (LR restart minus sham), and an RSV field's shift, given as
        (field, claim, the paper's shift)."""
        from cpkit.headlines import paper_drop, per_seed

        E = self.E
        field, claim, paper_shift = rsv
        return [
            per_seed(
                "protocol_drop",
                f"accuracy lost after {E} of {E} {deficit} epochs, the "
                "paper's protocol",
                self.paired_drop("paper's protocol", E),
                "points",
                paper_drop(curve),
            ),
            per_seed(
                "remaining_drop",
                "the same with the LR restarted, minus the sham's drop",
                self.paired_drop("LR restart", E, minus="sham + LR restart"),
                "points",
            ),
            per_seed(
                f"{field}_shift",
                f"{claim}, k = 0 to the last k",
                self.paired_change("paper's protocol", E, field),
                paper=paper_shift,
            ),
        ]

    def shift(self, protocol: str, field: str) -> tuple[float, float]:
        """Mean and sd over seeds of field(k = E) - field(k = 0)."""
        return mean_sd(self.paired_change(protocol, self.E, field))

    def probe_summary(self, protocol: str) -> str:
        """Markdown: the probe's change from k = 0 to k = E, paired."""
        probe = self.shift(protocol, "probe")
        return (
            f"Probe accuracy change from k = 0 to k = {self.E} ({protocol}, "
            f"paired by seed): **{fmt(probe, sign=True)}** points."
        )

    def explorer(self, default: str):
        """Widgets: a protocol and a k; text: every seed's numbers."""
        from ipywidgets import Dropdown, SelectionSlider

        from cpkit.explorers import text_explorer

        ks = sorted({r["k"] for r in self.rows})
        return text_explorer(
            self.report,
            {
                "protocol": Dropdown(options=self.protocols, value=default),
                "k": SelectionSlider(
                    options=ks, value=ks[-1], description="k"
                ),
            },
        )

    def report(self, protocol: str, k: int) -> str:
        """Every seed's numbers for one protocol and k (explorer text)."""
        chosen = self.select(protocol, k)
        if not chosen:
            return (
                f"{protocol} was not run at k = {k} (its k: "
                f"{self.ks(protocol)})"
            )
        lines = [f"{protocol}, k = {k} deficit epochs"]
        for r in chosen:
            lines.append(
                f"seed {r['seed']}: last-5 acc {r['acc']:.2f}, probe "
                f"{r['probe']:.1f}, mean RSV {r['rsv_mean']:+.2f}, "
                f"mean |RSV| {r['rsv_abs_mean']:.2f}, final-epoch acc "
                f"{r['curve'][-1]:.2f}"
            )
        return "\n".join(lines)
